//! ksqlDB's array and map functions, planned (argument and result types) and computed row
//! by row.

use std::cmp::Ordering;

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;

use super::rowfn::{row_udf, RowFn};
use super::{refused, type_list};
use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value;

/// The names of the functions planned here.
pub const NAMES: &[&str] = &[
    "ARRAY_CONCAT",
    "ARRAY_CONTAINS",
    "ARRAY_DISTINCT",
    "ARRAY_EXCEPT",
    "ARRAY_INTERSECT",
    "ARRAY_JOIN",
    "ARRAY_LENGTH",
    "ARRAY_MAX",
    "ARRAY_MIN",
    "ARRAY_REMOVE",
    "ARRAY_SORT",
    "ARRAY_UNION",
    "AS_MAP",
    "ENTRIES",
    "GENERATE_SERIES",
    "MAP_KEYS",
    "MAP_UNION",
    "MAP_VALUES",
    "SLICE",
];

/// Plans `name(args)`, one of [`NAMES`].
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    let array = |t: &SqlType| match t {
        SqlType::Array(item) => Some((**item).clone()),
        _ => None,
    };
    let first = args.first().and_then(|a| array(&a.ty));
    let call = |n: &'static str, f: RowFn, ret: SqlType, args: Vec<Typed>| {
        let t = udf_call(p, row_udf(n, ret.arrow(), f), args)?;
        Ok(Typed {
            expr: t.expr,
            ty: ret,
        })
    };
    // an argument of the array's element type (numbers widened to it)
    let element = |a: Typed, item: &SqlType| -> Result<Typed, PlanError> {
        // (a number only widens to the elements' type: 1.5 is never an INT element)
        let widens = a.ty.is_numeric()
            && item.is_numeric()
            && crate::plan::expr::common_type(item, &a.ty) == *item;
        if a.ty == *item || crate::plan::expr::is_null_literal(&a.expr) || widens {
            p.cast(a, item)
        } else {
            Err(PlanError::Invalid(format!(
                "Function '{}' does not accept parameters ({}).",
                name.to_lowercase(),
                type_list(&[a])
            )))
        }
    };
    match (name, args.len(), first) {
        ("ARRAY_LENGTH", 1, Some(_)) => call("ARRAY_LENGTH", array_length, SqlType::Int, args),
        ("ARRAY_DISTINCT", 1, Some(item)) => call(
            "ARRAY_DISTINCT",
            array_distinct,
            SqlType::Array(Box::new(item)),
            args,
        ),
        ("ARRAY_MAX", 1, Some(item)) => call("ARRAY_MAX", array_max, item, args),
        ("ARRAY_MIN", 1, Some(item)) => call("ARRAY_MIN", array_min, item, args),
        ("ARRAY_SORT", 1 | 2, Some(item))
            if args.get(1).is_none_or(|d| d.ty == SqlType::String) =>
        {
            call(
                "ARRAY_SORT",
                array_sort,
                SqlType::Array(Box::new(item)),
                args,
            )
        }
        ("ARRAY_JOIN", 1 | 2, Some(_)) => {
            let mut args = args;
            if let Some(d) = args.get(1).cloned() {
                args[1] = p.cast(d, &SqlType::String)?;
            }
            call("ARRAY_JOIN", array_join, SqlType::String, args)
        }
        ("ARRAY_CONTAINS" | "ARRAY_REMOVE", 2, Some(item)) => {
            let mut args = args;
            let v = args.pop().ok_or_else(|| refused(name, &[]))?;
            args.push(element(v, &item)?);
            if name == "ARRAY_CONTAINS" {
                call("ARRAY_CONTAINS", array_contains, SqlType::Boolean, args)
            } else {
                call(
                    "ARRAY_REMOVE",
                    array_remove,
                    SqlType::Array(Box::new(item)),
                    args,
                )
            }
        }
        ("ARRAY_EXCEPT" | "ARRAY_INTERSECT" | "ARRAY_UNION" | "ARRAY_CONCAT", 2, Some(item))
            if args[1].ty == args[0].ty || crate::plan::expr::is_null_literal(&args[1].expr) =>
        {
            let ty = args[0].ty.clone();
            let mut args = args;
            args[1] = p.cast(args[1].clone(), &ty)?;
            let (n, f): (&'static str, RowFn) = match name {
                "ARRAY_EXCEPT" => ("ARRAY_EXCEPT", array_except),
                "ARRAY_INTERSECT" => ("ARRAY_INTERSECT", array_intersect),
                "ARRAY_UNION" => ("ARRAY_UNION", array_union),
                _ => ("ARRAY_CONCAT", array_concat),
            };
            call(n, f, SqlType::Array(Box::new(item)), args)
        }
        ("SLICE", 3, Some(item)) => {
            let mut args = args;
            for i in 1..3 {
                if args[i].ty != SqlType::Int && !crate::plan::expr::is_null_literal(&args[i].expr)
                {
                    return Err(refused(name, &args));
                }
                args[i] = p.cast(args[i].clone(), &SqlType::Int)?;
            }
            call("SLICE", slice, SqlType::Array(Box::new(item)), args)
        }
        ("AS_MAP", 2, Some(SqlType::String)) => {
            let Some(item) = array(&args[1].ty) else {
                return Err(refused(name, &args));
            };
            call(
                "AS_MAP",
                as_map,
                SqlType::Map(Box::new(SqlType::String), Box::new(item)),
                args,
            )
        }
        ("GENERATE_SERIES", 2 | 3, None)
            if args
                .iter()
                .all(|a| matches!(a.ty, SqlType::Int | SqlType::Bigint)) =>
        {
            let ty = if args.iter().any(|a| a.ty == SqlType::Bigint) {
                SqlType::Bigint
            } else {
                SqlType::Int
            };
            let args = args
                .into_iter()
                .map(|a| p.cast(a, &SqlType::Bigint))
                .collect::<Result<Vec<_>, _>>()?;
            let f: RowFn = if ty == SqlType::Int {
                generate_int_series
            } else {
                generate_bigint_series
            };
            call("GENERATE_SERIES", f, SqlType::Array(Box::new(ty)), args)
        }
        ("MAP_KEYS" | "MAP_VALUES", 1, None) => {
            let SqlType::Map(k, v) = &args[0].ty else {
                return Err(refused(name, &args));
            };
            if name == "MAP_KEYS" {
                call("MAP_KEYS", map_keys, SqlType::Array(k.clone()), args)
            } else {
                call("MAP_VALUES", map_values, SqlType::Array(v.clone()), args)
            }
        }
        ("MAP_UNION", 2, None) if matches!(args[0].ty, SqlType::Map(..)) => {
            let ty = args[0].ty.clone();
            let mut args = args;
            args[1] = if args[1].ty == ty || crate::plan::expr::is_null_literal(&args[1].expr) {
                p.cast(args[1].clone(), &ty)?
            } else {
                return Err(refused(name, &args));
            };
            call("MAP_UNION", map_union, ty, args)
        }
        ("ENTRIES", 2, None) if args[1].ty == SqlType::Boolean => {
            let SqlType::Map(k, v) = &args[0].ty else {
                return Err(refused(name, &args));
            };
            if **k != SqlType::String {
                return Err(refused(name, &args));
            }
            let ty = SqlType::Array(Box::new(entry_type(v)));
            call("ENTRIES", entries, ty, args)
        }
        _ => Err(refused(name, &args)),
    }
}

