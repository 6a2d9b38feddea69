//! `tributary server`: a node from a Kafka-style properties file, environment and flags: a
//! broker (and/or controller), and on a node with the broker role a Kafka Connect worker
//! (REST API on 8083) and a KSQL server (8088) on that broker, each of which can be switched
//! off (`--no-connect`, `--no-ksql`).
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
    /// The Connect worker's REST listener (default port 8083 on the broker's listener host;
    /// when that port is taken, the node runs without Connect)
    #[arg(long, value_name = "URL")]
    pub connect_listeners: Option<String>,
    /// Do not run a KSQL server beside the broker
    #[arg(long)]
    pub no_ksql: bool,
    /// The KSQL server's REST listener (default port 8088 on the broker's listener host; when
    /// that port is taken, the node runs without KSQL)
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
        // (Connect and KSQL listen where the broker does: loopback on the single-node
        // default)
        let host = addr.ip();
        if !args.no_ksql {
            let listeners = args.ksql_listeners.as_deref();
            ksql = start_ksql(&bootstrap, listeners, host).await?;
        }
        if !args.no_connect {
            let listeners = args.connect_listeners.clone();
            let mut stopped = stopped.clone();
            let until_stopped = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            connect = Some(tokio::spawn(async move {
                match super::connect::embedded(
                    &bootstrap,
                    listeners.as_deref(),
                    host,
                    until_stopped,
                )
                .await?
                {
                    Some(worker) => worker.await,
                    None => Ok(()),
                }
            }));
        }
    }
    // (a Connect worker that fails stops the node with its error)
    let failed = tokio::select! {
        r = wait_for_signal() => { r?; None }
        Some(Ok(Err(e))) = async { match connect.as_mut() { Some(c) => Some(c.await), None => None } } => Some(e),
    };
    tracing::info!("shutting down");
    let _ = stop.send(true);
    if let Some(c) = connect {
        if !c.is_finished() {
            if let Ok(Err(e)) = c.await {
                tracing::warn!(error = %e, "Kafka Connect stopped with an error");
            }
        }
    }
    if let Some(k) = ksql {
        k.stop().await;
    }
    node.shutdown().await;
    match failed {
        Some(e) => Err(e.context("Kafka Connect failed")),
        None => Ok(()),
    }
}

/// The node's KSQL server on `bootstrap`; `None` when the default listener's port is taken.
async fn start_ksql(
    bootstrap: &str,
    listeners: Option<&str>,
    host: std::net::IpAddr,
) -> anyhow::Result<Option<tributary_ksql::server::KsqlServer>> {
    use tributary_ksql::server::{KsqlServer, ServerConfig};
    let mut props = BTreeMap::new();
    props.insert("bootstrap.servers".to_string(), bootstrap.to_string());
    props.insert(
        "listeners".to_string(),
        listeners.map_or_else(
            || format!("http://{}", std::net::SocketAddr::new(host, 8088)),
            str::to_string,
        ),
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
