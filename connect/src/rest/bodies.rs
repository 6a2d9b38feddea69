//! The JSON bodies of the REST API, field for field as Kafka Connect writes them.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::connector::{ConfigKey, ConnectorPlugin};
use crate::herder::ConnectorInfo;
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
    fn of(s: &Status, version: Option<String>) -> StateBody {
        StateBody {
            state: s.state.name().to_string(),
            worker_id: s.worker_id.clone(),
            version,
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
        TaskStatusBody::with_version(id, s, version_of(s, version))
    }

    fn with_version(id: u32, s: &Status, version: Option<String>) -> TaskStatusBody {
        TaskStatusBody {
            id,
            state: s.state.name().to_string(),
            worker_id: s.worker_id.clone(),
            version,
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
            connector: StateBody::of(&s.connector, version_of(&s.connector, &s.version)),
            tasks: s
                .tasks
                .iter()
                .map(|(id, t)| TaskStatusBody::of(*id, t, &s.version))
                .collect(),
            kind: s.kind.name().to_string(),
        }
    }

    /// The answer of a restart: what will restart shows `RESTARTING`, with the version (and
    /// trace) it has now.
    pub(super) fn planned(name: &str, s: &ConnectorStatus) -> StatusBody {
        StatusBody {
            name: name.to_string(),
            connector: StateBody::of(&s.connector, s.version.clone()),
            tasks: s
                .tasks
                .iter()
                .map(|(id, t)| TaskStatusBody::with_version(*id, t, s.version.clone()))
                .collect(),
            kind: s.kind.name().to_string(),
        }
    }
}

/// One part of a connector in `GET /connectors?expand=...`.
pub(super) enum Expanded {
    Status(StatusBody),
    Info(InfoBody),
}

/// A connector in `GET /connectors?expand=...`: its parts in the order of the `expand`
/// parameters.
#[derive(Default)]
pub(super) struct ExpandedBody(pub(super) Vec<(&'static str, Expanded)>);

impl Serialize for ExpandedBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, part) in &self.0 {
            match part {
                Expanded::Status(b) => map.serialize_entry(key, b)?,
                Expanded::Info(b) => map.serialize_entry(key, b)?,
            }
        }
        map.end()
    }
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
    /// A framework key (`name`, `tasks.max`, ...) with a problem in a validation.
    fn framework(name: &str) -> ConfigKeyBody {
        ConfigKeyBody {
            name: name.to_string(),
            ty: "STRING".to_string(),
            required: name == "name" || name == "connector.class",
            default_value: None,
            importance: "HIGH".to_string(),
            documentation: String::new(),
            group: Some("Common".to_string()),
            order_in_group: -1,
            width: "NONE".to_string(),
            display_name: name.to_string(),
            dependents: Vec::new(),
        }
    }

    pub(super) fn of(k: &ConfigKey) -> ConfigKeyBody {
        ConfigKeyBody {
            name: k.name.to_string(),
            ty: k.ty.name().to_string(),
            required: k.required,
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
    /// The answer for `config`, whose `connector.class` is `class` (the plugin `p`), with its
    /// problems key by key: the connector's own keys, then any other key with a problem.
    pub(super) fn of(
        class: &str,
        p: &ConnectorPlugin,
        config: &Config,
        errors: &[(String, String)],
    ) -> ValidateBody {
        let errors_of = |name: &str| -> Vec<String> {
            errors
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, e)| e.clone())
                .collect()
        };
        // a value that does not parse is shown as null; one a validator refuses as it is
        let value_of = |name: &str, default: Option<&str>, errors: &[String]| -> Option<String> {
            let unparsable = errors.iter().any(|e| {
                e.contains(": Not a number of type ")
                    || e.contains(": Expected value to be either true or false")
                    || e.ends_with(" could not be found.")
            });
            if unparsable {
                return None;
            }
            config
                .get(name)
                .map(|v| v.trim().to_string())
                .or(default.map(str::to_string))
        };
        let mut configs: Vec<ConfigInfoBody> = Vec::new();
        let mut other: Vec<&str> = Vec::new();
        for (k, _) in errors {
            if !p.config.iter().any(|c| c.name == k) && !other.contains(&k.as_str()) {
                other.push(k);
            }
        }
        // the framework's keys (only those with a problem: their definitions are not listed)
        for name in other {
            let errs = errors_of(name);
            configs.push(ConfigInfoBody {
                definition: ConfigKeyBody::framework(name),
                value: ConfigValueBody {
                    name: name.to_string(),
                    value: value_of(name, None, &errs),
                    recommended_values: Vec::new(),
                    errors: errs,
                    visible: true,
                },
            });
        }
        for k in p.config {
            let errs = errors_of(k.name);
            configs.push(ConfigInfoBody {
                definition: ConfigKeyBody::of(k),
                value: ConfigValueBody {
                    name: k.name.to_string(),
                    value: value_of(k.name, k.default, &errs),
                    recommended_values: Vec::new(),
                    errors: errs,
                    visible: true,
                },
            });
        }
        ValidateBody {
            name: class.to_string(),
            error_count: errors.len(),
            groups: vec!["Common".to_string()],
            configs,
        }
    }
}
