//! A controller in another process: brokers reach it over TCP with Kafka's framing and one
//! private API key (never advertised, JSON bodies), and learn metadata by fetching the committed
//! batches, as KRaft brokers fetch the metadata log.
//!
//! ```text
//!  broker                                          controller
//!   RemoteController ── request (ops, registration, heartbeats, AlterPartition) ──▶ serve()
//!                    ◀─ answer + the controller's offset after it ─────────────────
//!   metadata fetcher ── FetchMetadata{from} (long poll) ─────────────────────────▶ history / snapshot
//!                    ◀─ batches after `from`, or a snapshot when `from` is too old ─
//!   image watch + listeners (the replica manager reconciles)
//! ```
//!
//! An operation returns once the broker's own image holds its effect, so that a client sees
//! its own writes on the broker it used.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use super::config_change::ConfigAlteration;
use super::controller::{Controller, OpError, TopicSpec};
use super::image::{MetadataImage, TopicImage};
use super::records::MetadataRecord;
use super::store::MetadataLog;
use super::IsrChange;
use crate::config::BrokerConfig;
use crate::controller::broker_heartbeats::{Heartbeat, HeartbeatAnswer, RegistrationRequest};
use crate::error::ErrorCode;

/// The private API key of controller requests.
pub const CONTROLLER_API_KEY: i16 = 10020;

/// Committed batches the controller keeps for fetching brokers; one further behind gets a
/// snapshot of the image instead.
pub const HISTORY_BATCHES: usize = 10_000;

/// Most batches one metadata fetch answers with.
const MAX_BATCHES_PER_FETCH: usize = 500;

/// Largest request or answer frame (a snapshot of a large image is the biggest).
const MAX_FRAME: usize = 256 << 20;

/// How long a metadata fetch waits for news.
const FETCH_WAIT: Duration = Duration::from_millis(500);

/// How long an operation waits for its answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    CreateTopics {
        specs: Vec<TopicSpec>,
        validate_only: bool,
    },
    DeleteTopics {
        topics: Vec<(Option<String>, Uuid)>,
    },
    AlterConfigs {
        changes: Vec<ConfigAlteration>,
        validate_only: bool,
    },
    CreatePartitions {
        topic: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    },
    AllocateProducerIds {
        broker_id: i32,
        size: i64,
    },
    RegisterBroker(RegistrationRequest),
    Heartbeat(Heartbeat),
    AlterPartition(IsrChange),
    FetchMetadata {
        from: i64,
        max_wait_ms: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Response {
    Topics {
        results: Vec<Result<TopicImage, OpError>>,
        offset: i64,
    },
    Deleted {
        results: Vec<Result<(String, Uuid), OpError>>,
        offset: i64,
    },
    Altered {
        results: Vec<Result<(), OpError>>,
        offset: i64,
    },
    Done {
        result: Result<(), OpError>,
        offset: i64,
    },
    ProducerIds {
        result: Result<i64, OpError>,
    },
    Registered {
        result: Result<i64, OpError>,
        offset: i64,
    },
    Heartbeat {
        result: Result<HeartbeatAnswer, OpError>,
    },
    AlterPartition {
        result: Result<(), ErrorCode>,
    },
    Metadata {
        /// A whole image as records, at this offset, when `from` is older than the history.
        snapshot: Option<(i64, Vec<MetadataRecord>)>,
        /// Batches after `from` (and after the snapshot), in order.
        batches: Vec<(i64, Vec<MetadataRecord>)>,
        /// The controller's latest offset.
        committed: i64,
    },
    Failed {
        message: String,
    },
}

// ---- controller side ----

/// Serves controller requests on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, controller: Controller, shutdown: watch::Receiver<bool>) {
    loop {
        let mut stop = shutdown.clone();
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            // (out of file descriptors, say: do not spin)
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (controller, shutdown) = (controller.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, controller, shutdown).await {
                tracing::debug!(%peer, error = %e, "controller connection closed");
            }
        });
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    controller: Controller,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // the broker (and its epoch) that heartbeats on this connection: when the connection
    // closes, it may have crashed
    let mut heartbeating: Option<(i32, i64)> = None;
    let result = serve_frames(&mut stream, &controller, &mut shutdown, &mut heartbeating).await;
    if let Some((broker, epoch)) = heartbeating {
        if !*shutdown.borrow() {
            tokio::spawn(async move {
                controller.heartbeat_connection_closed(broker, epoch).await;
            });
        }
    }
    result
}

