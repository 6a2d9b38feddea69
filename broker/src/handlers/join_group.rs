//! JoinGroup: a member joins (or rejoins) a group; the answer waits for the rebalance.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::classic::{JoinRequest, JoinResult, Reply};

/// Handles JoinGroup.
pub async fn handle(ctx: RequestContext, req: JoinGroupRequest) -> JoinGroupResponse {
    let version = ctx.version;
    let group = req.group_id.0.to_string();
    let member_id = req.member_id.to_string();
    let fail = |code: ErrorCode| respond(version, JoinResult::error(code, &member_id));
    if group.is_empty() {
        return fail(ErrorCode::InvalidGroupId);
    }
    let join = JoinRequest {
        member_id: member_id.clone(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: ctx.client_id_string(),
        client_host: ctx.client_host(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
        unique: uuid::Uuid::new_v4().to_string(),
    };
    // A parked join holds no share of queued.max.requests: other members' joins complete it.
    ctx.release_capacity();
    let rx = match ctx.state.groups.join(&group, join) {
        Ok(rx) => rx,
        Err(code) => return fail(code),
    };
    match rx.await {
        Ok(Reply::Join(r)) => respond(version, r),
        _ => fail(ErrorCode::NotCoordinator),
    }
}

fn respond(version: i16, r: JoinResult) -> JoinGroupResponse {
    let members = r
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(sb(id))
                .with_group_instance_id(instance.filter(|_| version >= 5).map(sb))
                .with_metadata(metadata)
        })
        .collect();
    // Before v7 the protocol name is a non-null string.
    let protocol = match r.protocol {
        Some(p) => Some(sb(p)),
        None if version < 7 => Some(sb("")),
        None => None,
    };
    JoinGroupResponse::default()
        .with_error_code(r.error.code())
        .with_generation_id(r.generation)
        .with_protocol_type(r.protocol_type.filter(|_| version >= 7).map(sb))
        .with_protocol_name(protocol)
        .with_leader(sb(r.leader))
        .with_skip_assignment(r.skip_assignment && version >= 9)
        .with_member_id(sb(r.member_id))
        .with_members(members)
}
