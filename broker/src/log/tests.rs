//! Log tests: appends, reads, rolls, recovery from torn and corrupt tails, broken indexes, and a
//! model-based property test.

use super::batch::tests::make_batch;
use super::*;
use proptest::prelude::*;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        ..LogConfig::default()
    }
}

/// Reads every batch from `from` to the end, returning `(base_offset, records, max_ts)`.
fn read_all(log: &Log, from: i64) -> Vec<(i64, i32, i64)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let info = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
        let Some(slice) = info.slice else { break };
        let bytes = slice.read().unwrap();
        let mut pos = 0;
        while pos + HEADER_LEN <= bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            if pos + h.size() > bytes.len() {
                break;
            }
            batch::check_stored(&bytes[pos..pos + h.size()]).unwrap();
            if h.last_offset() >= offset {
                out.push((h.base_offset, h.records_count, h.max_timestamp));
            }
            offset = h.next_offset();
            pos += h.size();
        }
    }
    out
}

fn open(dir: &Path, clean: bool) -> Log {
    Log::open(dir, small_config(), clean, 0).unwrap()
}

#[test]
fn append_assigns_offsets_and_reads_back_bytes_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    let mut b1 = make_batch(&[b"a", b"b"], 10);
    let info = log.append_as_leader(&mut b1, 3, 0).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.records),
        (0, 1, 2)
    );
    let mut b2 = make_batch(&[b"c"], 20);
    assert_eq!(log.append_as_leader(&mut b2, 3, 0).unwrap().base_offset, 2);
    assert_eq!(log.log_end_offset(), 3);
    let slice = log.read(0, 1 << 20, i64::MAX, true).unwrap().slice.unwrap();
    let bytes = slice.read().unwrap();
    assert_eq!(&bytes[..b1.len()], &b1[..]);
    assert_eq!(&bytes[b1.len()..], &b2[..]);
    // offset inside the first batch returns from the first batch; the end returns nothing
    assert_eq!(
        log.read(1, 1 << 20, i64::MAX, true)
            .unwrap()
            .slice
            .unwrap()
            .position,
        0
    );
    assert!(log
        .read(3, 1 << 20, i64::MAX, true)
        .unwrap()
        .slice
        .is_none());
    assert!(matches!(
        log.read(4, 100, i64::MAX, true),
        Err(BrokerError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.latest_epoch(), Some((3, 0)));
}

#[test]
fn max_bytes_and_high_watermark_bound_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    let mut sizes = Vec::new();
    for i in 0..5 {
        let mut b = make_batch(&[format!("value-{i}").as_bytes()], i);
        sizes.push(b.len());
        log.append_as_leader(&mut b, 0, 0).unwrap();
    }
    // max_bytes smaller than a batch: one whole batch with min_one, nothing without
    let s = log.read(0, 10, i64::MAX, true).unwrap().slice.unwrap();
    assert_eq!(s.len(), sizes[0]);
    // an upper bound at offset 2 stops before batch 2
    let s = log.read(0, 1 << 20, 2, true).unwrap().slice.unwrap();
    assert_eq!(s.len(), sizes[0] + sizes[1]);
    assert!(log.read(2, 1 << 20, 2, true).unwrap().slice.is_none());
}

#[test]
fn segments_roll_on_size_and_time_and_reads_cross_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    let value = [7u8; 200];
    for i in 0..20 {
        log.append_as_leader(&mut make_batch(&[&value], i), 0, 0)
            .unwrap();
    }
    assert!(log.segment_count() >= 4, "{} segments", log.segment_count());
    let got = read_all(&log, 0);
    assert_eq!(got.len(), 20);
    assert!(got.iter().enumerate().all(|(i, b)| b.0 == i as i64));
    let mut cfg = small_config();
    cfg.segment_bytes = 1 << 30;
    cfg.segment_ms = 1000;
    log.set_config(cfg);
    let before = log.segment_count();
    log.append_as_leader(&mut make_batch(&[b"x"], 1), 0, 500)
        .unwrap();
    log.append_as_leader(&mut make_batch(&[b"y"], 1), 0, 900)
        .unwrap();
    assert_eq!(log.segment_count(), before, "younger than segment.ms");
    log.append_as_leader(&mut make_batch(&[b"z"], 1), 0, 1600)
        .unwrap();
    assert_eq!(log.segment_count(), before + 1, "segment.ms rolls");
}

#[test]
fn reopen_after_clean_and_unclean_shutdown_keeps_everything() {
    for clean in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), true);
        for i in 0..30 {
            log.append_as_leader(&mut make_batch(&[&[i as u8; 100]], i), 1, 0)
                .unwrap();
        }
        if clean {
            log.close().unwrap();
        }
        let expected = read_all(&log, 0);
        drop(log);
        let log = open(dir.path(), clean);
        assert_eq!(log.log_end_offset(), 30);
        assert_eq!(read_all(&log, 0), expected);
        assert_eq!(log.latest_epoch(), Some((1, 0)));
    }
}

