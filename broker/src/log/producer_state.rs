//! The producers of one partition: Kafka's `ProducerStateManager`.
//!
//! For every producer id that wrote to the partition it keeps the epoch, the sequence ranges
//! and offsets of its last five batches (to answer a retried batch with its original offset
//! instead of writing it twice), the coordinator epoch of its last transaction marker, and the
//! first offset of its open transaction. Open transactions give the last stable offset (LSO).
//!
//! The state is snapshotted to `<offset>.snapshot` files (Kafka's format, version 1) when a
//! segment rolls and when the log closes. Opening a log loads the newest snapshot at or below
//! the log end and replays the batch headers after it, so deduplication and open transactions
//! survive a crash.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use super::batch::BatchHeader;
use crate::error::BrokerError;

/// Batches remembered per producer for duplicate detection (Kafka's `NUM_BATCHES_TO_RETAIN`).
pub const BATCHES_TO_RETAIN: usize = 5;

const SNAPSHOT_SUFFIX: &str = ".snapshot";
const SNAPSHOT_VERSION: i16 = 1;
/// Bytes of one producer entry in a snapshot.
const SNAPSHOT_ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

/// One batch a producer wrote: its sequence range and where it landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// First sequence number.
    pub first_seq: i32,
    /// Last sequence number.
    pub last_seq: i32,
    /// Offset of its last record.
    pub last_offset: i64,
    /// `last_offset - first offset`.
    pub offset_delta: i32,
    /// Its max timestamp.
    pub timestamp: i64,
}

impl BatchMeta {
    /// Offset of its first record.
    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// What the partition knows about one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Producer id.
    pub producer_id: i64,
    /// Latest epoch seen.
    pub epoch: i16,
    /// The last batches of the current epoch, oldest first.
    batches: VecDeque<BatchMeta>,
    /// Coordinator epoch of the last transaction marker, or -1.
    pub coordinator_epoch: i32,
    /// Timestamp of the last write (batch max timestamp or marker time).
    pub last_timestamp: i64,
    /// First offset of the producer's open transaction on this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn empty(producer_id: i64) -> Self {
        ProducerEntry {
            producer_id,
            epoch: -1,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
        }
    }

    /// Last sequence number written, or -1.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    /// Offset of the last record written, or -1.
    pub fn last_offset(&self) -> i64 {
        self.batches.back().map_or(-1, |b| b.last_offset)
    }

    fn set_epoch(&mut self, epoch: i16) {
        if epoch != self.epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
    }

    fn add_batch(&mut self, meta: BatchMeta) {
        self.batches.push_back(meta);
        while self.batches.len() > BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.last_timestamp = meta.timestamp;
    }

    fn duplicate_of(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMeta> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }
}

