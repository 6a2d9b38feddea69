//! The instance's coordinator: it prepares the internal topics, starts the stream threads,
//! holds the instance's group membership (joins, heartbeats, commits the threads' offsets with
//! the member's generation) and hands each thread its tasks.
//!
//! Rebalances are eager: when the group rebalances, every thread commits and stops
//! processing, the instance joins again, and each thread gets its new tasks. A task that stays
//! with a thread keeps its state and position; a new one is restored from its changelogs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::{mpsc, oneshot};
use tributary_client::group::{
    lost_membership, Assignor, GroupConfig, GroupError, GroupMember, Member,
};

use super::assignor::{self, Assignment, Subscription, TaskId};
use super::plan::Plan;
use super::thread::{Command, StreamThread};
use super::{State, Status};
use crate::config::{ClientRole, StreamsConfig};
use crate::processor::StreamsError;
use crate::topology::Topology;

/// What a stream thread tells the coordinator.
pub(crate) enum Event {
    /// It runs the tasks it was given.
    Ready,
    /// It committed and stopped processing, for a rebalance.
    Revoked,
    /// Commit these offsets (topic, partition, next offset, partition time) with the
    /// member's generation.
    Commit {
        offsets: Vec<(String, i32, i64, i64)>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The committed offsets and partition times of these partitions (a thread starting its
    /// tasks again).
    Committed {
        partitions: Vec<(String, i32)>,
        reply: oneshot::Sender<Result<Vec<Option<Position>>, String>>,
    },
    /// It stopped on an error.
    Failed(StreamsError),
}

/// A committed input position: the next offset and the partition time
/// ([`super::partition_time::UNKNOWN`] when none was committed).
pub(crate) type Position = (i64, i64);

/// How often the coordinator looks at the shutdown flag while it waits.
const TICK: Duration = Duration::from_millis(50);

pub(crate) struct Coordinator {
    topology: Arc<Topology>,
    config: StreamsConfig,
    status: Arc<Status>,
    shutdown: Arc<AtomicBool>,
    application_id: String,
    plan: Arc<Plan>,
    process_id: String,
}

/// The flag that stops the global thread, and the thread once started.
type GlobalThread<'a> = (
    &'a Arc<AtomicBool>,
    &'a mut Option<std::thread::JoinHandle<()>>,
);

/// The assignor for one join.
struct StreamsAssignor {
    topics: Vec<String>,
    subscription: Subscription,
    tasks: Vec<TaskId>,
    /// The tasks with state (the only ones with standbys).
    stateful: BTreeSet<TaskId>,
    standbys: usize,
    plan: Arc<Plan>,
    /// Partitions of each topic the app reads.
    counts: BTreeMap<String, i32>,
}

impl Assignor for StreamsAssignor {
    fn name(&self) -> &str {
        "stream"
    }

    fn metadata(&self) -> Bytes {
        assignor::encode_subscription(&self.topics, &self.subscription)
    }

    fn assign(&self, members: &[GroupMember]) -> BTreeMap<String, Bytes> {
        let clients: Vec<assignor::Client> = members
            .iter()
            .map(|m| assignor::Client {
                member_id: m.member_id.clone(),
                // a member whose data cannot be read still gets work, as a fresh instance
                sub: assignor::decode_subscription(&m.metadata).unwrap_or_else(|| Subscription {
                    version: 1,
                    process_id: m.member_id.clone(),
                    threads: 1,
                    active: BTreeSet::new(),
                    standby: BTreeSet::new(),
                    endpoint: None,
                }),
            })
            .collect();
        assignor::assign(&clients, &self.tasks, &self.stateful, self.standbys)
            .into_iter()
            .map(|(member, a)| {
                let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (topic, p) in source_partitions(&self.plan, &self.counts, &a.active) {
                    partitions.entry(topic).or_default().push(p);
                }
                let bytes = assignor::encode_assignment(&partitions, &a);
                (member, bytes)
            })
            .collect()
    }
}

/// The input partitions of `tasks`: each topic of the task's sub-topology that has the task's
/// partition.
pub(crate) fn source_partitions(
    plan: &Plan,
    counts: &BTreeMap<String, i32>,
    tasks: &BTreeSet<TaskId>,
) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for t in tasks {
        if let Some(sub) = plan.subs.get(t.subtopology as usize) {
            for topic in sub.topics() {
                if counts.get(topic).is_some_and(|&n| t.partition < n) {
                    out.push((topic.clone(), t.partition));
                }
            }
        }
    }
    out
}

