//! `MaskField$Key` / `MaskField$Value`: replaces `fields` with a null-like value of their type
//! (0, false, "", empty list or map) or with `replacement`.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{values, DataError, Decimal, Struct, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "mask fields";

/// Kafka's MaskField.
pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<MaskField, ConfigError> {
        let fields = util::non_empty_list(config, "fields")?;
        let replacement = config.string_opt("replacement");
        if replacement.as_deref() == Some("") {
            return Err(ConfigError::invalid(
                "replacement",
                "",
                "String must be non-empty",
            ));
        }
        Ok(MaskField {
            side,
            fields,
            replacement,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }

    fn masked(&self, v: &Value) -> Result<Value, DataError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => Ok(match v {
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::Decimal(_) => Value::Decimal(Decimal::from_i64(0, 0)),
                Value::Date(_) => Value::Date(0),
                Value::String(_) => Value::String(String::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                other => {
                    return Err(DataError::new(format!(
                        "Cannot mask value of type: {}",
                        other.java_class()
                    )))
                }
            }),
            Some(r) => {
                let text = Value::String(r.clone());
                let bad_number = || {
                    DataError::new(format!(
                        "Unable to convert {r} (class java.lang.String) to a number"
                    ))
                };
                Ok(match v {
                    Value::Int8(_) => Value::Int8(
                        values::convert_to_byte(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::Int16(_) => Value::Int16(
                        values::convert_to_short(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::Int32(_) => Value::Int32(
                        values::convert_to_integer(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::Int64(_) => Value::Int64(
                        values::convert_to_long(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::Float32(_) => Value::Float32(
                        values::convert_to_float(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::Float64(_) => Value::Float64(
                        values::convert_to_double(None, &text)
                            .ok()
                            .flatten()
                            .ok_or_else(bad_number)?,
                    ),
                    Value::String(_) => text,
                    Value::Decimal(_) => Value::Decimal(Decimal::parse(r).ok_or_else(bad_number)?),
                    other => {
                        return Err(DataError::new(format!(
                            "Cannot mask value of type {} with custom replacement.",
                            other.java_class()
                        )))
                    }
                })
            }
        }
    }
}

impl Transformation for MaskField {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        let Some(_) = self.side.schema(&r) else {
            let entries = util::require_map(value, PURPOSE)?;
            let mut puts = Vec::new();
            // in the order Kafka's HashSet of field names iterates
            let order =
                util::java_set_order(&self.fields, util::hash_set_capacity(self.fields.len()));
            for f in order {
                let masked = self.masked(util::map_get(entries, &f))?;
                puts.push((Value::String(f), masked));
            }
            let updated = util::copy_and_put(entries, puts);
            return Ok(Some(self.side.set_value(r, updated)));
        };
        let s = util::require_struct(value, PURPOSE)?;
        let mut updated = Struct::new(s.schema().clone())?;
        for f in s.schema().fields() {
            let orig = util::field_value(s, f.name(), self.replace_null_with_default)?;
            let v = if self.fields.iter().any(|m| m == f.name()) {
                self.masked(&orig)?
            } else {
                orig
            };
            updated.put(f.name(), v)?;
        }
        Ok(Some(self.side.set_value(r, Value::Struct(updated))))
    }
}
