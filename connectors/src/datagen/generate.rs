//! Random values of a parsed schema, with Avro Random Generator's rules: `options` first (one
//! of them, equally likely), then `iteration` (a function of the record count, so a restarted
//! task goes on where it stopped), else by type (`range` `[min, max)` for numbers, `regex` or
//! `length` for strings, `length` for bytes, arrays and maps, `odds` for booleans, one branch of
//! a union, every field of a record).

use tributary_connect::data::{Struct, Value};

use super::rng::Rng;
use super::schema::{logical_value, Iteration, Kind, Node};

/// A random value of `node` for the task's record number `count` (from 0).
pub fn value(node: &Node, rng: &mut Rng, count: u64) -> Value {
    let a = &node.args;
    if let Some(options) = &a.options {
        return options[rng.index(options.len())].clone();
    }
    if let Some(it) = &a.iteration {
        return iterate(node, it, count);
    }
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Boolean => Value::Boolean(match a.odds {
            Some(odds) => rng.next_f64() < odds,
            None => rng.coin(),
        }),
        Kind::Int => {
            let (min, max) = a
                .int_range
                .unwrap_or((i64::from(i32::MIN), i64::from(i32::MAX) + 1));
            let v = rng.between(min, max);
            logical_value(node.logical, v).unwrap_or(Value::Int32(v as i32))
        }
        Kind::Long => {
            let v = match a.int_range {
                Some((min, max)) => rng.between(min, max),
                None => rng.next_u64() as i64,
            };
            logical_value(node.logical, v).unwrap_or(Value::Int64(v))
        }
        Kind::Float => Value::Float32(real(a.range, rng) as f32),
        Kind::Double => Value::Float64(real(a.range, rng)),
        Kind::String => {
            let body = match &a.regex {
                Some(re) => re.generate(rng),
                None => {
                    let len = length(a.length, rng);
                    // ASCII 0..=127, as Avro Random Generator's random strings
                    (0..len).map(|_| char::from(rng.below(128) as u8)).collect()
                }
            };
            Value::String(affixed(node, body))
        }
        Kind::Bytes => Value::Bytes(bytes(length(a.length, rng), rng)),
        Kind::Fixed(size) => Value::Bytes(bytes(*size, rng)),
        Kind::Enum(symbols) if !symbols.is_empty() => {
            Value::String(symbols[rng.index(symbols.len())].clone())
        }
        Kind::Enum(_) => Value::Null,
        Kind::Array(items) => {
            let len = length(a.length, rng);
            Value::Array((0..len).map(|_| value(items, rng, count)).collect())
        }
        Kind::Map(values) => {
            let len = length(a.length, rng);
            let mut entries: Vec<(Value, Value)> = Vec::with_capacity(len);
            for _ in 0..len {
                let key = match &a.keys {
                    Some(keys) => value(keys, rng, count),
                    None => Value::String(char::from(rng.below(128) as u8).to_string()),
                };
                let v = value(values, rng, count);
                // a map: a key drawn twice keeps its last value
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = v,
                    None => entries.push((key, v)),
                }
            }
            Value::Map(entries)
        }
        Kind::Record(fields) => {
            let values = fields.iter().map(|(_, f)| value(f, rng, count));
            match record(node, fields.iter().map(|(n, _)| n.as_str()).zip(values)) {
                Some(s) => Value::Struct(s),
                None => Value::Null,
            }
        }
        Kind::Nullable(inner, null_first) => {
            // one of the two branches, equally likely
            if rng.coin() == *null_first {
                Value::Null
            } else {
                value(inner, rng, count)
            }
        }
    }
}

/// A struct of `node`'s schema with these field values (`None` if one does not fit, which
/// the parser rules out).
fn record<'a>(node: &Node, values: impl Iterator<Item = (&'a str, Value)>) -> Option<Struct> {
    let mut s = Struct::new(node.schema.clone()).ok()?;
    for (name, v) in values {
        s.put(name, v).ok()?;
    }
    Some(s)
}

fn real(range: Option<(f64, f64)>, rng: &mut Rng) -> f64 {
    match range {
        Some((min, max)) => min + rng.next_f64() * (max - min),
        None => rng.next_f64(),
    }
}

fn length((min, max): (u32, u32), rng: &mut Rng) -> usize {
    rng.between(i64::from(min), i64::from(max)) as usize
}

fn bytes(len: usize, rng: &mut Rng) -> Vec<u8> {
    (0..len).map(|_| rng.below(256) as u8).collect()
}

fn affixed(node: &Node, body: String) -> String {
    let a = &node.args;
    if a.prefix.is_empty() && a.suffix.is_empty() {
        body
    } else {
        format!("{}{body}{}", a.prefix, a.suffix)
    }
}

