//! ConsumerGroupDescribe (KIP-848): epochs, assignor and members with their current and target
//! assignments.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};
use uuid::Uuid;

use super::{sb, GROUP_AUTHORIZED_OPERATIONS};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::assignor;

fn assignment(a: &assignor::Assignment, name_of: &dyn Fn(&Uuid) -> Option<String>) -> Assignment {
    Assignment::default().with_topic_partitions(
        a.iter()
            .map(|(t, ps)| {
                TopicPartitions::default()
                    .with_topic_id(*t)
                    .with_topic_name(TopicName(sb(name_of(t).unwrap_or_default())))
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}

/// Handles ConsumerGroupDescribe.
pub async fn handle(
    ctx: RequestContext,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let version = ctx.version;
    let groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            let ops = if req.include_authorized_operations {
                GROUP_AUTHORIZED_OPERATIONS
            } else {
                i32::MIN
            };
            let base = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(ops);
            let described = ctx
                .state
                .groups
                .consumer_describe(id.0.as_str(), |g, name_of| {
                    let members = g
                        .members()
                        .map(|m| {
                            let mut member = Member::default()
                                .with_member_id(sb(m.id.clone()))
                                .with_instance_id(m.instance_id.clone().map(sb))
                                .with_rack_id(m.rack_id.clone().map(sb))
                                .with_member_epoch(m.epoch)
                                .with_client_id(sb(m.client_id.clone()))
                                .with_client_host(sb(m.client_host.clone()))
                                .with_subscribed_topic_names(
                                    m.subscribed_names
                                        .iter()
                                        .map(|t| TopicName(sb(t.clone())))
                                        .collect(),
                                )
                                .with_subscribed_topic_regex(m.subscribed_regex.clone().map(sb))
                                .with_assignment(assignment(&m.assigned, name_of))
                                .with_target_assignment(assignment(&g.target_of(&m.id), name_of));
                            if version >= 1 {
                                member = member.with_member_type(1);
                            }
                            member
                        })
                        .collect();
                    base.clone()
                        .with_group_state(sb(g.state().name()))
                        .with_group_epoch(g.group_epoch())
                        .with_assignment_epoch(g.assignment_epoch())
                        .with_assignor_name(sb(g.assignor().to_string()))
                        .with_members(members)
                });
            match described {
                Ok(Some(d)) => d,
                // no operations for a group that does not exist, as Kafka answers
                Ok(None) => base
                    .with_authorized_operations(i32::MIN)
                    .with_error_code(ErrorCode::GroupIdNotFound.code())
                    .with_error_message(Some(sb(match ctx.state.groups.describe(id.0.as_str()) {
                        Ok(Some(_)) => format!("Group {} is not a consumer group.", id.0),
                        _ => format!("Group {} not found.", id.0),
                    }))),
                Err(code) => base
                    .with_authorized_operations(i32::MIN)
                    .with_error_code(code.code())
                    .with_error_message(Some(sb(code.message()))),
            }
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
