//! The JSON format: a row is an object of its columns (field names matched without regard to
//! case when read), or, for one column not wrapped, its value alone.

use base64::Engine;
use datafusion_common::ScalarValue;
use serde_json::Value as Json;

use crate::types::SqlType;
use crate::value;

/// A JSON value of `ty` as a SQL value; errors say what did not fit.
pub fn from_json(v: &Json, ty: &SqlType) -> Result<ScalarValue, String> {
    if v.is_null() {
        return Ok(value::null(ty));
    }
    let mismatch = || {
        format!(
            "Can't convert type. sourceType: {}, requiredType: {ty}",
            kind(v)
        )
    };
    Ok(match ty {
        SqlType::Boolean => match v {
            Json::Bool(b) => ScalarValue::Boolean(Some(*b)),
            Json::String(s) if s.eq_ignore_ascii_case("true") => ScalarValue::Boolean(Some(true)),
            Json::String(s) if s.eq_ignore_ascii_case("false") => ScalarValue::Boolean(Some(false)),
            _ => return Err(mismatch()),
        },
        SqlType::Int => {
            let n = integer(v).ok_or_else(mismatch)?;
            ScalarValue::Int32(Some(i32::try_from(n).map_err(|_| mismatch())?))
        }
        SqlType::Bigint => ScalarValue::Int64(Some(integer(v).ok_or_else(mismatch)?)),
        SqlType::Double => ScalarValue::Float64(Some(match v {
            Json::Number(n) => n.as_f64().ok_or_else(mismatch)?,
            Json::String(s) => s.trim().parse().map_err(|_| mismatch())?,
            _ => return Err(mismatch()),
        })),
        SqlType::Decimal { precision, scale } => {
            let text = match v {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.trim().to_string(),
                _ => return Err(mismatch()),
            };
            decimal_from_text(&text, *precision, *scale)?
        }
        SqlType::String => ScalarValue::Utf8(Some(match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            other => other.to_string(),
        })),
        SqlType::Bytes => match v {
            Json::String(s) => ScalarValue::Binary(Some(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| mismatch())?,
            )),
            _ => return Err(mismatch()),
        },
        SqlType::Date => ScalarValue::Date32(Some(
            i32::try_from(integer(v).ok_or_else(mismatch)?).map_err(|_| mismatch())?,
        )),
        SqlType::Time => ScalarValue::Time32Millisecond(Some(
            i32::try_from(integer(v).ok_or_else(mismatch)?).map_err(|_| mismatch())?,
        )),
        SqlType::Timestamp => {
            ScalarValue::TimestampMillisecond(Some(integer(v).ok_or_else(mismatch)?), None)
        }
        SqlType::Array(item) => {
            let Json::Array(items) = v else {
                return Err(mismatch());
            };
            let values = items
                .iter()
                .map(|i| from_json(i, item))
                .collect::<Result<Vec<_>, _>>()?;
            value::list(&values, item)?
        }
        SqlType::Map(k, vt) => {
            let Json::Object(fields) = v else {
                return Err(mismatch());
            };
            let entries = fields
                .iter()
                .map(|(name, fv)| {
                    Ok((
                        from_json(&Json::String(name.clone()), k)?,
                        from_json(fv, vt)?,
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            value::map(&entries, k, vt)?
        }
        SqlType::Struct(fields) => {
            let Json::Object(object) = v else {
                return Err(mismatch());
            };
            let values = fields
                .iter()
                .map(|(name, t)| match field(object, name) {
                    Some(fv) => from_json(fv, t),
                    None => Ok(value::null(t)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            value::strukt(fields, &values)?
        }
    })
}

/// The member of `object` named `name`: exactly, else without regard to case.
pub fn field<'a>(object: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a Json> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(n) if n.is_f64() => "DOUBLE",
        Json::Number(_) => "BIGINT",
        Json::String(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "STRUCT",
    }
}

fn integer(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A decimal written as text (`12.5`, `-3`, `1E+2`) at `scale`, checked against `precision`.
pub fn decimal_from_text(text: &str, precision: u8, scale: i8) -> Result<ScalarValue, String> {
    let bad = || format!("Cannot convert {text} to DECIMAL({precision}, {scale})");
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (text, 0),
    };
    let negative = mantissa.starts_with('-');
    let digits = mantissa.trim_start_matches(['-', '+']);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    // the unscaled digits and their scale
    let all: String = format!("{int}{frac}");
    let mut unscaled: i128 = 0;
    for c in all.chars() {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|u| u.checked_add(i128::from(c as u8 - b'0')))
            .ok_or_else(bad)?;
    }
    let have_scale = frac.len() as i32 - exp;
    let want = i32::from(scale);
    let v = if have_scale <= want {
        (0..want - have_scale).try_fold(unscaled, |u, _| u.checked_mul(10).ok_or_else(bad))?
    } else {
        // rounds half up, as Java's BigDecimal.setScale(HALF_UP)
        let drop = have_scale - want;
        let div = (0..drop).try_fold(1i128, |d, _| d.checked_mul(10).ok_or_else(bad))?;
        let q = unscaled / div;
        if (unscaled % div) * 2 >= div {
            q + 1
        } else {
            q
        }
    };
    let limit = (0..precision).fold(1i128, |d, _| d.saturating_mul(10));
    if v >= limit {
        return Err(bad());
    }
    Ok(ScalarValue::Decimal128(
        Some(if negative { -v } else { v }),
        precision,
        scale,
    ))
}

/// A decimal's text: its unscaled value with `scale` digits after the point.
pub fn decimal_text(unscaled: i128, scale: i8) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let s = if scale <= 0 {
        format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize))
    } else {
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (i, f) = padded.split_at(padded.len() - scale);
        format!("{i}.{f}")
    };
    if negative {
        format!("-{s}")
    } else {
        s
    }
}

