//! PostgreSQL types ↔ Connect schemas and values, as Confluent's `PostgreSqlDatabaseDialect`
//! maps them (through the PostgreSQL JDBC driver's `java.sql.Types`):
//!
//! | PostgreSQL | Connect |
//! | --- | --- |
//! | `bool`, `bit(1)` | `BOOLEAN` |
//! | `bit(2..8)` / `bit(9..)` | `INT8` / `BYTES` |
//! | `int2` / `int4` / `int8`, `oid` | `INT16` / `INT32` / `INT64` |
//! | `float4` / `float8`, `money` | `FLOAT32` / `FLOAT64` |
//! | `numeric(p,s)` | `Decimal` (scale s; 127 when unconstrained), or by `numeric.mapping` |
//! | `text`, `varchar`, `char`, `name`, `xml`, `json`, `jsonb`, `uuid`, enums | `STRING` |
//! | `bytea` | `BYTES` |
//! | `date` / `time`, `timetz` / `timestamp`, `timestamptz` | `Date` / `Time` / `Timestamp` |
//!
//! Other types (arrays, `interval`, network and geometric types, ...) are left out of the
//! record with a warning, as Confluent's connector does. A column is optional unless it is a
//! table column declared `NOT NULL`. Values are read in PostgreSQL's binary format.

pub mod binary;
pub mod encode;

use tokio_postgres::types::{FromSql, Kind, Type};
use tributary_connect::data::logical::{self, days_to_date};
use tributary_connect::data::{Decimal, Schema, SchemaBuilder, Type as CType, Value};

/// How `numeric` columns map (`numeric.mapping`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumericMapping {
    /// Always `Decimal`.
    None,
    /// Integers by precision when the scale is 0 and the precision at most 18.
    PrecisionOnly,
    /// Integers by precision, `FLOAT64` for a scale above 0, when the precision is at most 18.
    BestFit,
    /// As `best_fit`, and `FLOAT64` for any positive scale.
    BestFitEagerDouble,
}

impl NumericMapping {
    /// Parses `numeric.mapping` (and the deprecated `numeric.precision.mapping=true`).
    pub fn parse(value: Option<&str>, precision_mapping: bool) -> Option<NumericMapping> {
        match value.map(str::trim) {
            None | Some("") if precision_mapping => Some(NumericMapping::PrecisionOnly),
            None | Some("") => Some(NumericMapping::None),
            Some(v) if v.eq_ignore_ascii_case("none") => Some(NumericMapping::None),
            Some(v) if v.eq_ignore_ascii_case("precision_only") => {
                Some(NumericMapping::PrecisionOnly)
            }
            Some(v) if v.eq_ignore_ascii_case("best_fit") => Some(NumericMapping::BestFit),
            Some(v) if v.eq_ignore_ascii_case("best_fit_eager_double") => {
                Some(NumericMapping::BestFitEagerDouble)
            }
            Some(_) => None,
        }
    }
}

/// How a column's binary value becomes a Connect value.
#[derive(Clone, Debug, PartialEq)]
pub enum Decode {
    /// `bool`.
    Bool,
    /// `bit(n)` with n ≤ 1: its bit.
    Bit1,
    /// `bit(n)` with n ≤ 8: its bits as a number.
    BitByte,
    /// `bit(n)`: the bit string's bytes.
    BitBytes,
    /// `int2`.
    Int2,
    /// `int4`.
    Int4,
    /// `int8`.
    Int8,
    /// `oid` (unsigned 32-bit) as `INT64`.
    Oid,
    /// `float4`.
    Float4,
    /// `float8`.
    Float8,
    /// `money`: cents as `FLOAT64`.
    Money,
    /// `numeric` as a `Decimal` of this scale.
    Numeric(i32),
    /// `numeric` as an integer of this type, or `FLOAT64`.
    NumericAs(CType),
    /// Text in any form (`text`, `varchar`, `json`, `xml`, enums).
    Text,
    /// `jsonb`: a version byte, then the text.
    Jsonb,
    /// `uuid`: 16 bytes, written `8-4-4-4-12`.
    Uuid,
    /// `bytea`.
    Bytes,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `timetz`: the time in UTC.
    TimeTz,
    /// `timestamp` and `timestamptz`.
    Timestamp,
}

/// Connect's `Decimal` precision parameter, which Confluent's connector adds.
pub const PRECISION_PARAMETER: &str = "connect.decimal.precision";
/// The scale of a `numeric` without one (Confluent's `NUMERIC_TYPE_SCALE_HIGH`).
const NUMERIC_SCALE_HIGH: i32 = 127;
const MAX_INTEGER_TYPE_PRECISION: i32 = 18;

