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
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;

use crate::config::Config;
use crate::connector::{ConnectError, SourceTask, SourceTaskContext};
use crate::data::Value;
use crate::record::ConnectRecord;

use super::connector_config::{transform_chain, Converters, ErrorPolicy, Tolerance};
use super::offsets::OffsetStore;
use super::status::{State, StatusCell};
use super::submitted::Submitted;
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
        let eos = match &shared.exactly_once {
            Some(e) => {
                pc.set(
                    "transactional.id",
                    format!("{}-{}-{}", e.group_id, id.connector, id.task),
                );
                Some((
                    e.offsets_topic.clone(),
                    Boundary::from_config(&connector_config, &shared.config)?,
                ))
            }
            None => None,
        };
        let producer: FutureProducer = pc
            .create()
            .map_err(|e| ConnectError::Fatal(format!("Failed to create the producer: {e}")))?;
        Ok((converters, chain, errors, producer, eos))
    };
    let (converters, mut chain, errors, producer, eos) = match setup() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    // exactly once: a transactional producer; its first use fences an older instance of the task
    let mut txn = match eos {
        Some((offsets_topic, boundary)) => {
            match Transactions::start(&producer, offsets_topic, boundary).await {
                Ok(t) => Some(t),
                Err(e) => return fail(&e),
            }
        }
        None => None,
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
    let mut submitted: Submitted = Submitted::default();
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
        for mut record in records {
            if let Some(t) = &mut txn {
                if let Err(e) = t.begin() {
                    fail(&e);
                    task.stop();
                    return;
                }
            }
            // the offset committed is the record's as the task made it; without transforms
            // nothing reads it again, and it is moved rather than copied
            let (partition, offset) = match &mut record.origin {
                crate::record::Origin::Source { partition, offset } if chain.is_empty() => (
                    std::mem::replace(partition, Value::Null),
                    std::mem::replace(offset, Value::Null),
                ),
                crate::record::Origin::Source { partition, offset } => {
                    (partition.clone(), offset.clone())
                }
                crate::record::Origin::Sink { .. } => (Value::Null, Value::Null),
            };
            let on_topic = |topic: &str| shared.topic_used(&id.connector, id.task, topic);
            let sent = send(
                record,
                &mut chain,
                &converters,
                &producer,
                &errors,
                on_topic,
            );
            let delivery = match sent.await {
                Ok(d) => d,
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
            submitted.push(delivery, partition, offset);
        }
        // (acknowledged records leave as the task goes on: only what is in flight is kept)
        if let Err(e) = submitted.collect_acknowledged(&id, errors.tolerance) {
            fail(&e);
            task.stop();
            return;
        }
        if let Some(t) = &mut txn {
            if t.due() {
                if let Err(e) = t.commit(&id, &mut task, &mut submitted).await {
                    fail(&e);
                    task.stop();
                    return;
                }
            }
        } else if last_commit.elapsed() >= shared.config.offset_flush_interval {
            if let Err(e) = commit(&id, &mut task, &mut submitted, &shared, errors.tolerance).await
            {
                fail(&e);
                task.stop();
                return;
            }
            last_commit = Instant::now();
        }
    }
    let stopped = match &mut txn {
        Some(t) => t.commit(&id, &mut task, &mut submitted).await,
        None => commit(&id, &mut task, &mut submitted, &shared, errors.tolerance).await,
    };
    if let Err(e) = stopped {
        tracing::error!(task = %id, error = %e, "could not commit offsets while stopping");
    }
    task.stop();
    if status.get().state != State::Failed {
        status.set(State::Unassigned);
    }
}

/// Transforms, converts and sends one record, telling `on_topic` the topic it went to; its
/// delivery, or `None` when a transform dropped it.
async fn send(
    mut r: ConnectRecord,
    chain: &mut [crate::transforms::Stage],
    converters: &Converters,
    producer: &FutureProducer,
    errors: &ErrorPolicy,
    on_topic: impl FnOnce(&str),
) -> Result<Option<DeliveryFuture>, ConnectError> {
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
    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic);
    // (librdkafka allocates a headers object even for none)
    if !r.headers.is_empty() {
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
        fr = fr.headers(headers);
    }
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
    let delivery = produce(producer, fr, errors).await?;
    on_topic(&r.topic);
    Ok(Some(delivery))
}

/// How long a send waits for room in the producer's queue before it counts as failed (the Java
/// producer's `max.block.ms`).
const MAX_BLOCK: Duration = Duration::from_secs(60);

/// Hands a record to the producer. A full queue is backpressure: the send waits for room, up
/// to [`MAX_BLOCK`], and then, as a retriable failure of the `KAFKA_PRODUCE` stage, is retried
/// as `errors.retry.timeout` allows (waits from 300 ms, doubling up to
/// `errors.retry.delay.max.ms`), as Kafka Connect's retry operator does.
async fn produce<'a>(
    producer: &FutureProducer,
    mut record: FutureRecord<'a, [u8], [u8]>,
    errors: &ErrorPolicy,
) -> Result<DeliveryFuture, ConnectError> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let start = Instant::now();
    let mut delay = Duration::from_millis(300);
    loop {
        match producer.send_result(record) {
            Ok(d) => return Ok(d),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                let waited = start.elapsed();
                if waited < MAX_BLOCK {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let retrying = waited - MAX_BLOCK;
                if retrying >= errors.retry_timeout {
                    return Err(ConnectError::Retriable(format!(
                        "Failed to send the record: the producer's queue stayed full for {} ms",
                        waited.as_millis()
                    )));
                }
                let pause = delay
                    .min(errors.retry_delay_max)
                    .min(errors.retry_timeout - retrying);
                tracing::warn!(
                    error = "queue full",
                    "retrying a send in {} ms",
                    pause.as_millis()
                );
                tokio::time::sleep(pause).await;
                delay = delay.saturating_mul(2);
            }
            Err((e, _)) => {
                return Err(ConnectError::Retriable(format!(
                    "Failed to send the record: {e}"
                )))
            }
        }
    }
}

