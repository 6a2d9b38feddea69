//! ksqlDB's JSON functions over JSON held in strings: `EXTRACTJSONFIELD` (a JSONPath of
//! `.name`, `[index]` and `["name"]` steps), `IS_JSON_STRING`, `JSON_ARRAY_CONTAINS`,
//! `JSON_ARRAY_LENGTH`, `JSON_CONCAT`, `JSON_ITEMS`, `JSON_KEYS` and `JSON_RECORDS`. Text is
//! read and written as Jackson does in ksqlDB ([`tree`]): what does not parse makes the
//! function fail (null), except where ksqlDB answers `false`.

mod tree;

use datafusion_common::ScalarValue;

use super::rowfn::{row_udf, RowFn};
use super::text_arg as text;
use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value;
use tree::Node;

/// The JSON functions.
pub const NAMES: &[&str] = &[
    "EXTRACTJSONFIELD",
    "IS_JSON_STRING",
    "JSON_ARRAY_CONTAINS",
    "JSON_ARRAY_LENGTH",
    "JSON_CONCAT",
    "JSON_ITEMS",
    "JSON_KEYS",
    "JSON_RECORDS",
];

/// Plans `name(args)`, one of [`NAMES`].
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    use SqlType::{Boolean, Int, String};
    let strings = |n: usize| args.len() == n && args.iter().all(|a| a.ty == String);
    let list = SqlType::Array(Box::new(String));
    let (n, f, ret): (&'static str, RowFn, SqlType) = match name {
        "EXTRACTJSONFIELD" if strings(2) => ("EXTRACTJSONFIELD", extract_json_field, String),
        "IS_JSON_STRING" if strings(1) => ("IS_JSON_STRING", is_json_string, Boolean),
        // (the value may be of any type)
        "JSON_ARRAY_CONTAINS" if args.len() == 2 && args[0].ty == String => {
            ("JSON_ARRAY_CONTAINS", json_array_contains, Boolean)
        }
        "JSON_ARRAY_LENGTH" if strings(1) => ("JSON_ARRAY_LENGTH", json_array_length, Int),
        "JSON_CONCAT" if strings(args.len()) => ("JSON_CONCAT", json_concat, String),
        "JSON_ITEMS" if strings(1) => ("JSON_ITEMS", json_items, list),
        "JSON_KEYS" if strings(1) => ("JSON_KEYS", json_keys, list),
        "JSON_RECORDS" if strings(1) => (
            "JSON_RECORDS",
            json_records,
            SqlType::Map(Box::new(String), Box::new(String)),
        ),
        _ => return Err(super::refused(name, &args)),
    };
    let t = udf_call(p, row_udf(n, ret.arrow(), f), args)?;
    Ok(Typed {
        expr: t.expr,
        ty: ret,
    })
}

fn strings_null() -> ScalarValue {
    value::null(&SqlType::Array(Box::new(SqlType::String)))
}

fn strings_map_null() -> ScalarValue {
    let string = || Box::new(SqlType::String);
    value::null(&SqlType::Map(string(), string()))
}

/// The steps of a JSONPath as ksqlDB's `JsonPathTokenizer` reads it: `$`, then `.name`
/// (letters, digits, `_`, `:`, `@`), `[name]` (letters, digits, `_`) or `["name"]` (`\"`
/// and `\\` escaped).
fn path_steps(path: &str) -> Result<Vec<String>, String> {
    let bad = || format!("Invalid JSON path: '{path}'");
    let chars: Vec<char> = path.chars().collect();
    if chars.first() != Some(&'$') {
        return Err(bad());
    }
    let subscript = |c: char| c == '_' || c.is_alphabetic() || c.is_numeric();
    // the characters from `i` that `ok` takes, at least one
    let run = |i: &mut usize, ok: &dyn Fn(char) -> bool| -> Result<String, String> {
        let start = *i;
        while chars.get(*i).is_some_and(|&c| ok(c)) {
            *i += 1;
        }
        if *i == start {
            return Err(bad());
        }
        Ok(chars[start..*i].iter().collect())
    };
    let mut steps = Vec::new();
    let mut i = 1;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '.' => steps.push(run(&mut i, &|c| subscript(c) || c == ':' || c == '@')?),
            '[' if chars.get(i) == Some(&'"') => {
                i += 1;
                let mut step = String::new();
                loop {
                    match chars.get(i) {
                        Some('"') => break,
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('"' | '\\')) => {
                                step.push(e);
                                i += 1;
                            }
                            _ => return Err(bad()),
                        },
                        Some(&other) => step.push(other),
                        None => return Err(bad()),
                    }
                    i += 1;
                }
                steps.push(step);
                i += 1;
            }
            '[' => steps.push(run(&mut i, &subscript)?),
            _ => return Err(bad()),
        }
        if c == '[' {
            if chars.get(i) != Some(&']') {
                return Err(bad());
            }
            i += 1;
        }
    }
    Ok(steps)
}

