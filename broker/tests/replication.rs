//! Replication in an in-process cluster of three brokers sharing one controller, with a real
//! Kafka client (librdkafka): acks=all waits for the ISR, min.insync.replicas, ISR shrink and
//! expansion, failover without losing acknowledged records, and followers that truncate a
//! divergent tail so that every replica's log ends byte for byte the same.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tributary_broker::partition::Partition;
use tributary_testkit::{unique_name, TestCluster};

fn client(cluster: &TestCluster) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cluster.bootstrap())
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500")
        .set("retry.backoff.ms", "100");
    c
}

async fn create_topic(cluster: &TestCluster, name: &str, rf: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = client(cluster).create().unwrap();
    let mut t = NewTopic::new(name, 1, TopicReplication::Fixed(rf));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin
        .create_topics([&t], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

fn producer(cluster: &TestCluster, acks: &str) -> FutureProducer {
    client(cluster)
        .set("acks", acks)
        .set(
            "enable.idempotence",
            if acks == "all" { "true" } else { "false" },
        )
        .set("message.timeout.ms", "20000")
        .set("linger.ms", "0")
        .create()
        .unwrap()
}

async fn send(p: &FutureProducer, topic: &str, value: &str) -> Result<i64, RDKafkaErrorCode> {
    p.send(
        FutureRecord::<(), _>::to(topic).partition(0).payload(value),
        Duration::from_secs(20),
    )
    .await
    .map(|d| d.offset)
    .map_err(|(e, _)| e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail))
}

/// Partition 0 of `topic` on broker `id`.
fn replica(cluster: &TestCluster, id: i32, topic: &str) -> Arc<Partition> {
    cluster
        .broker(id)
        .state()
        .replicas
        .get(topic, 0)
        .expect("replica hosted")
}

fn leader_of(cluster: &TestCluster, topic: &str) -> i32 {
    cluster.image().topics[topic].partitions[0].leader
}

/// Waits until `done` holds, checking every 50 ms, for at most 20 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record of partition 0 of `topic`, read from the beginning through the cluster.
fn consume(cluster: &TestCluster, topic: &str, want: usize) -> Vec<String> {
    let consumer: BaseConsumer = client(cluster)
        .set("group.id", unique_name("g"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < want && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    out
}

/// The bytes of every replica's log of partition 0, read up to its log end.
fn replica_bytes(cluster: &TestCluster, ids: &[i32], topic: &str) -> BTreeMap<i32, Vec<u8>> {
    ids.iter()
        .map(|id| (*id, cluster.replica_log(*id, topic, 0)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_is_answered_once_every_isr_member_has_the_batch() {
    let cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("acks-all");
    create_topic(&cluster, &topic, 3, &[("min.insync.replicas", "2")]).await;
    let p = producer(&cluster, "all");
    for i in 0..20 {
        let offset = send(&p, &topic, &format!("v{i}")).await.unwrap();
        // acknowledged means replicated: the leader's high watermark is past it
        let leader = replica(&cluster, leader_of(&cluster, &topic), &topic);
        assert!(leader.offsets().high_watermark > offset);
    }
    eventually("every replica has every record", || {
        (1..=3).all(|id| replica(&cluster, id, &topic).offsets().log_end_offset == 20)
    })
    .await;
    let bytes = replica_bytes(&cluster, &[1, 2, 3], &topic);
    assert!(
        bytes.values().all(|b| *b == bytes[&1]),
        "replica logs are identical"
    );
    assert_eq!(consume(&cluster, &topic, 20).len(), 20);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_follower_leaves_the_isr_and_rejoins_when_it_catches_up() {
    let cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("isr");
    create_topic(&cluster, &topic, 3, &[]).await;
    let leader = leader_of(&cluster, &topic);
    let stalled = (1..=3).find(|b| *b != leader).unwrap();
    cluster
        .broker(stalled)
        .state()
        .replicas
        .fetchers()
        .unwrap()
        .set_paused(true);
    let p = producer(&cluster, "all");
    send(&p, &topic, "before").await.unwrap();
    // replica.lag.time.max.ms is 2 s in the test cluster
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            !img.topics[&topic].partitions[0].isr.contains(&stalled)
        })
        .await;
    // acks=all goes on with the two others
    send(&p, &topic, "while stalled").await.unwrap();
    cluster
        .broker(stalled)
        .state()
        .replicas
        .fetchers()
        .unwrap()
        .set_paused(false);
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr.len() == 3
        })
        .await;
    assert_eq!(
        replica(&cluster, stalled, &topic).offsets().log_end_offset,
        2
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("min-isr");
    create_topic(&cluster, &topic, 3, &[("min.insync.replicas", "2")]).await;
    let leader = leader_of(&cluster, &topic);
    let p = producer(&cluster, "all");
    send(&p, &topic, "ok").await.unwrap();
    for b in (1..=3).filter(|b| *b != leader) {
        cluster.kill(b).await;
    }
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr == [leader]
        })
        .await;
    // (the error is retriable: a producer without retries sees it)
    let strict = client(&cluster)
        .set("acks", "all")
        .set("retries", "0")
        .set("message.timeout.ms", "10000")
        .create::<FutureProducer>()
        .unwrap();
    let e = send(&strict, &topic, "refused").await.unwrap_err();
    assert_eq!(e, RDKafkaErrorCode::NotEnoughReplicas);
    // acks=1 is still taken
    send(&producer(&cluster, "1"), &topic, "taken")
        .await
        .unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_without_losing_an_acknowledged_record() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("failover");
    create_topic(&cluster, &topic, 3, &[("min.insync.replicas", "2")]).await;
    let p = producer(&cluster, "all");
    let mut acked = Vec::new();
    for i in 0..50 {
        send(&p, &topic, &format!("a{i}")).await.unwrap();
        acked.push(format!("a{i}"));
    }
    let old = leader_of(&cluster, &topic);
    cluster.kill(old).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let l = img.topics[&topic].partitions[0].leader;
            l >= 0 && l != old
        })
        .await;
    // the producer finds the new leader (NOT_LEADER_OR_FOLLOWER, metadata refresh, retry)
    for i in 0..50 {
        send(&p, &topic, &format!("b{i}")).await.unwrap();
        acked.push(format!("b{i}"));
    }
    let got = consume(&cluster, &topic, acked.len());
    assert_eq!(got, acked, "every acknowledged record, once, in order");
    // the old leader comes back as a follower and catches up
    cluster.restart(old).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr.len() == 3
        })
        .await;
    let bytes = replica_bytes(&cluster, &[1, 2, 3], &topic);
    assert!(
        bytes.values().all(|b| *b == bytes[&1]),
        "replica logs are identical"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaders_unreplicated_tail_is_truncated_when_it_comes_back() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("diverge");
    create_topic(&cluster, &topic, 3, &[]).await;
    let p1 = producer(&cluster, "all");
    send(&p1, &topic, "replicated").await.unwrap();
    let old = leader_of(&cluster, &topic);
    // the followers stop copying; acks=1 writes land only on the leader
    for b in (1..=3).filter(|b| *b != old) {
        cluster
            .broker(b)
            .state()
            .replicas
            .fetchers()
            .unwrap()
            .set_paused(true);
    }
    // fetches already waiting at the leader (replica.fetch.wait.max.ms) end first
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ones = producer(&cluster, "1");
    for i in 0..5 {
        send(&ones, &topic, &format!("lost{i}")).await.unwrap();
    }
    assert_eq!(replica(&cluster, old, &topic).offsets().log_end_offset, 6);
    cluster.kill(old).await;
    for b in (1..=3).filter(|b| *b != old) {
        cluster
            .broker(b)
            .state()
            .replicas
            .fetchers()
            .unwrap()
            .set_paused(false);
    }
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let l = img.topics[&topic].partitions[0].leader;
            l >= 0 && l != old
        })
        .await;
    for i in 0..3 {
        send(&p1, &topic, &format!("new{i}")).await.unwrap();
    }
    cluster.restart(old).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr.len() == 3
        })
        .await;
    // the old leader cut its unacknowledged tail and copied the new leader's records
    let bytes = replica_bytes(&cluster, &[1, 2, 3], &topic);
    assert!(
        bytes.values().all(|b| *b == bytes[&1]),
        "replica logs are identical"
    );
    assert_eq!(
        consume(&cluster, &topic, 4),
        vec!["replicated", "new0", "new1", "new2"]
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclean_election_brings_an_offline_partition_back_and_its_isr_grows_again() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("unclean");
    create_topic(
        &cluster,
        &topic,
        3,
        &[("unclean.leader.election.enable", "true")],
    )
    .await;
    let old = leader_of(&cluster, &topic);
    let followers: Vec<i32> = (1..=3).filter(|b| *b != old).collect();
    for b in &followers {
        cluster
            .broker(*b)
            .state()
            .replicas
            .fetchers()
            .unwrap()
            .set_paused(true);
    }
    // the followers fall out of the ISR; the leader goes on alone
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics[&topic].partitions[0].isr == [old]
        })
        .await;
    send(&producer(&cluster, "1"), &topic, "only on the old leader")
        .await
        .unwrap();
    cluster.kill(old).await;
    for b in &followers {
        cluster
            .broker(*b)
            .state()
            .replicas
            .fetchers()
            .unwrap()
            .set_paused(false);
    }
    // no ISR member is left: an out-of-sync replica leads, recovering
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let p = &img.topics[&topic].partitions[0];
            followers.contains(&p.leader)
        })
        .await;
    send(&producer(&cluster, "1"), &topic, "after")
        .await
        .unwrap();
    // the other follower and then the old leader join it; the partition has recovered
    cluster.restart(old).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let p = &img.topics[&topic].partitions[0];
            p.isr.len() == 3 && p.leader_recovery.is_recovered()
        })
        .await;
    let bytes = replica_bytes(&cluster, &[1, 2, 3], &topic);
    assert!(
        bytes.values().all(|b| *b == bytes[&1]),
        "replica logs are identical"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_keeps_its_committed_offsets_when_its_coordinator_is_killed() {
    use rdkafka::consumer::CommitMode;
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("group-failover");
    create_topic(&cluster, &topic, 3, &[]).await;
    let p = producer(&cluster, "all");
    for i in 0..10 {
        send(&p, &topic, &format!("m{i}")).await.unwrap();
    }
    let group = unique_name("g");
    let consumer = |cluster: &TestCluster| -> BaseConsumer {
        client(cluster)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap()
    };
    let c = consumer(&cluster);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(6))
        .unwrap();
    // the commit is answered once the coordinator's followers have it
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    let offsets_topic = "__consumer_offsets";
    let coordinator_partition = cluster
        .broker(1)
        .state()
        .groups
        .partition_of(&group)
        .unwrap();
    let coordinator =
        cluster.image().topics[offsets_topic].partitions[coordinator_partition as usize].leader;
    cluster.kill(coordinator).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let l = img.topics[offsets_topic].partitions[coordinator_partition as usize].leader;
            l >= 0 && l != coordinator
        })
        .await;
    // a new member of the group resumes from the committed offset, served by the new coordinator
    let c = consumer(&cluster);
    let committed = {
        let mut want = TopicPartitionList::new();
        want.add_partition(&topic, 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            match c.committed_offsets(want.clone(), Duration::from_secs(5)) {
                Ok(got) => break got,
                Err(e) if std::time::Instant::now() < deadline => {
                    eprintln!("committed offsets not yet available: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("committed offsets: {e}"),
            }
        }
    };
    assert_eq!(
        committed.find_partition(&topic, 0).unwrap().offset(),
        Offset::Offset(6)
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_spanning_brokers_commit_and_abort_for_read_committed_readers() {
    use rdkafka::producer::Producer;
    let cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("txn");
    {
        let admin: AdminClient<DefaultClientContext> = client(&cluster).create().unwrap();
        let t = NewTopic::new(&topic, 3, TopicReplication::Fixed(3));
        let r = admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .unwrap();
        assert!(r[0].is_ok(), "{r:?}");
    }
    let leaders: std::collections::BTreeSet<i32> = cluster.image().topics[&topic]
        .partitions
        .iter()
        .map(|p| p.leader)
        .collect();
    assert!(
        leaders.len() > 1,
        "the partitions are led by several brokers"
    );
    let p: FutureProducer = client(&cluster)
        .set("transactional.id", unique_name("tx"))
        .set("message.timeout.ms", "20000")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(20)).unwrap();
    for (round, commit) in [(0, true), (1, false), (2, true)] {
        p.begin_transaction().unwrap();
        for part in 0..3 {
            p.send(
                FutureRecord::<(), _>::to(&topic)
                    .partition(part)
                    .payload(&format!("r{round}p{part}")),
                Duration::from_secs(20),
            )
            .await
            .unwrap();
        }
        if commit {
            p.commit_transaction(Duration::from_secs(20)).unwrap();
        } else {
            p.abort_transaction(Duration::from_secs(20)).unwrap();
        }
    }
    let consumer: BaseConsumer = client(&cluster)
        .set("group.id", unique_name("g"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for part in 0..3 {
        tpl.add_partition_offset(&topic, part, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 6 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    // a little longer: an aborted record must never arrive
    let until = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < until {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    got.sort();
    assert_eq!(got, vec!["r0p0", "r0p1", "r0p2", "r2p0", "r2p1", "r2p2"]);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_broker_is_fenced_without_waiting_for_its_session_to_expire() {
    // a session of a minute: only the closed heartbeat connection can fence the broker sooner
    let mut cluster = TestCluster::start(3, &[("broker.session.timeout.ms", "60000")]).await;
    let topic = unique_name("early-fence");
    create_topic(&cluster, &topic, 3, &[]).await;
    let old = leader_of(&cluster, &topic);
    cluster.kill(old).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            let l = img.topics[&topic].partitions[0].leader;
            img.brokers[&old].fenced && l >= 0 && l != old
        })
        .await;
    send(&producer(&cluster, "all"), &topic, "after")
        .await
        .unwrap();
    cluster.shutdown().await;
}
