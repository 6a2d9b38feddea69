//! OffsetDelete: removes a group's committed offsets for partitions it no longer consumes.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::consumer_protocol::subscribed_topics;

/// Handles OffsetDelete.
pub async fn handle(ctx: RequestContext, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index))
        })
        .collect();
    let result = if req.group_id.0.is_empty() {
        Err(ErrorCode::InvalidGroupId)
    } else {
        ctx.state
            .groups
            .delete_offsets(req.group_id.0.as_str(), &partitions, |g, topic| {
                // A consumer group is subscribed to a topic when one of its members lists it.
                g.protocol_type() == Some("consumer")
                    && g.members().any(|m| {
                        let protocol = g.protocol().unwrap_or_default();
                        // metadata that cannot be read counts as subscribed, as in Kafka
                        subscribed_topics(&m.metadata(protocol))
                            .is_none_or(|ts| ts.iter().any(|t| t == topic))
                    })
            })
    };
    let mut codes = match result {
        Err(code) => return OffsetDeleteResponse::default().with_error_code(code.code()),
        Ok(codes) => codes.into_iter(),
    };
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(codes.next().unwrap_or(ErrorCode::None).code())
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
