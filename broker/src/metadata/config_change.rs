//! Planning config changes (AlterConfigs, IncrementalAlterConfigs): validate the operations
//! against the current image and turn them into `Config` records.

use std::collections::{BTreeMap, HashSet};

use super::image::MetadataImage;
use super::records::{ConfigResource, MetadataRecord};
use crate::config::{
    extra_topic_config, group_config_def, kafka_broker_config, topic_config_def,
    validate_dynamic_broker_config, validate_group_config, validate_topic_config, BrokerConfig,
    ConfigType, BROKER_CONFIGS,
};
use crate::error::ErrorCode;

/// What to do to one config key (IncrementalAlterConfigs' operations).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConfigOp {
    /// Set the value.
    Set(String),
    /// Remove the override, back to the default.
    Delete,
    /// Add list items (lists only).
    Append(String),
    /// Remove list items (lists only).
    Subtract(String),
}

/// The changes to one resource.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConfigAlteration {
    /// The topic or broker.
    pub resource: ConfigResource,
    /// Key and operation, in request order.
    pub ops: Vec<(String, ConfigOp)>,
    /// AlterConfigs (the legacy API): the operations give the whole new set of overrides,
    /// and every override not named goes.
    pub replace: bool,
}

type OpError = (ErrorCode, String);

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

fn invalid(message: String) -> OpError {
    (ErrorCode::InvalidConfig, message)
}

/// The records that make `change` happen, or why it cannot. Refused topic configs get
/// `INVALID_CONFIG`; refused broker configs `INVALID_REQUEST`, as Kafka answers them.
pub(crate) fn plan(
    image: &MetadataImage,
    config: &BrokerConfig,
    change: &ConfigAlteration,
) -> Result<Vec<MetadataRecord>, OpError> {
    plan_checked(image, config, change).map_err(|(code, message)| match (&change.resource, code) {
        (ConfigResource::Broker(_), ErrorCode::InvalidConfig) => {
            (ErrorCode::InvalidRequest, message)
        }
        _ => (code, message),
    })
}

