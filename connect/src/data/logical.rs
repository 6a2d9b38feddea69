//! Connect's logical types: `Decimal` (bytes + a `scale` parameter), `Date` (int32 days),
//! `Time` (int32 milliseconds of the day) and `Timestamp` (int64 milliseconds), by their schema
//! names, with Kafka's conversions and messages.

use super::{DataError, Decimal, Schema, SchemaBuilder, Type, Value};

/// The schema name of the `Decimal` logical type.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// The schema name of the `Date` logical type.
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// The schema name of the `Time` logical type.
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// The schema name of the `Timestamp` logical type.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
/// The parameter of a `Decimal` schema that holds its scale.
pub const SCALE_FIELD: &str = "scale";

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A logical type, named by its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logical {
    /// `org.apache.kafka.connect.data.Decimal`.
    Decimal,
    /// `org.apache.kafka.connect.data.Date`.
    Date,
    /// `org.apache.kafka.connect.data.Time`.
    Time,
    /// `org.apache.kafka.connect.data.Timestamp`.
    Timestamp,
}

impl Logical {
    /// The logical type of a schema name.
    pub fn of_name(name: &str) -> Option<Logical> {
        match name {
            DECIMAL => Some(Logical::Decimal),
            DATE => Some(Logical::Date),
            TIME => Some(Logical::Time),
            TIMESTAMP => Some(Logical::Timestamp),
            _ => None,
        }
    }

    /// The logical type of a schema, if it has one.
    pub fn of(schema: &Schema) -> Option<Logical> {
        schema.name().and_then(Logical::of_name)
    }
}

/// `Decimal.builder(scale)`.
pub fn decimal_schema(scale: i32) -> SchemaBuilder {
    SchemaBuilder::new(Type::Bytes)
        .name(DECIMAL)
        .parameter(SCALE_FIELD, scale.to_string())
        .version(1)
}

/// `Date.builder()`.
pub fn date_schema() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(DATE).version(1)
}

/// `Time.builder()`.
pub fn time_schema() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(TIME).version(1)
}

/// `Timestamp.builder()`.
pub fn timestamp_schema() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int64).name(TIMESTAMP).version(1)
}

/// The scale of a `Decimal` schema.
pub fn decimal_scale(schema: &Schema) -> Result<i32, DataError> {
    let text = schema
        .parameter(SCALE_FIELD)
        .ok_or_else(|| DataError::new("Invalid Decimal schema: scale parameter not found."))?;
    text.parse()
        .map_err(|_| DataError::new(format!("For input string: \"{text}\"")))
}

/// `Decimal.fromLogical`: the unscaled bytes, when the value has the schema's scale.
pub fn decimal_to_bytes(schema: &Schema, value: &Decimal) -> Result<Vec<u8>, DataError> {
    let scale = decimal_scale(schema)?;
    if value.scale() != scale {
        return Err(DataError::new(format!(
            "Decimal value has mismatching scale for given Decimal schema. Schema has scale {scale}, value has scale {}.",
            value.scale()
        )));
    }
    Ok(value.unscaled_bytes())
}

/// `Decimal.toLogical`.
pub fn decimal_from_bytes(schema: &Schema, bytes: &[u8]) -> Result<Decimal, DataError> {
    let scale = decimal_scale(schema)?;
    Decimal::from_unscaled_bytes(bytes, scale)
        .ok_or_else(|| DataError::new("Zero length BigInteger"))
}

/// `Date.fromLogical`: days since the epoch of a midnight.
pub fn date_to_days(millis: i64) -> Result<i32, DataError> {
    if millis.rem_euclid(MILLIS_PER_DAY) != 0 {
        return Err(DataError::new(
            "Kafka Connect Date type should not have any time fields set to non-zero values.",
        ));
    }
    Ok((millis / MILLIS_PER_DAY) as i32)
}

/// `Date.toLogical`.
pub fn days_to_date(days: i32) -> Value {
    Value::Date(i64::from(days) * MILLIS_PER_DAY)
}

/// `Time.fromLogical`: milliseconds of a time on 1970-01-01.
pub fn time_to_millis(millis: i64) -> Result<i32, DataError> {
    // (Kafka 4 also takes the end of the day, 24:00:00.000)
    if !(0..=MILLIS_PER_DAY).contains(&millis) {
        return Err(DataError::new(
            "Kafka Connect Time type should not have any date fields set to non-zero values.",
        ));
    }
    Ok(millis as i32)
}

/// `Time.toLogical`.
pub fn millis_to_time(millis: i32) -> Result<Value, DataError> {
    if millis < 0 || i64::from(millis) > MILLIS_PER_DAY {
        return Err(DataError::new(
            "Time values must use number of milliseconds greater than 0 and less than 86400000",
        ));
    }
    Ok(Value::Date(i64::from(millis)))
}
