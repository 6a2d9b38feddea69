//! Connection settings shared by every client subcommand, as Kafka's tools take them.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;

/// Set from `--verbose`: client subcommands then show librdkafka's own log lines.
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--bootstrap-server`, `--command-property`.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Broker to connect to, HOST:PORT
    #[arg(
        long,
        short = 'b',
        env = "TRIBUTARY_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_server: String,
    /// Extra client property (librdkafka / Kafka client names), KEY=VALUE; repeatable
    #[arg(long = "command-property", short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// How long to wait for the broker before giving up, in milliseconds
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

impl ConnectArgs {
    /// A client config with the bootstrap server and extra properties applied.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap_server);
        // librdkafka's errors always reach the logger (shown with --verbose); its notices and
        // informational lines too with --verbose
        let level = if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
            "6"
        } else {
            "3"
        };
        cfg.set("log_level", level);
        for p in &self.properties {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("bad --command-property '{p}': expected KEY=VALUE"))?;
            cfg.set(k.trim(), v.trim());
        }
        Ok(cfg)
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Turns a client error into a message a user can act on.
pub fn explain(err: KafkaError, bootstrap: &str) -> anyhow::Error {
    match err.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::Resolve,
        ) => {
            anyhow::anyhow!("cannot reach a broker at {bootstrap} ({err}); is `tributary server` running there?")
        }
        _ => anyhow::Error::new(err),
    }
}

/// Runs a blocking client call (metadata, offsets lookup) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    bootstrap: &str,
    f: impl FnOnce() -> rdkafka::error::KafkaResult<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("client task failed")?
        .map_err(|e| explain(e, bootstrap))
}

/// Number of partitions of `topic`, or a clear error if it does not exist.
pub fn partition_count(md: &Metadata, topic: &str) -> anyhow::Result<usize> {
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        bail!("unknown topic '{topic}'");
    };
    if let Some(e) = t.error() {
        let code = RDKafkaErrorCode::from(e);
        if code == RDKafkaErrorCode::UnknownTopicOrPartition
            || code == RDKafkaErrorCode::UnknownTopic
        {
            bail!("unknown topic '{topic}'");
        }
        bail!("topic '{topic}': {code}");
    }
    Ok(t.partitions().len())
}
