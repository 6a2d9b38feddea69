//! The group coordinator's runtime: the I/O around the state machines.
//!
//! Each partition of `__consumer_offsets` hosted here is a [`Shard`] holding the groups that
//! hash to it and their committed offsets. A shard is rebuilt by replaying its partition when it
//! is first needed (and for every hosted partition at start), answering
//! `COORDINATOR_LOAD_IN_PROGRESS` meanwhile. Every change is appended to the partition before
//! it is answered: offsets before they apply, group metadata when a rebalance completes.
//!
//! Timers are one wake-up per group at the group's next deadline ([`ClassicGroup::next_deadline`]);
//! a wake-up runs [`ClassicGroup::tick`], which expires what is due and never more.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use super::classic::{Action, ClassicGroup, GroupState, JoinRequest, Limits, Reply, SyncRequest};
use super::consumer::{
    ConsumerGroup, ConsumerGroupState, HeartbeatRequest, HeartbeatResult, Refusal, Settings,
    TopicView,
};
use super::records::{self, GroupValue, OffsetValue, OffsetsRecord};
use crate::config::GroupConfig;
use crate::error::ErrorCode;
use crate::metadata::{Controller, TopicSpec};
use crate::partition::{Partition, TxnCheck};
use crate::replica_manager::{now_ms, ReplicaManager};
use uuid::Uuid;

/// Name of the internal topic holding groups and offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How often shards of partitions led elsewhere now are released.
const RESIGN_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// The partition of `__consumer_offsets` that holds `group`: Kafka's
/// `Utils.abs(groupId.hashCode()) % partitions`, with Java's `String.hashCode`.
pub fn partition_for(group: &str, partitions: usize) -> i32 {
    let mut h: i32 = 0;
    for unit in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    (abs as usize % partitions.max(1)) as i32
}

/// A parked JoinGroup or SyncGroup: the channel its answer goes to.
pub type Waiter = oneshot::Sender<Reply>;

/// One offset to commit.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Leader epoch, or -1.
    pub leader_epoch: i32,
    /// Client metadata (`None` is stored as empty).
    pub metadata: Option<String>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (empty for groups that only commit offsets).
    pub protocol_type: String,
    /// State name.
    pub state: &'static str,
    /// `classic` or `consumer` (KIP-848).
    pub group_type: &'static str,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Metadata for the selected protocol.
    pub metadata: Bytes,
    /// Assignment.
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    /// State name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected protocol (empty unless Stable or CompletingRebalance).
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// Groups and offsets of one `__consumer_offsets` partition.
#[derive(Default)]
struct ShardState {
    groups: HashMap<String, ClassicGroup<Waiter>>,
    /// Groups of the consumer protocol (KIP-848); a group id is in one map or the other.
    consumers: HashMap<String, ConsumerGroup>,
    /// group → (topic, partition) → committed offset
    offsets: HashMap<String, BTreeMap<(String, i32), OffsetValue>>,
    /// Offsets committed inside transactions not yet ended: producer id → commits in order.
    /// They become visible with the COMMIT marker and vanish with the ABORT marker.
    pending_txn: HashMap<i64, Vec<PendingOffset>>,
    /// Transaction markers written while the shard was loading (producer id, commit): the
    /// load applies them once its replay is installed (the replay may have ended before them).
    early_markers: Vec<(i64, bool)>,
}

impl ShardState {
    /// Plain (non-transactional) records were written for offsets of `group` (`doomed` picks
    /// them by topic and partition): commits still pending in open transactions for the same
    /// partitions are older, so they must not apply when their transactions commit. Kafka keeps
    /// the most recent record, transactional or not; the replay applies the same rule.
    fn supersede_pending(&mut self, group: &str, doomed: impl Fn(&str, i32) -> bool) {
        for pending in self.pending_txn.values_mut() {
            pending.retain(|p| p.group != group || !doomed(&p.topic, p.partition));
        }
    }

    /// The partitions of `group` with offsets pending in open transactions.
    fn pending_partitions(&self, group: &str) -> std::collections::BTreeSet<(String, i32)> {
        self.pending_txn
            .values()
            .flatten()
            .filter(|p| p.group == group)
            .map(|p| (p.topic.clone(), p.partition))
            .collect()
    }

    /// The transaction of `producer_id` ended: its pending offsets apply or go.
    fn complete_txn(&mut self, producer_id: i64, commit: bool, limits: Limits) {
        let Some(pending) = self.pending_txn.remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        for p in pending {
            match p.value {
                Some(v) => {
                    if !self.groups.contains_key(&p.group) && !self.consumers.contains_key(&p.group)
                    {
                        self.groups.insert(
                            p.group.clone(),
                            ClassicGroup::new(&p.group, limits, now_ms()),
                        );
                    }
                    self.offsets
                        .entry(p.group)
                        .or_default()
                        .insert((p.topic, p.partition), v);
                }
                None => {
                    if let Some(o) = self.offsets.get_mut(&p.group) {
                        o.remove(&(p.topic, p.partition));
                    }
                }
            }
        }
    }
}

/// An offset committed by TxnOffsetCommit, waiting for its transaction's marker.
#[derive(Debug, Clone)]
struct PendingOffset {
    group: String,
    topic: String,
    partition: i32,
    /// `None`: a tombstone replayed inside the transaction.
    value: Option<OffsetValue>,
}

struct Shard {
    index: i32,
    /// The leadership of the partition this shard was loaded for.
    leader_epoch: i32,
    partition: Arc<Partition>,
    state: Mutex<ShardState>,
    loaded: AtomicBool,
    /// group → time of the wake-up already scheduled for it
    wakeups: Mutex<HashMap<String, i64>>,
}

/// The group coordinator of this broker.
pub struct GroupCoordinator {
    config: GroupConfig,
    limits: Limits,
    settings: Settings,
    replicas: Arc<ReplicaManager>,
    controller: Controller,
    shards: RwLock<HashMap<i32, Arc<Shard>>>,
    closed: AtomicBool,
    me: Weak<GroupCoordinator>,
}

fn map_append_error(code: ErrorCode) -> ErrorCode {
    // Kafka's mapping of log append errors to what group clients understand.
    match code {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge => {
            ErrorCode::InvalidCommitOffsetSize
        }
        other => other,
    }
}

/// The replication factor of an internal topic created now: on a single node the configured
/// one capped at the brokers there are (one); in a cluster the configured one, and an error
/// (Kafka's message) until enough brokers are alive, so that a coordinator lookup during start-up
/// never creates it under-replicated for ever.
pub fn internal_topic_rf(controller: &Controller, configured: i16) -> Result<i16, String> {
    let image = controller.image();
    if !controller.manages_brokers() {
        return Ok(configured.min(image.brokers.len().max(1) as i16));
    }
    let alive = image.unfenced_brokers().len();
    if alive < configured.max(1) as usize {
        return Err(format!(
            "Number of alive brokers '{alive}' does not meet the required replication factor '{configured}'"
        ));
    }
    Ok(configured)
}

