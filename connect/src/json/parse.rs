//! Parses JSON text as Jackson's `ObjectMapper.readTree` does with Kafka's settings: strict
//! JSON, integers as int/long/big integer nodes, fractions kept exact
//! (`USE_BIG_DECIMAL_FOR_FLOATS`), a repeated key keeping its first place and its last value,
//! and whatever follows the first value ignored (Jackson does not check trailing tokens).

use super::Node;
use crate::data::Decimal;

/// JSON that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where in the input.
    pub offset: usize,
}

/// Nesting deeper than this is refused (Jackson 2.15+ refuses 1,000 levels by default).
const MAX_DEPTH: usize = 1000;

/// Parses the first JSON value of `input`; empty (or blank) input is [`Node::Missing`].
pub fn parse(input: &[u8]) -> Result<Node, ParseError> {
    let mut p = Parser { input, pos: 0 };
    p.skip_ws();
    if p.pos == input.len() {
        return Ok(Node::Missing);
    }
    p.value(0)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            offset: self.pos,
        })
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.skip_ws();
        match self.peek() {
            None => self.err("unexpected end of input"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Text(self.string()?)),
            Some(b't') => self.literal(b"true", Node::Bool(true)),
            Some(b'f') => self.literal(b"false", Node::Bool(false)),
            Some(b'n') => self.literal(b"null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(c) => self.err(format!("unexpected character '{}'", c as char)),
        }
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Result<Node, ParseError> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            // "trueish" is not a literal
            if let Some(c) = self.peek() {
                if c.is_ascii_alphanumeric() || c == b'_' {
                    return self.err("unrecognized token");
                }
            }
            Ok(node)
        } else {
            self.err("unrecognized token")
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, ParseError> {
        self.pos += 1;
        let mut members: Vec<(String, Node)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.err("expected a field name in double quotes");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return self.err("expected ':'");
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(m) => m.1 = value,
                None => members.push((key, value)),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Object(members));
                }
                _ => return self.err("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Array(items));
                }
                _ => return self.err("expected ',' or ']'"),
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let start = self.pos;
            while let Some(&c) = self.input.get(self.pos) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.input[start..self.pos]);
            match self.peek() {
                None => return self.err("unexpected end of input in a string"),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(c) => c,
                        None => return self.err("unexpected end of input in a string"),
                    };
                    self.pos += 1;
                    match c {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            let ch = if (0xd800..0xdc00).contains(&unit) {
                                // a high surrogate must be followed by an escaped low one
                                if self.input[self.pos..].starts_with(b"\\u") {
                                    self.pos += 2;
                                    let low = self.hex4()?;
                                    if !(0xdc00..0xe000).contains(&low) {
                                        return self.err("invalid surrogate pair");
                                    }
                                    char::from_u32(
                                        0x10000
                                            + ((u32::from(unit) - 0xd800) << 10)
                                            + (u32::from(low) - 0xdc00),
                                    )
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(u32::from(unit))
                            };
                            // a lone surrogate: Java keeps it, UTF-8 cannot; as Java's encoder
                            // writes it, a '?'
                            let ch = ch.unwrap_or('?');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return self.err("unrecognized character escape"),
                    }
                }
                Some(_) => return self.err("illegal unquoted control character in a string"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = match self.input.get(self.pos..self.pos + 4) {
            Some(d) => d,
            None => return self.err("unexpected end of input in a unicode escape"),
        };
        let text = std::str::from_utf8(digits).unwrap_or("x");
        match u16::from_str_radix(text, 16) {
            Ok(v) if text.bytes().all(|c| c.is_ascii_hexdigit()) => {
                self.pos += 4;
                Ok(v)
            }
            _ => self.err("invalid unicode escape"),
        }
    }

    fn number(&mut self) -> Result<Node, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        self.digits();
        let int_len = self.pos - int_start;
        if int_len == 0 {
            return self.err("expected a digit");
        }
        if int_len > 1 && self.input[int_start] == b'0' {
            return self.err("leading zeroes not allowed");
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return self.err("decimal point not followed by a digit");
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.err("exponent indicator not followed by a digit");
            }
            float = true;
        }
        let text = std::str::from_utf8(&self.input[start..self.pos]).unwrap_or("0");
        if float {
            return match Decimal::parse(text) {
                Some(d) => Ok(Node::Decimal(d)),
                None => self.err("number out of range"),
            };
        }
        if let Ok(v) = text.parse::<i32>() {
            return Ok(Node::Int(v));
        }
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Node::Long(v));
        }
        match Decimal::parse(text) {
            Some(d) => Ok(Node::BigInteger(d)),
            None => self.err("number out of range"),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(parse(b"12").unwrap(), Node::Int(12));
        assert_eq!(parse(b"-3000000000").unwrap(), Node::Long(-3_000_000_000));
        assert!(matches!(
            parse(b"123456789012345678901").unwrap(),
            Node::BigInteger(_)
        ));
        assert_eq!(
            parse(b"1.50").unwrap(),
            Node::Decimal(Decimal::parse("1.50").unwrap())
        );
        assert!(parse(b"01").is_err());
        assert!(parse(b"1.").is_err());
        assert!(parse(b"+1").is_err());
    }

    #[test]
    fn structure_strings_and_trailing_text() {
        assert_eq!(parse(b"  ").unwrap(), Node::Missing);
        assert_eq!(
            parse(br#"{"a":1,"a":2,"b":"x\u00e9\n"} trailing"#).unwrap(),
            Node::Object(vec![
                ("a".into(), Node::Int(2)),
                ("b".into(), Node::Text("x\u{e9}\n".into()))
            ])
        );
        assert_eq!(
            parse(br#""\ud83d\ude00""#).unwrap(),
            Node::Text("😀".into())
        );
        assert!(parse(b"{\"a\" 1}").is_err());
        assert!(parse(b"[1,]").is_err());
        assert!(parse(b"\"a\nb\"").is_err());
        assert!(parse(b"nul").is_err());
        assert!(parse(&[b'['; 5000]).is_err());
    }
}
