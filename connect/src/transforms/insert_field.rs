//! `InsertField$Key` / `InsertField$Value`: adds fields from the record's metadata (topic,
//! partition, offset, timestamp) or a static value.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{logical, DataError, Schema, SchemaBuilder, Struct, Type, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "field insertion";

/// A field to insert: `name`, `name?` (optional, the default) or `name!` (required).
#[derive(Clone, Debug)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(config: &Config, key: &str) -> Option<Spec> {
        let spec = config.string_opt(key)?;
        Some(if let Some(n) = spec.strip_suffix('?') {
            Spec {
                name: n.into(),
                optional: true,
            }
        } else if let Some(n) = spec.strip_suffix('!') {
            Spec {
                name: n.into(),
                optional: false,
            }
        } else {
            Spec {
                name: spec,
                optional: true,
            }
        })
    }

    fn schema(&self, ty: Type) -> Schema {
        SchemaBuilder::new(ty).set_optional(self.optional).build()
    }
}

/// Kafka's InsertField.
pub struct InsertField {
    side: Side,
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
}

impl InsertField {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<InsertField, ConfigError> {
        let t = InsertField {
            side,
            topic: Spec::parse(config, "topic.field"),
            partition: Spec::parse(config, "partition.field"),
            offset: Spec::parse(config, "offset.field"),
            timestamp: Spec::parse(config, "timestamp.field"),
            static_field: Spec::parse(config, "static.field"),
            static_value: config.string_opt("static.value"),
            replace_null_with_default: util::replace_null_with_default(config)?,
        };
        if t.topic.is_none()
            && t.partition.is_none()
            && t.offset.is_none()
            && t.timestamp.is_none()
            && t.static_field.is_none()
        {
            return Err(ConfigError::new("No field insertion configured"));
        }
        if let (Some(f), None) = (&t.static_field, &t.static_value) {
            return Err(ConfigError::invalid(
                "static.value",
                "null",
                &format!("No value specified for static field: {}", java_spec(f)),
            ));
        }
        Ok(t)
    }

    /// The fields to add, in Kafka's order, with their values (`timestamp_value` makes the
    /// timestamp a `Date` for structs, a long for maps).
    fn insertions(
        &self,
        r: &ConnectRecord,
        timestamp_value: fn(i64) -> Value,
    ) -> Result<Vec<(String, Value)>, DataError> {
        let mut out = Vec::new();
        if let Some(f) = &self.topic {
            out.push((f.name.clone(), Value::String(r.topic.clone())));
        }
        if let (Some(f), Some(p)) = (&self.partition, r.kafka_partition) {
            out.push((f.name.clone(), Value::Int32(p)));
        }
        if let Some(f) = &self.offset {
            out.push((
                f.name.clone(),
                Value::Int64(util::require_sink_offset(r, PURPOSE)?),
            ));
        }
        if let (Some(f), Some(ts)) = (&self.timestamp, r.timestamp) {
            out.push((f.name.clone(), timestamp_value(ts)));
        }
        if let (Some(f), Some(v)) = (&self.static_field, &self.static_value) {
            out.push((f.name.clone(), Value::String(v.clone())));
        }
        Ok(out)
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, DataError> {
        let mut b = util::copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in schema.fields() {
            b = b.field(f.name(), f.schema().clone())?;
        }
        if let Some(f) = &self.topic {
            b = b.field(f.name.clone(), f.schema(Type::String))?;
        }
        if let Some(f) = &self.partition {
            b = b.field(f.name.clone(), f.schema(Type::Int32))?;
        }
        if let Some(f) = &self.offset {
            b = b.field(f.name.clone(), f.schema(Type::Int64))?;
        }
        if let Some(f) = &self.timestamp {
            b = b.field(
                f.name.clone(),
                logical::timestamp_schema().set_optional(f.optional).build(),
            )?;
        }
        if let Some(f) = &self.static_field {
            b = b.field(f.name.clone(), f.schema(Type::String))?;
        }
        Ok(b.build())
    }
}

/// How Kafka prints an `InsertionSpec` in its message (its default `toString`): not
/// reproducible, so the name.
fn java_spec(f: &Spec) -> String {
    format!("InsertionSpec{{name={}}}", f.name)
}

impl Transformation for InsertField {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        if value.is_null() {
            return Ok(Some(r));
        }
        let Some(schema) = self.side.schema(&r) else {
            let entries = util::require_map(value, PURPOSE)?;
            let puts = self
                .insertions(&r, Value::Int64)?
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect();
            let updated = util::copy_and_put(entries, puts);
            return Ok(Some(self.side.set(r, None, updated)));
        };
        let value = util::require_struct(value, PURPOSE)?;
        let updated_schema = self.updated_schema(schema)?;
        let mut updated = Struct::new(updated_schema.clone())?;
        for f in value.schema().fields() {
            let v = util::field_value(value, f.name(), self.replace_null_with_default)?;
            updated.put(f.name(), v)?;
        }
        for (name, v) in self.insertions(&r, Value::Date)? {
            updated.put(&name, v)?;
        }
        Ok(Some(self.side.set(
            r,
            Some(updated_schema),
            Value::Struct(updated),
        )))
    }
}
