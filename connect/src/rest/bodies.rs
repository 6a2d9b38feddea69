//! The JSON bodies of the REST API, field for field as Kafka Connect writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::connector::{ConfigKey, ConnectorPlugin};
use crate::standalone::ConnectorInfo;
use crate::worker::status::{State, Status};
use crate::worker::ConnectorStatus;

#[derive(Serialize)]
pub(super) struct ErrorBody {
    pub(super) error_code: u16,
    pub(super) message: String,
}

#[derive(Serialize)]
pub(super) struct RootBody {
    pub(super) version: String,
    pub(super) commit: String,
    pub(super) kafka_cluster_id: String,
}

#[derive(Deserialize)]
pub(super) struct CreateRequest {
    pub(super) name: Option<String>,
    pub(super) config: Option<Config>,
    pub(super) initial_state: Option<String>,
}

#[derive(Serialize, Clone)]
pub(super) struct TaskIdBody {
    pub(super) connector: String,
    pub(super) task: u32,
}

#[derive(Serialize)]
pub(super) struct InfoBody {
    name: String,
    config: Config,
    tasks: Vec<TaskIdBody>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

impl InfoBody {
    pub(super) fn of(i: &ConnectorInfo) -> InfoBody {
        InfoBody {
            name: i.name.clone(),
            config: i.config.clone(),
            tasks: (0..i.tasks)
                .map(|t| TaskIdBody {
                    connector: i.name.clone(),
                    task: t as u32,
                })
                .collect(),
            kind: i.kind.map(|k| k.name().to_string()),
        }
    }
}

#[derive(Serialize)]
pub(super) struct StateBody {
    state: String,
    worker_id: String,
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
}

/// The version is unknown while a connector or task is (re)starting.
fn version_of(s: &Status, version: &Option<String>) -> Option<String> {
    match s.state {
        State::Restarting | State::Unassigned => None,
        _ => version.clone(),
    }
}

impl StateBody {
    fn of(s: &Status, version: &Option<String>) -> StateBody {
        StateBody {
            state: s.state.name().to_string(),
            worker_id: s.worker_id.clone(),
            version: version_of(s, version),
            trace: s.trace.clone(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct TaskStatusBody {
    id: u32,
    state: String,
    worker_id: String,
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
}

impl TaskStatusBody {
    pub(super) fn of(id: u32, s: &Status, version: &Option<String>) -> TaskStatusBody {
        TaskStatusBody {
            id,
            state: s.state.name().to_string(),
            worker_id: s.worker_id.clone(),
            version: version_of(s, version),
            trace: s.trace.clone(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct StatusBody {
    name: String,
    connector: StateBody,
    tasks: Vec<TaskStatusBody>,
    #[serde(rename = "type")]
    kind: String,
}

impl StatusBody {
    pub(super) fn of(name: &str, s: &ConnectorStatus) -> StatusBody {
        StatusBody {
            name: name.to_string(),
            connector: StateBody::of(&s.connector, &s.version),
            tasks: s
                .tasks
                .iter()
                .map(|(id, t)| TaskStatusBody::of(*id, t, &s.version))
                .collect(),
            kind: s.kind.name().to_string(),
        }
    }
}

#[derive(Serialize, Default)]
pub(super) struct ExpandedBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<StatusBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) info: Option<InfoBody>,
}

#[derive(Serialize)]
pub(super) struct TaskInfoBody {
    pub(super) id: TaskIdBody,
    pub(super) config: Config,
}

#[derive(Serialize, Deserialize)]
pub(super) struct OffsetBody {
    pub(super) partition: serde_json::Value,
    pub(super) offset: serde_json::Value,
}

#[derive(Serialize)]
pub(super) struct MessageBody {
    pub(super) message: String,
}

#[derive(Serialize)]
pub(super) struct HealthBody {
    pub(super) status: String,
    pub(super) message: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct OffsetsBody {
    pub(super) offsets: Vec<OffsetBody>,
}

#[derive(Serialize)]
pub(super) struct PluginBody {
    pub(super) class: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ConfigKeyBody {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    required: bool,
    default_value: Option<String>,
    importance: String,
    documentation: String,
    group: Option<String>,
    order_in_group: i32,
    width: String,
    display_name: String,
    dependents: Vec<String>,
}

impl ConfigKeyBody {
    pub(super) fn of(k: &ConfigKey) -> ConfigKeyBody {
        ConfigKeyBody {
            name: k.name.to_string(),
            ty: k.ty.name().to_string(),
            required: k.default.is_none(),
            default_value: k.default.map(str::to_string),
            importance: k.importance.name().to_string(),
            documentation: k.documentation.to_string(),
            group: None,
            order_in_group: -1,
            width: "NONE".to_string(),
            display_name: k.name.to_string(),
            dependents: Vec::new(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct ConfigValueBody {
    name: String,
    value: Option<String>,
    recommended_values: Vec<String>,
    errors: Vec<String>,
    visible: bool,
}

#[derive(Serialize)]
pub(super) struct ConfigInfoBody {
    definition: ConfigKeyBody,
    value: ConfigValueBody,
}

#[derive(Serialize)]
pub(super) struct ValidateBody {
    name: String,
    error_count: usize,
    groups: Vec<String>,
    configs: Vec<ConfigInfoBody>,
}

impl ValidateBody {
    pub(super) fn of(p: &ConnectorPlugin, config: &Config, errors: &[String]) -> ValidateBody {
        let mut per_key: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut unplaced: Vec<String> = Vec::new();
        for e in errors {
            match p.config.iter().find(|k| {
                e.contains(&format!("\"{}\"", k.name)) || e.contains(&format!(" {} ", k.name))
            }) {
                Some(k) => per_key.entry(k.name).or_default().push(e.clone()),
                None => unplaced.push(e.clone()),
            }
        }
        let mut configs: Vec<ConfigInfoBody> = p
            .config
            .iter()
            .map(|k| ConfigInfoBody {
                definition: ConfigKeyBody::of(k),
                value: ConfigValueBody {
                    name: k.name.to_string(),
                    value: config
                        .get(k.name)
                        .cloned()
                        .or(k.default.map(str::to_string)),
                    recommended_values: Vec::new(),
                    errors: per_key.remove(k.name).unwrap_or_default(),
                    visible: true,
                },
            })
            .collect();
        if !unplaced.is_empty() {
            configs.push(ConfigInfoBody {
                definition: ConfigKeyBody::of(&ConfigKey::required(
                    "connector.class",
                    crate::connector::ConfigType::String,
                    crate::connector::Importance::High,
                    "Name or alias of the class for this connector.",
                )),
                value: ConfigValueBody {
                    name: "connector.class".to_string(),
                    value: config.get("connector.class").cloned(),
                    recommended_values: Vec::new(),
                    errors: unplaced,
                    visible: true,
                },
            });
        }
        ValidateBody {
            name: p.class.to_string(),
            error_count: errors.len(),
            groups: vec!["Common".to_string()],
            configs,
        }
    }
}
