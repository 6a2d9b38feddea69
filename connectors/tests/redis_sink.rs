//! The Redis sink in a standalone worker against an in-process broker and a private
//! `redis-server` (testkit's `RedisServer`), driven through the REST API: records produced to
//! topics become `SET` keys and `HSET` hashes (from structs and maps), tombstones delete, and
//! the writes go on after Redis is killed and started again (the task retries).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::ConnectWorker;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tributary_testkit::{unique_name, RedisServer, TestBroker};

/// Produces `(key, value)` records (a `None` value is a tombstone), all delivered in order.
async fn produce(broker: &TestBroker, topic: &str, records: &[(&str, Option<&str>)]) {
    let producer: FutureProducer = broker.client_config().create().expect("a producer");
    let mut deliveries = Vec::with_capacity(records.len());
    for (k, v) in records {
        let mut r = FutureRecord::<str, str>::to(topic).key(k);
        if let Some(v) = v {
            r = r.payload(v);
        }
        deliveries.push(producer.send_result(r).map_err(|(e, _)| e).expect("queued"));
    }
    for d in deliveries {
        tokio::time::timeout(Duration::from_secs(30), d)
            .await
            .expect("delivered in time")
            .expect("not cancelled")
            .expect("produced");
    }
}

/// A new connection to a database of the server.
async fn redis_conn(redis: &RedisServer, db: u32) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url(db))
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connected to Redis")
}

async fn get(redis: &RedisServer, db: u32, key: &str) -> Option<String> {
    let mut c = redis_conn(redis, db).await;
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut c)
        .await
        .expect("GET answered")
}

async fn hgetall(redis: &RedisServer, db: u32, key: &str) -> BTreeMap<String, String> {
    let mut c = redis_conn(redis, db).await;
    redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut c)
        .await
        .expect("HGETALL answered")
}

