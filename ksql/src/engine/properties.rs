//! The `WITH (...)` properties of `CREATE` statements.

use crate::catalog::{DataSource, Windowing};
use crate::format::Format;
use crate::parser::ast::{Literal, Properties, SourceKind};

use super::KsqlError;

/// What a statement's properties say about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceProperties {
    /// `KAFKA_TOPIC`.
    pub topic: Option<String>,
    /// `KEY_FORMAT` (or `FORMAT`), else the input's, else `KAFKA`.
    pub key_format: Format,
    /// `VALUE_FORMAT` (or `FORMAT`), else the input's.
    pub value_format: Format,
    /// `WRAP_SINGLE_VALUE`.
    pub wrap_single_value: Option<bool>,
    /// `PARTITIONS`.
    pub partitions: Option<i32>,
    /// `REPLICAS`.
    pub replicas: Option<i16>,
    /// `TIMESTAMP` and `TIMESTAMP_FORMAT`.
    pub timestamp: Option<(String, Option<String>)>,
    /// `WINDOW_TYPE` and `WINDOW_SIZE` of a windowed source.
    pub windowing: Option<Windowing>,
}

const KNOWN: &[&str] = &[
    "KAFKA_TOPIC",
    "KEY_FORMAT",
    "VALUE_FORMAT",
    "FORMAT",
    "WRAP_SINGLE_VALUE",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "RETENTION_MS",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
    "CLEANUP_POLICY",
    "SOURCE_CONNECTOR",
];

fn text(props: &Properties, name: &str) -> Option<String> {
    props.get(name).map(Literal::text)
}

fn number<T: std::str::FromStr>(props: &Properties, name: &str) -> Result<Option<T>, KsqlError> {
    match props.get(name) {
        None => Ok(None),
        Some(v) => v.text().trim().parse().map(Some).map_err(|_| {
            KsqlError::Statement(format!("Invalid value for {name} property: {}", v.text()))
        }),
    }
}

