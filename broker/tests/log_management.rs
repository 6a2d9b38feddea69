//! Log management against in-process brokers with real clients: compaction, retention,
//! DeleteRecords, config changes (AlterConfigs, IncrementalAlterConfigs, dynamic broker
//! configs), recompression and large records.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::requests::{fetch, produce};
use tributary_testkit::{record_batch_with, unique_name, RawClient, TestBroker};

const INVALID_CONFIG: i16 = 40;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REQUEST: i16 = 42;

fn admin(broker: &TestBroker) -> AdminClient<DefaultClientContext> {
    broker.client_config().create().unwrap()
}

async fn create(broker: &TestBroker, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin(broker)
        .create_topics([&t], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
}

/// Produces `(key, value)` pairs (`None` value: a tombstone) to partition 0, in order.
async fn send(broker: &TestBroker, topic: &str, records: &[(String, Option<String>)], codec: &str) {
    let producer: FutureProducer = broker
        .client_config()
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut futs = Vec::new();
    for (k, v) in records {
        let mut r = FutureRecord::to(topic).partition(0).key(k.as_str());
        if let Some(v) = v {
            r = r.payload(v.as_str());
        }
        futs.push(producer.send_result(r).map_err(|_| ()).unwrap());
    }
    for f in futs {
        f.await.unwrap().unwrap();
    }
}

type Read = Vec<(i64, String, Option<String>)>;

/// Every record of partition 0 from the log start to the end as `(offset, key, value)`.
fn read_all(broker: &TestBroker, topic: &str) -> Read {
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("reader"))
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let s = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).to_string());
                out.push((m.offset(), s(m.key()).unwrap_or_default(), s(m.payload())));
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("consume failed: {e}"),
            None => {}
        }
    }
    panic!("no end of partition in 20 s");
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_keeps_the_latest_value_per_key_for_every_client_codec() {
    let broker = TestBroker::start_with(&[("log.cleaner.backoff.ms", "100")]).await;
    let topic = unique_name("compacted");
    create(
        &broker,
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("internal.segment.bytes", "4096"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "0"),
        ],
    )
    .await;
    let mut model = BTreeMap::new();
    for (round, codec) in ["none", "gzip", "snappy", "lz4", "zstd"].iter().enumerate() {
        let recs: Vec<(String, Option<String>)> = (0..40)
            .map(|k| {
                let v = (k % 7 != round).then(|| format!("{round}-{k}-{}", "x".repeat(40)));
                (format!("key-{k:02}"), v)
            })
            .collect();
        for (k, v) in &recs {
            match v {
                Some(v) => model.insert(k.clone(), v.clone()),
                None => model.remove(k),
            };
        }
        send(&broker, &topic, &recs, codec).await;
    }
    // a record without a key is refused on a compacted topic, and nothing is written
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let refused = producer
        .send(
            FutureRecord::<(), str>::to(&topic)
                .partition(0)
                .payload("no key"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.0.rdkafka_error_code(),
        Some(RDKafkaErrorCode::InvalidRecord)
    );
    // roll the active segment so that everything is cleanable, then let the cleaner run
    send(
        &broker,
        &topic,
        &[("roll".into(), Some("x".repeat(4096)))],
        "none",
    )
    .await;
    model.insert("roll".into(), "x".repeat(4096));
    let cleaner = broker.handle().cleaner();
    wait_until("a compaction pass", || {
        cleaner
            .metrics()
            .passes
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    })
    .await;
    wait_until("tombstones to go and one record per key", || {
        let got = read_all(&broker, &topic);
        let keys: std::collections::BTreeSet<_> = got.iter().map(|r| &r.1).collect();
        keys.len() + 1 >= got.len() && got.iter().all(|r| r.2.is_some() || r.1 == "roll")
    })
    .await;
    let got = read_all(&broker, &topic);
    // offsets only rise, and replaying the log gives the table the producer wrote
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    let mut table = BTreeMap::new();
    for (_, k, v) in &got {
        match v {
            Some(v) => table.insert(k.clone(), v.clone()),
            None => table.remove(k),
        };
    }
    assert_eq!(table, model);
    assert!(
        got.len() < 200,
        "compaction removed the old values: {}",
        got.len()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_delete_records_move_the_start_and_consumers_follow_auto_offset_reset() {
    let broker = TestBroker::start_with(&[("log.retention.check.interval.ms", "100")]).await;
    let topic = unique_name("retained");
    create(&broker, &topic, 1, &[("internal.segment.bytes", "2048")]).await;
    let recs: Vec<(String, Option<String>)> = (0..100)
        .map(|i| {
            (
                format!("k{i}"),
                Some(format!("value-{i}-{}", "y".repeat(60))),
            )
        })
        .collect();
    send(&broker, &topic, &recs, "none").await;

    // DeleteRecords through the admin client
    let admin = admin(&broker);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(30))
        .unwrap();
    let done = admin
        .delete_records(&tpl, &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(done.elements()[0].offset(), Offset::Offset(30));
    assert_eq!(read_all(&broker, &topic).first().map(|r| r.0), Some(30));
    let mut beyond = TopicPartitionList::new();
    beyond
        .add_partition_offset(&topic, 0, Offset::Offset(500))
        .unwrap();
    let refused = admin
        .delete_records(&beyond, &AdminOptions::new())
        .await
        .unwrap();
    assert!(
        refused.elements()[0].error().is_err(),
        "beyond the high watermark"
    );

    // a consumer positioned before the start follows auto.offset.reset
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("g"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut at = TopicPartitionList::new();
    at.add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    consumer.assign(&at).unwrap();
    let first = loop {
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            break m.unwrap().offset();
        }
    };
    assert_eq!(first, 30, "reset to the new log start offset");

    // retention.ms changed at runtime: old segments go without a restart
    let change = AlterConfig::new(ResourceSpecifier::Topic(&topic))
        .set("retention.ms", "1")
        .set("internal.segment.bytes", "2048");
    let r = admin
        .alter_configs([&change], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
    wait_until("retention to delete the old segments", || {
        let (low, high) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(5))
            .unwrap();
        low == high && high == 100
    })
    .await;
    // offsets carry on after everything was deleted (AlterConfigs replaces the whole set)
    let keep = AlterConfig::new(ResourceSpecifier::Topic(&topic)).set("retention.ms", "600000");
    let r = admin
        .alter_configs([&keep], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert!(
        !c.contains_key("internal.segment.bytes"),
        "AlterConfigs drops what it does not name"
    );
    send(
        &broker,
        &topic,
        &[("after".into(), Some("v".into()))],
        "none",
    )
    .await;
    assert_eq!(
        read_all(&broker, &topic),
        vec![(100, "after".into(), Some("v".into()))]
    );
    broker.stop().await;
}

fn incremental(
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> IncrementalAlterConfigsRequest {
    let configs = ops
        .iter()
        .map(|(k, op, v)| {
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k.to_string()))
                .with_config_operation(*op)
                .with_value(v.map(|v| StrBytes::from_string(v.to_string())))
        })
        .collect();
    IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(resource_type)
        .with_resource_name(StrBytes::from_string(name.to_string()))
        .with_configs(configs)])
}

