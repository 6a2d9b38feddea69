//! The standalone herder: one worker that runs the connectors given on its command line and
//! through the REST API, keeping their configs in memory and their source offsets in
//! `offset.storage.file.filename` (Kafka Connect's standalone mode).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::connector::{ConfigKey, ConfigType, ConnectError, ConnectorPlugin, ConnectorType};
use crate::worker::{ConnectorStatus, TargetState, Worker};

/// Why a herder request failed, with the HTTP status Kafka Connect answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HerderError {
    /// 404: `Connector NAME not found`.
    #[error("Connector {0} not found")]
    NotFound(String),
    /// 404 for a task.
    #[error("{0}")]
    TaskNotFound(String),
    /// 409: the connector exists already.
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// 400: a bad config.
    #[error("{0}")]
    BadRequest(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl HerderError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            HerderError::NotFound(_) | HerderError::TaskNotFound(_) => 404,
            HerderError::AlreadyExists(_) => 409,
            HerderError::BadRequest(_) => 400,
            HerderError::Internal(_) => 500,
        }
    }
}

impl From<ConnectError> for HerderError {
    fn from(e: ConnectError) -> HerderError {
        match e {
            ConnectError::Config(c) => HerderError::BadRequest(c.message().to_string()),
            other => HerderError::Internal(other.to_string()),
        }
    }
}

impl From<ConfigError> for HerderError {
    fn from(e: ConfigError) -> HerderError {
        HerderError::BadRequest(e.message().to_string())
    }
}

/// A config problem: the key it is about, and the message.
pub type KeyError = (String, String);

/// A connector as the REST API describes it (`GET /connectors/NAME`).
#[derive(Clone, Debug)]
pub struct ConnectorInfo {
    /// Its name.
    pub name: String,
    /// Its config.
    pub config: Config,
    /// How many tasks it has.
    pub tasks: usize,
    /// Source or sink (unknown when its class is not a plugin here).
    pub kind: Option<ConnectorType>,
}

struct Entry {
    config: Config,
    target: TargetState,
}

/// The standalone herder.
pub struct StandaloneHerder {
    worker: Arc<Worker>,
    connectors: Mutex<BTreeMap<String, Entry>>,
}

