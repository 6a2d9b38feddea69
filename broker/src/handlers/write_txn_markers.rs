//! WriteTxnMarkers: writes COMMIT or ABORT markers to partitions led here. The transaction
//! coordinator of this broker writes its markers in process; this API serves other
//! coordinators and tools (Kafka's admin `abortTransaction` for a hanging transaction).

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::{blocking, lookup_partition, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::OFFSETS_TOPIC;
use crate::log::Marker;
use crate::replica_manager::now_ms;

/// Handles WriteTxnMarkers.
pub async fn handle(ctx: RequestContext, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let state = std::sync::Arc::clone(&ctx.state);
    let results = blocking(move || {
        req.markers
            .into_iter()
            .map(|m| {
                let marker = Marker {
                    commit: m.transaction_result,
                    coordinator_epoch: m.coordinator_epoch,
                };
                let pid = m.producer_id.0;
                let topics = m
                    .topics
                    .into_iter()
                    .map(|t| {
                        let name = t.name.0.to_string();
                        let partitions = t
                            .partition_indexes
                            .iter()
                            .map(|p| {
                                let code = match lookup_partition(&state, &name, *p) {
                                    Err(code) => code,
                                    Ok(part) => match part.append_marker(
                                        pid,
                                        m.producer_epoch,
                                        marker,
                                        now_ms(),
                                    ) {
                                        Ok(_) => {
                                            if name == OFFSETS_TOPIC {
                                                state.groups.complete_txn(*p, pid, marker.commit);
                                            }
                                            ErrorCode::None
                                        }
                                        Err(e) => e.code(),
                                    },
                                };
                                WritableTxnMarkerPartitionResult::default()
                                    .with_partition_index(*p)
                                    .with_error_code(code.code())
                            })
                            .collect();
                        WritableTxnMarkerTopicResult::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect();
                WritableTxnMarkerResult::default()
                    .with_producer_id(m.producer_id)
                    .with_topics(topics)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    WriteTxnMarkersResponse::default().with_markers(results)
}
