//! ListOffsets: earliest, latest, max timestamp, or the first offset at or after a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::{blocking, check_leader_epoch, lookup_partition, repeated_partitions};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
/// KIP-1005 (v9+): the newest offset in tiered storage; without tiered storage Kafka answers -1.
const LATEST_TIERED: i64 = -5;

/// Handles ListOffsets.
pub async fn handle(ctx: RequestContext, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let state = ctx.state.clone();
    let version = ctx.version;
    let read_committed = req.isolation_level == 1;
    let repeated = repeated_partitions(req.topics.iter().flat_map(|t| {
        t.partitions
            .iter()
            .map(|p| (t.name.0.as_str(), p.partition_index))
    }));
    let topics = blocking(move || {
        req.topics
            .into_iter()
            .map(|topic| {
                let name = topic.name.0.to_string();
                let partitions = topic
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let base = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index);
                        let found = if repeated.contains(&(name.clone(), p.partition_index)) {
                            Err(ErrorCode::InvalidRequest)
                        } else {
                            lookup_partition(&state, &name, p.partition_index)
                        };
                        let result = found.and_then(|part| {
                            check_leader_epoch(p.current_leader_epoch, part.leader_epoch())?;
                            let o = part.offsets();
                            let (offset, timestamp) = match p.timestamp {
                                LATEST => (
                                    if read_committed {
                                        o.last_stable_offset
                                    } else {
                                        o.high_watermark
                                    },
                                    -1,
                                ),
                                EARLIEST => (o.log_start_offset, -1),
                                EARLIEST_LOCAL if version >= 8 => (o.log_start_offset, -1),
                                LATEST_TIERED if version >= 9 => (-1, -1),
                                MAX_TIMESTAMP if version >= 7 => {
                                    match part.max_timestamp_offset() {
                                        Ok(found) => found.unwrap_or((-1, -1)),
                                        Err(e) => return Err(e.code()),
                                    }
                                }
                                ts if ts < 0 => return Err(ErrorCode::UnsupportedVersion),
                                // read_committed: only records below the last stable offset
                                ts => match part.offset_for_timestamp(ts) {
                                    Ok(Some((off, _)))
                                        if read_committed && off >= o.last_stable_offset =>
                                    {
                                        (-1, -1)
                                    }
                                    Ok(Some((off, t))) => (off, t),
                                    Ok(None) => (-1, -1),
                                    Err(e) => return Err(e.code()),
                                },
                            };
                            let epoch = if offset < 0 {
                                -1
                            } else if p.timestamp == LATEST {
                                part.leader_epoch()
                            } else {
                                part.epoch_at(offset)
                            };
                            Ok((offset, timestamp, epoch))
                        });
                        match result {
                            Ok((offset, timestamp, epoch)) => {
                                // leader_epoch exists from v4 on
                                let epoch = if version >= 4 { epoch } else { -1 };
                                base.with_offset(offset)
                                    .with_timestamp(timestamp)
                                    .with_leader_epoch(epoch)
                            }
                            Err(code) => base
                                .with_error_code(code.code())
                                .with_offset(-1)
                                .with_timestamp(-1),
                        }
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(topic.name)
                    .with_partitions(partitions)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    ListOffsetsResponse::default().with_topics(topics)
}
