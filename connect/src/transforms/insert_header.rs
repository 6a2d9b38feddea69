//! `InsertHeader`: adds a header `header` with the literal `value.literal` (parsed as Kafka's
//! `Values.parseString` parses header text).

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, SchemaAndValue};
use crate::record::ConnectRecord;

use super::Transformation;

/// Kafka's InsertHeader.
pub struct InsertHeader {
    header: String,
    value: SchemaAndValue,
}

impl InsertHeader {
    pub(crate) fn configure(config: &Config) -> Result<InsertHeader, ConfigError> {
        let header = config.string("header")?;
        let literal = config.string("value.literal")?;
        Ok(InsertHeader {
            header,
            value: crate::data::values::parse_string(&literal),
        })
    }
}

impl Transformation for InsertHeader {
    fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        r.headers.add(self.header.clone(), self.value.clone());
        Ok(Some(r))
    }
}
