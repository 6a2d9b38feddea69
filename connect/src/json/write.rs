//! Writes a [`Node`] as Jackson's `ObjectMapper.writeValueAsBytes` does.

use base64::Engine;

use super::{Node, BASE64};
use crate::data::java;

/// Appends the JSON text of `node` (compact, UTF-8) to `out`.
pub fn write(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Missing => {}
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Node::Long(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Node::BigInteger(d) | Node::Decimal(d) => {
            out.extend_from_slice(d.to_java_string().as_bytes())
        }
        // Jackson writes non-finite numbers as strings ("NaN") by default
        Node::Float(f) if !f.is_finite() => write_string(&java::float_to_string(*f), out),
        Node::Double(d) if !d.is_finite() => write_string(&java::double_to_string(*d), out),
        Node::Float(f) => out.extend_from_slice(java::float_to_string(*f).as_bytes()),
        Node::Double(d) => out.extend_from_slice(java::double_to_string(*d).as_bytes()),
        Node::Text(s) => write_string(s, out),
        Node::Binary(b) => {
            out.push(b'"');
            out.extend_from_slice(BASE64.encode(b).as_bytes());
            out.push(b'"');
        }
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Node::Object(members) => {
            out.push(b'{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string with Jackson's escapes: `\"`, `\\`, `\b \t \n \f \r`, other control
/// characters as `\u00XX` (uppercase hex), characters beyond U+FFFF as their escaped UTF-16
/// surrogates; everything else as UTF-8.
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0xf0 {
            // a character beyond the Basic Multilingual Plane: Jackson escapes its surrogate
            // pair (\uD83D\uDE00)
            out.extend_from_slice(&bytes[start..i]);
            let ch = s[i..].chars().next().unwrap_or('?');
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[usize::from((*unit >> shift) & 0xf)]);
                }
            }
            start = i + ch.len_utf8();
            continue;
        }
        if i < start {
            continue;
        }
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(node: &Node) -> String {
        let mut out = Vec::new();
        write(node, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn jackson_escapes_and_numbers() {
        assert_eq!(
            text(&Node::Text("a\"b\\c\n\u{1}/é😀x".into())),
            r#""a\"b\\c\n\u0001/é\uD83D\uDE00x""#
        );
        assert_eq!(text(&Node::Double(1e10)), "1.0E10");
        assert_eq!(text(&Node::Double(f64::NAN)), "\"NaN\"");
        assert_eq!(text(&Node::Float(1.5)), "1.5");
        assert_eq!(text(&Node::Binary(vec![1, 2, 3, 4])), "\"AQIDBA==\"");
        assert_eq!(
            text(&Node::Object(vec![
                ("a".into(), Node::Int(1)),
                ("b".into(), Node::Array(vec![Node::Null, Node::Bool(true)]))
            ])),
            r#"{"a":1,"b":[null,true]}"#
        );
    }
}
