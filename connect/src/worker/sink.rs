//! Runs one sink task: consumer (group `connect-NAME`) → converters → transforms →
//! `SinkTask::put`, committing the offsets the task says are safe (`pre_commit`) every
//! `offset.flush.interval.ms` and when it stops. Records that fail to convert or transform go
//! to the dead letter queue with `errors.tolerance=all`.
//!
//! ```text
//!  consumer ─▶ converters ─▶ transforms ─▶ put(batch)
//!     ▲                          │ failed (tolerated)
//!     └ commit(pre_commit(pos))  └─▶ dead letter queue topic (with __connect.errors.* headers)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::connector::{ConnectError, SinkTask, TopicPartitionOffsets};
use crate::data::DataError;
use crate::record::{ConnectRecord, Headers as ConnectHeaders, Origin, TimestampType};

use super::connector_config::{transform_chain, Converters, ErrorPolicy, SinkTopics, Tolerance};
use super::dlq::{DeadLetterQueue, Failure, RawRecord, Reporter};
use super::status::{State, StatusCell};
use super::{ClientRole, Target, TaskId, WorkerShared};

/// How long an idle loop waits before it looks at its consumer's queue anyway (the queue's
/// wake-up comes only when it turns non-empty; see [`wait_for_records`]).
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// The sink task loop; returns when told to stop or when the task fails.
pub(crate) async fn run(
    id: TaskId,
    mut task: Box<dyn SinkTask>,
    task_config: Config,
    connector_config: Config,
    shared: Arc<WorkerShared>,
    mut control: watch::Receiver<Target>,
    status: StatusCell,
) {
    let fail = |e: &ConnectError| {
        tracing::error!(task = %id, error = %e, "WorkerSinkTask{{id={id}}} Task threw an uncaught and unrecoverable exception");
        status.fail(e.java_class(), &e.to_string());
    };
    let setup = || -> Result<_, ConnectError> {
        let converters = Converters::new(&connector_config, &shared.config.props)?;
        let chain = transform_chain(&connector_config)?;
        let errors = ErrorPolicy::from_config(&connector_config)?;
        let topics = SinkTopics::from_config(&connector_config)?;
        let mut cc = shared
            .config
            .client_config(ClientRole::Consumer, Some(&connector_config))?;
        let max_batch = super::config::take_max_poll_records(&mut cc)?;
        cc.set("group.id", format!("connect-{}", id.connector))
            .set("enable.auto.commit", "false")
            .set(
                "client.id",
                format!("connector-consumer-{}-{}", id.connector, id.task),
            );
        if cc.get("auto.offset.reset").is_none() {
            cc.set("auto.offset.reset", "earliest");
        }
        // librdkafka stops fetching for fetch.queue.backoff.ms (1 s by default) whenever its
        // queue of prefetched records is full, which a task that keeps up hits all the time:
        // it held the FileStream sink to a third of Kafka Connect's speed
        if cc.get("fetch.queue.backoff.ms").is_none() {
            cc.set("fetch.queue.backoff.ms", "1");
        }
        // A plain consumer polled without waiting, woken when its queue turns non-empty:
        // rust-rdkafka's StreamConsumer wakes a future per record, which cost most of the loop
        let mut consumer: BaseConsumer = cc
            .create()
            .map_err(|e| ConnectError::Fatal(format!("Failed to create the consumer: {e}")))?;
        let wake = Arc::new(Notify::new());
        let waker = Arc::clone(&wake);
        consumer.set_nonempty_callback(move || waker.notify_one());
        let subscription: Vec<String> = match &topics {
            SinkTopics::List(t) => t.clone(),
            SinkTopics::Regex(r) => vec![format!("^{r}")],
        };
        let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| ConnectError::Fatal(format!("Failed to subscribe: {e}")))?;
        let dlq = match &errors.dlq_topic {
            Some(topic) => {
                let pc = shared
                    .config
                    .client_config(ClientRole::Producer, Some(&connector_config))?;
                let producer = pc.create::<FutureProducer>().map_err(|e| {
                    ConnectError::Fatal(format!(
                        "Failed to create the dead letter queue producer: {e}"
                    ))
                })?;
                Some(DeadLetterQueue {
                    producer,
                    topic: topic.clone(),
                    context_headers: errors.dlq_context_headers,
                })
            }
            None => None,
        };
        let reporter = Arc::new(Reporter {
            id: id.clone(),
            tolerance: errors.tolerance,
            log: errors.log,
            dlq,
            task_class: task_config.get("task.class").cloned().unwrap_or_default(),
            batch: Mutex::new(HashMap::new()),
        });
        Ok((
            converters,
            chain,
            errors,
            Closing(Some(consumer)),
            reporter,
            wake,
            max_batch,
        ))
    };
    let (converters, mut chain, errors, consumer, reporter, wake, max_batch) = match setup() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = task.start(&task_config, reporter.clone()).await {
        return fail(&e);
    }
    status.set(State::Running);
    tracing::info!(task = %id, "WorkerSinkTask{{id={id}}} Sink task finished initialization and start");
    let mut positions: TopicPartitionOffsets = BTreeMap::new();
    let mut last_commit = Instant::now();
    let mut paused = false;
    let collector = Collector {
        id: &id,
        consumer: &consumer,
        converters: &converters,
        errors: &errors,
        reporter: &reporter,
        max_batch,
    };
    // a batch converted while the previous one was being put
    let mut ahead: Option<Collected> = None;
    let halt = |h: Halt| match h {
        Halt::Failed(e) => fail(&e),
        Halt::ToleranceExceeded(message) => {
            status.fail("org.apache.kafka.connect.errors.ConnectException", &message)
        }
    };
    loop {
        let target = *control.borrow_and_update();
        match target {
            Target::Stop => break,
            Target::Pause if !paused => {
                if let Ok(assignment) = consumer.assignment() {
                    let _ = consumer.pause(&assignment);
                }
                paused = true;
                status.set(State::Paused);
            }
            Target::Run if paused => {
                if let Ok(assignment) = consumer.assignment() {
                    let _ = consumer.resume(&assignment);
                }
                paused = false;
                status.set(State::Running);
            }
            _ => {}
        }
        // a batch: what is ready now, else wait for the first record (or a control change)
        let batch = match ahead.take() {
            Some(b) => Ok(b),
            None => match collector.collect(&mut chain).await {
                Ok(b) if b.is_empty() => {
                    wait_for_records(&wake, &mut control).await;
                    collector.collect(&mut chain).await
                }
                other => other,
            },
        };
        let batch = match batch {
            Ok(b) => b,
            Err(h) => {
                halt(h);
                task.stop();
                return;
            }
        };
        if !batch.records.is_empty() {
            // The next batch is converted while this one is put (the task may wait on a
            // database or a web service meanwhile); its offsets count only once it is put
            // in turn. Not with a dead letter queue, which keeps the raw records of one put.
            let put = put_with_retries(&mut task, batch.records, &control);
            let (put, next) = if reporter.dlq.is_none() {
                // (the yield lets what the put woke, a database connection's task, run
                // before the conversion takes this thread)
                let ahead = async {
                    tokio::task::yield_now().await;
                    collector.collect(&mut chain).await
                };
                let (put, next) = tokio::join!(put, ahead);
                (put, Some(next))
            } else {
                (put.await, None)
            };
            reporter.clear();
            if let Err(e) = put {
                fail(&e);
                task.stop();
                return;
            }
            match next {
                Some(Ok(next)) if !next.is_empty() => ahead = Some(next),
                Some(Err(h)) => {
                    advance(&mut positions, batch.positions, &shared, &id);
                    halt(h);
                    task.stop();
                    return;
                }
                _ => {}
            }
        }
        advance(&mut positions, batch.positions, &shared, &id);
        if last_commit.elapsed() >= shared.config.offset_flush_interval {
            if let Err(e) = commit(&mut task, &consumer, &positions, CommitMode::Async).await {
                fail(&e);
                task.stop();
                return;
            }
            last_commit = Instant::now();
        }
    }
    // (records converted ahead were not put: their offsets are not committed)
    // (a synchronous commit: the consumer is dropped right after)
    if let Err(e) = commit(&mut task, &consumer, &positions, CommitMode::Sync).await {
        tracing::error!(task = %id, error = %e, "could not commit offsets while stopping");
    }
    task.stop();
    if status.get().state != State::Failed {
        status.set(State::Unassigned);
    }
}

