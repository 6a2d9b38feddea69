//! The status topic's records, as Kafka Connect writes them: `status-connector-NAME` and
//! `status-task-NAME-N` with `{"state","trace","worker_id","generation","version"}`, and
//! `status-topic-TOPIC:connector-NAME` with the topics a connector uses. Every worker reads
//! them all, so any worker answers `/status` and `/topics` for the whole cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use super::log::LogWriter;
use crate::worker::status::{State, Status, StatusKey, StatusListener};
use crate::worker::TaskId;

/// A status as the topic holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredStatus {
    /// The status.
    pub status: Status,
    /// The plugin version, when it was running.
    pub version: Option<String>,
    /// The generation of the worker that wrote it.
    pub generation: i32,
}

/// What the status topic says.
#[derive(Debug, Default)]
pub struct StatusView {
    /// Connectors' statuses.
    pub connectors: BTreeMap<String, StoredStatus>,
    /// Tasks' statuses.
    pub tasks: BTreeMap<TaskId, StoredStatus>,
    /// The topics each connector used.
    pub topics: BTreeMap<String, BTreeSet<String>>,
}

fn state_of(name: &str) -> Option<State> {
    Some(match name {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        "STOPPED" => State::Stopped,
        "DESTROYED" => return None,
        _ => return None,
    })
}

fn decode_status(v: &Json) -> Option<StoredStatus> {
    Some(StoredStatus {
        status: Status {
            state: state_of(v.get("state")?.as_str()?)?,
            worker_id: v.get("worker_id")?.as_str()?.to_string(),
            trace: v.get("trace").and_then(Json::as_str).map(str::to_string),
        },
        version: v.get("version").and_then(Json::as_str).map(str::to_string),
        generation: v.get("generation").and_then(Json::as_i64).unwrap_or(0) as i32,
    })
}

/// The value of a status record, members in Kafka Connect's order.
pub fn status_value(status: &Status, version: Option<&str>, generation: i32) -> Vec<u8> {
    let text =
        |s: Option<&str>| s.map_or_else(|| "null".to_string(), |s| Json::from(s).to_string());
    format!(
        r#"{{"state":"{}","trace":{},"worker_id":{},"generation":{generation},"version":{}}}"#,
        status.state.name(),
        text(status.trace.as_deref()),
        text(Some(&status.worker_id)),
        text(version),
    )
    .into_bytes()
}

/// The key of a status record.
pub fn status_key(key: &StatusKey) -> String {
    match key {
        StatusKey::Connector(c) => format!("status-connector-{c}"),
        StatusKey::Task(t) => format!("status-task-{}-{}", t.connector, t.task),
    }
}

/// The key of a topic record.
pub fn topic_key(topic: &str, connector: &str) -> String {
    format!("status-topic-{topic}:connector-{connector}")
}

impl StatusView {
    /// Applies one record of the status topic.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        let value: Option<Json> = value.and_then(|v| serde_json::from_slice(v).ok());
        if let Some(rest) = key.strip_prefix("status-topic-") {
            let Some((topic, connector)) = rest.rsplit_once(":connector-") else {
                return;
            };
            match value {
                Some(_) => {
                    self.topics
                        .entry(connector.to_string())
                        .or_default()
                        .insert(topic.to_string());
                }
                None => {
                    if let Some(t) = self.topics.get_mut(connector) {
                        t.remove(topic);
                    }
                }
            }
        } else if let Some(name) = key.strip_prefix("status-connector-") {
            match value.as_ref().and_then(decode_status) {
                Some(s) => {
                    self.connectors.insert(name.to_string(), s);
                }
                None => {
                    self.connectors.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            let Some((name, n)) = rest.rsplit_once('-') else {
                return;
            };
            let Ok(task) = n.parse() else {
                return;
            };
            let id = TaskId {
                connector: name.to_string(),
                task,
            };
            match value.as_ref().and_then(decode_status) {
                Some(s) => {
                    self.tasks.insert(id, s);
                }
                None => {
                    self.tasks.remove(&id);
                }
            }
        }
    }
}

/// Writes the local worker's status changes to the status topic.
pub struct StatusWriter {
    /// The writer.
    pub writer: LogWriter,
    /// The status topic.
    pub topic: String,
    /// The group generation the worker is in.
    pub generation: Arc<AtomicI32>,
    /// The view, updated at once with what is written (the topic brings it back later).
    pub view: Arc<Mutex<StatusView>>,
}

impl StatusWriter {
    fn send(&self, key: &str, value: Option<&[u8]>) {
        if let Ok(mut v) = self.view.lock() {
            v.apply(key.as_bytes(), value);
        }
        if let Err(e) = self.writer.send(&self.topic, key.as_bytes(), value) {
            tracing::warn!(key, error = %e, "cannot write a status");
        }
    }

    /// Writes a tombstone for a status.
    pub fn remove(&self, key: &StatusKey) {
        self.send(&status_key(key), None);
    }

    /// Writes tombstones for the topics a connector used.
    pub fn remove_topics(&self, connector: &str) {
        let topics: Vec<String> = self
            .view
            .lock()
            .ok()
            .and_then(|v| v.topics.get(connector).cloned())
            .map(|t| t.into_iter().collect())
            .unwrap_or_default();
        for t in topics {
            self.send(&topic_key(&t, connector), None);
        }
    }
}

impl StatusListener for StatusWriter {
    fn on_status(&self, key: &StatusKey, status: &Status, version: Option<&str>) {
        let value = status_value(status, version, self.generation.load(Ordering::Relaxed));
        self.send(&status_key(key), Some(&value));
    }

    fn on_topic(&self, connector: &str, task: u32, topic: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let value = format!(
            r#"{{"topic":{{"name":{},"connector":{},"task":{task},"discoverTimestamp":{now}}}}}"#,
            Json::from(topic),
            Json::from(connector)
        );
        self.send(&topic_key(topic, connector), Some(value.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_kafka_connects_status_records() {
        let mut v = StatusView::default();
        let written = br#"{"state":"RUNNING","trace":null,"worker_id":"127.0.0.1:54343","generation":30,"version":"4.4.0"}"#;
        v.apply(b"status-connector-life", Some(written));
        let s = &v.connectors["life"];
        assert_eq!(s.status.state, State::Running);
        assert_eq!(status_value(&s.status, s.version.as_deref(), 30), written);
        v.apply(b"status-task-my-life-0", Some(br#"{"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: x\n\tat y","worker_id":"w:1","generation":4,"version":null}"#));
        let id = TaskId {
            connector: "my-life".into(),
            task: 0,
        };
        assert_eq!(v.tasks[&id].status.state, State::Failed);
        assert!(v.tasks[&id]
            .status
            .trace
            .as_deref()
            .is_some_and(|t| t.contains("\tat y")));
        v.apply(b"status-topic-life-topic:connector-life", Some(br#"{"topic":{"name":"life-topic","connector":"life","task":0,"discoverTimestamp":1}}"#));
        assert!(v.topics["life"].contains("life-topic"));
        v.apply(b"status-topic-life-topic:connector-life", None);
        v.apply(b"status-task-my-life-0", None);
        v.apply(b"status-connector-life", None);
        assert!(v.topics["life"].is_empty() && v.tasks.is_empty() && v.connectors.is_empty());
        // garbage is ignored
        v.apply(b"status-task-x", Some(b"{"));
        v.apply(
            b"status-connector-y",
            Some(br#"{"state":"NOPE","worker_id":"a"}"#),
        );
        assert!(v.connectors.is_empty() && v.tasks.is_empty());
    }
}
