//! `tributary broker config`: show a broker's configs, or change the ones Kafka lets change at
//! runtime (the broker-wide defaults of topic configs such as `log.retention.ms`).

use crate::cli::output::outln;
use clap::{Args, Subcommand};
use rdkafka::admin::ResourceSpecifier;

use super::client::ConnectArgs;
use super::config::{alter, print, ChangeArgs, BROKER};

#[derive(Subcommand)]
pub enum BrokerCommand {
    /// Show a broker's configs, or set / remove dynamic ones with --set / --delete
    Config(ConfigArgs),
}

#[derive(Args)]
pub struct ConfigArgs {
    /// The broker's node id (default 1, the single-node broker)
    #[arg(long, default_value_t = 1)]
    pub broker: i32,
    /// Change the cluster-wide default every broker uses instead of one broker's value
    #[arg(long)]
    pub default: bool,
    /// Show only the configs not at Kafka's default
    #[arg(long)]
    pub overrides: bool,
    #[command(flatten)]
    pub changes: ChangeArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(cmd: BrokerCommand) -> anyhow::Result<()> {
    match cmd {
        BrokerCommand::Config(a) => {
            let name = if a.default {
                String::new()
            } else {
                a.broker.to_string()
            };
            if !a.changes.is_empty() {
                alter(&a.connect, BROKER, &name, &a.changes).await?;
                let whose = if a.default {
                    "the cluster-wide default".to_string()
                } else {
                    format!("broker {}", a.broker)
                };
                outln!("Updated the configs of {whose}.");
            }
            print(
                &a.connect,
                ResourceSpecifier::Broker(a.broker),
                a.overrides || !a.changes.is_empty(),
            )
            .await
        }
    }
}
