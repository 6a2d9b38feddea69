//! The DELIMITED format: one line of fields separated by a character, quoted with `"` when a
//! field holds the separator, a quote or a line break (quotes doubled), an empty field for a
//! null.

use datafusion_common::ScalarValue;

use super::json;
use crate::types::SqlType;
use crate::value::{null, Row};

/// The line of a row.
pub fn serialize(row: &[datafusion_common::ScalarValue], sep: char) -> String {
    let mut out = String::new();
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        if v.is_null() {
            continue;
        }
        let text = match v {
            ScalarValue::Utf8(Some(s)) => s.clone(),
            ScalarValue::Binary(Some(b)) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
            other => json::scalar_json_text(other),
        };
        if needs_quotes(&text, i == 0, sep) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out
}

/// Whether Commons CSV (minimal quoting, as ksqlDB prints) quotes a field: an empty first
/// field; a first field not starting with a letter or digit; a field starting with a character
/// up to `#`, holding a line break, a quote or the separator, or ending in a space or control
/// character.
fn needs_quotes(text: &str, first: bool, sep: char) -> bool {
    let Some(c) = text.chars().next() else {
        return first;
    };
    if first && !c.is_ascii_alphanumeric() {
        return true;
    }
    if c <= '#' {
        return true;
    }
    if text.contains([sep, '"', '\n', '\r']) {
        return true;
    }
    text.chars().last().is_some_and(|l| l <= ' ')
}

/// Splits a line into fields (`None`: an empty, null field).
fn split(line: &str, sep: char) -> Result<Vec<Option<String>>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        loop {
            match chars.peek() {
                None => break,
                Some(&c) if c == sep => break,
                Some(&c) => {
                    if quoted {
                        return Err(format!("unexpected '{c}' after a quoted field"));
                    }
                    field.push(c);
                    chars.next();
                }
            }
        }
        fields.push(if field.is_empty() && !quoted {
            None
        } else {
            Some(field)
        });
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// The row of `columns` in `bytes`.
pub fn deserialize(bytes: &[u8], sep: char, columns: &[(String, SqlType)]) -> Result<Row, String> {
    let line = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']);
    let fields = split(line, sep)?;
    if fields.len() != columns.len() {
        return Err(format!(
            "Column count mismatch on deserialization. topic: , expected: {}, got: {}",
            columns.len(),
            fields.len()
        ));
    }
    columns
        .iter()
        .zip(fields)
        .map(|((_, t), f)| match f {
            None => Ok(null(t)),
            Some(text) => parse_field(&text, t),
        })
        .collect()
}

fn parse_field(text: &str, t: &SqlType) -> Result<ScalarValue, String> {
    match t {
        SqlType::String => Ok(ScalarValue::Utf8(Some(text.to_string()))),
        SqlType::Bytes => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(|b| ScalarValue::Binary(Some(b)))
                .map_err(|e| format!("invalid base64: {e}"))
        }
        _ => json::from_json(&serde_json::Value::String(text.trim().to_string()), t),
    }
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fields_are_quoted_as_commons_csv_quotes_them() {
        let row = vec![
            ScalarValue::Int32(Some(-10)),
            ScalarValue::Utf8(Some("a,b".into())),
            ScalarValue::Utf8(None),
            ScalarValue::Float64(Some(0.0)),
            ScalarValue::Utf8(Some("say \"hi\"".into())),
        ];
        assert_eq!(
            serialize(&row, ','),
            "\"-10\",\"a,b\",,0.0,\"say \"\"hi\"\"\""
        );
        let cols = vec![
            ("A".to_string(), SqlType::Int),
            ("B".to_string(), SqlType::String),
            ("C".to_string(), SqlType::String),
            ("D".to_string(), SqlType::Double),
            ("E".to_string(), SqlType::String),
        ];
        let back = deserialize(serialize(&row, ',').as_bytes(), ',', &cols).unwrap();
        assert_eq!(back[1], ScalarValue::Utf8(Some("a,b".into())));
        assert!(back[2].is_null());
        assert_eq!(back[4], ScalarValue::Utf8(Some("say \"hi\"".into())));
        assert!(deserialize(b"1,2", ',', &cols).is_err());
    }
}
