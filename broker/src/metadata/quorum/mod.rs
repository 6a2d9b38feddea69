//! The controller quorum: the metadata log replicated by Raft (openraft) over the voters of
//! `controller.quorum.voters`. The metadata image and its apply code are the same as on a single
//! node; only where the log lives and who may write it change.
//!
//! ```text
//!  broker request ─▶ active controller (the Raft leader, once it applied an entry of its term)
//!                      plan records on the image ─▶ raft.client_write ─▶ replicated, committed
//!                                                                        ─▶ every voter applies
//!                      answer ◀── applied here ◀────────────────────────────┘
//! ```
//!
//! Proposals are serialized: one in flight at a time, each answered once applied, so that the
//! plan of the next one sees it. A controller that is not the leader answers NOT_CONTROLLER and
//! names the leader it knows. A new leader first gives every registered broker a fresh session
//! (brokers move their heartbeats to it), as Kafka's controller does on activation.

mod leader_watch;
mod log_store;
mod state_machine;
mod types;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use serde::{Deserialize, Serialize};

use super::controller::{Controller, OpError};
use super::image::MetadataImage;
use super::records::MetadataRecord;
use super::store::{FileMetadataLog, MetadataLog};
use crate::config::{BrokerConfig, ClusterMode};
use crate::error::ErrorCode;

pub use log_store::RaftLogStore;
pub use state_machine::ImageStateMachine;
pub use types::{BatchApplied, MetadataBatch, MetadataRaft, Raft};

/// Entries between two snapshots of the image.
const SNAPSHOT_EVERY: u64 = 10_000;

/// The quorum as DescribeQuorum reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QuorumView {
    /// The active controller, or -1.
    pub leader_id: i32,
    /// The leader's term (KRaft's leader epoch).
    pub leader_epoch: i32,
    /// The offset after the last committed entry.
    pub high_watermark: i64,
    /// The voters with their log ends.
    pub voters: Vec<ReplicaView>,
    /// Brokers following the metadata, with the offset after what they fetched.
    pub observers: Vec<ReplicaView>,
}

/// One voter or observer of [`QuorumView`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplicaView {
    /// Node id.
    pub id: i32,
    /// The offset after its last entry.
    pub log_end_offset: i64,
    /// When it last fetched or acknowledged (unix ms), -1 if unknown.
    pub last_fetch_ms: i64,
    /// When it last had everything the leader had (unix ms), -1 if unknown.
    pub last_caught_up_ms: i64,
}

/// This controller's part of the quorum.
pub(super) struct Quorum {
    raft: Raft,
    id: u64,
    /// Serializes proposals; holds the term this controller activated in.
    propose: tokio::sync::Mutex<Option<u64>>,
    /// How long an operation waits for an election in progress.
    election_wait: Duration,
    /// How long an operation waits for its turn, for the majority, or for its commit.
    op_timeout: Duration,
    /// The term this controller activated in (0: none yet).
    active_term: std::sync::atomic::AtomicU64,
    /// This data directory's cluster id.
    cluster_id: String,
    /// An image from a one-controller metadata log of an earlier version, committed as the
    /// first entry when the quorum's log is still empty.
    import: parking_lot::Mutex<Option<Vec<MetadataRecord>>>,
    /// The voters whose controller listener refuses connections.
    refusing: Arc<super::remote::RefusingVoters>,
    /// When a leader's append last arrived here.
    heard: Arc<leader_watch::LastHeard>,
}

fn not_controller(message: String) -> OpError {
    (ErrorCode::NotController, message)
}

