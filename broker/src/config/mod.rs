//! Broker and topic configuration, with Kafka's property names, defaults and validation.
//!
//! The broker reads a Kafka-style properties file (`key=value`, `#` comments) plus overrides
//! from flags and the environment. Every topic config has a broker-level synonym
//! (`retention.ms` ↔ `log.retention.ms`, ...) that supplies its default, exactly as in Kafka;
//! [`TOPIC_CONFIGS`] is that table and also feeds `DescribeConfigs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::log::{Codec, LogConfig, TargetCompression};

/// The value type of a config, as `DescribeConfigs` v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` / `false`.
    Boolean = 1,
    /// Free text, possibly restricted to a set of values.
    String = 2,
    /// 32-bit integer.
    Int = 3,
    /// 16-bit integer.
    Short = 4,
    /// 64-bit integer.
    Long = 5,
    /// Floating point.
    Double = 6,
    /// Comma-separated list.
    List = 7,
    /// A Java class name.
    Class = 8,
    /// A secret, never described with its value.
    Password = 9,
}

mod broker;
mod cluster;
mod group;
mod kafka_names;
mod topic;

pub use broker::{
    is_dynamic_broker_config, kafka_broker_config, validate_dynamic_broker_config, BrokerConfigDef,
    KafkaBrokerConfig, Update, BROKER_CONFIGS,
};
pub use cluster::{
    parse_listeners, parse_voters, ClusterConfig, ClusterMode, LifecycleConfig, Listener,
    QuorumConfig, ReplicationConfig, Roles, Voter, DEFAULT_LISTENER_NAME,
};
pub use group::{group_config_def, validate_group_config, GroupConfigDef, GROUP_CONFIGS};
use topic::{check_value, synonym_scale};
pub use topic::{
    extra_topic_config, segment_size_config, topic_config_def, validate_topic_config,
    ExtraTopicConfig, TopicConfigDef, EXTRA_TOPIC_CONFIGS, TOPIC_CONFIGS,
};

/// Where a config value came from, with `DescribeConfigs`' numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic.
    TopicConfig = 1,
    /// Set on this broker at runtime (IncrementalAlterConfigs / AlterConfigs).
    DynamicBrokerConfig = 2,
    /// Set at runtime as the default of every broker (the resource named "").
    DynamicDefaultBrokerConfig = 3,
    /// Set in the broker's properties file or flags.
    StaticBrokerConfig = 4,
    /// Kafka's default.
    DefaultConfig = 5,
    /// Set on a group (KIP-848 group configs).
    GroupConfig = 8,
}

/// Broker configs set at runtime, kept in the metadata log: this broker's own and the
/// cluster-wide defaults. They rank below topic overrides and above the properties file.
#[derive(Debug, Default, Clone, Copy)]
pub struct Dynamic<'a> {
    /// Set for this broker.
    pub broker: Option<&'a BTreeMap<String, String>>,
    /// Set for every broker.
    pub default: Option<&'a BTreeMap<String, String>>,
}

impl Dynamic<'_> {
    /// No dynamic configs.
    pub const NONE: Dynamic<'static> = Dynamic {
        broker: None,
        default: None,
    };
}

/// One resolved config value with its provenance.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// Config name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Every level that sets it, highest precedence first: `(name, value, source)`.
    pub synonyms: Vec<(String, String, ConfigSource)>,
}

/// A config problem found at start: names the key and says what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The broker's configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Every property given (file, flags, environment), after validation.
    pub props: BTreeMap<String, String>,
    /// `node.id`.
    pub node_id: i32,
    /// Address the listener binds to (port 0 picks a free port).
    pub listen_addr: SocketAddr,
    /// Host and port given to clients in Metadata; `None` means the bound address.
    pub advertised: Option<(String, u16)>,
    /// `log.dirs` (Tributary uses one directory).
    pub data_dir: PathBuf,
    /// `num.partitions`.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `delete.topic.enable`: whether DeleteTopics may delete.
    pub delete_topic_enable: bool,
    /// `socket.request.max.bytes`.
    pub socket_request_max_bytes: usize,
    /// `connections.max.idle.ms`.
    pub connections_max_idle_ms: u64,
    /// `queued.max.requests`.
    pub queued_max_requests: usize,
    /// `queued.max.request.bytes` (resolved: 512 MiB when -1).
    pub queued_max_request_bytes: usize,
    /// `max.connections`.
    pub max_connections: usize,
    /// `log.flush.scheduler.interval.ms`.
    pub flush_scheduler_interval_ms: u64,
    /// `fetch.max.bytes`: caps what one fetch response carries, whatever the client asks.
    pub fetch_max_bytes: usize,
    /// The group coordinator's settings.
    pub group: GroupConfig,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval_ms: u64,
    /// The log cleaner's settings (`log.cleaner.*`).
    pub cleaner: CleanerConfig,
    /// The transaction coordinator's and producer state settings.
    pub txn: TxnConfig,
    /// Listeners, roles, the controller quorum, replication and lifecycle settings.
    pub cluster: ClusterConfig,
}

