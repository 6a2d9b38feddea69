//! Produce: validate each partition's record batch and append it to the log.
//!
//! acks=0 gets no response; acks=1 is answered once the batch is in the leader's log; acks=-1
//! once the high watermark passed it (every in-sync replica has it), or at the request's
//! `timeout_ms` with REQUEST_TIMED_OUT. With one replica the high watermark moves with the log
//! end, so acks=all answers at once.

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{blocking_io, lookup_partition, sb};
use crate::dispatch::{Reply, RequestContext};
use crate::error::ErrorCode;
use crate::log::locate_batch;
use crate::replica_manager::now_ms;
use crate::replication::purgatory::wait_for_high_watermark;

fn partition_error(
    index: i32,
    code: ErrorCode,
    message: Option<String>,
) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_error_message(message.map(sb))
}

/// Why a partition's batch was refused, as the Produce response tells it.
struct Rejected {
    code: ErrorCode,
    message: String,
    /// The offending records (KIP-467), when the batch broke a record-level rule.
    records: Vec<BatchIndexAndErrorMessage>,
}

impl From<crate::error::BrokerError> for Rejected {
    fn from(e: crate::error::BrokerError) -> Self {
        let records = match &e {
            crate::error::BrokerError::RecordsRejected { records, .. } => records
                .iter()
                .map(|r| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(r.batch_index)
                        .with_batch_index_error_message(Some(sb(r.message.clone())))
                })
                .collect(),
            _ => Vec::new(),
        };
        Rejected {
            code: e.code(),
            message: e.to_string(),
            records,
        }
    }
}

thread_local! {
    /// Per-thread buffer the batch is copied into so that the broker can write its offsets
    /// into it (the request frame is shared and read-only); reused instead of allocated for
    /// every batch.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest scratch buffer kept between requests; a larger batch's buffer is released after use.
const SCRATCH_KEEP: usize = 4 << 20;

fn with_scratch<T>(records: &[u8], f: impl FnOnce(&mut [u8]) -> T) -> T {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.clear();
        buf.extend_from_slice(records);
        let out = f(&mut buf[..]);
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        out
    })
}

/// The first transactional batch of a producer on a partition must belong to a partition the
/// producer added to its open transaction (KIP-890): a late batch of a finished transaction
/// would otherwise open a transaction no marker ever ends, and hold the LSO forever. Runs
/// under the partition's lock ([`crate::partition::Partition::append_verified`]).
fn verify_transactional(
    txns: &crate::txn::TransactionCoordinator,
    partition: &crate::partition::Partition,
    h: &crate::log::BatchHeader,
) -> Result<(), (ErrorCode, String)> {
    txns.verify_partition(h.producer_id, h.producer_epoch, &partition.topic, partition.index)
        .map_err(|code| {
            // Kafka's retriable answer to a produce whose verification cannot finish yet
            let code = match code {
                ErrorCode::CoordinatorLoadInProgress | ErrorCode::ConcurrentTransactions => {
                    ErrorCode::NotEnoughReplicas
                }
                c => c,
            };
            (
                code,
                format!(
                    "transactional batch of producer {} for {}-{}, which is not in its open transaction",
                    h.producer_id, partition.topic, partition.index
                ),
            )
        })
}

