//! DeleteTopics, by name (v1-v5) or by name or id (v6).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use uuid::Uuid;

use super::{sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Handles DeleteTopics.
pub async fn handle(ctx: RequestContext, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let asked: Vec<(Option<String>, Uuid)> = if ctx.version >= 6 {
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.0.to_string()), Uuid::nil()))
            .collect()
    };
    let results = if ctx.state.config.delete_topic_enable {
        ctx.state.controller.delete_topics(asked.clone()).await
    } else {
        // delete.topic.enable=false: Kafka refuses every topic
        let refused = (
            ErrorCode::TopicDeletionDisabled,
            "Topic deletion is disabled.".to_string(),
        );
        vec![Err(refused); asked.len()]
    };
    let deleted: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(name, _)| name.clone()))
        .collect();
    ctx.state.groups.on_topics_deleted(&deleted);
    let responses = asked
        .into_iter()
        .zip(results)
        .map(|((name, id), r)| match r {
            Ok((name, id)) => {
                tracing::info!(topic = %name, "deleted topic");
                DeletableTopicResult::default()
                    .with_name(Some(topic_name(name)))
                    .with_topic_id(id)
            }
            Err((code, msg)) => DeletableTopicResult::default()
                .with_name(name.map(topic_name))
                .with_topic_id(id)
                .with_error_code(code.code())
                .with_error_message(Some(sb(msg))),
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
