//! The JDBC source connector against a real PostgreSQL (Debian's server, started privately by
//! the testkit) in a standalone worker driven through its REST API: every mode, rows added
//! after the start, a restart that resumes from the stored offsets without duplicates, custom
//! queries, tables divided over tasks, and PostgreSQL types mapped as Confluent maps them.

mod common;

use common::pg::{read_until, wait_task_state, Db, Read};
use common::ConnectWorker;
use serde_json::{json, Value};
use tributary_testkit::{unique_name, TestBroker};

fn ids(records: &[Read], field: &str) -> Vec<i64> {
    records
        .iter()
        .filter_map(|r| r.value["payload"][field].as_i64())
        .collect()
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

fn base_config(db: &Db, prefix: &str, mode: &str) -> Value {
    json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": db.url(),
        "connection.user": "postgres",
        "connection.backoff.ms": "200",
        "mode": mode,
        "topic.prefix": prefix,
        "poll.interval.ms": "100",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        "value.converter.decimal.format": "NUMERIC",
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incrementing_mode_copies_new_rows_and_resumes_after_a_restart() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let offsets = dir.path().join("offsets");
    db.exec(
        "CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT);
         CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, total NUMERIC(10,2) NOT NULL);
         INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com'), ('bob', NULL), ('cy', 'cy@x');
         INSERT INTO orders (total) VALUES (12.50);",
    )
    .await;
    let prefix = format!("{}-", unique_name("pg"));
    let users_topic = format!("{prefix}users");
    let config = merge(
        base_config(&db, &prefix, "incrementing"),
        json!({"incrementing.column.name": "id", "table.whitelist": "users,public.orders", "tasks.max": "2"}),
    );
    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    create(&w, "pg-source", config.clone()).await;

    let records = read_until(&broker, &users_topic, |r| r.len() >= 3).await;
    assert_eq!(ids(&records, "id"), [1, 2, 3]);
    let first = &records[0];
    assert_eq!(first.key, None, "Confluent's source writes no key");
    assert_eq!(
        first.value["payload"],
        json!({"id": 1, "name": "ada", "email": "ada@example.com"})
    );
    assert_eq!(first.value["schema"]["name"], "users");
    assert_eq!(
        first.value["schema"]["fields"],
        json!([
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "string", "optional": false, "field": "name"},
            {"type": "string", "optional": true, "field": "email"}
        ])
    );
    // the two tables went to two tasks, each named in its task config
    let (_, tasks) = w
        .request(reqwest::Method::GET, "/connectors/pg-source/tasks", None)
        .await;
    let mut tables: Vec<String> = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["config"]["tables"].as_str().unwrap_or("").to_string())
        .collect();
    tables.sort();
    assert_eq!(tables, ["\"public\".\"orders\"", "\"public\".\"users\""]);
    let orders = read_until(&broker, &format!("{prefix}orders"), |r| !r.is_empty()).await;
    assert_eq!(orders[0].value["payload"], json!({"id": 1, "total": 12.50}));

    // rows added while it runs arrive
    db.exec("INSERT INTO users (name) VALUES ('dee'), ('eve')")
        .await;
    let records = read_until(&broker, &users_topic, |r| r.len() >= 5).await;
    assert_eq!(ids(&records, "id"), [1, 2, 3, 4, 5]);

    // the offsets are Confluent's: protocol 1 partitions with schema-qualified names
    let mut stored = Value::Null;
    for _ in 0..200 {
        let (_, body) = w
            .request(reqwest::Method::GET, "/connectors/pg-source/offsets", None)
            .await;
        let found = body["offsets"]
            .as_array()
            .and_then(|o| {
                o.iter()
                    .find(|o| o["partition"] == json!({"protocol": "1", "table": "public.users"}))
                    .cloned()
            })
            .unwrap_or(Value::Null);
        if found["offset"] == json!({"incrementing": 5}) {
            stored = found;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored,
        json!({"partition": {"protocol": "1", "table": "public.users"}, "offset": {"incrementing": 5}})
    );
    w.stop().await;

    // a new worker on the same offsets: only rows written since, each once
    db.exec("INSERT INTO users (name) VALUES ('fay')").await;
    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    create(&w, "pg-source", config).await;
    db.exec("INSERT INTO users (name) VALUES ('sentinel')")
        .await;
    let records = read_until(&broker, &users_topic, |r| {
        r.iter().any(|r| r.value["payload"]["name"] == "sentinel")
    })
    .await;
    assert_eq!(ids(&records, "id"), [1, 2, 3, 4, 5, 6, 7]);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_modes_pick_up_updates_and_equal_timestamps() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let offsets = dir.path().join("offsets");
    db.exec(
        "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT, modified TIMESTAMP, created TIMESTAMP NOT NULL DEFAULT now());
         INSERT INTO items (name, modified, created) VALUES ('a', NULL, '2020-01-01 00:00:00'), ('b', NULL, '2020-01-01 00:00:00');
         CREATE TABLE events (id INT, at TIMESTAMPTZ NOT NULL);
         INSERT INTO events VALUES (1, '2021-06-01 10:00:00+00'), (2, '2021-06-01 10:00:00+00'), (3, '2021-06-01 10:00:00.123456+00'), (4, '2021-06-02 00:00:00+00');",
    )
    .await;
    let prefix = format!("{}-", unique_name("ts"));
    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    // timestamp+incrementing over COALESCE(modified, created)
    create(
        &w,
        "items-source",
        merge(
            base_config(&db, &prefix, "timestamp+incrementing"),
            json!({"incrementing.column.name": "id", "timestamp.column.name": "modified,created",
                   "table.whitelist": "items"}),
        ),
    )
    .await;
    let topic = format!("{prefix}items");
    let records = read_until(&broker, &topic, |r| r.len() >= 2).await;
    assert_eq!(ids(&records, "id"), [1, 2]);
    assert_eq!(
        records[0].value["payload"]["created"],
        json!(1_577_836_800_000i64)
    );
    assert_eq!(
        records[0].value["schema"]["fields"][3],
        json!({"type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "field": "created"})
    );
    // an update moves the row's timestamp: it is copied again
    db.exec("UPDATE items SET name = 'a2', modified = now() WHERE id = 1")
        .await;
    let records = read_until(&broker, &topic, |r| r.len() >= 3).await;
    assert_eq!(records[2].value["payload"]["name"], "a2");

    // timestamp only, one row per batch: rows of one timestamp are never skipped
    create(
        &w,
        "events-source",
        merge(
            base_config(&db, &prefix, "timestamp"),
            json!({"timestamp.column.name": "at", "table.whitelist": "events", "batch.max.rows": "1"}),
        ),
    )
    .await;
    let topic = format!("{prefix}events");
    let records = read_until(&broker, &topic, |r| r.len() >= 4).await;
    assert_eq!(ids(&records, "id"), [1, 2, 3, 4]);
    let mut offset = Value::Null;
    for _ in 0..200 {
        let (_, body) = w
            .request(
                reqwest::Method::GET,
                "/connectors/events-source/offsets",
                None,
            )
            .await;
        offset = body["offsets"][0]["offset"].clone();
        if offset["timestamp"] == json!(1_622_592_000_000i64) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        offset,
        json!({"timestamp": 1_622_592_000_000i64, "timestamp_nanos": 0})
    );
    w.stop().await;

    // after a restart: the new row only
    db.exec("INSERT INTO events VALUES (5, '2021-06-03 00:00:00+00')")
        .await;
    let w = ConnectWorker::start(&broker, &offsets, &[]).await;
    create(
        &w,
        "events-source",
        merge(
            base_config(&db, &prefix, "timestamp"),
            json!({"timestamp.column.name": "at", "table.whitelist": "events"}),
        ),
    )
    .await;
    db.exec("INSERT INTO events VALUES (6, '2021-06-04 00:00:00+00')")
        .await;
    let records = read_until(&broker, &topic, |r| {
        r.iter().any(|r| r.value["payload"]["id"] == 6)
    })
    .await;
    assert_eq!(ids(&records, "id"), [1, 2, 3, 4, 5, 6]);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_mode_and_custom_queries() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    db.exec(
        "CREATE TABLE colours (id INT PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO colours VALUES (1, 'red'), (2, 'green');
         CREATE TABLE stock (id SERIAL PRIMARY KEY, colour INT NOT NULL, qty INT NOT NULL);
         INSERT INTO stock (colour, qty) VALUES (1, 5), (2, 7);",
    )
    .await;
    let prefix = format!("{}-", unique_name("bulk"));
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "bulk",
        merge(
            base_config(&db, &prefix, "bulk"),
            json!({"table.whitelist": "colours"}),
        ),
    )
    .await;
    // each poll copies the whole table again
    let records = read_until(&broker, &format!("{prefix}colours"), |r| r.len() >= 4).await;
    assert_eq!(ids(&records[..4], "id"), [1, 2, 1, 2]);

    // a query: the topic is topic.prefix itself, the partition {"query": "query"}
    let topic = unique_name("stock-view");
    create(
        &w,
        "query",
        merge(
            base_config(&db, &topic, "incrementing"),
            json!({"query": "SELECT * FROM (SELECT s.id, c.name AS colour, s.qty * 2 AS doubled FROM stock s JOIN colours c ON c.id = s.colour) q",
                   "incrementing.column.name": "id"}),
        ),
    )
    .await;
    let records = read_until(&broker, &topic, |r| r.len() >= 2).await;
    assert_eq!(
        records[1].value["payload"],
        json!({"id": 2, "colour": "green", "doubled": 14})
    );
    // no table behind the query: no schema name, every column optional
    assert_eq!(records[0].value["schema"].get("name"), None);
    assert_eq!(records[0].value["schema"]["fields"][2]["optional"], true);
    db.exec("INSERT INTO stock (colour, qty) VALUES (1, 1)")
        .await;
    let records = read_until(&broker, &topic, |r| r.len() >= 3).await;
    assert_eq!(ids(&records, "id"), [1, 2, 3]);
    let mut partitions = Value::Null;
    for _ in 0..200 {
        let (_, body) = w
            .request(reqwest::Method::GET, "/connectors/query/offsets", None)
            .await;
        partitions = body["offsets"].clone();
        if partitions[0]["offset"] == json!({"incrementing": 3}) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        partitions,
        json!([{"partition": {"query": "query"}, "offset": {"incrementing": 3}}])
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_types_map_as_confluent_maps_them() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    db.exec(
        "CREATE TYPE mood AS ENUM ('ok', 'great');
         CREATE TABLE kinds (
           id SERIAL PRIMARY KEY, i2 SMALLINT, i4 INTEGER NOT NULL, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
           ok BOOLEAN, t TEXT, vc VARCHAR(10), ch CHAR(3), raw BYTEA, price NUMERIC(10,2), anynum NUMERIC,
           day DATE, tod TIME, ts TIMESTAMP, tstz TIMESTAMPTZ, uid UUID, doc JSON, docb JSONB, feeling mood,
           tags INT[], span INTERVAL);
         INSERT INTO kinds VALUES (DEFAULT, -2, 4, 8000000000, 1.5, 2.25, true, 'text', 'varchar', 'ab', '\\x0102ff',
           1234.56, 7.5, '2024-02-29', '13:14:15.678', '2024-02-29 13:14:15.678', '2024-02-29 13:14:15.678+02',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}', '{\"b\": 2}', 'great', '{1,2}', '1 day');
         INSERT INTO kinds (i4) VALUES (0);",
    )
    .await;
    let prefix = format!("{}-", unique_name("types"));
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "types",
        merge(
            base_config(&db, &prefix, "incrementing"),
            json!({"table.whitelist": "kinds"}),
        ),
    )
    .await;
    let records = read_until(&broker, &format!("{prefix}kinds"), |r| r.len() >= 2).await;
    let schema = &records[0].value["schema"];
    let field = |name: &str| -> Value {
        schema["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let simple = |name: &str, ty: &str, optional: bool| {
        assert_eq!(
            field(name),
            json!({"type": ty, "optional": optional, "field": name}),
            "{name}"
        );
    };
    simple("id", "int32", false);
    simple("i2", "int16", true);
    simple("i4", "int32", false);
    simple("i8", "int64", true);
    simple("f4", "float", true);
    simple("f8", "double", true);
    simple("ok", "boolean", true);
    for s in ["t", "vc", "ch", "uid", "doc", "docb", "feeling"] {
        simple(s, "string", true);
    }
    simple("raw", "bytes", true);
    assert_eq!(
        field("price"),
        json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
               "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "price"})
    );
    assert_eq!(field("anynum")["parameters"]["scale"], "127");
    assert_eq!(field("day")["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(field("tod")["name"], "org.apache.kafka.connect.data.Time");
    assert_eq!(
        field("ts")["name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    assert_eq!(
        field("tstz")["name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    // arrays and intervals are left out, as Confluent's connector leaves them out
    assert_eq!(field("tags"), Value::Null);
    assert_eq!(field("span"), Value::Null);

    let p = &records[0].value["payload"];
    assert_eq!(p["i2"], -2);
    assert_eq!(p["i8"], 8_000_000_000i64);
    assert_eq!(p["f4"], 1.5);
    assert_eq!(p["f8"], 2.25);
    assert_eq!(p["ok"], true);
    assert_eq!(p["ch"], "ab ");
    assert_eq!(p["raw"], "AQL/");
    assert_eq!(p["price"], 1234.56);
    assert_eq!(p["day"], 19_782);
    assert_eq!(p["tod"], 47_655_678);
    assert_eq!(p["ts"], 1_709_212_455_678i64);
    assert_eq!(p["tstz"], 1_709_205_255_678i64);
    assert_eq!(p["uid"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(p["doc"], "{\"a\": 1}");
    assert_eq!(p["docb"], "{\"b\": 2}");
    assert_eq!(p["feeling"], "great");
    // nulls where the row has none
    assert_eq!(records[1].value["payload"]["t"], Value::Null);
    assert_eq!(records[1].value["payload"]["i4"], 0);
    w.stop().await;

    // best_fit: numeric(10,2) as a double
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets2"), &[]).await;
    let prefix = format!("{}-", unique_name("fit"));
    create(
        &w,
        "fit",
        merge(
            base_config(&db, &prefix, "bulk"),
            json!({"table.whitelist": "kinds", "numeric.mapping": "best_fit"}),
        ),
    )
    .await;
    let records = read_until(&broker, &format!("{prefix}kinds"), |r| !r.is_empty()).await;
    let price = records[0].value["schema"]["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["field"] == "price").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(
        price,
        json!({"type": "double", "optional": true, "field": "price"})
    );
    assert_eq!(records[0].value["payload"]["price"], 1234.56);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_are_refused_with_clear_messages() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    db.exec("CREATE TABLE maybe (id INT, name TEXT)").await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    // another database's URL: the create is refused with 400 and says why
    let (code, body) = w
        .request(
            reqwest::Method::POST,
            "/connectors",
            Some(
                json!({"name": "mysql", "config": merge(base_config(&db, "x-", "bulk"),
                json!({"connection.url": "jdbc:mysql://localhost:3306/shop"}))}),
            ),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains(
            "Invalid value jdbc:mysql://localhost:3306/shop for configuration connection.url"
        ) && message.contains("only PostgreSQL is supported"),
        "{message}"
    );
    // and the validate endpoint places the error on its key
    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            "/connector-plugins/JdbcSourceConnector/config/validate",
            Some(merge(
                base_config(&db, "x-", "bulk"),
                json!({"name": "mysql", "connection.url": "jdbc:mysql://localhost:3306/shop"}),
            )),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["error_count"], 1, "{body}");
    let url = body["configs"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["value"]["name"] == "connection.url"))
        .expect("connection.url is listed");
    assert!(
        url["value"]["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("only PostgreSQL is supported")),
        "{url}"
    );
    // a nullable incrementing column fails the task, as validate.non.null says
    create(
        &w,
        "nullable",
        merge(
            base_config(&db, "n-", "incrementing"),
            json!({"incrementing.column.name": "id", "table.whitelist": "maybe"}),
        ),
    )
    .await;
    let trace = wait_task_state(&w, "nullable", "FAILED").await;
    assert!(
        trace.contains("Cannot make incremental queries using incrementing column id on public.maybe because this column is nullable."),
        "{trace}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_goes_on_after_the_database_restarts() {
    let broker = TestBroker::start().await;
    let mut db = Db::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    db.exec("CREATE TABLE ticks (id SERIAL PRIMARY KEY, n INT NOT NULL); INSERT INTO ticks (n) VALUES (1), (2);")
        .await;
    let prefix = format!("{}-", unique_name("restart"));
    let topic = format!("{prefix}ticks");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    create(
        &w,
        "ticks",
        merge(
            base_config(&db, &prefix, "incrementing"),
            json!({"incrementing.column.name": "id", "table.whitelist": "ticks"}),
        ),
    )
    .await;
    read_until(&broker, &topic, |r| r.len() >= 2).await;
    // the connection is cut under the task: it reconnects and goes on from its offset
    db.restart().await;
    db.exec("INSERT INTO ticks (n) VALUES (3), (4)").await;
    let records = read_until(&broker, &topic, |r| r.len() >= 4).await;
    assert_eq!(ids(&records, "id"), [1, 2, 3, 4]);
    let (_, body) = w
        .request(reqwest::Method::GET, "/connectors/ticks/status", None)
        .await;
    assert_eq!(body["tasks"][0]["state"], "RUNNING");
    w.stop().await;
}
