//! The output side of a stream thread: its producer's delivery reports and the sending of
//! records, waiting while the producer's queue is full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::producer::ThreadProducer;
use crate::config::OnError;
use crate::processor::{OutputRecord, PartitionCounts, StreamsError};

/// The producer's delivery reports: the first failure, for the production handler.
#[derive(Default, Clone)]
pub(crate) struct Deliveries {
    pub failed: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, msg)) = result {
            let mut failed = self
                .failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            failed.get_or_insert_with(|| {
                format!(
                    "Error encountered sending record to topic {} for task: {e}",
                    msg.topic()
                )
            });
        }
    }
}

/// Sends one record; a record the producer refuses at once (too large, an unknown partition)
/// is dropped with a warning when `on_failed` says to go on.
pub(crate) fn emit(
    producer: &ThreadProducer,
    out: &OutputRecord,
    on_failed: OnError,
) -> Result<(), StreamsError> {
    match (send(producer, out), on_failed) {
        (Err(e), OnError::Continue) => {
            tracing::warn!(
                "Error encountered sending record to topic {}: {e}; the record is dropped",
                out.topic
            );
            Ok(())
        }
        (result, _) => result,
    }
}

/// Waits until every record sent is acknowledged or failed (failures go to [`Deliveries`]),
/// at most `timeout`. rust-rdkafka's `flush` polls in steps of 100 ms that always run to their
/// end, and lets the flag that makes records go without lingering drop at once: each commit
/// waited 100 to 200 ms. Here the producer's broker threads are woken to send what lingers,
/// and the thread looks again every millisecond.
pub(crate) fn flush(
    producer: &BaseProducer<Deliveries>,
    timeout: Duration,
) -> Result<(), StreamsError> {
    let deadline = Instant::now() + timeout;
    // (returns at once: it only wakes the broker threads)
    let _ = producer.flush(Duration::ZERO);
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(StreamsError::Kafka(format!(
                "Failed to flush all records within {} ms: {} still in flight",
                timeout.as_millis(),
                producer.in_flight_count()
            )));
        }
        producer.poll(Duration::from_millis(1));
    }
    Ok(())
}

/// Sends one record, waiting while the producer's queue is full.
pub(crate) fn send(producer: &ThreadProducer, out: &OutputRecord) -> Result<(), StreamsError> {
    if out.timestamp == 0 {
        let written = producer.send_zero_timestamp(
            &out.topic,
            out.partition,
            out.key.as_deref(),
            out.value.as_deref(),
            &out.headers,
        );
        if let Some(r) = written {
            return r.map_err(StreamsError::Kafka);
        }
    }
    if out.headers.is_empty() {
        loop {
            let sent = producer.send_plain(
                &out.topic,
                out.partition,
                out.key.as_deref(),
                out.value.as_deref(),
                out.timestamp,
            );
            match sent {
                Ok(()) => return Ok(()),
                Err(RDKafkaErrorCode::QueueFull) => {
                    producer.poll(Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(StreamsError::Kafka(
                        KafkaError::MessageProduction(e).to_string(),
                    ))
                }
            }
        }
    }
    let mut record: BaseRecord<'_, [u8], [u8]> =
        BaseRecord::to(&out.topic).timestamp(out.timestamp);
    if !out.headers.is_empty() {
        let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
        for (k, v) in &out.headers {
            headers = headers.insert(KafkaHeader {
                key: k,
                value: v.as_deref(),
            });
        }
        record = record.headers(headers);
    }
    if let Some(k) = &out.key {
        record = record.key(k.as_slice());
    }
    if let Some(v) = &out.value {
        record = record.payload(v.as_slice());
    }
    if let Some(p) = out.partition {
        record = record.partition(p);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(StreamsError::Kafka(e.to_string())),
        }
    }
}

/// How long a topic's partition count is trusted before it is asked again (Kafka's
/// `metadata.max.age.ms` default).
const COUNT_MAX_AGE: Duration = Duration::from_secs(300);

/// Partition counts of topics asked of the brokers (for partitioners), through a client made
/// with `config` the first time one is needed, each kept for a while.
pub(crate) fn partition_counts(config: rdkafka::ClientConfig) -> PartitionCounts {
    let client: std::sync::OnceLock<Result<BaseConsumer, String>> = std::sync::OnceLock::new();
    let known: Mutex<HashMap<String, (i32, Instant)>> = Mutex::new(HashMap::new());
    Arc::new(move |topic: &str| {
        let mut known = known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((n, at)) = known.get(topic) {
            if at.elapsed() < COUNT_MAX_AGE {
                return Ok(*n);
            }
        }
        let client = client
            .get_or_init(|| config.create().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| StreamsError::Kafka(e.clone()))?;
        let unknown = || {
            StreamsError::Kafka(format!(
                "Could not get partition information for topic {topic}. This can happen if the topic does not exist."
            ))
        };
        let metadata = client
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .map_err(|e| StreamsError::Kafka(format!("{}: {e}", unknown())))?;
        let n = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .filter(|&n| n > 0)
            .ok_or_else(unknown)?;
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        known.insert(topic.to_string(), (n, Instant::now()));
        Ok(n)
    })
}
