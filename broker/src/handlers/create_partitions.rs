//! CreatePartitions: raise a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::MAX_PARTITIONS_PER_REQUEST;

/// Handles CreatePartitions.
pub async fn handle(ctx: RequestContext, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let mut results = Vec::new();
    let mut counts = std::collections::HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.to_string()).or_insert(0) += 1;
    }
    // Kafka refuses the whole request when the existing topics named would grow by more than
    // MAX_PARTITIONS_PER_REQUEST partitions in all
    let image = ctx.state.image();
    let adding: i64 = req
        .topics
        .iter()
        .filter_map(|t| {
            let current = image.topics.get(t.name.0.as_str())?.partitions.len() as i64;
            Some((i64::from(t.count) - current).max(0))
        })
        .sum();
    let too_many = adding > MAX_PARTITIONS_PER_REQUEST;
    drop(image);
    for t in req.topics {
        let name = t.name.0.to_string();
        // Kafka refuses every occurrence of a topic named twice.
        let outcome = if too_many {
            Err((
                ErrorCode::PolicyViolation,
                "Excessively large number of additional partitions per request.".to_string(),
            ))
        } else if counts[&name] > 1 {
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
