//! `tributary connect`: a Kafka Connect worker. `standalone WORKER.properties CONNECTOR...`
//! runs the given connectors (each a `.properties` file, or a `.json` file as the REST API
//! takes it) with offsets in `offset.storage.file.filename`, and serves the REST API on
//! `listeners`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tributary_connect::config::{parse_properties, Config, ConfigExt};
use tributary_connect::connector::Plugins;
use tributary_connect::herder::Herder;
use tributary_connect::rest::{self, ServerInfo};
use tributary_connect::standalone::StandaloneHerder;
use tributary_connect::worker::offsets::{FileOffsetStore, OffsetStore};
use tributary_connect::worker::{ClientRole, TargetState, Worker, WorkerConfig};

/// The Kafka version whose Connect REST API and formats this worker follows.
const KAFKA_VERSION: &str = "4.4.0";

#[derive(Subcommand)]
pub enum ConnectCommand {
    /// Run a standalone worker with the connectors in the given files
    Standalone {
        /// The worker's properties (bootstrap.servers, converters, offset.storage.file.filename, listeners)
        worker: PathBuf,
        /// Connector configs: .properties files, or .json files ({"name": ..., "config": {...}} or a flat map)
        connectors: Vec<PathBuf>,
    },
}

pub async fn run(cmd: ConnectCommand) -> anyhow::Result<()> {
    match cmd {
        ConnectCommand::Standalone { worker, connectors } => standalone(&worker, &connectors).await,
    }
}

/// A connector file's name and config.
fn read_connector(path: &Path) -> anyhow::Result<(String, Config)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    let config: Config = if is_json {
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let (name, config) = match v.get("config") {
            Some(c) => (
                v.get("name").and_then(|n| n.as_str()).map(str::to_string),
                c.clone(),
            ),
            None => (None, v.clone()),
        };
        let map = config.as_object().ok_or_else(|| {
            anyhow!(
                "{}: the connector config must be a JSON object",
                path.display()
            )
        })?;
        let mut out: Config = map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        if let Some(n) = name {
            out.insert("name".into(), n);
        }
        out
    } else {
        parse_properties(&text)
    };
    let name = config
        .string_opt("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| anyhow!("{}: the connector config has no \"name\"", path.display()))?;
    Ok((name, config))
}

/// The address of the first `listeners` entry (`http://host:port`; an empty host is every
/// interface).
fn listen_address(listeners: &[String]) -> anyhow::Result<SocketAddr> {
    let first = listeners
        .first()
        .map(String::as_str)
        .unwrap_or("http://:8083");
    let rest = first
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("Invalid value {first} for configuration listeners: only http:// listeners are supported"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("Invalid value {first} for configuration listeners: no port"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .map_err(|_| anyhow!("Invalid value {first} for configuration listeners"))
}

async fn standalone(worker_file: &Path, connector_files: &[PathBuf]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(worker_file)
        .with_context(|| format!("cannot read {}", worker_file.display()))?;
    let props = parse_properties(&text);
    let config = WorkerConfig::from_props(props.clone()).map_err(|e| anyhow!("{e}"))?;
    let offsets_file = props
        .string_opt("offset.storage.file.filename")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| anyhow!("Missing required configuration \"offset.storage.file.filename\" which has no default value."))?;
    let connectors = connector_files
        .iter()
        .map(|p| read_connector(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let offsets: Arc<dyn OffsetStore> =
        Arc::new(FileOffsetStore::open(Path::new(&offsets_file)).map_err(|e| anyhow!("{e}"))?);

    let address = listen_address(&config.listeners)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    let host = props
        .string_opt("rest.advertised.host.name")
        .unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                bound.ip().to_string()
            }
        });
    let port = props
        .string_opt("rest.advertised.port")
        .unwrap_or_else(|| bound.port().to_string());
    let worker_id = format!("{host}:{port}");

    let cluster_id = kafka_cluster_id(&config).await?;
    let mut plugins = Plugins::new();
    tributary_connectors::register(&mut plugins);
    let worker = Arc::new(Worker::new(config, plugins, offsets, worker_id.clone()));
    let herder = Arc::new(StandaloneHerder::new(worker));
    for (name, connector) in connectors {
        herder
            .put_connector(&name, connector, false, TargetState::Started)
            .await
            .map_err(|e| anyhow!("Failed to create connector for {name}: {e}"))?;
        tracing::info!(connector = %name, "Created connector {name}");
    }
    let router = rest::router(
        herder.clone(),
        ServerInfo {
            version: KAFKA_VERSION.to_string(),
            commit: env!("CARGO_PKG_VERSION").to_string(),
            kafka_cluster_id: cluster_id,
        },
    );
    tracing::info!(%worker_id, "REST server listening at http://{bound}/, advertising URL http://{worker_id}/");
    eprintln!("Kafka Connect standalone worker {worker_id} started (REST API on http://{bound}/)");
    let server = axum::serve(listener, router).with_graceful_shutdown(shutdown_signal());
    server.await.context("the REST server failed")?;
    tracing::info!("Kafka Connect stopping");
    herder.stop().await;
    Ok(())
}

/// The Kafka cluster's id, asked of the brokers (a worker cannot start without them).
async fn kafka_cluster_id(config: &WorkerConfig) -> anyhow::Result<String> {
    let client = config
        .client_config(ClientRole::Admin, None)
        .map_err(|e| anyhow!("{e}"))?;
    let bootstrap = config.bootstrap_servers.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let consumer: BaseConsumer = client.create().context("cannot create a Kafka client")?;
        consumer
            .client()
            .fetch_cluster_id(Duration::from_secs(30))
            .ok_or_else(|| {
                anyhow!("could not reach the Kafka cluster at {bootstrap} to learn its id")
            })
    })
    .await?
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