/// `EXTRACTJSONFIELD(json, path)`: the value at the path, a string as itself, anything
/// else as JSON text; null where the path leads nowhere.
fn extract_json_field(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(json), Some(path)) = (text(args.first()), text(args.get(1))) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let steps = path_steps(path)?;
    let root = tree::parse(json)?;
    let Some(mut node) = root.as_ref() else {
        // (no value at all: its text is empty, any step leads nowhere)
        let found = steps.is_empty().then(String::new);
        return Ok(ScalarValue::Utf8(found));
    };
    for step in &steps {
        let next = match node {
            Node::Array(items) => {
                // (Java's Integer.parseInt: a step that is not a number ends it all)
                let Ok(i) = step.parse::<i32>() else {
                    return Ok(ScalarValue::Utf8(None));
                };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            Node::Object(members) => members.iter().find(|(k, _)| k == step).map(|(_, v)| v),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Ok(ScalarValue::Utf8(None)),
        }
    }
    Ok(ScalarValue::Utf8(Some(match node {
        Node::Text(s) => s.clone(),
        other => other.text(false),
    })))
}

/// `IS_JSON_STRING(s)`: whether `s` holds a JSON value (false for null).
fn is_json_string(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let valid = text(args.first()).is_some_and(|s| matches!(tree::parse(s), Ok(Some(_))));
    Ok(ScalarValue::Boolean(Some(valid)))
}

/// Whether the JSON element `node` is `v`, as ksqlDB compares them: an integer with an INT
/// or BIGINT (failing when it does not fit one), a number with a fraction or exponent with
/// a DOUBLE, a string with a STRING, a boolean with a BOOLEAN, `null` with a null; nothing
/// else matches.
fn same(node: &Node, v: &ScalarValue) -> Result<bool, String> {
    if v.is_null() || matches!(node, Node::Null) {
        return Ok(v.is_null() && matches!(node, Node::Null));
    }
    let overflow = |t: &str| format!("Numeric value ({t}) out of range");
    Ok(match (node, v) {
        (Node::Int(t), ScalarValue::Int32(Some(x))) => {
            t.parse::<i32>().map_err(|_| overflow(t))? == *x
        }
        (Node::Int(t), ScalarValue::Int64(Some(x))) => {
            t.parse::<i64>().map_err(|_| overflow(t))? == *x
        }
        (Node::Decimal { .. }, ScalarValue::Float64(Some(x))) => {
            node.as_f64().is_some_and(|d| d.to_bits() == x.to_bits())
        }
        (Node::Bool(b), ScalarValue::Boolean(Some(x))) => b == x,
        (Node::Text(s), v) => text(Some(v)) == Some(s.as_str()),
        _ => false,
    })
}

/// `JSON_ARRAY_CONTAINS(json, value)`: whether the JSON array holds the value, read up to
/// the first match; false when it is no array or is not valid JSON up to a match.
fn json_array_contains(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(json) = text(args.first()) else {
        return Err("JSON_ARRAY_CONTAINS of a null string".into());
    };
    let v = args.get(1).cloned().unwrap_or(ScalarValue::Null);
    let found = tree::array_any(json, |node| same(node, &v)).unwrap_or(false);
    Ok(ScalarValue::Boolean(Some(found)))
}

/// `JSON_ARRAY_LENGTH(json)`: the length of a JSON array; null for anything else.
fn json_array_length(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(json) = text(args.first()) else {
        return Ok(ScalarValue::Int32(None));
    };
    Ok(ScalarValue::Int32(match tree::parse(json)? {
        Some(Node::Array(items)) => Some(i32::try_from(items.len()).map_err(|e| e.to_string())?),
        _ => None,
    }))
}

