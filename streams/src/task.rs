//! A task: instances of a topology's nodes and stores that records run through, depth-first,
//! each forwarded record finishing its way through the children before the next one goes (as
//! Kafka Streams' `StreamTask` runs them). The [`crate::TestDriver`] runs one task over the
//! whole topology; the runtime on brokers runs one per sub-topology and partition.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use hashlink::LinkedHashMap;

use crate::processor::{
    Change, Context, DynRecord, Node, OutputRecord, PartitionCounts, PunctuationType,
    RecordMetadata, StreamsError, TaskId,
};
use crate::store::global::GlobalStores;
use crate::store::{KeyValueBytes, StoreDef};
use crate::topology::Topology;

/// A store instance of a task, with where its writes are logged.
pub(crate) struct StoreSlot {
    pub def: StoreDef,
    pub store: Box<dyn KeyValueBytes>,
    /// The changelog topic, when the store is logged.
    pub changelog: Option<Arc<str>>,
    /// The write cache, when the store has one: updates not yet logged nor forwarded.
    cache: Option<Cache>,
}

/// Updates of a store waiting for the cache's flush, by key, the least recently updated first
/// (Kafka Streams' dirty keys), and the node that forwards them. A linked hash map: an update
/// moves its key to the back and an eviction takes the front, each in constant time.
#[derive(Default)]
struct Cache {
    pending: LinkedHashMap<Vec<u8>, Pending>,
    bytes: usize,
    owner: usize,
}

struct Pending {
    /// The stored bytes (`None`: deleted).
    value: Option<Vec<u8>>,
    /// The changelog record's timestamp.
    log_timestamp: i64,
    /// Whether the store held the key before the first cached update: a deletion of a key
    /// that was never stored is neither logged nor forwarded (as Kafka's caching stores skip
    /// an entry whose old and new values are both null).
    had_value: bool,
    /// The change to forward.
    record: DynRecord,
}

/// What a cached entry costs besides its key and value bytes (Kafka counts a fixed overhead
/// per entry too).
const ENTRY_OVERHEAD: usize = 64;

