//! The sink connector's settings: Confluent's `JdbcSinkConfig` keys, defaults and checks.

use std::time::Duration;

use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{ConfigKey, ConfigType, Importance};

use crate::jdbc::url::PgUrl;

/// The settings.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::required(
        "connection.url",
        ConfigType::String,
        Importance::High,
        "JDBC connection URL: jdbc:postgresql://host:port/database (postgresql://... too)",
    ),
    ConfigKey::optional_null(
        "connection.user",
        ConfigType::String,
        Importance::High,
        "JDBC connection user",
    ),
    ConfigKey::optional_null(
        "connection.password",
        ConfigType::Password,
        Importance::High,
        "JDBC connection password",
    ),
    ConfigKey::optional(
        "connection.attempts",
        ConfigType::Int,
        "3",
        Importance::Low,
        "Maximum number of attempts to get a connection",
    ),
    ConfigKey::optional(
        "connection.backoff.ms",
        ConfigType::Long,
        "10000",
        Importance::Low,
        "Backoff time in milliseconds between connection attempts",
    ),
    ConfigKey::optional(
        "insert.mode",
        ConfigType::String,
        "insert",
        Importance::High,
        "insert, upsert (INSERT .. ON CONFLICT .. DO UPDATE) or update",
    ),
    ConfigKey::optional(
        "batch.size",
        ConfigType::Int,
        "3000",
        Importance::Medium,
        "Most records written together in one statement",
    ),
    ConfigKey::optional(
        "delete.enabled",
        ConfigType::Boolean,
        "false",
        Importance::Medium,
        "Delete the row of a record with a null value (requires pk.mode=record_key)",
    ),
    ConfigKey::optional(
        "table.name.format",
        ConfigType::String,
        "${topic}",
        Importance::Medium,
        "The destination table name; ${topic} is replaced by the record's topic",
    ),
    ConfigKey::optional(
        "pk.mode",
        ConfigType::String,
        "none",
        Importance::High,
        "Where the primary key comes from: none, kafka, record_key or record_value",
    ),
    ConfigKey::optional(
        "pk.fields",
        ConfigType::List,
        "",
        Importance::Medium,
        "The primary key fields (their meaning depends on pk.mode)",
    ),
    ConfigKey::optional(
        "fields.whitelist",
        ConfigType::List,
        "",
        Importance::Medium,
        "The value fields written (empty: all)",
    ),
    ConfigKey::optional(
        "auto.create",
        ConfigType::Boolean,
        "false",
        Importance::Medium,
        "CREATE a missing destination table from the record schema",
    ),
    ConfigKey::optional(
        "auto.evolve",
        ConfigType::Boolean,
        "false",
        Importance::Medium,
        "ALTER the table to ADD columns for new (optional) fields",
    ),
    ConfigKey::optional(
        "max.retries",
        ConfigType::Int,
        "10",
        Importance::Medium,
        "How many times a write that failed for a passing reason is tried again",
    ),
    ConfigKey::optional(
        "retry.backoff.ms",
        ConfigType::Int,
        "3000",
        Importance::Medium,
        "The wait before trying a failed write again",
    ),
    ConfigKey::optional(
        "db.timezone",
        ConfigType::String,
        "UTC",
        Importance::Medium,
        "The time zone of timestamp columns without one (only UTC is supported)",
    ),
    ConfigKey::optional(
        "dialect.name",
        ConfigType::String,
        "",
        Importance::Low,
        "Empty or PostgreSqlDatabaseDialect",
    ),
    ConfigKey::optional(
        "quote.sql.identifiers",
        ConfigType::String,
        "always",
        Importance::Medium,
        "When to quote identifiers (always)",
    ),
];

/// How records are written (`insert.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertMode {
    /// `INSERT`.
    Insert,
    /// `INSERT .. ON CONFLICT (pk) DO UPDATE SET ..`.
    Upsert,
    /// `UPDATE .. WHERE pk`.
    Update,
}

/// Where the primary key comes from (`pk.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkMode {
    /// No key.
    None,
    /// The Kafka coordinates.
    Kafka,
    /// The record key.
    RecordKey,
    /// Fields of the record value.
    RecordValue,
}

impl PkMode {
    /// The name as configured.
    pub fn name(self) -> &'static str {
        match self {
            PkMode::None => "none",
            PkMode::Kafka => "kafka",
            PkMode::RecordKey => "record_key",
            PkMode::RecordValue => "record_value",
        }
    }
}

/// The parsed settings.
#[derive(Clone, Debug)]
pub(crate) struct SinkSettings {
    pub connector: String,
    pub url: PgUrl,
    pub attempts: u32,
    pub backoff: Duration,
    pub insert_mode: InsertMode,
    pub batch_size: usize,
    pub delete_enabled: bool,
    pub table_format: String,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    pub whitelist: Vec<String>,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub max_retries: u32,
    pub retry_backoff: Duration,
}

fn invalid(name: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::invalid(name, value, why)
}

fn non_empty(list: Vec<String>) -> Vec<String> {
    list.into_iter().filter(|s| !s.is_empty()).collect()
}

