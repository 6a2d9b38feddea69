//! ksqlDB's aggregate functions (UDAFs). Each call keeps a state per group: a few typed values
//! that every row's arguments change (and, for the functions a table can use, that a row taken
//! out of the group changes back), and that give the call's result. States are rows of SQL
//! values, so a store and its changelog keep them in a row format like any other row.

use std::cmp::Ordering;

use datafusion_common::ScalarValue;

use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value;

/// HISTOGRAM counts at most this many distinct values (ksqlDB's limit).
const HISTOGRAM_LIMIT: usize = 1000;

/// The aggregate functions' names.
pub const NAMES: &[&str] = &[
    "ATTR",
    "AVG",
    "COLLECT_LIST",
    "COLLECT_SET",
    "CORRELATION",
    "COUNT",
    "COUNT_DISTINCT",
    "EARLIEST_BY_OFFSET",
    "HISTOGRAM",
    "LATEST_BY_OFFSET",
    "MAX",
    "MIN",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "SUM",
    "SUM_LIST",
    "TOPK",
    "TOPKDISTINCT",
];

/// Whether `name` (upper case) is an aggregate function's.
pub fn is_aggregate(name: &str) -> bool {
    NAMES.contains(&name)
}

/// One aggregate function, resolved for its argument types.
#[derive(Debug, Clone, PartialEq)]
pub enum Udaf {
    /// `COUNT(x)`: the non-null values (`COUNT(*)` counts `ROWTIME`, never null).
    Count,
    /// `SUM(x)` in `x`'s type (INT and BIGINT wrap around as Java's do).
    Sum(SqlType),
    /// `SUM_LIST(array)`: the sum of every element of every array, in the elements' type.
    SumList(SqlType),
    /// `AVG(x)` as a DOUBLE (0.0 for no value).
    Avg(SqlType),
    /// `MIN(x)`.
    Min(SqlType),
    /// `MAX(x)`.
    Max(SqlType),
    /// `COLLECT_LIST(x)`: every value, nulls too, up to `limit`.
    CollectList {
        /// The values' type.
        ty: SqlType,
        /// At most this many values.
        limit: usize,
    },
    /// `COLLECT_SET(x)`: the distinct values in their first order, up to `limit`.
    CollectSet {
        /// The values' type.
        ty: SqlType,
        /// At most this many values.
        limit: usize,
    },
    /// `EARLIEST_BY_OFFSET(x [, n] [, ignoreNulls])`.
    Earliest(ByOffset),
    /// `LATEST_BY_OFFSET(x [, n] [, ignoreNulls])`.
    Latest(ByOffset),
    /// `HISTOGRAM(s)`: each string's count.
    Histogram,
    /// `TOPK(x, [others...,] k)`: the k greatest values (with their other columns).
    TopK {
        /// The sorted values' type.
        ty: SqlType,
        /// The other columns' types (none: the result is an array of values).
        others: Vec<SqlType>,
        /// How many.
        k: usize,
    },
    /// `TOPKDISTINCT(x, k)`: the k greatest distinct values.
    TopKDistinct {
        /// The values' type.
        ty: SqlType,
        /// How many.
        k: usize,
    },
    /// `COUNT_DISTINCT(x)`: how many distinct non-null values.
    CountDistinct(SqlType),
    /// `STDDEV_SAMPLE(x)` (the sample standard deviation) or `STDDEV_SAMP(x)` (which in
    /// ksqlDB gives the sample variance).
    Stddev {
        /// The square root is taken (`STDDEV_SAMPLE`).
        root: bool,
    },
    /// `CORRELATION(x, y)`: Pearson's coefficient (NaN below two pairs).
    Correlation,
    /// `ATTR(x)`: the value, when every row of the group has the same one; else null.
    Attr(SqlType),
}

/// The settings of `EARLIEST_BY_OFFSET` and `LATEST_BY_OFFSET`.
#[derive(Debug, Clone, PartialEq)]
pub struct ByOffset {
    /// The values' type.
    pub ty: SqlType,
    /// `Some(n)`: an array of n values instead of one value.
    pub n: Option<usize>,
    /// Null values are skipped.
    pub ignore_nulls: bool,
}

/// An argument of an aggregate call: its type, and its value when it is a literal.
pub struct Arg {
    /// The SQL type.
    pub ty: SqlType,
    /// The literal's value.
    pub literal: Option<ScalarValue>,
    /// The expression as written (for messages).
    pub text: String,
}

/// Limits set by session properties.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `ksql.functions.collect_list.limit`.
    pub collect_list: usize,
    /// `ksql.functions.collect_set.limit`.
    pub collect_set: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            collect_list: usize::MAX,
            collect_set: usize::MAX,
        }
    }
}

