//! `tributary cluster describe`: the cluster's nodes, its controller, and the partitions that
//! are under-replicated (fewer in-sync replicas than replicas) or offline (no leader), from
//! Metadata and DescribeQuorum as any Kafka tool would ask for them.

use anyhow::Context;
use clap::{Args, Subcommand};
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{DescribeQuorumRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tributary_broker::wire::Client;

use super::client::ConnectArgs;
use crate::cli::output::outln;

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Show the nodes, the controller, and under-replicated or offline partitions
    Describe(DescribeArgs),
}

#[derive(Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Describe(a) => describe(&a.connect).await,
    }
}

async fn describe(connect: &ConnectArgs) -> anyhow::Result<()> {
    // (a bootstrap list, as Kafka's tools take it: the first broker that answers)
    let addr = &connect.bootstrap_server;
    let mut reached = None;
    let mut last_error = None;
    for one in addr.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match Client::connect(one, connect.timeout()).await {
            Ok(c) => {
                reached = Some(c);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let mut client = reached.ok_or_else(|| {
        let why = last_error.map_or_else(|| "no address given".to_string(), |e| e.to_string());
        anyhow::anyhow!(
            "cannot reach a broker at {addr} ({why}); is `tributary server` running there?"
        )
    })?;
    let md = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await
        .context("Metadata failed")?;
    let quorum = client
        .call(
            &DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
                .with_partitions(vec![PartitionData::default().with_partition_index(0)])]),
            1,
        )
        .await
        .context("DescribeQuorum failed")?;
    let q = quorum.topics.first().and_then(|t| t.partitions.first());
    let leader = q.map(|p| p.leader_id.0).unwrap_or(-1);
    let voters: Vec<i32> = q
        .map(|p| p.current_voters.iter().map(|v| v.replica_id.0).collect())
        .unwrap_or_default();
    outln!(
        "Cluster {}",
        md.cluster_id.as_ref().map_or("(unknown)", |c| c.as_str())
    );
    outln!(
        "Controller: node {leader} (voters {voters:?}), metadata offset {}",
        q.map_or(-1, |p| p.high_watermark)
    );
    outln!("Nodes (live brokers):");
    let mut brokers: Vec<_> = md.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id.0);
    for b in brokers {
        let role = if voters.contains(&b.node_id.0) {
            "broker, controller"
        } else {
            "broker"
        };
        outln!(
            "  {}  {}:{}  rack {}  ({role})",
            b.node_id.0,
            b.host.as_str(),
            b.port,
            b.rack.as_ref().map_or("-", |r| r.as_str())
        );
    }
    let mut under = Vec::new();
    let mut offline = Vec::new();
    for t in &md.topics {
        let name = t.name.as_ref().map_or("", |n| n.0.as_str());
        for p in &t.partitions {
            if p.leader_id.0 < 0 {
                offline.push(format!("{name}-{}", p.partition_index));
            } else if p.isr_nodes.len() < p.replica_nodes.len() {
                under.push(format!(
                    "{name}-{} (leader {}, replicas {:?}, isr {:?})",
                    p.partition_index,
                    p.leader_id.0,
                    p.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
                    p.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>()
                ));
            }
        }
    }
    under.sort();
    offline.sort();
    outln!("Under-replicated partitions: {}", under.len());
    for u in &under {
        outln!("  {u}");
    }
    outln!("Offline partitions: {}", offline.len());
    for o in &offline {
        outln!("  {o}");
    }
    Ok(())
}