/// Why a producer's batch or marker is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// `INVALID_PRODUCER_EPOCH`: an epoch older than the producer's latest.
    #[error("{0}")]
    InvalidEpoch(String),
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`: a gap or a reordering.
    #[error("{0}")]
    OutOfOrder(String),
    /// `INVALID_TXN_STATE`: a plain write inside an open transaction.
    #[error("{0}")]
    InvalidTxnState(String),
    /// `TRANSACTION_COORDINATOR_FENCED`: a marker from an older coordinator.
    #[error("{0}")]
    CoordinatorFenced(String),
}

/// A transaction that a marker just ended on this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of its first record here.
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// Whether it was aborted.
    pub aborted: bool,
}

/// An entry of the aborted transaction index (`.txnindex`, Kafka's format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
    /// The last stable offset right after the abort.
    pub last_stable_offset: i64,
}

/// Kafka's `isInSequence`: the next sequence, wrapping after `i32::MAX`.
fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) && last != i32::MAX || (next == 0 && last == i32::MAX)
}

/// The last sequence of a batch, wrapping as Kafka's `DefaultRecordBatch.incrementSequence`.
pub fn last_sequence(header: &BatchHeader) -> i32 {
    if header.base_sequence < 0 {
        return -1;
    }
    let last = i64::from(header.base_sequence) + i64::from(header.last_offset_delta);
    (last % (i64::from(i32::MAX) + 1)) as i32
}

/// What a producer's data batch turns out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// A retry of a batch already in the log: answer with its offsets, write nothing.
    Duplicate(BatchMeta),
    /// A new batch, in order: append it.
    Append,
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerState {
    /// The entry of `producer_id`, if it wrote here.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every producer, by id.
    pub fn entries(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    /// Number of producers.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is known.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// First offset of the oldest open transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Open transactions: `(first offset, producer id)`, oldest first.
    pub fn ongoing(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(o, p)| (*o, *p))
    }

    /// Checks a producer's data batch before it is appended (Kafka's duplicate lookup plus
    /// `ProducerAppendInfo.appendDataBatch` validation for client writes).
    pub fn check(&self, h: &BatchHeader) -> Result<Checked, ProducerError> {
        let pid = h.producer_id;
        let epoch = h.producer_epoch;
        let first_seq = h.base_sequence;
        let last_seq = last_sequence(h);
        let current = self.producers.get(&pid);
        if let Some(dup) = current.and_then(|e| e.duplicate_of(epoch, first_seq, last_seq)) {
            return Ok(Checked::Duplicate(dup));
        }
        let (cur_epoch, cur_last_seq, txn_open) = current.map_or((-1, -1, false), |e| {
            (e.epoch, e.last_seq(), e.current_txn_first_offset.is_some())
        });
        if epoch < cur_epoch {
            return Err(ProducerError::InvalidEpoch(format!(
                "Epoch of producer {pid} is {epoch}, which is smaller than the last seen epoch {cur_epoch}"
            )));
        }
        if epoch != cur_epoch {
            // a new epoch starts its sequences at 0, unless the producer was unknown here
            if first_seq != 0 && cur_epoch != -1 {
                return Err(ProducerError::OutOfOrder(format!(
                    "Invalid sequence number for new epoch of producer {pid}: {epoch} (request epoch), {first_seq} (seq. number), {cur_epoch} (current producer epoch)"
                )));
            }
        } else if cur_epoch != -1 && !in_sequence(cur_last_seq, first_seq) {
            return Err(ProducerError::OutOfOrder(format!(
                "Out of order sequence number for producer {pid}: {first_seq} (incoming seq. number), {cur_last_seq} (current end sequence number)"
            )));
        }
        if txn_open && !h.is_transactional() {
            return Err(ProducerError::InvalidTxnState(format!(
                "Expected transactional write from producer {pid} at epoch {epoch}, which has an open transaction"
            )));
        }
        Ok(Checked::Append)
    }

    /// Checks only the epoch of a batch a coordinator writes for a producer.
    pub fn check_epoch(&self, h: &BatchHeader) -> Result<(), ProducerError> {
        match self.producers.get(&h.producer_id) {
            Some(e) if h.producer_epoch < e.epoch => Err(ProducerError::InvalidEpoch(format!(
                "Epoch of producer {} is {}, which is smaller than the last seen epoch {}",
                h.producer_id, h.producer_epoch, e.epoch
            ))),
            _ => Ok(()),
        }
    }

    /// Records a data batch that was appended (or replayed) with its assigned offsets.
    pub fn on_data(&mut self, h: &BatchHeader) {
        let pid = h.producer_id;
        let entry = self
            .producers
            .entry(pid)
            .or_insert_with(|| ProducerEntry::empty(pid));
        entry.set_epoch(h.producer_epoch);
        entry.add_batch(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: last_sequence(h),
            last_offset: h.last_offset(),
            offset_delta: h.last_offset_delta,
            timestamp: h.max_timestamp,
        });
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert(h.base_offset, pid);
        }
    }

    /// Checks a transaction marker before it is written (Kafka's `appendEndTxnMarker`).
    pub fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), ProducerError> {
        let Some(e) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if epoch < e.epoch {
            return Err(ProducerError::InvalidEpoch(format!(
                "Epoch of producer {producer_id} is {epoch}, which is smaller than the last seen epoch {}",
                e.epoch
            )));
        }
        if coordinator_epoch < e.coordinator_epoch {
            return Err(ProducerError::CoordinatorFenced(format!(
                "Invalid coordinator epoch for producer {producer_id}: {coordinator_epoch} (zombie), {} (current)",
                e.coordinator_epoch
            )));
        }
        Ok(())
    }

    /// Records a transaction marker written at `offset`; returns the transaction it ended here,
    /// if the producer had one open on this partition.
    pub fn on_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
        aborted: bool,
        offset: i64,
        timestamp: i64,
    ) -> Option<CompletedTxn> {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::empty(producer_id));
        entry.set_epoch(epoch);
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = timestamp;
        let first = entry.current_txn_first_offset.take()?;
        self.ongoing.remove(&first);
        Some(CompletedTxn {
            producer_id,
            first_offset: first,
            last_offset: offset,
            aborted,
        })
    }

    /// The LSO right after `txn` completes: the first offset of another open transaction, or
    /// the offset after the marker.
    pub fn stable_offset_after(&self, txn: &CompletedTxn) -> i64 {
        self.ongoing
            .iter()
            .find(|(_, pid)| **pid != txn.producer_id)
            .map_or(txn.last_offset + 1, |(o, _)| *o)
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`) with no open
    /// transaction. Returns how many went.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Forgets everything (before a replay from scratch).
    pub fn clear(&mut self) {
        self.producers.clear();
        self.ongoing.clear();
    }

    // ---- snapshots ----

    /// Encodes the state as a Kafka producer snapshot (version 1).
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut entries: Vec<&ProducerEntry> = self.producers.values().collect();
        entries.sort_by_key(|e| e.producer_id);
        let mut body = Vec::with_capacity(4 + entries.len() * SNAPSHOT_ENTRY);
        body.extend_from_slice(&(entries.len() as i32).to_be_bytes());
        for e in entries {
            let last = e.batches.back();
            body.extend_from_slice(&e.producer_id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&last.map_or(-1, |b| b.last_seq).to_be_bytes());
            body.extend_from_slice(&last.map_or(-1i64, |b| b.last_offset).to_be_bytes());
            body.extend_from_slice(&last.map_or(0, |b| b.offset_delta).to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        }
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a snapshot written by [`Self::encode_snapshot`] (or by Kafka).
    pub fn decode_snapshot(bytes: &[u8]) -> Result<ProducerState, String> {
        if bytes.len() < 10 {
            return Err("snapshot shorter than its header".into());
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return Err("snapshot CRC mismatch".into());
        }
        let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let entries = &body[4..];
        if count < 0 || Some(entries.len()) != (count as usize).checked_mul(SNAPSHOT_ENTRY) {
            return Err(format!(
                "snapshot holds {} bytes for {count} entries",
                entries.len()
            ));
        }
        let mut state = ProducerState::default();
        for e in entries.chunks_exact(SNAPSHOT_ENTRY) {
            let i64_at = |at: usize| i64::from_be_bytes(e[at..at + 8].try_into().unwrap_or([0; 8]));
            let i32_at = |at: usize| i32::from_be_bytes(e[at..at + 4].try_into().unwrap_or([0; 4]));
            let pid = i64_at(0);
            let epoch = i16::from_be_bytes([e[8], e[9]]);
            let last_seq = i32_at(10);
            let last_offset = i64_at(14);
            let offset_delta = i32_at(22);
            let timestamp = i64_at(26);
            let coordinator_epoch = i32_at(34);
            let txn_first = i64_at(38);
            if offset_delta < 0 || (last_offset >= 0 && i64::from(offset_delta) > last_offset) {
                return Err(format!(
                    "producer {pid}: offset delta {offset_delta} with last offset {last_offset}"
                ));
            }
            let mut entry = ProducerEntry::empty(pid);
            entry.epoch = epoch;
            entry.coordinator_epoch = coordinator_epoch;
            entry.last_timestamp = timestamp;
            if last_offset >= 0 {
                entry.batches.push_back(BatchMeta {
                    first_seq: if last_seq < 0 {
                        -1
                    } else {
                        (i64::from(last_seq) - i64::from(offset_delta)).max(0) as i32
                    },
                    last_seq,
                    last_offset,
                    offset_delta,
                    timestamp,
                });
            }
            if txn_first >= 0 {
                entry.current_txn_first_offset = Some(txn_first);
                state.ongoing.insert(txn_first, pid);
            }
            state.producers.insert(pid, entry);
        }
        Ok(state)
    }
}

