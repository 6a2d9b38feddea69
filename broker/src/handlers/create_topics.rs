//! CreateTopics (with `validate_only`).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::sb;
use crate::config::TOPIC_CONFIGS;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::TopicSpec;

/// Handles CreateTopics.
pub async fn handle(ctx: RequestContext, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.to_string()).or_default() += 1;
    }
    let mut specs = Vec::new();
    let mut results: Vec<Option<CreatableTopicResult>> = Vec::new();
    for t in &req.topics {
        let name = t.name.0.to_string();
        if counts[&name] > 1 {
            results.push(Some(
                CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(sb(format!(
                        "Create topics request from client contains a duplicate topic {name}"
                    )))),
            ));
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.to_string(), v.to_string());
                }
                None => null_config = Some(c.name.to_string()),
            }
        }
        if let Some(key) = null_config {
            results.push(Some(
                CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(ErrorCode::InvalidConfig.code())
                    .with_error_message(Some(sb(format!(
                        "Null value not supported for topic configs: {key}"
                    )))),
            ));
            continue;
        }
        specs.push(TopicSpec {
            name,
            partitions: t.num_partitions,
            replication_factor: t.replication_factor,
            assignments: t
                .assignments
                .iter()
                .map(|a| {
                    (
                        a.partition_index,
                        a.broker_ids.iter().map(|b| b.0).collect(),
                    )
                })
                .collect(),
            configs,
        });
        results.push(None);
    }
    let mut created = ctx
        .state
        .controller
        .create_topics(specs, req.validate_only)
        .await
        .into_iter();
    let config = &ctx.state.config;
    let image = ctx.state.image();
    let dynamic = image.dynamic_configs(config.node_id);
    let topics = results
        .into_iter()
        .zip(req.topics)
        .map(|(done, t)| {
            if let Some(r) = done {
                return r;
            }
            match created.next() {
                Some(Ok(topic)) => {
                    let configs = TOPIC_CONFIGS
                        .iter()
                        .map(|def| {
                            let r = config.resolve_topic_config(def, &topic.configs, &dynamic);
                            CreatableTopicConfigs::default()
                                .with_name(sb(def.name))
                                .with_value(Some(sb(r.value)))
                                .with_config_source(r.source as i8)
                        })
                        .collect();
                    if req.validate_only {
                        tracing::info!(topic = %topic.name, "validated topic creation (validate_only)");
                    } else {
                        tracing::info!(topic = %topic.name, partitions = topic.partitions.len(), "created topic");
                    }
                    CreatableTopicResult::default()
                        .with_name(t.name)
                        .with_topic_id(topic.id)
                        .with_num_partitions(topic.partitions.len() as i32)
                        .with_replication_factor(topic.partitions.first().map_or(1, |p| p.replicas.len() as i16))
                        .with_configs(Some(configs))
                }
                Some(Err((code, msg))) => {
                    tracing::info!(topic = %t.name.0.as_str(), error = %msg, "create topic refused");
                    CreatableTopicResult::default().with_name(t.name).with_error_code(code.code()).with_error_message(Some(sb(msg)))
                }
                None => CreatableTopicResult::default().with_name(t.name).with_error_code(ErrorCode::UnknownServerError.code()),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}
