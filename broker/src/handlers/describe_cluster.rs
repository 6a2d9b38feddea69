//! DescribeCluster: cluster id, controller and brokers (used by admin clients).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::sb;
use crate::dispatch::RequestContext;

/// Kafka's MISMATCHED_ENDPOINT_TYPE: controller endpoints asked of a broker listener.
const MISMATCHED_ENDPOINT_TYPE: i16 = 114;

/// Handles DescribeCluster.
pub async fn handle(ctx: RequestContext, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let image = ctx.state.image();
    if ctx.version >= 1 && req.endpoint_type != 1 {
        return DescribeClusterResponse::default()
            .with_error_code(MISMATCHED_ENDPOINT_TYPE)
            .with_error_message(Some(sb("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")))
            .with_endpoint_type(req.endpoint_type);
    }
    // live brokers only, as KRaft brokers answer (a fenced broker cannot be reached)
    let brokers = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(sb(b.host.clone()))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.clone().map(sb))
        })
        .collect();
    let ops = if req.include_cluster_authorized_operations {
        super::CLUSTER_AUTHORIZED_OPERATIONS
    } else {
        i32::MIN
    };
    DescribeClusterResponse::default()
        .with_cluster_authorized_operations(ops)
        .with_cluster_id(sb(image.cluster_id.clone()))
        .with_controller_id(BrokerId(super::metadata::controller_id(
            &image,
            ctx.state.config.node_id,
        )))
        .with_endpoint_type(1)
        .with_brokers(brokers)
}
