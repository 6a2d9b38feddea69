//! `tributary dev-cluster`: three server processes come up as one cluster (a quorum of three
//! controllers), take writes with three replicas, and all stop on SIGINT, leaving no process and
//! no temporary directory behind.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

const BIN: &str = env!("CARGO_BIN_EXE_tributary");

/// A base port with PORT..PORT+2 and PORT+100..PORT+102 free on 127.0.0.1.
fn free_base_port() -> u16 {
    for _ in 0..200 {
        let base = tributary_testkit::free_port();
        if base > 60_000 {
            continue;
        }
        let all_free = (0..3)
            .flat_map(|i| [base + i, base + 100 + i])
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free port range");
}

/// A started dev cluster: the process, its base port, its bootstrap line, its data directory
/// (when printed), and the rest of its output (kept open: it writes more).
type Started = (
    std::process::Child,
    u16,
    String,
    Option<std::path::PathBuf>,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
);

/// Starts `tributary dev-cluster` on a free port range; once more on another range when it
/// stops before it printed its bootstrap (a test running beside this one may take a port
/// between the look and the bind), with what it wrote to stderr when it fails again.
fn start_dev_cluster() -> Started {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let port = free_base_port();
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(BIN)
            .args(["dev-cluster", "--brokers", "3", "--port", &port.to_string()])
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut data_dir = None;
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.strip_prefix("Data and logs: ") {
                data_dir = rest.split(" (").next().map(std::path::PathBuf::from);
            }
            if let Some(b) = line.strip_prefix("Bootstrap servers: ") {
                return (child, port, b.to_string(), data_dir, lines);
            }
        }
        let status = child.wait().unwrap();
        failures.push(format!(
            "port {port}: {status}: {}",
            std::fs::read_to_string(stderr.path()).unwrap_or_default()
        ));
    }
    panic!("dev-cluster printed no bootstrap: {failures:#?}");
}

/// When the test fails: prints the end of every node's log and stops the cluster (which
/// removes its directory), so that a failure explains itself and leaves no process behind.
struct OnFailure {
    pid: rustix::process::Pid,
    data_dir: std::path::PathBuf,
}

impl Drop for OnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for i in 1..=3 {
            let log = self.data_dir.join(format!("node{i}.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("--- the end of {}:", log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = rustix::process::kill_process(self.pid, rustix::process::Signal::INT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_cluster_starts_three_nodes_and_stops_them_on_ctrl_c() {
    let (mut child, port, bootstrap, data_dir, _output) = start_dev_cluster();
    let _on_failure = OnFailure {
        pid: rustix::process::Pid::from_child(&child),
        data_dir: data_dir.clone().unwrap_or_default(),
    };
    let expected = (0..3)
        .map(|i| format!("127.0.0.1:{}", port + i))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(bootstrap, expected);
    let data_dir = data_dir.expect("the data directory is printed");
    assert!(data_dir.join("node3.properties").exists());

    // a topic with three replicas takes acknowledged writes
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &bootstrap);
    let admin: AdminClient<DefaultClientContext> = config.create().unwrap();
    let topic = NewTopic::new("dev", 3, TopicReplication::Fixed(3));
    let created = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
    let producer: FutureProducer = config.clone().set("acks", "all").create().unwrap();
    for i in 0..30 {
        producer
            .send(
                FutureRecord::<(), _>::to("dev").payload(&format!("v{i}")),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
    // (brokers still catching up when the topic was created join its ISRs a moment later)
    let describe = || {
        let out = Command::new(BIN)
            .args(["cluster", "describe", "-b", &bootstrap])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text = describe();
    while !text.contains("Under-replicated partitions: 0") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        text = describe();
    }
    assert!(text.contains("voters [1, 2, 3]"), "{text}");
    assert!(text.contains("Under-replicated partitions: 0"), "{text}");

    // Ctrl-C stops every node and removes the temporary directory
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "dev-cluster did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    for i in 0..3 {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok(),
            "broker {} still listens",
            i + 1
        );
    }
    assert!(!data_dir.exists(), "the temporary directory is removed");
}
