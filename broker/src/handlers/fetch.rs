//! Fetch: serve record batches as stored, with long polling.
//!
//! ```text
//!  resolve partitions ─▶ read (blocking task: file ranges → bytes) ─▶ enough bytes or errors? ─▶ answer
//!                                   ▲                                        │ no
//!                                   └──── high watermark moved / max_wait ◀──┘
//! ```
//!
//! Byte limits follow KIP-74: `max_bytes` bounds the whole response and `partition_max_bytes`
//! each partition, but the first batch of the first partition with data is always returned
//! whole so that a consumer can make progress. Fetch sessions (KIP-227) are declined: the
//! response carries session id 0, and clients then send full fetch requests, as Kafka allows.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use uuid::Uuid;

use super::{blocking_io, check_leader_epoch, topic_name};
use crate::dispatch::RequestContext;
use crate::error::{BrokerError, ErrorCode};
use crate::partition::Partition;

/// Kafka's FETCH_SESSION_ID_NOT_FOUND.
const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;

struct Wanted {
    topic: String,
    topic_id: Uuid,
    index: i32,
    offset: i64,
    max_bytes: usize,
    target: Result<Arc<Partition>, ErrorCode>,
}

/// Handles Fetch.
pub async fn handle(ctx: RequestContext, req: FetchRequest) -> FetchResponse {
    if req.session_id != 0 {
        return FetchResponse::default()
            .with_error_code(FETCH_SESSION_ID_NOT_FOUND)
            .with_session_id(0);
    }
    let state = &ctx.state;
    let image = state.image();
    let by_id = ctx.version >= 13;
    let mut wanted = Vec::new();
    for topic in &req.topics {
        let (name, id, known) = if by_id {
            match image.topic_by_id(&topic.topic_id) {
                Some(t) => (t.name.clone(), t.id, true),
                None => (String::new(), topic.topic_id, false),
            }
        } else {
            let name = topic.topic.0.to_string();
            let id = image.topics.get(&name).map_or(Uuid::nil(), |t| t.id);
            (name, id, true)
        };
        for p in &topic.partitions {
            let target = if !known {
                Err(ErrorCode::UnknownTopicId)
            } else {
                super::lookup_partition(state, &name, p.partition).and_then(|part| {
                    check_leader_epoch(p.current_leader_epoch, part.leader_epoch()).map(|_| part)
                })
            };
            wanted.push(Wanted {
                topic: name.clone(),
                topic_id: id,
                index: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as usize,
                target,
            });
        }
    }
    let wanted = Arc::new(wanted);
    let read_committed = req.isolation_level == 1;
    let max_bytes = if req.max_bytes <= 0 {
        i32::MAX as usize
    } else {
        req.max_bytes as usize
    };
    let min_bytes = req.min_bytes.max(0) as usize;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);

    // Subscribe before the first read so that an append between the read and the wait wakes us.
    let mut watchers: Vec<_> = wanted
        .iter()
        .filter_map(|w| w.target.as_ref().ok().map(|p| p.watch_high_watermark()))
        .collect();
    let mut shutdown = state.shutdown.clone();
    loop {
        for w in &mut watchers {
            w.borrow_and_update();
        }
        let w = Arc::clone(&wanted);
        let results = match blocking_io(move || read_all(&w, max_bytes, read_committed)).await {
            Ok(r) => r,
            Err(code) => return FetchResponse::default().with_error_code(code.code()),
        };
        let bytes: usize = results
            .iter()
            .map(|r| r.records.as_ref().map_or(0, |b| b.len()))
            .sum();
        let has_error = results.iter().any(|r| r.error_code != 0);
        let now = tokio::time::Instant::now();
        if bytes >= min_bytes
            || bytes > 0 && min_bytes == 0
            || has_error
            || now >= deadline
            || watchers.is_empty()
        {
            return build_response(&wanted, results, by_id);
        }
        let changed =
            futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => return build_response(&wanted, results, by_id),
        }
    }
}

fn read_all(wanted: &[Wanted], max_bytes: usize, read_committed: bool) -> Vec<PartitionData> {
    let mut budget = max_bytes;
    let mut first_data = true;
    wanted
        .iter()
        .map(|w| {
            let base = PartitionData::default().with_partition_index(w.index);
            let partition = match &w.target {
                Ok(p) => p,
                Err(code) => return base.with_error_code(code.code()).with_high_watermark(-1),
            };
            let limit = w.max_bytes.min(budget);
            match partition.read(w.offset, limit, read_committed, first_data) {
                Ok((info, offsets)) => {
                    let records = match info.slice {
                        Some(slice) => match slice.read() {
                            Ok(b) => b,
                            Err(e) => {
                                tracing::error!(topic = %w.topic, partition = w.index, error = %e, "fetch read failed");
                                return base.with_error_code(ErrorCode::KafkaStorageError.code());
                            }
                        },
                        None => Bytes::new(),
                    };
                    if !records.is_empty() {
                        first_data = false;
                        budget = budget.saturating_sub(records.len());
                    }
                    base.with_high_watermark(offsets.high_watermark)
                        .with_last_stable_offset(offsets.last_stable_offset)
                        .with_log_start_offset(offsets.log_start_offset)
                        .with_aborted_transactions(read_committed.then(Vec::new))
                        .with_records(Some(records))
                }
                Err(e @ BrokerError::OffsetOutOfRange { .. }) => {
                    tracing::debug!(topic = %w.topic, partition = w.index, error = %e, "fetch out of range");
                    let o = partition.offsets();
                    base.with_error_code(e.code().code())
                        .with_high_watermark(o.high_watermark)
                        .with_last_stable_offset(o.last_stable_offset)
                        .with_log_start_offset(o.log_start_offset)
                }
                Err(e) => {
                    tracing::warn!(topic = %w.topic, partition = w.index, error = %e, "fetch failed");
                    base.with_error_code(e.code().code())
                }
            }
        })
        .collect()
}

fn build_response(wanted: &[Wanted], results: Vec<PartitionData>, by_id: bool) -> FetchResponse {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for (w, data) in wanted.iter().zip(results) {
        let same = topics.last_mut().filter(|t| {
            if by_id {
                t.topic_id == w.topic_id
            } else {
                t.topic.0.as_str() == w.topic
            }
        });
        match same {
            Some(t) => t.partitions.push(data),
            None => {
                let t = FetchableTopicResponse::default().with_partitions(vec![data]);
                topics.push(if by_id {
                    t.with_topic_id(w.topic_id)
                } else {
                    t.with_topic(topic_name(w.topic.clone()))
                });
            }
        }
    }
    FetchResponse::default().with_responses(topics)
}
