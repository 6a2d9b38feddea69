//! Config changes from the command line: `tributary topic alter-config` and
//! `tributary broker config`, through IncrementalAlterConfigs (set and delete single keys,
//! as `kafka-configs.sh --alter --add-config/--delete-config` does).

use crate::cli::output::outln;
use anyhow::{bail, Context};
use clap::Args;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;

use super::client::{explain, ConnectArgs};

/// `--set KEY=VALUE` / `--delete KEY`, shared by topic and broker config changes.
#[derive(Args, Debug, Clone, Default)]
pub struct ChangeArgs {
    /// Set a config, KEY=VALUE; repeatable
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove an override (back to the default); repeatable
    #[arg(long = "delete", value_name = "KEY")]
    pub delete: Vec<String>,
}

impl ChangeArgs {
    /// Whether any change was asked for.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }

    fn configs(&self) -> anyhow::Result<Vec<AlterableConfig>> {
        let mut out = Vec::new();
        for s in &self.set {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("bad --set '{s}': expected KEY=VALUE"))?;
            out.push(
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.trim().to_string()))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_string(v.trim().to_string()))),
            );
        }
        for k in &self.delete {
            out.push(
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.trim().to_string()))
                    .with_config_operation(1),
            );
        }
        Ok(out)
    }
}

/// Resource types as the protocol numbers them.
pub const TOPIC: i8 = 2;
/// The broker resource type.
pub const BROKER: i8 = 4;

/// Applies `changes` to one resource; the broker's error message is passed on as it is.
pub async fn alter(
    connect: &ConnectArgs,
    resource_type: i8,
    resource_name: &str,
    changes: &ChangeArgs,
) -> anyhow::Result<()> {
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(StrBytes::from_string(resource_name.to_string()))
            .with_configs(changes.configs()?),
    ]);
    let bootstrap = &connect.bootstrap_server;
    let mut client = tributary_broker::wire::Client::connect(bootstrap, connect.timeout())
        .await
        .with_context(|| format!("cannot reach a broker at {bootstrap}; is it running?"))?;
    let response = client
        .call(&request, 1)
        .await
        .with_context(|| format!("IncrementalAlterConfigs to {bootstrap} failed"))?;
    for r in response.responses {
        if r.error_code != 0 {
            let message = r
                .error_message
                .map(|m| m.to_string())
                .unwrap_or_else(|| format!("error code {}", r.error_code));
            bail!("{message}");
        }
    }
    Ok(())
}

/// Prints the configs of a resource: `name=value  (source[, read-only])`; with `overrides_only`,
/// only the ones not at their default.
pub async fn print(
    connect: &ConnectArgs,
    spec: ResourceSpecifier<'_>,
    overrides_only: bool,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = connect
        .client_config()?
        .create()
        .context("cannot create admin client")?;
    let options = AdminOptions::new().request_timeout(Some(connect.timeout()));
    let results = admin
        .describe_configs([&spec], &options)
        .await
        .map_err(|e| explain(e, &connect.bootstrap_server))?;
    for r in results {
        let r = r.map_err(|e| anyhow::anyhow!("cannot describe configs: {e}"))?;
        for entry in r.entries {
            if overrides_only && entry.is_default {
                continue;
            }
            let source = format!("{:?}", entry.source);
            let ro = if entry.is_read_only {
                ", read-only"
            } else {
                ""
            };
            outln!(
                "{}={}\t({source}{ro})",
                entry.name,
                entry.value.as_deref().unwrap_or("null")
            );
        }
    }
    Ok(())
}
