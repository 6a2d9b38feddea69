//! Global tables on brokers: an instance reads the global topic whole (every partition, however
//! many the stream has) before it processes, and follows its updates; stream records join it
//! on a key they map to, with no repartitioning.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tributary_streams::{
    Consumed, KafkaStreams, Materialized, Produced, Serdes, State, StreamsBuilder, StreamsConfig,
};
use tributary_testkit::{unique_name, TestBroker};

async fn produce(broker: &TestBroker, topic: &str, records: &[(&str, &str)]) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for (key, value) in records {
        producer
            .send(
                FutureRecord::to(topic).key(*key).payload(*value),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// Values of `topic` until `n` came (or the deadline).
fn read(broker: &TestBroker, topic: &str, n: usize) -> Vec<String> {
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_join_a_global_table_read_whole_and_kept_up_to_date() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (orders, products, output, app) = (
        unique_name("orders"),
        unique_name("products"),
        unique_name("enriched"),
        unique_name("global-app"),
    );
    // (not co-partitioned: a global table does not need it)
    broker.create_topic(&orders, 2).await;
    broker.create_topic(&products, 3).await;
    broker.create_topic(&output, 1).await;
    produce(&broker, &products, &[("tea", "green"), ("cake", "lemon")]).await;
    // a record without a key has no row: skipped, not an error
    let producer: FutureProducer = broker.client_config().create().unwrap();
    producer
        .send(
            FutureRecord::<(), str>::to(&products).payload("keyless"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let b = StreamsBuilder::new();
    let products_table = b.global_table(
        &products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::named("products"),
    );
    // orders: key = order id, value = product name
    b.stream(&orders, Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global(
            &products_table,
            |_, product: &String| product.clone(),
            |product: &String, kind: Option<&String>| {
                format!("{product}:{}", kind.map_or("?", String::as_str))
            },
        )
        .to(&output, Produced::with(Serdes::string(), Serdes::string()));
    let config = StreamsConfig::new()
        .with("application.id", &app)
        .with("bootstrap.servers", broker.bootstrap())
        .with("commit.interval.ms", 100);
    let streams = KafkaStreams::new(b.build().unwrap(), config).unwrap();
    streams.start().unwrap();
    assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));

    produce(
        &broker,
        &orders,
        &[("o1", "tea"), ("o2", "cake"), ("o3", "pie")],
    )
    .await;
    assert_eq!(
        read(&broker, &output, 3),
        vec!["cake:lemon", "pie:?", "tea:green"]
    );
    // the global table follows its topic while the app runs
    produce(&broker, &products, &[("pie", "apple")]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    produce(&broker, &orders, &[("o4", "pie")]).await;
    let all = read(&broker, &output, 4);
    // the global store, queried: every partition's rows, on this instance
    let rows = streams
        .key_value_store("products", Serdes::string(), Serdes::string())
        .unwrap()
        .all()
        .unwrap();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        rows,
        [
            pair("cake", "lemon"),
            pair("pie", "apple"),
            pair("tea", "green")
        ]
    );
    streams.close();
    assert!(all.contains(&"pie:apple".to_string()), "{all:?}");
    assert_eq!(streams.state(), State::NotRunning);
}

#[test]
fn a_topic_read_by_two_global_tables_is_refused() {
    let b = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::string(), Serdes::string());
    let _ = b.global_table("g", consumed(), Materialized::new());
    let _ = b.global_table("g", consumed(), Materialized::new());
    let err = b.build().err().unwrap().to_string();
    assert!(
        err.contains("Topic g has already been registered by another source."),
        "{err}"
    );
}