fn no_such_signature(name: &str, args: &[Arg]) -> PlanError {
    PlanError::Invalid(format!(
        "Function '{name}' does not accept parameters ({}).",
        args.iter()
            .map(|a| a.ty.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The literal integer argument `i` (1-based in messages).
fn literal_int(name: &str, args: &[Arg], i: usize) -> Result<i64, PlanError> {
    let a = &args[i];
    match &a.literal {
        Some(ScalarValue::Int32(Some(v))) => Ok(i64::from(*v)),
        Some(ScalarValue::Int64(Some(v))) => Ok(*v),
        Some(_) => Err(no_such_signature(name, args)),
        None => Err(not_literal(name, i, a)),
    }
}

fn literal_bool(name: &str, args: &[Arg], i: usize) -> Result<bool, PlanError> {
    let a = &args[i];
    match &a.literal {
        Some(ScalarValue::Boolean(Some(v))) => Ok(*v),
        Some(_) => Err(no_such_signature(name, args)),
        None => Err(not_literal(name, i, a)),
    }
}

fn not_literal(name: &str, i: usize, a: &Arg) -> PlanError {
    PlanError::Invalid(format!(
        "Parameter {} passed to function {name} must be a literal constant, but was expression: '{}'",
        i + 1,
        a.text
    ))
}

fn comparable(t: &SqlType) -> bool {
    matches!(
        t,
        SqlType::Int
            | SqlType::Bigint
            | SqlType::Double
            | SqlType::Decimal { .. }
            | SqlType::Date
            | SqlType::Time
            | SqlType::Timestamp
            | SqlType::String
            | SqlType::Bytes
    )
}

impl Udaf {
    /// The function `name` for `args`, and how many leading arguments are evaluated per row
    /// (the others are literal settings).
    pub fn resolve(name: &str, args: &[Arg], limits: Limits) -> Result<(Udaf, usize), PlanError> {
        let ty = |i: usize| args[i].ty.clone();
        let numeric = |t: &SqlType| matches!(t, SqlType::Int | SqlType::Bigint | SqlType::Double);
        let bad = || no_such_signature(name, args);
        let one = |ok: bool| {
            if ok && args.len() == 1 {
                Ok(())
            } else {
                Err(bad())
            }
        };
        let resolved = match name {
            "COUNT" => {
                one(true)?;
                (Udaf::Count, 1)
            }
            "SUM" => {
                one(numeric(&ty(0)) || matches!(ty(0), SqlType::Decimal { .. }))?;
                (Udaf::Sum(ty(0)), 1)
            }
            "SUM_LIST" => match ty(0) {
                SqlType::Array(item) if numeric(&item) && args.len() == 1 => {
                    (Udaf::SumList(*item), 1)
                }
                _ => return Err(bad()),
            },
            "AVG" => {
                one(numeric(&ty(0)))?;
                (Udaf::Avg(ty(0)), 1)
            }
            "MIN" | "MAX" => {
                one(comparable(&ty(0)))?;
                if name == "MIN" {
                    (Udaf::Min(ty(0)), 1)
                } else {
                    (Udaf::Max(ty(0)), 1)
                }
            }
            "COLLECT_LIST" => {
                one(true)?;
                let limit = limits.collect_list;
                (Udaf::CollectList { ty: ty(0), limit }, 1)
            }
            "COLLECT_SET" => {
                one(true)?;
                let limit = limits.collect_set;
                (Udaf::CollectSet { ty: ty(0), limit }, 1)
            }
            "EARLIEST_BY_OFFSET" | "LATEST_BY_OFFSET" => {
                let mut settings = ByOffset {
                    ty: ty(0),
                    n: None,
                    ignore_nulls: true,
                };
                match args.len() {
                    1 => {}
                    2 if args[1].ty == SqlType::Boolean => {
                        settings.ignore_nulls = literal_bool(name, args, 1)?;
                    }
                    2 | 3 => {
                        let n = literal_int(name, args, 1)?;
                        if n < 1 {
                            let which = if name == "EARLIEST_BY_OFFSET" {
                                "earliestN"
                            } else {
                                "latestN"
                            };
                            return Err(PlanError::Invalid(format!(
                                "{which} must be 1 or greater"
                            )));
                        }
                        settings.n = Some(n as usize);
                        if args.len() == 3 {
                            settings.ignore_nulls = literal_bool(name, args, 2)?;
                        }
                    }
                    _ => return Err(bad()),
                }
                if name == "EARLIEST_BY_OFFSET" {
                    (Udaf::Earliest(settings), 1)
                } else {
                    (Udaf::Latest(settings), 1)
                }
            }
            "HISTOGRAM" => {
                one(ty(0) == SqlType::String)?;
                (Udaf::Histogram, 1)
            }
            "TOPK" => {
                if args.len() < 2 {
                    return Err(bad());
                }
                let last = args.len() - 1;
                let k = literal_int(name, args, last)?;
                let sorted = ty(0);
                if !matches!(
                    sorted,
                    SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String
                ) || k < 1
                {
                    return Err(bad());
                }
                let others = (1..last).map(ty).collect();
                let k = k as usize;
                (
                    Udaf::TopK {
                        ty: sorted,
                        others,
                        k,
                    },
                    last,
                )
            }
            "TOPKDISTINCT" => {
                if args.len() != 2 || !comparable(&ty(0)) {
                    return Err(bad());
                }
                let k = literal_int(name, args, 1)?;
                if k < 1 {
                    return Err(bad());
                }
                let k = k as usize;
                (Udaf::TopKDistinct { ty: ty(0), k }, 1)
            }
            "COUNT_DISTINCT" => {
                one(true)?;
                (Udaf::CountDistinct(ty(0)), 1)
            }
            "STDDEV_SAMP" | "STDDEV_SAMPLE" => {
                one(numeric(&ty(0)))?;
                (
                    Udaf::Stddev {
                        root: name == "STDDEV_SAMPLE",
                    },
                    1,
                )
            }
            "CORRELATION" => {
                if args.len() != 2 || !numeric(&ty(0)) || !numeric(&ty(1)) {
                    return Err(bad());
                }
                (Udaf::Correlation, 2)
            }
            "ATTR" => {
                one(true)?;
                (Udaf::Attr(ty(0)), 1)
            }
            _ => {
                return Err(PlanError::Invalid(format!(
                    "Can't find any functions with the name '{name}'"
                )))
            }
        };
        Ok(resolved)
    }

    /// The function's name, as ksqlDB lists it in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Udaf::Count => "COUNT",
            Udaf::Sum(_) => "SUM",
            Udaf::SumList(_) => "SUM_LIST",
            Udaf::Avg(_) => "AVG",
            Udaf::Min(_) => "MIN",
            Udaf::Max(_) => "MAX",
            Udaf::CollectList { .. } => "COLLECT_LIST",
            Udaf::CollectSet { .. } => "COLLECT_SET",
            Udaf::Earliest(_) => "EARLIEST_BY_OFFSET",
            Udaf::Latest(_) => "LATEST_BY_OFFSET",
            Udaf::Histogram => "HISTOGRAM",
            Udaf::TopK { .. } => "TOPK",
            Udaf::TopKDistinct { .. } => "TOPKDISTINCT",
            Udaf::CountDistinct(_) => "COUNT_DISTINCT",
            Udaf::Stddev { root: true } => "STDDEV_SAMPLE",
            Udaf::Stddev { root: false } => "STDDEV_SAMP",
            Udaf::Correlation => "CORRELATION",
            Udaf::Attr(_) => "ATTR",
        }
    }

    /// Whether a row can be taken out of the state again: the functions a table's
    /// aggregation can use.
    pub fn undoable(&self) -> bool {
        matches!(
            self,
            Udaf::Count
                | Udaf::Sum(_)
                | Udaf::SumList(_)
                | Udaf::Avg(_)
                | Udaf::CollectList { .. }
                | Udaf::Histogram
                | Udaf::Stddev { .. }
                | Udaf::Correlation
                | Udaf::Attr(_)
        )
    }

    /// The result's type.
    pub fn result_type(&self) -> SqlType {
        match self {
            Udaf::Count | Udaf::CountDistinct(_) => SqlType::Bigint,
            Udaf::Sum(t) | Udaf::SumList(t) | Udaf::Min(t) | Udaf::Max(t) | Udaf::Attr(t) => {
                t.clone()
            }
            Udaf::Avg(_) | Udaf::Stddev { .. } | Udaf::Correlation => SqlType::Double,
            Udaf::CollectList { ty, .. }
            | Udaf::CollectSet { ty, .. }
            | Udaf::TopKDistinct { ty, .. } => SqlType::Array(Box::new(ty.clone())),
            Udaf::Earliest(b) | Udaf::Latest(b) => match b.n {
                Some(_) => SqlType::Array(Box::new(b.ty.clone())),
                None => b.ty.clone(),
            },
            Udaf::Histogram => SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint)),
            Udaf::TopK { ty, others, .. } => SqlType::Array(Box::new(topk_item(ty, others))),
        }
    }

    /// The types of the state's values.
    pub fn state_types(&self) -> Vec<SqlType> {
        let array = |t: &SqlType| SqlType::Array(Box::new(t.clone()));
        match self {
            Udaf::Count => vec![SqlType::Bigint],
            Udaf::CountDistinct(t) => vec![array(t)],
            Udaf::Sum(t) | Udaf::SumList(t) | Udaf::Min(t) | Udaf::Max(t) => vec![t.clone()],
            Udaf::Avg(t) => vec![t.clone(), SqlType::Bigint],
            Udaf::CollectList { ty, .. }
            | Udaf::CollectSet { ty, .. }
            | Udaf::TopKDistinct { ty, .. } => vec![array(ty)],
            Udaf::Earliest(b) => match b.n {
                Some(_) => vec![array(&b.ty)],
                None => vec![SqlType::Boolean, b.ty.clone()],
            },
            Udaf::Latest(b) => match b.n {
                Some(_) => vec![array(&b.ty)],
                None => vec![b.ty.clone()],
            },
            Udaf::Histogram => vec![self.result_type()],
            Udaf::TopK { .. } => vec![self.result_type()],
            Udaf::Stddev { .. } => vec![SqlType::Double, SqlType::Bigint, SqlType::Double],
            Udaf::Correlation => vec![
                SqlType::Double,
                SqlType::Double,
                SqlType::Double,
                SqlType::Double,
                SqlType::Double,
                SqlType::Bigint,
            ],
            Udaf::Attr(t) => vec![array(t), array(&SqlType::Int)],
        }
    }

    /// Whether the state holds more than single primitive values (which a DELIMITED value
    /// cannot hold).
    pub fn structured_state(&self) -> bool {
        // ksqlDB keeps AVG, STDDEV and CORRELATION states as structs
        matches!(self, Udaf::Avg(_) | Udaf::Stddev { .. } | Udaf::Correlation)
            || self
                .state_types()
                .iter()
                .any(|t| matches!(t, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)))
    }

    /// The state of an empty group.
    pub fn init(&self) -> Vec<ScalarValue> {
        let zero = |t: &SqlType| match t {
            SqlType::Int => ScalarValue::Int32(Some(0)),
            SqlType::Bigint => ScalarValue::Int64(Some(0)),
            SqlType::Double => ScalarValue::Float64(Some(0.0)),
            SqlType::Decimal { precision, scale } => {
                ScalarValue::Decimal128(Some(0), *precision, *scale)
            }
            other => value::null(other),
        };
        let empty = |t: &SqlType| {
            value::list(&[], t)
                .unwrap_or_else(|_| value::null(&SqlType::Array(Box::new(t.clone()))))
        };
        match self {
            Udaf::Count => vec![ScalarValue::Int64(Some(0))],
            Udaf::Sum(t) | Udaf::SumList(t) => vec![zero(t)],
            Udaf::Avg(t) => vec![zero(t), ScalarValue::Int64(Some(0))],
            Udaf::Min(t) | Udaf::Max(t) => vec![value::null(t)],
            Udaf::CollectList { ty, .. }
            | Udaf::CollectSet { ty, .. }
            | Udaf::TopKDistinct { ty, .. }
            | Udaf::CountDistinct(ty) => vec![empty(ty)],
            Udaf::Earliest(b) => match b.n {
                Some(_) => vec![empty(&b.ty)],
                None => vec![ScalarValue::Boolean(Some(false)), value::null(&b.ty)],
            },
            Udaf::Latest(b) => match b.n {
                Some(_) => vec![empty(&b.ty)],
                None => vec![value::null(&b.ty)],
            },
            Udaf::Histogram => vec![value::map(&[], &SqlType::String, &SqlType::Bigint)
                .unwrap_or_else(|_| value::null(&self.result_type()))],
            Udaf::TopK { ty, others, .. } => vec![empty(&topk_item(ty, others))],
            Udaf::Stddev { .. } => vec![
                ScalarValue::Float64(Some(0.0)),
                ScalarValue::Int64(Some(0)),
                ScalarValue::Float64(Some(0.0)),
            ],
            Udaf::Correlation => {
                let mut s = vec![ScalarValue::Float64(Some(0.0)); 5];
                s.push(ScalarValue::Int64(Some(0)));
                s
            }
            Udaf::Attr(t) => vec![empty(t), empty(&SqlType::Int)],
        }
    }

    /// Adds a row's arguments to `state`. An error (a DECIMAL sum past its precision) fails
    /// the query, as in ksqlDB.
    pub fn add(&self, state: &mut [ScalarValue], args: &[ScalarValue]) -> Result<(), String> {
        let v = args.first().cloned().unwrap_or(ScalarValue::Null);
        match self {
            Udaf::Count => {
                if !v.is_null() {
                    state[0] = ScalarValue::Int64(Some(int(&state[0]) + 1));
                }
            }
            Udaf::Sum(_) => {
                if !v.is_null() {
                    state[0] = plus(&state[0], &v, false)?;
                }
            }
            Udaf::SumList(_) => {
                for item in items(&v).iter().filter(|i| !i.is_null()) {
                    state[0] = plus(&state[0], item, false)?;
                }
            }
            Udaf::Avg(_) => {
                if !v.is_null() {
                    state[0] = plus(&state[0], &v, false)?;
                    state[1] = ScalarValue::Int64(Some(int(&state[1]) + 1));
                }
            }
            Udaf::Min(_) | Udaf::Max(_) => {
                let better = if matches!(self, Udaf::Min(_)) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                if !v.is_null() && (state[0].is_null() || compare(&v, &state[0]) == better) {
                    state[0] = v;
                }
            }
            Udaf::CollectList { ty, limit } => {
                let mut items = items(&state[0]);
                if items.len() < *limit {
                    items.push(v);
                    state[0] = list(&items, ty);
                }
            }
            Udaf::CollectSet { ty, limit } => {
                let mut items = items(&state[0]);
                if items.len() < *limit && !items.iter().any(|i| same(i, &v)) {
                    items.push(v);
                    state[0] = list(&items, ty);
                }
            }
            Udaf::Earliest(b) => {
                if v.is_null() && b.ignore_nulls {
                    return Ok(());
                }
                match b.n {
                    Some(n) => {
                        let mut items = items(&state[0]);
                        if items.len() < n {
                            items.push(v);
                            state[0] = list(&items, &b.ty);
                        }
                    }
                    None => {
                        if state[0] != ScalarValue::Boolean(Some(true)) {
                            state[0] = ScalarValue::Boolean(Some(true));
                            state[1] = v;
                        }
                    }
                }
            }
            Udaf::Latest(b) => {
                if v.is_null() && b.ignore_nulls {
                    return Ok(());
                }
                match b.n {
                    Some(n) => {
                        let mut items = items(&state[0]);
                        items.push(v);
                        let drop = items.len().saturating_sub(n);
                        state[0] = list(&items[drop..], &b.ty);
                    }
                    None => state[0] = v,
                }
            }
            Udaf::Histogram => {
                if v.is_null() {
                    return Ok(());
                }
                let mut entries = value::map_entries(&state[0]).unwrap_or_default();
                match entries.iter().position(|(k, _)| *k == v) {
                    Some(p) => entries[p].1 = ScalarValue::Int64(Some(int(&entries[p].1) + 1)),
                    None if entries.len() < HISTOGRAM_LIMIT => {
                        entries.push((v, ScalarValue::Int64(Some(1))));
                    }
                    None => {}
                }
                state[0] = histogram(&entries);
            }
            Udaf::TopK { ty, others, k } => {
                if v.is_null() {
                    return Ok(());
                }
                let mut items = items(&state[0]);
                let sort_value = |i: &ScalarValue| -> ScalarValue {
                    if others.is_empty() {
                        i.clone()
                    } else {
                        value::struct_fields(i)
                            .and_then(|f| f.into_iter().next().map(|(_, v)| v))
                            .unwrap_or(ScalarValue::Null)
                    }
                };
                if items.len() >= *k
                    && items
                        .last()
                        .is_some_and(|last| compare(&v, &sort_value(last)) != Ordering::Greater)
                {
                    return Ok(());
                }
                let item = if others.is_empty() {
                    v
                } else {
                    let fields = topk_fields(ty, others);
                    value::strukt(&fields, args).map_err(|e| e.to_string())?
                };
                if items.len() >= *k {
                    items.pop();
                }
                items.push(item);
                // (stable: of equal values, the earlier stays first)
                items.sort_by(|a, b| compare(&sort_value(b), &sort_value(a)));
                state[0] = list(&items, &topk_item(ty, others));
            }
            Udaf::TopKDistinct { ty, k } => {
                if v.is_null() {
                    return Ok(());
                }
                let mut items = items(&state[0]);
                let full = items.len() >= *k;
                if (full
                    && items
                        .last()
                        .is_some_and(|last| compare(&v, last) != Ordering::Greater))
                    || items.iter().any(|i| same(i, &v))
                {
                    return Ok(());
                }
                if full {
                    items.pop();
                }
                items.push(v);
                items.sort_by(|a, b| compare(b, a));
                state[0] = list(&items, ty);
            }
            Udaf::CountDistinct(ty) => {
                let mut items = items(&state[0]);
                if !v.is_null() && !items.iter().any(|i| same(i, &v)) {
                    items.push(v);
                    state[0] = list(&items, ty);
                }
            }
            Udaf::Stddev { .. } => {
                let Some(x) = double(&v) else { return Ok(()) };
                let (sum, n, m2) = (
                    double(&state[0]).unwrap_or(0.0),
                    int(&state[1]),
                    double(&state[2]).unwrap_or(0.0),
                );
                let n_new = n + 1;
                let m2 = if n > 0 {
                    let delta = x * n_new as f64 - (sum + x);
                    m2 + delta * delta / (n_new as f64 * n as f64)
                } else {
                    0.0
                };
                state[0] = ScalarValue::Float64(Some(sum + x));
                state[1] = ScalarValue::Int64(Some(n_new));
                state[2] = ScalarValue::Float64(Some(m2));
            }
            Udaf::Correlation => correlation(state, args, 1.0),
            Udaf::Attr(ty) => {
                let (mut values, mut counts) = (items(&state[0]), items(&state[1]));
                match values.iter().position(|i| same(i, &v)) {
                    Some(p) => counts[p] = ScalarValue::Int32(Some(int(&counts[p]) as i32 + 1)),
                    None => {
                        values.push(v);
                        counts.push(ScalarValue::Int32(Some(1)));
                    }
                }
                state[0] = list(&values, ty);
                state[1] = list(&counts, &SqlType::Int);
            }
        }
        Ok(())
    }

    /// Takes a row's arguments out of `state` (for the functions that are [`Self::undoable`]).
    pub fn undo(&self, state: &mut [ScalarValue], args: &[ScalarValue]) -> Result<(), String> {
        let v = args.first().cloned().unwrap_or(ScalarValue::Null);
        match self {
            Udaf::Count if !v.is_null() => {
                state[0] = ScalarValue::Int64(Some(int(&state[0]) - 1));
            }
            Udaf::Sum(_) if !v.is_null() => {
                state[0] = plus(&state[0], &v, true)?;
            }
            Udaf::SumList(_) => {
                for item in items(&v).iter().filter(|i| !i.is_null()) {
                    state[0] = plus(&state[0], item, true)?;
                }
            }
            Udaf::Avg(_) if !v.is_null() => {
                state[0] = plus(&state[0], &v, true)?;
                state[1] = ScalarValue::Int64(Some(int(&state[1]) - 1));
            }
            Udaf::CollectList { ty, .. } => {
                let mut items = items(&state[0]);
                if let Some(p) = items.iter().rposition(|i| same(i, &v)) {
                    items.remove(p);
                    state[0] = list(&items, ty);
                }
            }
            Udaf::Histogram => {
                let mut entries = value::map_entries(&state[0]).unwrap_or_default();
                if let Some(p) = entries.iter().position(|(k, _)| *k == v) {
                    let c = int(&entries[p].1) - 1;
                    if c <= 0 {
                        entries.remove(p);
                    } else {
                        entries[p].1 = ScalarValue::Int64(Some(c));
                    }
                    state[0] = histogram(&entries);
                }
            }
            Udaf::Stddev { .. } => {
                let Some(x) = double(&v) else { return Ok(()) };
                let (sum, n, m2) = (
                    double(&state[0]).unwrap_or(0.0),
                    int(&state[1]),
                    double(&state[2]).unwrap_or(0.0),
                );
                if n <= 0 {
                    return Ok(());
                }
                let n_new = n - 1;
                let m2 = if n_new > 0 {
                    let delta = x * n as f64 - sum;
                    m2 - delta * delta / (n_new as f64 * n as f64)
                } else {
                    0.0
                };
                state[0] = ScalarValue::Float64(Some(sum - x));
                state[1] = ScalarValue::Int64(Some(n_new));
                state[2] = ScalarValue::Float64(Some(m2));
            }
            Udaf::Correlation => correlation(state, args, -1.0),
            Udaf::Attr(ty) => {
                let (values, mut counts) = (items(&state[0]), items(&state[1]));
                if let Some(p) = values.iter().position(|i| same(i, &v)) {
                    counts[p] = ScalarValue::Int32(Some((int(&counts[p]) as i32 - 1).max(0)));
                    state[0] = list(&values, ty);
                    state[1] = list(&counts, &SqlType::Int);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Merges `later`, the state of a session that a record joined to `state`'s (the earlier
    /// one), into `state`.
    pub fn merge(&self, state: &mut [ScalarValue], later: &[ScalarValue]) -> Result<(), String> {
        let concat = |a: &ScalarValue, b: &ScalarValue| {
            let mut all = items(a);
            all.extend(items(b));
            all
        };
        match self {
            Udaf::Count => {
                state[0] = ScalarValue::Int64(Some(int(&state[0]) + int(&later[0])));
            }
            Udaf::Sum(_) | Udaf::SumList(_) => state[0] = plus(&state[0], &later[0], false)?,
            Udaf::Avg(_) => {
                state[0] = plus(&state[0], &later[0], false)?;
                state[1] = ScalarValue::Int64(Some(int(&state[1]) + int(&later[1])));
            }
            Udaf::Min(_) | Udaf::Max(_) => self.add(state, &later[..1])?,
            Udaf::CollectList { ty, limit } => {
                let mut all = concat(&state[0], &later[0]);
                all.truncate(*limit);
                state[0] = list(&all, ty);
            }
            Udaf::CollectSet { ty, limit } | Udaf::TopKDistinct { ty, k: limit } => {
                let mut distinct: Vec<ScalarValue> = Vec::new();
                for v in concat(&state[0], &later[0]) {
                    if !distinct.iter().any(|d| same(d, &v)) {
                        distinct.push(v);
                    }
                }
                if matches!(self, Udaf::TopKDistinct { .. }) {
                    distinct.sort_by(|a, b| compare(b, a));
                }
                distinct.truncate(*limit);
                state[0] = list(&distinct, ty);
            }
            Udaf::Earliest(b) | Udaf::Latest(b) if b.n.is_some() => {
                let mut all = concat(&state[0], &later[0]);
                all.truncate(b.n.unwrap_or(usize::MAX));
                state[0] = list(&all, &b.ty);
            }
            Udaf::Earliest(_) => {
                if state[0] != ScalarValue::Boolean(Some(true)) {
                    state[0] = later[0].clone();
                    state[1] = later[1].clone();
                }
            }
            Udaf::Latest(b) => {
                if !(later[0].is_null() && b.ignore_nulls) {
                    state[0] = later[0].clone();
                }
            }
            Udaf::Histogram => {
                for (k, c) in value::map_entries(&later[0]).unwrap_or_default() {
                    for _ in 0..int(&c) {
                        self.add(state, std::slice::from_ref(&k))?;
                    }
                }
            }
            Udaf::TopK { ty, others, k } => {
                let sort_value = |i: &ScalarValue| -> ScalarValue {
                    if others.is_empty() {
                        i.clone()
                    } else {
                        value::struct_fields(i)
                            .and_then(|f| f.into_iter().next().map(|(_, v)| v))
                            .unwrap_or(ScalarValue::Null)
                    }
                };
                let mut all = concat(&state[0], &later[0]);
                all.sort_by(|a, b| compare(&sort_value(b), &sort_value(a)));
                all.truncate(*k);
                state[0] = list(&all, &topk_item(ty, others));
            }
            Udaf::CountDistinct(ty) => {
                let mut distinct = items(&state[0]);
                for v in items(&later[0]) {
                    if !distinct.iter().any(|d| same(d, &v)) {
                        distinct.push(v);
                    }
                }
                state[0] = list(&distinct, ty);
            }
            Udaf::Stddev { .. } => {
                let (sa, na, ma) = (
                    double(&state[0]).unwrap_or(0.0),
                    int(&state[1]),
                    double(&state[2]).unwrap_or(0.0),
                );
                let (sb, nb, mb) = (
                    double(&later[0]).unwrap_or(0.0),
                    int(&later[1]),
                    double(&later[2]).unwrap_or(0.0),
                );
                let n = na + nb;
                let m2 = if na == 0 || nb == 0 {
                    ma + mb
                } else {
                    let d = sa / na as f64 - sb / nb as f64;
                    ma + mb + d * d * (na as f64 * nb as f64) / n as f64
                };
                state[0] = ScalarValue::Float64(Some(sa + sb));
                state[1] = ScalarValue::Int64(Some(n));
                state[2] = ScalarValue::Float64(Some(m2));
            }
            Udaf::Correlation => {
                for i in 0..5 {
                    let sum = double(&state[i]).unwrap_or(0.0) + double(&later[i]).unwrap_or(0.0);
                    state[i] = ScalarValue::Float64(Some(sum));
                }
                state[5] = ScalarValue::Int64(Some(int(&state[5]) + int(&later[5])));
            }
            Udaf::Attr(ty) => {
                let (mut values, mut counts) = (items(&state[0]), items(&state[1]));
                for (v, c) in items(&later[0]).into_iter().zip(items(&later[1])) {
                    match values.iter().position(|x| same(x, &v)) {
                        Some(p) => {
                            counts[p] =
                                ScalarValue::Int32(Some((int(&counts[p]) + int(&c)) as i32));
                        }
                        None => {
                            values.push(v);
                            counts.push(c);
                        }
                    }
                }
                state[0] = list(&values, ty);
                state[1] = list(&counts, &SqlType::Int);
            }
        }
        Ok(())
    }

    /// The result of `state`.
    pub fn result(&self, state: &[ScalarValue]) -> ScalarValue {
        match self {
            Udaf::Avg(_) => {
                let n = int(&state[1]);
                let sum = double(&state[0]).unwrap_or(0.0);
                ScalarValue::Float64(Some(if n == 0 { 0.0 } else { sum / n as f64 }))
            }
            Udaf::Earliest(b) if b.n.is_none() => state[1].clone(),
            Udaf::CountDistinct(_) => ScalarValue::Int64(Some(items(&state[0]).len() as i64)),
            Udaf::Stddev { root } => {
                let n = int(&state[1]);
                let m2 = double(&state[2]).unwrap_or(0.0);
                let v = if n < 2 {
                    0.0
                } else if *root {
                    (m2 / (n - 1) as f64).sqrt()
                } else {
                    m2 / (n - 1) as f64
                };
                ScalarValue::Float64(Some(v))
            }
            Udaf::Correlation => {
                let d = |i: usize| double(&state[i]).unwrap_or(0.0);
                let (sx, sy, sxx, syy, sxy) = (d(0), d(1), d(2), d(3), d(4));
                let n = int(&state[5]) as f64;
                let r = (n * sxy - sx * sy) / ((n * sxx - sx * sx) * (n * syy - sy * sy)).sqrt();
                ScalarValue::Float64(Some(r))
            }
            Udaf::Attr(t) => {
                let (values, counts) = (items(&state[0]), items(&state[1]));
                let live: Vec<&ScalarValue> = values
                    .iter()
                    .zip(&counts)
                    .filter(|(_, c)| int(c) > 0)
                    .map(|(v, _)| v)
                    .collect();
                match live.as_slice() {
                    [one] => (*one).clone(),
                    _ => value::null(t),
                }
            }
            _ => state[0].clone(),
        }
    }
}

/// TOPK's struct item: the sorted value, then the other columns (lower-case names, as ksqlDB
/// gives them).
fn topk_fields(ty: &SqlType, others: &[SqlType]) -> Vec<(String, SqlType)> {
    let mut fields = vec![("sort_col".to_string(), ty.clone())];
    fields.extend(
        others
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("col{i}"), t.clone())),
    );
    fields
}

fn topk_item(ty: &SqlType, others: &[SqlType]) -> SqlType {
    if others.is_empty() {
        ty.clone()
    } else {
        SqlType::Struct(topk_fields(ty, others))
    }
}

/// CORRELATION's sums, with a pair added (`sign` 1) or taken out (-1).
fn correlation(state: &mut [ScalarValue], args: &[ScalarValue], sign: f64) {
    let (Some(x), Some(y)) = (args.first().and_then(double), args.get(1).and_then(double)) else {
        return;
    };
    for (i, d) in [x, y, x * x, y * y, x * y].into_iter().enumerate() {
        state[i] = ScalarValue::Float64(Some(double(&state[i]).unwrap_or(0.0) + sign * d));
    }
    state[5] = ScalarValue::Int64(Some(int(&state[5]) + sign as i64));
}

fn histogram(entries: &[(ScalarValue, ScalarValue)]) -> ScalarValue {
    value::map(entries, &SqlType::String, &SqlType::Bigint).unwrap_or(ScalarValue::Null)
}

fn items(v: &ScalarValue) -> Vec<ScalarValue> {
    value::list_items(v).unwrap_or_default()
}

fn list(items: &[ScalarValue], ty: &SqlType) -> ScalarValue {
    value::list(items, ty).unwrap_or_else(|_| value::null(&SqlType::Array(Box::new(ty.clone()))))
}

/// Equality as Java's `equals` (two nulls are equal).
fn same(a: &ScalarValue, b: &ScalarValue) -> bool {
    (a.is_null() && b.is_null()) || a == b
}

fn int(v: &ScalarValue) -> i64 {
    match v {
        ScalarValue::Int32(Some(i)) => i64::from(*i),
        ScalarValue::Int64(Some(i)) => *i,
        _ => 0,
    }
}

fn double(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::Int32(Some(i)) => Some(f64::from(*i)),
        ScalarValue::Int64(Some(i)) => Some(*i as f64),
        ScalarValue::Float64(Some(d)) => Some(*d),
        ScalarValue::Decimal128(Some(d), _, s) => Some(*d as f64 / 10f64.powi(i32::from(*s))),
        _ => None,
    }
}

