//! The datagen connector in a standalone worker against an in-process broker, driven through
//! the REST API: each quickstart makes exactly `iterations` records whose JSON values have the
//! quickstart's fields within their declared ranges, options and patterns; a worker restarted
//! on the same offsets file goes on counting (and iterating) where the last one stopped.

mod common;

use std::time::Duration;

use common::ConnectWorker;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use regex::Regex;
use serde_json::{json, Value};
use tributary_testkit::{unique_name, TestBroker};

/// One record as read back: key text, JSON value, headers as text.
struct Read {
    key: Option<String>,
    value: Value,
    headers: Vec<(String, String)>,
}

impl Read {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `topic` from the start until `n` records came (or 30 s passed).
async fn read(broker: &TestBroker, topic: &str, n: usize) -> Vec<Read> {
    let consumer: StreamConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n && std::time::Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await else {
            continue;
        };
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), text(h.value).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Read {
            key: text(m.key()),
            value: serde_json::from_slice(m.payload().unwrap_or(b"null")).expect("a JSON value"),
            headers,
        });
    }
    out
}

/// How many records `topic` holds (its high watermark; one partition).
fn records_in(broker: &TestBroker, topic: &str) -> i64 {
    let consumer: StreamConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("watermarks"))
        .create()
        .expect("a consumer");
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("the watermarks");
    high - low
}

