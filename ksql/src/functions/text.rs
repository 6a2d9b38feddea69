//! More of ksqlDB's string and bytes functions, with its semantics: `SPLIT` (Guava's
//! `Splitter`: every piece kept; an empty delimiter splits every character or byte),
//! `SPLIT_TO_MAP`, `ENCODE` (hex, utf8, ascii and base64 text re-encoded as commons-codec
//! does it), `CHR`, `ELT`, `FIELD`, `CONCAT_WS` and `CONCAT` of bytes, `MD5`, and
//! `INT_FROM_BYTES`, `BIGINT_FROM_BYTES`, `DOUBLE_FROM_BYTES`.

mod codes;

use datafusion_common::ScalarValue;
use md5::{Digest, Md5};

use super::rowfn::{row_udf, RowFn};
use super::text_arg as text;
use crate::plan::expr::{is_null_literal, udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value;
use codes::{chr_code, chr_text, encode};

/// The functions planned here (with `CONCAT` of bytes, named elsewhere).
pub const NAMES: &[&str] = &[
    "BIGINT_FROM_BYTES",
    "CHR",
    "CONCAT_WS",
    "DOUBLE_FROM_BYTES",
    "ELT",
    "ENCODE",
    "FIELD",
    "INT_FROM_BYTES",
    "MD5",
    "SPLIT",
    "SPLIT_TO_MAP",
];

/// Plans `name(args)`, one of [`NAMES`] or `CONCAT` of bytes.
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    use SqlType::{Bigint, Bytes, Double, Int, String};
    let is = |a: &Typed, t: &SqlType| a.ty == *t || is_null_literal(&a.expr);
    let all = |t: &SqlType| args.iter().all(|a| is(a, t));
    // (bytes when one argument is bytes and the others bytes or NULL)
    let bytes = args.iter().any(|a| a.ty == Bytes) && all(&Bytes);
    let strings = args.iter().all(|a| a.ty == String);
    let list = |t: SqlType| SqlType::Array(Box::new(t));
    let (n, f, ret): (&'static str, RowFn, SqlType) = match (name, args.len()) {
        ("SPLIT", 2) if strings => ("SPLIT", split, list(String)),
        ("SPLIT", 2) if bytes => ("SPLIT", split, list(Bytes)),
        ("SPLIT_TO_MAP", 3) if strings => (
            "SPLIT_TO_MAP",
            split_to_map,
            SqlType::Map(Box::new(String), Box::new(String)),
        ),
        ("ENCODE", 3) if strings => ("ENCODE", encode, String),
        ("CHR", 1) if args[0].ty == Int => ("CHR", chr_code, String),
        ("CHR", 1) if args[0].ty == String => ("CHR", chr_text, String),
        ("ELT", 1..) if is(&args[0], &Int) && args[1..].iter().all(|a| a.ty == String) => {
            ("ELT", elt, String)
        }
        ("FIELD", 1..) if strings => ("FIELD", field, Int),
        ("CONCAT_WS", _) if strings => ("CONCAT_WS", concat_ws, String),
        ("CONCAT_WS", _) if bytes => ("CONCAT_WS", concat_ws, Bytes),
        ("CONCAT", _) if bytes => ("CONCAT", concat_bytes, Bytes),
        ("MD5", 1) if strings => ("MD5", md5, String),
        ("INT_FROM_BYTES" | "BIGINT_FROM_BYTES" | "DOUBLE_FROM_BYTES", 1 | 2)
            if args[0].ty == Bytes && args.get(1).is_none_or(|o| o.ty == String) =>
        {
            match name {
                "INT_FROM_BYTES" => ("INT_FROM_BYTES", int_from_bytes, Int),
                "BIGINT_FROM_BYTES" => ("BIGINT_FROM_BYTES", bigint_from_bytes, Bigint),
                _ => ("DOUBLE_FROM_BYTES", double_from_bytes, Double),
            }
        }
        _ => return Err(super::refused(name, &args)),
    };
    let mut cast = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        cast.push(match n {
            "ELT" if i == 0 => p.cast(a, &Int)?,
            _ if bytes => p.cast(a, &Bytes)?,
            _ => a,
        });
    }
    let t = udf_call(p, row_udf(n, ret.arrow(), f), cast)?;
    Ok(Typed {
        expr: t.expr,
        ty: ret,
    })
}

