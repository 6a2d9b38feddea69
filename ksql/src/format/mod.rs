//! Serialization formats of keys and values: `JSON`, `DELIMITED`, `KAFKA` and `NONE`, as
//! ksqlDB writes and reads them.

mod delimited;
pub mod json;
mod kafka;

use std::fmt;

use crate::types::SqlType;
use crate::value::Row;
use datafusion_common::ScalarValue;

/// A format's name and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `JSON`.
    Json,
    /// `DELIMITED`, with its separator (`value_delimiter`, a comma unless set).
    Delimited(char),
    /// `KAFKA`: Kafka's serializers for one column of a primitive type.
    Kafka,
    /// `NONE`: no columns (a key that is not read).
    None,
}

impl Format {
    /// The format a `key_format` / `value_format` property names.
    pub fn parse(name: &str, delimiter: Option<&str>) -> Result<Format, String> {
        let delimiter = match delimiter {
            None => None,
            Some(d) => Some(parse_delimiter(d)?),
        };
        let f = match name.to_uppercase().as_str() {
            "JSON" => Format::Json,
            "DELIMITED" => Format::Delimited(delimiter.unwrap_or(',')),
            "KAFKA" => Format::Kafka,
            "NONE" => Format::None,
            "AVRO" | "PROTOBUF" | "PROTOBUF_NOSR" | "JSON_SR" => {
                return Err(format!(
                    "The {} format needs a schema registry, which this server does not have",
                    name.to_uppercase()
                ))
            }
            other => return Err(format!("Unknown format: {other}")),
        };
        if delimiter.is_some() && !matches!(f, Format::Delimited(_)) {
            return Err(format!(
                "{f} does not support the following configs: [delimiter]"
            ));
        }
        Ok(f)
    }

    /// Whether a single column may be written unwrapped (as its value alone).
    pub fn supports_unwrapping(&self) -> bool {
        matches!(self, Format::Json)
    }
}

fn parse_delimiter(d: &str) -> Result<char, String> {
    match d.to_uppercase().as_str() {
        "TAB" => return Ok('\t'),
        "SPACE" => return Ok(' '),
        _ => {}
    }
    let mut chars = d.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_whitespace() => Ok(c),
        (None, _) | (Some(_), None) => Err("Failed to prepare statement: Configuration VALUE_DELIMITER is invalid: Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'".to_string()),
        _ => Err(format!(
            "Failed to prepare statement: Configuration VALUE_DELIMITER is invalid: Invalid delimiter value: '{d}'. Delimiter must be a single character or TAB,SPACE\nExample valid value: ';'"
        )),
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Delimited(_) => "DELIMITED",
            Format::Kafka => "KAFKA",
            Format::None => "NONE",
        })
    }
}

/// Whether values of `t` hold a map.
fn contains_map(t: &SqlType) -> bool {
    match t {
        SqlType::Map(..) => true,
        SqlType::Array(i) => contains_map(i),
        SqlType::Struct(f) => f.iter().any(|(_, t)| contains_map(t)),
        _ => false,
    }
}

/// Rows of some columns in a format: what a key or a value of a source holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFormat {
    /// The format.
    pub format: Format,
    /// The columns, in order.
    pub columns: Vec<(String, SqlType)>,
    /// A single column written as its value alone instead of an object or a one-field row.
    pub unwrapped: bool,
}

/// Bytes that do not hold a row of the expected columns, or a row that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

