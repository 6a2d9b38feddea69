//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the schema's `schema.name` and/or
//! `schema.version`.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, Struct, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

/// Kafka's SetSchemaMetadata.
pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

impl SetSchemaMetadata {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<SetSchemaMetadata, ConfigError> {
        let name = config.string_opt("schema.name");
        let version = match config.string_opt("schema.version") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                ConfigError::invalid("schema.version", &v, "Not a number of type INT")
            })?),
        };
        if name.is_none() && version.is_none() {
            return Err(ConfigError::new(
                "Neither schema name nor version configured",
            ));
        }
        Ok(SetSchemaMetadata {
            side,
            name,
            version,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }
}

impl Transformation for SetSchemaMetadata {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        let schema = self.side.schema(&r);
        if value.is_null() && schema.is_none() {
            return Ok(Some(r));
        }
        let schema = util::require_schema(schema, "updating schema metadata")?;
        if schema.ty() != crate::data::Type::Struct {
            // Kafka copies the schema's fields, which only structs have
            return Err(DataError::new("Cannot list fields on non-struct type"));
        }
        let mut b = schema.to_builder();
        if let Some(n) = &self.name {
            b = b.name(n.clone());
        }
        if let Some(v) = self.version {
            b = b.version(v);
        }
        let updated_schema = b.build();
        let updated = match value {
            Value::Struct(s) => {
                let mut out = Struct::new(updated_schema.clone())?;
                for f in updated_schema.fields() {
                    out.put(
                        f.name(),
                        util::field_value(s, f.name(), self.replace_null_with_default)?,
                    )?;
                }
                Value::Struct(out)
            }
            other => other.clone(),
        };
        Ok(Some(self.side.set(r, Some(updated_schema), updated)))
    }
}
