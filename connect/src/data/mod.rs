//! Kafka Connect's data model: [`Schema`]s (with [`SchemaBuilder`]), [`Value`]s and
//! [`Struct`]s, the logical types, and the Java behaviours that show in Connect's output.
//!
//! Values mirror the Java objects Connect passes around (`Integer`, `String`, `byte[]`,
//! `List`, `Map`, `Struct`, `BigDecimal`, `java.util.Date`), so converters and transforms can
//! follow Kafka's code paths and produce the same bytes.

pub mod date_format;
mod decimal;
pub mod java;
pub mod logical;
mod schema;
mod value;
pub mod values;

pub use decimal::Decimal;
pub use schema::{Field, Schema, SchemaBuilder, Type};
pub use value::{SchemaAndValue, Struct, Value};

/// Data that does not fit its schema or cannot be converted (Kafka's `DataException`, or its
/// subclass `SchemaBuilderException` for a schema that cannot be built).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DataError {
    message: String,
    class: &'static str,
}

impl DataError {
    /// Creates it with a message.
    pub fn new(message: impl Into<String>) -> DataError {
        DataError {
            message: message.into(),
            class: "DataException",
        }
    }

    /// A schema that cannot be built (Kafka's `SchemaBuilderException`).
    pub fn schema_builder(message: impl Into<String>) -> DataError {
        DataError {
            message: message.into(),
            class: "SchemaBuilderException",
        }
    }

    /// The same error under another Java exception name (Kafka throws e.g. an
    /// `IllegalArgumentException` here).
    pub fn with_class(mut self, class: &'static str) -> DataError {
        self.class = class;
        self
    }

    /// The simple name of the Java exception Kafka throws here.
    pub fn class(&self) -> &'static str {
        self.class
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}
