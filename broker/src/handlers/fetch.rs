//! Fetch: serve record batches as stored, with long polling.
//!
//! ```text
//!  resolve partitions ─▶ plan (blocking: positions only) ─▶ enough bytes, an error, or time up?
//!                                   ▲                               │ no               │ yes
//!                                   └── high watermark moved ◀── wait (capacity released)
//!                                                                           read file ranges ─▶ answer
//! ```
//!
//! Byte limits follow KIP-74: `max_bytes` (capped by the broker's `fetch.max.bytes`) bounds
//! the whole response and `partition_max_bytes` each partition, but the first batch of the
//! first partition with data is always returned whole so that a consumer can make progress.
//! While waiting, only positions are computed. When the answer is built, a partition's records of
//! at least [`SPLICE_MIN`] bytes are not read at all: the response carries a placeholder and the
//! connection's writer sends the file range with `sendfile` (see [`crate::frame`]); smaller ones
//! are read into the response.
//! Fetch sessions (KIP-227) are declined: the response carries session id 0, and clients then
//! send full fetch requests, as Kafka allows.
//!
//! A fetch from a follower (a `replica_id`) reads up to the log end instead of the high
//! watermark, waits on the log end, and first tells the partition where the follower is: the
//! high watermark may move and the follower may join the ISR. Partitions under a leader-side
//! replication throttle ([`crate::replication::quota`]) answer such a fetch with no records
//! while the throttle's rate is exceeded.
//!
//! Consumers at v11+ may fetch from followers, which serve them up to their own high watermark,
//! and name their rack: with `replica.selector.class` set, a leader answers a consumer in
//! another rack with no records and the in-sync replica to read from instead
//! (`preferred_read_replica`, KIP-392; see [`crate::replication::replica_selector`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use uuid::Uuid;

use super::{blocking_io, check_leader_epoch, topic_name};
use crate::dispatch::{Reply, RequestContext};
use crate::error::{BrokerError, ErrorCode};
use crate::log::FileSlice;
use crate::metadata::MetadataImage;
use crate::partition::{Partition, PartitionOffsets};
use crate::replication::quota::Side;
use crate::replication::replica_selector::{ReplicaSelector, ReplicaView};

/// Kafka's FETCH_SESSION_ID_NOT_FOUND.
const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;

/// Smallest records field sent from the file with `sendfile`; below it one positional read and a
/// copy cost less than another system call on the socket.
const SPLICE_MIN: usize = 32 * 1024;

/// Longest a fetch waits for data, whatever `max_wait_ms` asks; the client simply fetches again.
const MAX_WAIT: Duration = Duration::from_secs(30);

struct Wanted {
    topic: String,
    topic_id: Uuid,
    index: i32,
    offset: i64,
    /// A follower's log start offset.
    log_start: i64,
    /// The leader epoch the partition was looked up at.
    leader_epoch: i32,
    max_bytes: usize,
    target: Result<Arc<Partition>, ErrorCode>,
    /// The replica a consumer should read from instead of this leader (KIP-392).
    preferred: Option<i32>,
    /// The leader epoch the client asked for (-1: any).
    requested_epoch: i32,
    /// A follower's fetch of a partition under the leader-side replication throttle (its bytes
    /// count against the rate).
    throttled: bool,
    /// ... and held back while the rate is exceeded (the follower is not in the ISR).
    holdable: bool,
}

/// One partition's part of the answer before bytes are read.
enum Planned {
    Data {
        slice: Option<FileSlice>,
        offsets: PartitionOffsets,
        /// `read_committed`: the aborted transactions overlapping the data (else `None`).
        aborted: Option<Vec<crate::log::AbortedTxn>>,
    },
    Error {
        code: ErrorCode,
        offsets: Option<PartitionOffsets>,
    },
    /// Read from that replica instead (no records).
    Elsewhere {
        offsets: PartitionOffsets,
        replica: i32,
    },
}

