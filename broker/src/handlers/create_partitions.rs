//! CreatePartitions: raise a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles CreatePartitions.
pub async fn handle(ctx: RequestContext, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let mut results = Vec::new();
    let mut counts = std::collections::HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.to_string()).or_insert(0) += 1;
    }
    for t in req.topics {
        let name = t.name.0.to_string();
        // Kafka refuses every occurrence of a topic named twice.
        let outcome = if counts[&name] > 1 {
            Err((
                ErrorCode::InvalidRequest,
                format!("Duplicate topic {name} in request"),
            ))
        } else {
            let assignments = t.assignments.map(|a| {
                a.into_iter()
                    .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                    .collect()
            });
            ctx.state
                .controller
                .create_partitions(name.clone(), t.count, assignments, req.validate_only)
                .await
        };
        let r = CreatePartitionsTopicResult::default().with_name(t.name);
        results.push(match outcome {
            Ok(()) => {
                if req.validate_only {
                    tracing::info!(topic = %name, count = t.count, "validated partition increase (validate_only)");
                } else {
                    tracing::info!(topic = %name, count = t.count, "partitions added");
                }
                r
            }
            Err((code, msg)) => r
                .with_error_code(code.code())
                .with_error_message(Some(sb(msg))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
