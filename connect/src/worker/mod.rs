//! The worker: runs connectors and their tasks, each task on its own tokio task, and reports
//! their states. Which connectors run with which configs is decided by a herder (standalone:
//! [`crate::standalone`]).
//!
//! ```text
//!  herder ─ start/stop/pause/restart ─▶ Worker ─▶ connector (task configs)
//!                                         ├─▶ source task loop (source.rs) ─▶ producer
//!                                         └─▶ sink task loop (sink.rs) ◀─ consumer
//! ```

mod config;
pub mod connector_config;
mod dlq;
pub mod offsets;
mod sink;
mod sink_offsets;
mod source;
pub mod status;
mod submitted;

pub use config::{ClientRole, OverridePolicy, WorkerConfig};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::connector::{ConnectError, ConnectorInstance, ConnectorPlugin, ConnectorType, Plugins};
use offsets::OffsetStore;
use status::{State, Status, StatusCell, StatusKey, StatusListener};

/// A task: its connector's name and its number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskId {
    /// The connector.
    pub connector: String,
    /// The task number, from 0.
    pub task: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// What a connector or task is asked to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Moving records.
    Run,
    /// Not moving records, resources kept.
    Pause,
    /// Shut down.
    Stop,
}

/// The state a connector is asked to be in (`initial_state`, pause, resume, stop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// `STARTED`.
    Started,
    /// `PAUSED`.
    Paused,
    /// `STOPPED`: the connector and its tasks are shut down, the config kept.
    Stopped,
}

/// What every task of a worker shares.
pub(crate) struct WorkerShared {
    pub(crate) config: WorkerConfig,
    pub(crate) offsets: Arc<dyn OffsetStore>,
    /// The topics each connector has produced to or consumed from (`/topics`).
    pub(crate) topics: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Hears of status changes and topics used.
    pub(crate) listener: Option<Arc<dyn StatusListener>>,
    /// Exactly-once delivery for source tasks, when the worker has it.
    pub(crate) exactly_once: Option<ExactlyOnceSource>,
}

/// Exactly-once source delivery (KIP-618, `exactly.once.source.support=enabled`): each source
/// task produces in transactions (`transactional.id` `GROUP-CONNECTOR-TASK`) that also write its
/// offsets to the offsets topic, so records and offsets are committed together.
#[derive(Clone, Debug)]
pub struct ExactlyOnceSource {
    /// The worker's `group.id`.
    pub group_id: String,
    /// The offsets topic the transactions write to.
    pub offsets_topic: String,
}

/// What a herder hooks into a worker.
#[derive(Clone, Default)]
pub struct WorkerHooks {
    /// Hears of status changes and topics used.
    pub listener: Option<Arc<dyn StatusListener>>,
    /// Exactly-once delivery for source tasks.
    pub exactly_once: Option<ExactlyOnceSource>,
    /// The process's loggers (`/admin/loggers`); levels are only recorded without them.
    pub loggers: Option<Arc<crate::loggers::Loggers>>,
}

impl WorkerShared {
    /// Notes that a task of a connector used a topic.
    pub(crate) fn topic_used(&self, connector: &str, task: u32, topic: &str) {
        if let Ok(mut t) = self.topics.lock() {
            // (once per record: known topics are found without allocating)
            if t.get(connector).is_some_and(|set| set.contains(topic)) {
                return;
            }
            t.entry(connector.to_string())
                .or_default()
                .insert(topic.to_string());
            if let Some(l) = &self.listener {
                l.on_topic(connector, task, topic);
            }
        }
    }
}

struct RunningTask {
    control: watch::Sender<Target>,
    handle: JoinHandle<()>,
    status: StatusCell,
    config: Config,
    connector_config: Config,
}

struct RunningConnector {
    kind: ConnectorType,
    version: &'static str,
    config: Config,
    instance: Option<ConnectorInstance>,
    status: StatusCell,
    /// The task configs it generated (standalone: the tasks this worker runs for it).
    task_configs: Vec<Config>,
    /// Whether this worker starts the connector's tasks itself (standalone), rather than as a
    /// herder assigns them (distributed).
    owns_tasks: bool,
}

/// A connector's status and its tasks' (for `/status`).
#[derive(Clone, Debug)]
pub struct ConnectorStatus {
    /// The connector's.
    pub connector: Status,
    /// Each task's, by number.
    pub tasks: Vec<(u32, Status)>,
    /// `source` or `sink`.
    pub kind: ConnectorType,
    /// The plugin's version.
    pub version: Option<String>,
}

