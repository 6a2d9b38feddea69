//! Integration tests with a real Kafka client (librdkafka through the `rdkafka` crate) against
//! in-process brokers.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tributary_client::partition::partition_for_key;
use tributary_testkit::{unique_name, TestBroker};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn create_topic(broker: &TestBroker, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = broker.client_config().create().unwrap();
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin
        .create_topics([&t], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

struct Got {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

/// Reads every partition of `topic` from the beginning until `want` records arrived.
fn consume_all(config: ClientConfig, topic: &str, partitions: i32, want: usize) -> Vec<Got> {
    let consumer: BaseConsumer = config.create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < want {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {want} records arrived",
            out.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Got {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: m.timestamp().to_millis(),
            }),
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_with_headers_round_trip_byte_for_byte() {
    let broker = TestBroker::start().await;
    let topic = unique_name("roundtrip");
    create_topic(&broker, &topic, 3, &[]).await;
    let producer: FutureProducer = broker
        .client_config()
        .set("partitioner", "murmur2_random")
        .set("acks", "all")
        .create()
        .unwrap();
    let mut expected = HashMap::new();
    for i in 0..60 {
        let key = format!("key-{i}");
        let value: Vec<u8> = (0..(i * 7 % 300)).map(|b| (b * 31 + i) as u8).collect();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "h-str",
                value: Some(format!("v{i}").as_bytes()),
            })
            .insert(Header {
                key: "h-null",
                value: None::<&[u8]>,
            })
            .insert(Header {
                key: "h-bin",
                value: Some(&[0u8, 255, 1][..]),
            });
        let d = producer
            .send(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&value)
                    .headers(headers)
                    .timestamp(1_000 + i as i64),
                TIMEOUT,
            )
            .await
            .unwrap();
        let (p, o) = (d.partition, d.offset);
        assert_eq!(
            p,
            partition_for_key(key.as_bytes(), 3),
            "murmur2 placement of {key}"
        );
        expected.insert(key, (p, o, value, 1_000 + i as i64));
    }
    let got = consume_all(broker.consumer_config(), &topic, 3, 60);
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for g in got {
        let key = String::from_utf8(g.key.clone().unwrap()).unwrap();
        let (p, o, value, ts) = expected.remove(&key).expect("each record once");
        assert_eq!((g.partition, g.offset), (p, o));
        assert_eq!(g.value.unwrap(), value);
        assert_eq!(g.timestamp, Some(ts));
        let i: usize = key.trim_start_matches("key-").parse().unwrap();
        assert_eq!(
            g.headers,
            vec![
                ("h-str".to_string(), Some(format!("v{i}").into_bytes())),
                ("h-null".to_string(), None),
                ("h-bin".to_string(), Some(vec![0, 255, 1])),
            ]
        );
        per_partition.entry(g.partition).or_default().push(g.offset);
    }
    assert!(expected.is_empty());
    for offsets in per_partition.values() {
        assert_eq!(
            *offsets,
            (0..offsets.len() as i64).collect::<Vec<_>>(),
            "contiguous offsets from 0"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compression_codec_and_acks_level_is_stored_and_served() {
    let broker = TestBroker::start().await;
    let topic = unique_name("codecs");
    create_topic(&broker, &topic, 2, &[]).await;
    let mut sent = 0;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        for acks in ["0", "1", "all"] {
            let producer: FutureProducer = broker
                .client_config()
                .set("compression.codec", codec)
                .set("acks", acks)
                .set("linger.ms", "20")
                .create()
                .unwrap();
            let mut futures = Vec::new();
            for i in 0..50 {
                let value = format!("{codec}-{acks}-{i}-{}", "x".repeat(100));
                let producer = producer.clone();
                let topic = topic.clone();
                futures.push(async move {
                    producer
                        .send(
                            FutureRecord::to(&topic)
                                .key(&format!("{i}"))
                                .payload(&value),
                            TIMEOUT,
                        )
                        .await
                });
            }
            for r in futures::future::join_all(futures).await {
                r.unwrap();
            }
            producer.flush(TIMEOUT).unwrap();
            sent += 50;
        }
    }
    let got = consume_all(broker.consumer_config(), &topic, 2, sent);
    let mut values: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.value.clone().unwrap()).unwrap())
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), sent, "every record exactly once");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_long_poll_wakes_when_data_arrives() {
    let broker = TestBroker::start().await;
    let topic = unique_name("longpoll");
    create_topic(&broker, &topic, 1, &[]).await;
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("fetch.wait.max.ms", "5000")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    assert!(consumer.poll(Duration::from_millis(500)).is_none());
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let started = std::time::Instant::now();
    producer
        .send(FutureRecord::to(&topic).key("k").payload("hello"), TIMEOUT)
        .await
        .unwrap();
    let msg = loop {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            break m.unwrap().detach();
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a waiting fetch must return when data arrives, not after fetch.wait.max.ms"
        );
    };
    assert_eq!(msg.payload(), Some(&b"hello"[..]));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_earliest_latest_and_by_timestamp() {
    let broker = TestBroker::start().await;
    let topic = unique_name("offsets");
    create_topic(&broker, &topic, 1, &[]).await;
    let producer: FutureProducer = broker
        .client_config()
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for i in 0..10i64 {
        producer
            .send(
                FutureRecord::to(&topic)
                    .key("k")
                    .payload("v")
                    .timestamp(10_000 + i * 1000),
                TIMEOUT,
            )
            .await
            .unwrap();
    }
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    assert_eq!(
        consumer.fetch_watermarks(&topic, 0, TIMEOUT).unwrap(),
        (0, 10)
    );
    let mut q = TopicPartitionList::new();
    q.add_partition_offset(&topic, 0, Offset::Offset(13_500))
        .unwrap();
    let r = consumer.offsets_for_times(q, TIMEOUT).unwrap();
    assert_eq!(
        r.find_partition(&topic, 0).unwrap().offset(),
        Offset::Offset(4)
    );
    let mut q = TopicPartitionList::new();
    q.add_partition_offset(&topic, 0, Offset::Offset(99_000))
        .unwrap();
    let r = consumer.offsets_for_times(q, TIMEOUT).unwrap();
    assert_eq!(
        r.find_partition(&topic, 0).unwrap().offset(),
        Offset::End,
        "no record that late"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_topics_stamp_records_with_broker_time() {
    let broker = TestBroker::start().await;
    let topic = unique_name("appendtime");
    create_topic(
        &broker,
        &topic,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    producer
        .send(
            FutureRecord::<(), _>::to(&topic).payload("x").timestamp(42),
            TIMEOUT,
        )
        .await
        .unwrap();
    let got = consume_all(broker.consumer_config(), &topic, 1, 1);
    let ts = got[0].timestamp.unwrap();
    assert!(
        ts >= before && ts < before + 60_000,
        "append time {ts}, not the producer's 42"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_validate_partitions_configs_and_delete() {
    let broker = TestBroker::start_with(&[("log.retention.hours", "48")]).await;
    let admin: AdminClient<DefaultClientContext> = broker.client_config().create().unwrap();
    let name = unique_name("admin");
    let opts = AdminOptions::new();
    // validate only creates nothing
    let t = NewTopic::new(&name, 2, TopicReplication::Fixed(1));
    assert!(admin
        .create_topics([&t], &AdminOptions::new().validate_only(true))
        .await
        .unwrap()[0]
        .is_ok());
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("allow.auto.create.topics", "false")
        .create()
        .unwrap();
    let md = consumer.fetch_metadata(None, TIMEOUT).unwrap();
    assert!(md.topics().iter().all(|t| t.name() != name));
    let t = NewTopic::new(&name, 2, TopicReplication::Fixed(1))
        .set("retention.ms", "12345")
        .set("cleanup.policy", "compact");
    assert!(admin.create_topics([&t], &opts).await.unwrap()[0].is_ok());
    let r = admin.create_topics([&t], &opts).await.unwrap();
    assert_eq!(
        r[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::TopicAlreadyExists
    );
    let bad = NewTopic::new("bad/name", 1, TopicReplication::Fixed(1));
    assert_eq!(
        admin.create_topics([&bad], &opts).await.unwrap()[0]
            .as_ref()
            .unwrap_err()
            .1,
        RDKafkaErrorCode::InvalidTopic
    );
    let rf_name = unique_name("rf");
    let bad_rf = NewTopic::new(&rf_name, 1, TopicReplication::Fixed(3));
    assert_eq!(
        admin.create_topics([&bad_rf], &opts).await.unwrap()[0]
            .as_ref()
            .unwrap_err()
            .1,
        RDKafkaErrorCode::InvalidReplicationFactor
    );
    let cfg_name = unique_name("cfg");
    let bad_cfg =
        NewTopic::new(&cfg_name, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "sometimes");
    assert_eq!(
        admin.create_topics([&bad_cfg], &opts).await.unwrap()[0]
            .as_ref()
            .unwrap_err()
            .1,
        RDKafkaErrorCode::InvalidConfig
    );

    let configs = admin
        .describe_configs([&ResourceSpecifier::Topic(&name)], &opts)
        .await
        .unwrap();
    let configs = configs[0].as_ref().unwrap();
    let get = |k: &str| configs.entries.iter().find(|e| e.name == k).unwrap();
    assert_eq!(get("retention.ms").value.as_deref(), Some("12345"));
    assert_eq!(
        get("retention.ms").source,
        rdkafka::admin::ConfigSource::DynamicTopic
    );
    assert_eq!(get("segment.bytes").value.as_deref(), Some("1073741824"));
    assert_eq!(
        get("segment.bytes").source,
        rdkafka::admin::ConfigSource::Default
    );
    let broker_cfg = admin
        .describe_configs([&ResourceSpecifier::Broker(1)], &opts)
        .await
        .unwrap();
    let broker_cfg = broker_cfg[0].as_ref().unwrap();
    let hours = broker_cfg
        .entries
        .iter()
        .find(|e| e.name == "log.retention.hours")
        .unwrap();
    assert_eq!(hours.value.as_deref(), Some("48"));
    assert_eq!(hours.source, rdkafka::admin::ConfigSource::StaticBroker);

    let np = NewPartitions::new(&name, 5);
    assert!(admin.create_partitions([&np], &opts).await.unwrap()[0].is_ok());
    let np = NewPartitions::new(&name, 3);
    assert_eq!(
        admin.create_partitions([&np], &opts).await.unwrap()[0]
            .as_ref()
            .unwrap_err()
            .1,
        RDKafkaErrorCode::InvalidPartitions
    );
    let md = consumer.fetch_metadata(Some(&name), TIMEOUT).unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 5);

    assert!(admin.delete_topics(&[&name], &opts).await.unwrap()[0].is_ok());
    assert_eq!(
        admin.delete_topics(&[&name], &opts).await.unwrap()[0]
            .as_ref()
            .unwrap_err()
            .1,
        RDKafkaErrorCode::UnknownTopicOrPartition
    );
    let leftovers: Vec<_> = std::fs::read_dir(broker.data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partition directories of a deleted topic are removed"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_creation_follows_broker_settings() {
    let broker = TestBroker::start_with(&[("num.partitions", "4")]).await;
    let topic = unique_name("auto");
    let producer: FutureProducer = broker.client_config().create().unwrap();
    producer
        .send(FutureRecord::<(), _>::to(&topic).payload("x"), TIMEOUT)
        .await
        .unwrap();
    let md = producer
        .client()
        .fetch_metadata(Some(&topic), TIMEOUT)
        .unwrap();
    assert_eq!(
        md.topics()[0].partitions().len(),
        4,
        "num.partitions applies to auto-created topics"
    );
    broker.stop().await;

    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    let topic = unique_name("noauto");
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    let md = consumer.fetch_metadata(Some(&topic), TIMEOUT).unwrap();
    assert_eq!(
        md.topics()[0].error().map(RDKafkaErrorCode::from),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_topics_survive_a_restart() {
    let mut broker = TestBroker::start().await;
    let topic = unique_name("restart");
    create_topic(&broker, &topic, 2, &[("internal.segment.bytes", "2048")]).await;
    let producer: FutureProducer = broker
        .client_config()
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for i in 0..100 {
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(&format!("k{i}"))
                    .payload(&format!("value-{i}-{}", "y".repeat(50))),
                TIMEOUT,
            )
            .await
            .unwrap();
    }
    drop(producer);
    broker.restart().await;
    let got = consume_all(broker.consumer_config(), &topic, 2, 100);
    let mut values: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.value.clone().unwrap()).unwrap())
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 100);
    // appends continue after the restart at the next offsets
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let d = producer
        .send(FutureRecord::to(&topic).key("k0").payload("after"), TIMEOUT)
        .await
        .unwrap();
    let (p, o) = (d.partition, d.offset);
    let before = got.iter().filter(|g| g.partition == p).count() as i64;
    assert_eq!(o, before);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_position_resets_by_auto_offset_reset() {
    let broker = TestBroker::start().await;
    let topic = unique_name("oor");
    create_topic(&broker, &topic, 1, &[]).await;
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for i in 0..5 {
        producer
            .send(
                FutureRecord::to(&topic).key("k").payload(&format!("v{i}")),
                TIMEOUT,
            )
            .await
            .unwrap();
    }
    for (reset, want) in [("earliest", Some(0)), ("latest", None)] {
        let consumer: BaseConsumer = broker
            .consumer_config()
            .set("auto.offset.reset", reset)
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(1000))
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let mut first = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline && first.is_none() {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                first = Some(m.offset());
            }
        }
        assert_eq!(first, want, "auto.offset.reset={reset}");
        if want.is_none() {
            // reset to the end: the next record produced is the first one seen
            producer
                .send(FutureRecord::to(&topic).key("k").payload("v5"), TIMEOUT)
                .await
                .unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline && first.is_none() {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    first = Some(m.offset());
                }
            }
            assert_eq!(first, Some(5));
        }
    }
    broker.stop().await;
}
