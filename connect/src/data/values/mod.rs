//! Kafka Connect's `org.apache.kafka.connect.data.Values`: values to and from the text that
//! `SimpleHeaderConverter` writes and reads, and conversions between primitive types with
//! Kafka's rules and messages.
//!
//! * [`parse_string`]: text to a schema and value (`Values.parseString`): `null`, booleans,
//!   the smallest integer type that holds a whole number, else float32, float64 or a
//!   `Decimal`, ISO-8601 dates, times and timestamps, `[...]` arrays and `{k:v}` maps with
//!   inferred schemas (numbers widen to one type), quoted strings inside them; anything
//!   else is the text as a string.
//! * [`convert_to_string`]: a value to that text (`Values.convertToString`).
//! * [`convert_to_boolean`] ... [`convert_to_double`]: a value as one primitive type
//!   (`Values.convertToBoolean` ... `convertToDouble`), parsing strings, truncating numbers.
//! * [`format_date_for`]: a `java.util.Date` as `Values.dateFormatFor` formats it.
//!
//! Where Kafka uses the JVM's default time zone and locale, this is UTC and English, as a
//! worker runs.

mod format;
mod number;
mod parse;
mod temporal;

pub use format::convert_to_string;
pub use temporal::format_date_for;

use self::number::JavaDecimal;
use self::temporal::MILLIS_PER_DAY;
use super::logical::{self, Logical};
use super::{DataError, Decimal, Schema, SchemaAndValue, Type, Value};

/// Kafka's `Values.parseString`: the schema and value a text reads as; the literal `null`
/// reads as [`SchemaAndValue::NULL`] (Kafka returns a null `SchemaAndValue` there). Arrays
/// and maps nested more than a thousand levels deep (Java's stack overflows at a few
/// thousand) read as the text itself; [`try_parse_string`] tells them apart.
pub fn parse_string(text: &str) -> SchemaAndValue {
    try_parse_string(text).unwrap_or_else(|_| {
        SchemaAndValue::new(
            Some(Schema::primitive(Type::String)),
            Value::String(text.to_string()),
        )
    })
}

/// [`parse_string`], with an error for arrays and maps nested too deeply, where Java's parser
/// throws `StackOverflowError`.
pub fn try_parse_string(text: &str) -> Result<SchemaAndValue, DataError> {
    Ok(parse::parse(text)?.unwrap_or(SchemaAndValue::NULL))
}

/// Kafka's `Values.convertToBoolean`: a boolean as it is, a string that parses as one, else
/// whether the value as a long (see [`convert_to_long`]) is not zero. `None` for null.
pub fn convert_to_boolean(
    schema: Option<&Schema>,
    value: &Value,
) -> Result<Option<bool>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        _ => {
            if let Value::String(s) = value {
                if let Value::Boolean(b) = parse_string(s).value {
                    return Ok(Some(b));
                }
            }
            Ok(Some(as_long(value, schema)? != 0))
        }
    }
}

/// Kafka's `Values.convertToByte`: the value as a long, truncated to 8 bits.
pub fn convert_to_byte(schema: Option<&Schema>, value: &Value) -> Result<Option<i8>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Int8(v) => Ok(Some(*v)),
        _ => Ok(Some(as_long(value, schema)? as i8)),
    }
}

/// Kafka's `Values.convertToShort`: the value as a long, truncated to 16 bits.
pub fn convert_to_short(schema: Option<&Schema>, value: &Value) -> Result<Option<i16>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Int16(v) => Ok(Some(*v)),
        _ => Ok(Some(as_long(value, schema)? as i16)),
    }
}

/// Kafka's `Values.convertToInteger`: the value as a long, truncated to 32 bits.
pub fn convert_to_integer(
    schema: Option<&Schema>,
    value: &Value,
) -> Result<Option<i32>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Int32(v) => Ok(Some(*v)),
        _ => Ok(Some(as_long(value, schema)? as i32)),
    }
}

/// Kafka's `Values.convertToLong`: numbers as Java's `longValue()` (floats truncated and
/// saturated, decimals' low 64 bits), strings read as `BigDecimal`s, and with a schema of a
/// logical type its dates as days, milliseconds of the day or milliseconds; else "Unable to
/// convert VALUE (CLASS) to a number" (or "to SCHEMA").
pub fn convert_to_long(schema: Option<&Schema>, value: &Value) -> Result<Option<i64>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Int64(v) => Ok(Some(*v)),
        _ => Ok(Some(as_long(value, schema)?)),
    }
}

