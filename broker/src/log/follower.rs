//! The log as a follower writes it: batches fetched from the leader are stored as the leader wrote
//! them (offsets, leader epochs, timestamps untouched), and the producer state, the aborted
//! transaction index and the leader epoch cache are built from them by the same code that builds
//! them on the leader and at recovery. So a follower that becomes leader knows every producer's
//! sequences and every open transaction, and its log is byte for byte the leader's.

use super::batch::{self, BatchHeader, HEADER_LEN};
use super::segment::Segment;
use super::Log;
use crate::error::{BrokerError, Result};

/// What a follower append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerAppend {
    /// Base offset of the first batch written.
    pub first_offset: i64,
    /// Last offset of the last batch written.
    pub last_offset: i64,
    /// Batches written.
    pub batches: usize,
}

impl Log {
    /// Appends the whole batches of `records` (a fetch response's records; a trailing partial
    /// batch is ignored, as fetches cut at a size limit). Every batch is checked first (header,
    /// length, magic, CRC) and must start at or after the log end, after the batch before it:
    /// nothing is written when one fails. Returns `None` when `records` holds no whole batch.
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        now_ms: i64,
    ) -> Result<Option<FollowerAppend>> {
        self.check_online()?;
        // the leader's log start may lie inside its first batch (DeleteRecords): an empty log
        // then starts at that batch instead (Kafka's follower append does the same)
        if self.log_end_offset() == self.log_start_offset && records.len() >= HEADER_LEN {
            let first = BatchHeader::parse(records)?;
            let leo = self.log_end_offset();
            if first.base_offset < leo && first.last_offset() >= leo {
                tracing::info!(log = %self.dir.display(), from = first.base_offset, "first fetched batch starts before the log start; restarting the log there");
                self.truncate_fully_and_start_at(first.base_offset, now_ms)?;
            }
        }
        let mut batches: Vec<(usize, BatchHeader)> = Vec::new();
        let mut at = 0;
        let mut next = self.log_end_offset();
        while records.len() - at >= HEADER_LEN {
            let header = BatchHeader::parse(&records[at..])?;
            let size = header.size();
            let Some(bytes) = records.get(at..at + size) else {
                break;
            };
            let header = batch::check_stored(bytes)?;
            if header.base_offset < next || header.last_offset() < header.base_offset {
                return Err(BrokerError::Batch(batch::BatchError::InvalidRecord(
                    format!(
                        "batch at offset {} does not follow offset {} of {}",
                        header.base_offset,
                        next - 1,
                        self.topic_partition_name()
                    ),
                )));
            }
            next = header.next_offset();
            batches.push((at, header));
            at += size;
        }
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return Ok(None);
        };
        let out = FollowerAppend {
            first_offset: first.1.base_offset,
            last_offset: last.1.last_offset(),
            batches: batches.len(),
        };
        for (at, header) in batches {
            let bytes = &records[at..at + header.size()];
            self.append_checked(bytes, &header, now_ms)?;
            if header.producer_id < 0 {
                continue;
            }
            if header.is_control() {
                if let Some(marker) = batch::read_marker(bytes, &header) {
                    self.on_marker_appended(&header, marker, header.max_timestamp)?;
                }
            } else {
                self.producers.on_data(&header);
            }
        }
        Ok(Some(out))
    }

    /// Moves the log start offset up to the leader's (its DeleteRecords and retention), never
    /// past the log end.
    pub fn advance_log_start(&mut self, offset: i64, now_ms: i64) -> Result<()> {
        let leo = self.log_end_offset();
        let target = offset.min(leo);
        if target > self.log_start_offset {
            self.delete_records_before(target, leo, now_ms)?;
        }
        Ok(())
    }

    /// Drops the whole log and starts it empty at `offset` (a follower far behind a leader whose
    /// log now starts past this log's end: Kafka's `truncateFullyAndStartAt`).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) -> Result<()> {
        self.check_online()?;
        let dir = self.dir.clone();
        let interval = self.config.index_interval_bytes;
        let result = (|| -> Result<()> {
            for (_, seg) in std::mem::take(&mut self.segments) {
                let path = seg.log_path().to_path_buf();
                seg.delete().map_err(|e| BrokerError::storage(path, e))?;
            }
            let fresh = Segment::create(&dir, offset.max(0), interval, now_ms)
                .map_err(|e| BrokerError::storage(&dir, e))?;
            self.segments.insert(fresh.base_offset, fresh);
            self.log_start_offset = offset.max(0);
            self.write_log_start()?;
            self.epochs
                .truncate_from_end(0)
                .map_err(|e| BrokerError::storage(&dir, e))?;
            self.recovery_point = offset.max(0);
            self.write_recovery_point()?;
            self.load_producer_state(offset.max(0))
        })();
        if result.is_err() {
            self.offline = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, Marker, Origin, Validated};
    use crate::replication::truncation::{truncation_point, EpochEndOffset};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    use proptest::prelude::*;
    use std::path::Path;

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 2048,
            index_interval_bytes: 128,
            ..LogConfig::default()
        }
    }

    fn open(dir: &Path, clean: bool) -> Log {
        Log::open(dir, config(), clean, 0).unwrap()
    }

    /// A producer's batch of `n` records with sequence `seq` (`pid` -1: no producer).
    fn batch(pid: i64, seq: i32, transactional: bool, n: usize, ts: i64) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: pid,
                producer_epoch: if pid < 0 { -1 } else { 0 },
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // (without a producer the encoder wants sequences moving with offsets)
                sequence: if pid < 0 {
                    i as i32 - 1
                } else {
                    seq + i as i32
                },
                timestamp: ts,
                key: Some(bytes::Bytes::from(format!("k{i}"))),
                value: Some(bytes::Bytes::from(format!("value {seq} {i}"))),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    fn append_leader(log: &mut Log, mut b: Vec<u8>, epoch: i32, now: i64) {
        let v = Validated::check(&b).unwrap();
        log.append_validated(&mut b, v, epoch, now, Origin::Client)
            .unwrap();
    }

    /// The bytes of `log` from `from` to its end.
    fn bytes_from(log: &Log, from: i64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offset = from;
        while offset < log.log_end_offset() {
            let info = log
                .read(offset, 1 << 20, log.log_end_offset(), true)
                .unwrap();
            let Some(slice) = info.slice else { break };
            let bytes = slice.read().unwrap();
            let mut pos = 0;
            while pos + HEADER_LEN <= bytes.len() {
                let h = BatchHeader::parse(&bytes[pos..]).unwrap();
                if pos + h.size() > bytes.len() {
                    break;
                }
                if h.last_offset() >= offset {
                    out.extend_from_slice(&bytes[pos..pos + h.size()]);
                    offset = h.next_offset();
                }
                pos += h.size();
            }
        }
        out
    }

    /// Copies what the follower lacks, `chunk` bytes at a time (fetches cut batches).
    fn replicate(leader: &Log, follower: &mut Log, chunk: usize) {
        while follower.log_end_offset() < leader.log_end_offset() {
            let all = bytes_from(leader, follower.log_end_offset());
            let cut = &all[..all.len().min(chunk.max(HEADER_LEN))];
            if follower.append_as_follower(cut, 0).unwrap().is_none() {
                // the cut held no whole batch: the next fetch asks for more
                follower.append_as_follower(&all, 0).unwrap();
            }
        }
    }

    /// Everything a follower must rebuild to act as the leader: log end, bytes, producer state,
    /// last stable offset, aborted transactions, and the OffsetForLeaderEpoch answer for every
    /// epoch that has data (an epoch a leader started without writing in it reaches followers
    /// only with its first batch, in Kafka too).
    type State = (
        i64,
        Vec<u8>,
        Vec<u8>,
        i64,
        Vec<crate::log::AbortedTxn>,
        Vec<Option<(i32, i64)>>,
    );

    fn state(log: &Log, data_epochs: &[i32]) -> State {
        let leo = log.log_end_offset();
        (
            leo,
            bytes_from(log, log.log_start_offset()),
            log.producers().encode_snapshot(),
            log.last_stable_offset(leo),
            log.aborted_txns(0, leo),
            data_epochs
                .iter()
                .map(|e| log.end_offset_for_epoch(*e))
                .collect(),
        )
    }

    /// The leader epochs of the batches in `log`.
    fn data_epochs(log: &Log) -> Vec<i32> {
        let bytes = bytes_from(log, log.log_start_offset());
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + HEADER_LEN <= bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            if !out.contains(&h.partition_leader_epoch) {
                out.push(h.partition_leader_epoch);
            }
            pos += h.size();
        }
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Data {
            producer: u8,
            transactional: bool,
            n: usize,
        },
        Plain(usize),
        Marker {
            producer: u8,
            commit: bool,
        },
        NewEpoch,
        Replicate(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..3, any::<bool>(), 1usize..4).prop_map(|(producer, transactional, n)| Op::Data { producer, transactional, n }),
            1 => (1usize..4).prop_map(Op::Plain),
            2 => (0u8..3, any::<bool>()).prop_map(|(producer, commit)| Op::Marker { producer, commit }),
            1 => Just(Op::NewEpoch),
            2 => (60usize..400).prop_map(Op::Replicate),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// A follower rebuilds the leader's state: whatever the leader's producers,
        /// transactions, markers and epochs, and however fetches cut the bytes, the follower's log
        /// ends byte for byte the same, with the same producer state, last stable offset,
        /// aborted transactions and leader epochs; and a restart rebuilds the same again.
        #[test]
        fn a_follower_rebuilds_the_leaders_state(ops in prop::collection::vec(op(), 1..60)) {
            let ldir = tempfile::tempdir().unwrap();
            let fdir = tempfile::tempdir().unwrap();
            let mut leader = open(ldir.path(), true);
            let mut follower = open(fdir.path(), true);
            let mut epoch = 0;
            leader.assign_epoch(epoch).unwrap();
            let mut seqs = [0i32; 3];
            let mut open_txn = [false; 3];
            let mut now = 1_000;
            for op in ops {
                now += 7;
                match op {
                    Op::Data { producer, transactional, n } => {
                        let p = producer as usize;
                        // a producer is either in a transaction or writes idempotently
                        let transactional = transactional || open_txn[p];
                        let b = batch(100 + p as i64, seqs[p], transactional, n, now);
                        append_leader(&mut leader, b, epoch, now);
                        seqs[p] += n as i32;
                        open_txn[p] |= transactional;
                    }
                    Op::Plain(n) => append_leader(&mut leader, batch(-1, 0, false, n, now), epoch, now),
                    Op::Marker { producer, commit } => {
                        let p = producer as usize;
                        if open_txn[p] {
                            let marker = Marker { commit, coordinator_epoch: 3 };
                            leader.append_marker(100 + p as i64, 0, marker, epoch, now).unwrap();
                            open_txn[p] = false;
                        }
                    }
                    Op::NewEpoch => {
                        epoch += 1;
                        leader.assign_epoch(epoch).unwrap();
                    }
                    Op::Replicate(chunk) => replicate(&leader, &mut follower, chunk),
                }
            }
            replicate(&leader, &mut follower, 1 << 20);
            let epochs = data_epochs(&leader);
            let expected = state(&leader, &epochs);
            prop_assert_eq!(&state(&follower, &epochs), &expected);
            follower.close().unwrap();
            drop(follower);
            let reopened = open(fdir.path(), false);
            prop_assert_eq!(&state(&reopened, &epochs), &expected);
        }
    }

    #[test]
    fn a_divergent_follower_truncates_by_epoch_and_ends_byte_identical() {
        // the old leader (F) wrote 0..5 at epoch 0, then 5..8 at epoch 1 that nobody copied; the
        // new leader (L) had 0..5 and wrote 5..10 at epoch 2
        let fdir = tempfile::tempdir().unwrap();
        let ldir = tempfile::tempdir().unwrap();
        let mut f = open(fdir.path(), true);
        let mut l = open(ldir.path(), true);
        f.assign_epoch(0).unwrap();
        l.assign_epoch(0).unwrap();
        append_leader(&mut l, batch(-1, 0, false, 5, 1), 0, 0);
        replicate(&l, &mut f, 1 << 20);
        f.assign_epoch(1).unwrap();
        append_leader(&mut f, batch(-1, 0, false, 3, 2), 1, 0);
        l.assign_epoch(2).unwrap();
        append_leader(&mut l, batch(-1, 0, false, 5, 3), 2, 0);
        assert_eq!(f.log_end_offset(), 8);

        // F asks L for its latest epoch (1): L's largest epoch ≤ 1 is 0, which ends at 5
        let (fe, _) = f.latest_epoch().unwrap();
        let (le, lo) = l.end_offset_for_epoch(fe).unwrap();
        let cut = truncation_point(
            EpochEndOffset {
                leader_epoch: le,
                end_offset: lo,
            },
            |e| f.end_offset_for_epoch(e),
            f.log_end_offset(),
            f.log_end_offset(),
        );
        assert_eq!((cut.to, cut.complete), (5, true));
        f.truncate_to(cut.to, 0).unwrap();
        replicate(&l, &mut f, 100);
        assert_eq!(bytes_from(&f, 0), bytes_from(&l, 0));
        assert_eq!(f.end_offset_for_epoch(2), Some((2, 10)));
        assert_eq!(f.end_offset_for_epoch(1), Some((0, 5)), "epoch 1 is gone");
    }

    #[test]
    fn bad_fetched_data_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path(), true);
        let mut b = batch(-1, 0, false, 2, 1);
        super::batch::assign(&mut b, 0, 0, None);
        let mut bad = b.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let mut both = b.clone();
        both.extend_from_slice(&bad);
        assert!(f.append_as_follower(&both, 0).is_err());
        assert_eq!(f.log_end_offset(), 0, "nothing of a bad fetch is written");
        // a batch below the log end is refused
        f.append_as_follower(&b, 0).unwrap();
        assert!(f.append_as_follower(&b, 0).is_err());
        // a partial batch is no batch
        assert_eq!(f.append_as_follower(&b[..b.len() - 3], 0).unwrap(), None);
    }

    #[test]
    fn a_leaders_log_start_inside_a_batch_restarts_an_empty_follower_at_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path(), true);
        f.truncate_fully_and_start_at(105, 0).unwrap();
        let mut b = batch(-1, 0, false, 10, 1);
        super::super::batch::assign(&mut b, 100, 0, None);
        f.append_as_follower(&b, 0).unwrap();
        assert_eq!(f.log_end_offset(), 110);
        f.advance_log_start(105, 0).unwrap();
        assert_eq!(f.log_start_offset(), 105);
    }

    #[test]
    fn an_epoch_started_but_never_written_is_dropped_by_a_truncation_at_the_log_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path(), true);
        let mut b = batch(-1, 0, false, 2, 1);
        super::super::batch::assign(&mut b, 0, 2, None);
        f.append_as_follower(&b, 0).unwrap();
        // elected at epoch 3, wrote nothing
        f.assign_epoch(3).unwrap();
        assert_eq!(f.latest_epoch(), Some((3, 2)));
        f.truncate_to(2, 0).unwrap();
        assert_eq!(f.latest_epoch(), Some((2, 0)));
        // and data of a lower epoch after a stale entry replaces it
        f.assign_epoch(5).unwrap();
        let mut b = batch(-1, 0, false, 1, 1);
        super::super::batch::assign(&mut b, 2, 4, None);
        f.append_as_follower(&b, 0).unwrap();
        assert_eq!(f.latest_epoch(), Some((4, 2)));
    }

    #[test]
    fn a_follower_far_behind_restarts_at_the_leaders_log_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = open(dir.path(), true);
        let mut b = batch(-1, 0, false, 3, 1);
        super::batch::assign(&mut b, 0, 0, None);
        f.append_as_follower(&b, 0).unwrap();
        f.truncate_fully_and_start_at(100, 0).unwrap();
        assert_eq!((f.log_start_offset(), f.log_end_offset()), (100, 100));
        let mut b = batch(-1, 0, false, 1, 1);
        super::batch::assign(&mut b, 100, 4, None);
        f.append_as_follower(&b, 0).unwrap();
        assert_eq!(f.log_end_offset(), 101);
        drop(f);
        let f = open(dir.path(), false);
        assert_eq!((f.log_start_offset(), f.log_end_offset()), (100, 101));
        // advancing the log start to the leader's
        let mut f = f;
        f.advance_log_start(101, 0).unwrap();
        assert_eq!(f.log_start_offset(), 101);
    }
}
