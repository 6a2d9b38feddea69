//! PostgreSQL source and sink connectors compatible with Confluent's JDBC connectors
//! (`io.confluent.connect.jdbc.JdbcSourceConnector` and `JdbcSinkConnector`): their config
//! keys, record schemas, offsets and SQL, on `tokio-postgres`.
//!
//! ```text
//!  source: tables / query ─▶ querier (bulk | incrementing | timestamp[+incrementing]) ─▶ records
//!  sink:   records ─▶ fields (pk.mode) ─▶ CREATE / ALTER when allowed ─▶ INSERT | upsert | UPDATE | DELETE
//! ```
//!
//! Layout: [`url`] parses `connection.url`, [`dialect`] quotes identifiers, [`types`] maps
//! PostgreSQL types to Connect schemas and values both ways, [`conn`] connects and classifies
//! errors; [`source`] and [`sink`] are the connectors.

mod conn;
mod dialect;
pub mod sink;
pub mod source;
mod types;
mod url;

pub use sink::{JdbcSinkConnector, JdbcSinkTask};
pub use source::{JdbcSourceConnector, JdbcSourceTask};

use tributary_connect::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};

/// The source plugin.
pub fn source_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "io.confluent.connect.jdbc.JdbcSourceConnector",
        kind: ConnectorType::Source,
        version: crate::file::VERSION,
        task_class: "io.confluent.connect.jdbc.source.JdbcSourceTask",
        config: source::CONFIG,
        create: || ConnectorInstance::Source(Box::new(JdbcSourceConnector::default())),
    }
}

/// The sink plugin.
pub fn sink_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "io.confluent.connect.jdbc.JdbcSinkConnector",
        kind: ConnectorType::Sink,
        version: crate::file::VERSION,
        task_class: "io.confluent.connect.jdbc.sink.JdbcSinkTask",
        config: sink::CONFIG,
        create: || ConnectorInstance::Sink(Box::new(JdbcSinkConnector::default())),
    }
}