/// `JSON_CONCAT(json...)`: objects merged (later members win), else everything as arrays
/// (a value that is no array as a one-element array) concatenated; null when an argument
/// is null or holds no JSON.
fn json_concat(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let mut nodes = Vec::with_capacity(args.len());
    for a in args {
        let Some(json) = text(Some(a)) else {
            return Ok(ScalarValue::Utf8(None));
        };
        match tree::parse(json)? {
            Some(n) => nodes.push(n),
            None => return Ok(ScalarValue::Utf8(None)),
        }
    }
    let all_objects = nodes.iter().all(|n| matches!(n, Node::Object(_)));
    let mut it = nodes.into_iter();
    let mut result = it.next().ok_or("JSON_CONCAT takes arguments")?;
    for next in it {
        result = match (result, next) {
            (Node::Object(mut members), Node::Object(more)) if all_objects => {
                for (k, v) in more {
                    match members.iter_mut().find(|(old, _)| *old == k) {
                        Some(found) => found.1 = v,
                        None => members.push((k, v)),
                    }
                }
                Node::Object(members)
            }
            (acc, next) => {
                let as_array = |n: Node| match n {
                    Node::Array(items) => items,
                    other => vec![other],
                };
                let mut items = as_array(acc);
                items.extend(as_array(next));
                Node::Array(items)
            }
        };
    }
    // (Jackson refuses to write a plain BigDecimal whose scale is beyond 9999)
    if result.has_decimal_scale_beyond(9999) {
        return Err("a decimal too large to write plainly".into());
    }
    Ok(ScalarValue::Utf8(Some(result.text(true))))
}

/// `JSON_ITEMS(json)`: the JSON text of each element of a JSON array; null (failing) for
/// anything else.
fn json_items(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(json) = text(args.first()) else {
        return Ok(strings_null());
    };
    let Some(Node::Array(items)) = tree::parse(json)? else {
        return Err(format!("Invalid JSON format:{json}"));
    };
    let items: Vec<ScalarValue> = items
        .iter()
        .map(|i| ScalarValue::Utf8(Some(i.text(false))))
        .collect();
    value::list(&items, &SqlType::String)
}

/// `JSON_KEYS(json)`: the names of a JSON object's members; null for anything else.
fn json_keys(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(json) = text(args.first()) else {
        return Ok(strings_null());
    };
    let Some(Node::Object(members)) = tree::parse(json)? else {
        return Ok(strings_null());
    };
    let keys: Vec<ScalarValue> = members
        .into_iter()
        .map(|(k, _)| ScalarValue::Utf8(Some(k)))
        .collect();
    value::list(&keys, &SqlType::String)
}