fn last_segment_path(dir: &Path) -> PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn torn_tail_is_cut_to_the_last_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    for i in 0..5 {
        log.append_as_leader(&mut make_batch(&[b"abc"], i), 0, 0)
            .unwrap();
    }
    drop(log);
    let path = last_segment_path(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    // half a batch written at the end, as a crash in the middle of a write leaves it
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&make_batch(&[b"torn"], 9)[..40], len)
        .unwrap();
    let mut log = open(dir.path(), false);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert_eq!(
        log.append_as_leader(&mut make_batch(&[b"next"], 9), 0, 0)
            .unwrap()
            .base_offset,
        5
    );
}

#[test]
fn corrupt_batch_cuts_log_there_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    let value = [1u8; 300];
    for i in 0..12 {
        log.append_as_leader(&mut make_batch(&[&value], i), 0, 0)
            .unwrap();
    }
    let segments_before = log.segment_count();
    assert!(segments_before >= 3);
    drop(log);
    let mut logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    // flip a value byte in the second batch of the first segment
    let first = &logs[0];
    let f = OpenOptions::new()
        .write(true)
        .read(true)
        .open(first)
        .unwrap();
    let batch_len = make_batch(&[&value], 0).len() as u64;
    f.write_all_at(&[0xEE], batch_len + 100).unwrap();
    let log = open(dir.path(), false);
    assert_eq!(
        log.log_end_offset(),
        1,
        "everything from the corrupt batch on is gone"
    );
    assert_eq!(log.segment_count(), 1);
    assert_eq!(read_all(&log, 0).len(), 1);
}

#[test]
fn broken_or_missing_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    for i in 0..40 {
        log.append_as_leader(&mut make_batch(&[&[3u8; 90]], 1000 + i), 0, 0)
            .unwrap();
    }
    log.close().unwrap();
    let expected = read_all(&log, 0);
    drop(log);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("index") => std::fs::write(&p, [0xFFu8; 16]).unwrap(),
            Some("timeindex") => std::fs::remove_file(&p).unwrap(),
            _ => {}
        }
    }
    let log = open(dir.path(), true);
    assert_eq!(read_all(&log, 0), expected);
    for target in [0, 7, 20, 39] {
        assert_eq!(read_all(&log, target)[0].0, target);
        assert_eq!(
            log.offset_for_timestamp(1000 + target).unwrap(),
            Some((target, 1000 + target))
        );
    }
}

#[test]
fn timestamp_lookup_and_log_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    for (i, ts) in [100i64, 300, 200, 500].iter().enumerate() {
        log.append_as_leader(&mut make_batch(&[format!("{i}").as_bytes()], *ts), 0, 0)
            .unwrap();
    }
    assert_eq!(log.offset_for_timestamp(50).unwrap(), Some((0, 100)));
    assert_eq!(log.offset_for_timestamp(250).unwrap(), Some((1, 300)));
    assert_eq!(log.offset_for_timestamp(500).unwrap(), Some((3, 500)));
    assert_eq!(log.offset_for_timestamp(501).unwrap(), None);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((3, 500)));
    let mut cfg = small_config();
    cfg.log_append_time = true;
    log.set_config(cfg);
    let info = log
        .append_as_leader(&mut make_batch(&[b"t"], 1), 0, 777)
        .unwrap();
    assert_eq!(info.log_append_time, 777);
    assert_eq!(read_all(&log, 4)[0].2, 777);
}

#[test]
fn oversized_batches_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.max_message_bytes = 100;
    let mut log = Log::open(dir.path(), cfg, true, 0).unwrap();
    let err = log
        .append_as_leader(&mut make_batch(&[&[0u8; 200]], 0), 0, 0)
        .unwrap_err();
    assert!(matches!(err, BrokerError::MessageTooLarge { .. }));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn flush_messages_moves_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        flush_messages: 2,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), cfg, true, 0).unwrap();
    log.append_as_leader(&mut make_batch(&[b"a"], 0), 0, 0)
        .unwrap();
    assert_eq!(
        read_checkpoint(&dir.path().join(RECOVERY_POINT_FILE)),
        Some(0)
    );
    log.append_as_leader(&mut make_batch(&[b"b"], 0), 0, 0)
        .unwrap();
    assert_eq!(
        read_checkpoint(&dir.path().join(RECOVERY_POINT_FILE)),
        Some(2)
    );
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<usize>),
    Truncate(u8),
    Reopen(bool),
    Roll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(1usize..120, 1..5).prop_map(Op::Append),
        1 => any::<u8>().prop_map(Op::Truncate),
        1 => any::<bool>().prop_map(Op::Reopen),
        1 => Just(Op::Roll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random appends, rolls, truncations and reopens against a model: the list of batches.
    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), true);
        // model: (base offset, record count, timestamp) of every batch
        let mut model: Vec<(i64, i32, i64)> = Vec::new();
        let mut ts = 0i64;
        for op in ops {
            match op {
                Op::Append(sizes) => {
                    ts += 1;
                    let values: Vec<Vec<u8>> = sizes.iter().map(|n| vec![b'v'; *n]).collect();
                    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
                    let info = log.append_as_leader(&mut make_batch(&refs, ts), 0, 0).unwrap();
                    let next = model.last().map_or(0, |b| b.0 + i64::from(b.1));
                    prop_assert_eq!(info.base_offset, next);
                    model.push((info.base_offset, sizes.len() as i32, ts));
                }
                Op::Truncate(k) => {
                    if !model.is_empty() {
                        let i = k as usize % model.len();
                        let at = model[i].0;
                        log.truncate_to(at, 0).unwrap();
                        model.truncate(i);
                    }
                }
                Op::Reopen(clean) => {
                    if clean { log.close().unwrap(); }
                    drop(log);
                    log = open(dir.path(), clean);
                }
                Op::Roll => log.roll(0).unwrap(),
            }
            let leo = model.last().map_or(0, |b| b.0 + i64::from(b.1));
            prop_assert_eq!(log.log_end_offset(), leo);
        }
        prop_assert_eq!(read_all(&log, 0), model.clone());
        for b in &model {
            prop_assert_eq!(read_all(&log, b.0).first().copied(), Some(*b));
        }
    }
}

