//! The CLI as a user runs it: a real `tributary server` process and the client subcommands.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tributary_testkit::{free_port, ServerProcess};

struct Server {
    // killed on drop
    _process: ServerProcess,
    bootstrap: String,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let process = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), free_port());
    Server {
        bootstrap: process.bootstrap(),
        _process: process,
        _dir: dir,
    }
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn topic_lifecycle_produce_and_consume_as_json() {
    let s = server();
    let b = s.bootstrap.as_str();
    ok(&run(
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=60000",
            "-b",
            b,
        ],
        None,
    ));
    let list = ok(&run(&["topic", "list", "-b", b], None));
    assert_eq!(list.trim(), "orders");
    let described = ok(&run(
        &["topic", "describe", "orders", "--configs", "-b", b],
        None,
    ));
    assert!(described.contains("PartitionCount: 3"), "{described}");
    assert!(described.contains("retention.ms=60000"), "{described}");

    let input = "alice:1\nbob:2\ncarol:3\nalice:4\n";
    ok(&run(
        &["produce", "orders", "-K", ":", "-H", "source=cli", "-b", b],
        Some(input),
    ));
    let out = ok(&run(
        &[
            "consume",
            "orders",
            "--from-beginning",
            "-e",
            "--format",
            "json",
            "-b",
            b,
        ],
        None,
    ));
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    let alice: Vec<&serde_json::Value> = records.iter().filter(|r| r["key"] == "alice").collect();
    assert_eq!(alice.len(), 2);
    assert_eq!(
        alice[0]["partition"], alice[1]["partition"],
        "same key, same partition"
    );
    assert_eq!(alice[0]["headers"][0]["key"], "source");
    assert_eq!(alice[0]["headers"][0]["value"], "cli");
    for r in &records {
        assert_eq!(r["topic"], "orders");
        assert!(r["timestamp"].as_i64().unwrap() > 0);
    }
    // one partition, from an offset, limited count
    let p = alice[0]["partition"].as_i64().unwrap().to_string();
    let second = alice[1]["offset"].as_i64().unwrap().to_string();
    let out = ok(&run(
        &[
            "consume", "orders", "-p", &p, "--offset", &second, "-n", "1", "-b", b,
        ],
        None,
    ));
    assert_eq!(out.trim(), "4");
    let out = ok(&run(
        &["consume", "orders", "--from-timestamp", "0", "-e", "-b", b],
        None,
    ));
    assert_eq!(out.lines().count(), 4);

    ok(&run(
        &["topic", "add-partitions", "orders", "-p", "5", "-b", b],
        None,
    ));
    assert!(ok(&run(&["topic", "describe", "orders", "-b", b], None)).contains("PartitionCount: 5"));
    ok(&run(&["topic", "delete", "orders", "-b", b], None));
    assert_eq!(ok(&run(&["topic", "list", "-b", b], None)).trim(), "");
}

