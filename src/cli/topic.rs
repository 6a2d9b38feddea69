//! `tributary topic`: create, list, describe, delete and add partitions, through the Kafka
//! admin API.

use crate::cli::output::outln;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaResult;

use super::client::{blocking, explain, ConnectArgs};

#[derive(Subcommand)]
pub enum TopicCommand {
    /// Create a topic
    Create(CreateArgs),
    /// List topics
    List(ListArgs),
    /// Show partitions, leaders, offsets and configs of topics
    Describe(DescribeArgs),
    /// Delete topics
    Delete(DeleteArgs),
    /// Raise the partition count of a topic
    AddPartitions(AddPartitionsArgs),
    /// Set or remove topic config overrides (applied at once, no restart)
    AlterConfig(AlterConfigArgs),
    /// Delete the records before an offset (moves the log start offset)
    DeleteRecords(DeleteRecordsArgs),
}

#[derive(Args)]
pub struct AlterConfigArgs {
    /// Topic name
    pub topic: String,
    #[command(flatten)]
    pub changes: super::config::ChangeArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DeleteRecordsArgs {
    /// Topic name
    pub topic: String,
    /// Partition (default: every partition of the topic)
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Delete every record before this offset; -1 means the high watermark (everything)
    #[arg(long, allow_negative_numbers = true)]
    pub offset: i64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Topic name
    pub topic: String,
    /// Number of partitions (default: the broker's num.partitions)
    #[arg(long, short = 'p')]
    pub partitions: Option<i32>,
    /// Replication factor (default: the broker's default.replication.factor)
    #[arg(long, short = 'r')]
    pub replication_factor: Option<i32>,
    /// Topic config, KEY=VALUE; repeatable (e.g. --config retention.ms=60000)
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Succeed without error if the topic already exists
    #[arg(long)]
    pub if_not_exists: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct ListArgs {
    /// Also list internal topics
    #[arg(long)]
    pub internal: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DescribeArgs {
    /// Topics to describe (default: all)
    pub topics: Vec<String>,
    /// Also show every config with its value and source
    #[arg(long)]
    pub configs: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// Topics to delete
    #[arg(required = true)]
    pub topics: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct AddPartitionsArgs {
    /// Topic name
    pub topic: String,
    /// The new total number of partitions
    #[arg(long, short = 'p')]
    pub partitions: usize,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn admin(connect: &ConnectArgs) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    connect
        .client_config()?
        .create()
        .context("cannot create admin client")
}

fn options(connect: &ConnectArgs) -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(connect.timeout()))
        .operation_timeout(Some(connect.timeout()))
}

/// Checks per-topic admin results, naming the topic in the error.
fn check(
    results: KafkaResult<Vec<rdkafka::admin::TopicResult>>,
    bootstrap: &str,
    what: &str,
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for r in results.map_err(|e| explain(e, bootstrap))? {
        match r {
            Ok(name) => done.push(name),
            Err((name, code)) => bail!("cannot {what} '{name}': {code}"),
        }
    }
    Ok(done)
}

pub async fn run(cmd: TopicCommand) -> anyhow::Result<()> {
    match cmd {
        TopicCommand::Create(a) => {
            let client = admin(&a.connect)?;
            let configs: Vec<(String, String)> = a
                .configs
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .with_context(|| format!("bad --config '{c}': expected KEY=VALUE"))
                })
                .collect::<anyhow::Result<_>>()?;
            let mut topic = NewTopic::new(
                &a.topic,
                a.partitions.unwrap_or(-1),
                TopicReplication::Fixed(a.replication_factor.unwrap_or(-1)),
            );
            for (k, v) in &configs {
                topic = topic.set(k, v);
            }
            let results = client.create_topics([&topic], &options(&a.connect)).await;
            match check(results, &a.connect.bootstrap_server, "create topic") {
                Ok(_) => outln!("Created topic {}.", a.topic),
                Err(e) if a.if_not_exists && e.to_string().contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        TopicCommand::List(a) => {
            let client = Arc::new(admin(&a.connect)?);
            let md = all_metadata(&client, &a.connect).await?;
            let mut names: Vec<&str> = md
                .topics()
                .iter()
                .map(|t| t.name())
                .filter(|n| a.internal || !n.starts_with("__"))
                .collect();
            names.sort_unstable();
            for n in names {
                outln!("{n}");
            }
        }
        TopicCommand::Describe(a) => describe(a).await?,
        TopicCommand::Delete(a) => {
            let client = admin(&a.connect)?;
            let names: Vec<&str> = a.topics.iter().map(String::as_str).collect();
            let results = client.delete_topics(&names, &options(&a.connect)).await;
            for name in check(results, &a.connect.bootstrap_server, "delete topic")? {
                outln!("Deleted topic {name}.");
            }
        }
        TopicCommand::AlterConfig(a) => {
            if a.changes.is_empty() {
                bail!("nothing to change: give --set KEY=VALUE and/or --delete KEY");
            }
            super::config::alter(&a.connect, super::config::TOPIC, &a.topic, &a.changes).await?;
            outln!("Updated the configs of topic {}.", a.topic);
            super::config::print(&a.connect, ResourceSpecifier::Topic(&a.topic), true).await?;
        }
        TopicCommand::DeleteRecords(a) => delete_records(a).await?,
        TopicCommand::AddPartitions(a) => {
            let client = admin(&a.connect)?;
            let np = NewPartitions::new(&a.topic, a.partitions);
            let results = client.create_partitions([&np], &options(&a.connect)).await;
            check(results, &a.connect.bootstrap_server, "add partitions to")?;
            outln!("Topic {} now has {} partitions.", a.topic, a.partitions);
        }
    }
    Ok(())
}

async fn delete_records(a: DeleteRecordsArgs) -> anyhow::Result<()> {
    if a.offset < -1 {
        bail!(
            "--offset must be -1 (the high watermark) or an offset, got {}",
            a.offset
        );
    }
    let client = Arc::new(admin(&a.connect)?);
    let md = all_metadata(&client, &a.connect).await?;
    let count = super::client::partition_count(&md, &a.topic)?;
    let partitions: Vec<i32> = match a.partition {
        Some(p) if p < 0 || p as usize >= count => {
            bail!("topic '{}' has no partition {p} (it has {count})", a.topic)
        }
        Some(p) => vec![p],
        None => (0..count as i32).collect(),
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in &partitions {
        let offset = if a.offset == -1 {
            rdkafka::Offset::End
        } else {
            rdkafka::Offset::Offset(a.offset)
        };
        tpl.add_partition_offset(&a.topic, *p, offset)
            .map_err(|e| anyhow::anyhow!("bad offset: {e}"))?;
    }
    let done = client
        .delete_records(&tpl, &options(&a.connect))
        .await
        .map_err(|e| explain(e, &a.connect.bootstrap_server))?;
    let mut failed = false;
    for e in done.elements() {
        match e.error() {
            Ok(()) => outln!(
                "Partition {}-{}: low watermark {}",
                e.topic(),
                e.partition(),
                match e.offset() {
                    rdkafka::Offset::Offset(o) => o.to_string(),
                    other => format!("{other:?}"),
                }
            ),
            Err(err) => {
                failed = true;
                eprintln!("Partition {}-{}: {err}", e.topic(), e.partition());
            }
        }
    }
    if failed {
        bail!("some partitions could not be trimmed");
    }
    Ok(())
}

/// Metadata of every topic.
async fn all_metadata(
    client: &Arc<AdminClient<DefaultClientContext>>,
    connect: &ConnectArgs,
) -> anyhow::Result<rdkafka::metadata::Metadata> {
    let c = Arc::clone(client);
    let timeout = connect.timeout();
    blocking(&connect.bootstrap_server, move || {
        c.inner().fetch_metadata(None, timeout)
    })
    .await
}

async fn describe(a: DescribeArgs) -> anyhow::Result<()> {
    let client = Arc::new(admin(&a.connect)?);
    let timeout = a.connect.timeout();
    let md = all_metadata(&client, &a.connect).await?;
    let mut topics: Vec<_> = md
        .topics()
        .iter()
        .filter(|t| {
            if a.topics.is_empty() {
                !t.name().starts_with("__")
            } else {
                a.topics.iter().any(|n| n == t.name())
            }
        })
        .collect();
    for wanted in &a.topics {
        if !topics.iter().any(|t| t.name() == wanted) {
            bail!("unknown topic '{wanted}'");
        }
    }
    topics.sort_by_key(|t| t.name());
    for t in topics {
        let rf = t.partitions().first().map_or(0, |p| p.replicas().len());
        outln!(
            "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}",
            t.name(),
            t.partitions().len(),
            rf
        );
        for p in t.partitions() {
            let name = t.name().to_string();
            let c = Arc::clone(&client);
            let id = p.id();
            let (low, high) = blocking(&a.connect.bootstrap_server, move || {
                c.inner().fetch_watermarks(&name, id, timeout)
            })
            .await?;
            let join = |v: &[i32]| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            outln!(
                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}\tLogStartOffset: {}\tLogEndOffset: {}",
                t.name(),
                p.id(),
                p.leader(),
                join(p.replicas()),
                join(p.isr()),
                low,
                high
            );
        }
        if a.configs {
            let spec = ResourceSpecifier::Topic(t.name());
            let results = client
                .describe_configs([&spec], &options(&a.connect))
                .await
                .map_err(|e| explain(e, &a.connect.bootstrap_server))?;
            for r in results {
                let r = r.map_err(|e| {
                    anyhow::anyhow!("cannot describe configs of '{}': {e}", t.name())
                })?;
                for entry in r.entries {
                    outln!(
                        "\tConfig: {}={}\t({:?})",
                        entry.name,
                        entry.value.as_deref().unwrap_or("null"),
                        entry.source
                    );
                }
            }
        }
    }
    Ok(())
}
