//! A stream thread: runs its tasks over the records of their partitions, with its own consumer
//! and producer, and commits every `commit.interval.ms` (at least once: caches flushed, every
//! output acknowledged by the brokers, then the input offsets committed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot};

use super::assignor::TaskId;
use super::checkpoint;
use super::coordinator::{Event, Position};
use super::fetched::{Batch, Fetched, Poller};
use super::inputs::{Input, Route, Routes};
use super::output::{emit, send, Deliveries};
use super::partition_time;
use super::plan::Plan;
use super::producer::ThreadProducer;
use super::purge::Purger;
use super::query::{locked, Registry, SharedTask};
use super::restore::restore;
use super::standby::Standbys;
use super::task_dirs::TaskDirs;
use super::txn_offsets::{send_offsets_to_transaction, GroupMember};
use crate::config::{ClientRole, Guarantee, OnError, StreamsConfig};
use crate::processor::{DynRecord, Header, OutputRecord, RecordMetadata, StreamsError};
use crate::store::global::GlobalStores;
use crate::task::Task;
use crate::topology::{Kind, Topology};

/// What the coordinator tells a thread.
pub(crate) enum Command {
    /// Run these tasks (offsets: where committed input starts), as this group member.
    Assign {
        tasks: BTreeSet<TaskId>,
        standbys: BTreeSet<TaskId>,
        /// Committed positions by input partition.
        offsets: HashMap<(String, i32), Position>,
        /// The partitions of each topic the app reads.
        partitions: Arc<BTreeMap<String, i32>>,
        /// Rebuild every task from its changelogs and committed offsets, even kept ones
        /// (others may have run them meanwhile).
        fresh: bool,
        member: GroupMember,
    },
    /// Commit and stop processing until the next assignment.
    Revoke,
    /// The group dropped this instance: stop processing and drop the tasks without committing
    /// (their work since the last commit is done again by whoever runs them now).
    Lost,
    /// Commit and stop.
    Shutdown,
}

/// Records a thread takes from its consumer between looks at its commands.
const BATCH: usize = 1000;

/// A thread's transactional state under exactly-once.
struct Eos {
    member: GroupMember,
    open: bool,
}

/// Transactions that may fail in a row before the thread gives up.
const MAX_FAILED_TRANSACTIONS: u32 = 5;

/// How long a transaction call may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

/// A task with the input it reads.
struct Running {
    /// The task (shared with queries of its stores).
    task: SharedTask,
    /// Its input partitions.
    inputs: Vec<Input>,
    /// Whether it read anything since its last commit.
    dirty: bool,
}

pub(crate) struct StreamThread {
    index: usize,
    topology: Arc<Topology>,
    plan: Arc<Plan>,
    application_id: String,
    cache: usize,
    /// The instance's global stores, which the tasks' stream-global joins read.
    globals: Arc<GlobalStores>,
    /// Where the thread publishes its tasks for interactive queries.
    registry: Arc<Registry>,
    /// The partitions of output topics, for partitioners.
    partition_counts: crate::processor::PartitionCounts,
    /// Where tasks keep persistent stores: `<state.dir>/<application.id>`.
    state_dir: std::path::PathBuf,
    commit_interval: Duration,
    on_bad_record: OnError,
    on_failed_processing: OnError,
    on_failed_send: OnError,
    reset: Offset,
    commands: Receiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    /// Takes the consumer's records a batch at a time (declared first: dropped before it).
    poller: Poller,
    consumer: BaseConsumer,
    restorer: BaseConsumer,
    producer: ThreadProducer,
    /// How the producer is made (again, after it was fenced).
    producer_config: ClientConfig,
    deliveries: Deliveries,
    /// Exactly once: the group member the offsets are committed for, and whether a
    /// transaction is open. `None` at least once.
    eos: Option<Eos>,
    tasks: BTreeMap<TaskId, Running>,
    /// Copies of other instances' tasks, kept warm through the restore consumer.
    standbys: Standbys,
    /// Input partition → its task, its source node and the topic's name for the records'
    /// metadata.
    routes: Routes,
    /// What a record without headers shares.
    no_headers: Arc<Vec<Header>>,
    /// What the tasks wrote while processing a record, to send.
    produced: Vec<OutputRecord>,
    /// Revoked: waiting for the next assignment.
    suspended: bool,
    /// The partitions of each topic the app reads.
    partitions: Arc<BTreeMap<String, i32>>,
    /// Transactions that failed in a row (a failure that repeats stops the thread).
    failed_transactions: u32,
    /// Deletes repartition records that were committed, every `repartition.purge.interval.ms`.
    purger: Purger,
}

/// A task just made, with its logged stores (id and changelog topic) and where each
/// changelog is to be read from (those its checkpoint covers; the others from their start).
pub(super) type NewTask = (Task, Vec<(usize, String)>, BTreeMap<String, i64>);

/// How long a thread waits for another of the instance to close a task it takes over.
const TASK_DIR_WAIT: Duration = Duration::from_secs(60);

/// The system's time in ms since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// librdkafka stops fetching for `fetch.queue.backoff.ms` (1 s by default) whenever its queue
/// of prefetched records is full, which a consumer that keeps up hits all the time: 1 ms,
/// unless the app set it.
pub(super) fn fetch_without_backoff(config: &mut ClientConfig) {
    if config.get("fetch.queue.backoff.ms").is_none() {
        config.set("fetch.queue.backoff.ms", "1");
    }
}

