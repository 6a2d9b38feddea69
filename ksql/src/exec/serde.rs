//! Rows in a format as the streams library's serdes.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use tributary_streams::{Header, Serde, SerdeError, SharedSerde};

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
            .serialize(Some(value.as_slice()))
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
    match key {
        Some(key) => ScalarValue::Binary(
            headers
                .and_then(|hs| hs.iter().rev().find(|(k, _)| k == key))
                .and_then(|(_, v)| v.clone()),
        ),
        None => all_headers(headers).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "record headers that cannot be read: null");
            crate::value::null(&crate::catalog::headers_type())
        }),
    }
}

/// Every header, in order, as a `HEADERS` column's array (null when none were read).
fn all_headers(headers: Option<&[Header]>) -> Result<ScalarValue, String> {
    use arrow::array::{BinaryArray, ListArray, StringArray, StructArray};
    use arrow::datatypes::{DataType, FieldRef, Fields};
    // (the array's item field and the struct's fields, built once)
    static TYPES: std::sync::OnceLock<Option<(FieldRef, Fields)>> = std::sync::OnceLock::new();
    let types = TYPES.get_or_init(|| match crate::catalog::headers_type().arrow() {
        DataType::List(item) => match item.data_type() {
            DataType::Struct(fields) => Some((Arc::clone(&item), fields.clone())),
            _ => None,
        },
        _ => None,
    });
    let Some((item, fields)) = types else {
        return Err("not a HEADERS type".into());
    };
    let Some(headers) = headers else {
        return Ok(crate::value::null(&crate::catalog::headers_type()));
    };
    let keys = StringArray::from_iter_values(headers.iter().map(|(k, _)| k.as_str()));
    let values = BinaryArray::from_iter(headers.iter().map(|(_, v)| v.as_deref()));
    let entries =
        StructArray::try_new(fields.clone(), vec![Arc::new(keys), Arc::new(values)], None)
            .map_err(|e| e.to_string())?;
    let list = ListArray::try_new(
        Arc::clone(item),
        arrow::buffer::OffsetBuffer::from_lengths([headers.len()]),
        Arc::new(entries),
        None,
    )
    .map_err(|e| e.to_string())?;
    Ok(ScalarValue::List(Arc::new(list)))
}

impl Serde<Option<Row>> for ValueSerde {
    fn serialize(&self, _topic: &str, value: &Option<Row>) -> Result<Option<Vec<u8>>, SerdeError> {
        let written = match value {
            // (a row read with header columns is written without them)
            Some(row) if !self.headers.is_empty() => {
                let stored = row.len().saturating_sub(self.headers.len());
                self.format.serialize(Some(&row[..stored]))
            }
            _ => self.format.serialize(value.as_deref()),
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
            .serialize(Some(value.as_slice()))
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
