//! `TO_BYTES` and `FROM_BYTES`: strings to bytes and back in an encoding (`hex`, `utf8`,
//! `ascii`, `base64`, whatever the case).

use base64::Engine;
use datafusion_common::ScalarValue;

fn text(v: Option<&ScalarValue>) -> Option<&str> {
    match v {
        Some(ScalarValue::Utf8(Some(s))) => Some(s),
        _ => None,
    }
}

/// `TO_BYTES(s, encoding)`.
pub fn to_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(s), Some(enc)) = (text(args.first()), text(args.get(1))) else {
        return Ok(ScalarValue::Binary(None));
    };
    let bytes = match enc.to_ascii_lowercase().as_str() {
        "hex" => {
            if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("'{s}' is not a hex string"));
            }
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
                .collect::<Result<Vec<u8>, _>>()?
        }
        "utf8" => s.as_bytes().to_vec(),
        "ascii" => s
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect(),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| e.to_string())?,
        other => {
            return Err(format!(
            "Supported input and output encodings are: hex, utf8, ascii and base64, not '{other}'"
        ))
        }
    };
    Ok(ScalarValue::Binary(Some(bytes)))
}

/// `FROM_BYTES(b, encoding)`.
pub fn from_bytes(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(ScalarValue::Binary(Some(b))), Some(enc)) = (args.first(), text(args.get(1))) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let s = match enc.to_ascii_lowercase().as_str() {
        "hex" => b.iter().map(|x| format!("{x:02X}")).collect(),
        "utf8" => String::from_utf8_lossy(b).into_owned(),
        "ascii" => b
            .iter()
            .map(|&x| if x.is_ascii() { x as char } else { '\u{FFFD}' })
            .collect(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(b),
        other => {
            return Err(format!(
            "Supported input and output encodings are: hex, utf8, ascii and base64, not '{other}'"
        ))
        }
    };
    Ok(ScalarValue::Utf8(Some(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    #[test]
    fn encodings_round_trip() {
        let b = to_bytes(&[s("0aFF"), s("HEX")]).unwrap();
        assert_eq!(b, ScalarValue::Binary(Some(vec![0x0a, 0xff])));
        assert_eq!(from_bytes(&[b, s("hex")]).unwrap(), s("0AFF"));
        let b = to_bytes(&[s("aGk="), s("base64")]).unwrap();
        assert_eq!(from_bytes(&[b, s("utf8")]).unwrap(), s("hi"));
        assert!(to_bytes(&[s("abc"), s("hex")]).is_err());
    }
}
