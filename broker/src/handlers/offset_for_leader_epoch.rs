//! OffsetForLeaderEpoch (KIP-101/KIP-320): the end offset of a leader epoch, which consumers
//! use to detect log truncation after a leader change.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::{check_leader_epoch, lookup_partition};
use crate::dispatch::RequestContext;

/// Handles OffsetForLeaderEpoch.
pub async fn handle(
    ctx: RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.topic.0.to_string();
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let base = EpochEndOffset::default().with_partition(p.partition);
                    let found = lookup_partition(&ctx.state, &name, p.partition).and_then(|part| {
                        check_leader_epoch(p.current_leader_epoch, part.leader_epoch())
                            .map(|_| part)
                    });
                    match found {
                        Ok(part) => match part.end_offset_for_epoch(p.leader_epoch) {
                            Some((epoch, end)) => {
                                base.with_leader_epoch(epoch).with_end_offset(end)
                            }
                            None => base.with_leader_epoch(-1).with_end_offset(-1),
                        },
                        Err(code) => base
                            .with_error_code(code.code())
                            .with_leader_epoch(-1)
                            .with_end_offset(-1),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
