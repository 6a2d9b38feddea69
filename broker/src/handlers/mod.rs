//! One module per Kafka API. Each exports `handle(ctx, request) -> response`.

pub mod acls;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_transactions;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_txn_markers;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

use crate::error::ErrorCode;
use crate::partition::Partition;
use crate::server::BrokerState;
use std::sync::Arc;

/// ACL operations allowed on the cluster with no authorizer configured, as the bit set Kafka
/// reports when asked (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
/// IDEMPOTENT_WRITE).
pub(crate) const CLUSTER_AUTHORIZED_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// ACL operations allowed on a topic with no authorizer (READ, WRITE, CREATE, DELETE, ALTER,
/// DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS).
pub(crate) const TOPIC_AUTHORIZED_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// ACL operations allowed on a group with no authorizer (READ, DELETE, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS), reported only for groups that exist, as Kafka reports them.
pub(crate) const GROUP_AUTHORIZED_OPERATIONS: i32 =
    (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

/// A `StrBytes` from any string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// The error code and message a response carries for `outcome`.
pub(crate) fn outcome_fields(outcome: Result<(), (ErrorCode, String)>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (ErrorCode::None.code(), None),
        Err((code, message)) => (code.code(), Some(sb(message))),
    }
}

/// A `TopicName` from any string.
pub fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(sb(s))
}

/// Bytes of file I/O a request may do on the async worker itself.
pub(crate) const INLINE_IO_BYTES: usize = 64 * 1024;

/// Runs the file I/O of one request, sized `bytes`.
///
/// Small work (at most [`INLINE_IO_BYTES`]: a produce of a few records, a fetch of a few
/// batches) runs right here: a positional read or write of a few kilobytes against the page
/// cache costs less than handing it to another thread, and that hand-off dominated the latency
/// of small requests. Larger work goes to the blocking pool with `spawn_blocking`, which keeps
/// the workers free and the allocator's per-thread caches few (moving workers between threads
/// with `block_in_place` left freed request buffers stranded in idle threads' heaps).
pub(crate) async fn blocking_io<T: Send + 'static>(
    bytes: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorCode> {
    if bytes <= INLINE_IO_BYTES {
        return Ok(f());
    }
    blocking(f).await
}

/// Runs blocking work (file I/O) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorCode> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ErrorCode::UnknownServerError
    })
}

/// The partitions a request names more than once; Kafka answers each of their entries with
/// INVALID_REQUEST wherever it appears.
pub(crate) fn repeated_partitions<'a>(
    named: impl IntoIterator<Item = (&'a str, i32)>,
) -> std::collections::HashSet<(String, i32)> {
    let mut counts = std::collections::HashMap::new();
    for (topic, partition) in named {
        *counts.entry((topic.to_string(), partition)).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}

/// Finds a hosted partition, or the error a client gets for it.
pub(crate) fn lookup_partition(
    state: &BrokerState,
    topic: &str,
    partition: i32,
) -> Result<Arc<Partition>, ErrorCode> {
    match state.replicas.get(topic, partition) {
        Some(p) if p.is_leader() => Ok(p),
        // a follower here: the client's metadata is stale
        Some(_) => Err(ErrorCode::NotLeaderOrFollower),
        None => {
            let known =
                state.image().topics.get(topic).is_some_and(|t| {
                    usize::try_from(partition).is_ok_and(|i| i < t.partitions.len())
                });
            Err(if known {
                ErrorCode::NotLeaderOrFollower
            } else {
                ErrorCode::UnknownTopicOrPartition
            })
        }
    }
}

/// The partition hosted here, leader or follower: consumers that fetch from followers
/// (KIP-392) reach it this way; `lookup_partition` answers for leaders only.
pub(crate) fn lookup_replica(
    state: &BrokerState,
    topic: &str,
    partition: i32,
) -> Result<Arc<Partition>, ErrorCode> {
    match state.replicas.get(topic, partition) {
        Some(p) => Ok(p),
        None => lookup_partition(state, topic, partition),
    }
}

/// PRODUCER_FENCED as a client at `version` knows it: clients before `since` (the version
/// that introduced it, KIP-588) get INVALID_PRODUCER_EPOCH instead.
pub(crate) fn fenced_for(code: ErrorCode, version: i16, since: i16) -> ErrorCode {
    if code == ErrorCode::ProducerFenced && version < since {
        ErrorCode::InvalidProducerEpoch
    } else {
        code
    }
}

/// Checks a client's `current_leader_epoch` against ours (KIP-320); -1 skips the check.
pub(crate) fn check_leader_epoch(requested: i32, ours: i32) -> Result<(), ErrorCode> {
    match requested {
        -1 => Ok(()),
        e if e > ours => Err(ErrorCode::UnknownLeaderEpoch),
        e if e < ours => Err(ErrorCode::FencedLeaderEpoch),
        _ => Ok(()),
    }
}
