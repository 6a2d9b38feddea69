//! AddPartitionsToTxn (client versions 0-3): adds partitions to a producer's transaction.
//! Partitions of unknown topics fail with UNKNOWN_TOPIC_OR_PARTITION and the others with
//! OPERATION_NOT_ATTEMPTED, as in Kafka.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use super::{fenced_for, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles AddPartitionsToTxn.
pub async fn handle(
    ctx: RequestContext,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let image = ctx.state.image();
    let mut partitions = Vec::new();
    let mut unknown = Vec::new();
    for t in &req.v3_and_below_topics {
        let name = t.name.0.to_string();
        let known = image.topics.get(&name);
        for p in &t.partitions {
            if known.is_some_and(|k| *p >= 0 && (*p as usize) < k.partitions.len()) {
                partitions.push((name.clone(), *p));
            } else {
                unknown.push((name.clone(), *p));
            }
        }
    }
    let answer = |code: ErrorCode| -> Vec<(String, i32, ErrorCode)> {
        let mut out: Vec<(String, i32, ErrorCode)> = Vec::new();
        for (t, p) in &unknown {
            out.push((t.clone(), *p, ErrorCode::UnknownTopicOrPartition));
        }
        for (t, p) in &partitions {
            out.push((t.clone(), *p, code));
        }
        out
    };
    let results = if !unknown.is_empty() {
        answer(ErrorCode::OperationNotAttempted)
    } else {
        let code = match ctx.state.txns.add_partitions(
            req.v3_and_below_transactional_id.0.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            &partitions,
        ) {
            Ok(()) => ErrorCode::None,
            Err(code) => fenced_for(code, ctx.version, 2),
        };
        answer(code)
    };
    let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (t, p, code) in results {
        let r = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(p)
            .with_partition_error_code(code.code());
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.results_by_partition.push(r),
            None => topics.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(topic_name(t))
                    .with_results_by_partition(vec![r]),
            ),
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics)
}