/// Kafka's `Values.convertToFloat`: the value as a double, rounded to a float.
pub fn convert_to_float(schema: Option<&Schema>, value: &Value) -> Result<Option<f32>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Float32(v) => Ok(Some(*v)),
        _ => Ok(Some(as_double(value, schema)? as f32)),
    }
}

/// Kafka's `Values.convertToDouble`: numbers as Java's `doubleValue()`, strings read as
/// `BigDecimal`s, else the value as a long.
pub fn convert_to_double(schema: Option<&Schema>, value: &Value) -> Result<Option<f64>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Float64(v) => Ok(Some(*v)),
        _ => Ok(Some(as_double(value, schema)?)),
    }
}

/// Java's `String.trim()`: drops characters up to U+0020 at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn unable(value: &Value, target: &dyn std::fmt::Display) -> DataError {
    DataError::new(format!(
        "Unable to convert {value} ({}) to {target}",
        value.java_class()
    ))
}

/// Kafka's `Values.asLong`.
fn as_long(value: &Value, schema: Option<&Schema>) -> Result<i64, DataError> {
    match value {
        Value::Int8(v) => return Ok(i64::from(*v)),
        Value::Int16(v) => return Ok(i64::from(*v)),
        Value::Int32(v) => return Ok(i64::from(*v)),
        Value::Int64(v) => return Ok(*v),
        Value::Float32(v) => return Ok(*v as i64),
        Value::Float64(v) => return Ok(*v as i64),
        Value::Decimal(d) => return Ok(d.to_i64_wrapping()),
        Value::String(s) => {
            if let Some(d) = JavaDecimal::parse(s) {
                return Ok(d.decimal().to_i64_wrapping());
            }
        }
        _ => {}
    }
    let Some(schema) = schema else {
        return Err(unable(value, &"a number"));
    };
    if let Value::Date(ms) = value {
        match Logical::of(schema) {
            Some(Logical::Date) => return logical::date_to_days(*ms).map(i64::from),
            Some(Logical::Time) => return time_from_logical(*ms).map(i64::from),
            Some(Logical::Timestamp) => return Ok(*ms),
            _ => {}
        }
    }
    Err(unable(value, schema))
}

/// Kafka's `Values.asDouble`.
fn as_double(value: &Value, schema: Option<&Schema>) -> Result<f64, DataError> {
    match value {
        Value::Int8(v) => return Ok(f64::from(*v)),
        Value::Int16(v) => return Ok(f64::from(*v)),
        Value::Int32(v) => return Ok(f64::from(*v)),
        Value::Int64(v) => return Ok(*v as f64),
        Value::Float32(v) => return Ok(f64::from(*v)),
        Value::Float64(v) => return Ok(*v),
        Value::Decimal(d) => return Ok(d.to_f64()),
        Value::String(s) => {
            if let Some(d) = JavaDecimal::parse(s) {
                return Ok(d.to_f64());
            }
        }
        _ => {}
    }
    as_long(value, schema).map(|l| l as f64)
}

/// Kafka 4's `Time.fromLogical`: milliseconds from 0 to 86400000 (inclusive).
fn time_from_logical(ms: i64) -> Result<i32, DataError> {
    if !(0..=MILLIS_PER_DAY).contains(&ms) {
        return Err(DataError::new(
            "Kafka Connect Time type should not have any date fields set to non-zero values.",
        ));
    }
    Ok(ms as i32)
}