#[test]
fn errors_a_user_can_act_on_exit_non_zero() {
    let s = server();
    let b = s.bootstrap.as_str();
    let out = run(&["consume", "nope", "-e", "-b", b], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown topic 'nope'"));
    let out = run(&["topic", "create", "bad name", "-b", b], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad name"));
    let out = run(&["produce", "t", "--acks", "7", "-b", b], Some("x\n"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--acks"));
    let out = run(&["topic", "frobnicate"], None);
    assert!(!out.status.success());
    let dead = free_port();
    let out = run(
        &[
            "topic",
            "list",
            "--timeout-ms",
            "1500",
            "-b",
            &format!("127.0.0.1:{dead}"),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach a broker"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn server_rejects_bad_configuration_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.properties");
    std::fs::write(&cfg, "num.partitions=many\n").unwrap();
    let out = run(&["server", "--config", cfg.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("num.partitions"));
    let out = run(
        &["server", "--config", "/nonexistent/server.properties"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

/// Commits `offsets` for `group` as a standalone consumer (no membership).
fn commit(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, rdkafka::Offset::Offset(*o))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).unwrap();
}

/// The `CURRENT-OFFSET` column of `group describe` for each partition.
fn current_offsets(bootstrap: &str, group: &str, topic: &str) -> Vec<String> {
    let out = ok(&run(&["group", "describe", group, "-b", bootstrap], None));
    out.lines()
        .filter(|l| l.starts_with(topic))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
        .collect()
}

#[test]
fn group_list_describe_reset_and_delete() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let s = server();
    let b = s.bootstrap.as_str();
    ok(&run(
        &["topic", "create", "events", "-p", "2", "-b", b],
        None,
    ));
    let lines: String = (0..100).map(|i| format!("{}:v{i}\n", i % 7)).collect();
    ok(&run(
        &["produce", "events", "-K", ":", "-b", b],
        Some(&lines),
    ));
    commit(b, "billing", "events", &[(0, 10), (1, 20)]);

    let list = ok(&run(&["group", "list", "-b", b], None));
    let row = list.lines().find(|l| l.starts_with("billing")).unwrap();
    assert!(row.contains("Empty"), "{list}");

    let describe = ok(&run(&["group", "describe", "billing", "-b", b], None));
    assert!(describe.contains("State: Empty"), "{describe}");
    let rows: Vec<Vec<&str>> = describe
        .lines()
        .filter(|l| l.starts_with("events"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{describe}");
    let total_end: i64 = rows.iter().map(|r| r[3].parse::<i64>().unwrap()).sum();
    assert_eq!(total_end, 100);
    for r in &rows {
        let (current, end, lag) = (
            r[2].parse::<i64>().unwrap(),
            r[3].parse::<i64>().unwrap(),
            r[4].parse::<i64>().unwrap(),
        );
        assert_eq!(lag, end - current, "{describe}");
    }

    // dry run by default: nothing changes
    let dry = ok(&run(
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "events",
            "--to-earliest",
            "-b",
            b,
        ],
        None,
    ));
    assert!(dry.contains("dry run"), "{dry}");
    assert_eq!(current_offsets(b, "billing", "events"), ["10", "20"]);
    // shift one partition back
    ok(&run(
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "events:1",
            "--shift-by",
            "-5",
            "--execute",
            "-b",
            b,
        ],
        None,
    ));
    assert_eq!(current_offsets(b, "billing", "events"), ["10", "15"]);
    // an offset past the end is clamped to the log end
    ok(&run(
        &[
            "group",
            "reset-offsets",
            "billing",
            "--all-topics",
            "--to-offset",
            "100000",
            "--execute",
            "-b",
            b,
        ],
        None,
    ));
    let ends: Vec<String> = ok(&run(&["group", "describe", "billing", "-b", b], None))
        .lines()
        .filter(|l| l.starts_with("events"))
        .map(|l| l.split_whitespace().nth(3).unwrap().to_string())
        .collect();
    assert_eq!(current_offsets(b, "billing", "events"), ends);
    // every record is newer than 2020
    ok(&run(
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "events",
            "--to-datetime",
            "2020-01-01T00:00:00",
            "--execute",
            "-b",
            b,
        ],
        None,
    ));
    assert_eq!(current_offsets(b, "billing", "events"), ["0", "0"]);

    // an active group is neither reset nor deleted
    let member: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", b)
        .set("group.id", "billing")
        .create()
        .unwrap();
    member.subscribe(&["events"]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        member.poll(std::time::Duration::from_millis(100));
        let out = ok(&run(&["group", "describe", "billing", "-b", b], None));
        if out.contains("State: Stable") {
            assert!(
                out.contains("events:0,1"),
                "the member's assignment is shown: {out}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "group never became Stable: {out}"
        );
    }
    let refused = run(
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "events",
            "--to-latest",
            "--execute",
            "-b",
            b,
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("inactive"));
    let refused = run(&["group", "delete", "billing", "-b", b], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("active members"));
    drop(member);

    ok(&run(&["group", "delete", "billing", "-b", b], None));
    let gone = run(&["group", "describe", "billing", "-b", b], None);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"));
}

fn fails_with(out: &Output, words: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {err}");
    for w in words {
        assert!(err.contains(w), "{err:?} should name {w}");
    }
}

#[test]
fn alter_configs_delete_records_and_broker_configs() {
    let s = server();
    let b = s.bootstrap.as_str();
    ok(&run(&["topic", "create", "logs", "-p", "1", "-b", b], None));
    let lines: String = (0..50).map(|i| format!("k{i}:v{i}\n")).collect();
    ok(&run(
        &["produce", "logs", "--key-separator", ":", "-b", b],
        Some(&lines),
    ));

    let out = ok(&run(
        &[
            "topic",
            "alter-config",
            "logs",
            "--set",
            "retention.ms=3600000",
            "--set",
            "cleanup.policy=compact,delete",
            "-b",
            b,
        ],
        None,
    ));
    assert!(out.contains("retention.ms=3600000"), "{out}");
    let described = ok(&run(
        &["topic", "describe", "logs", "--configs", "-b", b],
        None,
    ));
    assert!(
        described.contains("cleanup.policy=compact,delete"),
        "{described}"
    );
    let out = ok(&run(
        &[
            "topic",
            "alter-config",
            "logs",
            "--delete",
            "retention.ms",
            "-b",
            b,
        ],
        None,
    ));
    assert!(!out.contains("retention.ms"), "back to the default: {out}");
    fails_with(
        &run(
            &[
                "topic",
                "alter-config",
                "logs",
                "--set",
                "cleanup.policy=shred",
                "-b",
                b,
            ],
            None,
        ),
        &["cleanup.policy", "compact, delete"],
    );
    fails_with(
        &run(&["topic", "alter-config", "logs", "-b", b], None),
        &["nothing to change"],
    );

    let out = ok(&run(
        &[
            "topic",
            "delete-records",
            "logs",
            "--partition",
            "0",
            "--offset",
            "20",
            "-b",
            b,
        ],
        None,
    ));
    assert!(out.contains("low watermark 20"), "{out}");
    let consumed = ok(&run(
        &[
            "consume",
            "logs",
            "--from-beginning",
            "--exit-at-end",
            "-b",
            b,
        ],
        None,
    ));
    assert_eq!(consumed.lines().count(), 30, "{consumed}");
    fails_with(
        &run(
            &[
                "topic",
                "delete-records",
                "logs",
                "--offset",
                "500",
                "-b",
                b,
            ],
            None,
        ),
        &["OffsetOutOfRange"],
    );

    let out = ok(&run(
        &[
            "broker",
            "config",
            "--set",
            "log.retention.ms=86400000",
            "-b",
            b,
        ],
        None,
    ));
    assert!(
        out.contains("log.retention.ms=86400000\t(DynamicBroker)"),
        "{out}"
    );
    // as in Kafka, only the .ms form of a time config changes at runtime
    fails_with(
        &run(
            &[
                "broker",
                "config",
                "--set",
                "log.retention.hours=24",
                "-b",
                b,
            ],
            None,
        ),
        &["log.retention.hours", "dynamically"],
    );
    fails_with(
        &run(&["broker", "config", "--set", "node.id=7", "-b", b], None),
        &["node.id", "dynamically"],
    );
    let all = ok(&run(&["broker", "config", "-b", b], None));
    assert!(all.contains("node.id=1\t(Default, read-only)"), "{all}");
}

#[test]
fn txn_list_describe_and_producers_describe() {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let s = server();
    let b = s.bootstrap.as_str();
    ok(&run(&["topic", "create", "paid", "-p", "2", "-b", b], None));
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", b)
        .set("transactional.id", "billing-tx")
        .create()
        .unwrap();
    let t = std::time::Duration::from_secs(20);
    producer.init_transactions(t).unwrap();
    producer.begin_transaction().unwrap();
    for p in 0..2 {
        producer
            .send(BaseRecord::<(), _>::to("paid").partition(p).payload("x"))
            .unwrap();
    }
    producer.flush(t).unwrap();
    // the transaction is open: listed as Ongoing, described with its partitions
    let listed = ok(&run(&["txn", "list", "--state", "Ongoing", "-b", b], None));
    assert!(
        listed.contains("billing-tx") && listed.contains("Ongoing"),
        "{listed}"
    );
    let described = ok(&run(&["txn", "describe", "billing-tx", "-b", b], None));
    assert!(
        described.contains("state:             Ongoing"),
        "{described}"
    );
    assert!(described.contains("paid-0,paid-1"), "{described}");
    let producers = ok(&run(
        &["producers", "describe", "paid", "--partition", "0", "-b", b],
        None,
    ));
    // one producer, epoch 0, last sequence 0, its transaction open at offset 0
    let row: Vec<&str> = producers
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[0], row[2], row[3], row[6]),
        ("0", "0", "0", "0"),
        "{producers}"
    );
    producer.commit_transaction(t).unwrap();
    let listed = ok(&run(&["txn", "list", "-b", b], None));
    assert!(listed.contains("CompleteCommit"), "{listed}");
    let producers = ok(&run(&["producers", "describe", "paid", "-b", b], None));
    assert!(
        producers
            .lines()
            .skip(1)
            .all(|l| l.trim_end().ends_with('-')),
        "{producers}"
    );
    // errors a user can act on
    fails_with(
        &run(&["txn", "describe", "nope", "-b", b], None),
        &["nope", "no such transactional id"],
    );
    fails_with(
        &run(&["txn", "list", "--state", "Running", "-b", b], None),
        &["unknown state Running"],
    );
    fails_with(
        &run(&["producers", "describe", "missing", "-b", b], None),
        &["missing", "does not exist"],
    );
}

/// Runs `tributary ARGS | head -n LINES` the way a shell does: our stdout is a pipe whose reader
/// closes after `lines` lines. Returns the status and stderr of tributary.
fn into_head(args: &[&str], lines: usize) -> (std::process::ExitStatus, String, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let read: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(lines)
        .map(|l| l.unwrap())
        .collect();
    // the reader is gone: the next write hits a closed pipe
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        read,
    )
}

#[test]
fn a_closed_pipe_ends_client_commands_quietly_with_status_0() {
    let s = server();
    let b = s.bootstrap.as_str();
    let lines: String = (0..5000).map(|i| format!("record-{i}\n")).collect();
    ok(&run(&["produce", "piped", "-b", b], Some(&lines)));
    for i in 0..50 {
        ok(&run(&["topic", "create", &format!("t{i}"), "-b", b], None));
    }
    for args in [
        // streaming until the reader goes, also with no end in sight
        vec!["consume", "piped", "--from-beginning", "-b", b],
        vec![
            "consume",
            "piped",
            "--from-beginning",
            "--format",
            "json",
            "--exit-at-end",
            "-b",
            b,
        ],
        vec!["topic", "list", "-b", b],
    ] {
        let (status, stderr, read) = into_head(&args, 2);
        assert_eq!(read.len(), 2, "{args:?}");
        assert!(status.success(), "{args:?} ended with {status}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn client_commands_show_librdkafka_log_lines_only_with_verbose() {
    // nothing listens on this port: a producer retries for message.timeout.ms, and librdkafka
    // logs every failed connection attempt
    let b = format!("127.0.0.1:{}", free_port());
    let args = [
        "produce",
        "t",
        "-b",
        &b,
        "-X",
        "message.timeout.ms=2000",
        "--timeout-ms",
        "2000",
    ];
    let quiet = run(&args, Some("x\n"));
    assert!(!quiet.status.success());
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(stderr.contains("cannot reach a broker"), "{stderr}");
    assert!(
        !stderr.contains("librdkafka"),
        "no client library noise: {stderr}"
    );
    let verbose = run(&[&args[..], &["--verbose"]].concat(), Some("x\n"));
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("librdkafka"),
        "--verbose shows it: {stderr}"
    );
    assert!(stderr.contains("cannot reach a broker"), "{stderr}");
}

/// `tributary storage`, as `kafka-storage`: a cluster id, a formatted directory the server then
/// uses (its metadata starts with that cluster id), and refusals a user can act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_format_gives_the_cluster_its_id() {
    use kafka_protocol::messages::DescribeClusterRequest;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let id = ok(&run(&["storage", "random-uuid"], None))
        .trim()
        .to_string();
    assert_eq!(id.len(), 22, "{id}");
    let formatted = ok(&run(
        &[
            "storage",
            "format",
            "-t",
            &id,
            "--data-dir",
            data_arg,
            "--node-id",
            "7",
        ],
        None,
    ));
    assert!(formatted.contains(&id), "{formatted}");
    let info = ok(&run(&["storage", "info", "--data-dir", data_arg], None));
    assert!(
        info.contains(&format!("cluster.id={id}")) && info.contains("node.id=7"),
        "{info}"
    );
    // formatting twice is refused, unless asked to leave it
    fails_with(
        &run(
            &[
                "storage",
                "format",
                "-t",
                &id,
                "--data-dir",
                data_arg,
                "--node-id",
                "7",
            ],
            None,
        ),
        &["already formatted"],
    );
    ok(&run(
        &[
            "storage",
            "format",
            "-t",
            &id,
            "--data-dir",
            data_arg,
            "--node-id",
            "7",
            "--ignore-formatted",
        ],
        None,
    ));
    fails_with(
        &run(
            &[
                "storage",
                "format",
                "-t",
                "not-a-uuid",
                "--data-dir",
                data_arg,
            ],
            None,
        ),
        &["not-a-uuid", "UUID"],
    );
    // a server of another node id refuses the directory (and exits: bounded wait)
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args([
            "server",
            "--no-connect",
            "--no-ksql",
            "--data-dir",
            data_arg,
        ])
        .args(["--node-id", "8"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("a server on another node's directory kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fails_with(&child.wait_with_output().unwrap(), &["node.id=7"]);
    // the server of node 7 serves the cluster it was formatted for
    let server = ServerProcess::start_with(
        env!("CARGO_BIN_EXE_tributary"),
        &data,
        port,
        &[("node.id", "7")],
    );
    let mut raw = tributary_testkit::RawClient::connect(&server.bootstrap())
        .await
        .unwrap();
    let r = raw
        .call(&DescribeClusterRequest::default(), 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.cluster_id.as_str(), id);
}
