//! Standby tasks: copies of other instances' task state, kept warm by reading their changelogs
//! as they are written, so that a task that moves here starts from its standby state and reads
//! only what it missed (`num.standby.replicas`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::assignor::TaskId;
use super::query::{locked, SharedTask};
use super::restore::apply;
use super::thread::NewTask;

/// A standby task: its stores, their changelogs, and how far each was read.
pub(crate) struct Standby {
    /// (shared with queries of stale stores)
    pub task: SharedTask,
    /// Store id and changelog topic of each logged store.
    pub stores: Vec<(usize, String)>,
    /// The next offset to read per changelog topic (the task's partition).
    pub next: BTreeMap<String, i64>,
}

/// A thread's standby tasks.
#[derive(Default)]
pub(crate) struct Standbys {
    tasks: BTreeMap<TaskId, Standby>,
}

impl Standbys {
    /// Keeps the standbys in `wanted`, adds the missing ones with `make` (which says where
    /// each changelog is read from), drops the others.
    pub fn set(
        &mut self,
        wanted: &BTreeSet<TaskId>,
        mut make: impl FnMut(TaskId) -> Option<NewTask>,
    ) {
        self.retain(|id| wanted.contains(id));
        for &id in wanted {
            if self.tasks.contains_key(&id) {
                continue;
            }
            if let Some((task, stores, next)) = make(id) {
                let task = Arc::new(std::sync::Mutex::new(task));
                self.tasks.insert(id, Standby { task, stores, next });
            }
        }
    }

    /// Takes out the standbys `keep` says no to.
    pub fn retain(&mut self, mut keep: impl FnMut(&TaskId) -> bool) -> Vec<(TaskId, Standby)> {
        let gone: Vec<TaskId> = self.tasks.keys().filter(|id| !keep(id)).copied().collect();
        gone.into_iter()
            .filter_map(|id| self.tasks.remove(&id).map(|s| (id, s)))
            .collect()
    }

    /// The standby of `id`, taken out (it becomes active).
    pub fn take(&mut self, id: TaskId) -> Option<Standby> {
        self.tasks.remove(&id)
    }

    /// The standby tasks, for queries of stale stores.
    pub fn shared(&self) -> BTreeMap<TaskId, SharedTask> {
        self.tasks
            .iter()
            .map(|(id, s)| (*id, Arc::clone(&s.task)))
            .collect()
    }

    /// The standby tasks.
    pub fn ids(&self) -> Vec<TaskId> {
        self.tasks.keys().copied().collect()
    }

    /// The changelog partitions to read, each from where its standby stands.
    pub fn assignment(&self) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for (id, s) in &self.tasks {
            for (_, topic) in &s.stores {
                let offset = s
                    .next
                    .get(topic)
                    .map_or(Offset::Beginning, |&o| Offset::Offset(o));
                // a topic name librdkafka refuses was refused when the store was made
                let _ = list.add_partition_offset(topic, id.partition, offset);
            }
        }
        list
    }

    /// Applies a changelog record to the standby it belongs to.
    pub fn apply(&mut self, msg: &BorrowedMessage<'_>) {
        let partition = msg.partition();
        for (id, s) in &mut self.tasks {
            if id.partition != partition {
                continue;
            }
            if let Some((store, topic)) = s.stores.iter().find(|(_, t)| t == msg.topic()) {
                apply(&mut locked(&s.task), *store, msg);
                s.next.insert(topic.clone(), msg.offset() + 1);
                return;
            }
        }
    }
}