impl GroupCoordinator {
    /// A coordinator over the partitions `replicas` hosts. Call [`Self::start`] to load the
    /// hosted partitions and run offset expiry.
    pub fn new(
        config: GroupConfig,
        replicas: Arc<ReplicaManager>,
        controller: Controller,
    ) -> Arc<Self> {
        let limits = Limits {
            min_session_timeout_ms: config.min_session_timeout_ms,
            max_session_timeout_ms: config.max_session_timeout_ms,
            initial_rebalance_delay_ms: config.initial_rebalance_delay_ms,
            max_size: config.max_size,
        };
        let settings = Settings {
            session_timeout_ms: config.consumer_session_timeout_ms,
            heartbeat_interval_ms: config.consumer_heartbeat_interval_ms,
            max_size: config.consumer_max_size,
            assignors: config.consumer_assignors.clone(),
        };
        Arc::new_cyclic(|me| GroupCoordinator {
            config,
            limits,
            settings,
            replicas,
            controller,
            shards: RwLock::new(HashMap::new()),
            closed: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    /// Loads every hosted partition of `__consumer_offsets` in the background and starts the
    /// periodic offset expiry. Returns the expiry task.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let image = self.controller.image();
        if let Some(t) = image.topics.get(OFFSETS_TOPIC) {
            for p in 0..t.partitions.len() as i32 {
                let _ = self.shard(p);
            }
        }
        let me = Arc::downgrade(self);
        // a shard whose partition this broker no longer leads answers its parked requests
        // NOT_COORDINATOR at once, so that their members rejoin at the new coordinator instead
        // of waiting out their request timeout
        tokio::spawn({
            let me = me.clone();
            async move {
                loop {
                    tokio::time::sleep(RESIGN_CHECK).await;
                    let Some(c) = me.upgrade() else { return };
                    if c.closed.load(Ordering::Acquire) {
                        return;
                    }
                    c.release_resigned();
                }
            }
        });
        let period = std::time::Duration::from_millis(
            self.config.offsets_retention_check_interval_ms.max(1),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(c) = me.upgrade() else { return };
                if c.closed.load(Ordering::Acquire) {
                    return;
                }
                let _ = tokio::task::spawn_blocking(move || c.expire_offsets(now_ms())).await;
            }
        })
    }

    /// Drops the shards of partitions this broker no longer leads (at the shard's leader epoch),
    /// answering their parked JoinGroup and SyncGroup requests NOT_COORDINATOR.
    fn release_resigned(&self) {
        let stale: Vec<Arc<Shard>> = {
            let mut shards = self.shards.write();
            let gone: Vec<i32> = shards
                .iter()
                .filter(|(_, s)| !s.partition.leads_at(s.leader_epoch))
                .map(|(p, _)| *p)
                .collect();
            gone.iter().filter_map(|p| shards.remove(p)).collect()
        };
        for shard in stale {
            tracing::info!(
                partition = shard.index,
                "no longer the group coordinator of this partition"
            );
            let mut st = shard.state.lock();
            for g in st.groups.values_mut() {
                for a in g.unload() {
                    if let Action::Reply(w, r) = a {
                        let _ = w.send(r);
                    }
                }
            }
        }
    }

