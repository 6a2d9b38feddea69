//! Connect values: what a schema describes, with Java's equality and `toString` where Kafka
//! Connect's behaviour shows them (the string converter writes `toString`, filters compare).

use std::fmt;

use super::java;
use super::{logical, DataError, Decimal, Schema, Type};

/// A Connect value (the Java objects a `Schema` allows).
#[derive(Clone, Debug)]
pub enum Value {
    /// No value (Java `null`).
    Null,
    /// A boolean.
    Boolean(bool),
    /// An 8-bit signed integer (a Java `Byte`).
    Int8(i8),
    /// A 16-bit signed integer (a Java `Short`).
    Int16(i16),
    /// A 32-bit signed integer (a Java `Integer`).
    Int32(i32),
    /// A 64-bit signed integer (a Java `Long`).
    Int64(i64),
    /// A 32-bit float (a Java `Float`).
    Float32(f32),
    /// A 64-bit float (a Java `Double`).
    Float64(f64),
    /// A string.
    String(String),
    /// A byte array.
    Bytes(Vec<u8>),
    /// A list of values of one schema.
    Array(Vec<Value>),
    /// Entries in iteration order (for maps read from JSON, a Java `HashMap`'s order, so what
    /// is written again comes out as Kafka Connect writes it).
    Map(Vec<(Value, Value)>),
    /// A struct of named fields.
    Struct(Struct),
    /// The value of the `Decimal` logical type (a `BigDecimal`).
    Decimal(Decimal),
    /// A `java.util.Date`: milliseconds since the epoch; the value of the `Date`, `Time` and
    /// `Timestamp` logical types.
    Date(i64),
}

