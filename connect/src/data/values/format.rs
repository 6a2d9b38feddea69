//! `Values.convertToString`: the text `SimpleHeaderConverter` writes for a value.

use base64::Engine;

use super::temporal::format_date_for;
use crate::data::java;
use crate::data::{Schema, Value};

/// Kafka's `Values.convertToString`: `None` for null; else the text Kafka's `append` builds.
///
/// Top-level strings are written as they are; inside arrays, maps and structs strings are
/// quoted with only `\` and `"` escaped. Numbers print as Java's `toString` (decimals as
/// `BigDecimal.toString`, `1E+3`), bytes as base64, dates in the ISO form
/// [`format_date_for`] picks, arrays as `[a,b]`, maps (in iteration order) and structs (fields
/// in order, defaults for nulls) as `{k:v,...}`. The schema is not used.
pub fn convert_to_string(_schema: Option<&Schema>, value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let mut sb = String::new();
    append(&mut sb, value, false);
    Some(sb)
}

fn append(sb: &mut String, value: &Value, embedded: bool) {
    match value {
        Value::Null => sb.push_str("null"),
        Value::Boolean(b) => sb.push_str(if *b { "true" } else { "false" }),
        Value::Int8(v) => sb.push_str(&v.to_string()),
        Value::Int16(v) => sb.push_str(&v.to_string()),
        Value::Int32(v) => sb.push_str(&v.to_string()),
        Value::Int64(v) => sb.push_str(&v.to_string()),
        Value::Float32(v) => sb.push_str(&java::float_to_string(*v)),
        Value::Float64(v) => sb.push_str(&java::double_to_string(*v)),
        Value::Decimal(d) => sb.push_str(&d.to_java_string()),
        Value::String(s) => {
            if embedded {
                sb.push('"');
                sb.push_str(&escape(s));
                sb.push('"');
            } else {
                sb.push_str(s);
            }
        }
        Value::Bytes(b) => {
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                sb.push('"');
                sb.push_str(&text);
                sb.push('"');
            } else {
                sb.push_str(&text);
            }
        }
        Value::Array(items) => {
            sb.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sb.push(',');
                }
                append(sb, item, true);
            }
            sb.push(']');
        }
        Value::Map(entries) => {
            sb.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    sb.push(',');
                }
                append(sb, k, true);
                sb.push(':');
                append(sb, v, true);
            }
            sb.push('}');
        }
        Value::Struct(s) => {
            sb.push('{');
            for (i, (field, v)) in s.schema().fields().iter().zip(s.values()).enumerate() {
                if i > 0 {
                    sb.push(',');
                }
                append(sb, &Value::String(field.name().to_string()), true);
                sb.push(':');
                // (Struct.get: a null field takes its schema's default)
                let v = match (v, field.schema().default_value()) {
                    (Value::Null, Some(default)) => default,
                    _ => v,
                };
                append(sb, v, true);
            }
            sb.push('}');
        }
        Value::Date(ms) => sb.push_str(&format_date_for(*ms)),
    }
}

/// Kafka's `Values.escape`: `\` and `"` get a backslash, nothing else changes.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
