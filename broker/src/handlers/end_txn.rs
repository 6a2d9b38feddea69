//! EndTxn: commits or aborts a producer's transaction. The decision is durable once it is in
//! `__transaction_state`; the answer waits (a bounded time) for the markers too, so that the
//! producer's next transaction does not find this one still completing.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use super::fenced_for;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// How long an EndTxn answer waits for its markers.
const MARKER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Handles EndTxn.
pub async fn handle(ctx: RequestContext, req: EndTxnRequest) -> EndTxnResponse {
    let code = match ctx.state.txns.end_txn(
        req.transactional_id.0.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
    ) {
        Ok(completion) => {
            // the decision counts once it is replicated
            let replicated = ctx
                .state
                .txns
                .replicated(req.transactional_id.0.as_str())
                .await;
            if replicated != ErrorCode::None {
                return EndTxnResponse::default().with_error_code(replicated.code());
            }
            if let Some(done) = completion {
                // markers that cannot be written yet keep being retried in the background;
                // the decision stands either way
                let _ = tokio::time::timeout(MARKER_WAIT, done).await;
            }
            ErrorCode::None
        }
        Err(code) => fenced_for(code, ctx.version, 2),
    };
    EndTxnResponse::default().with_error_code(code.code())
}
