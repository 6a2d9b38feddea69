//! The JDBC sink connector against a real PostgreSQL (Debian's server, started privately by the
//! testkit) in a standalone worker driven through its REST API: insert, upsert and update,
//! every primary key mode, tables created and evolved from record schemas, deletes on
//! tombstones, bad records to the dead letter queue (or a failed task), and a large upsert
//! batch.

mod common;

use std::time::Duration;

use common::pg::{read_until, wait_task_state, Db};
use common::ConnectWorker;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tributary_testkit::{unique_name, TestBroker};

/// Connect's JSON with a schema.
fn envelope(schema: Value, payload: Value) -> String {
    json!({"schema": schema, "payload": payload}).to_string()
}

fn field(name: &str, ty: &str, optional: bool) -> Value {
    json!({"type": ty, "optional": optional, "field": name})
}

fn row_schema(fields: &[Value]) -> Value {
    json!({"type": "struct", "fields": fields, "optional": false, "name": "row"})
}

async fn produce(broker: &TestBroker, topic: &str, records: &[(Option<String>, Option<String>)]) {
    let producer: FutureProducer = broker.client_config().create().expect("test setup");
    // all sent, then all awaited (in order: one producer, one partition)
    let mut deliveries = Vec::with_capacity(records.len());
    for (k, v) in records {
        let mut r = FutureRecord::<str, str>::to(topic);
        if let Some(k) = k {
            r = r.key(k);
        }
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

fn sink_config(db: &Db, topic: &str, extra: Value) -> Value {
    let mut c = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": topic,
        "connection.url": db.url(),
        "connection.user": "postgres",
        "connection.backoff.ms": "200",
        "retry.backoff.ms": "100",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    c
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

fn s(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_creates_and_evolves_the_table() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let topic = unique_name("people").replace('-', "_");
    let v1 = row_schema(&[field("id", "int32", false), field("name", "string", true)]);
    produce(
        &broker,
        &topic,
        &[
            (
                None,
                Some(envelope(v1.clone(), json!({"id": 1, "name": "ada"}))),
            ),
            (
                None,
                Some(envelope(v1.clone(), json!({"id": 2, "name": null}))),
            ),
        ],
    )
    .await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "people-sink",
        sink_config(
            &db,
            &topic,
            json!({"pk.mode": "record_value", "pk.fields": "id", "auto.create": "true", "auto.evolve": "true"}),
        ),
    )
    .await;
    let table = format!("\"{topic}\"");
    let rows = db
        .wait_rows(&format!("SELECT id, name FROM {table} ORDER BY id"), |r| {
            r.len() == 2
        })
        .await;
    assert_eq!(rows, s(&[&["1", "ada"], &["2", "NULL"]]));
    // created with Confluent's types, nullability and the primary key
    let columns = db
        .rows(&format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_name = '{topic}' ORDER BY ordinal_position"
        ))
        .await;
    assert_eq!(
        columns,
        s(&[&["id", "integer", "NO"], &["name", "text", "YES"]])
    );
    let pk = db
        .rows(&format!(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{table}'::regclass AND i.indisprimary"
        ))
        .await;
    assert_eq!(pk, s(&[&["id"]]));

    // a new optional field: the column is added
    let v2 = row_schema(&[
        field("id", "int32", false),
        field("name", "string", true),
        json!({"type": "int64", "optional": true, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "field": "seen"}),
        json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": {"scale": "2"}, "field": "balance"}),
    ]);
    produce(
        &broker,
        &topic,
        &[(
            None,
            Some(envelope(
                v2,
                json!({"id": 3, "name": "cy", "seen": 1_709_212_455_678i64, "balance": "MDk="}),
            )),
        )],
    )
    .await;
    let rows = db
        .wait_rows(
            &format!("SELECT id, name, seen, balance FROM {table} ORDER BY id"),
            |r| r.len() == 3,
        )
        .await;
    assert_eq!(rows[2], ["3", "cy", "2024-02-29 13:14:15.678", "123.45"]);
    assert_eq!(rows[0][2], "NULL");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_by_record_key_and_delete_on_tombstones() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let topic = unique_name("accounts");
    let v = row_schema(&[
        field("owner", "string", false),
        field("balance", "int64", false),
    ]);
    let key = |id: i64| {
        Some(envelope(
            json!({"type": "int64", "optional": false}),
            json!(id),
        ))
    };
    let value = |owner: &str, balance: i64| {
        Some(envelope(
            v.clone(),
            json!({"owner": owner, "balance": balance}),
        ))
    };
    produce(
        &broker,
        &topic,
        &[
            (key(1), value("ada", 10)),
            (key(2), value("bob", 20)),
            (key(1), value("ada", 15)),
            (key(3), value("cy", 30)),
            (key(3), None),
        ],
    )
    .await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "accounts-sink",
        sink_config(
            &db,
            &topic,
            json!({"key.converter": "org.apache.kafka.connect.json.JsonConverter",
                   "table.name.format": "acct_${topic}",
                   "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id",
                   "delete.enabled": "true", "auto.create": "true"}),
        ),
    )
    .await;
    let table = format!("\"acct_{topic}\"");
    let sql = format!("SELECT id, owner, balance FROM {table} ORDER BY id");
    let rows = db
        .wait_rows(&sql, |r| {
            r == s(&[&["1", "ada", "15"], &["2", "bob", "20"]])
        })
        .await;
    assert_eq!(rows.len(), 2);
    // later: an update of 2 and a delete of 1
    produce(
        &broker,
        &topic,
        &[(key(2), value("bob", 25)), (key(1), None)],
    )
    .await;
    db.wait_rows(&sql, |r| r == s(&[&["2", "bob", "25"]])).await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_mode_and_kafka_coordinates_as_the_key() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let prices = unique_name("prices").replace('-', "_");
    db.exec(&format!(
        "CREATE TABLE \"{prices}\" (sku TEXT PRIMARY KEY, price NUMERIC(8,2) NOT NULL, note TEXT);
         INSERT INTO \"{prices}\" VALUES ('a', 1.00, 'keep'), ('b', 2.00, NULL);"
    ))
    .await;
    let v = row_schema(&[
        field("sku", "string", false),
        field("price", "double", false),
    ]);
    produce(
        &broker,
        &prices,
        &[
            (
                None,
                Some(envelope(v.clone(), json!({"sku": "a", "price": 1.5}))),
            ),
            (
                None,
                Some(envelope(v.clone(), json!({"sku": "zzz", "price": 9.0}))),
            ),
        ],
    )
    .await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "prices-sink",
        sink_config(
            &db,
            &prices,
            json!({"insert.mode": "update", "pk.mode": "record_value", "pk.fields": "sku"}),
        ),
    )
    .await;
    // the existing row is updated (its other columns kept); no row is added
    db.wait_rows(
        &format!("SELECT sku, price, note FROM \"{prices}\" ORDER BY sku"),
        |r| r == s(&[&["a", "1.50", "keep"], &["b", "2.00", "NULL"]]),
    )
    .await;

    // pk.mode=kafka: the coordinates are the key, in Confluent's default columns
    let log = unique_name("log").replace('-', "_");
    let v = row_schema(&[field("msg", "string", false)]);
    produce(
        &broker,
        &log,
        &[
            (None, Some(envelope(v.clone(), json!({"msg": "one"})))),
            (None, Some(envelope(v.clone(), json!({"msg": "two"})))),
        ],
    )
    .await;
    create(
        &w,
        "log-sink",
        sink_config(
            &db,
            &log,
            json!({"pk.mode": "kafka", "auto.create": "true"}),
        ),
    )
    .await;
    let rows = db
        .wait_rows(
            &format!(
                "SELECT __connect_topic, __connect_partition, __connect_offset, msg FROM \"{log}\" ORDER BY __connect_offset"
            ),
            |r| r.len() == 2,
        )
        .await;
    assert_eq!(
        rows,
        s(&[&[&log, "0", "0", "one"], &[&log, "0", "1", "two"]])
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_go_to_the_dead_letter_queue() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let topic = unique_name("stock").replace('-', "_");
    let dlq = unique_name("dlq");
    db.exec(&format!(
        "CREATE TABLE \"{topic}\" (id INT PRIMARY KEY, qty INT NOT NULL)"
    ))
    .await;
    let good = row_schema(&[field("id", "int32", false), field("qty", "int32", false)]);
    // qty is text where the table has an integer
    let wrong_type = row_schema(&[field("id", "int32", false), field("qty", "string", false)]);
    let no_id = row_schema(&[field("qty", "int32", false)]);
    produce(
        &broker,
        &topic,
        &[
            (
                None,
                Some(envelope(good.clone(), json!({"id": 1, "qty": 5}))),
            ),
            (
                None,
                Some(envelope(wrong_type, json!({"id": 2, "qty": "many"}))),
            ),
            (None, Some(envelope(no_id, json!({"qty": 3})))),
            (
                None,
                Some(envelope(
                    json!({"type": "string", "optional": false}),
                    json!("just text"),
                )),
            ),
            (
                None,
                Some(envelope(good.clone(), json!({"id": 1, "qty": 6}))),
            ),
            (
                None,
                Some(envelope(good.clone(), json!({"id": 4, "qty": 8}))),
            ),
        ],
    )
    .await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "stock-sink",
        sink_config(
            &db,
            &topic,
            json!({"insert.mode": "insert", "pk.mode": "record_value", "pk.fields": "id",
                   "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
                   "errors.deadletterqueue.context.headers.enable": "true"}),
        ),
    )
    .await;
    // the duplicate id 1 violates the primary key: it too is a bad record
    let dead = read_until(&broker, &dlq, |r| r.len() >= 4).await;
    let messages: Vec<String> = dead
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "__connect.errors.exception.message")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    let payloads: Vec<Value> = dead.iter().map(|r| r.value["payload"].clone()).collect();
    assert!(
        payloads.contains(&json!({"id": 2, "qty": "many"})),
        "{payloads:?}"
    );
    assert!(payloads.contains(&json!("just text")), "{payloads:?}");
    assert!(
        payloads.contains(&json!({"id": 1, "qty": 6})),
        "{payloads:?}"
    );
    let all = messages.join("\n");
    assert!(
        all.contains("a STRING value cannot be written into a column of type int4"),
        "{all}"
    );
    assert!(
        all.contains("record value schema does not contain field: id"),
        "{all}"
    );
    assert!(
        all.contains("requires records with a non-null Struct value and non-null Struct schema"),
        "{all}"
    );
    assert!(
        all.contains("duplicate key value violates unique constraint"),
        "{all}"
    );
    db.wait_rows(
        &format!("SELECT id, qty FROM \"{topic}\" ORDER BY id"),
        |r| r == s(&[&["1", "5"], &["4", "8"]]),
    )
    .await;
    let (_, tasks) = common::pg::status(&w, "stock-sink").await;
    assert_eq!(tasks[0].0, "RUNNING");

    // without errors.tolerance a bad record fails the task, saying why
    let strict = unique_name("strict");
    produce(
        &broker,
        &strict,
        &[(
            None,
            Some(envelope(
                json!({"type": "string", "optional": false}),
                json!("x"),
            )),
        )],
    )
    .await;
    create(
        &w,
        "strict-sink",
        sink_config(&db, &strict, json!({"auto.create": "true"})),
    )
    .await;
    let trace = wait_task_state(&w, "strict-sink", "FAILED").await;
    assert!(
        trace.contains("Sink connector 'strict-sink' is configured with 'delete.enabled=false' and 'pk.mode=none' and therefore requires records with a non-null Struct value and non-null Struct schema"),
        "{trace}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upsert_batch() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let topic = unique_name("big").replace('-', "_");
    let v = row_schema(&[
        field("id", "int64", false),
        field("name", "string", true),
        field("score", "double", true),
    ]);
    // 4000 rows, then 4000 updates of the same rows
    let mut records = Vec::new();
    for round in 0..2 {
        for id in 0..4000i64 {
            records.push((
                None,
                Some(envelope(
                    v.clone(),
                    json!({"id": id, "name": format!("n{id}-r{round}"), "score": id as f64 / 2.0}),
                )),
            ));
        }
    }
    produce(&broker, &topic, &records).await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "big-sink",
        sink_config(
            &db,
            &topic,
            json!({"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
                   "auto.create": "true", "batch.size": "1000"}),
        ),
    )
    .await;
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE name LIKE '%-r1'), sum(score) FROM \"{topic}\""
    );
    let rows = db
        .wait_rows(&sql, |r| r.first().is_some_and(|r| r[1] == "4000"))
        .await;
    assert_eq!(rows, s(&[&["4000", "4000", "3999000"]]));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_after_the_database_restarts() {
    let broker = TestBroker::start().await;
    let mut db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let topic = unique_name("restart").replace('-', "_");
    let v = row_schema(&[field("id", "int32", false), field("v", "string", true)]);
    let row = |id: i32| (None, Some(envelope(v.clone(), json!({"id": id, "v": "x"}))));
    produce(&broker, &topic, &[row(1), row(2)]).await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "restart-sink",
        sink_config(
            &db,
            &topic,
            json!({"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
                   "auto.create": "true", "max.retries": "100"}),
        ),
    )
    .await;
    let sql = format!("SELECT id FROM \"{topic}\" ORDER BY id");
    db.wait_rows(&sql, |r| r.len() == 2).await;
    // the connection is cut under the task: the next writes are retried until it is back
    db.restart().await;
    produce(&broker, &topic, &[row(3), row(4)]).await;
    let rows = db.wait_rows(&sql, |r| r.len() == 4).await;
    assert_eq!(rows, s(&[&["1"], &["2"], &["3"], &["4"]]));
    let (_, tasks) = common::pg::status(&w, "restart-sink").await;
    assert_eq!(tasks[0].0, "RUNNING");
    w.stop().await;
}