fn plan_checked(
    image: &MetadataImage,
    config: &BrokerConfig,
    change: &ConfigAlteration,
) -> Result<Vec<MetadataRecord>, OpError> {
    let current = match &change.resource {
        ConfigResource::Topic(name) => {
            &image
                .topics
                .get(name)
                .ok_or_else(|| {
                    (
                        ErrorCode::UnknownTopicOrPartition,
                        format!("The topic '{name}' does not exist."),
                    )
                })?
                .configs
        }
        ConfigResource::Broker(id) => {
            if let Some(id) = id {
                if !image.brokers.contains_key(id) && *id != config.node_id {
                    return Err((ErrorCode::InvalidRequest, format!("Unknown broker id {id}")));
                }
            }
            image.broker_configs.get(id).unwrap_or(&EMPTY)
        }
        ConfigResource::Group(group) => {
            if group.is_empty() {
                return Err((
                    ErrorCode::InvalidRequest,
                    "Group id must not be empty".into(),
                ));
            }
            image.group_configs.get(group).unwrap_or(&EMPTY)
        }
    };
    let mut seen = HashSet::new();
    for (name, _) in &change.ops {
        if !seen.insert(name.as_str()) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Error due to duplicate config keys: {name}"),
            ));
        }
    }
    let topic = matches!(change.resource, ConfigResource::Topic(_));
    let group = matches!(change.resource, ConfigResource::Group(_));
    let per_broker = matches!(change.resource, ConfigResource::Broker(Some(_)));
    let kind = |name: &str| -> Option<(ConfigType, &'static str)> {
        if group {
            group_config_def(name).map(|d| (d.kind, d.default))
        } else if topic {
            topic_config_def(name)
                .map(|d| (d.kind, d.default))
                .or_else(|| extra_topic_config(name).map(|d| (d.kind, "")))
        } else {
            BROKER_CONFIGS
                .iter()
                .find(|d| d.name == name)
                .map(|d| (d.kind, d.default))
                .or_else(|| kafka_broker_config(name).map(|d| (d.kind, "")))
        }
    };
    let mut next = if change.replace {
        BTreeMap::new()
    } else {
        current.clone()
    };
    for (name, op) in &change.ops {
        let value = match op {
            ConfigOp::Delete => {
                // Kafka deletes any name: an override that is not there is a no-op
                next.remove(name);
                continue;
            }
            ConfigOp::Set(v) => v.clone(),
            ConfigOp::Append(items) | ConfigOp::Subtract(items) => {
                let (k, default) = kind(name).unwrap_or((ConfigType::String, ""));
                if (topic || group) && kind(name).is_none() {
                    return Err(invalid(if group {
                        format!("Unknown group config name: {name}")
                    } else {
                        unknown(name)
                    }));
                }
                if k != ConfigType::List {
                    let verb = if matches!(op, ConfigOp::Append(_)) {
                        "append"
                    } else {
                        "subtract"
                    };
                    return Err(invalid(format!(
                        "Config value {verb} is not allowed for config key: {name}"
                    )));
                }
                let old = next.get(name).map_or(default, String::as_str);
                let mut list: Vec<String> = split_list(old);
                let given = split_list(items);
                if matches!(op, ConfigOp::Append(_)) {
                    for item in given {
                        if !list.contains(&item) {
                            list.push(item);
                        }
                    }
                } else {
                    list.retain(|item| !given.contains(item));
                }
                list.join(",")
            }
        };
        if group {
            validate_group_config(name, &value, config).map_err(invalid)?;
        } else if topic {
            validate_topic_config(name, &value).map_err(invalid)?;
        } else {
            validate_dynamic_broker_config(name, &value, per_broker).map_err(invalid)?;
        }
        next.insert(name.clone(), value);
    }
    if group {
        // Kafka's GroupConfig: each heartbeat interval below its session timeout
        for (kind, hb, session) in [
            (
                "consumer",
                "consumer.heartbeat.interval.ms",
                "consumer.session.timeout.ms",
            ),
            (
                "share",
                "share.heartbeat.interval.ms",
                "share.session.timeout.ms",
            ),
            (
                "streams",
                "streams.heartbeat.interval.ms",
                "streams.session.timeout.ms",
            ),
        ] {
            let value = |name: &str| -> i64 {
                next.get(name)
                    .cloned()
                    .or_else(|| group_config_def(name).map(|d| config.group_config_default(d)))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            if value(hb) >= value(session) && change.ops.iter().any(|(n, _)| n.starts_with(kind)) {
                return Err(invalid(format!("{hb} must be less than {session}")));
            }
        }
    }
    if let ConfigResource::Topic(_) = change.resource {
        let log = config
            .resolve_log_config(&next, &image.dynamic_configs(config.node_id))
            .map_err(invalid)?;
        if log.min_compaction_lag_ms > log.max_compaction_lag_ms {
            return Err(invalid(format!(
                "conflict topic config setting min.compaction.lag.ms ({}) > max.compaction.lag.ms ({})",
                log.min_compaction_lag_ms, log.max_compaction_lag_ms
            )));
        }
    }
    let mut records = Vec::new();
    for name in current.keys().filter(|k| !next.contains_key(*k)) {
        records.push(MetadataRecord::Config {
            resource: change.resource.clone(),
            name: name.clone(),
            value: None,
        });
    }
    for (name, value) in &next {
        if current.get(name) != Some(value) {
            records.push(MetadataRecord::Config {
                resource: change.resource.clone(),
                name: name.clone(),
                value: Some(value.clone()),
            });
        }
    }
    Ok(records)
}

fn unknown(name: &str) -> String {
    format!("Unknown topic config name: {name}")
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(String::from)
        .collect()
}
