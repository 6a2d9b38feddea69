//! ListTransactions: the transactional ids this broker coordinates, filtered by state, by
//! producer id, (v1) by how long the transaction has been open and (v2, KIP-1152) by a regular
//! expression the whole transactional id must match.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::replica_manager::now_ms;
use crate::txn::TxnState;

/// Handles ListTransactions.
pub async fn handle(ctx: RequestContext, req: ListTransactionsRequest) -> ListTransactionsResponse {
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for f in &req.state_filters {
        match TxnState::from_name(f.as_str()) {
            Some(s) => states.push(s),
            None => unknown.push(f.clone()),
        }
    }
    // v2: a pattern the whole id must match (Kafka compiles it with RE2/J); an empty one matches all
    let pattern = match req
        .transactional_id_pattern
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(re) => Some(re),
            Err(e) => {
                tracing::info!(pattern = %p.as_str(), error = %e, "ListTransactions pattern refused");
                return ListTransactionsResponse::default()
                    .with_error_code(ErrorCode::InvalidRegularExpression.code());
            }
        },
    };
    let (txns, loading) = ctx.state.txns.list();
    let now = now_ms();
    let listed = txns
        .into_iter()
        .filter(|m| req.state_filters.is_empty() || states.contains(&m.state))
        .filter(|m| {
            req.producer_id_filters.is_empty()
                || req.producer_id_filters.iter().any(|p| p.0 == m.producer_id)
        })
        .filter(|m| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&m.transactional_id))
        })
        .filter(|m| {
            // v1: only transactions that started longer ago than the filter, by Kafka's rule
            // (any state: its start time is that of the last transaction, -1 before the first)
            req.duration_filter < 0 || now.saturating_sub(m.start_ms) > req.duration_filter
        })
        .map(|m| {
            TransactionState::default()
                .with_transactional_id(kafka_protocol::messages::TransactionalId(sb(m
                    .transactional_id
                    .clone())))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(sb(m.state.name()))
        })
        .collect();
    let code = if loading {
        ErrorCode::CoordinatorLoadInProgress
    } else {
        ErrorCode::None
    };
    ListTransactionsResponse::default()
        .with_error_code(code.code())
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
