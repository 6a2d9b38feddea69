//! Partition reassignment (AlterPartitionReassignments / ListPartitionReassignments) and leader
//! elections on request (ElectLeaders) in an in-process cluster of four brokers, over the wire
//! as Kafka's admin client sends them: a partition moves to other brokers and keeps every
//! record, a reassignment waiting for a stopped broker is listed and can be cancelled, and a
//! preferred election moves leadership to the first replica.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    BrokerId, ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tributary_broker::error::ErrorCode;
use tributary_testkit::requests::topic_name;
use tributary_testkit::{unique_name, RawClient, TestCluster};

fn client(cluster: &TestCluster) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cluster.bootstrap())
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500");
    c
}

async fn raw(cluster: &TestCluster) -> RawClient {
    let first = cluster.bootstrap().split(',').next().unwrap().to_string();
    RawClient::connect(&first).await.unwrap()
}

/// The ongoing reassignments of `topic` as (replicas, adding, removing) of partition 0.
async fn listed(cluster: &TestCluster, topic: &str) -> Option<(Vec<i32>, Vec<i32>, Vec<i32>)> {
    let resp = raw(cluster)
        .await
        .call(&ListPartitionReassignmentsRequest::default(), 0)
        .await
        .unwrap()
        .unwrap();
    let t = resp.topics.iter().find(|t| t.name.0.as_str() == topic)?;
    let p = t.partitions.iter().find(|p| p.partition_index == 0)?;
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect();
    Some((
        ids(&p.replicas),
        ids(&p.adding_replicas),
        ids(&p.removing_replicas),
    ))
}

async fn elect_preferred(cluster: &TestCluster, topic: &str) -> i16 {
    let req = ElectLeadersRequest::default()
        .with_election_type(0)
        .with_timeout_ms(30_000)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![0])]));
    let resp: ElectLeadersResponse = raw(cluster).await.call(&req, 2).await.unwrap().unwrap();
    resp.replica_election_results[0].partition_result[0].error_code
}

fn partition(cluster: &TestCluster, topic: &str) -> tributary_broker::metadata::PartitionImage {
    cluster.image().topics[topic].partitions[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_moves_to_other_brokers_and_keeps_every_record() {
    let cluster = TestCluster::start(4, &[]).await;
    let topic = unique_name("moving");
    cluster.create_topic_on(&topic, &[1, 2]).await;
    cluster.produce_numbered(&topic, 200).await;
    // [1, 2] -> [3, 4]: both new replicas copy the log, then the old ones are dropped
    assert_eq!(
        cluster.reassign(&topic, Some(&[3, 4])).await,
        ErrorCode::None.code()
    );
    cluster
        .wait_for(Duration::from_secs(30), |img| {
            let p = &img.topics[&topic].partitions[0];
            p.replicas == [3, 4] && p.adding.is_empty() && p.removing.is_empty()
        })
        .await;
    let p = partition(&cluster, &topic);
    assert!(p.leader == 3 || p.leader == 4, "{p:?}");
    // (brokers answer from their metadata image, a moment behind the controller's)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listed(&cluster, &topic).await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "still listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // the old replicas' logs are gone, the new ones have every record
    for id in [1, 2] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while cluster.broker(id).state().replicas.get(&topic, 0).is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "broker {id} keeps the replica"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let consumer: BaseConsumer = client(&cluster).set("group.id", "check").create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while got.len() < 200 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    let want: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want);
    // and the log is the same on both new replicas
    assert_eq!(
        cluster.replica_log(3, &topic, 0),
        cluster.replica_log(4, &topic, 0)
    );
    // (closed while the brokers run: a consumer closed after them retries for its session)
    drop(consumer);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reassignment_waiting_for_a_stopped_broker_is_listed_and_can_be_cancelled() {
    let mut cluster = TestCluster::start(4, &[]).await;
    let topic = unique_name("waiting");
    cluster.create_topic_on(&topic, &[1, 2]).await;
    cluster.stop_broker(4).await;
    // 4 cannot catch up while it is down: the reassignment stays in progress
    assert_eq!(
        cluster.reassign(&topic, Some(&[1, 4])).await,
        ErrorCode::None.code()
    );
    assert_eq!(
        listed(&cluster, &topic).await,
        Some((vec![1, 4, 2], vec![4], vec![2]))
    );
    // bad targets are refused as Kafka refuses them
    assert_eq!(
        cluster.reassign(&topic, Some(&[1, 9])).await,
        ErrorCode::InvalidReplicaAssignment.code()
    );
    assert_eq!(
        cluster.reassign(&topic, Some(&[1, 1])).await,
        ErrorCode::InvalidReplicaAssignment.code()
    );
    // cancelled: back to the original replicas, nothing in progress
    assert_eq!(cluster.reassign(&topic, None).await, ErrorCode::None.code());
    let p = partition(&cluster, &topic);
    assert_eq!(
        (p.replicas.clone(), p.adding.is_empty()),
        (vec![1, 2], true)
    );
    assert_eq!(listed(&cluster, &topic).await, None);
    assert_eq!(
        cluster.reassign(&topic, None).await,
        ErrorCode::NoReassignmentInProgress.code()
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_preferred_election_moves_leadership_to_the_first_replica() {
    // (no automatic rebalancing, so that only the election moves the leader)
    let cluster = TestCluster::start(3, &[("auto.leader.rebalance.enable", "false")]).await;
    let topic = unique_name("elect");
    cluster.create_topic_on(&topic, &[1, 2, 3]).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr.len() == 3
        })
        .await;
    // reordering the replicas completes at once and keeps the leader: 1 leads, 2 is preferred
    assert_eq!(
        cluster.reassign(&topic, Some(&[2, 3, 1])).await,
        ErrorCode::None.code()
    );
    let p = partition(&cluster, &topic);
    assert_eq!((p.replicas.clone(), p.leader), (vec![2, 3, 1], 1));
    assert_eq!(
        elect_preferred(&cluster, &topic).await,
        ErrorCode::None.code()
    );
    cluster
        .wait_for(Duration::from_secs(10), |img| {
            img.topics[&topic].partitions[0].leader == 2
        })
        .await;
    assert_eq!(
        elect_preferred(&cluster, &topic).await,
        ErrorCode::ElectionNotNeeded.code()
    );
    cluster.shutdown().await;
}
