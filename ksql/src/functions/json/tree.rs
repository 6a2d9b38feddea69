//! JSON read and written as ksqlDB's JSON functions do it with Jackson (`readTree`, floats as
//! exact `BigDecimal`s): members kept in the order read (a repeated name keeps its first place
//! and its last value), integers and decimals kept as written (`1.23450` stays so, `-0` is
//! `0`), one root value read and what follows it ignored (but a root number must be followed
//! by white space), strings written with Jackson's escapes (`\u001F`, upper-case hex).

use std::collections::HashMap;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, its digits as written (`-0` read as `0`).
    Int(String),
    /// A number with a fraction or an exponent, as a `BigDecimal`: `negative` as written,
    /// `digits` its unscaled value (no leading zeros), `scale` the digits after the point.
    Decimal {
        /// Whether written with a minus sign.
        negative: bool,
        /// The unscaled value's digits.
        digits: String,
        /// The scale: the value is `digits × 10^-scale`.
        scale: i64,
    },
    /// A string.
    Text(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, its members in order.
    Object(Vec<(String, Node)>),
}

/// How deep arrays and objects may nest (as Jackson's default limit).
const MAX_DEPTH: usize = 1000;

/// The JSON value `s` starts with; `None` when it holds only white space (Jackson's
/// `MissingNode`).
pub fn parse(s: &str) -> Result<Option<Node>, String> {
    let mut p = Parser { s, pos: 0 };
    p.ws();
    if p.peek().is_none() {
        return Ok(None);
    }
    let number = matches!(p.peek(), Some(b'-' | b'0'..=b'9'));
    let v = p.value(0)?;
    if number && !matches!(p.peek(), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
        return Err(p.error("expected space separating root-level values"));
    }
    Ok(Some(v))
}

