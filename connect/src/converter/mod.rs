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
mod string;

pub use bytes::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter};
pub use number::NumberConverter;
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
}