impl Controller {
    /// Opens the controller of a quorum member: its Raft log and snapshot under
    /// `dir/raft/`, joins the voters of `controller.quorum.voters` (their first start forms
    /// the quorum) and returns at once; the quorum elects a leader on its own.
    pub async fn open_quorum(
        config: Arc<BrokerConfig>,
        dir: &Path,
        cluster_id: String,
    ) -> Result<Controller, String> {
        let ClusterMode::Quorum(q) = &config.cluster.mode else {
            return Err("controller.quorum.voters is empty: not a quorum".into());
        };
        let voters: BTreeMap<u64, BasicNode> = q
            .voters
            .iter()
            .map(|v| {
                (
                    v.id as u64,
                    BasicNode::new(format!("{}:{}", v.host, v.port)),
                )
            })
            .collect();
        let election_ms = q.election_timeout_ms.max(50);
        let raft_dir = dir.join("raft");
        let sm = ImageStateMachine::open(&raft_dir).map_err(|e| {
            format!(
                "cannot open the metadata snapshot in {}: {e}",
                raft_dir.display()
            )
        })?;
        let log = RaftLogStore::open_after(&raft_dir, sm.snapshot_last_log_id())
            .map_err(|e| format!("cannot open the Raft log in {}: {e}", raft_dir.display()))?;
        log.follow_snapshots(sm.snapshot_index());
        // (only a controller whose quorum log is still empty looks for an older one to import)
        let import = if log.is_empty() && sm.snapshot_last_log_id().is_none() {
            import_single_controller_log(dir)?
        } else {
            None
        };
        let controller = Controller::with_state_machine(Arc::clone(&config), &sm);
        sm.attach(Arc::downgrade(&controller.inner));
        let raft_config = openraft::Config {
            cluster_name: "tributary-metadata".into(),
            // (openraft 0.9's voters refuse votes for a leader lease of election_timeout_max
            // after the leader's last heartbeat, so a candidate's first try after a leader dies
            // always comes too early: a narrow window makes its second come soon after)
            election_timeout_min: election_ms,
            election_timeout_max: election_ms + election_ms / 4,
            heartbeat_interval: (election_ms / 5).max(10),
            install_snapshot_timeout: q.request_timeout_ms.max(election_ms),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY),
            max_in_snapshot_log_to_keep: 1_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| format!("controller quorum settings: {e}"))?;
        let id = config.node_id as u64;
        let refusing = Arc::new(super::remote::RefusingVoters::default());
        let raft = Raft::new(
            id,
            Arc::new(raft_config),
            super::remote::PeerNetwork::new(Arc::clone(&refusing)),
            log,
            sm,
        )
        .await
        .map_err(|e| format!("cannot start the controller quorum: {e}"))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| format!("controller quorum: {e}"))?;
        if !initialized {
            // every voter proposes the same first membership: whichever arrives first wins, the
            // others find the same entry
            if let Err(e) = raft.initialize(voters.clone()).await {
                tracing::debug!(error = %e, "quorum already initialized elsewhere");
            }
        }
        tracing::info!(node = id, voters = ?voters.keys().collect::<Vec<_>>(), "controller quorum member started");
        let metrics = raft.metrics();
        let heard = Arc::new(leader_watch::LastHeard::default());
        tokio::spawn(leader_watch::watch(
            raft.clone(),
            id,
            voters.clone(),
            Arc::clone(&heard),
            leader_watch::Timing {
                heartbeat_ms: (election_ms / 5).max(10),
                election_ms,
                lease_ms: election_ms + election_ms / 4,
            },
        ));
        let quorum = Quorum {
            heard,
            raft,
            id,
            propose: tokio::sync::Mutex::new(None),
            election_wait: Duration::from_millis(election_ms * 4),
            op_timeout: Duration::from_millis(q.request_timeout_ms.max(election_ms * 2)),
            active_term: Default::default(),
            cluster_id,
            import: parking_lot::Mutex::new(import),
            refusing,
        };
        if controller.inner.quorum.set(quorum).is_err() {
            return Err("the quorum was opened twice".into());
        }
        tokio::spawn(follow_quorum(metrics, controller.clone()));
        Ok(controller)
    }

    /// The voters whose controller listener refuses connections, with since when (monotonic
    /// ms); empty outside a quorum.
    pub(crate) fn refusing_voters(&self) -> Vec<(u64, u64)> {
        self.inner
            .quorum
            .get()
            .map(|q| q.refusing.since())
            .unwrap_or_default()
    }

    /// This controller's Raft node, in a quorum.
    pub(crate) fn raft(&self) -> Option<&Raft> {
        self.inner.quorum.get().map(|q| &q.raft)
    }

    /// A leader's append or heartbeat arrived (see [`leader_watch`]).
    pub(crate) fn heard_from_leader(&self) {
        if let Some(q) = self.inner.quorum.get() {
            q.heard.heard();
        }
    }

    /// Whether this controller may act: always on a single controller; in a quorum only the
    /// leader, once it has applied an entry of its own term and activated (broker sessions given
    /// out). A broker's handle is never active.
    pub fn is_active(&self) -> bool {
        self.active_or_leader().is_ok()
    }

    /// `Ok` when this controller is active, else the active controller it knows of.
    pub(crate) fn active_or_leader(&self) -> Result<(), Option<i32>> {
        if self.inner.remote.is_some() {
            return Err(None);
        }
        let Some(q) = self.inner.quorum.get() else {
            return Ok(());
        };
        let m = q.raft.metrics();
        let m = m.borrow();
        let activated = q.active_term.load(std::sync::atomic::Ordering::Acquire);
        if leading_term(&m, q.id).is_some_and(|term| term == activated) {
            Ok(())
        } else {
            Err(m.current_leader.map(|l| l as i32))
        }
    }

    /// The quorum as DescribeQuorum shows it: a quorum's Raft state, a single controller as its
    /// only voter, or on a broker what the active controller last said.
    pub fn quorum_view(&self) -> Option<QuorumView> {
        if let Some(remote) = &self.inner.remote {
            return remote.quorum_view();
        }
        let now = crate::replica_manager::now_ms();
        let image = self.image();
        // (a voter's broker part is the voter itself, not an observer)
        let voter_ids: Vec<i32> = match &self.inner.config.cluster.mode {
            ClusterMode::Quorum(q) => q.voters.iter().map(|v| v.id).collect(),
            ClusterMode::SingleNode => vec![self.inner.config.node_id],
        };
        let observers = self
            .inner
            .observers
            .lock()
            .iter()
            .filter(|(id, _)| !voter_ids.contains(id))
            .map(|(&id, &(offset, at))| ReplicaView {
                id,
                log_end_offset: offset + 1,
                last_fetch_ms: at,
                last_caught_up_ms: if offset >= image.offset { at } else { -1 },
            })
            .collect();
        let Some(q) = self.inner.quorum.get() else {
            let end = image.offset + 1;
            let me = ReplicaView {
                id: self.inner.config.node_id,
                log_end_offset: end,
                last_fetch_ms: now,
                last_caught_up_ms: now,
            };
            return Some(QuorumView {
                leader_id: me.id,
                leader_epoch: 1,
                high_watermark: end,
                voters: vec![me],
                observers,
            });
        };
        let m = q.raft.metrics().borrow().clone();
        let applied_end = m.last_applied.map_or(0, |l| l.index as i64 + 1);
        let own_end = m.last_log_index.map_or(0, |i| i as i64 + 1);
        let matched = m.replication.clone().unwrap_or_default();
        let voters = m
            .membership_config
            .voter_ids()
            .map(|id| {
                let end = if id == q.id {
                    Some(own_end)
                } else {
                    matched
                        .get(&id)
                        .map(|l| l.map_or(0, |l| l.index as i64 + 1))
                };
                ReplicaView {
                    id: id as i32,
                    log_end_offset: end.unwrap_or(-1),
                    last_fetch_ms: if end.is_some() { now } else { -1 },
                    last_caught_up_ms: if end.is_some_and(|e| e >= applied_end) {
                        now
                    } else {
                        -1
                    },
                }
            })
            .collect();
        Some(QuorumView {
            leader_id: m.current_leader.map_or(-1, |l| l as i32),
            leader_epoch: m.current_term as i32,
            high_watermark: applied_end,
            voters,
            observers,
        })
    }

    /// Runs `op` as the active controller of the quorum: on the current image, then commits its
    /// records through Raft and answers once they are applied here.
    pub(super) async fn run_in_quorum<T: Send + 'static>(
        &self,
        q: &Quorum,
        op: impl FnOnce(&MetadataImage, &BrokerConfig) -> (Vec<MetadataRecord>, T) + Send + 'static,
    ) -> Result<T, OpError> {
        // (bounded: a leader cut off from the others must not queue requests forever)
        let mut activated = tokio::time::timeout(q.op_timeout, q.propose.lock())
            .await
            .map_err(|_| timed_out("the controller is busy with an uncommitted change"))?;
        if self
            .inner
            .stopped
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(not_controller("the controller is stopping".into()));
        }
        let term = self.wait_until_leading(q).await?;
        // a leader that lost its majority does not know it: a round with the others proves it
        // still leads (and that everything committed before is applied here) before it acts
        match tokio::time::timeout(q.op_timeout, q.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(not_controller(format!("not the active controller: {e}"))),
            Err(_) => {
                return Err(not_controller(
                    "no majority of the controllers answered: not the active controller".into(),
                ))
            }
        }
        if *activated != Some(term) {
            self.activate(q).await?;
            *activated = Some(term);
            q.active_term
                .store(term, std::sync::atomic::Ordering::Release);
        }
        let current = self.image();
        let config = Arc::clone(&self.inner.config);
        let (records, answer) = tokio::task::spawn_blocking(move || op(&current, &config))
            .await
            .map_err(|e| {
                (
                    ErrorCode::UnknownServerError,
                    format!("controller task failed: {e}"),
                )
            })?;
        if !records.is_empty() {
            commit(q, records).await?;
        }
        Ok(answer)
    }

    /// The active controller as this controller knows it, for a broker to go to.
    pub(crate) fn leader_hint(&self) -> Option<i32> {
        self.inner
            .quorum
            .get()
            .and_then(|q| q.raft.metrics().borrow().current_leader)
            .map(|l| l as i32)
    }

    /// Waits (for an election in progress) until this controller leads with an entry of its
    /// term applied; answers the term, or NOT_CONTROLLER naming the leader.
    async fn wait_until_leading(&self, q: &Quorum) -> Result<u64, OpError> {
        let mut rx = q.raft.metrics();
        let deadline = tokio::time::Instant::now() + q.election_wait;
        loop {
            {
                let m = rx.borrow_and_update();
                if let Some(term) = leading_term(&m, q.id) {
                    return Ok(term);
                }
                match m.current_leader {
                    Some(l) if l == q.id => {}
                    Some(l) => {
                        return Err(not_controller(format!("the active controller is node {l}")))
                    }
                    None => {}
                }
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(not_controller("the controller quorum stopped".into()));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(not_controller("no active controller: the quorum is electing one".into()));
                }
            }
        }
    }

    /// Becomes the active controller: every registered broker gets a fresh session, and a new
    /// cluster gets its id (or the image of an earlier one-controller log).
    async fn activate(&self, q: &Quorum) -> Result<(), OpError> {
        let image = self.image();
        if let Some(control) = &self.inner.cluster {
            *control.lock() =
                super::cluster_control::ClusterControl::activated(&self.inner.config, &image);
        }
        self.inner.observers.lock().clear();
        if image.cluster_id.is_empty() {
            // (the import is dropped only once committed: a leader that loses its term before
            // leaves it to the next activation)
            let records = q.import.lock().clone().unwrap_or_else(|| {
                vec![MetadataRecord::Cluster {
                    cluster_id: q.cluster_id.clone(),
                }]
            });
            commit(q, records).await?;
            q.import.lock().take();
        } else if image.cluster_id != q.cluster_id {
            tracing::error!(quorum = %image.cluster_id, directory = %q.cluster_id, "the quorum's cluster id differs from this data directory's");
        }
        tracing::info!(
            node = q.id,
            offset = self.image().offset,
            "this controller is now the active controller"
        );
        Ok(())
    }

    /// Takes a snapshot of the image now and drops the log entries it covers (they are
    /// otherwise dropped every 10,000 entries). A controller that falls behind the log kept
    /// then catches up from the snapshot. Answers the snapshot's offset.
    pub async fn compact_metadata_log(&self) -> Result<i64, String> {
        let q = self
            .inner
            .quorum
            .get()
            .ok_or("this controller keeps no Raft log")?;
        let applied = q
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |l| l.index);
        q.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| e.to_string())?;
        let mut metrics = q.raft.metrics();
        let snapshot = tokio::time::timeout(q.op_timeout, async {
            loop {
                if let Some(s) = metrics.borrow_and_update().snapshot {
                    if s.index >= applied {
                        return Ok::<u64, String>(s.index);
                    }
                }
                metrics
                    .changed()
                    .await
                    .map_err(|_| "the controller quorum stopped".to_string())?;
            }
        })
        .await
        .map_err(|_| "the snapshot was not taken in time".to_string())??;
        q.raft
            .trigger()
            .purge_log(snapshot)
            .await
            .map_err(|e| e.to_string())?;
        Ok(snapshot as i64)
    }

    /// Stops this controller's part of the quorum (the others elect a new leader).
    pub async fn leave_quorum(&self) {
        if let Some(q) = self.inner.quorum.get() {
            if let Err(e) = q.raft.shutdown().await {
                tracing::warn!(error = %e, "controller quorum did not stop cleanly");
            }
        }
    }
}

