//! TxnOffsetCommit: offsets committed inside a transaction, visible to OffsetFetch only once
//! the transaction commits (and dropped if it aborts). The group's `__consumer_offsets`
//! partition must have been added to the transaction (AddOffsetsToTxn).

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::fenced_for;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::coordinator::OffsetCommit;
use crate::group::OFFSETS_TOPIC;

/// Handles TxnOffsetCommit.
pub async fn handle(ctx: RequestContext, req: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let group = req.group_id.0.as_str();
    let groups = &ctx.state.groups;
    let producer = (req.producer_id.0, req.producer_epoch);
    let commits: Vec<OffsetCommit> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| OffsetCommit {
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            })
        })
        .collect();
    // the offsets partition must be in the producer's open transaction (KIP-890): checked
    // first (for Kafka's error precedence), and again under the partition lock as the offsets
    // are written (the transaction may have ended in between)
    let txns = &ctx.state.txns;
    let verify = |p: i32| {
        txns.verify_partition(producer.0, producer.1, OFFSETS_TOPIC, p)
            .map_err(|code| match code {
                // retriable without a coordinator lookup (what Kafka answers for a
                // verification that cannot finish yet)
                ErrorCode::ConcurrentTransactions => ErrorCode::CoordinatorLoadInProgress,
                c => c,
            })
    };
    let partition = groups.check_coordinator(group).and_then(|()| {
        groups
            .partition_of(group)
            .ok_or(ErrorCode::CoordinatorNotAvailable)
    });
    let codes = partition.and_then(|p| {
        verify(p)?;
        groups.txn_commit_offsets(
            group,
            producer,
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id,
            commits.clone(),
            &|_| verify(p).map_err(|code| (code, "the transaction is not open".to_string())),
        )
    });
    let codes: Vec<ErrorCode> = match codes {
        Ok(mut c) => {
            // answered once the offsets are replicated
            if c.contains(&ErrorCode::None) {
                let replicated = groups.replicated(group).await;
                if replicated != ErrorCode::None {
                    for code in c.iter_mut().filter(|x| **x == ErrorCode::None) {
                        *code = replicated;
                    }
                }
            }
            c
        }
        Err(code) => vec![fenced_for(code, ctx.version, 3); commits.len()],
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for (c, code) in commits.iter().zip(codes) {
        let r = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(c.partition)
            .with_error_code(code.code());
        match topics.iter_mut().find(|t| t.name.0.as_str() == c.topic) {
            Some(t) => t.partitions.push(r),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(super::topic_name(c.topic.clone()))
                    .with_partitions(vec![r]),
            ),
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}
