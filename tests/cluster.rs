//! A cluster of three `tributary server` processes (node 1 broker and controller, nodes 2 and 3
//! brokers), configured as `config/cluster/` shows: a topic with three replicas keeps every
//! acknowledged record through the SIGKILL of a partition leader, the producer carries on with
//! the new leader, and the killed broker catches up and rejoins the ISR after a restart.

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

/// Writes node `id`'s properties into `dir` and returns the file.
fn node_config(dir: &Path, id: i32, broker_port: u16, controller_port: u16) -> std::path::PathBuf {
    let listeners = if id == 1 {
        format!("PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}")
    } else {
        format!("PLAINTEXT://127.0.0.1:{broker_port}")
    };
    let roles = if id == 1 {
        "broker,controller"
    } else {
        "broker"
    };
    let text = format!(
        "process.roles={roles}\nnode.id={id}\ncontroller.quorum.voters=1@127.0.0.1:{controller_port}\n\
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

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500");
    c
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
    let controller_port = free_port();
    let ports: BTreeMap<i32, u16> = (1..=3).map(|i| (i, free_port())).collect();
    let configs: BTreeMap<i32, std::path::PathBuf> = ports
        .iter()
        .map(|(id, port)| (*id, node_config(dir.path(), *id, *port, controller_port)))
        .collect();
    // the controller's directory is formatted with a new cluster id, as kafka-storage does
    let id = String::from_utf8(
        Command::new(BIN)
            .args(["storage", "random-uuid"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let status = Command::new(BIN)
        .args(["storage", "format", "-t", id.trim(), "--config"])
        .arg(&configs[&1])
        .status()
        .unwrap();
    assert!(status.success());
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
    let admin: AdminClient<DefaultClientContext> = client(&bootstrap).create().unwrap();
    // the brokers register in the background: retry until three are there
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = NewTopic::new(topic, 3, TopicReplication::Fixed(3));
        let r = admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .unwrap();
        if r[0].is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "topic not created: {r:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let producer: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "60000")
        .create()
        .unwrap();
    let mut acked = Vec::new();
    for i in 0..90 {
        let v = format!("a{i}");
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
    // kill -9 the leader of partition 0 (never the controller node: one controller for now)
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
    for i in 0..90 {
        let v = format!("b{i}");
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
    // every acknowledged record, once
    let alive = ports
        .iter()
        .filter(|(id, _)| **id != victim)
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let consumer: BaseConsumer = client(&alive)
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
    while got.len() < acked.len() && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    got.sort();
    let mut want = acked.clone();
    want.sort();
    assert_eq!(got, want, "every acknowledged record, exactly once");
    // `tributary cluster describe` shows the controller, the live brokers, and what is missing
    let describe = |boot: &str| {
        let out = Command::new(BIN)
            .args(["cluster", "describe", "-b", boot])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
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
