//! `JdbcSinkConnector`: writes records (structs with schemas) into PostgreSQL tables named
//! by `table.name.format`, with Confluent's insert modes, primary key modes, `auto.create`,
//! `auto.evolve` and deletes on tombstones.
//!
//! ```text
//!  records ─▶ plan: table, fields by pk.mode, segments ─▶ structure: CREATE / ALTER ADD
//!          ─▶ writer: INSERT (many rows) | INSERT .. ON CONFLICT DO UPDATE | UPDATE | DELETE ─▶ COMMIT
//! ```

mod config;
mod fields;
mod plan;
mod statements;
mod structure;
mod task;
mod writer;

pub use task::JdbcSinkTask;

pub(crate) use config::CONFIG;

use tributary_connect::config::{Config, ConfigError};
use tributary_connect::connector::{ConnectError, SinkConnector, SinkTask};

use config::SinkSettings;

/// Confluent's JDBC sink connector, for PostgreSQL.
#[derive(Default)]
pub struct JdbcSinkConnector {
    config: Config,
}

impl SinkConnector for JdbcSinkConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        SinkSettings::from_config(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(JdbcSinkTask::default())
    }

    /// The settings' own checks (a bad `connection.url`, `mode`, key combination...), so that a
    /// create answers 400 with them, as Kafka Connect answers Confluent's connector.
    fn validate(&self, config: &Config) -> Vec<ConfigError> {
        SinkSettings::from_config(config)
            .err()
            .into_iter()
            .collect()
    }
}
