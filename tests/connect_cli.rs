//! `tributary connect standalone` as a user runs it: a real server process, a worker process
//! with a `.properties` source and a `.json` sink given on its command line, and a SIGTERM that
//! stops it cleanly (offsets committed, so a second run moves only new lines).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tributary_testkit::{free_port, unique_name, ServerProcess, StopOnDrop};

fn start_worker(dir: &Path, bootstrap: &str, port: u16, topic: &str) -> StopOnDrop {
    std::fs::write(
        dir.join("worker.properties"),
        format!(
            "bootstrap.servers={bootstrap}\nkey.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=500\nlisteners=http://127.0.0.1:{port}\n",
            dir.join("connect.offsets").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("source.properties"),
        format!(
            "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\nfile={}\ntopic={topic}\n",
            dir.join("in.txt").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("sink.json"),
        serde_json::json!({"name": "local-file-sink", "config": {
            "connector.class": "FileStreamSink", "file": dir.join("out.txt").display().to_string(),
            "topics": topic}})
        .to_string(),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["connect", "standalone"])
        .arg(dir.join("worker.properties"))
        .arg(dir.join("source.properties"))
        .arg(dir.join("sink.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    StopOnDrop {
        child,
        signal: "TERM",
    }
}

/// The body of a plain HTTP GET on a loopback port, if it answered 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} lines arrived",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn standalone_worker_copies_a_file_through_a_topic_and_resumes_after_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), free_port());
    let work = tempfile::tempdir().unwrap();
    let topic = unique_name("connect-test");
    std::fs::write(work.path().join("in.txt"), "foo\nbar\n").unwrap();
    let port = free_port();
    let worker = start_worker(work.path(), &server.bootstrap(), port, &topic);
    assert_eq!(
        wait_for_lines(&work.path().join("out.txt"), 2),
        ["foo", "bar"]
    );
    // the REST API answers as Kafka Connect's
    let status: serde_json::Value = loop {
        match http_get(port, "/connectors/local-file-source/status") {
            Some(body) => break serde_json::from_str(&body).unwrap(),
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(status["connector"]["state"], "RUNNING");
    drop(worker);
    // a second run on the same offsets file and sink group: only the new line moves
    std::fs::write(work.path().join("in.txt"), "foo\nbar\nbaz\n").unwrap();
    let _worker = start_worker(work.path(), &server.bootstrap(), free_port(), &topic);
    assert_eq!(
        wait_for_lines(&work.path().join("out.txt"), 3),
        ["foo", "bar", "baz"]
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        wait_for_lines(&work.path().join("out.txt"), 3).len(),
        3,
        "no line twice"
    );
}
