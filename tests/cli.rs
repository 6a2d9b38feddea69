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
