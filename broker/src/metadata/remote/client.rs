//! The broker's side: a handle on the controllers of its cluster that sends operations to the
//! active one and keeps the broker's image in step with the committed metadata.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use super::{CallError, Connection, Request, Response};
use crate::config::BrokerConfig;
use crate::controller::broker_heartbeats::{Heartbeat, HeartbeatAnswer, RegistrationRequest};
use crate::error::ErrorCode;
use crate::metadata::config_change::ConfigAlteration;
use crate::metadata::controller::{Controller, OpError, TopicSpec};
use crate::metadata::image::{MetadataImage, TopicImage};
use crate::metadata::quorum::QuorumView;
use crate::metadata::{ElectionType, IsrChange, PartitionResults, ReassignmentTargets};

/// How long a metadata fetch waits for news.
const FETCH_WAIT: Duration = Duration::from_millis(500);

/// How long an operation waits for its answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a heartbeat looks for the active controller.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause before asking another controller when none answered or none is active.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);

/// A broker's handle on the controllers of its cluster.
pub struct RemoteController {
    /// The voters' ids and controller listener addresses (`controller.quorum.voters`).
    voters: Vec<(i32, String)>,
    /// The voter requests go to: the active controller as far as this broker knows.
    target: AtomicUsize,
    /// One connection for operations, one for registration and heartbeats, and one for
    /// metadata long polls: a heartbeat never waits behind an operation that waits for a commit
    /// (the broker would look dead and be fenced), and nothing waits behind a fetch.
    ops: Connection,
    lifecycle: Connection,
    fetch: Connection,
    /// Set when the broker stops: no new connection is opened.
    closed: AtomicBool,
    /// Set when the image cannot follow the controller's batches (a batch that does not apply,
    /// a controller whose log is behind this image): the next fetch rebuilds it from scratch.
    resync: AtomicBool,
    /// The quorum as the active controller last described it.
    quorum: parking_lot::Mutex<Option<QuorumView>>,
}

