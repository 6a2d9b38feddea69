//! An HTTP sink: records' values sent to an HTTP endpoint, one per request or batched as a JSON
//! array or as lines, with retries and backoff, and records the endpoint refuses for good sent
//! to the dead letter queue. Config keys follow Confluent's HTTP Sink connector
//! (`http.api.url`, `request.method`, `headers`, `batch.max.size`, `batch.json.as.array`, ...),
//! the one Kafka users know.

mod sink;

pub use sink::{HttpSinkConnector, HttpSinkTask};

use tributary_connect::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};

/// The sink plugin.
pub fn sink_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "io.confluent.connect.http.HttpSinkConnector",
        kind: ConnectorType::Sink,
        version: crate::file::VERSION,
        task_class: "io.confluent.connect.http.HttpSinkTask",
        config: sink::CONFIG,
        create: || ConnectorInstance::Sink(Box::new(HttpSinkConnector::default())),
    }
}
