//! Which columns a record writes and which of them form the primary key (Confluent's
//! `FieldsMetadata`), by `pk.mode`:
//!
//! | `pk.mode` | key columns |
//! | --- | --- |
//! | `none` | none |
//! | `kafka` | `__connect_topic`, `__connect_partition`, `__connect_offset` (or the 3 `pk.fields`) |
//! | `record_key` | the key struct's fields (or `pk.fields` of them); a primitive key: the one `pk.fields` name |
//! | `record_value` | the value struct's fields (or `pk.fields` of them) |
//!
//! The other columns are the value's fields (only those in `fields.whitelist` when set).

use tributary_connect::data::{Schema, Type};
use tributary_connect::record::ConnectRecord;

use super::config::PkMode;
use tributary_connect::data::Value;

/// The default key columns of `pk.mode=kafka`.
pub const KAFKA_PK_NAMES: [&str; 3] =
    ["__connect_topic", "__connect_partition", "__connect_offset"];

/// A column a record writes.
#[derive(Clone, Debug, PartialEq)]
pub struct SinkField {
    /// The column's name.
    pub name: String,
    /// The field's schema (its type, optionality and default).
    pub schema: Schema,
    /// Whether it is part of the primary key.
    pub pk: bool,
}

/// Where a column's value comes from.
#[derive(Clone, Debug, PartialEq)]
enum From {
    Topic,
    Partition,
    Offset,
    /// The whole (primitive) key.
    Key,
    KeyField,
    ValueField,
}

/// The columns of records with one key schema and one value schema.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldsMetadata {
    /// The key columns, in key order.
    pub key: Vec<String>,
    /// The other columns, in value order.
    pub non_key: Vec<String>,
    /// Every column, in Confluent's order: Kafka coordinates, value fields, then the rest by
    /// name (what `CREATE TABLE` lists).
    pub all: Vec<SinkField>,
    sources: Vec<(String, From)>,
}

