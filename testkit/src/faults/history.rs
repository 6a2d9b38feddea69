//! The history of a fault run: one JSON line per event, written as clients act, so a long run
//! can be checked again later (`checker::check_file`).
//!
//! Values are unique in a run (`p<process>-<n>` for plain sends, `t<process>-<n>-<i>` for
//! transactional ones), which is what lets the checker tell a lost write from a duplicate.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One record as a consumer returned it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Partition of the test topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// The record's value.
    pub value: String,
}

/// What a producer was told about a send.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged: the value must be in the final read.
    Ok,
    /// Definitely not written (the client said so before sending, or the broker refused it).
    Fail,
    /// Indeterminate: a timeout or a lost connection; the value may or may not be there.
    Info,
}

/// How a transaction ended, as its producer saw it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TxnOutcome {
    /// `commit_transaction` succeeded.
    Committed,
    /// `abort_transaction` succeeded.
    Aborted,
    /// Neither was confirmed: the producer failed or timed out mid-way.
    Info,
}

/// One operation of a run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// An idempotent producer (acks=all) sent one value.
    Send {
        /// Client process.
        process: u32,
        /// Partition written to.
        partition: i32,
        /// The unique value.
        value: String,
        /// What the producer was told.
        outcome: Outcome,
        /// The offset an acknowledgement named.
        offset: Option<i64>,
    },
    /// A transactional producer wrote `values` (partition, value) in one transaction.
    Txn {
        /// Client process.
        process: u32,
        /// Everything the transaction wrote.
        values: Vec<(i32, String)>,
        /// How it ended.
        outcome: TxnOutcome,
    },
    /// One poll of a consumer. `stream` changes whenever the consumer's position may jump
    /// legitimately (a new assignment, a seek, a new consumer): offsets are compared only
    /// within one stream and partition.
    Poll {
        /// Client process.
        process: u32,
        /// The poll stream (see above).
        stream: u64,
        /// Whether the consumer reads with `isolation.level=read_committed`.
        read_committed: bool,
        /// What the poll returned, in order.
        records: Vec<Rec>,
    },
    /// The final read of one whole partition, from its log start to its end, after healing.
    FinalRead {
        /// The partition.
        partition: i32,
        /// Whether this read was read_committed.
        read_committed: bool,
        /// Every record returned, in order.
        records: Vec<Rec>,
    },
    /// The byte comparison of one partition's replica logs after a clean stop.
    ReplicaCheck {
        /// The partition.
        partition: i32,
        /// Node ids of the replicas compared.
        replicas: Vec<i32>,
        /// Whether two replicas differ in the range they all hold.
        divergent: bool,
        /// Where they differ, for the report.
        detail: String,
    },
    /// Who wrote each batch of one partition's log (read from a replica after a clean stop):
    /// `(first offset, last offset, producer id, producer epoch)` per batch. It tells a
    /// duplicate the broker let through (two copies by one producer epoch) from one that
    /// Kafka allows (librdkafka sends a timed-out batch again under a new epoch).
    LogWriters {
        /// The partition.
        partition: i32,
        /// Its batches, in log order.
        batches: Vec<(i64, i64, i64, i16)>,
    },
    /// A fault the nemesis injected or healed (for reading the history; not checked).
    Fault {
        /// `kill-leader`, `pause`, `heal`, ...
        kind: String,
        /// Which nodes, for how long.
        detail: String,
    },
}

/// One line of the history: an operation and when it completed (ms since the run started).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Event {
    /// Milliseconds since the run started.
    pub time_ms: u64,
    /// The operation.
    #[serde(flatten)]
    pub op: Op,
}

/// An append-only history shared by the clients of a run, written to a JSON-lines file.
#[derive(Clone)]
pub struct History {
    inner: Arc<Mutex<Writer>>,
    start: Instant,
}

struct Writer {
    file: std::io::BufWriter<std::fs::File>,
    events: usize,
}

impl History {
    /// A new, empty history in `path` (replaced if it exists).
    pub fn create(path: &Path) -> std::io::Result<History> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        Ok(History {
            inner: Arc::new(Mutex::new(Writer { file, events: 0 })),
            start: Instant::now(),
        })
    }

    /// Appends `op`. A history that cannot be written makes the run worthless, so this panics.
    pub fn record(&self, op: Op) {
        let event = Event {
            time_ms: self.start.elapsed().as_millis() as u64,
            op,
        };
        let line = serde_json::to_string(&event).expect("history event serializes");
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(w.file, "{line}").expect("history written");
        w.events += 1;
    }

    /// How many events were recorded.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).events
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes the file.
    pub fn flush(&self) -> std::io::Result<()> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file
            .flush()
    }
}

/// Reads a history file back.
pub fn read(path: &Path) -> std::io::Result<Vec<Event>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut events = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(&line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: {e}", path.display(), n + 1),
            )
        })?;
        events.push(event);
    }
    Ok(events)
}