impl RowFormat {
    /// Checks that the format can hold these columns (`KAFKA`: one primitive column; `NONE`:
    /// none).
    pub fn new(
        format: Format,
        columns: Vec<(String, SqlType)>,
        unwrapped: bool,
        is_key: bool,
    ) -> Result<RowFormat, String> {
        let listed = || {
            format!(
                "[{}]",
                columns
                    .iter()
                    .map(|(n, t)| if is_key {
                        format!("`{n}` {t} KEY")
                    } else {
                        format!("`{n}` {t}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if is_key {
            for (n, t) in &columns {
                if contains_map(t) {
                    return Err(format!(
                        "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{n}`. Column type: {t}. See https://github.com/confluentinc/ksql/issues/6621 for more."
                    ));
                }
            }
        }
        let unsupported = |reason: String| {
            format!(
                "{} format does not support schema.\nformat: {format}\nschema: Persistence{{columns={}, features=[]}}\nreason: {reason}",
                if is_key { "Key" } else { "Value" },
                listed()
            )
        };
        match &format {
            Format::Kafka => {
                if columns.len() > 1 {
                    return Err(unsupported(format!(
                        "The 'KAFKA' format only supports a single field. Got: {}",
                        listed()
                    )));
                }
                if let Some((_, t)) = columns.first() {
                    kafka::check_type(t).map_err(&unsupported)?;
                }
            }
            Format::None if !columns.is_empty() => {
                return Err(unsupported(format!(
                    "The 'NONE' format can only be used when no columns are defined. Got: {}",
                    listed()
                )));
            }
            Format::Delimited(_) => {
                for (n, t) in &columns {
                    if matches!(t, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)) {
                        return Err(unsupported(format!(
                            "The 'DELIMITED' format does not support type '{}', column: `{n}`",
                            match t {
                                SqlType::Array(_) => "ARRAY",
                                SqlType::Map(..) => "MAP",
                                _ => "STRUCT",
                            }
                        )));
                    }
                }
            }
            _ => {}
        }
        let unwrapped = unwrapped && columns.len() == 1;
        Ok(RowFormat {
            format,
            columns,
            unwrapped,
        })
    }

    /// The bytes of `row` (`None`: a null row).
    pub fn serialize(&self, row: Option<&[ScalarValue]>) -> Result<Option<Vec<u8>>, FormatError> {
        let Some(row) = row else { return Ok(None) };
        match &self.format {
            Format::None => Ok(None),
            Format::Kafka => match row.first() {
                None => Ok(None),
                Some(v) => kafka::serialize(v).map_err(FormatError),
            },
            Format::Delimited(sep) => Ok(Some(delimited::serialize(row, *sep).into_bytes())),
            Format::Json => {
                let mut out = String::new();
                if self.unwrapped {
                    json::write_json(&row[0], &mut out);
                } else {
                    out.push('{');
                    for (i, ((name, _), v)) in self.columns.iter().zip(row).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::Value::String(name.clone()).to_string());
                        out.push(':');
                        json::write_json(v, &mut out);
                    }
                    out.push('}');
                }
                Ok(Some(out.into_bytes()))
            }
        }
    }

    /// The row in `data` (`None`: null bytes, which hold no row, except in `NONE`).
    pub fn deserialize(&self, data: Option<&[u8]>) -> Result<Option<Row>, FormatError> {
        match &self.format {
            Format::None => Ok(Some(Vec::new())),
            Format::Kafka => match self.columns.first() {
                None => Ok(Some(Vec::new())),
                Some((_, t)) => match data {
                    None => Ok(None),
                    Some(b) => Ok(Some(vec![kafka::deserialize(b, t).map_err(FormatError)?])),
                },
            },
            Format::Delimited(sep) => match data {
                None => Ok(None),
                Some(b) => delimited::deserialize(b, *sep, &self.columns)
                    .map(Some)
                    .map_err(FormatError),
            },
            Format::Json => {
                let Some(b) = data else { return Ok(None) };
                let parsed: serde_json::Value = serde_json::from_slice(b)
                    .map_err(|e| FormatError(format!("Failed to deserialize JSON: {e}")))?;
                if parsed.is_null() {
                    return Ok(None);
                }
                if self.unwrapped {
                    let t = &self.columns[0].1;
                    return json::from_json(&parsed, t)
                        .map(|v| Some(vec![v]))
                        .map_err(FormatError);
                }
                let serde_json::Value::Object(object) = &parsed else {
                    if self.columns.len() == 1 {
                        // (a single column may arrive unwrapped)
                        return json::from_json(&parsed, &self.columns[0].1)
                            .map(|v| Some(vec![v]))
                            .map_err(FormatError);
                    }
                    return Err(FormatError(format!(
                        "Can't convert type. sourceType: {}, requiredType: STRUCT",
                        match parsed {
                            serde_json::Value::Array(_) => "ARRAY",
                            serde_json::Value::String(_) => "STRING",
                            serde_json::Value::Bool(_) => "BOOLEAN",
                            _ => "NUMBER",
                        }
                    )));
                };
                self.columns
                    .iter()
                    .map(|(name, t)| match json::field(object, name) {
                        Some(v) => json::from_json(v, t),
                        None => Ok(crate::value::null(t)),
                    })
                    .collect::<Result<Row, _>>()
                    .map(Some)
                    .map_err(FormatError)
            }
        }
    }
}
