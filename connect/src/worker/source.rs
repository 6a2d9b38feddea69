//! Runs one source task: poll → transforms → converters → producer, committing the offsets
//! of delivered records every `offset.flush.interval.ms` and when the task stops.
//!
//! ```text
//!  SourceTask::poll ─▶ records ─▶ transforms ─▶ key/value/header converters ─▶ producer
//!        ▲                                                                       │ acks
//!        └── commit(): offsets of acked records ─▶ offset store ◀────────────────┘
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::sync::watch;

use crate::config::Config;
use crate::connector::{ConnectError, SourceTask, SourceTaskContext};
use crate::data::Value;
use crate::record::ConnectRecord;

use super::connector_config::{transform_chain, Converters, ErrorPolicy, Tolerance};
use super::offsets::OffsetStore;
use super::status::{State, StatusCell};
use super::{ClientRole, Target, TaskId, WorkerShared};

/// Reads committed offsets for a source task.
struct OffsetReader {
    store: Arc<dyn OffsetStore>,
    connector: String,
}

impl SourceTaskContext for OffsetReader {
    fn offset(&self, partition: &Value) -> Option<Value> {
        self.store.get(&self.connector, partition)
    }
}

/// A record sent and not yet acknowledged, with the source position it carries.
struct InFlight {
    delivery: Option<DeliveryFuture>,
    partition: Value,
    offset: Value,
}

/// The source task loop; returns when told to stop or when the task fails.
pub(crate) async fn run(
    id: TaskId,
    mut task: Box<dyn SourceTask>,
    task_config: Config,
    connector_config: Config,
    shared: Arc<WorkerShared>,
    mut control: watch::Receiver<Target>,
    status: StatusCell,
) {
    let fail = |e: &ConnectError| {
        tracing::error!(task = %id, error = %e, "WorkerSourceTask{{id={id}}} Task threw an uncaught and unrecoverable exception");
        status.fail(e.java_class(), &e.to_string());
    };
    let setup = || -> Result<_, ConnectError> {
        let converters = Converters::new(&connector_config, &shared.config.props)?;
        let chain = transform_chain(&connector_config)?;
        let errors = ErrorPolicy::from_config(&connector_config)?;
        let mut pc = shared
            .config
            .client_config(ClientRole::Producer, Some(&connector_config))?;
        for (k, v) in [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("partitioner", "murmur2_random"),
        ] {
            if pc.get(k).is_none() {
                pc.set(k, v);
            }
        }
        pc.set(
            "client.id",
            format!("connector-producer-{}-{}", id.connector, id.task),
        );
        let producer: FutureProducer = pc
            .create()
            .map_err(|e| ConnectError::Fatal(format!("Failed to create the producer: {e}")))?;
        Ok((converters, chain, errors, producer))
    };
    let (converters, mut chain, errors, producer) = match setup() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let reader = OffsetReader {
        store: shared.offsets.clone(),
        connector: id.connector.clone(),
    };
    if let Err(e) = task.start(&task_config, &reader).await {
        return fail(&e);
    }
    status.set(State::Running);
    tracing::info!(task = %id, "WorkerSourceTask{{id={id}}} Source task finished initialization and start");
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut last_commit = Instant::now();
    loop {
        let target = *control.borrow_and_update();
        match target {
            Target::Stop => break,
            Target::Pause => {
                status.set(State::Paused);
                if control.changed().await.is_err() {
                    break;
                }
                if *control.borrow() == Target::Run {
                    status.set(State::Running);
                }
                continue;
            }
            Target::Run => {}
        }
        let records = match task.poll().await {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                tracing::warn!(task = %id, error = %e, "a retriable error from poll; polling again");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                fail(&e);
                break;
            }
        };
        for record in records {
            let (partition, offset) = match &record.origin {
                crate::record::Origin::Source { partition, offset } => {
                    (partition.clone(), offset.clone())
                }
                crate::record::Origin::Sink { .. } => (Value::Null, Value::Null),
            };
            let delivery = match send(record, &mut chain, &converters, &producer) {
                Ok(Some((d, topic))) => {
                    shared.topic_used(&id.connector, id.task, &topic);
                    Some(d)
                }
                Ok(None) => None,
                Err(e) if errors.tolerance == Tolerance::All => {
                    if errors.log {
                        tracing::error!(task = %id, error = %e, "Error encountered in task {id}. Skipping the record.");
                    }
                    None
                }
                Err(e) => {
                    status.fail(
                        "org.apache.kafka.connect.errors.ConnectException",
                        &format!(
                            "Tolerance exceeded in error handler\nCaused by: {}: {e}",
                            e.java_class()
                        ),
                    );
                    task.stop();
                    return;
                }
            };
            in_flight.push(InFlight {
                delivery,
                partition,
                offset,
            });
        }
        if last_commit.elapsed() >= shared.config.offset_flush_interval {
            if let Err(e) = commit(&id, &mut task, &mut in_flight, &shared, errors.tolerance).await
            {
                fail(&e);
                task.stop();
                return;
            }
            last_commit = Instant::now();
        }
    }
    if let Err(e) = commit(&id, &mut task, &mut in_flight, &shared, errors.tolerance).await {
        tracing::error!(task = %id, error = %e, "could not commit offsets while stopping");
    }
    task.stop();
    if status.get().state != State::Failed {
        status.set(State::Unassigned);
    }
}

