//! `tributary connect`: a Kafka Connect worker. `standalone WORKER.properties CONNECTOR...`
//! runs the given connectors (each a `.properties` file, or a `.json` file as the REST API
//! takes it) with offsets in `offset.storage.file.filename`, and serves the REST API on
//! `listeners`; `distributed WORKER.properties` joins a cluster of workers (`group.id`) that
//! keep configs, offsets and statuses in Kafka topics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tributary_connect::config::{parse_properties, Config, ConfigExt};
use tributary_connect::connector::Plugins;
use tributary_connect::distributed::DistributedHerder;
use tributary_connect::herder::Herder;
use tributary_connect::loggers::{LogFilter, Loggers};
use tributary_connect::rest::{self, ServerInfo};
use tributary_connect::standalone::StandaloneHerder;
use tributary_connect::worker::offsets::{FileOffsetStore, OffsetStore};
use tributary_connect::worker::{ClientRole, TargetState, Worker, WorkerConfig, WorkerHooks};

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
    /// Run a worker of a cluster: workers with the same group.id share connectors and tasks,
    /// with configs, offsets and statuses in Kafka topics
    Distributed {
        /// The worker's properties (bootstrap.servers, group.id, config.storage.topic,
        /// offset.storage.topic, status.storage.topic, converters, listeners)
        worker: PathBuf,
    },
}

pub async fn run(cmd: ConnectCommand) -> anyhow::Result<()> {
    match cmd {
        ConnectCommand::Standalone { worker, connectors } => standalone(&worker, &connectors).await,
        ConnectCommand::Distributed { worker } => distributed(&worker).await,
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
    // (Kafka's sample config writes `HTTP://:8083`)
    let rest = first
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &first[7..])
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

/// What every worker sets up first: its config, its REST listener, its id, and the Kafka
/// cluster's id.
struct Prepared {
    props: Config,
    config: WorkerConfig,
    listener: tokio::net::TcpListener,
    bound: SocketAddr,
    worker_id: String,
    cluster_id: String,
}

async fn prepare(worker_file: &Path) -> anyhow::Result<Prepared> {
    let text = std::fs::read_to_string(worker_file)
        .with_context(|| format!("cannot read {}", worker_file.display()))?;
    prepare_props(parse_properties(&text)).await
}

async fn prepare_props(props: Config) -> anyhow::Result<Prepared> {
    let config = WorkerConfig::from_props(props.clone()).map_err(|e| anyhow!("{e}"))?;
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
    Ok(Prepared {
        props,
        config,
        listener,
        bound,
        worker_id,
        cluster_id,
    })
}

/// The process's loggers, wired to its log filter (`/admin/loggers`).
fn loggers() -> Option<Arc<Loggers>> {
    let filter = super::LOG_FILTER.get()?;
    let loggers = Arc::new(Loggers::new(&filter.directives));
    loggers.install(Arc::new(LogFilterRef(filter)));
    Some(loggers)
}

struct LogFilterRef(&'static super::LogFilterHandle);

impl LogFilter for LogFilterRef {
    fn apply(&self, directives: &str) -> Result<(), String> {
        self.0.apply(directives)
    }
}

fn plugins() -> Plugins {
    let mut plugins = Plugins::new();
    tributary_connectors::register(&mut plugins);
    plugins
}

/// Serves the REST API until `shutdown` completes.
async fn serve(
    p: Prepared,
    herder: Arc<dyn Herder>,
    mode: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = rest::router(
        herder,
        ServerInfo {
            version: KAFKA_VERSION.to_string(),
            commit: env!("CARGO_PKG_VERSION").to_string(),
            kafka_cluster_id: p.cluster_id,
        },
    );
    let (bound, worker_id) = (p.bound, p.worker_id);
    tracing::info!(%worker_id, "REST server listening at http://{bound}/, advertising URL http://{worker_id}/");
    eprintln!("Kafka Connect {mode} worker {worker_id} started (REST API on http://{bound}/)");
    let server = axum::serve(p.listener, router).with_graceful_shutdown(shutdown);
    server.await.context("the REST server failed")?;
    tracing::info!("Kafka Connect stopping");
    Ok(())
}

async fn standalone(worker_file: &Path, connector_files: &[PathBuf]) -> anyhow::Result<()> {
    let p = prepare(worker_file).await?;
    let offsets_file = p
        .props
        .string_opt("offset.storage.file.filename")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| anyhow!("Missing required configuration \"offset.storage.file.filename\" which has no default value."))?;
    let connectors = connector_files
        .iter()
        .map(|p| read_connector(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let offsets: Arc<dyn OffsetStore> =
        Arc::new(FileOffsetStore::open(Path::new(&offsets_file)).map_err(|e| anyhow!("{e}"))?);
    let worker = Arc::new(Worker::with_hooks(
        p.config.clone(),
        plugins(),
        offsets,
        p.worker_id.clone(),
        WorkerHooks {
            loggers: loggers(),
            ..WorkerHooks::default()
        },
    ));
    let herder = Arc::new(StandaloneHerder::new(worker));
    for (name, connector) in connectors {
        herder
            .put_connector(&name, connector, false, TargetState::Started)
            .await
            .map_err(|e| anyhow!("Failed to create connector for {name}: {e}"))?;
        tracing::info!(connector = %name, "Created connector {name}");
    }
    let served = serve(p, herder.clone(), "standalone", shutdown_signal()).await;
    herder.stop().await;
    served
}

async fn distributed(worker_file: &Path) -> anyhow::Result<()> {
    let p = prepare(worker_file).await?;
    run_distributed(p, shutdown_signal()).await
}

async fn run_distributed(
    p: Prepared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let herder =
        DistributedHerder::start(p.config.clone(), plugins(), p.worker_id.clone(), loggers())
            .await
            .map_err(|e| anyhow!("{e}"))?;
    let served = serve(p, herder.clone(), "distributed", shutdown).await;
    herder.stop().await;
    served
}

/// A distributed worker of `tributary server` (Kafka's sample `connect-distributed.properties`
/// on the node's own broker), its REST API on `listeners` (default `http://127.0.0.1:8083`),
/// until `shutdown` completes. `None` when the default listener's port is taken (the node runs
/// without Connect).
pub async fn embedded(
    bootstrap: &str,
    listeners: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<impl std::future::Future<Output = anyhow::Result<()>>>> {
    let mut props = Config::new();
    for (k, v) in [
        ("bootstrap.servers", bootstrap),
        ("group.id", "connect-cluster"),
        ("config.storage.topic", "connect-configs"),
        ("offset.storage.topic", "connect-offsets"),
        ("status.storage.topic", "connect-status"),
        // (the broker's default.replication.factor: one on the single-node default)
        ("config.storage.replication.factor", "-1"),
        ("offset.storage.replication.factor", "-1"),
        ("status.storage.replication.factor", "-1"),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
    ] {
        props.insert(k.to_string(), v.to_string());
    }
    props.insert(
        "listeners".to_string(),
        listeners.unwrap_or("http://127.0.0.1:8083").to_string(),
    );
    let p = match prepare_props(props).await {
        Ok(p) => p,
        Err(e) if listeners.is_none() && is_addr_in_use(&e) => {
            eprintln!("Kafka Connect not started: port 8083 is in use ({e:#}); choose another with --connect-listeners");
            return Ok(None);
        }
        Err(e) => return Err(e.context("Kafka Connect cannot start")),
    };
    Ok(Some(run_distributed(p, shutdown)))
}

/// Whether `e` says a port is taken.
pub fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
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
