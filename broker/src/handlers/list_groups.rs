//! ListGroups: the groups this broker coordinates, filtered by state (v4+) and type (v5+).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles ListGroups.
pub async fn handle(ctx: RequestContext, req: ListGroupsRequest) -> ListGroupsResponse {
    let (groups, loading) = ctx.state.groups.list_groups();
    let states: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let types: Vec<String> = req
        .types_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let listed = groups
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.to_ascii_lowercase()))
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .map(|g| {
            let mut l = ListedGroup::default()
                .with_group_id(GroupId(sb(g.group_id)))
                .with_protocol_type(sb(g.protocol_type));
            if ctx.version >= 4 {
                l = l.with_group_state(sb(g.state));
            }
            if ctx.version >= 5 {
                l = l.with_group_type(sb(g.group_type));
            }
            l
        })
        .collect();
    let code = if loading {
        ErrorCode::CoordinatorLoadInProgress
    } else {
        ErrorCode::None
    };
    ListGroupsResponse::default()
        .with_error_code(code.code())
        .with_groups(listed)
}
