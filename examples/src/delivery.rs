//! Delivery semantics with manual offset commits, as Kafka's consumer documentation describes
//! them. Both loops poll a batch of records, and differ only in when they commit:
//!
//! - **at least once**: process every record of the batch, *then* commit the offsets after it.
//!   If the process dies between the two, the batch is delivered again after the restart: no
//!   record is lost, some may be processed twice.
//! - **at most once**: commit the offsets after the batch *first*, then process it. If the
//!   process dies between the two, the batch is never delivered again: no record is processed
//!   twice, some may be lost.
//!
//! (Exactly once needs transactions: the offsets are committed inside the transaction that
//! writes the results.)

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

/// When offsets are committed relative to processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// Process, then commit.
    AtLeastOnce,
    /// Commit, then process.
    AtMostOnce,
}

/// A consumer group member configured for manual commits.
pub fn consumer(bootstrap: &str, group: &str, topic: &str) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        // we commit ourselves, at the point the semantics require
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

/// What the loop hands to the application: one record's partition, offset and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Value (UTF-8, lossy).
    pub value: String,
}

/// Offsets to commit after a batch: the next offset to read, per partition.
fn next_offsets(batch: &[BorrowedMessage<'_>]) -> anyhow::Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for m in batch {
        tpl.add_partition_offset(m.topic(), m.partition(), Offset::Offset(m.offset() + 1))?;
    }
    Ok(tpl)
}

/// Polls up to `batch_size` records (waiting at most `wait` for the first), then commits and
/// processes them in the order `semantics` says. `process` returns false to stop the loop
/// right there, as a crash would: for at-least-once the batch is then not committed, for
/// at-most-once it already is. Returns after `batches` batches, or when `process` stops it.
pub fn run(
    consumer: &BaseConsumer,
    semantics: Semantics,
    batch_size: usize,
    batches: usize,
    wait: Duration,
    mut process: impl FnMut(&Record) -> bool,
) -> anyhow::Result<()> {
    for _ in 0..batches {
        let mut batch = Vec::new();
        let mut timeout = wait;
        while batch.len() < batch_size {
            match consumer.poll(timeout) {
                Some(Ok(m)) => batch.push(m),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
            timeout = Duration::from_millis(10);
        }
        if batch.is_empty() {
            continue;
        }
        if semantics == Semantics::AtMostOnce {
            consumer.commit(&next_offsets(&batch)?, CommitMode::Sync)?;
        }
        for m in &batch {
            let record = Record {
                partition: m.partition(),
                offset: m.offset(),
                value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            };
            if !process(&record) {
                return Ok(());
            }
        }
        if semantics == Semantics::AtLeastOnce {
            consumer.commit(&next_offsets(&batch)?, CommitMode::Sync)?;
        }
    }
    Ok(())
}
