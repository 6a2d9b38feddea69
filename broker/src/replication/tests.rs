//! A partition's replication role end to end in one process: leader and follower replicas of
//! one partition, copying by hand what a fetcher would copy.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::purgatory::wait_for_high_watermark;
use crate::error::ErrorCode;
use crate::log::{make_batch, Log, LogConfig};
use crate::metadata::{LeaderRecovery, PartitionImage};
use crate::partition::{Partition, RoleChange};

const LAG: u64 = 30_000;

fn state(replicas: &[i32], isr: &[i32], leader: i32, epoch: i32) -> PartitionImage {
    PartitionImage {
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        leader,
        leader_epoch: epoch,
        partition_epoch: epoch,
        adding: vec![],
        removing: vec![],
        leader_recovery: LeaderRecovery::Recovered,
    }
}

fn replica(dir: &std::path::Path, me: i32, s: &PartitionImage, min_isr: i32) -> Arc<Partition> {
    let config = LogConfig {
        min_insync_replicas: min_isr,
        ..LogConfig::default()
    };
    let log = Log::open(dir, config, true, 0).unwrap();
    Arc::new(Partition::new(
        Arc::from("t"),
        Uuid::nil(),
        0,
        log,
        me,
        s,
        LAG,
    ))
}

/// Copies what `follower` lacks from `leader`, then tells the leader where the follower is.
fn fetch(leader: &Partition, follower: &Partition, id: i32) {
    let from = follower.offsets().log_end_offset;
    let (info, offsets) = leader.read_for_replica(from, 1 << 20).unwrap();
    let bytes = info.slice.map(|s| s.read().unwrap()).unwrap_or_default();
    follower
        .append_as_follower(
            follower.leader_epoch(),
            &bytes,
            offsets.high_watermark,
            offsets.log_start_offset,
            0,
        )
        .unwrap();
    let leo = follower.offsets().log_end_offset;
    if let Some(p) = leader.on_follower_fetch(id, leo, 0, 1, true) {
        panic!("unexpected ISR proposal {p:?}");
    }
}

fn deadline(ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(ms)
}

#[tokio::test]
async fn acks_all_is_answered_once_the_followers_have_the_batch() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = state(&[1, 2], &[1, 2], 1, 3);
    let leader = replica(d1.path(), 1, &s, 2);
    let follower = replica(d2.path(), 2, &s, 2);
    let info = leader
        .append(&mut make_batch(&[b"a", b"b"], 1), -1, 0)
        .unwrap();
    assert_eq!(leader.offsets().high_watermark, 0, "not replicated yet");
    let epoch = leader.leader_epoch();
    let waiting = {
        let leader = Arc::clone(&leader);
        tokio::spawn(async move {
            wait_for_high_watermark(&leader, info.last_offset + 1, epoch, deadline(10_000)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished());
    fetch(&leader, &follower, 2);
    assert_eq!(waiting.await.unwrap(), ErrorCode::None);
    assert_eq!(leader.offsets().high_watermark, 2);
    // the follower learns the high watermark at its next fetch
    fetch(&leader, &follower, 2);
    assert_eq!(follower.offsets().high_watermark, 2);
    assert_eq!(follower.offsets().log_end_offset, 2);
}

#[tokio::test]
async fn a_write_whose_leadership_moves_is_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&[1, 2], &[1, 2], 1, 3);
    let leader = replica(dir.path(), 1, &s, 1);
    let info = leader.append(&mut make_batch(&[b"a"], 1), -1, 0).unwrap();
    let epoch = leader.leader_epoch();
    let waiting = {
        let leader = Arc::clone(&leader);
        tokio::spawn(async move {
            wait_for_high_watermark(&leader, info.last_offset + 1, epoch, deadline(10_000)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let change = leader.apply_state(&state(&[1, 2], &[2], 2, 4), &|_| true);
    assert_eq!(change, RoleChange::BecameFollower { leader: 2 });
    assert_eq!(waiting.await.unwrap(), ErrorCode::NotLeaderOrFollower);
    // and a follower takes no writes
    let e = leader
        .append(&mut make_batch(&[b"b"], 1), 1, 0)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotLeaderOrFollower);
}

#[tokio::test]
async fn acks_all_times_out_when_a_follower_never_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let leader = replica(dir.path(), 1, &state(&[1, 2], &[1, 2], 1, 0), 1);
    let info = leader.append(&mut make_batch(&[b"a"], 1), -1, 0).unwrap();
    let code = wait_for_high_watermark(&leader, info.last_offset + 1, 0, deadline(100)).await;
    assert_eq!(code, ErrorCode::RequestTimedOut);
}

#[test]
fn acks_all_is_refused_up_front_below_min_insync_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let leader = replica(dir.path(), 1, &state(&[1, 2, 3], &[1], 1, 0), 2);
    let e = leader
        .append(&mut make_batch(&[b"a"], 1), -1, 0)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotEnoughReplicas);
    // acks=1 is written
    leader.append(&mut make_batch(&[b"a"], 1), 1, 0).unwrap();
    // the ISR grows (the controller committed it): acks=all is taken again
    assert_eq!(
        leader.apply_state(&state(&[1, 2, 3], &[1, 2], 1, 0), &|_| true),
        RoleChange::Unchanged
    );
    leader.append(&mut make_batch(&[b"a"], 1), -1, 0).unwrap();
}

