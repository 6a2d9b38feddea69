//! Writing records with the produce protocol itself, for what librdkafka cannot write: a record
//! timestamp of 0 (librdkafka writes the current time in its place, `rd_kafka_msg_new0`), which
//! Kafka's Java producer writes as it is. Records go to the partition's leader one at a time
//! with `acks=all`, without idempotence; a leader that moved or a broker that went away is looked
//! up again until the timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{MetadataRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::partition::partition_for_key;
use crate::wire::Client;

/// A record to write.
#[derive(Debug, Clone, Copy)]
pub struct ProducerRecord<'a> {
    /// The key (`None`: null).
    pub key: Option<&'a [u8]>,
    /// The value (`None`: null).
    pub value: Option<&'a [u8]>,
    /// The headers, in order.
    pub headers: &'a [(String, Option<Vec<u8>>)],
    /// The timestamp (ms), written as it is.
    pub timestamp: i64,
}

/// Error codes after which the partition's leader is looked up again and the write retried.
const RETRIABLE: [i16; 8] = [
    3,  // UNKNOWN_TOPIC_OR_PARTITION
    5,  // LEADER_NOT_AVAILABLE
    6,  // NOT_LEADER_OR_FOLLOWER
    7,  // REQUEST_TIMED_OUT
    13, // NETWORK_EXCEPTION
    19, // NOT_ENOUGH_REPLICAS
    20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
    74, // FENCED_LEADER_EPOCH
];

/// What a topic's metadata says: each partition's leader address.
struct TopicLeaders {
    leaders: Vec<Option<String>>,
}

/// A producer writing through the produce protocol (plaintext listeners only).
pub struct Producer {
    bootstrap: Vec<String>,
    timeout: Duration,
    topics: HashMap<String, TopicLeaders>,
    connections: HashMap<String, Client>,
    unkeyed: i32,
}

impl Producer {
    /// A producer for the cluster behind `bootstrap` (`host:port,...`); each write gives up
    /// after `timeout`.
    pub fn new(bootstrap: &str, timeout: Duration) -> Producer {
        Producer {
            bootstrap: bootstrap
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            timeout,
            topics: HashMap::new(),
            connections: HashMap::new(),
            unkeyed: 0,
        }
    }

    /// Writes `record` to `topic`, to `partition` or else to the partition Kafka's default
    /// partitioner picks (murmur2 of the key; records without a key in turn); the partition
    /// and offset written.
    pub async fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        record: ProducerRecord<'_>,
    ) -> std::io::Result<(i32, i64)> {
        let deadline = Instant::now() + self.timeout;
        let batch = batch(&record)?;
        let mut last_error = String::from("no attempt");
        loop {
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("cannot write to {topic} in time: {last_error}"),
                ));
            }
            match self.attempt(topic, partition, &record, &batch).await {
                Ok(Ok(written)) => return Ok(written),
                Ok(Err(code)) if RETRIABLE.contains(&code) => {
                    last_error = format!("error code {code}");
                    self.topics.remove(topic);
                }
                Ok(Err(code)) => {
                    return Err(std::io::Error::other(format!(
                        "the broker refused the write to {topic} (error code {code})"
                    )))
                }
                Err(e) => {
                    last_error = e.to_string();
                    self.topics.remove(topic);
                    self.connections.clear();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One write: `Ok(Err(code))` when the broker answered with an error.
    async fn attempt(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        record: &ProducerRecord<'_>,
        batch: &Bytes,
    ) -> std::io::Result<Result<(i32, i64), i16>> {
        if !self.topics.contains_key(topic) {
            let leaders = self.metadata(topic).await?;
            self.topics.insert(topic.to_string(), leaders);
        }
        let leaders = &self.topics[topic].leaders;
        let count = leaders.len() as i32;
        if count == 0 {
            return Ok(Err(3));
        }
        let p = match (partition, record.key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, count),
            (None, None) => {
                self.unkeyed = self.unkeyed.wrapping_add(1);
                self.unkeyed.rem_euclid(count)
            }
        };
        let Some(Some(leader)) = usize::try_from(p)
            .ok()
            .and_then(|i| leaders.get(i))
            .cloned()
        else {
            return Ok(Err(if p >= count { 3 } else { 5 }));
        };
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX))
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(p)
                    .with_records(Some(batch.clone()))])]);
        let client = self.connection(&leader).await?;
        let response = client.call(&request, 9).await?;
        let answer = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter())
            .find(|r| r.index == p)
            .ok_or_else(|| std::io::Error::other("no answer for the partition written"))?;
        Ok(match answer.error_code {
            0 => Ok((p, answer.base_offset)),
            code => Err(code),
        })
    }

    async fn connection(&mut self, addr: &str) -> std::io::Result<&mut Client> {
        if !self.connections.contains_key(addr) {
            let client = Client::connect(addr, self.timeout).await?;
            self.connections.insert(addr.to_string(), client);
        }
        self.connections
            .get_mut(addr)
            .ok_or_else(|| std::io::Error::other("no connection"))
    }

    /// The leaders of `topic`'s partitions, asked of the first bootstrap broker that answers.
    async fn metadata(&mut self, topic: &str) -> std::io::Result<TopicLeaders> {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
                TopicName(StrBytes::from_string(topic.to_string())),
            ))]))
            .with_allow_auto_topic_creation(false);
        let mut last = std::io::Error::other("no bootstrap server");
        for addr in self.bootstrap.clone() {
            let answer = match self.connection(&addr).await {
                Ok(c) => c.call(&request, 9).await,
                Err(e) => Err(e),
            };
            let response = match answer {
                Ok(r) => r,
                Err(e) => {
                    self.connections.remove(&addr);
                    last = e;
                    continue;
                }
            };
            let brokers: HashMap<i32, String> = response
                .brokers
                .iter()
                .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
                .collect();
            let Some(t) = response
                .topics
                .iter()
                .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
            else {
                return Ok(TopicLeaders {
                    leaders: Vec::new(),
                });
            };
            let count = t.partitions.len();
            let mut leaders = vec![None; count];
            for p in &t.partitions {
                if let Some(slot) = usize::try_from(p.partition_index)
                    .ok()
                    .and_then(|i| leaders.get_mut(i))
                {
                    *slot = brokers.get(&p.leader_id.0).cloned();
                }
            }
            return Ok(TopicLeaders { leaders });
        }
        Err(last)
    }
}

/// A batch of the one record, as a producer without idempotence writes it.
fn batch(r: &ProducerRecord<'_>) -> std::io::Result<Bytes> {
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| {
            (
                StrBytes::from_string(k.clone()),
                v.as_deref().map(Bytes::copy_from_slice),
            )
        })
        .collect();
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: r.timestamp,
        key: r.key.map(Bytes::copy_from_slice),
        value: r.value.map(Bytes::copy_from_slice),
        headers,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(std::io::Error::other)?;
    Ok(buf.freeze())
}
