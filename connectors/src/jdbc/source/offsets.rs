//! Source partitions and offsets exactly as Confluent's JDBC source connector (10.x) stores
//! them, so that offsets carry over between it and this connector:
//!
//! ```text
//!  table, incrementing / timestamp modes:  {"protocol":"1","table":"schema.table"}  (read: also {"table":"table"})
//!  table, bulk mode:                        {"table":"table"}                        (no offset)
//!  query:                                   {"query":"query"}
//!  offset:  {"incrementing": N}  {"timestamp": MILLIS, "timestamp_nanos": NANOS}  or all three
//! ```
//!
//! Maps are ordered as the Java `HashMap`s the connector builds, so the stored JSON is
//! byte-for-byte the same.

use tributary_connect::data::java::hash_map_order;
use tributary_connect::data::Value;

use crate::jdbc::dialect::TableId;

fn map(entries: Vec<(&str, Value)>, capacity: usize) -> Value {
    Value::Map(hash_map_order(
        entries
            .into_iter()
            .map(|(k, v)| (Value::String(k.to_string()), v))
            .collect(),
        capacity,
    ))
}

/// The partition of a table in incrementing and timestamp modes (offset protocol 1, with the
/// schema-qualified name).
pub fn table_partition_v1(table: &TableId) -> Value {
    map(
        vec![
            ("table", Value::String(table.unquoted())),
            ("protocol", Value::String("1".into())),
        ],
        16,
    )
}

/// The partition of a table in bulk mode, and offset protocol 0 (the bare table name).
pub fn table_partition_v0(table: &TableId) -> Value {
    map(vec![("table", Value::String(table.table.clone()))], 1)
}

/// The partition of a custom query.
pub fn query_partition() -> Value {
    map(vec![("query", Value::String("query".into()))], 1)
}

/// Where a table or query has got to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offset {
    /// The last incrementing column value.
    pub incrementing: Option<i64>,
    /// The last timestamp: Unix milliseconds and the nanoseconds of its second.
    pub timestamp: Option<(i64, i64)>,
}

fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int8(x) => Some(i64::from(*x)),
        Value::Int16(x) => Some(i64::from(*x)),
        Value::Int32(x) => Some(i64::from(*x)),
        Value::Int64(x) => Some(*x),
        Value::Float64(x) => Some(*x as i64),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Offset {
    /// Reads a stored offset (Confluent's `TimestampIncrementingOffset.fromMap`).
    pub fn from_value(v: &Value) -> Offset {
        let incrementing = integer(v.map_get("incrementing"));
        let timestamp = integer(v.map_get("timestamp")).map(|millis| {
            let nanos = integer(v.map_get("timestamp_nanos"))
                .unwrap_or_else(|| millis.rem_euclid(1000) * 1_000_000);
            (millis, nanos)
        });
        Offset {
            incrementing,
            timestamp,
        }
    }

    /// The stored form (Confluent's `toMap`: a `HashMap` of capacity 3).
    pub fn to_value(self) -> Value {
        let mut entries = Vec::new();
        if let Some(i) = self.incrementing {
            entries.push(("incrementing", Value::Int64(i)));
        }
        if let Some((millis, nanos)) = self.timestamp {
            entries.push(("timestamp", Value::Int64(millis)));
            entries.push(("timestamp_nanos", Value::Int64(nanos)));
        }
        map(entries, 4)
    }

    /// The incrementing value queries start after (-1 when none).
    pub fn incrementing_or_start(&self) -> i64 {
        self.incrementing.unwrap_or(-1)
    }

    /// The timestamp queries start after (the epoch when none).
    pub fn timestamp_or_start(&self) -> (i64, i64) {
        self.timestamp.unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::converter::{Converter, JsonConverter};

    fn json(v: &Value) -> String {
        let bytes = JsonConverter::default()
            .with_schemas(false)
            .to_bytes("", None, v)
            .unwrap()
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn stored_as_confluent_stores_them() {
        let t = TableId::parse("public.users");
        assert_eq!(
            json(&table_partition_v1(&t)),
            r#"{"protocol":"1","table":"public.users"}"#
        );
        assert_eq!(json(&table_partition_v0(&t)), r#"{"table":"users"}"#);
        assert_eq!(json(&query_partition()), r#"{"query":"query"}"#);
        let o = Offset {
            incrementing: Some(42),
            timestamp: Some((1_700_000_000_123, 123_456_000)),
        };
        assert_eq!(
            json(&o.to_value()),
            r#"{"timestamp_nanos":123456000,"incrementing":42,"timestamp":1700000000123}"#
        );
        assert_eq!(Offset::from_value(&o.to_value()), o);
        assert_eq!(json(&Offset::default().to_value()), "{}");
        let only = Offset::from_value(
            &Offset {
                incrementing: Some(7),
                timestamp: None,
            }
            .to_value(),
        );
        assert_eq!(only.incrementing_or_start(), 7);
        assert_eq!(only.timestamp_or_start(), (0, 0));
    }
}
