//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies or moves (`operation`) fields into headers
//! (`fields` to `headers`, pairwise).

use crate::config::{Config, ConfigError};
use crate::data::{java, DataError, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

/// Kafka's HeaderFrom.
pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
}

impl HeaderFrom {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<HeaderFrom, ConfigError> {
        let fields = util::non_empty_list_keeping_repeats(config, "fields")?;
        let headers = util::non_empty_list_keeping_repeats(config, "headers")?;
        let operation = util::valid_string(config, "operation", None, &["move", "copy"])?;
        if fields.len() != headers.len() {
            return Err(ConfigError::new(
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        Ok(HeaderFrom {
            side,
            fields,
            headers,
            moving: operation == "move",
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }
}

impl Transformation for HeaderFrom {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let purpose = format!("header {}", if self.moving { "move" } else { "copy" });
        let value = self.side.value(&r).clone();
        let mut headers = r.headers.clone();
        let Some(schema) = self.side.schema(&r).cloned() else {
            let entries = util::require_map(&value, &purpose)?;
            for (field, header) in self.fields.iter().zip(&self.headers) {
                let v = util::map_get(entries, field).clone();
                headers.add(header.clone(), SchemaAndValue::new(None, v));
            }
            // new HashMap<>(value), then the moved fields removed
            let kept: Vec<(Value, Value)> = entries
                .iter()
                .filter(|(k, _)| {
                    !(self.moving && self.fields.iter().any(|f| k.as_str() == Some(f.as_str())))
                })
                .cloned()
                .collect();
            let updated = Value::Map(java::hash_map_order(
                kept,
                java::copy_capacity(entries.len()),
            ));
            let mut out = self.side.set(r, None, updated);
            out.headers = headers;
            return Ok(Some(out));
        };
        let s = util::require_struct(&value, &purpose)?;
        let (updated_schema, updated) = if self.moving {
            let mut b = util::copy_schema_basics(&schema, SchemaBuilder::struct_());
            for f in schema.fields() {
                if !self.fields.contains(&f.name().to_string()) {
                    b = b.field(f.name(), f.schema().clone())?;
                }
            }
            let moved = b.build();
            let mut out = Struct::new(moved.clone())?;
            for f in moved.fields() {
                out.put(
                    f.name(),
                    util::field_value(s, f.name(), self.replace_null_with_default)?,
                )?;
            }
            (moved, Value::Struct(out))
        } else {
            (schema.clone(), value.clone())
        };
        for (field, header) in self.fields.iter().zip(&self.headers) {
            let v = if s.schema().field(field).is_some() {
                util::field_value(s, field, self.replace_null_with_default)?
            } else {
                Value::Null
            };
            let field_schema = schema
                .field(field)
                .ok_or_else(|| {
                    DataError::new(
                        "Cannot invoke \"org.apache.kafka.connect.data.Field.schema()\" because the return value of \"org.apache.kafka.connect.data.Schema.field(String)\" is null",
                    )
                    .with_class("NullPointerException")
                })?
                .schema()
                .clone();
            headers.add(header.clone(), SchemaAndValue::new(Some(field_schema), v));
        }
        let mut out = self.side.set(r, Some(updated_schema), updated);
        out.headers = headers;
        Ok(Some(out))
    }
}