fn pending_size(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

/// A punctuation schedule of a node.
struct Scheduled {
    id: u64,
    node: usize,
    kind: PunctuationType,
    interval: i64,
    /// When it fires next.
    next: i64,
}

impl Scheduled {
    /// Moves to the first time after `now` (at least the schedule's time) on the schedule's
    /// grid, times missed skipped as Kafka Streams skips them; `false` when there is none
    /// (past `i64::MAX`).
    fn advance(&mut self, now: i64) -> bool {
        let missed = (now - self.next) / self.interval;
        let next = (missed + 1)
            .checked_mul(self.interval)
            .and_then(|step| self.next.checked_add(step));
        match next {
            Some(next) if next > now => {
                self.next = next;
                true
            }
            _ => false,
        }
    }
}

pub(crate) struct Task {
    /// Each node's instance (`None` for sources, which only decode, for nodes of other
    /// sub-topologies, and while a node runs).
    nodes: Vec<Option<Box<dyn Node>>>,
    children: Vec<Vec<usize>>,
    /// The nodes' names (a processor forwards to a child by name).
    names: Vec<String>,
    /// The stores by id (`None`: not this task's).
    stores: Vec<Option<StoreSlot>>,
    application_id: String,
    /// The task's id (its partition is the one changelog records go to).
    id: TaskId,
    /// The largest timestamp of the records processed (-1: none yet).
    stream_time: i64,
    /// The wall clock as last given (ms since the epoch).
    wall_clock: i64,
    /// Where the record being processed was read.
    current: Option<RecordMetadata>,
    /// The nodes' punctuation schedules.
    schedules: Vec<Scheduled>,
    last_schedule: u64,
    /// The nodes whose `init` succeeded (and which are to be closed).
    initialized: Vec<bool>,
    /// The most bytes the write caches may hold (`cache.max.bytes.buffering`'s share).
    cache_max_bytes: usize,
    cache_bytes: usize,
    /// What sinks and changelogs wrote, in order, until taken.
    produced: Vec<OutputRecord>,
    /// State shared by several nodes, by id.
    shared: HashMap<usize, Option<Box<dyn Any + Send>>>,
    /// The instance's global stores, when the task runs on brokers (the test driver keeps
    /// global stores in its one task).
    globals: Option<Arc<GlobalStores>>,
    /// The partitions of topics, when the task runs on brokers (every topic of the test
    /// driver has one).
    partition_counts: Option<PartitionCounts>,
    /// Changelog records written since the last checkpoint of the persistent stores.
    logged: u64,
    /// What keeps other threads out of the task's state directory while its files are open
    /// (declared last: released after the stores are closed).
    dir_lock: Option<Box<dyn Send>>,
}

impl Task {
    /// Instances of the nodes `members` of `topology` and of the stores they use, for task
    /// `id` of application `application_id`; the stores' write caches hold at most
    /// `cache_max_bytes` (0: no caching); persistent stores are files in `state_dir` (the
    /// task's directory). The nodes run once [`Task::init`] prepared them.
    pub fn new(
        topology: &Topology,
        members: &[usize],
        (application_id, id): (&str, TaskId),
        cache_max_bytes: usize,
        state_dir: Option<&std::path::Path>,
    ) -> Result<Task, StreamsError> {
        let mut stores: Vec<Option<StoreSlot>> = (0..topology.stores.len()).map(|_| None).collect();
        for store_id in topology.stores_of(members) {
            let def = topology.stores[store_id].clone();
            let cached = def.cached && cache_max_bytes > 0;
            stores[store_id] = Some(StoreSlot {
                store: def.create(cached, state_dir)?,
                changelog: def
                    .logged
                    .then(|| Arc::from(def.changelog_topic(application_id))),
                cache: cached.then(Cache::default),
                def,
            });
        }
        Ok(Task {
            nodes: topology
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    if members.contains(&i) {
                        n.factory.as_ref().map(|f| f())
                    } else {
                        None
                    }
                })
                .collect(),
            children: topology.children(),
            names: topology.nodes.iter().map(|n| n.name.clone()).collect(),
            stores,
            application_id: application_id.to_string(),
            id,
            stream_time: -1,
            wall_clock: 0,
            current: None,
            schedules: Vec::new(),
            last_schedule: 0,
            initialized: vec![false; topology.nodes.len()],
            cache_max_bytes,
            cache_bytes: 0,
            produced: Vec::new(),
            shared: HashMap::new(),
            globals: None,
            partition_counts: None,
            logged: 0,
            dir_lock: None,
        })
    }

    /// This task holding `lock` (on its state directory) as long as it lives.
    pub fn holding(mut self, lock: impl Send + 'static) -> Task {
        self.dir_lock = Some(Box::new(lock));
        self
    }

    /// Changelog records written since the last [`Task::make_durable`].
    pub fn logged_since_durable(&self) -> u64 {
        self.logged
    }

    /// Puts every update of the stores so far into their files for good (nothing to do for
    /// stores in memory): what a checkpoint then records.
    pub fn make_durable(&mut self) -> Result<(), StreamsError> {
        for slot in self.stores.iter_mut().flatten() {
            slot.store.commit()?;
            slot.store.make_durable()?;
        }
        self.logged = 0;
        Ok(())
    }

    /// This task finding the partitions of topics with `counts`.
    pub fn with_partition_counts(mut self, counts: PartitionCounts) -> Task {
        self.partition_counts = Some(counts);
        self
    }

    /// Initializes the nodes, in the order they were defined, with the wall clock at `now`
    /// (their stores restored by now): they may read their stores and schedule punctuations.
    /// A node whose `init` failed is not closed.
    pub fn init(&mut self, now: i64) -> Result<(), StreamsError> {
        self.wall_clock = now;
        for node in 0..self.nodes.len() {
            self.with_node(node, |instance, ctx| instance.init(ctx))?;
            self.initialized[node] = true;
        }
        Ok(())
    }

    /// Closes the nodes that were initialized (once).
    pub fn close(&mut self) {
        for (node, initialized) in self.nodes.iter_mut().zip(&mut self.initialized) {
            if let (Some(node), true) = (node, std::mem::take(initialized)) {
                node.close();
            }
        }
    }

    /// Runs `f` on node `node`'s instance, if it has one here.
    fn with_node(
        &mut self,
        node: usize,
        f: impl FnOnce(&mut dyn Node, &mut dyn Context) -> Result<(), StreamsError>,
    ) -> Result<(), StreamsError> {
        let Some(mut instance) = self.nodes.get_mut(node).and_then(Option::take) else {
            return Ok(());
        };
        let result = f(instance.as_mut(), &mut NodeContext { task: self, node });
        self.nodes[node] = Some(instance);
        result
    }

    /// Moves the wall clock to `now` and runs the wall-clock punctuations due.
    pub fn advance_wall_clock(&mut self, now: i64) -> Result<(), StreamsError> {
        self.wall_clock = self.wall_clock.max(now);
        self.punctuate(PunctuationType::WallClockTime, self.wall_clock)
    }

    /// Takes up the stream time a previous run of the task reached (from its committed
    /// partition times), before it processes anything.
    pub fn restore_stream_time(&mut self, time: i64) {
        self.stream_time = self.stream_time.max(time);
    }

    /// Runs the stream-time punctuations due.
    pub fn punctuate_stream_time(&mut self) -> Result<(), StreamsError> {
        if self.schedules.is_empty() || self.stream_time < 0 {
            return Ok(());
        }
        self.punctuate(PunctuationType::StreamTime, self.stream_time)
    }

    /// Runs the punctuations of `kind` due at `now`, earliest first, each once however many
    /// of its times passed, until none is due (a punctuation may schedule another). A failed
    /// punctuation ends the call; calling again runs the others due.
    fn punctuate(&mut self, kind: PunctuationType, now: i64) -> Result<(), StreamsError> {
        self.current = None;
        loop {
            let due = self
                .schedules
                .iter()
                .enumerate()
                .filter(|(_, s)| s.kind == kind && s.next <= now)
                .min_by_key(|(_, s)| (s.next, s.id))
                .map(|(i, _)| i);
            let Some(i) = due else {
                return Ok(());
            };
            // the next time is set first: the punctuation may cancel its schedule; one with
            // no time left after this one ends with it
            let schedule = &mut self.schedules[i];
            let (id, node) = (schedule.id, schedule.node);
            if !schedule.advance(now) {
                self.schedules.remove(i);
            }
            self.with_node(node, |instance, ctx| instance.punctuate(id, now, ctx))?;
        }
    }

    /// This task reading global tables from `globals`.
    pub fn with_globals(mut self, globals: Arc<GlobalStores>) -> Task {
        self.globals = Some(globals);
        self
    }

    /// Logs and forwards every cached update, until no cache holds any (a forwarded update may
    /// fill another store's cache); then the stores commit their writes.
    pub fn flush(&mut self) -> Result<(), StreamsError> {
        while let Some(id) = self.stores.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| s.cache.as_ref().is_some_and(|c| !c.pending.is_empty()))
        }) {
            self.evict(id, usize::MAX)?;
        }
        for slot in self.stores.iter_mut().flatten() {
            slot.store.commit()?;
        }
        Ok(())
    }

    /// Logs and forwards the `n` least recently updated entries of store `id`'s cache.
    fn evict(&mut self, id: usize, n: usize) -> Result<(), StreamsError> {
        let Some(cache) = self.stores[id].as_mut().and_then(|s| s.cache.as_mut()) else {
            return Ok(());
        };
        let owner = cache.owner;
        let count = n.min(cache.pending.len());
        let taken: Vec<(Vec<u8>, Pending)> = (0..count)
            .map_while(|_| cache.pending.pop_front())
            .collect();
        let freed: usize = taken
            .iter()
            .map(|(k, p)| pending_size(k, p.value.as_deref()))
            .sum();
        cache.bytes -= freed;
        self.cache_bytes -= freed;
        let key_value = self.stores[id]
            .as_ref()
            .is_some_and(|s| s.def.kind == crate::store::StoreKind::KeyValue);
        for (key, mut pending) in taken {
            if pending.value.is_none() && !pending.had_value {
                continue;
            }
            if pending.value.is_none() && key_value {
                // (Kafka's cache forwards a deletion at the timestamp of the record that made
                // it, not the one computed for the change)
                pending.record.timestamp = pending.log_timestamp;
            }
            self.log(id, &key, pending.value.as_deref(), pending.log_timestamp);
            NodeContext {
                task: self,
                node: owner,
            }
            .forward(pending.record)?;
        }
        Ok(())
    }

    /// Writes a store's update to its changelog, if it has one: the value without the
    /// timestamp a timestamped store keeps in front, which travels as the record's.
    fn log(&mut self, id: usize, key: &[u8], value: Option<&[u8]>, timestamp: i64) {
        let partition = self.id.partition;
        let Some(slot) = self.stores[id].as_ref() else {
            return;
        };
        if let Some(topic) = &slot.changelog {
            let value = match value {
                Some(v) if slot.def.timestamped => v.get(8..).map(<[u8]>::to_vec),
                v => v.map(<[u8]>::to_vec),
            };
            let record = OutputRecord {
                topic: topic.clone(),
                partition: Some(partition),
                key: Some(key.to_vec()),
                value,
                timestamp,
                headers: Vec::new(),
            };
            self.produced.push(record);
            self.logged += 1;
        }
    }

    /// Runs `record`, read by source `source` from `metadata`'s place, through its children
    /// (the stream-time punctuations it made due are for [`Task::punctuate_stream_time`]).
    pub fn process(
        &mut self,
        source: usize,
        record: DynRecord,
        metadata: RecordMetadata,
    ) -> Result<(), StreamsError> {
        self.stream_time = self.stream_time.max(record.timestamp);
        self.current = Some(metadata);
        let mut result = Ok(());
        // (by index: the children list is not copied per record)
        for i in 0..self.children[source].len() {
            let child = self.children[source][i];
            result = self.run(child, record.clone());
            if result.is_err() {
                break;
            }
        }
        self.current = None;
        result
    }

    /// What the sinks and changelogs wrote since the last call.
    pub fn take_produced(&mut self) -> Vec<OutputRecord> {
        std::mem::take(&mut self.produced)
    }

    /// Moves what the sinks and changelogs wrote since the last call to the end of `into`
    /// (the task keeps its buffer: nothing is allocated per record).
    pub fn drain_produced_into(&mut self, into: &mut Vec<OutputRecord>) {
        into.append(&mut self.produced);
    }

    /// Store `id`, if this task has it.
    pub fn store(&self, id: usize) -> Option<&StoreSlot> {
        self.stores.get(id).and_then(Option::as_ref)
    }

    /// Store `id` for restoring it from its changelog (writes are not logged again).
    pub fn store_mut(&mut self, id: usize) -> Option<&mut StoreSlot> {
        self.stores.get_mut(id).and_then(Option::as_mut)
    }

    fn run(&mut self, node: usize, record: DynRecord) -> Result<(), StreamsError> {
        let Some(mut instance) = self.nodes.get_mut(node).and_then(Option::take) else {
            return Err(StreamsError::Topology(format!(
                "node {node} has no processor to run (a cycle?)"
            )));
        };
        let result = instance.process(record, &mut NodeContext { task: self, node });
        self.nodes[node] = Some(instance);
        result
    }
}

