//! What a connector is: the [`SourceConnector`] / [`SinkConnector`] that splits its work into
//! task configs, and the [`SourceTask`] / [`SinkTask`] that move the records, with Kafka
//! Connect's lifecycle (start → poll/put → commit/flush → stop). Connectors are registered in
//! [`Plugins`] under their Kafka class names.
//!
//! ```text
//!  connector config ─▶ Connector::start ─▶ task_configs(tasks.max) ─▶ Task::start (one per config)
//!  source: poll() ─▶ records ─▶ transforms ─▶ converters ─▶ Kafka, then commit()
//!  sink:   Kafka ─▶ converters ─▶ transforms ─▶ put(records), then pre_commit(offsets)
//! ```

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::config::{Config, ConfigError};
use crate::data::{DataError, Value};
use crate::record::ConnectRecord;

/// A connector or task failure; says whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// A passing problem (a connection lost, a timeout): the worker retries.
    #[error("{0}")]
    Retriable(String),
    /// A problem that retrying will not solve: the task fails.
    #[error("{0}")]
    Fatal(String),
    /// A bad config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Data that does not convert or fit.
    #[error(transparent)]
    Data(#[from] DataError),
}

impl ConnectError {
    /// Whether the worker should try again.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable(_))
    }

    /// The Java exception class Kafka Connect would show in a task's trace.
    pub fn java_class(&self) -> &'static str {
        match self {
            ConnectError::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
            ConnectError::Fatal(_) => "org.apache.kafka.connect.errors.ConnectException",
            ConnectError::Config(_) => "org.apache.kafka.common.config.ConfigException",
            ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
        }
    }
}

/// The type of a config value (Kafka's `ConfigDef.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    /// `BOOLEAN`.
    Boolean,
    /// `STRING`.
    String,
    /// `INT`.
    Int,
    /// `SHORT`.
    Short,
    /// `LONG`.
    Long,
    /// `DOUBLE`.
    Double,
    /// `LIST`: comma-separated.
    List,
    /// `CLASS`: a class name.
    Class,
    /// `PASSWORD`: shown as `[hidden]`.
    Password,
}

impl ConfigType {
    /// The name Kafka's REST answers use (`STRING`, `INT`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// How much a setting matters (Kafka's `ConfigDef.Importance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
}

impl Importance {
    /// The name Kafka's REST answers use.
    pub fn name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// One setting a plugin takes (Kafka's `ConfigDef.ConfigKey`), for the REST API's plugin
/// config listing and validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigKey {
    /// The property name.
    pub name: &'static str,
    /// Its type.
    pub ty: ConfigType,
    /// The default as text; `None` when the setting is required or its default is `null`.
    pub default: Option<&'static str>,
    /// Whether it must be set (Kafka's `NO_DEFAULT_VALUE`).
    pub required: bool,
    /// How much it matters.
    pub importance: Importance,
    /// What it does.
    pub documentation: &'static str,
}

impl ConfigKey {
    /// A required setting.
    pub const fn required(
        name: &'static str,
        ty: ConfigType,
        importance: Importance,
        documentation: &'static str,
    ) -> ConfigKey {
        ConfigKey {
            name,
            ty,
            default: None,
            required: true,
            importance,
            documentation,
        }
    }

    /// An optional setting whose default is `null` (not set).
    pub const fn optional_null(
        name: &'static str,
        ty: ConfigType,
        importance: Importance,
        documentation: &'static str,
    ) -> ConfigKey {
        ConfigKey {
            name,
            ty,
            default: None,
            required: false,
            importance,
            documentation,
        }
    }

    /// An optional setting with a default.
    pub const fn optional(
        name: &'static str,
        ty: ConfigType,
        default: &'static str,
        importance: Importance,
        documentation: &'static str,
    ) -> ConfigKey {
        ConfigKey {
            name,
            ty,
            default: Some(default),
            required: false,
            importance,
            documentation,
        }
    }
}

/// A source partition or offset: a map with string keys, as Kafka Connect keeps them
/// (`{"filename": "/tmp/in.txt"}`, `{"position": 42}`).
pub type OffsetMap = Value;

/// What a source task may ask the worker (Kafka's `SourceTaskContext`).
pub trait SourceTaskContext: Send + Sync {
    /// The last committed offset of a source partition.
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;
}

/// A source connector: reads its config and divides the work into task configs.
pub trait SourceConnector: Send {
    /// Starts with the connector's config (checked by then).
    fn start(&mut self, config: &Config) -> Result<(), ConnectError>;
    /// Up to `max_tasks` task configs.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError>;
    /// A new task of this connector.
    fn create_task(&self) -> Box<dyn SourceTask>;
    /// Stops; the tasks are stopped first.
    fn stop(&mut self) {}
    /// Problems of a config beyond the types and required keys of its [`ConfigKey`]s (Kafka's
    /// `Connector.validate`): they answer a create or a validation with 400, as Kafka Connect's.
    fn validate(&self, config: &Config) -> Vec<ConfigError> {
        let _ = config;
        Vec::new()
    }
    /// Whether it can give exactly-once delivery with `config` (Kafka's `exactlyOnceSupport`,
    /// KIP-618): `Some(true)` supported, `Some(false)` not, `None` when it does not say.
    fn exactly_once_support(&self, config: &Config) -> Option<bool> {
        let _ = config;
        None
    }
}