/// Follows the quorum's state until it stops: activates this controller as soon as it leads (so
/// that brokers get sessions and a new cluster its id without waiting for a request), and logs
/// what an operator wants to know as it happens: a new leader (and term), a voter falling behind
/// or catching up, a Raft failure.
async fn follow_quorum(
    mut metrics: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, BasicNode>>,
    controller: Controller,
) {
    let me = controller.inner.config.node_id as u64;
    let mut leader = None;
    let mut activated_term = None;
    let mut lagging: Vec<u64> = Vec::new();
    loop {
        let mut activate = false;
        {
            let m = metrics.borrow_and_update();
            if let Some(term) = leading_term(&m, me).filter(|t| activated_term != Some(*t)) {
                activated_term = Some(term);
                activate = true;
            }
            match &m.running_state {
                Ok(()) => {}
                // (this node is stopping)
                Err(openraft::error::Fatal::Stopped) => return,
                Err(e) => {
                    tracing::error!(error = %e, "the controller quorum stopped on an error");
                    return;
                }
            }
            if m.current_leader != leader {
                leader = m.current_leader;
                match leader {
                    Some(l) => tracing::info!(
                        leader = l,
                        term = m.current_term,
                        "controller quorum leader elected"
                    ),
                    None => tracing::warn!(
                        term = m.current_term,
                        "the controller quorum has no leader: electing one"
                    ),
                }
            }
            if leader == Some(me) {
                // voters more than a few entries behind the leader's log
                let end = m.last_log_index.unwrap_or(0);
                let now_lagging: Vec<u64> = m
                    .replication
                    .iter()
                    .flatten()
                    .filter(|(id, matched)| {
                        **id != me && matched.map_or(0, |l| l.index) + 100 < end
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for id in now_lagging.iter().filter(|id| !lagging.contains(id)) {
                    tracing::warn!(
                        voter = id,
                        "a controller is not keeping up with the metadata log"
                    );
                }
                for id in lagging.iter().filter(|id| !now_lagging.contains(id)) {
                    tracing::info!(voter = id, "a controller caught up with the metadata log");
                }
                lagging = now_lagging;
            } else {
                lagging.clear();
            }
        }
        let mut retry = false;
        if activate {
            // (a change without records: it activates, then commits nothing)
            if let Err((code, message)) = controller.run(|_, _| (Vec::new(), ())).await {
                tracing::warn!(?code, %message, "activation as the active controller failed; retrying");
                activated_term = None;
                retry = true;
            }
        }
        if retry {
            // (a slow disk or a busy machine: try again while still leading, even if nothing in
            // the quorum changes meanwhile)
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        } else if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Commits `records` through Raft; answers once applied here.
async fn commit(q: &Quorum, records: Vec<MetadataRecord>) -> Result<BatchApplied, OpError> {
    let written =
        tokio::time::timeout(q.op_timeout, q.raft.client_write(MetadataBatch { records }))
            .await
            // (it may still commit later: a timeout, not NOT_CONTROLLER, so that nobody retries it
            // elsewhere as if it had not been proposed)
            .map_err(|_| timed_out("the change was not committed in time"))?;
    match written {
        Ok(resp) => match resp.data.error {
            None => Ok(resp.data),
            Some(e) => Err((ErrorCode::UnknownServerError, e)),
        },
        Err(e) => Err(not_controller(format!("the change was not committed: {e}"))),
    }
}

/// The term in which node `me` leads with an entry of that term applied (so that its image holds
/// everything committed before), if it does.
fn leading_term(m: &openraft::RaftMetrics<u64, BasicNode>, me: u64) -> Option<u64> {
    let leads = m.current_leader == Some(me)
        && m.last_applied
            .is_some_and(|a| a.leader_id.term == m.current_term);
    leads.then_some(m.current_term)
}

fn timed_out(message: &str) -> OpError {
    (ErrorCode::RequestTimedOut, message.to_string())
}

/// The image of a one-controller metadata log (`metadata.log`, an earlier version's cluster
/// controller), as records to commit first; `None` when there is none.
fn import_single_controller_log(dir: &Path) -> Result<Option<Vec<MetadataRecord>>, String> {
    if !dir.join("metadata.log").exists() {
        return Ok(None);
    }
    let mut log = FileMetadataLog::open(dir).map_err(|e| e.to_string())?;
    let mut image = MetadataImage::empty();
    for (offset, records) in log.replay().map_err(|e| e.to_string())? {
        image = image.apply(offset, &records).map_err(|e| e.to_string())?;
    }
    Ok((!image.cluster_id.is_empty()).then(|| image.to_records()))
}
