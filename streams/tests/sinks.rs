//! Where records go: `to` with a partitioner, `to_dynamic` with a topic name extractor, and
//! `repartition` with a number of partitions and a partitioner, on a broker; and the errors of
//! a partitioner out of range, in the `TestDriver`.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tributary_streams::{
    Consumed, Grouped, KafkaStreams, Produced, Repartitioned, Serdes, State, StreamsBuilder,
    StreamsConfig, TestDriver,
};
use tributary_testkit::{unique_name, TestBroker};

/// Every record of `topic` as (partition, key, value), once `n` came (or a minute passed).
fn read(broker: &TestBroker, topic: &str, n: usize) -> Vec<(i32, String, String)> {
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            out.push((m.partition(), text(m.key()), text(m.payload())));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitioners_extractors_and_repartition_counts_place_records_on_a_broker() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, placed, even, odd, counted, app) = (
        unique_name("sink-in"),
        unique_name("placed"),
        unique_name("even"),
        unique_name("odd"),
        unique_name("counted"),
        unique_name("sinks"),
    );
    broker.create_topic(&input, 1).await;
    broker.create_topic(&placed, 3).await;
    broker.create_topic(&even, 1).await;
    broker.create_topic(&odd, 1).await;
    broker.create_topic(&counted, 1).await;
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for i in 0..12 {
        let (key, value) = (format!("k{}", i % 4), i.to_string());
        producer
            .send(
                FutureRecord::to(&input).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    let (s, l) = (Serdes::string(), Serdes::long());
    let b = StreamsBuilder::new();
    let lines = b.stream(&input, Consumed::with(s.clone(), s.clone()));
    // the value's number modulo the topic's partitions, k0 left to the default partitioner
    lines.to(
        &placed,
        Produced::with(s.clone(), s.clone()).with_partitioner(|_, k: &String, v: &String, n| {
            (k != "k0").then(|| v.parse::<i32>().unwrap() % n)
        }),
    );
    let (even_topic, odd_topic) = (even.clone(), odd.clone());
    lines.to_dynamic(
        move |_, v: &String, meta| {
            assert!(meta.is_some(), "a record read from a topic has metadata");
            if v.parse::<i32>().unwrap() % 2 == 0 {
                even_topic.clone()
            } else {
                odd_topic.clone()
            }
        },
        Produced::with(s.clone(), s.clone()),
    );
    // a 1-partition input repartitioned over 3, each key on the partition of its number
    lines
        .repartition(
            Repartitioned::with(s.clone(), s.clone())
                .with_name("spread")
                .with_number_of_partitions(3)
                .with_stream_partitioner(|_, k: &String, _: &String, n| {
                    Some(k[1..].parse::<i32>().unwrap() % n)
                }),
        )
        .group_by_key(Grouped::with(s.clone(), s.clone()))
        .count()
        .to_stream()
        .to(
            &counted,
            Produced::with(s.clone(), Serdes::nullable(l.clone())),
        );
    let config = StreamsConfig::new()
        .with("application.id", &app)
        .with("bootstrap.servers", broker.bootstrap())
        .with("commit.interval.ms", 100)
        .with("statestore.cache.max.bytes", 0);
    let streams = KafkaStreams::new(b.build().unwrap(), config).unwrap();
    tokio::task::block_in_place(|| {
        streams.start().unwrap();
        assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
    });

    let placed_records = tokio::task::block_in_place(|| read(&broker, &placed, 12));
    assert_eq!(placed_records.len(), 12);
    for (p, k, v) in &placed_records {
        if k != "k0" {
            assert_eq!(*p, v.parse::<i32>().unwrap() % 3, "{k}={v}");
        } else {
            assert_eq!(
                *p,
                tributary_client::partition::partition_for_key(k.as_bytes(), 3),
                "the default partitioner for {k}"
            );
        }
    }
    let values = |records: Vec<(i32, String, String)>| -> Vec<i32> {
        let mut v: Vec<i32> = records.iter().map(|r| r.2.parse().unwrap()).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        values(tokio::task::block_in_place(|| read(&broker, &even, 6))),
        [0, 2, 4, 6, 8, 10]
    );
    assert_eq!(
        values(tokio::task::block_in_place(|| read(&broker, &odd, 6))),
        [1, 3, 5, 7, 9, 11]
    );
    // three counting tasks: the repartition topic has three partitions, each key on its own
    let spread = format!("{app}-spread-repartition");
    let on_spread = tokio::task::block_in_place(|| read(&broker, &spread, 12));
    for (p, k, _) in &on_spread {
        assert_eq!(*p, k[1..].parse::<i32>().unwrap() % 3, "{k}");
    }
    let active = streams.metadata_for_local_threads()[0].active_tasks.len();
    assert_eq!(active, 1 + 3, "one task reading the input, three counting");
    let counts = tokio::task::block_in_place(|| {
        let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
        consumer.subscribe(&[counted.as_str()]).unwrap();
        let mut latest = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while latest.values().sum::<i64>() < 12 && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let k = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                latest.insert(
                    k,
                    i64::from_be_bytes(m.payload().unwrap().try_into().unwrap()),
                );
            }
        }
        latest
    });
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3, 3, 3, 3]);
    tokio::task::block_in_place(|| streams.close());
}

#[test]
fn a_partition_out_of_range_is_an_error_and_extracted_topics_are_written() {
    let s = Serdes::string;
    let b = StreamsBuilder::new();
    let input = b.stream("in", Consumed::with(s(), s()));
    input.to(
        "one-partition",
        Produced::with(s(), s()).with_partitioner(|_, _: &String, v: &String, _| v.parse().ok()),
    );
    input.to_dynamic(
        |k: &String, _: &String, meta| format!("{k}-from-{}", meta.unwrap().topic()),
        Produced::with(s(), s()),
    );
    let topology = b.build().unwrap();
    assert!(topology
        .describe()
        .to_string()
        .contains("Sink: KSTREAM-SINK-0000000002 (extractor class: TopicNameExtractor)"));
    let driver = TestDriver::new(topology);
    let mut input = driver.input_topic("in", s(), s());
    input.pipe_input("a".into(), "0".into()).unwrap();
    let err = input.pipe_input("a".into(), "5".into()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The partitioner returned partition 5 for topic one-partition, which has 1 partitions"
    );
    let mut extracted = driver.output_topic("a-from-in", s(), s());
    assert_eq!(extracted.read_value().unwrap(), "0");
}