fn integer_type(precision: i32) -> CType {
    if precision > 9 {
        CType::Int64
    } else if precision > 4 {
        CType::Int32
    } else if precision > 2 {
        CType::Int16
    } else {
        CType::Int8
    }
}

fn simple(ty: CType, optional: bool) -> Schema {
    if optional {
        Schema::optional(ty)
    } else {
        Schema::primitive(ty)
    }
}

fn logical(builder: SchemaBuilder, optional: bool) -> Schema {
    builder.set_optional(optional).build()
}

/// The schema and decoding of a column of type `ty` (with its type modifier), or `None` for a
/// type Confluent's connector does not support.
pub fn map_column(
    ty: &Type,
    typmod: i32,
    optional: bool,
    numeric: NumericMapping,
) -> Option<(Schema, Decode)> {
    if let Kind::Domain(base) = ty.kind() {
        return map_column(base, typmod, optional, numeric);
    }
    if let Kind::Enum(_) = ty.kind() {
        return Some((simple(CType::String, optional), Decode::Text));
    }
    let s = |t: CType| simple(t, optional);
    Some(match *ty {
        Type::BOOL => (s(CType::Boolean), Decode::Bool),
        Type::BIT => match typmod {
            i32::MIN..=1 => (s(CType::Boolean), Decode::Bit1),
            2..=8 => (s(CType::Int8), Decode::BitByte),
            _ => (s(CType::Bytes), Decode::BitBytes),
        },
        Type::INT2 => (s(CType::Int16), Decode::Int2),
        Type::INT4 => (s(CType::Int32), Decode::Int4),
        Type::INT8 => (s(CType::Int64), Decode::Int8),
        Type::OID => (s(CType::Int64), Decode::Oid),
        Type::FLOAT4 => (s(CType::Float32), Decode::Float4),
        Type::FLOAT8 => (s(CType::Float64), Decode::Float8),
        Type::MONEY => (s(CType::Float64), Decode::Money),
        Type::NUMERIC => numeric_column(typmod, optional, numeric),
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::CHAR
        | Type::NAME
        | Type::XML
        | Type::JSON
        | Type::UNKNOWN => (s(CType::String), Decode::Text),
        Type::JSONB => (s(CType::String), Decode::Jsonb),
        Type::UUID => (s(CType::String), Decode::Uuid),
        Type::BYTEA => (s(CType::Bytes), Decode::Bytes),
        Type::DATE => (logical(logical::date_schema(), optional), Decode::Date),
        Type::TIME => (logical(logical::time_schema(), optional), Decode::Time),
        Type::TIMETZ => (logical(logical::time_schema(), optional), Decode::TimeTz),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => (
            logical(logical::timestamp_schema(), optional),
            Decode::Timestamp,
        ),
        _ => return None,
    })
}

