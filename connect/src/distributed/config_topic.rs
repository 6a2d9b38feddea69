//! The config topic's records, as Kafka Connect writes them (keys `connector-NAME`,
//! `target-state-NAME`, `task-NAME-N`, `commit-NAME`, `restart-connector-NAME`; values compact
//! JSON), and the state they add up to. Task configs take effect only with the `commit-NAME`
//! record after them, as in Kafka Connect, so a worker never runs half of a new set.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::config::Config;
use crate::worker::TargetState;

/// A change that a record of the config topic made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigEvent {
    /// A connector was created or its config changed.
    Connector(String),
    /// A connector was deleted.
    Removed(String),
    /// A connector's target state was written.
    Target(String),
    /// A connector's task configs were committed.
    Tasks(String),
    /// A cluster-wide log level was set (`logger-cluster-NAMESPACE`).
    Logger {
        /// The namespace.
        namespace: String,
        /// The level.
        level: String,
    },
    /// A restart was requested.
    Restart {
        /// The connector.
        connector: String,
        /// Its tasks too.
        include_tasks: bool,
        /// Only what failed.
        only_failed: bool,
    },
}

/// Everything the config topic says.
#[derive(Clone, Debug, Default)]
pub struct ConfigState {
    /// The offset after the last record applied.
    pub offset: i64,
    /// Each connector's config.
    pub connectors: BTreeMap<String, Config>,
    /// Target states written (none: STARTED).
    pub targets: BTreeMap<String, TargetState>,
    /// Each connector's committed task configs.
    pub tasks: BTreeMap<String, Vec<Config>>,
    /// Cluster-wide log levels, by namespace.
    pub loggers: BTreeMap<String, String>,
    /// Task configs written and not committed yet.
    pending: BTreeMap<String, BTreeMap<u32, Config>>,
}

impl ConfigState {
    /// A connector's target state.
    pub fn target(&self, name: &str) -> TargetState {
        self.targets
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    /// A connector's committed task configs (none for an unknown connector).
    pub fn task_configs(&self, name: &str) -> &[Config] {
        if !self.connectors.contains_key(name) {
            return &[];
        }
        self.tasks.get(name).map_or(&[], Vec::as_slice)
    }

    /// Applies one record; returns what changed (nothing for a record it does not know).
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>, offset: i64) -> Option<ConfigEvent> {
        self.offset = self.offset.max(offset + 1);
        let key = std::str::from_utf8(key).ok()?;
        let value: Option<Json> = match value {
            Some(v) => Some(serde_json::from_slice(v).ok()?),
            None => None,
        };
        if let Some(name) = key.strip_prefix("connector-") {
            return Some(match value {
                Some(v) => {
                    let props = properties(&v)?;
                    self.connectors.insert(name.to_string(), props);
                    ConfigEvent::Connector(name.to_string())
                }
                None => {
                    self.connectors.remove(name);
                    self.targets.remove(name);
                    ConfigEvent::Removed(name.to_string())
                }
            });
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            match value {
                Some(v) => {
                    let state = v
                        .get("state.v2")
                        .or_else(|| v.get("state"))
                        .and_then(Json::as_str)?;
                    let target = match state {
                        "STARTED" => TargetState::Started,
                        "PAUSED" => TargetState::Paused,
                        "STOPPED" => TargetState::Stopped,
                        _ => return None,
                    };
                    self.targets.insert(name.to_string(), target);
                }
                None => {
                    self.targets.remove(name);
                }
            }
            return Some(ConfigEvent::Target(name.to_string()));
        }
        if let Some(rest) = key.strip_prefix("task-") {
            // task-NAME-N: the name may contain dashes, the number is after the last one
            let (name, n) = rest.rsplit_once('-')?;
            let n: u32 = n.parse().ok()?;
            let props = properties(&value?)?;
            self.pending
                .entry(name.to_string())
                .or_default()
                .insert(n, props);
            return None;
        }
        if let Some(name) = key.strip_prefix("commit-") {
            let count = value?.get("tasks").and_then(Json::as_u64)? as u32;
            let pending = self.pending.remove(name).unwrap_or_default();
            let old = self.tasks.get(name).cloned().unwrap_or_default();
            let mut configs = Vec::with_capacity(count as usize);
            for i in 0..count {
                // a task config not rewritten keeps its last value (Kafka writes all of them)
                match pending.get(&i).or_else(|| old.get(i as usize)) {
                    Some(c) => configs.push(c.clone()),
                    None => {
                        tracing::warn!(
                            connector = name,
                            "a task commit without all its task configs is ignored"
                        );
                        return None;
                    }
                }
            }
            self.tasks.insert(name.to_string(), configs);
            return Some(ConfigEvent::Tasks(name.to_string()));
        }
        if let Some(namespace) = key.strip_prefix("logger-cluster-") {
            let level = value?.get("level").and_then(Json::as_str)?.to_string();
            self.loggers.insert(namespace.to_string(), level.clone());
            return Some(ConfigEvent::Logger {
                namespace: namespace.to_string(),
                level,
            });
        }
        if let Some(name) = key.strip_prefix("restart-connector-") {
            let v = value?;
            return Some(ConfigEvent::Restart {
                connector: name.to_string(),
                include_tasks: v.get("include-tasks").and_then(Json::as_bool)?,
                only_failed: v.get("only-failed").and_then(Json::as_bool)?,
            });
        }
        None
    }
}

