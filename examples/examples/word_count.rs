//! Kafka's word count on the streams library: reads lines from INPUT and writes each word's
//! running count to OUTPUT (key: the word; value: the count as an 8-byte big-endian long).
//!
//! ```text
//! cargo run --release -p tributary-examples --example word_count -- \
//!     --bootstrap-server HOST:PORT --input TOPIC --output TOPIC --application-id ID [--exactly-once]
//! ```
//!
//! Runs until Ctrl-C (or SIGTERM), then commits and leaves its group. Start it twice with the same
//! application id and the two instances share the work.

use std::time::Duration;

use clap::Parser;
use tributary_streams::{KafkaStreams, State, StreamsConfig};

#[derive(Parser)]
#[command(about = "Counts the words of a topic's lines, as Kafka's WordCountDemo does")]
struct Args {
    /// The brokers to start from (host:port[,host:port...]).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_server: String,
    /// The topic of lines.
    #[arg(long, default_value = "streams-plaintext-input")]
    input: String,
    /// The topic of counts.
    #[arg(long, default_value = "streams-wordcount-output")]
    output: String,
    /// The application id (the consumer group and the prefix of internal topics).
    #[arg(long, default_value = "streams-wordcount")]
    application_id: String,
    /// Process exactly once (processing.guarantee=exactly_once_v2).
    #[arg(long)]
    exactly_once: bool,
    /// Stream threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How often progress is committed (ms; default: 1000, or 100 with --exactly-once).
    #[arg(long)]
    commit_interval_ms: Option<u64>,
    /// Any other Kafka Streams or client property, KEY=VALUE (repeatable).
    #[arg(long = "property", short = 'p', value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut config = StreamsConfig::new()
        .with("application.id", &args.application_id)
        .with("bootstrap.servers", &args.bootstrap_server)
        .with("num.stream.threads", args.threads)
        // every update goes out, as in Kafka's demo (which sets the cache to 0 too)
        .with("statestore.cache.max.bytes", 0);
    if args.exactly_once {
        config.set("processing.guarantee", "exactly_once_v2");
    }
    let commit = args
        .commit_interval_ms
        .unwrap_or(if args.exactly_once { 100 } else { 1000 });
    config.set("commit.interval.ms", commit);
    for (k, v) in &args.properties {
        config.set(k, v);
    }
    let topology = tributary_examples::word_count::topology(&args.input, &args.output)?;
    eprintln!("{}", topology.describe());
    let mut streams = KafkaStreams::new(topology, config)?;
    streams.set_state_listener(|new, old| eprintln!("state {old:?} -> {new:?}"));
    streams.start()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
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
