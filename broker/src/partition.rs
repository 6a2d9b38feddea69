//! A partition: its log plus its replication role.
//!
//! The leader takes writes and moves the high watermark when its in-sync replicas have the data
//! ([`LeaderState`]); a follower stores what it fetches from the leader as the leader wrote it.
//! With one replica the ISR is this broker alone, so the high watermark follows the log end.
//! The last stable offset is the high watermark, or the first offset of the oldest open
//! transaction when that is lower.
//!
//! Locks: the log lock is taken before the role lock, never the other way round.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::{ErrorCode, Result};

/// The check a producer's first transactional batch on a partition must pass (KIP-890: the
/// partition is in the producer's open transaction), run under the partition's log lock; `Err`
/// carries the code and message the writer gets.
pub type TxnCheck<'a> =
    &'a dyn Fn(&crate::log::BatchHeader) -> std::result::Result<(), (ErrorCode, String)>;
use crate::log::{
    AbortedTxn, AppendInfo, FollowerAppend, Log, LogConfig, Marker, Origin, ProducerEntry, ReadInfo,
};
use crate::metadata::PartitionImage;
use crate::replication::{mono_ms, IsrProposal, LeaderSettings, LeaderState, Role};

/// How a metadata change moved this replica's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// Nothing moved (an ISR or config change at most).
    Unchanged,
    /// This broker now leads the partition.
    BecameLeader,
    /// This broker now follows `leader` (-1: the partition has no leader).
    BecameFollower {
        /// The new leader.
        leader: i32,
    },
}

/// Offsets a fetch or list-offsets answer reports, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// First offset in the log.
    pub log_start_offset: i64,
    /// Offset of the next record to be written.
    pub log_end_offset: i64,
    /// Offset up to which records are committed (visible to consumers).
    pub high_watermark: i64,
    /// Offset below which no transaction is open.
    pub last_stable_offset: i64,
}

/// One partition hosted by this broker.
pub struct Partition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub index: i32,
    log: Mutex<Log>,
    leader_epoch: AtomicI32,
    log_start_offset: AtomicI64,
    log_end_offset: AtomicI64,
    /// The high watermark; fetchers waiting for data watch it.
    high_watermark: watch::Sender<i64>,
    /// The last stable offset (moves with appends and transaction markers).
    last_stable_offset: AtomicI64,
    /// Followers waiting for data (replica fetches) watch the log end.
    log_end: watch::Sender<i64>,
    /// This broker's node id.
    me: i32,
    /// Leader (with its followers' state) or follower.
    role: Mutex<Role>,
    /// `replica.lag.time.max.ms`, for a new leadership.
    lag_time_max_ms: u64,
    /// Set once the partition is deleted.
    deleted: std::sync::atomic::AtomicBool,
}

impl Partition {
    /// A replica of partition `index` of `topic` in the state `state` of the metadata image:
    /// it leads when `state.leader` is `me`.
    pub(crate) fn new(
        topic: Arc<str>,
        topic_id: Uuid,
        index: i32,
        mut log: Log,
        me: i32,
        state: &PartitionImage,
        lag_time_max_ms: u64,
    ) -> Self {
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        let role = if state.leader == me {
            // A new leader records the epoch it starts at the log end (KIP-101); a follower
            // learns epochs from the batches it copies.
            if let Err(e) = log.assign_epoch(state.leader_epoch) {
                tracing::error!(%topic, partition = index, error = %e, "cannot record leader epoch");
            }
            let settings = LeaderSettings {
                min_insync_replicas: log.config().min_insync_replicas.max(1) as usize,
                lag_time_max_ms,
            };
            // the high watermark is not known yet: the log start until the ISR has the data
            // (with the ISR {self} that is the log end at once)
            Role::Leader(LeaderState::new(
                me,
                state.leader_epoch,
                state.partition_epoch,
                state.replicas.clone(),
                state.isr.clone(),
                end,
                start,
                settings,
                mono_ms(),
            ))
        } else {
            Role::Follower {
                leader: state.leader,
            }
        };
        let hw = match &role {
            Role::Leader(l) => l.high_watermark(),
            Role::Follower { .. } => start,
        };
        let lso = log.last_stable_offset(end);
        let (hw, _) = watch::channel(hw);
        let (log_end, _) = watch::channel(end);
        Partition {
            topic,
            topic_id,
            index,
            log: Mutex::new(log),
            leader_epoch: AtomicI32::new(state.leader_epoch),
            log_start_offset: AtomicI64::new(start),
            log_end_offset: AtomicI64::new(end),
            high_watermark: hw,
            last_stable_offset: AtomicI64::new(lso),
            log_end,
            me,
            role: Mutex::new(role),
            lag_time_max_ms,
            deleted: Default::default(),
        }
    }

