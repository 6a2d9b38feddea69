//! The datagen's settings, with Confluent's names, defaults and checks: exactly one schema
//! source (`quickstart`, `schema.string` or `schema.filename`), a `schema.keyfield` the
//! schema has.

use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{ConfigKey, ConfigType, Importance};

use super::quickstart;
use super::schema::{self, Node};

/// `kafka.topic`.
pub const KAFKA_TOPIC: &str = "kafka.topic";
/// `max.interval`.
pub const MAX_INTERVAL: &str = "max.interval";
/// `iterations`.
pub const ITERATIONS: &str = "iterations";
/// `schema.string`.
pub const SCHEMA_STRING: &str = "schema.string";
/// `schema.filename`.
pub const SCHEMA_FILENAME: &str = "schema.filename";
/// `schema.keyfield`.
pub const SCHEMA_KEYFIELD: &str = "schema.keyfield";
/// `quickstart`.
pub const QUICKSTART: &str = "quickstart";
/// `random.seed`.
pub const RANDOM_SEED: &str = "random.seed";
/// `task.id`: added to each task's config by the connector (0 to `tasks.max` - 1).
pub const TASK_ID: &str = "task.id";

/// The settings, as Confluent's `DatagenConnectorConfig` defines them.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::required(KAFKA_TOPIC, ConfigType::String, Importance::High, "Topic to write to"),
    ConfigKey::optional(MAX_INTERVAL, ConfigType::Long, "500", Importance::High, "Max interval between messages (ms)"),
    ConfigKey::optional(
        ITERATIONS,
        ConfigType::Int,
        "-1",
        Importance::High,
        "Number of messages to send from each task, or less than 1 for unlimited",
    ),
    ConfigKey::optional(SCHEMA_STRING, ConfigType::String, "", Importance::High, "The literal JSON-encoded Avro schema to use"),
    ConfigKey::optional(SCHEMA_FILENAME, ConfigType::String, "", Importance::High, "Filename of schema to use"),
    ConfigKey::optional(SCHEMA_KEYFIELD, ConfigType::String, "", Importance::High, "Name of field to use as the message key"),
    ConfigKey::optional(QUICKSTART, ConfigType::String, "", Importance::High, "Name of quickstart to use"),
    ConfigKey::optional_null(
        RANDOM_SEED,
        ConfigType::Long,
        Importance::Low,
        "Numeric seed for generating random data. Two connectors started with the same seed will deterministically produce the same data. Each task will generate different data than the other tasks in the same connector.",
    ),
];

/// A checked datagen config.
#[derive(Clone, Debug)]
pub struct DatagenConfig {
    /// Where the records go.
    pub topic: String,
    /// The longest random wait before a record, in ms; 0: as fast as possible, in batches.
    pub max_interval_ms: u64,
    /// How many records each task makes; `None`: no end.
    pub iterations: Option<u64>,
    /// The field whose value (and schema) is the key; `None`: a null key.
    pub key_field: Option<String>,
    /// The seed, if the data should be the same each time.
    pub random_seed: Option<i64>,
    /// The parsed schema.
    pub schema: Node,
}

