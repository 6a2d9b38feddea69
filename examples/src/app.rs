//! What the streams example programs share: their command line (where the brokers are, the
//! application id, the guarantee, threads, any Kafka Streams property) and the run loop (start,
//! run until Ctrl-C or SIGTERM, close).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tributary_streams::{KafkaStreams, State, StreamsConfig, Topology};

/// The options every streams example takes.
#[derive(Args, Debug, Clone)]
pub struct AppArgs {
    /// The brokers to start from (host:port[,host:port...]).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap_server: String,
    /// Process exactly once (processing.guarantee=exactly_once_v2).
    #[arg(long)]
    pub exactly_once: bool,
    /// Stream threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// How often progress is committed (ms; default: 1000, or 100 with --exactly-once).
    #[arg(long)]
    pub commit_interval_ms: Option<u64>,
    /// Any other Kafka Streams or client property, KEY=VALUE (repeatable).
    #[arg(long = "property", short = 'p', value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

impl AppArgs {
    /// The streams configuration these options give, for `application_id`; `base` settings
    /// first, the options' own after, `-p` properties last.
    pub fn config(&self, application_id: &str, base: &[(&str, &str)]) -> StreamsConfig {
        let mut config = StreamsConfig::new()
            .with("application.id", application_id)
            .with("bootstrap.servers", &self.bootstrap_server)
            .with("num.stream.threads", self.threads);
        for (k, v) in base {
            config.set(k, v);
        }
        if self.exactly_once {
            config.set("processing.guarantee", "exactly_once_v2");
        }
        let commit = self
            .commit_interval_ms
            .unwrap_or(if self.exactly_once { 100 } else { 1000 });
        config.set("commit.interval.ms", commit);
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config
    }
}

/// Logs to stderr (`RUST_LOG`, default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Runs `topology` with `config` until Ctrl-C or SIGTERM (or an error), then closes it: commits
/// what was processed and leaves the group. An error that stopped the application is returned.
pub fn run(topology: Topology, config: StreamsConfig) -> anyhow::Result<()> {
    serve(topology, config, None)
}

/// Makes the HTTP API an instance serves, over the running instance.
pub type Api = Box<dyn FnOnce(Arc<KafkaStreams>) -> axum::Router + Send>;

/// [`run`], serving `api` on its address (`host:port`) meanwhile.
pub fn serve(
    topology: Topology,
    config: StreamsConfig,
    api: Option<(String, Api)>,
) -> anyhow::Result<()> {
    eprintln!("{}", topology.describe());
    let streams = Arc::new(KafkaStreams::new(topology, config)?);
    streams.set_state_listener(|new, old| eprintln!("state {old:?} -> {new:?}"));
    streams.start()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if let Some((address, api)) = api {
            let listener = tokio::net::TcpListener::bind(&address).await?;
            eprintln!("serving on http://{address}");
            let router = api(Arc::clone(&streams));
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    eprintln!("the HTTP server stopped: {e}");
                }
            });
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if streams.state() == State::Error {
                        break;
                    }
                }
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    streams.close();
    match streams.error() {
        Some(e) => anyhow::bail!("the application stopped on an error: {e}"),
        None => Ok(()),
    }
}
