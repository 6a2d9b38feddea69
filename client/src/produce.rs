//! Writing records with the produce protocol itself, for what librdkafka cannot write: a record
//! timestamp of 0 (librdkafka writes the current time in its place, `rd_kafka_msg_new0`), which
//! Kafka's Java producer writes as it is. Records go to the partition's leader one at a time
//! with `acks=all`, without idempotence; a leader that moved or a broker that went away is looked
//! up again until the timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{MetadataRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

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

/// A batch of the one record, as a producer without idempotence writes it (record batch v2,
/// uncompressed). Written here rather than with `kafka-protocol`'s encoder, whose records keep
/// headers in a map: a header key may repeat, and each must be written.
fn batch(r: &ProducerRecord<'_>) -> std::io::Result<Bytes> {
    let too_long = || std::io::Error::other("a record field longer than 2 GiB");
    let len = |n: usize| i32::try_from(n).map_err(|_| too_long());
    let mut record = BytesMut::new();
    record.put_i8(0); // attributes
    put_varint(&mut record, 0); // timestamp delta
    put_varint(&mut record, 0); // offset delta
    for field in [r.key, r.value] {
        match field {
            Some(b) => {
                put_varint(&mut record, len(b.len())?);
                record.put_slice(b);
            }
            None => put_varint(&mut record, -1),
        }
    }
    put_varint(&mut record, len(r.headers.len())?);
    for (k, v) in r.headers {
        put_varint(&mut record, len(k.len())?);
        record.put_slice(k.as_bytes());
        match v {
            Some(v) => {
                put_varint(&mut record, len(v.len())?);
                record.put_slice(v);
            }
            None => put_varint(&mut record, -1),
        }
    }
    // from the attributes on: what the CRC covers
    let mut body = BytesMut::new();
    body.put_i16(0); // attributes: no compression, create time
    body.put_i32(0); // last offset delta
    body.put_i64(r.timestamp); // base timestamp
    body.put_i64(r.timestamp); // max timestamp
    body.put_i64(-1); // producer id
    body.put_i16(-1); // producer epoch
    body.put_i32(-1); // base sequence
    body.put_i32(1); // records
    put_varint(&mut body, len(record.len())?);
    body.put_slice(&record);
    let mut buf = BytesMut::with_capacity(body.len() + 21);
    buf.put_i64(0); // base offset
    buf.put_i32(len(body.len() + 9)?); // batch length: from the leader epoch on
    buf.put_i32(-1); // partition leader epoch
    buf.put_i8(2); // magic
    buf.put_u32(crc32c::crc32c(&body));
    buf.put_slice(&body);
    Ok(buf.freeze())
}

/// A zigzag varint, as Kafka's records write lengths and deltas.
fn put_varint(buf: &mut BytesMut, v: i32) {
    let mut z = ((v << 1) ^ (v >> 31)) as u32;
    while z >= 0x80 {
        buf.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_with_every_header() {
        let headers = vec![
            ("abc".to_string(), Some(b"1".to_vec())),
            ("abc".to_string(), Some(b"2".to_vec())),
            ("none".to_string(), None),
        ];
        let r = ProducerRecord {
            key: Some(b"k"),
            value: None,
            headers: &headers,
            timestamp: 0,
        };
        let mut bytes = batch(&r).unwrap();
        // (kafka-protocol's decoder checks the CRC and the layout; its records keep one
        // value per header key, so the headers are checked on the bytes)
        let records =
            kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes.clone()).unwrap();
        let record = &records.records[0];
        assert_eq!(record.key.as_deref(), Some(b"k".as_slice()));
        assert_eq!(record.value, None);
        assert_eq!(record.timestamp, 0);
        let tail = bytes.split_off(bytes.len() - 19);
        assert_eq!(
            tail.as_ref(),
            b"\x06\x06abc\x021\x06abc\x022\x08none\x01".as_slice()
        );
        let mut v = BytesMut::new();
        put_varint(&mut v, 300);
        assert_eq!(v.as_ref(), [0xd8, 0x04]);
    }
}