/// Waits until the consumer's queue turns non-empty, the task's target changes, or
/// [`IDLE_WAIT`] passes (the consumer is polled at least that often, as librdkafka wants).
async fn wait_for_records(wake: &Notify, control: &mut watch::Receiver<Target>) {
    tokio::select! {
        _ = wake.notified() => {}
        _ = control.changed() => {}
        _ = tokio::time::sleep(IDLE_WAIT) => {}
    }
}

/// Records converted for one `put`, and the positions they take their partitions to.
#[derive(Default)]
struct Collected {
    records: Vec<ConnectRecord>,
    /// The next offset of each partition read (a task reads few: a list).
    positions: Vec<(String, i32, i64)>,
}

impl Collected {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.positions.is_empty()
    }
}

/// Why the loop stops after a record failed.
enum Halt {
    /// The task fails with this error.
    Failed(ConnectError),
    /// A record failed with `errors.tolerance=none`: the task fails with this message.
    ToleranceExceeded(String),
}

/// What turns fetched records into a batch for `put`.
struct Collector<'a> {
    id: &'a TaskId,
    consumer: &'a BaseConsumer,
    converters: &'a Converters,
    errors: &'a ErrorPolicy,
    reporter: &'a Reporter,
    /// Most records in a batch (`max.poll.records`).
    max_batch: usize,
}

