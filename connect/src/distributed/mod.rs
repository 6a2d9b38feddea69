//! Distributed mode: workers with one `group.id` form a cluster through the group protocol
//! (protocol type `connect`), keep connector configs, source offsets and statuses in three
//! compacted topics in Kafka Connect's own formats, and share the connectors and tasks with
//! incremental cooperative rebalancing.
//!
//! ```text
//!  REST ─▶ DistributedHerder ─ writes ─▶ config topic ─ read by every worker ─▶ ConfigEvent
//!            │ (leader: creates, updates, deletes; followers forward those)        │
//!            └─ group member (member.rs) ◀─ assignment ─ leader's Assignor ◀───────┘
//!                   │ start / stop what is assigned / revoked
//!                   ▼
//!                 Worker ─ statuses ─▶ status topic      source offsets ─▶ offsets topic
//! ```

pub mod assignor;
pub mod config_topic;
pub mod log;
mod member;
pub mod offset_topic;
pub mod protocol;
pub mod status_topic;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, ConfigError, ConfigExt};
use crate::connector::{ConnectError, Plugins};
use crate::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};
use crate::herder::{
    config_errors, require_stopped, validate, ConnectorInfo, Herder, HerderError, KeyError, Offsets,
};
use crate::worker::status::{State, Status, StatusKey};
use crate::worker::{
    ClientRole, ConnectorStatus, ExactlyOnceSource, TargetState, TaskId, Worker, WorkerConfig,
    WorkerHooks,
};
use config_topic::ConfigState;
use log::{LogWriter, TopicLog, TopicSpec};
use offset_topic::TopicOffsetStore;
use protocol::Work;
use status_topic::{StatusView, StatusWriter};

/// A distributed worker's group and topic settings, with Kafka Connect's names.
#[derive(Clone, Debug)]
pub struct DistributedConfig {
    /// `group.id`.
    pub group_id: String,
    /// `config.storage.topic` (1 partition).
    pub config_topic: TopicSpec,
    /// `offset.storage.topic` (`offset.storage.partitions`, 25).
    pub offset_topic: TopicSpec,
    /// `status.storage.topic` (`status.storage.partitions`, 5).
    pub status_topic: TopicSpec,
    /// `session.timeout.ms` (10 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `rebalance.timeout.ms` (60 s).
    pub rebalance_timeout: Duration,
    /// `scheduled.rebalance.max.delay.ms` (5 min): how long a departed worker's work waits
    /// for it to come back.
    pub max_delay: Duration,
}

impl DistributedConfig {
    /// Reads the settings from a worker's properties.
    pub fn from_props(props: &Config) -> Result<DistributedConfig, ConfigError> {
        let required = |key: &str| -> Result<String, ConfigError> {
            props
                .string_opt(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::missing(key))
        };
        let ms = |key: &str, default: i64| -> Result<Duration, ConfigError> {
            let v = props.long_or(key, default)?;
            if v < 0 {
                return Err(ConfigError::invalid(
                    key,
                    &v.to_string(),
                    "Value must be at least 0",
                ));
            }
            Ok(Duration::from_millis(v as u64))
        };
        let replication = |key: &str| -> Result<i32, ConfigError> {
            let v = props.int_or(key, 3)?;
            if v == 0 || v < -1 {
                return Err(ConfigError::invalid(
                    key,
                    &v.to_string(),
                    "Replication factor must be positive or -1 to use the broker's default",
                ));
            }
            Ok(v)
        };
        let partitions = |key: &str, default: i32| -> Result<i32, ConfigError> {
            let v = props.int_or(key, default)?;
            if v == 0 || v < -1 {
                return Err(ConfigError::invalid(
                    key,
                    &v.to_string(),
                    "Number of partitions must be positive, or -1 to use the broker's default",
                ));
            }
            Ok(if v == -1 { default } else { v })
        };
        Ok(DistributedConfig {
            group_id: required("group.id")?,
            config_topic: TopicSpec {
                name: required("config.storage.topic")?,
                partitions: 1,
                replication: replication("config.storage.replication.factor")?,
                property: "config.storage.topic",
            },
            offset_topic: TopicSpec {
                name: required("offset.storage.topic")?,
                partitions: partitions("offset.storage.partitions", 25)?,
                replication: replication("offset.storage.replication.factor")?,
                property: "offset.storage.topic",
            },
            status_topic: TopicSpec {
                name: required("status.storage.topic")?,
                partitions: partitions("status.storage.partitions", 5)?,
                replication: replication("status.storage.replication.factor")?,
                property: "status.storage.topic",
            },
            session_timeout: ms("session.timeout.ms", 10_000)?,
            heartbeat_interval: ms("heartbeat.interval.ms", 3_000)?,
            rebalance_timeout: ms("rebalance.timeout.ms", 60_000)?,
            max_delay: ms("scheduled.rebalance.max.delay.ms", 300_000)?,
        })
    }
}

