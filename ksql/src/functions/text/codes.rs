//! `ENCODE` and `CHR`: text re-encoded (hex, utf8, ascii, base64) as ksqlDB does it with
//! commons-codec (hex's `0x..` and `X'..'` forms, lenient base64, `?` and U+FFFD for what
//! ASCII cannot hold), and characters from code points or Java escapes (commons-text's
//! `unescapeJava`).

use base64::Engine;
use datafusion_common::ScalarValue;

use super::text;

/// `ENCODE(str, inputEncoding, outputEncoding)`: the text decoded from one encoding, encoded
/// in another (not the same one).
pub fn encode(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(s), Some(from), Some(to)) =
        (text(args.first()), text(args.get(1)), text(args.get(2)))
    else {
        return Ok(ScalarValue::Utf8(None));
    };
    // (ksqlDB looks up the two names run together: `'hexa', 'scii'` is hex to ascii)
    let known = ["hex", "utf8", "ascii", "base64"];
    let key = format!("{}{}", from.to_lowercase(), to.to_lowercase());
    let pair = known.iter().find_map(|f| {
        let to = key.strip_prefix(f)?;
        (known.contains(&to) && to != *f).then_some((*f, to))
    });
    let Some((from, to)) = pair else {
        return Err("Supported input and output encodings are: hex, utf8, ascii and base64".into());
    };
    let bytes: Vec<u8> = match from {
        "hex" => decode_hex(&hex_strip(s))?,
        "utf8" => s.as_bytes().to_vec(),
        "ascii" => s
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect(),
        _ => lenient_base64(s),
    };
    let out = match to {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "utf8" => String::from_utf8_lossy(&bytes).into_owned(),
        "ascii" => bytes
            .iter()
            .map(|&b| if b.is_ascii() { b as char } else { '\u{FFFD}' })
            .collect(),
        _ => base64::engine::general_purpose::STANDARD.encode(&bytes),
    };
    Ok(ScalarValue::Utf8(Some(out)))
}

/// Whether `s` holds none of the line terminators Java's `.` stops at.
fn one_line(s: &str) -> bool {
    !s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// ksqlDB's `hexStrip`: `0x..` loses its `0x` (a `0` put first when the whole has an odd
/// length), `X'..'` its quotes; anything else stays.
fn hex_strip(s: &str) -> String {
    if let Some(rest) = s.strip_prefix("0x").filter(|r| one_line(r)) {
        if s.encode_utf16().count() % 2 != 0 {
            format!("0{rest}")
        } else {
            rest.to_string()
        }
    } else if let Some(inner) = s
        .strip_prefix(['x', 'X'])
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.strip_suffix('\''))
        .filter(|r| one_line(r))
    {
        inner.to_string()
    } else {
        s.to_string()
    }
}

/// Hex digits (either case) as bytes; an odd count or another character fails.
fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("Odd number of characters.".into());
    }
    let digit = |c: u8, i: usize| {
        char::from(c)
            .to_digit(16)
            .ok_or_else(|| format!("Illegal hexadecimal character {} at index {i}", c as char))
    };
    s.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| Ok((digit(pair[0], 2 * i)? * 16 + digit(pair[1], 2 * i + 1)?) as u8))
        .collect()
}

/// Base64 read as commons-codec reads it: either alphabet, other characters skipped, up to
/// the first `=`, a last partial group giving the whole bytes it holds.
fn lenient_base64(s: &str) -> Vec<u8> {
    let sextet = |b: u8| -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut bits, mut n) = (0u32, 0);
    for b in s.bytes().take_while(|&b| b != b'=') {
        let Some(v) = sextet(b) else { continue };
        bits = (bits << 6) | v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            (bits, n) = (0, 0);
        }
    }
    match n {
        2 => out.push((bits >> 4) as u8),
        3 => out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]),
        _ => {}
    }
    out
}

/// `CHR(code)`: the character of a code point; null outside Unicode's range.
pub fn chr_code(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(ScalarValue::Int32(Some(code))) = args.first() else {
        return Ok(ScalarValue::Utf8(None));
    };
    let Ok(code) = u32::try_from(*code) else {
        return Ok(ScalarValue::Utf8(None));
    };
    if code > 0x10FFFF {
        return Ok(ScalarValue::Utf8(None));
    }
    // (a lone surrogate, which Java would keep, is a replacement character here)
    let c = char::from_u32(code).unwrap_or('\u{FFFD}');
    Ok(ScalarValue::Utf8(Some(c.to_string())))
}