impl Collector<'_> {
    /// The records fetched and ready now, up to `max.poll.records`, through the converters and
    /// transforms; failed ones go to the dead letter queue or stop the task, as
    /// `errors.tolerance` says. Does not wait for records.
    async fn collect(&self, chain: &mut [crate::transforms::Stage]) -> Result<Collected, Halt> {
        let (id, consumer, errors, reporter) = (self.id, self.consumer, self.errors, self.reporter);
        let mut out = Collected::default();
        let mut next = consumer.poll(Duration::ZERO);
        // (an empty poll may have served an event, a rebalance or a commit's answer, with
        // records behind it: the queue then does not turn non-empty to wake the loop)
        for _ in 0..2 {
            if next.is_some() {
                break;
            }
            next = consumer.poll(Duration::ZERO);
        }
        while let Some(m) = next.take() {
            match m {
                Ok(msg) => {
                    // (found without allocating: a task reads few partitions)
                    let next_offset = msg.offset() + 1;
                    match out
                        .positions
                        .iter_mut()
                        .find(|(t, p, _)| t == msg.topic() && *p == msg.partition())
                    {
                        Some((_, _, o)) => *o = next_offset,
                        None => out.positions.push((
                            msg.topic().to_string(),
                            msg.partition(),
                            next_offset,
                        )),
                    }
                    match convert(&msg, self.converters, chain) {
                        Ok(Some(r)) => {
                            // the raw record is kept only for a dead letter queue
                            if reporter.dlq.is_some() {
                                reporter.keep(RawRecord::of(&msg));
                            }
                            out.records.push(r)
                        }
                        Ok(None) => {}
                        Err((stage, class, e)) if errors.tolerance == Tolerance::All => {
                            if errors.log {
                                tracing::error!(task = %id, error = %e, stage, topic = msg.topic(), partition = msg.partition(), offset = msg.offset(), "Error encountered in task {id}. Skipping the record.");
                            }
                            if let Some(dlq) = &reporter.dlq {
                                let raw = RawRecord::of(&msg);
                                let exception =
                                    format!("org.apache.kafka.connect.errors.{}", e.class());
                                let failure = Failure {
                                    stage,
                                    class_name: &class,
                                    exception: &exception,
                                    message: e.message(),
                                };
                                dlq.send(&raw, id, &failure).await.map_err(Halt::Failed)?;
                            }
                        }
                        Err((_, _, e)) => {
                            return Err(Halt::ToleranceExceeded(format!(
                                "Tolerance exceeded in error handler\nCaused by: {}: {e}",
                                e.class()
                            )));
                        }
                    }
                }
                Err(e) => tracing::warn!(task = %id, error = %e, "consumer error"),
            }
            if out.records.len() >= self.max_batch {
                break;
            }
            next = consumer.poll(Duration::ZERO);
        }
        Ok(out)
    }
}

