//! Waiting for replication: an acks=all write is answered once the high watermark passes it
//! (Kafka's `DelayedProduce`). On a single node the high watermark moved with the append, so the
//! wait returns at once without touching the runtime's timers.

use crate::error::ErrorCode;
use crate::partition::Partition;

/// Waits until `partition`'s high watermark reaches `required` (the offset after the batch)
/// while this broker still leads it at `leader_epoch`, until `deadline`.
///
/// The answer is Kafka's: NONE; NOT_ENOUGH_REPLICAS_AFTER_APPEND when the write is replicated but
/// the ISR fell below `min.insync.replicas` meanwhile; NOT_LEADER_OR_FOLLOWER when leadership
/// moved (the write may or may not survive: the producer retries, and idempotence drops the
/// duplicate); REQUEST_TIMED_OUT at the deadline.
pub async fn wait_for_high_watermark(
    partition: &Partition,
    required: i64,
    leader_epoch: i32,
    deadline: tokio::time::Instant,
) -> ErrorCode {
    let mut hw = partition.watch_high_watermark();
    let check = |p: &Partition| -> Option<ErrorCode> {
        if !p.leads_at(leader_epoch) || p.is_deleted() {
            return Some(ErrorCode::NotLeaderOrFollower);
        }
        // (leadership is checked again after the HW: a replica that lost it meanwhile may have
        // truncated the write and copied other data up to that offset)
        if p.offsets().high_watermark >= required {
            if !p.leads_at(leader_epoch) {
                return Some(ErrorCode::NotLeaderOrFollower);
            }
            return Some(if p.under_min_isr() {
                ErrorCode::NotEnoughReplicasAfterAppend
            } else {
                ErrorCode::None
            });
        }
        None
    };
    if let Some(code) = check(partition) {
        return code;
    }
    let wait = async {
        loop {
            if hw.changed().await.is_err() {
                return ErrorCode::NotLeaderOrFollower;
            }
            if let Some(code) = check(partition) {
                return code;
            }
        }
    };
    tokio::time::timeout_at(deadline, wait)
        .await
        .unwrap_or(ErrorCode::RequestTimedOut)
}

/// Waits until everything written so far to a coordinator's partition is replicated (its high
/// watermark reached the log end it has now), while this broker leads it at `leader_epoch`, for
/// at most `timeout`; the error is Kafka's mapping for coordinator writes (NOT_COORDINATOR when
/// leadership moved, COORDINATOR_NOT_AVAILABLE otherwise). NONE at once on a single node.
pub async fn coordinator_write_replicated(
    partition: &Partition,
    leader_epoch: i32,
    timeout: std::time::Duration,
) -> ErrorCode {
    let required = partition.offsets().log_end_offset;
    let deadline = tokio::time::Instant::now() + timeout;
    match wait_for_high_watermark(partition, required, leader_epoch, deadline).await {
        ErrorCode::None => ErrorCode::None,
        ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}
