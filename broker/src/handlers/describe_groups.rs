//! DescribeGroups: state, protocol and members of classic groups.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{sb, GROUP_AUTHORIZED_OPERATIONS};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles DescribeGroups.
pub async fn handle(ctx: RequestContext, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let version = ctx.version;
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let mut d = DescribedGroup::default().with_group_id(id.clone());
            if version >= 3 {
                d = d.with_authorized_operations(if req.include_authorized_operations {
                    GROUP_AUTHORIZED_OPERATIONS
                } else {
                    i32::MIN
                });
            }
            let result = ctx.state.groups.describe(id.0.as_str());
            match result {
                // operations only for a group described without an error, as Kafka answers
                Err(code) => d
                    .with_error_code(code.code())
                    .with_authorized_operations(i32::MIN),
                Ok(None) if version >= 6 => d
                    .with_authorized_operations(i32::MIN)
                    .with_error_code(ErrorCode::GroupIdNotFound.code())
                    .with_error_message(Some(sb(format!("Group {} not found.", id.0))))
                    .with_group_state(sb("Dead")),
                Ok(None) => d.with_group_state(sb("Dead")),
                Ok(Some(g)) => d
                    .with_group_state(sb(g.state))
                    .with_protocol_type(sb(g.protocol_type))
                    .with_protocol_data(sb(g.protocol))
                    .with_members(
                        g.members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(sb(m.member_id))
                                    .with_group_instance_id(
                                        m.instance_id.filter(|_| version >= 4).map(sb),
                                    )
                                    .with_client_id(sb(m.client_id))
                                    .with_client_host(sb(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
