//! The clients of a fault run (Jepsen's queue workload on Kafka), each recording what it did
//! and what it was told in the [`History`]:
//!
//! * idempotent producers, acks=all, sending unique values round-robin over the partitions
//!   with a window of sends in flight; one that hits a fatal error is recreated;
//! * transactional producers writing 2–4 values over random partitions per transaction and
//!   committing, or aborting one in five on purpose;
//! * consumers in one group (subscribe, commit after each poll), whose poll stream changes at
//!   every rebalance;
//! * read_committed readers assigned every partition from the beginning.
//!
//! [`final_read`] reads every partition to its end, read_uncommitted and read_committed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use rand::{Rng, SeedableRng};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, FutureProducer, FutureRecord, Producer, ThreadedProducer,
};

/// A transactional producer: its own thread serves delivery reports, as commits and aborts need.
type TxnProducer = ThreadedProducer<DefaultProducerContext>;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::history::{History, Op, Outcome, Rec, TxnOutcome};

/// What the clients work on, and how many of each kind run.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// The test topic.
    pub topic: String,
    /// Its partition count.
    pub partitions: i32,
    /// Names the group and the transactional ids, unique per run.
    pub run_id: String,
    /// Idempotent producers.
    pub producers: u32,
    /// Transactional producers.
    pub txn_producers: u32,
    /// Consumers in the group.
    pub group_consumers: u32,
    /// read_committed readers with assigned partitions.
    pub committed_readers: u32,
    /// Seeds the random choices.
    pub seed: u64,
}

/// The running clients.
pub struct Workload {
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    config: WorkloadConfig,
}

/// Client settings shared by every client of a run: short timeouts, so that a dead node is
/// noticed quickly, and fast metadata refreshes, so that moved leaders are found.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "5000")
        .set("socket.connection.setup.timeout.ms", "3000")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .set("reconnect.backoff.max.ms", "1000")
        .set("log_level", "3");
    c
}

impl Workload {
    /// Starts every client; they run until [`Workload::stop`]. Must be called inside a
    /// multi-threaded tokio runtime.
    pub fn start(config: WorkloadConfig, history: History) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicUsize::new(0));
        let mut w = Workload {
            stop,
            writes,
            threads: Vec::new(),
            tasks: Vec::new(),
            config: config.clone(),
        };
        let mut process = 0u32;
        for _ in 0..config.producers {
            process += 1;
            let (c, h, s, o) = w.shared(&history);
            w.tasks
                .push(tokio::spawn(idempotent_producer(process, c, h, s, o)));
        }
        for _ in 0..config.txn_producers {
            process += 1;
            let (c, h, s, o) = w.shared(&history);
            w.threads
                .push(spawn_named(format!("txn-producer-{process}"), move || {
                    txn_producer(process, &c, &h, &s, &o)
                }));
        }
        for _ in 0..config.group_consumers {
            process += 1;
            let (c, h, s, _) = w.shared(&history);
            w.threads.push(spawn_named(
                format!("group-consumer-{process}"),
                move || consumer(process, true, &c, &h, &s),
            ));
        }
        for _ in 0..config.committed_readers {
            process += 1;
            let (c, h, s, _) = w.shared(&history);
            w.threads.push(spawn_named(
                format!("committed-reader-{process}"),
                move || consumer(process, false, &c, &h, &s),
            ));
        }
        w
    }

    fn shared(
        &self,
        history: &History,
    ) -> (WorkloadConfig, History, Arc<AtomicBool>, Arc<AtomicUsize>) {
        (
            self.config.clone(),
            history.clone(),
            Arc::clone(&self.stop),
            Arc::clone(&self.writes),
        )
    }

    /// Writes completed so far (sends and transactions, whatever their outcome).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// Stops every client and waits for them: producers first wait for their sends in flight,
    /// and transactions left open are aborted by re-initialising their transactional ids.
    /// Returns what did not stop in time (a client stuck closing, say a consumer that cannot
    /// leave its group): a liveness problem of the cluster, reported rather than waited for.
    pub async fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Release);
        for t in self.tasks {
            let _ = t.await;
        }
        let threads = self.threads;
        let config = self.config;
        tokio::task::spawn_blocking(move || {
            let mut problems = Vec::new();
            let deadline = Instant::now() + CLIENT_STOP_LIMIT;
            for t in threads {
                while !t.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if t.is_finished() {
                    let _ = t.join();
                } else {
                    // (left running: a thread cannot be cancelled)
                    problems.push(format!(
                        "a client ({:?}) did not stop within {CLIENT_STOP_LIMIT:?} of being asked to",
                        t.thread().name()
                    ));
                }
            }
            // a fresh producer with each transactional id fences and aborts what its
            // predecessor left open, so the last stable offset reaches the log end
            let first_txn = config.producers + 1;
            for process in first_txn..first_txn + config.txn_producers {
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    if let Ok(p) = transactional(&config, process) {
                        drop(p);
                        break;
                    }
                }
            }
            problems
        })
        .await
        .unwrap_or_else(|e| vec![format!("stopping the clients failed: {e}")])
    }
}