/// Reads the elements of the JSON array `s` in turn, as a streaming parser does, until
/// `found` says one is wanted: whether one was. Only what comes before it must be valid;
/// `false` when `s` is no array.
pub fn array_any(
    s: &str,
    mut found: impl FnMut(&Node) -> Result<bool, String>,
) -> Result<bool, String> {
    let mut p = Parser { s, pos: 0 };
    p.ws();
    if p.peek() != Some(b'[') {
        return Ok(false);
    }
    p.pos += 1;
    p.ws();
    if p.peek() == Some(b']') {
        return Ok(false);
    }
    loop {
        let v = p.value(1)?;
        if found(&v)? {
            return Ok(true);
        }
        p.ws();
        match p.bump() {
            Some(b',') => p.ws(),
            Some(b']') => return Ok(false),
            _ => return Err(p.error("was expecting comma to separate Array entries")),
        }
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    fn error(&self, what: &str) -> String {
        format!("Invalid JSON at {}: {what}", self.pos)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, String> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Node::Text(self.string()?)),
            Some(b't') => self.word("true", Node::Bool(true)),
            Some(b'f') => self.word("false", Node::Bool(false)),
            Some(b'n') => self.word("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character, expected a value")),
            None => Err(self.error("unexpected end-of-input")),
        }
    }

    /// A literal, not followed by a character that could continue a name.
    fn word(&mut self, word: &str, node: Node) -> Result<Node, String> {
        if !self.s[self.pos..].starts_with(word) {
            return Err(self.error("unrecognized token"));
        }
        self.pos += word.len();
        let next = self.s[self.pos..].chars().next();
        if next.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            return Err(self.error("unrecognized token"));
        }
        Ok(node)
    }

    fn digits(&mut self) -> &str {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn number(&mut self) -> Result<Node, String> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int = self.digits().to_string();
        if int.is_empty() {
            return Err(self.error("expected digit (0-9) to follow minus sign"));
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(self.error("leading zeroes not allowed"));
        }
        let mut frac = String::new();
        if self.peek() == Some(b'.') {
            self.pos += 1;
            frac = self.digits().to_string();
            if frac.is_empty() {
                return Err(self.error("decimal point not followed by a digit"));
            }
        }
        let mut exp: Option<i64> = None;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let minus = self.peek() == Some(b'-');
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let e = self.digits();
            if e.is_empty() {
                return Err(self.error("exponent indicator not followed by a digit"));
            }
            let e: i64 = e
                .parse::<i32>()
                .map_err(|_| self.error("exponent out of range"))?
                .into();
            exp = Some(if minus { -e } else { e });
        }
        if frac.is_empty() && exp.is_none() {
            let zero = int == "0";
            return Ok(Node::Int(if negative && !zero {
                format!("-{int}")
            } else {
                int
            }));
        }
        let all = format!("{int}{frac}");
        let trimmed = all.trim_start_matches('0');
        Ok(Node::Decimal {
            negative,
            digits: if trimmed.is_empty() { "0" } else { trimmed }.to_string(),
            scale: frac.len() as i64 - exp.unwrap_or(0),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("expected a hex-digit for character escape sequence"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|e| e.to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            out.push_str(&self.s[start..self.pos]);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {}
                Some(_) => return Err(self.error("illegal unquoted character")),
                None => return Err(self.error("unexpected end-of-input in a string")),
            }
            let c = match self.bump() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    let unit = self.hex4()?;
                    // (a surrogate pair is one character; a lone surrogate, which Java
                    // keeps, a replacement character)
                    let low = (0xD800..0xDC00).contains(&unit)
                        && self.s[self.pos..].starts_with("\\u")
                        && self
                            .s
                            .get(self.pos + 2..self.pos + 6)
                            .and_then(|d| u32::from_str_radix(d, 16).ok())
                            .is_some_and(|l| (0xDC00..0xE000).contains(&l));
                    let code = if low {
                        self.pos += 2;
                        let l = self.hex4()?;
                        0x10000 + ((unit - 0xD800) << 10) + (l - 0xDC00)
                    } else {
                        unit
                    };
                    char::from_u32(code).unwrap_or('\u{FFFD}')
                }
                _ => return Err(self.error("unrecognized character escape")),
            };
            out.push(c);
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("document nesting depth exceeds the maximum allowed"));
        }
        self.pos += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.ws();
            match self.bump() {
                Some(b',') => self.ws(),
                Some(b']') => return Ok(Node::Array(items)),
                _ => return Err(self.error("was expecting comma to separate Array entries")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("document nesting depth exceeds the maximum allowed"));
        }
        self.pos += 1;
        self.ws();
        let mut members: Vec<(String, Node)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::Object(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("was expecting double-quote to start field name"));
            }
            let name = self.string()?;
            self.ws();
            if self.bump() != Some(b':') {
                return Err(self.error("was expecting a colon to separate field name and value"));
            }
            self.ws();
            let v = self.value(depth)?;
            match index.get(&name) {
                Some(&i) => members[i].1 = v,
                None => {
                    index.insert(name.clone(), members.len());
                    members.push((name, v));
                }
            }
            self.ws();
            match self.bump() {
                Some(b',') => self.ws(),
                Some(b'}') => return Ok(Node::Object(members)),
                _ => return Err(self.error("was expecting comma to separate Object entries")),
            }
        }
    }
}

impl Node {
    /// The JSON text of the value, compact. `plain` writes decimals without exponents
    /// (`BigDecimal.toPlainString`, as ksqlDB's mapper writes them); otherwise as
    /// `BigDecimal.toString` does (as `JsonNode.toString` writes them).
    pub fn text(&self, plain: bool) -> String {
        let mut out = String::new();
        self.write(plain, &mut out);
        out
    }

    fn write(&self, plain: bool, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Int(t) => out.push_str(t),
            Node::Decimal {
                negative,
                digits,
                scale,
            } => {
                if *negative && digits != "0" {
                    out.push('-');
                }
                out.push_str(&big_decimal(digits, *scale, plain));
            }
            Node::Text(s) => write_string(s, out),
            Node::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(plain, out);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(plain, out);
                }
                out.push('}');
            }
        }
    }

    /// Whether a decimal in the value has a scale (either way) beyond `max`.
    pub fn has_decimal_scale_beyond(&self, max: i64) -> bool {
        match self {
            Node::Decimal { scale, .. } => scale.abs() > max,
            Node::Array(items) => items.iter().any(|n| n.has_decimal_scale_beyond(max)),
            Node::Object(members) => members.iter().any(|(_, n)| n.has_decimal_scale_beyond(max)),
            _ => false,
        }
    }

    /// A number's value as a double (Java's `Double.parseDouble` of its text).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Int(t) => t.parse().ok(),
            Node::Decimal {
                negative,
                digits,
                scale,
            } => {
                let sign = if *negative { "-" } else { "" };
                format!("{sign}{digits}E{}", -scale).parse().ok()
            }
            _ => None,
        }
    }
}

