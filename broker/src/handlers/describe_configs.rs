//! DescribeConfigs for topics and brokers, with sources, synonyms and documentation.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::sb;
use crate::config::{
    is_dynamic_broker_config, kafka_broker_config, ConfigSource, ConfigType, Dynamic,
    ResolvedConfig, Update, BROKER_CONFIGS, EXTRA_TOPIC_CONFIGS, GROUP_CONFIGS, TOPIC_CONFIGS,
};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const GROUP: i8 = 32;
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

/// Broker configs set at runtime that Tributary does not act on (names Kafka lets change at
/// runtime, and names Kafka does not know, which it stores too): described as stored, at the
/// dynamic levels only. Secrets and unknown names are sensitive and shown without a value, as
/// Kafka shows them.
fn stored_only(
    dynamic: &Dynamic<'_>,
    per_broker: bool,
    wanted: &dyn Fn(&str) -> bool,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let levels = [
        (
            dynamic.broker.filter(|_| per_broker),
            ConfigSource::DynamicBrokerConfig,
        ),
        (dynamic.default, ConfigSource::DynamicDefaultBrokerConfig),
    ];
    let mut names: Vec<&String> = levels
        .iter()
        .filter_map(|(map, _)| *map)
        .flat_map(|m| m.keys())
        .filter(|n| !BROKER_CONFIGS.iter().any(|d| d.name == n.as_str()) && wanted(n))
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let set: Vec<(String, String, ConfigSource)> = levels
                .iter()
                .filter_map(|(map, source)| {
                    Some((name.clone(), (*map)?.get(name)?.clone(), *source))
                })
                .collect();
            let kind = kafka_broker_config(name).map(|d| d.kind);
            let sensitive = matches!(kind, None | Some(ConfigType::Password));
            let (value, source) = set
                .first()
                .map(|(_, v, s)| (v.clone(), *s))
                .unwrap_or((String::new(), ConfigSource::DefaultConfig));
            let r = ResolvedConfig {
                name: name.clone(),
                value,
                source,
                synonyms: set,
            };
            let doc =
                "Accepted and stored for compatibility with Kafka; Tributary does not act on it.";
            // Kafka describes a name it does not know as read-only (and sensitive)
            let read_only = kind.is_none();
            let mut e = entry(
                r,
                kind.map_or(0, |k| k as i8),
                doc,
                synonyms,
                docs,
                read_only,
            )
            .with_is_sensitive(sensitive);
            if sensitive {
                e.value = None;
                for s in &mut e.synonyms {
                    s.value = None;
                }
            }
            e
        })
        .collect()
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
                            .collect::<Vec<_>>();
                        // the accepted extras (deprecated 3.x names, internal.segment.bytes)
                        // where the topic sets them, as Kafka lists them
                        let extras = EXTRA_TOPIC_CONFIGS.iter().filter_map(|d| {
                            let value = topic.configs.get(d.name).filter(|_| wanted(d.name))?;
                            let r = ResolvedConfig {
                                name: d.name.to_string(),
                                value: value.clone(),
                                source: ConfigSource::TopicConfig,
                                synonyms: vec![(
                                    d.name.to_string(),
                                    value.clone(),
                                    ConfigSource::TopicConfig,
                                )],
                            };
                            let doc = if d.deprecated {
                                format!("Deprecated (removed in Kafka 4.0): {}.", d.effect)
                            } else {
                                format!("Internal: {}.", d.effect)
                            };
                            Some(entry(r, d.kind as i8, &doc, synonyms, docs, false))
                        });
                        base.with_configs(configs.into_iter().chain(extras).collect())
                    }
                    None => base
                        .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                        .with_error_message(Some(sb(format!(
                            "The topic '{name}' does not exist."
                        )))),
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
                                // the cluster-default resource shows only its own level
                                list.retain(|s| s.2 == ConfigSource::DynamicDefaultBrokerConfig);
                            }
                            let source = list.first().map_or(ConfigSource::DefaultConfig, |s| s.2);
                            let r = ResolvedConfig {
                                name: d.name.to_string(),
                                value: value.clone().unwrap_or_default(),
                                source,
                                synonyms: list,
                            };
                            // as Kafka reports it: whether Kafka lets it change at runtime
                            // (Tributary may store a change without acting on it)
                            let read_only = match kafka_broker_config(d.name) {
                                Some(k) => k.update == Update::ReadOnly,
                                None => !is_dynamic_broker_config(d.name),
                            };
                            let mut e = entry(r, d.kind as i8, d.doc, synonyms, docs, read_only);
                            if value.is_none() {
                                // set nowhere and no default: Kafka lists it with a null value
                                e.value = None;
                            }
                            Some(e)
                        })
                        .collect::<Vec<_>>();
                    let stored = stored_only(&dynamic, per_broker, &wanted, synonyms, docs);
                    base.with_configs(configs.into_iter().chain(stored).collect())
                }
                BROKER => base
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(sb(format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        config.node_id
                    )))),
                // any group id, existing or not, as Kafka describes them
                GROUP => {
                    let overrides = image.group_configs.get(&name);
                    let configs = GROUP_CONFIGS
                        .iter()
                        .filter(|d| wanted(d.name))
                        .map(|d| {
                            let set = overrides.and_then(|o| o.get(d.name));
                            let broker_source = if config.props.contains_key(d.synonym) {
                                ConfigSource::StaticBrokerConfig
                            } else {
                                ConfigSource::DefaultConfig
                            };
                            let broker_value = config.group_config_default(d);
                            let mut list = Vec::new();
                            if let Some(v) = set {
                                list.push((
                                    d.name.to_string(),
                                    v.clone(),
                                    ConfigSource::GroupConfig,
                                ));
                            }
                            list.push((d.synonym.to_string(), broker_value.clone(), broker_source));
                            let r = ResolvedConfig {
                                name: d.name.to_string(),
                                value: set.cloned().unwrap_or(broker_value),
                                source: list[0].2,
                                synonyms: list,
                            };
                            let doc = format!(
                                "The group's {}; the broker's {} by default.",
                                d.name, d.synonym
                            );
                            entry(r, d.kind as i8, &doc, synonyms, docs, false)
                        })
                        .collect();
                    base.with_configs(configs)
                }
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