/// `CHR('\uXXXX')`: Java escapes (as commons-text's `unescapeJava` reads them) in text of at
/// least six characters starting `\u`; null otherwise.
pub fn chr_text(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    match text(args.first()) {
        Some(s) if s.encode_utf16().count() >= 6 && s.starts_with("\\u") => {
            Ok(ScalarValue::Utf8(Some(unescape_java(s)?)))
        }
        _ => Ok(ScalarValue::Utf8(None)),
    }
}

/// commons-text's `StringEscapeUtils.unescapeJava`: octal, `\u` (any number of `u`s),
/// `\b\n\t\f\r`, `\\ \" \'`; any other backslash dropped.
fn unescape_java(s: &str) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match next {
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                let mut len = 1;
                while len < 3 {
                    match chars.get(i + 1 + len).and_then(|c| c.to_digit(8)) {
                        Some(x) if len < 2 || d <= '3' => {
                            v = v * 8 + x;
                            len += 1;
                        }
                        _ => break,
                    }
                }
                units.push(v as u16);
                i += 1 + len;
            }
            Some('u') => {
                let mut j = i + 1;
                while chars.get(j) == Some(&'u') {
                    j += 1;
                }
                if chars.get(j) == Some(&'+') {
                    j += 1;
                }
                let digits: String = chars
                    .get(j..j + 4)
                    .ok_or_else(|| format!("Less than 4 hex digits in unicode value: '{s}'"))?
                    .iter()
                    .collect();
                let unit = u16::from_str_radix(&digits, 16)
                    .map_err(|_| format!("Unable to parse unicode value: {digits}"))?;
                units.push(unit);
                i = j + 4;
            }
            Some(e @ ('b' | 'n' | 't' | 'f' | 'r' | '\\' | '"' | '\'')) => {
                units.push(match e {
                    'b' => 8,
                    'n' => 10,
                    't' => 9,
                    'f' => 12,
                    'r' => 13,
                    other => other as u16,
                });
                i += 2;
            }
            _ => i += 1,
        }
    }
    Ok(String::from_utf16_lossy(&units))
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    #[test]
    fn encode_converts_between_encodings() {
        let enc = |v: &str, f: &str, t: &str| encode(&[s(v), s(f), s(t)]);
        assert_eq!(
            enc("4578616d706C6521", "hex", "utf8").unwrap(),
            s("Example!")
        );
        assert_eq!(
            enc("X'4578616d706C6521'", "hex", "base64").unwrap(),
            s("RXhhbXBsZSE=")
        );
        assert_eq!(
            enc("0x578616d706C6521", "hex", "ascii").unwrap(),
            s("\u{5}xample!")
        );
        assert_eq!(enc("x''", "hex", "utf8").unwrap(), s(""));
        assert!(enc("0x0x", "hex", "utf8").is_err());
        assert!(enc("x'4578", "hex", "utf8").is_err());
        assert_eq!(
            enc("c39c62", "hex", "ascii").unwrap(),
            s("\u{FFFD}\u{FFFD}b")
        );
        assert_eq!(enc("Ελλάδα", "ascii", "hex").unwrap(), s("3f3f3f3f3f3f"));
        assert_eq!(
            enc("zpXOu867zqzOtM6x", "base64", "utf8").unwrap(),
            s("Ελλάδα")
        );
        assert_eq!(enc("RXhhbXBsZSE", "base64", "utf8").unwrap(), s("Example!"));
        assert!(enc("RXhh", "base64", "null").is_err());
        assert!(enc("RXhh", "utf8", "UTF8").is_err());
        assert_eq!(enc("4b", "hexa", "scii").unwrap(), s("K"));
    }

    #[test]
    fn chr_reads_code_points_and_escapes() {
        let code = |n: i32| chr_code(&[ScalarValue::Int32(Some(n))]).unwrap();
        assert_eq!(code(75), s("K"));
        assert_eq!(code(99000), s("\u{182B8}"));
        assert!(code(-1).is_null());
        assert!(code(0x110000).is_null());
        let esc = |v: &str| chr_text(&[s(v)]).unwrap();
        assert_eq!(esc("\\u004b"), s("K"));
        assert_eq!(esc("\\ud820\\udeb8"), s("\u{182B8}"));
        assert!(esc("75").is_null());
        assert!(esc("004b").is_null());
        assert!(chr_text(&[s("\\uzzzzz")]).is_err());
    }
}