/// Transforms, converts and sends one record (its delivery and topic); `None` when a transform
/// dropped it.
fn send(
    mut r: ConnectRecord,
    chain: &mut [crate::transforms::Stage],
    converters: &Converters,
    producer: &FutureProducer,
) -> Result<Option<(DeliveryFuture, String)>, ConnectError> {
    for stage in chain.iter_mut() {
        match stage.apply(r)? {
            Some(next) => r = next,
            None => return Ok(None),
        }
    }
    let key = converters
        .key
        .to_bytes(&r.topic, r.key_schema.as_ref(), &r.key)?;
    let value = converters
        .value
        .to_bytes(&r.topic, r.value_schema.as_ref(), &r.value)?;
    let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
    for h in &r.headers {
        let bytes =
            converters
                .header
                .header_to_bytes(&r.topic, &h.key, h.schema.as_ref(), &h.value)?;
        headers = headers.insert(Header {
            key: &h.key,
            value: bytes.as_deref(),
        });
    }
    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic).headers(headers);
    if let Some(k) = key.as_deref() {
        fr = fr.key(k);
    }
    if let Some(v) = value.as_deref() {
        fr = fr.payload(v);
    }
    if let Some(p) = r.kafka_partition {
        fr = fr.partition(p);
    }
    if let Some(ts) = r.timestamp {
        fr = fr.timestamp(ts);
    }
    producer
        .send_result(fr)
        .map(|d| Some((d, r.topic.clone())))
        .map_err(|(e, _)| ConnectError::Retriable(format!("Failed to send the record: {e}")))
}

/// Waits for every record in flight, then stores the last offset of each source partition
/// and tells the task.
async fn commit(
    id: &TaskId,
    task: &mut Box<dyn SourceTask>,
    in_flight: &mut Vec<InFlight>,
    shared: &WorkerShared,
    tolerance: Tolerance,
) -> Result<(), ConnectError> {
    if in_flight.is_empty() {
        return Ok(());
    }
    let mut latest: Vec<(Value, Value)> = Vec::new();
    let deadline = Instant::now()
        + shared
            .config
            .offset_flush_timeout
            .max(Duration::from_secs(30));
    for f in in_flight.drain(..) {
        if let Some(d) = f.delivery {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, d).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((e, _)))) if tolerance == Tolerance::All => {
                    tracing::error!(task = %id, error = %e, "a record could not be produced; skipped");
                }
                Ok(Ok(Err((e, _)))) => {
                    return Err(ConnectError::Fatal(format!(
                        "Unrecoverable exception from producer send callback: {e}"
                    )))
                }
                Ok(Err(_)) => return Err(ConnectError::Fatal("the producer was closed".into())),
                Err(_) => {
                    return Err(ConnectError::Retriable(format!(
                        "Timed out waiting for records in flight to be acknowledged before committing offsets of {id}"
                    )))
                }
            }
        }
        if f.partition.is_null() {
            continue;
        }
        match latest.iter_mut().find(|(p, _)| *p == f.partition) {
            Some(e) => e.1 = f.offset,
            None => latest.push((f.partition, f.offset)),
        }
    }
    shared.offsets.put_all(&id.connector, &latest).await?;
    task.commit().await
}
