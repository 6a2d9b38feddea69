//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp (the whole key
//! or value, or its `field`) between `string` (with `format`), `unix` (with `unix.precision`),
//! `Date`, `Time` and `Timestamp`.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::date_format::DateFormat;
use crate::data::logical::{self, Logical};
use crate::data::{DataError, Schema, SchemaBuilder, Struct, Type, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "converting timestamp formats";
const TYPES: [&str; 5] = ["string", "unix", "Date", "Time", "Timestamp"];

/// Kafka's TimestampConverter.
pub struct TimestampConverter {
    side: Side,
    field: String,
    target: String,
    format: Option<DateFormat>,
    precision: String,
    replace_null_with_default: bool,
}

impl TimestampConverter {
    pub(crate) fn configure(
        side: Side,
        config: &Config,
    ) -> Result<TimestampConverter, ConfigError> {
        let field = config.string_or("field", "");
        let target = util::valid_string(config, "target.type", None, &TYPES)?;
        let pattern = config.string_or("format", "");
        let precision = util::valid_string(
            config,
            "unix.precision",
            Some("milliseconds"),
            &["nanoseconds", "microseconds", "milliseconds", "seconds"],
        )?;
        let replace_null_with_default = util::replace_null_with_default(config)?;
        if target == "string" && pattern.trim().is_empty() {
            return Err(ConfigError::new(
                "TimestampConverter requires format option to be specified when using string timestamps",
            ));
        }
        let format = if pattern.trim().is_empty() {
            None
        } else {
            Some(DateFormat::new(&pattern).map_err(|e| {
                util::wrapped_config_error(
                    &format!("java.lang.IllegalArgumentException: {e}"),
                    &format!(
                        "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {pattern}"
                    ),
                )
            })?)
        };
        Ok(TimestampConverter {
            side,
            field,
            target,
            format,
            precision,
            replace_null_with_default,
        })
    }

    fn target_schema(&self, optional: bool) -> Schema {
        let b = match self.target.as_str() {
            "string" => SchemaBuilder::new(Type::String),
            "unix" => SchemaBuilder::new(Type::Int64),
            "Date" => logical::date_schema(),
            "Time" => logical::time_schema(),
            _ => logical::timestamp_schema(),
        };
        b.set_optional(optional).build()
    }

    /// The instant a timestamp of type `from` (inferred when `None`) stands for.
    fn to_raw(&self, value: &Value, from: &str) -> Result<i64, DataError> {
        match from {
            "string" => {
                let Value::String(s) = value else {
                    return Err(DataError::new(format!(
                        "Expected string timestamp to be a String, but found {}",
                        value.java_class()
                    )));
                };
                let format = self.format.as_ref().ok_or_else(|| {
                    DataError::new("Cannot invoke \"java.text.SimpleDateFormat.parse(String)\" because \"config.format\" is null")
                        .with_class("NullPointerException")
                })?;
                format.parse(s).ok_or_else(|| {
                    DataError::new(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            "unix" => {
                let Value::Int64(t) = value else {
                    return Err(DataError::new(format!(
                        "Expected Unix timestamp to be a Long, but found {}",
                        value.java_class()
                    )));
                };
                Ok(match self.precision.as_str() {
                    "seconds" => t.saturating_mul(1000),
                    "microseconds" => t / 1000,
                    "nanoseconds" => t / 1_000_000,
                    _ => *t,
                })
            }
            kind => match value {
                Value::Date(ms) => Ok(*ms),
                other => Err(DataError::new(format!(
                    "Expected {kind} to be a java.util.Date, but found {}",
                    other.java_class()
                ))),
            },
        }
    }

    fn to_target(&self, millis: i64) -> Value {
        match self.target.as_str() {
            "string" => Value::String(
                self.format
                    .as_ref()
                    .map_or_else(String::new, |f| f.format(millis)),
            ),
            "unix" => Value::Int64(match self.precision.as_str() {
                "seconds" => millis / 1000,
                "microseconds" => millis.saturating_mul(1000),
                "nanoseconds" => millis.saturating_mul(1_000_000),
                _ => millis,
            }),
            "Date" => Value::Date(millis - millis.rem_euclid(86_400_000)),
            "Time" => Value::Date(millis.rem_euclid(86_400_000)),
            _ => Value::Date(millis),
        }
    }

    /// Converts a timestamp whose type is `from` (inferred from the value when `None`).
    fn convert(&self, value: &Value, from: Option<&str>) -> Result<Value, DataError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let from = match from {
            Some(f) => f,
            None => match value {
                Value::Date(_) => "Timestamp",
                Value::Int64(_) => "unix",
                Value::String(_) => "string",
                other => {
                    return Err(DataError::new(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        other.java_class()
                    )))
                }
            },
        };
        Ok(self.to_target(self.to_raw(value, from)?))
    }

    fn convert_struct(&self, value: &Struct, schema: &Schema) -> Result<Struct, DataError> {
        let mut updated = Struct::new(schema.clone())?;
        for f in value.schema().fields() {
            let v = util::field_value(value, f.name(), self.replace_null_with_default)?;
            let v = if f.name() == self.field {
                self.convert(&v, Some(type_of_schema(f.schema())?))?
            } else {
                v
            };
            updated.put(f.name(), v)?;
        }
        Ok(updated)
    }
}

/// Kafka's `timestampTypeFromSchema`.
fn type_of_schema(schema: &Schema) -> Result<&'static str, DataError> {
    match Logical::of(schema) {
        Some(Logical::Timestamp) => Ok("Timestamp"),
        Some(Logical::Date) => Ok("Date"),
        Some(Logical::Time) => Ok("Time"),
        _ => match schema.ty() {
            Type::String => Ok("string"),
            Type::Int64 => Ok("unix"),
            _ => Err(DataError::new(format!(
                "Schema {schema} does not correspond to a known timestamp type format"
            ))
            .with_class("ConnectException")),
        },
    }
}

impl Transformation for TimestampConverter {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        let Some(schema) = self.side.schema(&r) else {
            if value.is_null() || self.field.is_empty() {
                let v = self.convert(value, None)?;
                return Ok(Some(self.side.set(r, None, v)));
            }
            let entries = util::require_map(value, PURPOSE)?;
            let converted = self.convert(util::map_get(entries, &self.field), None)?;
            let updated = util::copy_and_put(
                entries,
                vec![(Value::String(self.field.clone()), converted)],
            );
            return Ok(Some(self.side.set(r, None, updated)));
        };
        if self.field.is_empty() {
            let updated_schema = self.target_schema(schema.is_optional());
            let v = self.convert(value, Some(type_of_schema(schema)?))?;
            return Ok(Some(self.side.set(r, Some(updated_schema), v)));
        }
        if !value.is_null() {
            util::require_struct(value, PURPOSE)?;
        }
        let mut b = util::copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in util::struct_fields(schema)? {
            let s = if f.name() == self.field {
                self.target_schema(f.schema().is_optional())
            } else {
                f.schema().clone()
            };
            b = b.field(f.name(), s)?;
        }
        if schema.is_optional() {
            b = b.optional();
        }
        if let Some(Value::Struct(d)) = schema.default_value() {
            let probe = b.clone().build();
            let updated_default = self.convert_struct(d, &probe)?;
            b = b.default_value(Value::Struct(updated_default))?;
        }
        let updated_schema = b.build();
        let updated = match value {
            Value::Struct(s) => Value::Struct(self.convert_struct(s, &updated_schema)?),
            _ => Value::Null,
        };
        Ok(Some(self.side.set(r, Some(updated_schema), updated)))
    }
}