async fn serve_frames(
    stream: &mut TcpStream,
    controller: &Controller,
    shutdown: &mut watch::Receiver<bool>,
    heartbeating: &mut Option<(i32, i64)>,
) -> std::io::Result<()> {
    loop {
        let frame = tokio::select! {
            f = read_frame(stream) => f?,
            _ = shutdown.changed() => return Ok(()),
        };
        let Some(frame) = frame else { return Ok(()) };
        if frame.len() < 8 {
            return Err(std::io::Error::other("short controller request"));
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let response = if key != CONTROLLER_API_KEY {
            Response::Failed {
                message: format!("API key {key} is not served on the controller listener"),
            }
        } else {
            match serde_json::from_slice::<Request>(&frame[8..]) {
                Ok(req) => {
                    if let Request::Heartbeat(hb) = &req {
                        *heartbeating = Some((hb.broker_id, hb.broker_epoch));
                    }
                    handle(controller, req).await
                }
                Err(e) => Response::Failed {
                    message: format!("bad controller request: {e}"),
                },
            }
        };
        let body = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
        let mut out = BytesMut::with_capacity(body.len() + 8);
        out.put_i32(body.len() as i32 + 4);
        out.put_i32(correlation);
        out.put_slice(&body);
        stream.write_all(&out).await?;
    }
}

async fn handle(controller: &Controller, req: Request) -> Response {
    let offset = |c: &Controller| c.image().offset;
    match req {
        Request::CreateTopics {
            specs,
            validate_only,
        } => {
            let results = controller
                .create_topics(specs, validate_only)
                .await
                .into_iter()
                .map(|r| r.map(|t| (*t).clone()))
                .collect();
            Response::Topics {
                results,
                offset: offset(controller),
            }
        }
        Request::DeleteTopics { topics } => Response::Deleted {
            results: controller.delete_topics(topics).await,
            offset: offset(controller),
        },
        Request::AlterConfigs {
            changes,
            validate_only,
        } => Response::Altered {
            results: controller.alter_configs(changes, validate_only).await,
            offset: offset(controller),
        },
        Request::CreatePartitions {
            topic,
            count,
            assignments,
            validate_only,
        } => Response::Done {
            result: controller
                .create_partitions(topic, count, assignments, validate_only)
                .await,
            offset: offset(controller),
        },
        Request::AllocateProducerIds { broker_id, size } => Response::ProducerIds {
            result: controller.allocate_producer_ids(broker_id, size).await,
        },
        Request::RegisterBroker(req) => Response::Registered {
            result: controller.register_broker(req).await,
            offset: offset(controller),
        },
        Request::Heartbeat(hb) => Response::Heartbeat {
            result: controller.broker_heartbeat(hb).await,
        },
        Request::AlterPartition(change) => Response::AlterPartition {
            result: controller.alter_partition(change).await,
        },
        Request::FetchMetadata { from, max_wait_ms } => {
            fetch_metadata(
                controller,
                from,
                Duration::from_millis(max_wait_ms.min(5_000)),
            )
            .await
        }
    }
}

/// The batches after `from`, waiting up to `wait` for one; a snapshot when `from` is older than
/// the history kept.
async fn fetch_metadata(controller: &Controller, from: i64, wait: Duration) -> Response {
    let mut rx = controller.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let image = rx.borrow_and_update().clone();
        if image.offset >= from {
            let history = controller.inner.history.lock();
            // (`from` -1 asks for a snapshot)
            let reaches = from >= 0 && history.front().is_some_and(|(o, _)| *o <= from);
            if reaches {
                // (bounded: the broker fetches again at once for the rest)
                let batches = history
                    .iter()
                    .filter(|(o, _)| *o >= from)
                    .take(MAX_BATCHES_PER_FETCH)
                    .cloned()
                    .collect();
                return Response::Metadata {
                    snapshot: None,
                    batches,
                    committed: image.offset,
                };
            }
            drop(history);
            return Response::Metadata {
                snapshot: Some((image.offset, image.to_records())),
                batches: Vec::new(),
                committed: image.offset,
            };
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    Response::Metadata {
        snapshot: None,
        batches: Vec::new(),
        committed: controller.image().offset,
    }
}

// ---- broker side ----

/// A broker's handle on a controller in another process.
pub struct RemoteController {
    addr: String,
    /// One connection for operations and one for metadata long polls, so that an operation
    /// never waits behind a fetch.
    ops: tokio::sync::Mutex<Option<(TcpStream, i32)>>,
    fetch: tokio::sync::Mutex<Option<(TcpStream, i32)>>,
    /// Set when the broker stops: no new connection is opened.
    closed: std::sync::atomic::AtomicBool,
    /// Set when the image cannot follow the controller's batches (a batch that does not apply,
    /// a controller whose log is behind this image): the next fetch rebuilds it from scratch.
    resync: std::sync::atomic::AtomicBool,
}

/// The metadata log of a broker whose controller is elsewhere: it writes nothing.
struct NoLog;

impl MetadataLog for NoLog {
    fn append(&mut self, _records: &[MetadataRecord]) -> std::io::Result<i64> {
        Err(std::io::Error::other(
            "metadata is written by the controller, not by this broker",
        ))
    }

    fn replay(&mut self) -> std::io::Result<Vec<(i64, Vec<MetadataRecord>)>> {
        Ok(Vec::new())
    }
}

impl Controller {
    /// A broker's view of the controller at `addr` (`host:port` of its controller listener):
    /// operations are sent there, and the image comes from fetching its metadata. Returns once
    /// the image has caught up with the controller; [`Controller::follow_metadata`] keeps it so.
    pub async fn connect(config: Arc<BrokerConfig>, addr: &str) -> std::io::Result<Controller> {
        let (image_tx, _) = watch::channel(Arc::new(MetadataImage::empty()));
        let controller = Controller {
            inner: Arc::new(super::controller::Inner {
                log: parking_lot::Mutex::new(Box::new(NoLog)),
                image_tx,
                listeners: parking_lot::Mutex::new(Vec::new()),
                config,
                cluster: None,
                history: parking_lot::Mutex::default(),
                stopped: Default::default(),
                remote: Some(RemoteController {
                    addr: addr.to_string(),
                    ops: tokio::sync::Mutex::new(None),
                    fetch: tokio::sync::Mutex::new(None),
                    closed: Default::default(),
                    resync: Default::default(),
                }),
            }),
        };
        // catch up before anything uses the image
        loop {
            let committed = controller.fetch_once(Duration::ZERO).await?;
            if controller.image().offset >= committed {
                break;
            }
        }
        Ok(controller)
    }

    /// Keeps the image in step with the controller until `shutdown` turns true: fetches the
    /// committed batches, applies them, publishes the image and runs the listeners.
    pub async fn follow_metadata(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let fetched = tokio::select! {
                r = self.fetch_once(FETCH_WAIT) => r,
                _ = shutdown.changed() => return,
            };
            match fetched {
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, "metadata fetch failed; retrying");
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
        let resync = remote.resync.load(std::sync::atomic::Ordering::Acquire);
        // a whole snapshot (-1) when resynchronizing
        let from = if resync { -1 } else { self.image().offset + 1 };
        let resp = remote
            .call(
                &remote.fetch,
                &Request::FetchMetadata {
                    from,
                    max_wait_ms: wait.as_millis() as u64,
                },
                wait + CALL_TIMEOUT,
            )
            .await?;
        let Response::Metadata {
            snapshot,
            batches,
            committed,
        } = resp
        else {
            return Err(unexpected(&resp));
        };
        if !resync && committed < self.image().offset {
            tracing::warn!(
                committed,
                applied = self.image().offset,
                "the controller's metadata is behind this broker's: rebuilding it"
            );
            remote
                .resync
                .store(true, std::sync::atomic::Ordering::Release);
            return Ok(committed);
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
            for (offset, records) in batches {
                if offset <= image.offset {
                    continue;
                }
                image = image.apply(offset, &records).map_err(|e| {
                    inner_resync(&inner);
                    std::io::Error::other(e)
                })?;
            }
            let image = Arc::new(image);
            // the same order as the controller itself: publish, then the listeners
            let _log = inner.log.lock();
            inner.image_tx.send_replace(Arc::clone(&image));
            for listener in inner.listeners.lock().iter() {
                listener(&image);
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        remote
            .resync
            .store(false, std::sync::atomic::Ordering::Release);
        Ok(committed)
    }

    /// Closes the connections to a remote controller for good (the broker stops); nothing on a
    /// controller of this process.
    pub async fn disconnect(&self) {
        if let Some(remote) = &self.inner.remote {
            remote
                .closed
                .store(true, std::sync::atomic::Ordering::Release);
            remote.ops.lock().await.take();
            remote.fetch.lock().await.take();
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
fn inner_resync(inner: &super::controller::Inner) {
    if let Some(remote) = &inner.remote {
        remote
            .resync
            .store(true, std::sync::atomic::Ordering::Release);
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
    async fn call(
        &self,
        conn: &tokio::sync::Mutex<Option<(TcpStream, i32)>>,
        req: &Request,
        timeout: Duration,
    ) -> std::io::Result<Response> {
        let mut guard = conn.lock().await;
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(std::io::Error::other("this broker is stopping"));
        }
        if guard.is_none() {
            let stream = tokio::time::timeout(CALL_TIMEOUT, TcpStream::connect(&self.addr))
                .await
                .map_err(|_| std::io::Error::other("controller connect timed out"))??;
            let _ = stream.set_nodelay(true);
            *guard = Some((stream, 0));
        }
        let (stream, correlation) = guard.as_mut().expect("just set");
        *correlation += 1;
        let body = serde_json::to_vec(req).map_err(std::io::Error::other)?;
        let mut out = BytesMut::with_capacity(body.len() + 12);
        out.put_i32(body.len() as i32 + 8);
        out.put_i16(CONTROLLER_API_KEY);
        out.put_i16(0);
        out.put_i32(*correlation);
        out.put_slice(&body);
        let expected = *correlation;
        let exchange = async {
            stream.write_all(&out).await?;
            read_frame(stream)
                .await?
                .ok_or_else(|| std::io::Error::other("the controller closed the connection"))
        };
        let result = tokio::time::timeout(timeout, exchange).await;
        let frame = match result {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                *guard = None;
                return Err(e);
            }
            Err(_) => {
                *guard = None;
                return Err(std::io::Error::other(
                    "the controller did not answer in time",
                ));
            }
        };
        if frame.len() < 4
            || i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) != expected
        {
            *guard = None;
            return Err(std::io::Error::other("answer to another request"));
        }
        serde_json::from_slice(&frame[4..]).map_err(std::io::Error::other)
    }

    async fn op(&self, req: Request) -> Result<Response, OpError> {
        self.call(&self.ops, &req, CALL_TIMEOUT)
            .await
            .map_err(unreachable_controller)
    }

    pub(super) async fn create_topics(
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

    pub(super) async fn delete_topics(
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

    pub(super) async fn alter_configs(
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

    pub(super) async fn create_partitions(
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

    pub(super) async fn allocate_producer_ids(
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

    pub(super) async fn register_broker(
        &self,
        me: &Controller,
        req: RegistrationRequest,
    ) -> Result<i64, OpError> {
        match self.op(Request::RegisterBroker(req)).await? {
            Response::Registered { result, offset } => {
                // the broker takes up its replicas next: from an image that has the
                // registration (and the fencing of its previous incarnation)
                me.applied(offset).await;
                result
            }
            other => Err(op_error(&other)),
        }
    }

    pub(super) async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatAnswer, OpError> {
        match self.op(Request::Heartbeat(hb)).await? {
            Response::Heartbeat { result } => result,
            other => Err(op_error(&other)),
        }
    }

    pub(super) async fn alter_partition(&self, change: IsrChange) -> Result<(), ErrorCode> {
        match self.op(Request::AlterPartition(change)).await {
            Ok(Response::AlterPartition { result }) => result,
            Ok(_) | Err(_) => Err(ErrorCode::NotController),
        }
    }
}

fn op_error(resp: &Response) -> OpError {
    (ErrorCode::UnknownServerError, unexpected(resp).to_string())
}

/// Reads one size-prefixed frame (without the size); `None` when the peer closed.
async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if stream.read_exact(&mut len).await.is_err() {
        return Ok(None);
    }
    let len = i32::from_be_bytes(len);
    if len < 0 || len as usize > MAX_FRAME {
        return Err(std::io::Error::other(format!("frame of {len} bytes")));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).await?;
    Ok(Some(buf))
}