fn kafka(e: KafkaError) -> StreamsError {
    StreamsError::Kafka(e.to_string())
}

impl StreamThread {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        process_id: &str,
        topology: Arc<Topology>,
        plan: Arc<Plan>,
        config: &StreamsConfig,
        (cache, registry): (usize, Arc<Registry>),
        commands: Receiver<Command>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<StreamThread, StreamsError> {
        let application_id = config.application_id()?.to_string();
        // Kafka Streams' client ids: `<client.id, else application.id-process id>-StreamThread-n-role`
        let client_id = |role: &str| {
            config
                .get("client.id")
                .map_or_else(|| format!("{application_id}-{process_id}"), str::to_string)
                + &format!("-StreamThread-{}-{role}", index + 1)
        };
        let mut consumer_config = ClientConfig::new();
        for (k, v) in config.client_props(ClientRole::MainConsumer) {
            consumer_config.set(k, v);
        }
        let eos = config.processing_guarantee()? == Guarantee::ExactlyOnceV2;
        if eos {
            consumer_config.set("isolation.level", "read_committed");
        }
        let reset = match consumer_config.get("auto.offset.reset") {
            Some("latest") | Some("largest") | Some("end") => Offset::End,
            _ => Offset::Beginning,
        };
        // the group id lets librdkafka take explicit assignments; offsets are committed by the
        // instance's group member, never by this consumer, which never subscribes (without the
        // fetch backoff the thread ran at a third of its records/s)
        consumer_config
            .set("group.id", &application_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false")
            .set("client.id", client_id("consumer"));
        fetch_without_backoff(&mut consumer_config);
        let mut restore_config = ClientConfig::new();
        for (k, v) in config.client_props(ClientRole::RestoreConsumer) {
            restore_config.set(k, v);
        }
        if eos {
            restore_config.set("isolation.level", "read_committed");
        }
        // an offset gone from a changelog (compacted or deleted) restarts from the earliest
        restore_config
            .set("auto.offset.reset", "earliest")
            .set("group.id", format!("{application_id}-restore"))
            .set("enable.auto.commit", "false")
            .set("client.id", client_id("restore-consumer"));
        fetch_without_backoff(&mut restore_config);
        let mut producer_config = ClientConfig::new();
        // Kafka's partitioner, so keys land where Java clients put them; librdkafka's linger
        // (Kafka Streams lingers 100 ms, but the Java producer's flush sends at once what
        // lingers, and librdkafka's flush as rust-rdkafka calls it does not: each commit waited
        // for the linger, which cost exactly once a third of its records/s); delivery reports
        // only for failures (the only ones the thread looks at: a commit waits for every send
        // with `flush`), which spares the thread an event per record
        producer_config
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("delivery.report.only.error", "true");
        for (k, v) in config.client_props(ClientRole::Producer) {
            producer_config.set(k, v);
        }
        producer_config.set("client.id", client_id("producer"));
        if eos {
            // Kafka Streams' transactional id: one producer per thread of this process
            producer_config
                .set(
                    "transactional.id",
                    format!("{application_id}-{process_id}-{}", index + 1),
                )
                .set("enable.idempotence", "true");
            if producer_config.get("transaction.timeout.ms").is_none() {
                producer_config.set("transaction.timeout.ms", "10000");
            }
            // librdkafka's send_offsets_to_transaction waits, without its timeout, for the
            // group coordinator it cached when that broker died and left the metadata, until
            // some broker connection of the producer changes state (librdkafka issues 5456 and
            // 5511); idle connections closed after a while are such changes, and the call then
            // looks the coordinator up again
            if producer_config.get("connections.max.idle.ms").is_none() {
                producer_config.set("connections.max.idle.ms", "15000");
            }
        }
        let deliveries = Deliveries::default();
        let consumer: BaseConsumer = consumer_config.create().map_err(kafka)?;
        let poller = Poller::new(&consumer)?;
        let mut admin_config = ClientConfig::new();
        for (k, v) in config.client_props(ClientRole::Admin) {
            admin_config.set(k, v);
        }
        admin_config.set("client.id", client_id("admin"));
        let partition_counts = super::output::partition_counts(admin_config.clone());
        let purge_ms: u64 = config
            .get("repartition.purge.interval.ms")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(30_000);
        let purger = Purger {
            admin: admin_config
                .create()
                .map_err(|e| tracing::warn!("no purging of repartition topics: {e}"))
                .ok(),
            interval: Duration::from_millis(purge_ms),
            last: Instant::now(),
            pending: BTreeMap::new(),
        };
        let state_dir = config.state_dir().join(&application_id);
        Ok(StreamThread {
            index,
            state_dir,
            topology,
            plan,
            application_id,
            cache,
            globals: Arc::clone(&registry.globals),
            registry,
            partition_counts,
            commit_interval: config.commit_interval()?,
            on_bad_record: config.deserialization_handler()?,
            on_failed_processing: config.processing_handler()?,
            on_failed_send: config.production_handler()?,
            reset,
            commands,
            events,
            poller,
            consumer,
            restorer: restore_config.create().map_err(kafka)?,
            producer: ThreadProducer::new(
                producer_config
                    .create_with_context(deliveries.clone())
                    .map_err(kafka)?,
                &producer_config,
            ),
            producer_config,
            deliveries,
            eos: eos.then(|| Eos {
                member: GroupMember {
                    group_id: String::new(),
                    member_id: String::new(),
                    generation: -1,
                },
                open: false,
            }),
            tasks: BTreeMap::new(),
            standbys: Standbys::default(),
            routes: Routes::default(),
            no_headers: Arc::new(Vec::new()),
            produced: Vec::new(),
            suspended: true,
            purger,
            partitions: Arc::new(BTreeMap::new()),
            failed_transactions: 0,
        })
    }

    /// Runs until told to stop; reports a failure to the coordinator.
    pub fn run(mut self) {
        if let Err(e) = self.run_loop() {
            tracing::error!("stream thread {} failed: {e}", self.index + 1);
            // an open transaction would hold back read-committed readers until it times out
            if self.eos.as_ref().is_some_and(|e| e.open) {
                let _ = self.producer.abort_transaction(Duration::from_secs(5));
            }
            let _ = self.events.send(Event::Failed(e));
        }
        // the tasks close here (their files too), not when the last query lets go of them
        self.tasks.clear();
        let standbys = self.standbys.retain(|_| false);
        self.close_standbys(standbys);
        self.publish();
    }

    /// Drops every task without committing (aborting an open transaction): their state and
    /// positions hold work that was not committed.
    fn drop_tasks(&mut self) -> Result<(), StreamsError> {
        if self.eos.as_ref().is_some_and(|e| e.open) {
            self.abort_or_renew()?;
        }
        self.tasks.clear();
        self.publish();
        self.routes.clear();
        self.poller.forget_topics();
        self.consumer.unassign().map_err(kafka)
    }

    /// Tells queries which tasks the thread runs now.
    fn publish(&self) {
        let tasks = self
            .tasks
            .iter()
            .map(|(id, r)| (*id, Arc::clone(&r.task)))
            .collect();
        self.registry
            .publish(self.index, tasks, self.standbys.shared());
    }

    /// Aborts the open transaction, or makes a new producer when this one cannot.
    fn abort_or_renew(&mut self) -> Result<(), StreamsError> {
        if let Err(e) = self.producer.abort_transaction(TXN_TIMEOUT) {
            tracing::warn!("abort failed ({e}); making a new producer");
            self.renew_producer()?;
        }
        if let Some(eos) = &mut self.eos {
            eos.open = false;
        }
        Ok(())
    }

    /// A new transactional producer in place of one that was fenced or broke.
    fn renew_producer(&mut self) -> Result<(), StreamsError> {
        self.producer = ThreadProducer::new(
            self.producer_config
                .create_with_context(self.deliveries.clone())
                .map_err(kafka)?,
            &self.producer_config,
        );
        self.producer
            .init_transactions(TXN_TIMEOUT)
            .map_err(kafka)?;
        if let Some(eos) = &mut self.eos {
            eos.open = false;
        }
        Ok(())
    }

    fn run_loop(&mut self) -> Result<(), StreamsError> {
        if self.eos.is_some() {
            self.producer
                .init_transactions(TXN_TIMEOUT)
                .map_err(kafka)?;
        }
        let mut last_commit = Instant::now();
        loop {
            match self.commands.try_recv() {
                Ok(Command::Assign {
                    tasks,
                    standbys,
                    offsets,
                    partitions,
                    fresh,
                    member,
                }) => {
                    if let Some(eos) = &mut self.eos {
                        eos.member = member;
                    }
                    self.partitions = partitions;
                    if fresh {
                        self.drop_tasks()?;
                    }
                    self.assign(tasks, standbys, &offsets)?;
                    self.suspended = false;
                    last_commit = Instant::now();
                    let _ = self.events.send(Event::Ready);
                }
                Ok(Command::Revoke) => {
                    self.commit()?;
                    self.suspended = true;
                    let _ = self.events.send(Event::Revoked);
                }
                Ok(Command::Lost) => {
                    self.drop_tasks()?;
                    self.suspended = true;
                    let _ = self.events.send(Event::Revoked);
                }
                Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => {
                    if !self.suspended {
                        self.commit()?;
                    }
                    // a clean close: the next start keeps the files
                    self.checkpoint_tasks(false);
                    let _ = self.events.send(Event::Revoked);
                    return Ok(());
                }
                Err(TryRecvError::Empty) => {}
            }
            if self.suspended || self.tasks.is_empty() {
                if !self.suspended {
                    self.update_standbys();
                }
                self.producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            self.process_batch()?;
            self.punctuate_wall_clock()?;
            self.update_standbys();
            self.producer.poll(Duration::ZERO);
            // (under exactly-once a failed send fails the transaction at its commit)
            if self.eos.is_none() {
                self.check_deliveries()?;
            }
            if last_commit.elapsed() >= self.commit_interval {
                self.commit()?;
                last_commit = Instant::now();
            }
        }
    }

    /// A new task `id` with its logged stores (id and changelog), or `None` when the plan has
    /// no such sub-topology; an error when a persistent store cannot be opened. Persistent
    /// stores keep their files when the task's checkpoint covers every logged one (their
    /// changelogs are then read from past it); else the task's directory is wiped.
    fn make_task(&self, id: TaskId) -> Result<Option<NewTask>, StreamsError> {
        let Some(sub) = self.plan.subs.get(id.subtopology as usize) else {
            return Ok(None);
        };
        let dir = self.state_dir.join(id.to_string());
        let mut from = BTreeMap::new();
        let mut lock = None;
        if self.has_persistent_stores(id) {
            lock = Some(TaskDirs::lock(&self.registry.task_dirs, id, TASK_DIR_WAIT)?);
            match checkpoint::read(&dir).and_then(|c| self.resume_points(id, &c)) {
                Some(points) => {
                    tracing::info!("task {id}: keeps its state files (checkpoint {points:?})");
                    from = points;
                }
                None if dir.exists() => {
                    std::fs::remove_dir_all(&dir).map_err(|e| {
                        StreamsError::Kafka(format!("cannot wipe {}: {e}", dir.display()))
                    })?;
                }
                None => {}
            }
            // exactly once: a process that dies from now on leaves no checkpoint, and its
            // files (which may hold uncommitted updates) are wiped when the task starts again
            if self.eos.is_some() {
                checkpoint::delete(&dir).map_err(|e| {
                    StreamsError::Kafka(format!("cannot delete the checkpoint of task {id}: {e}"))
                })?;
            }
        }
        let mut task = Task::new(
            &self.topology,
            &sub.members,
            (&self.application_id, id),
            self.cache,
            Some(&dir),
        )?
        .with_globals(Arc::clone(&self.globals))
        .with_partition_counts(Arc::clone(&self.partition_counts));
        if let Some(lock) = lock {
            task = task.holding(lock);
        }
        let stores = self
            .topology
            .stores_of(&sub.members)
            .into_iter()
            .filter_map(|s| {
                let def = &self.topology.stores[s];
                def.logged
                    .then(|| (s, def.changelog_topic(&self.application_id)))
            })
            .collect();
        Ok(Some((task, stores, from)))
    }

    /// The stores of task `id`'s sub-topology: id, and changelog topic when logged.
    fn stores_of(&self, id: TaskId) -> Vec<(&crate::store::StoreDef, Option<String>)> {
        let Some(sub) = self.plan.subs.get(id.subtopology as usize) else {
            return Vec::new();
        };
        self.topology
            .stores_of(&sub.members)
            .into_iter()
            .map(|s| {
                let def = &self.topology.stores[s];
                (
                    def,
                    def.logged
                        .then(|| def.changelog_topic(&self.application_id)),
                )
            })
            .collect()
    }

    fn has_persistent_stores(&self, id: TaskId) -> bool {
        self.stores_of(id).iter().any(|(def, _)| def.persistent)
    }

    /// The changelog topics of task `id`'s persistent logged stores: what its checkpoint
    /// covers.
    fn persistent_changelogs(&self, id: TaskId) -> Vec<String> {
        self.stores_of(id)
            .into_iter()
            .filter_map(|(def, changelog)| changelog.filter(|_| def.persistent))
            .collect()
    }

    /// Where each persistent store's changelog is read from after `checkpoint`'s offsets, or
    /// `None` when the checkpoint misses one or one is out of the changelog's range (it was
    /// deleted, recreated, or truncated past it): then the files cannot be trusted.
    fn resume_points(
        &self,
        id: TaskId,
        checkpoint: &checkpoint::Offsets,
    ) -> Option<BTreeMap<String, i64>> {
        let mut points = BTreeMap::new();
        for topic in self.persistent_changelogs(id) {
            let &last = checkpoint.get(&(topic.clone(), id.partition))?;
            let (low, high) = super::watermarks::watermarks(
                &self.restorer,
                &topic,
                id.partition,
                Duration::from_secs(30),
            )
            .map_err(|e| tracing::warn!("task {id}: the offsets of {topic}: {e}"))
            .ok()?;
            let next = last.checked_add(1)?;
            if next < low.max(0) || next > high {
                tracing::warn!(
                    "task {id}: the checkpointed offset {last} of {topic} is out of its range {low}..{high}; the stores are restored from the changelog"
                );
                return None;
            }
            points.insert(topic, next);
        }
        Some(points)
    }

    /// Makes task `id`'s persistent stores durable and writes its checkpoint: for each logged
    /// one, the last offset of its changelog partition, which holds every update written so
    /// far (called once they are all acknowledged, or committed).
    fn write_checkpoint(&self, id: TaskId, task: &mut Task) -> Result<(), StreamsError> {
        if !self.has_persistent_stores(id) {
            return Ok(());
        }
        task.make_durable()?;
        let mut offsets = checkpoint::Offsets::new();
        for topic in self.persistent_changelogs(id) {
            let (_, high) = super::watermarks::watermarks(
                &self.restorer,
                &topic,
                id.partition,
                Duration::from_secs(30),
            )
            .map_err(kafka)?;
            offsets.insert((topic, id.partition), high - 1);
        }
        let dir = self.state_dir.join(id.to_string());
        checkpoint::write(&dir, &offsets).map_err(|e| {
            StreamsError::Kafka(format!("cannot write the checkpoint of task {id}: {e}"))
        })
    }

    /// Closes standby tasks, each with a checkpoint of what it read (its files hold only
    /// committed updates: the restore consumer reads committed records under exactly once).
    fn close_standbys(&self, standbys: Vec<(TaskId, super::standby::Standby)>) {
        for (id, standby) in standbys {
            if !self.has_persistent_stores(id) {
                continue;
            }
            let written = locked(&standby.task).make_durable().and_then(|()| {
                let mut offsets = checkpoint::Offsets::new();
                for topic in self.persistent_changelogs(id) {
                    if let Some(&next) = standby.next.get(&topic) {
                        offsets.insert((topic, id.partition), next - 1);
                    }
                }
                checkpoint::write(&self.state_dir.join(id.to_string()), &offsets)
                    .map_err(|e| StreamsError::Kafka(e.to_string()))
            });
            if let Err(e) = written {
                tracing::warn!("standby task {id}: no checkpoint ({e})");
            }
        }
    }

    /// Writes the checkpoint of every task (`only_busy`: of those that logged more than
    /// [`checkpoint::PROGRESS`] records since their last); a failure is logged, not fatal
    /// (the next start restores more of the changelog).
    fn checkpoint_tasks(&self, only_busy: bool) {
        for (&id, running) in &self.tasks {
            let mut task = locked(&running.task);
            if only_busy && task.logged_since_durable() <= checkpoint::PROGRESS {
                continue;
            }
            if let Err(e) = self.write_checkpoint(id, &mut task) {
                tracing::warn!("task {id}: {e}");
            }
        }
    }

    /// Makes the thread run `tasks` and keep `standbys` warm: keeps the tasks it has, restores
    /// the new ones (from their standby state when it has one), and reads every input
    /// partition from where it stands (or from the committed offset).
    fn assign(
        &mut self,
        tasks: BTreeSet<TaskId>,
        standbys: BTreeSet<TaskId>,
        offsets: &HashMap<(String, i32), Position>,
    ) -> Result<(), StreamsError> {
        // tasks that leave are closed (with a checkpoint when they were committed since they
        // last processed) before new ones are made: another thread may be waiting for them
        let leaving: Vec<TaskId> = self
            .tasks
            .keys()
            .filter(|id| !tasks.contains(id))
            .copied()
            .collect();
        for id in leaving {
            if let Some(running) = self.tasks.remove(&id) {
                if self.suspended {
                    if let Err(e) = self.write_checkpoint(id, &mut locked(&running.task)) {
                        tracing::warn!("task {id}: {e}");
                    }
                }
            }
        }
        let dropped = self
            .standbys
            .retain(|id| standbys.contains(id) || tasks.contains(id));
        self.close_standbys(dropped);
        self.publish();
        for &id in &tasks {
            if self.tasks.contains_key(&id) {
                continue;
            }
            let (shared, stores, from) = match self.standbys.take(id) {
                Some(standby) => (standby.task, standby.stores, standby.next),
                None => match self.make_task(id)? {
                    Some((task, stores, from)) => {
                        (Arc::new(std::sync::Mutex::new(task)), stores, from)
                    }
                    None => continue,
                },
            };
            let running = self.start_task(id, shared, &stores, &from, offsets)?;
            self.tasks.insert(id, running);
        }
        let wanted: BTreeSet<TaskId> = standbys.difference(&tasks).copied().collect();
        let mut standbys = std::mem::take(&mut self.standbys);
        standbys.set(&wanted, |id| {
            // (a standby that cannot be made is not kept; the task restores when it moves)
            self.make_task(id)
                .map_err(|e| tracing::warn!("standby task {id}: {e}"))
                .ok()
                .flatten()
        });
        self.standbys = standbys;
        self.restorer
            .assign(&self.standbys.assignment())
            .map_err(kafka)?;
        self.routes.clear();
        let mut list = TopicPartitionList::new();
        let positions = self.positions();
        for (&id, running) in &self.tasks {
            let sub = &self.plan.subs[id.subtopology as usize];
            for (node, topics) in &sub.sources {
                for t in topics {
                    let Some(input) = running.inputs.iter().position(|i| &i.topic == t) else {
                        continue;
                    };
                    let route = Route {
                        task: id,
                        source: *node,
                        topic: Arc::from(t.as_str()),
                        input,
                    };
                    self.routes.insert(t, id.partition, route);
                    let next = running.inputs[input].next;
                    let tp = (t.clone(), id.partition);
                    let offset = match next.or_else(|| positions.get(&tp).copied()) {
                        Some(o) => Offset::Offset(o),
                        None => self.reset,
                    };
                    list.add_partition_offset(t, id.partition, offset)
                        .map_err(kafka)?;
                }
            }
        }
        self.publish();
        self.poller.forget_topics();
        self.consumer.assign(&list).map_err(kafka)
    }

    /// Starts task `id` (made anew or taken from its standby): restores its stores from their
    /// changelogs (each from `from`'s offset, else from its start), sets its stream time from
    /// the committed partition times, runs its processors' init and sends what they wrote.
    fn start_task(
        &mut self,
        id: TaskId,
        shared: SharedTask,
        stores: &[(usize, String)],
        from: &BTreeMap<String, i64>,
        offsets: &HashMap<(String, i32), Position>,
    ) -> Result<Running, StreamsError> {
        let mut task = locked(&shared);
        let restored = restore(&self.restorer, &mut task, stores, id.partition, from)?;
        // at least once, the files now hold the whole changelog
        if self.eos.is_none() {
            self.write_checkpoint(id, &mut task)?;
        }
        if restored > 0 || !from.is_empty() {
            tracing::info!(
                "task {id}: restored {restored} records from its changelogs{}",
                if from.is_empty() {
                    ""
                } else {
                    " (after its standby state or its checkpointed files)"
                }
            );
        }
        let sub = &self.plan.subs[id.subtopology as usize];
        let partitions = &self.partitions;
        let topics: BTreeSet<&String> = sub
            .topics()
            // a topic with fewer partitions has no input for this task
            .filter(|t| partitions.get(*t).is_some_and(|&n| id.partition < n))
            .collect();
        let inputs: Vec<Input> = topics
            .into_iter()
            .map(|t| {
                let committed = offsets.get(&(t.clone(), id.partition));
                Input {
                    topic: t.clone(),
                    partition: id.partition,
                    next: committed.map(|&(offset, _)| offset),
                    time: committed.map_or(partition_time::UNKNOWN, |&(_, time)| time),
                }
            })
            .collect();
        // the stream time goes on from the committed partition times, before the processors
        // start (as Kafka Streams initializes a task's time)
        if let Some(time) = inputs.iter().map(|i| i.time).max() {
            task.restore_stream_time(time);
        }
        task.init(now_ms())?;
        let produced = task.take_produced();
        drop(task);
        self.emit_all(&produced)?;
        Ok(Running {
            task: shared,
            inputs,
            dirty: false,
        })
    }

    /// Applies what the standbys' changelogs got since the last look, without waiting.
    fn update_standbys(&mut self) {
        if self.standbys.ids().is_empty() {
            return;
        }
        for _ in 0..BATCH {
            match self.restorer.poll(Duration::ZERO) {
                Some(Ok(msg)) => self.standbys.apply(&msg),
                Some(Err(e)) => {
                    tracing::debug!("standby read: {e}");
                    break;
                }
                None => break,
            }
        }
    }

    /// Where the consumer stands on each partition it has fetched from.
    fn positions(&self) -> HashMap<(String, i32), i64> {
        let Ok(list) = self.consumer.position() else {
            return HashMap::new();
        };
        list.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect()
    }

    /// Processes up to a batch of records, or what comes within 100 ms.
    fn process_batch(&mut self) -> Result<(), StreamsError> {
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut batch = Batch::new(BATCH);
        // (what is there is taken at once; the clock is read to wait)
        self.poller.poll(&mut batch, Duration::ZERO);
        if batch.len() == 0 {
            self.poller.poll(
                &mut batch,
                deadline.saturating_duration_since(Instant::now()),
            );
        }
        for i in 0..batch.len() {
            let Some(msg) = self.poller.get(&batch, i) else {
                break;
            };
            if !msg.is_record() {
                if let Some(e) = msg.error() {
                    tracing::warn!("consumer error: {e}");
                }
                continue;
            }
            begin(&self.producer, &mut self.eos)?;
            let mut produced = std::mem::take(&mut self.produced);
            let result = process(
                &mut self.tasks,
                &self.routes,
                &self.topology,
                (self.on_bad_record, self.on_failed_processing),
                &self.no_headers,
                &msg,
                &mut produced,
            );
            let sent = produced
                .iter()
                .try_for_each(|out| emit(&self.producer, out, self.send_errors()));
            produced.clear();
            self.produced = produced;
            result?;
            sent?;
        }
        Ok(())
    }

    /// Runs each task's wall-clock punctuations that are due, and sends what they wrote.
    fn punctuate_wall_clock(&mut self) -> Result<(), StreamsError> {
        let now = now_ms();
        let mut produced = Vec::new();
        for (id, running) in &mut self.tasks {
            let mut task = locked(&running.task);
            let result = punctuate_all(self.on_failed_processing, *id, || {
                task.advance_wall_clock(now)
            });
            produced.extend(task.take_produced());
            result?;
        }
        self.emit_all(&produced)
    }

    /// Sends records a task wrote outside of processing an input record (in a punctuation,
    /// or as it started), in the open transaction under exactly-once.
    fn emit_all(&mut self, produced: &[OutputRecord]) -> Result<(), StreamsError> {
        if produced.is_empty() {
            return Ok(());
        }
        begin(&self.producer, &mut self.eos)?;
        for out in produced {
            emit(&self.producer, out, self.send_errors())?;
        }
        Ok(())
    }

    /// What a failed send does: the production handler's choice at least once; under
    /// exactly-once the transaction fails (and is done again), whatever the handler says.
    fn send_errors(&self) -> OnError {
        if self.eos.is_some() {
            OnError::Fail
        } else {
            self.on_failed_send
        }
    }

    /// Fails the thread on a failed send, unless the production handler goes on.
    fn check_deliveries(&self) -> Result<(), StreamsError> {
        let failed = self
            .deliveries
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match (failed, self.send_errors()) {
            (Some(e), OnError::Fail) => Err(StreamsError::Kafka(e)),
            (Some(e), OnError::Continue) => {
                tracing::warn!("{e}; the record is dropped");
                Ok(())
            }
            (None, _) => Ok(()),
        }
    }

    /// Commits what the tasks did since the last commit. At least once: caches flushed, every
    /// output acknowledged, then the input offsets committed through the instance's group
    /// member. Exactly once: outputs, changelogs and input offsets in one transaction; when it
    /// fails, it is aborted and the tasks start again from their last commit.
    fn commit(&mut self) -> Result<(), StreamsError> {
        let mut offsets = Vec::new();
        let mut flushed = Vec::new();
        for running in self.tasks.values_mut() {
            let mut task = locked(&running.task);
            task.flush()?;
            flushed.extend(task.take_produced());
            drop(task);
            if running.dirty {
                for input in &running.inputs {
                    if let Some(o) = input.next {
                        offsets.push((input.topic.clone(), input.partition, o, input.time));
                    }
                }
                running.dirty = false;
            }
        }
        if self.eos.is_some() {
            if flushed.is_empty()
                && offsets.is_empty()
                && !self.eos.as_ref().is_some_and(|e| e.open)
            {
                return Ok(());
            }
            match self.commit_transaction(flushed, &offsets) {
                Ok(()) => {
                    self.failed_transactions = 0;
                    self.purger.committed(&self.plan, &offsets);
                }
                Err(e) => {
                    self.failed_transactions += 1;
                    // a failure that comes back each time (a record too large for the topic)
                    // would abort and redo the same work forever
                    if self.failed_transactions >= MAX_FAILED_TRANSACTIONS {
                        return Err(StreamsError::Kafka(format!(
                            "{MAX_FAILED_TRANSACTIONS} transactions in a row failed; the last: {e}"
                        )));
                    }
                    tracing::warn!(
                        "stream thread {}: the transaction failed ({e}); its tasks start again from their last commit",
                        self.index + 1
                    );
                    self.recover(e)?;
                }
            }
            return Ok(());
        }
        for out in &flushed {
            emit(&self.producer, out, self.on_failed_send)?;
        }
        super::output::flush(&self.producer, Duration::from_secs(120))?;
        self.check_deliveries()?;
        if offsets.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let commit = Event::Commit {
            offsets: offsets.clone(),
            reply,
        };
        if self.events.send(commit).is_err() {
            return Err(StreamsError::Kafka(
                "the instance's coordinator is gone".to_string(),
            ));
        }
        match answer.blocking_recv() {
            Ok(Ok(())) => {
                self.purger.committed(&self.plan, &offsets);
                self.checkpoint_tasks(true);
                Ok(())
            }
            // the group moved on: the next assignment says where to resume
            Ok(Err(e)) => {
                tracing::warn!(
                    "commit failed: {e}; the records since the last commit may be processed again"
                );
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }

    /// Sends `flushed`, adds `offsets` to the open transaction and commits it.
    fn commit_transaction(
        &mut self,
        flushed: Vec<OutputRecord>,
        offsets: &[(String, i32, i64, i64)],
    ) -> Result<(), TxnFailure> {
        begin(&self.producer, &mut self.eos).map_err(TxnFailure::from)?;
        for out in &flushed {
            send(&self.producer, out).map_err(TxnFailure::from)?;
        }
        let Some(eos) = &self.eos else {
            return Ok(());
        };
        if !offsets.is_empty() {
            let mut list = TopicPartitionList::new();
            for (t, p, o, time) in offsets {
                list.add_partition_offset(t, *p, Offset::Offset(*o))
                    .map_err(|e| TxnFailure::from(kafka(e)))?;
                if let Some(mut e) = list.find_partition(t, *p) {
                    e.set_metadata(partition_time::encode(*time));
                }
            }
            send_offsets_to_transaction(&self.producer, &list, &eos.member, TXN_TIMEOUT).map_err(
                |e| TxnFailure {
                    message: e.message,
                    fatal: e.fatal,
                },
            )?;
        }
        // (with nothing in flight, the producer's own flush in its commit returns at once)
        super::output::flush(&self.producer, TXN_TIMEOUT).map_err(TxnFailure::from)?;
        self.producer
            .commit_transaction(TXN_TIMEOUT)
            .map_err(|e| TxnFailure {
                fatal: matches!(&e, KafkaError::Transaction(t) if t.is_fatal()),
                message: e.to_string(),
            })?;
        self.check_deliveries().map_err(TxnFailure::from)?;
        if let Some(eos) = &mut self.eos {
            eos.open = false;
        }
        Ok(())
    }

    /// After a failed transaction: aborts it (or makes a new producer when this one was
    /// fenced), drops the tasks' state, which holds uncommitted updates, and starts each task
    /// again from its committed offsets and its changelogs.
    fn recover(&mut self, failure: TxnFailure) -> Result<(), StreamsError> {
        if failure.fatal {
            self.renew_producer()?;
        } else {
            self.abort_or_renew()?;
        }
        self.deliveries
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let tasks: BTreeSet<TaskId> = self.tasks.keys().copied().collect();
        let partitions: Vec<(String, i32)> = self
            .tasks
            .values()
            .flat_map(|r| r.inputs.iter().map(|i| (i.topic.clone(), i.partition)))
            .collect();
        let (reply, answer) = oneshot::channel();
        if self
            .events
            .send(Event::Committed {
                partitions: partitions.clone(),
                reply,
            })
            .is_err()
        {
            return Err(StreamsError::Kafka(
                "the instance's coordinator is gone".to_string(),
            ));
        }
        let committed = answer
            .blocking_recv()
            .map_err(|_| StreamsError::Kafka("the instance's coordinator is gone".to_string()))?
            .map_err(StreamsError::Kafka)?;
        let offsets: HashMap<(String, i32), Position> = partitions
            .into_iter()
            .zip(committed)
            .filter_map(|(tp, o)| o.map(|o| (tp, o)))
            .collect();
        // every task starts again from its commit: where the consumer stands is past the
        // aborted records
        self.tasks.clear();
        self.publish();
        self.poller.forget_topics();
        self.consumer.unassign().map_err(kafka)?;
        let standbys: BTreeSet<TaskId> = self.standbys.ids().into_iter().collect();
        self.assign(tasks, standbys, &offsets)
    }
}

/// Opens a transaction if exactly-once needs one and none is open.
fn begin(producer: &BaseProducer<Deliveries>, eos: &mut Option<Eos>) -> Result<(), StreamsError> {
    if let Some(eos) = eos {
        if !eos.open {
            producer.begin_transaction().map_err(kafka)?;
            eos.open = true;
        }
    }
    Ok(())
}

/// A transaction that could not commit.
#[derive(Debug)]
struct TxnFailure {
    message: String,
    /// The producer was fenced or broke: a new one is needed.
    fatal: bool,
}

impl From<StreamsError> for TxnFailure {
    fn from(e: StreamsError) -> Self {
        TxnFailure {
            message: e.to_string(),
            fatal: false,
        }
    }
}

impl std::fmt::Display for TxnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs one record through its task; what the task wrote is added to `produced`.
fn process(
    tasks: &mut BTreeMap<TaskId, Running>,
    routes: &Routes,
    topology: &Topology,
    (on_bad_record, on_failed_processing): (OnError, OnError),
    no_headers: &Arc<Vec<Header>>,
    msg: &Fetched<'_>,
    produced: &mut Vec<OutputRecord>,
) -> Result<(), StreamsError> {
    let Some(route) = routes.get(msg.topic(), msg.partition()) else {
        return Ok(());
    };
    let (id, source, topic) = (route.task, route.source, &route.topic);
    let Some(running) = tasks.get_mut(&id) else {
        return Ok(());
    };
    let Some(input) = running.inputs.get_mut(route.input) else {
        return Ok(());
    };
    input.next = Some(msg.offset() + 1);
    running.dirty = true;
    let tp = (topic, msg.partition());
    let Kind::Source { decoder, .. } = &topology.nodes[source].kind else {
        return Ok(());
    };
    let timestamp = msg.timestamp();
    let headers = msg.headers();
    let decoded = decoder(msg.topic(), msg.key(), msg.payload(), &headers);
    let (key, value) = match decoded {
        Ok(kv) => kv,
        Err(e) => {
            let what = format!(
                "Exception caught during Deserialization, taskId: {id}, topic: {}, partition: {}, offset: {}",
                tp.0,
                tp.1,
                msg.offset()
            );
            return match on_bad_record {
                OnError::Continue => {
                    tracing::warn!("{what}: {e}");
                    tracing::warn!(
                        "task [{id}] Skipping record due to deserialization error. topic=[{}] partition=[{}] offset=[{}]",
                        tp.0,
                        tp.1,
                        msg.offset()
                    );
                    Ok(())
                }
                OnError::Fail => {
                    tracing::error!("{what}: {e}");
                    Err(StreamsError::Kafka(format!(
                        "Deserialization exception handler is set to fail upon a deserialization error. If you would rather have the streaming pipeline continue after a deserialization error, please set the default.deserialization.exception.handler appropriately. ({what}: {e})"
                    )))
                }
            };
        }
    };
    // (a source's timestamp extractor: a negative answer skips the record, as Kafka Streams'
    // RecordQueue does; its error stops the task)
    let timestamp = match topology.extractors.get(&source) {
        None => timestamp,
        Some(extract) => match extract(&key, &value, timestamp, input.time) {
            Ok(t) if t < 0 => {
                tracing::warn!(
                    "task [{id}] Skipping record due to negative extracted timestamp. topic=[{}] partition=[{}] offset=[{}] extractedTimestamp=[{t}]",
                    tp.0,
                    tp.1,
                    msg.offset()
                );
                return Ok(());
            }
            Ok(t) => t,
            Err(e) => {
                return Err(StreamsError::Kafka(format!(
                    "Fatal user code error in TimestampExtractor callback for record of topic {} partition {} offset {}: {e}",
                    tp.0,
                    tp.1,
                    msg.offset()
                )))
            }
        },
    };
    if timestamp < 0 {
        return Err(StreamsError::Kafka(format!(
            "Input record of topic {} partition {} offset {} has invalid (negative) timestamp",
            tp.0,
            tp.1,
            msg.offset()
        )));
    }
    // (records that could not be read do not move the partition time, as in Kafka Streams)
    input.time = input.time.max(timestamp);
    let headers = if headers.is_empty() {
        Arc::clone(no_headers)
    } else {
        Arc::new(headers)
    };
    let record = DynRecord {
        key,
        value,
        timestamp,
        headers,
    };
    let metadata = RecordMetadata::new(Arc::clone(topic), tp.1, msg.offset());
    let mut task = locked(&running.task);
    if let Err(e) = task.process(source, record, metadata) {
        match on_failed_processing {
            OnError::Continue => tracing::warn!(
                "Exception caught during processing of task {id}, topic {}, partition {}, offset {}: {e}; skipping the record",
                tp.0,
                tp.1,
                msg.offset()
            ),
            OnError::Fail => return Err(e),
        }
    }
    let punctuated = punctuate_all(on_failed_processing, id, || task.punctuate_stream_time());
    task.drain_produced_into(produced);
    punctuated
}

/// Runs `punctuate` (a task's due punctuations) to the end: with the `Continue` processing
/// handler a failed punctuation is logged and the others due still run.
fn punctuate_all(
    on_failed: OnError,
    id: TaskId,
    mut punctuate: impl FnMut() -> Result<(), StreamsError>,
) -> Result<(), StreamsError> {
    loop {
        match (punctuate(), on_failed) {
            (Ok(()), _) => return Ok(()),
            (Err(e), OnError::Continue) => {
                tracing::warn!("Exception caught while punctuating in task {id}: {e}; going on")
            }
            (Err(e), OnError::Fail) => return Err(e),
        }
    }
}
