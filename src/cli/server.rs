//! `tributary server`: a node from a Kafka-style properties file, environment and flags: a
//! broker (and/or controller), and beside the broker of the single-node default a Kafka
//! Connect worker (REST API on 127.0.0.1:8083) and a KSQL server (127.0.0.1:8088), each of
//! which can be switched off (`--no-connect`, `--no-ksql`). A cluster's node runs them only
//! where their listener is given (`--connect-listeners`, `--ksql-listeners`).
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
    /// Do not run a Kafka Connect worker beside the broker
    #[arg(long)]
    pub no_connect: bool,
    /// The Connect worker's REST listener (default http://127.0.0.1:8083 on the single-node
    /// default, where a taken port or a failure leaves the broker running without Connect; a
    /// cluster's node runs a worker only when this is given)
    #[arg(long, value_name = "URL")]
    pub connect_listeners: Option<String>,
    /// Do not run a KSQL server beside the broker
    #[arg(long)]
    pub no_ksql: bool,
    /// The KSQL server's REST listener (default http://127.0.0.1:8088 on the single-node
    /// default, where a taken port leaves the broker running without KSQL; a cluster's node
    /// runs one only when this is given)
    #[arg(long, value_name = "URL")]
    pub ksql_listeners: Option<String>,
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
    // (Connect and KSQL start with the single-node default; on a cluster's nodes, only where
    // their listener is given)
    let single = matches!(
        config.cluster.mode,
        tributary_broker::config::ClusterMode::SingleNode
    );
    let with_ksql = !args.no_ksql && (single || args.ksql_listeners.is_some());
    let with_connect = !args.no_connect && (single || args.connect_listeners.is_some());
    let _ = rlimit::increase_nofile_limit(1 << 20);
    let node = tributary_broker::start_node(config).await?;
    if let Some(addr) = node.controller_addr() {
        println!("Tributary controller listening on {addr}");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connect = None;
    let mut ksql = None;
    if let Some(addr) = node.broker_addr() {
        println!("Tributary broker listening on {addr}");
        // (the other services reach the broker on loopback when it listens everywhere)
        let bootstrap = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        if with_ksql {
            match start_ksql(&bootstrap, args.ksql_listeners.as_deref()).await {
                Ok(server) => ksql = server,
                Err(e) => {
                    node.shutdown().await;
                    return Err(e);
                }
            }
        }
        if with_connect {
            let listeners = args.connect_listeners.clone();
            let mut stopped = stopped.clone();
            let until_stopped = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            connect = Some(tokio::spawn(async move {
                let explicit = listeners.is_some();
                let started =
                    super::connect::embedded(&bootstrap, listeners.as_deref(), until_stopped).await;
                let result = match started {
                    Ok(Some(worker)) => worker.await,
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                // (the default worker failing leaves the broker running; one asked for by
                // its listener stops the node)
                match result {
                    Err(e) if !explicit => {
                        eprintln!("Kafka Connect stopped: {e:#}");
                        tracing::error!(error = %format!("{e:#}"), "Kafka Connect stopped");
                        Ok(())
                    }
                    other => other,
                }
            }));
        }
    }
    let outcome = tokio::select! {
        r = wait_for_signal() => r,
        e = failure(&mut connect) => Err(e.context("Kafka Connect failed")),
    };
    tracing::info!("shutting down");
    let _ = stop.send(true);
    if let Some(mut c) = connect {
        match tokio::time::timeout(SERVICE_STOP, &mut c).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "Kafka Connect stopped with an error"),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("Kafka Connect did not stop in time: stopped");
                c.abort();
            }
        }
    }
    if let Some(k) = ksql {
        if tokio::time::timeout(SERVICE_STOP, k.stop()).await.is_err() {
            tracing::warn!("the KSQL server did not stop in time");
        }
    }
    node.shutdown().await;
    outcome
}

/// How long Connect and KSQL get to stop.
const SERVICE_STOP: std::time::Duration = std::time::Duration::from_secs(30);

/// The error the Connect worker stops with (pending while it runs, or if it ends well).
async fn failure(
    connect: &mut Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Error {
    let Some(c) = connect.as_mut() else {
        return std::future::pending().await;
    };
    let result = c.await;
    *connect = None;
    match result {
        Ok(Ok(())) => std::future::pending().await,
        Ok(Err(e)) => e,
        Err(e) => anyhow::anyhow!("the Connect worker stopped: {e}"),
    }
}

/// The node's KSQL server on `bootstrap`; `None` when the default listener's port is taken.
async fn start_ksql(
    bootstrap: &str,
    listeners: Option<&str>,
) -> anyhow::Result<Option<tributary_ksql::server::KsqlServer>> {
    use tributary_ksql::server::{KsqlServer, ServerConfig};
    let mut props = BTreeMap::new();
    props.insert("bootstrap.servers".to_string(), bootstrap.to_string());
    props.insert(
        "listeners".to_string(),
        listeners.unwrap_or("http://127.0.0.1:8088").to_string(),
    );
    let config = ServerConfig::from_properties(props)
        .map_err(anyhow::Error::msg)
        .context("invalid --ksql-listeners")?;
    let addr = config.listen_addr().map_err(anyhow::Error::msg)?;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if listeners.is_none() && e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("KSQL server not started: port 8088 is in use ({e}); choose another with --ksql-listeners");
            return Ok(None);
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("KSQL cannot listen on {addr}")))
        }
    };
    let server = KsqlServer::start_on(config, listener)
        .await
        .context("the KSQL server cannot start")?;
    println!("KSQL server listening on http://{}", server.addr());
    Ok(Some(server))
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
