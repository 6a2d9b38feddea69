//! `StreamsConfig`: an application's settings under Kafka Streams' property names, with Kafka's
//! defaults. Properties the library does not know are kept and passed to the Kafka clients
//! (`bootstrap.servers`, `security.protocol`, `consumer.`/`producer.` prefixed ones, ...).

use std::collections::BTreeMap;

use crate::processor::StreamsError;

/// `application.id`: names the consumer group, internal topics and the state directory.
pub const APPLICATION_ID: &str = "application.id";
/// `cache.max.bytes.buffering`: the bytes all write caches of an instance may hold.
pub const CACHE_MAX_BYTES_BUFFERING: &str = "cache.max.bytes.buffering";
/// `statestore.cache.max.bytes`: the newer name of `cache.max.bytes.buffering`.
pub const STATESTORE_CACHE_MAX_BYTES: &str = "statestore.cache.max.bytes";

/// Kafka Streams' default for the write caches: 10 MiB.
const DEFAULT_CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// `bootstrap.servers`: the brokers to start from.
pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
/// `num.stream.threads`: the threads processing records (1).
pub const NUM_STREAM_THREADS: &str = "num.stream.threads";
/// `processing.guarantee`: `at_least_once` (the default) or `exactly_once_v2`.
pub const PROCESSING_GUARANTEE: &str = "processing.guarantee";
/// `commit.interval.ms`: how often progress is committed (30 s; 100 ms under exactly-once).
pub const COMMIT_INTERVAL_MS: &str = "commit.interval.ms";
/// `num.standby.replicas`: standby copies of each task's state (0).
pub const NUM_STANDBY_REPLICAS: &str = "num.standby.replicas";
/// `replication.factor`: of internal topics (-1: the brokers' default).
pub const REPLICATION_FACTOR: &str = "replication.factor";
/// `application.server`: `host:port` of this instance, for interactive queries.
pub const APPLICATION_SERVER: &str = "application.server";
/// `state.dir`: where local state lives (`/tmp/kafka-streams`).
pub const STATE_DIR: &str = "state.dir";
/// `default.deserialization.exception.handler`: what a record that cannot be read does.
pub const DESERIALIZATION_EXCEPTION_HANDLER: &str = "default.deserialization.exception.handler";
/// `processing.exception.handler`: what a record whose processing fails does.
pub const PROCESSING_EXCEPTION_HANDLER: &str = "processing.exception.handler";
/// `production.exception.handler`: what a record that cannot be written does.
pub const PRODUCTION_EXCEPTION_HANDLER: &str = "production.exception.handler";

/// `default.dsl.store`: where the DSL's stores are kept unless the topology says
/// (`rocksDB`: in files under `state.dir`; `in_memory`, the default here).
pub const DEFAULT_DSL_STORE: &str = "default.dsl.store";
/// `dsl.store.suppliers.class`: the same choice by Kafka's class names (it wins over
/// `default.dsl.store`).
pub const DSL_STORE_SUPPLIERS_CLASS: &str = "dsl.store.suppliers.class";

/// The processing guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Records are processed at least once: after a failure some may be processed again.
    AtLeastOnce,
    /// Each record's effects (outputs, state, input offsets) are committed exactly once, in
    /// transactions.
    ExactlyOnceV2,
}

/// What to do with a record the handler is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Log it and stop the application (Kafka's `LogAndFail...` handlers, the default).
    Fail,
    /// Log it and go on with the next record.
    Continue,
}

/// Properties of Kafka Streams itself, not passed to the Kafka clients.
const STREAMS_KEYS: [&str; 22] = [
    APPLICATION_ID,
    NUM_STREAM_THREADS,
    PROCESSING_GUARANTEE,
    COMMIT_INTERVAL_MS,
    NUM_STANDBY_REPLICAS,
    REPLICATION_FACTOR,
    APPLICATION_SERVER,
    STATE_DIR,
    DESERIALIZATION_EXCEPTION_HANDLER,
    PROCESSING_EXCEPTION_HANDLER,
    PRODUCTION_EXCEPTION_HANDLER,
    CACHE_MAX_BYTES_BUFFERING,
    STATESTORE_CACHE_MAX_BYTES,
    "topology.optimization",
    "max.task.idle.ms",
    "acceptable.recovery.lag",
    "probing.rebalance.interval.ms",
    "max.warmup.replicas",
    "buffered.records.per.partition",
    "poll.ms",
    "task.timeout.ms",
    "state.cleanup.delay.ms",
];

