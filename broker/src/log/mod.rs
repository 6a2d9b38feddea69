//! The partition log: an ordered list of segments on disk.
//!
//! ```text
//!  append(batch) ──▶ validate ─▶ assign offset/epoch ─▶ roll? ─▶ active segment .log/.index/.timeindex
//!  read(offset)  ──▶ segment ≤ offset ─▶ offset index ─▶ scan headers ─▶ FileSlice (bytes as stored)
//! ```
//!
//! A partition directory holds the segments plus two small checkpoint files:
//! `leader-epoch-checkpoint` (Kafka's format) and `recovery-point` (the offset up to which the
//! log was last fsynced). On open after an unclean shutdown, every segment from the one that
//! holds the recovery point on is re-read and CRC-checked, and the log is cut at the first torn
//! or corrupt batch; after a clean shutdown only the tail behind the last index entry is read.

mod batch;
mod cleaner;
mod compression;
mod epoch;
mod follower;
mod index;
mod producer_state;
mod segment;
mod transactions;
mod txn_index;

#[cfg(test)]
pub(crate) use batch::tests::make_batch;
pub use batch::Marker;
pub use batch::{
    for_each_record, BatchError, BatchHeader, OwnedRecord, RecordInfo,
    HEADER_LEN as BATCH_HEADER_LEN,
};
pub use cleaner::{first_dirty_offset, CleanStats, Cleanable, OffsetMap, Throttler};
pub use follower::FollowerAppend;
pub use producer_state::{AbortedTxn, ProducerEntry, ProducerError, ProducerState};
pub use segment::FileSlice;

/// Validates a record batch as a producer sent it (header, sizes, CRC-32C, record framing and
/// offset deltas) without appending it.
pub fn validate_batch(batch: &[u8]) -> std::result::Result<BatchHeader, BatchError> {
    Validated::check(batch).map(|v| v.header)
}

/// A produced batch that passed validation, with what the topic rules need to know.
#[derive(Debug, Clone, Copy)]
pub struct Validated {
    header: BatchHeader,
    summary: batch::RecordSummary,
}

impl Validated {
    /// The batch's header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Checks a batch as a producer sent it: everything stored batches must satisfy, every
    /// record's framing (decompressing if needed), and no control records (only the broker
    /// writes those).
    pub fn check(batch: &[u8]) -> std::result::Result<Validated, BatchError> {
        let (header, summary) = batch::validate_produced(batch)?;
        if header.is_control() {
            return Err(BatchError::InvalidRecord(
                "Clients are not allowed to write control records".into(),
            ));
        }
        Ok(Validated { header, summary })
    }

    /// The batch rewritten with `codec` when `target` asks for a codec other than the one the
    /// producer used (topic or broker `compression.type`), as Kafka's `LogValidator` recompresses;
    /// `None` when the batch is stored as sent.
    pub fn recompress(
        &self,
        batch: &[u8],
        target: TargetCompression,
    ) -> std::result::Result<Option<(Vec<u8>, Validated)>, BatchError> {
        let TargetCompression::Codec(codec) = target else {
            return Ok(None);
        };
        if codec.id == self.header.compression() {
            return Ok(None);
        }
        let records = batch::records_of(batch, &self.header)?;
        let rewritten = batch::rebuild(
            &self.header,
            &records,
            batch::Rebuild {
                codec,
                delete_horizon: None,
            },
        )?;
        let header = BatchHeader::parse(&rewritten)?;
        Ok(Some((
            rewritten,
            Validated {
                header,
                summary: self.summary,
            },
        )))
    }
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{BrokerError, RecordError, Result};
use epoch::LeaderEpochCache;
use segment::Segment;

pub(crate) use batch::locate as locate_batch;
#[cfg(test)]
use batch::HEADER_LEN;

/// The per-log settings, resolved from topic configs and their broker defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once it is this old.
    pub segment_ms: i64,
    /// `segment.index.bytes`: roll when an index would exceed this size.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: bytes of log between index entries.
    pub index_interval_bytes: u64,
    /// `flush.messages`: fsync after this many messages (i64::MAX: leave it to the OS).
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed message is this old.
    pub flush_ms: i64,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type` is `LogAppendTime`.
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms`: how far a CreateTime timestamp may lag the broker.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far a CreateTime timestamp may lead the broker.
    pub timestamp_after_max_ms: i64,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compacted: bool,
    /// `min.insync.replicas`: acks=all writes need this many in-sync replicas.
    pub min_insync_replicas: i32,
    /// `cleanup.policy` includes `delete`: retention applies.
    pub delete: bool,
    /// `retention.ms`: closed segments whose newest record is older are deleted (-1: never).
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the log is bigger (-1: no limit).
    pub retention_bytes: i64,
    /// `file.delete.delay.ms`: deleted segment files linger as `.deleted` this long.
    pub file_delete_delay_ms: i64,
    /// `delete.retention.ms`: how long tombstones and transaction markers survive compaction.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: share of uncompacted bytes that makes a log worth cleaning.
    pub min_cleanable_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: records older than this make the log cleanable whatever its ratio.
    pub max_compaction_lag_ms: i64,
    /// `compression.type` and its level: what appended batches are stored as.
    pub compression: TargetCompression,
}