/// A double as Java's `Double.toString` writes it (`1.0`, `0.001`, `1.0E7`, `1.5E-4`).
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let a = d.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{d:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

/// A double in JSON: NaN and the infinities are strings, as Jackson writes them.
fn write_double(d: f64, out: &mut String) {
    if d.is_finite() {
        out.push_str(&java_double(d));
    } else {
        out.push('"');
        out.push_str(&java_double(d));
        out.push('"');
    }
}

/// The JSON text of `v`.
pub fn scalar_json_text(v: &ScalarValue) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

/// Writes `v` as JSON text, as ksqlDB's JSON serializer does: numbers as written by Java,
/// decimals with their scale, bytes in base64, dates in days, times and timestamps in ms.
pub fn write_json(v: &ScalarValue, out: &mut String) {
    write_value(v, out, false);
}

/// `v` as `TO_JSON_STRING` writes it: as [`write_json`], but dates, times and timestamps as
/// ISO-8601 text (`"1972-09-27"`, `"16:43:40"`, `"1971-11-28T23:46:40.000"`).
pub fn to_json_string(v: &ScalarValue) -> String {
    let mut out = String::new();
    write_value(v, &mut out, true);
    out
}

/// The civil date (year, month, day) of `days` since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A time of day in ms as Java's `LocalTime` prints it (`HH:mm:ss`, then `.SSS` if any).
fn time_text(ms: i64) -> String {
    let ms = ms.rem_euclid(86_400_000);
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if f == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{f:03}")
    }
}

