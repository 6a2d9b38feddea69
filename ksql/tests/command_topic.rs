//! What outlives a KSQL server: its service's command topic. A restarted server plays the
//! statements recorded there and resumes its persistent queries from their committed offsets
//! (a query terminated before the restart never runs again); two servers of one service see
//! each other's statements and split the queries' work; a headless server runs its queries
//! file and takes no statements over REST.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tributary_ksql::server::{KsqlServer, ServerConfig};
use tributary_testkit::{unique_name, TestBroker};

fn config(broker: &TestBroker, service: &str, state: &std::path::Path) -> ServerConfig {
    let mut props = BTreeMap::new();
    props.insert("bootstrap.servers".to_string(), broker.bootstrap());
    props.insert("listeners".to_string(), "http://127.0.0.1:0".to_string());
    props.insert("ksql.service.id".to_string(), service.to_string());
    props.insert(
        "ksql.streams.commit.interval.ms".to_string(),
        "100".to_string(),
    );
    props.insert(
        "ksql.streams.state.dir".to_string(),
        state.display().to_string(),
    );
    ServerConfig::from_properties(props).unwrap()
}

async fn start(
    broker: &TestBroker,
    service: &str,
    state: &std::path::Path,
) -> (KsqlServer, String) {
    let server = KsqlServer::start(config(broker, service, state))
        .await
        .unwrap();
    let url = format!("http://{}", server.addr());
    (server, url)
}