/// The committed `current.iteration` of a datagen connector's task 0 (0 before any commit).
async fn committed_iteration(w: &ConnectWorker, name: &str) -> i64 {
    let (code, body) = w
        .request(
            reqwest::Method::GET,
            &format!("/connectors/{name}/offsets"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let offsets = body["offsets"].as_array().cloned().unwrap_or_default();
    offsets
        .iter()
        .find(|o| o["partition"] == json!({"task.id": 0}))
        .and_then(|o| o["offset"]["current.iteration"].as_i64())
        .unwrap_or(0)
}

/// Waits until the task committed `n` iterations: everything it made is in the topic by then.
async fn wait_for_commit(w: &ConnectWorker, name: &str, n: i64) {
    let mut last = 0;
    for _ in 0..600 {
        last = committed_iteration(w, name).await;
        if last >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last, n, "{name}: the committed iteration");
}

async fn create(w: &ConnectWorker, name: &str, config: Value) {
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": name, "config": config})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

fn config(quickstart: &str, topic: &str, iterations: usize, max_interval: u32) -> Value {
    json!({
        "connector.class": "DatagenConnector", "tasks.max": "1", "kafka.topic": topic,
        "quickstart": quickstart, "iterations": iterations.to_string(),
        "max.interval": max_interval.to_string(),
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true"})
}

fn matches(pattern: &str, v: &Value) -> bool {
    let re = Regex::new(&format!("^(?:{pattern})$")).expect("a regex");
    v.as_str().is_some_and(|s| re.is_match(s))
}

fn long_in(v: &Value, min: i64, max: i64) -> bool {
    v.as_i64().is_some_and(|x| (min..max).contains(&x))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstarts_make_exactly_iterations_records_of_their_schema() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("connect.offsets"), &[]).await;
    let n = 50;
    let topics: Vec<(&str, String)> = ["users", "pageviews", "orders"]
        .into_iter()
        .map(|q| (q, unique_name(&format!("datagen-{q}"))))
        .collect();
    for (q, topic) in &topics {
        broker.create_topic(topic, 1).await;
        create(&w, &format!("gen-{q}"), config(q, topic, n, 0)).await;
    }
    for (q, topic) in &topics {
        let name = format!("gen-{q}");
        wait_for_commit(&w, &name, n as i64).await;
        assert_eq!(
            records_in(&broker, topic),
            n as i64,
            "{q}: exactly {n} records"
        );
        let records = read(&broker, topic, n).await;
        assert_eq!(records.len(), n, "{q}");
        for (i, r) in records.iter().enumerate() {
            let (schema, p) = (&r.value["schema"], &r.value["payload"]);
            assert_eq!(schema["name"], format!("ksql.{q}"), "{q}");
            assert_eq!(
                r.header("current.iteration"),
                Some(i.to_string().as_str()),
                "{q}"
            );
            assert_eq!(r.header("task.id"), Some("0"));
            let key = r.key.as_deref();
            match *q {
                "users" => {
                    let fields: Vec<&str> = schema["fields"]
                        .as_array()
                        .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
                        .unwrap_or_default();
                    assert_eq!(fields, ["registertime", "userid", "regionid", "gender"]);
                    assert!(
                        long_in(&p["registertime"], 1487715775521, 1519273364600),
                        "{p}"
                    );
                    assert!(matches("User_[1-9]", &p["userid"]), "{p}");
                    assert!(matches("Region_[1-9]", &p["regionid"]), "{p}");
                    assert!(matches("MALE|FEMALE|OTHER", &p["gender"]), "{p}");
                    assert_eq!(key, p["userid"].as_str(), "keyed by userid");
                }
                "pageviews" => {
                    assert_eq!(p["viewtime"], json!(1 + 10 * i), "{p}");
                    assert!(matches("User_[1-9]", &p["userid"]), "{p}");
                    assert!(matches("Page_[1-9][0-9]", &p["pageid"]), "{p}");
                    assert_eq!(
                        key,
                        Some((1 + 10 * i).to_string().as_str()),
                        "keyed by viewtime"
                    );
                }
                _ => {
                    assert!(
                        long_in(&p["ordertime"], 1487715775521, 1519273364600),
                        "{p}"
                    );
                    assert_eq!(p["orderid"], json!(i), "{p}");
                    assert!(matches("Item_[1-9][0-9]{0,2}", &p["itemid"]), "{p}");
                    let units = p["orderunits"].as_f64().unwrap_or(-1.0);
                    assert!((0.1..10.0).contains(&units), "{p}");
                    let a = &p["address"];
                    assert!(matches("City_[1-9]{0,2}", &a["city"]), "{p}");
                    assert!(matches("State_[1-9]{0,2}", &a["state"]), "{p}");
                    assert!(long_in(&a["zipcode"], 10000, 99999), "{p}");
                    assert_eq!(key, Some(i.to_string().as_str()), "keyed by orderid");
                }
            }
        }
        let (_, status) = w
            .request(
                reqwest::Method::GET,
                &format!("/connectors/{name}/status"),
                None,
            )
            .await;
        assert_eq!(
            status["tasks"][0]["state"], "RUNNING",
            "done, idle, not failed"
        );
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_goes_on_counting_where_it_stopped() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let offsets = dir.path().join("connect.offsets");
    let topic = unique_name("datagen-restart");
    broker.create_topic(&topic, 1).await;

    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    // Confluent's checks answer a create: one schema source, a key field the schema has
    for (extra, why) in [
        (
            json!({"schema.filename": "/x.avsc"}),
            "Must set exactly one of",
        ),
        (
            json!({"schema.keyfield": "nope"}),
            "does not contain the field",
        ),
    ] {
        let mut bad = config("pageviews", &topic, 5, 0);
        if let (Some(o), Some(e)) = (bad.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let (code, body) = w
            .request(
                reqwest::Method::POST,
                "/connectors",
                Some(json!({"name": "bad", "config": bad})),
            )
            .await;
        assert_eq!(code, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains(why),
            "{body}"
        );
    }
    create(&w, "views", config("pageviews", &topic, 5, 0)).await;
    wait_for_commit(&w, "views", 5).await;
    w.stop().await;
    assert_eq!(records_in(&broker, &topic), 5);

    // the same connector on a new worker, now allowed 8 in all: 3 more, not 8 more
    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    create(&w, "views", config("pageviews", &topic, 8, 20)).await;
    wait_for_commit(&w, "views", 8).await;
    assert_eq!(records_in(&broker, &topic), 8, "3 more records, not 8");
    let records = read(&broker, &topic, 8).await;
    let viewtimes: Vec<i64> = records
        .iter()
        .map(|r| r.value["payload"]["viewtime"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(
        viewtimes,
        [1, 11, 21, 31, 41, 51, 61, 71],
        "the iteration goes on"
    );
    let generations: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.header("task.generation"))
        .collect();
    assert_eq!(
        generations,
        [Some("0"); 5]
            .into_iter()
            .chain([Some("1"); 3])
            .collect::<Vec<_>>()
    );
    let (_, status) = w
        .request(reqwest::Method::GET, "/connectors/views/status", None)
        .await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    w.stop().await;
}
