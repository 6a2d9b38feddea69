//! WriteTxnMarkers: writes COMMIT or ABORT markers to partitions led here. The transaction
//! coordinator writes the markers of partitions it leads in process; this API serves the
//! coordinators of other brokers and tools (Kafka's admin `abortTransaction` for a hanging
//! transaction).

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

/// How long the markers' followers get to copy them before the answer says REQUEST_TIMED_OUT
/// (the request has no timeout of its own; the coordinator then retries).
const REPLICATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One partition's marker write: its place in the answer, and what to wait for.
struct Written {
    marker: usize,
    topic: String,
    partition: i32,
    code: ErrorCode,
    wait: Option<(std::sync::Arc<crate::partition::Partition>, i64, i32)>,
}

/// Handles WriteTxnMarkers: writes each marker to the partitions led here and answers once they
/// are replicated (every in-sync replica has them), as Kafka's leader does.
pub async fn handle(ctx: RequestContext, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let state = std::sync::Arc::clone(&ctx.state);
    let producers: Vec<_> = req.markers.iter().map(|m| m.producer_id).collect();
    let written = blocking(move || {
        let mut out = Vec::new();
        for (i, m) in req.markers.into_iter().enumerate() {
            let marker = Marker {
                commit: m.transaction_result,
                coordinator_epoch: m.coordinator_epoch,
            };
            let pid = m.producer_id.0;
            for t in m.topics {
                let name = t.name.0.to_string();
                for p in t.partition_indexes {
                    let (code, wait) = match lookup_partition(&state, &name, p) {
                        Err(code) => (code, None),
                        Ok(part) => {
                            let epoch = part.leader_epoch();
                            match part.append_marker(pid, m.producer_epoch, marker, now_ms()) {
                                Ok(info) => {
                                    if name == OFFSETS_TOPIC {
                                        state.groups.complete_txn(p, pid, marker.commit);
                                    }
                                    (ErrorCode::None, Some((part, info.last_offset + 1, epoch)))
                                }
                                Err(e) => (e.code(), None),
                            }
                        }
                    };
                    out.push(Written {
                        marker: i,
                        topic: name.clone(),
                        partition: p,
                        code,
                        wait,
                    });
                }
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + REPLICATION_TIMEOUT;
    let mut markers: Vec<WritableTxnMarkerResult> = producers
        .into_iter()
        .map(|pid| WritableTxnMarkerResult::default().with_producer_id(pid))
        .collect();
    for w in written {
        let mut code = w.code;
        if let Some((part, required, epoch)) = &w.wait {
            code = crate::replication::purgatory::wait_for_high_watermark(
                part, *required, *epoch, deadline,
            )
            .await;
        }
        let Some(m) = markers.get_mut(w.marker) else {
            continue;
        };
        let result = WritableTxnMarkerPartitionResult::default()
            .with_partition_index(w.partition)
            .with_error_code(code.code());
        match m.topics.iter_mut().find(|t| t.name.0.as_str() == w.topic) {
            Some(t) => t.partitions.push(result),
            None => m.topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(topic_name(w.topic))
                    .with_partitions(vec![result]),
            ),
        }
    }
    WriteTxnMarkersResponse::default().with_markers(markers)
}
