//! PostgreSQL → Tributary → PostgreSQL, as a user wires it: the JDBC source copies a table
//! (timestamp+incrementing, so updates follow) into a topic, keyed by `id` through two SMTs
//! (ValueToKey, ExtractField$Key), and the JDBC sink upserts that topic into another table,
//! deleting on tombstones. Both connectors run in one worker against an in-process broker and
//! a private PostgreSQL server.

mod common;

use std::time::Duration;

use common::pg::Db;
use common::ConnectWorker;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use tributary_testkit::{unique_name, TestBroker};

fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_copies_through_a_topic_with_updates_and_deletes() {
    let broker = TestBroker::start().await;
    let db = Db::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let prefix = format!("{}-", unique_name("pg"));
    let topic = format!("{prefix}orders");
    db.exec(
        "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL,
             amount numeric(10,2) NOT NULL, updated timestamp NOT NULL DEFAULT now());
         INSERT INTO orders (customer, amount) VALUES ('ada', 10.50), ('bob', 20.00), ('cy', 7.25);",
    )
    .await;
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let json_converters = json!({
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    });
    let mut source = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": db.url(), "connection.user": "postgres",
        "mode": "timestamp+incrementing", "incrementing.column.name": "id",
        "timestamp.column.name": "updated", "table.whitelist": "orders",
        "topic.prefix": prefix, "poll.interval.ms": "200",
        "transforms": "key,id",
        "transforms.key.type": "org.apache.kafka.connect.transforms.ValueToKey",
        "transforms.key.fields": "id",
        "transforms.id.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.id.field": "id",
    });
    let mut sink = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": db.url(), "connection.user": "postgres",
        "topics": topic, "table.name.format": "orders_copy",
        "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id",
        "auto.create": "true", "delete.enabled": "true",
    });
    for c in [&mut source, &mut sink] {
        if let (Some(c), Some(j)) = (c.as_object_mut(), json_converters.as_object()) {
            c.extend(j.clone());
        }
    }
    for (name, config) in [("orders-source", source), ("orders-sink", sink)] {
        let (code, body) = w
            .request(
                reqwest::Method::POST,
                "/connectors",
                Some(json!({"name": name, "config": config})),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }
    let copy = "SELECT id, customer, amount FROM orders_copy ORDER BY id";
    db.wait_rows(copy, |r| {
        r == rows(&[
            &["1", "ada", "10.50"],
            &["2", "bob", "20.00"],
            &["3", "cy", "7.25"],
        ])
    })
    .await;

    // an update and a new row follow; the copy is upserted
    db.exec(
        "UPDATE orders SET amount = 99.99, updated = now() + interval '1 second' WHERE id = 2;
         INSERT INTO orders (customer, amount, updated) VALUES ('dee', 1.00, now() + interval '1 second');",
    )
    .await;
    db.wait_rows(copy, |r| {
        r == rows(&[
            &["1", "ada", "10.50"],
            &["2", "bob", "99.99"],
            &["3", "cy", "7.25"],
            &["4", "dee", "1.00"],
        ])
    })
    .await;

    // a tombstone for a key (as a CDC source or a user would send one) deletes the row
    let producer: FutureProducer = broker.client_config().create().expect("a producer");
    let key = json!({"schema": {"type": "int32", "optional": false}, "payload": 3}).to_string();
    producer
        .send(
            FutureRecord::<str, str>::to(&topic).key(&key),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("the tombstone is produced");
    db.wait_rows(copy, |r| {
        r == rows(&[
            &["1", "ada", "10.50"],
            &["2", "bob", "99.99"],
            &["4", "dee", "1.00"],
        ])
    })
    .await;
    // the copied table got its primary key from the record key
    let pk = db
        .rows(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a
               ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = 'orders_copy'::regclass AND i.indisprimary",
        )
        .await;
    assert_eq!(pk, rows(&[&["id"]]));
    w.stop().await;
}
