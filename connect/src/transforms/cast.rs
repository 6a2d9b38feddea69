//! `Cast$Key` / `Cast$Value`: casts fields (`spec` = `a:int32,b:string`), or the whole value
//! (`spec` = `int64`), to another primitive type.

use base64::Engine;

use crate::config::{Config, ConfigError};
use crate::data::logical::{self, Logical};
use crate::data::{DataError, Schema, SchemaBuilder, Struct, Type, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "cast types";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";

/// Kafka's Cast.
pub struct Cast {
    side: Side,
    /// Field casts in spec order (empty with a whole-value cast).
    casts: Vec<(String, Type)>,
    whole: Option<Type>,
    replace_null_with_default: bool,
}

fn output_type(name: &str) -> Result<Type, ConfigError> {
    let name = name.trim();
    let ty = Type::parse(name).ok_or_else(|| {
        util::wrapped_config_error(
            &format!(
                "java.lang.IllegalArgumentException: No enum constant org.apache.kafka.connect.data.Schema.Type.{}",
                name.to_uppercase()
            ),
            &format!("Invalid type found in casting spec: {name}"),
        )
    })?;
    if matches!(ty, Type::Bytes | Type::Array | Type::Map | Type::Struct) {
        return Err(ConfigError::new(format!(
            "Cast transformation does not support casting to {ty}; supported types are {OUTPUT_TYPES}"
        )));
    }
    Ok(ty)
}

impl Cast {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<Cast, ConfigError> {
        if !config.contains_key("spec") {
            return Err(ConfigError::missing("spec"));
        }
        let spec = crate::config::ConfigExt::list_or(config, "spec", &[]);
        if spec.is_empty() {
            return Err(ConfigError::new("Must specify at least one field to cast."));
        }
        let mut casts: Vec<(String, Type)> = Vec::new();
        let mut whole = None;
        for mapping in &spec {
            let mut parts: Vec<&str> = mapping.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            match parts.as_slice() {
                [ty] => whole = Some(output_type(ty)?),
                [field, ty] => {
                    let ty = output_type(ty)?;
                    let field = field.trim().to_string();
                    match casts.iter_mut().find(|(f, _)| *f == field) {
                        Some(c) => c.1 = ty,
                        None => casts.push((field, ty)),
                    }
                }
                _ => {
                    return Err(ConfigError::invalid(
                        "renames",
                        &format!("[{}]", spec.join(", ")),
                        &format!("Invalid rename mapping: {mapping}"),
                    ))
                }
            }
        }
        if whole.is_some() && spec.len() > 1 {
            return Err(ConfigError::new(
                "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
            ));
        }
        Ok(Cast {
            side,
            casts,
            whole,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }

    fn cast_of(&self, field: &str) -> Option<Type> {
        self.casts.iter().find(|(f, _)| f == field).map(|(_, t)| *t)
    }

    fn updated_schema(&self, schema: &Schema) -> Result<Schema, DataError> {
        let mut b = match self.whole {
            Some(ty) => util::copy_schema_basics(schema, SchemaBuilder::new(ty)),
            None => {
                let mut b = util::copy_schema_basics(schema, SchemaBuilder::struct_());
                for f in util::struct_fields(schema)? {
                    match self.cast_of(f.name()) {
                        Some(ty) => {
                            let mut fb = SchemaBuilder::new(ty);
                            if f.schema().is_optional() {
                                fb = fb.optional();
                            }
                            if let Some(d) = f.schema().default_value() {
                                fb = fb.default_value(cast(Some(f.schema()), d, ty)?)?;
                            }
                            b = b.field(f.name(), fb.build())?;
                        }
                        None => b = b.field(f.name(), f.schema().clone())?,
                    }
                }
                b
            }
        };
        if schema.is_optional() {
            b = b.optional();
        }
        if let Some(d) = schema.default_value() {
            let ty = b.ty();
            b = b.default_value(cast(Some(schema), d, ty)?)?;
        }
        Ok(b.build())
    }
}

impl Transformation for Cast {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        if value.is_null() {
            return Ok(Some(r));
        }
        let Some(schema) = self.side.schema(&r) else {
            if let Some(ty) = self.whole {
                let v = cast(None, value, ty)?;
                return Ok(Some(self.side.set(r, None, v)));
            }
            let entries = util::require_map(value, PURPOSE)?;
            let mut puts = Vec::new();
            // in the order Kafka's HashMap of casts iterates
            let fields: Vec<String> = self.casts.iter().map(|(f, _)| f.clone()).collect();
            for field in util::java_set_order(&fields, crate::data::java::DEFAULT_CAPACITY) {
                let ty = self.cast_of(&field).unwrap_or(Type::String);
                let v = cast(None, util::map_get(entries, &field), ty)?;
                puts.push((Value::String(field), v));
            }
            let updated = util::copy_and_put(entries, puts);
            return Ok(Some(self.side.set(r, None, updated)));
        };
        let updated_schema = self.updated_schema(schema)?;
        if let Some(ty) = self.whole {
            let v = cast(Some(schema), value, ty)?;
            return Ok(Some(self.side.set(r, Some(updated_schema), v)));
        }
        let value = util::require_struct(value, PURPOSE)?;
        let mut updated = Struct::new(updated_schema.clone())?;
        for f in value.schema().fields() {
            let orig = util::field_value(value, f.name(), self.replace_null_with_default)?;
            let v = match self.cast_of(f.name()) {
                Some(ty) => cast(Some(f.schema()), &orig, ty)?,
                None => orig,
            };
            updated.put(f.name(), v)?;
        }
        Ok(Some(self.side.set(
            r,
            Some(updated_schema),
            Value::Struct(updated),
        )))
    }
}

/// Kafka's `castValueToType`.
fn cast(schema: Option<&Schema>, value: &Value, target: Type) -> Result<Value, DataError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let inferred = match schema {
        Some(s) => s.ty(),
        None => value.inferred_type().ok_or_else(|| {
            DataError::new(format!(
                "Cast transformation was passed a value of type {} which is not supported by Connect's data API",
                value.java_class()
            ))
        })?,
    };
    if matches!(inferred, Type::Array | Type::Map | Type::Struct) {
        return Err(DataError::new(format!(
            "Cast transformation does not support casting from {inferred}; supported types are {INPUT_TYPES}"
        )));
    }
    // a Date, Time or Timestamp becomes its number unless cast to a string
    let mut value = value.clone();
    if let (Some(s), true) = (schema, target != Type::String) {
        if let (Some(l), Value::Date(ms)) = (Logical::of(s), &value) {
            value = match l {
                Logical::Date => Value::Int32(logical::date_to_days(*ms)?),
                Logical::Time => Value::Int32(logical::time_to_millis(*ms)?),
                Logical::Timestamp => Value::Int64(*ms),
                Logical::Decimal => value.clone(),
            };
        }
    }
    let out_of_range = |v: &Value| {
        DataError::new(format!(
            "Value ({v}) was out of range for requested data type"
        ))
    };
    let unexpected = |v: &Value| {
        DataError::new(format!(
            "Unexpected type in Cast transformation: {}",
            v.java_class()
        ))
    };
    Ok(match target {
        Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => {
            let n: i64 = match &value {
                Value::Boolean(b) => i64::from(*b),
                Value::String(s) => {
                    let parsed = parse_java_integer(s).ok_or_else(|| out_of_range(&value))?;
                    let fits = match target {
                        Type::Int8 => i8::try_from(parsed).is_ok(),
                        Type::Int16 => i16::try_from(parsed).is_ok(),
                        Type::Int32 => i32::try_from(parsed).is_ok(),
                        _ => true,
                    };
                    if !fits {
                        return Err(out_of_range(&value));
                    }
                    parsed
                }
                other => number_as_long(other).ok_or_else(|| unexpected(other))?,
            };
            match target {
                Type::Int8 => Value::Int8(n as i8),
                Type::Int16 => Value::Int16(n as i16),
                Type::Int32 => Value::Int32(n as i32),
                _ => Value::Int64(n),
            }
        }
        Type::Float32 | Type::Float64 => {
            let d: f64 = match &value {
                Value::Boolean(b) => f64::from(u8::from(*b)),
                Value::String(s) => {
                    let parsed = parse_java_float(s).ok_or_else(|| out_of_range(&value))?;
                    if target == Type::Float32 {
                        // Float.parseFloat rounds the text once, to a float
                        let f: f32 = java_float_text(s).parse().unwrap_or(parsed as f32);
                        return Ok(Value::Float32(f));
                    }
                    parsed
                }
                Value::Float32(f) if target == Type::Float32 => return Ok(Value::Float32(*f)),
                Value::Decimal(d) if target == Type::Float32 => {
                    return Ok(Value::Float32(
                        d.to_java_string().parse().unwrap_or(f32::NAN),
                    ))
                }
                other => number_as_double(other).ok_or_else(|| unexpected(other))?,
            };
            if target == Type::Float32 {
                Value::Float32(d as f32)
            } else {
                Value::Float64(d)
            }
        }
        Type::Boolean => Value::Boolean(match &value {
            Value::Boolean(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            other => number_as_long(other).ok_or_else(|| unexpected(other))? != 0,
        }),
        Type::String => Value::String(match &value {
            Value::Date(ms) => crate::data::values::format_date_for(*ms),
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
            other => other.to_string(),
        }),
        other => {
            return Err(DataError::new(format!(
                "{other} is not supported in the Cast transformation."
            )))
        }
    })
}

/// Java's `Number.longValue()` of a numeric value.
fn number_as_long(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Int8(x) => i64::from(*x),
        Value::Int16(x) => i64::from(*x),
        Value::Int32(x) => i64::from(*x),
        Value::Int64(x) => *x,
        Value::Float32(x) => *x as i64,
        Value::Float64(x) => *x as i64,
        Value::Decimal(d) => d.to_i64_wrapping(),
        _ => return None,
    })
}

