//! The HTTP sink against a real HTTP server the test runs (axum on a loopback port): batches
//! as JSON arrays or lines, retries of statuses worth retrying, and records the endpoint
//! refuses for good going to the dead letter queue with Kafka Connect's context headers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::{eventually, ConnectWorker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use tributary_testkit::{unique_name, TestBroker};

/// What the endpoint received, and how it misbehaves.
#[derive(Default)]
struct Endpoint {
    bodies: Mutex<Vec<(HeaderMap, String)>>,
    /// Answer 503 to this many requests first.
    unavailable: AtomicUsize,
    /// Answer 400 to bodies containing this.
    refuse: Mutex<Option<String>>,
}

async fn receive(State(e): State<Arc<Endpoint>>, headers: HeaderMap, body: String) -> StatusCode {
    if e.unavailable.load(Ordering::SeqCst) > 0 {
        e.unavailable.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Some(bad) = e.refuse.lock().expect("test setup").as_deref() {
        if body.contains(bad) {
            return StatusCode::BAD_REQUEST;
        }
    }
    e.bodies.lock().expect("test setup").push((headers, body));
    StatusCode::OK
}

async fn endpoint() -> (Arc<Endpoint>, String) {
    let state = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/ingest", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test setup");
    let url = format!(
        "http://{}/ingest",
        listener.local_addr().expect("test setup")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (state, url)
}

async fn produce(broker: &TestBroker, topic: &str, values: &[&str]) {
    let producer: FutureProducer = broker.client_config().create().expect("test setup");
    for v in values {
        producer
            .send(
                FutureRecord::<(), str>::to(topic).payload(v),
                Duration::from_secs(10),
            )
            .await
            .expect("produced");
    }
}

fn bodies(e: &Endpoint) -> Vec<String> {
    e.bodies
        .lock()
        .expect("test setup")
        .iter()
        .map(|(_, b)| b.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_as_json_arrays_and_retries_what_is_worth_retrying() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let (endpoint, url) = endpoint().await;
    endpoint.unavailable.store(2, Ordering::SeqCst);
    let topic = unique_name("events");
    let values: Vec<String> = (0..25)
        .map(|i| format!(r#"{{"id":{i},"kind":"click"}}"#))
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    produce(&broker, &topic, &refs).await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "http", "config": {
                "connector.class": "io.confluent.connect.http.HttpSinkConnector",
                "topics": topic, "http.api.url": url,
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
                "request.body.format": "json", "batch.max.size": "10", "batch.json.as.array": "true",
                "headers": "X-Source:tributary|Authorization:Bearer t0ken",
                "retry.backoff.ms": "20"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    eventually("every record at the endpoint", || {
        bodies(&endpoint)
            .iter()
            .map(|b| serde_json::from_str::<Vec<serde_json::Value>>(b).map_or(0, |v| v.len()))
            .sum::<usize>()
            >= 25
    })
    .await;
    // each record once, in order, in arrays of at most 10; the two 503s were retried
    let received: Vec<serde_json::Value> = bodies(&endpoint)
        .iter()
        .flat_map(|b| serde_json::from_str::<Vec<serde_json::Value>>(b).expect("test setup"))
        .collect();
    let expected: Vec<serde_json::Value> = values
        .iter()
        .map(|v| serde_json::from_str(v).expect("test setup"))
        .collect();
    assert_eq!(received, expected);
    assert!(bodies(&endpoint)
        .iter()
        .all(|b| serde_json::from_str::<Vec<serde_json::Value>>(b)
            .expect("test setup")
            .len()
            <= 10));
    let (headers, _) = endpoint.bodies.lock().expect("test setup")[0].clone();
    assert_eq!(headers["x-source"], "tributary");
    assert_eq!(headers["authorization"], "Bearer t0ken");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(endpoint.unavailable.load(Ordering::SeqCst), 0);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_records_go_to_the_dead_letter_queue() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let (endpoint, url) = endpoint().await;
    *endpoint.refuse.lock().expect("test setup") = Some("poison".into());
    let topic = unique_name("lines");
    let dlq = unique_name("dlq");
    produce(&broker, &topic, &["first", "poison pill", "last"]).await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "http-lines", "config": {
                "connector.class": "HttpSinkConnector", "topics": topic, "http.api.url": url,
                "retry.on.status.codes": "500-", "retry.backoff.ms": "20",
                "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.context.headers.enable": "true"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    eventually("the two good lines", || bodies(&endpoint).len() >= 2).await;
    assert_eq!(bodies(&endpoint), ["first", "last"]);
    // the refused record, as it was read, with the reason
    let mut cc = broker.client_config();
    cc.set("group.id", unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = cc.create().expect("test setup");
    consumer.subscribe(&[&dlq]).expect("test setup");
    let mut found = None;
    for _ in 0..300 {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let headers: Vec<(String, String)> = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            found = Some((
                m.payload().map(|p| String::from_utf8_lossy(p).into_owned()),
                headers,
            ));
            break;
        }
    }
    let (payload, headers) = found.expect("a record in the dead letter queue");
    assert_eq!(payload.as_deref(), Some("poison pill"));
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(header("__connect.errors.topic"), Some(topic.clone()));
    assert_eq!(header("__connect.errors.stage"), Some("TASK_PUT".into()));
    assert_eq!(
        header("__connect.errors.connector.name"),
        Some("http-lines".into())
    );
    assert!(header("__connect.errors.exception.message")
        .unwrap_or_default()
        .contains("HTTP 400"));
    let (_, status) = w
        .request(reqwest::Method::GET, "/connectors/http-lines/status", None)
        .await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tolerance_a_refused_record_fails_the_task() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let (endpoint, url) = endpoint().await;
    *endpoint.refuse.lock().expect("test setup") = Some("poison".into());
    let topic = unique_name("lines");
    produce(&broker, &topic, &["poison"]).await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let (code, _) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "strict", "config": {
                "connector.class": "HttpSinkConnector", "topics": topic, "http.api.url": url,
                "retry.on.status.codes": "500-"}})),
        )
        .await;
    assert_eq!(code, 201);
    let mut state = String::new();
    let mut trace = String::new();
    for _ in 0..300 {
        let (_, s) = w
            .request(reqwest::Method::GET, "/connectors/strict/status", None)
            .await;
        state = s["tasks"][0]["state"].as_str().unwrap_or("").to_string();
        trace = s["tasks"][0]["trace"].as_str().unwrap_or("").to_string();
        if state == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "FAILED");
    assert!(
        trace.contains("Tolerance exceeded in error handler") && trace.contains("HTTP 400"),
        "{trace}"
    );
    w.stop().await;
}