#[derive(Default)]
struct Running {
    connectors: BTreeMap<String, RunningConnector>,
    tasks: BTreeMap<TaskId, RunningTask>,
}

/// Runs connectors and tasks.
pub struct Worker {
    shared: Arc<WorkerShared>,
    plugins: Plugins,
    worker_id: String,
    running: tokio::sync::Mutex<Running>,
    /// Statuses kept after a connector stops (a `STOPPED` connector still has one).
    statuses: Mutex<BTreeMap<String, ConnectorStatus>>,
    loggers: Arc<crate::loggers::Loggers>,
}

impl Worker {
    /// A worker with its config, plugins and offset store, known to others as `worker_id`.
    pub fn new(
        config: WorkerConfig,
        plugins: Plugins,
        offsets: Arc<dyn OffsetStore>,
        worker_id: String,
    ) -> Worker {
        Worker::with_hooks(config, plugins, offsets, worker_id, WorkerHooks::default())
    }

    /// A worker as [`Worker::new`] makes, with a herder's hooks.
    pub fn with_hooks(
        config: WorkerConfig,
        plugins: Plugins,
        offsets: Arc<dyn OffsetStore>,
        worker_id: String,
        hooks: WorkerHooks,
    ) -> Worker {
        Worker {
            shared: Arc::new(WorkerShared {
                config,
                offsets,
                topics: Mutex::new(BTreeMap::new()),
                listener: hooks.listener,
                exactly_once: hooks.exactly_once,
            }),
            plugins,
            worker_id,
            running: tokio::sync::Mutex::new(Running::default()),
            statuses: Mutex::new(BTreeMap::new()),
            loggers: hooks.loggers.unwrap_or_default(),
        }
    }

    /// The process's loggers.
    pub fn loggers(&self) -> &crate::loggers::Loggers {
        &self.loggers
    }

    /// The worker's config.
    pub fn config(&self) -> &WorkerConfig {
        &self.shared.config
    }

    /// The plugins it runs.
    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    /// How others know this worker (`host:port`).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Whether source tasks deliver exactly once.
    pub fn exactly_once(&self) -> Option<&ExactlyOnceSource> {
        self.shared.exactly_once.as_ref()
    }

    /// The offset store.
    pub fn offsets(&self) -> &Arc<dyn OffsetStore> {
        &self.shared.offsets
    }

    fn cell(&self, key: StatusKey, version: Option<&'static str>) -> StatusCell {
        StatusCell::reported(
            State::Unassigned,
            &self.worker_id,
            key,
            version,
            self.shared.listener.clone(),
        )
    }

    fn plugin_of(&self, config: &Config) -> Result<ConnectorPlugin, ConnectError> {
        let class = config.string("connector.class")?;
        Ok(self
            .plugins
            .connector(&class)
            .ok_or_else(|| ConfigError::new(format!("Failed to find any class that implements Connector and which name matches {class}")))?
            .clone())
    }

    /// Starts a connector and its tasks in `target` state (a stopped connector starts
    /// nothing). A connector that fails to start is reported `FAILED` with its trace.
    pub async fn start_connector(
        &self,
        name: &str,
        config: &Config,
        target: TargetState,
    ) -> Result<(), ConnectError> {
        self.start_connector_with(name, config, target, true).await
    }

    /// Starts a connector as [`Worker::start_connector`] does; without `with_tasks` a paused
    /// connector gets its task configs and tasks only when it is resumed (as Kafka Connect,
    /// which generates task configs for running connectors only).
    pub async fn start_connector_with(
        &self,
        name: &str,
        config: &Config,
        target: TargetState,
        with_tasks: bool,
    ) -> Result<(), ConnectError> {
        self.stop_connector(name).await;
        self.run_connector(name, config, target, true).await?;
        if with_tasks || target != TargetState::Paused {
            let run = if target == TargetState::Paused {
                Target::Pause
            } else {
                Target::Run
            };
            let mut running = self.running.lock().await;
            self.spawn_own_tasks(&mut running, name, run);
        }
        Ok(())
    }

    /// Starts only a connector (not its tasks: a distributed herder places those), in `target`
    /// state. A connector that fails to start is reported `FAILED` with its trace.
    pub async fn start_connector_alone(
        &self,
        name: &str,
        config: &Config,
        target: TargetState,
    ) -> Result<(), ConnectError> {
        self.stop_connector_alone(name).await;
        self.run_connector(name, config, target, false).await
    }