/// Where this worker stands in the group.
#[derive(Debug, Default)]
struct GroupView {
    /// The leader's REST URL, once an assignment named it.
    leader_url: Option<String>,
    /// Whether this worker is the leader.
    leader: bool,
    /// Whether a rebalance is under way.
    rebalancing: bool,
    /// What this worker runs by assignment.
    owned: std::collections::BTreeSet<Work>,
}

/// The herder of a distributed worker.
pub struct DistributedHerder {
    worker: Arc<Worker>,
    settings: DistributedConfig,
    url: String,
    writer: LogWriter,
    config: Arc<Mutex<ConfigState>>,
    statuses: Arc<Mutex<StatusView>>,
    status_writer: Arc<StatusWriter>,
    config_log: TopicLog,
    offset_log: TopicLog,
    status_log: TopicLog,
    group: Mutex<GroupView>,
    /// Serializes the leader's config writes, so that a name is created once.
    writes: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    member: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

const REBALANCE_EXPECTED: &str = "Request cannot be completed because a rebalance is expected";
const STALE_CONFIG: &str = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)";
const NO_LEADER: &str = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.";

impl DistributedHerder {
    /// Creates the internal topics when missing, reads them, and joins the group; known to
    /// the others as `worker_id` (its advertised REST `host:port`).
    pub async fn start(
        config: WorkerConfig,
        plugins: Plugins,
        worker_id: String,
        loggers: Option<Arc<crate::loggers::Loggers>>,
    ) -> Result<Arc<DistributedHerder>, ConnectError> {
        let settings = DistributedConfig::from_props(&config.props)?;
        let admin = config.client_config(ClientRole::Admin, None)?;
        for spec in [
            &settings.config_topic,
            &settings.offset_topic,
            &settings.status_topic,
        ] {
            log::ensure_topic(&admin, spec).await?;
        }
        let writer = LogWriter::new(&config.client_config(ClientRole::Producer, None)?)?;
        let consumer = config.client_config(ClientRole::Consumer, None)?;

        let state = Arc::new(Mutex::new(ConfigState::default()));
        let (events_tx, events) = mpsc::unbounded_channel();
        let config_log = {
            let state = state.clone();
            TopicLog::start(&consumer, &settings.config_topic.name, 1, move |r| {
                let event = state
                    .lock()
                    .ok()
                    .and_then(|mut s| s.apply(r.key, r.value, r.offset));
                if let Some(e) = event {
                    let _ = events_tx.send(e);
                }
            })?
        };
        let offsets_data = Arc::new(Mutex::new(BTreeMap::new()));
        let offset_log = {
            let data = offsets_data.clone();
            TopicLog::start(
                &consumer,
                &settings.offset_topic.name,
                settings.offset_topic.partitions,
                move |r| offset_topic::apply(&data, r.key, r.value),
            )?
        };
        let statuses = Arc::new(Mutex::new(StatusView::default()));
        let status_log = {
            let view = statuses.clone();
            TopicLog::start(
                &consumer,
                &settings.status_topic.name,
                settings.status_topic.partitions,
                move |r| {
                    if let Ok(mut v) = view.lock() {
                        v.apply(r.key, r.value);
                    }
                },
            )?
        };
        for l in [&config_log, &offset_log, &status_log] {
            l.read_to_end().await?;
        }
        let status_writer = Arc::new(StatusWriter {
            writer: writer.clone(),
            topic: settings.status_topic.name.clone(),
            generation: Arc::new(AtomicI32::new(-1)),
            view: statuses.clone(),
        });
        let offsets = Arc::new(TopicOffsetStore {
            data: offsets_data,
            writer: writer.clone(),
            topic: settings.offset_topic.name.clone(),
        });
        let exactly_once = match config
            .props
            .string_or("exactly.once.source.support", "disabled")
            .to_ascii_lowercase()
            .as_str()
        {
            "enabled" => Some(ExactlyOnceSource {
                group_id: settings.group_id.clone(),
                offsets_topic: settings.offset_topic.name.clone(),
            }),
            "disabled" | "preparing" => None,
            other => {
                return Err(ConfigError::invalid(
                    "exactly.once.source.support",
                    other,
                    "String must be one of (case insensitive): disabled, enabled, preparing",
                )
                .into())
            }
        };
        let worker = Arc::new(Worker::with_hooks(
            config,
            plugins,
            offsets,
            worker_id.clone(),
            WorkerHooks {
                listener: Some(status_writer.clone()),
                exactly_once,
                loggers,
            },
        ));
        let (stop, stopped) = watch::channel(false);
        let herder = Arc::new(DistributedHerder {
            worker,
            settings,
            url: format!("http://{worker_id}/"),
            writer,
            config: state,
            statuses,
            status_writer,
            config_log,
            offset_log,
            status_log,
            group: Mutex::new(GroupView {
                rebalancing: true,
                ..GroupView::default()
            }),
            writes: tokio::sync::Mutex::new(()),
            stop,
            member: Mutex::new(None),
        });
        let handle = tokio::spawn(member::run(herder.clone(), events, stopped));
        if let Ok(mut m) = herder.member.lock() {
            *m = Some(handle);
        }
        Ok(herder)
    }

