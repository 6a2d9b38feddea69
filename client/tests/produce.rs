//! The protocol producer against an in-process broker: what librdkafka cannot write (a record
//! timestamp of 0) is read back as written, with keys, values and headers; keyed records land
//! where Kafka's default partitioner puts them; a topic that does not exist is an error, not a
//! hang.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use tributary_client::partition::partition_for_key;
use tributary_client::produce::{Producer, ProducerRecord};
use tributary_testkit::{unique_name, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_written_with_their_own_timestamps_even_zero() {
    let broker = TestBroker::start().await;
    let topic = unique_name("exact");
    broker.create_topic(&topic, 3).await;
    let mut producer = Producer::new(&broker.bootstrap(), Duration::from_secs(10));
    // (a header key may repeat: each is kept, in order)
    let headers = vec![
        ("h".to_string(), Some(b"v".to_vec())),
        ("n".to_string(), None),
        ("h".to_string(), Some(b"w".to_vec())),
    ];
    let keys: [&[u8]; 3] = [b"a", b"b", b"c"];
    let mut written = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let (p, offset) = producer
            .send(
                &topic,
                None,
                ProducerRecord {
                    key: Some(k),
                    value: Some(b"value"),
                    headers: &headers,
                    timestamp: i as i64,
                },
            )
            .await
            .unwrap();
        assert_eq!(p, partition_for_key(k, 3));
        written.push((p, offset));
    }
    let (p, _) = producer
        .send(
            &topic,
            Some(2),
            ProducerRecord {
                key: None,
                value: None,
                headers: &[],
                timestamp: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(p, 2);

    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut read = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while read.len() < 4 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let headers: Vec<(String, Option<Vec<u8>>)> = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default();
            read.push((
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
                m.timestamp().to_millis(),
                headers,
                m.partition(),
            ));
        }
    }
    read.sort_by_key(|r| (r.2, r.0.clone()));
    assert_eq!(read.len(), 4);
    assert_eq!(read[0].0, None);
    assert_eq!(read[0].1, None);
    assert_eq!(read[0].2, Some(0));
    assert_eq!(read[0].4, 2);
    assert_eq!(read[1].0.as_deref(), Some(&b"a"[..]));
    assert_eq!(read[1].2, Some(0));
    assert_eq!(read[1].3, headers);
    assert_eq!(read[3].2, Some(2));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_does_not_exist_is_an_error_after_the_timeout() {
    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    let mut producer = Producer::new(&broker.bootstrap(), Duration::from_millis(800));
    let record = ProducerRecord {
        key: None,
        value: Some(b"v"),
        headers: &[],
        timestamp: 0,
    };
    let err = producer
        .send(&unique_name("missing"), None, record)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    broker.stop().await;
}
