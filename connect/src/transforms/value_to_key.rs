//! `ValueToKey`: the record key becomes a struct (or map) of fields copied from the value.

use crate::config::{Config, ConfigError};
use crate::data::{java, DataError, SchemaBuilder, Struct, Value};
use crate::record::ConnectRecord;

use super::field_path::FieldPath;
use super::util;
use super::Transformation;

const PURPOSE: &str = "copying fields from value to key";

/// Kafka's ValueToKey.
pub struct ValueToKey {
    fields: Vec<String>,
    paths: Vec<FieldPath>,
    replace_null_with_default: bool,
}

impl ValueToKey {
    pub(crate) fn configure(config: &Config) -> Result<ValueToKey, ConfigError> {
        let fields = util::non_empty_list(config, "fields")?;
        let paths = fields
            .iter()
            .map(|f| FieldPath::new(f, config))
            .collect::<Result<_, _>>()?;
        Ok(ValueToKey {
            fields,
            paths,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }
}

impl Transformation for ValueToKey {
    fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        if r.value_schema.is_none() {
            let entries = util::require_map(&r.value, PURPOSE)?;
            let mut key: Vec<(Value, Value)> = Vec::new();
            for (f, path) in self.fields.iter().zip(&self.paths) {
                key.push((Value::String(f.clone()), path.value_from_map(entries)?));
            }
            r.key_schema = None;
            r.key = Value::Map(java::hash_map_order(
                key,
                java::sized_capacity(self.fields.len()),
            ));
            return Ok(Some(r));
        }
        let value = util::require_struct(&r.value, PURPOSE)?;
        let mut b = SchemaBuilder::struct_();
        for (f, path) in self.fields.iter().zip(&self.paths) {
            let field = path
                .field_from(value.schema())?
                .ok_or_else(|| DataError::new(format!("Field does not exist: {f}")))?;
            b = b.field(f.clone(), field.schema().clone())?;
        }
        let key_schema = b.build();
        let mut key = Struct::new(key_schema.clone())?;
        for (f, path) in self.fields.iter().zip(&self.paths) {
            key.put(
                f,
                path.value_from_struct(value, self.replace_null_with_default)?,
            )?;
        }
        r.key_schema = Some(key_schema);
        r.key = Value::Struct(key);
        Ok(Some(r))
    }
}
