//! ListPartitionReassignments (KIP-455): the partitions being reassigned, with their replicas
//! and the ones being added and removed (`kafka-reassign-partitions --verify`), from this
//! broker's metadata image.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::topic_name;
use crate::dispatch::RequestContext;
use crate::metadata::{is_reassigning, TopicImage};

/// Handles ListPartitionReassignments.
pub async fn handle(
    ctx: RequestContext,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let image = ctx.state.image();
    let listed = |t: &TopicImage, indexes: Option<&[i32]>| -> Option<OngoingTopicReassignment> {
        let partitions: Vec<OngoingPartitionReassignment> = t
            .partitions
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                is_reassigning(p) && indexes.is_none_or(|ix| ix.contains(&(*i as i32)))
            })
            .map(|(i, p)| {
                let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect();
                OngoingPartitionReassignment::default()
                    .with_partition_index(i as i32)
                    .with_replicas(ids(&p.replicas))
                    .with_adding_replicas(ids(&p.adding))
                    .with_removing_replicas(ids(&p.removing))
            })
            .collect();
        (!partitions.is_empty()).then(|| {
            OngoingTopicReassignment::default()
                .with_name(topic_name(t.name.clone()))
                .with_partitions(partitions)
        })
    };
    let topics = match &req.topics {
        None => image
            .topics
            .values()
            .filter_map(|t| listed(t, None))
            .collect(),
        Some(asked) => asked
            .iter()
            .filter_map(|a| {
                let t = image.topics.get(a.name.0.as_str())?;
                listed(t, Some(&a.partition_indexes))
            })
            .collect(),
    };
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}