impl PartialEq for Value {
    /// Java's `equals`: floats by their bits, maps as maps.
    fn eq(&self, o: &Value) -> bool {
        use Value::*;
        match (self, o) {
            (Null, Null) => true,
            (Boolean(a), Boolean(b)) => a == b,
            (Int8(a), Int8(b)) => a == b,
            (Int16(a), Int16(b)) => a == b,
            (Int32(a), Int32(b)) => a == b,
            (Int64(a), Int64(b)) => a == b,
            (Float32(a), Float32(b)) => a.to_bits() == b.to_bits(),
            (Float64(a), Float64(b)) => a.to_bits() == b.to_bits(),
            (String(a), String(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Map(a), Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            (Struct(a), Struct(b)) => a == b,
            (Decimal(a), Decimal(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The schema type a value of this kind has without a schema (Kafka's
    /// `ConnectSchema.schemaType(Class)`); `None` for null and for the logical types' values.
    pub fn inferred_type(&self) -> Option<Type> {
        Some(match self {
            Value::Null | Value::Decimal(_) | Value::Date(_) => return None,
            Value::Boolean(_) => Type::Boolean,
            Value::Int8(_) => Type::Int8,
            Value::Int16(_) => Type::Int16,
            Value::Int32(_) => Type::Int32,
            Value::Int64(_) => Type::Int64,
            Value::Float32(_) => Type::Float32,
            Value::Float64(_) => Type::Float64,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::Array(_) => Type::Array,
            Value::Map(_) => Type::Map,
            Value::Struct(_) => Type::Struct,
        })
    }

    /// Whether the value is of the Java class the schema (its logical type, else its type)
    /// expects.
    pub(crate) fn fits_type(&self, schema: &Schema) -> bool {
        match schema.name().and_then(logical::Logical::of_name) {
            Some(logical::Logical::Decimal) => matches!(self, Value::Decimal(_)),
            Some(_) => matches!(self, Value::Date(_)),
            None => self.inferred_type() == Some(schema.ty()),
        }
    }

    /// The Java class name Kafka's messages print for this value (`class java.lang.String`).
    pub fn java_class(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "class java.lang.Boolean",
            Value::Int8(_) => "class java.lang.Byte",
            Value::Int16(_) => "class java.lang.Short",
            Value::Int32(_) => "class java.lang.Integer",
            Value::Int64(_) => "class java.lang.Long",
            Value::Float32(_) => "class java.lang.Float",
            Value::Float64(_) => "class java.lang.Double",
            Value::String(_) => "class java.lang.String",
            Value::Bytes(_) => "class [B",
            Value::Array(_) => "class java.util.ArrayList",
            Value::Map(_) => "class java.util.HashMap",
            Value::Struct(_) => "class org.apache.kafka.connect.data.Struct",
            Value::Decimal(_) => "class java.math.BigDecimal",
            Value::Date(_) => "class java.util.Date",
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The struct of a struct value.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a map with string keys.
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Java's `toString()` of the value (what Kafka's StringConverter writes): `Struct{a=1,b=x}`,
/// `{k=v, k2=v2}`, `[1, 2]`, `1.0E10`. A byte array prints as Java's `[B@` and a hash of its
/// contents (Java prints its identity hash, which no other process could reproduce).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Int16(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float32(v) => f.write_str(&java::float_to_string(*v)),
            Value::Float64(v) => f.write_str(&java::double_to_string(*v)),
            Value::String(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "[B@{:x}", java::bytes_hash(b)),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(s) => write!(f, "{s}"),
            Value::Decimal(d) => f.write_str(&d.to_java_string()),
            Value::Date(ms) => f.write_str(&java::date_to_string(*ms)),
        }
    }
}

/// A struct value: a struct schema and one value per field (Kafka's `Struct`).
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    schema: Schema,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct of a struct schema (every field null).
    pub fn new(schema: Schema) -> Result<Struct, DataError> {
        if schema.ty() != Type::Struct {
            return Err(DataError::new(
                "Not a struct schema: ".to_string() + &schema.to_string(),
            ));
        }
        let values = vec![Value::Null; schema.fields().len()];
        Ok(Struct { schema, values })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Sets a field, checking the value against the field's schema.
    pub fn put(&mut self, name: &str, value: Value) -> Result<&mut Struct, DataError> {
        let field = self
            .schema
            .field(name)
            .ok_or_else(|| DataError::new(format!("{name} is not a valid field name")))?;
        field
            .schema()
            .validate_at(&value, &format!("field: \"{name}\""))?;
        let index = field.index();
        self.values[index] = value;
        Ok(self)
    }

    /// A field's value, or its schema's default when it is null (Kafka's `get`).
    pub fn get(&self, name: &str) -> Result<&Value, DataError> {
        let field = self
            .schema
            .field(name)
            .ok_or_else(|| DataError::new(format!("{name} is not a valid field name")))?;
        let v = &self.values[field.index()];
        if v.is_null() {
            if let Some(d) = field.schema().default_value() {
                return Ok(d);
            }
        }
        Ok(v)
    }

    /// A field's value without its default (Kafka's `getWithoutDefault`).
    pub fn get_without_default(&self, name: &str) -> Result<&Value, DataError> {
        let field = self
            .schema
            .field(name)
            .ok_or_else(|| DataError::new(format!("{name} is not a valid field name")))?;
        Ok(&self.values[field.index()])
    }

    /// The values in field order (without defaults).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Checks every field (Kafka's `validate`).
    pub fn validate(&self) -> Result<(), DataError> {
        for (field, value) in self.schema.fields().iter().zip(&self.values) {
            let value = if value.is_null() {
                field.schema().default_value().unwrap_or(value)
            } else {
                value
            };
            field
                .schema()
                .validate_at(value, &format!("field: \"{}\"", field.name()))?;
        }
        Ok(())
    }
}

/// Java's `Struct.toString()`: `Struct{a=1,b=x}`, null fields left out.
impl fmt::Display for Struct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Struct{")?;
        let mut first = true;
        for (field, value) in self.schema.fields().iter().zip(&self.values) {
            if value.is_null() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}={value}", field.name())?;
        }
        f.write_str("}")
    }
}

/// A schema (or none) and a value: what converters read and write.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaAndValue {
    /// The schema, or none for schemaless data.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

impl SchemaAndValue {
    /// No schema and no value (Kafka's `SchemaAndValue.NULL`).
    pub const NULL: SchemaAndValue = SchemaAndValue {
        schema: None,
        value: Value::Null,
    };

    /// Creates it with a message.
    pub fn new(schema: Option<Schema>, value: Value) -> SchemaAndValue {
        SchemaAndValue { schema, value }
    }
}
