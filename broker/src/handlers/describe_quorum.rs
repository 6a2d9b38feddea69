//! DescribeQuorum: the metadata quorum (`kafka-metadata-quorum describe --status|--replication`).
//!
//! A single node is its own quorum: one voter, always the leader, its metadata log's end as high
//! watermark. In a cluster the controllers of `controller.quorum.voters` vote, one of them leads
//! (its Raft term is the leader epoch), and the brokers that fetch the metadata observe; a
//! broker answers with what the active controller last told it (at most one metadata fetch old).

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{BrokerId, DescribeQuorumRequest, DescribeQuorumResponse};

use super::{sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::replica_manager::now_ms;

/// The metadata log's topic, as Kafka names it.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// The leader epoch of a single node's quorum: it never holds an election.
const SINGLE_NODE_EPOCH: i32 = 1;

/// Handles DescribeQuorum.
pub async fn handle(ctx: RequestContext, req: DescribeQuorumRequest) -> DescribeQuorumResponse {
    let state = &ctx.state;
    let me = state.config.node_id;
    let image = state.image();
    // the metadata log's end: the offset after the last applied record
    let end = image.offset.max(-1) + 1;
    let now = now_ms();
    // the fields each version has: timestamps from v1, directory ids and endpoints from v2
    let version = ctx.version;
    let mut voter = ReplicaState::default()
        .with_replica_id(BrokerId(me))
        .with_log_end_offset(end);
    if version >= 1 {
        voter = voter
            .with_last_fetch_timestamp(now)
            .with_last_caught_up_timestamp(now);
    }
    if version >= 2 {
        voter = voter.with_replica_directory_id(state.directory_id);
    }
    // a cluster: the controllers vote (one of them leads), the brokers following the metadata
    // observe, as the active controller last described them
    let quorum = match &state.config.cluster.mode {
        crate::config::ClusterMode::Quorum(_) => {
            Some(state.controller.quorum_view().unwrap_or_default())
        }
        crate::config::ClusterMode::SingleNode => None,
    };
    let replica = |r: &crate::metadata::ReplicaView| {
        let mut out = ReplicaState::default()
            .with_replica_id(BrokerId(r.id))
            .with_log_end_offset(r.log_end_offset);
        if version >= 1 {
            out = out
                .with_last_fetch_timestamp(r.last_fetch_ms)
                .with_last_caught_up_timestamp(r.last_caught_up_ms);
        }
        if version >= 2 {
            let dir = image
                .brokers
                .get(&r.id)
                .and_then(|b| b.directory_ids.first().copied())
                .unwrap_or_default();
            out = out.with_replica_directory_id(dir);
        }
        out
    };
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = PartitionData::default().with_partition_index(p.partition_index);
                    if t.topic_name.0.as_str() != METADATA_TOPIC || p.partition_index != 0 {
                        return base
                            .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                            .with_error_message(Some(sb(format!(
                                "{}-{} is not the metadata log",
                                t.topic_name.0.as_str(),
                                p.partition_index
                            ))));
                    }
                    match &quorum {
                        Some(q) => base
                            .with_leader_id(BrokerId(q.leader_id))
                            .with_leader_epoch(q.leader_epoch)
                            .with_high_watermark(q.high_watermark)
                            .with_current_voters(q.voters.iter().map(replica).collect())
                            .with_observers(q.observers.iter().map(replica).collect()),
                        None => base
                            .with_leader_id(BrokerId(me))
                            .with_leader_epoch(SINGLE_NODE_EPOCH)
                            .with_high_watermark(end)
                            .with_current_voters(vec![voter.clone()]),
                    }
                })
                .collect();
            TopicData::default()
                .with_topic_name(topic_name(t.topic_name.0.to_string()))
                .with_partitions(partitions)
        })
        .collect();
    // v2: the voters' endpoints: this node's listeners
    let listeners = state
        .config
        .cluster
        .listeners
        .iter()
        .map(|l| {
            let host = if l.host.is_empty() {
                "0.0.0.0"
            } else {
                &l.host
            };
            let port = if l.port == 0 {
                state.config.listen_addr.port()
            } else {
                l.port
            };
            Listener::default()
                .with_name(sb(l.name.clone()))
                .with_host(sb(host.to_string()))
                .with_port(port)
        })
        .collect();
    let response = DescribeQuorumResponse::default().with_topics(topics);
    if version < 2 {
        return response;
    }
    if let crate::config::ClusterMode::Quorum(q) = &state.config.cluster.mode {
        let controller_listener = state
            .config
            .cluster
            .controller_listener_names
            .first()
            .cloned()
            .unwrap_or_else(|| "CONTROLLER".to_string());
        let nodes = q
            .voters
            .iter()
            .map(|v| {
                Node::default()
                    .with_node_id(BrokerId(v.id))
                    .with_listeners(vec![Listener::default()
                        .with_name(sb(controller_listener.clone()))
                        .with_host(sb(v.host.clone()))
                        .with_port(v.port)])
            })
            .collect();
        return response.with_nodes(nodes);
    }
    response.with_nodes(vec![Node::default()
        .with_node_id(BrokerId(me))
        .with_listeners(listeners)])
}
