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
    // the start survives a crash (the checkpoint is written before the answer)
    drop(log);
    let mut log = Log::open(dir.path(), small_config(), false, 0).unwrap();
    assert_eq!(log.log_start_offset(), 7);
    assert_eq!(log.delete_records_before(20, 20, 0).unwrap(), 20);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
}