/// Handles Fetch.
pub async fn handle(ctx: RequestContext, req: FetchRequest) -> Reply<FetchResponse> {
    if req.session_id != 0 {
        return FetchResponse::default()
            .with_error_code(FETCH_SESSION_ID_NOT_FOUND)
            .with_session_id(0)
            .into();
    }
    let state = Arc::clone(&ctx.state);
    let image = state.image();
    let by_id = ctx.version >= 13;
    // a follower names itself (KIP-903 moved the id into `replica_state` in v15)
    let (replica_id, replica_epoch) = if ctx.version >= 15 {
        (
            req.replica_state.replica_id.0,
            req.replica_state.replica_epoch,
        )
    } else {
        (req.replica_id.0, -1)
    };
    let follower = replica_id >= 0;
    // consumers at v11+ may read from followers and name their rack (KIP-392)
    let from_followers = !follower && ctx.version >= 11;
    let client_rack = if from_followers {
        req.rack_id.to_string()
    } else {
        String::new()
    };
    let selector = state.config.cluster.replication.selector;
    let quotas = Arc::clone(state.replicas.quotas());
    let throttle = if follower {
        quotas.throttle(Side::Leader, &image)
    } else {
        None
    };
    let lookup = if from_followers {
        super::lookup_replica
    } else {
        super::lookup_partition
    };
    let mut wanted = Vec::new();
    let mut seen = HashMap::new();
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
            // A partition named twice is served once, with its last position, as Kafka builds
            // a map of them.
            if let Some(i) = seen.remove(&(id, name.clone(), p.partition)) {
                wanted.remove(i);
                for v in seen.values_mut() {
                    if *v > i {
                        *v -= 1;
                    }
                }
            }
            seen.insert((id, name.clone(), p.partition), wanted.len());
            let target = if !known {
                Err(ErrorCode::UnknownTopicId)
            } else {
                lookup(&state, &name, p.partition)
                    .and_then(|part| {
                        if by_id && part.topic_id != id {
                            Err(ErrorCode::UnknownTopicId)
                        } else {
                            Ok(part)
                        }
                    })
                    .and_then(|part| {
                        check_leader_epoch(p.current_leader_epoch, part.leader_epoch())
                            .map(|_| part)
                    })
            };
            let target = target.and_then(|part| {
                // followers fetch only from replicas of the partition
                let replica = !follower
                    || image
                        .partition(&name, p.partition)
                        .is_some_and(|ps| ps.replicas.contains(&replica_id));
                if replica {
                    Ok(part)
                } else {
                    Err(ErrorCode::NotLeaderOrFollower)
                }
            });
            let preferred = match &target {
                Ok(part) if !client_rack.is_empty() && selector != ReplicaSelector::LeaderOnly => {
                    preferred_read_replica(&state, &image, part, p.fetch_offset, &client_rack)
                }
                _ => None,
            };
            let throttled = throttle.is_some_and(|t| t.applies(&image, &name, p.partition));
            let holdable = throttled && !image.in_isr(&name, p.partition, replica_id);
            wanted.push(Wanted {
                preferred,
                requested_epoch: p.current_leader_epoch,
                throttled,
                holdable,
                topic: name.clone(),
                topic_id: id,
                index: p.partition,
                offset: p.fetch_offset,
                log_start: p.log_start_offset,
                leader_epoch: target.as_ref().map_or(-1, |part| part.leader_epoch()),
                max_bytes: p.partition_max_bytes.max(0) as usize,
                target,
            });
        }
    }
    // the follower's log ends where it fetches from: once its fetch offset proved valid (the
    // first plan read there), the leader's view of it moves
    let eligible = follower
        && image
            .brokers
            .get(&replica_id)
            .is_some_and(|b| b.is_active() && (replica_epoch < 0 || b.epoch == replica_epoch));
    let mut follower_seen = !follower;
    let wanted = Arc::new(wanted);
    let read_committed = req.isolation_level == 1;
    let max_bytes = (req.max_bytes.max(0) as usize).min(state.config.fetch_max_bytes);
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;

    // Subscribe before the first plan so that an append between the plan and the wait wakes us.
    let mut watchers: Vec<_> = wanted
        .iter()
        .filter_map(|w| {
            w.target.as_ref().ok().map(|p| {
                if follower {
                    p.watch_log_end()
                } else {
                    p.watch_high_watermark()
                }
            })
        })
        .collect();
    let mut shutdown = state.shutdown.clone();
    let mut released = false;
    let mut stopping = false;
    loop {
        for w in &mut watchers {
            w.borrow_and_update();
        }
        let w = Arc::clone(&wanted);
        // throttled partitions wait while the leader-side rate is exceeded
        let hold = throttle.is_some()
            && quotas
                .throttle(Side::Leader, &image)
                .is_some_and(|t| t.exceeded);
        let how = Plan {
            max_bytes,
            read_committed,
            follower,
            from_followers,
            hold,
        };
        // (the image of now: a partition deleted meanwhile is gone from it)
        let img = state.image();
        // planning reads batch headers and index entries only
        let planned = match blocking_io(0, move || plan_all(&w, how, &img)).await {
            Ok(p) => p,
            Err(code) => return error_response(&wanted, code, by_id, ctx.version).into(),
        };
        if !follower_seen {
            follower_seen = true;
            for (w, plan) in wanted.iter().zip(&planned) {
                if let (Ok(p), Planned::Data { .. }) = (&w.target, plan) {
                    if let Some(proposal) = p.on_follower_fetch(
                        replica_id,
                        w.offset,
                        w.log_start,
                        replica_epoch,
                        eligible,
                    ) {
                        crate::replication::alter_partition::propose(&state, p, proposal);
                    }
                }
            }
        }
        let bytes: usize = planned
            .iter()
            .map(|p| match p {
                Planned::Data { slice: Some(s), .. } => s.len(),
                _ => 0,
            })
            .sum();
        let has_error = planned.iter().any(|p| matches!(p, Planned::Error { .. }));
        // a consumer sent elsewhere learns it at once, as Kafka answers
        let redirected = planned
            .iter()
            .any(|p| matches!(p, Planned::Elsewhere { .. }));
        let done = bytes >= min_bytes
            || has_error
            || redirected
            || tokio::time::Instant::now() >= deadline
            || watchers.is_empty()
            || *shutdown.borrow()
            || stopping;
        if done {
            let throttled: usize = wanted
                .iter()
                .zip(&planned)
                .filter(|(w, _)| w.throttled)
                .map(|(_, p)| match p {
                    Planned::Data { slice: Some(s), .. } => s.len(),
                    _ => 0,
                })
                .sum();
            quotas.record(Side::Leader, throttled);
            let read: usize = planned
                .iter()
                .map(|p| match p {
                    Planned::Data { slice: Some(s), .. } if s.len() < SPLICE_MIN => s.len(),
                    _ => 0,
                })
                .sum();
            return match blocking_io(read, move || read_planned(planned)).await {
                Ok((results, files)) => {
                    Reply::Spliced(build_response(&wanted, results, by_id), files)
                }
                Err(code) => error_response(&wanted, code, by_id, ctx.version).into(),
            };
        }
        if !released {
            ctx.release_capacity();
            released = true;
        }
        let changed =
            futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => {}
            changed = shutdown.changed() => {
                // A dropped sender (broker stopped without a clean shutdown) also ends the wait.
                if changed.is_err() {
                    stopping = true;
                }
            }
        }
    }
}