/// A stream thread as the coordinator drives it.
struct ThreadHandle {
    commands: std_mpsc::Sender<Command>,
    join: std::thread::JoinHandle<()>,
    tasks: BTreeSet<TaskId>,
    standbys: BTreeSet<TaskId>,
}

impl Coordinator {
    pub fn new(
        topology: Arc<Topology>,
        config: StreamsConfig,
        status: Arc<Status>,
        shutdown: Arc<AtomicBool>,
    ) -> Result<Coordinator, StreamsError> {
        let application_id = config.application_id()?.to_string();
        let plan = Arc::new(Plan::new(&topology, &application_id));
        Ok(Coordinator {
            topology,
            config,
            status,
            shutdown,
            application_id,
            plan,
            process_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Runs until shutdown or an error; the instance is in ERROR after an error.
    pub fn run(self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                self.status
                    .fail(&StreamsError::Kafka(format!("cannot start a runtime: {e}")));
                self.status.set(State::Error);
                return;
            }
        };
        let mut threads = Vec::new();
        let stop_globals = Arc::new(AtomicBool::new(false));
        let mut global_thread = None;
        let result = rt.block_on(self.run_async(&mut threads, (&stop_globals, &mut global_thread)));
        // the threads stop (committing what they did when the instance closes cleanly)
        for t in &threads {
            let _ = t.commands.send(Command::Shutdown);
        }
        for t in threads {
            let _ = t.join.join();
        }
        stop_globals.store(true, Ordering::SeqCst);
        if let Some(g) = global_thread {
            let _ = g.join();
        }
        if let Err(e) = result {
            self.status.fail(&e);
        }
        if self.status.get() == State::PendingError {
            self.status.set(State::Error);
        }
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst) || self.status.get() == State::PendingError
    }