#[test]
fn leader_epoch_end_offsets_follow_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    assert_eq!(log.end_offset_for_epoch(0), None, "no epoch known yet");
    log.assign_epoch(0).unwrap();
    log.append_as_leader(&mut make_batch(&[b"a", b"b"], 1), 0, 0)
        .unwrap();
    log.assign_epoch(3).unwrap();
    log.append_as_leader(&mut make_batch(&[b"c"], 1), 3, 0)
        .unwrap();
    assert_eq!(
        log.end_offset_for_epoch(0),
        Some((0, 2)),
        "epoch 0 ends where epoch 3 starts"
    );
    assert_eq!(
        log.end_offset_for_epoch(2),
        Some((0, 2)),
        "unknown middle epoch: largest epoch below it"
    );
    assert_eq!(
        log.end_offset_for_epoch(3),
        Some((3, 3)),
        "latest epoch ends at the log end"
    );
    assert_eq!(
        log.end_offset_for_epoch(4),
        None,
        "an epoch newer than any known is undefined"
    );
    assert_eq!(log.end_offset_for_epoch(-1), None);
    assert_eq!(log.epoch_for_offset(1), Some(0));
    assert_eq!(log.epoch_for_offset(2), Some(3));
}

#[test]
fn max_timestamp_offset_points_at_the_record_inside_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    log.append_as_leader(&mut make_batch(&[b"x"], 5), 0, 0)
        .unwrap();
    // make_batch gives every record the batch timestamp: the first record holds the max.
    log.append_as_leader(&mut make_batch(&[b"a", b"b", b"c"], 90), 0, 0)
        .unwrap();
    log.append_as_leader(&mut make_batch(&[b"y"], 20), 0, 0)
        .unwrap();
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((1, 90)));
    // after DeleteRecords inside the batch, the answer is the newest record still visible
    log.delete_records_before(2, 5, 0).unwrap();
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((2, 90)));
    log.delete_records_before(4, 5, 0).unwrap();
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((4, 20)));
}

fn files_with_suffix(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(suffix)
        })
        .count()
}

/// 20 one-record batches of 200 bytes, record `i` stamped `i * 1000` ms: about three per segment.
fn twenty_batches(dir: &Path, cfg: LogConfig) -> Log {
    let mut log = Log::open(dir, cfg, true, 0).unwrap();
    for i in 0..20 {
        log.append_as_leader(&mut make_batch(&[&[i as u8; 200]], i * 1000), 0, 0)
            .unwrap();
    }
    log
}

#[test]
fn time_retention_deletes_whole_old_segments_and_moves_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: 5_000,
        file_delete_delay_ms: 1_000,
        ..small_config()
    };
    let mut log = twenty_batches(dir.path(), cfg);
    let segments = log.segment_count();
    // at t=20s, records stamped before 15s are past retention; the segment holding 15s stays
    let deleted = log.apply_retention(i64::MAX, 20_000).unwrap();
    assert!(deleted > 0 && deleted < segments);
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 15, "start {start}");
    assert_eq!(log.segments.keys().next().copied(), Some(start));
    assert!(matches!(
        log.read(start - 1, 1 << 20, i64::MAX, true),
        Err(BrokerError::OffsetOutOfRange { .. })
    ));
    let got = read_all(&log, start);
    assert_eq!(got.first().map(|b| b.0), Some(start));
    assert_eq!(got.last().map(|b| b.0), Some(19));
    // the files linger as .deleted for file.delete.delay.ms, then go
    assert_eq!(files_with_suffix(dir.path(), ".log.deleted"), deleted);
    log.delete_due_files(20_500);
    assert_eq!(files_with_suffix(dir.path(), ".log.deleted"), deleted);
    log.delete_due_files(21_000);
    assert_eq!(files_with_suffix(dir.path(), ".deleted"), 0);
    // offsets are never reused, and a reopened log starts where retention left it
    assert_eq!(
        log.append_as_leader(&mut make_batch(&[b"x"], 30_000), 0, 0)
            .unwrap()
            .base_offset,
        20
    );
    log.close().unwrap();
    drop(log);
    let log = Log::open(dir.path(), small_config(), true, 0).unwrap();
    assert_eq!(log.log_start_offset(), start);
    assert_eq!(log.log_end_offset(), 21);
}