/// Handles Produce.
pub async fn handle(ctx: RequestContext, req: ProduceRequest) -> Reply<ProduceResponse> {
    let acks = req.acks;
    let state = &ctx.state;
    let mut work = Vec::new();
    let mut answers: HashMap<(String, i32), PartitionProduceResponse> = HashMap::new();
    // Kafka keys a produce request's data by partition: a partition named twice is written
    // once, with the last batch given for it.
    let mut batches: indexmap::IndexMap<(String, i32), Bytes> = indexmap::IndexMap::new();
    for topic in req.topic_data {
        let name = topic.name.0.to_string();
        for p in topic.partition_data {
            batches.insert((name.clone(), p.index), p.records.unwrap_or_default());
        }
    }
    let order: Vec<(String, i32)> = batches.keys().cloned().collect();
    for ((name, index), records) in batches {
        if !(-1..=1).contains(&acks) {
            answers.insert(
                (name, index),
                partition_error(index, ErrorCode::InvalidRequiredAcks, None),
            );
            continue;
        }
        if crate::metadata::is_internal_topic(&name) {
            // only the coordinators write there (Kafka: "Cannot append to internal topic")
            answers.insert(
                (name.clone(), index),
                partition_error(
                    index,
                    ErrorCode::InvalidTopicException,
                    Some(format!("Cannot append to internal topic {name}")),
                ),
            );
            continue;
        }
        let partition = match lookup_partition(state, &name, index) {
            Ok(part) => part,
            Err(code) => {
                answers.insert((name, index), partition_error(index, code, None));
                continue;
            }
        };
        // A v3+ produce request carries exactly one batch per partition.
        if !matches!(locate_batch(&records), Some((_, size)) if size == records.len()) {
            let msg = if records.is_empty() {
                "no record batch"
            } else {
                "the records are not exactly one complete record batch"
            };
            tracing::info!(topic = %name, partition = index, peer = %ctx.peer, "produce rejected: {msg}");
            answers.insert(
                (name, index),
                partition_error(index, ErrorCode::InvalidRecord, Some(msg.to_string())),
            );
            continue;
        }
        work.push((name, index, partition, records));
    }
    let io_bytes: usize = work.iter().map(|w| w.3.len()).sum();
    let txns = std::sync::Arc::clone(&state.txns);
    let results = blocking_io(io_bytes, move || {
        let now = now_ms();
        work.into_iter()
            .map(|(name, index, partition, records)| {
                // the epoch the write is made in: if leadership moves before it is replicated,
                // the wait below answers NOT_LEADER_OR_FOLLOWER
                let epoch = partition.leader_epoch();
                let result = with_scratch(&records, |batch| {
                    partition.append_verified(batch, acks, now, &|h| {
                        verify_transactional(&txns, &partition, h)
                    })
                })
                .map_err(Rejected::from);
                let log_start = partition.offsets().log_start_offset;
                (name, index, result, log_start, partition, epoch)
            })
            .collect::<Vec<_>>()
    })
    .await;
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(req.timeout_ms.max(0) as u64);
    match results {
        Ok(results) => {
            for (name, index, mut result, log_start, partition, epoch) in results {
                if let (Ok(info), -1) = (&result, acks) {
                    let code =
                        wait_for_high_watermark(&partition, info.last_offset + 1, epoch, deadline)
                            .await;
                    if code != ErrorCode::None {
                        result = Err(Rejected {
                            code,
                            message: code.message().to_string(),
                            records: Vec::new(),
                        });
                    }
                }
                let resp = match result {
                    Ok(info) => PartitionProduceResponse::default()
                        .with_index(index)
                        .with_base_offset(info.base_offset)
                        .with_log_append_time_ms(info.log_append_time)
                        .with_log_start_offset(log_start),
                    Err(Rejected {
                        code,
                        message,
                        records,
                    }) => {
                        tracing::info!(topic = %name, partition = index, peer = %ctx.peer, error = %message, "produce rejected");
                        partition_error(index, code, Some(message)).with_record_errors(records)
                    }
                };
                answers.insert((name, index), resp);
            }
        }
        Err(code) => {
            for key in &order {
                answers
                    .entry(key.clone())
                    .or_insert_with(|| partition_error(key.1, code, None));
            }
        }
    }
    if acks == 0 {
        return match answers.values().find(|a| a.error_code != 0) {
            Some(failed) => Reply::Close(format!(
                "acks=0 produce failed with error code {}",
                failed.error_code
            )),
            None => Reply::Silent,
        };
    }
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    for (name, index) in order {
        let Some(resp) = answers.remove(&(name.clone(), index)) else {
            continue;
        };
        match topics.iter_mut().find(|t| t.name.0.as_str() == name) {
            Some(t) => t.partition_responses.push(resp),
            None => topics.push(
                TopicProduceResponse::default()
                    .with_name(super::topic_name(name))
                    .with_partition_responses(vec![resp]),
            ),
        }
    }
    Reply::Respond(ProduceResponse::default().with_responses(topics))
}

/// Answers a Produce v0-v2 request with `UNSUPPORTED_VERSION` for each partition.
///
/// Produce is advertised from v0 because librdkafka turns compression off otherwise (Kafka
/// 4.0 does the same), but v0-v2 carry old message formats that Tributary does not store. The
/// codec crate cannot read or write these versions, so this small layout is done by hand:
/// request `acks:i16 timeout:i32 [topic:string [partition:i32 records:bytes]]`, response
/// `[topic:string [partition:i32 error:i16 base_offset:i64 (v2: log_append_time:i64)]]
/// (v1+: throttle_time_ms:i32)`.
pub fn unsupported_old_version(correlation_id: i32, version: i16, frame: Bytes) -> Option<Bytes> {
    fn read_i16(b: &[u8], at: &mut usize) -> Option<i16> {
        let v = b.get(*at..*at + 2)?;
        *at += 2;
        Some(i16::from_be_bytes([v[0], v[1]]))
    }
    fn read_i32(b: &[u8], at: &mut usize) -> Option<i32> {
        let v = b.get(*at..*at + 4)?;
        *at += 4;
        Some(i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
    // header v1: api_key, api_version, correlation_id, client_id (nullable string)
    let b = &frame[..];
    let mut at = 8;
    let mut topics: Vec<(Vec<u8>, Vec<i32>)> = Vec::new();
    let mut acks = 1;
    let parsed = (|| {
        let client_len = read_i16(b, &mut at)?;
        at += client_len.max(0) as usize;
        acks = read_i16(b, &mut at)?;
        let _timeout = read_i32(b, &mut at)?;
        let n_topics = read_i32(b, &mut at)?;
        for _ in 0..n_topics.clamp(0, 10_000) {
            let len = read_i16(b, &mut at)?.max(0) as usize;
            let name = b.get(at..at + len)?.to_vec();
            at += len;
            let n_parts = read_i32(b, &mut at)?;
            let mut parts = Vec::new();
            for _ in 0..n_parts.clamp(0, 100_000) {
                parts.push(read_i32(b, &mut at)?);
                let size = read_i32(b, &mut at)?;
                at += size.max(0) as usize;
            }
            topics.push((name, parts));
        }
        Some(())
    })();
    if parsed.is_none() {
        tracing::info!(
            version,
            "malformed Produce v0-v2 request; answering without partitions"
        );
    }
    let mut body = BytesMut::new();
    body.put_i32(correlation_id);
    body.put_i32(topics.len() as i32);
    for (name, parts) in &topics {
        body.put_i16(name.len() as i16);
        body.put_slice(name);
        body.put_i32(parts.len() as i32);
        for p in parts {
            body.put_i32(*p);
            body.put_i16(ErrorCode::UnsupportedVersion.code());
            body.put_i64(-1);
            if version >= 2 {
                body.put_i64(-1);
            }
        }
    }
    if version >= 1 {
        body.put_i32(0);
    }
    let mut out = BytesMut::with_capacity(body.len() + 4);
    out.put_i32(body.len() as i32);
    out.put_slice(&body);
    Some(out.freeze())
}