/// Moves the committable positions past a batch that was put.
fn advance(
    positions: &mut TopicPartitionOffsets,
    batch: Vec<(String, i32, i64)>,
    shared: &WorkerShared,
    id: &TaskId,
) {
    for (topic, partition, offset) in batch {
        match positions
            .iter_mut()
            .find(|((t, p), _)| *t == topic && *p == partition)
        {
            Some((_, o)) => *o = offset,
            None => {
                shared.topic_used(&id.connector, id.task, &topic);
                positions.insert((topic, partition), offset);
            }
        }
    }
}

/// Hands a batch to the task; a retriable failure hands the same batch again after a pause
/// (Kafka Connect redelivers it), unless the task is told to stop.
async fn put_with_retries(
    task: &mut Box<dyn SinkTask>,
    batch: Vec<ConnectRecord>,
    control: &watch::Receiver<Target>,
) -> Result<(), ConnectError> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match task.put(&batch).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retriable() => {
                tracing::warn!(error = %e, "RetriableException from the sink task; the batch is delivered again");
                if *control.borrow() == Target::Stop {
                    return Err(e);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where a record failed: the stage (`KEY_CONVERTER`, ...), the class, the error.
type StageError = (&'static str, String, DataError);

/// The sink record of a Kafka record, through the converters and transforms.
fn convert(
    msg: &BorrowedMessage<'_>,
    converters: &Converters,
    chain: &mut [crate::transforms::Stage],
) -> Result<Option<ConnectRecord>, StageError> {
    let topic = msg.topic();
    let class = |i: usize| converters.classes[i].clone();
    let key = converters
        .key
        .to_connect_data(topic, msg.key())
        .map_err(|e| ("KEY_CONVERTER", class(0), e))?;
    let value = converters
        .value
        .to_connect_data(topic, msg.payload())
        .map_err(|e| ("VALUE_CONVERTER", class(1), e))?;
    let mut headers = ConnectHeaders::new();
    if let Some(hs) = msg.headers() {
        for h in hs.iter() {
            let data = converters
                .header
                .header_to_connect(topic, h.key, h.value)
                .map_err(|e| ("HEADER_CONVERTER", class(2), e))?;
            headers.add(h.key, data);
        }
    }
    let (timestamp, timestamp_type) = match msg.timestamp() {
        rdkafka::Timestamp::NotAvailable => (None, TimestampType::None),
        rdkafka::Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        rdkafka::Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
    };
    let mut r = ConnectRecord {
        topic: topic.to_string(),
        kafka_partition: Some(msg.partition()),
        key_schema: key.schema,
        key: key.value,
        value_schema: value.schema,
        value: value.value,
        timestamp,
        headers,
        origin: Origin::Sink {
            offset: msg.offset(),
            timestamp_type,
            original_topic: topic.to_string(),
            original_partition: msg.partition(),
        },
    };
    for stage in chain.iter_mut() {
        let class = stage.class().to_string();
        match stage.apply(r).map_err(|e| ("TRANSFORMATION", class, e))? {
            Some(next) => r = next,
            None => return Ok(None),
        }
    }
    Ok(Some(r))
}

/// Asks the task which positions are safe, and commits them for the group.
async fn commit(
    task: &mut Box<dyn SinkTask>,
    consumer: &BaseConsumer,
    positions: &TopicPartitionOffsets,
    mode: CommitMode,
) -> Result<(), ConnectError> {
    if positions.is_empty() {
        return Ok(());
    }
    let safe = task.pre_commit(positions).await?;
    if safe.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in &safe {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| ConnectError::Fatal(e.to_string()))?;
    }
    let committed = match mode {
        CommitMode::Sync => blocking(|| consumer.commit(&list, mode)),
        CommitMode::Async => consumer.commit(&list, mode),
    };
    committed.map_err(|e| ConnectError::Retriable(format!("Commit of offsets failed: {e}")))
}

/// Runs `f`, which waits for the broker, off the runtime's worker thread (when the runtime
/// has several), so that the tasks queued on this thread go on meanwhile: one of them may be
/// the broker's answer (a broker in the same process), and the others would stall.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// The task's consumer, closed with [`blocking`] (closing leaves the group and waits for the
/// broker).
struct Closing(Option<BaseConsumer>);

impl std::ops::Deref for Closing {
    type Target = BaseConsumer;
    fn deref(&self) -> &BaseConsumer {
        self.0
            .as_ref()
            .expect("the consumer is there until dropped")
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            blocking(move || drop(consumer));
        }
    }
}
