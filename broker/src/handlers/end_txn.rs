//! EndTxn: commits or aborts a producer's transaction. Answered once the decision is in
//! `__transaction_state`; the markers are written after.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use super::fenced_for;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles EndTxn.
pub async fn handle(ctx: RequestContext, req: EndTxnRequest) -> EndTxnResponse {
    let code = match ctx.state.txns.end_txn(
        req.transactional_id.0.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
    ) {
        Ok(()) => ErrorCode::None,
        Err(code) => fenced_for(code, ctx.version, 2),
    };
    EndTxnResponse::default().with_error_code(code.code())
}
