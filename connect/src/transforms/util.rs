//! What the transforms share: which side of the record they work on (`$Key` / `$Value`),
//! Kafka's `Requirements` checks, `SchemaUtil.copySchemaBasics`, and the config reads of
//! `SimpleConfig` with Kafka's messages.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::java;
use crate::data::{DataError, Schema, SchemaBuilder, Struct, Value};
use crate::record::ConnectRecord;

/// The part of the record a `$Key` or `$Value` transform works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Key,
    Value,
}

impl Side {
    pub(crate) fn schema(self, r: &ConnectRecord) -> Option<&Schema> {
        match self {
            Side::Key => r.key_schema.as_ref(),
            Side::Value => r.value_schema.as_ref(),
        }
    }

    pub(crate) fn value(self, r: &ConnectRecord) -> &Value {
        match self {
            Side::Key => &r.key,
            Side::Value => &r.value,
        }
    }

    /// The record with this side's value replaced (its schema kept).
    pub(crate) fn set_value(self, mut r: ConnectRecord, value: Value) -> ConnectRecord {
        match self {
            Side::Key => r.key = value,
            Side::Value => r.value = value,
        }
        r
    }

    /// The record with this side replaced.
    pub(crate) fn set(
        self,
        mut r: ConnectRecord,
        schema: Option<Schema>,
        value: Value,
    ) -> ConnectRecord {
        match self {
            Side::Key => {
                r.key_schema = schema;
                r.key = value;
            }
            Side::Value => {
                r.value_schema = schema;
                r.value = value;
            }
        }
        r
    }
}

/// The Java class name of a value as `getClass().getName()` prints it (`java.lang.String`).
pub(crate) fn class_name(v: &Value) -> &'static str {
    let c = v.java_class();
    c.strip_prefix("class ").unwrap_or(c)
}

/// Kafka's `requireMap`: the entries of a map value.
pub(crate) fn require_map<'a>(
    v: &'a Value,
    purpose: &str,
) -> Result<&'a [(Value, Value)], DataError> {
    match v {
        Value::Map(entries) => Ok(entries),
        other => Err(DataError::new(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            class_name(other)
        ))),
    }
}

/// Kafka's `requireStruct`.
pub(crate) fn require_struct<'a>(v: &'a Value, purpose: &str) -> Result<&'a Struct, DataError> {
    match v {
        Value::Struct(s) => Ok(s),
        other => Err(DataError::new(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            class_name(other)
        ))),
    }
}

/// Kafka's `requireSchema`.
pub(crate) fn require_schema<'a>(
    s: Option<&'a Schema>,
    purpose: &str,
) -> Result<&'a Schema, DataError> {
    s.ok_or_else(|| DataError::new(format!("Schema required for [{purpose}]")))
}

/// Kafka's `requireSinkRecord`: the offset of a sink record.
pub(crate) fn require_sink_offset(r: &ConnectRecord, purpose: &str) -> Result<i64, DataError> {
    r.kafka_offset().ok_or_else(|| {
        DataError::new(format!(
            "Only SinkRecord supported for [{purpose}], found: {}",
            r.java_class()
        ))
    })
}

/// The value of `key` in a map's entries (`Map.get`).
pub(crate) fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> &'a Value {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map_or(&Value::Null, |(_, v)| v)
}

/// `new HashMap<>(entries)` followed by `put`s, as that map iterates.
pub(crate) fn copy_and_put(entries: &[(Value, Value)], puts: Vec<(Value, Value)>) -> Value {
    let capacity = java::copy_capacity(entries.len());
    let all: Vec<(Value, Value)> = entries.iter().cloned().chain(puts).collect();
    Value::Map(java::hash_map_order(all, capacity))
}

/// Kafka's `SchemaUtil.copySchemaBasics(source, builder)`: name, version, doc, parameters.
pub(crate) fn copy_schema_basics(source: &Schema, builder: SchemaBuilder) -> SchemaBuilder {
    let mut b = builder
        .set_name(source.name().map(str::to_string))
        .set_version(source.version())
        .set_doc(source.doc().map(str::to_string));
    if let Some(p) = source.parameters() {
        for (k, v) in p {
            b = b.parameter(k.clone(), v.clone());
        }
    }
    b
}