fn numeric_column(typmod: i32, optional: bool, mapping: NumericMapping) -> (Schema, Decode) {
    // (the JDBC driver reports precision and scale 0 for an unconstrained numeric)
    let (precision, scale) = if typmod >= 4 {
        (((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff)
    } else {
        (0, 0)
    };
    // an unconstrained numeric has no precision to fit a primitive type by: a Decimal, always
    // (Confluent's connector would pick INT8 here and lose the values)
    let constrained = typmod >= 4;
    let integral = scale < 1 && constrained;
    let fits = precision <= MAX_INTEGER_TYPE_PRECISION && constrained;
    let primitive = match mapping {
        NumericMapping::None => None,
        NumericMapping::PrecisionOnly if integral && fits => Some(integer_type(precision)),
        NumericMapping::BestFit if fits && integral => Some(integer_type(precision)),
        NumericMapping::BestFit if fits && scale > 0 => Some(CType::Float64),
        NumericMapping::BestFitEagerDouble if integral && fits => Some(integer_type(precision)),
        NumericMapping::BestFitEagerDouble if constrained && scale > 0 => Some(CType::Float64),
        _ => None,
    };
    if let Some(t) = primitive {
        return (simple(t, optional), Decode::NumericAs(t));
    }
    let decimal_scale = if precision == 0 && scale == 0 {
        NUMERIC_SCALE_HIGH
    } else {
        scale
    };
    let schema = logical::decimal_schema(decimal_scale)
        .parameter(PRECISION_PARAMETER, precision.to_string())
        .set_optional(optional)
        .build();
    (schema, Decode::Numeric(decimal_scale))
}

/// A column value in binary form, whatever its type.
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

fn text(raw: &[u8]) -> Result<String, String> {
    String::from_utf8(raw.to_vec()).map_err(|_| "text that is not UTF-8".to_string())
}

impl Decode {
    /// The Connect value of a binary column value (`None`: SQL NULL).
    pub fn value(&self, raw: Option<&[u8]>) -> Result<Value, String> {
        let Some(raw) = raw else {
            return Ok(Value::Null);
        };
        Ok(match self {
            Decode::Bit1 => Value::Boolean(raw.get(4).is_some_and(|b| b & 0x80 != 0)),
            Decode::Bool => Value::Boolean(fixed::<1>(raw)?[0] != 0),
            Decode::BitByte => {
                let bits = i32::from_be_bytes(fixed::<4>(raw.get(..4).unwrap_or(&[]))?);
                let byte = raw.get(4).copied().unwrap_or(0);
                Value::Int8((byte >> (8 - bits.clamp(1, 8))) as i8)
            }
            Decode::BitBytes => Value::Bytes(raw.get(4..).unwrap_or(&[]).to_vec()),
            Decode::Int2 => Value::Int16(i16::from_be_bytes(fixed(raw)?)),
            Decode::Int4 => Value::Int32(i32::from_be_bytes(fixed(raw)?)),
            Decode::Int8 => Value::Int64(i64::from_be_bytes(fixed(raw)?)),
            Decode::Oid => Value::Int64(i64::from(u32::from_be_bytes(fixed(raw)?))),
            Decode::Float4 => Value::Float32(f32::from_be_bytes(fixed(raw)?)),
            Decode::Float8 => Value::Float64(f64::from_be_bytes(fixed(raw)?)),
            Decode::Money => Value::Float64(i64::from_be_bytes(fixed(raw)?) as f64 / 100.0),
            Decode::Numeric(scale) => {
                let d = binary::numeric_to_decimal(raw)?;
                Value::Decimal(d.with_scale(*scale).ok_or_else(|| {
                    format!(
                        "{} does not fit the column's scale {scale}",
                        d.to_plain_string()
                    )
                })?)
            }
            Decode::NumericAs(t) => numeric_as(&binary::numeric_to_decimal(raw)?, *t),
            Decode::Text => Value::String(text(raw)?),
            Decode::Jsonb => Value::String(text(raw.get(1..).unwrap_or(&[]))?),
            Decode::Uuid => {
                let b: [u8; 16] = fixed(raw)?;
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                Value::String(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            }
            Decode::Bytes => Value::Bytes(raw.to_vec()),
            Decode::Date => {
                let days = i32::from_be_bytes(fixed(raw)?);
                let unix = i64::from(days) + binary::PG_EPOCH_DAYS;
                days_to_date(i32::try_from(unix).map_err(|_| "a date out of range")?)
            }
            Decode::Time => Value::Date(i64::from_be_bytes(fixed(raw)?).div_euclid(1000)),
            Decode::TimeTz => {
                let b: [u8; 12] = fixed(raw)?;
                let micros = i64::from_be_bytes(b[..8].try_into().map_err(|_| "timetz")?);
                let zone = i32::from_be_bytes(b[8..].try_into().map_err(|_| "timetz")?);
                let utc = (micros + i64::from(zone) * 1_000_000).rem_euclid(86_400_000_000);
                Value::Date(utc / 1000)
            }
            Decode::Timestamp => {
                let micros = i64::from_be_bytes(fixed(raw)?);
                Value::Date(binary::pg_micros_to_unix(micros).0)
            }
        })
    }

    /// For a timestamp column, the Unix milliseconds and the nanoseconds of the second
    /// (what offsets keep).
    pub fn timestamp_parts(&self, raw: Option<&[u8]>) -> Option<(i64, i64)> {
        let raw = raw?;
        match self {
            Decode::Timestamp => Some(binary::pg_micros_to_unix(i64::from_be_bytes(
                raw.try_into().ok()?,
            ))),
            Decode::Date => {
                let days = i32::from_be_bytes(raw.try_into().ok()?);
                Some(((i64::from(days) + binary::PG_EPOCH_DAYS) * 86_400_000, 0))
            }
            _ => None,
        }
    }
}

fn numeric_as(d: &Decimal, t: CType) -> Value {
    let whole = || {
        d.with_scale(0)
            .map_or_else(|| d.to_f64() as i64, |w| w.to_i64_wrapping())
    };
    match t {
        CType::Int8 => Value::Int8(whole() as i8),
        CType::Int16 => Value::Int16(whole() as i16),
        CType::Int32 => Value::Int32(whole() as i32),
        CType::Int64 => Value::Int64(whole()),
        _ => Value::Float64(d.to_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(ty: Type, typmod: i32, n: NumericMapping) -> (Schema, Decode) {
        map_column(&ty, typmod, false, n).unwrap()
    }

    #[test]
    fn confluents_type_mapping() {
        let n = NumericMapping::None;
        assert_eq!(mapped(Type::INT2, -1, n).0.ty(), CType::Int16);
        assert_eq!(mapped(Type::INT4, -1, n).0.ty(), CType::Int32);
        assert_eq!(mapped(Type::INT8, -1, n).0.ty(), CType::Int64);
        assert_eq!(mapped(Type::FLOAT4, -1, n).0.ty(), CType::Float32);
        assert_eq!(mapped(Type::BOOL, -1, n).0.ty(), CType::Boolean);
        assert_eq!(mapped(Type::JSONB, -1, n).0.ty(), CType::String);
        assert_eq!(mapped(Type::UUID, -1, n).0.ty(), CType::String);
        assert_eq!(mapped(Type::BYTEA, -1, n).0.ty(), CType::Bytes);
        let (ts, _) = mapped(Type::TIMESTAMPTZ, -1, n);
        assert_eq!(ts.name(), Some(logical::TIMESTAMP));
        assert!(map_column(&Type::INT4_ARRAY, -1, false, n).is_none());
        assert!(map_column(&Type::INTERVAL, -1, false, n).is_none());
        assert!(map_column(&Type::TEXT, -1, true, n)
            .unwrap()
            .0
            .is_optional());
        // numeric(10,2): a Decimal of scale 2 with its precision
        let typmod = ((10 << 16) | 2) + 4;
        let (d, dec) = mapped(Type::NUMERIC, typmod, n);
        assert_eq!(d.name(), Some(logical::DECIMAL));
        assert_eq!(d.parameter("scale"), Some("2"));
        assert_eq!(d.parameter(PRECISION_PARAMETER), Some("10"));
        assert_eq!(dec, Decode::Numeric(2));
        // unconstrained numeric: scale 127, as Confluent's dialect
        assert_eq!(mapped(Type::NUMERIC, -1, n).1, Decode::Numeric(127));
        // best_fit: numeric(10,2) → FLOAT64, numeric(9,0) → INT32, numeric(20,0) → Decimal
        let b = NumericMapping::BestFit;
        assert_eq!(mapped(Type::NUMERIC, typmod, b).0.ty(), CType::Float64);
        assert_eq!(mapped(Type::NUMERIC, (9 << 16) + 4, b).0.ty(), CType::Int32);
        assert_eq!(
            mapped(Type::NUMERIC, (20 << 16) + 4, b).1,
            Decode::Numeric(0)
        );
        let p = NumericMapping::PrecisionOnly;
        assert_eq!(mapped(Type::NUMERIC, (4 << 16) + 4, p).0.ty(), CType::Int16);
        assert_eq!(mapped(Type::NUMERIC, typmod, p).1, Decode::Numeric(2));
    }

    #[test]
    fn binary_values() {
        assert_eq!(
            Decode::Int4.value(Some(&[0, 0, 1, 0])),
            Ok(Value::Int32(256))
        );
        assert_eq!(Decode::Int4.value(None), Ok(Value::Null));
        assert!(Decode::Int4.value(Some(&[0, 1])).is_err());
        assert_eq!(Decode::Bool.value(Some(&[1])), Ok(Value::Boolean(true)));
        assert_eq!(
            Decode::Uuid.value(Some(&[0x12; 16])),
            Ok(Value::String("12121212-1212-1212-1212-121212121212".into()))
        );
        assert_eq!(
            Decode::Jsonb.value(Some(b"\x01{\"a\": 1}")),
            Ok(Value::String("{\"a\": 1}".into()))
        );
        // 2000-01-02
        assert_eq!(
            Decode::Date.value(Some(&1i32.to_be_bytes())),
            Ok(Value::Date((10_958) * 86_400_000))
        );
        assert_eq!(
            Decode::Time.value(Some(&3_600_000_000i64.to_be_bytes())),
            Ok(Value::Date(3_600_000))
        );
        // 10:00-05 is 15:00 UTC
        let mut tz = 36_000_000_000i64.to_be_bytes().to_vec();
        tz.extend_from_slice(&18_000i32.to_be_bytes());
        assert_eq!(Decode::TimeTz.value(Some(&tz)), Ok(Value::Date(54_000_000)));
        assert_eq!(
            Decode::Timestamp.value(Some(&0i64.to_be_bytes())),
            Ok(Value::Date(946_684_800_000))
        );
        assert_eq!(
            Decode::NumericAs(CType::Int32).value(Some(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 42])),
            Ok(Value::Int32(42))
        );
    }
}
