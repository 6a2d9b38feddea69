//! `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`: the records of any topic as lines
//! of text, as ksqlDB prints them: a plain consumer (no group, nothing committed) reads every
//! partition from its end (or its start), and [`formats::RecordFormatter`] shows each key and
//! value in the formats that could have written them, with `Key format:` / `Value format:`
//! lines whenever what is possible changes. An empty line goes out each second nothing comes,
//! so a client that went away is noticed.

pub mod formats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::mpsc::{channel, Receiver, Sender};

use super::{Engine, KsqlError, Topics};
use formats::{format_line, RawRecord, RecordFormatter};

const TIMEOUT: Duration = Duration::from_secs(30);
/// Lines waiting for the client (a line holds a whole record: few are kept).
const LINES_BUFFERED: usize = 64;
/// Records formatted together (a batch is formatted again when it rules a format out).
const BATCH: usize = 500;

/// What a `PRINT` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintRequest {
    /// The topic, with its case.
    pub topic: String,
    /// From each partition's first record instead of new ones.
    pub from_beginning: bool,
    /// Every n-th record (1: all).
    pub interval: u64,
    /// At most this many records.
    pub limit: Option<u64>,
}

/// A running `PRINT`: its lines as they come. Dropping it stops the reader.
pub struct Printing {
    lines: Receiver<String>,
    stop: Arc<AtomicBool>,
}

impl Printing {
    /// The next line (`None`: the `LIMIT` was reached, or reading failed after its message).
    pub async fn next(&mut self) -> Option<String> {
        self.lines.recv().await
    }
}

impl Drop for Printing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What `PRINT` needs of the engine, so that the engine is not held while it connects.
#[derive(Clone)]
pub struct Printer {
    bootstrap_servers: String,
    topics: Topics,
}

impl Engine {
    /// What starts a `PRINT` of this engine's cluster.
    pub fn printer(&self) -> Printer {
        Printer {
            bootstrap_servers: self.config.bootstrap_servers.clone(),
            topics: self.topics().clone(),
        }
    }
}

impl Printer {
    /// Starts printing `request.topic`, or says why it cannot (ksqlDB's message for a topic
    /// that does not exist, with the names that differ only in case).
    pub async fn print(&self, request: PrintRequest) -> Result<Printing, KsqlError> {
        if request.interval < 1 {
            return Err(KsqlError::Statement(format!(
                "INTERVAL must be greater than one, but was: {}",
                request.interval
            )));
        }
        let topic = request.topic.clone();
        let names: Vec<String> = self
            .topics
            .list()
            .await
            .map_err(KsqlError::Kafka)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if !names.contains(&topic) {
            let mut similar: Vec<&String> = names
                .iter()
                .filter(|n| n.eq_ignore_ascii_case(&topic))
                .collect();
            similar.sort();
            let suggestion: String = if similar.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = similar.iter().map(|n| format!("\tprint {n};")).collect();
                format!("\nDid you mean:\n{}", list.join("\n"))
            };
            return Err(KsqlError::Statement(format!(
                "Could not find topic '{topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.{suggestion}"
            )));
        }
        let kafka = |e: rdkafka::error::KafkaError| {
            KsqlError::Kafka(format!("cannot read topic {topic}: {e}"))
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            // (assigned, never committed)
            .set("group.id", format!("_ksql_print_{nanos}"))
            .set("enable.auto.commit", "false")
            .create()
            .map_err(kafka)?;
        let start = if request.from_beginning {
            Offset::Beginning
        } else {
            Offset::End
        };
        tokio::task::block_in_place(|| -> Result<(), KsqlError> {
            let metadata = consumer
                .fetch_metadata(Some(&topic), TIMEOUT)
                .map_err(kafka)?;
            let mut assignment = TopicPartitionList::new();
            for t in metadata.topics().iter().filter(|t| t.name() == topic) {
                for p in t.partitions() {
                    assignment
                        .add_partition_offset(&topic, p.id(), start)
                        .map_err(kafka)?;
                }
            }
            consumer.assign(&assignment).map_err(kafka)
        })?;
        let (tx, lines) = channel(LINES_BUFFERED);
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::Builder::new()
            .name(format!("print-{topic}"))
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    if let Err(e) = follow(&consumer, &request, &tx, &stop) {
                        tracing::warn!(topic = %request.topic, error = %e, "PRINT stopped");
                        let _ = tx.blocking_send(e);
                    }
                }
            })
            .map_err(|e| KsqlError::Kafka(format!("cannot start a thread: {e}")))?;
        Ok(Printing { lines, stop })
    }
}

/// Reads and formats records until the limit, `stop`, or the client going away.
fn follow(
    consumer: &BaseConsumer,
    request: &PrintRequest,
    tx: &Sender<String>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut formatter = RecordFormatter::default();
    let (mut keys_printed, mut values_printed) = (None, None);
    let (mut polled, mut written) = (0u64, 0u64);
    let reached = |written: u64| request.limit.is_some_and(|l| written >= l);
    let mut idle = Instant::now();
    let send = |line: String| tx.blocking_send(line).is_ok();
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() && !reached(written) {
        let mut batch = Vec::new();
        let mut wait = Duration::from_millis(100);
        while batch.len() < BATCH {
            let Some(message) = consumer.poll(wait) else {
                break;
            };
            let m = match message {
                Ok(m) => m,
                // (librdkafka recovers from what is not fatal, as Kafka's consumer does)
                Err(KafkaError::MessageConsumptionFatal(e)) => {
                    return Err(format!("cannot read topic {}: {e}", request.topic))
                }
                Err(e) => {
                    tracing::debug!(topic = %request.topic, error = %e, "PRINT: a consumer error, going on");
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            };
            batch.push(RawRecord {
                timestamp: m.timestamp().to_millis().unwrap_or(-1),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                partition: m.partition(),
            });
            wait = Duration::ZERO;
        }
        if batch.is_empty() {
            if idle.elapsed() >= Duration::from_secs(1) {
                idle = Instant::now();
                if !send(String::new()) {
                    return Ok(());
                }
            }
            continue;
        }
        idle = Instant::now();
        let mut out = Vec::new();
        for line in formatter.format(&batch) {
            if polled % request.interval == 0 {
                written += 1;
                out.push(line);
            }
            polled += 1;
            if reached(written) {
                break;
            }
        }
        let changes = [
            format_line("Key format: ", &mut keys_printed, formatter.key_formats()),
            format_line(
                "Value format: ",
                &mut values_printed,
                formatter.value_formats(),
            ),
        ];
        for line in changes.into_iter().flatten().chain(out) {
            if !send(line) {
                return Ok(());
            }
        }
    }
    Ok(())
}