    /// The partitions of every topic the app reads, creating the internal ones.
    async fn prepare(&self) -> Result<BTreeMap<String, i32>, StreamsError> {
        let kafka = |e: rdkafka::error::KafkaError| StreamsError::Kafka(e.to_string());
        let timeout = Duration::from_secs(30);
        let mut admin_config = ClientConfig::new();
        for (k, v) in self.config.client_props(ClientRole::Admin) {
            admin_config.set(k, v);
        }
        let probe: BaseConsumer = admin_config.create().map_err(kafka)?;
        let metadata = probe.fetch_metadata(None, timeout).map_err(kafka)?;
        let mut existing: BTreeMap<String, i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect();
        let partitions = self.plan.partitions(&existing)?;
        let counts = self.plan.topic_partitions(&existing)?;
        let wanted = self.plan.internal_topics(&partitions, &counts);
        let admin: AdminClient<DefaultClientContext> = admin_config.create().map_err(kafka)?;
        let replication = self.config.replication_factor()?;
        let mut to_create = Vec::new();
        for t in &wanted {
            match existing.get(&t.name) {
                Some(&n) if n != t.partitions => {
                    return Err(StreamsError::Topology(format!(
                        "Existing internal topic {} has invalid partitions: expected: {}; actual: {}. Use 'kafka-streams-application-reset' tool to clean up invalid topics before processing.",
                        t.name, t.partitions, n
                    )))
                }
                Some(_) => {}
                None => to_create.push(t),
            }
        }
        if !to_create.is_empty() {
            let topics: Vec<NewTopic> = to_create
                .iter()
                .map(|t| {
                    let mut n =
                        NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(replication));
                    for (k, v) in &t.configs {
                        n = n.set(k, v);
                    }
                    n
                })
                .collect();
            let results = admin
                .create_topics(
                    &topics,
                    &AdminOptions::new().operation_timeout(Some(timeout)),
                )
                .await
                .map_err(kafka)?;
            for r in results {
                match r {
                    Ok(name) => tracing::info!("created internal topic {name}"),
                    Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        return Err(StreamsError::Kafka(format!(
                            "could not create internal topic {name}: {code}"
                        )))
                    }
                }
            }
        }
        for t in wanted {
            existing.insert(t.name, t.partitions);
        }
        Ok(existing)
    }

    async fn run_async(
        &self,
        threads: &mut Vec<ThreadHandle>,
        (stop_globals, global_thread): GlobalThread<'_>,
    ) -> Result<(), StreamsError> {
        // (before any heartbeat is due, so the blocking metadata call does not delay one)
        let counts = self.prepare().await?;
        // the global tables are read whole before any task runs
        let globals = Arc::clone(&self.status.registry.globals);
        *global_thread = super::global::start(
            &self.topology,
            &self.config,
            Arc::clone(&globals),
            (Arc::clone(stop_globals), Arc::clone(&self.shutdown)),
            Arc::clone(&self.status),
        )?;
        let partitions: Vec<i32> = {
            // the partitions per sub-topology, now that every topic exists
            self.plan.partitions(&counts)?
        };
        let tasks = self.plan.tasks(&partitions);
        let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
        let n = self.config.num_stream_threads()?;
        let cache = self.config.cache_max_bytes()? / n;
        for index in 0..n {
            let (tx, rx) = std_mpsc::channel();
            let thread = StreamThread::new(
                index,
                &self.process_id,
                Arc::clone(&self.topology),
                Arc::clone(&self.plan),
                &self.config,
                (cache, Arc::clone(&self.status.registry)),
                rx,
                events_tx.clone(),
            )?;
            let join = std::thread::Builder::new()
                .name(format!(
                    "{}-StreamThread-{}",
                    self.application_id,
                    index + 1
                ))
                .spawn({
                    let events = events_tx.clone();
                    move || {
                        let run = std::panic::AssertUnwindSafe(move || thread.run());
                        if let Err(panic) = std::panic::catch_unwind(run) {
                            let why = panic
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "a panic".to_string());
                            let _ = events.send(Event::Failed(StreamsError::Kafka(format!(
                                "stream thread {} panicked: {why}",
                                index + 1
                            ))));
                        }
                    }
                })
                .map_err(|e| StreamsError::Kafka(format!("cannot start a thread: {e}")))?;
            threads.push(ThreadHandle {
                commands: tx,
                join,
                tasks: BTreeSet::new(),
                standbys: BTreeSet::new(),
            });
        }
        let session = duration_ms(&self.config, "session.timeout.ms", 45_000);
        let heartbeat = duration_ms(&self.config, "heartbeat.interval.ms", 3_000);
        let rebalance = duration_ms(&self.config, "max.poll.interval.ms", 300_000);
        let bootstrap: Vec<String> = self
            .config
            .bootstrap_servers()?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let mut member = Member::new(GroupConfig {
            bootstrap,
            group_id: self.application_id.clone(),
            protocol_type: "consumer".to_string(),
            session_timeout: session,
            rebalance_timeout: rebalance,
            request_timeout: Duration::from_secs(30),
        });
        let stateful: BTreeSet<TaskId> = tasks
            .iter()
            .filter(|t| {
                self.plan
                    .subs
                    .get(t.subtopology as usize)
                    .is_some_and(|s| !s.changelogs.is_empty())
            })
            .copied()
            .collect();
        let timing = Timing { session, heartbeat };
        let result = self
            .drive(
                &mut member,
                threads,
                &mut events,
                &tasks,
                &stateful,
                &counts,
                timing,
            )
            .await;
        if result.is_ok() {
            // closing: the threads commit (through the member) and stop
            for t in threads.iter() {
                let _ = t.commands.send(Command::Shutdown);
            }
            let mut stopped = 0;
            while stopped < threads.len() && !threads.iter().all(|t| t.join.is_finished()) {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Some(ev) => match self.serve(ev, &mut member).await {
                            Served::Revoked => stopped += 1,
                            Served::Failed(e) => tracing::warn!("a thread failed while closing: {e}"),
                            Served::Ready | Served::Done => {}
                        },
                        None => break,
                    },
                    () = tokio::time::sleep(TICK) => {}
                }
            }
        }
        // leaving moves the tasks to the other instances at once, also after an error
        if let Err(e) = member.leave().await {
            tracing::warn!("could not leave the group: {e}");
        }
        result
    }

    /// Joins, hands the tasks out, heartbeats and serves the threads until the instance stops;
    /// joins again whenever the group rebalances.
    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        member: &mut Member,
        threads: &mut [ThreadHandle],
        events: &mut mpsc::UnboundedReceiver<Event>,
        tasks: &[TaskId],
        stateful: &BTreeSet<TaskId>,
        counts: &BTreeMap<String, i32>,
        timing: Timing,
    ) -> Result<(), StreamsError> {
        let counts_shared = Arc::new(counts.clone());
        let mut standby: BTreeSet<TaskId> = BTreeSet::new();
        let mut last_generation = -1;
        // the tasks' state and positions are not to be trusted (the membership was lost)
        let mut fresh = false;
        'join: loop {
            if self.stopping() {
                return Ok(());
            }
            self.status.set(State::Rebalancing);
            let active: BTreeSet<TaskId> = threads
                .iter()
                .flat_map(|t| t.tasks.iter().copied())
                .collect();
            // tasks whose files here a restart keeps count as state this instance holds
            let mut held = standby.clone();
            if self.topology.stores.iter().any(|s| s.persistent) {
                let app_dir = self.config.state_dir().join(&self.application_id);
                held.extend(
                    super::checkpoint::tasks_with_checkpoints(&app_dir)
                        .into_iter()
                        .filter(|t| stateful.contains(t) && !active.contains(t)),
                );
            }
            let assignor = StreamsAssignor {
                topics: self.plan.all_topics(),
                subscription: Subscription {
                    version: 1,
                    process_id: self.process_id.clone(),
                    threads: threads.len() as u32,
                    active: if fresh { BTreeSet::new() } else { active },
                    standby: held,
                    endpoint: self.config.application_server().map(str::to_string),
                },
                tasks: tasks.to_vec(),
                stateful: stateful.clone(),
                standbys: self.config.num_standby_replicas()?,
                plan: Arc::clone(&self.plan),
                counts: counts.clone(),
            };
            let joined = tokio::select! {
                j = member.join(&assignor) => j,
                () = self.wait_stop() => {
                    // the join's answer would be read as the next call's
                    member.disconnect();
                    return Ok(());
                }
            };
            let joined = match joined {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!("joining the group failed: {e}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue 'join;
                }
            };
            let assignment = assignor::decode_assignment(&joined.assignment).ok_or_else(|| {
                StreamsError::Kafka(
                    "the group leader sent an assignment this instance cannot read".to_string(),
                )
            })?;
            tracing::info!(
                "generation {}: active tasks {:?}, standby tasks {:?}",
                joined.generation,
                assignment
                    .active
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                assignment
                    .standby
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            // a generation this instance was not part of: others may have run its tasks
            if last_generation >= 0 && joined.generation > last_generation + 1 {
                fresh = true;
            }
            last_generation = joined.generation;
            standby = assignment.standby.clone();
            let parts = source_partitions(&self.plan, counts, &assignment.active);
            let committed = match committed(member, &parts).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("reading the committed offsets failed: {e}; joining again");
                    continue 'join;
                }
            };
            let offsets: HashMap<(String, i32), Position> = parts
                .into_iter()
                .zip(committed)
                .filter_map(|(tp, o)| o.map(|o| (tp, o)))
                .collect();
            distribute(threads, &assignment);
            self.status.registry.set_cluster(super::query::Cluster {
                active: assignment.hosts.clone(),
                standby: assignment.standby_hosts.clone(),
                partitions: Arc::clone(&counts_shared),
            });
            *self
                .status
                .threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = threads
                .iter()
                .enumerate()
                .map(|(i, t)| super::ThreadMetadata {
                    thread_name: format!("{}-StreamThread-{}", self.application_id, i + 1),
                    active_tasks: t.tasks.iter().copied().collect(),
                    standby_tasks: t.standbys.iter().copied().collect(),
                })
                .collect();
            for t in threads.iter() {
                let _ = t.commands.send(Command::Assign {
                    tasks: t.tasks.clone(),
                    standbys: t.standbys.clone(),
                    offsets: offsets.clone(),
                    partitions: Arc::clone(&counts_shared),
                    fresh,
                    member: super::txn_offsets::GroupMember {
                        group_id: self.application_id.clone(),
                        member_id: joined.member_id.clone(),
                        generation: joined.generation,
                    },
                });
            }
            fresh = false;
            // wait for every thread to run its tasks, heartbeating meanwhile (on a task of
            // their own, so that a long commit or offsets lookup does not hold them back)
            let mut ready = 0;
            let mut beats = Beating::start(member, timing.heartbeat);
            let mut last_beat = tokio::time::Instant::now();
            loop {
                if self.stopping() {
                    return Ok(());
                }
                if ready == threads.len() && self.status.get() == State::Rebalancing {
                    self.status.set(State::Running);
                }
                tokio::select! {
                    beat = beats.results.recv() => match beat {
                        Some(Ok(())) | None => last_beat = tokio::time::Instant::now(),
                        Some(Err(GroupError::Rejoin(e))) => {
                            let lost = lost_membership(e);
                            tracing::info!("the group rebalances ({e}): {} tasks", if lost { "dropping" } else { "revoking" });
                            self.revoke(threads, events, member, lost, &mut beats).await?;
                            fresh |= lost;
                            continue 'join;
                        }
                        Some(Err(e)) if last_beat.elapsed() > timing.session => {
                            tracing::warn!("no heartbeat for the session timeout ({e}): the group has dropped this instance; dropping tasks");
                            self.revoke(threads, events, member, true, &mut beats).await?;
                            fresh = true;
                            continue 'join;
                        }
                        Some(Err(e)) => tracing::warn!("heartbeat failed: {e}"),
                    },
                    ev = events.recv() => match ev {
                        Some(ev) => match self.serve(ev, member).await {
                            Served::Ready => ready += 1,
                            Served::Failed(e) => return Err(e),
                            Served::Revoked | Served::Done => {}
                        },
                        None => return Err(StreamsError::Kafka("every stream thread stopped".to_string())),
                    },
                    () = tokio::time::sleep(TICK) => {}
                }
            }
        }
    }

    /// Handles a thread's event: a commit or offsets lookup is answered here; the others are
    /// for the caller.
    async fn serve(&self, event: Event, member: &mut Member) -> Served {
        match event {
            Event::Commit { offsets, reply } => {
                let offsets: Vec<(String, i32, i64, String)> = offsets
                    .into_iter()
                    .map(|(t, p, o, time)| (t, p, o, super::partition_time::encode(time)))
                    .collect();
                let r = member
                    .commit_with_metadata(&offsets)
                    .await
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
                Served::Done
            }
            Event::Committed { partitions, reply } => {
                let r = committed(member, &partitions)
                    .await
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
                Served::Done
            }
            Event::Ready => Served::Ready,
            Event::Revoked => Served::Revoked,
            Event::Failed(e) => Served::Failed(e),
        }
    }

    /// Resolves when the instance is closing or failing.
    async fn wait_stop(&self) {
        while !self.stopping() {
            tokio::time::sleep(TICK).await;
        }
    }

    /// Has every thread commit and stop processing (or, when the membership was `lost`, drop
    /// its tasks without committing), heartbeating and serving their commits meanwhile.
    async fn revoke(
        &self,
        threads: &[ThreadHandle],
        events: &mut mpsc::UnboundedReceiver<Event>,
        member: &mut Member,
        lost: bool,
        beats: &mut Beating,
    ) -> Result<(), StreamsError> {
        for t in threads {
            let _ = t
                .commands
                .send(if lost { Command::Lost } else { Command::Revoke });
        }
        let mut revoked = 0;
        while revoked < threads.len() {
            tokio::select! {
                // still a member while the threads commit: the rebalance waits for the join
                Some(beat) = beats.results.recv() => {
                    if let Err(e) = beat {
                        tracing::debug!("heartbeat while revoking: {e}");
                    }
                }
                ev = events.recv() => match ev {
                    Some(ev) => match self.serve(ev, member).await {
                        Served::Revoked => revoked += 1,
                        Served::Failed(e) => return Err(e),
                        Served::Ready | Served::Done => {}
                    },
                    None => return Err(StreamsError::Kafka("every stream thread stopped".to_string())),
                },
            }
        }
        Ok(())
    }
}