async fn ksql(url: &str, sql: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/ksql"))
        .json(&json!({"ksql": sql, "streamsProperties": {"auto.offset.reset": "earliest"}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn ok(url: &str, sql: &str) -> Value {
    let (status, body) = ksql(url, sql).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body
}

/// The ids of the queries `SHOW QUERIES` lists.
async fn query_ids(url: &str) -> Vec<String> {
    let body = ok(url, "SHOW QUERIES;").await;
    let mut ids: Vec<String> = body[0]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The names `SHOW STREAMS` lists.
async fn stream_names(url: &str) -> Vec<String> {
    let body = ok(url, "SHOW STREAMS;").await;
    let mut names: Vec<String> = body[0]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The values of `topic`'s records, once there are `want` (and a while more, to see any
/// extra), or when a minute has passed.
async fn values(broker: &TestBroker, topic: &str, want: usize) -> Vec<String> {
    tokio::task::block_in_place(|| read_values(broker, topic, want))
}

fn read_values(broker: &TestBroker, topic: &str, want: usize) -> Vec<String> {
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settle: Option<Instant> = None;
    while Instant::now() < deadline && settle.is_none_or(|s| Instant::now() < s) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string());
        }
        if out.len() >= want && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_secs(2));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_resumes_its_queries_from_the_command_topic() {
    let broker = TestBroker::start().await;
    let service = unique_name("svc");
    let state = tempfile::tempdir().unwrap();
    let topic = unique_name("src");
    let (first, url) = start(&broker, &service, state.path()).await;
    ok(&url, &format!(
        "CREATE STREAM SRC (ID INT KEY, V STRING) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);
         CREATE STREAM KEPT AS SELECT ID, V FROM SRC WHERE V <> 'skip';
         CREATE STREAM GONE AS SELECT * FROM SRC;"
    ))
    .await;
    let ids = query_ids(&url).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let gone = ids.iter().find(|id| id.contains("GONE")).unwrap().clone();
    ok(
        &url,
        &format!("TERMINATE {gone}; INSERT INTO SRC (ID, V) VALUES (1, 'a');"),
    )
    .await;
    assert_eq!(values(&broker, "KEPT", 1).await, vec![r#"{"V":"a"}"#]);
    first.stop().await;

    // the same service again: the catalogue and the running query are back
    let (second, url) = start(&broker, &service, state.path()).await;
    assert_eq!(stream_names(&url).await, vec!["GONE", "KEPT", "SRC"]);
    let kept: Vec<String> = ids.iter().filter(|id| **id != gone).cloned().collect();
    assert_eq!(query_ids(&url).await, kept);
    ok(&url, "INSERT INTO SRC (ID, V) VALUES (2, 'b');").await;
    // the query went on from its committed offset (no second 'a'); the one terminated before
    // any input never ran
    assert_eq!(
        values(&broker, "KEPT", 2).await,
        vec![r#"{"V":"a"}"#, r#"{"V":"b"}"#]
    );
    assert!(values(&broker, "GONE", 0).await.is_empty());
    // new queries count on from the recorded ones
    let body = ok(&url, "CREATE STREAM MORE AS SELECT * FROM SRC;").await;
    assert_eq!(body[0]["commandStatus"]["queryId"], "CSAS_MORE_2");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_of_one_service_share_statements_and_split_the_work() {
    let broker = TestBroker::start().await;
    let service = unique_name("svc");
    let (a_state, b_state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let topic = unique_name("src");
    let (a, a_url) = start(&broker, &service, a_state.path()).await;
    let (b, b_url) = start(&broker, &service, b_state.path()).await;

    // a statement on one server is known to the other at its next statement
    ok(&a_url, &format!(
        "CREATE STREAM SRC (ID INT KEY, V STRING) WITH (kafka_topic='{topic}', value_format='JSON', partitions=4);"
    ))
    .await;
    assert_eq!(stream_names(&b_url).await, vec!["SRC"]);
    let body = ok(&b_url, "CREATE STREAM OUT AS SELECT ID, V FROM SRC;").await;
    let id = body[0]["commandStatus"]["queryId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(query_ids(&a_url).await, vec![id.clone()]);
    // both run the query, one consumer group between them: every record once
    for server in [&a, &b] {
        let running = server.engine().await.running_queries();
        assert!(running.iter().any(|(q, _, _)| *q == id), "{running:?}");
    }
    let inserts: String = (0..20)
        .map(|i| format!("INSERT INTO SRC (ID, V) VALUES ({i}, 'v{i:02}');"))
        .collect();
    ok(&a_url, &inserts).await;
    let expected: Vec<String> = (0..20).map(|i| format!(r#"{{"V":"v{i:02}"}}"#)).collect();
    assert_eq!(values(&broker, "OUT", 20).await, expected);

    // TERMINATE on one server stops the query on both
    ok(&a_url, &format!("TERMINATE {id};")).await;
    assert!(query_ids(&b_url).await.is_empty());
    assert!(b.engine().await.running_queries().is_empty());
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_server_runs_its_queries_file() {
    let broker = TestBroker::start().await;
    let state = tempfile::tempdir().unwrap();
    let topic = unique_name("events");
    let sink = unique_name("loud");
    let file = state.path().join("queries.sql");
    std::fs::write(
        &file,
        format!(
            "-- the service's queries
             SET 'auto.offset.reset' = 'earliest';
             CREATE STREAM EVENTS (V STRING) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);
             CREATE STREAM LOUD WITH (kafka_topic='{sink}') AS SELECT V FROM EVENTS WHERE V <> 'quiet';"
        ),
    )
    .unwrap();
    let mut config = config(&broker, &unique_name("svc"), state.path());
    config
        .properties
        .insert("ksql.queries.file".into(), file.display().to_string());
    let server = KsqlServer::start(config.clone()).await.unwrap();
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for v in ["hello", "quiet", "world"] {
        let value = json!({ "V": v }).to_string();
        producer
            .send(
                FutureRecord::<(), _>::to(&topic).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        values(&broker, &sink, 2).await,
        vec![r#"{"V":"hello"}"#, r#"{"V":"world"}"#]
    );
    // no statements over REST
    let url = format!("http://{}", server.addr());
    let (status, body) = ksql(&url, "SHOW STREAMS;").await;
    assert_eq!(status, 405, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("headless"),
        "{body}"
    );
    server.stop().await;

    // a file with a statement it cannot hold, or without a query, starts nothing
    for (text, message) in [
        ("SHOW STREAMS;", "Unsupported statement"),
        (
            "CREATE STREAM E2 (V STRING) WITH (kafka_topic='e2', value_format='JSON', partitions=1);",
            "does not contain any persistent queries",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let error = KsqlServer::start(config.clone()).await.err().unwrap();
        assert!(error.to_string().contains(message), "{error}");
    }
    let missing = state.path().join("nope.sql");
    config
        .properties
        .insert("ksql.queries.file".into(), missing.display().to_string());
    let error = KsqlServer::start(config).await.err().unwrap();
    assert!(
        error.to_string().contains("Could not read the query file"),
        "{error}"
    );
}
