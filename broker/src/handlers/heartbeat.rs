//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles Heartbeat.
pub async fn handle(ctx: RequestContext, req: HeartbeatRequest) -> HeartbeatResponse {
    let code = if req.group_id.0.is_empty() {
        ErrorCode::InvalidGroupId
    } else {
        ctx.state.groups.heartbeat(
            req.group_id.0.as_str(),
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id,
        )
    };
    HeartbeatResponse::default().with_error_code(code.code())
}
