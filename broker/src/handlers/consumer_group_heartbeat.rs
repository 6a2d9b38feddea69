//! ConsumerGroupHeartbeat (KIP-848): membership, subscription and assignment of the consumer
//! group protocol, in one request that members send every heartbeat interval.

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::assignor;
use crate::group::consumer::HeartbeatRequest;

/// Handles ConsumerGroupHeartbeat.
pub async fn handle(
    ctx: RequestContext,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let fail = |code: ErrorCode, msg: String| {
        ConsumerGroupHeartbeatResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(sb(msg)))
            .with_member_epoch(-1)
    };
    // Kafka's request validation
    if req.group_id.0.is_empty() {
        return fail(ErrorCode::InvalidRequest, "GroupId can't be empty.".into());
    }
    if req.member_epoch < -2 {
        return fail(ErrorCode::InvalidRequest, "MemberEpoch is invalid.".into());
    }
    if req.member_epoch == -2 && req.instance_id.is_none() {
        return fail(
            ErrorCode::InvalidRequest,
            "InstanceId can't be null when MemberEpoch is -2.".into(),
        );
    }
    if req.member_epoch == 0 && req.rebalance_timeout_ms == -1 {
        return fail(
            ErrorCode::InvalidRequest,
            "RebalanceTimeoutMs must be provided in first request.".into(),
        );
    }
    if req.member_epoch == 0 && req.topic_partitions.as_ref().is_some_and(|t| !t.is_empty()) {
        return fail(
            ErrorCode::InvalidRequest,
            "TopicPartitions must be empty when (re-)joining.".into(),
        );
    }
    let owned = req.topic_partitions.map(|tps| {
        let mut a = assignor::Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id).or_default().extend(tp.partitions);
        }
        a
    });
    let hb = HeartbeatRequest {
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.map(|s| s.to_string()),
        rack_id: req.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .map(|ts| ts.into_iter().map(|t| t.0.to_string()).collect()),
        subscribed_topic_regex: req.subscribed_topic_regex.map(|s| s.to_string()),
        server_assignor: req.server_assignor.map(|s| s.to_string()),
        owned,
        client_id: ctx.client_id_string(),
        client_host: ctx.client_host(),
        version: ctx.version,
        unique: uuid::Uuid::new_v4().to_string(),
    };
    match ctx
        .state
        .groups
        .consumer_heartbeat(req.group_id.0.as_str(), hb)
    {
        Err((code, msg)) => fail(code, msg),
        Ok(r) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(sb(r.member_id)))
            .with_member_epoch(r.member_epoch)
            .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
            .with_assignment(r.assignment.map(|a| {
                Assignment::default().with_topic_partitions(
                    a.into_iter()
                        .map(|(t, ps)| {
                            TopicPartitions::default()
                                .with_topic_id(t)
                                .with_partitions(ps.into_iter().collect())
                        })
                        .collect(),
                )
            })),
    }
}
