//! The runtime on brokers: [`KafkaStreams`] runs a topology's tasks over stream threads and over
//! the instances of an application, as Kafka Streams does.
//!
//! * The instance joins the consumer group `application.id` once, through its own membership
//!   client (`coordinator`); the group's leader assigns tasks to instances ([`assignor`]):
//!   sticky, balanced by threads, with standby placement.
//! * Each stream thread (`thread`) runs its share of the instance's tasks: it reads their
//!   partitions with its own librdkafka consumer, processes each record through its task,
//!   writes outputs, repartition records and changelogs with its own producer, and commits
//!   every `commit.interval.ms` (outputs flushed first, then the input offsets).
//! * A task's stores are restored from their changelogs before it processes (`restore`).
//! * Internal topics are created before the first join (`plan`).

pub(crate) mod assignor;
mod checkpoint;
mod coordinator;
mod fetched;
mod global;
mod inputs;
mod output;
mod partition_time;
mod plan;
mod producer;
mod purge;
mod query;
mod restore;
mod standby;
mod task_dirs;
mod thread;
mod txn_offsets;
mod watermarks;

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::StreamsConfig;
use crate::processor::StreamsError;
use crate::topology::Topology;

pub use assignor::TaskId;
pub use query::{HostInfo, KeyQueryMetadata, StoreQueryParameters, StreamsMetadata};

/// The states of a [`KafkaStreams`] instance, as Kafka Streams names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Made, not started.
    Created,
    /// Joining the group, or restoring the state of its tasks.
    Rebalancing,
    /// Processing.
    Running,
    /// Closing.
    PendingShutdown,
    /// Closed.
    NotRunning,
    /// Stopping after an error.
    PendingError,
    /// Stopped after an error.
    Error,
}

impl State {
    /// Whether Kafka Streams allows going from `self` to `next`.
    fn may_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Created, Rebalancing | PendingShutdown | PendingError)
                | (Rebalancing, Running | PendingShutdown | PendingError)
                | (Running, Rebalancing | PendingShutdown | PendingError)
                | (PendingShutdown, NotRunning)
                | (PendingError, Error)
                | (Error, PendingShutdown)
        )
    }

    /// Whether the instance is running or about to (its threads are alive).
    pub fn is_running_or_rebalancing(self) -> bool {
        matches!(self, State::Running | State::Rebalancing)
    }
}

type Listener = Box<dyn Fn(State, State) + Send + Sync>;

/// A stream thread of this instance and its tasks (Kafka Streams' `ThreadMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMetadata {
    /// The thread's name: `<application.id>-StreamThread-<n>`.
    pub thread_name: String,
    /// The tasks it runs.
    pub active_tasks: Vec<TaskId>,
    /// The tasks whose state the instance keeps as a standby.
    pub standby_tasks: Vec<TaskId>,
}

/// The instance's state, its listener, and what stopped it.
pub(crate) struct Status {
    state: Mutex<(State, Option<String>)>,
    /// The threads and their tasks, as last assigned.
    pub(crate) threads: Mutex<Vec<ThreadMetadata>>,
    changed: Condvar,
    listener: Mutex<Option<Listener>>,
    /// What interactive queries read.
    pub(crate) registry: Arc<query::Registry>,
}