/// Settings of idempotence and transactions (`producer.id.*`, `transaction.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct TxnConfig {
    /// `producer.id.expiration.ms`: idle producers are forgotten by partitions after this.
    pub producer_id_expiration_ms: i64,
    /// `producer.id.expiration.check.interval.ms`.
    pub producer_id_expiration_check_interval_ms: u64,
    /// `transactional.id.expiration.ms`: idle transactional ids are forgotten after this.
    pub transactional_id_expiration_ms: i64,
    /// `transaction.max.timeout.ms`.
    pub max_timeout_ms: i32,
    /// `transaction.state.log.num.partitions`.
    pub log_partitions: i32,
    /// `transaction.state.log.replication.factor`.
    pub log_replication_factor: i16,
    /// `transaction.state.log.segment.bytes`.
    pub log_segment_bytes: i64,
    /// `transaction.state.log.min.isr`.
    pub log_min_isr: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    pub abort_timed_out_interval_ms: u64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub remove_expired_interval_ms: u64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            producer_id_expiration_ms: 86_400_000,
            producer_id_expiration_check_interval_ms: 600_000,
            transactional_id_expiration_ms: 604_800_000,
            max_timeout_ms: 900_000,
            log_partitions: 50,
            log_replication_factor: 3,
            log_segment_bytes: 104_857_600,
            log_min_isr: 2,
            abort_timed_out_interval_ms: 10_000,
            remove_expired_interval_ms: 3_600_000,
        }
    }
}

/// The log cleaner's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable`.
    pub enable: bool,
    /// `log.cleaner.threads`.
    pub threads: usize,
    /// `log.cleaner.dedupe.buffer.size`, shared by the threads.
    pub dedupe_buffer_size: u64,
    /// `log.cleaner.io.buffer.load.factor`.
    pub load_factor: f64,
    /// `log.cleaner.io.max.bytes.per.second`: read plus write throttle.
    pub io_max_bytes_per_second: f64,
    /// `log.cleaner.backoff.ms`: sleep when no log needs cleaning.
    pub backoff_ms: u64,
}

/// The group coordinator's settings (`offsets.*`, `group.*`).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `offsets.topic.num.partitions`.
    pub offsets_topic_partitions: i32,
    /// `offsets.topic.replication.factor`.
    pub offsets_topic_replication_factor: i16,
    /// `offsets.topic.segment.bytes`.
    pub offsets_topic_segment_bytes: i64,
    /// `offsets.retention.minutes`, in ms.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
    /// `group.consumer.session.timeout.ms`.
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.min.session.timeout.ms`.
    pub consumer_min_session_timeout_ms: i32,
    /// `group.consumer.max.session.timeout.ms`.
    pub consumer_max_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub consumer_max_size: usize,
    /// `group.consumer.assignors`, the default first.
    pub consumer_assignors: Vec<String>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            offsets_topic_partitions: 50,
            offsets_topic_replication_factor: 3,
            offsets_topic_segment_bytes: 104_857_600,
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX as usize,
            consumer_session_timeout_ms: 45_000,
            consumer_min_session_timeout_ms: 45_000,
            consumer_max_session_timeout_ms: 60_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_max_size: i32::MAX as usize,
            consumer_assignors: vec!["uniform".into(), "range".into()],
        }
    }
}

/// Parses a Kafka-style properties file: `key=value` or `key: value`, `#`/`!` comments.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| {
                ConfigError(format!("line {}: expected key=value, got '{line}'", n + 1))
            })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