/// Waits (30 s at most) until `f` holds.
async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(w: &ConnectWorker, name: &str, config: Value) {
    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            &format!("/connectors/{name}/config"),
            Some(config),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

async fn task_state(w: &ConnectWorker, name: &str) -> String {
    let (_, s) = w
        .request(
            reqwest::Method::GET,
            &format!("/connectors/{name}/status"),
            None,
        )
        .await;
    s["tasks"][0]["state"].as_str().unwrap_or("").to_string()
}

fn sink_config(redis: &RedisServer, topic: &str, extra: Value) -> Value {
    let mut c = json!({
        "connector.class": "com.github.jcustenborder.kafka.connect.redis.RedisSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "redis.hosts": redis.host_port(),
        "redis.client.mode": "Standalone",
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_become_keys_and_hashes_and_tombstones_delete() {
    let broker = TestBroker::start().await;
    let redis = RedisServer::start_async().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let (strings, structs, maps) = (
        unique_name("redis-set"),
        unique_name("redis-struct"),
        unique_name("redis-map"),
    );
    for t in [&strings, &structs, &maps] {
        broker.create_topic(t, 1).await;
    }

    // SET: string keys and values (the worker's StringConverter), the default database 1
    create(&w, "redis-set", sink_config(&redis, &strings, json!({}))).await;
    produce(
        &broker,
        &strings,
        &[
            ("k1", Some("v1")),
            ("k2", Some("v2")),
            ("k1", None),
            ("k3", Some("v3")),
        ],
    )
    .await;
    wait_until("k3 in Redis", || async {
        get(&redis, 1, "k3").await.as_deref() == Some("v3")
    })
    .await;
    assert_eq!(get(&redis, 1, "k2").await.as_deref(), Some("v2"));
    assert_eq!(get(&redis, 1, "k1").await, None, "the tombstone deleted k1");
    assert_eq!(get(&redis, 0, "k3").await, None, "database 0 untouched");

    // HSET from structs (JSON with schemas), database 2: a later record replaces the hash
    create(
        &w,
        "redis-struct",
        sink_config(
            &redis,
            &structs,
            json!({"redis.command": "HSET", "redis.database": "2",
                   "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                   "value.converter.schemas.enable": "true"}),
        ),
    )
    .await;
    let schema = json!({"type": "struct", "optional": false, "fields": [
        {"field": "name", "type": "string", "optional": false},
        {"field": "age", "type": "int32", "optional": true},
        {"field": "score", "type": "double", "optional": true}]});
    let ada = json!({"schema": schema, "payload": {"name": "ada", "age": 36, "score": 9.5}});
    let bob = json!({"schema": schema, "payload": {"name": "bob", "age": 40}});
    let bob2 = json!({"schema": schema, "payload": {"name": "bobby", "age": null}});
    let texts = [ada.to_string(), bob.to_string(), bob2.to_string()];
    produce(
        &broker,
        &structs,
        &[
            ("user:1", Some(texts[0].as_str())),
            ("user:2", Some(texts[1].as_str())),
            ("user:2", Some(texts[2].as_str())),
            ("user:3", Some(texts[1].as_str())),
            ("user:3", None),
            ("done", Some(texts[0].as_str())),
        ],
    )
    .await;
    wait_until("the last hash", || async {
        !hgetall(&redis, 2, "done").await.is_empty()
    })
    .await;
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        hgetall(&redis, 2, "user:1").await,
        map(&[("name", "ada"), ("age", "36"), ("score", "9.5")])
    );
    assert_eq!(
        hgetall(&redis, 2, "user:2").await,
        map(&[("name", "bobby")]),
        "the second record replaced the hash; its null field is left out"
    );
    assert!(
        hgetall(&redis, 2, "user:3").await.is_empty(),
        "the tombstone deleted the hash"
    );

    // HSET from maps (schemaless JSON), database 3
    create(
        &w,
        "redis-map",
        sink_config(
            &redis,
            &maps,
            json!({"redis.command": "HSET", "redis.database": "3",
                   "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                   "value.converter.schemas.enable": "false"}),
        ),
    )
    .await;
    produce(
        &broker,
        &maps,
        &[("m:1", Some(r#"{"a": 1, "b": "x", "c": true, "n": null}"#))],
    )
    .await;
    wait_until("the map's hash", || async {
        !hgetall(&redis, 3, "m:1").await.is_empty()
    })
    .await;
    assert_eq!(
        hgetall(&redis, 3, "m:1").await,
        map(&[("a", "1"), ("b", "x"), ("c", "true")])
    );

    for name in ["redis-set", "redis-struct", "redis-map"] {
        assert_eq!(task_state(&w, name).await, "RUNNING", "{name}");
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_after_redis_restarts() {
    let broker = TestBroker::start().await;
    let mut redis = RedisServer::start_async().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let topic = unique_name("redis-restart");
    broker.create_topic(&topic, 1).await;
    create(
        &w,
        "redis-restart",
        sink_config(
            &redis,
            &topic,
            json!({"redis.database": "0", "redis.operation.timeout.ms": "2000",
                   "redis.socket.connect.timeout.ms": "1000"}),
        ),
    )
    .await;
    produce(&broker, &topic, &[("before", Some("1"))]).await;
    wait_until("the first key", || async {
        get(&redis, 0, "before").await.as_deref() == Some("1")
    })
    .await;

    // Redis goes away: the records produced meanwhile wait in the task's retries
    tokio::task::block_in_place(|| redis.kill());
    produce(
        &broker,
        &topic,
        &[("during", Some("2")), ("gone", Some("x")), ("gone", None)],
    )
    .await;
    // give the task time to fail against the dead server (not a timing assertion)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        task_state(&w, "redis-restart").await,
        "RUNNING",
        "a lost connection is retriable"
    );

    // back (empty: nothing is saved): the batch is written again, then the next ones
    tokio::task::block_in_place(|| redis.start_again());
    wait_until("the key produced while Redis was down", || async {
        get(&redis, 0, "during").await.as_deref() == Some("2")
    })
    .await;
    assert_eq!(get(&redis, 0, "gone").await, None);
    produce(&broker, &topic, &[("after", Some("3"))]).await;
    wait_until("the key produced after the restart", || async {
        get(&redis, 0, "after").await.as_deref() == Some("3")
    })
    .await;
    assert_eq!(task_state(&w, "redis-restart").await, "RUNNING");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_used_and_a_wrong_one_fails_the_task() {
    let broker = TestBroker::start().await;
    let redis = RedisServer::start_async().await;
    let mut admin = redis_conn(&redis, 0).await;
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query_async(&mut admin)
        .await
        .expect("requirepass set");
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let topic = unique_name("redis-auth");
    broker.create_topic(&topic, 1).await;
    create(
        &w,
        "redis-wrong",
        sink_config(&redis, &topic, json!({"redis.password": "wrong"})),
    )
    .await;
    create(
        &w,
        "redis-right",
        sink_config(
            &redis,
            &topic,
            json!({"redis.password": "s3cret", "redis.database": "4"}),
        ),
    )
    .await;
    produce(&broker, &topic, &[("secured", Some("yes"))]).await;
    let mut c = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/4", redis.port()))
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connected with the password");
    wait_until("the key written with the password", || {
        let mut c = c.clone();
        async move {
            redis::cmd("GET")
                .arg("secured")
                .query_async::<Option<String>>(&mut c)
                .await
                .expect("GET answered")
                .as_deref()
                == Some("yes")
        }
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while task_state(&w, "redis-wrong").await != "FAILED" {
        assert!(Instant::now() < deadline, "a wrong password fails the task");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, s) = w
        .request(reqwest::Method::GET, "/connectors/redis-wrong/status", None)
        .await;
    let trace = s["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("refused the connection"), "{trace}");
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("")
        .query_async(&mut c)
        .await
        .expect("requirepass cleared");
    w.stop().await;
}
