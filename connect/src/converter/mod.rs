//! Converters: Connect data to and from the bytes of Kafka records, under Kafka's class names
//! (`key.converter`, `value.converter`) and their short aliases.
//!
//! ```text
//!  source task ─ SourceRecord ─▶ transforms ─▶ Converter::to_bytes ─▶ producer
//!  consumer ─▶ Converter::to_connect_data ─▶ transforms ─ SinkRecord ─▶ sink task
//! ```

mod bytes;
mod json;
mod number;
mod simple_header;
mod string;

pub use bytes::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter};
pub use number::NumberConverter;
pub use simple_header::SimpleHeaderConverter;
pub use string::{Encoding, StringConverter};

use crate::config::{Config, ConfigError};
use crate::data::{DataError, Schema, SchemaAndValue, Type, Value};

/// Turns Connect data into record bytes and back (Kafka's `Converter`).
pub trait Converter: Send + Sync {
    /// The bytes of a key or value (`None`: a null key or value).
    fn to_bytes(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError>;

    /// The Connect data of a record's key or value bytes (`None`: null).
    fn to_connect_data(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError>;
}

/// Turns header values into bytes and back (Kafka's `HeaderConverter`, `header.converter`).
pub trait HeaderConverter: Send + Sync {
    /// The bytes of a header's value (`None`: null).
    fn header_to_bytes(
        &self,
        topic: &str,
        header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError>;

    /// The Connect data of a header's value bytes.
    fn header_to_connect(
        &self,
        topic: &str,
        header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError>;
}

/// A value converter used for headers: Kafka's converters implement `HeaderConverter` by
/// converting header values as record values.
pub struct AsHeaderConverter(pub Box<dyn Converter>);

impl HeaderConverter for AsHeaderConverter {
    fn header_to_bytes(
        &self,
        topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        self.0.to_bytes(topic, schema, value)
    }

    fn header_to_connect(
        &self,
        topic: &str,
        _header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        self.0.to_connect_data(topic, bytes)
    }
}

/// The converters this worker has, by Kafka class name; each also answers to its simple class
/// name and to that name without `Converter` (as Kafka Connect's plugin aliases).
pub const CONVERTERS: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "org.apache.kafka.connect.converters.BooleanConverter",
    "org.apache.kafka.connect.converters.ShortConverter",
    "org.apache.kafka.connect.converters.IntegerConverter",
    "org.apache.kafka.connect.converters.LongConverter",
    "org.apache.kafka.connect.converters.FloatConverter",
    "org.apache.kafka.connect.converters.DoubleConverter",
];

/// The full class name of a converter named by class name or alias.
pub fn resolve(name: &str) -> Option<&'static str> {
    let name = name.trim();
    CONVERTERS.iter().copied().find(|class| {
        let simple = class.rsplit('.').next().unwrap_or(class);
        *class == name || simple == name || simple.strip_suffix("Converter") == Some(name)
    })
}

/// Creates the converter `class` (a class name or alias) with its config (the worker's or
/// connector's `key.converter.*` / `value.converter.*` settings, prefix removed).
pub fn create(class: &str, config: &Config) -> Result<Box<dyn Converter>, ConfigError> {
    let Some(class) = resolve(class) else {
        return Err(ConfigError::new(format!(
            "Class {} could not be found.",
            class.trim()
        )));
    };
    let simple = class.rsplit('.').next().unwrap_or(class);
    Ok(match simple {
        "JsonConverter" => Box::new(JsonConverter::configure(config)?),
        "StringConverter" => Box::new(StringConverter::configure(config)?),
        "ByteArrayConverter" => Box::new(ByteArrayConverter),
        "BooleanConverter" => Box::new(NumberConverter::new(Type::Boolean)),
        "ShortConverter" => Box::new(NumberConverter::new(Type::Int16)),
        "IntegerConverter" => Box::new(NumberConverter::new(Type::Int32)),
        "LongConverter" => Box::new(NumberConverter::new(Type::Int64)),
        "FloatConverter" => Box::new(NumberConverter::new(Type::Float32)),
        _ => Box::new(NumberConverter::new(Type::Float64)),
    })
}

/// The class of Kafka's SimpleHeaderConverter, the worker's default `header.converter`.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// The full class name of a header converter named by class name or alias: the
/// SimpleHeaderConverter or any of [`CONVERTERS`] (each of Kafka's converters is a header
/// converter too).
pub fn resolve_header(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let simple = "SimpleHeaderConverter";
    if name == SIMPLE_HEADER_CONVERTER || name == simple || name == "SimpleHeader" {
        return Some(SIMPLE_HEADER_CONVERTER);
    }
    resolve(name)
}

/// Creates the header converter `class` (a class name or alias) with its config (the
/// `header.converter.*` settings, prefix removed). A converter is configured as Kafka's
/// worker does it, with `converter.type=header` added, and converts header values as record
/// values.
pub fn header_converter(
    class: &str,
    config: &Config,
) -> Result<Box<dyn HeaderConverter>, ConfigError> {
    match resolve_header(class) {
        Some(SIMPLE_HEADER_CONVERTER) => Ok(Box::new(SimpleHeaderConverter)),
        Some(class) => {
            let mut config = config.clone();
            config.insert("converter.type".to_string(), "header".to_string());
            Ok(Box::new(AsHeaderConverter(create(class, &config)?)))
        }
        None => Err(ConfigError::new(format!(
            "Class {} could not be found.",
            class.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_aliases_resolve() {
        assert_eq!(resolve("JsonConverter"), Some(CONVERTERS[0]));
        assert_eq!(resolve("Json"), Some(CONVERTERS[0]));
        assert_eq!(
            resolve(" org.apache.kafka.connect.storage.StringConverter "),
            Some(CONVERTERS[1])
        );
        assert_eq!(resolve("io.confluent.connect.avro.AvroConverter"), None);
        assert_eq!(
            create("Avro", &Config::new()).err().unwrap().message(),
            "Class Avro could not be found."
        );
    }

    #[test]
    fn header_converters_resolve() {
        assert_eq!(
            resolve_header("SimpleHeaderConverter"),
            Some(SIMPLE_HEADER_CONVERTER)
        );
        assert_eq!(
            resolve_header("SimpleHeader"),
            Some(SIMPLE_HEADER_CONVERTER)
        );
        assert_eq!(resolve_header("Json"), Some(CONVERTERS[0]));
        let c = header_converter(SIMPLE_HEADER_CONVERTER, &Config::new()).unwrap();
        let bytes = c.header_to_bytes("t", "h", None, &Value::Int16(7)).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"7"[..]));
        let json = header_converter("JsonConverter", &Config::new()).unwrap();
        let bytes = json
            .header_to_bytes("t", "h", None, &Value::Int16(7))
            .unwrap();
        assert_eq!(
            bytes.as_deref(),
            Some(&br#"{"schema":null,"payload":7}"#[..])
        );
        assert_eq!(
            header_converter("Nope", &Config::new())
                .err()
                .unwrap()
                .message(),
            "Class Nope could not be found."
        );
    }
}