impl BrokerConfig {
    /// Builds and validates a config from properties; unknown keys are logged and kept.
    pub fn from_props(mut props: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        // broker.id is node.id under its pre-KRaft name: either may be given, both must agree,
        // and the broker describes both
        match (props.get("node.id").cloned(), props.get("broker.id").cloned()) {
            (Some(n), Some(b)) if n.trim() != b.trim() => {
                return Err(ConfigError(format!(
                    "If both broker.id and node.id are set, they must match: broker.id={b}, node.id={n}"
                )))
            }
            (None, Some(b)) => {
                props.insert("node.id".into(), b);
            }
            (Some(n), None) => {
                props.insert("broker.id".into(), n);
            }
            (None, None) => {
                let default = BROKER_CONFIGS.iter().find(|d| d.name == "node.id");
                let id = default.map_or("1", |d| d.default);
                props.insert("broker.id".into(), id.to_string());
            }
            _ => {}
        }
        for (k, v) in &props {
            match BROKER_CONFIGS.iter().find(|d| d.name == k) {
                Some(def) => {
                    check_value(k, def.kind, def.allowed, def.min, v).map_err(ConfigError)?
                }
                None => {
                    tracing::warn!(key = %k, "The configuration '{k}' was supplied but isn't a known config.")
                }
            }
        }
        let get = |k: &str| -> String {
            props.get(k).cloned().unwrap_or_else(|| {
                BROKER_CONFIGS
                    .iter()
                    .find(|d| d.name == k)
                    .map(|d| d.default.to_string())
                    .unwrap_or_default()
            })
        };
        let num = |k: &str| -> Result<i64, ConfigError> {
            get(k).trim().parse::<i64>().map_err(|_| {
                ConfigError(format!("Invalid value for configuration {k}: not a number"))
            })
        };
        let float = |v: &str| -> Result<f64, ConfigError> {
            v.trim()
                .parse::<f64>()
                .map_err(|_| ConfigError(format!("Invalid value {v}: not a number")))
        };
        let node_id = num("node.id")? as i32;
        let cluster = ClusterConfig::from_props(&get, node_id)?;
        let bind = cluster.broker_listener();
        let host = if bind.host.is_empty() {
            "0.0.0.0".to_string()
        } else {
            bind.host.clone()
        };
        let port = bind.port;
        let listen_addr: SocketAddr = format!("{host}:{port}")
            .parse()
            .or_else(|_| {
                use std::net::ToSocketAddrs;
                (host.as_str(), port)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or(())
            })
            .map_err(|_| {
                ConfigError(format!(
                    "Invalid value for configuration listeners: cannot resolve host '{host}'"
                ))
            })?;
        let advertised = match props.get("advertised.listeners") {
            Some(v) if !v.trim().is_empty() => cluster.advertised_broker().map(|l| {
                let host = if l.host.is_empty() {
                    "127.0.0.1"
                } else {
                    &l.host
                };
                (host.to_string(), l.port)
            }),
            _ => None,
        };
        let queued_bytes = num("queued.max.request.bytes")?;
        let cfg = BrokerConfig {
            node_id,
            cluster,
            listen_addr,
            advertised,
            data_dir: PathBuf::from(
                props
                    .get("log.dirs")
                    .or_else(|| props.get("log.dir"))
                    .cloned()
                    .unwrap_or_else(|| get("log.dirs"))
                    .split(',')
                    .next()
                    .unwrap_or("./tributary-data")
                    .trim(),
            ),
            num_partitions: num("num.partitions")? as i32,
            default_replication_factor: num("default.replication.factor")? as i16,
            auto_create_topics: get("auto.create.topics.enable").eq_ignore_ascii_case("true"),
            delete_topic_enable: get("delete.topic.enable").eq_ignore_ascii_case("true"),
            socket_request_max_bytes: num("socket.request.max.bytes")? as usize,
            connections_max_idle_ms: num("connections.max.idle.ms")? as u64,
            queued_max_requests: num("queued.max.requests")? as usize,
            queued_max_request_bytes: if queued_bytes <= 0 {
                512 << 20
            } else {
                queued_bytes as usize
            },
            max_connections: num("max.connections")? as usize,
            flush_scheduler_interval_ms: num("log.flush.scheduler.interval.ms")? as u64,
            fetch_max_bytes: num("fetch.max.bytes")? as usize,
            group: GroupConfig {
                offsets_topic_partitions: num("offsets.topic.num.partitions")? as i32,
                offsets_topic_replication_factor: num("offsets.topic.replication.factor")? as i16,
                offsets_topic_segment_bytes: num("offsets.topic.segment.bytes")?,
                offsets_retention_ms: num("offsets.retention.minutes")?.saturating_mul(60_000),
                offsets_retention_check_interval_ms: num("offsets.retention.check.interval.ms")?
                    as u64,
                offset_metadata_max_bytes: num("offset.metadata.max.bytes")? as usize,
                min_session_timeout_ms: num("group.min.session.timeout.ms")? as i32,
                max_session_timeout_ms: num("group.max.session.timeout.ms")? as i32,
                initial_rebalance_delay_ms: num("group.initial.rebalance.delay.ms")? as i32,
                max_size: num("group.max.size")? as usize,
                consumer_session_timeout_ms: num("group.consumer.session.timeout.ms")? as i32,
                consumer_min_session_timeout_ms: num("group.consumer.min.session.timeout.ms")?
                    as i32,
                consumer_max_session_timeout_ms: num("group.consumer.max.session.timeout.ms")?
                    as i32,
                consumer_heartbeat_interval_ms: num("group.consumer.heartbeat.interval.ms")? as i32,
                consumer_max_size: num("group.consumer.max.size")? as usize,
                consumer_assignors: get("group.consumer.assignors")
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
            },
            retention_check_interval_ms: num("log.retention.check.interval.ms")? as u64,
            cleaner: CleanerConfig {
                enable: get("log.cleaner.enable").eq_ignore_ascii_case("true"),
                threads: num("log.cleaner.threads")? as usize,
                dedupe_buffer_size: num("log.cleaner.dedupe.buffer.size")? as u64,
                load_factor: float(&get("log.cleaner.io.buffer.load.factor"))?,
                io_max_bytes_per_second: float(&get("log.cleaner.io.max.bytes.per.second"))?,
                backoff_ms: num("log.cleaner.backoff.ms")? as u64,
            },
            txn: TxnConfig {
                producer_id_expiration_ms: num("producer.id.expiration.ms")?,
                producer_id_expiration_check_interval_ms: num(
                    "producer.id.expiration.check.interval.ms",
                )? as u64,
                transactional_id_expiration_ms: num("transactional.id.expiration.ms")?,
                max_timeout_ms: num("transaction.max.timeout.ms")? as i32,
                log_partitions: num("transaction.state.log.num.partitions")? as i32,
                log_replication_factor: num("transaction.state.log.replication.factor")? as i16,
                log_segment_bytes: num("transaction.state.log.segment.bytes")?,
                log_min_isr: num("transaction.state.log.min.isr")? as i32,
                abort_timed_out_interval_ms: num(
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                )? as u64,
                remove_expired_interval_ms: num(
                    "transaction.remove.expired.transaction.cleanup.interval.ms",
                )? as u64,
            },
            props,
        };
        if cfg.queued_max_request_bytes < cfg.socket_request_max_bytes {
            return Err(ConfigError(format!(
                "queued.max.request.bytes ({}) must be at least socket.request.max.bytes ({})",
                cfg.queued_max_request_bytes, cfg.socket_request_max_bytes
            )));
        }
        let g = &cfg.group;
        if g.min_session_timeout_ms > g.max_session_timeout_ms {
            return Err(ConfigError(format!(
                "group.min.session.timeout.ms ({}) must not exceed group.max.session.timeout.ms ({})",
                g.min_session_timeout_ms, g.max_session_timeout_ms
            )));
        }
        if g.consumer_min_session_timeout_ms > g.consumer_max_session_timeout_ms
            || !(g.consumer_min_session_timeout_ms..=g.consumer_max_session_timeout_ms)
                .contains(&g.consumer_session_timeout_ms)
        {
            return Err(ConfigError(format!(
                "group.consumer.session.timeout.ms ({}) must lie within group.consumer.min.session.timeout.ms ({}) and group.consumer.max.session.timeout.ms ({})",
                g.consumer_session_timeout_ms, g.consumer_min_session_timeout_ms, g.consumer_max_session_timeout_ms
            )));
        }
        if g.consumer_assignors.is_empty() {
            return Err(ConfigError(
                "group.consumer.assignors must name at least one of: uniform, range".into(),
            ));
        }
        cfg.resolve_log_config(&BTreeMap::new(), &Dynamic::NONE)
            .map_err(ConfigError)?;
        Ok(cfg)
    }