/// The elements of an array argument and their type (`None`: a null array).
fn items(v: Option<&ScalarValue>) -> Result<(Option<Vec<ScalarValue>>, SqlType), String> {
    let v = v.ok_or("missing argument")?;
    let ty = match v.data_type() {
        DataType::List(f) | DataType::LargeList(f) => SqlType::from_arrow(f.data_type()),
        _ => None,
    }
    .ok_or_else(|| format!("not an array: {v}"))?;
    Ok((value::list_items(v), ty))
}

/// Orders values of one type, nulls last.
fn order(a: &ScalarValue, b: &ScalarValue) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

fn distinct(values: Vec<ScalarValue>) -> Vec<ScalarValue> {
    let mut out: Vec<ScalarValue> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `ARRAY_DISTINCT(a)`: the first occurrence of each element.
fn array_distinct(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    match a {
        Some(a) => value::list(&distinct(a), &ty),
        None => Ok(value::null(&SqlType::Array(Box::new(ty)))),
    }
}

fn set_op(
    args: &[ScalarValue],
    f: impl Fn(Vec<ScalarValue>, Vec<ScalarValue>) -> Vec<ScalarValue>,
) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let (b, _) = items(args.get(1))?;
    match a.zip(b) {
        Some((a, b)) => value::list(&f(a, b), &ty),
        None => Ok(value::null(&SqlType::Array(Box::new(ty)))),
    }
}

