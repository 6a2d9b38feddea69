//! The subcommands. Client subcommands share [`client`] for connection settings and errors.

pub mod bench;
pub mod broker;
pub mod client;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod consume;
pub mod dev_cluster;
pub mod group;
pub mod group_bench;
pub mod ksql;
pub mod output;
pub mod produce;
pub mod server;
pub mod storage;
pub mod topic;
pub mod txn;

/// The process's log filter, changeable at run time.
pub struct LogFilterHandle {
    /// The directives it started with (`RUST_LOG`, or the subcommand's default).
    pub directives: String,
    /// Replaces the filter.
    pub handle: tracing_subscriber::reload::Handle<
        tracing_subscriber::EnvFilter,
        tracing_subscriber::Registry,
    >,
}

/// Set once by `main` when logging starts.
pub static LOG_FILTER: std::sync::OnceLock<LogFilterHandle> = std::sync::OnceLock::new();

impl tributary_connect::loggers::LogFilter for LogFilterHandle {
    fn apply(&self, directives: &str) -> Result<(), String> {
        let filter =
            tracing_subscriber::EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}
