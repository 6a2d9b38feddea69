//! What the REST API asks of a herder, the part of a worker that decides which connectors run
//! with which configs: [`crate::standalone::StandaloneHerder`] keeps them in memory,
//! [`crate::distributed::DistributedHerder`] in the config topic of a cluster of workers.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::connector::{ConfigKey, ConfigType, ConnectError, ConnectorPlugin, ConnectorType};
use crate::data::Value;
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
    /// 409: the request conflicts with a rebalance or a concurrent config change.
    #[error("{0}")]
    Conflict(String),
}

impl HerderError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            HerderError::NotFound(_) | HerderError::TaskNotFound(_) => 404,
            HerderError::AlreadyExists(_) | HerderError::Conflict(_) => 409,
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

/// A connector's source partitions and offsets (or a sink's, as Kafka Connect shows them).
pub type Offsets = Vec<(Value, Value)>;

/// A herder, as the REST API uses it. Every method answers as Kafka Connect's herders do.
pub trait Herder: Send + Sync {
    /// The local worker.
    fn worker(&self) -> &Arc<Worker>;
    /// Where a request that changes the cluster's configs must go instead of here (the
    /// leader's REST URL), or `Ok(None)` to handle it here; 409 while no leader is known.
    fn leader_url(&self) -> Result<Option<String>, HerderError> {
        Ok(None)
    }
    /// The REST URL of the worker that runs a connector (or one of its tasks), when that is
    /// another worker; requests about running work go there.
    fn owner_url(&self, connector: &str, task: Option<u32>) -> Option<String> {
        let _ = (connector, task);
        None
    }
    /// The plugin a config names and the problems of the config (see [`config_errors`]); a
    /// herder may add checks of its own.
    fn config_errors<'a>(
        &'a self,
        config: &Config,
    ) -> Result<(&'a ConnectorPlugin, Vec<KeyError>), HerderError> {
        config_errors(self.worker(), config)
    }
    /// Sets a log level on every worker (`PUT /admin/loggers/NAME?scope=cluster`); a single
    /// worker sets it on itself.
    fn set_cluster_log_level<'a>(
        &'a self,
        namespace: &'a str,
        level: &'a str,
    ) -> BoxFuture<'a, Result<(), crate::loggers::LevelError>> {
        Box::pin(async move { self.worker().loggers().set(namespace, level).map(|_| ()) })
    }
    /// The names of the connectors.
    fn connectors(&self) -> BoxFuture<'_, Vec<String>>;
    /// Creates (or, with `allow_replace`, replaces) a connector; returns whether it was new.
    fn put_connector<'a>(
        &'a self,
        name: &'a str,
        config: Config,
        allow_replace: bool,
        initial: TargetState,
    ) -> BoxFuture<'a, Result<(bool, ConnectorInfo), HerderError>>;
    /// A connector's config.
    fn config<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Config, HerderError>>;
    /// A connector's info.
    fn info<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorInfo, HerderError>>;
    /// A connector's task configs.
    fn task_configs<'a>(&'a self, name: &'a str)
        -> BoxFuture<'a, Result<Vec<Config>, HerderError>>;
    /// A connector's status and its tasks'.
    fn status<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorStatus, HerderError>>;
    /// Deletes a connector.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>>;
    /// Pauses, resumes or stops a connector.
    fn set_target<'a>(
        &'a self,
        name: &'a str,
        target: TargetState,
    ) -> BoxFuture<'a, Result<(), HerderError>>;
    /// Restarts a connector (and, with `include_tasks`, its tasks; with `only_failed`, only
    /// the failed ones).
    fn restart<'a>(
        &'a self,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'a, Result<(), HerderError>>;
    /// Restarts one task.
    fn restart_task<'a>(
        &'a self,
        name: &'a str,
        task: u32,
    ) -> BoxFuture<'a, Result<(), HerderError>>;
    /// A connector's offsets.
    fn offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Offsets, HerderError>>;
    /// Alters a stopped connector's offsets.
    fn alter_offsets<'a>(
        &'a self,
        name: &'a str,
        offsets: Offsets,
    ) -> BoxFuture<'a, Result<(), HerderError>>;
    /// Resets a stopped connector's offsets.
    fn reset_offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>>;
    /// The topics a connector has used since it was created or its topics were reset.
    fn active_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Vec<String>>;
    /// Forgets the topics a connector has used.
    fn reset_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()>;
}

/// Checks a connector config before it runs: a name, a known `connector.class`, a valid
/// `tasks.max`, the converters and transforms, and for sinks `topics` / `topics.regex`.
pub fn validate(herder: &dyn Herder, config: &Config) -> Result<ConnectorType, HerderError> {
    let (plugin, errors) = herder.config_errors(config)?;
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
    worker: &'a Worker,
    config: &Config,
) -> Result<(&'a ConnectorPlugin, Vec<KeyError>), HerderError> {
    let class = config.string_opt("connector.class").ok_or_else(|| {
        HerderError::BadRequest("Connector config contains no connector type".to_string())
    })?;
    let plugin = worker.plugins().connector(&class).ok_or_else(|| {
        HerderError::BadRequest(format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
            worker
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
        errors.push((
            key_of(e.message(), "connector.class"),
            e.message().to_string(),
        ));
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
    if let Err(e) = crate::worker::connector_config::Converters::new(config, &worker.config().props)
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
    // the connector's own checks (a message already given is not given twice)
    let own = match (plugin.create)() {
        crate::connector::ConnectorInstance::Source(c) => c.validate(config),
        crate::connector::ConnectorInstance::Sink(c) => c.validate(config),
    };
    for e in own {
        if errors.iter().all(|(_, m)| m != e.message()) {
            errors.push((
                key_of(e.message(), "connector.class"),
                e.message().to_string(),
            ));
        }
    }
    Ok((plugin, errors))
}

/// The key a Kafka-style config error message is about (`Invalid value V for configuration
/// KEY: ...`, `Missing required configuration "KEY" ...`), or `default`.
fn key_of(message: &str, default: &str) -> String {
    message
        .split_once(" for configuration ")
        .and_then(|(_, rest)| rest.split(':').next())
        .or_else(|| {
            message
                .strip_prefix("Missing required configuration \"")
                .and_then(|rest| rest.split('"').next())
        })
        .unwrap_or(default)
        .to_string()
}

/// The error a stopped connector's offsets request gets when the connector is not stopped.
pub(crate) fn require_stopped(name: &str, target: TargetState) -> Result<(), HerderError> {
    if target != TargetState::Stopped {
        return Err(HerderError::BadRequest(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )));
    }
    Ok(())
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