    /// The value of a broker property as set, or its default.
    pub fn get(&self, name: &str) -> Option<String> {
        self.props.get(name).cloned().or_else(|| {
            BROKER_CONFIGS
                .iter()
                .find(|d| d.name == name)
                .filter(|d| !d.default.is_empty())
                .map(|d| d.default.to_string())
        })
    }

    /// Resolves one topic config: the topic override, else the broker synonyms, else Kafka's
    /// default, with every level listed as a synonym.
    pub fn resolve_topic_config(
        &self,
        def: &TopicConfigDef,
        overrides: &BTreeMap<String, String>,
        dynamic: &Dynamic<'_>,
    ) -> ResolvedConfig {
        let levels = self.levels(dynamic);
        // the value: the topic override, else the first synonym set at any level (dynamic
        // broker, dynamic default, static), the smaller unit winning
        // (Kafka merges the levels first, then takes .ms before .minutes before .hours)
        let set = overrides
            .get(def.name)
            .map(|v| (def.name, v.clone()))
            .or_else(|| {
                def.synonyms.iter().find_map(|syn| {
                    levels
                        .iter()
                        .find_map(|(props, _)| props.get(*syn).map(|v| (*syn, v.clone())))
                })
            });
        let value = match set {
            None => def.default.to_string(),
            Some((name, v)) if name == def.name => v,
            Some((name, v)) => match (synonym_scale(name), v.trim().parse::<i64>()) {
                (scale, Ok(n)) if scale > 1 && n >= 0 => n.saturating_mul(scale).to_string(),
                _ => v,
            },
        };
        // the synonyms and source as Kafka's ConfigHelper reports them
        let mut synonyms = Vec::new();
        if let Some(v) = overrides.get(def.name) {
            synonyms.push((def.name.to_string(), v.clone(), ConfigSource::TopicConfig));
        }
        if let Some(primary) = def.synonyms.first() {
            synonyms.extend(self.broker_synonyms(primary, dynamic));
        }
        let source = synonyms
            .first()
            .map_or(ConfigSource::DefaultConfig, |s| s.2);
        ResolvedConfig {
            name: def.name.to_string(),
            value,
            source,
            synonyms,
        }
    }

