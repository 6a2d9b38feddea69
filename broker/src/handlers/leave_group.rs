//! LeaveGroup: members leave at once instead of waiting for their sessions to expire (v3+:
//! several members, static ones by `group.instance.id`).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles LeaveGroup.
pub async fn handle(ctx: RequestContext, req: LeaveGroupRequest) -> LeaveGroupResponse {
    let batched = ctx.version >= 3;
    let members: Vec<(String, Option<String>)> = if batched {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let result = if req.group_id.0.is_empty() {
        Err(ErrorCode::InvalidGroupId)
    } else {
        ctx.state.groups.leave(req.group_id.0.as_str(), &members)
    };
    match result {
        Err(code) => LeaveGroupResponse::default().with_error_code(code.code()),
        Ok(codes) if !batched => LeaveGroupResponse::default()
            .with_error_code(codes.first().copied().unwrap_or(ErrorCode::None).code()),
        Ok(codes) => {
            let members = req
                .members
                .into_iter()
                .zip(codes)
                .map(|(m, code)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(code.code())
                })
                .collect();
            LeaveGroupResponse::default().with_members(members)
        }
    }
}
