//! Clusters of three `tributary server` processes.
//!
//! * Node 1 broker and controller, nodes 2 and 3 brokers: a topic with three replicas keeps every
//!   acknowledged record through the SIGKILL of a partition leader, the producer carries on with
//!   the new leader, and the killed broker catches up and rejoins the ISR after a restart.
//! * Three nodes that are each broker and controller (a Raft quorum of three, as
//!   `config/cluster/` shows): the active controller is killed with SIGKILL, twice, while a
//!   producer writes; another controller takes over, topics can still be created, every
//!   acknowledged record is there, and the killed node rejoins the quorum and the ISRs.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::{free_port, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_tributary");

/// Writes node `id`'s properties into `dir` and returns the file: a broker on `broker_port`,
/// and a controller too when `controller_ports` (the voters, by id) names it.
fn node_config(
    dir: &Path,
    id: i32,
    broker_port: u16,
    controller_ports: &BTreeMap<i32, u16>,
) -> std::path::PathBuf {
    let voters = controller_ports
        .iter()
        .map(|(v, port)| format!("{v}@127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let (roles, listeners) = match controller_ports.get(&id) {
        Some(port) => (
            "broker,controller",
            format!("PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{port}"),
        ),
        None => ("broker", format!("PLAINTEXT://127.0.0.1:{broker_port}")),
    };
    let text = format!(
        "process.roles={roles}\nnode.id={id}\ncontroller.quorum.voters={voters}\n\
         controller.listener.names=CONTROLLER\nlisteners={listeners}\ninter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\nlog.dirs={}\n\
         default.replication.factor=3\nmin.insync.replicas=2\noffsets.topic.num.partitions=3\n\
         broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\nreplica.lag.time.max.ms=3000\n",
        dir.join(format!("node{id}")).display()
    );
    let path = dir.join(format!("node{id}.properties"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Formats the data directories of `configs` with one new cluster id, as kafka-storage does.
fn format_all<'a>(configs: impl IntoIterator<Item = &'a std::path::PathBuf>) {
    let id = String::from_utf8(
        Command::new(BIN)
            .args(["storage", "random-uuid"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for config in configs {
        let status = Command::new(BIN)
            .args(["storage", "format", "-t", id.trim(), "--config"])
            .arg(config)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// `tributary cluster describe` against `bootstrap`.
fn describe(bootstrap: &str) -> String {
    let out = Command::new(BIN)
        .args(["cluster", "describe", "-b", bootstrap])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The active controller `tributary cluster describe` names.
fn active_controller(bootstrap: &str) -> Option<i32> {
    let text = describe(bootstrap);
    let rest = text.split("Controller: node ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Creates `topic` (3 partitions, 3 replicas), retrying while brokers are still registering or a
/// controller is being elected.
async fn create_topic(bootstrap: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = NewTopic::new(topic, 3, TopicReplication::Fixed(3));
        let r = admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .unwrap();
        match &r[0] {
            Ok(_) => break,
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => break,
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "topic not created: {r:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every record of `topic` (3 partitions) from `bootstrap`, until `want` many came or a minute
/// passed.
fn read_all(bootstrap: &str, topic: &str, want: usize) -> Vec<String> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    got.sort();
    got
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500");
    c
}

/// An idempotent producer with acks=all that retries for a minute.
fn idempotent_producer(bootstrap: &str) -> FutureProducer {
    client(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "60000")
        .create()
        .unwrap()
}

/// Sends 90 records `PREFIX0`.. over the 3 partitions of `topic`, each acknowledged before
/// the next, and adds them to `acked`.
async fn send_numbered(
    producer: &FutureProducer,
    topic: &str,
    prefix: &str,
    acked: &mut Vec<String>,
) {
    for i in 0..90 {
        let v = format!("{prefix}{i}");
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .partition(i % 3)
                    .payload(&v),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        acked.push(v);
    }
}

/// (leader, isr) of partition `p` of `topic`, from the cluster's metadata.
fn partition_state(bootstrap: &str, topic: &str, p: i32) -> Option<(i32, Vec<i32>)> {
    let consumer: BaseConsumer = client(bootstrap).create().unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let part = t.partitions().iter().find(|x| x.id() == p)?;
    Some((part.leader(), part.isr().to_vec()))
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_process_cluster_survives_the_kill_of_a_leader() {
    let dir = tempfile::tempdir().unwrap();
    let controller_ports = BTreeMap::from([(1, free_port())]);
    let ports: BTreeMap<i32, u16> = (1..=3).map(|i| (i, free_port())).collect();
    let configs: BTreeMap<i32, std::path::PathBuf> = ports
        .iter()
        .map(|(id, port)| (*id, node_config(dir.path(), *id, *port, &controller_ports)))
        .collect();
    format_all([&configs[&1]]);
    let mut nodes: BTreeMap<i32, ServerProcess> = configs
        .iter()
        .map(|(id, c)| (*id, ServerProcess::start_config(BIN, c, ports[id])))
        .collect();
    let bootstrap = ports
        .values()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");

    let topic = "orders";
    // (the brokers register in the background)
    create_topic(&bootstrap, topic).await;
    let producer = idempotent_producer(&bootstrap);
    let mut acked = Vec::new();
    send_numbered(&producer, topic, "a", &mut acked).await;
    // kill -9 the leader of partition 0 (not node 1: it is the only controller here; the quorum
    // test below kills controllers)
    let (leader, _) = partition_state(&bootstrap, topic, 0).unwrap();
    let victim = if leader == 1 {
        partition_state(&bootstrap, topic, 1)
            .map(|(l, _)| l)
            .filter(|l| *l != 1)
            .unwrap_or(2)
    } else {
        leader
    };
    nodes.get_mut(&victim).unwrap().kill9();
    send_numbered(&producer, topic, "b", &mut acked).await;
    // every acknowledged record, once
    let alive = ports
        .iter()
        .filter(|(id, _)| **id != victim)
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let got = read_all(&alive, topic, acked.len());
    let mut want = acked.clone();
    want.sort();
    assert_eq!(got, want, "every acknowledged record, exactly once");
    // `tributary cluster describe` shows the controller, the live brokers, and what is missing
    let first_alive = alive.split(',').next().unwrap().to_string();
    let text = describe(&first_alive);
    assert!(text.contains("Controller: node 1"), "{text}");
    assert!(!text.contains(&format!("  {victim}  ")), "{text}");
    for p in 0..3 {
        assert!(text.contains(&format!("orders-{p} (")), "{text}");
    }
    assert!(text.contains("Offline partitions: 0"), "{text}");
    // the killed broker comes back and rejoins every ISR
    nodes.insert(
        victim,
        ServerProcess::start_config(BIN, &configs[&victim], ports[&victim]),
    );
    wait_until("the restarted broker rejoins the ISRs", || {
        (0..3).all(|p| partition_state(&bootstrap, topic, p).is_some_and(|(_, isr)| isr.len() == 3))
    })
    .await;
    let text = describe(&first_alive);
    assert!(text.contains("Under-replicated partitions: 0"), "{text}");
    assert!(text.contains(&format!("  {victim}  ")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_of_three_controllers_survives_kills_of_its_active_controller() {
    let dir = tempfile::tempdir().unwrap();
    let controller_ports: BTreeMap<i32, u16> = (1..=3).map(|i| (i, free_port())).collect();
    let ports: BTreeMap<i32, u16> = (1..=3).map(|i| (i, free_port())).collect();
    let configs: BTreeMap<i32, std::path::PathBuf> = ports
        .iter()
        .map(|(id, port)| (*id, node_config(dir.path(), *id, *port, &controller_ports)))
        .collect();
    format_all(configs.values());
    // (started together: each waits for a quorum of the others)
    let mut nodes: BTreeMap<i32, ServerProcess> = configs
        .iter()
        .map(|(id, c)| (*id, ServerProcess::spawn_config(BIN, c, ports[id])))
        .collect();
    for node in nodes.values() {
        node.wait_listening();
    }
    let addr = |id: i32| format!("127.0.0.1:{}", ports[&id]);
    let bootstrap = (1..=3).map(addr).collect::<Vec<_>>().join(",");
    let topic = "payments";
    create_topic(&bootstrap, topic).await;

    // a producer writes throughout; what it was told is written must all be there at the end
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (bootstrap, stop) = (bootstrap.clone(), std::sync::Arc::clone(&stop));
        let progress = std::sync::Arc::clone(&acked_so_far);
        tokio::spawn(async move {
            let producer = idempotent_producer(&bootstrap);
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let v = format!("p{i}");
                i += 1;
                let sent = producer
                    .send(
                        FutureRecord::<(), _>::to(topic)
                            .partition(i % 3)
                            .payload(&v),
                        Duration::from_secs(60),
                    )
                    .await;
                if sent.is_ok() {
                    acked.push(v);
                    progress.fetch_add(1, std::sync::atomic::Ordering::Release);
                }
                if i % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            acked
        })
    };

    for round in 0..2 {
        let mut active = None;
        wait_until("a controller is active", || {
            active = active_controller(&bootstrap);
            active.is_some()
        })
        .await;
        let victim = active.unwrap();
        nodes.get_mut(&victim).unwrap().kill9();
        let alive = (1..=3)
            .filter(|i| *i != victim)
            .map(addr)
            .collect::<Vec<_>>()
            .join(",");
        // another controller takes over, and metadata changes go through it
        wait_until("another controller takes over", || {
            active_controller(&alive).is_some_and(|c| c != victim)
        })
        .await;
        create_topic(&alive, &format!("after-kill-{round}")).await;
        // and the producer carries on
        let before = acked_so_far.load(std::sync::atomic::Ordering::Acquire);
        wait_until("the producer carries on after the kill", || {
            acked_so_far.load(std::sync::atomic::Ordering::Acquire) >= before + 50
        })
        .await;
        // the killed node restarts from its Raft log and rejoins the quorum and every ISR
        nodes.insert(
            victim,
            ServerProcess::start_config(BIN, &configs[&victim], ports[&victim]),
        );
        wait_until("the restarted node rejoins the ISRs", || {
            (0..3).all(|p| {
                partition_state(&bootstrap, topic, p).is_some_and(|(_, isr)| isr.len() == 3)
            })
        })
        .await;
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let acked = writer.await.unwrap();
    let got = read_all(&bootstrap, topic, acked.len());
    let mut want = acked;
    want.sort();
    assert_eq!(got, want, "every acknowledged record, exactly once");
    // the quorum as Kafka's DescribeQuorum reports it: three voters, one leader
    let text = describe(&bootstrap);
    assert!(text.contains("voters [1, 2, 3]"), "{text}");
    assert!(text.contains("Under-replicated partitions: 0"), "{text}");
}
