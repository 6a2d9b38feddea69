//! The `orders` example as users run it, a process against a broker: orders are enriched from
//! the customers table as it stands when each order comes (a customer that changes later does
//! not change earlier orders); an order of an unknown customer goes on without one; topics
//! that are not co-partitioned stop the app with a clear error.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tributary_examples::orders::{Customer, EnrichedOrder};
use tributary_testkit::{unique_name, TestBroker};

fn produce(broker: &TestBroker, topic: &str, records: &[(&str, Option<String>)]) {
    let p: ThreadedProducer<DefaultProducerContext> = broker.client_config().create().unwrap();
    for (key, value) in records {
        let mut r: BaseRecord<'_, str, String> = BaseRecord::to(topic).key(*key);
        if let Some(v) = value {
            r = r.payload(v);
        }
        p.send(r).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn customer(name: &str, city: &str) -> Option<String> {
    Some(format!(r#"{{"name":"{name}","city":"{city}"}}"#))
}

fn order(id: &str, amount: f64) -> Option<String> {
    Some(format!(r#"{{"id":"{id}","item":"tea","amount":{amount}}}"#))
}

fn spawn(
    broker: &TestBroker,
    app: &str,
    orders: &str,
    customers: &str,
    output: &str,
) -> std::process::Child {
    Command::new(common::example("orders"))
        .args([
            "--bootstrap-server",
            &broker.bootstrap(),
            "--application-id",
            app,
        ])
        .args([
            "--orders",
            orders,
            "--customers",
            customers,
            "--output",
            output,
        ])
        .args([
            "-p",
            "session.timeout.ms=6000",
            "--commit-interval-ms",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(common::log(app))
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_enriched_with_the_customer_as_it_was_when_they_came() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (orders, customers, output, app) = (
        unique_name("orders"),
        unique_name("customers"),
        unique_name("enriched"),
        unique_name("orders-app"),
    );
    broker.create_topic(&orders, 2).await;
    broker.create_topic(&customers, 2).await;
    broker.create_topic(&output, 2).await;
    let mut child = spawn(&broker, &app, &orders, &customers, &output);
    produce(
        &broker,
        &customers,
        &[
            ("c1", customer("Ann", "Oslo")),
            ("c2", customer("Bob", "Rome")),
        ],
    );
    // (the customers are in the table before the orders come)
    tokio::time::sleep(Duration::from_secs(3)).await;
    produce(
        &broker,
        &orders,
        &[
            ("c1", order("o1", 3.5)),
            ("c2", order("o2", 1.0)),
            ("c9", order("o3", 2.0)),
        ],
    );
    let first = common::read_text(&broker, &output, 3, Duration::from_secs(90));
    produce(
        &broker,
        &customers,
        &[("c1", customer("Ann", "Paris")), ("c2", None)],
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    produce(
        &broker,
        &orders,
        &[("c1", order("o4", 5.0)), ("c2", order("o5", 9.0))],
    );
    let all = common::read_text(&broker, &output, 5, Duration::from_secs(90));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(first.len(), 3, "{first:?}");
    let by_order: std::collections::BTreeMap<String, (String, Option<Customer>)> = all
        .iter()
        .map(|(k, v)| {
            let e: EnrichedOrder = serde_json::from_str(v).unwrap();
            (e.order.id.clone(), (k.clone(), e.customer))
        })
        .collect();
    let c = |name: &str, city: &str| {
        Some(Customer {
            name: name.into(),
            city: city.into(),
        })
    };
    assert_eq!(by_order["o1"], ("c1".to_string(), c("Ann", "Oslo")));
    assert_eq!(by_order["o2"], ("c2".to_string(), c("Bob", "Rome")));
    assert_eq!(by_order["o3"], ("c9".to_string(), None));
    assert_eq!(by_order["o4"], ("c1".to_string(), c("Ann", "Paris")));
    assert_eq!(by_order["o5"], ("c2".to_string(), None), "c2 was deleted");
    assert_eq!(
        serde_json::from_str::<EnrichedOrder>(&all[0].1)
            .unwrap()
            .order
            .item,
        "tea"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_that_are_not_co_partitioned_stop_the_app_with_a_clear_error() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (orders, customers, output, app) = (
        unique_name("orders"),
        unique_name("customers"),
        unique_name("enriched"),
        unique_name("orders-bad"),
    );
    broker.create_topic(&orders, 2).await;
    broker.create_topic(&customers, 3).await;
    let child = spawn(&broker, &app, &orders, &customers, &output);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    let log = std::fs::read_to_string(std::env::temp_dir().join(format!("{app}.log"))).unwrap();
    // (topics by name, as Kafka prints them)
    assert!(
        log.contains(&format!(
            "Topics not co-partitioned: [{{{customers}=3, {orders}=2}}]"
        )),
        "{log}"
    );
}