impl Controller {
    /// A broker's view of the controllers at `voters` (node id and `host:port` of each
    /// controller listener): operations go to the active one, and the image comes from fetching
    /// its metadata. Returns once the image has caught up with the controller;
    /// [`Controller::follow_metadata`] keeps it so.
    pub async fn connect(
        config: Arc<BrokerConfig>,
        voters: &[(i32, String)],
    ) -> std::io::Result<Controller> {
        if voters.is_empty() {
            return Err(std::io::Error::other("no controller to connect to"));
        }
        let remote = RemoteController {
            voters: voters.to_vec(),
            target: AtomicUsize::new(0),
            ops: Connection::default(),
            lifecycle: Connection::default(),
            fetch: Connection::default(),
            closed: Default::default(),
            resync: Default::default(),
            quorum: Default::default(),
        };
        let controller = Controller {
            inner: Arc::new(crate::metadata::controller::Inner::new(
                Box::new(crate::metadata::store::NoLog),
                MetadataImage::empty(),
                config,
                None,
                Some(remote),
            )),
        };
        // catch up before anything uses the image (a new quorum has committed nothing yet: wait
        // for its first leader to name the cluster)
        loop {
            let committed = controller.fetch_once(Duration::ZERO).await?;
            let image = controller.image();
            if image.offset >= committed && !image.cluster_id.is_empty() {
                break;
            }
            if image.offset >= committed {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
        Ok(controller)
    }

    /// Keeps the image in step with the controller until `shutdown` turns true: fetches the
    /// committed batches, applies them, publishes the image and runs the listeners.
    pub async fn follow_metadata(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        let mut failing = 0u32;
        loop {
            let fetched = tokio::select! {
                r = self.fetch_once(FETCH_WAIT) => r,
                _ = shutdown.changed() => return,
            };
            match fetched {
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    if failing > 0 {
                        tracing::info!(failed = failing, "metadata fetches answered again");
                        failing = 0;
                    }
                }
                Err(e) => {
                    failing += 1;
                    // (once, then every few: a controller election is not news every 100 ms)
                    if failing == 1 || failing % 20 == 0 {
                        tracing::warn!(error = %e, failing, "metadata fetch failed; retrying");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// One metadata fetch: applies what came and returns the controller's latest offset.
    async fn fetch_once(&self, wait: Duration) -> std::io::Result<i64> {
        let remote = self.remote_or_err()?;
        let resync = remote.resync.load(Ordering::Acquire);
        // a whole snapshot (-1) when resynchronizing
        let from = if resync { -1 } else { self.image().offset + 1 };
        let resp = remote
            .call(
                &remote.fetch,
                &Request::FetchMetadata {
                    from,
                    max_wait_ms: wait.as_millis() as u64,
                    broker_id: Some(self.inner.config.node_id),
                },
                wait + CALL_TIMEOUT,
            )
            .await?;
        let Response::Metadata {
            snapshot,
            batches,
            committed,
            quorum,
        } = resp
        else {
            return Err(unexpected(&resp));
        };
        if quorum.is_some() {
            *remote.quorum.lock() = quorum;
        }
        if !resync && committed < self.image().offset {
            // a controller behind what this broker applied is no longer the active one (a leader
            // cut off from the others): never go back to its older image, ask another
            remote.pass_over();
            return Err(std::io::Error::other(format!(
                "the controller's metadata (offset {committed}) is behind this broker's ({}): asking another controller",
                self.image().offset
            )));
        }
        if snapshot.is_none() && batches.is_empty() {
            return Ok(committed);
        }
        let current = if resync {
            Arc::new(MetadataImage::empty())
        } else {
            self.image()
        };
        let inner = Arc::clone(&self.inner);
        // applying and reconciling touch the disk: off the runtime
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut image = (*current).clone();
            if let Some((offset, records)) = snapshot {
                image = MetadataImage::empty()
                    .apply(0, &records)
                    .map_err(std::io::Error::other)?;
                image.offset = offset;
            }
            // each batch comes with the offset after it: its records end there
            for (end, records) in batches {
                if end <= image.offset || records.is_empty() {
                    continue;
                }
                let first = end - records.len() as i64 + 1;
                image = image.apply(first, &records).map_err(|e| {
                    inner_resync(&inner);
                    std::io::Error::other(e)
                })?;
            }
            let image = Arc::new(image);
            // the same order as the controller itself: publish, then the listeners
            let _log = inner.log.lock();
            inner.send(image);
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        remote.resync.store(false, Ordering::Release);
        Ok(committed)
    }

    /// Closes the connections to a remote controller for good (the broker stops); nothing on a
    /// controller of this process.
    pub async fn disconnect(&self) {
        if let Some(remote) = &self.inner.remote {
            remote.closed.store(true, Ordering::Release);
            remote.ops.close().await;
            remote.lifecycle.close().await;
            remote.fetch.close().await;
        }
    }

    fn remote_or_err(&self) -> std::io::Result<&RemoteController> {
        self.inner
            .remote
            .as_ref()
            .ok_or_else(|| std::io::Error::other("not a remote controller"))
    }

    /// Waits until this broker's image has applied `offset` (the effect of its own operation).
    async fn applied(&self, offset: i64) {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        while rx.borrow_and_update().offset < offset {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }
}

/// Asks the next metadata fetch to rebuild the image from scratch.
fn inner_resync(inner: &crate::metadata::controller::Inner) {
    if let Some(remote) = &inner.remote {
        remote.resync.store(true, Ordering::Release);
    }
}

fn unexpected(resp: &Response) -> std::io::Error {
    match resp {
        Response::Failed { message } => std::io::Error::other(message.clone()),
        other => std::io::Error::other(format!("unexpected controller answer {other:?}")),
    }
}

fn unreachable_controller(e: std::io::Error) -> OpError {
    (
        ErrorCode::NotController,
        format!("the controller cannot be reached: {e}"),
    )
}

impl RemoteController {
    /// Sends the next requests to another controller.
    fn pass_over(&self) {
        let n = self.voters.len();
        let at = self.target.load(Ordering::Acquire);
        self.target.store((at + 1) % n, Ordering::Release);
    }

    /// The quorum as the active controller last described it.
    pub(crate) fn quorum_view(&self) -> Option<QuorumView> {
        self.quorum.lock().clone()
    }

    /// Sends `req` on `conn` to the active controller: a controller that is not active names
    /// the one that is (or none, during an election) and the request goes there; one that
    /// cannot be reached is passed over. Gives up after `timeout`, or once every controller
    /// was unreachable twice.
    async fn call(
        &self,
        conn: &Connection,
        req: &Request,
        timeout: Duration,
    ) -> std::io::Result<Response> {
        let deadline = tokio::time::Instant::now() + timeout;
        let n = self.voters.len();
        let mut unreachable = 0;
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(std::io::Error::other("this broker is stopping"));
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(std::io::Error::other(
                    "no active controller answered in time",
                ));
            }
            let at = self.target.load(Ordering::Acquire) % n;
            let next = (at + 1) % n;
            match conn.call(&self.voters[at].1, req, remaining).await {
                Ok(Response::NotController { leader }) => {
                    let named = leader
                        .and_then(|l| self.voters.iter().position(|(id, _)| *id == l))
                        .filter(|&i| i != at);
                    self.target.store(named.unwrap_or(next), Ordering::Release);
                    if named.is_none() {
                        // an election is in progress: give it a moment
                        tokio::time::sleep(RETRY_BACKOFF.min(remaining)).await;
                    }
                }
                Ok(resp) => return Ok(resp),
                Err(CallError::Unreachable(e)) => {
                    self.target.store(next, Ordering::Release);
                    unreachable += 1;
                    if unreachable >= 2 * n {
                        return Err(e);
                    }
                    tokio::time::sleep(RETRY_BACKOFF.min(remaining)).await;
                }
                Err(CallError::Failed(e)) => {
                    // (it may have been carried out: not sent again; the next request tries
                    // another controller)
                    self.target.store(next, Ordering::Release);
                    return Err(e);
                }
            }
        }
    }

    async fn op(&self, req: Request) -> Result<Response, OpError> {
        self.call(&self.ops, &req, CALL_TIMEOUT)
            .await
            .map_err(unreachable_controller)
    }

    pub(crate) async fn create_topics(
        &self,
        me: &Controller,
        specs: Vec<TopicSpec>,
        validate_only: bool,
    ) -> Vec<Result<Arc<TopicImage>, OpError>> {
        let count = specs.len();
        match self
            .op(Request::CreateTopics {
                specs,
                validate_only,
            })
            .await
        {
            Ok(Response::Topics { results, offset }) => {
                me.applied(offset).await;
                results.into_iter().map(|r| r.map(Arc::new)).collect()
            }
            Ok(other) => vec![Err(op_error(&other)); count],
            Err(e) => vec![Err(e); count],
        }
    }

    pub(crate) async fn delete_topics(
        &self,
        me: &Controller,
        topics: Vec<(Option<String>, Uuid)>,
    ) -> Vec<Result<(String, Uuid), OpError>> {
        let count = topics.len();
        match self.op(Request::DeleteTopics { topics }).await {
            Ok(Response::Deleted { results, offset }) => {
                me.applied(offset).await;
                results
            }
            Ok(other) => vec![Err(op_error(&other)); count],
            Err(e) => vec![Err(e); count],
        }
    }

    pub(crate) async fn alter_configs(
        &self,
        me: &Controller,
        changes: Vec<ConfigAlteration>,
        validate_only: bool,
    ) -> Vec<Result<(), OpError>> {
        let count = changes.len();
        match self
            .op(Request::AlterConfigs {
                changes,
                validate_only,
            })
            .await
        {
            Ok(Response::Altered { results, offset }) => {
                me.applied(offset).await;
                results
            }
            Ok(other) => vec![Err(op_error(&other)); count],
            Err(e) => vec![Err(e); count],
        }
    }

    pub(crate) async fn create_partitions(
        &self,
        me: &Controller,
        topic: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), OpError> {
        match self
            .op(Request::CreatePartitions {
                topic,
                count,
                assignments,
                validate_only,
            })
            .await?
        {
            Response::Done { result, offset } => {
                me.applied(offset).await;
                result
            }
            other => Err(op_error(&other)),
        }
    }

    pub(crate) async fn allocate_producer_ids(
        &self,
        broker_id: i32,
        size: i64,
    ) -> Result<i64, OpError> {
        match self
            .op(Request::AllocateProducerIds { broker_id, size })
            .await?
        {
            Response::ProducerIds { result } => result,
            other => Err(op_error(&other)),
        }
    }

    pub(crate) async fn register_broker(
        &self,
        me: &Controller,
        req: RegistrationRequest,
    ) -> Result<i64, OpError> {
        let answer = self
            .call(&self.lifecycle, &Request::RegisterBroker(req), CALL_TIMEOUT)
            .await
            .map_err(unreachable_controller)?;
        match answer {
            Response::Registered { result, offset } => {
                // the broker takes up its replicas next: from an image that has the
                // registration (and the fencing of its previous incarnation)
                me.applied(offset).await;
                result
            }
            other => Err(op_error(&other)),
        }
    }

    pub(crate) async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatAnswer, OpError> {
        // (shorter than other operations: a heartbeat that finds no active controller is tried
        // again soon anyway, and a controlled shutdown must not hang on it)
        let answer = self
            .call(&self.lifecycle, &Request::Heartbeat(hb), HEARTBEAT_TIMEOUT)
            .await
            .map_err(unreachable_controller)?;
        match answer {
            Response::Heartbeat { result } => result,
            other => Err(op_error(&other)),
        }
    }

    pub(crate) async fn elect_leaders(
        &self,
        me: &Controller,
        kind: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<PartitionResults, OpError> {
        self.partitions_op(me, Request::ElectLeaders { kind, partitions })
            .await
    }

    pub(crate) async fn alter_partition_reassignments(
        &self,
        me: &Controller,
        changes: ReassignmentTargets,
        allow_rf_change: bool,
    ) -> Result<PartitionResults, OpError> {
        self.partitions_op(
            me,
            Request::AlterReassignments {
                changes,
                allow_rf_change,
            },
        )
        .await
    }

    /// An operation answered per partition; returns once this broker's image has its records.
    async fn partitions_op(
        &self,
        me: &Controller,
        req: Request,
    ) -> Result<PartitionResults, OpError> {
        match self.op(req).await? {
            Response::Partitions { results, offset } => {
                me.applied(offset).await;
                results
            }
            other => Err(op_error(&other)),
        }
    }

    pub(crate) async fn alter_partition(&self, change: IsrChange) -> Result<(), ErrorCode> {
        match self.op(Request::AlterPartition(change)).await {
            Ok(Response::AlterPartition { result }) => result,
            Ok(_) | Err(_) => Err(ErrorCode::NotController),
        }
    }
}

fn op_error(resp: &Response) -> OpError {
    (ErrorCode::UnknownServerError, unexpected(resp).to_string())
}