/// Kafka's `Values.convertTo`: a non-null value as a value of `to` (`from`: the value's own
/// schema, if known). What `parse_string` uses to give all elements of an array (entries of a
/// map) the schema it inferred.
fn convert_to(to: &Schema, from: Option<&Schema>, value: &Value) -> Result<Value, DataError> {
    if value.is_null() {
        if to.is_optional() {
            return Ok(Value::Null);
        }
        return Err(DataError::new(
            "Unable to convert a null value to a schema that requires a value",
        ));
    }
    let logical = Logical::of(to);
    Ok(match to.ty() {
        Type::Bytes if logical == Some(Logical::Decimal) => {
            Value::Decimal(convert_to_decimal(to, value)?)
        }
        Type::Bytes => match value {
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::Decimal(d) => Value::Bytes(logical::decimal_to_bytes(to, d)?),
            _ => return Err(unable(value, to)),
        },
        Type::String => Value::String(convert_to_string(from, value).unwrap_or_default()),
        Type::Boolean => Value::Boolean(convert_to_boolean(from, value)?.unwrap_or_default()),
        Type::Int8 => Value::Int8(convert_to_byte(from, value)?.unwrap_or_default()),
        Type::Int16 => Value::Int16(convert_to_short(from, value)?.unwrap_or_default()),
        Type::Int32 => match logical {
            Some(Logical::Date) => convert_to_date(from, value)?,
            Some(Logical::Time) => convert_to_time(from, value)?,
            _ => Value::Int32(convert_to_integer(from, value)?.unwrap_or_default()),
        },
        Type::Int64 if logical == Some(Logical::Timestamp) => convert_to_timestamp(from, value)?,
        Type::Int64 => Value::Int64(convert_to_long(from, value)?.unwrap_or_default()),
        Type::Float32 => Value::Float32(convert_to_float(from, value)?.unwrap_or_default()),
        Type::Float64 => Value::Float64(convert_to_double(from, value)?.unwrap_or_default()),
        Type::Array | Type::Map => {
            let parsed;
            let value = match value {
                Value::String(s) => {
                    parsed = parse_string(s).value;
                    &parsed
                }
                v => v,
            };
            match (to.ty(), value) {
                (Type::Array, Value::Array(_)) | (Type::Map, Value::Map(_)) => value.clone(),
                _ => return Err(unable(value, to)),
            }
        }
        Type::Struct => match value {
            Value::Struct(_) => value.clone(),
            _ => return Err(unable(value, to)),
        },
    })
}

/// Kafka's `convertToDecimal(Schema, Object)`.
fn convert_to_decimal(to: &Schema, value: &Value) -> Result<Decimal, DataError> {
    let from_double = |d: f64| {
        // BigDecimal.valueOf(double): the double's Java text
        Decimal::parse(&super::java::double_to_string(d)).ok_or_else(|| unable(value, to))
    };
    match value {
        Value::Bytes(b) => logical::decimal_from_bytes(to, b),
        Value::Decimal(d) => Ok(d.clone()),
        Value::String(s) => JavaDecimal::parse(s)
            .map(JavaDecimal::into_decimal)
            .ok_or_else(|| unable(value, to)),
        Value::Float32(f) => from_double(f64::from(*f)),
        Value::Float64(f) => from_double(*f),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            from_double(as_double(value, None)?)
        }
        _ => Err(unable(value, to)),
    }
}

/// A string is parsed first (`Values.parseString`), as Kafka's date conversions do.
fn parsed_if_string(value: &Value) -> Value {
    match value {
        Value::String(s) => parse_string(s).value,
        v => v.clone(),
    }
}

/// Kafka's `convertToDate(Schema, Schema, Object)`.
fn convert_to_date(from: Option<&Schema>, value: &Value) -> Result<Value, DataError> {
    let value = parsed_if_string(value);
    if let Value::Date(ms) = value {
        match from.map(Logical::of) {
            None | Some(Some(Logical::Date)) => return Ok(value),
            Some(Some(Logical::Timestamp)) => {
                return Ok(logical::days_to_date((ms / MILLIS_PER_DAY) as i32))
            }
            _ => {}
        }
    }
    Ok(logical::days_to_date(as_long(&value, from)? as i32))
}

/// Kafka's `convertToTime(Schema, Schema, Object)`.
fn convert_to_time(from: Option<&Schema>, value: &Value) -> Result<Value, DataError> {
    let value = parsed_if_string(value);
    if let Value::Date(ms) = value {
        match from.map(Logical::of) {
            None | Some(Some(Logical::Time)) => return Ok(value),
            Some(Some(Logical::Timestamp)) => {
                return logical::millis_to_time(ms.rem_euclid(MILLIS_PER_DAY) as i32)
            }
            _ => {}
        }
    }
    logical::millis_to_time(as_long(&value, from)? as i32)
}

/// Kafka's `convertToTimestamp(Schema, Schema, Object)`.
fn convert_to_timestamp(from: Option<&Schema>, value: &Value) -> Result<Value, DataError> {
    let value = parsed_if_string(value);
    if let Value::Date(ms) = value {
        match from.map(Logical::of) {
            None | Some(Some(Logical::Timestamp)) => return Ok(value),
            Some(Some(Logical::Date)) => {
                let days = logical::date_to_days(ms)?;
                return Ok(Value::Date(i64::from(days) * MILLIS_PER_DAY));
            }
            Some(Some(Logical::Time)) => return Ok(Value::Date(i64::from(time_from_logical(ms)?))),
            _ => {}
        }
    }
    Ok(Value::Date(as_long(&value, from)?))
}

#[cfg(test)]
mod tests;
