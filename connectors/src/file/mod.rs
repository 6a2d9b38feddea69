//! Kafka's FileStream connectors: `FileStreamSourceConnector` (lines of a file, or stdin, into
//! a topic) and `FileStreamSinkConnector` (records' values, one per line, into a file, or
//! stdout), with Kafka's class names, config keys and offsets (`{"filename": F}` →
//! `{"position": BYTES}`).

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

use tributary_connect::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};

/// The version these connectors report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The source plugin.
pub fn source_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
        kind: ConnectorType::Source,
        version: VERSION,
        task_class: "org.apache.kafka.connect.file.FileStreamSourceTask",
        config: source::CONFIG,
        create: || ConnectorInstance::Source(Box::new(FileStreamSourceConnector::default())),
    }
}

/// The sink plugin.
pub fn sink_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
        kind: ConnectorType::Sink,
        version: VERSION,
        task_class: "org.apache.kafka.connect.file.FileStreamSinkTask",
        config: sink::CONFIG,
        create: || ConnectorInstance::Sink(Box::new(FileStreamSinkConnector::default())),
    }
}
