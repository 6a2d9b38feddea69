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

pub use config::{ClientRole, OverridePolicy, WorkerConfig};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::connector::{ConnectError, ConnectorInstance, ConnectorType, Plugins};
use offsets::OffsetStore;
use status::{State, Status, StatusCell};

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
}

impl WorkerShared {
    /// Notes that a connector used a topic.
    pub(crate) fn topic_used(&self, connector: &str, topic: &str) {
        if let Ok(mut t) = self.topics.lock() {
            let set = t.entry(connector.to_string()).or_default();
            if !set.contains(topic) {
                set.insert(topic.to_string());
            }
        }
    }
}

struct RunningTask {
    control: watch::Sender<Target>,
    handle: JoinHandle<()>,
    status: StatusCell,
}

struct RunningConnector {
    kind: ConnectorType,
    version: &'static str,
    config: Config,
    instance: Option<ConnectorInstance>,
    status: StatusCell,
    tasks: Vec<RunningTask>,
    task_configs: Vec<Config>,
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

/// Runs connectors and tasks.
pub struct Worker {
    shared: Arc<WorkerShared>,
    plugins: Plugins,
    worker_id: String,
    connectors: tokio::sync::Mutex<BTreeMap<String, RunningConnector>>,
    /// Statuses kept after a connector stops (a `STOPPED` connector still has one).
    statuses: Mutex<BTreeMap<String, ConnectorStatus>>,
}

impl Worker {
    /// A worker with its config, plugins and offset store, known to others as `worker_id`.
    pub fn new(
        config: WorkerConfig,
        plugins: Plugins,
        offsets: Arc<dyn OffsetStore>,
        worker_id: String,
    ) -> Worker {
        Worker {
            shared: Arc::new(WorkerShared {
                config,
                offsets,
                topics: Mutex::new(BTreeMap::new()),
            }),
            plugins,
            worker_id,
            connectors: tokio::sync::Mutex::new(BTreeMap::new()),
            statuses: Mutex::new(BTreeMap::new()),
        }
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

    /// The offset store.
    pub fn offsets(&self) -> &Arc<dyn OffsetStore> {
        &self.shared.offsets
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
        let class = config.string("connector.class")?;
        let plugin = self
            .plugins
            .connector(&class)
            .ok_or_else(|| ConfigError::new(format!("Failed to find any class that implements Connector and which name matches {class}")))?
            .clone();
        let status = StatusCell::new(State::Unassigned, &self.worker_id);
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
        let mut running = RunningConnector {
            kind: plugin.kind,
            version: plugin.version,
            config: config.clone(),
            instance: None,
            status: status.clone(),
            tasks: Vec::new(),
            task_configs: Vec::new(),
        };
        if let Err(e) = started {
            tracing::error!(connector = name, error = %e, "WorkerConnector{{id={name}}} Error while starting connector");
            status.fail(e.java_class(), &e.to_string());
            self.publish(name, plugin.kind, plugin.version, &status, &[]);
            self.connectors
                .lock()
                .await
                .insert(name.to_string(), running);
            return Ok(());
        }
        status.set(if target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        });
        running.instance = Some(instance);
        if with_tasks || target != TargetState::Paused {
            let run = if target == TargetState::Paused {
                Target::Pause
            } else {
                Target::Run
            };
            if let Err(e) = self.spawn_tasks(name, &mut running, run) {
                status.fail(e.java_class(), &e.to_string());
                self.publish(name, plugin.kind, plugin.version, &status, &[]);
                self.connectors
                    .lock()
                    .await
                    .insert(name.to_string(), running);
                return Ok(());
            }
        }
        tracing::info!(
            connector = name,
            tasks = running.tasks.len(),
            "started connector"
        );
        self.connectors
            .lock()
            .await
            .insert(name.to_string(), running);
        Ok(())
    }

    /// Asks a started connector for its task configs and starts a task for each.
    fn spawn_tasks(
        &self,
        name: &str,
        running: &mut RunningConnector,
        target: Target,
    ) -> Result<(), ConnectError> {
        let Some(instance) = running.instance.as_ref() else {
            return Ok(());
        };
        let max_tasks = running.config.int_or("tasks.max", 1)?.max(1) as usize;
        let mut task_configs = match instance {
            ConnectorInstance::Source(c) => c.task_configs(max_tasks)?,
            ConnectorInstance::Sink(c) => c.task_configs(max_tasks)?,
        };
        let plugin = self
            .plugins
            .connector(&running.config.string("connector.class")?);
        for c in &mut task_configs {
            if let Some(p) = plugin {
                c.insert("task.class".into(), p.task_class.to_string());
            }
        }
        for (i, task_config) in task_configs.iter().enumerate() {
            let id = TaskId {
                connector: name.to_string(),
                task: i as u32,
            };
            let task = self.start_task(
                id,
                instance,
                task_config.clone(),
                running.config.clone(),
                target,
            );
            running.tasks.push(task);
        }
        running.task_configs = task_configs;
        Ok(())
    }

