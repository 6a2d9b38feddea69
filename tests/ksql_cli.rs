//! `tributary ksql-server` and `tributary ksql` as a user runs them: a broker process, a KSQL
//! server process on it, and the CLI given statements with `-e` and `-f`: its tables, a push
//! query's rows up to its `LIMIT`, and a failed statement's message and exit code.

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