    /// The levels a broker setting can come from, highest precedence first (Kafka's own
    /// defaults not included).
    fn levels<'a>(
        &'a self,
        dynamic: &Dynamic<'a>,
    ) -> Vec<(&'a BTreeMap<String, String>, ConfigSource)> {
        [
            (dynamic.broker, ConfigSource::DynamicBrokerConfig),
            (dynamic.default, ConfigSource::DynamicDefaultBrokerConfig),
            (Some(&self.props), ConfigSource::StaticBrokerConfig),
        ]
        .into_iter()
        .filter_map(|(p, s)| p.map(|p| (p, s)))
        .collect()
    }

    /// The synonyms of broker config `name` as Kafka's `ConfigHelper.configSynonyms` lists
    /// them: level by level (dynamic broker, dynamic default, static, default), each of
    /// `name`'s synonyms that is set there, then everything before the first entry for `name`
    /// itself dropped. (So `log.retention.hours` alone is not listed for `log.retention.ms`,
    /// exactly as Kafka answers.)
    pub fn broker_synonyms(
        &self,
        name: &str,
        dynamic: &Dynamic<'_>,
    ) -> Vec<(String, String, ConfigSource)> {
        let names: &[&str] = match name {
            "log.roll.ms" => &["log.roll.ms", "log.roll.hours"],
            "log.roll.jitter.ms" => &["log.roll.jitter.ms", "log.roll.jitter.hours"],
            "log.flush.interval.ms" => {
                &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]
            }
            "log.retention.ms" => &[
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours",
            ],
            _ => std::slice::from_ref(&name),
        };
        let mut out = Vec::new();
        for (props, source) in self.levels(dynamic) {
            for n in names {
                if let Some(v) = props.get(*n) {
                    out.push((n.to_string(), v.clone(), source));
                }
            }
        }
        for n in names {
            if let Some(d) = BROKER_CONFIGS
                .iter()
                .find(|d| d.name == *n && !d.default.is_empty())
            {
                out.push((
                    n.to_string(),
                    d.default.to_string(),
                    ConfigSource::DefaultConfig,
                ));
            }
        }
        let first = out.iter().position(|s| s.0 == name).unwrap_or(out.len());
        out.split_off(first)
    }

    /// Resolves every setting the log needs for a topic with these overrides.
    pub fn resolve_log_config(
        &self,
        overrides: &BTreeMap<String, String>,
        dynamic: &Dynamic<'_>,
    ) -> Result<LogConfig, String> {
        let value = |name: &str| -> String {
            topic_config_def(name)
                .map(|d| self.resolve_topic_config(d, overrides, dynamic).value)
                .unwrap_or_default()
        };
        let long = |name: &str| -> Result<i64, String> {
            value(name)
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("Invalid value for configuration {name}: not a number"))
        };
        // Kafka 3.x's deprecated message.timestamp.difference.max.ms (a topic override) bounds
        // both sides where the topic does not set the KIP-937 bound of that side
        let difference = overrides
            .get("message.timestamp.difference.max.ms")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let timestamp_bound = |name: &str| -> Result<i64, String> {
            let bound = long(name)?;
            Ok(match difference {
                Some(d) if !overrides.contains_key(name) => d,
                _ => bound,
            }
            .max(0))
        };
        let policy = value("cleanup.policy");
        let compacted = policy.split(',').any(|p| p.trim() == "compact");
        let max_compaction_lag_ms = long("max.compaction.lag.ms")?.max(1);
        let mut segment_ms = long("segment.ms")?.max(1);
        if compacted {
            // Kafka rolls a compacted log's segment in time for max.compaction.lag.ms.
            segment_ms = segment_ms.min(max_compaction_lag_ms);
        }
        let codec_name = value("compression.type");
        let level = |name: &str| long(name).ok().map(|l| l as i32);
        let compression = match codec_name.as_str() {
            "gzip" => Codec::named("gzip", level("compression.gzip.level").filter(|l| *l != -1)),
            "lz4" => Codec::named("lz4", level("compression.lz4.level")),
            "zstd" => Codec::named("zstd", level("compression.zstd.level")),
            other => Codec::named(other, None),
        }
        .map_or(TargetCompression::Producer, TargetCompression::Codec);
        let ratio = value("min.cleanable.dirty.ratio")
            .trim()
            .parse::<f64>()
            .map_err(|_| {
                "Invalid value for configuration min.cleanable.dirty.ratio: not a number"
                    .to_string()
            })?;
        Ok(LogConfig {
            // Kafka 4's internal.segment.bytes (tests' small segments) wins over segment.bytes
            segment_bytes: match overrides.get("internal.segment.bytes") {
                Some(v) => v.trim().parse::<i64>().map_err(|_| {
                    format!(
                        "Invalid value {v} for configuration internal.segment.bytes: not a number"
                    )
                })?,
                None => long("segment.bytes")?,
            }
            .max(14) as u64,
            segment_ms,
            segment_index_bytes: long("segment.index.bytes")?.max(4) as u64,
            index_interval_bytes: long("index.interval.bytes")?.max(0) as u64,
            flush_messages: long("flush.messages")?.max(1),
            flush_ms: long("flush.ms")?.max(0),
            max_message_bytes: long("max.message.bytes")?.max(0) as usize,
            log_append_time: value("message.timestamp.type") == "LogAppendTime",
            timestamp_before_max_ms: timestamp_bound("message.timestamp.before.max.ms")?,
            timestamp_after_max_ms: timestamp_bound("message.timestamp.after.max.ms")?,
            compacted,
            min_insync_replicas: long("min.insync.replicas")?.clamp(1, i64::from(i32::MAX)) as i32,
            delete: policy.split(',').any(|p| p.trim() == "delete"),
            retention_ms: long("retention.ms")?,
            retention_bytes: long("retention.bytes")?,
            file_delete_delay_ms: long("file.delete.delay.ms")?.max(0),
            delete_retention_ms: long("delete.retention.ms")?.max(0),
            min_cleanable_ratio: ratio.clamp(0.0, 1.0),
            min_compaction_lag_ms: long("min.compaction.lag.ms")?.max(0),
            max_compaction_lag_ms,
            compression,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_props(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:9092");
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics);
        let log = c
            .resolve_log_config(&BTreeMap::new(), &Dynamic::NONE)
            .unwrap();
        assert_eq!(log, LogConfig::default());
        let r = c.resolve_topic_config(
            topic_config_def("retention.ms").unwrap(),
            &BTreeMap::new(),
            &Dynamic::NONE,
        );
        assert_eq!(
            (r.value.as_str(), r.source),
            ("604800000", ConfigSource::DefaultConfig)
        );
        // as Kafka: log.retention.hours alone is dropped from retention.ms's synonyms
        assert!(r.synonyms.is_empty(), "{:?}", r.synonyms);
        let r = c.resolve_topic_config(
            topic_config_def("max.message.bytes").unwrap(),
            &BTreeMap::new(),
            &Dynamic::NONE,
        );
        assert_eq!(
            r.synonyms,
            vec![(
                "message.max.bytes".to_string(),
                "1048588".to_string(),
                ConfigSource::DefaultConfig
            )]
        );
    }

    #[test]
    fn broker_synonyms_and_topic_overrides_take_precedence() {
        let c = cfg(&[
            ("log.retention.hours", "1"),
            ("log.segment.bytes", "2097152"),
        ])
        .unwrap();
        let r = c.resolve_topic_config(
            topic_config_def("retention.ms").unwrap(),
            &BTreeMap::new(),
            &Dynamic::NONE,
        );
        // the value follows log.retention.hours; the source is reported as Kafka reports it
        // (DEFAULT_CONFIG: only entries from log.retention.ms on are kept as synonyms)
        assert_eq!(
            (r.value.as_str(), r.source),
            ("3600000", ConfigSource::DefaultConfig)
        );
        let c = cfg(&[("log.retention.hours", "1"), ("log.retention.ms", "5000")]).unwrap();
        let r = c.resolve_topic_config(
            topic_config_def("retention.ms").unwrap(),
            &BTreeMap::new(),
            &Dynamic::NONE,
        );
        assert_eq!(r.value, "5000", "the smaller unit wins");
        assert_eq!(r.source, ConfigSource::StaticBrokerConfig);
        let names: Vec<&str> = r.synonyms.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "log.retention.ms",
                "log.retention.hours",
                "log.retention.hours"
            ]
        );
        // Kafka merges the levels, then .ms wins over .minutes: a static log.retention.ms
        // beats a dynamic log.retention.minutes, and a dynamic log.retention.ms beats both
        let dynamic = BTreeMap::from([("log.retention.minutes".to_string(), "2".to_string())]);
        let d = Dynamic {
            broker: Some(&dynamic),
            default: None,
        };
        let def = topic_config_def("retention.ms").unwrap();
        assert_eq!(
            c.resolve_topic_config(def, &BTreeMap::new(), &d).value,
            "5000"
        );
        let dynamic = BTreeMap::from([("log.retention.ms".to_string(), "7".to_string())]);
        let d = Dynamic {
            broker: None,
            default: Some(&dynamic),
        };
        let r = c.resolve_topic_config(def, &BTreeMap::new(), &d);
        assert_eq!(
            (r.value.as_str(), r.source),
            ("7", ConfigSource::DynamicDefaultBrokerConfig)
        );
        let overrides = BTreeMap::from([("segment.bytes".to_string(), "4096".to_string())]);
        let log = c.resolve_log_config(&overrides, &Dynamic::NONE).unwrap();
        assert_eq!(log.segment_bytes, 4096);
    }

    #[test]
    fn bad_values_name_the_key_and_allowed_values() {
        let e = cfg(&[("num.partitions", "zero")]).unwrap_err().to_string();
        assert!(e.contains("num.partitions"), "{e}");
        let e = cfg(&[("log.message.timestamp.type", "Wallclock")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CreateTime, LogAppendTime"), "{e}");
        let e = cfg(&[("listeners", "PLAINTEXT://localhost:99999")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listeners") || e.contains("99999"), "{e}");
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "shred")
            .unwrap_err()
            .contains("compact, delete"));
        assert!(validate_topic_config("no.such.config", "1")
            .unwrap_err()
            .contains("Unknown"));
        assert!(validate_topic_config("segment.bytes", "10")
            .unwrap_err()
            .contains("at least 1048576"));
        assert!(validate_topic_config("internal.segment.bytes", "2048").is_ok());
    }

    #[test]
    fn properties_file_syntax() {
        let p = parse_properties("# comment\nnode.id=3\n\nlog.dirs = /tmp/x\n! other\nfoo: bar\n")
            .unwrap();
        assert_eq!(p.get("node.id").map(String::as_str), Some("3"));
        assert_eq!(p.get("log.dirs").map(String::as_str), Some("/tmp/x"));
        assert_eq!(p.get("foo").map(String::as_str), Some("bar"));
        assert!(parse_properties("just words").is_err());
    }
}