fn write_value(v: &ScalarValue, out: &mut String, temporal_text: bool) {
    use std::fmt::Write;
    if v.is_null() {
        out.push_str("null");
        return;
    }
    match v {
        ScalarValue::Boolean(Some(b)) => out.push_str(if *b { "true" } else { "false" }),
        ScalarValue::Int8(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        ScalarValue::Int16(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        ScalarValue::Int32(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        ScalarValue::Int64(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        ScalarValue::Float32(Some(f)) => write_double(f64::from(*f), out),
        ScalarValue::Float64(Some(f)) => write_double(*f, out),
        ScalarValue::Decimal128(Some(u), _, s) => out.push_str(&decimal_text(*u, *s)),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => out.push_str(&Json::String(s.clone()).to_string()),
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        ScalarValue::Date32(Some(d)) if temporal_text => {
            let (y, m, d) = civil(i64::from(*d));
            let _ = write!(out, "\"{y:04}-{m:02}-{d:02}\"");
        }
        ScalarValue::Time32Millisecond(Some(t)) if temporal_text => {
            let _ = write!(out, "\"{}\"", time_text(i64::from(*t)));
        }
        ScalarValue::TimestampMillisecond(Some(t), _) if temporal_text => {
            let (y, mo, d) = civil(t.div_euclid(86_400_000));
            let ms = t.rem_euclid(86_400_000);
            let (h, mi, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            let _ = write!(
                out,
                "\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}\""
            );
        }
        ScalarValue::Date32(Some(d)) => {
            let _ = write!(out, "{d}");
        }
        ScalarValue::Time32Millisecond(Some(t)) => {
            let _ = write!(out, "{t}");
        }
        ScalarValue::TimestampMillisecond(Some(t), _) => {
            let _ = write!(out, "{t}");
        }
        ScalarValue::List(_) => {
            out.push('[');
            for (i, item) in value::list_items(v).unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, temporal_text);
            }
            out.push(']');
        }
        ScalarValue::Map(_) => {
            out.push('{');
            for (i, (k, item)) in value::map_entries(v).unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match k {
                    ScalarValue::Utf8(Some(s)) => s.clone(),
                    other => other.to_string(),
                };
                out.push_str(&Json::String(key).to_string());
                out.push(':');
                write_value(item, out, temporal_text);
            }
            out.push('}');
        }
        ScalarValue::Struct(_) => {
            out.push('{');
            for (i, (name, item)) in value::struct_fields(v)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(name.clone()).to_string());
                out.push(':');
                write_value(item, out, temporal_text);
            }
            out.push('}');
        }
        other => out.push_str(&Json::String(other.to_string()).to_string()),
    }
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn roundtrip(json: &str, ty: SqlType) -> String {
        let v = from_json(&serde_json::from_str(json).unwrap(), &ty).unwrap();
        let mut out = String::new();
        write_json(&v, &mut out);
        out
    }

    #[test]
    fn scalars_read_and_write_as_ksqldb_does() {
        assert_eq!(roundtrip("1", SqlType::Double), "1.0");
        assert_eq!(roundtrip("1e10", SqlType::Double), "1.0E10");
        assert_eq!(roundtrip("\"12\"", SqlType::Int), "12");
        assert_eq!(roundtrip("12", SqlType::String), "\"12\"");
        assert_eq!(
            roundtrip(
                "1.5",
                SqlType::Decimal {
                    precision: 4,
                    scale: 2
                }
            ),
            "1.50"
        );
        assert_eq!(
            roundtrip(
                "\"-0.125\"",
                SqlType::Decimal {
                    precision: 3,
                    scale: 2
                }
            ),
            "-0.13"
        );
        assert!(from_json(
            &serde_json::json!(123.4),
            &SqlType::Decimal {
                precision: 3,
                scale: 1
            }
        )
        .is_err());
        assert!(from_json(&serde_json::json!("x"), &SqlType::Int).is_err());
        assert!(from_json(&serde_json::json!(3_000_000_000i64), &SqlType::Int).is_err());
    }

    #[test]
    fn nested_values_keep_their_shape() {
        let ty = SqlType::Struct(vec![
            ("A".into(), SqlType::Array(Box::new(SqlType::Bigint))),
            (
                "M".into(),
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Double)),
            ),
            ("MISSING".into(), SqlType::String),
        ]);
        assert_eq!(
            roundtrip(r#"{"a":[1,null,3],"m":{"x":2.5}}"#, ty),
            r#"{"A":[1,null,3],"M":{"x":2.5},"MISSING":null}"#
        );
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(-2.25), "-2.25");
    }
}