impl FieldsMetadata {
    /// The columns of records with these schemas (`value_schema` is `None` for a tombstone).
    pub fn extract(
        table: &str,
        mode: PkMode,
        pk_fields: &[String],
        whitelist: &[String],
        key_schema: Option<&Schema>,
        value_schema: Option<&Schema>,
    ) -> Result<FieldsMetadata, String> {
        if let Some(v) = value_schema {
            if v.ty() != Type::Struct {
                return Err("Value schema must be of type Struct".into());
            }
        }
        let mut fields: Vec<SinkField> = Vec::new();
        let mut sources: Vec<(String, From)> = Vec::new();
        let mut key: Vec<String> = Vec::new();
        let mut add =
            |name: &str, schema: Schema, pk: bool, from: From, fields: &mut Vec<SinkField>| {
                fields.push(SinkField {
                    name: name.to_string(),
                    schema,
                    pk,
                });
                sources.push((name.to_string(), from));
            };
        match mode {
            PkMode::None => {}
            PkMode::Kafka => {
                let names: Vec<String> = if pk_fields.is_empty() {
                    KAFKA_PK_NAMES.iter().map(|s| s.to_string()).collect()
                } else if pk_fields.len() == 3 {
                    pk_fields.to_vec()
                } else {
                    return Err(format!(
                        "PK mode for table '{table}' is KAFKA so there should either be no field names defined for defaults [{}] to be applicable, or exactly 3, defined fields are: [{}]",
                        KAFKA_PK_NAMES.join(", "),
                        pk_fields.join(", ")
                    ));
                };
                add(
                    &names[0],
                    Schema::primitive(Type::String),
                    true,
                    From::Topic,
                    &mut fields,
                );
                add(
                    &names[1],
                    Schema::primitive(Type::Int32),
                    true,
                    From::Partition,
                    &mut fields,
                );
                add(
                    &names[2],
                    Schema::primitive(Type::Int64),
                    true,
                    From::Offset,
                    &mut fields,
                );
                key = names;
            }
            PkMode::RecordKey => {
                let ks = key_schema.ok_or_else(|| {
                    format!("PK mode for table '{table}' is RECORD_KEY, but record key schema is missing")
                })?;
                if ks.ty().is_primitive() {
                    if pk_fields.len() != 1 {
                        return Err(format!(
                            "Need exactly one PK column defined since the key schema for records is a primitive type, defined columns are: [{}]",
                            pk_fields.join(", ")
                        ));
                    }
                    add(&pk_fields[0], ks.clone(), true, From::Key, &mut fields);
                    key = pk_fields.to_vec();
                } else if ks.ty() == Type::Struct {
                    key = if pk_fields.is_empty() {
                        ks.fields().iter().map(|f| f.name().to_string()).collect()
                    } else {
                        pk_fields.to_vec()
                    };
                    for name in &key {
                        let f = ks.field(name).ok_or_else(|| {
                            format!(
                                "PK mode for table '{table}' is RECORD_KEY with configured PK fields [{}], but record key schema does not contain field: {name}",
                                pk_fields.join(", ")
                            )
                        })?;
                        add(name, f.schema().clone(), true, From::KeyField, &mut fields);
                    }
                } else {
                    return Err(format!(
                        "Key schema must be primitive type or Struct, but is of type: {}",
                        ks.ty()
                    ));
                }
            }
            PkMode::RecordValue => {
                let vs = value_schema.ok_or_else(|| {
                    format!("PK mode for table '{table}' is RECORD_VALUE, but record value schema is missing")
                })?;
                key = if pk_fields.is_empty() {
                    vs.fields().iter().map(|f| f.name().to_string()).collect()
                } else {
                    pk_fields.to_vec()
                };
                for name in &key {
                    let f = vs.field(name).ok_or_else(|| {
                        format!(
                            "PK mode for table '{table}' is RECORD_VALUE with configured PK fields [{}], but record value schema does not contain field: {name}",
                            pk_fields.join(", ")
                        )
                    })?;
                    add(
                        name,
                        f.schema().clone(),
                        true,
                        From::ValueField,
                        &mut fields,
                    );
                }
            }
        }
        let mut non_key = Vec::new();
        if let Some(vs) = value_schema {
            for f in vs.fields() {
                if key.iter().any(|k| k == f.name())
                    || (!whitelist.is_empty() && !whitelist.iter().any(|w| w == f.name()))
                {
                    continue;
                }
                non_key.push(f.name().to_string());
                add(
                    f.name(),
                    f.schema().clone(),
                    false,
                    From::ValueField,
                    &mut fields,
                );
            }
        }
        if fields.is_empty() {
            return Err(format!(
                "No fields found using key and value schemas for table: {table}"
            ));
        }
        // Confluent's column order: Kafka coordinates, the value's fields, the rest by name
        let mut all: Vec<SinkField> = Vec::with_capacity(fields.len());
        let take = |name: &str, all: &mut Vec<SinkField>| {
            if let Some(f) = fields.iter().find(|f| f.name == name) {
                if !all.iter().any(|a| a.name == name) {
                    all.push(f.clone());
                }
            }
        };
        if mode == PkMode::Kafka {
            for n in &key {
                take(n, &mut all);
            }
        }
        if let Some(vs) = value_schema {
            for f in vs.fields() {
                take(f.name(), &mut all);
            }
        }
        let mut rest: Vec<&SinkField> = fields
            .iter()
            .filter(|f| !all.iter().any(|a| a.name == f.name))
            .collect();
        rest.sort_by(|a, b| a.name.cmp(&b.name));
        let rest: Vec<SinkField> = rest.into_iter().cloned().collect();
        all.extend(rest);
        Ok(FieldsMetadata {
            key,
            non_key,
            all,
            sources,
        })
    }

    /// The field of a column.
    pub fn field(&self, name: &str) -> Option<&SinkField> {
        self.all.iter().find(|f| f.name == name)
    }

