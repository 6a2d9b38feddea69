//! A foreign-key join on a broker: orders (three partitions) joined with the customer each
//! names (two partitions, not co-partitioned), the internal topics created with Kafka's
//! partition counts, and a customer's change reaching every order of theirs.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tributary_streams::{
    Consumed, KafkaStreams, Materialized, Produced, Serdes, State, StreamsBuilder, StreamsConfig,
};
use tributary_testkit::{unique_name, TestBroker};

async fn produce(broker: &TestBroker, topic: &str, records: &[(&str, &str)]) {
    // (keys placed as Java clients place them: the join finds a customer in the partition of
    // its key's murmur2, as Kafka Streams does)
    let producer: FutureProducer = broker
        .client_config()
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    for (k, v) in records {
        producer
            .send(
                FutureRecord::to(topic).key(*k).payload(*v),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// The latest value of each key of `topic`, once they are `want` (or a minute passed).
fn latest(
    broker: &TestBroker,
    topic: &str,
    want: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while &seen != want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            let key = text(m.key().unwrap());
            match m.payload() {
                Some(v) => seen.insert(key, text(v)),
                None => seen.remove(&key),
            };
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_join_their_customers_through_the_subscription_topics() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (orders, customers, output, app) = (
        unique_name("orders"),
        unique_name("customers"),
        unique_name("order-customers"),
        unique_name("fk"),
    );
    broker.create_topic(&orders, 3).await;
    broker.create_topic(&customers, 2).await;
    broker.create_topic(&output, 1).await;
    produce(&broker, &customers, &[("c1", "Ada"), ("c2", "Grace")]).await;
    produce(
        &broker,
        &orders,
        &[
            ("o1", "c1|tea"),
            ("o2", "c2|cake"),
            ("o3", "c1|pie"),
            ("o4", "c9|jam"),
        ],
    )
    .await;

    let s = Serdes::string;
    let b = StreamsBuilder::new();
    let order_table = b.table(&orders, Consumed::with(s(), s()), Materialized::new());
    let customer_table = b.table(&customers, Consumed::with(s(), s()), Materialized::new());
    order_table
        .left_join_on_foreign_key(
            &customer_table,
            |_, order: &String| order.split('|').next().map(str::to_string),
            |order: &String, name: Option<&String>| {
                let item = order.split('|').nth(1).unwrap_or_default();
                format!("{item} for {}", name.map_or("?", String::as_str))
            },
        )
        .to_stream()
        .to(&output, Produced::with(s(), Serdes::nullable(s())));
    let config = StreamsConfig::new()
        .with("application.id", &app)
        .with("bootstrap.servers", broker.bootstrap())
        .with("commit.interval.ms", 100);
    let streams = KafkaStreams::new(b.build().unwrap(), config).unwrap();
    let b = &broker;
    tokio::task::block_in_place(|| {
        streams.start().unwrap();
        assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
    });
    let want = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let first = want(&[
        ("o1", "tea for Ada"),
        ("o2", "cake for Grace"),
        ("o3", "pie for Ada"),
        ("o4", "jam for ?"),
    ]);
    assert_eq!(
        tokio::task::block_in_place(|| latest(b, &output, &first)),
        first
    );

    // the registration topic is partitioned as the customers, the response topic as the orders
    let probe: BaseConsumer = broker.client_config().create().unwrap();
    let md = probe.fetch_metadata(None, Duration::from_secs(5)).unwrap();
    let partitions = |suffix: &str| {
        md.topics()
            .iter()
            .find(|t| t.name().starts_with(&app) && t.name().ends_with(suffix))
            .map(|t| t.partitions().len())
    };
    assert_eq!(partitions("REGISTRATION-0000000006-topic"), Some(2));
    assert_eq!(partitions("RESPONSE-0000000014-topic"), Some(3));
    assert_eq!(
        partitions("SUBSCRIPTION-STATE-STORE-0000000010-changelog"),
        Some(2)
    );

    // a customer's change reaches all their orders; a new customer, the order waiting for it;
    // an order moving to another customer follows
    produce(&broker, &customers, &[("c1", "Ada L."), ("c9", "Jo")]).await;
    produce(&broker, &orders, &[("o2", "c1|cake")]).await;
    let second = want(&[
        ("o1", "tea for Ada L."),
        ("o2", "cake for Ada L."),
        ("o3", "pie for Ada L."),
        ("o4", "jam for Jo"),
    ]);
    assert_eq!(
        tokio::task::block_in_place(|| latest(b, &output, &second)),
        second
    );
    tokio::task::block_in_place(|| streams.close());
}