    /// Leaves the group, stops every connector and task, and stops reading the topics.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let handle = self.member.lock().ok().and_then(|mut m| m.take());
        if let Some(h) = handle {
            let _ = h.await;
        }
        self.worker.stop_all().await;
        for l in [&self.config_log, &self.offset_log, &self.status_log] {
            l.stop();
        }
    }

    /// The config topic's state.
    fn state(&self) -> ConfigState {
        self.config.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn group<T>(&self, f: impl FnOnce(&mut GroupView) -> T) -> T {
        match self.group.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    async fn write_config(&self, key: &str, value: Option<&[u8]>) -> Result<(), HerderError> {
        self.writer
            .write(&self.settings.config_topic.name, key.as_bytes(), value)
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))
    }

    async fn synced(&self) -> Result<ConfigState, HerderError> {
        self.config_log
            .read_to_end()
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(self.state())
    }

    fn existing(&self, name: &str) -> Result<ConfigState, HerderError> {
        let state = self.state();
        if !state.connectors.contains_key(name) {
            return Err(HerderError::NotFound(name.to_string()));
        }
        Ok(state)
    }

    fn stored(&self, key: &StatusKey) -> Option<status_topic::StoredStatus> {
        let view = self.statuses.lock().ok()?;
        match key {
            StatusKey::Connector(c) => view.connectors.get(c).cloned(),
            StatusKey::Task(t) => view.tasks.get(t).cloned(),
        }
    }
}