fn properties(v: &Json) -> Option<Config> {
    let map = v.get("properties")?.as_object()?;
    Some(
        map.iter()
            .map(|(k, v)| {
                let text = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
    )
}

/// `{"properties":{...}}`.
pub fn properties_value(config: &Config) -> Vec<u8> {
    let map: serde_json::Map<String, Json> = config
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "properties": map })).unwrap_or_default()
}

/// A target state record's value: `{"state":...,"state.v2":...}` (STOPPED is `PAUSED` for
/// workers that know only the first field).
pub fn target_value(target: TargetState) -> Vec<u8> {
    let (v1, v2) = match target {
        TargetState::Started => ("STARTED", "STARTED"),
        TargetState::Paused => ("PAUSED", "PAUSED"),
        TargetState::Stopped => ("PAUSED", "STOPPED"),
    };
    format!(r#"{{"state":"{v1}","state.v2":"{v2}"}}"#).into_bytes()
}

/// `{"tasks":N}`.
pub fn commit_value(tasks: usize) -> Vec<u8> {
    format!(r#"{{"tasks":{tasks}}}"#).into_bytes()
}

/// `{"level":LEVEL}`.
pub fn logger_value(level: &str) -> Vec<u8> {
    serde_json::json!({ "level": level })
        .to_string()
        .into_bytes()
}

/// `{"include-tasks":B,"only-failed":B}`.
pub fn restart_value(include_tasks: bool, only_failed: bool) -> Vec<u8> {
    format!(r#"{{"include-tasks":{include_tasks},"only-failed":{only_failed}}}"#).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(state: &mut ConfigState, key: &str, value: Option<&str>) -> Option<ConfigEvent> {
        let offset = state.offset;
        state.apply(key.as_bytes(), value.map(str::as_bytes), offset)
    }

    /// Records as a Kafka Connect 4.4 worker wrote them (connect/tests/fixtures/kafka-connect-topics.md).
    #[test]
    fn reads_kafka_connects_records() {
        let mut s = ConfigState::default();
        assert_eq!(
            apply(
                &mut s,
                "session-key",
                Some(r#"{"key":"7HnU","algorithm":"HmacSHA256","creation-timestamp":1}"#)
            ),
            None
        );
        assert_eq!(
            apply(
                &mut s,
                "connector-life",
                Some(
                    r#"{"properties":{"connector.class":"FileStreamSource","tasks.max":"1","file":"/tmp/life.txt","topic":"life-topic","name":"life"}}"#
                )
            ),
            Some(ConfigEvent::Connector("life".into()))
        );
        assert_eq!(
            apply(
                &mut s,
                "task-life-0",
                Some(
                    r#"{"properties":{"connector.class":"FileStreamSource","task.class":"org.apache.kafka.connect.file.FileStreamSourceTask","name":"life"}}"#
                )
            ),
            None
        );
        assert!(
            s.task_configs("life").is_empty(),
            "not effective before the commit"
        );
        assert_eq!(
            apply(&mut s, "commit-life", Some(r#"{"tasks":1}"#)),
            Some(ConfigEvent::Tasks("life".into()))
        );
        assert_eq!(s.task_configs("life").len(), 1);
        assert_eq!(
            s.task_configs("life")[0]["task.class"],
            "org.apache.kafka.connect.file.FileStreamSourceTask"
        );
        apply(
            &mut s,
            "target-state-life",
            Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
        );
        assert_eq!(s.target("life"), TargetState::Stopped);
        apply(&mut s, "target-state-life", Some(r#"{"state":"PAUSED"}"#));
        assert_eq!(s.target("life"), TargetState::Paused);
        assert_eq!(
            apply(
                &mut s,
                "restart-connector-life",
                Some(r#"{"include-tasks":true,"only-failed":false}"#)
            ),
            Some(ConfigEvent::Restart {
                connector: "life".into(),
                include_tasks: true,
                only_failed: false
            })
        );
        assert_eq!(
            apply(&mut s, "commit-life", Some(r#"{"tasks":0}"#)),
            Some(ConfigEvent::Tasks("life".into()))
        );
        assert!(s.task_configs("life").is_empty());
        assert_eq!(
            apply(&mut s, "connector-life", None),
            Some(ConfigEvent::Removed("life".into()))
        );
        assert!(s.connectors.is_empty());
        assert_eq!(s.offset, 9, "nine records applied");
    }

    #[test]
    fn names_with_dashes_and_bad_records() {
        let mut s = ConfigState::default();
        apply(
            &mut s,
            "connector-my-conn-2",
            Some(r#"{"properties":{"name":"my-conn-2"}}"#),
        );
        apply(
            &mut s,
            "task-my-conn-2-1",
            Some(r#"{"properties":{"a":"1"}}"#),
        );
        apply(
            &mut s,
            "task-my-conn-2-0",
            Some(r#"{"properties":{"a":"0"}}"#),
        );
        apply(&mut s, "commit-my-conn-2", Some(r#"{"tasks":2}"#));
        assert_eq!(s.task_configs("my-conn-2")[1]["a"], "1");
        // garbage is skipped, not a panic
        for (k, v) in [
            ("connector-x", Some("not json")),
            ("task-x", Some("{}")),
            ("commit-x", Some(r#"{"tasks":"a"}"#)),
            ("target-state-x", Some(r#"{"state":"WEIRD"}"#)),
            ("commit-y", Some(r#"{"tasks":3}"#)),
        ] {
            assert_eq!(apply(&mut s, k, v), None, "{k}");
        }
    }

    #[test]
    fn writes_kafka_connects_values() {
        assert_eq!(
            target_value(TargetState::Stopped),
            br#"{"state":"PAUSED","state.v2":"STOPPED"}"#
        );
        assert_eq!(
            target_value(TargetState::Started),
            br#"{"state":"STARTED","state.v2":"STARTED"}"#
        );
        assert_eq!(commit_value(3), br#"{"tasks":3}"#);
        assert_eq!(
            restart_value(true, false),
            br#"{"include-tasks":true,"only-failed":false}"#
        );
        let c: Config = [("name".to_string(), "a\"b".to_string())].into();
        assert_eq!(properties_value(&c), br#"{"properties":{"name":"a\"b"}}"#);
    }
}
