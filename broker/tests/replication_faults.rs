//! Faults against replication, short form (a step towards the Jepsen-style suite of
//! `docs/design/replication.md`, section 7): an idempotent acks=all producer writes without
//! pause to three partitions (replication factor 3, `min.insync.replicas=2`) of an in-process
//! cluster while partition leaders are killed (as a crash: no controlled shutdown) and restarted
//! over and over, or while followers stall long enough to leave the ISR and then rejoin. Then a checker reads everything back and counts, per anomaly kind: lost
//! acknowledged writes, duplicates, offsets that go backwards or skip within a partition's read,
//! and replicas whose logs differ byte for byte. Every count must be zero.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::{unique_name, TestCluster};

const PARTITIONS: i32 = 3;

fn client(cluster: &TestCluster) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cluster.bootstrap())
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500")
        .set("retry.backoff.ms", "100");
    c
}

/// The acknowledged writes: value → (partition, offset).
type Acked = Arc<Mutex<BTreeMap<String, (i32, i64)>>>;

/// Writes `w0`, `w1`, ... round-robin to the partitions until `stop` turns true, in flights of
/// 20; returns how many were attempted.
async fn writer(
    producer: FutureProducer,
    topic: String,
    acked: Acked,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> usize {
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let mut flight = Vec::new();
        for _ in 0..20 {
            let value = format!("w{n}");
            let part = (n % PARTITIONS as usize) as i32;
            n += 1;
            let p = producer.clone();
            let t = topic.clone();
            flight.push(tokio::spawn(async move {
                let r = p
                    .send(
                        FutureRecord::<(), _>::to(&t)
                            .partition(part)
                            .payload(&value),
                        Duration::from_secs(30),
                    )
                    .await;
                (value, r.map(|d| (d.partition, d.offset)).ok())
            }));
        }
        for f in flight {
            let (value, result) = f.await.unwrap();
            if let Some(at) = result {
                acked.lock().unwrap().insert(value, at);
            }
        }
    }
    n
}

/// Every record of every partition, in offset order per partition: (partition, offset, value).
fn read_all(cluster: &TestCluster, topic: &str, want: usize) -> Vec<(i32, i64, String)> {
    let consumer: BaseConsumer = client(cluster)
        .set("group.id", unique_name("check"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut idle = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline && (out.len() < want || idle < 10) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = 0;
                out.push((
                    m.partition(),
                    m.offset(),
                    String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap(),
                ));
            }
            _ => idle += 1,
        }
    }
    out
}

/// What the nemesis does each round.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Kill the leader of a partition, wait for a new one, restart the old one.
    KillLeader,
    /// Stall one follower's fetching past `replica.lag.time.max.ms` (it leaves the ISR), then
    /// let it go on (it rejoins), while its heartbeats continue.
    StallFollower,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_leaders_under_load_loses_and_duplicates_nothing() {
    run(Fault::KillLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalling_followers_under_load_loses_and_duplicates_nothing() {
    run(Fault::StallFollower).await;
}

async fn run(fault: Fault) {
    let mut cluster = TestCluster::start(3, &[]).await;
    let topic = unique_name("faults");
    {
        let admin: AdminClient<DefaultClientContext> = client(&cluster).create().unwrap();
        let t = NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(3))
            .set("min.insync.replicas", "2");
        let r = admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .unwrap();
        assert!(r[0].is_ok(), "{r:?}");
    }
    let producer: FutureProducer = client(&cluster)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let acked: Acked = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = tokio::spawn(writer(
        producer,
        topic.clone(),
        Arc::clone(&acked),
        Arc::clone(&stop),
    ));

    // the nemesis, on partition (round % 3)
    let mut kills = 0;
    for round in 0..6 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let p = round % PARTITIONS as usize;
        let state = cluster.image().topics[&topic].partitions[p].clone();
        if state.leader < 0 {
            continue;
        }
        match fault {
            Fault::KillLeader => {
                let victim = state.leader;
                cluster.kill(victim).await;
                cluster
                    .wait_for(Duration::from_secs(30), |img| {
                        let l = img.topics[&topic].partitions[p].leader;
                        l >= 0 && l != victim
                    })
                    .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                cluster.restart(victim).await;
            }
            Fault::StallFollower => {
                let victim = *state.replicas.iter().find(|r| **r != state.leader).unwrap();
                let fetchers = || cluster.broker(victim).state().replicas.fetchers().unwrap();
                fetchers().set_paused(true);
                cluster
                    .wait_for(Duration::from_secs(30), |img| {
                        !img.topics[&topic].partitions[p].isr.contains(&victim)
                    })
                    .await;
                fetchers().set_paused(false);
                cluster
                    .wait_for(Duration::from_secs(30), |img| {
                        img.topics[&topic].partitions[p].isr.contains(&victim)
                    })
                    .await;
            }
        }
        kills += 1;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let attempted = writing.await.unwrap();
    cluster
        .wait_for(Duration::from_secs(30), |img| {
            img.topics[&topic]
                .partitions
                .iter()
                .all(|p| p.isr.len() == 3)
        })
        .await;

    let acked = acked.lock().unwrap().clone();
    let read = read_all(&cluster, &topic, acked.len());

    // the checker
    let mut anomalies: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, v) in &read {
        *seen.entry(v.as_str()).or_default() += 1;
    }
    let lost = acked
        .keys()
        .filter(|v| !seen.contains_key(v.as_str()))
        .count();
    let duplicated = seen.values().filter(|n| **n > 1).count();
    let mut misplaced = 0;
    for (v, (p, o)) in &acked {
        if !read
            .iter()
            .any(|(rp, ro, rv)| rv == v && rp == p && ro == o)
        {
            misplaced += 1;
        }
    }
    let mut backwards = 0;
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o, _) in &read {
        if last.get(p).is_some_and(|l| o <= l) {
            backwards += 1;
        }
        last.insert(*p, *o);
    }
    // divergent replicas: every broker's log of every partition, byte for byte
    let mut divergent = 0;
    for p in 0..PARTITIONS {
        let logs: BTreeSet<Vec<u8>> = (1..=3).map(|b| cluster.replica_log(b, &topic, p)).collect();
        if logs.len() != 1 {
            divergent += 1;
        }
    }
    anomalies.insert("lost acknowledged write", lost);
    anomalies.insert("duplicate", duplicated);
    anomalies.insert("acknowledged at another offset", misplaced);
    anomalies.insert("non-monotonic offset in a poll stream", backwards);
    anomalies.insert("divergent replica logs (partitions)", divergent);
    eprintln!(
        "faults: {kills} × {fault:?}, {attempted} writes attempted, {} acknowledged, {} read; anomalies: {anomalies:?}",
        acked.len(),
        read.len()
    );
    assert!(kills >= 3, "the nemesis ran");
    assert!(acked.len() > 100, "the workload ran");
    assert!(
        anomalies.values().all(|n| *n == 0),
        "anomalies: {anomalies:?}"
    );
    cluster.shutdown().await;
}