/// A client's thread, named so that a report says which client did not stop.
fn spawn_named(name: String, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawn a client thread")
}

/// How long the clients get to stop (a consumer leaving its group, a transaction ending).
const CLIENT_STOP_LIMIT: Duration = Duration::from_secs(120);

async fn idempotent_producer(
    process: u32,
    config: WorkloadConfig,
    history: History,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicUsize>,
) {
    let make = || -> FutureProducer {
        client_config(&config.bootstrap)
            .set("enable.idempotence", "true")
            // A gap in the sequence fails the producer (a fatal error, its writes recorded as
            // maybe-written, and a new producer). That does not cover messages that time out
            // in librdkafka's queue: it then bumps the epoch itself and sends what it still
            // holds again under the new epoch, so a batch that had been written is written
            // twice. Kafka allows that duplicate (no broker can tell it from a new batch);
            // the checker tells it apart by the producer epochs of the copies' batches.
            .set("enable.gapless.guarantee", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "2")
            .create()
            .expect("producer config")
    };
    let mut producer = make();
    let mut n = 0u64;
    let mut in_flight = FuturesUnordered::new();
    while !stop.load(Ordering::Acquire) || !in_flight.is_empty() {
        let fatal = producer.client().fatal_error().is_some();
        while !stop.load(Ordering::Acquire) && !fatal && in_flight.len() < 8 {
            n += 1;
            let partition = (n % config.partitions as u64) as i32;
            let value = format!("p{process}-{n}");
            let p = producer.clone();
            let topic = config.topic.clone();
            in_flight.push(async move {
                let r = p
                    .send(
                        FutureRecord::<(), _>::to(&topic)
                            .partition(partition)
                            .payload(&value),
                        Timeout::Never,
                    )
                    .await;
                (partition, value, r)
            });
        }
        let Some((partition, value, result)) = in_flight.next().await else {
            if fatal {
                producer = make();
            }
            continue;
        };
        let (outcome, offset) = match result {
            Ok(delivery) => (Outcome::Ok, Some(delivery.offset)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                (Outcome::Fail, None)
            }
            // timeouts, lost connections, fatal idempotence errors: it may have been written
            Err(_) => (Outcome::Info, None),
        };
        history.record(Op::Send {
            process,
            partition,
            value,
            outcome,
            offset,
        });
        writes.fetch_add(1, Ordering::Relaxed);
        if in_flight.is_empty() && producer.client().fatal_error().is_some() {
            producer = make();
        }
    }
}

fn transactional(config: &WorkloadConfig, process: u32) -> Result<TxnProducer, KafkaError> {
    let p: TxnProducer = client_config(&config.bootstrap)
        .set(
            "transactional.id",
            format!("{}-txn-{process}", config.run_id),
        )
        .set("transaction.timeout.ms", "20000")
        .set("message.timeout.ms", "20000")
        .set("linger.ms", "2")
        .create()?;
    p.init_transactions(Duration::from_secs(30))?;
    Ok(p)
}