    fn start_task(
        &self,
        id: TaskId,
        instance: &ConnectorInstance,
        task_config: Config,
        config: Config,
        target: Target,
    ) -> RunningTask {
        let status = StatusCell::new(State::Unassigned, &self.worker_id);
        let (control, rx) = watch::channel(target);
        let shared = self.shared.clone();
        let handle = match instance {
            ConnectorInstance::Source(c) => {
                let task = c.create_task();
                tokio::spawn(source::run(
                    id,
                    task,
                    task_config,
                    config,
                    shared,
                    rx,
                    status.clone(),
                ))
            }
            ConnectorInstance::Sink(c) => {
                let task = c.create_task();
                tokio::spawn(sink::run(
                    id,
                    task,
                    task_config,
                    config,
                    shared,
                    rx,
                    status.clone(),
                ))
            }
        };
        RunningTask {
            control,
            handle,
            status,
        }
    }

    /// Stops a connector and its tasks (waiting up to `task.shutdown.graceful.timeout.ms` for
    /// each task); its status is forgotten.
    pub async fn stop_connector(&self, name: &str) {
        let running = self.connectors.lock().await.remove(name);
        if let Some(mut running) = running {
            self.stop_tasks(&mut running).await;
            match &mut running.instance {
                Some(ConnectorInstance::Source(c)) => c.stop(),
                Some(ConnectorInstance::Sink(c)) => c.stop(),
                None => {}
            }
        }
        if let Ok(mut s) = self.statuses.lock() {
            s.remove(name);
        }
    }

    async fn stop_tasks(&self, running: &mut RunningConnector) {
        for t in &running.tasks {
            let _ = t.control.send(Target::Stop);
        }
        for t in running.tasks.drain(..) {
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

    /// Pauses or resumes a running connector's tasks.
    pub async fn set_paused(&self, name: &str, paused: bool) {
        let mut connectors = self.connectors.lock().await;
        if let Some(c) = connectors.get_mut(name) {
            let failed = c.status.get().state == State::Failed;
            if !paused && !failed && c.instance.is_some() && c.task_configs.is_empty() {
                // started paused: its tasks come now
                if let Err(e) = self.spawn_tasks(name, c, Target::Run) {
                    c.status.fail(e.java_class(), &e.to_string());
                }
            }
            if c.status.get().state != State::Failed {
                c.status.set(if paused {
                    State::Paused
                } else {
                    State::Running
                });
            }
            for t in &c.tasks {
                let _ = t
                    .control
                    .send(if paused { Target::Pause } else { Target::Run });
            }
        }
    }

    /// Restarts one task with its current config.
    pub async fn restart_task(&self, name: &str, task: u32) -> bool {
        let mut connectors = self.connectors.lock().await;
        let Some(c) = connectors.get_mut(name) else {
            return false;
        };
        let Some(config) = c.task_configs.get(task as usize).cloned() else {
            return false;
        };
        if c.instance.is_none() {
            return false;
        }
        let Some(old) = c.tasks.get_mut(task as usize) else {
            return false;
        };
        let _ = old.control.send(Target::Stop);
        let mut handle = std::mem::replace(&mut old.handle, tokio::spawn(async {}));
        if tokio::time::timeout(self.shared.config.task_shutdown_timeout, &mut handle)
            .await
            .is_err()
        {
            handle.abort();
        }
        let Some(instance) = c.instance.as_ref() else {
            return false;
        };
        let paused = c.status.get().state == State::Paused;
        let id = TaskId {
            connector: name.to_string(),
            task,
        };
        let connector_config = c.config.clone();
        let fresh = self.start_task(
            id,
            instance,
            config,
            connector_config,
            if paused { Target::Pause } else { Target::Run },
        );
        c.tasks[task as usize] = fresh;
        true
    }

    /// The task configs of a running connector.
    pub async fn task_configs(&self, name: &str) -> Option<Vec<Config>> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|c| c.task_configs.clone())
    }

    /// A connector's status, if this worker runs (or ran) it.
    pub async fn status(&self, name: &str) -> Option<ConnectorStatus> {
        if let Some(c) = self.connectors.lock().await.get(name) {
            return Some(ConnectorStatus {
                connector: c.status.get(),
                tasks: c
                    .tasks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i as u32, t.status.get()))
                    .collect(),
                kind: c.kind,
                version: Some(c.version.to_string()),
            });
        }
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
            _ => self.shared.offsets.put_all(name, &offsets),
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
                self.shared.offsets.put_all(name, &all)
            }
        }
    }

    fn kind_of(&self, config: &Config) -> Option<ConnectorType> {
        let class = config.string_opt("connector.class")?;
        self.plugins.connector(&class).map(|p| p.kind)
    }

    /// Stops everything.
    pub async fn stop_all(&self) {
        let names: Vec<String> = self.connectors.lock().await.keys().cloned().collect();
        for name in names {
            self.stop_connector(&name).await;
        }
    }
}