async fn describe(
    broker: &TestBroker,
    spec: ResourceSpecifier<'_>,
) -> BTreeMap<String, (String, String)> {
    let r = admin(broker)
        .describe_configs([&spec], &AdminOptions::new())
        .await
        .unwrap();
    r.into_iter()
        .next()
        .unwrap()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| {
            (
                e.name,
                (e.value.unwrap_or_default(), format!("{:?}", e.source)),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_alter_configs_validates_persists_and_applies_dynamically() {
    let mut broker = TestBroker::start().await;
    let topic = unique_name("configs");
    create(&broker, &topic, 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();

    // set, append, subtract, delete
    let r = raw
        .call(
            &incremental(
                2,
                &topic,
                &[
                    ("retention.ms", 0, Some("60000")),
                    ("cleanup.policy", 2, Some("compact")),
                    ("max.message.bytes", 0, Some("2000000")),
                ],
            ),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].error_code, 0,
        "{:?}",
        r.responses[0].error_message
    );
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert_eq!(c["cleanup.policy"].0, "delete,compact");
    assert_eq!(c["retention.ms"], ("60000".into(), "DynamicTopic".into()));
    let r = raw
        .call(
            &incremental(
                2,
                &topic,
                &[
                    ("cleanup.policy", 3, Some("delete")),
                    ("max.message.bytes", 1, None),
                ],
            ),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert_eq!(c["cleanup.policy"].0, "compact");
    assert_eq!(c["max.message.bytes"], ("1048588".into(), "Default".into()));

    // bad input: Kafka's codes, messages naming the key and the allowed values
    for (ops, code, words) in [
        (
            vec![("cleanup.policy", 0, Some("shred"))],
            INVALID_CONFIG,
            vec!["cleanup.policy", "compact, delete"],
        ),
        (
            vec![("retention.ms", 0, Some("soon"))],
            INVALID_CONFIG,
            vec!["retention.ms", "LONG"],
        ),
        (
            vec![("no.such.config", 0, Some("1"))],
            INVALID_CONFIG,
            vec!["no.such.config"],
        ),
        (
            vec![("retention.ms", 2, Some("5"))],
            INVALID_CONFIG,
            vec!["append", "retention.ms"],
        ),
        (
            vec![("retention.ms", 0, Some("5")), ("retention.ms", 1, None)],
            INVALID_REQUEST,
            vec!["duplicate"],
        ),
        (
            vec![
                ("min.compaction.lag.ms", 0, Some("10")),
                ("max.compaction.lag.ms", 0, Some("5")),
            ],
            INVALID_CONFIG,
            vec!["conflict", "min.compaction.lag.ms"],
        ),
        (
            vec![("retention.ms", 9, Some("5"))],
            INVALID_REQUEST,
            vec!["operation"],
        ),
    ] {
        let r = raw
            .call(&incremental(2, &topic, &ops), 1)
            .await
            .unwrap()
            .unwrap();
        let msg = r.responses[0]
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        assert_eq!(r.responses[0].error_code, code, "{ops:?}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{msg:?} names {w}");
        }
    }
    // a resource named twice is refused both times, and nothing changes
    let mut twice = incremental(2, &topic, &[("retention.ms", 0, Some("1"))]);
    twice.resources.push(twice.resources[0].clone());
    let r = raw.call(&twice, 1).await.unwrap().unwrap();
    assert!(r.responses.iter().all(|a| a.error_code == INVALID_REQUEST));
    let r = raw
        .call(
            &incremental(2, "no-such-topic", &[("retention.ms", 0, Some("1"))]),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);

    // broker dynamic configs: only the dynamic ones, and they feed every topic's defaults
    let r = raw
        .call(
            &incremental(4, "", &[("log.retention.ms", 0, Some("3600000"))]),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let r = raw
        .call(&incremental(4, "1", &[("node.id", 0, Some("3"))]), 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].error_code, INVALID_REQUEST,
        "as Kafka answers"
    );
    let other = unique_name("defaults");
    create(&broker, &other, 1, &[]).await;
    let c = describe(&broker, ResourceSpecifier::Topic(&other)).await;
    assert_eq!(
        c["retention.ms"],
        ("3600000".into(), "DynamicDefaultBroker".into())
    );
    let b = describe(&broker, ResourceSpecifier::Broker(1)).await;
    assert_eq!(
        b["log.retention.ms"],
        ("3600000".into(), "DynamicDefaultBroker".into())
    );

    // everything survives a restart (the metadata log keeps it)
    drop(raw);
    broker.restart().await;
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert_eq!(c["cleanup.policy"].0, "compact");
    assert_eq!(c["retention.ms"].0, "60000");
    let c = describe(&broker, ResourceSpecifier::Topic(&other)).await;
    assert_eq!(c["retention.ms"].0, "3600000");
    broker.stop().await;
}

/// Broker configs follow Kafka's `DynamicBrokerConfig` rules: names Kafka lets change at runtime
/// are stored and described even where Tributary does not act on them, names Kafka does not know
/// are stored as Kafka stores them (sensitive, no value shown), and only what Kafka refuses is
/// refused, with its messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_configs_are_accepted_and_refused_as_kafka_does() {
    let mut broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let mut alter = async |resource: &str, name: &str, value: &str| {
        let r = raw
            .call(&incremental(4, resource, &[(name, 0, Some(value))]), 1)
            .await
            .unwrap()
            .unwrap();
        let msg = r.responses[0].error_message.as_ref().map(|m| m.to_string());
        (r.responses[0].error_code, msg.unwrap_or_default())
    };
    for (name, value) in [
        ("sasl.kerberos.min.time.before.relogin", "1000"),
        ("num.io.threads", "4"),
        ("log.cleaner.threads", "2"),
        ("listener.name.plaintext.ssl.keystore.type", "PKCS12"),
        ("leader.replication.throttled.rate", "100"),
        ("some.plugin.setting", "x"),
    ] {
        assert_eq!(alter("1", name, value).await, (0, String::new()), "{name}");
    }
    for (resource, name, value, message) in [
        ("1", "node.id", "3", "Cannot update these configs dynamically: [node.id]"),
        (
            "1",
            "num.io.threads",
            "0",
            "Invalid value 0 for configuration num.io.threads: Value must be at least 1",
        ),
        (
            "1",
            "log.retention.ms",
            "soon",
            "Invalid value soon for configuration log.retention.ms: Not a number of type LONG",
        ),
        (
            "1",
            "ssl.keystore.type",
            "PKCS12",
            "These security configs can be dynamically updated only per-listener using the listener prefix: [ssl.keystore.type]",
        ),
        (
            "",
            "listeners",
            "PLAINTEXT://:1",
            "Cannot update these configs at default cluster level, broker id must be specified: [listeners]",
        ),
    ] {
        assert_eq!(
            alter(resource, name, value).await,
            (INVALID_REQUEST, message.to_string()),
            "{name}={value}"
        );
    }
    // described as stored, also after a restart (the metadata log keeps them)
    for round in 0..2 {
        let r = admin(&broker)
            .describe_configs([&ResourceSpecifier::Broker(1)], &AdminOptions::new())
            .await
            .unwrap();
        let entries = r.into_iter().next().unwrap().unwrap().entries;
        let find = |n: &str| {
            entries
                .iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("{n} described (round {round})"))
        };
        let io = find("num.io.threads");
        assert_eq!(io.value.as_deref(), Some("4"));
        assert!(!io.is_sensitive && !io.is_read_only);
        assert_eq!(
            find("sasl.kerberos.min.time.before.relogin")
                .value
                .as_deref(),
            Some("1000")
        );
        let keystore = find("listener.name.plaintext.ssl.keystore.type");
        assert_eq!(keystore.value.as_deref(), Some("PKCS12"));
        let unknown = find("some.plugin.setting");
        assert!(unknown.is_sensitive, "Kafka hides names it does not know");
        assert_eq!(unknown.value, None);
        if round == 0 {
            drop(raw);
            broker.restart().await;
            raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
        }
    }
    // and deleted again
    let r = raw
        .call(
            &incremental(
                4,
                "1",
                &[
                    ("some.plugin.setting", 1, None),
                    ("num.io.threads", 1, None),
                ],
            ),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let b = describe(&broker, ResourceSpecifier::Broker(1)).await;
    assert!(!b.contains_key("some.plugin.setting") && !b.contains_key("num.io.threads"));
    broker.stop().await;
}

/// Every topic config name Kafka 4.4 has is accepted; the ones for features Tributary does not
/// have (tiered storage, replication throttles, share-group dead letter queues) are stored and
/// described, and refused only where Kafka refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kafka_topic_config_name_is_accepted() {
    let broker = TestBroker::start().await;
    let topic = unique_name("kafka-names");
    create(
        &broker,
        &topic,
        1,
        &[
            ("leader.replication.throttled.replicas", "*"),
            ("follower.replication.throttled.replicas", "0:1,1:1"),
            ("local.retention.ms", "-2"),
            ("remote.copy.lag.ms", "1000"),
            ("max.decompressed.message.bytes", "1048576"),
            ("errors.deadletterqueue.group.enable", "true"),
        ],
    )
    .await;
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert_eq!(
        c["follower.replication.throttled.replicas"],
        ("0:1,1:1".into(), "DynamicTopic".into())
    );
    assert_eq!(
        c["remote.storage.enable"],
        ("false".into(), "Default".into())
    );
    assert_eq!(
        c["message.timestamp.after.max.ms"],
        ("3600000".into(), "Default".into()),
        "Kafka 4's default"
    );
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
    for (name, value, words) in [
        (
            "leader.replication.throttled.replicas",
            "leader",
            "[partitionId]:[brokerId]",
        ),
        (
            "remote.storage.enable",
            "true",
            "Tiered Storage functionality is disabled in the broker",
        ),
        (
            "max.decompressed.message.bytes",
            "0",
            "max.decompressed.message.bytes",
        ),
    ] {
        let r = raw
            .call(&incremental(2, &topic, &[(name, 0, Some(value))]), 1)
            .await
            .unwrap()
            .unwrap();
        let msg = r.responses[0]
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        assert_eq!(r.responses[0].error_code, INVALID_CONFIG, "{name}={value}");
        assert!(msg.contains(words), "{msg}");
    }
    // a record two hours ahead of the broker's clock: Kafka 4 refuses it by default
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ahead = record_batch_with(&[(Some(b"k"), b"v", now + 7_200_000)], Compression::None);
    let r = raw
        .call(&produce(&topic, 0, ahead), 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code, 32,
        "INVALID_TIMESTAMP"
    );
    broker.stop().await;
}

/// Topic configs Kafka 3.x accepted and 4.0 removed are accepted as Kafka 3.9 accepts them;
/// `message.timestamp.difference.max.ms` still bounds timestamps as it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_topic_configs_are_accepted_as_kafka_3_9_does() {
    let broker = TestBroker::start().await;
    let topic = unique_name("deprecated");
    create(
        &broker,
        &topic,
        1,
        &[
            ("message.format.version", "2.8-IV1"),
            ("message.timestamp.difference.max.ms", "3600000"),
            ("message.downconversion.enable", "false"),
        ],
    )
    .await;
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert_eq!(
        c["message.format.version"],
        ("2.8-IV1".into(), "DynamicTopic".into())
    );
    assert_eq!(c["message.downconversion.enable"].0, "false");
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let old = record_batch_with(&[(Some(b"k"), b"v", now - 7_200_000)], Compression::None);
    let r = raw
        .call(&produce(&topic, 0, old), 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        32, // INVALID_TIMESTAMP
        "2 h old with message.timestamp.difference.max.ms=1h"
    );
    let r = raw
        .call(
            &incremental(
                2,
                &topic,
                &[("message.downconversion.enable", 0, Some("maybe"))],
            ),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].error_code, INVALID_CONFIG,
        "still type-checked"
    );
    let r = raw
        .call(
            &incremental(2, &topic, &[("message.format.version", 1, None)]),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let c = describe(&broker, ResourceSpecifier::Topic(&topic)).await;
    assert!(!c.contains_key("message.format.version"));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_compression_type_recompresses_batches_on_write() {
    let broker = TestBroker::start().await;
    let topic = unique_name("zstd-topic");
    create(&broker, &topic, 1, &[("compression.type", "zstd")]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let values: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("record {i} {}", "z".repeat(100)).into_bytes())
        .collect();
    let recs: Vec<tributary_testkit::TestRecord<'_>> = values
        .iter()
        .map(|v| (Some(&b"k"[..]), &v[..], 1_700_000_000_000))
        .collect();
    let batch = record_batch_with(&recs, Compression::Gzip);
    let r = raw
        .call(&produce(&topic, 0, batch), 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let r = raw
        .call(&fetch(&topic, 0, 0, 100, 1), 12)
        .await
        .unwrap()
        .unwrap();
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    // attributes' low 3 bits: the codec, 4 = zstd
    assert_eq!(records[21..23][1] & 0x07, 4, "stored as the topic's codec");
    // and every client reads it back
    let got = read_all(&broker, &topic);
    assert_eq!(got.len(), 20);
    assert_eq!(
        got[19].2.as_deref(),
        Some(std::str::from_utf8(&values[19]).unwrap())
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabyte_records_pass_with_raised_limits_and_are_refused_by_default() {
    let broker = TestBroker::start().await;
    let big = unique_name("big");
    create(&broker, &big, 1, &[("max.message.bytes", "15728640")]).await;
    let value: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let producer: FutureProducer = broker
        .client_config()
        .set("message.max.bytes", "16000000")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&big).partition(0).key("k").payload(&value),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", unique_name("g"))
        .set("fetch.max.bytes", "16000000")
        .set("max.partition.fetch.bytes", "16000000")
        .set("receive.message.max.bytes", "17000000")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&big, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let got = loop {
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            break m.unwrap().payload().unwrap().to_vec();
        }
    };
    assert!(got == value, "the 10 MB record comes back whole");

    let small = unique_name("default-limit");
    create(&broker, &small, 1, &[]).await;
    let refused = producer
        .send(
            FutureRecord::to(&small)
                .partition(0)
                .key("k")
                .payload(&value[..2 << 20]),
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.0.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge)
    );
    let (low, high) = consumer
        .fetch_watermarks(&small, 0, Duration::from_secs(5))
        .unwrap();
    assert_eq!((low, high), (0, 0), "nothing was written");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_consumer_offsets_still_load_after_a_restart() {
    use rdkafka::consumer::CommitMode;
    let mut broker = TestBroker::start_with(&[
        ("offsets.topic.num.partitions", "1"),
        ("offsets.topic.segment.bytes", "2048"),
        ("log.cleaner.backoff.ms", "100"),
        ("log.cleaner.min.cleanable.ratio", "0.01"),
    ])
    .await;
    let topic = unique_name("committed");
    create(&broker, &topic, 1, &[]).await;
    let group = unique_name("g");
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    for offset in 1..=300 {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(offset))
            .unwrap();
        consumer.commit(&tpl, CommitMode::Sync).unwrap();
    }
    drop(consumer);
    let cleaner = broker.handle().cleaner();
    wait_until("__consumer_offsets to be compacted", || {
        cleaner
            .metrics()
            .records_removed
            .load(std::sync::atomic::Ordering::Relaxed)
            > 100
    })
    .await;
    broker.restart().await;
    let consumer: BaseConsumer = broker
        .consumer_config()
        .set("group.id", &group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    assert_eq!(committed.elements()[0].offset(), Offset::Offset(300));
    drop(consumer);
    broker.stop().await;
}

/// DescribeLogDirs: the one log dir, with every partition's size on disk, or only the partitions
/// asked for; the disk's total and usable bytes (v4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_log_dirs_lists_partitions_with_their_sizes() {
    use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
    use kafka_protocol::messages::DescribeLogDirsRequest;
    let broker = TestBroker::start().await;
    let topic = unique_name("logdirs");
    create(&broker, &topic, 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let batch = record_batch_with(
        &[(Some(b"k"), b"value", 1_700_000_000_000)],
        Compression::None,
    );
    let r = raw
        .call(&produce(&topic, 1, batch.clone()), 9)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let sizes = |r: &kafka_protocol::messages::DescribeLogDirsResponse| -> Vec<(i32, i64)> {
        r.results[0]
            .topics
            .iter()
            .filter(|t| t.name.0.as_str() == topic)
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.partition_size))
            })
            .collect()
    };
    let all = raw
        .call(&DescribeLogDirsRequest::default().with_topics(None), 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all.results.len(), 1);
    let dir = &all.results[0];
    assert_eq!(dir.error_code, 0);
    let expected = std::fs::canonicalize(broker.data_dir()).unwrap();
    assert_eq!(dir.log_dir.as_str(), expected.display().to_string());
    assert!(dir.total_bytes > 0 && dir.usable_bytes > 0 && dir.usable_bytes <= dir.total_bytes);
    assert_eq!(sizes(&all), vec![(0, 0), (1, batch.len() as i64)]);
    let one = raw
        .call(
            &DescribeLogDirsRequest::default().with_topics(Some(vec![
                DescribableLogDirTopic::default()
                    .with_topic(kafka_protocol::messages::TopicName(StrBytes::from_string(
                        topic.clone(),
                    )))
                    .with_partitions(vec![1, 7]),
            ])),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sizes(&one),
        vec![(1, batch.len() as i64)],
        "only what was asked and exists"
    );
    assert_eq!(one.results[0].topics.len(), 1);
    broker.stop().await;
}
