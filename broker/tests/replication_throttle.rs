//! Replication throttles (KIP-73) in an in-process cluster of two brokers, set as
//! `kafka-reassign-partitions --throttle` sets them: a partition moving onto a second broker is
//! copied no faster than the follower-side or leader-side rate allows while it is out of the
//! ISR, and catches up once the throttle is removed.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tributary_testkit::{unique_name, TestCluster};

/// Records written before the move: about 2 MB, twice what one fetch copies.
const RECORDS: i64 = 2000;
/// The throttle: 100 kB/s, so that the first fetch (up to `replica.fetch.max.bytes`, 1 MiB)
/// exceeds it for ten seconds.
const RATE: &str = "100000";

fn admin(cluster: &TestCluster) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())
        .create()
        .unwrap()
}

async fn alter(cluster: &TestCluster, config: AlterConfig<'_>) {
    let r = admin(cluster)
        .alter_configs([&config], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
}

/// A topic with one partition on broker 1 holding `RECORDS` records of 1 kB.
async fn topic_on_broker_1(cluster: &TestCluster) -> String {
    let topic = unique_name("throttled");
    let replicas: &[i32] = &[1];
    let assignment = [replicas];
    let t = NewTopic::new(&topic, 1, TopicReplication::Variable(&assignment));
    let r = admin(cluster)
        .create_topics([&t], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let value = vec![b'x'; 1000];
    let sends: Vec<_> = (0..RECORDS)
        .map(|_| {
            producer.send(
                FutureRecord::<(), _>::to(&topic).payload(&value),
                Duration::from_secs(30),
            )
        })
        .collect();
    for s in sends {
        s.await.unwrap();
    }
    topic
}

/// Broker 2's log end for `topic`-0 (0 before it hosts the partition).
fn copied(cluster: &TestCluster, topic: &str) -> i64 {
    cluster
        .broker(2)
        .state()
        .replicas
        .get(topic, 0)
        .map_or(0, |p| p.offsets().log_end_offset)
}

/// Throttles `side` ("leader" on broker 1 or "follower" on broker 2), moves the partition to
/// [1, 2], checks the copy is held back, lifts the throttle and checks it completes.
async fn throttled_move(side: &str, broker: i32) {
    let cluster = TestCluster::start(2, &[]).await;
    let topic = topic_on_broker_1(&cluster).await;
    let rate = format!("{side}.replication.throttled.rate");
    let replicas = format!("{side}.replication.throttled.replicas");
    alter(
        &cluster,
        AlterConfig::new(ResourceSpecifier::Broker(broker)).set(&rate, RATE),
    )
    .await;
    let entry = format!("0:{broker}");
    alter(
        &cluster,
        AlterConfig::new(ResourceSpecifier::Topic(&topic)).set(&replicas, &entry),
    )
    .await;
    // both brokers apply the configs before the move starts
    for id in [1, 2] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let image = cluster.broker(id).state().image();
            let set = image.topics[&topic].configs.contains_key(&replicas)
                && image
                    .dynamic_configs(broker)
                    .broker
                    .is_some_and(|c| c.contains_key(&rate));
            if set {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "configs not applied"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(cluster.reassign(&topic, Some(&[1, 2])).await, 0);

    // unthrottled the copy takes a moment; at 100 kB/s it takes over ten seconds
    tokio::time::sleep(Duration::from_secs(3)).await;
    let so_far = copied(&cluster, &topic);
    assert!(
        so_far < RECORDS,
        "{side} throttle: broker 2 copied {so_far} of {RECORDS} records in 3 s"
    );
    let p = &cluster.image().topics[&topic].partitions[0];
    assert_eq!(p.isr, [1], "{p:?}");

    // lifted (AlterConfigs replaces the broker's dynamic configs with none), the copy completes
    alter(
        &cluster,
        AlterConfig::new(ResourceSpecifier::Broker(broker)),
    )
    .await;
    cluster
        .wait_for(Duration::from_secs(30), |img| {
            let p = &img.topics[&topic].partitions[0];
            p.isr.len() == 2 && p.adding.is_empty()
        })
        .await;
    assert_eq!(copied(&cluster, &topic), RECORDS);
    assert_eq!(
        cluster.replica_log(1, &topic, 0),
        cluster.replica_log(2, &topic, 0)
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_throttle_holds_back_a_moving_replica_until_lifted() {
    throttled_move("follower", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_throttle_holds_back_a_moving_replica_until_lifted() {
    throttled_move("leader", 1).await;
}
