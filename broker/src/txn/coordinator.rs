//! The transaction coordinator's runtime: the I/O around [`super::state`].
//!
//! Each hosted partition of `__transaction_state` is a [`Shard`] holding the transactional ids
//! that hash to it. A shard is rebuilt by replaying its partition (answering
//! `COORDINATOR_LOAD_IN_PROGRESS` meanwhile); transactions found in PrepareCommit or
//! PrepareAbort then get their markers written and complete, so a restart finishes what a
//! crash interrupted. Every new state is appended to the partition before it applies.
//!
//! EndTxn is answered once PrepareCommit/PrepareAbort is in the log; a task then writes the
//! markers to every partition of the transaction (retrying until each is written) and
//! appends CompleteCommit/CompleteAbort. A timer aborts transactions past their timeout and
//! removes transactional ids idle past `transactional.id.expiration.ms`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use super::producer_ids::ProducerIdManager;
use super::records;
use super::state::{EndOutcome, InitOutcome, TxnMetadata, TxnState, NO_PRODUCER_ID};
use crate::config::TxnConfig;
use crate::error::ErrorCode;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::Marker;
use crate::metadata::{Controller, TopicSpec};
use crate::partition::Partition;
use crate::replica_manager::{now_ms, ReplicaManager};

/// Name of the internal topic holding transaction states.
pub const TRANSACTION_TOPIC: &str = "__transaction_state";

/// Transactional ids of one `__transaction_state` partition.
struct Shard {
    index: i32,
    /// The leadership of the partition this shard was loaded for.
    leader_epoch: i32,
    partition: Arc<Partition>,
    txns: Mutex<HashMap<String, TxnMetadata>>,
    loaded: AtomicBool,
}

impl Shard {
    /// The coordinator epoch: the partition's leader epoch when the shard was loaded, as in
    /// Kafka.
    fn coordinator_epoch(&self) -> i32 {
        self.leader_epoch
    }
}

/// Whether InitProducerId for `transactional_id` may need a new producer id: the id is new, or
/// its epoch is at most two bumps from exhaustion (a fence and the retry that follows).
fn needs_fresh(txns: &HashMap<String, TxnMetadata>, transactional_id: &str) -> bool {
    txns.get(transactional_id)
        .is_none_or(|m| m.producer_epoch >= i16::MAX - 3)
}

/// A transaction as DescribeTransactions and ListTransactions show it.
pub type TxnDescription = TxnMetadata;

/// The transaction coordinator of this broker.
pub struct TransactionCoordinator {
    config: TxnConfig,
    node_id: i32,
    replicas: Arc<ReplicaManager>,
    controller: Controller,
    groups: Arc<GroupCoordinator>,
    producer_ids: ProducerIdManager,
    shards: RwLock<HashMap<i32, Arc<Shard>>>,
    /// Producer id → transactional id, for the partition-side check that a transactional
    /// batch belongs to a partition added to the transaction (KIP-890).
    by_producer: Mutex<HashMap<i64, String>>,
    closed: AtomicBool,
    me: Weak<TransactionCoordinator>,
}

/// How long the coordinator waits for a marker it wrote here to be replicated before it tries
/// that partition again.
const MARKER_REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One round of marker writes.
#[derive(Default)]
struct MarkerRound {
    /// Partitions to try again.
    retry: Vec<(String, i32)>,
    /// Partitions led by other brokers, by leader.
    remote: BTreeMap<i32, Vec<(String, i32)>>,
    /// Markers written here: (topic, partition, partition, offset after the marker, leader
    /// epoch written at).
    written: Vec<(String, i32, Arc<Partition>, i64, i32)>,
}

fn map_append_error(code: ErrorCode) -> ErrorCode {
    // Kafka's mapping of transaction log append errors
    match code {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        _ => ErrorCode::UnknownServerError,
    }
}