/// On a leader, with `replica.selector.class` set: the follower a consumer in `client_rack`
/// fetching from `offset` should read from instead (an in-sync replica on an active broker).
fn preferred_read_replica(
    state: &crate::server::BrokerState,
    image: &MetadataImage,
    partition: &Partition,
    offset: i64,
    client_rack: &str,
) -> Option<i32> {
    let candidates = partition.read_replicas(offset)?;
    let leader = ReplicaView {
        id: state.config.node_id,
        rack: state.config.cluster.rack.clone(),
        log_end_offset: partition.offsets().log_end_offset,
        since_caught_up_ms: 0,
    };
    let followers: Vec<ReplicaView> = candidates
        .into_iter()
        .filter_map(|(id, leo, lag)| {
            let broker = image.brokers.get(&id).filter(|b| b.is_active())?;
            Some(ReplicaView {
                id,
                rack: broker.rack.clone(),
                log_end_offset: leo,
                since_caught_up_ms: lag,
            })
        })
        .collect();
    state
        .config
        .cluster
        .replication
        .selector
        .select(client_rack, &leader, &followers)
}

/// How one fetch plans its reads.
#[derive(Clone, Copy)]
struct Plan {
    max_bytes: usize,
    read_committed: bool,
    /// A follower's fetch: up to the log end.
    follower: bool,
    /// A consumer that may read from a follower.
    from_followers: bool,
    /// Throttled partitions get no records this time.
    hold: bool,
}

/// Decides, per partition, which byte range to return (no bytes are read here).
fn plan_all(wanted: &[Wanted], how: Plan, image: &MetadataImage) -> Vec<Planned> {
    let Plan {
        max_bytes,
        read_committed,
        follower,
        from_followers,
        hold,
    } = how;
    let mut budget = max_bytes;
    let mut first_data = true;
    wanted
        .iter()
        .map(|w| {
            let partition = match &w.target {
                Ok(p) => p,
                Err(code) => return Planned::Error { code: *code, offsets: None },
            };
            // a replica removed from here (the topic lives on) is served elsewhere
            if partition.is_deleted() && image.topics.get(&w.topic).is_some_and(|t| t.id == partition.topic_id) {
                return Planned::Error {
                    code: ErrorCode::NotLeaderOrFollower,
                    offsets: None,
                };
            }
            // leadership may have moved while the fetch waited: a leader's consumers and
            // followers go elsewhere; a consumer of any replica is checked against the epoch it
            // asked for, as on arrival
            let serves = if from_followers {
                check_leader_epoch(w.requested_epoch, partition.leader_epoch())
            } else if partition.leads_at(w.leader_epoch) {
                Ok(())
            } else {
                Err(ErrorCode::NotLeaderOrFollower)
            };
            if let Err(code) = serves {
                return Planned::Error { code, offsets: None };
            }
            if let Some(replica) = w.preferred {
                return Planned::Elsewhere {
                    offsets: partition.offsets(),
                    replica,
                };
            }
            let limit = w.max_bytes.min(budget);
            let read = if follower {
                partition.read_for_replica(w.offset, limit)
            } else {
                partition.read(w.offset, limit, read_committed, first_data)
            };
            // a held-back partition is read (the offset checked) but answered without records
            let read = read.map(|(mut info, offsets)| {
                if w.holdable && hold {
                    info.slice = None;
                }
                (info, offsets)
            });
            match read {
                Ok((info, offsets)) => {
                    if let Some(slice) = &info.slice {
                        first_data = false;
                        budget = budget.saturating_sub(slice.len());
                    }
                    let aborted = read_committed.then(|| match &info.slice {
                        Some(_) => partition.aborted_txns(w.offset, info.upper_offset),
                        None => Vec::new(),
                    });
                    Planned::Data { slice: info.slice, offsets, aborted }
                }
                Err(e @ BrokerError::OffsetOutOfRange { .. }) => {
                    tracing::debug!(topic = %w.topic, partition = w.index, error = %e, "fetch out of range");
                    Planned::Error { code: e.code(), offsets: Some(partition.offsets()) }
                }
                Err(e) => {
                    tracing::warn!(topic = %w.topic, partition = w.index, error = %e, "fetch failed");
                    Planned::Error { code: e.code(), offsets: None }
                }
            }
        })
        .collect()
}