/// `JSON_RECORDS(json)`: a JSON object's members, a string as itself, anything else as
/// JSON text; null for anything else.
fn json_records(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(json) = text(args.first()) else {
        return Ok(strings_map_null());
    };
    let Some(Node::Object(members)) = tree::parse(json)? else {
        return Ok(strings_map_null());
    };
    let entries: Vec<(ScalarValue, ScalarValue)> = members
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Node::Text(s) => s,
                other => other.text(false),
            };
            (ScalarValue::Utf8(Some(k)), ScalarValue::Utf8(Some(v)))
        })
        .collect();
    value::map(&entries, &SqlType::String, &SqlType::String)
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    fn null() -> ScalarValue {
        ScalarValue::Utf8(None)
    }

    #[test]
    fn paths_tokenize_as_ksqldb_does() {
        assert_eq!(path_steps("$.a.@type[0]").unwrap(), vec!["a", "@type", "0"]);
        assert_eq!(path_steps(r#"$["a.b\"c"]"#).unwrap(), vec!["a.b\"c"]);
        assert_eq!(path_steps("$").unwrap(), Vec::<String>::new());
        for bad in ["", "a", "$.", "$[-1]", "$[0", "$a", r#"$["a]"#, "$[@a]"] {
            assert!(path_steps(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extract_json_field_follows_the_path() {
        let x = |j: &str, p: &str| extract_json_field(&[s(j), s(p)]);
        let doc = r#"{"name": "cdd", "version": "2", "@type": "VAL"}}"#;
        assert_eq!(x(doc, "$.name").unwrap(), s("cdd"));
        assert_eq!(x(doc, "$.@type").unwrap(), s("VAL"));
        assert!(x(doc, "$.missing").unwrap().is_null());
        let arrays = r#"{"array": [1.23450, {"a": null}]}"#;
        assert_eq!(x(arrays, "$.array[0]").unwrap(), s("1.23450"));
        assert_eq!(x(arrays, "$.array[1]").unwrap(), s(r#"{"a":null}"#));
        assert_eq!(x(arrays, "$.array[1].a").unwrap(), s("null"));
        assert!(x(arrays, "$.array[2]").unwrap().is_null());
        assert!(x(arrays, "$.array.a").unwrap().is_null());
        assert!(x(arrays, "$.array[-1]").is_err());
        assert!(x("{oops", "$.a").is_err());
        assert_eq!(x("", "$").unwrap(), s(""));
    }

    #[test]
    fn validity_length_keys_and_records() {
        let valid = |v: &str| is_json_string(&[s(v)]).unwrap();
        let yes = ScalarValue::Boolean(Some(true));
        let no = ScalarValue::Boolean(Some(false));
        assert_eq!(valid("1"), yes);
        assert_eq!(valid("\"abc\""), yes);
        assert_eq!(valid("abc"), no);
        assert_eq!(valid(""), no);
        assert_eq!(is_json_string(&[null()]).unwrap(), no);
        let len = |v: &str| json_array_length(&[s(v)]);
        assert_eq!(len(r#"["a", ["b"]]"#).unwrap(), ScalarValue::Int32(Some(2)));
        assert!(len("{}").unwrap().is_null());
        assert!(len("").unwrap().is_null());
        assert!(len("[").is_err());
        let keys = json_keys(&[s(r#"{"Red": 3, "Green": 5}"#)]).unwrap();
        assert_eq!(value::list_items(&keys), Some(vec![s("Red"), s("Green")]));
        assert!(json_keys(&[s("[1]")]).unwrap().is_null());
        let records = json_records(&[s(r#"{"Red": 3, "White": "Seven", "x": [1]}"#)]).unwrap();
        assert_eq!(
            value::map_entries(&records),
            Some(vec![
                (s("Red"), s("3")),
                (s("White"), s("Seven")),
                (s("x"), s("[1]"))
            ])
        );
    }

    #[test]
    fn array_contains_compares_as_ksqldb_does() {
        let has = |j: &str, v: ScalarValue| json_array_contains(&[s(j), v]).unwrap();
        let yes = ScalarValue::Boolean(Some(true));
        let no = ScalarValue::Boolean(Some(false));
        assert_eq!(has(r#"["Pink", "Yellow"]"#, s("Pink")), yes);
        assert_eq!(has(r#"["Red", "Green"]"#, s("Pink")), no);
        assert_eq!(has(r#"[1, null]"#, ScalarValue::Int32(None)), yes);
        assert_eq!(has("[2, 5]", ScalarValue::Int32(Some(5))), yes);
        assert_eq!(has("[5]", ScalarValue::Int64(Some(5))), yes);
        assert_eq!(has("[5.0]", ScalarValue::Int32(Some(5))), no);
        assert_eq!(has("[5.0]", ScalarValue::Float64(Some(5.0))), yes);
        assert_eq!(has("[5]", ScalarValue::Float64(Some(5.0))), no);
        assert_eq!(has("[false]", ScalarValue::Boolean(Some(false))), yes);
        // an integer too big for the value's type stops the search
        assert_eq!(has("[5000000000, 1]", ScalarValue::Int32(Some(1))), no);
        assert_eq!(has("", s("a")), no);
        assert!(json_array_contains(&[null(), s("a")]).is_err());
    }

    #[test]
    fn concat_merges_objects_or_concatenates_arrays() {
        let cat = |v: &[&str]| json_concat(&v.iter().map(|j| s(j)).collect::<Vec<_>>()).unwrap();
        assert_eq!(cat(&[r#"{"a": 1}"#, r#"{"b": 2}"#]), s(r#"{"a":1,"b":2}"#));
        assert_eq!(
            cat(&[r#"{"a": {"5": 6}}"#, r#"{"a": {"3": 4}}"#]),
            s(r#"{"a":{"3":4}}"#)
        );
        assert_eq!(
            cat(&["[1, 2]", r#"{"a": 1}"#, "4"]),
            s(r#"[1,2,{"a":1},4]"#)
        );
        assert_eq!(cat(&["null", "null"]), s("[null,null]"));
        assert_eq!(
            cat(&["[1, [2]]", "[[[3]], [[[4]]]]"]),
            s("[1,[2],[[3]],[[[4]]]]")
        );
        assert_eq!(cat(&["1e2", "[]"]), s("[100]"));
        assert_eq!(cat(&["1"]), s("1"));
        assert!(cat(&["1", ""]).is_null());
        assert!(json_concat(&[s("[1]"), null()]).unwrap().is_null());
        assert!(json_concat(&[s("[1]"), s("[")]).is_err());
    }

    #[test]
    fn items_are_json_text() {
        let items = json_items(&[s(r#"[{"type": "A", "n": 1.50}, "x", null]"#)]).unwrap();
        assert_eq!(
            value::list_items(&items),
            Some(vec![s(r#"{"type":"A","n":1.50}"#), s("\"x\""), s("null")])
        );
        let empty = json_items(&[s("[]")]).unwrap();
        assert_eq!(value::list_items(&empty), Some(vec![]));
        assert!(json_items(&[s("{}")]).is_err());
        assert!(json_items(&[s("")]).is_err());
    }
}