    /// The current leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// Whether this broker leads the partition at `epoch`.
    pub fn leads_at(&self, epoch: i32) -> bool {
        self.role.lock().is_leader() && self.leader_epoch() == epoch
    }

    /// Whether this broker leads the partition.
    pub fn is_leader(&self) -> bool {
        self.role.lock().is_leader()
    }

    /// The leader's node id as this replica knows it.
    pub fn leader_id(&self) -> i32 {
        match &*self.role.lock() {
            Role::Leader(_) => self.me,
            Role::Follower { leader } => *leader,
        }
    }

    /// Whether the ISR that the high watermark waits for is smaller than
    /// `min.insync.replicas` (a write replicated meanwhile gets NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    pub fn under_min_isr(&self) -> bool {
        match &*self.role.lock() {
            Role::Leader(l) => l.maximal_isr().len() < l.effective_min_isr(),
            Role::Follower { .. } => false,
        }
    }

    /// Applies the partition's state from a new metadata image: this broker becomes or stays
    /// leader (adopting the committed ISR), or follows the named leader. Waiting writes and
    /// fetches wake and re-check their leadership.
    pub(crate) fn apply_state(
        &self,
        state: &PartitionImage,
        active: &dyn Fn(i32) -> bool,
    ) -> RoleChange {
        let mut log = self.log.lock();
        let mut role = self.role.lock();
        let now = mono_ms();
        let epoch = state.leader_epoch;
        if state.leader_epoch < self.leader_epoch() {
            // an older image than the one this replica already applied
            return RoleChange::Unchanged;
        }
        let change = match (&mut *role, state.leader == self.me) {
            (Role::Leader(l), true) if l.leader_epoch() == epoch => {
                if state.replicas != l.replicas() {
                    l.set_replicas(state.replicas.clone());
                }
                let committed = l.on_isr_committed(state.isr.clone(), state.partition_epoch, now);
                let refreshed = l.on_metadata(active, now);
                if let Some(hw) = refreshed.or(committed) {
                    self.high_watermark.send_replace(hw);
                }
                return RoleChange::Unchanged;
            }
            (Role::Follower { leader }, false)
                if *leader == state.leader && self.leader_epoch() == epoch =>
            {
                return RoleChange::Unchanged;
            }
            (_, true) => {
                if let Err(e) = log.assign_epoch(epoch) {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot record leader epoch");
                }
                let settings = LeaderSettings {
                    min_insync_replicas: log.config().min_insync_replicas.max(1) as usize,
                    lag_time_max_ms: self.lag_time_max_ms,
                };
                let leader = LeaderState::new(
                    self.me,
                    epoch,
                    state.partition_epoch,
                    state.replicas.clone(),
                    state.isr.clone(),
                    log.log_end_offset(),
                    *self.high_watermark.borrow(),
                    settings,
                    now,
                );
                let hw = leader.high_watermark();
                *role = Role::Leader(leader);
                if hw > *self.high_watermark.borrow() {
                    self.high_watermark.send_replace(hw);
                }
                RoleChange::BecameLeader
            }
            (_, false) => {
                *role = Role::Follower {
                    leader: state.leader,
                };
                RoleChange::BecameFollower {
                    leader: state.leader,
                }
            }
        };
        self.leader_epoch.store(epoch, Ordering::Release);
        tracing::info!(topic = %self.topic, partition = self.index, epoch, leader = state.leader, "partition role changed");
        // waiting writes re-check their leadership; parked fetches answer
        self.high_watermark.send_modify(|_| {});
        self.log_end.send_modify(|_| {});
        change
    }

    /// Starts from a high watermark saved before a restart (see
    /// [`crate::replication::hw_checkpoint`]), capped at the log end: what was committed then is
    /// committed still.
    pub(crate) fn restore_high_watermark(&self, hw: i64) {
        let hw = hw.min(self.log_end_offset.load(Ordering::Acquire));
        if let Role::Leader(l) = &mut *self.role.lock() {
            l.restore_high_watermark(hw);
        }
        if hw > *self.high_watermark.borrow() {
            self.high_watermark.send_replace(hw);
        }
    }

    /// The topic was deleted: later appends, flushes and closes through handles that were
    /// taken before the deletion fail or do nothing instead of touching a deleted directory.
    pub(crate) fn mark_deleted(&self) {
        self.log.lock().mark_deleted();
        self.deleted.store(true, Ordering::Release);
        // Wake parked fetches so that they answer UNKNOWN_TOPIC_OR_PARTITION now.
        self.high_watermark.send_modify(|_| {});
    }

    /// Current offsets, without taking the log lock.
    pub fn offsets(&self) -> PartitionOffsets {
        let hw = *self.high_watermark.borrow();
        PartitionOffsets {
            log_start_offset: self.log_start_offset.load(Ordering::Acquire),
            log_end_offset: self.log_end_offset.load(Ordering::Acquire),
            high_watermark: hw,
            // an open transaction whose start fell to retention or DeleteRecords holds the
            // LSO at the log start, as in Kafka
            last_stable_offset: self
                .last_stable_offset
                .load(Ordering::Acquire)
                .min(hw)
                .max(self.log_start_offset.load(Ordering::Acquire)),
        }
    }

    /// A receiver that wakes when the high watermark moves (fetch long-polling).
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Appends a producer's batch as leader. Blocking: call off the async runtime.
    ///
    /// acks=all (`acks == -1`) is refused with `NOT_ENOUGH_REPLICAS` while the in-sync replica
    /// set is smaller than `min.insync.replicas`, before anything is written.
    pub fn append(&self, batch: &mut [u8], acks: i16, now_ms: i64) -> Result<AppendInfo> {
        self.append_from(batch, acks, now_ms, Origin::Client)
    }

    /// [`Self::append`] of a producer's batch; when it is the first transactional batch of its
    /// producer here (no transaction of that producer open on this partition), `verify` must
    /// accept it first. `verify` runs under the log lock, so that the transaction cannot end
    /// (its marker needs the same lock) between the check and the write (KIP-890).
    pub fn append_verified(
        &self,
        batch: &mut [u8],
        acks: i16,
        now_ms: i64,
        verify: TxnCheck<'_>,
    ) -> Result<AppendInfo> {
        self.append_checked(batch, acks, now_ms, Origin::Client, Some(verify))
    }

    /// [`Self::append`] for a batch from `origin` (a coordinator writing for a producer).
    pub fn append_from(
        &self,
        batch: &mut [u8],
        acks: i16,
        now_ms: i64,
        origin: Origin,
    ) -> Result<AppendInfo> {
        self.append_checked(batch, acks, now_ms, origin, None)
    }

    fn append_checked(
        &self,
        batch: &mut [u8],
        acks: i16,
        now_ms: i64,
        origin: Origin,
        verify: Option<TxnCheck<'_>>,
    ) -> Result<AppendInfo> {
        let (max, compression) = {
            let log = self.log.lock();
            let c = log.config();
            (c.max_message_bytes, c.compression)
        };
        if batch.len() > max {
            return Err(crate::error::BrokerError::MessageTooLarge {
                size: batch.len(),
                max,
            });
        }
        match &*self.role.lock() {
            Role::Follower { .. } => return Err(self.not_leader()),
            Role::Leader(l) if acks == -1 && l.under_min_isr() => {
                return Err(crate::error::BrokerError::NotEnoughReplicas {
                    isr: l.isr().len(),
                    min: l.effective_min_isr() as i32,
                });
            }
            Role::Leader(_) => {}
        }
        // Validation may decompress the batch: it runs before the log lock is taken, so that
        // fetches and other appends on this partition do not wait for it.
        let mut validated = crate::log::Validated::check(batch)?;
        let mut recompressed;
        let mut batch = batch;
        if let Some((bytes, checked)) = validated.recompress(batch, compression)? {
            recompressed = bytes;
            validated = checked;
            batch = &mut recompressed[..];
        }
        let mut log = self.log.lock();
        // leadership may have moved while the batch was validated
        if !self.role.lock().is_leader() {
            return Err(self.not_leader());
        }
        let h = validated.header();
        if let Some(verify) = verify.filter(|_| h.is_transactional() && h.producer_id >= 0) {
            let open = log
                .producers()
                .get(h.producer_id)
                .is_some_and(|e| e.current_txn_first_offset.is_some());
            if !open {
                verify(h).map_err(|(code, message)| crate::error::BrokerError::Refused {
                    code,
                    message,
                })?;
            }
        }
        let info = log.append_validated(batch, validated, self.leader_epoch(), now_ms, origin)?;
        self.publish_end(&log);
        Ok(info)
    }

    fn not_leader(&self) -> crate::error::BrokerError {
        crate::error::BrokerError::NotLeader(format!(
            "this broker is not the leader of {}-{}",
            self.topic, self.index
        ))
    }

    /// Moves the log end, the last stable offset and (on the leader, as far as the ISR allows)
    /// the high watermark after a write.
    fn publish_end(&self, log: &Log) {
        let leo = log.log_end_offset();
        self.log_end_offset.store(leo, Ordering::Release);
        self.last_stable_offset
            .store(log.last_stable_offset(leo), Ordering::Release);
        let hw = match &mut *self.role.lock() {
            Role::Leader(l) => l.on_local_append(leo, mono_ms()),
            Role::Follower { .. } => None,
        };
        if let Some(hw) = hw {
            self.high_watermark.send_replace(hw);
        }
        self.log_end.send_replace(leo);
    }

    /// Appends `(key, value)` records as one batch written by the broker itself (a
    /// coordinator's internal topic), acks=all. Blocking, but small writes are cheap enough to
    /// run inline. With `txn`, the batch is transactional for that producer id and epoch
    /// (offsets a group coordinator writes for a transaction); `verify` then checks, under the
    /// log lock, that the transaction is still open when the batch is the producer's first here
    /// (as for [`Self::append_verified`]).
    pub fn append_records(
        &self,
        recs: &[(bytes::Bytes, Option<bytes::Bytes>)],
        compression: kafka_protocol::records::Compression,
        txn: Option<(i64, i16)>,
        now_ms: i64,
        verify: Option<TxnCheck<'_>>,
    ) -> Result<AppendInfo> {
        use kafka_protocol::records::{
            Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let (producer_id, producer_epoch) = txn.unwrap_or((-1, -1));
        let batch: Vec<Record> = recs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: txn.is_some(),
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // the first record's sequence is the batch's (none); the encoder keeps records
                // in one batch only while offsets and sequences move together
                sequence: i as i32 - 1,
                timestamp: now_ms,
                key: Some(k.clone()),
                value: v.clone(),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &batch,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .map_err(|e| {
            crate::error::BrokerError::Batch(crate::log::BatchError::InvalidRecord(format!(
                "cannot encode records: {e}"
            )))
        })?;
        let origin = if txn.is_some() {
            Origin::Coordinator
        } else {
            Origin::Client
        };
        self.append_checked(&mut buf, -1, now_ms, origin, verify)
    }

    /// Writes an end-transaction marker (COMMIT or ABORT) for `producer_id` as leader.
    /// Blocking.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        marker: Marker,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        let mut log = self.log.lock();
        if !self.role.lock().is_leader() {
            return Err(self.not_leader());
        }
        let info = log.append_marker(
            producer_id,
            producer_epoch,
            marker,
            self.leader_epoch(),
            now_ms,
        )?;
        self.publish_end(&log);
        Ok(info)
    }

    /// The producers that wrote here (DescribeProducers), by id.
    pub fn producers(&self) -> Vec<ProducerEntry> {
        let mut out: Vec<ProducerEntry> = self.log.lock().producers().entries().cloned().collect();
        out.sort_by_key(|e| e.producer_id);
        out
    }

    /// Forgets producers idle longer than `producer.id.expiration.ms`. Blocking.
    pub(crate) fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.log.lock().expire_producers(now_ms, expiration_ms)
    }

    /// Reads from `offset` up to the high watermark (or LSO for `read_committed`). Blocking.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        read_committed: bool,
        min_one: bool,
    ) -> Result<(ReadInfo, PartitionOffsets)> {
        let log = self.log.lock();
        let offsets = self.offsets();
        let bound = if read_committed {
            offsets.last_stable_offset
        } else {
            offsets.high_watermark
        };
        let info = log.read(offset, max_bytes, bound, min_one)?;
        Ok((info, offsets))
    }

    /// The aborted transactions a `read_committed` fetch from `from` needs for data below
    /// `upper`.
    pub fn aborted_txns(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        self.log.lock().aborted_txns(from, upper)
    }

    /// ListOffsets by timestamp. Blocking.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let log = self.log.lock();
        let hw = *self.high_watermark.borrow();
        Ok(log.offset_for_timestamp(ts)?.filter(|(o, _)| *o < hw))
    }

    /// The record with the largest timestamp (ListOffsets -3).
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let hw = *self.high_watermark.borrow();
        Ok(self
            .log
            .lock()
            .max_timestamp_offset()?
            .filter(|(o, _)| *o < hw))
    }

    /// The leader epoch in force at `offset` (for ListOffsets answers), or the current one.
    pub fn epoch_at(&self, offset: i64) -> i32 {
        self.log
            .lock()
            .epoch_for_offset(offset)
            .unwrap_or_else(|| self.leader_epoch())
    }

    /// `(epoch, end offset)` for OffsetForLeaderEpoch.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.log.lock().end_offset_for_epoch(epoch)
    }

    /// Applies a topic config change.
    pub(crate) fn set_config(&self, config: LogConfig) {
        let mut log = self.log.lock();
        if *log.config() != config {
            let min_isr = config.min_insync_replicas.max(1) as usize;
            log.set_config(config);
            if let Role::Leader(l) = &mut *self.role.lock() {
                if let Some(hw) = l.set_min_isr(min_isr, mono_ms()) {
                    self.high_watermark.send_replace(hw);
                }
            }
        }
    }

    /// Fsyncs when `flush.ms` says so, and removes deleted segment files whose
    /// `file.delete.delay.ms` has passed. Blocking.
    pub(crate) fn flush_if_due(&self, now_ms: i64) -> Result<()> {
        let mut log = self.log.lock();
        log.delete_due_files(now_ms);
        log.flush_if_due(now_ms)
    }

    /// Deletes segments past retention (time, size, log start offset). Blocking.
    pub(crate) fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        let mut log = self.log.lock();
        let hw = *self.high_watermark.borrow();
        let deleted = log.apply_retention(hw, now_ms)?;
        self.publish_start(&log);
        Ok(deleted)
    }

    /// DeleteRecords: moves the log start offset to `offset` (-1: the high watermark) and
    /// returns the new low watermark. Refused with `POLICY_VIOLATION` unless the topic's
    /// `cleanup.policy` includes `delete`, as in Kafka. Blocking.
    pub fn delete_records(&self, offset: i64, now_ms: i64) -> Result<i64> {
        let mut log = self.log.lock();
        if !log.config().delete {
            return Err(crate::error::BrokerError::PolicyViolation(format!(
                "Records of partition {}-{} can not be deleted due to the configured policy",
                self.topic, self.index
            )));
        }
        let hw = *self.high_watermark.borrow();
        let target = if offset == -1 { hw } else { offset };
        let low = log.delete_records_before(target, hw, now_ms)?;
        self.publish_start(&log);
        Ok(low)
    }

    /// Whether the partition was deleted (handles taken before still exist). Lock-free.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// Whether the log wants compaction, and how much.
    pub fn cleanable(&self, now_ms: i64) -> Option<crate::log::Cleanable> {
        // never past an open transaction: whether its data is aborted is not known yet
        let lso = self.offsets().last_stable_offset;
        self.log.lock().cleanable(lso, now_ms)
    }

    /// Compacts the log once; the log lock is held only to plan and to swap segments in, so
    /// produce and fetch carry on. Blocking.
    pub fn clean(
        &self,
        map: &mut crate::log::OffsetMap,
        throttle: &crate::log::Throttler,
        now_ms: i64,
    ) -> Result<Option<crate::log::CleanStats>> {
        let hw = self.offsets().last_stable_offset;
        Log::clean_with(
            |f| {
                let mut log = self.log.lock();
                f(&mut log)
            },
            hw,
            map,
            throttle,
            now_ms,
        )
    }

    /// Reads the partition from its start to the log end and calls `f` with each
    /// batch header and each of its records (control batches included): how the coordinators
    /// rebuild their state from their internal topics. Blocking.
    pub fn replay(
        &self,
        mut f: impl FnMut(&crate::log::BatchHeader, crate::log::RecordInfo<'_>),
    ) -> Result<()> {
        let mut offset = self.offsets().log_start_offset;
        loop {
            // to the log end: a new leader's log is the partition's truth, replicated or not yet
            let (info, offsets) = self.read_for_replica(offset, 1 << 20)?;
            let Some(slice) = info.slice else { break };
            if offset >= offsets.log_end_offset || slice.is_empty() {
                break;
            }
            let buf = slice
                .read()
                .map_err(|e| crate::error::BrokerError::storage(self.dir(), e))?;
            let mut at = 0;
            let before = offset;
            // the read may end inside a batch (at its size limit): that batch comes whole next time
            while buf.len() - at >= crate::log::BATCH_HEADER_LEN {
                let header = crate::log::BatchHeader::parse(&buf[at..])?;
                let size = header.size();
                let Some(batch) = buf.get(at..at + size) else {
                    break;
                };
                at += size;
                if header.next_offset() <= offset {
                    continue;
                }
                crate::log::for_each_record(batch, &header, |r| {
                    if header.base_offset + i64::from(r.offset_delta) >= offset {
                        f(&header, r);
                    }
                    true
                })?;
                offset = header.next_offset();
            }
            if offset == before {
                return Err(crate::error::BrokerError::Batch(
                    crate::log::BatchError::Truncated(format!("no whole batch at offset {offset}")),
                ));
            }
        }
        Ok(())
    }

    /// A receiver that wakes when the log end moves (replica fetches long-poll on it).
    pub fn watch_log_end(&self) -> watch::Receiver<i64> {
        self.log_end.subscribe()
    }

    /// Reads from `offset` up to the log end, for a follower (replicas copy what the ISR does
    /// not have yet). Blocking.
    pub fn read_for_replica(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(ReadInfo, PartitionOffsets)> {
        let log = self.log.lock();
        let offsets = self.offsets();
        let info = log.read(offset, max_bytes, offsets.log_end_offset, true)?;
        Ok((info, offsets))
    }

    /// The leader saw follower `id` fetch from `fetch_offset` (its log end) with its log starting
    /// at `log_start`: the high watermark may move and the follower may join the ISR (the
    /// returned proposal goes to the controller). Ignored when this broker does not lead.
    pub fn on_follower_fetch(
        &self,
        id: i32,
        fetch_offset: i64,
        log_start: i64,
        broker_epoch: i64,
        eligible: bool,
    ) -> Option<IsrProposal> {
        let outcome = match &mut *self.role.lock() {
            Role::Leader(l) => l.on_follower_fetch(
                id,
                fetch_offset,
                log_start,
                broker_epoch,
                eligible,
                mono_ms(),
            ),
            Role::Follower { .. } => return None,
        };
        if let Some(hw) = outcome.high_watermark {
            self.high_watermark.send_replace(hw);
        }
        outcome.proposal
    }

    /// On the leader: the in-sync followers a consumer fetching from `fetch_offset` could read
    /// from instead (KIP-392), as `(id, log end, ms since caught up)`; `None` on a follower.
    pub fn read_replicas(&self, fetch_offset: i64) -> Option<Vec<(i32, i64, u64)>> {
        match &*self.role.lock() {
            Role::Leader(l) => Some(l.read_replicas(fetch_offset, mono_ms())),
            Role::Follower { .. } => None,
        }
    }

    /// The leader's periodic ISR check: a proposal to drop lagging followers.
    pub fn check_isr(&self) -> Option<IsrProposal> {
        match &mut *self.role.lock() {
            Role::Leader(l) => l.on_tick(mono_ms()),
            Role::Follower { .. } => None,
        }
    }

    /// The controller answered an ISR proposal with an error: the next fetch or check proposes
    /// again.
    pub fn isr_proposal_failed(&self, proposal: &IsrProposal) {
        if let Role::Leader(l) = &mut *self.role.lock() {
            l.on_proposal_failed(proposal, mono_ms());
        }
    }

    /// Appends what a fetch from the leader returned (whole batches, as the leader wrote them)
    /// and takes the leader's high watermark (capped at this log's end) and log start. Refused
    /// on the leader. Blocking.
    pub fn append_as_follower(
        &self,
        leader_epoch: i32,
        records: &[u8],
        leader_hw: i64,
        leader_log_start: i64,
        now_ms: i64,
    ) -> Result<Option<FollowerAppend>> {
        let mut log = self.log.lock();
        self.check_follower(leader_epoch)?;
        let appended = log.append_as_follower(records, now_ms)?;
        if leader_log_start > log.log_start_offset() {
            log.advance_log_start(leader_log_start, now_ms)?;
            self.publish_start(&log);
        }
        let leo = log.log_end_offset();
        self.log_end_offset.store(leo, Ordering::Release);
        self.last_stable_offset
            .store(log.last_stable_offset(leo), Ordering::Release);
        let hw = leader_hw.min(leo);
        if hw > *self.high_watermark.borrow() {
            self.high_watermark.send_replace(hw);
        }
        self.log_end.send_replace(leo);
        Ok(appended)
    }

    /// Refuses follower work from a fetch made for another leadership than the current one: data
    /// of an older leader must never land after a newer one took over.
    fn check_follower(&self, leader_epoch: i32) -> Result<()> {
        if self.role.lock().is_leader() || self.leader_epoch() != leader_epoch {
            return Err(crate::error::BrokerError::NotLeader(format!(
                "{}-{} is not followed at leader epoch {leader_epoch} any more",
                self.topic, self.index
            )));
        }
        Ok(())
    }

    /// Cuts the log at `offset` (a follower's truncation by leader epoch, for the leadership at
    /// `leader_epoch`); the high watermark follows when it was above. Blocking.
    pub fn truncate_to(&self, leader_epoch: i32, offset: i64, now_ms: i64) -> Result<()> {
        let mut log = self.log.lock();
        self.check_follower(leader_epoch)?;
        // (at or past the log end this still drops an epoch started there and never written in)
        log.truncate_to(offset, now_ms)?;
        self.after_truncation(&log);
        Ok(())
    }

    /// Empties the log and restarts it at `offset` (a follower behind the leader's log start).
    /// Blocking.
    pub fn truncate_fully_and_start_at(
        &self,
        leader_epoch: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<()> {
        let mut log = self.log.lock();
        self.check_follower(leader_epoch)?;
        log.truncate_fully_and_start_at(offset, now_ms)?;
        self.after_truncation(&log);
        if *self.high_watermark.borrow() < offset {
            self.high_watermark.send_replace(offset);
        }
        Ok(())
    }

    fn after_truncation(&self, log: &Log) {
        let leo = log.log_end_offset();
        self.publish_start(log);
        self.log_end_offset.store(leo, Ordering::Release);
        self.last_stable_offset
            .store(log.last_stable_offset(leo), Ordering::Release);
        if *self.high_watermark.borrow() > leo {
            self.high_watermark.send_replace(leo);
        }
        self.log_end.send_replace(leo);
    }

    /// The latest leader epoch this log holds data or a start for, and where it starts.
    pub fn latest_epoch(&self) -> Option<(i32, i64)> {
        self.log.lock().latest_epoch()
    }

    /// The low watermark DeleteRecords reports: the smallest log start over the replicas the
    /// leader knows of.
    pub fn low_watermark(&self) -> i64 {
        let local = self.offsets().log_start_offset;
        match &*self.role.lock() {
            Role::Leader(l) => l.low_watermark(local),
            Role::Follower { .. } => local,
        }
    }

    fn publish_start(&self, log: &Log) {
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
    }

    /// Writes buffered state for a clean restart. Blocking.
    pub(crate) fn close(&self) -> Result<()> {
        let mut log = self.log.lock();
        log.flush()?;
        log.close()
    }

    /// The log directory.
    pub fn dir(&self) -> std::path::PathBuf {
        self.log.lock().dir().to_path_buf()
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.log.lock().size_bytes()
    }
}