/// `ARRAY_EXCEPT(a, b)`: the distinct elements of `a` not in `b`.
fn array_except(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    set_op(args, |a, b| {
        distinct(a.into_iter().filter(|x| !b.contains(x)).collect())
    })
}

/// `ARRAY_INTERSECT(a, b)`: the distinct elements of `a` also in `b`.
fn array_intersect(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    set_op(args, |a, b| {
        distinct(a.into_iter().filter(|x| b.contains(x)).collect())
    })
}

/// `ARRAY_UNION(a, b)`: the distinct elements of both.
fn array_union(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    set_op(args, |a, b| distinct(a.into_iter().chain(b).collect()))
}

/// `ARRAY_CONCAT(a, b)`: both in order (a null one counts as empty; null when both are).
fn array_concat(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let (b, _) = items(args.get(1))?;
    match (a, b) {
        (None, None) => Ok(value::null(&SqlType::Array(Box::new(ty)))),
        (a, b) => {
            let all: Vec<ScalarValue> = a
                .into_iter()
                .flatten()
                .chain(b.into_iter().flatten())
                .collect();
            value::list(&all, &ty)
        }
    }
}

fn extreme(args: &[ScalarValue], want: Ordering) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let best = a
        .into_iter()
        .flatten()
        .filter(|v| !v.is_null())
        .reduce(|best, v| {
            if v.partial_cmp(&best) == Some(want) {
                v
            } else {
                best
            }
        });
    Ok(best.unwrap_or_else(|| value::null(&ty)))
}

/// `ARRAY_MAX(a)`: the greatest non-null element.
fn array_max(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    extreme(args, Ordering::Greater)
}

/// `ARRAY_MIN(a)`: the least non-null element.
fn array_min(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    extreme(args, Ordering::Less)
}

/// `ARRAY_SORT(a [, 'ASC'|'DESC'])`: sorted, nulls last.
fn array_sort(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let descending = match args.get(1) {
        None => false,
        Some(ScalarValue::Utf8(Some(d))) if d.eq_ignore_ascii_case("asc") => false,
        Some(ScalarValue::Utf8(Some(d))) if d.eq_ignore_ascii_case("desc") => true,
        Some(other) => return Err(format!("sort direction must be ASC or DESC, not {other}")),
    };
    let Some(mut a) = a else {
        return Ok(value::null(&SqlType::Array(Box::new(ty))));
    };
    a.sort_by(|x, y| match (x.is_null(), y.is_null(), descending) {
        (false, false, true) => order(y, x),
        _ => order(x, y),
    });
    value::list(&a, &ty)
}

/// `ARRAY_JOIN(a [, delimiter])`: the elements' text joined (`,` by default; a null
/// delimiter is empty).
fn array_join(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, _) = items(args.first())?;
    let delimiter = match args.get(1) {
        None => ",".to_string(),
        Some(ScalarValue::Utf8(Some(d))) => d.clone(),
        Some(_) => String::new(),
    };
    Ok(ScalarValue::Utf8(a.map(|a| {
        a.iter()
            .map(super::cast::java_text)
            .collect::<Vec<_>>()
            .join(&delimiter)
    })))
}

/// `ARRAY_CONTAINS(a, v)`: whether `a` holds `v` (false for a null array).
fn array_contains(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, _) = items(args.first())?;
    let v = args.get(1).ok_or("missing value")?;
    Ok(ScalarValue::Boolean(Some(a.is_some_and(|a| {
        a.iter().any(|x| x == v || (x.is_null() && v.is_null()))
    }))))
}