impl Herder for DistributedHerder {
    fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// The common checks, and those of exactly-once source support (KIP-618) as Kafka
    /// Connect's distributed herder makes them.
    fn config_errors<'a>(
        &'a self,
        config: &Config,
    ) -> Result<(&'a ConnectorPlugin, Vec<KeyError>), HerderError> {
        let (plugin, mut errors) = config_errors(&self.worker, config)?;
        if plugin.kind == ConnectorType::Sink {
            // a sink's consumer group must not be the workers' own
            let group = &self.settings.group_id;
            match config.string_opt("consumer.override.group.id") {
                Some(g) if g == *group => errors.push((
                    "consumer.override.group.id".into(),
                    format!("Consumer group {g} conflicts with Connect worker group {group}"),
                )),
                Some(_) => {}
                None => {
                    let name = config.string_or("name", "");
                    if format!("connect-{name}") == *group {
                        errors.push((
                            "name".into(),
                            format!("Consumer group for sink connector named {name} conflicts with Connect worker group {group}"),
                        ));
                    }
                }
            }
        }
        if plugin.kind == ConnectorType::Source {
            let instance = (plugin.create)();
            let ConnectorInstance::Source(connector) = instance else {
                return Ok((plugin, errors));
            };
            let level = config.string_or("exactly.once.support", "requested");
            if level.eq_ignore_ascii_case("required") {
                if self.worker.exactly_once().is_none() {
                    errors.push((
                        "exactly.once.support".into(),
                        "This worker does not have exactly-once source support enabled.".into(),
                    ));
                }
                let message = match connector.exactly_once_support(config) {
                    Some(true) => None,
                    Some(false) => Some("The connector does not support exactly-once semantics with the provided configuration.".to_string()),
                    None => Some("The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created).".to_string()),
                };
                if let Some(m) = message {
                    errors.push(("exactly.once.support".into(), m));
                }
            }
            let boundary = config.string_or("transaction.boundary", "poll");
            if boundary.eq_ignore_ascii_case("connector") {
                // no connector here defines its own transaction boundaries
                errors.push((
                    "transaction.boundary".into(),
                    "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition.".into(),
                ));
            }
        }
        Ok((plugin, errors))
    }

    fn leader_url(&self) -> Result<Option<String>, HerderError> {
        self.group(|g| {
            if g.leader {
                Ok(None)
            } else {
                match &g.leader_url {
                    Some(url) => Ok(Some(url.clone())),
                    None => Err(HerderError::Conflict(NO_LEADER.to_string())),
                }
            }
        })
    }

    fn owner_url(&self, connector: &str, task: Option<u32>) -> Option<String> {
        let key = match task {
            None => StatusKey::Connector(connector.to_string()),
            Some(task) => StatusKey::Task(TaskId {
                connector: connector.to_string(),
                task,
            }),
        };
        let owned = self.group(|g| {
            g.owned.contains(&match &key {
                StatusKey::Connector(c) => Work::Connector(c.clone()),
                StatusKey::Task(t) => Work::Task(t.clone()),
            })
        });
        if owned {
            return None;
        }
        let s = self.stored(&key)?;
        (s.status.state != State::Unassigned && s.status.worker_id != self.worker.worker_id())
            .then(|| format!("http://{}/", s.status.worker_id))
    }

    fn set_cluster_log_level<'a>(
        &'a self,
        namespace: &'a str,
        level: &'a str,
    ) -> BoxFuture<'a, Result<(), crate::loggers::LevelError>> {
        Box::pin(async move {
            let upper = level.to_ascii_uppercase();
            // checked here; every worker (this one too) applies it when it reads the record
            crate::loggers::Loggers::check(namespace, level)?;
            let v = config_topic::logger_value(&upper);
            if let Err(e) = self
                .write_config(&format!("logger-cluster-{namespace}"), Some(&v))
                .await
            {
                tracing::error!(error = %e, "cannot write a cluster log level");
            }
            Ok(())
        })
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.state().connectors.keys().cloned().collect() })
    }

    fn put_connector<'a>(
        &'a self,
        name: &'a str,
        mut config: Config,
        allow_replace: bool,
        initial: TargetState,
    ) -> BoxFuture<'a, Result<(bool, ConnectorInfo), HerderError>> {
        Box::pin(async move {
            config.insert("name".into(), name.to_string());
            let kind = validate(self, &config)?;
            let _writes = self.writes.lock().await;
            let state = self.synced().await?;
            let existed = state.connectors.contains_key(name);
            if existed && !allow_replace {
                return Err(HerderError::AlreadyExists(name.to_string()));
            }
            if !existed && initial != TargetState::Started {
                // as Kafka Connect: the target state first, so the connector never runs
                let v = config_topic::target_value(initial);
                self.write_config(&format!("target-state-{name}"), Some(&v))
                    .await?;
            }
            let v = config_topic::properties_value(&config);
            self.write_config(&format!("connector-{name}"), Some(&v))
                .await?;
            let tasks = state.task_configs(name).len();
            Ok((
                !existed,
                ConnectorInfo {
                    name: name.to_string(),
                    config,
                    tasks: if existed { tasks } else { 0 },
                    kind: Some(kind),
                },
            ))
        })
    }

    fn config<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Config, HerderError>> {
        Box::pin(async move {
            self.state()
                .connectors
                .get(name)
                .cloned()
                .ok_or_else(|| HerderError::NotFound(name.to_string()))
        })
    }

    fn info<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorInfo, HerderError>> {
        Box::pin(async move {
            let state = self.existing(name)?;
            let config = state.connectors[name].clone();
            let kind = config
                .string_opt("connector.class")
                .and_then(|c| self.worker.plugins().connector(&c).map(|p| p.kind));
            Ok(ConnectorInfo {
                name: name.to_string(),
                tasks: state.task_configs(name).len(),
                config,
                kind,
            })
        })
    }

    fn task_configs<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Config>, HerderError>> {
        Box::pin(async move {
            let state = self.existing(name)?;
            if self.group(|g| g.rebalancing) {
                return Err(HerderError::Internal(REBALANCE_EXPECTED.to_string()));
            }
            Ok(state.task_configs(name).to_vec())
        })
    }

    fn status<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorStatus, HerderError>> {
        Box::pin(async move {
            let state = self.existing(name)?;
            let kind = state.connectors[name]
                .string_opt("connector.class")
                .and_then(|c| self.worker.plugins().connector(&c).map(|p| p.kind))
                .ok_or_else(|| {
                    HerderError::Internal(format!("Connector {name} has no known class"))
                })?;
            let view = self
                .statuses
                .lock()
                .map_err(|_| HerderError::Internal("status view poisoned".into()))?;
            let Some(connector) = view.connectors.get(name) else {
                return Err(HerderError::TaskNotFound(format!(
                    "No status found for connector {name}"
                )));
            };
            let tasks: Vec<(u32, Status)> = view
                .tasks
                .range(
                    TaskId {
                        connector: name.to_string(),
                        task: 0,
                    }..=TaskId {
                        connector: name.to_string(),
                        task: u32::MAX,
                    },
                )
                .map(|(id, s)| (id.task, s.status.clone()))
                .collect();
            Ok(ConnectorStatus {
                connector: connector.status.clone(),
                tasks,
                kind,
                version: connector.version.clone(),
            })
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let _writes = self.writes.lock().await;
            let state = self.synced().await?;
            if !state.connectors.contains_key(name) {
                return Err(HerderError::NotFound(name.to_string()));
            }
            self.write_config(&format!("connector-{name}"), None)
                .await?;
            self.write_config(&format!("target-state-{name}"), None)
                .await?;
            Ok(())
        })
    }

    fn set_target<'a>(
        &'a self,
        name: &'a str,
        target: TargetState,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            self.existing(name)?;
            if target == TargetState::Stopped {
                // as Kafka Connect: no tasks first, then the state
                self.write_config(
                    &format!("commit-{name}"),
                    Some(&config_topic::commit_value(0)),
                )
                .await?;
            }
            let v = config_topic::target_value(target);
            self.write_config(&format!("target-state-{name}"), Some(&v))
                .await?;
            Ok(())
        })
    }

    fn restart<'a>(
        &'a self,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            self.existing(name)?;
            if self.group(|g| g.rebalancing) {
                return Err(HerderError::Conflict(STALE_CONFIG.to_string()));
            }
            let here = self.group(|g| g.owned.contains(&Work::Connector(name.to_string())));
            if !include_tasks && !only_failed && here {
                return member::restart_connector(self, name).await;
            }
            let v = config_topic::restart_value(include_tasks, only_failed);
            self.write_config(&format!("restart-connector-{name}"), Some(&v))
                .await
        })
    }

    fn restart_task<'a>(
        &'a self,
        name: &'a str,
        task: u32,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let state = self.existing(name)?;
            if task as usize >= state.task_configs(name).len() {
                return Err(HerderError::TaskNotFound(format!(
                    "Unknown task: {name}-{task}"
                )));
            }
            if self.worker.restart_task(name, task).await {
                Ok(())
            } else {
                Err(HerderError::Conflict(STALE_CONFIG.to_string()))
            }
        })
    }

    fn offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Offsets, HerderError>> {
        Box::pin(async move {
            let state = self.existing(name)?;
            self.offset_log
                .read_to_end()
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            Ok(self
                .worker
                .connector_offsets(name, &state.connectors[name])
                .await?)
        })
    }

    fn alter_offsets<'a>(
        &'a self,
        name: &'a str,
        offsets: Offsets,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let state = self.synced().await?;
            let config = state
                .connectors
                .get(name)
                .ok_or_else(|| HerderError::NotFound(name.to_string()))?;
            require_stopped(name, state.target(name))?;
            Ok(self.worker.alter_offsets(name, config, offsets).await?)
        })
    }

    fn reset_offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let state = self.synced().await?;
            let config = state
                .connectors
                .get(name)
                .ok_or_else(|| HerderError::NotFound(name.to_string()))?;
            require_stopped(name, state.target(name))?;
            self.offset_log
                .read_to_end()
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            Ok(self.worker.reset_offsets(name, config).await?)
        })
    }

    fn active_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.statuses
                .lock()
                .ok()
                .and_then(|v| v.topics.get(name).map(|t| t.iter().cloned().collect()))
                .unwrap_or_default()
        })
    }

    fn reset_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.status_writer.remove_topics(name);
            self.worker.reset_active_topics(name);
        })
    }
}

impl DistributedHerder {
    /// The generation this worker is in (for status records).
    fn set_generation(&self, generation: i32) {
        self.status_writer
            .generation
            .store(generation, Ordering::Relaxed);
    }
}