impl SinkSettings {
    pub fn from_config(c: &Config) -> Result<SinkSettings, ConfigError> {
        let url = PgUrl::parse(
            &c.string("connection.url")?,
            c.string_opt("connection.user").as_deref(),
            c.get("connection.password").map(String::as_str),
        )?;
        let insert_mode = match c
            .choice_or("insert.mode", "insert", &["insert", "upsert", "update"])?
            .as_str()
        {
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        let pk_mode = match c
            .choice_or(
                "pk.mode",
                "none",
                &["none", "kafka", "record_key", "record_value"],
            )?
            .as_str()
        {
            "kafka" => PkMode::Kafka,
            "record_key" => PkMode::RecordKey,
            "record_value" => PkMode::RecordValue,
            _ => PkMode::None,
        };
        let delete_enabled = c.bool_or("delete.enabled", false)?;
        if delete_enabled && pk_mode != PkMode::RecordKey {
            return Err(invalid(
                "delete.enabled",
                "true",
                "Primary key mode must be 'record_key' when delete support is enabled",
            ));
        }
        if insert_mode != InsertMode::Insert && pk_mode == PkMode::None {
            return Err(invalid(
                "pk.mode",
                "none",
                "insert.mode upsert and update need a primary key: set pk.mode to kafka, record_key or record_value",
            ));
        }
        let positive = |name: &str, default: i32| -> Result<i32, ConfigError> {
            let v = c.int_or(name, default)?;
            if v < 1 {
                return Err(invalid(name, &v.to_string(), "Value must be at least 1"));
            }
            Ok(v)
        };
        let non_negative = |name: &str, default: i32| -> Result<i32, ConfigError> {
            let v = c.int_or(name, default)?;
            if v < 0 {
                return Err(invalid(name, &v.to_string(), "Value must be at least 0"));
            }
            Ok(v)
        };
        let tz = c.string_or("db.timezone", "UTC");
        if !matches!(tz.as_str(), "UTC" | "Etc/UTC" | "GMT" | "Z") {
            return Err(invalid("db.timezone", &tz, "only UTC is supported"));
        }
        let dialect = c.string_or("dialect.name", "");
        if !dialect.is_empty() && dialect != "PostgreSqlDatabaseDialect" {
            return Err(invalid(
                "dialect.name",
                &dialect,
                "only PostgreSqlDatabaseDialect is supported",
            ));
        }
        let quoting = c.string_or("quote.sql.identifiers", "always");
        if !quoting.eq_ignore_ascii_case("always") {
            return Err(invalid(
                "quote.sql.identifiers",
                &quoting,
                "only always is supported",
            ));
        }
        Ok(SinkSettings {
            connector: c.string_or("name", ""),
            url,
            attempts: positive("connection.attempts", 3)? as u32,
            backoff: Duration::from_millis(
                c.long_or("connection.backoff.ms", 10_000)?.max(0) as u64
            ),
            insert_mode,
            batch_size: positive("batch.size", 3000)? as usize,
            delete_enabled,
            table_format: c.string_or("table.name.format", "${topic}"),
            pk_mode,
            pk_fields: non_empty(c.list_or("pk.fields", &[])),
            whitelist: non_empty(c.list_or("fields.whitelist", &[])),
            auto_create: c.bool_or("auto.create", false)?,
            auto_evolve: c.bool_or("auto.evolve", false)?,
            max_retries: non_negative("max.retries", 10)? as u32,
            retry_backoff: Duration::from_millis(non_negative("retry.backoff.ms", 3000)? as u64),
        })
    }

    /// The destination table of a topic.
    pub fn table_name(&self, topic: &str) -> Result<String, String> {
        let name = self.table_format.replace("${topic}", topic);
        if name.is_empty() {
            return Err(format!(
                "Destination table name for topic '{topic}' is empty using the format string '{}'",
                self.table_format
            ));
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(extra: &[(&str, &str)]) -> Result<SinkSettings, ConfigError> {
        let mut c: Config = [("connection.url", "jdbc:postgresql://localhost/db")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra {
            c.insert(k.to_string(), v.to_string());
        }
        SinkSettings::from_config(&c)
    }

    #[test]
    fn checks_like_confluent() {
        let s = with(&[]).unwrap();
        assert_eq!(
            (s.insert_mode, s.pk_mode, s.batch_size, s.max_retries),
            (InsertMode::Insert, PkMode::None, 3000, 10)
        );
        assert_eq!(s.table_name("orders").unwrap(), "orders");
        let s = with(&[("table.name.format", "kafka_${topic}")]).unwrap();
        assert_eq!(s.table_name("orders").unwrap(), "kafka_orders");
        assert!(with(&[("delete.enabled", "true")])
            .unwrap_err()
            .message()
            .contains("record_key"));
        assert!(with(&[("delete.enabled", "true"), ("pk.mode", "record_key")]).is_ok());
        assert!(with(&[("insert.mode", "upsert")]).is_err());
        assert!(with(&[("insert.mode", "merge")]).is_err());
        assert!(with(&[("pk.mode", "everything")]).is_err());
        assert!(with(&[("batch.size", "0")]).is_err());
        let e = with(&[("connection.url", "jdbc:sqlserver://h;databaseName=x")]).unwrap_err();
        assert!(e.message().contains("'sqlserver'"), "{e}");
    }
}