    async fn run_connector(
        &self,
        name: &str,
        config: &Config,
        target: TargetState,
        owns_tasks: bool,
    ) -> Result<(), ConnectError> {
        let plugin = self.plugin_of(config)?;
        let status = self.cell(StatusKey::Connector(name.to_string()), Some(plugin.version));
        let mut running = RunningConnector {
            kind: plugin.kind,
            version: plugin.version,
            config: config.clone(),
            instance: None,
            status: status.clone(),
            task_configs: Vec::new(),
            owns_tasks,
        };
        if target == TargetState::Stopped {
            status.set(State::Stopped);
            self.publish(name, plugin.kind, plugin.version, &status, &[]);
            return Ok(());
        }
        let mut instance = (plugin.create)();
        let started = match &mut instance {
            ConnectorInstance::Source(c) => c.start(config),
            ConnectorInstance::Sink(c) => c.start(config),
        };
        if let Err(e) = started {
            tracing::error!(connector = name, error = %e, "WorkerConnector{{id={name}}} Error while starting connector");
            status.fail(e.java_class(), &e.to_string());
        } else {
            status.set(if target == TargetState::Paused {
                State::Paused
            } else {
                State::Running
            });
            running.instance = Some(instance);
            tracing::info!(connector = name, "started connector");
        }
        self.running
            .lock()
            .await
            .connectors
            .insert(name.to_string(), running);
        Ok(())
    }

    /// Asks a started connector for its task configs (each with `task.class`).
    fn generate(&self, running: &RunningConnector) -> Result<Vec<Config>, ConnectError> {
        let Some(instance) = running.instance.as_ref() else {
            return Ok(Vec::new());
        };
        let max_tasks = running.config.int_or("tasks.max", 1)?.max(1) as usize;
        let mut task_configs = match instance {
            ConnectorInstance::Source(c) => c.task_configs(max_tasks)?,
            ConnectorInstance::Sink(c) => c.task_configs(max_tasks)?,
        };
        let plugin = self.plugin_of(&running.config)?;
        for c in &mut task_configs {
            c.insert("task.class".into(), plugin.task_class.to_string());
        }
        Ok(task_configs)
    }

    /// The task configs a connector running here generates now (`None` when it does not run
    /// here or failed). A failure to generate them fails the connector.
    pub async fn generate_task_configs(&self, name: &str) -> Option<Vec<Config>> {
        let running = self.running.lock().await;
        let c = running.connectors.get(name)?;
        c.instance.as_ref()?;
        match self.generate(c) {
            Ok(t) => Some(t),
            Err(e) => {
                c.status.fail(e.java_class(), &e.to_string());
                None
            }
        }
    }

    /// Generates a standalone connector's task configs and starts a task for each.
    fn spawn_own_tasks(&self, running: &mut Running, name: &str, target: Target) {
        let Some(c) = running.connectors.get_mut(name) else {
            return;
        };
        let task_configs = match self.generate(c) {
            Ok(t) => t,
            Err(e) => {
                c.status.fail(e.java_class(), &e.to_string());
                self.publish(name, c.kind, c.version, &c.status, &[]);
                return;
            }
        };
        c.task_configs = task_configs.clone();
        let connector_config = c.config.clone();
        for (i, task_config) in task_configs.into_iter().enumerate() {
            let id = TaskId {
                connector: name.to_string(),
                task: i as u32,
            };
            match self.spawn_task(id.clone(), task_config, connector_config.clone(), target) {
                Ok(t) => {
                    running.tasks.insert(id, t);
                }
                Err(e) => tracing::error!(task = %id, error = %e, "cannot start the task"),
            }
        }
    }

    fn spawn_task(
        &self,
        id: TaskId,
        task_config: Config,
        config: Config,
        target: Target,
    ) -> Result<RunningTask, ConnectError> {
        let plugin = self.plugin_of(&config)?;
        let status = self.cell(StatusKey::Task(id.clone()), Some(plugin.version));
        let (control, rx) = watch::channel(target);
        let shared = self.shared.clone();
        let handle = match (plugin.create)() {
            ConnectorInstance::Source(c) => tokio::spawn(source::run(
                id,
                c.create_task(),
                task_config.clone(),
                config.clone(),
                shared,
                rx,
                status.clone(),
            )),
            ConnectorInstance::Sink(c) => tokio::spawn(sink::run(
                id,
                c.create_task(),
                task_config.clone(),
                config.clone(),
                shared,
                rx,
                status.clone(),
            )),
        };
        Ok(RunningTask {
            control,
            handle,
            status,
            config: task_config,
            connector_config: config,
        })
    }

