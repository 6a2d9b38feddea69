//! ksqlDB's casts where Arrow's differ: integers narrowed by wrapping (as Java's `(int)`),
//! strings read as booleans the lax way, structs cast field by field by name, and arrays,
//! maps and structs written as text as Java's `toString` writes them.

use arrow::datatypes::DataType;
use base64::Engine;
use datafusion_common::ScalarValue;

use crate::format::json::{decimal_from_text, decimal_text, java_double};
use crate::types::SqlType;
use crate::value;

/// The row function of a cast: `args[0]` cast to the type of `args[1]` (a typed null that
/// only carries the target type). A value that does not convert is an error (null).
pub fn cast_row(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(v), Some(target)) = (args.first(), args.get(1)) else {
        return Err("a cast takes a value and a type".into());
    };
    let to = SqlType::from_arrow(&target.data_type())
        .ok_or_else(|| format!("no SQL type for {}", target.data_type()))?;
    cast_value(v, &to)
}

/// `v` as a value of `to`, by ksqlDB's rules.
pub fn cast_value(v: &ScalarValue, to: &SqlType) -> Result<ScalarValue, String> {
    if v.is_null() {
        return Ok(value::null(to));
    }
    let from = SqlType::from_arrow(&v.data_type())
        .ok_or_else(|| format!("no SQL type for {}", v.data_type()))?;
    if &from == to {
        return Ok(v.clone());
    }
    Ok(match (&from, to) {
        (_, SqlType::String) => ScalarValue::Utf8(Some(java_text(v))),
        (SqlType::Array(_), SqlType::Array(item)) => {
            let items = value::list_items(v).unwrap_or_default();
            let cast = items
                .iter()
                .map(|i| cast_value(i, item))
                .collect::<Result<Vec<_>, _>>()?;
            value::list(&cast, item)?
        }
        (SqlType::Map(..), SqlType::Map(k, val)) => {
            let entries = value::map_entries(v).unwrap_or_default();
            let cast = entries
                .iter()
                .map(|(a, b)| Ok((cast_value(a, k)?, cast_value(b, val)?)))
                .collect::<Result<Vec<_>, String>>()?;
            value::map(&cast, k, val)?
        }
        (SqlType::Struct(_), SqlType::Struct(fields)) => {
            let have = value::struct_fields(v).unwrap_or_default();
            let values = fields
                .iter()
                .map(|(name, ty)| match have.iter().find(|(n, _)| n == name) {
                    Some((_, f)) => cast_value(f, ty),
                    None => Ok(value::null(ty)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            value::strukt(fields, &values)?
        }
        (SqlType::String, SqlType::Boolean) => ScalarValue::Boolean(Some(lax_boolean(&string(v)?))),
        (SqlType::String, SqlType::Int) => {
            ScalarValue::Int32(Some(string(v)?.trim().parse().map_err(|e| format!("{e}"))?))
        }
        (SqlType::String, SqlType::Bigint) => {
            ScalarValue::Int64(Some(string(v)?.trim().parse().map_err(|e| format!("{e}"))?))
        }
        (SqlType::String, SqlType::Double) => {
            ScalarValue::Float64(Some(string(v)?.trim().parse().map_err(|e| format!("{e}"))?))
        }
        (SqlType::String, SqlType::Decimal { precision, scale }) => {
            decimal_from_text(string(v)?.trim(), *precision, *scale)?
        }
        (SqlType::String, SqlType::Bytes) => ScalarValue::Binary(Some(
            base64::engine::general_purpose::STANDARD
                .decode(string(v)?)
                .map_err(|e| e.to_string())?,
        )),
        (_, SqlType::Int | SqlType::Bigint) => {
            let n: i64 = match v {
                ScalarValue::Int32(Some(i)) => i64::from(*i),
                ScalarValue::Int64(Some(i)) => *i,
                // (Java's (long) of a double: toward zero, saturating, NaN is 0)
                ScalarValue::Float64(Some(d)) if *to == SqlType::Bigint => *d as i64,
                ScalarValue::Float64(Some(d)) => i64::from(*d as i32),
                // (BigDecimal.longValue: the integer part, its low 64 bits)
                ScalarValue::Decimal128(Some(u), _, s) if *s >= 0 => {
                    (u / 10i128.pow(u32::from(s.unsigned_abs()))) as i64
                }
                ScalarValue::Decimal128(Some(u), _, s) => {
                    u.saturating_mul(10i128.pow(u32::from(s.unsigned_abs()))) as i64
                }
                other => return arrow_cast(other, to),
            };
            if *to == SqlType::Int {
                ScalarValue::Int32(Some(n as i32))
            } else {
                ScalarValue::Int64(Some(n))
            }
        }
        (_, SqlType::Decimal { precision, scale }) => {
            decimal_from_text(&java_text(v), *precision, *scale)?
        }
        _ => return arrow_cast(v, to),
    })
}

fn arrow_cast(v: &ScalarValue, to: &SqlType) -> Result<ScalarValue, String> {
    let cast = v.cast_to(&to.arrow()).map_err(|e| e.to_string())?;
    if cast.is_null() {
        Err(format!("cannot cast {v} to {to}"))
    } else {
        Ok(cast)
    }
}

fn string(v: &ScalarValue) -> Result<String, String> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Ok(s.clone()),
        other => Err(format!("not a string: {other}")),
    }
}

/// ksqlDB's `SqlBooleans.parseBoolean`: true when the text (trimmed) is a non-empty prefix of
/// `true` or `yes`, whatever the case; false otherwise.
pub fn lax_boolean(s: &str) -> bool {
    exact_boolean(s.trim()) == Some(true)
}

/// ksqlDB's strict boolean text (IN lists, constructors): a non-empty case-insensitive prefix
/// of `true`/`yes` is true, of `false`/`no` false; anything else is no boolean.
pub fn exact_boolean(s: &str) -> Option<bool> {
    let t = s.to_ascii_lowercase();
    if t.is_empty() {
        None
    } else if "true".starts_with(&t) || "yes".starts_with(&t) {
        Some(true)
    } else if "false".starts_with(&t) || "no".starts_with(&t) {
        Some(false)
    } else {
        None
    }
}

/// A value as Java's `toString` writes it (what `CAST(x AS STRING)` gives): collections as
/// `[a, b]` and `{k=v}`, structs as Kafka Connect's `Struct{A=1,B=x}` (null fields left out).
pub fn java_text(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int32(Some(i)) => i.to_string(),
        ScalarValue::Int64(Some(i)) => i.to_string(),
        ScalarValue::Float64(Some(d)) => java_double(*d),
        ScalarValue::Decimal128(Some(u), _, s) => decimal_text(*u, *s),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        ScalarValue::List(_) | ScalarValue::LargeList(_) => format!(
            "[{}]",
            value::list_items(v)
                .unwrap_or_default()
                .iter()
                .map(java_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ScalarValue::Map(_) => format!(
            "{{{}}}",
            value::map_entries(v)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| format!("{}={}", java_text(k), java_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ScalarValue::Struct(_) => format!(
            "Struct{{{}}}",
            value::struct_fields(v)
                .unwrap_or_default()
                .iter()
                .filter(|(_, f)| !f.is_null())
                .map(|(n, f)| format!("{n}={}", java_text(f)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => match other.cast_to(&DataType::Utf8) {
            Ok(ScalarValue::Utf8(Some(s))) => s,
            _ => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_wraps_as_java_does() {
        let v = cast_value(&ScalarValue::Int64(Some(2_147_483_648)), &SqlType::Int).unwrap();
        assert_eq!(v, ScalarValue::Int32(Some(i32::MIN)));
        let v = cast_value(&ScalarValue::Float64(Some(-1.7)), &SqlType::Int).unwrap();
        assert_eq!(v, ScalarValue::Int32(Some(-1)));
        let v = cast_value(
            &ScalarValue::Decimal128(Some(-12345), 5, 2),
            &SqlType::Bigint,
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Int64(Some(-123)));
    }

    #[test]
    fn structs_cast_by_field_name() {
        let from = vec![
            ("F0".to_string(), SqlType::Int),
            ("F1".to_string(), SqlType::String),
        ];
        let v = value::strukt(
            &from,
            &[
                ScalarValue::Int32(Some(1)),
                ScalarValue::Utf8(Some("x".into())),
            ],
        )
        .unwrap();
        let to = vec![
            ("F0".to_string(), SqlType::String),
            ("F3".to_string(), SqlType::Int),
        ];
        let cast = cast_value(&v, &SqlType::Struct(to)).unwrap();
        assert_eq!(
            value::struct_fields(&cast).unwrap(),
            vec![
                ("F0".to_string(), ScalarValue::Utf8(Some("1".into()))),
                ("F3".to_string(), ScalarValue::Int32(None)),
            ]
        );
        assert_eq!(java_text(&v), "Struct{F0=1,F1=x}");
    }

    #[test]
    fn collections_as_text() {
        let m = value::map(
            &[(
                ScalarValue::Utf8(Some("this".into())),
                ScalarValue::Int32(Some(1)),
            )],
            &SqlType::String,
            &SqlType::Int,
        )
        .unwrap();
        assert_eq!(java_text(&m), "{this=1}");
        let a = value::list(
            &[ScalarValue::Float64(Some(1.0)), ScalarValue::Float64(None)],
            &SqlType::Double,
        )
        .unwrap();
        assert_eq!(java_text(&a), "[1.0, null]");
    }

    #[test]
    fn booleans_from_text() {
        assert!(lax_boolean(" Ye "));
        assert!(!lax_boolean("nope"));
        assert_eq!(exact_boolean("TrUe"), Some(true));
        assert_eq!(exact_boolean("n"), Some(false));
        assert_eq!(exact_boolean("Not a boolean"), None);
    }
}