#[test]
fn a_follower_records_no_epoch_it_did_not_copy_and_a_new_leader_starts_one() {
    let dir = tempfile::tempdir().unwrap();
    // the log holds data of epoch 0; this broker follows at epoch 5
    let log = Log::open(dir.path(), LogConfig::default(), true, 0).unwrap();
    drop(log);
    let p = replica(dir.path(), 2, &state(&[1, 2], &[1, 2], 1, 0), 1);
    p.append(&mut make_batch(&[b"x"], 1), 1, 0).unwrap_err();
    let leader_state = state(&[1, 2], &[1, 2], 2, 0);
    assert_eq!(
        p.apply_state(&leader_state, &|_| true),
        RoleChange::BecameLeader
    );
    p.append(&mut make_batch(&[b"x", b"y"], 1), 1, 0).unwrap();
    assert_eq!(
        p.apply_state(&state(&[1, 2], &[1, 2], 1, 5), &|_| true),
        RoleChange::BecameFollower { leader: 1 }
    );
    // following at epoch 5 records nothing: epoch 5 starts where the leader says it does
    assert_eq!(p.latest_epoch(), Some((0, 0)));
    // leading at epoch 6 starts epoch 6 at the log end
    assert_eq!(
        p.apply_state(&state(&[1, 2], &[1, 2], 2, 6), &|_| true),
        RoleChange::BecameLeader
    );
    assert_eq!(p.latest_epoch(), Some((6, 2)));
    // an older image changes nothing
    assert_eq!(
        p.apply_state(&state(&[1, 2], &[1, 2], 1, 5), &|_| true),
        RoleChange::Unchanged
    );
}

#[test]
fn a_leader_takes_no_follower_appends_and_a_follower_caps_the_high_watermark_at_its_end() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = state(&[1, 2], &[1, 2], 1, 0);
    let leader = replica(d1.path(), 1, &s, 1);
    let follower = replica(d2.path(), 2, &s, 1);
    leader.append(&mut make_batch(&[b"a"], 1), 1, 0).unwrap();
    leader
        .append(&mut make_batch(&[b"b", b"c"], 1), 1, 0)
        .unwrap();
    let (info, _) = leader.read_for_replica(0, 1 << 20).unwrap();
    let bytes = info.slice.unwrap().read().unwrap();
    assert_eq!(
        leader
            .append_as_follower(0, &bytes, 3, 0, 0)
            .unwrap_err()
            .code(),
        ErrorCode::NotLeaderOrFollower
    );
    // the leader says HW 10 (it knows more than it sent): the follower's HW is its own end
    follower.append_as_follower(0, &bytes, 10, 0, 0).unwrap();
    // data fetched for an older leadership is refused
    assert!(follower.append_as_follower(-1, &bytes, 10, 0, 0).is_err());
    assert_eq!(follower.offsets().high_watermark, 3);
    // truncation pulls the high watermark back with the log end
    follower.truncate_to(0, 1, 0).unwrap();
    let o = follower.offsets();
    assert_eq!((o.log_end_offset, o.high_watermark), (1, 1));
}

#[test]
fn a_single_replica_leads_with_the_high_watermark_at_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = replica(dir.path(), 1, &state(&[1], &[1], 1, 0), 2);
    let info = p.append(&mut make_batch(&[b"a"], 1), -1, 0).unwrap();
    assert_eq!(p.offsets().high_watermark, info.last_offset + 1);
    assert!(!p.under_min_isr());
}
