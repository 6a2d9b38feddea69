//! The high watermark checkpoint (`replication-offset-checkpoint`, as Kafka writes it): a
//! replica restarted while its leader is down starts from the high watermark it had, not from
//! its log start, so that what was committed stays visible.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tributary_testkit::{unique_name, TestCluster};

const RECORDS: i64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_replica_starts_from_its_saved_high_watermark() {
    let mut cluster = TestCluster::start(2, &[]).await;
    let topic = unique_name("checkpointed");
    cluster.create_topic_on(&topic, &[1, 2]).await;
    cluster.produce_numbered(&topic, RECORDS as usize).await;
    // the follower learns the high watermark on its next fetch
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while cluster
        .broker(2)
        .state()
        .replicas
        .get(&topic, 0)
        .unwrap()
        .offsets()
        .high_watermark
        < RECORDS
    {
        assert!(tokio::time::Instant::now() < deadline, "follower lags");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // both stop; the follower's stop saved its high watermark in Kafka's format
    let dir2 = cluster.broker(2).state().config.data_dir.clone();
    cluster.stop_broker(2).await;
    let saved = std::fs::read_to_string(dir2.join("replication-offset-checkpoint")).unwrap();
    let mut lines = saved.lines();
    assert_eq!(lines.next(), Some("0"), "{saved}");
    assert!(
        saved.lines().any(|l| l == format!("{topic} 0 {RECORDS}")),
        "{saved}"
    );
    cluster.stop_broker(1).await;

    // broker 2 comes back with nobody to fetch from: its replica still has the high watermark
    cluster.restart(2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let partition = loop {
        if let Some(p) = cluster.broker(2).state().replicas.get(&topic, 0) {
            break p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "partition not opened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(partition.offsets().high_watermark, RECORDS);
    assert_eq!(partition.offsets().log_end_offset, RECORDS);
    cluster.shutdown().await;
}
