//! The output side of a stream thread: its producer's delivery reports and the sending of
//! records, waiting while the producer's queue is full.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use crate::config::OnError;
use crate::processor::{OutputRecord, StreamsError};

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
    producer: &BaseProducer<Deliveries>,
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

/// Sends one record, waiting while the producer's queue is full.
pub(crate) fn send(
    producer: &BaseProducer<Deliveries>,
    out: &OutputRecord,
) -> Result<(), StreamsError> {
    let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
    for (k, v) in &out.headers {
        headers = headers.insert(KafkaHeader {
            key: k,
            value: v.as_deref(),
        });
    }
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&out.topic)
        .timestamp(out.timestamp)
        .headers(headers);
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