/// Waits for every record in flight, then stores the last committable offset of each source
/// partition and tells the task.
async fn commit(
    id: &TaskId,
    task: &mut Box<dyn SourceTask>,
    submitted: &mut Submitted,
    shared: &WorkerShared,
    tolerance: Tolerance,
) -> Result<(), ConnectError> {
    if submitted.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now()
        + shared
            .config
            .offset_flush_timeout
            .max(Duration::from_secs(30));
    submitted.wait_all(id, tolerance, deadline).await?;
    let latest = submitted.take_offsets(false);
    shared.offsets.put_all(&id.connector, &latest).await?;
    task.commit().await
}

/// When a transaction commits (`transaction.boundary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Boundary {
    /// After every poll that returned records (`poll`, the default).
    Poll,
    /// Every `transaction.boundary.interval.ms` (`interval`; default
    /// `offset.flush.interval.ms`).
    Interval(Duration),
}

impl Boundary {
    fn from_config(
        config: &Config,
        worker: &super::WorkerConfig,
    ) -> Result<Boundary, ConnectError> {
        use crate::config::ConfigExt;
        let boundary = config.string_or("transaction.boundary", "poll");
        match boundary.trim().to_ascii_lowercase().as_str() {
            "poll" => Ok(Boundary::Poll),
            "interval" => {
                let ms = config.long_or(
                    "transaction.boundary.interval.ms",
                    worker.offset_flush_interval.as_millis() as i64,
                )?;
                Ok(Boundary::Interval(Duration::from_millis(ms.max(0) as u64)))
            }
            _ => Err(ConnectError::Fatal(format!(
                "transaction.boundary={boundary} is not supported by this connector"
            ))),
        }
    }
}

/// A source task's transactions: its records and their offsets commit together.
struct Transactions {
    producer: FutureProducer,
    offsets_topic: String,
    boundary: Boundary,
    open: bool,
    opened: Instant,
}

/// How long a transaction call may take.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a blocking producer call off the async threads.
async fn blocking<T: Send + 'static>(
    producer: &FutureProducer,
    what: &'static str,
    call: impl FnOnce(&FutureProducer) -> rdkafka::error::KafkaResult<T> + Send + 'static,
) -> Result<T, ConnectError> {
    let producer = producer.clone();
    tokio::task::spawn_blocking(move || call(&producer))
        .await
        .map_err(|e| ConnectError::Fatal(format!("{what}: {e}")))?
        .map_err(|e| ConnectError::Fatal(format!("{what} failed: {e}")))
}

impl Transactions {
    async fn start(
        producer: &FutureProducer,
        offsets_topic: String,
        boundary: Boundary,
    ) -> Result<Transactions, ConnectError> {
        blocking(producer, "initializing transactions", |p| {
            p.init_transactions(TRANSACTION_TIMEOUT)
        })
        .await?;
        Ok(Transactions {
            producer: producer.clone(),
            offsets_topic,
            boundary,
            open: false,
            opened: Instant::now(),
        })
    }

    /// Opens a transaction if none is open.
    fn begin(&mut self) -> Result<(), ConnectError> {
        if !self.open {
            self.producer
                .begin_transaction()
                .map_err(|e| ConnectError::Fatal(format!("Failed to begin a transaction: {e}")))?;
            self.open = true;
            self.opened = Instant::now();
        }
        Ok(())
    }

    /// Whether the open transaction should commit now.
    fn due(&self) -> bool {
        self.open
            && match self.boundary {
                Boundary::Poll => true,
                Boundary::Interval(every) => self.opened.elapsed() >= every,
            }
    }

    /// Writes the offsets of the records sent in the transaction to the offsets topic in the
    /// same transaction and commits it; a failure aborts it (nothing of it is visible to
    /// `read_committed` readers) and fails the task.
    async fn commit(
        &mut self,
        id: &TaskId,
        task: &mut Box<dyn SourceTask>,
        submitted: &mut Submitted,
    ) -> Result<(), ConnectError> {
        if !self.open {
            return Ok(());
        }
        let latest = submitted.take_offsets(true);
        let records = super::offsets::encode_offsets(&id.connector, &latest)?;
        let mut result = Ok(());
        for (key, value) in &records {
            let mut r: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.offsets_topic).key(key.as_slice());
            if let Some(v) = value {
                r = r.payload(v.as_slice());
            }
            if let Err((e, _)) = self.producer.send_result(r) {
                result = Err(ConnectError::Fatal(format!("Failed to send offsets: {e}")));
                break;
            }
        }
        if result.is_ok() {
            result = blocking(&self.producer, "committing the transaction", |p| {
                p.commit_transaction(TRANSACTION_TIMEOUT)
            })
            .await;
        }
        self.open = false;
        if let Err(e) = result {
            tracing::error!(task = %id, error = %e, "aborting the transaction");
            let _ = blocking(&self.producer, "aborting the transaction", |p| {
                p.abort_transaction(TRANSACTION_TIMEOUT)
            })
            .await;
            return Err(e);
        }
        task.commit().await
    }
}
