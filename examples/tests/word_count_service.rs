//! The `word_count_service` example as a user runs it: two instances of one application, each
//! a separate process against a broker, share the partitions and answer HTTP queries for any
//! word (asking each other); when one stops, the other takes its words over and answers alone.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;
use tributary_examples::word_count::words;
use tributary_testkit::{free_port, unique_name, TestBroker};

fn spawn(broker: &TestBroker, input: &str, output: &str, app: &str, port: u16) -> Child {
    Command::new(common::example("word_count_service"))
        .args(["--bootstrap-server", &broker.bootstrap()])
        .args(["--input", input, "--output", output])
        .args(["--application-id", app])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "-p",
            "session.timeout.ms=6000",
            "-p",
            "heartbeat.interval.ms=500",
        ])
        .stdout(Stdio::null())
        .stderr(common::log(app))
        .spawn()
        .unwrap()
}

const LINES: [&str; 5] = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "the dog barks at the fox",
    "a quick brown dog",
    "foxes and dogs",
];

fn produce(broker: &TestBroker, topic: &str, lines: &[&str]) {
    let p: ThreadedProducer<DefaultProducerContext> = broker.client_config().create().unwrap();
    for (i, line) in lines.iter().enumerate() {
        let key = i.to_string();
        p.send(BaseRecord::to(topic).key(&key).payload(*line))
            .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn expected(lines: &[&str]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for w in lines.iter().flat_map(|l| words(l)) {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

async fn get(port: u16, path: &str) -> Option<(u16, Value)> {
    let answer = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = answer.status().as_u16();
    Some((status, answer.json().await.ok()?))
}

/// Asks `port` for every word of `want` until each answers its count (or a minute passed);
/// the host that answered each word.
async fn counts_from(port: u16, want: &BTreeMap<String, i64>) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut hosts = BTreeMap::new();
    for (word, n) in want {
        loop {
            let answer = get(port, &format!("/count/{word}")).await;
            if let Some((200, body)) = &answer {
                if body["count"].as_i64() == Some(*n) {
                    assert_eq!(body["word"], word.as_str());
                    hosts.insert(word.clone(), body["host"].as_str().unwrap().to_string());
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{word}: {answer:?}, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    hosts
}

/// The hosts `port` lists at `/instances`, once there are `n` of them each counting some
/// partitions.
async fn instances(port: u16, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, Value::Array(list))) = get(port, "/instances").await {
            let counting = list
                .iter()
                .filter(|i| !i["partitions"].as_array().unwrap().is_empty())
                .count();
            if list.len() == n && counting == n {
                return list;
            }
        }
        assert!(Instant::now() < deadline, "not {n} instances at {port}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_words_answer_for_each_other_and_one_takes_over() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("lines"),
        unique_name("counts"),
        unique_name("wc-service"),
    );
    broker.create_topic(&input, 4).await;
    broker.create_topic(&output, 1).await;
    let (a, b) = (free_port(), free_port());
    let mut one = spawn(&broker, &input, &output, &app, a);
    instances(a, 1).await;
    let mut two = spawn(&broker, &input, &output, &app, b);
    let list = instances(a, 2).await;
    // the input's four partitions are read by one instance or the other, once
    let mut read = Vec::new();
    for instance in &list {
        for p in instance["partitions"].as_array().unwrap() {
            if p["topic"] == input.as_str() {
                read.push(p["partition"].as_i64().unwrap());
            }
        }
    }
    read.sort_unstable();
    assert_eq!(read, [0, 1, 2, 3], "{list:?}");

    produce(&broker, &input, &LINES);
    let want = expected(&LINES);
    // either instance answers for every word, from its store or from the other's
    let hosts = counts_from(a, &want).await;
    assert_eq!(counts_from(b, &want).await, hosts);
    let (host_a, host_b) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));
    let answering: BTreeSet<&String> = hosts.values().collect();
    assert!(
        answering.iter().all(|h| **h == host_a || **h == host_b),
        "{hosts:?}"
    );
    // each word is in the store of the instance that answered for it, and only there
    for (port, host) in [(a, &host_a), (b, &host_b)] {
        let (status, local) = get(port, "/counts").await.unwrap();
        assert_eq!(status, 200);
        let local = local.as_object().unwrap();
        for (word, n) in &want {
            let here = hosts[word] == *host;
            assert_eq!(
                local.get(word).and_then(Value::as_i64),
                here.then_some(*n),
                "{word} at {host}"
            );
        }
    }
    let unknown = get(a, "/count/zebra").await.unwrap();
    assert_eq!(unknown.0, 404, "{unknown:?}");

    // the second instance stops: the first takes its words over, state and all, and counts on
    terminate(&two);
    assert!(two.wait().unwrap().success());
    instances(a, 1).await;
    produce(&broker, &input, &["the end of the fox"]);
    let mut all: Vec<&str> = LINES.to_vec();
    all.push("the end of the fox");
    let want = expected(&all);
    let hosts = counts_from(a, &want).await;
    assert!(hosts.values().all(|h| *h == host_a), "{hosts:?}");
    terminate(&one);
    assert!(one.wait().unwrap().success());
}

/// Sends SIGTERM to `child` (it commits, leaves the group and exits 0).
fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
