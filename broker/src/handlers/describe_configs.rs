//! DescribeConfigs for topics and brokers, with sources, synonyms and documentation.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::sb;
use crate::config::{
    is_dynamic_broker_config, ConfigSource, ResolvedConfig, BROKER_CONFIGS, TOPIC_CONFIGS,
};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;

fn entry(
    r: ResolvedConfig,
    kind: i8,
    doc: &str,
    synonyms: bool,
    documentation: bool,
    read_only: bool,
) -> DescribeConfigsResourceResult {
    let syns = if synonyms {
        r.synonyms
            .iter()
            .map(|(n, v, s)| {
                DescribeConfigsSynonym::default()
                    .with_name(sb(n.clone()))
                    .with_value(Some(sb(v.clone())))
                    .with_source(*s as i8)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(sb(r.name))
        .with_value(Some(sb(r.value)))
        .with_read_only(read_only)
        .with_config_source(r.source as i8)
        .with_synonyms(syns)
        .with_config_type(kind)
        .with_documentation(documentation.then(|| sb(doc)))
}

/// Handles DescribeConfigs.
pub async fn handle(ctx: RequestContext, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let state = &ctx.state;
    let image = state.image();
    let config = &state.config;
    let synonyms = ctx.version >= 1 && req.include_synonyms;
    let docs = ctx.version >= 3 && req.include_documentation;
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let name = res.resource_name.to_string();
            let wanted = |key: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == key))
            };
            let base = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            match res.resource_type {
                TOPIC => match image.topics.get(&name) {
                    Some(topic) => {
                        let configs = TOPIC_CONFIGS
                            .iter()
                            .filter(|d| wanted(d.name))
                            .map(|d| {
                                entry(
                                    config.resolve_topic_config(
                                        d,
                                        &topic.configs,
                                        &image.dynamic_configs(config.node_id),
                                    ),
                                    d.kind as i8,
                                    d.doc,
                                    synonyms,
                                    docs,
                                    false,
                                )
                            })
                            .collect();
                        base.with_configs(configs)
                    }
                    None => base
                        .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                        .with_error_message(Some(sb(format!("Topic {name} does not exist")))),
                },
                BROKER if name.is_empty() || name == config.node_id.to_string() => {
                    let dynamic = image.dynamic_configs(config.node_id);
                    let per_broker = !name.is_empty();
                    let configs = BROKER_CONFIGS
                        .iter()
                        .filter(|d| wanted(d.name))
                        .filter_map(|d| {
                            // the cluster-default resource ("") lists only the dynamic defaults
                            let value = if per_broker {
                                [dynamic.broker, dynamic.default, Some(&config.props)]
                                    .into_iter()
                                    .find_map(|p| p?.get(d.name).cloned())
                                    .or_else(|| {
                                        (!d.default.is_empty()).then(|| d.default.to_string())
                                    })
                            } else {
                                Some(dynamic.default?.get(d.name)?.clone())
                            };
                            if !per_broker && value.is_none() {
                                return None;
                            }
                            let mut list = config.broker_synonyms(d.name, &dynamic);
                            if !per_broker {
                                list.retain(|s| s.2 != ConfigSource::DynamicBrokerConfig);
                            }
                            let source = list.first().map_or(ConfigSource::DefaultConfig, |s| s.2);
                            let r = ResolvedConfig {
                                name: d.name.to_string(),
                                value: value.clone().unwrap_or_default(),
                                source,
                                synonyms: list,
                            };
                            let read_only = !is_dynamic_broker_config(d.name);
                            let mut e = entry(r, d.kind as i8, d.doc, synonyms, docs, read_only);
                            if value.is_none() {
                                // set nowhere and no default: Kafka lists it with a null value
                                e.value = None;
                            }
                            Some(e)
                        })
                        .collect();
                    base.with_configs(configs)
                }
                BROKER => base
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(sb(format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        config.node_id
                    )))),
                BROKER_LOGGER => base
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(sb(
                        "Broker loggers are not configurable in Tributary",
                    ))),
                other => base
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(sb(format!("Unsupported resource type {other}")))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}
