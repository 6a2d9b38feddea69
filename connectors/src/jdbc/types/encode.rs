//! Connect values as statement parameters: each is written in the binary form of the column
//! type the server gives the parameter (an `INT` field into a `bigint` column, a `Decimal`
//! into `numeric`, a `Timestamp` into `timestamptz`, a string into `jsonb` or `uuid`, an array
//! into an array column).

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};
use tributary_connect::data::logical::Logical;
use tributary_connect::data::{Decimal, Schema, Value};

use super::binary;

/// A Connect value bound to a statement parameter.
#[derive(Debug)]
pub struct Param<'a> {
    /// The value (null: SQL NULL).
    pub value: &'a Value,
    /// Its schema, which tells the logical types apart.
    pub schema: Option<&'a Schema>,
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.value.is_null() {
            return Ok(IsNull::Yes);
        }
        encode(self.value, self.schema, ty, out)?;
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int8(x) => Some(i64::from(*x)),
        Value::Int16(x) => Some(i64::from(*x)),
        Value::Int32(x) => Some(i64::from(*x)),
        Value::Int64(x) => Some(*x),
        Value::Decimal(d) => d.with_scale(0).map(|w| w.to_i64_wrapping()),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float32(x) => Some(f64::from(*x)),
        Value::Float64(x) => Some(*x),
        Value::Decimal(d) => Some(d.to_f64()),
        _ => as_i64(v).map(|i| i as f64),
    }
}

fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(d.clone()),
        Value::Float32(f) if f.is_finite() => Decimal::parse(&f.to_string()),
        Value::Float64(f) if f.is_finite() => Decimal::parse(&f.to_string()),
        _ => as_i64(v).map(|i| Decimal::from_i64(i, 0)),
    }
}

fn type_name(v: &Value, schema: Option<&Schema>) -> String {
    match schema {
        Some(s) => s.name().map_or_else(|| s.ty().to_string(), str::to_string),
        None => v
            .inferred_type()
            .map_or_else(|| v.java_class().to_string(), |t| t.to_string()),
    }
}

/// The text a text-like column gets: strings as they are, numbers and booleans as Java
/// prints them.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Boolean(_)
        | Value::Int8(_)
        | Value::Int16(_)
        | Value::Int32(_)
        | Value::Int64(_)
        | Value::Float32(_)
        | Value::Float64(_)
        | Value::Decimal(_) => Some(v.to_string()),
        _ => None,
    }
}

fn uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Milliseconds of a `Date`, `Time` or `Timestamp` value, checked against its schema.
fn millis(v: &Value, schema: Option<&Schema>, want: &[Logical]) -> Option<i64> {
    let Value::Date(ms) = v else { return None };
    match schema.and_then(Logical::of) {
        Some(l) if !want.contains(&l) => None,
        _ => Some(*ms),
    }
}

