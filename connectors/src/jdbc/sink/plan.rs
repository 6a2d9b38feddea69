//! What a `put` writes: each record checked (Confluent's `RecordValidator`), given its table,
//! and grouped with its neighbours into segments of one table, one operation and one pair of
//! schemas (Confluent's `BufferedRecords` flushes where a schema changes or a delete follows
//! an insert, which keeps the order of operations on a row).

use tributary_connect::data::{Schema, Type, Value};
use tributary_connect::record::ConnectRecord;

use super::config::{PkMode, SinkSettings};
use super::fields::FieldsMetadata;
use crate::jdbc::dialect::TableId;

/// Records of one table, one operation and one pair of schemas, in order.
pub struct Segment {
    /// The destination table.
    pub table: TableId,
    /// Deletes (tombstones), or writes.
    pub delete: bool,
    /// The columns.
    pub fields: FieldsMetadata,
    /// The columns written, in statement order: the key columns, then the others (deletes:
    /// the key columns).
    pub columns: Vec<String>,
    /// Each record's index in the `put` and its column values.
    pub rows: Vec<(usize, Vec<Value>)>,
    key_schema: Option<Schema>,
    value_schema: Option<Schema>,
}

impl Segment {
    /// The schema of each column, for the parameters.
    pub fn column_schemas(&self) -> Vec<Option<&Schema>> {
        self.columns
            .iter()
            .map(|c| self.fields.field(c).map(|f| &f.schema))
            .collect()
    }

    /// The same segment with only one of its rows (for writing records one by one).
    pub fn single(&self, row: usize) -> Segment {
        Segment {
            table: self.table.clone(),
            delete: self.delete,
            fields: self.fields.clone(),
            columns: self.columns.clone(),
            rows: vec![self.rows[row].clone()],
            key_schema: self.key_schema.clone(),
            value_schema: self.value_schema.clone(),
        }
    }
}

fn value_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        other => other.java_class().trim_start_matches("class ").to_string(),
    }
}

fn schema_kind(s: Option<&Schema>) -> String {
    s.map_or("null".to_string(), |s| s.ty().to_string())
}

/// Confluent's `RecordValidator`: the key and value a record needs for these settings.
pub fn validate(s: &SinkSettings, r: &ConnectRecord) -> Result<(), String> {
    let coordinates = format!(
        "(topic='{}',partition={},offset={},timestamp={})",
        r.topic,
        r.kafka_partition.unwrap_or(-1),
        r.kafka_offset().unwrap_or(-1),
        r.timestamp.map_or("null".to_string(), |t| t.to_string())
    );
    let configured = format!(
        "Sink connector '{}' is configured with 'delete.enabled={}' and 'pk.mode={}'",
        s.connector,
        s.delete_enabled,
        s.pk_mode.name()
    );
    let requires_key = s.pk_mode == PkMode::RecordKey || s.delete_enabled;
    let requires_value =
        matches!(s.pk_mode, PkMode::RecordValue | PkMode::None) || !s.delete_enabled;
    if requires_key {
        let ok = !r.key.is_null()
            && r.key_schema
                .as_ref()
                .is_some_and(|k| k.ty() == Type::Struct || k.ty().is_primitive());
        if !ok {
            return Err(format!(
                "{configured} and therefore requires records with a non-null key and non-null Struct or primitive key schema, but found record at {coordinates} with a {} key and {} key schema.",
                value_kind(&r.key),
                schema_kind(r.key_schema.as_ref())
            ));
        }
    }
    let tombstone = r.value.is_null() && s.delete_enabled;
    if requires_value && !tombstone {
        let ok = !r.value.is_null()
            && r.value_schema
                .as_ref()
                .is_some_and(|v| v.ty() == Type::Struct);
        if !ok {
            return Err(format!(
                "{configured} and therefore requires records with a non-null Struct value and non-null Struct schema, but found record at {coordinates} with a {} value and {} value schema.",
                value_kind(&r.value),
                schema_kind(r.value_schema.as_ref())
            ));
        }
    }
    Ok(())
}

/// The segments of a `put`, and the records that cannot be written (with why).
pub fn plan<'r>(
    s: &SinkSettings,
    records: impl IntoIterator<Item = (usize, &'r ConnectRecord)>,
) -> (Vec<Segment>, Vec<(usize, String)>) {
    let mut segments: Vec<Segment> = Vec::new();
    let mut bad = Vec::new();
    for (i, r) in records {
        if let Err(e) = add(s, &mut segments, i, r) {
            bad.push((i, e));
        }
    }
    (segments, bad)
}