impl Status {
    fn new() -> Self {
        Status {
            state: Mutex::new((State::Created, None)),
            threads: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            listener: Mutex::new(None),
            registry: Arc::new(query::Registry::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (State, Option<String>)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self) -> State {
        self.lock().0
    }

    /// Moves to `next` if Kafka Streams allows it from the current state; tells the listener.
    pub(crate) fn set(&self, next: State) -> bool {
        let old = {
            let mut s = self.lock();
            if !s.0.may_become(next) {
                return false;
            }
            let old = s.0;
            s.0 = next;
            old
        };
        self.changed.notify_all();
        tracing::info!("State transition from {old:?} to {next:?}");
        if let Some(l) = self
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            l(next, old);
        }
        true
    }

    /// Stops the instance for `error`: PENDING_ERROR (the threads stop), then ERROR.
    pub(crate) fn fail(&self, error: &StreamsError) {
        tracing::error!("the application stops: {error}");
        self.lock().1.get_or_insert_with(|| error.to_string());
        self.set(State::PendingError);
    }

    fn wait(&self, until: impl Fn(State) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while !until(s.0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// A running application instance: the runtime of a [`Topology`] on brokers.
///
/// ```no_run
/// use tributary_streams::{Consumed, KafkaStreams, Produced, Serdes, StreamsBuilder, StreamsConfig};
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .map_values(|v: &String| v.to_uppercase())
///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
/// let config = StreamsConfig::new()
///     .with("application.id", "shout")
///     .with("bootstrap.servers", "localhost:9092");
/// let streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
/// streams.start().unwrap();
/// // ... until the app should stop:
/// streams.close();
/// ```
pub struct KafkaStreams {
    topology: Arc<Topology>,
    config: StreamsConfig,
    status: Arc<Status>,
    /// The instance's coordinator thread, once started.
    coordinator: Mutex<Option<JoinHandle<()>>>,
    /// The lock on `<state.dir>/<application.id>` while the instance runs persistent stores.
    state_lock: Mutex<Option<std::fs::File>>,
    shutdown: Arc<std::sync::atomic::AtomicBool>,
}

impl KafkaStreams {
    /// An instance of `topology` with `config` (checked now: `application.id` and
    /// `bootstrap.servers` are required, and every known setting must be valid).
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<KafkaStreams, StreamsError> {
        config.application_id()?;
        config.bootstrap_servers()?;
        config.num_stream_threads()?;
        config.processing_guarantee()?;
        config.commit_interval()?;
        config.num_standby_replicas()?;
        config.replication_factor()?;
        config.deserialization_handler()?;
        config.processing_handler()?;
        config.production_handler()?;
        config.cache_max_bytes()?;
        config.check_application_server()?;
        let persistent = config.dsl_stores_persistent()?;
        let mut topology = topology;
        for store in &mut topology.stores {
            if store.dsl_default {
                store.persistent = persistent;
            }
        }
        if topology.nodes.is_empty() {
            return Err(StreamsError::Topology(
                "Topology has no stream threads and no global threads, must subscribe to at least one source topic or global table.".to_string(),
            ));
        }
        Ok(KafkaStreams {
            topology: Arc::new(topology),
            config,
            status: Arc::new(Status::new()),
            coordinator: Mutex::new(None),
            state_lock: Mutex::new(None),
            shutdown: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Calls `listener(new, old)` on each state change.
    pub fn set_state_listener(&self, listener: impl Fn(State, State) + Send + Sync + 'static) {
        *self
            .status
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Box::new(listener));
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.status.get()
    }

    /// Why the instance went to ERROR, if it did.
    pub fn error(&self) -> Option<String> {
        self.status.lock().1.clone()
    }

    /// The instance's stream threads and the tasks each runs.
    pub fn metadata_for_local_threads(&self) -> Vec<ThreadMetadata> {
        self.status
            .threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits until the state is `state` (or the instance stopped), at most `timeout`; whether
    /// it is `state`.
    pub fn wait_for_state(&self, state: State, timeout: Duration) -> bool {
        self.status.wait(
            |s| s == state || matches!(s, State::Error | State::NotRunning),
            timeout,
        );
        self.state() == state
    }

    /// Starts the instance: it joins the group, restores its tasks' state and processes.
    /// Errors when it was started before.
    pub fn start(&self) -> Result<(), StreamsError> {
        let mut coordinator = self
            .coordinator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.state() != State::Created || coordinator.is_some() {
            return Err(StreamsError::InvalidArgument(
                "The client is either already started or already stopped, cannot re-start"
                    .to_string(),
            ));
        }
        *self
            .state_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = self.lock_state_dir()?;
        self.status.set(State::Rebalancing);
        let run = coordinator::Coordinator::new(
            Arc::clone(&self.topology),
            self.config.clone(),
            Arc::clone(&self.status),
            Arc::clone(&self.shutdown),
        )?;
        let handle = std::thread::Builder::new()
            .name(format!("{}-coordinator", self.config.application_id()?))
            .spawn(move || run.run())
            .map_err(|e| StreamsError::Kafka(format!("cannot start a thread: {e}")))?;
        *coordinator = Some(handle);
        Ok(())
    }

    /// Locks `<state.dir>/<application.id>` for this instance when its topology has
    /// persistent stores: two instances of an application cannot share one state directory.
    fn lock_state_dir(&self) -> Result<Option<std::fs::File>, StreamsError> {
        if !self.topology.stores.iter().any(|s| s.persistent) {
            return Ok(None);
        }
        let dir = self.config.state_dir().join(self.config.application_id()?);
        let failed = |e: std::io::Error| {
            StreamsError::Config(format!(
                "cannot use the state directory {}: {e}",
                dir.display()
            ))
        };
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(failed)?;
        use rustix::fs::{flock, FlockOperation};
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(file)),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(StreamsError::Config(format!(
                "Unable to initialize state, this can happen if multiple instances of Kafka Streams are running in the same state directory ({})",
                dir.display()
            ))),
            Err(e) => Err(failed(e.into())),
        }
    }

    /// Stops the instance: each thread commits what it processed, the instance leaves the
    /// group, and the state becomes NOT_RUNNING (or stays ERROR). Waits for all of it. Any
    /// thread may call it (the instance can be shared, for queries, behind an `Arc`).
    pub fn close(&self) {
        self.close_timeout(Duration::from_secs(u64::from(u32::MAX)));
    }

    /// [`KafkaStreams::close`], waiting at most `timeout`; whether everything stopped in time.
    pub fn close_timeout(&self, timeout: Duration) -> bool {
        let errored = self.state() == State::Error;
        if !errored {
            self.status.set(State::PendingShutdown);
        }
        self.shutdown
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let handle = self
            .coordinator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let done = match handle {
            None => true,
            Some(handle) => {
                let deadline = Instant::now() + timeout;
                while !handle.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let finished = handle.is_finished();
                if finished {
                    let _ = handle.join();
                }
                finished
            }
        };
        if !errored && done {
            self.status.set(State::NotRunning);
        }
        if done {
            self.state_lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
        done
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        let started = self.coordinator.get_mut().map_or(true, |c| c.is_some());
        if started {
            self.close();
        }
    }
}
