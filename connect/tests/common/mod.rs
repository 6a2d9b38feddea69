//! What the differential tests share: random Connect values for a schema.

use rand::rngs::StdRng;
use rand::Rng;
use tributary_connect::data::{logical, Decimal, Schema, Struct, Type, Value};

/// Doubles whose shortest text is the same in Java 17 (which the oracle runs on) and later.
pub const DOUBLES: &[f64] = &[
    0.0, 1.0, -2.5, 0.1, 1e20, 1e-7, 123456.789, 1e7, 9999999.0, 0.001, 3.0e-3, -1e300,
];

/// A random value that fits `schema` (strings drawn from `strings`).
pub fn value(rng: &mut StdRng, schema: &Schema, strings: &[&str]) -> Value {
    if schema.is_optional() && rng.random_bool(0.2) {
        return Value::Null;
    }
    if let Some(l) = logical::Logical::of(schema) {
        return match l {
            logical::Logical::Decimal => {
                let scale = logical::decimal_scale(schema).expect("generated data is valid");
                Value::Decimal(Decimal::from_i64(rng.random_range(-100000..100000), scale))
            }
            logical::Logical::Date => Value::Date(rng.random_range(-1000i64..30000) * 86_400_000),
            logical::Logical::Time => Value::Date(rng.random_range(0..86_400_000)),
            logical::Logical::Timestamp => Value::Date(rng.random_range(-1i64 << 40..1i64 << 42)),
        };
    }
    match schema.ty() {
        Type::Int8 => Value::Int8(rng.random()),
        Type::Int16 => Value::Int16(rng.random()),
        Type::Int32 => Value::Int32(rng.random()),
        Type::Int64 => Value::Int64(rng.random()),
        Type::Float32 => Value::Float32(DOUBLES[rng.random_range(0..8)] as f32),
        Type::Float64 => Value::Float64(DOUBLES[rng.random_range(0..DOUBLES.len())]),
        Type::Boolean => Value::Boolean(rng.random()),
        Type::String => Value::String(strings[rng.random_range(0..strings.len())].to_string()),
        Type::Bytes => Value::Bytes((0..rng.random_range(0..6)).map(|_| rng.random()).collect()),
        Type::Array => {
            let elem = schema
                .value_schema()
                .expect("generated data is valid")
                .clone();
            Value::Array(
                (0..rng.random_range(0..4))
                    .map(|_| value(rng, &elem, strings))
                    .collect(),
            )
        }
        Type::Map => {
            let (k, v) = (
                schema
                    .key_schema()
                    .expect("generated data is valid")
                    .clone(),
                schema
                    .value_schema()
                    .expect("generated data is valid")
                    .clone(),
            );
            let mut entries: Vec<(Value, Value)> = Vec::new();
            for _ in 0..rng.random_range(0..5) {
                let key = value(rng, &k, strings);
                if !entries.iter().any(|(k2, _)| *k2 == key) {
                    entries.push((key, value(rng, &v, strings)));
                }
            }
            Value::Map(entries)
        }
        Type::Struct => {
            let mut s = Struct::new(schema.clone()).expect("generated data is valid");
            for f in schema.fields() {
                let v = value(rng, f.schema(), strings);
                s.put(f.name(), v).expect("generated data is valid");
            }
            Value::Struct(s)
        }
    }
}
