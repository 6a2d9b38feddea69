//! A standalone worker against an in-process broker, driven through its REST API as a user
//! drives Kafka Connect with curl: file source to topic to file sink, pause and resume,
//! offsets that survive a restart (no line twice, none lost), transforms and converters on
//! the way, Kafka Connect's error bodies, and a failing task that shows its trace.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{append, eventually, lines, ConnectWorker};
use serde_json::{json, Value};
use tributary_testkit::{unique_name, TestBroker};

struct Files {
    _dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
    offsets: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("a temp dir");
    Files {
        input: dir.path().join("in.txt"),
        output: dir.path().join("out.txt"),
        offsets: dir.path().join("connect.offsets"),
        _dir: dir,
    }
}

async fn status_state(w: &ConnectWorker, name: &str) -> (String, Vec<String>) {
    let (_, s) = w
        .request(
            reqwest::Method::GET,
            &format!("/connectors/{name}/status"),
            None,
        )
        .await;
    let tasks = s["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["state"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    (
        s["connector"]["state"].as_str().unwrap_or("").to_string(),
        tasks,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_to_topic_to_file_survives_a_restart_without_duplicates() {
    let broker = TestBroker::start().await;
    let f = files();
    let topic = unique_name("connect-test");
    append(&f.input, "hello\nworld\nfoo bar\n");
    let w = ConnectWorker::start(&broker, &f.offsets, &[]).await;
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "file-source", "config": {
                "connector.class": "FileStreamSource", "tasks.max": "1",
                "file": f.input.display().to_string(), "topic": topic}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["type"], "source");
    assert_eq!(
        body["tasks"],
        json!([{"connector": "file-source", "task": 0}])
    );
    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            "/connectors/file-sink/config",
            Some(
                json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                "tasks.max": "1", "file": f.output.display().to_string(), "topics": topic}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    eventually("the three lines in the sink file", || {
        lines(&f.output).len() == 3
    })
    .await;
    assert_eq!(lines(&f.output), ["hello", "world", "foo bar"]);

    let (code, names) = w.request(reqwest::Method::GET, "/connectors", None).await;
    assert_eq!((code, names), (200, json!(["file-sink", "file-source"])));
    assert_eq!(
        status_state(&w, "file-source").await,
        ("RUNNING".into(), vec!["RUNNING".into()])
    );

    // paused: the status says so; resumed: lines written meanwhile arrive
    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/file-source/pause", None)
        .await;
    assert_eq!(code, 202);
    assert_eq!(status_state(&w, "file-source").await.0, "PAUSED");
    append(&f.input, "while paused\n");
    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/file-source/resume", None)
        .await;
    assert_eq!(code, 202);
    eventually("the line written while paused", || {
        lines(&f.output).len() == 4
    })
    .await;

    let (code, offsets) = w
        .request(
            reqwest::Method::GET,
            "/connectors/file-source/offsets",
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"filename": f.input.display().to_string()})
    );
    w.stop().await;

    // a new worker on the same offsets file and the same sink group: only new lines move
    append(&f.input, "after restart\n");
    let w = ConnectWorker::start(&broker, &f.offsets, &[]).await;
    for (name, config) in [
        (
            "file-source",
            json!({"connector.class": "FileStreamSource", "file": f.input.display().to_string(), "topic": topic}),
        ),
        (
            "file-sink",
            json!({"connector.class": "FileStreamSink", "file": f.output.display().to_string(), "topics": topic}),
        ),
    ] {
        let (code, body) = w
            .request(
                reqwest::Method::POST,
                "/connectors",
                Some(json!({"name": name, "config": config})),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }
    eventually("the line written before the restart", || {
        lines(&f.output).len() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lines(&f.output),
        ["hello", "world", "foo bar", "while paused", "after restart"]
    );
    let (code, _) = w
        .request(reqwest::Method::DELETE, "/connectors/file-source", None)
        .await;
    assert_eq!(code, 204);
    let (code, body) = w
        .request(reqwest::Method::GET, "/connectors/file-source", None)
        .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"error_code": 404, "message": "Connector file-source not found"})
        )
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_and_json_converter_shape_the_records() {
    let broker = TestBroker::start().await;
    let f = files();
    let topic = unique_name("lines");
    append(&f.input, "a\nb\n");
    let w = ConnectWorker::start(&broker, &f.offsets, &[]).await;
    // each line becomes {"line": ..., "src": "file"} written as schemaless JSON, to a renamed topic
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "shaped", "config": {
                "connector.class": "FileStreamSource", "file": f.input.display().to_string(), "topic": topic,
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
                "transforms": "hoist,insert,route",
                "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
                "transforms.hoist.field": "line",
                "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
                "transforms.insert.static.field": "src",
                "transforms.insert.static.value": "file",
                "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
                "transforms.route.regex": "(.*)",
                "transforms.route.replacement": "$1-shaped"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // a sink reading the renamed topic writes each value's text
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "out", "config": {
                "connector.class": "FileStreamSink", "file": f.output.display().to_string(),
                "topics": format!("{topic}-shaped"),
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    eventually("both shaped lines", || lines(&f.output).len() == 2).await;
    // (the schemaless map back from JSON prints as a Java HashMap does)
    assert_eq!(
        lines(&f.output),
        ["{src=file, line=a}", "{src=file, line=b}"]
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_kafka_connects_answers() {
    let broker = TestBroker::start().await;
    let f = files();
    let w = ConnectWorker::start(&broker, &f.offsets, &[]).await;
    let create = |config: Value| json!({"name": "c1", "config": config});
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(create(json!({"connector.class": "NoSuchConnector"}))),
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(body["error_code"], 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("Failed to find any class that implements Connector"),
        "{body}"
    );
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(create(
                json!({"connector.class": "FileStreamSource", "tasks.max": "abc", "topic": "t"}),
            )),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("Invalid value abc for configuration tasks.max"),
        "{body}"
    );
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(create(json!({"connector.class": "FileStreamSink"}))),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("Must configure one of topics or topics.regex"),
        "{body}"
    );
    let good = create(
        json!({"connector.class": "FileStreamSource", "topic": unique_name("t"), "file": f.input.display().to_string()}),
    );
    let (code, _) = w
        .request(reqwest::Method::POST, "/connectors", Some(good.clone()))
        .await;
    assert_eq!(code, 201);
    let (code, body) = w
        .request(reqwest::Method::POST, "/connectors", Some(good))
        .await;
    assert_eq!(
        (code, body),
        (
            409,
            json!({"error_code": 409, "message": "Connector c1 already exists"})
        )
    );
    let (code, body) = w.request(reqwest::Method::GET, "/nowhere", None).await;
    assert_eq!(code, 404);
    assert_eq!(body["error_code"], 404);
    // a task that cannot write its file fails, and says why
    let (code, _) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "broken", "config": {"connector.class": "FileStreamSink", "topics": "x",
                "file": f.input.parent().map(|d| d.display().to_string()).unwrap_or_default()}})),
        )
        .await;
    assert_eq!(code, 201);
    let mut state = (String::new(), Vec::new());
    for _ in 0..200 {
        state = status_state(&w, "broken").await;
        if state.1 == ["FAILED"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.1, ["FAILED"]);
    let (_, status) = w
        .request(
            reqwest::Method::GET,
            "/connectors/broken/tasks/0/status",
            None,
        )
        .await;
    assert!(
        status["trace"]
            .as_str()
            .unwrap_or("")
            .contains("FileStreamSinkTask"),
        "{status}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_queue_slows_a_source_down_and_loses_nothing() {
    let broker = TestBroker::start().await;
    let f = files();
    let topic = unique_name("connect-backpressure");
    let total = 4000;
    let text: String = (0..total).map(|i| format!("record-{i}\n")).collect();
    append(&f.input, &text);
    let w = ConnectWorker::start(&broker, &f.offsets, &[]).await;
    // a producer queue of 10 records: sends wait for room rather than fail or drop records
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "fast-source", "config": {
                "connector.class": "FileStreamSource", "file": f.input.display().to_string(),
                "topic": topic, "batch.size": "2000",
                "producer.override.queue.buffering.max.messages": "10"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let consumer: rdkafka::consumer::StreamConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("a consumer");
    rdkafka::consumer::Consumer::subscribe(&consumer, &[&topic]).expect("subscribed");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < total && std::time::Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await {
            let v = rdkafka::Message::payload(&m).map(|p| String::from_utf8_lossy(p).into_owned());
            seen.push(v.unwrap_or_default());
        }
    }
    let expected: Vec<String> = (0..total).map(|i| format!("record-{i}")).collect();
    assert_eq!(seen.len(), total, "every record once");
    assert!(seen == expected, "in order");
    assert_eq!(
        status_state(&w, "fast-source").await,
        ("RUNNING".into(), vec!["RUNNING".into()])
    );
    w.stop().await;
}
