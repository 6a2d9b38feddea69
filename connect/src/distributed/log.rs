//! A compacted internal topic read from its beginning and followed (Kafka Connect's
//! `KafkaBasedLog`): every record is handed to the store that owns the topic, in partition
//! order; [`TopicLog::read_to_end`] waits until everything written before the call is applied.
//! Writes go through one idempotent producer per worker, keyed, with Kafka's murmur2 partitioning.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::connector::ConnectError;

/// One record of an internal topic.
pub struct LogRecord<'a> {
    /// Its key (internal records always have one).
    pub key: &'a [u8],
    /// Its value; `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// How one internal topic is made.
#[derive(Clone, Debug)]
pub struct TopicSpec {
    /// The topic.
    pub name: String,
    /// Its partitions.
    pub partitions: i32,
    /// Its replication factor (-1: the broker's default).
    pub replication: i32,
    /// The worker property that names it (for error messages).
    pub property: &'static str,
}

fn fatal(what: &str, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::Fatal(format!("{what}: {e}"))
}

/// Creates the topic if it is missing (`cleanup.policy=compact`), and checks that the config
/// topic has one partition.
pub async fn ensure_topic(admin: &ClientConfig, spec: &TopicSpec) -> Result<(), ConnectError> {
    let client: AdminClient<DefaultClientContext> = admin
        .create()
        .map_err(|e| fatal("cannot create the admin client", e))?;
    let replication = TopicReplication::Fixed(spec.replication);
    let topic =
        NewTopic::new(&spec.name, spec.partitions, replication).set("cleanup.policy", "compact");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = client
        .create_topics([&topic], &opts)
        .await
        .map_err(|e| fatal(&format!("cannot create topic {}", spec.name), e))?;
    for r in results {
        match r {
            Ok(_) => {
                tracing::info!(topic = %spec.name, partitions = spec.partitions, "created topic")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(ConnectError::Fatal(format!(
                    "Unable to create topic(s) '{t}': {code} (set by '{}')",
                    spec.property
                )))
            }
        }
    }
    if spec.partitions == 1 {
        let name = spec.name.clone();
        let client_config = admin.clone();
        let found = tokio::task::spawn_blocking(move || -> Result<usize, ConnectError> {
            let consumer: BaseConsumer = client_config
                .create()
                .map_err(|e| fatal("cannot create a consumer", e))?;
            let md = consumer
                .fetch_metadata(Some(&name), Duration::from_secs(30))
                .map_err(|e| fatal(&format!("cannot read the metadata of {name}"), e))?;
            Ok(md.topics().first().map_or(0, |t| t.partitions().len()))
        })
        .await
        .map_err(|e| fatal("metadata", e))??;
        if found != 1 {
            return Err(ConnectError::Fatal(format!(
                "Topic '{}' supplied via the '{}' property is required to have a single partition in order to guarantee consistency of connector configurations, but found {found} partitions.",
                spec.name, spec.property
            )));
        }
    }
    Ok(())
}