fn binary(v: Option<&ScalarValue>) -> Option<&[u8]> {
    match v {
        Some(
            ScalarValue::Binary(Some(b))
            | ScalarValue::LargeBinary(Some(b))
            | ScalarValue::BinaryView(Some(b)),
        ) => Some(b),
        _ => None,
    }
}

fn is_bytes(v: Option<&ScalarValue>) -> bool {
    matches!(
        v,
        Some(ScalarValue::Binary(_) | ScalarValue::LargeBinary(_) | ScalarValue::BinaryView(_))
    )
}

/// `SPLIT(str, delimiter)` or `SPLIT(bytes, delimiter)`.
fn split(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    if is_bytes(args.first()) {
        let (Some(b), Some(d)) = (binary(args.first()), binary(args.get(1))) else {
            return Ok(value::null(&SqlType::Array(Box::new(SqlType::Bytes))));
        };
        let pieces: Vec<&[u8]> = if b.is_empty() {
            vec![b]
        } else if d.is_empty() {
            b.chunks(1).collect()
        } else {
            split_bytes(b, d)
        };
        let items: Vec<ScalarValue> = pieces
            .into_iter()
            .map(|p| ScalarValue::Binary(Some(p.to_vec())))
            .collect();
        return value::list(&items, &SqlType::Bytes);
    }
    let (Some(s), Some(d)) = (text(args.first()), text(args.get(1))) else {
        return Ok(value::null(&SqlType::Array(Box::new(SqlType::String))));
    };
    // (an empty delimiter: Java's split by "", every character; "" gives [""])
    let pieces: Vec<String> = if d.is_empty() && !s.is_empty() {
        s.chars().map(String::from).collect()
    } else if d.is_empty() {
        vec![String::new()]
    } else {
        s.split(d).map(str::to_string).collect()
    };
    let items: Vec<ScalarValue> = pieces
        .into_iter()
        .map(|p| ScalarValue::Utf8(Some(p)))
        .collect();
    value::list(&items, &SqlType::String)
}

/// `b` split at each `d` (not empty), every piece kept.
fn split_bytes<'a>(b: &'a [u8], d: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + d.len() <= b.len() {
        if &b[i..i + d.len()] == d {
            out.push(&b[start..i]);
            i += d.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&b[start..]);
    out
}

/// `SPLIT_TO_MAP(input, entryDelimiter, kvDelimiter)`: empty entries and entries without
/// the key-value delimiter skipped, the value the piece after the first delimiter, the last
/// value of a key kept; null when a delimiter is empty or both are the same.
fn split_to_map(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let null = || {
        let string = || Box::new(SqlType::String);
        value::null(&SqlType::Map(string(), string()))
    };
    let (Some(s), Some(entry), Some(kv)) =
        (text(args.first()), text(args.get(1)), text(args.get(2)))
    else {
        return Ok(null());
    };
    if entry.is_empty() || kv.is_empty() || entry == kv {
        return Ok(null());
    }
    let mut entries: Vec<(ScalarValue, ScalarValue)> = Vec::new();
    for e in s.split(entry).filter(|e| !e.is_empty() && e.contains(kv)) {
        let mut parts = e.split(kv);
        let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
            continue;
        };
        let k = ScalarValue::Utf8(Some(k.to_string()));
        let v = ScalarValue::Utf8(Some(v.to_string()));
        match entries.iter_mut().find(|(old, _)| *old == k) {
            Some(found) => found.1 = v,
            None => entries.push((k, v)),
        }
    }
    value::map(&entries, &SqlType::String, &SqlType::String)
}

/// `ELT(n, args...)`: the `n`th (from 1) of the strings; null when there is none.
fn elt(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(ScalarValue::Int32(Some(n))) = args.first() else {
        return Ok(ScalarValue::Utf8(None));
    };
    let found = usize::try_from(*n)
        .ok()
        .filter(|&n| n >= 1)
        .and_then(|n| args.get(n))
        .and_then(|v| text(Some(v)));
    Ok(ScalarValue::Utf8(found.map(str::to_string)))
}