impl TransactionCoordinator {
    /// A coordinator over the partitions `replicas` hosts.
    pub fn new(
        config: TxnConfig,
        node_id: i32,
        replicas: Arc<ReplicaManager>,
        controller: Controller,
        groups: Arc<GroupCoordinator>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| TransactionCoordinator {
            config,
            producer_ids: ProducerIdManager::new(controller.clone(), node_id),
            node_id,
            replicas,
            controller,
            groups,
            shards: RwLock::new(HashMap::new()),
            by_producer: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    /// Loads the hosted partitions of `__transaction_state` and starts the timers (aborting
    /// timed-out transactions, expiring idle transactional ids). Returns the timer task.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let image = self.controller.image();
        if let Some(t) = image.topics.get(TRANSACTION_TOPIC) {
            for p in 0..t.partitions.len() as i32 {
                let _ = self.shard(p);
            }
        }
        let me = Arc::downgrade(self);
        let abort_every = self.config.abort_timed_out_interval_ms.max(1);
        let expire_every = self.config.remove_expired_interval_ms.max(1);
        tokio::spawn(async move {
            let mut last_expiry = std::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(abort_every)).await;
                let Some(c) = me.upgrade() else { return };
                if c.closed.load(Ordering::Acquire) {
                    return;
                }
                let expire = last_expiry.elapsed() >= Duration::from_millis(expire_every);
                if expire {
                    last_expiry = std::time::Instant::now();
                }
                let _ = tokio::task::spawn_blocking(move || {
                    c.abort_timed_out(now_ms());
                    if expire {
                        c.expire_transactional_ids(now_ms());
                    }
                })
                .await;
            }
        })
    }

    /// Refuses further work (shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// A new producer id for an idempotent producer (InitProducerId without
    /// `transactional.id`).
    pub async fn new_producer_id(&self) -> Result<i64, ErrorCode> {
        self.producer_ids.next().await
    }

    /// Creates `__transaction_state` if it does not exist yet (FindCoordinator and
    /// InitProducerId do this, as in Kafka), with `transaction.state.log.*` settings.
    pub async fn ensure_topic(&self) -> Result<(), ErrorCode> {
        if self
            .controller
            .image()
            .topics
            .contains_key(TRANSACTION_TOPIC)
        {
            return Ok(());
        }
        let rf = match crate::group::internal_topic_rf(
            &self.controller,
            self.config.log_replication_factor,
        ) {
            Ok(rf) => rf,
            Err(message) => {
                tracing::info!("{message} for the transaction state topic");
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
        };
        let configs = BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("compression.type".to_string(), "uncompressed".to_string()),
            crate::config::segment_size_config(self.config.log_segment_bytes),
            (
                "min.insync.replicas".to_string(),
                self.config.log_min_isr.min(i32::from(rf)).to_string(),
            ),
            (
                "unclean.leader.election.enable".to_string(),
                "false".to_string(),
            ),
        ]);
        let spec = TopicSpec {
            name: TRANSACTION_TOPIC.to_string(),
            partitions: self.config.log_partitions,
            replication_factor: rf,
            assignments: vec![],
            configs,
        };
        match self.controller.create_topics(vec![spec], false).await.pop() {
            Some(Ok(_)) => {
                tracing::info!(
                    partitions = self.config.log_partitions,
                    "created {TRANSACTION_TOPIC}"
                );
                let image = self.controller.image();
                if let Some(t) = image.topics.get(TRANSACTION_TOPIC) {
                    for p in 0..t.partitions.len() as i32 {
                        let _ = self.shard(p);
                    }
                }
                Ok(())
            }
            Some(Err((ErrorCode::TopicAlreadyExists, _))) => Ok(()),
            Some(Err((code, msg))) => {
                tracing::warn!(?code, error = %msg, "cannot create {TRANSACTION_TOPIC}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
            None => Err(ErrorCode::CoordinatorNotAvailable),
        }
    }

    /// The partition of `__transaction_state` for `transactional_id`, once the topic exists.
    pub fn partition_of(&self, transactional_id: &str) -> Option<i32> {
        let image = self.controller.image();
        let t = image.topics.get(TRANSACTION_TOPIC)?;
        Some(crate::group::partition_for(
            transactional_id,
            t.partitions.len(),
        ))
    }

    fn shard(&self, p: i32) -> Result<Arc<Shard>, ErrorCode> {
        let partition = self
            .replicas
            .get(TRANSACTION_TOPIC, p)
            .ok_or(ErrorCode::NotCoordinator)?;
        // only the leader coordinates, and a shard belongs to one leadership
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
            txns: Mutex::new(HashMap::new()),
            loaded: AtomicBool::new(false),
        });
        shards.insert(p, Arc::clone(&shard));
        drop(shards);
        let offsets = shard.partition.offsets();
        if offsets.log_end_offset == offsets.log_start_offset {
            shard.loaded.store(true, Ordering::Release);
        } else if let Some(me) = self.me.upgrade() {
            let s = Arc::clone(&shard);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn_blocking(move || me.load(&s));
            } else {
                me.load(&s);
            }
        }
        Ok(shard)
    }

    /// The loaded shard that coordinates `transactional_id`.
    fn shard_for(&self, transactional_id: &str) -> Result<Arc<Shard>, ErrorCode> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ErrorCode::NotCoordinator);
        }
        let p = self
            .partition_of(transactional_id)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let shard = self.shard(p)?;
        if !shard.loaded.load(Ordering::Acquire) {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        Ok(shard)
    }

    /// Whether this broker coordinates `transactional_id` and has loaded it.
    pub fn check_coordinator(&self, transactional_id: &str) -> Result<(), ErrorCode> {
        self.shard_for(transactional_id).map(|_| ())
    }

    /// Replays a shard's partition, then finishes transactions caught in a Prepare state.
    /// Blocking.
    fn load(&self, shard: &Arc<Shard>) {
        let started = std::time::Instant::now();
        let mut txns: HashMap<String, TxnMetadata> = HashMap::new();
        let result = shard.partition.replay(|header, r| {
            if header.is_control() {
                return;
            }
            let Some(key) = r.key else { return };
            let id = match records::decode_key(key) {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(partition = shard.index, error = %e, "skipping transaction log record");
                    return;
                }
            };
            match r.value {
                None => {
                    txns.remove(&id);
                }
                Some(v) => match records::decode_value(&id, v) {
                    Ok(m) => {
                        txns.insert(id, m);
                    }
                    Err(e) => {
                        tracing::warn!(partition = shard.index, transactional_id = %id, error = %e, "skipping transaction log record")
                    }
                },
            }
        });
        if let Err(e) = result {
            tracing::error!(partition = shard.index, error = %e, "cannot load {TRANSACTION_TOPIC}; retrying in 5 s");
            let (me, p) = (self.me.clone(), shard.index);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
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
        let unfinished: Vec<TxnMetadata> = txns
            .values()
            .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .cloned()
            .collect();
        {
            let mut by_producer = self.by_producer.lock();
            for m in txns.values() {
                by_producer.insert(m.producer_id, m.transactional_id.clone());
            }
        }
        let count = txns.len();
        *shard.txns.lock() = txns;
        shard.loaded.store(true, Ordering::Release);
        tracing::info!(
            partition = shard.index,
            transactional_ids = count,
            unfinished = unfinished.len(),
            ms = started.elapsed().as_millis() as u64,
            "loaded {TRANSACTION_TOPIC} partition"
        );
        for m in unfinished {
            self.write_markers(Arc::clone(shard), m);
        }
    }

    /// Appends the new state of a transaction, then applies it. Blocking (small write).
    fn store(
        &self,
        shard: &Shard,
        txns: &mut HashMap<String, TxnMetadata>,
        next: TxnMetadata,
    ) -> Result<(), ErrorCode> {
        let key = records::key(&next.transactional_id);
        let value = (next.state != TxnState::Dead).then(|| records::value(&next));
        // a shard of an older leadership never writes
        if !shard.partition.leads_at(shard.leader_epoch) {
            return Err(ErrorCode::NotCoordinator);
        }
        shard
            .partition
            .append_records(
                &[(key, value)],
                kafka_protocol::records::Compression::None,
                None,
                now_ms(),
                None,
            )
            .map_err(|e| {
                tracing::warn!(partition = shard.index, error = %e, "cannot write to {TRANSACTION_TOPIC}");
                map_append_error(e.code())
            })?;
        {
            let mut by_producer = self.by_producer.lock();
            // a rotation (exhausted epoch) retires the old producer id
            if let Some(old) = txns.get(&next.transactional_id) {
                if old.producer_id != next.producer_id {
                    by_producer.remove(&old.producer_id);
                }
            }
            by_producer.insert(next.producer_id, next.transactional_id.clone());
        }
        if next.state == TxnState::Dead {
            txns.remove(&next.transactional_id);
        } else {
            txns.insert(next.transactional_id.clone(), next);
        }
        Ok(())
    }

    /// InitProducerId with a `transactional.id`: returns the producer id and epoch.
    pub async fn init_producer_id(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ErrorCode> {
        // (`__transaction_state` keys store the id as a Kafka string: at most i16::MAX bytes)
        if transactional_id.is_empty() || transactional_id.len() > i16::MAX as usize {
            return Err(ErrorCode::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        // A fresh producer id is drawn (outside the lock) only for a new transactional id or a
        // rotation; the need is checked again under the lock.
        let mut fresh = NO_PRODUCER_ID;
        loop {
            let shard = self.shard_for(transactional_id)?;
            let need = fresh == NO_PRODUCER_ID && needs_fresh(&shard.txns.lock(), transactional_id);
            if need {
                fresh = self.producer_ids.next().await?;
                continue;
            }
            if let Some(answer) =
                self.init_locked(shard, transactional_id, timeout_ms, expected, fresh)?
            {
                return Ok(answer);
            }
        }
    }

    /// [`Self::init_producer_id`] under the shard's lock; `Ok(None)` when it needs a fresh
    /// producer id and `fresh` is none.
    fn init_locked(
        &self,
        shard: Arc<Shard>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        fresh: i64,
    ) -> Result<Option<(i64, i16)>, ErrorCode> {
        let mut txns = shard.txns.lock();
        if fresh == NO_PRODUCER_ID && needs_fresh(&txns, transactional_id) {
            return Ok(None);
        }
        let now = now_ms();
        let current = txns
            .get(transactional_id)
            .cloned()
            .unwrap_or_else(|| TxnMetadata::new(transactional_id, fresh, timeout_ms, now));
        match current.init(timeout_ms, expected, fresh, now)? {
            InitOutcome::Ready(next) => {
                let answer = (next.producer_id, next.producer_epoch);
                self.store(&shard, &mut txns, next)?;
                Ok(Some(answer))
            }
            InitOutcome::FenceAndAbort(abort) => {
                let stored = self.store(&shard, &mut txns, abort.clone());
                if let Err(code) = stored {
                    if let Some(m) = txns.get_mut(transactional_id) {
                        m.fence_failed(abort.producer_epoch);
                    }
                    return Err(code);
                }
                drop(txns);
                tracing::info!(
                    transactional_id,
                    producer_id = abort.producer_id,
                    epoch = abort.producer_epoch,
                    "fenced the open transaction of an older producer; aborting it"
                );
                self.write_markers(Arc::clone(&shard), abort);
                Err(ErrorCode::ConcurrentTransactions)
            }
        }
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn.
    pub fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let shard = self.shard_for(transactional_id)?;
        let mut txns = shard.txns.lock();
        let current = txns
            .get(transactional_id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        match current.add_partitions(producer_id, epoch, partitions, now_ms())? {
            None => Ok(()),
            Some(next) => self.store(&shard, &mut txns, next),
        }
    }

    /// EndTxn: logs the decision, then writes the markers in the background. The decision is
    /// durable when this returns; the receiver fires once the markers are written and the
    /// transaction is complete (answering then spares the producer a CONCURRENT_TRANSACTIONS
    /// retry when it starts its next transaction right away).
    pub fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<Option<oneshot::Receiver<()>>, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let shard = self.shard_for(transactional_id)?;
        let mut txns = shard.txns.lock();
        let current = txns
            .get(transactional_id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        match current.end(producer_id, epoch, commit, true, now_ms())? {
            EndOutcome::AlreadyDone => Ok(None),
            EndOutcome::Prepare(prepared) => {
                self.store(&shard, &mut txns, prepared.clone())?;
                drop(txns);
                let (tx, rx) = oneshot::channel();
                self.write_markers_then(shard, prepared, Some(tx));
                Ok(Some(rx))
            }
        }
    }

    /// Writes the markers of a prepared transaction to each of its partitions (retrying
    /// until each is written or its partition is gone), then completes it.
    fn write_markers(&self, shard: Arc<Shard>, prepared: TxnMetadata) {
        self.write_markers_then(shard, prepared, None);
    }

    /// [`Self::write_markers`], then `done` fires (when the transaction completed, or the
    /// writer gave up at shutdown).
    fn write_markers_then(
        &self,
        shard: Arc<Shard>,
        prepared: TxnMetadata,
        done: Option<oneshot::Sender<()>>,
    ) {
        let Some(me) = self.me.upgrade() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!("no runtime to write transaction markers on");
            return;
        };
        rt.spawn(async move {
            let commit = prepared.state == TxnState::PrepareCommit;
            let marker = Marker {
                commit,
                coordinator_epoch: shard.coordinator_epoch(),
            };
            let (pid, epoch) = (prepared.producer_id, prepared.producer_epoch);
            let mut pending: Vec<(String, i32)> = prepared.partitions.iter().cloned().collect();
            let mut backoff = Duration::from_millis(20);
            loop {
                let c = Arc::clone(&me);
                let todo = std::mem::take(&mut pending);
                let retry = todo.clone();
                // a writer task that failed wrote nothing known: all of its partitions again
                let round = tokio::task::spawn_blocking(move || {
                    c.write_marker_batch(todo, pid, epoch, marker)
                })
                .await
                .unwrap_or_else(|_| MarkerRound {
                    retry,
                    ..MarkerRound::default()
                });
                pending = round.retry;
                // a marker counts once its partition's followers have it: a new leader without
                // it would keep the transaction open there for ever
                let deadline = tokio::time::Instant::now() + MARKER_REPLICATION_TIMEOUT;
                for (topic, p, part, required, leader_epoch) in round.written {
                    let code = crate::replication::purgatory::wait_for_high_watermark(
                        &part,
                        required,
                        leader_epoch,
                        deadline,
                    )
                    .await;
                    if code != ErrorCode::None {
                        tracing::info!(
                            topic,
                            partition = p,
                            ?code,
                            "transaction marker not replicated; retrying"
                        );
                        pending.push((topic, p));
                    }
                }
                let image = me.controller.image();
                for (leader, parts) in round.remote {
                    pending.extend(
                        super::marker_sender::send(&image, leader, pid, epoch, marker, parts).await,
                    );
                }
                if pending.is_empty() || me.closed.load(Ordering::Acquire) {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            // the Complete* record, retried until written: a transaction left prepared would
            // refuse its producer's next InitProducerId and EndTxn until a reload
            let mut backoff = Duration::from_millis(20);
            while pending.is_empty() && !me.closed.load(Ordering::Acquire) {
                let (c, s, p) = (Arc::clone(&me), Arc::clone(&shard), prepared.clone());
                let done = tokio::task::spawn_blocking(move || c.complete(&s, &p))
                    .await
                    .unwrap_or(true);
                let current = me
                    .shards
                    .read()
                    .get(&shard.index)
                    .is_some_and(|s| Arc::ptr_eq(s, &shard));
                if done || !current {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        });
    }

    /// Writes one round of markers to the partitions led here, and sorts the others by leader.
    /// Blocking.
    fn write_marker_batch(
        &self,
        partitions: Vec<(String, i32)>,
        producer_id: i64,
        epoch: i16,
        marker: Marker,
    ) -> MarkerRound {
        let now = now_ms();
        let image = self.controller.image();
        let me = self.node_id;
        let mut round = MarkerRound::default();
        for (topic, p) in partitions {
            let Some(state) = image.partition(&topic, p) else {
                // a deleted partition needs no marker
                continue;
            };
            if state.leader != me {
                if state.leader >= 0 {
                    round
                        .remote
                        .entry(state.leader)
                        .or_default()
                        .push((topic, p));
                } else {
                    round.retry.push((topic, p));
                }
                continue;
            }
            let Some(part) = self.replicas.get(&topic, p) else {
                // led here but not open yet
                round.retry.push((topic, p));
                continue;
            };
            let leader_epoch = part.leader_epoch();
            match part.append_marker(producer_id, epoch, marker, now) {
                Ok(info) => {
                    if topic == OFFSETS_TOPIC {
                        self.groups.complete_txn(p, producer_id, marker.commit);
                    }
                    round
                        .written
                        .push((topic, p, part, info.last_offset + 1, leader_epoch));
                }
                Err(e) if super::marker_sender::NO_RETRY.contains(&e.code()) => {
                    tracing::warn!(topic, partition = p, producer_id, error = %e, "transaction marker not written");
                }
                Err(e) => {
                    tracing::warn!(topic, partition = p, producer_id, error = %e, "cannot write transaction marker; retrying");
                    round.retry.push((topic, p));
                }
            }
        }
        round
    }

    /// Appends CompleteCommit/CompleteAbort once every marker is written. Blocking. `false`
    /// when the write failed and is worth retrying.
    fn complete(&self, shard: &Shard, prepared: &TxnMetadata) -> bool {
        let mut txns = shard.txns.lock();
        let Some(current) = txns.get(&prepared.transactional_id) else {
            return true;
        };
        if current.producer_id != prepared.producer_id
            || current.producer_epoch != prepared.producer_epoch
            || current.state != prepared.state
        {
            return true;
        }
        match current.complete(now_ms()) {
            Ok(done) => match self.store(shard, &mut txns, done) {
                Ok(()) => true,
                Err(code) => {
                    tracing::warn!(transactional_id = %prepared.transactional_id, ?code, "cannot complete transaction; retrying");
                    false
                }
            },
            Err(code) => {
                tracing::error!(transactional_id = %prepared.transactional_id, ?code, "cannot complete transaction");
                true
            }
        }
    }

    /// Aborts open transactions past their timeout, fencing their producers. Blocking.
    pub fn abort_timed_out(&self, now: i64) -> usize {
        // (shards of partitions led elsewhere now are dropped: their new leader aborts)
        self.shards
            .write()
            .retain(|_, s| s.partition.leads_at(s.leader_epoch));
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut aborted = 0;
        for shard in shards {
            if !shard.loaded.load(Ordering::Acquire) {
                continue;
            }
            let mut txns = shard.txns.lock();
            let due: Vec<TxnMetadata> = txns
                .values()
                .filter(|m| m.timed_out(now))
                .cloned()
                .collect();
            for m in due {
                let planned = m
                    .fence_epoch()
                    .and_then(|f| f.end(f.producer_id, f.producer_epoch, false, false, now));
                let Ok(EndOutcome::Prepare(abort)) = planned else {
                    continue;
                };
                tracing::info!(transactional_id = %m.transactional_id, producer_id = m.producer_id, timeout_ms = m.timeout_ms, "aborting transaction past its timeout");
                match self.store(&shard, &mut txns, abort.clone()) {
                    Ok(()) => {
                        aborted += 1;
                        self.write_markers(Arc::clone(&shard), abort);
                    }
                    Err(code) => {
                        if let Some(cur) = txns.get_mut(&m.transactional_id) {
                            cur.fence_failed(abort.producer_epoch);
                        }
                        tracing::warn!(transactional_id = %m.transactional_id, ?code, "cannot abort timed-out transaction; retrying later");
                    }
                }
            }
        }
        aborted
    }

    /// Removes transactional ids idle past `transactional.id.expiration.ms`. Blocking.
    pub fn expire_transactional_ids(&self, now: i64) -> usize {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut removed = 0;
        for shard in shards {
            if !shard.loaded.load(Ordering::Acquire) {
                continue;
            }
            let mut txns = shard.txns.lock();
            let due: Vec<TxnMetadata> = txns
                .values()
                .filter(|m| m.expired(now, self.config.transactional_id_expiration_ms))
                .cloned()
                .collect();
            for m in due {
                if let Ok(dead) = m.dead() {
                    if self.store(&shard, &mut txns, dead).is_ok() {
                        self.by_producer.lock().remove(&m.producer_id);
                        removed += 1;
                    }
                }
            }
        }
        removed
    }

    /// Waits until everything written so far to the `__transaction_state` partition of
    /// `transactional_id` is replicated, for at most 5 s: a transaction's state change is
    /// answered only when a failover cannot lose it. NONE at once on a single node.
    pub async fn replicated(&self, transactional_id: &str) -> ErrorCode {
        let Ok(shard) = self.shard_for(transactional_id) else {
            return ErrorCode::NotCoordinator;
        };
        crate::replication::purgatory::coordinator_write_replicated(
            &shard.partition,
            shard.leader_epoch,
            std::time::Duration::from_millis(5_000),
        )
        .await
    }

    /// Whether this broker leads every partition of `__transaction_state` (a single node
    /// does): then every producer's coordinator is here.
    fn leads_every_partition(&self) -> bool {
        let image = self.controller.image();
        image
            .topics
            .get(TRANSACTION_TOPIC)
            .is_none_or(|t| t.partitions.iter().all(|p| p.leader == self.node_id))
    }

    /// Whether `partition` of `topic` is in the open transaction of `producer_id` at `epoch`
    /// (the check a partition makes before the first transactional batch of a producer,
    /// KIP-890). Errors: `COORDINATOR_LOAD_IN_PROGRESS` while a shard loads and
    /// `CONCURRENT_TRANSACTIONS` while the transaction ends (both retriable: each caller maps them
    /// to the retriable code of its API), `INVALID_PRODUCER_EPOCH` for another epoch or producer,
    /// `INVALID_TXN_STATE` when the partition is not in an open transaction.
    pub fn verify_partition(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ErrorCode> {
        let Some(id) = self.by_producer.lock().get(&producer_id).cloned() else {
            // the producer's coordinator may be another broker: this one cannot check (the
            // AddPartitionsToTxn v4 `verify_only` call to it is not made yet), so the batch is
            // taken as before KIP-890
            if !self.leads_every_partition() {
                return Ok(());
            }
            // a shard still loading may know the producer: retriable until it is loaded
            let loading = self
                .shards
                .read()
                .values()
                .any(|s| !s.loaded.load(Ordering::Acquire));
            return Err(if loading {
                ErrorCode::CoordinatorLoadInProgress
            } else {
                ErrorCode::InvalidTxnState
            });
        };
        let shard = self
            .shard_for(&id)
            .map_err(|_| ErrorCode::CoordinatorLoadInProgress)?;
        let txns = shard.txns.lock();
        let Some(m) = txns.get(&id) else {
            return Err(ErrorCode::InvalidTxnState);
        };
        if m.producer_id != producer_id || epoch != m.producer_epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Ongoing if m.partitions.contains(&(topic.to_string(), partition)) => Ok(()),
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// DescribeTransactions: the state of `transactional_id` (`Ok(None)`: unknown here).
    pub fn describe(&self, transactional_id: &str) -> Result<Option<TxnDescription>, ErrorCode> {
        let shard = self.shard_for(transactional_id)?;
        let txns = shard.txns.lock();
        Ok(txns.get(transactional_id).cloned())
    }

    /// ListTransactions: every transaction of every loaded shard, and whether some shard is
    /// still loading.
    pub fn list(&self) -> (Vec<TxnDescription>, bool) {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut out = Vec::new();
        let mut loading = false;
        for s in shards {
            if !s.loaded.load(Ordering::Acquire) {
                loading = true;
                continue;
            }
            out.extend(s.txns.lock().values().cloned());
        }
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        (out, loading)
    }
}
