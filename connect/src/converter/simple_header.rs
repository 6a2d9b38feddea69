//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`, the worker's default
//! `header.converter`: writes a header value as text ([`values::convert_to_string`], UTF-8)
//! and reads header bytes back as the value that text parses to ([`values::parse_string`]),
//! with an inferred schema.

use crate::data::values;
use crate::data::{DataError, Schema, SchemaAndValue, Type, Value};

use super::HeaderConverter;

/// Kafka's SimpleHeaderConverter (it has no settings).
#[derive(Clone, Copy, Debug, Default)]
pub struct SimpleHeaderConverter;

impl HeaderConverter for SimpleHeaderConverter {
    /// `fromConnectHeader`: null stays null; anything else is its `Values.convertToString`
    /// text (the schema is not used).
    fn header_to_bytes(
        &self,
        _topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        Ok(values::convert_to_string(schema, value).map(String::into_bytes))
    }

    /// `toConnectHeader`: null bytes are [`SchemaAndValue::NULL`]; else the bytes as UTF-8
    /// (malformed sequences replaced) parsed by `Values.parseString`; when the parser gives up
    /// (nesting too deep) the bytes themselves, with a bytes schema, as Kafka does.
    fn header_to_connect(
        &self,
        _topic: &str,
        _header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::NULL);
        };
        let text = java_utf8_decode(bytes);
        Ok(values::try_parse_string(&text).unwrap_or_else(|_| {
            SchemaAndValue::new(
                Some(Schema::primitive(Type::Bytes)),
                Value::Bytes(bytes.to_vec()),
            )
        }))
    }
}

/// Java's `new String(bytes, UTF_8)`: malformed input becomes U+FFFD as Java 17's decoder
/// replaces it, which differs from [`String::from_utf8_lossy`] for encoded surrogates (one
/// replacement for the three bytes) and truncated four-byte sequences.
pub(crate) fn java_utf8_decode(src: &[u8]) -> String {
    const REPL: char = '\u{fffd}';
    let cont = |b: u8| b & 0xc0 == 0x80;
    let mut out = String::with_capacity(src.len());
    let n = src.len();
    let mut sp = 0;
    while sp < n {
        let b1 = src[sp];
        sp += 1;
        if b1 < 0x80 {
            out.push(char::from(b1));
        } else if b1 >> 5 == 0b110 && b1 & 0x1e != 0 {
            let Some(&b2) = src.get(sp) else {
                out.push(REPL);
                break;
            };
            if cont(b2) {
                sp += 1;
                let c = (u32::from(b1 & 0x1f) << 6) | u32::from(b2 & 0x3f);
                out.push(char::from_u32(c).unwrap_or(REPL));
            } else {
                out.push(REPL);
            }
        } else if b1 >> 4 == 0b1110 {
            let overlong = |b2: u8| b1 == 0xe0 && b2 & 0xe0 == 0x80;
            if sp + 1 < n {
                let (b2, b3) = (src[sp], src[sp + 1]);
                if overlong(b2) || !cont(b2) || !cont(b3) {
                    out.push(REPL);
                    sp += usize::from(!overlong(b2) && cont(b2));
                } else {
                    sp += 2;
                    let c = (u32::from(b1 & 0x0f) << 12)
                        | (u32::from(b2 & 0x3f) << 6)
                        | u32::from(b3 & 0x3f);
                    // (surrogates are not characters: one replacement for all three bytes)
                    out.push(char::from_u32(c).unwrap_or(REPL));
                }
                continue;
            }
            out.push(REPL);
            if sp < n && (overlong(src[sp]) || !cont(src[sp])) {
                continue;
            }
            break;
        } else if b1 >> 3 == 0b11110 {
            let bad_second = |b2: u8| {
                b1 > 0xf4
                    || (b1 == 0xf0 && !(0x90..=0xbf).contains(&b2))
                    || (b1 == 0xf4 && b2 & 0xf0 != 0x80)
                    || !cont(b2)
            };
            if sp + 2 < n {
                let (b2, b3, b4) = (src[sp], src[sp + 1], src[sp + 2]);
                let c = (u32::from(b1 & 0x07) << 18)
                    | (u32::from(b2 & 0x3f) << 12)
                    | (u32::from(b3 & 0x3f) << 6)
                    | u32::from(b4 & 0x3f);
                if !cont(b2) || !cont(b3) || !cont(b4) || !(0x10000..=0x10ffff).contains(&c) {
                    out.push(REPL);
                    // Java's malformed4: how many bytes the bad sequence takes
                    sp += if bad_second(b2) {
                        0
                    } else if !cont(b3) {
                        1
                    } else {
                        2
                    };
                } else {
                    sp += 3;
                    out.push(char::from_u32(c).unwrap_or(REPL));
                }
                continue;
            }
            out.push(REPL);
            if b1 > 0xf4 || (sp < n && bad_second(src[sp])) {
                continue;
            }
            sp += 1;
            if sp < n && !cont(src[sp]) {
                continue;
            }
            break;
        } else {
            out.push(REPL);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> SchemaAndValue {
        SimpleHeaderConverter
            .header_to_connect("t", "h", Some(text.as_bytes()))
            .unwrap()
    }

    #[test]
    fn round_trips_simple_values() {
        let c = SimpleHeaderConverter;
        for (value, text) in [
            (Value::Int32(42), "42"),
            (Value::String("a b".into()), "a b"),
            (
                Value::Array(vec![Value::String("x".into()), Value::Null]),
                r#"["x",null]"#,
            ),
        ] {
            let bytes = c.header_to_bytes("t", "h", None, &value).unwrap().unwrap();
            assert_eq!(bytes, text.as_bytes());
        }
        assert_eq!(read("42").value, Value::Int8(42));
        assert_eq!(read("a b").value, Value::String("a b".into()));
        assert_eq!(c.header_to_bytes("t", "h", None, &Value::Null), Ok(None));
        assert_eq!(
            c.header_to_connect("t", "h", None),
            Ok(SchemaAndValue::NULL)
        );
        assert_eq!(read("null"), SchemaAndValue::NULL);
    }

    #[test]
    fn decodes_utf8_as_java() {
        for (bytes, text) in [
            (&b"abc"[..], "abc"),
            ("héllo😀".as_bytes(), "héllo😀"),
            (&[0xed, 0xa0, 0x80], "\u{fffd}"),
            (&[0xc3, 0x28, 0x41], "\u{fffd}(A"),
            (&[0xff, 0xfe], "\u{fffd}\u{fffd}"),
            (&[0xe0, 0x80, 0x80], "\u{fffd}\u{fffd}\u{fffd}"),
            (&[0xe2, 0x82], "\u{fffd}"),
            (&[0xf0, 0x9f, 0x98], "\u{fffd}"),
            (&[0xf0, 0x9f, 0x41, 0x42], "\u{fffd}AB"),
            (&[0xf8, 0x80], "\u{fffd}\u{fffd}"),
            (&[0xc0, 0xaf], "\u{fffd}\u{fffd}"),
        ] {
            assert_eq!(java_utf8_decode(bytes), text, "{bytes:?}");
        }
    }

    #[test]
    fn malformed_utf8_and_deep_nesting() {
        assert_eq!(
            SimpleHeaderConverter
                .header_to_connect("t", "h", Some(&[b'a', 0xff]))
                .unwrap()
                .value,
            Value::String("a\u{fffd}".into())
        );
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        let sv = read(&deep);
        assert_eq!(sv.schema, Some(Schema::primitive(Type::Bytes)));
        assert_eq!(sv.value, Value::Bytes(deep.into_bytes()));
    }
}