/// `FIELD(str, args...)`: the position (from 1) of the first string equal to `str`; 0 when
/// there is none or `str` is null.
fn field(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let found =
        text(args.first()).and_then(|s| args.iter().skip(1).position(|a| text(Some(a)) == Some(s)));
    Ok(ScalarValue::Int32(Some(
        found.map_or(0, |i| i32::try_from(i + 1).unwrap_or(0)),
    )))
}

/// `CONCAT_WS(separator, args...)` of strings or bytes: the non-null arguments with the
/// separator between them; null when the separator is.
fn concat_ws(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    if args.len() < 2 {
        return Err("Function Concat_WS expects at least two input arguments.".into());
    }
    if is_bytes(args.first()) {
        let Some(sep) = binary(args.first()) else {
            return Ok(ScalarValue::Binary(None));
        };
        let parts: Vec<&[u8]> = args[1..].iter().filter_map(|a| binary(Some(a))).collect();
        return Ok(ScalarValue::Binary(Some(parts.join(sep))));
    }
    let Some(sep) = text(args.first()) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let parts: Vec<&str> = args[1..].iter().filter_map(|a| text(Some(a))).collect();
    Ok(ScalarValue::Utf8(Some(parts.join(sep))))
}

/// `CONCAT(bytes...)`: the non-null arguments one after the other.
fn concat_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let joined: Vec<u8> = args
        .iter()
        .filter_map(|a| binary(Some(a)))
        .flatten()
        .copied()
        .collect();
    Ok(ScalarValue::Binary(Some(joined)))
}

/// `MD5(str)`: the hex of the MD5 hash of the string's UTF-8 bytes.
fn md5(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(s) = text(args.first()) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let hash = Md5::digest(s.as_bytes());
    Ok(ScalarValue::Utf8(Some(
        hash.iter().map(|b| format!("{b:02x}")).collect(),
    )))
}

/// The `N` bytes of the first argument in big-endian order, by the byte order in the second
/// (`BIG_ENDIAN` when absent); `None` when the bytes are null.
fn fixed_bytes<const N: usize>(args: &[ScalarValue]) -> Result<Option<[u8; N]>, String> {
    let little = match args.get(1) {
        None => false,
        Some(o) => match text(Some(o)) {
            Some(o) if o.eq_ignore_ascii_case("BIG_ENDIAN") => false,
            Some(o) if o.eq_ignore_ascii_case("LITTLE_ENDIAN") => true,
            o => {
                return Err(format!(
                    "Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{}'.",
                    o.unwrap_or("null")
                ))
            }
        },
    };
    let Some(b) = binary(args.first()) else {
        return Ok(None);
    };
    let mut a: [u8; N] = b.try_into().map_err(|_| {
        format!(
            "Number of bytes must be equal to {N}, but found {}",
            b.len()
        )
    })?;
    if little {
        a.reverse();
    }
    Ok(Some(a))
}

/// `INT_FROM_BYTES(bytes[, byteOrder])`.
fn int_from_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int32(
        fixed_bytes::<4>(args)?.map(i32::from_be_bytes),
    ))
}

/// `BIGINT_FROM_BYTES(bytes[, byteOrder])`.
fn bigint_from_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int64(
        fixed_bytes::<8>(args)?.map(i64::from_be_bytes),
    ))
}

