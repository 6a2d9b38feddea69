//! A connector's config as Kafka Connect reads it: `name`, `connector.class`, `tasks.max`,
//! converter overrides, the `transforms` and `predicates` chains, `errors.*`, and for sinks
//! `topics` or `topics.regex`.

use std::time::Duration;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::converter::{self, Converter, HeaderConverter};
use crate::transforms::{self, Stage};

/// What `errors.tolerance` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tolerance {
    /// Any conversion or transform error fails the task (the default).
    None,
    /// Records that fail are skipped (and logged or sent to the dead letter queue).
    All,
}

/// The `errors.*` settings.
#[derive(Clone, Debug)]
pub struct ErrorPolicy {
    /// `errors.tolerance`.
    pub tolerance: Tolerance,
    /// `errors.retry.timeout`: how long a failing operation is retried (0: not retried).
    pub retry_timeout: Duration,
    /// `errors.retry.delay.max.ms`: the longest wait between retries.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log: bool,
    /// `errors.log.include.messages`.
    pub log_messages: bool,
    /// `errors.deadletterqueue.topic.name` (sinks).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`.
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
}

impl ErrorPolicy {
    /// Reads `errors.*`.
    pub fn from_config(config: &Config) -> Result<ErrorPolicy, ConfigError> {
        let tolerance = config.choice_or("errors.tolerance", "none", &["none", "all"])?;
        let retry_timeout = config.long_or("errors.retry.timeout", 0)?;
        let delay = config.long_or("errors.retry.delay.max.ms", 60_000)?;
        Ok(ErrorPolicy {
            tolerance: if tolerance == "all" {
                Tolerance::All
            } else {
                Tolerance::None
            },
            retry_timeout: if retry_timeout < 0 {
                Duration::MAX
            } else {
                Duration::from_millis(retry_timeout as u64)
            },
            retry_delay_max: Duration::from_millis(delay.max(0) as u64),
            log: config.bool_or("errors.log.enable", false)?,
            log_messages: config.bool_or("errors.log.include.messages", false)?,
            dlq_topic: config
                .string_opt("errors.deadletterqueue.topic.name")
                .filter(|t| !t.is_empty()),
            dlq_replication_factor: config
                .int_or("errors.deadletterqueue.topic.replication.factor", 3)?
                as i16,
            dlq_context_headers: config
                .bool_or("errors.deadletterqueue.context.headers.enable", false)?,
        })
    }
}

/// The settings under `prefix` (e.g. `key.converter.`), prefix removed.
pub fn with_prefix(config: &Config, prefix: &str) -> Config {
    config
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
        .collect()
}

/// The converters of a connector: its own `key.converter` (with its `key.converter.*`) when set,
/// else the worker's; likewise the value and header converters.
pub struct Converters {
    /// The key, value and header converters' class names (for error reports).
    pub classes: [String; 3],
    /// For record keys.
    pub key: Box<dyn Converter>,
    /// For record values.
    pub value: Box<dyn Converter>,
    /// For header values.
    pub header: Box<dyn HeaderConverter>,
}

impl Converters {
    /// The converters for a connector config on a worker with `worker` config.
    pub fn new(connector: &Config, worker: &Config) -> Result<Converters, ConfigError> {
        let pick = |name: &str, default: &str| -> (String, Config) {
            let from = if connector.contains_key(name) {
                connector
            } else {
                worker
            };
            let class = from.string_or(name, default);
            (class, with_prefix(from, &format!("{name}.")))
        };
        let (key_class, mut key_config) = pick(
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        );
        let (value_class, value_config) = pick(
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        );
        let (header_class, header_config) = pick(
            "header.converter",
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        );
        key_config.insert("converter.type".into(), "key".into());
        let invalid = |name: &str, class: &str, e: ConfigError| {
            ConfigError::invalid(name, class, e.message())
        };
        Ok(Converters {
            classes: [key_class.clone(), value_class.clone(), header_class.clone()],
            key: converter::create(&key_class, &key_config)
                .map_err(|e| invalid("key.converter", &key_class, e))?,
            value: converter::create(&value_class, &value_config)
                .map_err(|e| invalid("value.converter", &value_class, e))?,
            header: header_converter(&header_class, &header_config)
                .map_err(|e| invalid("header.converter", &header_class, e))?,
        })
    }
}

fn header_converter(class: &str, config: &Config) -> Result<Box<dyn HeaderConverter>, ConfigError> {
    converter::header_converter(class, config)
}

/// Builds the `transforms` chain with its `predicates`.
pub fn transform_chain(config: &Config) -> Result<Vec<Stage>, ConfigError> {
    let mut stages = Vec::new();
    for alias in config.list_or("transforms", &[]) {
        let prefix = format!("transforms.{alias}.");
        let type_key = format!("{prefix}type");
        let class = config
            .string_opt(&type_key)
            .ok_or_else(|| ConfigError::invalid(&type_key, "null", "Not a Transformation"))?;
        let own = with_prefix(config, &prefix);
        let t = transforms::transformation(&class, &own)
            .map_err(|e| ConfigError::invalid(&type_key, &class, e.message()))?;
        let mut stage = Stage::new(t).with_class(&class);
        if let Some(p_alias) = own.string_opt("predicate").filter(|p| !p.is_empty()) {
            let p_prefix = format!("predicates.{p_alias}.");
            let p_type = format!("{p_prefix}type");
            let p_class = config.string_opt(&p_type).ok_or_else(|| {
                ConfigError::invalid(
                    &format!("{prefix}predicate"),
                    &p_alias,
                    "Predicate is not defined in predicates",
                )
            })?;
            let p = transforms::predicate(&p_class, &with_prefix(config, &p_prefix))
                .map_err(|e| ConfigError::invalid(&p_type, &p_class, e.message()))?;
            stage = stage.with_predicate(p, own.bool_or("negate", false)?);
        }
        stages.push(stage);
    }
    Ok(stages)
}

/// The topics a sink reads: `topics` (a list) or `topics.regex`, exactly one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkTopics {
    /// Named topics.
    List(Vec<String>),
    /// Every topic matching a Java regular expression.
    Regex(String),
}

impl SinkTopics {
    /// Reads `topics` / `topics.regex` with Kafka's checks.
    pub fn from_config(config: &Config) -> Result<SinkTopics, ConfigError> {
        let topics: Vec<String> = config
            .list_or("topics", &[])
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        let regex = config.string_opt("topics.regex").filter(|r| !r.is_empty());
        match (topics.is_empty(), regex) {
            (false, Some(_)) => Err(ConfigError::new(
                "topics and topics.regex are mutually exclusive options, but both are set.",
            )),
            (true, None) => Err(ConfigError::new(
                "Must configure one of topics or topics.regex",
            )),
            (false, None) => Ok(SinkTopics::List(topics)),
            (true, Some(r)) => {
                regex::Regex::new(&r)
                    .map_err(|e| ConfigError::invalid("topics.regex", &r, &e.to_string()))?;
                Ok(SinkTopics::Regex(r))
            }
        }
    }
}