/// Writes `v` in the binary form of `ty`.
pub fn encode(
    v: &Value,
    schema: Option<&Schema>,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<(), String> {
    let refuse = || {
        format!(
            "a {} value cannot be written into a column of type {}",
            type_name(v, schema),
            ty.name()
        )
    };
    match ty.kind() {
        Kind::Domain(base) => return encode(v, schema, base, out),
        Kind::Enum(_) => {
            out.put_slice(as_text(v).ok_or_else(refuse)?.as_bytes());
            return Ok(());
        }
        Kind::Array(element) => {
            return encode_array(v, schema, element, out).map_err(|e| e.unwrap_or_else(refuse))
        }
        _ => {}
    }
    match *ty {
        Type::BOOL => match v {
            Value::Boolean(b) => out.put_u8(u8::from(*b)),
            _ => return Err(refuse()),
        },
        Type::INT2 => {
            let i = as_i64(v).ok_or_else(refuse)?;
            out.put_i16(i16::try_from(i).map_err(|_| format!("{i} is out of range for smallint"))?)
        }
        Type::INT4 => {
            let i = as_i64(v).ok_or_else(refuse)?;
            out.put_i32(i32::try_from(i).map_err(|_| format!("{i} is out of range for integer"))?)
        }
        Type::INT8 => out.put_i64(as_i64(v).ok_or_else(refuse)?),
        Type::FLOAT4 => out.put_f32(as_f64(v).ok_or_else(refuse)? as f32),
        Type::FLOAT8 => out.put_f64(as_f64(v).ok_or_else(refuse)?),
        Type::NUMERIC => {
            let d = as_decimal(v).ok_or_else(refuse)?;
            let mut buf = Vec::new();
            binary::decimal_to_numeric(&d, &mut buf);
            out.put_slice(&buf);
        }
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::XML
        | Type::JSON
        | Type::UNKNOWN => out.put_slice(as_text(v).ok_or_else(refuse)?.as_bytes()),
        Type::JSONB => {
            out.put_u8(1);
            out.put_slice(as_text(v).ok_or_else(refuse)?.as_bytes());
        }
        Type::UUID => {
            let s = v.as_str().ok_or_else(refuse)?;
            out.put_slice(&uuid_bytes(s).ok_or_else(|| format!("'{s}' is not a UUID"))?);
        }
        Type::BYTEA => match v {
            Value::Bytes(b) => out.put_slice(b),
            _ => return Err(refuse()),
        },
        Type::DATE => {
            let ms = millis(v, schema, &[Logical::Date, Logical::Timestamp]).ok_or_else(refuse)?;
            let days = ms.div_euclid(86_400_000) - binary::PG_EPOCH_DAYS;
            out.put_i32(i32::try_from(days).map_err(|_| "a date out of range".to_string())?);
        }
        Type::TIME => {
            let ms = millis(v, schema, &[Logical::Time]).ok_or_else(refuse)?;
            out.put_i64(ms.rem_euclid(86_400_000) * 1000);
        }
        Type::TIMETZ => {
            let ms = millis(v, schema, &[Logical::Time]).ok_or_else(refuse)?;
            out.put_i64(ms.rem_euclid(86_400_000) * 1000);
            out.put_i32(0);
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let ms = millis(v, schema, &[Logical::Timestamp, Logical::Date]).ok_or_else(refuse)?;
            out.put_i64(binary::unix_to_pg_micros(ms, None));
        }
        _ => return Err(refuse()),
    }
    Ok(())
}

/// A one-dimensional array: dimensions, null flag, element type, then each element.
fn encode_array(
    v: &Value,
    schema: Option<&Schema>,
    element: &Type,
    out: &mut BytesMut,
) -> Result<(), Option<String>> {
    let Value::Array(items) = v else {
        return Err(None);
    };
    let element_schema = schema.and_then(Schema::value_schema);
    out.put_i32(i32::from(!items.is_empty()));
    out.put_i32(i32::from(items.iter().any(Value::is_null)));
    out.put_u32(element.oid());
    if !items.is_empty() {
        out.put_i32(items.len() as i32);
        out.put_i32(1);
    }
    for item in items {
        if item.is_null() {
            out.put_i32(-1);
            continue;
        }
        let at = out.len();
        out.put_i32(0);
        encode(item, element_schema, element, out).map_err(Some)?;
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// The SQL type `auto.create` and `auto.evolve` give a field (Confluent's PostgreSQL
/// dialect): `SMALLINT`, `INT`, `BIGINT`, `REAL`, `DOUBLE PRECISION`, `BOOLEAN`, `TEXT`,
/// `BYTEA`, `DECIMAL`, `DATE`, `TIME`, `TIMESTAMP`, and `<element>[]` for arrays.
pub fn sql_type(schema: &Schema) -> Option<String> {
    use tributary_connect::data::Type as C;
    if let Some(l) = Logical::of(schema) {
        return Some(
            match l {
                Logical::Decimal => "DECIMAL",
                Logical::Date => "DATE",
                Logical::Time => "TIME",
                Logical::Timestamp => "TIMESTAMP",
            }
            .to_string(),
        );
    }
    Some(
        match schema.ty() {
            C::Int8 | C::Int16 => "SMALLINT",
            C::Int32 => "INT",
            C::Int64 => "BIGINT",
            C::Float32 => "REAL",
            C::Float64 => "DOUBLE PRECISION",
            C::Boolean => "BOOLEAN",
            C::String => "TEXT",
            C::Bytes => "BYTEA",
            C::Array => return sql_type(schema.value_schema()?).map(|t| format!("{t}[]")),
            C::Map | C::Struct => return None,
        }
        .to_string(),
    )
}

/// A default value as a SQL literal (for `DEFAULT` in created and added columns).
pub fn sql_literal(schema: &Schema, v: &Value) -> Option<String> {
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    Some(match (Logical::of(schema), v) {
        (Some(Logical::Decimal), Value::Decimal(d)) => d.to_plain_string(),
        (Some(Logical::Date), Value::Date(ms)) => quoted(&format_date(*ms)),
        (Some(Logical::Time), Value::Date(ms)) => quoted(&format_time(*ms)),
        (Some(Logical::Timestamp), Value::Date(ms)) => {
            quoted(&format!("{} {}", format_date(*ms), format_time(*ms)))
        }
        (_, Value::Boolean(b)) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        (_, Value::String(s)) => quoted(s),
        (_, Value::Bytes(b)) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("'\\x{hex}'::bytea")
        }
        (_, Value::Float32(_) | Value::Float64(_)) => v.to_string(),
        (_, other) => as_i64(other)?.to_string(),
    })
}

fn format_date(ms: i64) -> String {
    let (y, m, d) = tributary_connect::data::java::civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn format_time(ms: i64) -> String {
    let t = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::data::logical;
    use tributary_connect::data::{SchemaBuilder, Type as C};

    fn enc(v: Value, schema: Option<&Schema>, ty: &Type) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        encode(&v, schema, ty, &mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn values_take_the_columns_type() {
        assert_eq!(
            enc(Value::Int32(7), None, &Type::INT8).unwrap(),
            7i64.to_be_bytes()
        );
        assert_eq!(
            enc(Value::Int64(7), None, &Type::INT2).unwrap(),
            7i16.to_be_bytes()
        );
        assert!(enc(Value::Int64(1 << 40), None, &Type::INT4)
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(
            enc(Value::String("x".into()), None, &Type::JSONB).unwrap(),
            b"\x01x"
        );
        assert!(enc(Value::String("x".into()), None, &Type::INT4)
            .unwrap_err()
            .contains("a STRING value cannot be written into a column of type int4"));
        assert_eq!(
            enc(
                Value::String("12121212-1212-1212-1212-121212121212".into()),
                None,
                &Type::UUID
            )
            .unwrap(),
            [0x12; 16]
        );
        let ts = logical::timestamp_schema().build();
        assert_eq!(
            enc(Value::Date(946_684_800_001), Some(&ts), &Type::TIMESTAMPTZ).unwrap(),
            1000i64.to_be_bytes()
        );
        let date = logical::date_schema().build();
        assert_eq!(
            enc(Value::Date(10_958 * 86_400_000), Some(&date), &Type::DATE).unwrap(),
            1i32.to_be_bytes()
        );
        let arr = SchemaBuilder::array(Schema::primitive(C::Int32)).build();
        let bytes = enc(
            Value::Array(vec![Value::Int32(1), Value::Null]),
            Some(&arr),
            &Type::INT4_ARRAY,
        )
        .unwrap();
        assert_eq!(bytes.len(), 20 + 8 + 4);
    }

    #[test]
    fn column_types_for_fields() {
        assert_eq!(
            sql_type(&Schema::primitive(C::Int8)).as_deref(),
            Some("SMALLINT")
        );
        assert_eq!(
            sql_type(&Schema::primitive(C::Float64)).as_deref(),
            Some("DOUBLE PRECISION")
        );
        assert_eq!(
            sql_type(&logical::decimal_schema(2).build()).as_deref(),
            Some("DECIMAL")
        );
        let arr = SchemaBuilder::array(Schema::primitive(C::String)).build();
        assert_eq!(sql_type(&arr).as_deref(), Some("TEXT[]"));
        assert_eq!(sql_type(&SchemaBuilder::struct_().build()), None);
        assert_eq!(
            sql_literal(&Schema::primitive(C::String), &Value::String("it's".into())).as_deref(),
            Some("'it''s'")
        );
        assert_eq!(
            sql_literal(&logical::timestamp_schema().build(), &Value::Date(1_500)).as_deref(),
            Some("'1970-01-01 00:00:01.500'")
        );
    }
}