/// `DOUBLE_FROM_BYTES(bytes[, byteOrder])`.
fn double_from_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Float64(
        fixed_bytes::<8>(args)?.map(f64::from_be_bytes),
    ))
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    fn b(v: &[u8]) -> ScalarValue {
        ScalarValue::Binary(Some(v.to_vec()))
    }

    fn null() -> ScalarValue {
        ScalarValue::Utf8(None)
    }

    #[test]
    fn split_keeps_every_piece() {
        let split_s = |v: &str, d: &str| value::list_items(&split(&[s(v), s(d)]).unwrap());
        let list = |v: &[&str]| Some(v.iter().map(|t| s(t)).collect::<Vec<_>>());
        assert_eq!(split_s("..a..", "."), list(&["", "", "a", "", ""]));
        assert_eq!(split_s(".$$a..", "$$"), list(&[".", "a.."]));
        assert_eq!(split_s("abc", ""), list(&["a", "b", "c"]));
        assert_eq!(split_s("", ""), list(&[""]));
        assert_eq!(split_s("", "."), list(&[""]));
        let bytes = split(&[b(b".abc."), b(b".")]).unwrap();
        assert_eq!(
            value::list_items(&bytes),
            Some(vec![b(b""), b(b"abc"), b(b"")])
        );
        let each = split(&[b(b"ab"), b(b"")]).unwrap();
        assert_eq!(value::list_items(&each), Some(vec![b(b"a"), b(b"b")]));
        assert!(split(&[s("a"), null()]).unwrap().is_null());
    }

    #[test]
    fn split_to_map_reads_entries_as_guava_does() {
        let map = |v: &str, e: &str, kv: &str| {
            value::map_entries(&split_to_map(&[s(v), s(e), s(kv)]).unwrap())
        };
        let input = "apple:green/banana:yellow/cherry:red";
        assert_eq!(
            map(input, "&&", ":"),
            Some(vec![(s("apple"), s("green/banana"))])
        );
        assert_eq!(
            map("a:1//b:2/a:3:x/", "/", ":"),
            Some(vec![(s("a"), s("3")), (s("b"), s("2"))])
        );
        assert_eq!(map(input, "/", "="), Some(vec![]));
        assert_eq!(map(input, "", ":"), None);
        assert_eq!(map(input, ":", ":"), None);
    }

    #[test]
    fn elt_and_field_are_one_based() {
        let n = |v: i32| ScalarValue::Int32(Some(v));
        assert_eq!(elt(&[n(2), s("a"), s("b")]).unwrap(), s("b"));
        assert!(elt(&[n(0), s("a")]).unwrap().is_null());
        assert!(elt(&[n(3), s("a"), s("b")]).unwrap().is_null());
        assert_eq!(field(&[s("b"), s("a"), s("b")]).unwrap(), n(2));
        assert_eq!(field(&[null(), null(), s("b")]).unwrap(), n(0));
    }

    #[test]
    fn concat_ws_skips_nulls() {
        assert_eq!(
            concat_ws(&[s("SEP"), s("foo"), null(), s("baz"), s("x")]).unwrap(),
            s("fooSEPbazSEPx")
        );
        assert_eq!(concat_ws(&[s("SEP"), null(), null()]).unwrap(), s(""));
        assert!(concat_ws(&[null(), s("a")]).unwrap().is_null());
        let none = ScalarValue::Binary(None);
        assert_eq!(
            concat_ws(&[b(b"a"), b(b"b"), b(b""), none.clone(), b(b"no")]).unwrap(),
            b(b"baano")
        );
        assert_eq!(
            concat_bytes(&[b(b"yes"), none, b(b"no")]).unwrap(),
            b(b"yesno")
        );
        assert!(concat_ws(&[s("x")]).is_err());
    }

    #[test]
    fn md5_and_numbers_from_bytes() {
        assert_eq!(
            md5(&[s("r1")]).unwrap(),
            s("7c92cf1eee8d99cc85f8355a3d6e4b86")
        );
        assert_eq!(
            md5(&[s("")]).unwrap(),
            s("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(
            int_from_bytes(&[b(&[0, 0, 7, 0xE5])]).unwrap(),
            ScalarValue::Int32(Some(2021))
        );
        assert_eq!(
            int_from_bytes(&[b(&[0xE5, 7, 0, 0]), s("little_endian")]).unwrap(),
            ScalarValue::Int32(Some(2021))
        );
        assert_eq!(
            bigint_from_bytes(&[b(&[0, 0, 0, 1, 0x2A, 5, 0xF2, 0])]).unwrap(),
            ScalarValue::Int64(Some(5_000_000_000))
        );
        assert!(int_from_bytes(&[b(&[1, 2])]).is_err());
        assert!(int_from_bytes(&[b(&[1, 2, 3, 4]), s("MIDDLE")]).is_err());
    }
}
