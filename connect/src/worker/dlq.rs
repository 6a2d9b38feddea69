//! A sink's dead letter queue (`errors.deadletterqueue.topic.name`): records that failed to
//! convert or transform, or that the task reported as errant (KIP-610), are written there as
//! they were read, with Kafka Connect's `__connect.errors.*` context headers when
//! `errors.deadletterqueue.context.headers.enable` is set.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::connector::{ConnectError, SinkTaskContext};
use crate::record::{ConnectRecord, Origin};

use super::connector_config::Tolerance;
use super::TaskId;

/// A record as it was read from Kafka.
#[derive(Clone, Debug)]
pub(crate) struct RawRecord {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RawRecord {
    pub(crate) fn of(msg: &BorrowedMessage<'_>) -> RawRecord {
        RawRecord {
            topic: msg.topic().to_string(),
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers: msg
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Where in the pipeline a record failed (the `__connect.errors.stage` header).
pub(crate) struct Failure<'a> {
    /// `KEY_CONVERTER`, `VALUE_CONVERTER`, `TRANSFORMATION`, `TASK_PUT`, ...
    pub(crate) stage: &'a str,
    /// The class that failed.
    pub(crate) class_name: &'a str,
    /// The exception's class.
    pub(crate) exception: &'a str,
    /// Its message.
    pub(crate) message: &'a str,
}

/// The dead letter queue of one sink task.
pub(crate) struct DeadLetterQueue {
    pub(crate) producer: FutureProducer,
    pub(crate) topic: String,
    pub(crate) context_headers: bool,
}

impl DeadLetterQueue {
    /// Writes a failed record, as read.
    pub(crate) async fn send(
        &self,
        raw: &RawRecord,
        id: &TaskId,
        failure: &Failure<'_>,
    ) -> Result<(), ConnectError> {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &raw.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        if self.context_headers {
            let partition = raw.partition.to_string();
            let offset = raw.offset.to_string();
            let task_id = id.task.to_string();
            let trace = format!("{}: {}", failure.exception, failure.message);
            for (k, v) in [
                ("__connect.errors.topic", raw.topic.as_str()),
                ("__connect.errors.partition", partition.as_str()),
                ("__connect.errors.offset", offset.as_str()),
                ("__connect.errors.connector.name", id.connector.as_str()),
                ("__connect.errors.task.id", task_id.as_str()),
                ("__connect.errors.stage", failure.stage),
                ("__connect.errors.class.name", failure.class_name),
                ("__connect.errors.exception.class.name", failure.exception),
                ("__connect.errors.exception.message", failure.message),
                ("__connect.errors.exception.stacktrace", trace.as_str()),
            ] {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
        }
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(k) = raw.key.as_deref() {
            record = record.key(k);
        }
        if let Some(v) = raw.value.as_deref() {
            record = record.payload(v);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| {
                ConnectError::Fatal(format!(
                    "Could not produce message to dead letter queue. topic={}: {e}",
                    self.topic
                ))
            })
    }
}

/// The errant record reporter a sink task gets: the current batch's records as read, so a
/// reported record can go to the dead letter queue unchanged.
pub(crate) struct Reporter {
    pub(crate) id: TaskId,
    pub(crate) tolerance: Tolerance,
    pub(crate) log: bool,
    pub(crate) dlq: Option<DeadLetterQueue>,
    /// The task's class name, for the context headers.
    pub(crate) task_class: String,
    pub(crate) batch: Mutex<HashMap<(String, i32, i64), RawRecord>>,
}

impl Reporter {
    /// Remembers a record of the batch being put (only when there is a queue to send to).
    pub(crate) fn keep(&self, raw: RawRecord) {
        if self.dlq.is_none() {
            return;
        }
        if let Ok(mut b) = self.batch.lock() {
            b.insert((raw.topic.clone(), raw.partition, raw.offset), raw);
        }
    }

    /// Forgets the previous batch.
    pub(crate) fn clear(&self) {
        if let Ok(mut b) = self.batch.lock() {
            b.clear();
        }
    }
}

impl SinkTaskContext for Reporter {
    fn report<'a>(
        &'a self,
        record: &'a ConnectRecord,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            if self.tolerance == Tolerance::None {
                return Err(ConnectError::Fatal(format!(
                    "Tolerance exceeded in error handler\nCaused by: {error}"
                )));
            }
            if self.log {
                tracing::error!(task = %self.id, topic = %record.topic, error, "Error encountered in task {}. The task reported a record it could not write.", self.id);
            }
            let Some(dlq) = &self.dlq else { return Ok(()) };
            let key = match &record.origin {
                Origin::Sink {
                    offset,
                    original_topic,
                    original_partition,
                    ..
                } => (original_topic.clone(), *original_partition, *offset),
                Origin::Source { .. } => return Ok(()),
            };
            let raw = self.batch.lock().ok().and_then(|b| b.get(&key).cloned());
            match raw {
                Some(raw) => {
                    let failure = Failure {
                        stage: "TASK_PUT",
                        class_name: &self.task_class,
                        exception: "org.apache.kafka.connect.errors.ConnectException",
                        message: error,
                    };
                    dlq.send(&raw, &self.id, &failure).await
                }
                None => Ok(()),
            }
        })
    }
}
