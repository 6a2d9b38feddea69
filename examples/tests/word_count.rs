//! The `word_count` example as a user runs it, a separate process against a broker: at least
//! once it counts; exactly once it survives `kill -9` at random moments and restarts, and the
//! output read with read_committed holds every word's counts 1, 2, ... n, none lost or doubled
//! (its counts kept in files, wiped after each kill).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use rdkafka::Message;
use tributary_examples::word_count::words;
use tributary_testkit::{unique_name, TestBroker, TestCluster};

fn spawn(bootstrap: &str, input: &str, output: &str, app: &str, exactly_once: bool) -> Child {
    spawn_with(bootstrap, (input, output, app), exactly_once, &[])
}

/// [`spawn`] with more `-p` properties.
fn spawn_with(
    bootstrap: &str,
    (input, output, app): (&str, &str, &str),
    exactly_once: bool,
    properties: &[&str],
) -> Child {
    let mut cmd = Command::new(common::example("word_count"));
    for p in properties {
        cmd.args(["-p", p]);
    }
    cmd.args(["--bootstrap-server", bootstrap])
        .args([
            "--input",
            input,
            "--output",
            output,
            "--application-id",
            app,
        ])
        .args(["--threads", "2"])
        .args([
            "-p",
            "session.timeout.ms=6000",
            "-p",
            "heartbeat.interval.ms=500",
        ])
        .stdout(Stdio::null())
        .stderr(common::log(app));
    if exactly_once {
        cmd.arg("--exactly-once");
    }
    cmd.spawn().unwrap()
}

/// Lines of words from a small vocabulary, deterministic.
fn lines(n: usize, seed: u64) -> Vec<String> {
    const VOCABULARY: [&str; 12] = [
        "kafka", "stream", "table", "join", "window", "count", "state", "store", "topic", "record",
        "offset", "commit",
    ];
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            (0..1 + (x % 5) as usize)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    VOCABULARY[(x % VOCABULARY.len() as u64) as usize]
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A client of the brokers at `bootstrap`.
fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "60000")
        .set("socket.timeout.ms", "10000");
    c
}

fn produce(bootstrap: &str, topic: &str, lines: &[String]) {
    try_produce(bootstrap, topic, lines).unwrap();
}

/// Writes `lines` to `topic` and waits until every one is acknowledged (30 s at most).
fn try_produce(bootstrap: &str, topic: &str, lines: &[String]) -> Result<(), String> {
    let p: ThreadedProducer<DefaultProducerContext> = client(bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| e.to_string())?;
    for (i, line) in lines.iter().enumerate() {
        let key = i.to_string();
        p.send(BaseRecord::to(topic).key(&key).payload(line))
            .map_err(|(e, _)| e.to_string())?;
    }
    p.flush(Duration::from_secs(30)).map_err(|e| e.to_string())
}