impl SourceProperties {
    /// Reads `props` for a source of `kind`; `input` is the source a query reads, whose
    /// formats are inherited.
    pub fn parse(
        props: &Properties,
        kind: SourceKind,
        input: Option<&DataSource>,
    ) -> Result<SourceProperties, KsqlError> {
        let _ = kind;
        for name in props.keys() {
            if !KNOWN.contains(&name.as_str()) {
                return Err(KsqlError::Statement(format!(
                    "Invalid config variable(s) in the WITH clause: {name}"
                )));
            }
        }
        let format = text(props, "FORMAT");
        if format.is_some() {
            for other in ["KEY_FORMAT", "VALUE_FORMAT"] {
                if props.contains_key(other) {
                    return Err(KsqlError::Statement(format!(
                        "Cannot supply both '{other}' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
                    )));
                }
            }
        }
        let key_name = text(props, "KEY_FORMAT").or_else(|| format.clone());
        let value_name = text(props, "VALUE_FORMAT").or(format);
        let key_delim = text(props, "KEY_DELIMITER");
        let value_delim = text(props, "VALUE_DELIMITER");
        let key_format = match key_name {
            Some(n) => Format::parse(&n, key_delim.as_deref()).map_err(KsqlError::Statement)?,
            None => match input {
                Some(i) => i.key_format.clone(),
                None => Format::Kafka,
            },
        };
        let value_format = match value_name {
            Some(n) => Format::parse(&n, value_delim.as_deref()).map_err(KsqlError::Statement)?,
            None => {
                match input {
                    Some(i) => match (&i.value_format, value_delim) {
                        (Format::Delimited(_), Some(d)) => {
                            Format::parse("DELIMITED", Some(&d)).map_err(KsqlError::Statement)?
                        }
                        (f, _) => f.clone(),
                    },
                    None => return Err(KsqlError::Statement(
                        "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config."
                            .into(),
                    )),
                }
            }
        };
        let wrap_single_value = match props.get("WRAP_SINGLE_VALUE") {
            None => None,
            Some(Literal::Boolean(b)) => Some(*b),
            Some(v) => match v.text().to_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                other => {
                    return Err(KsqlError::Statement(format!(
                        "Invalid value for WRAP_SINGLE_VALUE property: {other}"
                    )))
                }
            },
        };
        let refused = matches!(
            (&value_format, wrap_single_value),
            (Format::Kafka | Format::Delimited(_), Some(true)) | (Format::None, Some(_))
        );
        if refused {
            return Err(KsqlError::Statement(format!(
                "Format '{value_format}' does not support 'WRAP_SINGLE_VALUE' set to '{}'.",
                wrap_single_value.unwrap_or(true)
            )));
        }
        let windowing = match text(props, "WINDOW_TYPE") {
            None => None,
            Some(t) => match t.to_uppercase().as_str() {
                "SESSION" => {
                    // (ksqlDB checks a source's WITH clause as it parses it)
                    if text(props, "WINDOW_SIZE").is_some() {
                        return Err(with_clause(
                            "'WINDOW_SIZE' should not be set for SESSION windows.".into(),
                        ));
                    }
                    Some(Windowing::Session)
                }
                "TUMBLING" | "HOPPING" => {
                    let size = text(props, "WINDOW_SIZE").ok_or_else(|| {
                        KsqlError::Statement(format!(
                            "{} windows require 'WINDOW_SIZE' to be provided in the WITH clause. For example: 'WINDOW_SIZE'='10 SECONDS'",
                            t.to_uppercase()
                        ))
                    })?;
                    let size = parse_duration(&size).map_err(|e| {
                        with_clause(format!("Configuration WINDOW_SIZE is invalid: {e}"))
                    })?;
                    Some(Windowing::Time {
                        size,
                        hopping: t.eq_ignore_ascii_case("HOPPING"),
                    })
                }
                other => {
                    return Err(KsqlError::Statement(format!(
                        "Invalid value for WINDOW_TYPE property: {other}"
                    )))
                }
            },
        };
        Ok(SourceProperties {
            topic: text(props, "KAFKA_TOPIC"),
            key_format,
            value_format,
            wrap_single_value,
            partitions: number(props, "PARTITIONS")?,
            replicas: number(props, "REPLICAS")?,
            timestamp: text(props, "TIMESTAMP")
                .map(|c| (c.to_uppercase(), text(props, "TIMESTAMP_FORMAT"))),
            windowing,
        })
    }

    /// Whether a single value column is written unwrapped.
    pub fn unwrapped(&self) -> bool {
        self.wrap_single_value == Some(false)
    }
}

/// An error in a WITH clause that ksqlDB finds as it parses the statement.
fn with_clause(message: String) -> KsqlError {
    KsqlError::Parse(crate::parser::ParseError {
        message,
        line: 0,
        column: 0,
    })
}

/// `'10 SECONDS'` in ms, or ksqlDB's message (`Invalid duration: '30 bobs'. Unknown time
/// unit: 'BOBS'...`).
fn parse_duration(text: &str) -> Result<i64, String> {
    let reason = || -> Result<i64, String> {
        let parts: Vec<&str> = text.split(char::is_whitespace).collect();
        let [n, unit] = parts.as_slice() else {
            return Err(format!("Expected 2 tokens, got: {}", parts.len()));
        };
        let n: i64 = n.parse().map_err(|_| format!("Not numeric: '{n}'"))?;
        let unit = unit.to_uppercase();
        let plural = if unit.ends_with('S') {
            unit.clone()
        } else {
            format!("{unit}S")
        };
        let ms = match plural.as_str() {
            "NANOSECONDS" => return Ok(n / 1_000_000),
            "MICROSECONDS" => return Ok(n / 1_000),
            "MILLISECONDS" => 1,
            "SECONDS" => 1_000,
            "MINUTES" => 60_000,
            "HOURS" => 3_600_000,
            "DAYS" => 86_400_000,
            _ => {
                return Err(format!(
                    "Unknown time unit: '{unit}'\nSupported time units are: NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS"
                ))
            }
        };
        n.checked_mul(ms)
            .ok_or_else(|| format!("'{n}' {plural} is too long"))
    };
    reason().map_err(|e| format!("Invalid duration: '{text}'. {e}"))
}
