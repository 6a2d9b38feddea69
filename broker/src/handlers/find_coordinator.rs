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
    let (topic, partition) = match key_type {
        GROUP_KEY => {
            let groups = &ctx.state.groups;
            if let Err(code) = groups.ensure_offsets_topic().await {
                return fail(code, key, code.message());
            }
            (
                crate::group::OFFSETS_TOPIC,
                groups.partition_of(key.as_str()),
            )
        }
        TRANSACTION_KEY => {
            let txns = &ctx.state.txns;
            if let Err(code) = txns.ensure_topic().await {
                return fail(code, key, code.message());
            }
            (
                crate::txn::TRANSACTION_TOPIC,
                txns.partition_of(key.as_str()),
            )
        }
        other => {
            return fail(
                ErrorCode::InvalidRequest,
                key,
                &format!("Unknown coordinator key type {other}."),
            )
        }
    };
    // The coordinator is the leader of the key's partition (with one broker, this one), reached
    // on the listener the request came in on.
    let image = ctx.state.image();
    let leader = partition
        .and_then(|p| {
            image
                .topics
                .get(topic)?
                .partitions
                .get(usize::try_from(p).ok()?)
                .map(|ps| ps.leader)
        })
        .and_then(|l| image.brokers.get(&l))
        .filter(|b| !b.fenced);
    match leader {
        Some(b) => Coordinator::default()
            .with_key(key)
            .with_node_id(BrokerId(b.id))
            .with_host(sb(b.host.clone()))
            .with_port(i32::from(b.port))
            .with_error_code(0)
            .with_error_message(None),
        None => fail(
            ErrorCode::CoordinatorNotAvailable,
            key,
            ErrorCode::CoordinatorNotAvailable.message(),
        ),
    }
}