fn txn_producer(
    process: u32,
    config: &WorkloadConfig,
    history: &History,
    stop: &AtomicBool,
    writes: &AtomicUsize,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed ^ u64::from(process));
    let mut producer: Option<TxnProducer> = None;
    let mut n = 0u64;
    let wait = Duration::from_secs(30);
    while !stop.load(Ordering::Acquire) {
        let p = match producer.take() {
            Some(p) => p,
            None => match transactional(config, process) {
                Ok(p) => p,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            },
        };
        if p.begin_transaction().is_err() {
            continue; // recreated above
        }
        n += 1;
        let values: Vec<(i32, String)> = (0..rng.random_range(2..=4))
            .map(|i| {
                (
                    rng.random_range(0..config.partitions),
                    format!("t{process}-{n}-{i}"),
                )
            })
            .collect();
        let mut sent = true;
        for (partition, value) in &values {
            let mut record = BaseRecord::<(), _>::to(&config.topic)
                .partition(*partition)
                .payload(value);
            loop {
                match p.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => {
                        sent = false;
                        break;
                    }
                }
            }
        }
        let abort = !sent || rng.random_bool(0.2);
        let outcome = if abort {
            match p.abort_transaction(wait) {
                Ok(()) => TxnOutcome::Aborted,
                Err(_) => TxnOutcome::Info,
            }
        } else {
            let mut outcome = TxnOutcome::Info;
            for _attempt in 0..3 {
                match p.commit_transaction(wait) {
                    Ok(()) => {
                        outcome = TxnOutcome::Committed;
                        break;
                    }
                    Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                        if p.abort_transaction(wait).is_ok() {
                            outcome = TxnOutcome::Aborted;
                        }
                        break;
                    }
                    Err(KafkaError::Transaction(e)) if e.is_retriable() => continue,
                    Err(_) => break,
                }
            }
            outcome
        };
        history.record(Op::Txn {
            process,
            values,
            outcome,
        });
        writes.fetch_add(1, Ordering::Relaxed);
        if outcome != TxnOutcome::Info {
            producer = Some(p); // else: a new producer fences this one
        }
    }
}

/// Counts rebalances: a consumer's poll stream changes at each.
struct Rebalances(AtomicU64);

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, _: &Rebalance<'_>) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

fn consumer(
    process: u32,
    in_group: bool,
    config: &WorkloadConfig,
    history: &History,
    stop: &AtomicBool,
) {
    let mut c = client_config(&config.bootstrap);
    c.set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000");
    if in_group {
        // (librdkafka's default is read_committed; these read what the leader acknowledged)
        c.set("group.id", format!("{}-group", config.run_id))
            .set("isolation.level", "read_uncommitted");
    } else {
        c.set("group.id", format!("{}-reader-{process}", config.run_id))
            .set("isolation.level", "read_committed");
    }
    let consumer: BaseConsumer<Rebalances> = c
        .create_with_context(Rebalances(AtomicU64::new(0)))
        .expect("consumer config");
    if in_group {
        consumer.subscribe(&[&config.topic]).expect("subscription");
    } else {
        let mut tpl = TopicPartitionList::new();
        for p in 0..config.partitions {
            tpl.add_partition_offset(&config.topic, p, Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&tpl).expect("assignment");
    }
    let stream_of = |generation: u64| u64::from(process) * 1_000_000 + generation;
    let read_committed = !in_group;
    while !stop.load(Ordering::Acquire) {
        let mut records = Vec::new();
        let mut stream = stream_of(consumer.context().0.load(Ordering::Acquire));
        let mut wait = Duration::from_millis(100);
        while records.len() < 200 {
            let Some(Ok(m)) = consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let now = stream_of(consumer.context().0.load(Ordering::Acquire));
            if now != stream && !records.is_empty() {
                history.record(Op::Poll {
                    process,
                    stream,
                    read_committed,
                    records: std::mem::take(&mut records),
                });
            }
            stream = now;
            records.push(Rec {
                partition: m.partition(),
                offset: m.offset(),
                value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            });
        }
        if records.is_empty() {
            continue;
        }
        history.record(Op::Poll {
            process,
            stream,
            read_committed,
            records,
        });
        if in_group {
            let _ = consumer.commit_consumer_state(CommitMode::Async);
        }
    }
}

/// Reads every partition of the topic from its start to its end (the high watermark, or the
/// last stable offset when `read_committed`) and records one [`Op::FinalRead`] per partition.
/// Returns an error naming the partitions that could not be read to the end in 60 s.
pub fn final_read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    read_committed: bool,
    history: &History,
) -> Result<(), String> {
    let mut failed = Vec::new();
    for partition in 0..partitions {
        let consumer: BaseConsumer = client_config(bootstrap)
            .set("group.id", "final-read")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set(
                "isolation.level",
                if read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            )
            .create()
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut done = false;
        while Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => records.push(Rec {
                    partition,
                    offset: m.offset(),
                    value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                }),
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    done = true;
                    break;
                }
                _ => {}
            }
        }
        if !done {
            failed.push(partition);
        }
        history.record(Op::FinalRead {
            partition,
            read_committed,
            records,
        });
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "final read (read_committed={read_committed}) did not reach the end of partitions {failed:?}"
        ))
    }
}