/// A source task: polls its source for records.
pub trait SourceTask: Send {
    /// Starts with its task config.
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: &'a dyn SourceTaskContext,
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
    /// The next records (empty when there is nothing yet; the task should wait a little
    /// rather than return empty at once).
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<ConnectRecord>, ConnectError>>;
    /// Called after offsets up to the last polled records were committed.
    fn commit(&mut self) -> BoxFuture<'_, Result<(), ConnectError>> {
        Box::pin(async { Ok(()) })
    }
    /// Stops the task.
    fn stop(&mut self) {}
}

/// A sink connector: reads its config and divides the work into task configs.
pub trait SinkConnector: Send {
    /// Starts with the connector's config.
    fn start(&mut self, config: &Config) -> Result<(), ConnectError>;
    /// Up to `max_tasks` task configs.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError>;
    /// A new task of this connector.
    fn create_task(&self) -> Box<dyn SinkTask>;
    /// Stops; the tasks are stopped first.
    fn stop(&mut self) {}
    /// Problems of a config beyond the types and required keys of its [`ConfigKey`]s (Kafka's
    /// `Connector.validate`).
    fn validate(&self, config: &Config) -> Vec<ConfigError> {
        let _ = config;
        Vec::new()
    }
}

/// What a sink task may ask the worker (Kafka's `SinkTaskContext`).
pub trait SinkTaskContext: Send + Sync {
    /// Reports a record the task could not write (Kafka's `ErrantRecordReporter`, KIP-610):
    /// with `errors.tolerance=all` it goes to the dead letter queue (when one is configured)
    /// and the task goes on; otherwise the answer is an error the task should fail with.
    fn report<'a>(
        &'a self,
        record: &'a ConnectRecord,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
}

/// A topic partition and the next offset to read in it.
pub type TopicPartitionOffsets = BTreeMap<(String, i32), i64>;

/// A sink task: receives records and writes them out.
pub trait SinkTask: Send {
    /// Starts with its task config; `context` reports records it cannot write.
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: std::sync::Arc<dyn SinkTaskContext>,
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
    /// Writes (or buffers) records. After a retriable error the worker hands the same records
    /// again, so they are lent, not given.
    fn put<'a>(
        &'a mut self,
        records: &'a [ConnectRecord],
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
    /// Makes everything put so far durable (Kafka's `flush`).
    fn flush<'a>(
        &'a mut self,
        offsets: &'a TopicPartitionOffsets,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        let _ = offsets;
        Box::pin(async { Ok(()) })
    }
    /// The offsets that are safe to commit (Kafka's `preCommit`: flush, then all of them).
    fn pre_commit<'a>(
        &'a mut self,
        offsets: &'a TopicPartitionOffsets,
    ) -> BoxFuture<'a, Result<TopicPartitionOffsets, ConnectError>> {
        Box::pin(async move {
            self.flush(offsets).await?;
            Ok(offsets.clone())
        })
    }
    /// Stops the task.
    fn stop(&mut self) {}
}

/// A new connector instance of either kind.
pub enum ConnectorInstance {
    /// A source connector.
    Source(Box<dyn SourceConnector>),
    /// A sink connector.
    Sink(Box<dyn SinkConnector>),
}

/// Whether a plugin is a source or a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorType {
    /// Reads from elsewhere into Kafka.
    Source,
    /// Writes from Kafka elsewhere.
    Sink,
}

impl ConnectorType {
    /// `source` / `sink`, as the REST API writes it.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}

/// A connector plugin: its class name, kind, version, settings and constructor.
#[derive(Clone)]
pub struct ConnectorPlugin {
    /// The Kafka class name (`org.apache.kafka.connect.file.FileStreamSourceConnector`).
    pub class: &'static str,
    /// Source or sink.
    pub kind: ConnectorType,
    /// The plugin version.
    pub version: &'static str,
    /// The class name of its tasks (added to every task config as `task.class`, as Kafka
    /// Connect does).
    pub task_class: &'static str,
    /// The settings it takes (besides the worker's common connector settings).
    pub config: &'static [ConfigKey],
    /// Makes a new instance.
    pub create: fn() -> ConnectorInstance,
}

/// The connector plugins a worker can run.
#[derive(Clone, Default)]
pub struct Plugins {
    connectors: Vec<ConnectorPlugin>,
}

impl Plugins {
    /// No plugins.
    pub fn new() -> Plugins {
        Plugins::default()
    }

    /// Adds a connector plugin.
    pub fn register(&mut self, plugin: ConnectorPlugin) {
        self.connectors.push(plugin);
    }

    /// All connector plugins.
    pub fn connectors(&self) -> &[ConnectorPlugin] {
        &self.connectors
    }

    /// The plugin a `connector.class` names: the class name, its simple name, or the simple
    /// name without `Connector` (Kafka Connect's aliases).
    pub fn connector(&self, name: &str) -> Option<&ConnectorPlugin> {
        let name = name.trim();
        self.connectors.iter().find(|p| {
            let simple = p.class.rsplit('.').next().unwrap_or(p.class);
            p.class == name || simple == name || simple.strip_suffix("Connector") == Some(name)
        })
    }
}