/// A struct field's value with or without its default (`replace.null.with.default`).
pub(crate) fn field_value(s: &Struct, name: &str, with_default: bool) -> Result<Value, DataError> {
    let v = if with_default {
        s.get(name)?
    } else {
        s.get_without_default(name)?
    };
    Ok(v.clone())
}

/// `replace.null.with.default` (default true).
pub(crate) fn replace_null_with_default(config: &Config) -> Result<bool, ConfigError> {
    config.bool_or("replace.null.with.default", true)
}

/// A required `LIST` of non-empty, distinct values (Kafka's
/// `ValidList.anyNonDuplicateValues(false, false)`; repeated values are dropped).
pub(crate) fn non_empty_list(config: &Config, name: &str) -> Result<Vec<String>, ConfigError> {
    let list = non_empty_list_keeping_repeats(config, name)?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for v in list {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A required `LIST` of non-empty values, repeats kept (HeaderFrom pairs its lists).
pub(crate) fn non_empty_list_keeping_repeats(
    config: &Config,
    name: &str,
) -> Result<Vec<String>, ConfigError> {
    if !config.contains_key(name) {
        return Err(ConfigError::missing(name));
    }
    let list: Vec<String> = match config.get(name).map(|v| v.trim()) {
        None | Some("") => Vec::new(),
        Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
    };
    if list.iter().any(|v| v.is_empty()) {
        return Err(ConfigError::new(format!(
            "Configuration '{name}' values must not be empty."
        )));
    }
    if list.is_empty() {
        return Err(ConfigError::new(format!(
            "Configuration '{name}' must not be empty. Valid values include: any non-empty value"
        )));
    }
    Ok(list)
}

/// An optional `LIST` whose values must not be empty; repeated values are dropped.
pub(crate) fn distinct_list(config: &Config, name: &str) -> Result<Vec<String>, ConfigError> {
    let raw = match config.get(name).map(|v| v.trim()) {
        None | Some("") => return Ok(Vec::new()),
        Some(v) => v
            .split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>(),
    };
    if raw.iter().any(|v| v.is_empty()) {
        return Err(ConfigError::new(format!(
            "Configuration '{name}' values must not be empty."
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for v in raw {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// The fields of a schema Kafka's code lists (`Schema.fields()` refuses non-structs).
pub(crate) fn struct_fields(schema: &Schema) -> Result<&[crate::data::Field], DataError> {
    if schema.ty() != crate::data::Type::Struct {
        return Err(DataError::new("Cannot list fields on non-struct type"));
    }
    Ok(schema.fields())
}

/// Strings in the order a `java.util.HashMap` (or `HashSet`) of table size `capacity` built
/// from them iterates.
pub(crate) fn java_set_order(items: &[String], capacity: usize) -> Vec<String> {
    let entries = items
        .iter()
        .map(|s| (Value::String(s.clone()), Value::Null))
        .collect();
    java::hash_map_order(entries, capacity)
        .into_iter()
        .filter_map(|(k, _)| match k {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The table size of `new HashSet<>(collection)` for `n` items.
pub(crate) fn hash_set_capacity(n: usize) -> usize {
    (((n as f32 / 0.75f32) as usize) + 1)
        .max(16)
        .next_power_of_two()
}

/// Kafka wraps a Java exception thrown while configuring in a `ConfigException(message, e)`,
/// whose text swaps the two: `Invalid value EXCEPTION for configuration MESSAGE`.
pub(crate) fn wrapped_config_error(java_exception: &str, message: &str) -> ConfigError {
    ConfigError::new(format!(
        "Invalid value {java_exception} for configuration {message}"
    ))
}

/// A `STRING` that must be one of `allowed` (`ValidString.in`, case-sensitive).
pub(crate) fn valid_string(
    config: &Config,
    name: &str,
    default: Option<&str>,
    allowed: &[&str],
) -> Result<String, ConfigError> {
    let value = match (config.string_opt(name), default) {
        (Some(v), _) => v,
        (None, Some(d)) => d.to_string(),
        (None, None) => return Err(ConfigError::missing(name)),
    };
    if !allowed.contains(&value.as_str()) {
        return Err(ConfigError::invalid(
            name,
            &value,
            &format!("String must be one of: {}", allowed.join(", ")),
        ));
    }
    Ok(value)
}
