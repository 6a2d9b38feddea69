//! DescribeProducers: the producers a partition knows (id, epoch, last sequence, open
//! transaction), as the leader's producer state holds them.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::lookup_partition;
use crate::dispatch::RequestContext;

/// Handles DescribeProducers.
pub async fn handle(
    ctx: RequestContext,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|p| {
                    let base = PartitionResponse::default().with_partition_index(*p);
                    match lookup_partition(&ctx.state, t.name.0.as_str(), *p) {
                        Err(code) => base
                            .with_error_code(code.code())
                            .with_error_message(Some(super::sb(code.message()))),
                        Ok(part) => base.with_active_producers(
                            part.producers()
                                .into_iter()
                                .map(|e| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(e.producer_id))
                                        .with_producer_epoch(i32::from(e.epoch))
                                        .with_last_sequence(e.last_seq())
                                        .with_last_timestamp(e.last_timestamp)
                                        .with_coordinator_epoch(e.coordinator_epoch)
                                        .with_current_txn_start_offset(
                                            e.current_txn_first_offset.unwrap_or(-1),
                                        )
                                })
                                .collect(),
                        ),
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