/// `ARRAY_REMOVE(a, v)`: `a` without the elements equal to `v`.
fn array_remove(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let v = args.get(1).ok_or("missing value")?;
    match a {
        Some(a) => {
            let kept: Vec<ScalarValue> = a
                .into_iter()
                .filter(|x| !(x == v || (x.is_null() && v.is_null())))
                .collect();
            value::list(&kept, &ty)
        }
        None => Ok(value::null(&SqlType::Array(Box::new(ty)))),
    }
}

/// `SLICE(a, from, to)`: elements `from` to `to` (1-based, inclusive); null out of range.
fn slice(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (a, ty) = items(args.first())?;
    let Some(a) = a else {
        return Ok(value::null(&SqlType::Array(Box::new(ty))));
    };
    let bound = |i: usize, default: i64| match args.get(i) {
        Some(ScalarValue::Int32(Some(v))) => i64::from(*v),
        _ => default,
    };
    let from = bound(1, 1) - 1;
    let to = bound(2, a.len() as i64);
    if from < 0 || to < from || to > a.len() as i64 {
        return Err(format!("slice {from}..{to} out of range"));
    }
    value::list(&a[from as usize..to as usize], &ty)
}

/// The most values `GENERATE_SERIES` makes (a larger series is an error, not an exhausted
/// memory).
const SERIES_LIMIT: i128 = 10_000_000;

fn series(args: &[ScalarValue]) -> Result<Vec<i64>, String> {
    let n = |i: usize| match args.get(i) {
        Some(ScalarValue::Int64(Some(v))) => Some(*v),
        _ => None,
    };
    let (Some(start), Some(end)) = (n(0), n(1)) else {
        return Err("GENERATE_SERIES of null".into());
    };
    let step = n(2).unwrap_or(if end >= start { 1 } else { -1 });
    if step == 0 {
        return Err("GENERATE_SERIES step cannot be zero".into());
    }
    if (end > start && step < 0) || (end < start && step > 0) {
        return Err("GENERATE_SERIES step has wrong sign".into());
    }
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > SERIES_LIMIT {
        return Err(format!(
            "GENERATE_SERIES would make {count} values, more than {SERIES_LIMIT}"
        ));
    }
    let mut out = Vec::new();
    let mut v = start;
    while (step > 0 && v <= end) || (step < 0 && v >= end) {
        out.push(v);
        v = match v.checked_add(step) {
            Some(v) => v,
            None => break,
        };
    }
    Ok(out)
}

/// The series of `args` as an array of `ty` (the values are BIGINTs, narrowed to INT there).
fn series_of(args: &[ScalarValue], ty: &SqlType) -> Result<ScalarValue, String> {
    let s: Vec<ScalarValue> = series(args)?
        .into_iter()
        .map(|v| ScalarValue::Int64(Some(v)))
        .collect();
    value::list(&s, ty)
}

/// `GENERATE_SERIES(start, end [, step])` of INT.
fn generate_int_series(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    series_of(args, &SqlType::Int)
}

/// `GENERATE_SERIES(start, end [, step])` of BIGINT.
fn generate_bigint_series(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    series_of(args, &SqlType::Bigint)
}

/// The key and value types of a map argument.
fn map_types(v: &ScalarValue) -> Result<(SqlType, SqlType), String> {
    match SqlType::from_arrow(&v.data_type()) {
        Some(SqlType::Map(k, v)) => Ok((*k, *v)),
        _ => Err(format!("not a map: {v}")),
    }
}

/// `MAP_KEYS(m)`.
fn map_keys(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let m = args.first().ok_or("missing map")?;
    let (k, _) = map_types(m)?;
    match value::map_entries(m) {
        Some(e) => value::list(&e.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), &k),
        None => Ok(value::null(&SqlType::Array(Box::new(k)))),
    }
}

/// `MAP_VALUES(m)`.
fn map_values(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let m = args.first().ok_or("missing map")?;
    let (_, v) = map_types(m)?;
    match value::map_entries(m) {
        Some(e) => value::list(&e.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), &v),
        None => Ok(value::null(&SqlType::Array(Box::new(v)))),
    }
}

