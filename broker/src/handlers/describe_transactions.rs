//! DescribeTransactions: state, producer, timeout and partitions of transactional ids.

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};

use super::{sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles DescribeTransactions.
pub async fn handle(
    ctx: RequestContext,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let base = TransactionState::default()
                .with_transactional_id(id.clone())
                .with_transaction_state(sb(""))
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            match ctx.state.txns.describe(id.0.as_str()) {
                Ok(Some(m)) => {
                    let mut topics: Vec<TopicData> = Vec::new();
                    for (t, p) in &m.partitions {
                        match topics.iter_mut().find(|x| x.topic.0.as_str() == t) {
                            Some(x) => x.partitions.push(*p),
                            None => topics.push(
                                TopicData::default()
                                    .with_topic(topic_name(t.clone()))
                                    .with_partitions(vec![*p]),
                            ),
                        }
                    }
                    base.with_transaction_state(sb(m.state.name()))
                        .with_transaction_timeout_ms(m.timeout_ms)
                        .with_transaction_start_time_ms(m.start_ms)
                        .with_producer_id(ProducerId(m.producer_id))
                        .with_producer_epoch(m.producer_epoch)
                        .with_topics(topics)
                }
                Ok(None) => base.with_error_code(ErrorCode::TransactionalIdNotFound.code()),
                Err(code) => base.with_error_code(code.code()),
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
