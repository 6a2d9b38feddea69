//! `JdbcSourceConnector`: copies PostgreSQL tables (or one query) into topics, whole
//! (`bulk`) or by an incrementing column and/or timestamp columns, with Confluent's config
//! keys, record schemas and offsets.
//!
//! ```text
//!  connector start: list tables (table.types, schema.pattern) ─▶ whitelist / include filters
//!  task_configs(tasks.max): contiguous groups of tables ─▶ "tables" = "s"."t1","s"."t2"
//!  task: one querier per table ─▶ records {schema named after the table} ─▶ topic.prefix + table
//! ```

mod config;
mod criteria;
mod offsets;
mod querier;
mod tables;
mod task;

pub use task::JdbcSourceTask;

pub(crate) use config::CONFIG;

use tributary_connect::config::{Config, ConfigError};
use tributary_connect::connector::{ConnectError, SourceConnector, SourceTask};

use crate::jdbc::conn::{connect_with_retries, run_blocking};
use crate::jdbc::dialect::TableId;
use config::{SourceSettings, TABLES_KEY};

/// Confluent's JDBC source connector, for PostgreSQL.
#[derive(Default)]
pub struct JdbcSourceConnector {
    config: Config,
    /// The tables to copy (none with `query`).
    tables: Vec<TableId>,
}

impl SourceConnector for JdbcSourceConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        let s = SourceSettings::from_config(config)?;
        self.config = config.clone();
        self.tables.clear();
        if s.query.is_some() {
            return Ok(());
        }
        let all = run_blocking(|| async {
            let client = connect_with_retries(&s.url, s.attempts, s.backoff)
                .await
                .map_err(|e| e.into_connect())?;
            tables::list_tables(&client, &s)
                .await
                .map_err(|e| e.into_connect())
        })?;
        self.tables = tables::select(&all, &s).map_err(ConnectError::Fatal)?;
        if self.tables.is_empty() {
            return Err(ConnectError::Config(ConfigError::new(format!(
                "No tables to copy in database '{}': none of the {} tables of types {} matched the table filters",
                s.url.database,
                all.len(),
                s.table_types.join(",")
            ))));
        }
        tracing::info!(tables = ?self.tables.iter().map(TableId::unquoted).collect::<Vec<_>>(), "JDBC source tables");
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        if self.tables.is_empty() {
            // a query: one task
            let mut c = self.config.clone();
            c.insert(TABLES_KEY.into(), String::new());
            c.insert("tables.fetched".into(), "true".into());
            return Ok(vec![c]);
        }
        let groups = tables::group(&self.tables, max_tasks.min(self.tables.len()));
        Ok(groups
            .into_iter()
            .map(|g| {
                let mut c = self.config.clone();
                let quoted: Vec<String> = g.iter().map(TableId::quoted).collect();
                c.insert(TABLES_KEY.into(), quoted.join(","));
                c.insert("tables.fetched".into(), "true".into());
                c
            })
            .collect())
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(JdbcSourceTask::default())
    }

    /// The settings' own checks (a bad `connection.url`, `mode`, key combination...), so that a
    /// create answers 400 with them, as Kafka Connect answers Confluent's connector.
    fn validate(&self, config: &Config) -> Vec<ConfigError> {
        SourceSettings::from_config(config)
            .err()
            .into_iter()
            .collect()
    }
}