fn add(
    s: &SinkSettings,
    segments: &mut Vec<Segment>,
    i: usize,
    r: &ConnectRecord,
) -> Result<(), String> {
    validate(s, r)?;
    let table = TableId::parse(&s.table_name(&r.topic)?);
    let delete = r.value.is_null() && s.delete_enabled;
    let value_schema = if delete { None } else { r.value_schema.clone() };
    // the last segment of this table takes the record if it is the same kind
    let last = segments.iter().rposition(|g| g.table == table);
    let fits = last.is_some_and(|at| {
        let g = &segments[at];
        g.delete == delete && g.key_schema == r.key_schema && g.value_schema == value_schema
    });
    let at = match (last, fits) {
        (Some(at), true) => at,
        _ => {
            let fields = FieldsMetadata::extract(
                &table.table,
                s.pk_mode,
                &s.pk_fields,
                &s.whitelist,
                r.key_schema.as_ref(),
                value_schema.as_ref(),
            )?;
            if delete && fields.key.is_empty() {
                return Err("a tombstone needs key columns to delete by".into());
            }
            let columns: Vec<String> = if delete {
                fields.key.clone()
            } else {
                fields.key.iter().chain(&fields.non_key).cloned().collect()
            };
            segments.push(Segment {
                table,
                delete,
                fields,
                columns,
                rows: Vec::new(),
                key_schema: r.key_schema.clone(),
                value_schema,
            });
            segments.len() - 1
        }
    };
    let g = &mut segments[at];
    let values = g.fields.values(r, &g.columns)?;
    if let Some((c, _)) = g
        .columns
        .iter()
        .zip(&values)
        .find(|(c, v)| v.is_null() && g.fields.key.contains(c))
    {
        return Err(format!(
            "The primary key field {c} of the record for table {} is null",
            g.table.quoted()
        ));
    }
    g.rows.push((i, values));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::config::Config;
    use tributary_connect::data::{SchemaAndValue, SchemaBuilder, Struct};
    use tributary_connect::record::{Headers, Origin, TimestampType};

    fn settings(extra: &[(&str, &str)]) -> SinkSettings {
        let mut c: Config = [
            ("connection.url", "jdbc:postgresql://h/db"),
            ("name", "sink"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            c.insert(k.to_string(), v.to_string());
        }
        SinkSettings::from_config(&c).unwrap()
    }

    fn record(
        topic: &str,
        key: SchemaAndValue,
        value: SchemaAndValue,
        offset: i64,
    ) -> ConnectRecord {
        ConnectRecord {
            topic: topic.into(),
            kafka_partition: Some(0),
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            timestamp: Some(5),
            headers: Headers::new(),
            origin: Origin::Sink {
                offset,
                timestamp_type: TimestampType::CreateTime,
                original_topic: topic.into(),
                original_partition: 0,
            },
        }
    }

    fn row(id: i32, name: &str) -> SchemaAndValue {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::primitive(Type::Int32))
            .unwrap()
            .field("name", Schema::optional(Type::String))
            .unwrap()
            .build();
        let mut st = Struct::new(schema.clone()).unwrap();
        st.put("id", Value::Int32(id)).unwrap();
        st.put("name", Value::String(name.into())).unwrap();
        SchemaAndValue::new(Some(schema), Value::Struct(st))
    }

    fn key(id: i32) -> SchemaAndValue {
        SchemaAndValue::new(Some(Schema::primitive(Type::Int32)), Value::Int32(id))
    }

    #[test]
    fn segments_keep_the_order_of_operations() {
        let s = settings(&[
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
            ("delete.enabled", "true"),
            ("insert.mode", "upsert"),
        ]);
        let records = [
            record("a", key(1), row(1, "x"), 0),
            record("b", key(1), row(1, "y"), 0),
            record("a", key(2), row(2, "z"), 1),
            record("a", key(1), SchemaAndValue::NULL, 2),
            record("a", key(3), row(3, "w"), 3),
        ];
        let (segments, bad) = plan(&s, records.iter().enumerate());
        assert!(bad.is_empty(), "{bad:?}");
        let shape: Vec<(String, bool, Vec<usize>)> = segments
            .iter()
            .map(|g| {
                (
                    g.table.table.clone(),
                    g.delete,
                    g.rows.iter().map(|r| r.0).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a".into(), false, vec![0, 2]),
                ("b".into(), false, vec![1]),
                ("a".into(), true, vec![3]),
                ("a".into(), false, vec![4]),
            ]
        );
        assert_eq!(segments[0].columns, ["id", "name"]);
        assert_eq!(
            segments[0].rows[1].1,
            vec![Value::Int32(2), Value::String("z".into())]
        );
        assert_eq!(segments[2].rows[0].1, vec![Value::Int32(1)]);
    }

    #[test]
    fn bad_records_are_set_aside() {
        let s = settings(&[]);
        let schemaless = SchemaAndValue::new(None, Value::String("{}".into()));
        let records = [
            record("t", SchemaAndValue::NULL, schemaless, 7),
            record("t", SchemaAndValue::NULL, row(1, "ok"), 8),
            record("t", SchemaAndValue::NULL, SchemaAndValue::NULL, 9),
        ];
        let (segments, bad) = plan(&s, records.iter().enumerate());
        assert_eq!(segments.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].1.starts_with(
            "Sink connector 'sink' is configured with 'delete.enabled=false' and 'pk.mode=none' and therefore requires records with a non-null Struct value and non-null Struct schema, but found record at (topic='t',partition=0,offset=7,timestamp=5) with a java.lang.String value and null value schema."
        ), "{}", bad[0].1);
        let s = settings(&[("pk.mode", "record_key"), ("pk.fields", "id")]);
        let (_, bad) = plan(&s, [(0, &records[1])]);
        assert!(
            bad[0].1.contains("requires records with a non-null key"),
            "{bad:?}"
        );
    }
}
