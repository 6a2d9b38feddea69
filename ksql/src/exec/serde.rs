//! Rows in a format as the streams library's serdes.

use std::sync::Arc;

use tributary_streams::{Serde, SerdeError, SharedSerde};

use crate::format::RowFormat;
use crate::value::Row;

/// Keys: a row of the key columns (`NONE` and null keys: a row of nulls or none).
pub struct KeySerde(pub RowFormat);

impl Serde<Row> for KeySerde {
    fn serialize(&self, _topic: &str, value: &Row) -> Result<Option<Vec<u8>>, SerdeError> {
        // (a single null key column is a null key; several are a row of nulls)
        if value.is_empty() || (value.len() == 1 && value[0].is_null()) {
            return Ok(None);
        }
        self.0
            .serialize(Some(value))
            .map_err(|e| SerdeError(e.to_string()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<Row, SerdeError> {
        match self.0.deserialize(data) {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Ok(self
                .0
                .columns
                .iter()
                .map(|(_, t)| crate::value::null(t))
                .collect()),
            Err(e) => Err(SerdeError(e.to_string())),
        }
    }
}

/// Values: a row of the value columns, or none (a null value: a tombstone).
pub struct ValueSerde(pub RowFormat);

impl Serde<Option<Row>> for ValueSerde {
    fn serialize(&self, _topic: &str, value: &Option<Row>) -> Result<Option<Vec<u8>>, SerdeError> {
        self.0
            .serialize(value.as_ref())
            .map_err(|e| SerdeError(e.to_string()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<Option<Row>, SerdeError> {
        self.0
            .deserialize(data)
            .map_err(|e| SerdeError(e.to_string()))
    }

    fn is_null(&self, value: &Option<Row>) -> bool {
        value.is_none()
    }
}

/// An aggregation's states: a row that is never null (a state of one null value is still a
/// state).
pub struct StateSerde(pub RowFormat);

impl Serde<Row> for StateSerde {
    fn serialize(&self, _topic: &str, value: &Row) -> Result<Option<Vec<u8>>, SerdeError> {
        self.0
            .serialize(Some(value))
            .map_err(|e| SerdeError(e.to_string()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<Row, SerdeError> {
        match self.0.deserialize(data) {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(SerdeError("an aggregation state cannot be null".into())),
            Err(e) => Err(SerdeError(e.to_string())),
        }
    }
}

/// The serdes of a source's keys and values.
pub type RowSerdes = (SharedSerde<Row>, SharedSerde<Option<Row>>);

/// The shared serdes of a key and a value format.
pub fn serdes(key: RowFormat, value: RowFormat) -> RowSerdes {
    (Arc::new(KeySerde(key)), Arc::new(ValueSerde(value)))
}