impl DatagenConfig {
    /// Reads and checks `config`; the error names the bad key.
    pub fn parse(config: &Config) -> Result<DatagenConfig, ConfigError> {
        let topic = config.string(KAFKA_TOPIC)?;
        if topic.is_empty() {
            return Err(ConfigError::invalid(KAFKA_TOPIC, "", "A topic is required"));
        }
        let max_interval = config.long_or(MAX_INTERVAL, 500)?;
        let iterations = config.int_or(ITERATIONS, -1)?;
        let set = |k: &str| config.string_opt(k).filter(|v| !v.is_empty());
        let sources: Vec<&str> = [QUICKSTART, SCHEMA_STRING, SCHEMA_FILENAME]
            .into_iter()
            .filter(|k| set(k).is_some())
            .collect();
        if sources.len() != 1 {
            return Err(ConfigError::new(format!(
                "Must set exactly one of {SCHEMA_STRING}, {SCHEMA_FILENAME}, {QUICKSTART}{}",
                if sources.is_empty() {
                    String::new()
                } else {
                    format!(" (set: {})", sources.join(", "))
                }
            )));
        }
        let mut key_field = set(SCHEMA_KEYFIELD);
        let unparsable = |key: &str, value: &str, e: String| {
            ConfigError::invalid(
                key,
                value,
                &format!("Unable to parse the provided schema: {e}"),
            )
        };
        let schema = if let Some(name) = set(QUICKSTART) {
            let q = quickstart::find(&name).ok_or_else(|| {
                ConfigError::invalid(
                    QUICKSTART,
                    &name,
                    &format!("{QUICKSTART} must be one out of {}", quickstart::names()),
                )
            })?;
            key_field = key_field.or_else(|| Some(q.key_field.to_string()));
            schema::parse(q.schema).map_err(|e| unparsable(QUICKSTART, &name, e))?
        } else if let Some(text) = set(SCHEMA_STRING) {
            schema::parse(&text).map_err(|e| unparsable(SCHEMA_STRING, &text, e))?
        } else {
            let file = set(SCHEMA_FILENAME).unwrap_or_default();
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ConfigError::invalid(
                    SCHEMA_FILENAME,
                    &file,
                    &format!("Unable to find the schema file: {e}"),
                )
            })?;
            schema::parse(&text).map_err(|e| unparsable(SCHEMA_FILENAME, &file, e))?
        };
        if schema.schema.fields().is_empty() {
            return Err(ConfigError::new(
                "The schema must be an Avro record with at least one field",
            ));
        }
        if let Some(k) = &key_field {
            if schema.schema.field(k).is_none() {
                return Err(ConfigError::invalid(
                    SCHEMA_KEYFIELD,
                    k,
                    &format!(
                        "The schema does not contain the field provided in '{SCHEMA_KEYFIELD}'"
                    ),
                ));
            }
        }
        let random_seed = match set(RANDOM_SEED) {
            None => None,
            Some(_) => Some(config.long_or(RANDOM_SEED, 0)?),
        };
        Ok(DatagenConfig {
            topic,
            max_interval_ms: max_interval.max(0) as u64,
            iterations: (iterations > 0).then_some(iterations as u64),
            key_field,
            random_seed,
            schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_quickstart_brings_its_key_field_and_defaults() {
        let c = DatagenConfig::parse(&config(&[(KAFKA_TOPIC, "t"), (QUICKSTART, "Pageviews")]))
            .expect("valid");
        assert_eq!(c.key_field.as_deref(), Some("viewtime"));
        assert_eq!(
            (c.max_interval_ms, c.iterations, c.random_seed),
            (500, None, None)
        );
        assert_eq!(c.schema.schema.name(), Some("ksql.pageviews"));
        let c = DatagenConfig::parse(&config(&[
            (KAFKA_TOPIC, "t"),
            (QUICKSTART, "users"),
            (SCHEMA_KEYFIELD, "regionid"),
            (ITERATIONS, "10"),
            (RANDOM_SEED, "-7"),
        ]))
        .expect("valid");
        assert_eq!(c.key_field.as_deref(), Some("regionid"));
        assert_eq!((c.iterations, c.random_seed), (Some(10), Some(-7)));
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let schema = r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}"#;
        for (pairs, want) in [
            (vec![(QUICKSTART, "users")], "kafka.topic"),
            (vec![(KAFKA_TOPIC, "t")], "Must set exactly one of"),
            (
                vec![
                    (KAFKA_TOPIC, "t"),
                    (QUICKSTART, "users"),
                    (SCHEMA_STRING, schema),
                ],
                "(set: quickstart, schema.string)",
            ),
            (
                vec![(KAFKA_TOPIC, "t"), (QUICKSTART, "nope")],
                "quickstart must be one out of users,",
            ),
            (
                vec![(KAFKA_TOPIC, "t"), (SCHEMA_STRING, "{")],
                "Unable to parse the provided schema",
            ),
            (
                vec![(KAFKA_TOPIC, "t"), (SCHEMA_FILENAME, "/no/such.avsc")],
                "Unable to find the schema file",
            ),
            (
                vec![
                    (KAFKA_TOPIC, "t"),
                    (SCHEMA_STRING, schema),
                    (SCHEMA_KEYFIELD, "b"),
                ],
                "does not contain the field",
            ),
            (
                vec![
                    (KAFKA_TOPIC, "t"),
                    (QUICKSTART, "users"),
                    (MAX_INTERVAL, "x"),
                ],
                "max.interval",
            ),
        ] {
            let e = DatagenConfig::parse(&config(&pairs)).expect_err(want);
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }
}
