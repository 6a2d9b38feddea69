//! JSON as Kafka Connect's `JsonConverter` reads and writes it through Jackson: a tree of
//! [`Node`]s that keeps the kinds of numbers Jackson tells apart (int, long, big integer,
//! exact decimal), a parser with Jackson's defaults, and a writer that prints exactly Jackson's
//! bytes (its escapes, Java's number text, base64 for binary).

pub mod envelope;
mod parse;
mod write;

pub use parse::{parse, ParseError};
pub use write::write;

use base64::Engine;

use crate::data::Decimal;

/// A JSON value as Jackson's tree model holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// No value at all (Jackson's `MissingNode`: empty input, or an absent object member).
    Missing,
    /// No value (Java `null`).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer literal that fits 32 bits.
    Int(i32),
    /// An integer literal that fits 64 bits.
    Long(i64),
    /// A larger integer literal.
    BigInteger(Decimal),
    /// A literal with a fraction or an exponent, kept exact (Jackson's `DecimalNode`).
    Decimal(Decimal),
    /// Written from a Java `float`.
    Float(f32),
    /// Written from a Java `double`.
    Double(f64),
    /// A string.
    Text(String),
    /// Bytes, written as base64 text.
    Binary(Vec<u8>),
    /// A list of values of one schema.
    Array(Vec<Node>),
    /// Members in order; a key appears once.
    Object(Vec<(String, Node)>),
}

/// The base64 Jackson writes (standard alphabet, padded, no line feeds) and reads (trailing
/// bits not checked).
pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

impl Node {
    /// Jackson's `getNodeType()` name, as Kafka's messages print it.
    pub fn node_type(&self) -> &'static str {
        match self {
            Node::Missing => "MISSING",
            Node::Null => "NULL",
            Node::Bool(_) => "BOOLEAN",
            Node::Int(_)
            | Node::Long(_)
            | Node::BigInteger(_)
            | Node::Decimal(_)
            | Node::Float(_)
            | Node::Double(_) => "NUMBER",
            Node::Text(_) => "STRING",
            Node::Binary(_) => "BINARY",
            Node::Array(_) => "ARRAY",
            Node::Object(_) => "OBJECT",
        }
    }

    /// Whether the node is null or absent.
    pub fn is_null_or_missing(&self) -> bool {
        matches!(self, Node::Null | Node::Missing)
    }

    /// Whether the node is a number.
    pub fn is_number(&self) -> bool {
        self.node_type() == "NUMBER"
    }

    /// Jackson's `isIntegralNumber()`.
    pub fn is_integral(&self) -> bool {
        matches!(self, Node::Int(_) | Node::Long(_) | Node::BigInteger(_))
    }

    /// A member of an object (`Missing` when absent or not an object).
    pub fn get(&self, name: &str) -> &Node {
        match self {
            Node::Object(members) => members
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
                .unwrap_or(&Node::Missing),
            _ => &Node::Missing,
        }
    }

    /// Jackson's `intValue()`: numbers cast to `int`, anything else 0.
    pub fn int_value(&self) -> i32 {
        match self {
            Node::Int(v) => *v,
            Node::Float(f) => *f as i32,
            Node::Double(d) => *d as i32,
            _ => self.long_value() as i32,
        }
    }

    /// Jackson's `longValue()`.
    pub fn long_value(&self) -> i64 {
        match self {
            Node::Int(v) => i64::from(*v),
            Node::Long(v) => *v,
            Node::BigInteger(d) | Node::Decimal(d) => d.to_i64_wrapping(),
            Node::Float(f) => *f as i64,
            Node::Double(d) => *d as i64,
            _ => 0,
        }
    }

    /// Jackson's `doubleValue()`.
    pub fn double_value(&self) -> f64 {
        match self {
            Node::Int(v) => f64::from(*v),
            Node::Long(v) => *v as f64,
            Node::BigInteger(d) | Node::Decimal(d) => d.to_f64(),
            Node::Float(f) => f64::from(*f),
            Node::Double(d) => *d,
            _ => 0.0,
        }
    }

    /// Jackson's `floatValue()`.
    pub fn float_value(&self) -> f32 {
        match self {
            Node::Int(v) => *v as f32,
            Node::Long(v) => *v as f32,
            Node::BigInteger(d) | Node::Decimal(d) => {
                let sign = if d.is_negative() { "-" } else { "" };
                let text = d.to_java_string();
                let text = text.trim_start_matches('-');
                format!("{sign}{text}").parse().unwrap_or(f32::NAN)
            }
            Node::Float(f) => *f,
            Node::Double(d) => *d as f32,
            _ => 0.0,
        }
    }

    /// Jackson's `decimalValue()`.
    pub fn decimal_value(&self) -> Decimal {
        match self {
            Node::Int(v) => Decimal::from_i64(i64::from(*v), 0),
            Node::Long(v) => Decimal::from_i64(*v, 0),
            Node::BigInteger(d) | Node::Decimal(d) => d.clone(),
            Node::Float(f) => Decimal::parse(&crate::data::java::float_to_string(*f))
                .unwrap_or(Decimal::from_i64(0, 0)),
            Node::Double(v) => Decimal::parse(&crate::data::java::double_to_string(*v))
                .unwrap_or(Decimal::from_i64(0, 0)),
            _ => Decimal::from_i64(0, 0),
        }
    }

    /// Jackson's `booleanValue()`: false for anything but `true`.
    pub fn boolean_value(&self) -> bool {
        matches!(self, Node::Bool(true))
    }

    /// Jackson's `textValue()`: the text of a string, else none.
    pub fn text_value(&self) -> Option<&str> {
        match self {
            Node::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Jackson's `binaryValue()`: the bytes of a binary node, a string's base64 decoded, else
    /// none; an error for a string that is not base64.
    pub fn binary_value(&self) -> Result<Option<Vec<u8>>, base64::DecodeError> {
        match self {
            Node::Binary(b) => Ok(Some(b.clone())),
            Node::Text(s) => {
                let compact: String = s.chars().filter(|c| *c > ' ').collect();
                BASE64.decode(compact).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// What iterating the node yields in Java (`for (JsonNode e : node)`): an array's elements,
    /// an object's values, nothing for others.
    pub fn elements(&self) -> Vec<&Node> {
        match self {
            Node::Array(items) => items.iter().collect(),
            Node::Object(members) => members.iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    /// Jackson's `asText()`: what a map key becomes.
    pub fn as_text(&self) -> String {
        let mut out = Vec::new();
        match self {
            Node::Text(s) => return s.clone(),
            Node::Null => return "null".into(),
            Node::Missing | Node::Array(_) | Node::Object(_) => return String::new(),
            Node::Binary(b) => return BASE64.encode(b),
            _ => write(self, &mut out),
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
