//! FindCoordinator: which broker coordinates a group or a transactional id (creating
//! `__consumer_offsets` or `__transaction_state` on first use, as Kafka does). v4+ looks up
//! several keys at once.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

/// Handles FindCoordinator.
pub async fn handle(ctx: RequestContext, req: FindCoordinatorRequest) -> FindCoordinatorResponse {
    if ctx.version >= 4 {
        let mut coordinators = Vec::with_capacity(req.coordinator_keys.len());
        for key in req.coordinator_keys {
            coordinators.push(find(&ctx, req.key_type, key).await);
        }
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = find(&ctx, req.key_type, req.key).await;
    let mut resp = FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port);
    if ctx.version >= 1 {
        resp = resp.with_error_message(c.error_message);
    }
    resp
}

async fn find(ctx: &RequestContext, key_type: i8, key: StrBytes) -> Coordinator {
    let fail = |code: ErrorCode, key: StrBytes, msg: &str| {
        Coordinator::default()
            .with_key(key)
            .with_node_id(BrokerId(-1))
            .with_host(sb(""))
            .with_port(-1)
            .with_error_code(code.code())
            .with_error_message(Some(sb(msg)))
    };
    let hosted = match key_type {
        GROUP_KEY => {
            let groups = &ctx.state.groups;
            if let Err(code) = groups.ensure_offsets_topic().await {
                return fail(code, key, code.message());
            }
            // The coordinator is the leader of the group's partition; with one broker, this one.
            groups
                .partition_of(key.as_str())
                .and_then(|p| ctx.state.replicas.get(crate::group::OFFSETS_TOPIC, p))
        }
        TRANSACTION_KEY => {
            let txns = &ctx.state.txns;
            if let Err(code) = txns.ensure_topic().await {
                return fail(code, key, code.message());
            }
            txns.partition_of(key.as_str())
                .and_then(|p| ctx.state.replicas.get(crate::txn::TRANSACTION_TOPIC, p))
        }
        other => {
            return fail(
                ErrorCode::InvalidRequest,
                key,
                &format!("Unknown coordinator key type {other}."),
            )
        }
    };
    let image = ctx.state.image();
    match (hosted, image.brokers.get(&ctx.state.config.node_id)) {
        (Some(_), Some(me)) => Coordinator::default()
            .with_key(key)
            .with_node_id(BrokerId(me.id))
            .with_host(sb(me.host.clone()))
            .with_port(i32::from(me.port))
            .with_error_code(0)
            .with_error_message(None),
        _ => fail(
            ErrorCode::CoordinatorNotAvailable,
            key,
            ErrorCode::CoordinatorNotAvailable.message(),
        ),
    }
}