/// Who writes a batch, as Kafka's `AppendOrigin`: a client's batches get sequence checks and
/// duplicate detection; a coordinator's (offsets committed inside a transaction) carry the
/// producer's id and epoch without sequences, so only the epoch is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A producer.
    Client,
    /// The group coordinator.
    Coordinator,
}

/// What `compression.type` asks the broker to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetCompression {
    /// `producer`: keep the producer's codec.
    Producer,
    /// A codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) with its level.
    Codec(Codec),
}

pub use compression::Codec;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            compacted: false,
            min_insync_replicas: 1,
            delete: true,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            file_delete_delay_ms: 60_000,
            delete_retention_ms: 24 * 3600 * 1000,
            min_cleanable_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            compression: TargetCompression::Producer,
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The append time for `LogAppendTime` topics, else -1.
    pub log_append_time: i64,
    /// Number of records.
    pub records: i32,
}

/// Result of a read: the bytes to serve, if any, and where they came from.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    /// Whole batches starting at or before the requested offset; `None` when nothing is there yet.
    pub slice: Option<FileSlice>,
    /// An offset at or after the end of the returned data (bounds the aborted transactions a
    /// `read_committed` fetch needs).
    pub upper_offset: i64,
}

impl ReadInfo {
    fn empty(offset: i64) -> ReadInfo {
        ReadInfo {
            slice: None,
            upper_offset: offset,
        }
    }
}

/// A partition's log.
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    epochs: LeaderEpochCache,
    unflushed_messages: i64,
    /// Wall-clock time of the first unflushed append, for `flush.ms`.
    first_unflushed_ms: Option<i64>,
    recovery_point: i64,
    /// Set after a failed write or fsync: the log then refuses writes.
    offline: bool,
    /// Set when the partition is deleted: nothing may write into its directory any more.
    deleted: bool,
    /// Files of deleted segments (renamed `*.deleted`) and when `file.delete.delay.ms` lets
    /// them go.
    doomed_files: Vec<(i64, PathBuf)>,
    /// The cleaner checkpoint: first dirty offset, earliest delete horizon stamped.
    cleaner_state: (i64, Option<i64>),
    /// Producer ids, epochs, recent sequences and open transactions.
    producers: ProducerState,
}

/// Suffix of segment files waiting out `file.delete.delay.ms`.
const DELETED_SUFFIX: &str = ".deleted";

const RECOVERY_POINT_FILE: &str = "recovery-point";
const LOG_START_FILE: &str = "log-start-offset";