    /// Answers every parked request `NOT_COORDINATOR` and refuses further work (shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        for shard in shards {
            let mut st = shard.state.lock();
            for g in st.groups.values_mut() {
                for a in g.unload() {
                    if let Action::Reply(w, r) = a {
                        let _ = w.send(r);
                    }
                }
            }
        }
    }

    /// Creates `__consumer_offsets` if it does not exist yet (FindCoordinator does this, as in
    /// Kafka), with `offsets.topic.*` settings.
    pub async fn ensure_offsets_topic(&self) -> Result<(), ErrorCode> {
        if self.controller.image().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let rf = match internal_topic_rf(
            &self.controller,
            self.config.offsets_topic_replication_factor,
        ) {
            Ok(rf) => rf,
            Err(message) => {
                tracing::info!("{message} for the offsets topic");
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
        };
        let configs = BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("compression.type".to_string(), "producer".to_string()),
            crate::config::segment_size_config(self.config.offsets_topic_segment_bytes),
        ]);
        let spec = TopicSpec {
            name: OFFSETS_TOPIC.to_string(),
            partitions: self.config.offsets_topic_partitions,
            replication_factor: rf,
            assignments: vec![],
            configs,
        };
        match self.controller.create_topics(vec![spec], false).await.pop() {
            Some(Ok(_)) => {
                tracing::info!(
                    partitions = self.config.offsets_topic_partitions,
                    "created {OFFSETS_TOPIC}"
                );
                Ok(())
            }
            Some(Err((ErrorCode::TopicAlreadyExists, _))) => Ok(()),
            Some(Err((code, msg))) => {
                tracing::warn!(error = %msg, "cannot create {OFFSETS_TOPIC}");
                Err(if code == ErrorCode::InvalidReplicationFactor {
                    ErrorCode::CoordinatorNotAvailable
                } else {
                    code
                })
            }
            None => Err(ErrorCode::CoordinatorNotAvailable),
        }
    }

    /// The consumer-protocol settings of `group`: the broker's, with the group's own
    /// `consumer.session.timeout.ms` and `consumer.heartbeat.interval.ms` (group configs) on top.
    fn settings_for(&self, group: &str, image: &crate::metadata::MetadataImage) -> Settings {
        let mut s = self.settings.clone();
        if let Some(o) = image.group_configs.get(group) {
            let get = |name: &str| o.get(name).and_then(|v| v.trim().parse::<i32>().ok());
            if let Some(v) = get("consumer.session.timeout.ms") {
                s.session_timeout_ms = v;
            }
            if let Some(v) = get("consumer.heartbeat.interval.ms") {
                s.heartbeat_interval_ms = v;
            }
        }
        s
    }

    /// The partition of `__consumer_offsets` for `group`, once the topic exists.
    pub fn partition_of(&self, group: &str) -> Option<i32> {
        let image = self.controller.image();
        let t = image.topics.get(OFFSETS_TOPIC)?;
        Some(partition_for(group, t.partitions.len()))
    }

    /// The shard for partition `p`, created (and its load started) on first use.
    fn shard(&self, p: i32) -> Result<Arc<Shard>, ErrorCode> {
        let partition = self
            .replicas
            .get(OFFSETS_TOPIC, p)
            .ok_or(ErrorCode::NotCoordinator)?;
        // only the leader coordinates; a shard belongs to one leadership, so that a broker that
        // leads again after another one did reloads what that one wrote
        if !partition.is_leader() {
            return Err(ErrorCode::NotCoordinator);
        }
        let epoch = partition.leader_epoch();
        let current = |s: &Shard| Arc::ptr_eq(&s.partition, &partition) && s.leader_epoch == epoch;
        if let Some(s) = self.shards.read().get(&p) {
            if current(s) {
                return Ok(Arc::clone(s));
            }
        }
        let mut shards = self.shards.write();
        if let Some(s) = shards.get(&p) {
            if current(s) {
                return Ok(Arc::clone(s));
            }
        }
        let shard = Arc::new(Shard {
            index: p,
            leader_epoch: epoch,
            partition,
            state: Mutex::new(ShardState::default()),
            loaded: AtomicBool::new(false),
            wakeups: Mutex::new(HashMap::new()),
        });
        if let Some(old) = shards.insert(p, Arc::clone(&shard)) {
            // The topic was recreated or leadership moved: the old shard's parked requests go
            // elsewhere.
            for g in old.state.lock().groups.values_mut() {
                for a in g.unload() {
                    if let Action::Reply(w, r) = a {
                        let _ = w.send(r);
                    }
                }
            }
        }
        drop(shards);
        let offsets = shard.partition.offsets();
        if offsets.log_end_offset == offsets.log_start_offset {
            shard.loaded.store(true, Ordering::Release);
        } else if let Some(me) = self.me.upgrade() {
            let s = Arc::clone(&shard);
            tokio::task::spawn_blocking(move || me.load(&s));
        }
        Ok(shard)
    }

    /// The loaded shard that coordinates `group`.
    fn shard_for(&self, group: &str) -> Result<Arc<Shard>, ErrorCode> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ErrorCode::NotCoordinator);
        }
        let p = self
            .partition_of(group)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let shard = self.shard(p)?;
        if !shard.loaded.load(Ordering::Acquire) {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        Ok(shard)
    }

    /// Waits until everything written so far to the `__consumer_offsets` partition of `group`
    /// is replicated (its high watermark reached the log end), for at most 5 s
    /// (`offsets.commit.timeout.ms`): a commit is answered only when a failover cannot lose it.
    /// The error is Kafka's mapping for group writes; NONE at once on a single node.
    pub async fn replicated(&self, group: &str) -> ErrorCode {
        let Ok(shard) = self.shard_for(group) else {
            return ErrorCode::NotCoordinator;
        };
        crate::replication::purgatory::coordinator_write_replicated(
            &shard.partition,
            shard.leader_epoch,
            std::time::Duration::from_millis(5_000),
        )
        .await
    }

    /// Whether this broker coordinates `group` and has loaded it.
    pub fn check_coordinator(&self, group: &str) -> Result<(), ErrorCode> {
        self.shard_for(group).map(|_| ())
    }

    /// Replays a shard's partition. Blocking.
    fn load(&self, shard: &Shard) {
        let started = std::time::Instant::now();
        let mut groups: HashMap<String, Option<GroupValue>> = HashMap::new();
        let mut consumers: HashMap<String, Bytes> = HashMap::new();
        let mut offsets: HashMap<String, BTreeMap<(String, i32), OffsetValue>> = HashMap::new();
        let mut records = 0u64;
        let mut pending_txn: HashMap<i64, Vec<OffsetsRecord>> = HashMap::new();
        let mut apply = |rec: OffsetsRecord| match rec {
            OffsetsRecord::Offset {
                group,
                topic,
                partition,
                value: Some(v),
            } => {
                offsets
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), v);
            }
            OffsetsRecord::Offset {
                group,
                topic,
                partition,
                value: None,
            } => {
                if let Some(o) = offsets.get_mut(&group) {
                    o.remove(&(topic, partition));
                    if o.is_empty() {
                        offsets.remove(&group);
                    }
                }
            }
            OffsetsRecord::Group { group, value } => {
                if value.is_some() {
                    consumers.remove(&group);
                }
                groups.insert(group, value);
            }
            OffsetsRecord::ConsumerGroup { group, value } => match value {
                Some(v) => {
                    groups.remove(&group);
                    consumers.insert(group, v);
                }
                None => {
                    consumers.remove(&group);
                }
            },
            OffsetsRecord::Unknown(v) => {
                tracing::debug!(version = v, "skipping record of unknown kind");
            }
        };
        let result = shard.partition.replay(|header, r| {
            records += 1;
            let abs = header.base_offset + i64::from(r.offset_delta);
            if header.is_control() {
                // a transaction marker: its offsets apply (COMMIT) or go (ABORT)
                let commit = r
                    .key
                    .filter(|k| k.len() >= 4)
                    .is_some_and(|k| i16::from_be_bytes([k[2], k[3]]) == 1);
                for rec in pending_txn.remove(&header.producer_id).unwrap_or_default() {
                    if commit {
                        apply(rec);
                    }
                }
                return;
            }
            let rec = match r.key.map(|k| records::decode(k, r.value)) {
                Some(Ok(rec)) => rec,
                Some(Err(e)) => {
                    tracing::warn!(offset = abs, error = %e, "skipping record");
                    return;
                }
                None => {
                    tracing::warn!(offset = abs, "skipping record without key");
                    return;
                }
            };
            if header.is_transactional() {
                pending_txn.entry(header.producer_id).or_default().push(rec);
            } else {
                if let OffsetsRecord::Offset {
                    group,
                    topic,
                    partition,
                    ..
                } = &rec
                {
                    // a plain commit or tombstone written after a transactional commit wins
                    // (Kafka keeps the most recent record when the transaction completes)
                    for recs in pending_txn.values_mut() {
                        recs.retain(|p| {
                            !matches!(p, OffsetsRecord::Offset { group: g, topic: t, partition: q, .. }
                                if g == group && t == topic && q == partition)
                        });
                    }
                }
                apply(rec);
            }
        });
        if let Err(e) = result {
            tracing::error!(partition = shard.index, error = %e, "cannot load {OFFSETS_TOPIC}; retrying in 5 s (its groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile)");
            let (me, p) = (self.me.clone(), shard.index);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    let Some(c) = me.upgrade() else { return };
                    let Some(s) = c.shards.read().get(&p).cloned() else {
                        return;
                    };
                    if !c.closed.load(Ordering::Acquire) {
                        let _ = tokio::task::spawn_blocking(move || c.load(&s)).await;
                    }
                });
            }
            return;
        }
        let now = now_ms();
        let mut st = shard.state.lock();
        for (id, bytes) in consumers {
            match ConsumerGroup::restore(&bytes, &self.settings, now) {
                Some(mut c) => {
                    c.take_dirty();
                    st.consumers.insert(id, c);
                }
                None => tracing::warn!(group = %id, "cannot read a stored consumer group; skipped"),
            }
        }
        for (id, value) in groups {
            if let Some(v) = value {
                st.groups.insert(
                    id.clone(),
                    ClassicGroup::from_stored(&id, v, self.limits, now),
                );
            }
        }
        for id in offsets.keys() {
            if !st.groups.contains_key(id) && !st.consumers.contains_key(id) {
                st.groups
                    .insert(id.clone(), ClassicGroup::new(id, self.limits, now));
            }
        }
        st.offsets = offsets;
        st.pending_txn = pending_txn
            .into_iter()
            .map(|(pid, recs)| {
                let pending = recs
                    .into_iter()
                    .filter_map(|rec| match rec {
                        OffsetsRecord::Offset {
                            group,
                            topic,
                            partition,
                            value,
                        } => Some(PendingOffset {
                            group,
                            topic,
                            partition,
                            value,
                        }),
                        _ => None,
                    })
                    .collect();
                (pid, pending)
            })
            .collect();
        // Markers written during the replay (the replay may or may not have read them; no
        // transactional offsets can be committed while loading, so applying them is safe).
        for (pid, commit) in std::mem::take(&mut st.early_markers) {
            st.complete_txn(pid, commit, self.limits);
        }
        // loaded is set under the lock, so that a marker either finds it set or is queued
        // before the queue is drained
        shard.loaded.store(true, Ordering::Release);
        let deadlines: Vec<(String, i64)> = st
            .groups
            .values()
            .filter_map(|g| g.next_deadline().map(|d| (g.id().to_string(), d)))
            .chain(
                st.consumers
                    .values()
                    .filter_map(|g| g.next_deadline().map(|d| (g.id().to_string(), d))),
            )
            .collect();
        let count = st.groups.len();
        drop(st);
        for (g, d) in deadlines {
            self.schedule(shard, &g, d);
        }
        tracing::info!(
            partition = shard.index,
            groups = count,
            records,
            ms = started.elapsed().as_millis() as u64,
            "loaded {OFFSETS_TOPIC} partition"
        );
    }

    /// Appends records to the shard's partition. Small writes run inline (like a small produce).
    fn append(&self, shard: &Shard, recs: &[(Bytes, Option<Bytes>)]) -> Result<(), ErrorCode> {
        self.append_with(shard, recs, kafka_protocol::records::Compression::None)
    }

    /// [`Self::append`] with a compression codec for the batch.
    fn append_with(
        &self,
        shard: &Shard,
        recs: &[(Bytes, Option<Bytes>)],
        compression: kafka_protocol::records::Compression,
    ) -> Result<(), ErrorCode> {
        self.append_batch(shard, recs, compression, None)
    }

    /// Appends records as one batch; `txn` makes it a transactional batch of that producer
    /// (TxnOffsetCommit), whose offsets apply once the transaction commits, after the
    /// transaction's check passes under the partition lock.
    fn append_batch(
        &self,
        shard: &Shard,
        recs: &[(Bytes, Option<Bytes>)],
        compression: kafka_protocol::records::Compression,
        txn: Option<((i64, i16), TxnCheck<'_>)>,
    ) -> Result<(), ErrorCode> {
        let (producer, check) = txn.unzip();
        // a shard of an older leadership never writes (its timers may still fire)
        if !shard.partition.leads_at(shard.leader_epoch) {
            return Err(ErrorCode::NotCoordinator);
        }
        shard
            .partition
            .append_records(recs, compression, producer, now_ms(), check)
            .map(|_| ())
            .map_err(|e| {
                tracing::warn!(partition = shard.index, error = %e, "cannot write to {OFFSETS_TOPIC}");
                map_append_error(e.code())
            })
    }

    /// Runs the actions of one group event: writes first, then answers.
    fn execute(
        &self,
        shard: &Shard,
        st: &mut ShardState,
        group: &str,
        actions: Vec<Action<Waiter>>,
    ) {
        let mut persist = false;
        let mut replies = Vec::new();
        for a in actions {
            match a {
                Action::Persist => persist = true,
                Action::Reply(w, r) => replies.push((w, r)),
            }
        }
        if persist {
            let value = st
                .groups
                .get(group)
                .map(|g| records::group_value(&g.to_stored()));
            if let Err(code) = self.append(shard, &[(records::group_key(group), value)]) {
                // Kafka's mapping of group metadata write errors
                let code = match code {
                    ErrorCode::InvalidCommitOffsetSize => ErrorCode::UnknownServerError,
                    other => other,
                };
                tracing::error!(
                    group,
                    ?code,
                    "cannot store group metadata; the group rebalances"
                );
                for (_, r) in &mut replies {
                    if let Reply::Sync(s) = r {
                        if s.error == ErrorCode::None {
                            s.error = code;
                            s.assignment = Bytes::new();
                        }
                    }
                }
                if let Some(g) = st.groups.get_mut(group) {
                    for a in g.persist_failed(now_ms()) {
                        if let Action::Reply(w, r) = a {
                            replies.push((w, r));
                        }
                    }
                }
            }
        }
        for (w, r) in replies {
            let _ = w.send(r);
        }
        if let Some(d) = st.groups.get(group).and_then(|g| g.next_deadline()) {
            self.schedule(shard, group, d);
        }
    }

    /// Makes sure `group` is ticked at `deadline` (or earlier).
    fn schedule(&self, shard: &Shard, group: &str, deadline: i64) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!(group, "no runtime to schedule the group's timers on");
            return;
        };
        {
            let mut w = shard.wakeups.lock();
            if w.get(group).is_some_and(|t| *t <= deadline) {
                return;
            }
            w.insert(group.to_string(), deadline);
        }
        let (me, p, group) = (self.me.clone(), shard.index, group.to_string());

        rt.spawn(async move {
            let wait = (deadline - now_ms()).max(0) as u64;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            if let Some(c) = me.upgrade() {
                c.wake(p, &group, deadline);
            }
        });
    }

    fn wake(&self, p: i32, group: &str, deadline: i64) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(shard) = self.shards.read().get(&p).cloned() else {
            return;
        };
        {
            let mut w = shard.wakeups.lock();
            if w.get(group) == Some(&deadline) {
                w.remove(group);
            }
        }
        let mut st = shard.state.lock();
        if let Some(g) = st.consumers.get_mut(group) {
            g.tick(now_ms());
            if let Some(d) = g.next_deadline() {
                self.schedule(&shard, group, d);
            }
            if let Err(code) = self.store_consumer_group(&shard, &mut st, group) {
                tracing::warn!(
                    group,
                    ?code,
                    "cannot store consumer group after expiring members"
                );
            }
            return;
        }
        let Some(g) = st.groups.get_mut(group) else {
            return;
        };
        let actions = g.tick(now_ms());
        self.execute(&shard, &mut st, group, actions);
    }

    /// JoinGroup: the answer arrives on the returned channel.
    pub fn join(
        &self,
        group: &str,
        req: JoinRequest,
    ) -> Result<oneshot::Receiver<Reply>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let (tx, rx) = oneshot::channel();
        if !(self.limits.min_session_timeout_ms..=self.limits.max_session_timeout_ms)
            .contains(&req.session_timeout_ms)
        {
            return Err(ErrorCode::InvalidSessionTimeout);
        }
        let mut st = shard.state.lock();
        if let Some(c) = st.consumers.get(group) {
            if c.members().next().is_some() {
                // the group runs the consumer protocol (KIP-848)
                return Err(ErrorCode::InconsistentGroupProtocol);
            }
            self.append(&shard, &[(records::consumer_group_key(group), None)])?;
            st.consumers.remove(group);
        }
        if !st.groups.contains_key(group) {
            if !req.member_id.is_empty() {
                return Err(ErrorCode::UnknownMemberId);
            }
            st.groups.insert(
                group.to_string(),
                ClassicGroup::new(group, self.limits, now_ms()),
            );
        }
        let Some(g) = st.groups.get_mut(group) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        let actions = g.join(req, tx, now_ms());
        self.execute(&shard, &mut st, group, actions);
        Ok(rx)
    }

    /// SyncGroup: the answer arrives on the returned channel.
    pub fn sync(
        &self,
        group: &str,
        req: SyncRequest,
    ) -> Result<oneshot::Receiver<Reply>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let (tx, rx) = oneshot::channel();
        let mut st = shard.state.lock();
        let g = st.groups.get_mut(group).ok_or(ErrorCode::UnknownMemberId)?;
        let actions = g.sync(req, tx, now_ms());
        self.execute(&shard, &mut st, group, actions);
        Ok(rx)
    }

    /// Heartbeat.
    pub fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        let shard = match self.shard_for(group) {
            Ok(s) => s,
            // Kafka answers heartbeats blindly while it loads: members keep their sessions.
            Err(ErrorCode::CoordinatorLoadInProgress) => return ErrorCode::None,
            Err(e) => return e,
        };
        let mut st = shard.state.lock();
        match st.groups.get_mut(group) {
            Some(g) => g.heartbeat(member_id, instance_id, generation, now_ms()),
            None => ErrorCode::UnknownMemberId,
        }
    }

    /// LeaveGroup for several members; one code per member.
    pub fn leave(
        &self,
        group: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let mut st = shard.state.lock();
        let Some(g) = st.groups.get_mut(group) else {
            return Ok(vec![ErrorCode::UnknownMemberId; members.len()]);
        };
        let mut codes = Vec::with_capacity(members.len());
        let mut actions = Vec::new();
        for (member, instance) in members {
            let (code, a) = g.leave(member, instance.as_deref(), now_ms());
            codes.push(code);
            actions.extend(a);
        }
        self.execute(&shard, &mut st, group, actions);
        Ok(codes)
    }

    /// OffsetCommit at `version`: one code per offset, or one for the whole request.
    pub fn commit_offsets(
        &self,
        version: i16,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        commits: Vec<OffsetCommit>,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.commit(
            version,
            group,
            member_id,
            instance_id,
            generation,
            commits,
            None,
        )
    }

    /// TxnOffsetCommit: the offsets are written inside the transaction of `producer` (id,
    /// epoch) and apply when it commits; `check` verifies, under the partition lock, that the
    /// transaction is still open (KIP-890). The member checks are Kafka's transactional ones:
    /// commits pass while the group completes a rebalance, and a stale generation or epoch is
    /// `ILLEGAL_GENERATION`.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        group: &str,
        producer: (i64, i16),
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        commits: Vec<OffsetCommit>,
        check: TxnCheck<'_>,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.commit(
            9,
            group,
            member_id,
            instance_id,
            generation,
            commits,
            Some((producer, check)),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        version: i16,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        commits: Vec<OffsetCommit>,
        txn: Option<((i64, i16), TxnCheck<'_>)>,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let now = now_ms();
        let mut st = shard.state.lock();
        // TxnOffsetCommit may come without member, generation and instance (v0-2, and producers
        // given only the group id): Kafka accepts those without member checks
        let anonymous_txn =
            txn.is_some() && generation < 0 && member_id.is_empty() && instance_id.is_none();
        if let Some(c) = st.consumers.get(group).filter(|_| !anonymous_txn) {
            if generation < 0 {
                // admin tools and standalone consumers: only while the group has no members
                if c.members().next().is_some() {
                    return Err(ErrorCode::UnknownMemberId);
                }
            } else {
                if txn.is_none() && version < 9 && c.has_member(member_id) {
                    // Kafka: consumer-protocol members commit with OffsetCommit v9+ (which
                    // carries their member epoch)
                    return Err(ErrorCode::UnsupportedVersion);
                }
                let image = self.controller.image();
                let partitions: Vec<(Uuid, i32)> = commits
                    .iter()
                    .filter_map(|o| image.topics.get(&o.topic).map(|t| (t.id, o.partition)))
                    .collect();
                c.validate_member_commit(member_id, generation, &partitions)
                    .map_err(|e| {
                        // a classic client (v8 and older) committing to a consumer group, and
                        // every TxnOffsetCommit (Kafka answers those ILLEGAL_GENERATION too)
                        if e == ErrorCode::StaleMemberEpoch && (version < 9 || txn.is_some()) {
                            ErrorCode::IllegalGeneration
                        } else {
                            e
                        }
                    })?;
            }
        }
        let is_consumer = st.consumers.contains_key(group);
        match st.groups.get_mut(group) {
            Some(g) => {
                g.validate_offset_commit(member_id, instance_id, generation, txn.is_some(), now)?
            }
            None if is_consumer => {}
            // A member of a group that does not exist (Kafka: OffsetCommit v9+ says so plainly,
            // TxnOffsetCommit never does).
            None if generation >= 0 && version >= 9 && txn.is_none() => {
                return Err(ErrorCode::GroupIdNotFound)
            }
            None if generation >= 0 => return Err(ErrorCode::IllegalGeneration),
            None => {
                st.groups.insert(
                    group.to_string(),
                    ClassicGroup::new(group, self.limits, now),
                );
            }
        }
        let image = self.controller.image();
        let mut codes = Vec::with_capacity(commits.len());
        let mut writes = Vec::new();
        let mut values = Vec::new();
        for c in commits {
            let known = image
                .topics
                .get(&c.topic)
                .is_some_and(|t| c.partition >= 0 && (c.partition as usize) < t.partitions.len());
            let metadata = c.metadata.unwrap_or_default();
            let code = if !known {
                ErrorCode::UnknownTopicOrPartition
            } else if metadata.len() > self.config.offset_metadata_max_bytes {
                ErrorCode::OffsetMetadataTooLarge
            } else {
                ErrorCode::None
            };
            codes.push(code);
            if code == ErrorCode::None {
                let v = OffsetValue {
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                    metadata,
                    commit_timestamp: now,
                };
                writes.push((
                    records::offset_key(group, &c.topic, c.partition),
                    Some(records::offset_value(&v)),
                ));
                values.push((codes.len() - 1, c.topic, c.partition, v));
            }
        }
        if writes.is_empty() {
            return Ok(codes);
        }
        let written = self.append_batch(
            &shard,
            &writes,
            kafka_protocol::records::Compression::None,
            txn,
        );
        if let Err(code) = written {
            for (i, ..) in &values {
                codes[*i] = code;
            }
            return Ok(codes);
        }
        if let Some(((pid, _), _)) = txn {
            let pending = st.pending_txn.entry(pid).or_default();
            for (_, topic, partition, v) in values {
                pending.push(PendingOffset {
                    group: group.to_string(),
                    topic,
                    partition,
                    value: Some(v),
                });
            }
            return Ok(codes);
        }
        st.supersede_pending(group, |t, q| {
            values.iter().any(|(_, vt, vq, _)| vt == t && *vq == q)
        });
        let offsets = st.offsets.entry(group.to_string()).or_default();
        for (_, topic, partition, v) in values {
            offsets.insert((topic, partition), v);
        }
        Ok(codes)
    }

    /// A transaction marker was written to partition `partition` of `__consumer_offsets`:
    /// the offsets `producer_id` committed in it apply (COMMIT) or are dropped (ABORT).
    pub fn complete_txn(&self, partition: i32, producer_id: i64, commit: bool) {
        // No shard yet: its load will replay the marker from the log.
        let Some(shard) = self.shards.read().get(&partition).cloned() else {
            return;
        };
        let mut st = shard.state.lock();
        if shard.loaded.load(Ordering::Acquire) {
            st.complete_txn(producer_id, commit, self.limits);
        } else {
            st.early_markers.push((producer_id, commit));
        }
    }

    /// The partitions of `group` with offsets committed in a transaction not yet ended
    /// (OffsetFetch with `require_stable` answers them `UNSTABLE_OFFSET_COMMIT`).
    pub fn pending_txn_partitions(&self, group: &str) -> std::collections::BTreeSet<(String, i32)> {
        let Ok(shard) = self.shard_for(group) else {
            return Default::default();
        };
        let st = shard.state.lock();
        st.pending_partitions(group)
    }

    /// OffsetFetch: the committed offsets of `group` for `topics` (all when `None`).
    /// Partitions without a commit come back with `None`.
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, Vec<(i32, Option<OffsetValue>)>)>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let st = shard.state.lock();
        if let Some((member_id, epoch)) = member.filter(|(_, e)| *e >= 0) {
            // v9: a member of a consumer group fetches with its epoch (other groups ignore it)
            if let Some(c) = st.consumers.get(group) {
                c.validate_member_epoch(member_id, epoch)?;
            }
        }
        let committed = st.offsets.get(group);
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(topic, parts)| {
                    let parts = parts
                        .into_iter()
                        .map(|p| {
                            let v = committed.and_then(|o| o.get(&(topic.clone(), p))).cloned();
                            (p, v)
                        })
                        .collect();
                    (topic, parts)
                })
                .collect(),
            None => {
                let mut out: Vec<(String, Vec<(i32, Option<OffsetValue>)>)> = Vec::new();
                for ((topic, p), v) in committed.into_iter().flatten() {
                    match out.last_mut() {
                        Some((t, parts)) if t == topic => parts.push((*p, Some(v.clone()))),
                        _ => out.push((topic.clone(), vec![(*p, Some(v.clone()))])),
                    }
                }
                out
            }
        })
    }

    /// ListGroups: every group of every loaded shard. Returns whether some shard is still
    /// loading (Kafka then answers `COORDINATOR_LOAD_IN_PROGRESS`).
    pub fn list_groups(&self) -> (Vec<GroupListing>, bool) {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut out = Vec::new();
        for s in shards {
            if !s.loaded.load(Ordering::Acquire) {
                // Kafka answers only the error until every partition is loaded
                return (Vec::new(), true);
            }
            let st = s.state.lock();
            out.extend(st.groups.values().map(|g| GroupListing {
                group_id: g.id().to_string(),
                protocol_type: g.protocol_type().unwrap_or_default().to_string(),
                state: g.state().name(),
                group_type: "classic",
            }));
            out.extend(st.consumers.values().map(|g| GroupListing {
                group_id: g.id().to_string(),
                protocol_type: "consumer".to_string(),
                state: g.state().name(),
                group_type: "consumer",
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        (out, false)
    }

    /// DescribeGroups for one group; `None` when it does not exist.
    pub fn describe(&self, group: &str) -> Result<Option<GroupDescription>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let st = shard.state.lock();
        // a consumer-protocol (KIP-848) group is not a classic group: DescribeGroups answers as
        // for a group that does not exist, as Kafka does (ConsumerGroupDescribe describes it)
        let Some(g) = st.groups.get(group) else {
            return Ok(None);
        };
        let protocol = g.protocol().unwrap_or_default().to_string();
        let show_members = g.state() == GroupState::Stable;
        Ok(Some(GroupDescription {
            state: g.state().name(),
            protocol_type: g.protocol_type().unwrap_or_default().to_string(),
            protocol: if show_members {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    // Kafka shows metadata and assignment only once the group is Stable.
                    metadata: if g.state() == GroupState::Stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if g.state() == GroupState::Stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        }))
    }

    /// DeleteGroups for one group: only an empty group can go.
    pub fn delete_group(&self, group: &str) -> ErrorCode {
        let shard = match self.shard_for(group) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut st = shard.state.lock();
        if let Some(c) = st.consumers.get(group) {
            if c.members().next().is_some() {
                return ErrorCode::NonEmptyGroup;
            }
        } else {
            match st.groups.get(group) {
                None => return ErrorCode::GroupIdNotFound,
                Some(g) if g.state() != GroupState::Empty && g.state() != GroupState::Dead => {
                    return ErrorCode::NonEmptyGroup
                }
                Some(_) => {}
            }
        }
        // tombstones for the committed offsets and for those pending in open transactions (as
        // Kafka does: the pending ones must not bring the group back when they commit)
        let mut doomed = st.pending_partitions(group);
        doomed.extend(
            st.offsets
                .get(group)
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
        let mut writes: Vec<(Bytes, Option<Bytes>)> = doomed
            .iter()
            .map(|(t, p)| (records::offset_key(group, t, *p), None))
            .collect();
        writes.push((records::group_key(group), None));
        if st.consumers.contains_key(group) {
            writes.push((records::consumer_group_key(group), None));
        }
        if let Err(code) = self.append(&shard, &writes) {
            return code;
        }
        st.groups.remove(group);
        st.consumers.remove(group);
        st.offsets.remove(group);
        st.supersede_pending(group, |_, _| true);
        ErrorCode::None
    }

    /// OffsetDelete: removes committed offsets the group no longer consumes.
    pub fn delete_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
        subscribed: impl Fn(&ClassicGroup<Waiter>, &str) -> bool,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let mut st = shard.state.lock();
        // partitions with a committed offset, or one pending in an open transaction
        let pending = st.pending_partitions(group);
        let has = |st: &ShardState, t: &str, p: i32| {
            pending.contains(&(t.to_string(), p))
                || st
                    .offsets
                    .get(group)
                    .is_some_and(|o| o.contains_key(&(t.to_string(), p)))
        };
        if let Some(c) = st.consumers.get(group) {
            let codes: Vec<ErrorCode> = partitions
                .iter()
                .map(|(t, _)| {
                    if c.subscribes_to(t) {
                        ErrorCode::GroupSubscribedToTopic
                    } else {
                        ErrorCode::None
                    }
                })
                .collect();
            let doomed: Vec<(String, i32)> = partitions
                .iter()
                .zip(&codes)
                .filter(|(tp, code)| **code == ErrorCode::None && has(&st, &tp.0, tp.1))
                .map(|(tp, _)| tp.clone())
                .collect();
            if !doomed.is_empty() {
                let writes: Vec<(Bytes, Option<Bytes>)> = doomed
                    .iter()
                    .map(|(t, p)| (records::offset_key(group, t, *p), None))
                    .collect();
                self.append(&shard, &writes)?;
                if let Some(o) = st.offsets.get_mut(group) {
                    for k in &doomed {
                        o.remove(k);
                    }
                }
                st.supersede_pending(group, |t, p| doomed.iter().any(|d| d.0 == t && d.1 == p));
            }
            return Ok(codes);
        }
        let g = st.groups.get(group).ok_or(ErrorCode::GroupIdNotFound)?;
        let active = g.state() != GroupState::Empty && g.state() != GroupState::Dead;
        if active && g.protocol_type() != Some("consumer") {
            // only consumer groups say which topics they use
            return Err(ErrorCode::NonEmptyGroup);
        }
        let mut codes = Vec::with_capacity(partitions.len());
        let mut writes = Vec::new();
        let mut removed = Vec::new();
        for (t, p) in partitions {
            if active && subscribed(g, t) {
                codes.push(ErrorCode::GroupSubscribedToTopic);
                continue;
            }
            codes.push(ErrorCode::None);
            if has(&st, t, *p) {
                writes.push((records::offset_key(group, t, *p), None));
                removed.push((t.clone(), *p));
            }
        }
        if !writes.is_empty() {
            self.append(&shard, &writes)?;
            if let Some(o) = st.offsets.get_mut(group) {
                for k in &removed {
                    o.remove(k);
                }
                if o.is_empty() {
                    st.offsets.remove(group);
                }
            }
            st.supersede_pending(group, |t, p| removed.iter().any(|d| d.0 == t && d.1 == p));
        }
        Ok(codes)
    }

    /// ConsumerGroupHeartbeat (KIP-848).
    pub fn consumer_heartbeat(
        &self,
        group: &str,
        req: HeartbeatRequest,
    ) -> Result<HeartbeatResult, Refusal> {
        let shard = self
            .shard_for(group)
            .map_err(|e| (e, e.message().to_string()))?;
        let now = now_ms();
        let mut st = shard.state.lock();
        if let Some(g) = st.groups.get(group) {
            if g.size() > 0 {
                return Err((
                    ErrorCode::GroupIdNotFound,
                    format!("Group {group} is not a consumer group: it uses the classic protocol."),
                ));
            }
            // an empty classic group (offsets only) becomes a consumer group, as in Kafka
            self.append(&shard, &[(records::group_key(group), None)])
                .map_err(|e| (e, e.message().to_string()))?;
            st.groups.remove(group);
        }
        let created = !st.consumers.contains_key(group);
        let c = st
            .consumers
            .entry(group.to_string())
            .or_insert_with(|| ConsumerGroup::new(group, now, 0));
        let image = self.controller.image();
        let settings = self.settings_for(group, &image);
        let r = c.heartbeat(req, &ImageTopics(&image), &settings, now);
        if let Some(d) = c.next_deadline() {
            self.schedule(&shard, group, d);
        }
        if created && r.is_err() {
            // a refused request leaves no group behind
            st.consumers.remove(group);
            return r;
        }
        // the new state is stored before the member hears of it
        self.store_consumer_group(&shard, &mut st, group)
            .map_err(|e| {
                (
                    e,
                    format!("cannot store the group's state: {}", e.message()),
                )
            })?;
        r
    }

    /// Writes a consumer group's snapshot when it changed since the last one written.
    fn store_consumer_group(
        &self,
        shard: &Shard,
        st: &mut ShardState,
        group: &str,
    ) -> Result<(), ErrorCode> {
        let Some(c) = st.consumers.get_mut(group) else {
            return Ok(());
        };
        if !c.take_dirty() {
            return Ok(());
        }
        let bytes = c.snapshot();
        // large groups repeat topic ids many times: compress what is big
        let compression = if bytes.len() > 16 * 1024 {
            kafka_protocol::records::Compression::Zstd
        } else {
            kafka_protocol::records::Compression::None
        };
        let stored = self.append_with(
            shard,
            &[(records::consumer_group_key(group), Some(Bytes::from(bytes)))],
            compression,
        );
        if stored.is_err() {
            c.mark_dirty();
        }
        stored.map_err(|e| match e {
            ErrorCode::InvalidCommitOffsetSize => ErrorCode::UnknownServerError,
            other => other,
        })
    }

    /// ConsumerGroupDescribe for one group: `None` when it is not a consumer group.
    pub fn consumer_describe<T>(
        &self,
        group: &str,
        f: impl FnOnce(&ConsumerGroup, &dyn Fn(&Uuid) -> Option<String>) -> T,
    ) -> Result<Option<T>, ErrorCode> {
        let shard = self.shard_for(group)?;
        let st = shard.state.lock();
        let image = self.controller.image();
        let name_of = |id: &Uuid| image.topic_ids.get(id).cloned();
        Ok(st.consumers.get(group).map(|c| f(c, &name_of)))
    }

    /// Topics were deleted: their committed offsets go too, so that a topic created again
    /// with the same name starts without them.
    pub fn on_topics_deleted(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        for shard in shards {
            if !shard.loaded.load(Ordering::Acquire) {
                continue;
            }
            let mut st = shard.state.lock();
            // committed offsets of the topics, and those pending in open transactions
            let mut doomed: Vec<(String, (String, i32))> = st
                .offsets
                .iter()
                .flat_map(|(g, o)| {
                    o.keys()
                        .filter(|(t, _)| topics.contains(t))
                        .map(move |k| (g.clone(), k.clone()))
                })
                .chain(
                    st.pending_txn
                        .values()
                        .flatten()
                        .filter(|p| topics.contains(&p.topic))
                        .map(|p| (p.group.clone(), (p.topic.clone(), p.partition))),
                )
                .collect();
            doomed.sort();
            doomed.dedup();
            if doomed.is_empty() {
                continue;
            }
            let writes: Vec<(Bytes, Option<Bytes>)> = doomed
                .iter()
                .map(|(g, (t, p))| (records::offset_key(g, t, *p), None))
                .collect();
            if let Err(code) = self.append(&shard, &writes) {
                tracing::warn!(
                    partition = shard.index,
                    ?code,
                    "cannot remove offsets of deleted topics"
                );
                continue;
            }
            for (g, k) in doomed {
                st.supersede_pending(&g, |t, p| t == k.0 && p == k.1);
                if let Some(o) = st.offsets.get_mut(&g) {
                    o.remove(&k);
                    if o.is_empty() {
                        st.offsets.remove(&g);
                    }
                }
            }
        }
    }

    /// Expires offsets per `offsets.retention.minutes` (KIP-211): those of a group that has
    /// been empty that long, and those of standalone consumers committed that long ago. Empty
    /// groups left with no offsets are deleted. Returns the number of offsets removed. Blocking.
    pub fn expire_offsets(&self, now: i64) -> usize {
        let retention = self.config.offsets_retention_ms;
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut total = 0;
        for shard in shards {
            if !shard.loaded.load(Ordering::Acquire) {
                continue;
            }
            let mut st = shard.state.lock();
            let mut writes = Vec::new();
            let mut expired: Vec<(String, (String, i32))> = Vec::new();
            let mut dead_groups = Vec::new();
            let empty_consumers: Vec<(String, i64)> = st
                .consumers
                .values()
                .filter(|c| c.state() == ConsumerGroupState::Empty)
                .map(|c| (c.id().to_string(), c.state_since()))
                .collect();
            // offsets with a transactional commit pending stay until it ends (as in Kafka)
            let pending: std::collections::HashSet<(&str, &str, i32)> = st
                .pending_txn
                .values()
                .flatten()
                .map(|p| (p.group.as_str(), p.topic.as_str(), p.partition))
                .collect();
            for (id, since) in &empty_consumers {
                let mut left = 0;
                for k in st.offsets.get(id).into_iter().flatten().map(|(k, _)| k) {
                    if now.saturating_sub(*since) >= retention
                        && !pending.contains(&(id.as_str(), k.0.as_str(), k.1))
                    {
                        writes.push((records::offset_key(id, &k.0, k.1), None));
                        expired.push((id.clone(), k.clone()));
                    } else {
                        left += 1;
                    }
                }
                if left == 0 && !pending.iter().any(|(g, ..)| g == id) {
                    writes.push((records::consumer_group_key(id), None));
                    dead_groups.push(id.clone());
                }
            }
            for (id, g) in &st.groups {
                if g.state() != GroupState::Empty {
                    continue;
                }
                let standalone = g.protocol_type().is_none();
                let offsets = st.offsets.get(id);
                let mut left = 0;
                for (k, v) in offsets.into_iter().flatten() {
                    let base = if standalone {
                        v.commit_timestamp
                    } else {
                        g.state_since()
                    };
                    if now.saturating_sub(base) >= retention
                        && !pending.contains(&(id.as_str(), k.0.as_str(), k.1))
                    {
                        writes.push((records::offset_key(id, &k.0, k.1), None));
                        expired.push((id.clone(), k.clone()));
                    } else {
                        left += 1;
                    }
                }
                if left == 0 && !pending.iter().any(|(g, ..)| g == id) {
                    writes.push((records::group_key(id), None));
                    dead_groups.push(id.clone());
                }
            }
            if writes.is_empty() {
                continue;
            }
            if let Err(code) = self.append(&shard, &writes) {
                tracing::warn!(partition = shard.index, ?code, "cannot expire offsets");
                continue;
            }
            total += expired.len();
            for (g, k) in expired {
                if let Some(o) = st.offsets.get_mut(&g) {
                    o.remove(&k);
                    if o.is_empty() {
                        st.offsets.remove(&g);
                    }
                }
            }
            for g in dead_groups {
                st.groups.remove(&g);
                st.consumers.remove(&g);
            }
        }
        if total > 0 {
            tracing::info!(offsets = total, "expired committed offsets");
        }
        total
    }
}

/// Topics as the consumer protocol state machine sees them: the current metadata image.
struct ImageTopics<'a>(&'a crate::metadata::MetadataImage);

impl TopicView for ImageTopics<'_> {
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)> {
        self.0
            .topics
            .get(name)
            .map(|t| (t.id, t.partitions.len() as i32))
    }
    fn names(&self) -> Vec<String> {
        self.0.topics.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use crate::metadata::FileMetadataLog;

    /// A controller and replica manager over `dir`, as `server::start` wires them.
    fn node(
        dir: &std::path::Path,
        props: &[(&str, &str)],
    ) -> (Controller, Arc<ReplicaManager>, Arc<BrokerConfig>) {
        let mut map: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("log.dirs".into(), dir.display().to_string());
        let config = Arc::new(BrokerConfig::from_props(map).unwrap());
        let store = FileMetadataLog::open(&dir.join("__cluster_metadata-0")).unwrap();
        let controller = Controller::open(
            Box::new(store),
            Arc::clone(&config),
            ("127.0.0.1".into(), 9092),
        )
        .unwrap();
        let replicas = Arc::new(ReplicaManager::new(dir, Arc::clone(&config), true));
        let rm = Arc::clone(&replicas);
        controller.set_listener(Box::new(move |image| rm.reconcile(image)));
        (controller, replicas, config)
    }

    /// [`node`] with a topic `t` of `partitions` partitions.
    async fn node_with_topic(
        dir: &std::path::Path,
        props: &[(&str, &str)],
        partitions: i32,
    ) -> (Controller, Arc<ReplicaManager>, Arc<BrokerConfig>) {
        let (controller, replicas, config) = node(dir, props);
        controller
            .create_topics(
                vec![TopicSpec {
                    name: "t".into(),
                    partitions,
                    replication_factor: -1,
                    assignments: vec![],
                    configs: BTreeMap::new(),
                }],
                false,
            )
            .await;
        (controller, replicas, config)
    }

    #[tokio::test]
    async fn offsets_expire_after_the_retention_and_empty_groups_go_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let (controller, replicas, config) = node_with_topic(
            dir.path(),
            &[
                ("offsets.topic.num.partitions", "2"),
                ("offsets.retention.minutes", "1"),
            ],
            2,
        )
        .await;
        let c = GroupCoordinator::new(config.group.clone(), replicas, controller);
        c.ensure_offsets_topic().await.unwrap();
        let commit = |p: i32| OffsetCommit {
            topic: "t".into(),
            partition: p,
            offset: 5,
            leader_epoch: -1,
            metadata: Some("m".into()),
        };
        c.commit_offsets(8, "old", "", None, -1, vec![commit(0), commit(1)])
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mid = now_ms();
        assert_eq!(c.expire_offsets(mid + 30_000), 0, "within the retention");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c.commit_offsets(8, "fresh", "", None, -1, vec![commit(0)])
            .unwrap();
        // a minute after "old"'s commits, a bit less after "fresh"'s
        assert_eq!(c.expire_offsets(mid + 60_000), 2);
        assert_eq!(c.fetch_offsets("fresh", None, None).unwrap().len(), 1);
        let (groups, _) = c.list_groups();
        let names: Vec<&str> = groups.iter().map(|g| g.group_id.as_str()).collect();
        assert!(
            !names.contains(&"old"),
            "an empty group with no offsets is deleted: {names:?}"
        );
        let left = c.fetch_offsets("old", None, None).unwrap();
        assert!(left.is_empty());
    }

    #[tokio::test]
    async fn offsets_pending_in_a_transaction_neither_expire_nor_outlive_their_group() {
        let dir = tempfile::tempdir().unwrap();
        let (controller, replicas, config) = node_with_topic(
            dir.path(),
            &[
                ("offsets.topic.num.partitions", "1"),
                ("offsets.retention.minutes", "1"),
            ],
            2,
        )
        .await;
        let c = GroupCoordinator::new(config.group.clone(), replicas, controller);
        c.ensure_offsets_topic().await.unwrap();
        let commit = |p: i32, offset: i64| OffsetCommit {
            topic: "t".into(),
            partition: p,
            offset,
            leader_epoch: -1,
            metadata: None,
        };
        let offsets = |group: &str| -> Vec<(i32, i64)> {
            c.fetch_offsets(group, None, None)
                .unwrap()
                .into_iter()
                .flat_map(|(_, ps)| ps)
                .filter_map(|(p, v)| v.map(|v| (p, v.offset)))
                .collect()
        };
        c.commit_offsets(8, "g", "", None, -1, vec![commit(0, 1), commit(1, 1)])
            .unwrap();
        c.txn_commit_offsets("g", (5, 0), "", None, -1, vec![commit(0, 7)], &|_| Ok(()))
            .unwrap();
        // past the retention: partition 1 expires, partition 0 waits for its transaction
        assert_eq!(c.expire_offsets(now_ms() + 3_600_000), 1);
        assert_eq!(offsets("g"), vec![(0, 1)]);
        c.complete_txn(0, 5, true);
        assert_eq!(offsets("g"), vec![(0, 7)]);

        // a group deleted while a transaction holds offsets for it stays deleted
        c.txn_commit_offsets("h", (6, 0), "", None, -1, vec![commit(1, 9)], &|_| Ok(()))
            .unwrap();
        assert!(!c.pending_txn_partitions("h").is_empty());
        assert_eq!(c.delete_group("h"), ErrorCode::None);
        assert!(c.pending_txn_partitions("h").is_empty());
        c.complete_txn(0, 6, true);
        assert!(offsets("h").is_empty());
        let (groups, _) = c.list_groups();
        assert!(!groups.iter().any(|g| g.group_id == "h"));

        // the transaction check runs as the offsets are written, for the producer's first
        // offsets in a transaction: refused, nothing is written or pending
        let refuse: TxnCheck<'_> = &|_| Err((ErrorCode::InvalidTxnState, "ended".into()));
        let codes = c
            .txn_commit_offsets("k", (8, 0), "", None, -1, vec![commit(0, 3)], refuse)
            .unwrap();
        assert_eq!(codes, vec![ErrorCode::InvalidTxnState]);
        assert!(c.pending_txn_partitions("k").is_empty());
        let codes = c
            .txn_commit_offsets("k", (8, 0), "", None, -1, vec![commit(0, 3)], &|_| Ok(()))
            .unwrap();
        assert_eq!(codes, vec![ErrorCode::None]);
        // once its transaction is open on the partition, no check is needed (its marker,
        // which would end it, takes the same lock)
        let codes = c
            .txn_commit_offsets("k", (8, 0), "", None, -1, vec![commit(1, 4)], refuse)
            .unwrap();
        assert_eq!(codes, vec![ErrorCode::None]);
        assert_eq!(c.pending_txn_partitions("k").len(), 2);

        // a consumer-protocol group with members takes a transactional commit that names no
        // member (TxnOffsetCommit v0-2, producers given only the group id), as Kafka does; a
        // plain one without member is refused
        let joined = c
            .consumer_heartbeat(
                "cg",
                super::super::consumer::HeartbeatRequest {
                    member_id: "m1".into(),
                    member_epoch: 0,
                    rebalance_timeout_ms: 30_000,
                    subscribed_topic_names: Some(vec!["t".into()]),
                    version: 1,
                    unique: "m1".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(joined.member_epoch > 0);
        assert_eq!(
            c.commit_offsets(9, "cg", "", None, -1, vec![commit(0, 5)]),
            Err(ErrorCode::UnknownMemberId)
        );
        let codes = c
            .txn_commit_offsets("cg", (9, 0), "", None, -1, vec![commit(0, 5)], &|_| Ok(()))
            .unwrap();
        assert_eq!(codes, vec![ErrorCode::None]);
        // a member named with a stale epoch is ILLEGAL_GENERATION for TxnOffsetCommit
        assert_eq!(
            c.txn_commit_offsets("cg", (9, 0), "m1", None, 0, vec![commit(0, 5)], &|_| Ok(())),
            Err(ErrorCode::IllegalGeneration)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_answer_load_in_progress_until_their_partition_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (controller, replicas, config) =
            node_with_topic(dir.path(), &[("offsets.topic.num.partitions", "1")], 1).await;
        let first = GroupCoordinator::new(
            config.group.clone(),
            Arc::clone(&replicas),
            controller.clone(),
        );
        assert_eq!(
            first.check_coordinator("g"),
            Err(ErrorCode::CoordinatorNotAvailable),
            "no __consumer_offsets yet"
        );
        first.ensure_offsets_topic().await.unwrap();
        for i in 0..30_000 {
            let commit = OffsetCommit {
                topic: "t".into(),
                partition: 0,
                offset: i,
                leader_epoch: -1,
                metadata: None,
            };
            let group = format!("g{}", i % 10);
            let codes = first
                .commit_offsets(8, &group, "", None, -1, vec![commit])
                .unwrap();
            assert_eq!(codes, vec![ErrorCode::None]);
        }
        // an offset committed in a transaction (producer 77), its marker not yet written
        let txn_commit = OffsetCommit {
            topic: "t".into(),
            partition: 0,
            offset: 12_345,
            leader_epoch: -1,
            metadata: None,
        };
        let codes = first
            .txn_commit_offsets("gt", (77, 0), "", None, -1, vec![txn_commit], &|_| Ok(()))
            .unwrap();
        assert_eq!(codes, vec![ErrorCode::None]);
        first.close();
        assert_eq!(
            first.check_coordinator("g1"),
            Err(ErrorCode::NotCoordinator)
        );

        // a coordinator taking over replays the partition and says so meanwhile
        let second = GroupCoordinator::new(config.group.clone(), replicas, controller);
        assert_eq!(
            second.fetch_offsets("g1", None, None).unwrap_err(),
            ErrorCode::CoordinatorLoadInProgress
        );
        // the transaction's COMMIT marker lands while the partition loads (here: after the
        // part the replay reads): the load must still apply it
        second.complete_txn(0, 77, true);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let loaded = loop {
            match second.fetch_offsets("g1", None, None) {
                Ok(o) => break o,
                Err(ErrorCode::CoordinatorLoadInProgress) => {}
                Err(e) => panic!("{e:?}"),
            }
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        };
        let offset = loaded[0].1[0].1.as_ref().unwrap().offset;
        assert_eq!(offset, 29_991, "the last commit of g1 wins");
        let committed = second.fetch_offsets("gt", None, None).unwrap();
        let offset = committed[0].1[0].1.as_ref().map(|v| v.offset);
        assert_eq!(
            offset,
            Some(12_345),
            "the marker sent during the load was lost"
        );
        assert!(second.pending_txn_partitions("gt").is_empty());
    }

    #[test]
    fn partition_for_matches_kafka() {
        // Values printed by Java: Utils.abs(s.hashCode()) % 50
        for (group, expected) in [
            ("my-group", 12),
            ("console-consumer-12345", 6),
            ("polygenelubricants", 0), // hashCode() == Integer.MIN_VALUE
            ("grüße-𝄞", 22),           // non-ASCII and a surrogate pair
            ("tributary", 0),
        ] {
            assert_eq!(partition_for(group, 50), expected, "{group}");
        }
    }
}
