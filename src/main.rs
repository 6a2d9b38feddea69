//! `tributary`: the single binary of the platform.
//!
//! `tributary server` runs a broker; the other subcommands are Kafka clients (built on the
//! `rdkafka` crate, like every application would be) for topics, producing, consuming and
//! benchmarking.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc gives freed buffers (large fetch responses) back to the OS, so the broker's
/// resident memory follows its current work instead of its high-water mark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A streaming platform that speaks the Apache Kafka wire protocol.
#[derive(Parser)]
#[command(name = "tributary", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show the client library's (librdkafka's) own log lines: connection attempts, retries
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: a single-node broker, or a cluster's broker and/or controller (process.roles)
    Server(cli::server::ServerArgs),
    /// Prepare data directories: make a cluster id, format a directory, show its cluster
    #[command(subcommand)]
    Storage(cli::storage::StorageCommand),
    /// Start a local cluster of separate server processes on loopback ports; Ctrl-C stops it
    DevCluster(cli::dev_cluster::DevClusterArgs),
    /// Show the cluster: nodes, controller, under-replicated and offline partitions
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// Create, list, describe and delete topics
    #[command(subcommand)]
    Topic(cli::topic::TopicCommand),
    /// Produce lines from stdin or a file as records
    Produce(cli::produce::ProduceArgs),
    /// Consume records and print them
    Consume(cli::consume::ConsumeArgs),
    /// List, describe and delete consumer groups; reset their offsets
    #[command(subcommand)]
    Group(cli::group::GroupCommand),
    /// Show and change broker configs
    #[command(subcommand)]
    Broker(cli::broker::BrokerCommand),
    /// List and describe transactions
    #[command(subcommand)]
    Txn(cli::txn::TxnCommand),
    /// Describe the producers of a topic's partitions
    #[command(subcommand)]
    Producers(cli::txn::ProducersCommand),
    /// Run a Kafka Connect worker (standalone) with its REST API
    #[command(subcommand)]
    Connect(cli::connect::ConnectCommand),
    /// Measure produce, consume and end-to-end performance
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
    /// The KSQL CLI (`tributary ksql [URL]`); `ksql qtt` runs ksqlDB's query-validation tests
    Ksql(cli::ksql::KsqlArgs),
    /// Run a KSQL server (ksqlDB's REST API) on a cluster
    KsqlServer(cli::ksql::ServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::client::VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
    // Client subcommands report errors themselves; librdkafka's own log lines (connection
    // refused, retries) would repeat them, so they show only with --verbose.
    let default = if matches!(
        cli.command,
        Command::Server(_)
            | Command::Storage(_)
            | Command::DevCluster(_)
            | Command::Connect(_)
            | Command::KsqlServer(_)
    ) || cli.verbose
    {
        // (openraft narrates every vote, and logs each failed send to a voter that is down
        // as an error, twice a second: the quorum's own watcher says what matters)
        "info,openraft=off"
    } else {
        "warn,librdkafka=off,rdkafka=off"
    };
    let directives = std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|d| tracing_subscriber::EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| default.to_string());
    let filter = tracing_subscriber::EnvFilter::new(&directives);
    // the filter can be changed at run time (Connect's /admin/loggers)
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init();
    }
    cli::LOG_FILTER.get_or_init(|| cli::LogFilterHandle { directives, handle });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => cli::server::run(args).await,
            Command::Storage(cmd) => cli::storage::run(cmd).await,
            Command::DevCluster(args) => cli::dev_cluster::run(args).await,
            Command::Cluster(cmd) => cli::cluster::run(cmd).await,
            Command::Ksql(args) => cli::ksql::run(args).await,
            Command::KsqlServer(args) => cli::ksql::server(args).await,
            Command::Topic(cmd) => cli::topic::run(cmd).await,
            Command::Produce(args) => cli::produce::run(args).await,
            Command::Consume(args) => cli::consume::run(args).await,
            Command::Group(cmd) => cli::group::run(cmd).await,
            Command::Broker(cmd) => cli::broker::run(cmd).await,
            Command::Txn(cmd) => cli::txn::run(cmd).await,
            Command::Producers(cmd) => cli::txn::run_producers(cmd).await,
            Command::Bench(cmd) => cli::bench::run(cmd).await,
            Command::Connect(cmd) => cli::connect::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // the reader of our output went away (`| head`): a normal end
        Err(e) if cli::output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
