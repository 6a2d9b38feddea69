//! OffsetCommit: stores consumed positions, from group members or from standalone consumers
//! (generation -1, no member id) of a group with no members.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::coordinator::OffsetCommit;

/// Handles OffsetCommit.
pub async fn handle(ctx: RequestContext, req: OffsetCommitRequest) -> OffsetCommitResponse {
    let commits: Vec<OffsetCommit> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| OffsetCommit {
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if ctx.version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            })
        })
        .collect();
    // An empty group id is accepted, as Kafka does for backwards compatibility.
    let result = {
        ctx.state.groups.commit_offsets(
            ctx.version,
            req.group_id.0.as_str(),
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id_or_member_epoch,
            commits,
        )
    };
    let mut codes = match result {
        Ok(mut codes) => {
            // committed means replicated: a failover must not lose an acknowledged offset
            if codes.contains(&ErrorCode::None) {
                let replicated = ctx.state.groups.replicated(req.group_id.0.as_str()).await;
                if replicated != ErrorCode::None {
                    for c in codes.iter_mut().filter(|c| **c == ErrorCode::None) {
                        *c = replicated;
                    }
                }
            }
            codes.into_iter()
        }
        Err(code) => {
            let n = req.topics.iter().map(|t| t.partitions.len()).sum();
            vec![code; n].into_iter()
        }
    };
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = codes.next().unwrap_or(ErrorCode::UnknownServerError);
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.code())
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
