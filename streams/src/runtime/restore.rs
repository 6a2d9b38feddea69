//! Restoring a task's stores from their changelog topics: each changelog partition is read
//! from its start to its end as it is when the restore begins, and each record put into the
//! store (a record without a value deletes its key).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::processor::StreamsError;
use crate::store::with_timestamp;
use crate::task::Task;

/// How long a restore may go without reading anything before it is an error: longer than a
/// transaction may stay open in the changelog (the end waits for it, read committed).
const STALL: Duration = Duration::from_secs(300);

/// Restores the logged `stores` (id and changelog) of `task` from partition `partition` of
/// their changelogs, each from `from`'s offset for it (else from its start) to its end; the
/// number of records read.
pub(crate) fn restore(
    consumer: &BaseConsumer,
    task: &mut Task,
    stores: &[(usize, String)],
    partition: i32,
    from: &BTreeMap<String, i64>,
) -> Result<u64, StreamsError> {
    let kafka = |e: KafkaError| StreamsError::Kafka(e.to_string());
    let mut total = 0;
    for (id, topic) in stores {
        let (low, high) =
            super::watermarks::watermarks(consumer, topic, partition, Duration::from_secs(30))
                .map_err(kafka)?;
        let start = from.get(topic).copied().unwrap_or(low).max(low);
        if high <= start {
            continue;
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(kafka)?;
        consumer.assign(&list).map_err(kafka)?;
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut next = start;
        while next < high {
            let msg = match consumer.poll(Duration::from_millis(50)) {
                None => {
                    // read committed, the end may be transaction markers the position passed
                    if position(consumer, topic, partition).is_some_and(|p| p >= high) {
                        break;
                    }
                    if last_progress.elapsed() > STALL {
                        return Err(StreamsError::Kafka(format!(
                            "restoring {topic}-{partition} made no progress for {}s (at offset {next} of {high})",
                            STALL.as_secs()
                        )));
                    }
                    continue;
                }
                // a broker that restarts, a leader that moves: the consumer goes on by itself
                Some(Err(e)) => {
                    tracing::debug!("restoring {topic}-{partition}: {e}");
                    continue;
                }
                Some(Ok(m)) => m,
            };
            last_progress = Instant::now();
            next = msg.offset() + 1;
            if apply(task, *id, &msg) {
                total += 1;
            }
        }
        tracing::info!(
            "restored {topic}-{partition} (offsets {start}..{high}) in {} ms",
            started.elapsed().as_millis()
        );
        consumer.unassign().map_err(kafka)?;
    }
    Ok(total)
}

/// Puts a changelog record into store `id` of `task` (no value: deletes the key); whether it
/// was applied (a record without a key is not).
pub(crate) fn apply(task: &mut Task, id: usize, msg: &BorrowedMessage<'_>) -> bool {
    let (Some(slot), Some(key)) = (task.store_mut(id), msg.key()) else {
        return false;
    };
    let ts = msg.timestamp().to_millis().unwrap_or(0);
    match msg.payload() {
        Some(v) if slot.def.timestamped => slot.store.put(key, Some(&with_timestamp(ts, v))),
        Some(v) => slot.store.put(key, Some(v)),
        None => slot.store.put(key, None),
    }
    true
}

/// Where `consumer` will fetch `topic`-`partition` next, once it has fetched.
fn position(consumer: &BaseConsumer, topic: &str, partition: i32) -> Option<i64> {
    consumer
        .position()
        .ok()?
        .find_partition(topic, partition)
        .and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
}