#[test]
fn expired_active_segment_is_rolled_then_deleted_and_offsets_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: 1_000,
        ..small_config()
    };
    let mut log = twenty_batches(dir.path(), cfg);
    // nothing above the high watermark goes
    log.apply_retention(10, 1_000_000).unwrap();
    assert!(log.log_start_offset() <= 10);
    log.apply_retention(i64::MAX, 1_000_000).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 20));
    assert!(read_all(&log, 20).is_empty());
    let info = log
        .append_as_leader(&mut make_batch(&[b"after"], 2_000_000), 0, 0)
        .unwrap();
    assert_eq!(info.base_offset, 20);
    // a retention of -1 keeps everything
    let mut log = twenty_batches(
        tempfile::tempdir().unwrap().path(),
        LogConfig {
            retention_ms: -1,
            ..small_config()
        },
    );
    assert_eq!(log.apply_retention(i64::MAX, i64::MAX / 2).unwrap(), 0);
}

#[test]
fn size_retention_keeps_the_newest_segments_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: -1,
        retention_bytes: 2_000,
        ..small_config()
    };
    let mut log = twenty_batches(dir.path(), cfg.clone());
    let before = log.size_bytes();
    assert!(before > 2_000);
    log.apply_retention(i64::MAX, 0).unwrap();
    let after = log.size_bytes();
    assert!(after <= 2_000 + 1_024, "{after} bytes left");
    assert!(
        after >= 2_000 - 1_024,
        "at most one segment too many went: {after}"
    );
    assert_eq!(
        read_all(&log, log.log_start_offset()).last().map(|b| b.0),
        Some(19)
    );
    // compact-only logs ignore retention.bytes and retention.ms
    let mut compacted = twenty_batches(
        tempfile::tempdir().unwrap().path(),
        LogConfig {
            delete: false,
            retention_ms: 0,
            ..cfg
        },
    );
    assert_eq!(
        compacted.apply_retention(i64::MAX, i64::MAX / 2).unwrap(),
        0
    );
}

#[test]
fn delete_records_moves_the_start_durably_and_timestamp_lookups_respect_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = twenty_batches(dir.path(), small_config());
    assert!(matches!(
        log.delete_records_before(21, 20, 0),
        Err(BrokerError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records_before(7, 20, 0).unwrap(), 7);
    // a smaller offset later does not move the start back
    assert_eq!(log.delete_records_before(3, 20, 0).unwrap(), 7);
    assert!(log.segments.keys().next().copied().unwrap() <= 7);
    assert!(matches!(
        log.read(6, 1 << 20, i64::MAX, true),
        Err(BrokerError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, 7).first().map(|b| b.0), Some(7));
    // record 2 (t=2s) is gone: the first record at or after t=0 is now offset 7
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((7, 7_000)));
    assert_eq!(
        log.offset_for_timestamp(12_000).unwrap(),
        Some((12, 12_000))
    );
    // the newest visible record is asked for from the log start on
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((19, 19_000)));
    // the start survives a crash (the checkpoint is written before the answer)
    drop(log);
    let mut log = Log::open(dir.path(), small_config(), false, 0).unwrap();
    assert_eq!(log.log_start_offset(), 7);
    assert_eq!(log.delete_records_before(20, 20, 0).unwrap(), 20);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
}

// ---- compaction ----

/// A batch as a client (or, for markers, the broker) writes it: `records` as key and value,
/// stamped `ts`, from producer `pid` (-1: none) with these attributes.
fn build_batch(
    records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ts: i64,
    codec: i16,
    pid: i64,
    attributes: i16,
) -> Vec<u8> {
    let header = BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: -1,
        magic: 2,
        crc: 0,
        attributes,
        last_offset_delta: records.len() as i32 - 1,
        base_timestamp: ts,
        max_timestamp: ts,
        producer_id: pid,
        producer_epoch: if pid < 0 { -1 } else { 0 },
        base_sequence: if pid < 0 || attributes & 0x20 != 0 {
            -1
        } else {
            0
        },
        records_count: 0,
    };
    let records: Vec<OwnedRecord> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| OwnedRecord {
            offset_delta: i as i32,
            timestamp: ts,
            key: Some(key),
            value,
            headers: vec![0],
        })
        .collect();
    let how = batch::Rebuild {
        codec: Codec {
            id: codec,
            level: None,
        },
        delete_horizon: None,
    };
    batch::rebuild(&header, &records, how).unwrap()
}

