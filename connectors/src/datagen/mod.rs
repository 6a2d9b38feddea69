//! Confluent's data generator (`io.confluent.kafka.connect.datagen.DatagenConnector`): records
//! of random data made from an Avro schema whose `arg.properties` say how (Avro Random
//! Generator's `regex`, `range`, `options`, `iteration`, `length`, ...), either one of the
//! bundled `quickstart` schemas (`users`, `pageviews`, `orders`, ...) or the user's own
//! (`schema.string`, `schema.filename`), with Confluent's keys, record shapes and offsets.
//!
//! ```text
//!  config ─▶ DatagenConfig (schema parsed once) ─▶ tasks.max × DatagenTask (task.id = 0..)
//!  poll: [wait ≤ max.interval] ─▶ generate::value(schema, rng, count) ─▶ Struct ─▶ record
//!        key = the schema.keyfield's value; offset = {task.generation, current.iteration, random.seed}
//! ```
//!
//! Layout: [`config`] (keys and checks), [`schema`] (Avro JSON → generator tree and Connect
//! schema; [`args`] its `arg.properties`), [`generate`] (the values), [`regex`] (strings
//! matching a pattern), [`quickstart`] (the bundled schemas), `task` (the task), [`rng`] (the
//! seedable random source).

pub mod args;
pub mod config;
pub mod generate;
pub mod quickstart;
pub mod regex;
pub mod rng;
pub mod schema;
mod task;

pub use task::{DatagenTask, BATCH};

use tributary_connect::config::{Config, ConfigError};
use tributary_connect::connector::{
    ConnectError, ConnectorInstance, ConnectorPlugin, ConnectorType, SourceConnector, SourceTask,
};

use config::{DatagenConfig, TASK_ID};

/// The version this connector reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The plugin (alias `DatagenConnector`, or `Datagen`).
pub fn plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "io.confluent.kafka.connect.datagen.DatagenConnector",
        kind: ConnectorType::Source,
        version: VERSION,
        task_class: "io.confluent.kafka.connect.datagen.DatagenTask",
        config: config::CONFIG,
        create: || ConnectorInstance::Source(Box::new(DatagenConnector::default())),
    }
}

/// Confluent's DatagenConnector: checks the config and gives each of `tasks.max` tasks its
/// `task.id`; the tasks generate independently.
#[derive(Default)]
pub struct DatagenConnector {
    config: Config,
}

impl SourceConnector for DatagenConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        DatagenConfig::parse(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok((0..max_tasks)
            .map(|i| {
                let mut c = self.config.clone();
                c.insert(TASK_ID.into(), i.to_string());
                c
            })
            .collect())
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(DatagenTask::default())
    }

    /// Confluent's checks: exactly one schema source, a schema that parses, a key field it has.
    fn validate(&self, config: &Config) -> Vec<ConfigError> {
        DatagenConfig::parse(config).err().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_gets_its_id() {
        let mut c = DatagenConnector::default();
        let config: Config = [("kafka.topic", "t"), ("quickstart", "orders")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.start(&config).expect("starts");
        let tasks = c.task_configs(3).expect("task configs");
        let ids: Vec<&str> = tasks
            .iter()
            .filter_map(|t| t.get(TASK_ID).map(String::as_str))
            .collect();
        assert_eq!(ids, ["0", "1", "2"]);
        assert!(c.start(&Config::new()).is_err());
        assert!(c.validate(&config).is_empty());
        let mut both = config.clone();
        both.insert("schema.filename".into(), "/x.avsc".into());
        assert_eq!(c.validate(&both).len(), 1);
    }
}