fn read_checkpoint(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes a small file atomically: temp file, fsync, rename.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    // the rename itself survives a power loss only once the directory is synced
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

impl Log {
    /// Opens the log in `dir`, creating it if needed. `clean_shutdown` tells whether the broker
    /// stopped cleanly last time (then the recovery scan is skipped).
    pub fn open(dir: &Path, config: LogConfig, clean_shutdown: bool, now_ms: i64) -> Result<Log> {
        let io = |e| BrokerError::storage(dir, e);
        std::fs::create_dir_all(dir).map_err(io)?;
        Log::recover_cleaner_files(dir).map_err(io)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            } else if name.ends_with(".tmp") || name.ends_with(DELETED_SUFFIX) {
                // half-written checkpoints, and deleted segments whose delay a restart ends
                let _ = std::fs::remove_file(dir.join(&*name));
            }
        }
        bases.sort_unstable();
        let recovery_point = if clean_shutdown {
            i64::MAX
        } else {
            read_checkpoint(&dir.join(RECOVERY_POINT_FILE)).unwrap_or(0)
        };
        let mut segments = BTreeMap::new();
        let mut cut = false;
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(format!("{}.log", segment::file_stem(base)));
            if cut {
                // Everything after a corrupt batch is gone, as in Kafka's recovery.
                tracing::warn!(segment = %path.display(), "deleting segment after a corrupt one");
                let _ = std::fs::remove_file(&path);
                let stem = dir.join(segment::file_stem(base));
                let _ = std::fs::remove_file(stem.with_extension("index"));
                let _ = std::fs::remove_file(stem.with_extension("timeindex"));
                let _ = std::fs::remove_file(stem.with_extension("txnindex"));
                continue;
            }
            let active = i + 1 == bases.len();
            let next_base = bases.get(i + 1).copied().unwrap_or(i64::MAX);
            let trust = next_base <= recovery_point;
            let (seg, truncated) = Segment::open(
                dir,
                base,
                active,
                trust,
                config.index_interval_bytes,
                now_ms,
            )
            .map_err(|e| BrokerError::storage(&path, e))?;
            cut = truncated;
            segments.insert(base, seg);
        }
        let mut epochs = LeaderEpochCache::open(dir).map_err(io)?;
        let log_start_file = read_checkpoint(&dir.join(LOG_START_FILE)).unwrap_or(0);
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: 0,
            epochs: LeaderEpochCache::empty(dir),
            unflushed_messages: 0,
            first_unflushed_ms: None,
            recovery_point: 0,
            offline: false,
            deleted: false,
            doomed_files: Vec::new(),
            cleaner_state: Log::read_cleaner_checkpoint(dir),
            producers: ProducerState::default(),
        };
        if log.segments.is_empty() {
            let base = log_start_file.max(0);
            let seg =
                Segment::create(dir, base, log.config.index_interval_bytes, now_ms).map_err(io)?;
            log.segments.insert(base, seg);
        } else if cut {
            // The active segment may now be one that was sealed: reopen it as active.
            if let Some((&base, _)) = log.segments.iter().next_back() {
                if let Some(seg) = log.segments.remove(&base) {
                    drop(seg);
                    let (seg, _) = Segment::open(
                        dir,
                        base,
                        true,
                        false,
                        log.config.index_interval_bytes,
                        now_ms,
                    )
                    .map_err(io)?;
                    log.segments.insert(base, seg);
                }
            }
        }
        let first_base = log.segments.keys().next().copied().unwrap_or(0);
        log.log_start_offset = log_start_file.max(first_base).min(log.log_end_offset());
        epochs.drop_beyond(log.log_end_offset()).map_err(io)?;
        log.epochs = epochs;
        // After a crash the recovered data may exist only in the page cache: keep the old
        // recovery point (Kafka does the same) so that a second crash re-checks it.
        log.recovery_point = if clean_shutdown {
            log.log_end_offset()
        } else {
            recovery_point.min(log.log_end_offset())
        };
        // Rewrite the checkpoint only when it changes: a restart with thousands of partitions
        // must not pay an fsync per partition for nothing.
        if read_checkpoint(&dir.join(RECOVERY_POINT_FILE)) != Some(log.recovery_point) {
            log.write_recovery_point()?;
        }
        let trusted = if clean_shutdown {
            i64::MAX
        } else {
            log.recovery_point
        };
        log.load_producer_state(trusted)?;
        Ok(log)
    }

    fn active(&self) -> &Segment {
        // A log always has at least one segment: open creates one, and a truncation that fails
        // part-way takes the log offline, so no caller reaches here without one.
        self.segments
            .values()
            .next_back()
            .expect("log has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("log has an active segment")
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the settings (topic config change).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The offset the next record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.segments
            .values()
            .next_back()
            .map_or(self.log_start_offset, |s| s.next_offset)
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Records that `epoch` starts at the log end offset, as a new leader does (KIP-101).
    pub fn assign_epoch(&mut self, epoch: i32) -> Result<()> {
        let leo = self.log_end_offset();
        if epoch >= 0 && self.epochs.latest().is_none_or(|(e, _)| epoch > e) {
            if let Err(e) = self.epochs.assign(epoch, leo) {
                return Err(self.fail(self.dir.join("leader-epoch-checkpoint"), e));
            }
        }
        Ok(())
    }

    /// The latest leader epoch and the first offset written in it, if any.
    pub fn latest_epoch(&self) -> Option<(i32, i64)> {
        self.epochs.latest()
    }

    /// End offset of `epoch` as `OffsetForLeaderEpoch` answers it: the start offset of the next
    /// larger epoch (or the log end), and the largest epoch `<=` the one asked for.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The leader epoch in which `offset` was written, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.epochs.epoch_for_offset(offset)
    }

    /// Total bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Whether the log belongs to a deleted partition.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// Marks the log as belonging to a deleted partition.
    pub fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    fn check_online(&self) -> Result<()> {
        if self.deleted {
            return Err(BrokerError::UnknownTopicOrPartition(
                self.dir.display().to_string(),
            ));
        }
        if self.offline {
            return Err(BrokerError::LogOffline(self.dir.display().to_string()));
        }
        Ok(())
    }

    /// Marks the log offline after an I/O failure and returns the error.
    fn fail(&mut self, path: PathBuf, e: std::io::Error) -> BrokerError {
        tracing::error!(log = %self.dir.display(), error = %e, "storage error; taking log offline");
        self.offline = true;
        BrokerError::storage(path, e)
    }

    /// Validates a batch from a producer and appends it as leader: assigns the base offset, the
    /// leader epoch and, on `LogAppendTime` topics, the timestamp.
    pub fn append_as_leader(
        &mut self,
        batch: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        let validated = Validated::check(batch)?;
        self.append_validated(batch, validated, leader_epoch, now_ms, Origin::Client)
    }

    /// Appends a batch already checked by [`Validated::check`] (done outside the partition
    /// lock, since it may decompress): applies the topic's size, key and timestamp rules,
    /// assigns the base offset, the leader epoch and, on `LogAppendTime` topics, the timestamp.
    pub fn append_validated(
        &mut self,
        batch: &mut [u8],
        validated: Validated,
        leader_epoch: i32,
        now_ms: i64,
        origin: Origin,
    ) -> Result<AppendInfo> {
        self.check_online()?;
        if batch.len() > self.config.max_message_bytes {
            return Err(BrokerError::MessageTooLarge {
                size: batch.len(),
                max: self.config.max_message_bytes,
            });
        }
        let Validated { header, summary } = validated;
        self.check_records(batch, &header, &summary, now_ms)?;
        if header.producer_id >= 0 && origin == Origin::Coordinator {
            // (transactional offset commits carry no sequence, as in Kafka)
            self.producers.check_epoch(&header)?;
        } else if header.producer_id >= 0 && header.base_sequence < 0 {
            // Kafka's LogValidator: a producer's idempotent batch always carries a sequence
            return Err(BatchError::InvalidRecord(format!(
                "Invalid sequence number {} in record batch with producerId {}",
                header.base_sequence, header.producer_id
            ))
            .into());
        } else if header.producer_id >= 0 {
            if let producer_state::Checked::Duplicate(dup) = self.producers.check(&header)? {
                // a retry of a batch already written: its original offsets, nothing written
                return Ok(AppendInfo {
                    base_offset: dup.first_offset(),
                    last_offset: dup.last_offset,
                    log_append_time: if self.config.log_append_time {
                        dup.timestamp
                    } else {
                        -1
                    },
                    records: header.records_count,
                });
            }
        }
        let base_offset = self.log_end_offset();
        let append_time = self.config.log_append_time.then_some(now_ms);
        // CreateTime: the batch's max timestamp is what its records say and the timestamp type
        // is CreateTime, whatever the producer wrote (Kafka's setMaxTimestamp).
        if append_time.is_none()
            && (header.max_timestamp != summary.max_timestamp || header.is_log_append_time())
        {
            batch::set_create_time_max(batch, summary.max_timestamp);
        }
        batch::assign(batch, base_offset, leader_epoch, append_time);
        let header = BatchHeader {
            base_offset,
            partition_leader_epoch: leader_epoch,
            max_timestamp: append_time.unwrap_or(summary.max_timestamp),
            ..header
        };
        self.append_checked(batch, &header, now_ms)?;
        if header.producer_id >= 0 {
            self.producers.on_data(&header);
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: header.last_offset(),
            log_append_time: append_time.unwrap_or(-1),
            records: header.records_count,
        })
    }

    /// The record-level rules of the topic: keys on compacted topics, timestamp bounds on
    /// CreateTime topics (`message.timestamp.before.max.ms` / `after.max.ms`). The summary tells
    /// cheaply whether a rule is broken; only then are the records walked again to name each
    /// offending one, as Kafka's `LogValidator` lists them (KIP-467), so that a client can tell
    /// bad records from innocent ones in the same batch.
    fn check_records(
        &self,
        batch: &[u8],
        header: &BatchHeader,
        summary: &batch::RecordSummary,
        now_ms: i64,
    ) -> Result<()> {
        let c = &self.config;
        let keyless = c.compacted && summary.null_key;
        let upper = now_ms.saturating_add(c.timestamp_after_max_ms);
        let lower = now_ms.saturating_sub(c.timestamp_before_max_ms);
        let timestamps_checked = !c.log_append_time;
        let out_of_range = |ts: i64| ts < lower || ts > upper;
        let bad_time = timestamps_checked
            && (out_of_range(summary.min_timestamp) || out_of_range(summary.max_timestamp));
        if !keyless && !bad_time {
            return Ok(());
        }
        let tp = self.topic_partition_name();
        let mut records = Vec::new();
        let mut any_timestamp = false;
        batch::for_each_record(batch, header, |r| {
            if c.compacted && r.null_key {
                records.push(RecordError {
                    batch_index: r.offset_delta,
                    message: format!(
                        "Compacted topic cannot accept message without key in topic partition {tp}"
                    ),
                });
            } else if timestamps_checked && out_of_range(r.timestamp) {
                any_timestamp = true;
                records.push(RecordError {
                    batch_index: r.offset_delta,
                    message: format!(
                        "Timestamp {} of message with offset {} is out of range. The timestamp should be within [{lower}, {upper}]",
                        r.timestamp,
                        header.base_offset.saturating_add(i64::from(r.offset_delta)),
                    ),
                });
            }
            true
        })?;
        Err(BrokerError::records_rejected(any_timestamp, records))
    }

    /// `topic-partition`, as Kafka names a partition in messages, from the log's directory name.
    fn topic_partition_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn append_checked(&mut self, bytes: &[u8], header: &BatchHeader, now_ms: i64) -> Result<()> {
        if self.should_roll(bytes.len() as u64, now_ms) {
            self.roll(now_ms)?;
        }
        let active = self.active_mut();
        if let Err(e) = active.append(bytes, header) {
            let path = active.log_path().to_path_buf();
            return Err(self.fail(path, e));
        }
        if self
            .epochs
            .latest()
            .is_none_or(|(e, _)| header.partition_leader_epoch != e)
            && header.partition_leader_epoch >= 0
        {
            if let Err(e) = self
                .epochs
                .assign(header.partition_leader_epoch, header.base_offset)
            {
                return Err(self.fail(self.dir.join("leader-epoch-checkpoint"), e));
            }
        }
        self.unflushed_messages += i64::from(header.records_count);
        self.first_unflushed_ms.get_or_insert(now_ms);
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(())
    }

    fn should_roll(&self, incoming: u64, now_ms: i64) -> bool {
        let active = self.active();
        if active.size == 0 {
            return false;
        }
        active.size + incoming > self.config.segment_bytes
            || now_ms - active.created_ms >= self.config.segment_ms
            || active.index_full(self.config.segment_index_bytes)
            // relative offsets in the index are 32-bit
            || self.log_end_offset() - active.base_offset > i64::from(i32::MAX) - 1
    }

    /// Starts a new active segment at the log end offset.
    pub fn roll(&mut self, now_ms: i64) -> Result<()> {
        let base = self.log_end_offset();
        if self.active().base_offset == base {
            return Ok(());
        }
        let interval = self.config.index_interval_bytes;
        let active = self.active_mut();
        if let Err(e) = active.seal() {
            let path = active.log_path().to_path_buf();
            return Err(self.fail(path, e));
        }
        let seg = match Segment::create(&self.dir, base, interval, now_ms) {
            Ok(s) => s,
            Err(e) => return Err(self.fail(self.dir.clone(), e)),
        };
        tracing::debug!(log = %self.dir.display(), base_offset = base, "rolled new segment");
        self.segments.insert(base, seg);
        self.take_snapshot(false)
    }

    /// Reads from `offset`: up to `max_bytes` (but at least one whole batch when `min_one`),
    /// never past `max_offset` (the high watermark). An offset outside
    /// `[log start offset, log end offset]` is an error.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
    ) -> Result<ReadInfo> {
        if self.deleted {
            return Err(BrokerError::UnknownTopicOrPartition(
                self.dir.display().to_string(),
            ));
        }
        if self.offline {
            // its segment map may be incomplete: never answer from it
            return Err(BrokerError::LogOffline(self.dir.display().to_string()));
        }
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Err(BrokerError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: leo,
            });
        }
        if offset >= max_offset {
            return Ok(ReadInfo::empty(offset));
        }
        let io = |s: &Segment, e| BrokerError::storage(s.log_path(), e);
        for (_, seg) in self
            .segments
            .range(..=offset)
            .next_back()
            .into_iter()
            .chain(self.segments.range(offset + 1..))
        {
            let Some(found) = seg.locate(offset).map_err(|e| io(seg, e))? else {
                continue;
            };
            if found.header.base_offset >= max_offset {
                return Ok(ReadInfo::empty(offset));
            }
            let end = if max_offset >= seg.next_offset {
                seg.size
            } else {
                seg.position_of(max_offset).map_err(|e| io(seg, e))?
            };
            let available = (end - found.position) as usize;
            let mut len = available.min(max_bytes);
            if min_one && len < found.header.size() {
                len = found.header.size().min(available);
            }
            if len == 0 {
                return Ok(ReadInfo::empty(offset));
            }
            return Ok(ReadInfo {
                slice: Some(seg.slice(found.position, len)),
                upper_offset: max_offset.min(seg.next_offset),
            });
        }
        Ok(ReadInfo::empty(offset))
    }

    /// The offset of the first record with timestamp `>= ts` and its timestamp (ListOffsets by
    /// time), or `None` when every record is older.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let start = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.max_timestamp < ts || seg.next_offset <= start {
                continue;
            }
            let io = |e| BrokerError::storage(seg.log_path(), e);
            let mut found = seg.find_timestamp_from(ts, start).map_err(io)?;
            while let Some(batch) = found {
                let bytes = seg
                    .read_batch(batch.position, batch.header.size())
                    .map_err(io)?;
                if let Some(hit) = batch_record_at_or_after(&bytes, &batch.header, ts, start) {
                    return Ok(Some(hit));
                }
                // The batch's newer records lie below the log start: look further on.
                let next = batch.position + batch.header.size() as u64;
                found = seg.scan_for_timestamp(next, ts).map_err(io)?;
            }
        }
        Ok(None)
    }

    /// The offset and timestamp of the record with the largest timestamp (ListOffsets -3): the
    /// first record holding it, found inside the batch that holds it, as Kafka answers.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let start = self.log_start_offset;
        // A segment the log start cuts through (DeleteRecords) may hold its newest record
        // below the start: its visible part is read record by record.
        let mut straddling = None;
        // the first whole segment holding the largest timestamp
        let mut best: Option<&Segment> = None;
        for s in self
            .segments
            .values()
            .filter(|s| s.max_timestamp >= 0 && s.next_offset > start)
        {
            if s.base_offset < start {
                straddling = self.visible_max_timestamp(s, start)?;
            } else if best.is_none_or(|b| s.max_timestamp > b.max_timestamp) {
                best = Some(s);
            }
        }
        let whole = match best {
            Some(seg) => self.max_timestamp_in(seg)?,
            None => None,
        };
        Ok(match (straddling, whole) {
            (Some(s), Some(w)) if w.1 > s.1 => Some(w),
            (Some(s), _) => Some(s),
            (None, w) => w,
        })
    }

    /// The newest record at or after `start` in `seg`: `(offset, timestamp)`.
    fn visible_max_timestamp(&self, seg: &Segment, start: i64) -> Result<Option<(i64, i64)>> {
        let io = |e| BrokerError::storage(seg.log_path(), e);
        let mut best: Option<(i64, i64)> = None;
        let mut offset = start;
        while let Some(found) = seg.locate(offset).map_err(io)? {
            let bytes = seg
                .read_batch(found.position, found.header.size())
                .map_err(io)?;
            // (locate reads only the start of the header)
            let h = &BatchHeader::parse(&bytes)?;
            let append_time = h.is_log_append_time();
            let walked = batch::for_each_record(&bytes, h, |r| {
                let o = h.base_offset + i64::from(r.offset_delta);
                let ts = if append_time {
                    h.max_timestamp
                } else {
                    r.timestamp
                };
                if o >= start && best.is_none_or(|b| ts > b.1) {
                    best = Some((o, ts));
                }
                true
            });
            if let Err(e) = walked {
                tracing::warn!(base_offset = h.base_offset, error = %e, "stored batch cannot be read for a timestamp lookup");
            }
            offset = h.next_offset();
        }
        Ok(best)
    }

    /// The record with the largest timestamp in a whole segment: `(offset, timestamp)`.
    fn max_timestamp_in(&self, seg: &Segment) -> Result<Option<(i64, i64)>> {
        let io = |e| BrokerError::storage(seg.log_path(), e);
        let Some(found) = seg.find_timestamp(seg.max_timestamp).map_err(io)? else {
            return Ok(Some((seg.offset_of_max_timestamp, seg.max_timestamp)));
        };
        let bytes = seg
            .read_batch(found.position, found.header.size())
            .map_err(io)?;
        Ok(
            batch_record_at_or_after(&bytes, &found.header, seg.max_timestamp, i64::MIN)
                .or(Some((found.header.last_offset(), seg.max_timestamp))),
        )
    }

    /// Deletes old segments as Kafka's `deleteOldSegments` does: with `cleanup.policy=delete`,
    /// those past `retention.ms` (by their newest timestamp) and the oldest ones while the log
    /// is over `retention.bytes`; under any policy, those wholly below the log start offset.
    /// Only data below `high_watermark` goes; when the active segment itself is due, a new one
    /// is rolled first so that offsets carry on. Returns the number of segments deleted.
    pub fn apply_retention(&mut self, high_watermark: i64, now_ms: i64) -> Result<usize> {
        self.check_online()?;
        let mut deleted = 0;
        if self.config.delete {
            if self.config.retention_ms >= 0 {
                let limit = self.config.retention_ms;
                deleted += self.delete_segments_while(high_watermark, now_ms, |seg, _| {
                    now_ms.saturating_sub(seg.largest_timestamp()) > limit
                })?;
            }
            if self.config.retention_bytes >= 0 {
                let mut excess = self.size_bytes() as i64 - self.config.retention_bytes;
                deleted += self.delete_segments_while(high_watermark, now_ms, |seg, _| {
                    let due = excess - seg.size as i64 >= 0;
                    if due {
                        excess -= seg.size as i64;
                    }
                    due
                })?;
            }
        }
        let start = self.log_start_offset;
        deleted += self.delete_segments_while(high_watermark, now_ms, |_, next| {
            next.is_some_and(|n| n <= start)
        })?;
        Ok(deleted)
    }

    /// Deletes segments from the oldest on while `due(segment, next segment's base)` holds and
    /// the segment lies below `high_watermark`.
    fn delete_segments_while(
        &mut self,
        high_watermark: i64,
        now_ms: i64,
        mut due: impl FnMut(&Segment, Option<i64>) -> bool,
    ) -> Result<usize> {
        let leo = self.log_end_offset();
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, &base) in bases.iter().enumerate() {
            let seg = &self.segments[&base];
            let next = bases.get(i + 1).copied();
            let upper = next.unwrap_or(leo);
            let empty_active = next.is_none() && seg.size == 0;
            if empty_active || upper > high_watermark || !due(seg, next) {
                break;
            }
            doomed.push(base);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        if doomed.len() == self.segments.len() {
            // Everything is due: a fresh active segment keeps the log end offset.
            self.roll(now_ms)?;
        }
        let delay = self.config.file_delete_delay_ms.max(0);
        for base in &doomed {
            let Some(seg) = self.segments.remove(base) else {
                continue;
            };
            match seg.rename_for_deletion(DELETED_SUFFIX) {
                Ok(files) => self
                    .doomed_files
                    .extend(files.into_iter().map(|f| (now_ms.saturating_add(delay), f))),
                Err(e) => return Err(self.fail(self.dir.clone(), e)),
            }
        }
        let first_base = self.segments.keys().next().copied().unwrap_or(leo);
        if first_base > self.log_start_offset {
            self.log_start_offset = first_base;
        }
        producer_state::prune_snapshots(&self.dir, first_base, leo);
        self.write_log_start()?;
        tracing::info!(log = %self.dir.display(), segments = doomed.len(), log_start_offset = self.log_start_offset, "deleted old segments");
        Ok(doomed.len())
    }

    /// Moves the log start offset up to `offset` (DeleteRecords), durably, then deletes the
    /// segments wholly below it. `offset` may not pass `high_watermark`. Returns the new log
    /// start offset (the low watermark).
    pub fn delete_records_before(
        &mut self,
        offset: i64,
        high_watermark: i64,
        now_ms: i64,
    ) -> Result<i64> {
        self.check_online()?;
        if offset < 0 || offset > high_watermark {
            return Err(BrokerError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: high_watermark,
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.write_log_start()?;
            let start = self.log_start_offset;
            self.delete_segments_while(high_watermark, now_ms, |_, next| {
                next.is_some_and(|n| n <= start)
            })?;
        }
        Ok(self.log_start_offset)
    }

    /// Removes the files of deleted segments whose `file.delete.delay.ms` has passed.
    pub fn delete_due_files(&mut self, now_ms: i64) {
        if self.doomed_files.is_empty() {
            return;
        }
        self.doomed_files.retain(|(due, path)| {
            if *due > now_ms {
                return true;
            }
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %path.display(), error = %e, "cannot delete segment file");
                }
            }
            false
        });
    }

    /// Writes the log start offset checkpoint when the start lies past the first segment's
    /// base (after DeleteRecords); otherwise the segments say it and the file goes.
    fn write_log_start(&mut self) -> Result<()> {
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        let path = self.dir.join(LOG_START_FILE);
        if self.log_start_offset > first_base {
            if read_checkpoint(&path) != Some(self.log_start_offset) {
                if let Err(e) =
                    write_atomically(&path, self.log_start_offset.to_string().as_bytes())
                {
                    return Err(self.fail(path, e));
                }
            }
        } else if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(self.fail(path, e));
            }
        }
        Ok(())
    }

    /// Removes every record at or after `offset` (cut at the start of the batch holding it).
    /// A failure part-way takes the log offline rather than leaving it half-truncated.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<()> {
        self.check_online()?;
        let result = self.truncate_inner(offset, now_ms);
        if result.is_err() || self.segments.is_empty() {
            self.offline = true;
        }
        result
    }

    fn truncate_inner(&mut self, offset: i64, now_ms: i64) -> Result<()> {
        if offset >= self.log_end_offset() {
            // nothing to cut, but an epoch started at the log end and never written in goes
            // (Kafka truncates the epoch cache even when the log is not cut)
            let leo = self.log_end_offset();
            return self
                .epochs
                .truncate_from_end(leo)
                .map_err(|e| BrokerError::storage(self.dir.join("leader-epoch-checkpoint"), e));
        }
        let dir = self.dir.clone();
        let interval = self.config.index_interval_bytes;
        let doomed: Vec<i64> = self.segments.range(offset..).map(|(b, _)| *b).collect();
        for base in doomed {
            if let Some(seg) = self.segments.remove(&base) {
                let path = seg.log_path().to_path_buf();
                seg.delete().map_err(|e| BrokerError::storage(path, e))?;
            }
        }
        match self.segments.keys().next_back().copied() {
            None => {
                let fresh = Segment::create(&dir, offset.max(0), interval, now_ms)
                    .map_err(|e| BrokerError::storage(&dir, e))?;
                self.segments.insert(fresh.base_offset, fresh);
            }
            Some(base) => {
                if let Some(mut seg) = self.segments.remove(&base) {
                    seg.truncate_to(offset)
                        .map_err(|e| BrokerError::storage(&dir, e))?;
                    seg.seal().map_err(|e| BrokerError::storage(&dir, e))?;
                }
                // reopen so that the new active segment keeps its index in memory
                let (seg, _) = Segment::open(&dir, base, true, true, interval, now_ms)
                    .map_err(|e| BrokerError::storage(&dir, e))?;
                self.segments.insert(base, seg);
            }
        }
        let leo = self.log_end_offset();
        self.log_start_offset = self.log_start_offset.min(leo);
        self.epochs
            .truncate_from_end(leo)
            .map_err(|e| BrokerError::storage(&dir, e))?;
        self.recovery_point = self.recovery_point.min(leo);
        self.write_recovery_point()?;
        self.load_producer_state(leo)
    }

    /// Fsyncs everything appended so far and moves the recovery point.
    pub fn flush(&mut self) -> Result<()> {
        self.check_online()?;
        let leo = self.log_end_offset();
        if leo == self.recovery_point && self.unflushed_messages == 0 {
            return Ok(());
        }
        self.fsync_from_recovery_point(i64::MAX)?;
        self.recovery_point = leo;
        self.unflushed_messages = 0;
        self.first_unflushed_ms = None;
        self.write_recovery_point()
    }

    /// Flushes when `flush.ms` has passed since the first unflushed append.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<()> {
        if self.deleted || self.offline {
            return Ok(());
        }
        self.flush_sealed()?;
        match self.first_unflushed_ms {
            Some(first) if now_ms.saturating_sub(first) >= self.config.flush_ms => self.flush(),
            _ => Ok(()),
        }
    }

    /// Fsyncs segments sealed since the last flush and moves the recovery point to the active
    /// segment, as Kafka flushes a segment once it is rolled; a restart after a crash then
    /// re-checks only the active segment.
    fn flush_sealed(&mut self) -> Result<()> {
        let active_base = self.active().base_offset;
        if self.recovery_point >= active_base {
            return Ok(());
        }
        self.fsync_from_recovery_point(active_base)?;
        self.recovery_point = active_base;
        self.write_recovery_point()
    }

    /// Fsyncs the segments from the one holding the recovery point up to (not including) the
    /// segment starting at `end_base`; a failure takes the log offline.
    fn fsync_from_recovery_point(&mut self, end_base: i64) -> Result<()> {
        let from = self
            .segments
            .range(..=self.recovery_point)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        let bases: Vec<i64> = self
            .segments
            .range(from..end_base)
            .map(|(b, _)| *b)
            .collect();
        for base in bases {
            if let Some(seg) = self.segments.get_mut(&base) {
                if let Err(e) = seg.flush() {
                    let path = seg.log_path().to_path_buf();
                    return Err(self.fail(path, e));
                }
            }
        }
        Ok(())
    }

    fn write_recovery_point(&mut self) -> Result<()> {
        let path = self.dir.join(RECOVERY_POINT_FILE);
        if let Err(e) = write_atomically(&path, self.recovery_point.to_string().as_bytes()) {
            return Err(self.fail(path, e));
        }
        Ok(())
    }

    /// Writes what is buffered (index entries) so that a clean restart can skip recovery.
    pub fn close(&mut self) -> Result<()> {
        if self.offline || self.deleted {
            return Ok(());
        }
        let dir = self.dir.clone();
        for seg in self.segments.values_mut() {
            seg.write_indexes()
                .map_err(|e| BrokerError::storage(&dir, e))?;
        }
        self.take_snapshot(true)?;
        self.write_log_start()
    }
}

/// Within one stored batch, the first record with timestamp `>= ts`: its offset and timestamp.
fn batch_record_at_or_after(
    bytes: &[u8],
    header: &BatchHeader,
    ts: i64,
    min_offset: i64,
) -> Option<(i64, i64)> {
    let append_time = header.is_log_append_time();
    let mut found = None;
    let walked = batch::for_each_record(bytes, header, |r| {
        let offset = header.base_offset + i64::from(r.offset_delta);
        let timestamp = if append_time {
            header.max_timestamp
        } else {
            r.timestamp
        };
        if timestamp >= ts && offset >= min_offset {
            found = Some((offset, timestamp));
            return false;
        }
        true
    });
    if let Err(e) = walked {
        tracing::warn!(base_offset = header.base_offset, error = %e, "stored batch cannot be read for a timestamp lookup");
    }
    found
}

#[cfg(test)]
mod tests;