/// `MAP_UNION(a, b)`: the entries of both, `b`'s winning (null when both are null).
fn map_union(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let a = args.first().ok_or("missing map")?;
    let (kt, vt) = map_types(a)?;
    let (x, y) = (
        value::map_entries(a),
        args.get(1).and_then(value::map_entries),
    );
    if x.is_none() && y.is_none() {
        return Ok(value::null(&SqlType::Map(Box::new(kt), Box::new(vt))));
    }
    let mut out: Vec<(ScalarValue, ScalarValue)> = x.unwrap_or_default();
    for (k, v) in y.unwrap_or_default() {
        match out.iter_mut().find(|(o, _)| *o == k) {
            Some(e) => e.1 = v,
            None => out.push((k, v)),
        }
    }
    value::map(&out, &kt, &vt)
}

/// The struct `ENTRIES` makes of one entry.
fn entry_type(v: &SqlType) -> SqlType {
    SqlType::Struct(vec![("K".into(), SqlType::String), ("V".into(), v.clone())])
}

/// `ENTRIES(m, sorted)`: the entries as `STRUCT<K, V>`s, sorted by key when asked.
fn entries(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let m = args.first().ok_or("missing map")?;
    let (_, vt) = map_types(m)?;
    let ty = entry_type(&vt);
    let Some(mut e) = value::map_entries(m) else {
        return Ok(value::null(&SqlType::Array(Box::new(ty))));
    };
    if matches!(args.get(1), Some(ScalarValue::Boolean(Some(true)))) {
        e.sort_by(|a, b| order(&a.0, &b.0));
    }
    let SqlType::Struct(fields) = &ty else {
        return Err("entry type".into());
    };
    let structs = e
        .into_iter()
        .map(|(k, v)| value::strukt(fields, &[k, v]))
        .collect::<Result<Vec<_>, _>>()?;
    value::list(&structs, &ty)
}

/// `ARRAY_LENGTH(a)`: the number of elements (null for a null array).
fn array_length(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let items = args.first().and_then(value::list_items);
    Ok(ScalarValue::Int32(
        items.map(|i| i32::try_from(i.len()).unwrap_or(i32::MAX)),
    ))
}

/// `AS_MAP(keys, values)`: the map of each key to the value at its position (null past the
/// end of the values); a later duplicate key wins. Null when either array is.
fn as_map(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(k), Some(v)) = (args.first(), args.get(1)) else {
        return Err("AS_MAP takes two arrays".into());
    };
    let value_ty = match v.data_type() {
        arrow::datatypes::DataType::List(f) => SqlType::from_arrow(f.data_type()),
        _ => None,
    }
    .ok_or("AS_MAP's values are not an array")?;
    let (Some(keys), Some(values)) = (value::list_items(k), value::list_items(v)) else {
        return Ok(value::null(&SqlType::Map(
            Box::new(SqlType::String),
            Box::new(value_ty),
        )));
    };
    let mut entries: Vec<(ScalarValue, ScalarValue)> = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        if key.is_null() {
            continue;
        }
        let val = values
            .get(i)
            .cloned()
            .unwrap_or_else(|| value::null(&value_ty));
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = val,
            None => entries.push((key, val)),
        }
    }
    value::map(&entries, &SqlType::String, &value_ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> ScalarValue {
        let items: Vec<ScalarValue> = v
            .iter()
            .map(|s| ScalarValue::Utf8(Some(s.to_string())))
            .collect();
        value::list(&items, &SqlType::String).unwrap()
    }

    #[test]
    fn as_map_pairs_by_position() {
        let ints = value::list(
            &[ScalarValue::Int32(Some(1)), ScalarValue::Int32(Some(2))],
            &SqlType::Int,
        )
        .unwrap();
        let m = as_map(&[strings(&["a", "b", "a", "c"]), ints]).unwrap();
        assert_eq!(
            value::map_entries(&m).unwrap(),
            vec![
                (
                    ScalarValue::Utf8(Some("a".into())),
                    ScalarValue::Int32(None)
                ),
                (
                    ScalarValue::Utf8(Some("b".into())),
                    ScalarValue::Int32(Some(2))
                ),
                (
                    ScalarValue::Utf8(Some("c".into())),
                    ScalarValue::Int32(None)
                ),
            ]
        );
        assert_eq!(
            array_length(&[strings(&["x", "y"])]).unwrap(),
            ScalarValue::Int32(Some(2))
        );
    }
}
