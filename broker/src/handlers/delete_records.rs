//! DeleteRecords: moves partitions' log start offsets forward (`kafka-delete-records.sh`).
//!
//! Each partition's new start is made durable (the `log-start-offset` checkpoint) before the
//! answer; whole segments below it are deleted at once, the rest of the data becomes invisible:
//! fetches from below it get `OFFSET_OUT_OF_RANGE`.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::{blocking, lookup_partition, repeated_partitions};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::replica_manager::now_ms;

/// Handles DeleteRecords.
pub async fn handle(ctx: RequestContext, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let state = ctx.state.clone();
    let repeated = repeated_partitions(req.topics.iter().flat_map(|t| {
        t.partitions
            .iter()
            .map(|p| (t.name.0.as_str(), p.partition_index))
    }));
    let topics = req.topics;
    let answer = blocking(move || {
        topics
            .into_iter()
            .map(|topic| {
                let name = topic.name.0.to_string();
                let partitions = topic
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let result = if repeated.contains(&(name.clone(), p.partition_index)) {
                            Err(ErrorCode::InvalidRequest)
                        } else if crate::metadata::is_internal_topic(&name) {
                            // "Cannot delete records of internal topic", as Kafka answers
                            Err(ErrorCode::InvalidTopicException)
                        } else {
                            lookup_partition(&state, &name, p.partition_index).and_then(|part| {
                                part.delete_records(p.offset, now_ms()).map_err(|e| {
                                    tracing::debug!(topic = %name, partition = p.partition_index, error = %e, "delete records refused");
                                    e.code()
                                })
                            })
                        };
                        let base = DeleteRecordsPartitionResult::default()
                            .with_partition_index(p.partition_index);
                        match result {
                            Ok(low) => base.with_low_watermark(low),
                            Err(code) => base.with_low_watermark(-1).with_error_code(code.code()),
                        }
                    })
                    .collect();
                DeleteRecordsTopicResult::default()
                    .with_name(topic.name)
                    .with_partitions(partitions)
            })
            .collect::<Vec<_>>()
    })
    .await;
    DeleteRecordsResponse::default().with_topics(answer.unwrap_or_default())
}
