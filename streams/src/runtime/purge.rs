//! Deleting repartition records once they are committed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::plan::Plan;

/// Deletes the records of repartition topics below their committed offsets, as Kafka Streams
/// does after commits: they were processed, and repartition topics keep records forever
/// otherwise (`retention.ms=-1`).
pub(crate) struct Purger {
    pub admin: Option<AdminClient<DefaultClientContext>>,
    pub interval: Duration,
    pub last: Instant,
    /// The committed offsets of repartition partitions not purged yet.
    pub pending: BTreeMap<(String, i32), i64>,
}

impl Purger {
    /// Notes committed offsets; purges when the interval passed.
    pub fn committed(&mut self, plan: &Plan, offsets: &[(String, i32, i64, i64)]) {
        for (t, p, o, _) in offsets {
            if plan.repartition.contains(t) {
                self.pending.insert((t.clone(), *p), *o);
            }
        }
        if self.pending.is_empty() || self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        let Some(admin) = &self.admin else {
            return;
        };
        let mut list = TopicPartitionList::new();
        for ((t, p), o) in std::mem::take(&mut self.pending) {
            if list.add_partition_offset(&t, p, Offset::Offset(o)).is_err() {
                return;
            }
        }
        // the request is queued at once; its answer is not waited for (a purge that fails is
        // retried with the next commit's offsets)
        drop(admin.delete_records(&list, &AdminOptions::new()));
        tracing::debug!("purging {} committed repartition partitions", list.count());
    }
}
