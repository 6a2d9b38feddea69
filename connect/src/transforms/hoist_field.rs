//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct (or map) of one
//! field.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, SchemaBuilder, Struct, Value};
use crate::record::ConnectRecord;

use super::util::Side;
use super::Transformation;

/// Kafka's HoistField.
pub struct HoistField {
    side: Side,
    field: String,
}

impl HoistField {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<HoistField, ConfigError> {
        Ok(HoistField {
            side,
            field: config.string("field")?,
        })
    }
}

impl Transformation for HoistField {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r).clone();
        match self.side.schema(&r) {
            None => {
                let map = Value::Map(vec![(Value::String(self.field.clone()), value)]);
                Ok(Some(self.side.set(r, None, map)))
            }
            Some(schema) => {
                let updated_schema = SchemaBuilder::struct_()
                    .field(self.field.clone(), schema.clone())?
                    .build();
                let mut s = Struct::new(updated_schema.clone())?;
                s.put(&self.field, value)?;
                Ok(Some(self.side.set(
                    r,
                    Some(updated_schema),
                    Value::Struct(s),
                )))
            }
        }
    }
}
