//! `tributary storage`: prepare data directories as `kafka-storage` does: make a cluster id,
//! format a directory for a cluster and node, show what a directory belongs to.
//!
//! A single-node broker formats its own directory on first start; every member of a multi-node
//! cluster is formatted with one shared cluster id before it first starts.

use anyhow::{bail, Context};
use clap::Subcommand;
use tributary_broker::meta_properties::{self, MetaError, MetaProperties};

use crate::cli::output::outln;
use crate::cli::server::{load, ServerArgs};

#[derive(Subcommand)]
pub enum StorageCommand {
    /// Print a new random cluster id (as kafka-storage random-uuid)
    RandomUuid,
    /// Format the data directory (log.dirs) of the configured node for a cluster
    Format {
        /// The cluster's id (tributary storage random-uuid makes one)
        #[arg(long = "cluster-id", short = 't')]
        cluster_id: String,
        /// Leave a directory that is already formatted as it is instead of failing
        #[arg(long)]
        ignore_formatted: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show the cluster and node the configured data directory belongs to
    Info {
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn run(cmd: StorageCommand) -> anyhow::Result<()> {
    match cmd {
        StorageCommand::RandomUuid => {
            outln!("{}", meta_properties::random_uuid());
        }
        StorageCommand::Format {
            cluster_id,
            ignore_formatted,
            server,
        } => {
            let config = load(&server).context("invalid configuration")?;
            let dir = &config.data_dir;
            match meta_properties::format(dir, &cluster_id, config.node_id, ignore_formatted) {
                Ok(true) => outln!(
                    "Formatted {} for cluster {cluster_id}, node {}.",
                    dir.display(),
                    config.node_id
                ),
                Ok(false) => outln!("{} is already formatted; left as it is.", dir.display()),
                Err(e @ MetaError::AlreadyFormatted { .. }) => bail!("{e}"),
                Err(e) => return Err(e).context("cannot format"),
            }
        }
        StorageCommand::Info { server } => {
            let config = load(&server).context("invalid configuration")?;
            let dir = &config.data_dir;
            match MetaProperties::read(dir)? {
                Some(m) => {
                    outln!("Found log directory:");
                    outln!("  {}", dir.display());
                    outln!("");
                    outln!(
                        "Found metadata: {{cluster.id={}, directory.id={}, node.id={}, version=1}}",
                        m.cluster_id,
                        m.directory_id,
                        m.node_id
                    );
                }
                None => bail!(
                    "{} is not formatted: no {} (a single-node broker formats it on first start)",
                    dir.display(),
                    meta_properties::FILE_NAME
                ),
            }
        }
    }
    Ok(())
}