    /// Starts one task (a distributed herder's assignment) in `target` state.
    pub async fn start_task(
        &self,
        id: TaskId,
        task_config: Config,
        connector_config: Config,
        target: TargetState,
    ) -> Result<(), ConnectError> {
        self.stop_task(&id).await;
        let run = match target {
            TargetState::Started => Target::Run,
            TargetState::Paused => Target::Pause,
            TargetState::Stopped => return Ok(()),
        };
        let task = self.spawn_task(id.clone(), task_config, connector_config, run)?;
        self.running.lock().await.tasks.insert(id, task);
        Ok(())
    }

    /// Stops one task, waiting up to `task.shutdown.graceful.timeout.ms`.
    pub async fn stop_task(&self, id: &TaskId) {
        let task = self.running.lock().await.tasks.remove(id);
        if let Some(t) = task {
            self.stop_running_tasks(vec![t]).await;
        }
    }

    async fn stop_running_tasks(&self, tasks: Vec<RunningTask>) {
        for t in &tasks {
            let _ = t.control.send(Target::Stop);
        }
        for t in tasks {
            let mut handle = t.handle;
            if tokio::time::timeout(self.shared.config.task_shutdown_timeout, &mut handle)
                .await
                .is_err()
            {
                tracing::error!("a task did not stop in time; it is abandoned");
                handle.abort();
            }
        }
    }

    /// The connectors and tasks running here.
    pub async fn running(&self) -> (Vec<String>, Vec<TaskId>) {
        let running = self.running.lock().await;
        (
            running.connectors.keys().cloned().collect(),
            running.tasks.keys().cloned().collect(),
        )
    }

    /// Stops a connector and its tasks (waiting up to `task.shutdown.graceful.timeout.ms` for
    /// each task); its status is forgotten.
    pub async fn stop_connector(&self, name: &str) {
        let tasks: Vec<RunningTask> = {
            let mut running = self.running.lock().await;
            let ids: Vec<TaskId> = running
                .tasks
                .keys()
                .filter(|id| id.connector == name)
                .cloned()
                .collect();
            ids.iter()
                .filter_map(|id| running.tasks.remove(id))
                .collect()
        };
        self.stop_running_tasks(tasks).await;
        self.stop_connector_alone(name).await;
        if let Ok(mut s) = self.statuses.lock() {
            s.remove(name);
        }
    }

    /// Stops only a connector instance (its tasks go on).
    pub async fn stop_connector_alone(&self, name: &str) {
        let removed = self.running.lock().await.connectors.remove(name);
        if let Some(mut running) = removed {
            match &mut running.instance {
                Some(ConnectorInstance::Source(c)) => c.stop(),
                Some(ConnectorInstance::Sink(c)) => c.stop(),
                None => {}
            }
            if running.status.get().state != State::Stopped {
                running.status.set(State::Unassigned);
            }
        }
    }

    /// Pauses or resumes a connector and its tasks that run here.
    pub async fn set_paused(&self, name: &str, paused: bool) {
        let mut running = self.running.lock().await;
        let mut spawn = false;
        if let Some(c) = running.connectors.get_mut(name) {
            let failed = c.status.get().state == State::Failed;
            // started paused: its tasks come now
            spawn = c.owns_tasks
                && !paused
                && !failed
                && c.instance.is_some()
                && c.task_configs.is_empty();
            if c.status.get().state != State::Failed {
                c.status.set(if paused {
                    State::Paused
                } else {
                    State::Running
                });
            }
        }
        if spawn {
            self.spawn_own_tasks(&mut running, name, Target::Run);
        }
        for (_, t) in running.tasks.iter().filter(|(id, _)| id.connector == name) {
            let _ = t
                .control
                .send(if paused { Target::Pause } else { Target::Run });
        }
    }

    /// Restarts one task with its current config.
    pub async fn restart_task(&self, name: &str, task: u32) -> bool {
        let id = TaskId {
            connector: name.to_string(),
            task,
        };
        let old = self.running.lock().await.tasks.remove(&id);
        let Some(old) = old else {
            return false;
        };
        let paused = *old.control.borrow() == Target::Pause;
        let (config, connector_config) = (old.config.clone(), old.connector_config.clone());
        self.stop_running_tasks(vec![old]).await;
        let target = if paused { Target::Pause } else { Target::Run };
        match self.spawn_task(id.clone(), config, connector_config, target) {
            Ok(t) => {
                self.running.lock().await.tasks.insert(id, t);
                true
            }
            Err(_) => false,
        }
    }

