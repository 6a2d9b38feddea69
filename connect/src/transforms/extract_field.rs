//! `ExtractField$Key` / `ExtractField$Value`: the key or value becomes one of its fields
//! (`field`; with `field.syntax.version=V2`, a dotted path into nested structs or maps, with
//! backticks around names that hold dots).

use crate::config::{Config, ConfigError, ConfigExt};

use super::field_path::FieldPath;
use crate::data::{DataError, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "field extraction";

/// Kafka's ExtractField.
pub struct ExtractField {
    side: Side,
    original: String,
    path: FieldPath,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<ExtractField, ConfigError> {
        let original = config.string("field")?;
        let path = FieldPath::new(&original, config)?;
        Ok(ExtractField {
            side,
            original,
            path,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }
}

impl Transformation for ExtractField {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        let Some(schema) = self.side.schema(&r) else {
            let v = match value {
                Value::Null => Value::Null,
                v => self.path.value_from_map(util::require_map(v, PURPOSE)?)?,
            };
            return Ok(Some(self.side.set(r, None, v)));
        };
        let s = match value {
            Value::Null => None,
            v => Some(util::require_struct(v, PURPOSE)?),
        };
        let field = self
            .path
            .field_from(schema)?
            .ok_or_else(|| unknown(&self.original))?;
        let v = match s {
            Some(s) => self
                .path
                .value_from_struct(s, self.replace_null_with_default)?,
            None => Value::Null,
        };
        Ok(Some(self.side.set(r, Some(field.schema().clone()), v)))
    }
}

/// Kafka throws an `IllegalArgumentException` here.
fn unknown(path: &str) -> DataError {
    DataError::new(format!("Unknown field: {path}")).with_class("IllegalArgumentException")
}
