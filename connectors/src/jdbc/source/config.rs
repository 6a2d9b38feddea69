//! The source connector's settings: Confluent's `JdbcSourceConnectorConfig` keys, defaults and
//! checks.

use std::time::Duration;

use regex::Regex;
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{ConfigKey, ConfigType, Importance};

use crate::jdbc::types::NumericMapping;
use crate::jdbc::url::PgUrl;

/// The task config key with the tables a task copies (quoted, comma-separated), as Confluent's
/// `JdbcSourceTaskConfig.TABLES_CONFIG`.
pub const TABLES_KEY: &str = "tables";

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
    ConfigKey::required(
        "mode",
        ConfigType::String,
        Importance::High,
        "How each poll detects rows: bulk, incrementing, timestamp or timestamp+incrementing",
    ),
    ConfigKey::optional(
        "incrementing.column.name",
        ConfigType::String,
        "",
        Importance::Medium,
        "The strictly incrementing column; empty: the table's serial or identity column",
    ),
    ConfigKey::optional(
        "timestamp.column.name",
        ConfigType::List,
        "",
        Importance::Medium,
        "One or more timestamp columns; with several, COALESCE of them in order",
    ),
    ConfigKey::optional_null(
        "timestamp.initial",
        ConfigType::Long,
        Importance::Low,
        "The epoch milliseconds timestamp queries start at when there is no offset (-1: now)",
    ),
    ConfigKey::optional(
        "timestamp.delay.interval.ms",
        ConfigType::Long,
        "0",
        Importance::High,
        "How long after a row's timestamp before it is copied",
    ),
    ConfigKey::optional(
        "table.whitelist",
        ConfigType::List,
        "",
        Importance::Medium,
        "Tables to copy (names or schema.name); excludes table.blacklist",
    ),
    ConfigKey::optional(
        "table.blacklist",
        ConfigType::List,
        "",
        Importance::Medium,
        "Tables not to copy; excludes table.whitelist",
    ),
    ConfigKey::optional_null(
        "table.include.list",
        ConfigType::List,
        Importance::Medium,
        "Regular expressions of schema.table names to copy",
    ),
    ConfigKey::optional_null(
        "table.exclude.list",
        ConfigType::List,
        Importance::Medium,
        "Regular expressions of schema.table names not to copy (with table.include.list)",
    ),
    ConfigKey::optional_null(
        "schema.pattern",
        ConfigType::String,
        Importance::Medium,
        "A LIKE pattern of the schemas whose tables are copied (null: all)",
    ),
    ConfigKey::optional(
        "table.types",
        ConfigType::List,
        "TABLE",
        Importance::Low,
        "Table types to copy: TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, PARTITIONED TABLE",
    ),
    ConfigKey::optional(
        "query",
        ConfigType::String,
        "",
        Importance::Medium,
        "A query to copy instead of whole tables; the topic is then topic.prefix",
    ),
    ConfigKey::optional(
        "query.suffix",
        ConfigType::String,
        "",
        Importance::Low,
        "Appended to the generated query",
    ),
    ConfigKey::required(
        "topic.prefix",
        ConfigType::String,
        Importance::High,
        "Prepended to table names for topic names; the whole topic name with query",
    ),
    ConfigKey::optional(
        "poll.interval.ms",
        ConfigType::Int,
        "5000",
        Importance::High,
        "How often each table is polled for new data",
    ),
    ConfigKey::optional(
        "batch.max.rows",
        ConfigType::Int,
        "100",
        Importance::Low,
        "Most rows in one batch of records",
    ),
    ConfigKey::optional_null(
        "numeric.mapping",
        ConfigType::String,
        Importance::Low,
        "NUMERIC columns: none (Decimal), best_fit, best_fit_eager_double or precision_only",
    ),
    ConfigKey::optional(
        "numeric.precision.mapping",
        ConfigType::Boolean,
        "false",
        Importance::Low,
        "Deprecated: precision_only when numeric.mapping is not set",
    ),
    ConfigKey::optional(
        "validate.non.null",
        ConfigType::Boolean,
        "true",
        Importance::Low,
        "Check that incrementing and timestamp columns are NOT NULL",
    ),
    ConfigKey::optional(
        "table.poll.interval.ms",
        ConfigType::Long,
        "60000",
        Importance::Low,
        "Accepted for compatibility; the table list is read when the connector starts",
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

/// How rows are picked up (`mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The whole table each poll.
    Bulk,
    /// Rows with a larger incrementing column.
    Incrementing,
    /// Rows with a later timestamp.
    Timestamp,
    /// Rows with a later timestamp, or the same timestamp and a larger incrementing column.
    TimestampIncrementing,
}

