//! SyncGroup: the leader hands in the assignment; every member gets its share.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::classic::{Reply, SyncRequest};

/// Handles SyncGroup.
pub async fn handle(ctx: RequestContext, req: SyncGroupRequest) -> SyncGroupResponse {
    let version = ctx.version;
    let fail = |code: ErrorCode| SyncGroupResponse::default().with_error_code(code.code());
    let group = req.group_id.0.to_string();
    if group.is_empty() {
        return fail(ErrorCode::InvalidGroupId);
    }
    let sync = SyncRequest {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        generation: req.generation_id,
        protocol_type: req.protocol_type.map(|s| s.to_string()),
        protocol: req.protocol_name.map(|s| s.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    ctx.release_capacity();
    let rx = match ctx.state.groups.sync(&group, sync) {
        Ok(rx) => rx,
        Err(code) => return fail(code),
    };
    match rx.await {
        Ok(Reply::Sync(r)) => {
            let mut resp = SyncGroupResponse::default()
                .with_error_code(r.error.code())
                .with_assignment(r.assignment);
            if version >= 5 {
                resp = resp
                    .with_protocol_type(r.protocol_type.map(sb))
                    .with_protocol_name(r.protocol.map(sb));
            }
            resp
        }
        _ => fail(ErrorCode::NotCoordinator),
    }
}