/// A batch of keyed records as a client writes them (`None` value: a tombstone).
fn keyed_batch(recs: &[(String, Option<String>)], ts: i64, codec: i16) -> Vec<u8> {
    let records = recs
        .iter()
        .map(|(k, v)| {
            (
                k.as_bytes().to_vec(),
                v.as_ref().map(|v| v.as_bytes().to_vec()),
            )
        })
        .collect();
    build_batch(records, ts, codec, -1, 0)
}

type Rec = (i64, String, Option<String>);

/// Every record from the log start on: `(offset, key, value)`.
fn records(log: &Log) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let Some(slice) = log.read(offset, 1 << 20, i64::MAX, true).unwrap().slice else {
            break;
        };
        let bytes = slice.read().unwrap();
        let mut pos = 0;
        let mut next = offset;
        while pos + HEADER_LEN <= bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            if pos + h.size() > bytes.len() {
                break;
            }
            batch::check_stored(&bytes[pos..pos + h.size()]).unwrap();
            batch::for_each_record(&bytes[pos..pos + h.size()], &h, |r| {
                let o = h.base_offset + i64::from(r.offset_delta);
                if o >= offset {
                    let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                    out.push((o, s(r.key.unwrap()), r.value.map(s)));
                }
                true
            })
            .unwrap();
            next = h.next_offset();
            pos += h.size();
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    out
}

fn clean(log: &mut Log, map: &mut OffsetMap, now_ms: i64) -> Option<CleanStats> {
    let cell = parking_lot::Mutex::new(log);
    Log::clean_with(
        |f| f(&mut cell.lock()),
        i64::MAX,
        map,
        &Throttler::new(f64::INFINITY),
        now_ms,
    )
    .unwrap()
}

/// Cleans until a pass changes nothing more (several passes when the map is small).
fn clean_fully(log: &mut Log, map: &mut OffsetMap, now_ms: i64) {
    for _ in 0..1000 {
        let before = records(log);
        let dirty_left = first_dirty_offset(log.dir()).unwrap_or(0) < log.active().base_offset;
        clean(log, map, now_ms);
        if !dirty_left && records(log) == before {
            return;
        }
    }
    panic!("cleaning does not converge");
}

fn compact_config() -> LogConfig {
    LogConfig {
        compacted: true,
        delete: false,
        delete_retention_ms: 1_000,
        ..small_config()
    }
}

#[test]
fn compaction_keeps_the_latest_value_per_key_and_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), compact_config(), true, 0).unwrap();
    for round in 0..10 {
        for codec in [0, 4] {
            let recs: Vec<(String, Option<String>)> = (0..5)
                .map(|k| (format!("key{k}"), Some(format!("v{round}-{codec}-{k}"))))
                .collect();
            log.append_as_leader(&mut keyed_batch(&recs, 1_000, codec), 0, 0)
                .unwrap();
        }
    }
    let before = records(&log);
    assert_eq!(before.len(), 100);
    log.roll(0).unwrap();
    let mut map = OffsetMap::new(1 << 20, 0.9);
    let stats = clean(&mut log, &mut map, 0).unwrap();
    assert_eq!(stats.records_removed, 95);
    let after = records(&log);
    assert_eq!(after.len(), 5);
    for (i, (offset, key, value)) in after.iter().enumerate() {
        // the last batch (offsets 95..100) holds the latest value of each key, at its offset
        assert_eq!(*offset, 95 + i as i64);
        assert_eq!(key, &format!("key{i}"));
        assert_eq!(value.as_deref(), Some(format!("v9-4-{i}").as_str()));
        assert_eq!(before.iter().find(|r| r.0 == *offset), Some(&after[i]));
    }
    assert_eq!(first_dirty_offset(dir.path()), Some(100));
    // the cleaned segment came in with the indexes built beside it, and nothing is left over
    assert!(!dir.path().join("cleaner-tmp").exists());
    assert!(dir.path().join(format!("{:020}.index", 0)).exists());
    assert_eq!(log.log_end_offset(), 100, "the log end never moves");
    // a read from the start (offset 0, now in a gap) returns the first record left
    assert!(log
        .read(0, 1 << 20, i64::MAX, true)
        .unwrap()
        .slice
        .is_some());
    // appends carry on after the swap, and a reopen sees the same log
    log.append_as_leader(
        &mut keyed_batch(&[("key0".into(), Some("new".into()))], 1, 0),
        0,
        0,
    )
    .unwrap();
    log.close().unwrap();
    drop(log);
    let log = Log::open(dir.path(), compact_config(), false, 0).unwrap();
    assert_eq!(records(&log).len(), 6);
    assert_eq!(log.log_end_offset(), 101);
}

