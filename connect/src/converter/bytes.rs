//! `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes through as they are.

use crate::data::{DataError, Schema, SchemaAndValue, Type, Value};

use super::Converter;

/// Kafka's ByteArrayConverter.
#[derive(Clone, Debug, Default)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn to_bytes(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        if let Some(schema) = schema {
            if schema.ty() != Type::Bytes {
                return Err(DataError::new(format!(
                    "Invalid schema type for ByteArrayConverter: {}",
                    schema.ty()
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            other => Err(DataError::new(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                other.java_class()
            ))),
        }
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        let value = bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec()));
        Ok(SchemaAndValue::new(
            Some(Schema::optional(Type::Bytes)),
            value,
        ))
    }
}
