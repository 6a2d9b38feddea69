//! `tributary server`: a broker from a Kafka-style properties file, environment and flags.
//!
//! Precedence, lowest first: the properties file, `TRIBUTARY_*` environment variables
//! (`TRIBUTARY_LOG_DIRS=/data` sets `log.dirs`), then flags (`--override key=value` and the
//! shortcuts below).

use std::collections::BTreeMap;

use anyhow::Context;
use clap::Args;
use tributary_broker::config::{parse_properties, BrokerConfig};

#[derive(Args)]
pub struct ServerArgs {
    /// Kafka-style properties file (server.properties)
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Set a property, KEY=VALUE; repeatable; wins over the file and the environment
    #[arg(long = "override", short = 'o', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Shortcut for --override listeners=PLAINTEXT://ADDR
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Shortcut for --override log.dirs=DIR
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Shortcut for --override node.id=N
    #[arg(long)]
    pub node_id: Option<i32>,
}

/// Properties from the environment: `TRIBUTARY_LOG_DIRS` -> `log.dirs`.
fn env_props() -> BTreeMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("TRIBUTARY_")?;
            if rest == "BOOTSTRAP_SERVER" || rest.is_empty() {
                return None;
            }
            Some((rest.to_ascii_lowercase().replace('_', "."), v))
        })
        .collect()
}

/// Merges file, environment and flags into validated broker properties.
pub fn load(args: &ServerArgs) -> anyhow::Result<BrokerConfig> {
    let mut props = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            parse_properties(&text).with_context(|| format!("in config file {}", path.display()))?
        }
        None => BTreeMap::new(),
    };
    props.extend(env_props());
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .with_context(|| format!("bad --override '{o}': expected KEY=VALUE"))?;
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(l) = &args.listen {
        props.insert("listeners".into(), format!("PLAINTEXT://{l}"));
    }
    if let Some(d) = &args.data_dir {
        props.insert("log.dirs".into(), d.clone());
    }
    if let Some(n) = args.node_id {
        props.insert("node.id".into(), n.to_string());
    }
    Ok(BrokerConfig::from_props(props)?)
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = load(&args).context("invalid configuration")?;
    let _ = rlimit::increase_nofile_limit(1 << 20);
    let node = tributary_broker::start_node(config).await?;
    if let Some(addr) = node.controller_addr() {
        println!("Tributary controller listening on {addr}");
    }
    if let Some(addr) = node.broker_addr() {
        println!("Tributary broker listening on {addr}");
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