/// Reads the small planned byte ranges and stands placeholders in for the large ones, which are
/// returned, in response order, to be sent from their files; the kernel is asked to read those
/// ahead, so that `sendfile` finds them in the page cache.
fn read_planned(planned: Vec<Planned>) -> (Vec<PartitionData>, Vec<FileSlice>) {
    let mut files = Vec::new();
    let results = planned
        .into_iter()
        .map(|p| match p {
            Planned::Data {
                slice,
                offsets,
                aborted,
            } => {
                let spliced = slice
                    .as_ref()
                    .filter(|s| s.len() >= SPLICE_MIN)
                    .and_then(|s| crate::frame::placeholder(s.len()));
                let records = match (slice, spliced) {
                    (Some(s), Some(placeholder)) => {
                        s.will_need();
                        files.push(s);
                        placeholder
                    }
                    (Some(s), None) => match s.read() {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "fetch read failed");
                            return partition_error(ErrorCode::KafkaStorageError, None);
                        }
                    },
                    (None, _) => Bytes::new(),
                };
                PartitionData::default()
                    .with_high_watermark(offsets.high_watermark)
                    .with_last_stable_offset(offsets.last_stable_offset)
                    .with_log_start_offset(offsets.log_start_offset)
                    .with_aborted_transactions(aborted.map(|list| {
                        list.into_iter()
                            .map(|t| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(t.producer_id))
                                    .with_first_offset(t.first_offset)
                            })
                            .collect()
                    }))
                    .with_records(Some(records))
            }
            Planned::Error { code, offsets } => partition_error(code, offsets),
            Planned::Elsewhere { offsets, replica } => PartitionData::default()
                .with_high_watermark(offsets.high_watermark)
                .with_last_stable_offset(offsets.last_stable_offset)
                .with_log_start_offset(offsets.log_start_offset)
                .with_preferred_read_replica(kafka_protocol::messages::BrokerId(replica))
                .with_records(Some(Bytes::new())),
        })
        .collect();
    (results, files)
}

/// A partition-level error, with offsets where Kafka gives them (OFFSET_OUT_OF_RANGE) and -1
/// elsewhere.
fn partition_error(code: ErrorCode, offsets: Option<PartitionOffsets>) -> PartitionData {
    let (hw, lso, start) = offsets.map_or((-1, -1, -1), |o| {
        (o.high_watermark, o.last_stable_offset, o.log_start_offset)
    });
    PartitionData::default()
        .with_error_code(code.code())
        .with_high_watermark(hw)
        .with_last_stable_offset(lso)
        .with_log_start_offset(start)
        // Kafka sends empty (not null) records with an error; librdkafka does not handle null.
        .with_records(Some(Bytes::new()))
}

/// The whole request failed: v7+ has a top-level error code; older versions carry it on every
/// partition, since their encoders have nowhere else to put it.
fn error_response(wanted: &[Wanted], code: ErrorCode, by_id: bool, version: i16) -> FetchResponse {
    let results = wanted.iter().map(|_| partition_error(code, None)).collect();
    let resp = build_response(wanted, results, by_id);
    if version >= 7 {
        resp.with_error_code(code.code())
    } else {
        resp
    }
}

fn build_response(wanted: &[Wanted], results: Vec<PartitionData>, by_id: bool) -> FetchResponse {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for (w, data) in wanted.iter().zip(results) {
        let data = data.with_partition_index(w.index);
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