impl StandaloneHerder {
    /// A herder for a worker.
    pub fn new(worker: Arc<Worker>) -> StandaloneHerder {
        StandaloneHerder {
            worker,
            connectors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The worker.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Checks a connector config before it runs: a name, a known `connector.class`, a valid
    /// `tasks.max`, the converters and transforms, and for sinks `topics` / `topics.regex`.
    pub fn validate(&self, config: &Config) -> Result<ConnectorType, HerderError> {
        let (plugin, errors) = self.config_errors(config)?;
        if !errors.is_empty() {
            let mut m = format!(
                "Connector configuration is invalid and contains the following {} error(s):\n",
                errors.len()
            );
            for (_, e) in &errors {
                m.push_str(e);
                m.push('\n');
            }
            m.push_str("You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`");
            return Err(HerderError::BadRequest(m));
        }
        Ok(plugin.kind)
    }

    /// The plugin a config names and the problems of the config, each with the key it is about,
    /// in Kafka Connect's order: the framework's keys, then the connector's own. A missing or
    /// unknown `connector.class` is an error of its own.
    pub fn config_errors<'a>(
        &'a self,
        config: &Config,
    ) -> Result<(&'a ConnectorPlugin, Vec<KeyError>), HerderError> {
        let class = config.string_opt("connector.class").ok_or_else(|| {
            HerderError::BadRequest("Connector config contains no connector type".to_string())
        })?;
        let plugin = self.worker.plugins().connector(&class).ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
                self.worker
                    .plugins()
                    .connectors()
                    .iter()
                    .map(|p| format!("PluginDesc{{klass=class {}, name='{}', version='{}', encodedVersion={}, type={}, typeName='{}', location='classpath'}}", p.class, p.class, p.version, p.version, p.kind.name(), p.kind.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut push = |e: ConfigError| {
            let m = e.message();
            let key = m
                .split_once(" for configuration ")
                .and_then(|(_, rest)| rest.split(':').next())
                .or_else(|| {
                    m.strip_prefix("Missing required configuration \"")
                        .and_then(|rest| rest.split('"').next())
                })
                .unwrap_or("connector.class")
                .to_string();
            errors.push((key, e.message().to_string()));
        };
        match config.string_opt("name") {
            None => push(ConfigError::missing("name")),
            Some(n) if n.is_empty() => {
                push(ConfigError::invalid("name", "", "String may not be empty"))
            }
            Some(n) => {
                let control: Vec<String> = n
                    .chars()
                    .filter(|c| c.is_control())
                    .map(|c| u32::from(c).to_string())
                    .collect();
                if !control.is_empty() {
                    push(ConfigError::invalid(
                        "name",
                        &n,
                        &format!(
                            "String may not contain control sequences but had the following ASCII chars: {}",
                            control.join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(v) = config.string_opt("tasks.max") {
            match v.parse::<i32>() {
                Ok(n) if n >= 1 => {}
                Ok(_) => push(ConfigError::invalid(
                    "tasks.max",
                    &v,
                    "Value must be at least 1",
                )),
                Err(_) => {
                    // Kafka reports the parse error, then its validator's on the null left
                    push(ConfigError::invalid(
                        "tasks.max",
                        &v,
                        "Not a number of type INT",
                    ));
                    push(ConfigError::invalid(
                        "tasks.max",
                        "null",
                        "Value must be non-null",
                    ));
                }
            }
        }
        if let Err(e) =
            crate::worker::connector_config::Converters::new(config, &self.worker.config().props)
        {
            push(e);
        }
        if let Err(e) = crate::worker::connector_config::transform_chain(config) {
            push(e);
        }
        if let Err(e) = crate::worker::connector_config::ErrorPolicy::from_config(config) {
            push(e);
        }
        if plugin.kind == ConnectorType::Sink {
            if let Err(e) = crate::worker::connector_config::SinkTopics::from_config(config) {
                // the mutual exclusion is reported on both keys
                if config.contains_key("topics") && config.contains_key("topics.regex") {
                    errors.push(("topics".into(), e.message().to_string()));
                    errors.push(("topics.regex".into(), e.message().to_string()));
                } else {
                    errors.push(("topics".into(), e.message().to_string()));
                }
            }
        }
        for key in plugin.config {
            if let Err(e) = check_value(key, config) {
                errors.push((key.name.to_string(), e.message().to_string()));
            }
        }
        Ok((plugin, errors))
    }

    /// Creates (or, with `allow_replace`, replaces) a connector; returns whether it was new.
    pub async fn put_connector(
        &self,
        name: &str,
        mut config: Config,
        allow_replace: bool,
        initial: TargetState,
    ) -> Result<(bool, ConnectorInfo), HerderError> {
        config.insert("name".into(), name.to_string());
        let kind = self.validate(&config)?;
        let mut connectors = self.connectors.lock().await;
        let existing = connectors.get(name).map(|e| e.target);
        if existing.is_some() && !allow_replace {
            return Err(HerderError::AlreadyExists(name.to_string()));
        }
        let target = existing.unwrap_or(initial);
        // as Kafka Connect, a connector that is not running gets no task configs (yet)
        self.worker
            .start_connector_with(name, &config, target, target == TargetState::Started)
            .await?;
        connectors.insert(
            name.to_string(),
            Entry {
                config: config.clone(),
                target,
            },
        );
        drop(connectors);
        // as Kafka's standalone herder: the connector is kept, but the request fails
        let failed = self
            .worker
            .status(name)
            .await
            .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
        if failed {
            return Err(HerderError::Internal(format!(
                "Failed to transition connector {name} to state STARTED"
            )));
        }
        let tasks = self.worker.task_configs(name).await.map_or(0, |t| t.len());
        Ok((
            existing.is_none(),
            ConnectorInfo {
                name: name.to_string(),
                config,
                tasks,
                kind: Some(kind),
            },
        ))
    }

    /// The names of the connectors.
    pub async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// A connector's config.
    pub async fn config(&self, name: &str) -> Result<Config, HerderError> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|e| e.config.clone())
            .ok_or_else(|| HerderError::NotFound(name.to_string()))
    }

    /// A connector's info.
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let config = self.config(name).await?;
        let kind = config
            .string_opt("connector.class")
            .and_then(|c| self.worker.plugins().connector(&c).map(|p| p.kind));
        let tasks = self.worker.task_configs(name).await.map_or(0, |t| t.len());
        Ok(ConnectorInfo {
            name: name.to_string(),
            config,
            tasks,
            kind,
        })
    }

    /// A connector's task configs.
    pub async fn task_configs(&self, name: &str) -> Result<Vec<Config>, HerderError> {
        self.config(name).await?;
        Ok(self.worker.task_configs(name).await.unwrap_or_default())
    }

    /// A connector's status.
    pub async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        self.config(name).await?;
        self.worker
            .status(name)
            .await
            .ok_or_else(|| HerderError::NotFound(name.to_string()))
    }

    /// Deletes a connector.
    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        let removed = self.connectors.lock().await.remove(name);
        if removed.is_none() {
            return Err(HerderError::NotFound(name.to_string()));
        }
        self.worker.stop_connector(name).await;
        self.worker.reset_active_topics(name);
        Ok(())
    }

    /// Pauses, resumes or stops a connector.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors
            .get_mut(name)
            .ok_or_else(|| HerderError::NotFound(name.to_string()))?;
        let before = entry.target;
        entry.target = target;
        let config = entry.config.clone();
        drop(connectors);
        match (before, target) {
            (TargetState::Stopped, t) if t != TargetState::Stopped => {
                self.worker
                    .start_connector_with(name, &config, t, t == TargetState::Started)
                    .await?;
            }
            (_, TargetState::Stopped) => {
                self.worker
                    .start_connector(name, &config, TargetState::Stopped)
                    .await?;
            }
            (_, TargetState::Paused) => self.worker.set_paused(name, true).await,
            (_, TargetState::Started) => self.worker.set_paused(name, false).await,
        }
        Ok(())
    }

    /// The target state of a connector.
    pub async fn target(&self, name: &str) -> Result<TargetState, HerderError> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|e| e.target)
            .ok_or_else(|| HerderError::NotFound(name.to_string()))
    }

    /// Restarts a connector (and, with `include_tasks`, its tasks; with `only_failed`, only
    /// the failed ones).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError> {
        let config = self.config(name).await?;
        let target = self.target(name).await?;
        let status = self.worker.status(name).await;
        let connector_failed = status
            .as_ref()
            .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
        if !include_tasks {
            if !only_failed || connector_failed {
                self.worker.start_connector(name, &config, target).await?;
            }
            // a plain restart waits for the connector, as Kafka's standalone herder does
            let failed = self
                .worker
                .status(name)
                .await
                .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
            if failed && !only_failed {
                return Err(HerderError::Internal(format!(
                    "Failed to transition connector {name} to state STARTED"
                )));
            }
            return Ok(());
        }
        if !only_failed || connector_failed {
            self.worker.start_connector(name, &config, target).await?;
            return Ok(());
        }
        if let Some(status) = status {
            for (id, s) in status.tasks {
                if s.state == crate::worker::status::State::Failed {
                    self.worker.restart_task(name, id).await;
                }
            }
        }
        Ok(())
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError> {
        self.config(name).await?;
        if self.worker.restart_task(name, task).await {
            Ok(())
        } else {
            Err(HerderError::TaskNotFound(format!(
                "Unknown task: {name}-{task}"
            )))
        }
    }

    /// A connector's offsets.
    pub async fn offsets(
        &self,
        name: &str,
    ) -> Result<Vec<(crate::data::Value, crate::data::Value)>, HerderError> {
        let config = self.config(name).await?;
        Ok(self.worker.connector_offsets(name, &config).await?)
    }

    fn require_stopped(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        if target != TargetState::Stopped {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(())
    }

    /// Alters a stopped connector's offsets.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<(crate::data::Value, crate::data::Value)>,
    ) -> Result<(), HerderError> {
        let config = self.config(name).await?;
        self.require_stopped(name, self.target(name).await?)?;
        Ok(self.worker.alter_offsets(name, &config, offsets).await?)
    }

    /// Resets a stopped connector's offsets.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        let config = self.config(name).await?;
        self.require_stopped(name, self.target(name).await?)?;
        Ok(self.worker.reset_offsets(name, &config).await?)
    }

    /// Stops everything.
    pub async fn stop(&self) {
        self.worker.stop_all().await;
    }
}

/// A connector setting's value against its definition: present when required, and of its type.
fn check_value(key: &ConfigKey, config: &Config) -> Result<(), ConfigError> {
    let Some(v) = config.string_opt(key.name) else {
        return if key.required {
            Err(ConfigError::missing(key.name))
        } else {
            Ok(())
        };
    };
    let ok = match key.ty {
        ConfigType::Int => v.parse::<i32>().is_ok(),
        ConfigType::Short => v.parse::<i16>().is_ok(),
        ConfigType::Long => v.parse::<i64>().is_ok(),
        ConfigType::Double => v.parse::<f64>().is_ok(),
        ConfigType::Boolean => {
            return config.bool_or(key.name, false).map(|_| ());
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key.name,
            &v,
            &format!("Not a number of type {}", key.ty.name()),
        ))
    }
}
