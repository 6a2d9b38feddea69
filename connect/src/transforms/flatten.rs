//! `Flatten$Key` / `Flatten$Value`: nested structs (or maps) become top-level fields named
//! with their path (`delimiter`, `.` by default).

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, Schema, SchemaBuilder, Struct, Type, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "flattening";

/// Kafka's Flatten.
pub struct Flatten {
    side: Side,
    delimiter: String,
}

impl Flatten {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<Flatten, ConfigError> {
        Ok(Flatten {
            side,
            delimiter: config.string_or("delimiter", "."),
        })
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), DataError> {
        for (k, v) in entries {
            let name = self.name(prefix, &k.to_string());
            match v {
                Value::Null => out.push((Value::String(name), Value::Null)),
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(DataError::new(format!(
                        "Flatten transformation does not support {} for record without schemas (for field {name}).",
                        v.java_class()
                    )))
                }
                Value::Decimal(_) | Value::Date(_) => {
                    return Err(DataError::new(format!(
                        "Flatten transformation was passed a value of type {} which is not supported by Connect's data API",
                        v.java_class()
                    )))
                }
                _ => {
                    // a LinkedHashMap: a repeated name keeps its first place
                    match out.iter_mut().find(|(k2, _)| k2.as_str() == Some(name.as_str())) {
                        Some(e) => e.1 = v.clone(),
                        None => out.push((Value::String(name), v.clone())),
                    }
                }
            }
        }
        Ok(())
    }

    fn build_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        mut out: SchemaBuilder,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<SchemaBuilder, DataError> {
        for f in schema.fields() {
            let name = self.name(prefix, f.name());
            let field_optional = optional || f.schema().is_optional();
            let default = match (f.schema().default_value(), parent_default) {
                (Some(d), _) => Some(d.clone()),
                (None, Some(p)) => Some(p.get(f.name())?.clone()).filter(|v| !v.is_null()),
                (None, None) => None,
            };
            match f.schema().ty() {
                Type::Struct => {
                    let d = match &default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    out = self.build_schema(f.schema(), &name, out, field_optional, d)?;
                }
                Type::Map => {
                    return Err(DataError::new(format!(
                        "Flatten transformation does not support MAP for record with schemas (for field {name})."
                    )))
                }
                ty => {
                    let base = if ty == Type::Array {
                        SchemaBuilder::array(f.schema().value_schema().cloned().unwrap_or_else(|| Schema::optional(Type::String)))
                    } else {
                        SchemaBuilder::new(ty)
                    };
                    let mut b = util::copy_schema_basics(f.schema(), base);
                    if field_optional {
                        b = b.optional();
                    }
                    if let Some(d) = default {
                        b = b.default_value(d)?;
                    }
                    out = out.field(name, b.build())?;
                }
            }
        }
        Ok(out)
    }

    fn build_value(&self, s: &Struct, prefix: &str, out: &mut Struct) -> Result<(), DataError> {
        for f in s.schema().fields() {
            let name = self.name(prefix, f.name());
            match f.schema().ty() {
                Type::Struct => {
                    if let Value::Struct(inner) = s.get(f.name())? {
                        self.build_value(inner, &name, out)?;
                    }
                }
                Type::Map => {
                    return Err(DataError::new(format!(
                        "Flatten transformation does not support MAP for record with schemas (for field {name})."
                    )))
                }
                _ => {
                    out.put(&name, s.get(f.name())?.clone())?;
                }
            }
        }
        Ok(())
    }
}

impl Transformation for Flatten {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        if value.is_null() {
            return Ok(Some(r));
        }
        let Some(schema) = self.side.schema(&r) else {
            let entries = util::require_map(value, PURPOSE)?;
            let mut out = Vec::new();
            self.flatten_map(entries, "", &mut out)?;
            return Ok(Some(self.side.set(r, None, Value::Map(out))));
        };
        let value = util::require_struct(value, PURPOSE)?;
        let default = match schema.default_value() {
            Some(Value::Struct(s)) => Some(s),
            _ => None,
        };
        let b = util::copy_schema_basics(schema, SchemaBuilder::struct_());
        let updated_schema = self
            .build_schema(schema, "", b, schema.is_optional(), default)?
            .build();
        let mut updated = Struct::new(updated_schema.clone())?;
        self.build_value(value, "", &mut updated)?;
        Ok(Some(self.side.set(
            r,
            Some(updated_schema),
            Value::Struct(updated),
        )))
    }
}