#[test]
fn tombstones_go_after_delete_retention_and_min_lag_and_ratio_gate_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), compact_config(), true, 0).unwrap();
    let put = |log: &mut Log, k: &str, v: Option<&str>| {
        log.append_as_leader(
            &mut keyed_batch(&[(k.into(), v.map(String::from))], 5_000, 0),
            0,
            0,
        )
        .unwrap();
    };
    put(&mut log, "a", Some("1"));
    put(&mut log, "b", Some("1"));
    put(&mut log, "a", None);
    log.roll(0).unwrap();
    // nothing clean yet, all dirty: ratio 1
    let c = log.cleanable(i64::MAX, 10_000).unwrap();
    assert_eq!((c.dirty_ratio, c.forced), (1.0, false));
    let mut map = OffsetMap::new(1 << 20, 0.9);
    clean(&mut log, &mut map, 10_000);
    // the tombstone stays (its horizon is stamped: 10s + 1s) and hides a's older value
    let got = records(&log);
    assert_eq!(
        got,
        vec![(1, "b".into(), Some("1".into())), (2, "a".into(), None)]
    );
    assert!(
        log.cleanable(i64::MAX, 10_500).is_none(),
        "all clean, horizon not due"
    );
    let due = log.cleanable(i64::MAX, 11_001).unwrap();
    assert!(due.forced, "a passed delete horizon forces a pass");
    clean(&mut log, &mut map, 11_001);
    assert_eq!(records(&log), vec![(1, "b".into(), Some("1".into()))]);

    // min.compaction.lag.ms keeps young segments out of reach
    let mut cfg = compact_config();
    cfg.min_compaction_lag_ms = 60_000;
    log.set_config(cfg);
    put(&mut log, "b", Some("2"));
    log.roll(0).unwrap();
    // record timestamps are 5s: young at 30s, old enough at 70s
    assert!(clean(&mut log, &mut map, 30_000).is_none() || records(&log).len() == 2);
    assert_eq!(records(&log).len(), 2);
    clean(&mut log, &mut map, 70_000);
    assert_eq!(records(&log), vec![(3, "b".into(), Some("2".into()))]);

    // min.cleanable.dirty.ratio: one dirty segment among many clean ones is not enough
    let mut cfg = compact_config();
    cfg.min_cleanable_ratio = 0.99;
    log.set_config(cfg);
    for i in 0..30 {
        put(&mut log, &format!("k{i}"), Some("x"));
    }
    log.roll(0).unwrap();
    clean(&mut log, &mut map, 70_000);
    put(&mut log, "k0", Some("y"));
    log.roll(0).unwrap();
    assert!(log.cleanable(i64::MAX, 70_000).is_none());
    // max.compaction.lag.ms forces it once the dirty records are that old
    let mut cfg = compact_config();
    cfg.min_cleanable_ratio = 0.99;
    cfg.max_compaction_lag_ms = 10_000;
    log.set_config(cfg);
    assert!(log.cleanable(i64::MAX, 70_000).unwrap().forced);
}

#[test]
fn a_small_offset_map_cleans_in_several_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), compact_config(), true, 0).unwrap();
    for round in 0..4 {
        for k in 0..40 {
            log.append_as_leader(
                &mut keyed_batch(&[(format!("k{k}"), Some(format!("{round}")))], 1, 0),
                0,
                0,
            )
            .unwrap();
        }
    }
    log.roll(0).unwrap();
    // room for 14 keys (16 buckets of 33 bytes, 7/8 full): each pass covers a few batches
    let mut map = OffsetMap::new(33 * 16, 1.0);
    assert_eq!(map.capacity(), 14);
    let first = clean(&mut log, &mut map, 0).unwrap();
    assert!(first.cleaned_up_to < 160, "one pass cannot cover 40 keys");
    clean_fully(&mut log, &mut map, 0);
    let got = records(&log);
    assert_eq!(got.len(), 40);
    assert!(got
        .iter()
        .all(|(o, _, v)| *o >= 120 && v.as_deref() == Some("3")));
}

