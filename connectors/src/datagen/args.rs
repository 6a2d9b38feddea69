//! Avro Random Generator's `arg.properties` of one schema, read and checked once: `options`
//! (turned into Connect values then), `iteration`, `range`, `regex`, `length`, `prefix` /
//! `suffix`, `odds` and a map's `keys`.

use serde_json::Value as Json;
use tributary_connect::data::logical::Logical;
use tributary_connect::data::{Struct, Value};

use super::regex::RegexGen;
use super::schema::{Kind, Node};

/// The generator arguments of a schema (`arg.properties`).
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// `options`: one of these, already as Connect values.
    pub options: Option<Vec<Value>>,
    /// `iteration`: a value that depends on the record count.
    pub iteration: Option<Iteration>,
    /// `range`: `[min, max)` of a number.
    pub range: Option<(f64, f64)>,
    /// `range` of an `int` or `long`, exact.
    pub int_range: Option<(i64, i64)>,
    /// `regex` for strings.
    pub regex: Option<RegexGen>,
    /// `length`: `[min, max)` of a string (without `regex`), bytes, array or map.
    pub length: (u32, u32),
    /// `prefix` and `suffix` of a string.
    pub prefix: String,
    /// See `prefix`.
    pub suffix: String,
    /// `odds` of a boolean being true.
    pub odds: Option<f64>,
    /// `keys` of a map: how its keys are made (a string node).
    pub keys: Option<Box<Node>>,
}

impl Default for Args {
    /// No arguments: strings, bytes, arrays and maps 8 to 15 long, as Avro Random Generator.
    fn default() -> Args {
        Args {
            options: None,
            iteration: None,
            range: None,
            int_range: None,
            regex: None,
            length: (8, 16),
            prefix: String::new(),
            suffix: String::new(),
            odds: None,
            keys: None,
        }
    }
}

/// `iteration` {`start`, `step`, `restart`, `initial`}: the value of record `n` is
/// `start + sign(step) * (|initial - start + n * step| mod |restart - start|)`, as Avro Random
/// Generator's iterators give it when started at generation `n`.
#[derive(Clone, Debug, PartialEq)]
pub struct Iteration {
    /// The first value.
    pub start: f64,
    /// Added each record.
    pub step: f64,
    /// Where it wraps around to `start` (exclusive).
    pub restart: f64,
    /// The value at record 0 (`start` by default).
    pub initial: f64,
}

/// Reads `arg.properties` for `node`; `key_node` parses the string schema of a map's `keys`.
pub fn parse(
    node: &Node,
    props: &Json,
    key_node: &mut dyn FnMut(&Json) -> Result<Node, String>,
) -> Result<Args, String> {
    let props = props
        .as_object()
        .ok_or("arg.properties must be an object")?;
    let mut a = Args::default();
    if let Some(opts) = props.get("options") {
        let list = opts.as_array().ok_or("options must be a list")?;
        if list.is_empty() {
            return Err("options must not be empty".into());
        }
        a.options = Some(
            list.iter()
                .map(|o| to_value(node, o))
                .collect::<Result<_, _>>()?,
        );
    }
    if let Some(it) = props.get("iteration") {
        a.iteration = Some(iteration(node, it)?);
    }
    if let Some(range) = props.get("range") {
        let num = |k: &str| {
            range
                .get(k)
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| format!("range {k} must be a number"))
                })
                .transpose()
        };
        let (min, max) = (num("min")?, num("max")?);
        match node.kind {
            Kind::Int | Kind::Long => {
                let (lo, hi) = if node.kind == Kind::Int {
                    (i64::from(i32::MIN), i64::from(i32::MAX))
                } else {
                    (i64::MIN, i64::MAX)
                };
                let int = |k: &str, d: i64| match range.get(k) {
                    None => Ok(d),
                    Some(v) => v
                        .as_i64()
                        .ok_or_else(|| format!("range {k} must be an integer")),
                };
                let (min, max) = (int("min", lo)?, int("max", hi)?);
                if min >= max {
                    return Err("range min must be less than max".into());
                }
                a.int_range = Some((min, max));
            }
            _ => {
                let (min, max) = (min.unwrap_or(-f64::MAX), max.unwrap_or(f64::MAX));
                if min >= max {
                    return Err("range min must be less than max".into());
                }
                a.range = Some((min, max));
            }
        }
    }
    if let Some(r) = props.get("regex") {
        let r = r.as_str().ok_or("regex must be a string")?;
        a.regex = Some(RegexGen::parse(r)?);
    }
    if let Some(len) = props.get("length") {
        a.length = match len {
            Json::Number(n) => {
                let n = n.as_u64().ok_or("length must not be negative")? as u32;
                (n, n + 1)
            }
            Json::Object(o) => {
                let get = |k: &str| o.get(k).and_then(Json::as_u64).map(|v| v as u32);
                let (min, max) = (get("min").unwrap_or(0), get("max").unwrap_or(u32::MAX));
                if max <= min {
                    return Err("length max must be greater than min".into());
                }
                (min, max)
            }
            _ => return Err("length must be a number or {min, max}".into()),
        };
    }
    a.prefix = props
        .get("prefix")
        .and_then(Json::as_str)
        .unwrap_or("")
        .into();
    a.suffix = props
        .get("suffix")
        .and_then(Json::as_str)
        .unwrap_or("")
        .into();
    a.odds = props.get("odds").and_then(Json::as_f64);
    if let Some(keys) = props.get("keys") {
        let wrapper = serde_json::json!({"type": "string", "arg.properties": keys});
        a.keys = Some(Box::new(key_node(&wrapper)?));
    }
    Ok(a)
}