/// Path of the snapshot taken at `offset`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{SNAPSHOT_SUFFIX}",
        super::segment::file_stem(offset)
    ))
}

/// Offsets of the snapshots in `dir`, ascending.
pub fn list_snapshots(dir: &Path) -> std::io::Result<Vec<i64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(o) = name
            .strip_suffix(SNAPSHOT_SUFFIX)
            .and_then(|s| s.parse::<i64>().ok())
        {
            out.push(o);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Writes a snapshot of `state` taken at `offset`.
pub fn write_snapshot(dir: &Path, offset: i64, state: &ProducerState) -> Result<(), BrokerError> {
    let path = snapshot_path(dir, offset);
    super::write_atomically(&path, &state.encode_snapshot())
        .map_err(|e| BrokerError::storage(&path, e))
}

/// Deletes snapshots below `keep_from` (but always keeps the newest one) and above `above`.
pub fn prune_snapshots(dir: &Path, keep_from: i64, above: i64) {
    let Ok(all) = list_snapshots(dir) else { return };
    let newest_kept = all.iter().copied().filter(|o| *o <= above).max();
    for o in all {
        if (o < keep_from && Some(o) != newest_kept) || o > above {
            let _ = std::fs::remove_file(snapshot_path(dir, o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, base: i64, count: i32, txn: bool) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: if txn { 0x10 } else { 0 },
            last_offset_delta: count - 1,
            base_timestamp: 1000,
            max_timestamp: 1000 + base,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    fn append(s: &mut ProducerState, h: &BatchHeader) -> Result<Checked, ProducerError> {
        let c = s.check(h)?;
        if c == Checked::Append {
            s.on_data(h);
        }
        Ok(c)
    }

    #[test]
    fn in_order_batches_append_and_retries_are_duplicates() {
        let mut s = ProducerState::default();
        assert_eq!(
            append(&mut s, &header(7, 0, 0, 0, 3, false)),
            Ok(Checked::Append)
        );
        assert_eq!(
            append(&mut s, &header(7, 0, 3, 3, 2, false)),
            Ok(Checked::Append)
        );
        // the retry of the first batch, sent again with other offsets
        match append(&mut s, &header(7, 0, 0, 99, 3, false)) {
            Ok(Checked::Duplicate(m)) => {
                assert_eq!((m.first_offset(), m.last_offset), (0, 2));
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert_eq!(s.get(7).map(|e| e.last_seq()), Some(4));
    }

    #[test]
    fn gaps_and_old_epochs_are_refused() {
        let mut s = ProducerState::default();
        append(&mut s, &header(7, 1, 0, 0, 1, false)).unwrap();
        assert!(matches!(
            append(&mut s, &header(7, 1, 2, 1, 1, false)),
            Err(ProducerError::OutOfOrder(_))
        ));
        assert!(matches!(
            append(&mut s, &header(7, 0, 1, 1, 1, false)),
            Err(ProducerError::InvalidEpoch(_))
        ));
        // a bumped epoch (KIP-360) starts again at 0; any other sequence is out of order
        assert!(matches!(
            append(&mut s, &header(7, 2, 5, 1, 1, false)),
            Err(ProducerError::OutOfOrder(_))
        ));
        assert_eq!(
            append(&mut s, &header(7, 2, 0, 1, 1, false)),
            Ok(Checked::Append)
        );
    }

    #[test]
    fn an_unknown_producer_may_start_at_any_sequence() {
        let mut s = ProducerState::default();
        assert_eq!(
            append(&mut s, &header(9, 4, 42, 0, 1, false)),
            Ok(Checked::Append)
        );
        assert_eq!(
            append(&mut s, &header(9, 4, 43, 1, 1, false)),
            Ok(Checked::Append)
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut s = ProducerState::default();
        for i in 0..6 {
            append(&mut s, &header(1, 0, i, i64::from(i), 1, false)).unwrap();
        }
        assert!(matches!(
            append(&mut s, &header(1, 0, 1, 50, 1, false)),
            Ok(Checked::Duplicate(_))
        ));
        assert!(matches!(
            append(&mut s, &header(1, 0, 0, 50, 1, false)),
            Err(ProducerError::OutOfOrder(_))
        ));
    }

    #[test]
    fn sequences_wrap_after_i32_max() {
        let mut s = ProducerState::default();
        append(&mut s, &header(1, 0, i32::MAX, 0, 2, false)).unwrap();
        assert_eq!(s.get(1).unwrap().last_seq(), 0);
        let mut s = ProducerState::default();
        append(&mut s, &header(1, 0, i32::MAX, 0, 1, false)).unwrap();
        assert_eq!(
            append(&mut s, &header(1, 0, 0, 1, 1, false)),
            Ok(Checked::Append)
        );
    }

    #[test]
    fn transactions_hold_the_stable_offset_until_their_marker() {
        let mut s = ProducerState::default();
        append(&mut s, &header(1, 0, 0, 10, 2, true)).unwrap();
        append(&mut s, &header(2, 0, 0, 12, 1, true)).unwrap();
        append(&mut s, &header(1, 0, 2, 13, 1, true)).unwrap();
        assert_eq!(s.first_unstable_offset(), Some(10));
        // a plain write inside an open transaction
        assert!(matches!(
            s.check(&header(1, 0, 3, 14, 1, false)),
            Err(ProducerError::InvalidTxnState(_))
        ));
        s.check_marker(1, 0, 0).unwrap();
        let done = s.on_marker(1, 0, 0, true, 14, 0).unwrap();
        assert_eq!(
            done,
            CompletedTxn {
                producer_id: 1,
                first_offset: 10,
                last_offset: 14,
                aborted: true
            }
        );
        assert_eq!(s.stable_offset_after(&done), 12);
        assert_eq!(s.first_unstable_offset(), Some(12));
        // markers from an older epoch or coordinator are fenced
        assert!(matches!(
            s.check_marker(1, 0, -1),
            Err(ProducerError::CoordinatorFenced(_))
        ));
        s.on_marker(2, 1, 3, false, 15, 0);
        assert!(matches!(
            s.check_marker(2, 0, 3),
            Err(ProducerError::InvalidEpoch(_))
        ));
        assert_eq!(s.first_unstable_offset(), None);
    }

    #[test]
    fn snapshots_round_trip_and_reject_corruption() {
        let mut s = ProducerState::default();
        append(&mut s, &header(1, 3, 0, 0, 4, false)).unwrap();
        append(&mut s, &header(2, 0, 0, 4, 1, true)).unwrap();
        let bytes = s.encode_snapshot();
        let back = ProducerState::decode_snapshot(&bytes).unwrap();
        assert_eq!(back.get(1), s.get(1));
        assert_eq!(back.first_unstable_offset(), Some(4));
        // the last batch is still a duplicate after the reload
        assert!(matches!(
            back.check(&header(1, 3, 0, 9, 4, false)),
            Ok(Checked::Duplicate(_))
        ));
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(ProducerState::decode_snapshot(&bad).is_err());
        assert!(ProducerState::decode_snapshot(&bytes[..7]).is_err());
    }

    proptest::proptest! {
        /// A snapshot file is input from disk: whatever it holds, decoding answers an error or a
        /// state, never a panic, also when its CRC is right (a foreign or buggy writer).
        #[test]
        fn any_snapshot_bytes_decode_without_panicking(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            count in proptest::prelude::any::<i32>(),
            use_count in proptest::prelude::any::<bool>(),
        ) {
            let mut inner = Vec::new();
            if use_count {
                inner.extend_from_slice(&count.to_be_bytes());
            }
            inner.extend_from_slice(&body);
            let mut bytes = SNAPSHOT_VERSION.to_be_bytes().to_vec();
            bytes.extend_from_slice(&crc32c::crc32c(&inner).to_be_bytes());
            bytes.extend_from_slice(&inner);
            let _ = ProducerState::decode_snapshot(&bytes);
            let _ = ProducerState::decode_snapshot(&body);
        }

        /// Entries with any field values (negative offsets, sequences at the wrap) decode, and
        /// the state they give takes further batches without panicking.
        #[test]
        fn snapshot_entries_with_any_values_decode(
            entries in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u8>(), SNAPSHOT_ENTRY),
                0..5,
            ),
            seq in proptest::prelude::any::<i32>(),
            epoch in proptest::prelude::any::<i16>(),
        ) {
            let mut inner = (entries.len() as i32).to_be_bytes().to_vec();
            for e in &entries {
                inner.extend_from_slice(e);
            }
            let mut bytes = SNAPSHOT_VERSION.to_be_bytes().to_vec();
            bytes.extend_from_slice(&crc32c::crc32c(&inner).to_be_bytes());
            bytes.extend_from_slice(&inner);
            // entries whose offsets cannot be (a delta past the last offset) are refused
            if let Ok(mut s) = ProducerState::decode_snapshot(&bytes) {
                for e in &entries {
                    let pid = i64::from_be_bytes(e[0..8].try_into().unwrap());
                    let mut h = header(pid, epoch, seq, 1_000, 3, false);
                    h.producer_id = pid.max(0);
                    let _ = append(&mut s, &h);
                }
            }
        }
    }

    #[test]
    fn idle_producers_expire_but_open_transactions_stay() {
        let mut s = ProducerState::default();
        append(&mut s, &header(1, 0, 0, 0, 1, false)).unwrap();
        append(&mut s, &header(2, 0, 0, 1, 1, true)).unwrap();
        assert_eq!(s.expire(1_000_000, 1000), 1);
        assert!(s.get(1).is_none() && s.get(2).is_some());
    }
}