#[test]
fn an_interrupted_swap_is_finished_or_discarded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), compact_config(), true, 0).unwrap();
    for i in 0..60 {
        log.append_as_leader(
            &mut keyed_batch(&[(format!("k{}", i % 7), Some(format!("{i}")))], 1, 0),
            0,
            0,
        )
        .unwrap();
    }
    log.roll(0).unwrap();
    log.close().unwrap();
    // a copy of the log before cleaning
    let before = tempfile::tempdir().unwrap();
    let copy_dir = |from: &Path, to: &Path| {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    };
    copy_dir(dir.path(), before.path());
    let uncleaned = records(&log);
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    let mut map = OffsetMap::new(1 << 20, 0.9);
    let stats = clean(&mut log, &mut map, 0).unwrap();
    assert_eq!(
        stats.groups_swapped,
        bases.len() - 1,
        "one group per full segment"
    );
    let (first_base, second_base) = (bases[0], bases[1]);
    // what the log holds once the first group alone is swapped in
    let cleaned: Vec<Rec> = records(&log)
        .into_iter()
        .filter(|r| r.0 < second_base)
        .chain(uncleaned.iter().filter(|r| r.0 >= second_base).cloned())
        .collect();
    assert!(cleaned.len() < uncleaned.len());
    log.close().unwrap();

    // crash right after the commit point: old segments still there, plus the .swap file
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(before.path(), crashed.path());
    std::fs::copy(
        dir.path().join(format!("{first_base:020}.log")),
        crashed
            .path()
            .join(format!("{first_base:020}.log.{second_base}.swap")),
    )
    .unwrap();
    let reopened = Log::open(crashed.path(), compact_config(), false, 0).unwrap();
    assert_eq!(records(&reopened), cleaned);

    // crash before the commit point: cleaner-tmp/ is dropped and the old data stays
    let early = tempfile::tempdir().unwrap();
    copy_dir(before.path(), early.path());
    let tmp = early.path().join("cleaner-tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join(format!("{first_base:020}.log")), b"junk").unwrap();
    let reopened = Log::open(early.path(), compact_config(), false, 0).unwrap();
    assert_eq!(records(&reopened).len(), 60);
    assert!(!tmp.exists());
}

#[derive(Debug, Clone)]
enum Write {
    Put(u8, u16),
    Delete(u8),
    Roll,
    Clean,
}

fn write_op() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => (0u8..12, any::<u16>()).prop_map(|(k, v)| Write::Put(k, v)),
        2 => (0u8..12).prop_map(Write::Delete),
        1 => Just(Write::Roll),
        1 => Just(Write::Clean),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random keyed writes, deletes and compactions against a model map: after every pass the
    /// log replays to the model's state; after a full clean past the tombstones' horizon it holds
    /// exactly the latest value of each live key, in offset order, at the offsets written.
    #[test]
    fn compaction_matches_a_model_map(
        ops in proptest::collection::vec(write_op(), 1..120),
        map_keys in 3usize..40,
        codec in prop_oneof![Just(0i16), Just(2i16), Just(4i16)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = compact_config();
        cfg.segment_bytes = 300;
        let mut log = Log::open(dir.path(), cfg, true, 0).unwrap();
        let mut map = OffsetMap::new(33 * map_keys as u64, 1.0);
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        let mut written: BTreeMap<i64, (String, Option<String>)> = BTreeMap::new();
        let now = 1_000;
        for op in ops {
            match op {
                Write::Put(k, v) => {
                    let (k, v) = (format!("k{k}"), format!("{v}"));
                    let info = log.append_as_leader(&mut keyed_batch(&[(k.clone(), Some(v.clone()))], 1, codec), 0, 0).unwrap();
                    written.insert(info.base_offset, (k.clone(), Some(v.clone())));
                    model.insert(k, v);
                }
                Write::Delete(k) => {
                    let k = format!("k{k}");
                    let info = log.append_as_leader(&mut keyed_batch(&[(k.clone(), None)], 1, codec), 0, 0).unwrap();
                    written.insert(info.base_offset, (k.clone(), None));
                    model.remove(&k);
                }
                Write::Roll => log.roll(0).unwrap(),
                Write::Clean => { clean(&mut log, &mut map, now); }
            }
            let got = records(&log);
            // offsets rise, and every record is the one written at its offset
            prop_assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
            for (o, k, v) in &got {
                prop_assert_eq!(written.get(o), Some(&(k.clone(), v.clone())));
            }
            // replaying the log gives the model's table
            let mut replay = BTreeMap::new();
            for (_, k, v) in got {
                match v { Some(v) => { replay.insert(k, v); } None => { replay.remove(&k); } }
            }
            prop_assert_eq!(&replay, &model);
        }
        log.roll(0).unwrap();
        clean_fully(&mut log, &mut map, now);
        clean_fully(&mut log, &mut map, now + 1_000_000);
        let got = records(&log);
        let mut expected: Vec<Rec> = model
            .iter()
            .map(|(k, v)| {
                let offset = *written.iter().rev().find(|(_, (wk, _))| wk == k).unwrap().0;
                (offset, k.clone(), Some(v.clone()))
            })
            .collect();
        expected.sort();
        prop_assert_eq!(got, expected);
    }
}

/// A batch from producer `pid`: transactional data, or a control marker (`Some(commit)`).
fn producer_batch(pid: i64, marker: Option<bool>, recs: &[(&str, &str)]) -> Vec<u8> {
    match marker {
        // key: version 0, type (0 abort, 1 commit); value: version 0, coordinator epoch 0
        Some(commit) => build_batch(
            vec![(vec![0, 0, 0, u8::from(commit)], Some(vec![0; 6]))],
            1,
            0,
            pid,
            0x30,
        ),
        None => {
            let records = recs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec())))
                .collect();
            build_batch(records, 1, 0, pid, 0x10)
        }
    }
}

