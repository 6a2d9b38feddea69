//! Rows in a format as the streams library's serdes.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use tributary_streams::{Header, Serde, SerdeError, SharedSerde};

use crate::format::RowFormat;
use crate::types::SqlType;
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

/// Keys of a windowed source: the key columns, then the window's start and end
/// (`WINDOWSTART`, `WINDOWEND`), in Kafka Streams' windowed key bytes (the key, then a time
/// window's start; a session's end then start).
pub struct WindowedKeySerde {
    /// The key columns' serde.
    pub key: KeySerde,
    /// How the keys are windowed.
    pub windowing: crate::catalog::Windowing,
}

impl Serde<Row> for WindowedKeySerde {
    fn serialize(&self, topic: &str, value: &Row) -> Result<Option<Vec<u8>>, SerdeError> {
        let n = value.len().saturating_sub(2);
        let bound = |i: usize| match value.get(i) {
            Some(datafusion_common::ScalarValue::Int64(Some(v))) => Ok(*v),
            _ => Err(SerdeError("a windowed key without its window".into())),
        };
        let (start, end) = (bound(n)?, bound(n + 1)?);
        let mut bytes = self
            .key
            .serialize(topic, &value[..n].to_vec())?
            .unwrap_or_default();
        match self.windowing {
            crate::catalog::Windowing::Time { .. } => bytes.extend(start.to_be_bytes()),
            crate::catalog::Windowing::Session => {
                bytes.extend(end.to_be_bytes());
                bytes.extend(start.to_be_bytes());
            }
        }
        Ok(Some(bytes))
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Row, SerdeError> {
        let data = data.ok_or_else(|| SerdeError("a windowed key cannot be null".into()))?;
        let long = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            i64::from_be_bytes(a)
        };
        let (inner, start, end) = match self.windowing {
            crate::catalog::Windowing::Time { size, .. } if data.len() >= 8 => {
                let (inner, start) = data.split_at(data.len() - 8);
                let start = long(start);
                (inner, start, start.saturating_add(size))
            }
            crate::catalog::Windowing::Session if data.len() >= 16 => {
                let (inner, bounds) = data.split_at(data.len() - 16);
                (inner, long(&bounds[8..]), long(&bounds[..8]))
            }
            _ => return Err(SerdeError("a windowed key too short for its window".into())),
        };
        let mut row = self.key.deserialize(topic, Some(inner))?;
        row.push(datafusion_common::ScalarValue::Int64(Some(start)));
        row.push(datafusion_common::ScalarValue::Int64(Some(end)));
        Ok(row)
    }
}

/// Values: a row of the value columns, or none (a null value: a tombstone). A source with
/// header columns reads them from the record's headers after its value's columns; they are
/// never written (nulls when read without headers, as from a store).
pub struct ValueSerde {
    format: RowFormat,
    headers: Vec<Option<String>>,
}

impl ValueSerde {
    /// Rows of `format`'s columns.
    pub fn new(format: RowFormat) -> ValueSerde {
        ValueSerde {
            format,
            headers: Vec::new(),
        }
    }

    /// Rows of `format`'s columns, then one column per header column: every header (`None`)
    /// or the last one with a key.
    pub fn with_headers(format: RowFormat, headers: Vec<Option<String>>) -> ValueSerde {
        ValueSerde { format, headers }
    }

    fn read(
        &self,
        data: Option<&[u8]>,
        headers: Option<&[Header]>,
    ) -> Result<Option<Row>, SerdeError> {
        let row = self
            .format
            .deserialize(data)
            .map_err(|e| SerdeError(e.to_string()))?;
        Ok(row.map(|mut row| {
            row.extend(
                self.headers
                    .iter()
                    .map(|h| header_value(h.as_deref(), headers)),
            );
            row
        }))
    }
}

/// A header column's value: every header as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`, or the
/// last value of the header `key` (null when there is none, or no headers were read).
fn header_value(key: Option<&str>, headers: Option<&[Header]>) -> ScalarValue {
    let bytes = |v: &Option<Vec<u8>>| ScalarValue::Binary(v.clone());
    match key {
        Some(key) => headers
            .and_then(|hs| hs.iter().rev().find(|(k, _)| k == key))
            .map_or(ScalarValue::Binary(None), |(_, v)| bytes(v)),
        None => {
            let ty = crate::catalog::headers_type();
            let SqlType::Array(item) = &ty else {
                return ScalarValue::Null;
            };
            let SqlType::Struct(fields) = item.as_ref() else {
                return ScalarValue::Null;
            };
            let Some(headers) = headers else {
                return crate::value::null(&ty);
            };
            let items: Result<Vec<ScalarValue>, String> = headers
                .iter()
                .map(|(k, v)| {
                    crate::value::strukt(fields, &[ScalarValue::Utf8(Some(k.clone())), bytes(v)])
                })
                .collect();
            items
                .and_then(|items| crate::value::list(&items, item))
                .unwrap_or_else(|_| crate::value::null(&ty))
        }
    }
}

impl Serde<Option<Row>> for ValueSerde {
    fn serialize(&self, _topic: &str, value: &Option<Row>) -> Result<Option<Vec<u8>>, SerdeError> {
        let written = match value {
            // (a row read with header columns is written without them)
            Some(row) if !self.headers.is_empty() => {
                let stored = row.len().saturating_sub(self.headers.len());
                self.format.serialize(Some(&row[..stored].to_vec()))
            }
            _ => self.format.serialize(value.as_ref()),
        };
        written.map_err(|e| SerdeError(e.to_string()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<Option<Row>, SerdeError> {
        self.read(data, None)
    }

    fn deserialize_with_headers(
        &self,
        _topic: &str,
        headers: &[Header],
        data: Option<&[u8]>,
    ) -> Result<Option<Row>, SerdeError> {
        self.read(data, Some(headers))
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
    (Arc::new(KeySerde(key)), Arc::new(ValueSerde::new(value)))
}

/// How a source table is materialized: a table with header columns keeps them in its store
/// (as JSON of all its value columns), since stores keep no record headers.
pub fn source_table_store(
    source: &crate::catalog::DataSource,
) -> Result<tributary_streams::Materialized<Row, Option<Row>>, String> {
    if source.headers.is_empty() {
        return Ok(tributary_streams::Materialized::new());
    }
    let format = RowFormat::new(
        crate::format::Format::Json,
        source.value.clone(),
        false,
        false,
    )?;
    Ok(tributary_streams::Materialized::new().with_value_serde(Arc::new(ValueSerde::new(format))))
}