/// Prefixes of Kafka Streams' own properties, and of the per-client ones.
const STREAMS_PREFIXES: [&str; 11] = [
    "default.",
    "windowstore.",
    "repartition.",
    "rocksdb.",
    "upgrade.",
    "rack.aware.",
    "dsl.",
    "consumer.",
    "producer.",
    "admin.",
    "restore.consumer.",
];

/// Properties only consumers take (librdkafka warns about them elsewhere).
const CONSUMER_ONLY: [&str; 14] = [
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "max.poll.records",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "isolation.level",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "max.partition.fetch.bytes",
    "partition.assignment.strategy",
    "group.instance.id",
];

/// Properties only producers take.
const PRODUCER_ONLY: [&str; 12] = [
    "acks",
    "linger.ms",
    "batch.size",
    "compression.type",
    "retries",
    "delivery.timeout.ms",
    "enable.idempotence",
    "transactional.id",
    "transaction.timeout.ms",
    "max.in.flight.requests.per.connection",
    "buffer.memory",
    "partitioner",
];

/// The Kafka client a property set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientRole {
    /// The consumer of a stream thread's input.
    MainConsumer,
    /// The consumer restoring state from changelogs.
    RestoreConsumer,
    /// A stream thread's producer.
    Producer,
    /// The admin client creating internal topics.
    Admin,
}

