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
    // every partition named, in request order, and whether its topic and index exist
    let mut named: Vec<(String, i32, bool)> = Vec::new();
    for t in &req.v3_and_below_topics {
        let name = t.name.0.to_string();
        let known = image.topics.get(&name);
        for p in &t.partitions {
            let exists = known.is_some_and(|k| *p >= 0 && (*p as usize) < k.partitions.len());
            named.push((name.clone(), *p, exists));
        }
    }
    let code = if named.iter().all(|n| n.2) {
        let partitions: Vec<(String, i32)> =
            named.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        match ctx.state.txns.add_partitions(
            req.v3_and_below_transactional_id.0.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            &partitions,
        ) {
            // answered once the new state is replicated
            Ok(()) => {
                ctx.state
                    .txns
                    .replicated(req.v3_and_below_transactional_id.0.as_str())
                    .await
            }
            Err(code) => fenced_for(code, ctx.version, 2),
        }
    } else {
        ErrorCode::OperationNotAttempted
    };
    let results = named.into_iter().map(|(t, p, exists)| {
        let c = if exists {
            code
        } else {
            ErrorCode::UnknownTopicOrPartition
        };
        (t, p, c)
    });
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