/// The `iteration` value of record `count`.
fn iterate(node: &Node, it: &Iteration, count: u64) -> Value {
    match node.kind {
        Kind::Float | Kind::Double => {
            let modulo = it.restart - it.start;
            let current = (count as f64 * it.step + (it.initial - it.start)) % modulo;
            let v = it.start + current;
            if node.kind == Kind::Float {
                Value::Float32(v as f32)
            } else {
                Value::Float64(v)
            }
        }
        _ => {
            let (start, step) = (it.start as i128, it.step as i128);
            let span = (it.restart as i128 - start).abs().max(1);
            let current = (i128::from(count) * step + (it.initial as i128 - start)).abs() % span
                * step.signum();
            let v = (start + current) as i64;
            match node.kind {
                Kind::Long => logical_value(node.logical, v).unwrap_or(Value::Int64(v)),
                Kind::String => Value::String(affixed(node, v.to_string())),
                _ => logical_value(node.logical, v).unwrap_or(Value::Int32(v as i32)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::parse;
    use super::*;

    fn field_type(t: &str) -> Node {
        let n = parse(&format!(
            r#"{{"type": "record", "name": "r", "fields": [{{"name": "f", "type": {t}}}]}}"#
        ))
        .expect("parses");
        match n.kind {
            Kind::Record(mut f) => f.remove(0).1,
            _ => unreachable!("a record"),
        }
    }

    fn many(t: &str) -> Vec<Value> {
        let node = field_type(t);
        let mut rng = Rng::new(3);
        (0..2000).map(|i| value(&node, &mut rng, i)).collect()
    }

    #[test]
    fn ranges_stay_in_min_inclusive_max_exclusive() {
        let longs = many(
            r#"{"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}"#,
        );
        assert!(longs
            .iter()
            .all(|v| matches!(v, Value::Int64(x) if (1487715775521..1519273364600).contains(x))));
        let ints = many(r#"{"type": "int", "arg.properties": {"range": {"min": -1, "max": 2}}}"#);
        let seen: std::collections::BTreeSet<i32> = ints
            .iter()
            .map(|v| match v {
                Value::Int32(x) => *x,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seen, [-1, 0, 1].into());
        let doubles =
            many(r#"{"type": "double", "arg.properties": {"range": {"min": 0.1, "max": 10.0}}}"#);
        assert!(doubles
            .iter()
            .all(|v| matches!(v, Value::Float64(x) if (0.1..10.0).contains(x))));
    }

    #[test]
    fn options_pick_each_one() {
        let v = many(
            r#"{"type": "string", "arg.properties": {"options": ["MALE", "FEMALE", "OTHER"]}}"#,
        );
        let seen: std::collections::BTreeSet<&str> = v.iter().filter_map(Value::as_str).collect();
        assert_eq!(seen, ["FEMALE", "MALE", "OTHER"].into());
        let arrays = many(
            r#"{"type": "array", "items": "string", "arg.properties": {"options": [["Game", "News"], ["News"]]}}"#,
        );
        assert!(arrays
            .iter()
            .all(|v| matches!(v, Value::Array(a) if a.len() <= 2)));
        let rec = field_type(
            r#"{"type": "record", "name": "s", "fields": [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}], "arg.properties": {"options": [{"id": 1, "city": "Raleigh"}]}}"#,
        );
        let v = value(&rec, &mut Rng::new(1), 0);
        assert_eq!(v.to_string(), "Struct{id=1,city=Raleigh}");
    }

    #[test]
    fn iterations_follow_the_count_and_wrap() {
        let node = field_type(
            r#"{"type": "long", "arg.properties": {"iteration": {"start": 1, "step": 10}}}"#,
        );
        let mut rng = Rng::new(0);
        let got: Vec<Value> = (0..4).map(|n| value(&node, &mut rng, n)).collect();
        assert_eq!(got, [1, 11, 21, 31].map(Value::Int64));
        // record 1000 of a restarted task is what an uninterrupted one would have made
        assert_eq!(value(&node, &mut rng, 1000), Value::Int64(10_001));
        let wrap = field_type(
            r#"{"type": "int", "arg.properties": {"iteration": {"start": 0, "restart": 3}}}"#,
        );
        let got: Vec<Value> = (0..7).map(|n| value(&wrap, &mut rng, n)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0].map(Value::Int32));
        let down = field_type(
            r#"{"type": "int", "arg.properties": {"iteration": {"start": 10, "step": -5, "restart": -5}}}"#,
        );
        let got: Vec<Value> = (0..4).map(|n| value(&down, &mut rng, n)).collect();
        assert_eq!(got, [10, 5, 0, 10].map(Value::Int32));
        let s = field_type(
            r#"{"type": "string", "arg.properties": {"iteration": {"start": 5}, "prefix": "id-"}}"#,
        );
        assert_eq!(value(&s, &mut rng, 2), Value::String("id-7".into()));
        let d = field_type(
            r#"{"type": "double", "arg.properties": {"iteration": {"start": 0.5, "step": 0.25}}}"#,
        );
        assert_eq!(value(&d, &mut rng, 2), Value::Float64(1.0));
    }

    #[test]
    fn lengths_unions_and_logical_types() {
        for v in many(r#"{"type": "string", "arg.properties": {"length": {"min": 2, "max": 4}}}"#) {
            let n = v.as_str().map(|s| s.chars().count()).unwrap_or(0);
            assert!((2..4).contains(&n), "{v:?}");
        }
        let u = many(r#"["null", {"type": "string", "arg.properties": {"regex": "x{2}"}}]"#);
        assert!(u.iter().any(Value::is_null));
        assert!(u.iter().any(|v| v.as_str() == Some("xx")));
        let d = many(
            r#"{"type": "int", "logicalType": "date", "arg.properties": {"range": {"min": 1, "max": 2}}}"#,
        );
        assert!(d.iter().all(|v| *v == Value::Date(86_400_000)));
        let m = many(
            r#"{"type": "map", "values": "int", "arg.properties": {"length": 2, "keys": {"options": ["a", "b"]}}}"#,
        );
        assert!(m
            .iter()
            .all(|v| matches!(v, Value::Map(e) if !e.is_empty() && e.len() <= 2)));
    }
}