    /// The values of `columns` in a record (with the fields' defaults for nulls, as Connect's
    /// `Struct.get`), or why the record does not have them.
    pub fn values(&self, r: &ConnectRecord, columns: &[String]) -> Result<Vec<Value>, String> {
        columns
            .iter()
            .map(|c| {
                let from = self
                    .sources
                    .iter()
                    .find(|(n, _)| n == c)
                    .map(|(_, f)| f)
                    .ok_or_else(|| format!("no field for column {c}"))?;
                Ok(match from {
                    From::Topic => Value::String(r.topic.clone()),
                    From::Partition => Value::Int32(r.kafka_partition.unwrap_or(-1)),
                    From::Offset => Value::Int64(r.kafka_offset().unwrap_or(-1)),
                    From::Key => r.key.clone(),
                    From::KeyField => field_of(&r.key, c, "key")?,
                    From::ValueField => field_of(&r.value, c, "value")?,
                })
            })
            .collect()
    }
}

fn field_of(v: &Value, name: &str, what: &str) -> Result<Value, String> {
    let s = v
        .as_struct()
        .ok_or_else(|| format!("the record {what} is not a struct, so it has no field {name}"))?;
    s.get(name).cloned().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::data::SchemaBuilder;

    fn value_schema() -> Schema {
        SchemaBuilder::struct_()
            .field("id", Schema::primitive(Type::Int32))
            .unwrap()
            .field("name", Schema::optional(Type::String))
            .unwrap()
            .field("zip", Schema::optional(Type::String))
            .unwrap()
            .build()
    }

    fn names(m: &FieldsMetadata) -> Vec<&str> {
        m.all.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn pk_modes() {
        let v = value_schema();
        let m = FieldsMetadata::extract("t", PkMode::None, &[], &[], None, Some(&v)).unwrap();
        assert!(m.key.is_empty());
        assert_eq!(names(&m), ["id", "name", "zip"]);

        let m = FieldsMetadata::extract("t", PkMode::Kafka, &[], &[], None, Some(&v)).unwrap();
        assert_eq!(m.key, KAFKA_PK_NAMES);
        assert_eq!(names(&m)[..3], KAFKA_PK_NAMES);
        assert!(
            FieldsMetadata::extract("t", PkMode::Kafka, &["a".into()], &[], None, Some(&v))
                .is_err()
        );

        let m = FieldsMetadata::extract(
            "t",
            PkMode::RecordValue,
            &["id".into()],
            &["name".into()],
            None,
            Some(&v),
        )
        .unwrap();
        assert_eq!(
            (m.key.clone(), m.non_key.clone()),
            (vec!["id".to_string()], vec!["name".to_string()])
        );
        assert!(FieldsMetadata::extract(
            "t",
            PkMode::RecordValue,
            &["nope".into()],
            &[],
            None,
            Some(&v)
        )
        .is_err());

        let k = Schema::primitive(Type::Int64);
        let m = FieldsMetadata::extract(
            "t",
            PkMode::RecordKey,
            &["key_id".into()],
            &[],
            Some(&k),
            Some(&v),
        )
        .unwrap();
        assert_eq!(names(&m), ["id", "name", "zip", "key_id"]);
        assert!(
            FieldsMetadata::extract("t", PkMode::RecordKey, &[], &[], Some(&k), Some(&v)).is_err()
        );
        assert!(
            FieldsMetadata::extract("t", PkMode::RecordKey, &[], &[], None, Some(&v))
                .unwrap_err()
                .contains("record key schema is missing")
        );
        // a tombstone: the key's columns only
        let ks = SchemaBuilder::struct_()
            .field("id", Schema::primitive(Type::Int32))
            .unwrap()
            .build();
        let m = FieldsMetadata::extract("t", PkMode::RecordKey, &[], &[], Some(&ks), None).unwrap();
        assert_eq!(names(&m), ["id"]);
        assert!(FieldsMetadata::extract(
            "t",
            PkMode::None,
            &[],
            &[],
            None,
            Some(&Schema::primitive(Type::String))
        )
        .unwrap_err()
        .contains("must be of type Struct"));
    }
}