    /// The config of a task running here.
    pub async fn task_config(&self, id: &TaskId) -> Option<Config> {
        self.running
            .lock()
            .await
            .tasks
            .get(id)
            .map(|t| t.config.clone())
    }

    /// The task configs of a running connector.
    pub async fn task_configs(&self, name: &str) -> Option<Vec<Config>> {
        self.running
            .lock()
            .await
            .connectors
            .get(name)
            .map(|c| c.task_configs.clone())
    }

    /// A connector's status, if this worker runs (or ran) it, with its tasks that run here.
    pub async fn status(&self, name: &str) -> Option<ConnectorStatus> {
        let running = self.running.lock().await;
        if let Some(c) = running.connectors.get(name) {
            return Some(ConnectorStatus {
                connector: c.status.get(),
                tasks: running
                    .tasks
                    .iter()
                    .filter(|(id, _)| id.connector == name)
                    .map(|(id, t)| (id.task, t.status.get()))
                    .collect(),
                kind: c.kind,
                version: Some(c.version.to_string()),
            });
        }
        drop(running);
        self.statuses.lock().ok()?.get(name).cloned()
    }

    fn publish(
        &self,
        name: &str,
        kind: ConnectorType,
        version: &str,
        status: &StatusCell,
        tasks: &[(u32, Status)],
    ) {
        if let Ok(mut s) = self.statuses.lock() {
            s.insert(
                name.to_string(),
                ConnectorStatus {
                    connector: status.get(),
                    tasks: tasks.to_vec(),
                    kind,
                    version: Some(version.to_string()),
                },
            );
        }
    }

    /// The topics a connector has used since it was created or its topics were reset.
    pub fn active_topics(&self, name: &str) -> Vec<String> {
        self.shared
            .topics
            .lock()
            .ok()
            .and_then(|t| t.get(name).map(|s| s.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// Forgets the topics a connector has used.
    pub fn reset_active_topics(&self, name: &str) {
        if let Ok(mut t) = self.shared.topics.lock() {
            t.remove(name);
        }
    }

    /// A connector's offsets: a source's from the offset store, a sink's from its consumer
    /// group.
    pub async fn connector_offsets(
        &self,
        name: &str,
        config: &Config,
    ) -> Result<Vec<(crate::data::Value, crate::data::Value)>, ConnectError> {
        match self.kind_of(config) {
            Some(ConnectorType::Sink) => {
                let topics = connector_config::SinkTopics::from_config(config)?;
                sink_offsets::read(self.shared.config.clone(), name.to_string(), topics).await
            }
            _ => Ok(self.shared.offsets.connector_offsets(name)),
        }
    }

    /// Alters a stopped connector's offsets (a `Value::Null` offset removes a source
    /// partition's).
    pub async fn alter_offsets(
        &self,
        name: &str,
        config: &Config,
        offsets: Vec<(crate::data::Value, crate::data::Value)>,
    ) -> Result<(), ConnectError> {
        match self.kind_of(config) {
            Some(ConnectorType::Sink) => {
                let list = sink_offsets::parse(&offsets)?;
                if list.iter().any(|(_, _, o)| o.is_some_and(|o| o < 0)) {
                    // Kafka's OffsetAndMetadata refuses it before anything is sent
                    return Err(ConnectError::Fatal(format!(
                        "Failed to modify offsets for sink connector {name}"
                    )));
                }
                sink_offsets::alter(self.shared.config.clone(), name.to_string(), list).await
            }
            _ => self.shared.offsets.put_all(name, &offsets).await,
        }
    }

    /// Resets a stopped connector's offsets.
    pub async fn reset_offsets(&self, name: &str, config: &Config) -> Result<(), ConnectError> {
        match self.kind_of(config) {
            Some(ConnectorType::Sink) => sink_offsets::reset(&self.shared.config, name).await,
            _ => {
                let all: Vec<_> = self
                    .shared
                    .offsets
                    .connector_offsets(name)
                    .into_iter()
                    .map(|(p, _)| (p, crate::data::Value::Null))
                    .collect();
                self.shared.offsets.put_all(name, &all).await
            }
        }
    }

    fn kind_of(&self, config: &Config) -> Option<ConnectorType> {
        let class = config.string_opt("connector.class")?;
        self.plugins.connector(&class).map(|p| p.kind)
    }

    /// Stops everything.
    pub async fn stop_all(&self) {
        let (connectors, tasks) = self.running().await;
        for id in tasks {
            self.stop_task(&id).await;
        }
        for name in connectors {
            self.stop_connector(&name).await;
        }
    }
}
