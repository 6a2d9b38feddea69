//! `org.apache.kafka.connect.storage.StringConverter`: writes a value's Java `toString()`, reads
//! bytes as an optional string, in `converter.encoding` (UTF-8 by default).

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, Schema, SchemaAndValue, Type, Value};

use super::Converter;

/// The character sets `converter.encoding` accepts (Java's names and aliases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (the default).
    Utf8,
    /// ISO-8859-1.
    Latin1,
    /// US-ASCII.
    Ascii,
    /// Big-endian with a byte order mark when writing; reading honours a mark.
    Utf16,
    /// UTF-16, big-endian, no byte order mark.
    Utf16Be,
    /// UTF-16, little-endian, no byte order mark.
    Utf16Le,
}

impl Encoding {
    /// Parses a Java character set name (`UTF-8`, `ISO-8859-1`, `US-ASCII`, `UTF-16`, `UTF-16BE`, `UTF-16LE`).
    pub fn parse(name: &str) -> Option<Encoding> {
        Some(match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Encoding::Utf8,
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "ISO-LATIN-1" => Encoding::Latin1,
            "US-ASCII" | "ASCII" => Encoding::Ascii,
            "UTF-16" | "UTF16" => Encoding::Utf16,
            "UTF-16BE" | "UTF16BE" => Encoding::Utf16Be,
            "UTF-16LE" | "UTF16LE" => Encoding::Utf16Le,
            _ => return None,
        })
    }

    /// Java's `String.getBytes(charset)` (unmappable characters become `?`).
    pub fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => s.as_bytes().to_vec(),
            Encoding::Latin1 => s
                .chars()
                .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
                .collect(),
            Encoding::Ascii => s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
            Encoding::Utf16 => [0xfe, 0xff]
                .into_iter()
                .chain(s.encode_utf16().flat_map(u16::to_be_bytes))
                .collect(),
            Encoding::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            Encoding::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }

    /// Java's `new String(bytes, charset)` (malformed input becomes U+FFFD).
    pub fn decode(self, b: &[u8]) -> String {
        let utf16 = |b: &[u8], big: bool| {
            let units: Vec<u16> = b
                .chunks(2)
                .map(|c| match c {
                    [x, y] if big => u16::from_be_bytes([*x, *y]),
                    [x, y] => u16::from_le_bytes([*x, *y]),
                    _ => 0xfffd,
                })
                .collect();
            String::from_utf16_lossy(&units)
        };
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(b).into_owned(),
            Encoding::Latin1 => b.iter().map(|x| char::from(*x)).collect(),
            Encoding::Ascii => b
                .iter()
                .map(|x| {
                    if x.is_ascii() {
                        char::from(*x)
                    } else {
                        '\u{fffd}'
                    }
                })
                .collect(),
            Encoding::Utf16 => match b {
                [0xfe, 0xff, rest @ ..] => utf16(rest, true),
                [0xff, 0xfe, rest @ ..] => utf16(rest, false),
                _ => utf16(b, true),
            },
            Encoding::Utf16Be => utf16(b, true),
            Encoding::Utf16Le => utf16(b, false),
        }
    }
}

/// Kafka's StringConverter.
#[derive(Clone, Debug)]
pub struct StringConverter {
    encoding: Encoding,
}

impl Default for StringConverter {
    fn default() -> Self {
        StringConverter {
            encoding: Encoding::Utf8,
        }
    }
}

impl StringConverter {
    /// Reads `converter.encoding`.
    pub fn configure(config: &Config) -> Result<StringConverter, ConfigError> {
        let name = config.string_or("converter.encoding", "UTF-8");
        let encoding = Encoding::parse(&name).ok_or_else(|| {
            ConfigError::invalid("converter.encoding", &name, "Unsupported encoding")
        })?;
        Ok(StringConverter { encoding })
    }
}

impl Converter for StringConverter {
    fn to_bytes(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        if value.is_null() {
            return Ok(None);
        }
        Ok(Some(self.encoding.encode(&value.to_string())))
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        let value = bytes.map_or(Value::Null, |b| Value::String(self.encoding.decode(b)));
        Ok(SchemaAndValue::new(
            Some(Schema::optional(Type::String)),
            value,
        ))
    }
}