impl Drop for Task {
    /// Closes the nodes that were initialized.
    fn drop(&mut self) {
        self.close();
    }
}

struct NodeContext<'a> {
    task: &'a mut Task,
    node: usize,
}

impl NodeContext<'_> {
    fn slot(&self, id: usize) -> Result<&StoreSlot, StreamsError> {
        self.task.store(id).ok_or_else(|| {
            StreamsError::UnknownStore(format!("node {} has no store {id}", self.node))
        })
    }
}

impl Context for NodeContext<'_> {
    fn forward(&mut self, record: DynRecord) -> Result<(), StreamsError> {
        let children = &self.task.children[self.node];
        match children.len() {
            0 => Ok(()),
            1 => {
                let child = children[0];
                self.task.run(child, record)
            }
            n => {
                for i in 0..n {
                    let child = self.task.children[self.node][i];
                    self.task.run(child, record.clone())?;
                }
                Ok(())
            }
        }
    }

    fn forward_to(&mut self, child: usize, record: DynRecord) -> Result<(), StreamsError> {
        let Some(&target) = self.task.children[self.node].get(child) else {
            return Err(StreamsError::Topology(format!(
                "node {} has no child {child}",
                self.node
            )));
        };
        self.task.run(target, record)
    }

    fn child_named(&self, name: &str) -> Option<usize> {
        self.task.children[self.node]
            .iter()
            .position(|&c| self.task.names.get(c).is_some_and(|n| n == name))
    }

    fn produce(&mut self, record: OutputRecord) {
        self.task.produced.push(record);
    }

    fn application_id(&self) -> &str {
        &self.task.application_id
    }

    fn store(&self, id: usize) -> Result<&dyn KeyValueBytes, StreamsError> {
        Ok(self.slot(id)?.store.as_ref())
    }

    fn store_kind(&self, id: usize) -> Option<crate::store::StoreKind> {
        self.task.store(id).map(|s| s.def.kind)
    }

    fn global_get(&self, id: usize, key: &[u8]) -> Result<Option<Vec<u8>>, StreamsError> {
        if let Some(slot) = self.task.store(id) {
            return Ok(slot.store.get(key).map(<[u8]>::to_vec));
        }
        match &self.task.globals {
            Some(globals) => Ok(globals.get(id, key)),
            None => Err(StreamsError::UnknownStore(format!(
                "node {} reads a global store {id} this instance does not keep",
                self.node
            ))),
        }
    }

    fn task_state(&mut self, id: usize) -> &mut Option<Box<dyn Any + Send>> {
        self.task.shared.entry(id).or_default()
    }

    fn schedule(&mut self, interval_ms: i64, kind: PunctuationType) -> u64 {
        let task = &mut *self.task;
        task.last_schedule += 1;
        let interval = interval_ms.max(1);
        // stream time on a grid from 0, the wall clock from now
        let next = match kind {
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => task.wall_clock.saturating_add(interval),
        };
        task.schedules.push(Scheduled {
            id: task.last_schedule,
            node: self.node,
            kind,
            interval,
            next,
        });
        task.last_schedule
    }

    fn cancel(&mut self, schedule: u64) {
        let node = self.node;
        self.task
            .schedules
            .retain(|s| !(s.id == schedule && s.node == node));
    }

    fn stream_time(&self) -> i64 {
        self.task.stream_time
    }

    fn wall_clock(&self) -> i64 {
        self.task.wall_clock
    }

    fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.task.current.as_ref()
    }

    fn task_id(&self) -> TaskId {
        self.task.id
    }

    fn partitions(&self, topic: &str) -> Result<i32, StreamsError> {
        match &self.task.partition_counts {
            Some(counts) => counts(topic),
            None => Ok(1),
        }
    }

    fn put(
        &mut self,
        id: usize,
        key: &[u8],
        value: Option<&[u8]>,
        log_timestamp: i64,
    ) -> Result<(), StreamsError> {
        self.slot(id)?;
        if let Some(slot) = self.task.store_mut(id) {
            slot.store.put(key, value);
            self.task.log(id, key, value, log_timestamp);
        }
        Ok(())
    }

    fn put_and_forward(
        &mut self,
        id: usize,
        key: &[u8],
        value: Option<&[u8]>,
        log_timestamp: i64,
        record: DynRecord,
    ) -> Result<(), StreamsError> {
        self.slot(id)?;
        let node = self.node;
        let Some(slot) = self.task.store_mut(id) else {
            return Ok(());
        };
        let Some(cache) = slot.cache.as_mut() else {
            slot.store.put(key, value);
            self.task.log(id, key, value, log_timestamp);
            return self.forward(record);
        };
        cache.owner = node;
        let added = pending_size(key, value);
        let freed;
        // (a key updated again is moved to the back and updated in place: no allocation)
        if let Some(earlier) = cache.pending.to_back(key) {
            freed = pending_size(key, earlier.value.as_deref());
            match (value, earlier.value.as_mut()) {
                (Some(v), Some(buf)) => {
                    buf.clear();
                    buf.extend_from_slice(v);
                }
                (v, _) => earlier.value = v.map(<[u8]>::to_vec),
            }
            earlier.log_timestamp = log_timestamp;
            // the change keeps the value from before the first cached update
            let mut record = record;
            if let (Ok(first), Ok(now)) = (
                crate::processor::typed::<Change>(&earlier.record.value),
                crate::processor::typed::<Change>(&record.value),
            ) {
                record.value = Arc::new(Change {
                    new: Arc::clone(&now.new),
                    old: first.old.clone(),
                });
            }
            earlier.record = record;
        } else {
            freed = 0;
            let had_value = slot.store.retains(key);
            cache.pending.insert(
                key.to_vec(),
                Pending {
                    value: value.map(<[u8]>::to_vec),
                    log_timestamp,
                    had_value,
                    record,
                },
            );
        }
        slot.store.put(key, value);
        cache.bytes = cache.bytes + added - freed;
        self.task.cache_bytes = self.task.cache_bytes + added - freed;
        while self.task.cache_bytes > self.task.cache_max_bytes {
            let before = self.task.cache_bytes;
            self.task.evict(id, 1)?;
            if self.task.cache_bytes == before {
                break;
            }
        }
        Ok(())
    }
}