fn iteration(node: &Node, it: &Json) -> Result<Iteration, String> {
    let num = |k: &str| it.get(k).and_then(Json::as_f64);
    let start = num("start").ok_or("iteration must have a start")?;
    let (hi, lo) = match node.kind {
        Kind::Int | Kind::String => (f64::from(i32::MAX), f64::from(i32::MIN)),
        Kind::Long => (i64::MAX as f64, i64::MIN as f64),
        Kind::Float => (f64::from(f32::MAX), -f64::from(f32::MAX)),
        Kind::Double => (f64::MAX, -f64::MAX),
        _ => return Err("iteration works on int, long, float, double and string".into()),
    };
    let (step, restart) = match (num("step"), num("restart")) {
        (None, None) => (1.0, hi),
        (Some(s), None) if s > 0.0 => (s, hi),
        (Some(s), None) if s < 0.0 => (s, lo),
        (None, Some(r)) if r != start => (if r > start { 1.0 } else { -1.0 }, r),
        (Some(s), Some(r)) if s != 0.0 && r != start && (r > start) == (s > 0.0) => (s, r),
        _ => return Err("iteration step and restart do not fit its start".into()),
    };
    Ok(Iteration {
        start,
        step,
        restart,
        initial: num("initial").unwrap_or(start),
    })
}

/// A JSON option (or record-level option) as a Connect value of `node`'s schema.
pub fn to_value(node: &Node, json: &Json) -> Result<Value, String> {
    let bad = || format!("option {json} does not fit type {}", node.schema.ty());
    Ok(match (&node.kind, json) {
        (Kind::Nullable(..), Json::Null) | (Kind::Null, Json::Null) => Value::Null,
        (Kind::Nullable(inner, _), j) => to_value(inner, j)?,
        (Kind::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Kind::Int, j) => {
            let v = i32::try_from(j.as_i64().ok_or_else(bad)?).map_err(|_| bad())?;
            logical_value(node.logical, i64::from(v)).unwrap_or(Value::Int32(v))
        }
        (Kind::Long, j) => {
            let v = j.as_i64().ok_or_else(bad)?;
            logical_value(node.logical, v).unwrap_or(Value::Int64(v))
        }
        (Kind::Float, j) => Value::Float32(j.as_f64().ok_or_else(bad)? as f32),
        (Kind::Double, j) => Value::Float64(j.as_f64().ok_or_else(bad)?),
        (Kind::String | Kind::Enum(_), Json::String(s)) => Value::String(s.clone()),
        (Kind::Bytes | Kind::Fixed(_), Json::String(s)) => {
            Value::Bytes(s.chars().map(|c| c as u8).collect())
        }
        (Kind::Array(items), Json::Array(list)) => Value::Array(
            list.iter()
                .map(|j| to_value(items, j))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Map(values), Json::Object(o)) => Value::Map(
            o.iter()
                .map(|(k, j)| Ok((Value::String(k.clone()), to_value(values, j)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Kind::Record(fields), Json::Object(o)) => {
            let mut s = Struct::new(node.schema.clone()).map_err(|e| e.to_string())?;
            for (name, f) in fields {
                let v = to_value(f, o.get(name).unwrap_or(&Json::Null))?;
                s.put(name, v).map_err(|e| e.to_string())?;
            }
            Value::Struct(s)
        }
        _ => return Err(bad()),
    })
}

/// The Connect value of a number with a logical type (`None` without one).
pub fn logical_value(logical: Option<Logical>, v: i64) -> Option<Value> {
    match logical? {
        Logical::Date => Some(Value::Date(v.saturating_mul(86_400_000))),
        Logical::Time | Logical::Timestamp => Some(Value::Date(v)),
        Logical::Decimal => None,
    }
}
