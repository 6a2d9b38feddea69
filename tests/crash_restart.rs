//! Invariant: no acknowledged write is lost. A `tributary server` process is killed with
//! SIGKILL while producers with acks=all are writing; after a restart every acknowledged record
//! is read back, in order, per partition.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::{free_port, ServerProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topic = format!("crash-{}", std::process::id());
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), port);
    let status = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args([
            "topic",
            "create",
            &topic,
            "-p",
            "3",
            "-c",
            "internal.segment.bytes=20000",
            "-b",
            &bootstrap,
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let mut acked: HashMap<i32, Vec<(i64, String)>> = HashMap::new();
    for round in 0..3 {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("message.timeout.ms", "3000")
            .set("partitioner", "murmur2_random")
            .create()
            .unwrap();
        // Writers run while the process is killed part-way through.
        let writer = {
            let producer = producer.clone();
            let topic = topic.clone();
            tokio::spawn(async move {
                let mut done = Vec::new();
                let mut futs = Vec::new();
                for i in 0..3000 {
                    let value = format!("r{round}-{i}-{}", "p".repeat(i % 200));
                    let p = producer.clone();
                    let t = topic.clone();
                    futs.push(tokio::spawn(async move {
                        let r = p
                            .send(
                                FutureRecord::to(&t).key(&format!("k{i}")).payload(&value),
                                Duration::from_secs(3),
                            )
                            .await;
                        (r.ok().map(|d| (d.partition, d.offset)), value)
                    }));
                    if i % 100 == 0 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                for f in futs {
                    if let Ok((Some((p, o)), v)) = f.await {
                        done.push((p, o, v));
                    }
                }
                done
            })
        };
        tokio::time::sleep(Duration::from_millis(150 + round * 100)).await;
        server.kill9();
        let done = writer.await.unwrap();
        for (p, o, v) in done {
            acked.entry(p).or_default().push((o, v));
        }
        server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), port);
    }
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(total > 0, "some writes were acknowledged before the kills");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("crash-check-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut stored: HashMap<i32, HashMap<i64, String>> = HashMap::new();
    let mut eof = std::collections::HashSet::new();
    let mut last_offset: HashMap<i32, i64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while eof.len() < 3 {
        assert!(Instant::now() < deadline, "reading back timed out");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let prev = last_offset.insert(m.partition(), m.offset());
                assert!(
                    prev.is_none_or(|p| m.offset() > p),
                    "offsets increase within a partition"
                );
                eof.remove(&m.partition());
                stored.entry(m.partition()).or_default().insert(
                    m.offset(),
                    String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
                );
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
    for (p, records) in &acked {
        for (o, v) in records {
            assert_eq!(
                stored.get(p).and_then(|s| s.get(o)),
                Some(v),
                "acknowledged record at {p}/{o} is there"
            );
        }
    }
    server.kill9();
}

/// Invariant: an acknowledged offset commit is never lost. A consumer group commits while the
/// broker process is killed with SIGKILL; after each restart the group resumes exactly after
/// its last acknowledged commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_kill_9() {
    use rdkafka::consumer::CommitMode;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topic = format!("crash-commits-{}", std::process::id());
    let group = format!("crash-group-{}", std::process::id());
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), port);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .create()
        .unwrap();
    for i in 0..30 {
        producer
            .send(
                FutureRecord::to(&topic)
                    .partition(0)
                    .key("k")
                    .payload(&format!("{i}")),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let consumer_config = || {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000");
        c
    };
    // three rounds: consume 10 records committing each one synchronously, leave, then kill the
    // broker
    for round in 0..3i64 {
        let next = tokio::task::block_in_place(|| {
            let consumer: BaseConsumer = consumer_config().create().unwrap();
            consumer.subscribe(&[&topic]).unwrap();
            let mut offsets = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while offsets.len() < 10 {
                assert!(Instant::now() < deadline, "round {round}: got {offsets:?}");
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    offsets.push(m.offset());
                    consumer.commit_message(&m, CommitMode::Sync).unwrap();
                }
            }
            offsets
        });
        assert_eq!(
            next,
            (round * 10..round * 10 + 10).collect::<Vec<_>>(),
            "round {round} resumes right after the last acknowledged commit"
        );
        server.kill9();
        server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), port);
    }
    server.kill9();
}

/// The table a compacted topic holds survives `kill -9` at any moment of compaction: the
/// cleaner runs all the time (tiny segments, a 50 ms backoff) while keyed updates and deletes
/// are written; after each restart a full read replays to the latest acknowledged value of
/// every key (or a later write that was sent but not yet acknowledged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_table_survives_kill_9_during_cleaning() {
    use rdkafka::error::KafkaError;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topic = format!("crash-compact-{}", std::process::id());
    let props = [
        ("log.cleaner.backoff.ms", "50"),
        ("log.cleaner.min.cleanable.ratio", "0.01"),
        ("log.cleaner.delete.retention.ms", "0"),
    ];
    let start =
        || ServerProcess::start_with(env!("CARGO_BIN_EXE_tributary"), dir.path(), port, &props);
    let mut server = start();
    let status = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["topic", "create", &topic, "-p", "1", "-b", &bootstrap])
        .args([
            "-c",
            "cleanup.policy=compact",
            "-c",
            "internal.segment.bytes=4096",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    // per key: every value sent, in order, and the index of the last one acknowledged
    let mut sent: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut acked: HashMap<String, usize> = HashMap::new();
    for round in 0..3 {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", "2000")
            .set("max.in.flight.requests.per.connection", "1")
            .create()
            .unwrap();
        let mut futs = Vec::new();
        for i in 0..3000 {
            let key = format!("key-{}", i % 97);
            let value = (i % 13 != 0).then(|| format!("r{round}-{i}-{}", "c".repeat(i % 50)));
            let history = sent.entry(key.clone()).or_default();
            history.push(value.clone());
            let index = history.len() - 1;
            let mut record = FutureRecord::to(&topic).partition(0).key(&key);
            if let Some(v) = &value {
                record = record.payload(v);
            }
            match producer.send_result(record) {
                Ok(f) => futs.push((key, index, f)),
                Err(_) => break,
            }
            if i == 2000 {
                // kill the broker while writes and cleaning are under way
                tokio::time::sleep(Duration::from_millis(50 * (round + 1))).await;
                server.kill9();
            }
        }
        for (key, index, f) in futs {
            if let Ok(Ok(_)) = f.await {
                let a = acked.entry(key).or_default();
                *a = (*a).max(index);
            }
        }
        drop(producer);
        server = start();
    }
    // the cleaner (every 50 ms) has compacted the log at least once since the last restart
    let checkpoint = dir
        .path()
        .join(format!("{topic}-0/cleaner-offset-checkpoint"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !checkpoint.exists() {
        assert!(Instant::now() < deadline, "the cleaner never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("reader-{}", std::process::id()))
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut table: HashMap<String, Option<String>> = HashMap::new();
    let mut last_offset = -1;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no end of partition");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                assert!(m.offset() > last_offset, "offsets rise");
                last_offset = m.offset();
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let value = m.payload().map(|v| String::from_utf8(v.to_vec()).unwrap());
                table.insert(key, value);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
    drop(consumer);
    for (key, &index) in &acked {
        let history = &sent[key];
        let got = table.get(key).cloned().flatten();
        let allowed: Vec<Option<String>> = history[index..].to_vec();
        assert!(
            allowed.contains(&got),
            "{key}: read {got:?}, but the last acknowledged write was {:?}",
            history[index]
        );
    }
    server.kill9();
}
