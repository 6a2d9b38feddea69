//! ElectLeaders: preferred or unclean leader elections on request (`kafka-leader-election`),
//! carried out by the active controller.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use super::{outcome_fields, sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::ElectionType;

/// Handles ElectLeaders.
pub async fn handle(ctx: RequestContext, req: ElectLeadersRequest) -> ElectLeadersResponse {
    // (v0 has no election type: preferred)
    let kind = match req.election_type {
        0 => ElectionType::Preferred,
        1 => ElectionType::Unclean,
        other => {
            return ElectLeadersResponse::default()
                .with_error_code(ErrorCode::InvalidRequest.code())
                .with_replica_election_results(failed_all(
                    &req,
                    ErrorCode::InvalidRequest,
                    &format!("Unknown election type {other}"),
                ))
        }
    };
    let partitions = req.topic_partitions.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
            .collect()
    });
    match ctx.state.controller.elect_leaders(kind, partitions).await {
        Ok(results) => {
            for (topic, parts) in &results {
                for (p, r) in parts {
                    if r.is_ok() {
                        tracing::info!(%topic, partition = p, ?kind, "leader elected on request");
                    }
                }
            }
            ElectLeadersResponse::default().with_replica_election_results(
                results
                    .into_iter()
                    .map(|(topic, parts)| {
                        ReplicaElectionResult::default()
                            .with_topic(topic_name(topic))
                            .with_partition_result(
                                parts
                                    .into_iter()
                                    .map(|(p, r)| {
                                        let (code, message) = outcome_fields(r);
                                        PartitionResult::default()
                                            .with_partition_id(p)
                                            .with_error_code(code)
                                            .with_error_message(message)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
        }
        // no controller: every partition named gets the error (v0 has no top-level code)
        Err((code, message)) => ElectLeadersResponse::default()
            .with_error_code(code.code())
            .with_replica_election_results(failed_all(&req, code, &message)),
    }
}

fn failed_all(
    req: &ElectLeadersRequest,
    code: ErrorCode,
    message: &str,
) -> Vec<ReplicaElectionResult> {
    req.topic_partitions
        .iter()
        .flatten()
        .map(|t| {
            ReplicaElectionResult::default()
                .with_topic(t.topic.clone())
                .with_partition_result(
                    t.partitions
                        .iter()
                        .map(|p| {
                            PartitionResult::default()
                                .with_partition_id(*p)
                                .with_error_code(code.code())
                                .with_error_message(Some(sb(message)))
                        })
                        .collect(),
                )
        })
        .collect()
}
