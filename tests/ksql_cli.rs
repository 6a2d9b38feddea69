//! `tributary ksql-server` and `tributary ksql` as a user runs them: a broker process, a KSQL
//! server process on it, and the CLI given statements with `-e` and `-f`: its tables, a push
//! query's rows up to its `LIMIT`, and a failed statement's message and exit code. And the
//! all-in-one `tributary server`: the broker, Connect and KSQL in one process, with the
//! README's five-statement KSQL quick start.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tributary_testkit::{free_port, unique_name, ServerProcess, StopOnDrop};

fn start_ksql(bootstrap: &str, port: u16) -> StopOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("ksql-server")
        .args(["--bootstrap-server", bootstrap])
        .args(["--listeners", &format!("http://127.0.0.1:{port}")])
        .args([
            "--override",
            &format!("ksql.service.id={}", unique_name("cli")),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = StopOnDrop {
        child,
        signal: "TERM",
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the KSQL server did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    process
}

fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("ksql")
        .arg(url)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_cli_runs_statements_and_push_queries_against_a_ksql_server() {
    let dir = tempfile::tempdir().unwrap();
    let broker = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), dir.path(), free_port());
    let port = free_port();
    let _ksql = start_ksql(&broker.bootstrap(), port);
    let url = format!("http://127.0.0.1:{port}");
    let topic = unique_name("rides");

    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE STREAM RIDES (ID INT KEY, CITY VARCHAR, KM DOUBLE)\n  WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);\n\
             INSERT INTO RIDES (ID, CITY, KM) VALUES (1, 'Lyon', 3.5);\n\
             INSERT INTO RIDES (ID, CITY, KM) VALUES (2, 'Oslo', 12.25);\n"
        ),
    )
    .unwrap();
    let out = cli(&url, &["-f", script.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(" Message        \n----------------\n Stream created \n"),
        "{text}"
    );

    let out = cli(
        &url,
        &["-e", "SHOW STREAMS; SET 'auto.offset.reset'='earliest'; SELECT CITY, KM * 2 AS TWICE FROM RIDES EMIT CHANGES LIMIT 2;"],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            " RIDES       | {topic} | KAFKA      | JSON         | false    "
        )),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("|")).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[0].starts_with("|CITY ") && rows[0].contains("|TWICE "),
        "{text}"
    );
    assert!(
        rows[1].starts_with("|Lyon ") && rows[1].contains("|7.0 "),
        "{text}"
    );
    assert!(
        rows[2].starts_with("|Oslo ") && rows[2].contains("|24.5 "),
        "{text}"
    );
    assert!(text.trim_end().ends_with("Query terminated"), "{text}");

    // a failed statement: its message on stderr, a failing exit, nothing after it run
    let out = cli(
        &url,
        &["-e", "SELECT NOPE FROM RIDES EMIT CHANGES; SHOW STREAMS;"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("column 'NOPE' cannot be resolved"), "{err}");
    assert!(!String::from_utf8(out.stdout)
        .unwrap()
        .contains("Stream Name"));

    // JSON output: the server's entities
    let out = cli(&url, &["--output", "JSON", "-e", "SHOW STREAMS;"]);
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["@type"], "streams");
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of a GET to `url` (a plain HTTP/1.1 request: the test needs no HTTP client).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

#[test]
fn tributary_server_runs_connect_and_ksql_beside_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (kafka, connect, ksql) = (free_port(), free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("server")
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{kafka}")])
        .args([
            "--connect-listeners",
            &format!("http://127.0.0.1:{connect}"),
        ])
        .args(["--ksql-listeners", &format!("http://127.0.0.1:{ksql}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = StopOnDrop {
        child,
        signal: "TERM",
    };
    wait_listening(ksql, "KSQL");
    wait_listening(connect, "Connect");
    // Connect's REST API: its version, and the connectors it can run
    let root = http_get(connect, "/");
    assert!(root.contains("\"kafka_cluster_id\""), "{root}");
    let plugins = http_get(connect, "/connector-plugins");
    assert!(plugins.contains("FileStreamSourceConnector"), "{plugins}");

    // the README's quick start: from CREATE STREAM to a windowed push query
    let url = format!("http://127.0.0.1:{ksql}");
    let out = cli(
        &url,
        &[
            "-e",
            "CREATE STREAM pageviews (userid VARCHAR KEY, page VARCHAR) WITH (kafka_topic='pageviews', value_format='json', partitions=1);
             INSERT INTO pageviews (userid, page) VALUES ('alice', '/home');
             INSERT INTO pageviews (userid, page) VALUES ('alice', '/cart');
             SET 'auto.offset.reset'='earliest';
             SELECT userid, WINDOWSTART, COUNT(*) AS views FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userid EMIT CHANGES LIMIT 2;",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert_eq!(rows[0], ["USERID", "WINDOWSTART", "VIEWS"], "{text}");
    assert_eq!((rows[1][0], rows[1][2]), ("alice", "1"), "{text}");
    // (the second view counts in the first's window, unless a minute began between them)
    let same_window = rows[1][1] == rows[2][1];
    assert_eq!(rows[2][2], if same_window { "2" } else { "1" }, "{text}");

    // SIGTERM stops all three
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let mut printed = String::new();
    std::io::Read::read_to_string(server.child.stdout.as_mut().unwrap(), &mut printed).unwrap();
    assert!(
        printed.contains(&format!("KSQL server listening on http://127.0.0.1:{ksql}")),
        "{printed}"
    );
}