fn expected(lines: &[String]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for w in lines.iter().flat_map(|l| words(l)) {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

/// Every count of every word in `topic`, read committed, until the last ones are `want` (or
/// the deadline).
fn read(bootstrap: &str, topic: &str, want: &BTreeMap<String, i64>) -> BTreeMap<String, Vec<i64>> {
    let mut config = client(bootstrap);
    config
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    let consumer: BaseConsumer = config.create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = |seen: &BTreeMap<String, Vec<i64>>| {
        want.iter()
            .all(|(w, n)| seen.get(w).and_then(|v| v.last()) == Some(n))
    };
    while Instant::now() < deadline && !done(&seen) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let word = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            seen.entry(word).or_default().push(count);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_word_count_survives_kill_9_and_restarts() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("lines"),
        unique_name("counts"),
        unique_name("wc-eos"),
    );
    broker.create_topic(&input, 6).await;
    broker.create_topic(&output, 3).await;
    let all = lines(3000, 42);
    let bootstrap = broker.bootstrap();
    let seed = std::process::id() as u64;
    // sees output as it is written, committed or not: the app is at work
    let watcher: BaseConsumer = broker.consumer_config().create().unwrap();
    watcher.subscribe(&[output.as_str()]).unwrap();
    // the counts in files (Kafka's default store): each kill leaves files that may hold
    // uncommitted counts and no checkpoint, so the next start wipes them
    let state = tempfile::tempdir().unwrap();
    let state_dir = format!("state.dir={}", state.path().display());
    let on_disk = ["default.dsl.store=rocksDB", state_dir.as_str()];
    tokio::task::block_in_place(|| {
        // input arrives while the app is killed and restarted
        let mut sent = 0;
        for round in 0..4u64 {
            // what earlier rounds wrote is behind the watcher before this round starts
            while watcher.poll(Duration::from_millis(500)).is_some() {}
            let mut app_process = spawn_with(&bootstrap, (&input, &output, &app), true, &on_disk);
            let chunk = all.len() / 4;
            produce(&bootstrap, &input, &all[sent..sent + chunk]);
            sent += chunk;
            // wait until it processes, then kill it a random moment later (0.1 to 1.5 s)
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Some(Ok(_)) = watcher.poll(Duration::from_millis(100)) {
                    break;
                }
            }
            let wait = 100 + seed.wrapping_mul(round + 7).wrapping_mul(2_654_435_761) % 1400;
            std::thread::sleep(Duration::from_millis(wait));
            app_process.kill().unwrap(); // SIGKILL
            app_process.wait().unwrap();
        }
        produce(&bootstrap, &input, &all[sent..]);
        let mut last = spawn_with(&bootstrap, (&input, &output, &app), true, &on_disk);
        let want = expected(&all);
        let seen = read(&bootstrap, &output, &want);
        if !want
            .iter()
            .all(|(w, n)| seen.get(w).and_then(|v| v.last()) == Some(n))
        {
            // where the output and the app's transactions stand (the app's log is in the temp
            // dir, named after the application id)
            let changelog = format!("{app}-counts-changelog");
            let repartition = format!("{app}-counts-repartition");
            eprintln!(
                "the counts of {app} are not complete; the broker:\n{}",
                broker.describe(&[&output, &input, &changelog, &repartition])
            );
        }
        let _ = last.kill();
        let _ = last.wait();
        for (word, n) in &want {
            assert_eq!(
                seen.get(word).cloned().unwrap_or_default(),
                (1..=*n).collect::<Vec<_>>(),
                "the counts of {word:?}: none lost, none doubled"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_word_count_counts_every_word() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("lines"),
        unique_name("counts"),
        unique_name("wc"),
    );
    broker.create_topic(&input, 3).await;
    broker.create_topic(&output, 1).await;
    let all = lines(200, 7);
    let bootstrap = broker.bootstrap();
    tokio::task::block_in_place(|| {
        produce(&bootstrap, &input, &all);
        let mut app_process = spawn(&bootstrap, &input, &output, &app, false);
        let want = expected(&all);
        let seen = read(&bootstrap, &output, &want);
        let _ = app_process.kill();
        let _ = app_process.wait();
        let last: BTreeMap<String, i64> = seen
            .iter()
            .map(|(w, v)| (w.clone(), *v.last().unwrap()))
            .collect();
        assert_eq!(last, want);
    });
}

/// Creates `topic` with `partitions` partitions of three replicas on the brokers at
/// `bootstrap`.
async fn create_replicated(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        client(bootstrap).create().unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(3))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    for r in results {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_word_count_survives_broker_crashes() {
    // three brokers, everything replicated three times and written to two at least
    let mut cluster = TestCluster::start(
        3,
        &[
            ("group.initial.rebalance.delay.ms", "0"),
            ("offsets.topic.replication.factor", "3"),
            ("transaction.state.log.replication.factor", "3"),
            ("transaction.state.log.min.isr", "2"),
            ("default.replication.factor", "3"),
            ("min.insync.replicas", "2"),
        ],
    )
    .await;
    let bootstrap = cluster.bootstrap();
    let (input, output, app) = (
        unique_name("lines"),
        unique_name("counts"),
        unique_name("wc-crash"),
    );
    create_replicated(&bootstrap, &input, 6).await;
    create_replicated(&bootstrap, &output, 3).await;
    let all = lines(2400, 11);
    let chunk = all.len() / 4;
    let mut app_process = spawn_with(
        &bootstrap,
        (&input, &output, &app),
        true,
        &["replication.factor=3"],
    );
    // each broker in turn crashes while the app works, and comes back
    let describe = |cluster: &TestCluster| {
        let changelog = format!("{app}-counts-changelog");
        let repartition = format!("{app}-counts-repartition");
        cluster.describe(&[&output, &input, &changelog, &repartition])
    };
    for (round, id) in [1, 2, 3].into_iter().enumerate() {
        let lines = &all[round * chunk..(round + 1) * chunk];
        let written = tokio::task::block_in_place(|| {
            let r = try_produce(&bootstrap, &input, &lines[..chunk / 2]);
            std::thread::sleep(Duration::from_millis(500));
            r
        });
        if let Err(e) = written {
            panic!(
                "round {round}, before the crash: {e}; the cluster:\n{}",
                describe(&cluster)
            );
        }
        cluster.kill(id).await;
        let written = tokio::task::block_in_place(|| {
            let r = try_produce(&bootstrap, &input, &lines[chunk / 2..]);
            std::thread::sleep(Duration::from_secs(2));
            r
        });
        if let Err(e) = written {
            panic!(
                "round {round}, broker {id} down: {e}; the cluster:\n{}",
                describe(&cluster)
            );
        }
        cluster.restart(id).await;
    }
    let want = expected(&all);
    let seen = tokio::task::block_in_place(|| {
        produce(&bootstrap, &input, &all[3 * chunk..]);
        read(&bootstrap, &output, &want)
    });
    let complete = want
        .iter()
        .all(|(w, n)| seen.get(w).and_then(|v| v.last()) == Some(n));
    if !complete {
        // where the output or the app's transactions stand, to tell a stuck app from a stuck
        // broker (the app's log is in the temp dir, named after the application id)
        eprintln!(
            "the counts are not complete; the cluster:\n{}",
            describe(&cluster)
        );
    }
    let _ = app_process.kill();
    let _ = app_process.wait();
    for (word, n) in &want {
        assert_eq!(
            seen.get(word).cloned().unwrap_or_default(),
            (1..=*n).collect::<Vec<_>>(),
            "the counts of {word:?}: none lost, none doubled"
        );
    }
    cluster.shutdown().await;
}