/// What [`Coordinator::serve`] left to its caller.
enum Served {
    Done,
    Ready,
    Revoked,
    Failed(StreamsError),
}

/// The heartbeats of one generation, sent by a task of their own; what each one got comes
/// back through `results`. Dropping it stops them.
struct Beating {
    task: tokio::task::JoinHandle<()>,
    results: mpsc::UnboundedReceiver<Result<(), GroupError>>,
}

impl Beating {
    fn start(member: &Member, every: Duration) -> Beating {
        let (tx, results) = mpsc::unbounded_channel();
        let mut heartbeats = member.heartbeats();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if tx.send(heartbeats.beat().await).is_err() {
                    break;
                }
            }
        });
        Beating { task, results }
    }
}

impl Drop for Beating {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The group's timers.
#[derive(Clone, Copy)]
struct Timing {
    session: Duration,
    heartbeat: Duration,
}

/// Spreads the instance's tasks over its threads: an active task stays on the thread that ran
/// it, or goes to the thread keeping its standby, else to the thread with the fewest; standbys
/// stay where they are kept, the new ones go to the threads with the fewest.
fn distribute(threads: &mut [ThreadHandle], assignment: &Assignment) {
    for t in threads.iter_mut() {
        t.tasks.retain(|task| assignment.active.contains(task));
    }
    let share = assignment.active.len().div_ceil(threads.len().max(1));
    // kept tasks beyond a fair share are placed again
    let mut loose: Vec<TaskId> = Vec::new();
    for t in threads.iter_mut() {
        while t.tasks.len() > share {
            if let Some(last) = t.tasks.iter().next_back().copied() {
                t.tasks.remove(&last);
                loose.push(last);
            }
        }
    }
    let placed: BTreeSet<TaskId> = threads
        .iter()
        .flat_map(|t| t.tasks.iter().copied())
        .collect();
    loose.extend(assignment.active.difference(&placed).copied());
    loose.sort();
    loose.dedup();
    for task in loose {
        let warm = threads
            .iter()
            .position(|t| t.standbys.contains(&task) && t.tasks.len() < share);
        let i = warm.or_else(|| (0..threads.len()).min_by_key(|&i| threads[i].tasks.len()));
        if let Some(i) = i {
            threads[i].tasks.insert(task);
        }
    }
    for t in threads.iter_mut() {
        t.standbys.retain(|task| assignment.standby.contains(task));
    }
    let kept: BTreeSet<TaskId> = threads
        .iter()
        .flat_map(|t| t.standbys.iter().copied())
        .collect();
    for &task in assignment.standby.difference(&kept) {
        if let Some(t) = threads.iter_mut().min_by_key(|t| t.standbys.len()) {
            t.standbys.insert(task);
        }
    }
}

fn duration_ms(config: &StreamsConfig, key: &str, default: u64) -> Duration {
    let ms = config
        .get(&format!("consumer.{key}"))
        .or_else(|| config.get(&format!("main.consumer.{key}")))
        .or_else(|| config.get(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    Duration::from_millis(ms)
}

/// The committed offsets of `partitions` with the partition times in their metadata
/// ([`super::partition_time::UNKNOWN`] where there is none): `None` where nothing is committed.
async fn committed(
    member: &mut Member,
    partitions: &[(String, i32)],
) -> Result<Vec<Option<Position>>, GroupError> {
    let found = member.committed_with_metadata(partitions).await?;
    Ok(found
        .into_iter()
        .map(|c| c.map(|(offset, metadata)| (offset, super::partition_time::decode(&metadata))))
        .collect())
}