impl Mode {
    /// Whether the mode uses the incrementing column.
    pub fn incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }
    /// Whether the mode uses the timestamp columns.
    pub fn timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// The parsed settings.
#[derive(Clone, Debug)]
pub(crate) struct SourceSettings {
    pub url: PgUrl,
    pub attempts: u32,
    pub backoff: Duration,
    pub mode: Mode,
    pub incrementing_column: String,
    pub timestamp_columns: Vec<String>,
    pub timestamp_initial: Option<i64>,
    pub timestamp_delay_ms: i64,
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
    pub schema_pattern: Option<String>,
    pub table_types: Vec<String>,
    pub query: Option<String>,
    pub query_suffix: String,
    pub topic_prefix: String,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub numeric_mapping: NumericMapping,
    pub validate_non_null: bool,
}

fn invalid(name: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::invalid(name, value, why)
}

fn regexes(c: &Config, name: &str) -> Result<Vec<Regex>, ConfigError> {
    c.list_or(name, &[])
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Regex::new(&format!("^(?:{s})$")).map_err(|e| invalid(name, &s, &e.to_string())))
        .collect()
}

impl SourceSettings {
    pub fn from_config(c: &Config) -> Result<SourceSettings, ConfigError> {
        let url = PgUrl::parse(
            &c.string("connection.url")?,
            c.string_opt("connection.user").as_deref(),
            c.get("connection.password").map(String::as_str),
        )?;
        let dialect = c.string_or("dialect.name", "");
        if !dialect.is_empty() && dialect != "PostgreSqlDatabaseDialect" {
            return Err(invalid(
                "dialect.name",
                &dialect,
                "only PostgreSqlDatabaseDialect is supported",
            ));
        }
        let mode = match c
            .choice_or(
                "mode",
                "",
                &[
                    "bulk",
                    "incrementing",
                    "timestamp",
                    "timestamp+incrementing",
                ],
            )?
            .as_str()
        {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            _ => Mode::TimestampIncrementing,
        };
        let timestamp_columns: Vec<String> = c
            .list_or("timestamp.column.name", &[])
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if mode.timestamp() && timestamp_columns.is_empty() {
            return Err(invalid(
                "timestamp.column.name",
                "",
                "a timestamp column is needed in mode timestamp and timestamp+incrementing",
            ));
        }
        let query = c.string_opt("query").filter(|q| !q.is_empty());
        let incrementing_column = c.string_or("incrementing.column.name", "");
        if query.is_some() && mode.incrementing() && incrementing_column.is_empty() {
            return Err(invalid(
                "incrementing.column.name",
                "",
                "with query, the incrementing column must be named",
            ));
        }
        let whitelist: Vec<String> = c
            .list_or("table.whitelist", &[])
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let blacklist: Vec<String> = c
            .list_or("table.blacklist", &[])
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let include = regexes(c, "table.include.list")?;
        let exclude = regexes(c, "table.exclude.list")?;
        if !whitelist.is_empty() && !blacklist.is_empty() {
            return Err(invalid(
                "table.whitelist",
                &whitelist.join(","),
                "table.whitelist and table.blacklist cannot both be set",
            ));
        }
        if !include.is_empty() && (!whitelist.is_empty() || !blacklist.is_empty()) {
            return Err(invalid(
                "table.include.list",
                &c.string_or("table.include.list", ""),
                "table.include.list cannot be set with the legacy table.whitelist or table.blacklist",
            ));
        }
        if !exclude.is_empty() && include.is_empty() {
            return Err(invalid(
                "table.exclude.list",
                &c.string_or("table.exclude.list", ""),
                "table.exclude.list requires table.include.list",
            ));
        }
        if query.is_some()
            && (!whitelist.is_empty() || !blacklist.is_empty() || !include.is_empty())
        {
            return Err(invalid(
                "query",
                &c.string_or("query", ""),
                "do not set table filters (table.whitelist, table.blacklist, table.include.list) with query",
            ));
        }
        let tz = c.string_or("db.timezone", "UTC");
        if !matches!(tz.as_str(), "UTC" | "Etc/UTC" | "GMT" | "Z") {
            return Err(invalid("db.timezone", &tz, "only UTC is supported"));
        }
        let quoting = c.string_or("quote.sql.identifiers", "always");
        if !quoting.eq_ignore_ascii_case("always") {
            return Err(invalid(
                "quote.sql.identifiers",
                &quoting,
                "only always is supported",
            ));
        }
        let mapping_text = c.string_opt("numeric.mapping");
        let numeric_mapping = NumericMapping::parse(
            mapping_text.as_deref(),
            c.bool_or("numeric.precision.mapping", false)?,
        )
        .ok_or_else(|| {
            invalid(
                "numeric.mapping",
                mapping_text.as_deref().unwrap_or(""),
                "String must be one of (case insensitive): none, best_fit, best_fit_eager_double, precision_only",
            )
        })?;
        let positive = |name: &str, default: i32| -> Result<i32, ConfigError> {
            let v = c.int_or(name, default)?;
            if v < 1 {
                return Err(invalid(name, &v.to_string(), "Value must be at least 1"));
            }
            Ok(v)
        };
        let table_types: Vec<String> = c
            .list_or("table.types", &["TABLE"])
            .into_iter()
            .map(|t| t.to_ascii_uppercase())
            .collect();
        for t in &table_types {
            if super::tables::relkinds(t).is_none() {
                return Err(invalid(
                    "table.types",
                    t,
                    "expected TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE or PARTITIONED TABLE",
                ));
            }
        }
        Ok(SourceSettings {
            url,
            attempts: positive("connection.attempts", 3)? as u32,
            backoff: Duration::from_millis(
                c.long_or("connection.backoff.ms", 10_000)?.max(0) as u64
            ),
            mode,
            incrementing_column,
            timestamp_columns,
            timestamp_initial: match c.string_opt("timestamp.initial") {
                Some(t) if !t.is_empty() => Some(c.long_or("timestamp.initial", 0)?),
                _ => None,
            },
            timestamp_delay_ms: c.long_or("timestamp.delay.interval.ms", 0)?.max(0),
            whitelist,
            blacklist,
            include,
            exclude,
            schema_pattern: c.string_opt("schema.pattern").filter(|s| !s.is_empty()),
            table_types,
            query,
            query_suffix: c.string_or("query.suffix", ""),
            topic_prefix: c.string("topic.prefix")?,
            poll_interval: Duration::from_millis(positive("poll.interval.ms", 5000)? as u64),
            batch_max_rows: positive("batch.max.rows", 100)? as usize,
            numeric_mapping,
            validate_non_null: c.bool_or("validate.non.null", true)?,
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
    fn checks_like_confluent() {
        let base = [
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("topic.prefix", "pg-"),
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
        ];
        let s = SourceSettings::from_config(&config(&base)).unwrap();
        assert_eq!(s.mode, Mode::Incrementing);
        assert_eq!(s.batch_max_rows, 100);
        assert_eq!(s.poll_interval, Duration::from_millis(5000));
        let with = |extra: &[(&str, &str)]| {
            let mut c = config(&base);
            c.extend(config(extra));
            SourceSettings::from_config(&c)
        };
        assert!(with(&[("mode", "sometimes")]).is_err());
        assert!(with(&[("mode", "timestamp")]).is_err());
        assert!(with(&[("mode", "timestamp"), ("timestamp.column.name", "a, b")]).is_ok());
        assert!(with(&[("table.whitelist", "a"), ("table.blacklist", "b")]).is_err());
        assert!(with(&[("table.exclude.list", "a")]).is_err());
        assert!(with(&[
            ("table.include.list", "public\\..*"),
            ("table.exclude.list", "x")
        ])
        .is_ok());
        assert!(with(&[("table.include.list", "(")]).is_err());
        assert!(with(&[("query", "SELECT 1"), ("table.whitelist", "a")]).is_err());
        assert!(with(&[("numeric.mapping", "best_fit")]).is_ok());
        assert!(with(&[("numeric.mapping", "biggest")]).is_err());
        assert!(with(&[("db.timezone", "Europe/Paris")]).is_err());
        let e = with(&[("connection.url", "jdbc:oracle:thin:@h:1521/x")]).unwrap_err();
        assert!(e.message().contains("only PostgreSQL"), "{e}");
        let mut c = config(&base);
        c.remove("topic.prefix");
        assert!(SourceSettings::from_config(&c).is_err());
    }
}