/// An unsigned `BigDecimal` of `digits × 10^-scale` as Java writes it.
fn big_decimal(digits: &str, scale: i64, plain: bool) -> String {
    let len = digits.len() as i64;
    if scale == 0 {
        return digits.to_string();
    }
    let adjusted = len - 1 - scale;
    if scale > 0 && (plain || adjusted >= -6) {
        return if len > scale {
            let (i, f) = digits.split_at((len - scale) as usize);
            format!("{i}.{f}")
        } else {
            format!("0.{}{digits}", "0".repeat((scale - len) as usize))
        };
    }
    if plain {
        // (a negative scale: trailing zeros; zero is just 0)
        return if digits == "0" {
            "0".into()
        } else {
            format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize))
        };
    }
    let mut out = digits[..1].to_string();
    if len > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    if adjusted != 0 {
        out.push('E');
        if adjusted > 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    out
}

/// A JSON string as Jackson writes it: `"` and `\` escaped, control characters as `\b`,
/// `\t`, `\n`, `\f`, `\r` or `\u00XX`; nothing else.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn round(s: &str, plain: bool) -> String {
        parse(s).unwrap().unwrap().text(plain)
    }

    #[test]
    fn reads_as_jackson_reads() {
        assert_eq!(parse("  ").unwrap(), None);
        assert_eq!(
            round(r#"{"b": 1, "a": [true, null], "b": 2}"#, false),
            r#"{"b":2,"a":[true,null]}"#
        );
        // one root value; what follows is ignored, but not right after a number
        assert_eq!(round(r#"{"a": 1}}"#, false), r#"{"a":1}"#);
        assert_eq!(round("1 x", false), "1");
        assert!(parse("1x").is_err());
        assert!(parse("truex").is_err());
        assert_eq!(round("true]", false), "true");
        // what Jackson refuses
        for bad in [
            "abc", "01", "-", "1.", ".5", "1e", "[1,]", "{'a':1}", "\"a\tb\"", "\"\\x\"", "[1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"[".repeat(1001)).unwrap_err().contains("depth"));
    }

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(round("1.23450", false), "1.23450");
        assert_eq!(round("-0", false), "0");
        assert_eq!(round("-0.0", false), "0.0");
        assert_eq!(
            round("12345678901234567890123", false),
            "12345678901234567890123"
        );
        assert_eq!(round("1e5", false), "1E+5");
        assert_eq!(round("1e5", true), "100000");
        assert_eq!(round("-1.5E3", false), "-1.5E+3");
        assert_eq!(round("0.0000001", false), "1E-7");
        assert_eq!(round("0.0000001", true), "0.0000001");
        assert_eq!(round("0.000001", false), "0.000001");
        assert_eq!(round("12.5e-1", false), "1.25");
        assert_eq!(
            parse("-0.0").unwrap().unwrap().as_f64().map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }

    #[test]
    fn strings_escape_as_jackson_does() {
        assert_eq!(
            round(r#""a\"b\\c\/d\u001f\u00e9\n""#, false),
            "\"a\\\"b\\\\c/d\\u001Fé\\n\""
        );
        assert_eq!(round(r#""\ud83d\ude00""#, false), "\"😀\"");
    }

    #[test]
    fn arrays_stream_until_found() {
        let is = |want: &'static str| {
            move |n: &Node| -> Result<bool, String> { Ok(*n == Node::Text(want.into())) }
        };
        assert_eq!(array_any(r#"["a", "b"]"#, is("b")), Ok(true));
        assert_eq!(array_any(r#"["a", "b"]"#, is("c")), Ok(false));
        // nothing after a match is read; a fault before one is an error
        assert_eq!(array_any(r#"["b", oops"#, is("b")), Ok(true));
        assert!(array_any(r#"[oops, "b"]"#, is("b")).is_err());
        assert_eq!(array_any(r#"{"b": 1}"#, is("b")), Ok(false));
    }
}
