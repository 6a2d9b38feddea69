//! The numeric converters of `org.apache.kafka.connect.converters` (Short, Integer, Long, Float,
//! Double, Boolean): a value as Kafka's serializer of that type writes it (big-endian; a
//! boolean as one byte).

use crate::data::{DataError, Schema, SchemaAndValue, Type, Value};

use super::Converter;

/// Kafka's ShortConverter, IntegerConverter, LongConverter, FloatConverter, DoubleConverter
/// and BooleanConverter, by the schema type each reads and writes.
#[derive(Clone, Debug)]
pub struct NumberConverter {
    ty: Type,
}

impl NumberConverter {
    /// A converter for one of int16, int32, int64, float32, float64 or boolean.
    pub fn new(ty: Type) -> NumberConverter {
        debug_assert!(matches!(
            ty,
            Type::Int16 | Type::Int32 | Type::Int64 | Type::Float32 | Type::Float64 | Type::Boolean
        ));
        NumberConverter { ty }
    }

    /// The name Kafka's messages use.
    fn type_name(&self) -> &'static str {
        match self.ty {
            Type::Int16 => "short",
            Type::Int32 => "integer",
            Type::Int64 => "long",
            Type::Float32 => "float",
            Type::Float64 => "double",
            _ => "boolean",
        }
    }

    fn width(&self) -> usize {
        match self.ty {
            Type::Int16 => 2,
            Type::Int32 | Type::Float32 => 4,
            Type::Int64 | Type::Float64 => 8,
            _ => 1,
        }
    }
}

impl Converter for NumberConverter {
    fn to_bytes(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        if self.ty == Type::Boolean {
            if let Some(s) = schema {
                if s.ty() != Type::Boolean {
                    return Err(DataError::new(format!(
                        "Invalid schema type for BooleanConverter: {}",
                        s.ty()
                    )));
                }
            }
        }
        let bytes = match (self.ty, value) {
            (_, Value::Null) => return Ok(None),
            (Type::Int16, Value::Int16(v)) => v.to_be_bytes().to_vec(),
            (Type::Int32, Value::Int32(v)) => v.to_be_bytes().to_vec(),
            (Type::Int64, Value::Int64(v)) => v.to_be_bytes().to_vec(),
            (Type::Float32, Value::Float32(v)) => v.to_be_bytes().to_vec(),
            (Type::Float64, Value::Float64(v)) => v.to_be_bytes().to_vec(),
            (Type::Boolean, Value::Boolean(v)) => vec![u8::from(*v)],
            (Type::Boolean, other) => {
                return Err(DataError::new(format!(
                    "BooleanConverter is not compatible with objects of type {}",
                    other.java_class()
                )))
            }
            (_, other) => {
                return Err(DataError::new(format!(
                    "Failed to serialize to {} (was {}): ",
                    self.type_name(),
                    other.java_class()
                )))
            }
        };
        Ok(Some(bytes))
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        let schema = Some(Schema::optional(self.ty));
        let Some(b) = bytes else {
            return Ok(SchemaAndValue::new(schema, Value::Null));
        };
        let bad = || DataError::new(format!("Failed to deserialize {}: ", self.type_name()));
        if b.len() != self.width() {
            return Err(bad());
        }
        let value = match self.ty {
            Type::Int16 => Value::Int16(i16::from_be_bytes([b[0], b[1]])),
            Type::Int32 => Value::Int32(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Type::Float32 => Value::Float32(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Type::Int64 => Value::Int64(i64::from_be_bytes(b.try_into().map_err(|_| bad())?)),
            Type::Float64 => Value::Float64(f64::from_be_bytes(b.try_into().map_err(|_| bad())?)),
            _ => match b[0] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => return Err(bad()),
            },
        };
        Ok(SchemaAndValue::new(schema, value))
    }
}
