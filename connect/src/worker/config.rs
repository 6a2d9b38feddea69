//! A worker's config, with Kafka Connect's property names: `bootstrap.servers`, the default
//! converters, `offset.flush.interval.ms`, `listeners`, `rest.advertised.*`, and the Kafka
//! client settings (`security.*`, `ssl.*`, `sasl.*`, and `producer.` / `consumer.` / `admin.`
//! prefixed overrides).

use std::time::Duration;

use rdkafka::config::ClientConfig;

use crate::config::{Config, ConfigError, ConfigExt};

/// Which Kafka client a worker makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRole {
    /// A source task's producer, or a sink's dead letter queue producer.
    Producer,
    /// A sink task's consumer.
    Consumer,
    /// The worker's admin client.
    Admin,
}

impl ClientRole {
    fn prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.",
            ClientRole::Consumer => "consumer.",
            ClientRole::Admin => "admin.",
        }
    }
}

/// What connector configs may override of their clients
/// (`connector.client.config.override.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Any `producer.override.*` / `consumer.override.*` (Kafka's default).
    All,
    /// None.
    None,
    /// Only the SASL JAAS config.
    Principal,
}

/// A worker's settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Every property as given.
    pub props: Config,
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `offset.flush.interval.ms`: how often source offsets and sink positions are committed.
    pub offset_flush_interval: Duration,
    /// `offset.flush.timeout.ms`: how long a commit waits for records in flight.
    pub offset_flush_timeout: Duration,
    /// `task.shutdown.graceful.timeout.ms`.
    pub task_shutdown_timeout: Duration,
    /// `listeners` for the REST API.
    pub listeners: Vec<String>,
    /// `connector.client.config.override.policy`.
    pub override_policy: OverridePolicy,
}

/// Client settings a worker passes from its top level to every client it makes.
const CLIENT_PREFIXES: &[&str] = &["security.", "ssl.", "sasl."];

impl WorkerConfig {
    /// Reads and checks a worker config.
    pub fn from_props(props: Config) -> Result<WorkerConfig, ConfigError> {
        let ms = |name: &str, default: i64| -> Result<Duration, ConfigError> {
            let v = props.long_or(name, default)?;
            if v < 0 {
                return Err(ConfigError::invalid(
                    name,
                    &v.to_string(),
                    "Value must be at least 0",
                ));
            }
            Ok(Duration::from_millis(v as u64))
        };
        let policy = props.string_or("connector.client.config.override.policy", "All");
        let override_policy = match policy.rsplit('.').next().unwrap_or(&policy) {
            "All" | "AllConnectorClientConfigOverridePolicy" => OverridePolicy::All,
            "None" | "NoneConnectorClientConfigOverridePolicy" => OverridePolicy::None,
            "Principal" | "PrincipalConnectorClientConfigOverridePolicy" => {
                OverridePolicy::Principal
            }
            _ => {
                return Err(ConfigError::invalid(
                    "connector.client.config.override.policy",
                    &policy,
                    "Class could not be found.",
                ))
            }
        };
        for key in ["key.converter", "value.converter"] {
            if let Some(class) = props.string_opt(key) {
                crate::converter::resolve(&class).ok_or_else(|| {
                    ConfigError::invalid(key, &class, &format!("Class {class} could not be found."))
                })?;
            }
        }
        Ok(WorkerConfig {
            bootstrap_servers: props.string_or("bootstrap.servers", "localhost:9092"),
            offset_flush_interval: ms("offset.flush.interval.ms", 60_000)?,
            offset_flush_timeout: ms("offset.flush.timeout.ms", 5_000)?,
            task_shutdown_timeout: ms("task.shutdown.graceful.timeout.ms", 5_000)?,
            listeners: props.list_or("listeners", &["http://:8083"]),
            override_policy,
            props,
        })
    }

    /// The librdkafka config of a client: `bootstrap.servers`, the worker's security settings,
    /// its `producer.` / `consumer.` / `admin.` settings, then the connector's
    /// `producer.override.` / `consumer.override.` / `admin.override.` ones (as the override
    /// policy allows).
    pub fn client_config(
        &self,
        role: ClientRole,
        connector: Option<&Config>,
    ) -> Result<ClientConfig, ConfigError> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in &self.props {
            if CLIENT_PREFIXES.iter().any(|p| k.starts_with(p)) {
                c.set(k, v);
            }
        }
        for (k, v) in &self.props {
            if let Some(rest) = k.strip_prefix(role.prefix()) {
                c.set(rest, v);
            }
        }
        if let Some(connector) = connector {
            let prefix = format!("{}override.", role.prefix());
            for (k, v) in connector {
                let Some(rest) = k.strip_prefix(&prefix) else {
                    continue;
                };
                let allowed = match self.override_policy {
                    OverridePolicy::All => true,
                    OverridePolicy::None => false,
                    OverridePolicy::Principal => rest == "sasl.jaas.config",
                };
                if !allowed {
                    return Err(ConfigError::invalid(
                        k,
                        v,
                        "The connector's client config override is not allowed by the worker's connector.client.config.override.policy",
                    ));
                }
                c.set(rest, v);
            }
        }
        if connector.is_none() {
            // (the Java consumer's, which librdkafka does not know; a sink task reads it)
            c.remove(MAX_POLL_RECORDS);
        }
        Ok(c)
    }
}

/// The Java consumer's `max.poll.records`: most records a poll returns, here most records
/// handed to a sink task's `put` at once.
const MAX_POLL_RECORDS: &str = "max.poll.records";

/// Takes `max.poll.records` out of a sink task's consumer config (librdkafka refuses keys it
/// does not know): its value, 500 (Kafka's default) without one.
pub(crate) fn take_max_poll_records(c: &mut ClientConfig) -> Result<usize, ConfigError> {
    let Some(text) = c.get(MAX_POLL_RECORDS).map(str::to_string) else {
        return Ok(500);
    };
    c.remove(MAX_POLL_RECORDS);
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError::invalid(
            MAX_POLL_RECORDS,
            &text,
            "Value must be at least 1",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_poll_records_sizes_a_sink_batch_and_never_reaches_librdkafka() {
        let props: Config = [
            ("bootstrap.servers", "b:9092"),
            ("consumer.max.poll.records", "2000"),
            ("consumer.fetch.min.bytes", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let worker = WorkerConfig::from_props(props).expect("a worker config");
        // a worker-internal consumer: dropped
        let internal = worker
            .client_config(ClientRole::Consumer, None)
            .expect("a client config");
        assert_eq!(internal.get(MAX_POLL_RECORDS), None);
        assert_eq!(internal.get("fetch.min.bytes"), Some("1"));
        // a sink task's: taken, and a connector's override wins
        let connector: Config = [("consumer.override.max.poll.records", "50")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut sink = worker
            .client_config(ClientRole::Consumer, Some(&connector))
            .expect("a client config");
        assert_eq!(take_max_poll_records(&mut sink).expect("valid"), 50);
        assert_eq!(sink.get(MAX_POLL_RECORDS), None);
        assert_eq!(take_max_poll_records(&mut sink).expect("valid"), 500);
        let mut bad = ClientConfig::new();
        bad.set(MAX_POLL_RECORDS, "0");
        let err = take_max_poll_records(&mut bad).expect_err("0 is refused");
        assert!(err.to_string().contains("max.poll.records"), "{err}");
    }
}