/// A followed internal topic.
pub struct TopicLog {
    topic: String,
    consumer: Arc<BaseConsumer>,
    applied: watch::Receiver<BTreeMap<i32, i64>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl TopicLog {
    /// Starts reading `topic` (all its partitions, from the beginning) on a thread of its own,
    /// handing each record to `apply`.
    pub fn start(
        consumer_config: &ClientConfig,
        topic: &str,
        partitions: i32,
        mut apply: impl FnMut(LogRecord<'_>) + Send + 'static,
    ) -> Result<TopicLog, ConnectError> {
        let mut config = consumer_config.clone();
        config
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("group.id", format!("tributary-connect-log-{topic}"))
            .set("isolation.level", "read_committed");
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| fatal("cannot create a consumer", e))?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| fatal("assign", e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| fatal(&format!("cannot read {topic}"), e))?;
        let consumer = Arc::new(consumer);
        let (tx, applied) = watch::channel(BTreeMap::new());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let consumer = consumer.clone();
            let stop = stop.clone();
            let topic = topic.to_string();
            std::thread::Builder::new()
                .name(format!("log-{topic}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match consumer.poll(Duration::from_millis(100)) {
                            Some(Ok(m)) => {
                                if let Some(key) = m.key() {
                                    apply(LogRecord {
                                        key,
                                        value: m.payload(),
                                        partition: m.partition(),
                                        offset: m.offset(),
                                    });
                                }
                            }
                            Some(Err(e)) => {
                                tracing::warn!(%topic, error = %e, "reading an internal topic")
                            }
                            None => {}
                        }
                        // the consumer's position, past transaction markers too, once what
                        // came before it is applied
                        if let Ok(positions) = consumer.position() {
                            let now: BTreeMap<i32, i64> = positions
                                .elements()
                                .iter()
                                .filter_map(|e| match e.offset() {
                                    Offset::Offset(o) => Some((e.partition(), o)),
                                    _ => None,
                                })
                                .collect();
                            tx.send_if_modified(|a| {
                                let changed = *a != now;
                                if changed {
                                    a.clone_from(&now);
                                }
                                changed
                            });
                        }
                    }
                })
                .map_err(|e| fatal("cannot start a thread", e))?
        };
        Ok(TopicLog {
            topic: topic.to_string(),
            consumer,
            applied,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Waits until every record written (and, in transactions, committed) before the call has
    /// been applied.
    pub async fn read_to_end(&self) -> Result<(), ConnectError> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        let ends = tokio::task::spawn_blocking(move || -> Result<Vec<(i32, i64)>, ConnectError> {
            // one ListOffsets request for every partition's end (-1: the latest offset)
            let assignment = consumer.assignment().map_err(|e| fatal("assignment", e))?;
            let mut times = TopicPartitionList::new();
            for e in assignment.elements() {
                times
                    .add_partition_offset(&topic, e.partition(), Offset::End)
                    .map_err(|e| fatal("read to end", e))?;
            }
            let found = consumer
                .offsets_for_times(times, Duration::from_secs(30))
                .map_err(|err| fatal(&format!("cannot read the end of {topic}"), err))?;
            Ok(found
                .elements()
                .iter()
                .map(|e| {
                    let end = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => 0,
                    };
                    (e.partition(), end)
                })
                .collect())
        })
        .await
        .map_err(|e| fatal("read to end", e))??;
        let mut applied = self.applied.clone();
        let reached = |a: &BTreeMap<i32, i64>| {
            ends.iter()
                .all(|(p, end)| *end <= 0 || a.get(p).is_some_and(|n| n >= end))
        };
        tokio::time::timeout(Duration::from_secs(60), applied.wait_for(reached))
            .await
            .map_err(|_| {
                ConnectError::Fatal(format!("timed out reading {} to its end", self.topic))
            })?
            .map_err(|e| fatal("read to end", e))?;
        Ok(())
    }

    /// Stops following the topic.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for TopicLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The worker's producer for its internal topics.
#[derive(Clone)]
pub struct LogWriter {
    producer: FutureProducer,
}

impl LogWriter {
    /// A producer with acks from all replicas, idempotence and Kafka's key partitioning.
    pub fn new(producer_config: &ClientConfig) -> Result<LogWriter, ConnectError> {
        let mut config = producer_config.clone();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0");
        let producer = config
            .create()
            .map_err(|e| fatal("cannot create the producer", e))?;
        Ok(LogWriter { producer })
    }

    /// Sends a record (a tombstone when `value` is `None`) without waiting for it.
    pub fn send(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<DeliveryFuture, ConnectError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send_result(record)
            .map_err(|(e, _)| fatal(&format!("cannot write to {topic}"), e))
    }

    /// Sends a record and waits until Kafka has it.
    pub async fn write(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), ConnectError> {
        let delivery = self.send(topic, key, value)?;
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(fatal(&format!("cannot write to {topic}"), e)),
            Err(_) => Err(ConnectError::Fatal(format!("cannot write to {topic}"))),
        }
    }
}