/// Settings by Kafka Streams' property names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamsConfig {
    props: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// No settings (every property at its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// These settings with `key` = `value`.
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key` = `value`.
    pub fn set(&mut self, key: &str, value: impl ToString) {
        self.props.insert(key.to_string(), value.to_string());
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Every property set, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.props.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `application.id`, which must be set.
    pub fn application_id(&self) -> Result<&str, StreamsError> {
        match self.get(APPLICATION_ID) {
            Some(id) if !id.is_empty() => Ok(id),
            _ => Err(StreamsError::Config(format!(
                "Missing required configuration \"{APPLICATION_ID}\" which has no default value."
            ))),
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
        what: &str,
    ) -> Result<T, StreamsError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse::<T>().map_err(|_| {
                StreamsError::Config(format!("Invalid value {v} for configuration {key}: {what}"))
            }),
        }
    }

    /// `bootstrap.servers`, which must be set.
    pub fn bootstrap_servers(&self) -> Result<&str, StreamsError> {
        match self.get(BOOTSTRAP_SERVERS) {
            Some(b) if !b.trim().is_empty() => Ok(b),
            _ => Err(StreamsError::Config(format!(
                "Missing required configuration \"{BOOTSTRAP_SERVERS}\" which has no default value."
            ))),
        }
    }

    /// `num.stream.threads` (1; at least 1).
    pub fn num_stream_threads(&self) -> Result<usize, StreamsError> {
        let n: usize = self.number(NUM_STREAM_THREADS, 1, "Not a number of type INT at least 1")?;
        if n == 0 {
            return Err(StreamsError::Config(format!(
                "Invalid value 0 for configuration {NUM_STREAM_THREADS}: Value must be at least 1"
            )));
        }
        Ok(n)
    }

    /// `processing.guarantee`.
    pub fn processing_guarantee(&self) -> Result<Guarantee, StreamsError> {
        match self.get(PROCESSING_GUARANTEE).map(str::trim) {
            None | Some("at_least_once") => Ok(Guarantee::AtLeastOnce),
            Some("exactly_once_v2") => Ok(Guarantee::ExactlyOnceV2),
            Some(other) => Err(StreamsError::Config(format!(
                "Invalid value {other} for configuration {PROCESSING_GUARANTEE}: String must be one of: at_least_once, exactly_once_v2"
            ))),
        }
    }

    /// `commit.interval.ms` (30 s, or 100 ms under exactly-once).
    pub fn commit_interval(&self) -> Result<std::time::Duration, StreamsError> {
        let default = match self.processing_guarantee()? {
            Guarantee::AtLeastOnce => 30_000,
            Guarantee::ExactlyOnceV2 => 100,
        };
        let ms: u64 = self.number(
            COMMIT_INTERVAL_MS,
            default,
            "Not a number of type LONG at least 0",
        )?;
        Ok(std::time::Duration::from_millis(ms))
    }

    /// `num.standby.replicas` (0).
    pub fn num_standby_replicas(&self) -> Result<usize, StreamsError> {
        self.number(
            NUM_STANDBY_REPLICAS,
            0,
            "Not a number of type INT at least 0",
        )
    }

    /// `replication.factor` of internal topics (-1: the brokers' default).
    pub fn replication_factor(&self) -> Result<i32, StreamsError> {
        self.number(REPLICATION_FACTOR, -1, "Not a number of type INT")
    }

    /// `state.dir`: where instances keep persistent stores (Kafka's default,
    /// `<temp dir>/kafka-streams`).
    pub fn state_dir(&self) -> std::path::PathBuf {
        match self.get(STATE_DIR).filter(|s| !s.is_empty()) {
            Some(dir) => std::path::PathBuf::from(dir),
            None => std::env::temp_dir().join("kafka-streams"),
        }
    }

    /// `application.server`, if set.
    pub fn application_server(&self) -> Option<&str> {
        self.get(APPLICATION_SERVER).filter(|s| !s.is_empty())
    }

    /// Checks that `application.server`, if set, is `host:port`.
    pub(crate) fn check_application_server(&self) -> Result<(), StreamsError> {
        match self.application_server() {
            Some(endpoint) if crate::runtime::HostInfo::parse(endpoint).is_none() => {
                Err(StreamsError::Config(format!(
                    "Invalid value {endpoint} for configuration {APPLICATION_SERVER}: Error parsing host address {endpoint}. Expected format host:port."
                )))
            }
            _ => Ok(()),
        }
    }

    /// `default.deserialization.exception.handler`.
    pub fn deserialization_handler(&self) -> Result<OnError, StreamsError> {
        self.handler(
            DESERIALIZATION_EXCEPTION_HANDLER,
            "LogAndFailExceptionHandler",
            "LogAndContinueExceptionHandler",
        )
    }

    /// `processing.exception.handler`.
    pub fn processing_handler(&self) -> Result<OnError, StreamsError> {
        self.handler(
            PROCESSING_EXCEPTION_HANDLER,
            "LogAndFailProcessingExceptionHandler",
            "LogAndContinueProcessingExceptionHandler",
        )
    }

    /// `production.exception.handler`.
    pub fn production_handler(&self) -> Result<OnError, StreamsError> {
        self.handler(
            PRODUCTION_EXCEPTION_HANDLER,
            "DefaultProductionExceptionHandler",
            "LogAndContinueProductionExceptionHandler",
        )
    }

    /// A handler given by Kafka's class name (`org.apache.kafka.streams.errors.` may be left
    /// out).
    fn handler(&self, key: &str, fail: &str, go_on: &str) -> Result<OnError, StreamsError> {
        let Some(v) = self.get(key) else {
            return Ok(OnError::Fail);
        };
        let class = v
            .trim()
            .trim_start_matches("org.apache.kafka.streams.errors.");
        if class == fail {
            Ok(OnError::Fail)
        } else if class == go_on {
            Ok(OnError::Continue)
        } else {
            Err(StreamsError::Config(format!(
                "Invalid value {v} for configuration {key}: Class {v} could not be found (known: org.apache.kafka.streams.errors.{fail}, org.apache.kafka.streams.errors.{go_on})"
            )))
        }
    }

    /// The properties of one of the app's Kafka clients: every property that is not Kafka
    /// Streams' own, then the ones prefixed for that client (`consumer.`, `main.consumer.`,
    /// `restore.consumer.`, `producer.`, `admin.`), which win.
    pub(crate) fn client_props(&self, role: ClientRole) -> Vec<(String, String)> {
        let mut out: BTreeMap<String, String> = self
            .props
            .iter()
            .filter(|(k, _)| {
                !STREAMS_KEYS.contains(&k.as_str())
                    && !STREAMS_PREFIXES.iter().any(|p| k.starts_with(p))
                    && !k.starts_with("main.consumer.")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let other: &[&str] = match role {
            ClientRole::MainConsumer | ClientRole::RestoreConsumer => &PRODUCER_ONLY,
            ClientRole::Producer => &CONSUMER_ONLY,
            ClientRole::Admin => &[],
        };
        out.retain(|k, _| {
            !other.contains(&k.as_str())
                && !(role == ClientRole::Admin
                    && (CONSUMER_ONLY.contains(&k.as_str()) || PRODUCER_ONLY.contains(&k.as_str())))
        });
        let prefixes: &[&str] = match role {
            ClientRole::MainConsumer => &["consumer.", "main.consumer."],
            ClientRole::RestoreConsumer => &["consumer.", "restore.consumer."],
            ClientRole::Producer => &["producer."],
            ClientRole::Admin => &["admin."],
        };
        for prefix in prefixes {
            for (k, v) in &self.props {
                if let Some(rest) = k.strip_prefix(prefix) {
                    out.insert(rest.to_string(), v.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Whether the DSL's stores are persistent unless the topology says
    /// (`dsl.store.suppliers.class`, else `default.dsl.store`; in memory when neither is set).
    pub fn dsl_stores_persistent(&self) -> Result<bool, StreamsError> {
        const SUPPLIERS: &str = "org.apache.kafka.streams.state.BuiltInDslStoreSuppliers$";
        if let Some(v) = self.get(DSL_STORE_SUPPLIERS_CLASS) {
            return match v.trim().strip_prefix(SUPPLIERS) {
                Some("RocksDBDslStoreSuppliers") => Ok(true),
                Some("InMemoryDslStoreSuppliers") => Ok(false),
                _ => Err(StreamsError::Config(format!(
                    "Invalid value {v} for configuration {DSL_STORE_SUPPLIERS_CLASS}: Class {v} could not be found (the built-in {SUPPLIERS}RocksDBDslStoreSuppliers and {SUPPLIERS}InMemoryDslStoreSuppliers are)"
                ))),
            };
        }
        match self.get(DEFAULT_DSL_STORE).map(str::trim) {
            None | Some("in_memory") => Ok(false),
            Some("rocksDB") => Ok(true),
            Some(v) => Err(StreamsError::Config(format!(
                "Invalid value {v} for configuration {DEFAULT_DSL_STORE}: String must be one of: rocksDB, in_memory"
            ))),
        }
    }

    /// The bytes the write caches may hold (`statestore.cache.max.bytes`, else
    /// `cache.max.bytes.buffering`, else 10 MiB).
    pub fn cache_max_bytes(&self) -> Result<usize, StreamsError> {
        for key in [STATESTORE_CACHE_MAX_BYTES, CACHE_MAX_BYTES_BUFFERING] {
            if let Some(v) = self.get(key) {
                return v.trim().parse::<usize>().map_err(|_| {
                    StreamsError::Config(format!(
                        "Invalid value {v} for configuration {key}: Not a number of type LONG at least 0"
                    ))
                });
            }
        }
        Ok(DEFAULT_CACHE_MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_properties_pass_through_with_prefixes_winning() {
        let c = StreamsConfig::new()
            .with(APPLICATION_ID, "app")
            .with(BOOTSTRAP_SERVERS, "b:9092")
            .with("security.protocol", "plaintext")
            .with("consumer.fetch.min.bytes", "10")
            .with("main.consumer.fetch.min.bytes", "20")
            .with("producer.linger.ms", "5")
            .with("session.timeout.ms", "6000")
            .with("acks", "all")
            .with(NUM_STREAM_THREADS, "3");
        let main = c.client_props(ClientRole::MainConsumer);
        assert!(main.contains(&("fetch.min.bytes".to_string(), "20".to_string())));
        assert!(main.contains(&("bootstrap.servers".to_string(), "b:9092".to_string())));
        assert!(!main
            .iter()
            .any(|(k, _)| k == "application.id" || k == "num.stream.threads" || k == "linger.ms"));
        let restore = c.client_props(ClientRole::RestoreConsumer);
        assert!(restore.contains(&("fetch.min.bytes".to_string(), "10".to_string())));
        let producer = c.client_props(ClientRole::Producer);
        assert!(producer.contains(&("linger.ms".to_string(), "5".to_string())));
        assert!(producer.contains(&("security.protocol".to_string(), "plaintext".to_string())));
        assert!(producer.contains(&("acks".to_string(), "all".to_string())));
        // each client gets only what it takes
        assert!(!producer.iter().any(|(k, _)| k == "session.timeout.ms"));
        assert!(main.contains(&("session.timeout.ms".to_string(), "6000".to_string())));
        assert!(!main.iter().any(|(k, _)| k == "acks"));
        assert_eq!(c.num_stream_threads().unwrap(), 3);
    }

    #[test]
    fn settings_are_checked_with_kafka_s_messages() {
        let c = StreamsConfig::new();
        assert_eq!(c.processing_guarantee().unwrap(), Guarantee::AtLeastOnce);
        assert_eq!(c.commit_interval().unwrap().as_millis(), 30_000);
        let eos = c.clone().with(PROCESSING_GUARANTEE, "exactly_once_v2");
        assert_eq!(eos.commit_interval().unwrap().as_millis(), 100);
        let old = c.clone().with(PROCESSING_GUARANTEE, "exactly_once");
        assert!(old
            .processing_guarantee()
            .unwrap_err()
            .to_string()
            .contains("at_least_once, exactly_once_v2"));
        assert!(c
            .clone()
            .with(NUM_STREAM_THREADS, 0)
            .num_stream_threads()
            .is_err());
        assert!(c.bootstrap_servers().is_err());
        let h = c.clone().with(
            DESERIALIZATION_EXCEPTION_HANDLER,
            "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
        );
        assert_eq!(h.deserialization_handler().unwrap(), OnError::Continue);
        assert_eq!(c.deserialization_handler().unwrap(), OnError::Fail);
        assert!(c
            .clone()
            .with(PROCESSING_EXCEPTION_HANDLER, "Nope")
            .processing_handler()
            .is_err());
    }

    #[test]
    fn application_id_is_required_and_caches_default_to_ten_mib() {
        let c = StreamsConfig::new();
        assert!(c
            .application_id()
            .unwrap_err()
            .to_string()
            .contains("application.id"));
        assert_eq!(c.cache_max_bytes().unwrap(), 10 * 1024 * 1024);
        let c = c
            .with(APPLICATION_ID, "app")
            .with(CACHE_MAX_BYTES_BUFFERING, 0);
        assert_eq!(c.application_id().unwrap(), "app");
        assert_eq!(c.cache_max_bytes().unwrap(), 0);
        let bad = StreamsConfig::new().with(STATESTORE_CACHE_MAX_BYTES, "lots");
        assert!(bad
            .cache_max_bytes()
            .unwrap_err()
            .to_string()
            .contains("statestore.cache.max.bytes"));
    }

    #[test]
    fn the_dsl_store_type_is_chosen_by_kafkas_names() {
        let persistent = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .fold(StreamsConfig::new(), |c, (k, v)| c.with(k, *v))
                .dsl_stores_persistent()
        };
        assert!(!persistent(&[]).unwrap());
        assert!(persistent(&[(DEFAULT_DSL_STORE, "rocksDB")]).unwrap());
        assert!(!persistent(&[(DEFAULT_DSL_STORE, "in_memory")]).unwrap());
        let supplier =
            "org.apache.kafka.streams.state.BuiltInDslStoreSuppliers$InMemoryDslStoreSuppliers";
        // the suppliers class wins
        assert!(!persistent(&[
            (DEFAULT_DSL_STORE, "rocksDB"),
            (DSL_STORE_SUPPLIERS_CLASS, supplier)
        ])
        .unwrap());
        assert_eq!(
            persistent(&[(DEFAULT_DSL_STORE, "RocksDB")]).unwrap_err().to_string(),
            "Invalid value RocksDB for configuration default.dsl.store: String must be one of: rocksDB, in_memory"
        );
        assert!(
            persistent(&[(DSL_STORE_SUPPLIERS_CLASS, "com.example.Mine")])
                .unwrap_err()
                .to_string()
                .contains("could not be found")
        );
    }
}