/// Java's natural order: numbers by value, strings by their characters, bytes as signed
/// bytes.
fn compare(a: &ScalarValue, b: &ScalarValue) -> Ordering {
    match (a, b) {
        (ScalarValue::Binary(Some(x)), ScalarValue::Binary(Some(y))) => {
            x.iter().map(|b| *b as i8).cmp(y.iter().map(|b| *b as i8))
        }
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// `a + b` (or `a - b`) in `a`'s type: INT and BIGINT wrap around, a DECIMAL past its
/// precision is an error.
fn plus(a: &ScalarValue, b: &ScalarValue, minus: bool) -> Result<ScalarValue, String> {
    Ok(match (a, b) {
        (ScalarValue::Int32(Some(x)), ScalarValue::Int32(Some(y))) => {
            ScalarValue::Int32(Some(if minus {
                x.wrapping_sub(*y)
            } else {
                x.wrapping_add(*y)
            }))
        }
        (ScalarValue::Int64(Some(x)), _) => {
            let y = int(b);
            ScalarValue::Int64(Some(if minus {
                x.wrapping_sub(y)
            } else {
                x.wrapping_add(y)
            }))
        }
        (ScalarValue::Float64(Some(x)), _) => {
            let y = double(b).unwrap_or(0.0);
            ScalarValue::Float64(Some(if minus { x - y } else { x + y }))
        }
        (ScalarValue::Decimal128(Some(x), p, s), ScalarValue::Decimal128(Some(y), _, ys)) => {
            // (the argument has the sum's type; a different scale is brought to it)
            let y = rescale(*y, *ys, *s);
            let sum = if minus { x - y } else { x + y };
            let bound = 10i128.pow(u32::from(*p));
            if !minus && sum.abs() >= bound {
                return Err(format!(
                    "Numeric field overflow: A field with precision {p} and scale {s} must round to an absolute value less than 10^{}. Got {}",
                    i32::from(*p) - i32::from(*s),
                    crate::format::json::decimal_text(sum, *s)
                ));
            }
            ScalarValue::Decimal128(Some(sum), *p, *s)
        }
        _ => a.clone(),
    })
}

fn rescale(v: i128, from: i8, to: i8) -> i128 {
    match to.cmp(&from) {
        Ordering::Equal => v,
        Ordering::Greater => v * 10i128.pow(u32::from((to - from) as u8)),
        Ordering::Less => v / 10i128.pow(u32::from((from - to) as u8)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(u: &Udaf, values: &[ScalarValue]) -> Vec<ScalarValue> {
        let mut state = u.init();
        values
            .iter()
            .map(|v| {
                u.add(&mut state, std::slice::from_ref(v)).expect("added");
                u.result(&state)
            })
            .collect()
    }

    fn ints(v: &[Option<i32>]) -> Vec<ScalarValue> {
        v.iter().map(|i| ScalarValue::Int32(*i)).collect()
    }

    #[test]
    fn sums_wrap_and_skip_nulls() {
        let out = run(
            &Udaf::Sum(SqlType::Int),
            &ints(&[Some(i32::MAX), None, Some(1)]),
        );
        assert_eq!(out, ints(&[Some(i32::MAX), Some(i32::MAX), Some(i32::MIN)]));
    }

    #[test]
    fn stddev_samp_is_the_variance_and_sample_its_root() {
        let values = ints(&[Some(0), Some(10)]);
        let samp = run(&Udaf::Stddev { root: false }, &values);
        assert_eq!(samp[1], ScalarValue::Float64(Some(50.0)));
        let sample = run(&Udaf::Stddev { root: true }, &values);
        assert_eq!(sample[1], ScalarValue::Float64(Some(50f64.sqrt())));
        assert_eq!(sample[0], ScalarValue::Float64(Some(0.0)));
    }

    #[test]
    fn undo_takes_a_value_back_out() {
        let u = Udaf::Stddev { root: true };
        let mut state = u.init();
        for v in [3, 5, 11] {
            u.add(&mut state, &ints(&[Some(v)])).expect("added");
        }
        u.undo(&mut state, &ints(&[Some(11)])).expect("undone");
        let mut fresh = u.init();
        for v in [3, 5] {
            u.add(&mut fresh, &ints(&[Some(v)])).expect("added");
        }
        let (ScalarValue::Float64(Some(a)), ScalarValue::Float64(Some(b))) =
            (u.result(&state), u.result(&fresh))
        else {
            panic!("doubles")
        };
        assert!((a - b).abs() < 1e-9);
    }

    #[test]
    fn topk_keeps_duplicates_in_arrival_order() {
        let u = Udaf::TopK {
            ty: SqlType::Int,
            others: Vec::new(),
            k: 3,
        };
        let out = run(&u, &ints(&[Some(7), Some(100), Some(99), Some(100)]));
        assert_eq!(
            value::list_items(&out[3]).expect("a list"),
            ints(&[Some(100), Some(100), Some(99)])
        );
    }

    #[test]
    fn latest_n_keeps_the_last_values_and_nulls_when_asked() {
        let u = Udaf::Latest(ByOffset {
            ty: SqlType::Int,
            n: Some(2),
            ignore_nulls: false,
        });
        let out = run(&u, &ints(&[Some(12), None, Some(13)]));
        assert_eq!(
            value::list_items(&out[2]).expect("a list"),
            ints(&[None, Some(13)])
        );
    }

    #[test]
    fn a_decimal_sum_past_its_precision_is_an_error() {
        let u = Udaf::Sum(SqlType::Decimal {
            precision: 3,
            scale: 1,
        });
        let mut state = u.init();
        let v = ScalarValue::Decimal128(Some(999), 3, 1);
        u.add(&mut state, std::slice::from_ref(&v))
            .expect("99.9 fits");
        let e = u.add(&mut state, &[v]).expect_err("199.8 does not fit");
        assert!(e.starts_with("Numeric field overflow"), "{e}");
    }
}
