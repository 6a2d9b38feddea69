//! AlterPartitionReassignments (KIP-455): start, change or cancel the reassignment of
//! partitions to other replicas (`kafka-reassign-partitions --execute/--cancel`), carried out by
//! the active controller.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};

use super::{outcome_fields, sb};
use crate::dispatch::RequestContext;
use crate::metadata::ReassignmentTargets;

/// Handles AlterPartitionReassignments.
pub async fn handle(
    ctx: RequestContext,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let changes: ReassignmentTargets = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let response = AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(req.allow_replication_factor_change);
    match ctx
        .state
        .controller
        .alter_partition_reassignments(changes, req.allow_replication_factor_change)
        .await
    {
        Ok(results) => response.with_responses(
            req.topics
                .iter()
                .zip(results)
                .map(|(t, (_, parts))| {
                    ReassignableTopicResponse::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            parts
                                .into_iter()
                                .map(|(p, r)| {
                                    let (code, message) = outcome_fields(r);
                                    ReassignablePartitionResponse::default()
                                        .with_partition_index(p)
                                        .with_error_code(code)
                                        .with_error_message(message)
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
        Err((code, message)) => response
            .with_error_code(code.code())
            .with_error_message(Some(sb(message))),
    }
}
