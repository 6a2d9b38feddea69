//! A partition: its log plus the replication state every partition carries from day one.
//!
//! With one replica the high watermark equals the log end offset. The last stable offset is
//! the high watermark, or the first offset of the oldest open transaction when that is lower.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicUsize, Ordering};
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
use crate::log::{AbortedTxn, AppendInfo, Log, LogConfig, Marker, Origin, ProducerEntry, ReadInfo};

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
    /// Size of the in-sync replica set, for `min.insync.replicas` on acks=all writes.
    isr_size: AtomicUsize,
    /// Number of replicas: `min.insync.replicas` above it counts as the replica count, as in
    /// Kafka 4 (KIP-966), so a topic is never made unwritable by its own settings.
    replica_count: AtomicUsize,
}

impl Partition {
    pub(crate) fn new(
        topic: Arc<str>,
        topic_id: Uuid,
        index: i32,
        mut log: Log,
        leader_epoch: i32,
        isr_size: usize,
        replica_count: usize,
    ) -> Self {
        // A new leader records the epoch it starts at the log end (KIP-101).
        if let Err(e) = log.assign_epoch(leader_epoch) {
            tracing::error!(%topic, partition = index, error = %e, "cannot record leader epoch");
        }
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        let lso = log.last_stable_offset(end);
        let (hw, _) = watch::channel(end);
        Partition {
            topic,
            topic_id,
            index,
            log: Mutex::new(log),
            leader_epoch: AtomicI32::new(leader_epoch),
            log_start_offset: AtomicI64::new(start),
            log_end_offset: AtomicI64::new(end),
            high_watermark: hw,
            last_stable_offset: AtomicI64::new(lso),
            isr_size: AtomicUsize::new(isr_size),
            replica_count: AtomicUsize::new(replica_count),
        }
    }

    /// The current leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub(crate) fn set_leader_epoch(&self, epoch: i32) {
        let mut log = self.log.lock();
        if epoch > self.leader_epoch() {
            if let Err(e) = log.assign_epoch(epoch) {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot record leader epoch");
            }
        }
        self.leader_epoch.store(epoch, Ordering::Release);
    }

    /// The topic was deleted: later appends, flushes and closes through handles that were
    /// taken before the deletion fail or do nothing instead of touching a deleted directory.
    pub(crate) fn mark_deleted(&self) {
        self.log.lock().mark_deleted();
        // Wake parked fetches so that they answer UNKNOWN_TOPIC_OR_PARTITION now.
        self.high_watermark.send_modify(|_| {});
    }

    pub(crate) fn set_replication(&self, isr_size: usize, replica_count: usize) {
        self.isr_size.store(isr_size, Ordering::Release);
        self.replica_count.store(replica_count, Ordering::Release);
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
        let (max, min, compression) = {
            let log = self.log.lock();
            let c = log.config();
            (c.max_message_bytes, c.min_insync_replicas, c.compression)
        };
        if batch.len() > max {
            return Err(crate::error::BrokerError::MessageTooLarge {
                size: batch.len(),
                max,
            });
        }
        let isr = self.isr_size.load(Ordering::Acquire);
        let replicas = self.replica_count.load(Ordering::Acquire);
        let min = (min.max(1) as usize).min(replicas.max(1));
        if acks == -1 && isr < min {
            return Err(crate::error::BrokerError::NotEnoughReplicas {
                isr,
                min: min as i32,
            });
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

    /// Moves the log end, the last stable offset and the high watermark after a write.
    fn publish_end(&self, log: &Log) {
        let leo = log.log_end_offset();
        self.log_end_offset.store(leo, Ordering::Release);
        self.last_stable_offset
            .store(log.last_stable_offset(leo), Ordering::Release);
        // One replica: the ISR is this broker alone, so the high watermark follows the LEO.
        self.high_watermark.send_replace(leo);
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
            log.set_config(config);
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

    /// Whether the partition was deleted (handles taken before still exist).
    pub fn is_deleted(&self) -> bool {
        self.log.lock().is_deleted()
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

    /// Reads the partition from its start to the high watermark and calls `f` with each
    /// batch header and each of its records (control batches included): how the coordinators
    /// rebuild their state from their internal topics. Blocking.
    pub fn replay(
        &self,
        mut f: impl FnMut(&crate::log::BatchHeader, crate::log::RecordInfo<'_>),
    ) -> Result<()> {
        let mut offset = self.offsets().log_start_offset;
        loop {
            let (info, offsets) = self.read(offset, 1 << 20, false, true)?;
            let Some(slice) = info.slice else { break };
            if offset >= offsets.high_watermark || slice.is_empty() {
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
