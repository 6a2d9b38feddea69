//! `tributary txn` and `tributary producers`: transactions and producers as the brokers see
//! them, as Kafka's `kafka-transactions.sh` shows them (`list`, `describe`,
//! `describe-producers`).

use crate::cli::output::outln;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, FindCoordinatorRequest,
    ListTransactionsRequest, MetadataRequest, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use tributary_broker::wire::Client;

use super::client::ConnectArgs;

#[derive(Subcommand)]
pub enum TxnCommand {
    /// List transactional ids with their producer id and state
    List(ListArgs),
    /// Show transactions: state, producer id and epoch, timeout, start, partitions
    Describe(DescribeArgs),
}

#[derive(Subcommand)]
pub enum ProducersCommand {
    /// Show the producers a topic's partitions know: id, epoch, last sequence, open transaction
    Describe(ProducersArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only transactions in these states (Empty, Ongoing, PrepareCommit, PrepareAbort,
    /// CompleteCommit, CompleteAbort); repeatable
    #[arg(long = "state")]
    pub states: Vec<String>,
    /// Only these producer ids; repeatable
    #[arg(long = "producer-id")]
    pub producer_ids: Vec<i64>,
    /// Only transactions that started more than this many milliseconds ago (Kafka's rule: any
    /// state; with `--state Ongoing` the ones open that long, i.e. hanging)
    #[arg(long = "duration-ms")]
    pub duration_ms: Option<i64>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DescribeArgs {
    /// Transactional ids
    #[arg(required = true)]
    pub transactional_ids: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct ProducersArgs {
    /// Topic
    pub topic: String,
    /// Only this partition
    #[arg(long)]
    pub partition: Option<i32>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn connect(connect: &ConnectArgs, addr: &str) -> anyhow::Result<Client> {
    Client::connect(addr, connect.timeout())
        .await
        .with_context(|| {
            format!("cannot reach a broker at {addr}; is `tributary server` running there?")
        })
}

/// Every broker of the cluster, `host:port`.
async fn brokers(args: &ConnectArgs) -> anyhow::Result<Vec<String>> {
    let mut client = connect(args, &args.bootstrap_server).await?;
    let md = client
        .call(&MetadataRequest::default().with_topics(Some(vec![])), 12)
        .await
        .context("Metadata failed")?;
    Ok(md
        .brokers
        .iter()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect())
}

/// Runs `tributary txn ...`.
pub async fn run(cmd: TxnCommand) -> anyhow::Result<()> {
    match cmd {
        TxnCommand::List(args) => list(args).await,
        TxnCommand::Describe(args) => describe(args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let mut request = ListTransactionsRequest::default()
        .with_state_filters(args.states.iter().map(|s| sb(s)).collect())
        .with_producer_id_filters(args.producer_ids.iter().map(|p| ProducerId(*p)).collect())
        .with_duration_filter(-1);
    let version = match args.duration_ms {
        Some(d) => {
            request = request.with_duration_filter(d);
            1
        }
        None => 0,
    };
    let mut rows = Vec::new();
    for addr in brokers(&args.connect).await? {
        let mut client = connect(&args.connect, &addr).await?;
        let resp = client
            .call(&request, version)
            .await
            .with_context(|| format!("ListTransactions to {addr} failed"))?;
        if !resp.unknown_state_filters.is_empty() {
            let unknown: Vec<String> = resp
                .unknown_state_filters
                .iter()
                .map(|s| s.to_string())
                .collect();
            bail!("unknown state {}; states are Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort", unknown.join(", "));
        }
        if resp.error_code != 0 {
            bail!("broker {addr} answered error code {} (the coordinator may still be loading; retry)", resp.error_code);
        }
        for t in resp.transaction_states {
            rows.push((
                t.transactional_id.0.to_string(),
                t.producer_id.0,
                t.transaction_state.to_string(),
            ));
        }
    }
    rows.sort();
    outln!(
        "{:<40} {:>12} {:<16}",
        "TRANSACTIONAL ID",
        "PRODUCER ID",
        "STATE"
    );
    for (id, pid, state) in rows {
        outln!("{id:<40} {pid:>12} {state:<16}");
    }
    Ok(())
}

async fn describe(args: DescribeArgs) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for id in &args.transactional_ids {
        let mut client = connect(&args.connect, &args.connect.bootstrap_server).await?;
        let found = client
            .call(
                &FindCoordinatorRequest::default()
                    .with_key(sb(id))
                    .with_key_type(1),
                3,
            )
            .await
            .context("FindCoordinator failed")?;
        if found.error_code != 0 {
            failed.push(format!(
                "{id}: no coordinator (error code {})",
                found.error_code
            ));
            continue;
        }
        let addr = format!("{}:{}", found.host, found.port);
        let mut coordinator = connect(&args.connect, &addr).await?;
        let resp = coordinator
            .call(
                &DescribeTransactionsRequest::default()
                    .with_transactional_ids(vec![TransactionalId(sb(id))]),
                0,
            )
            .await
            .with_context(|| format!("DescribeTransactions to {addr} failed"))?;
        for t in resp.transaction_states {
            if t.error_code == 105 {
                failed.push(format!("{id}: no such transactional id"));
                continue;
            }
            if t.error_code != 0 {
                failed.push(format!("{id}: error code {}", t.error_code));
                continue;
            }
            let partitions: Vec<String> = t
                .topics
                .iter()
                .flat_map(|tp| {
                    tp.partitions
                        .iter()
                        .map(move |p| format!("{}-{p}", tp.topic.0))
                })
                .collect();
            let start = if t.transaction_start_time_ms < 0 {
                "-".to_string()
            } else {
                t.transaction_start_time_ms.to_string()
            };
            outln!("transactional id:  {}", t.transactional_id.0);
            outln!("coordinator:       {}", found.node_id.0);
            outln!("state:             {}", t.transaction_state);
            outln!("producer id:       {}", t.producer_id.0);
            outln!("producer epoch:    {}", t.producer_epoch);
            outln!("timeout ms:        {}", t.transaction_timeout_ms);
            outln!("start time ms:     {start}");
            outln!("partitions:        {}", partitions.join(","));
            outln!();
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

/// Runs `tributary producers ...`.
pub async fn run_producers(cmd: ProducersCommand) -> anyhow::Result<()> {
    let ProducersCommand::Describe(args) = cmd;
    let mut client = connect(&args.connect, &args.connect.bootstrap_server).await?;
    let md = client
        .call(
            &MetadataRequest::default()
                .with_allow_auto_topic_creation(false)
                .with_topics(Some(vec![
                    kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(TopicName(sb(&args.topic)))),
                ])),
            12,
        )
        .await
        .context("Metadata failed")?;
    let Some(topic) = md.topics.first().filter(|t| t.error_code == 0) else {
        bail!("topic {} does not exist", args.topic);
    };
    let mut partitions: Vec<(i32, i32)> = topic
        .partitions
        .iter()
        .filter(|p| args.partition.is_none_or(|want| want == p.partition_index))
        .map(|p| (p.partition_index, p.leader_id.0))
        .collect();
    partitions.sort();
    if partitions.is_empty() {
        bail!("topic {} has no partition {:?}", args.topic, args.partition);
    }
    outln!(
        "{:<10} {:>12} {:>6} {:>14} {:>14} {:>18} {:>22}",
        "PARTITION",
        "PRODUCER ID",
        "EPOCH",
        "LAST SEQUENCE",
        "COORD. EPOCH",
        "LAST TIMESTAMP",
        "CURRENT TXN START"
    );
    for (p, leader) in partitions {
        let addr = md
            .brokers
            .iter()
            .find(|b| b.node_id.0 == leader)
            .map(|b| format!("{}:{}", b.host, b.port))
            .unwrap_or_else(|| args.connect.bootstrap_server.clone());
        let mut c = connect(&args.connect, &addr).await?;
        let resp = c
            .call(
                &DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
                    .with_name(TopicName(sb(&args.topic)))
                    .with_partition_indexes(vec![p])]),
                0,
            )
            .await
            .with_context(|| format!("DescribeProducers to {addr} failed"))?;
        for t in resp.topics {
            for part in t.partitions {
                if part.error_code != 0 {
                    bail!(
                        "partition {p}: {}",
                        part.error_message
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| format!("error code {}", part.error_code))
                    );
                }
                for s in part.active_producers {
                    let txn = if s.current_txn_start_offset < 0 {
                        "-".to_string()
                    } else {
                        s.current_txn_start_offset.to_string()
                    };
                    outln!(
                        "{:<10} {:>12} {:>6} {:>14} {:>14} {:>18} {:>22}",
                        part.partition_index,
                        s.producer_id.0,
                        s.producer_epoch,
                        s.last_sequence,
                        s.coordinator_epoch,
                        s.last_timestamp,
                        txn
                    );
                }
            }
        }
    }
    Ok(())
}