/// Java's `Number.doubleValue()` of a numeric value.
fn number_as_double(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Int8(x) => f64::from(*x),
        Value::Int16(x) => f64::from(*x),
        Value::Int32(x) => f64::from(*x),
        Value::Int64(x) => *x as f64,
        Value::Float32(x) => f64::from(*x),
        Value::Float64(x) => *x,
        Value::Decimal(d) => d.to_f64(),
        _ => return None,
    })
}

/// Java's `Long.parseLong`: an optional sign and decimal digits, nothing else.
fn parse_java_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The text `Double.parseDouble` reads, made readable by Rust: trimmed, without a trailing
/// `f`/`d` type suffix.
fn java_float_text(s: &str) -> String {
    let t = s.trim_matches(|c: char| c <= ' ');
    let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    t.replace("Infinity", "inf")
}

/// Java's `Double.parseDouble` (decimal forms, `NaN`, `Infinity`).
fn parse_java_float(s: &str) -> Option<f64> {
    let t = java_float_text(s);
    let body = t.strip_prefix(['+', '-']).unwrap_or(&t);
    let ok = body == "NaN"
        || body == "inf"
        || (!body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && body.bytes().any(|b| b.is_ascii_digit()));
    if !ok {
        return None;
    }
    t.parse().ok()
}