/// Appends a producer's batch, or writes its marker as the coordinator does.
fn append_any(log: &mut Log, mut b: Vec<u8>) {
    let (header, summary) = batch::validate_produced(&b).unwrap();
    if header.is_control() {
        let marker = batch::read_marker(&b, &header).unwrap();
        log.append_marker(header.producer_id, header.producer_epoch, marker, 0, 0)
            .unwrap();
        return;
    }
    log.append_validated(&mut b, Validated { header, summary }, 0, 0, Origin::Client)
        .unwrap();
}

/// Every batch: `(base offset, producer id, control, record count)`.
fn batches(log: &Log) -> Vec<(i64, i64, bool, i32)> {
    let mut out = Vec::new();
    for seg in log.segments.values() {
        let bytes = seg.read_batch(0, seg.size as usize).unwrap();
        let mut pos = 0;
        while pos + HEADER_LEN <= bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            out.push((
                h.base_offset,
                h.producer_id,
                h.is_control(),
                h.records_count,
            ));
            pos += h.size();
        }
    }
    out
}

#[test]
fn compaction_drops_aborted_data_and_markers_of_finished_transactions_as_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), compact_config(), true, 0).unwrap();
    append_any(
        &mut log,
        producer_batch(7, None, &[("k1", "a1"), ("k2", "a2")]),
    ); // 0-1
    append_any(&mut log, producer_batch(8, None, &[("k3", "aborted")])); // 2
    append_any(&mut log, producer_batch(8, Some(false), &[])); // 3: abort
    append_any(&mut log, producer_batch(7, Some(true), &[])); // 4: commit
    log.append_as_leader(
        &mut keyed_batch(&[("k1".into(), Some("new".into()))], 1, 0),
        0,
        0,
    )
    .unwrap(); // 5
    log.roll(0).unwrap();
    let mut map = OffsetMap::new(1 << 20, 0.9);
    clean(&mut log, &mut map, 0);
    // aborted data is gone, its producer's batch kept empty (its last data batch); the commit
    // marker stays while k2 of its transaction is left; the abort marker waits for its horizon
    assert_eq!(
        batches(&log),
        vec![
            (0, 7, false, 1),
            (2, 8, false, 0),
            (3, 8, true, 1),
            (4, 7, true, 1),
            (5, -1, false, 1)
        ]
    );
    let data: Vec<(i64, String)> = records(&log)
        .into_iter()
        .filter(|r| r.1.starts_with('k'))
        .map(|r| (r.0, r.2.unwrap()))
        .collect();
    assert_eq!(data, vec![(1, "a2".to_string()), (5, "new".to_string())]);

    // k2 overwritten: the transaction has no data left, so its marker gets a horizon too
    log.append_as_leader(
        &mut keyed_batch(&[("k2".into(), Some("new".into()))], 1, 0),
        0,
        0,
    )
    .unwrap(); // 6
    log.roll(0).unwrap();
    clean(&mut log, &mut map, 0);
    assert_eq!(
        batches(&log),
        vec![
            (0, 7, false, 0),
            (2, 8, false, 0),
            (3, 8, true, 1),
            (4, 7, true, 1),
            (5, -1, false, 1),
            (6, -1, false, 1)
        ]
    );
    // past delete.retention.ms both markers go; the empty batches keep the producers' sequences
    clean(&mut log, &mut map, 5_000);
    assert_eq!(
        batches(&log),
        vec![
            (0, 7, false, 0),
            (2, 8, false, 0),
            (5, -1, false, 1),
            (6, -1, false, 1)
        ]
    );
}

#[test]
fn unclean_open_rebuilds_the_aborted_index_past_the_recovery_point_despite_a_newer_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), true);
    append_any(&mut log, producer_batch(7, None, &[("k1", "a")])); // 0
    append_any(&mut log, producer_batch(7, Some(true), &[])); // 1: commit
    log.flush().unwrap(); // recovery point 2
    append_any(&mut log, producer_batch(8, None, &[("k2", "b")])); // 2
    append_any(&mut log, producer_batch(8, Some(false), &[])); // 3: abort
    let want = vec![AbortedTxn {
        producer_id: 8,
        first_offset: 2,
        last_offset: 3,
        last_stable_offset: 4,
    }];
    assert_eq!(log.aborted_txns(0, 4), want);
    // a snapshot at the log end reached the disk, the index entry of the abort did not
    log.take_snapshot(true).unwrap();
    let txnindex = Segment::txn_index_path(dir.path(), 0);
    drop(log);
    std::fs::write(&txnindex, b"").unwrap();
    let log = open(dir.path(), false);
    assert_eq!(
        log.aborted_txns(0, 4),
        want,
        "the aborted transaction is lost"
    );
    assert_eq!(log.last_stable_offset(4), 4);
}
