//! AddOffsetsToTxn: adds the group's partition of `__consumer_offsets` to the transaction, so
//! that TxnOffsetCommit may write there and the markers reach it.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::fenced_for;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::OFFSETS_TOPIC;

/// Handles AddOffsetsToTxn.
pub async fn handle(ctx: RequestContext, req: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let groups = &ctx.state.groups;
    let code = match groups.ensure_offsets_topic().await {
        Err(code) => code,
        Ok(()) => match groups.partition_of(req.group_id.0.as_str()) {
            None => ErrorCode::CoordinatorNotAvailable,
            Some(p) => match ctx.state.txns.add_partitions(
                req.transactional_id.0.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                &[(OFFSETS_TOPIC.to_string(), p)],
            ) {
                Ok(()) => {
                    ctx.state
                        .txns
                        .replicated(req.transactional_id.0.as_str())
                        .await
                }
                Err(code) => fenced_for(code, ctx.version, 2),
            },
        },
    };
    AddOffsetsToTxnResponse::default().with_error_code(code.code())
}
