//! Which keys a pull query on a table asks for, by ksqlDB's rules (its `QueryFilterNode`).
//!
//! The `WHERE` clause is rewritten as ksqlDB's `PullQueryRewriter` does (`BETWEEN` into two
//! bounds, `IN` into equalities joined by `OR`, `NOT` pushed down to the comparisons) and into
//! its disjunctive normal form; each disjunct is checked (comparisons and `LIKE`s joined by
//! `AND`, a key column compared with something that reads no column) and asks for one key when
//! it holds an equality on every key column. When every disjunct asks for a key, the query is a
//! key lookup; otherwise a table scan, refused with ksqlDB's messages when
//! `ksql.query.pull.table.scan.enabled` is `false`. A key lookup's rows are still those the whole
//! `WHERE` clause keeps: the keys only spare reading the other rows.

use std::collections::BTreeSet;

use sqlparser::ast::{self as sql, BinaryOperator, UnaryOperator, Value};

use crate::catalog::DataSource;
use crate::exec::eval::Evaluator;
use crate::functions::datetime::partial_timestamp;
use crate::plan::expr::{ExprPlanner, Scope};
use crate::plan::text::ksql_text;
use crate::plan::{compile, magic_timestamps};
use crate::types::SqlType;
use crate::value::Row;

/// The pull-query settings the analysis reads.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `ksql.query.pull.table.scan.enabled` (default true).
    pub table_scans: bool,
    /// `ksql.query.pull.range.scan.enabled` (default true).
    pub range_scans: bool,
}

/// How a table's rows are found.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// Every row is read.
    Scan,
    /// Only rows with one of these keys (each a row of the key columns) can match.
    Keys(std::collections::HashSet<Row>),
}

/// A comparison's kind, named as ksqlDB's messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    IsDistinctFrom,
    IsNotDistinctFrom,
}

impl Op {
    fn java_name(self) -> &'static str {
        match self {
            Op::Equal => "EQUAL",
            Op::NotEqual => "NOT_EQUAL",
            Op::LessThan => "LESS_THAN",
            Op::LessThanOrEqual => "LESS_THAN_OR_EQUAL",
            Op::GreaterThan => "GREATER_THAN",
            Op::GreaterThanOrEqual => "GREATER_THAN_OR_EQUAL",
            Op::IsDistinctFrom => "IS_DISTINCT_FROM",
            Op::IsNotDistinctFrom => "IS_NOT_DISTINCT_FROM",
        }
    }

    /// The kind with its sides swapped (`1 < X` is `X > 1`).
    fn flipped(self) -> Op {
        match self {
            Op::LessThan => Op::GreaterThan,
            Op::LessThanOrEqual => Op::GreaterThanOrEqual,
            Op::GreaterThan => Op::LessThan,
            Op::GreaterThanOrEqual => Op::LessThanOrEqual,
            other => other,
        }
    }
}

/// A comparison of the `WHERE` clause, as written.
struct Comparison<'a> {
    left: &'a sql::Expr,
    op: Op,
    right: &'a sql::Expr,
}

impl<'a> Comparison<'a> {
    fn of(e: &'a sql::Expr) -> Option<Comparison<'a>> {
        let (left, op, right) = match e {
            sql::Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::Eq => Op::Equal,
                    BinaryOperator::NotEq => Op::NotEqual,
                    BinaryOperator::Lt => Op::LessThan,
                    BinaryOperator::LtEq => Op::LessThanOrEqual,
                    BinaryOperator::Gt => Op::GreaterThan,
                    BinaryOperator::GtEq => Op::GreaterThanOrEqual,
                    _ => return None,
                };
                (left, op, right)
            }
            sql::Expr::IsDistinctFrom(l, r) => (l, Op::IsDistinctFrom, r),
            sql::Expr::IsNotDistinctFrom(l, r) => (l, Op::IsNotDistinctFrom, r),
            _ => return None,
        };
        Some(Comparison {
            left: unnested(left),
            op,
            right: unnested(right),
        })
    }

    /// The column the comparison bounds (its right side first, as ksqlDB looks), the other
    /// side, and the kind as read from the column's side.
    fn column_side(&self) -> Option<(&'a str, &'a sql::Expr, Op)> {
        if let Some(c) = column_name(self.right) {
            Some((c, self.left, self.op.flipped()))
        } else {
            column_name(self.left).map(|c| (c, self.right, self.op))
        }
    }
}

fn unnested(mut e: &sql::Expr) -> &sql::Expr {
    while let sql::Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// The column `e` reads when it is a column reference.
fn column_name(e: &sql::Expr) -> Option<&str> {
    match unnested(e) {
        sql::Expr::Identifier(id) => Some(&id.value),
        sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(&parts[1].value),
        _ => None,
    }
}

/// Whether `e` reads a column.
fn reads_column(e: &sql::Expr) -> bool {
    use sqlparser::ast::Visit;
    use std::ops::ControlFlow;
    struct Columns;
    impl sql::Visitor for Columns {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &sql::Expr) -> ControlFlow<()> {
            match e {
                sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) => {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    e.visit(&mut Columns).is_break()
}

fn and(left: sql::Expr, right: sql::Expr) -> sql::Expr {
    sql::Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    }
}

fn compare(left: &sql::Expr, op: BinaryOperator, right: &sql::Expr) -> sql::Expr {
    sql::Expr::BinaryOp {
        left: Box::new(left.clone()),
        op,
        right: Box::new(right.clone()),
    }
}

/// The most disjuncts a `WHERE` clause is rewritten into (past them, its rows are found by a
/// scan: the rewriting multiplies `AND`ed `IN` lists).
const MAX_DISJUNCTS: usize = 100_000;

/// `e` in disjunctive normal form: its disjuncts, each the `AND` of its terms, after
/// `BETWEEN` and `IN` are rewritten and `NOT` pushed down (`negated`: under a `NOT`); `None`
/// past [`MAX_DISJUNCTS`].
fn disjuncts(e: &sql::Expr, negated: bool) -> Option<Vec<sql::Expr>> {
    match unnested(e) {
        sql::Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right,
        } => {
            let conjunction = (*op == BinaryOperator::And) != negated;
            let (l, r) = (disjuncts(left, negated)?, disjuncts(right, negated)?);
            let count = if conjunction {
                l.len().checked_mul(r.len())?
            } else {
                l.len() + r.len()
            };
            if count > MAX_DISJUNCTS {
                return None;
            }
            if conjunction {
                let mut out = Vec::with_capacity(count);
                for a in &l {
                    for b in &r {
                        out.push(and(a.clone(), b.clone()));
                    }
                }
                Some(out)
            } else {
                Some(l.into_iter().chain(r).collect())
            }
        }
        sql::Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => disjuncts(expr, !negated),
        sql::Expr::Between {
            expr,
            negated: not,
            low,
            high,
        } => disjuncts(
            &and(
                compare(expr, BinaryOperator::GtEq, low),
                compare(expr, BinaryOperator::LtEq, high),
            ),
            negated != *not,
        ),
        // (one equality per item, each a disjunct, as `x = a OR x = b ...` would give; built
        // flat, not as a chain as deep as the list. `NOT IN` is a single term, which no pull
        // query supports)
        sql::Expr::InList {
            expr,
            list,
            negated: not,
        } if !list.is_empty() && negated == *not => {
            if list.len() > MAX_DISJUNCTS {
                return None;
            }
            Some(
                list.iter()
                    .map(|item| compare(expr, BinaryOperator::Eq, item))
                    .collect(),
            )
        }
        sql::Expr::InList { expr, list, .. } if !list.is_empty() => Some(vec![sql::Expr::InList {
            expr: expr.clone(),
            list: list.clone(),
            negated: true,
        }]),
        other if negated => Some(vec![sql::Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(other.clone()),
        }]),
        other => Some(vec![other.clone()]),
    }
}

/// The terms of a disjunct (the operands of its `AND`s).
fn terms(e: &sql::Expr) -> Vec<&sql::Expr> {
    match e {
        sql::Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut t = terms(left);
            t.extend(terms(right));
            t
        }
        other => vec![other],
    }
}

/// ksqlDB's message for a `WHERE` clause a pull query cannot run, with its advice.
fn invalid(message: &str, windowed: bool) -> String {
    let window = if windowed {
        "\n - (optionally) limits the time bounds of the windowed table.\n\t Bounds on [`WINDOWSTART`, `WINDOWEND`] are supported\n\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL]"
    } else {
        ""
    };
    format!(
        "{message}.  See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query.\nPull queries require a WHERE clause that:\n - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`.\n - in the case of a multi-column key, is a conjunction of equality expressions that cover all key columns.\n - to support range expressions, e.g.,  SELECT * FROM X WHERE <key-column> < Y;`, range scans need to be enabled by setting ksql.query.pull.range.scan.enabled=true{window}\nIf more flexible queries are needed, , table scans can be enabled by setting ksql.query.pull.table.scan.enabled=true."
    )
}

/// The analysis of one query.
struct Analysis<'a> {
    source: &'a DataSource,
    windowed: bool,
    options: Options,
    /// A disjunct needs every row read.
    scan: bool,
}

impl Analysis<'_> {
    /// Notes that a table scan is needed, or fails when scans are off.
    fn scan_or(&mut self, message: &str) -> Result<(), String> {
        if self.options.table_scans {
            self.scan = true;
            Ok(())
        } else {
            Err(invalid(message, self.windowed))
        }
    }

    fn key_index(&self, column: &str) -> Option<usize> {
        self.source.key.iter().position(|(k, _)| k == column)
    }

    /// `[`ID` STRING KEY, ...]`, as ksqlDB prints a schema's key.
    fn key_text(&self) -> String {
        let cols: Vec<String> = self
            .source
            .key
            .iter()
            .map(|(n, t)| format!("`{n}` {t} KEY"))
            .collect();
        format!("[{}]", cols.join(", "))
    }

    fn column_type(&self, column: &str) -> Option<&SqlType> {
        self.source
            .columns()
            .find(|(n, _)| n == column)
            .map(|(_, t)| t)
    }

    /// Checks a disjunct (ksqlDB's `Validator`): whether it is keyed, and which key columns
    /// it reads.
    fn validate(&mut self, disjunct: &sql::Expr) -> Result<(bool, BTreeSet<usize>), String> {
        let mut keyed = false;
        let mut seen = BTreeSet::new();
        for term in terms(disjunct) {
            if let Some(c) = Comparison::of(term) {
                let Some((column, other, op)) = c.column_side() else {
                    self.scan_or("A comparison must directly reference a key column")?;
                    continue;
                };
                if reads_column(other) {
                    self.scan_or(
                        "A comparison must be between a key column and a resolvable expression",
                    )?;
                    continue;
                }
                if column == "WINDOWSTART" || column == "WINDOWEND" {
                    if matches!(
                        op,
                        Op::NotEqual | Op::IsDistinctFrom | Op::IsNotDistinctFrom
                    ) {
                        return Err(invalid(
                            &format!("Unsupported {column} bounds: {}", c.op.java_name()),
                            true,
                        ));
                    }
                    if !self.windowed {
                        return Err(invalid(
                            "Cannot use WINDOWSTART/WINDOWEND on non-windowed source",
                            false,
                        ));
                    }
                    continue;
                }
                if let Some(i) = self.key_index(column) {
                    if matches!(
                        op,
                        Op::NotEqual | Op::IsDistinctFrom | Op::IsNotDistinctFrom
                    ) {
                        self.scan_or(&format!(
                            "Bound on key columns '{}' must currently be '='",
                            self.key_text()
                        ))?;
                    }
                    if seen.contains(&i) && !self.options.table_scans {
                        return Err(invalid(
                            "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate",
                            self.windowed,
                        ));
                    }
                    seen.insert(i);
                    keyed = true;
                }
            } else if let sql::Expr::Like { expr, pattern, .. } = term {
                match column_name(expr) {
                    Some(column) => {
                        let ty = self.column_type(column).cloned();
                        match ty {
                            Some(SqlType::String) | None => {}
                            Some(other) => {
                                return Err(invalid(&format!("The column type for Like condition must be VARCHAR. The column type is {}", crate::plan::coerce::base_name(&other)), self.windowed));
                            }
                        }
                        let literal = matches!(
                            unnested(pattern),
                            sql::Expr::Value(v)
                                if matches!(v.value, Value::SingleQuotedString(_) | Value::Null)
                        );
                        if !literal {
                            return Err(invalid(
                                "Like condition on non-string pattern",
                                self.windowed,
                            ));
                        }
                    }
                    None => self.scan_or("Like condition must be between strings")?,
                }
            } else {
                return Err(invalid(
                    &format!(
                        "Unsupported expression in WHERE clause: {}",
                        ksql_text(term)
                    ),
                    false,
                ));
            }
        }
        Ok((keyed, seen))
    }

    /// The key a disjunct asks for (ksqlDB's `KeyValueExtractor`), `None` when it needs a
    /// scan; its window bounds are checked.
    fn constraint(&self, disjunct: &sql::Expr) -> Result<Option<(Row, bool)>, String> {
        let n = self.source.key.len();
        let mut values: Vec<Option<(datafusion_common::ScalarValue, Op)>> = vec![None; n];
        let mut bounds = WindowBounds::default();
        for term in terms(disjunct) {
            let Some(c) = Comparison::of(term) else {
                continue;
            };
            let Some((column, other, op)) = c.column_side() else {
                continue;
            };
            if self.windowed && (column == "WINDOWSTART" || column == "WINDOWEND") {
                bounds.add(column, op, other, term)?;
                continue;
            }
            let Some(i) = self.key_index(column) else {
                continue;
            };
            // (the most selective: an equality wins, else the first bound)
            if matches!(values[i], Some((_, Op::Equal))) {
                continue;
            }
            if op == Op::Equal || values[i].is_none() {
                let (name, ty) = &self.source.key[i];
                match resolve_key(other, name, ty, term)? {
                    Some(v) => values[i] = Some((v, op)),
                    None => return Ok(None),
                }
            }
        }
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let all_equal = values.iter().all(|v| matches!(v, Some((_, Op::Equal))));
        if all_equal {
            return Ok(Some((
                values.into_iter().flatten().map(|(v, _)| v).collect(),
                true,
            )));
        }
        // (a range on one string or bytes key column: a range scan, when it is the only one)
        let range = n == 1
            && matches!(self.source.key[0].1, SqlType::String | SqlType::Bytes)
            && matches!(
                values[0],
                Some((
                    _,
                    Op::LessThan | Op::LessThanOrEqual | Op::GreaterThan | Op::GreaterThanOrEqual
                ))
            );
        if range {
            Ok(Some((Vec::new(), false)))
        } else {
            Ok(None)
        }
    }
}

/// Whether ksqlDB's strict coercer turns a value of `from` into one of `to`: the same type, a
/// number widened, a string read as a time or bytes.
fn strictly(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::{Bigint, Bytes, Date, Decimal, Double, Int, String, Time, Timestamp};
    from == to
        || matches!(
            (from, to),
            (Int, Bigint | Decimal { .. } | Double)
                | (Bigint, Decimal { .. } | Double)
                | (Decimal { .. }, Decimal { .. } | Double)
                | (String, Timestamp | Date | Time | Bytes)
        )
}

/// The value a key column is compared with, of the column's type; `None` when only a scan can
/// answer (an expression whose value would have to be narrowed to the key's type: the
/// comparison keeps its precision, so several keys might match).
fn resolve_key(
    e: &sql::Expr,
    name: &str,
    ty: &SqlType,
    term: &sql::Expr,
) -> Result<Option<datafusion_common::ScalarValue>, String> {
    let scope = Scope::default();
    let planner = ExprPlanner::new(&scope).map_err(|e| e.to_string())?;
    let typed = planner.plan(e).map_err(|e| e.to_string())?;
    let refused = || {
        let shown = match unnested(e) {
            sql::Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            other => ksql_text(other),
        };
        format!("'{shown}' can not be converted to the type of the key column: {name} {ty} KEY")
    };
    // (a literal is converted strictly, as ksqlDB's coercer does)
    let null = matches!(unnested(e), sql::Expr::Value(v) if v.value == Value::Null);
    if !null && !strictly(&typed.ty, ty) {
        if matches!(unnested(e), sql::Expr::Value(_)) {
            return Err(refused());
        }
        return Ok(None);
    }
    let typed = planner.cast(typed, ty).map_err(|_| refused())?;
    let compiled = compile(&planner, typed).map_err(|e| e.to_string())?;
    let eval = Evaluator::new(&scope).map_err(|e| e.to_string())?;
    let batch = eval.batch(&Vec::new())?;
    let v = Evaluator::eval(&compiled, &batch);
    if v.is_null() {
        return Err(format!(
            "Primary key columns can not be NULL: {}",
            ksql_text(term)
        ));
    }
    Ok(Some(v))
}

/// The bounds a disjunct puts on `WINDOWSTART` and `WINDOWEND`: each may have one equality, or
/// one lower and one upper bound.
#[derive(Default)]
struct WindowBounds {
    /// (equal, lower, upper) set, for WINDOWSTART then WINDOWEND.
    set: [[bool; 3]; 2],
}

impl WindowBounds {
    fn add(
        &mut self,
        column: &str,
        op: Op,
        other: &sql::Expr,
        term: &sql::Expr,
    ) -> Result<(), String> {
        window_bound(other)?;
        let which = usize::from(column == "WINDOWEND");
        let slot = match op {
            Op::Equal => 0,
            Op::GreaterThan | Op::GreaterThanOrEqual => 1,
            _ => 2,
        };
        let simplified = match slot {
            0 => "EQUAL",
            1 => "GREATER_THAN",
            _ => "LESS_THAN",
        };
        let duplicate = self.set[which][slot];
        self.set[which][slot] = true;
        let [equal, lower, upper] = self.set[which];
        if equal && (lower || upper) {
            return Err(invalid(
                &format!(
                    "`{}` cannot be combined with other {column} bounds",
                    ksql_text(term)
                ),
                true,
            ));
        }
        if duplicate {
            return Err(invalid(
                &format!("Duplicate {column} bounds on: {simplified}"),
                true,
            ));
        }
        Ok(())
    }
}

/// Checks that a window bound is a time: an integer, a datetime string, or an expression of
/// an integer.
fn window_bound(e: &sql::Expr) -> Result<(), String> {
    if let sql::Expr::Value(v) = unnested(e) {
        if let Value::SingleQuotedString(text) = &v.value {
            return partial_timestamp(text)
                .map(|_| ())
                .map_err(|_| invalid(&format!("Failed to parse datetime: {text}"), true));
        }
    }
    let scope = Scope::default();
    let integer = ExprPlanner::new(&scope)
        .ok()
        .and_then(|p| p.plan(e).ok())
        .is_some_and(|t| matches!(t.ty, SqlType::Int | SqlType::Bigint));
    if integer {
        Ok(())
    } else {
        Err(invalid(
            "Window bounds must resolve to an INT, BIGINT, or STRING containing a datetime.",
            true,
        ))
    }
}

/// How a pull query on the table `source` finds its rows, or ksqlDB's error for its `WHERE`.
pub fn lookup(
    filter: Option<&sql::Expr>,
    source: &DataSource,
    options: Options,
) -> Result<Lookup, String> {
    let windowed = source.windowing.is_some();
    let Some(filter) = filter else {
        if options.table_scans {
            return Ok(Lookup::Scan);
        }
        return Err(invalid("Missing WHERE clause", windowed));
    };
    let filter = magic_timestamps::rewrite(filter).map_err(|e| e.to_string())?;
    let Some(disjuncts) = disjuncts(&filter, false) else {
        if options.table_scans {
            return Ok(Lookup::Scan);
        }
        return Err(invalid(
            &format!("WHERE clause has more than {MAX_DISJUNCTS} disjuncts"),
            windowed,
        ));
    };
    let mut analysis = Analysis {
        source,
        windowed,
        options,
        scan: false,
    };
    for d in &disjuncts {
        let (keyed, seen) = analysis.validate(d)?;
        if analysis.scan {
            break;
        }
        if !keyed {
            analysis.scan_or(&format!(
                "WHERE clause missing key column for disjunct: {}",
                ksql_text(d)
            ))?;
            break;
        }
        if seen.len() != source.key.len() {
            let named: Vec<String> = seen
                .iter()
                .map(|&i| format!("`{}`", source.key[i].0))
                .collect();
            analysis.scan_or(&format!(
                "Multi-column sources must specify every key in the WHERE clause. Specified: [{}] Expected: {}",
                named.join(", "),
                analysis.key_text()
            ))?;
            break;
        }
    }
    let mut keys = Vec::new();
    let mut scan = analysis.scan;
    if !scan {
        let mut ranges = 0;
        for d in &disjuncts {
            match analysis.constraint(d)? {
                Some((key, true)) => keys.push(key),
                Some((_, false)) => ranges += 1,
                None => scan = true,
            }
        }
        // (one range on a non-windowed table is a range scan, which reads every row here;
        // anything else mixing ranges is a table scan)
        if ranges > 0 {
            if ranges == 1 && disjuncts.len() == 1 && !windowed && options.range_scans {
                return Ok(Lookup::Scan);
            }
            scan = true;
        }
    }
    if scan {
        if !options.table_scans {
            return Err("Query requires table scan to be enabled. Table scans can be enabled by setting ksql.query.pull.table.scan.enabled=true".into());
        }
        return Ok(Lookup::Scan);
    }
    Ok(Lookup::Keys(keys.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Windowing;
    use crate::format::Format;
    use crate::parser::ast::SourceKind;
    use datafusion_common::ScalarValue;

    fn table(key: &[(&str, SqlType)], windowed: bool) -> DataSource {
        DataSource {
            name: "AGGREGATE".into(),
            kind: SourceKind::Table,
            topic: "AGGREGATE".into(),
            key: key
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect(),
            value: vec![("COUNT".into(), SqlType::Bigint)],
            headers: Vec::new(),
            key_format: Format::Json,
            value_format: Format::Json,
            unwrapped_value: false,
            timestamp: None,
            windowing: windowed.then_some(Windowing::Time {
                size: 1000,
                hopping: false,
            }),
            sql: String::new(),
            read_only: false,
        }
    }

    fn run(source: &DataSource, filter: &str, table_scans: bool) -> Result<Lookup, String> {
        let e = crate::parser::parse_expr(filter).unwrap();
        lookup(
            Some(&e),
            source,
            Options {
                table_scans,
                range_scans: true,
            },
        )
    }

    fn ints(keys: &[i32]) -> Lookup {
        Lookup::Keys(
            keys.iter()
                .map(|k| vec![ScalarValue::Int32(Some(*k))])
                .collect(),
        )
    }

    #[test]
    fn equalities_on_every_key_are_lookups() {
        let t = table(&[("ID", SqlType::Int)], false);
        assert_eq!(run(&t, "ID = 10", false), Ok(ints(&[10])));
        assert_eq!(run(&t, "10 + 1 = ID", false), Ok(ints(&[11])));
        assert_eq!(
            run(&t, "ID IN (10, 11, 10) AND COUNT > 1", false),
            Ok(ints(&[10, 11]))
        );
        assert_eq!(run(&t, "ID = 10 OR ID = 8", false), Ok(ints(&[10, 8])));
        // (the equality wins over other bounds on the same key)
        assert_eq!(
            run(&t, "ID = 10 AND ID IN (1, 2, 10)", true),
            Ok(ints(&[10]))
        );
        let multi = table(&[("A", SqlType::Int), ("B", SqlType::String)], false);
        assert_eq!(
            run(&multi, "B = 'x' AND A = 1", false),
            Ok(Lookup::Keys(
                [vec![
                    ScalarValue::Int32(Some(1)),
                    ScalarValue::Utf8(Some("x".into()))
                ]]
                .into_iter()
                .collect()
            ))
        );
        let windowed = table(&[("ID", SqlType::Int)], true);
        assert_eq!(
            run(&windowed, "ID = 10 AND WINDOWSTART > 12500 + 10", false),
            Ok(ints(&[10]))
        );
        assert_eq!(
            run(
                &windowed,
                "ID = 10 AND WINDOWSTART >= '1970-01-01T00:00:12'",
                false
            ),
            Ok(ints(&[10]))
        );
    }

    #[test]
    fn anything_else_scans_when_scans_are_on() {
        let t = table(&[("ID", SqlType::Int)], false);
        for filter in [
            "COUNT > 1",
            "ID > 10",
            "ID + 10 = 20",
            "ID = COUNT",
            "ID != 10",
            "ID = 10 OR COUNT = 2",
            "ID <= 11 OR ID >= 13",
        ] {
            assert_eq!(run(&t, filter, true), Ok(Lookup::Scan), "{filter}");
        }
        // (an expression that would have to be narrowed to the key's type: several keys might
        // compare equal, so only a scan is sure to find them)
        let big = table(&[("ID", SqlType::Bigint)], false);
        assert_eq!(run(&big, "ID = 2.0 * 1.5E0", true), Ok(Lookup::Scan));
        // (ANDed IN lists past the most disjuncts)
        let many: Vec<String> = (0..400).map(|i| i.to_string()).collect();
        let list = many.join(", ");
        assert_eq!(
            run(&t, &format!("ID IN ({list}) AND COUNT IN ({list})"), true),
            Ok(Lookup::Scan)
        );
        let text = table(&[("ID", SqlType::String)], false);
        // (a range on one string key is a range scan, allowed without table scans)
        assert_eq!(run(&text, "'0' < ID", false), Ok(Lookup::Scan));
        assert_eq!(
            lookup(
                None,
                &t,
                Options {
                    table_scans: true,
                    range_scans: true
                }
            ),
            Ok(Lookup::Scan)
        );
    }

    #[test]
    fn without_scans_ksqldb_messages() {
        let t = table(&[("ID", SqlType::String)], false);
        let err = |source: &DataSource, filter: &str| run(source, filter, false).unwrap_err();
        let starts = |source: &DataSource, filter: &str, message: &str| {
            let e = err(source, filter);
            assert!(e.starts_with(message), "{filter}: {e}");
        };
        starts(&t, "COUNT = 100", "WHERE clause missing key column for disjunct: (COUNT = 100).  See https://cnfl.io/queries");
        starts(
            &t,
            "ID != '100'",
            "Bound on key columns '[`ID` STRING KEY]' must currently be '='. ",
        );
        starts(
            &t,
            "ID = COUNT",
            "A comparison must be between a key column and a resolvable expression",
        );
        starts(
            &t,
            "ID IN ('2', COUNT, '3')",
            "A comparison must be between a key column and a resolvable expression",
        );
        starts(
            &t,
            "LEN(ID) = 20",
            "A comparison must directly reference a key column",
        );
        starts(&t, "'0' < ID AND ID < '100'", "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate");
        starts(
            &t,
            "ID <= '11' OR ID >= '13'",
            "Query requires table scan to be enabled",
        );
        starts(
            &t,
            "'12' LIKE '12'",
            "Like condition must be between strings",
        );
        starts(
            &t,
            "ID IS NULL",
            "Unsupported expression in WHERE clause: (ID IS NULL)",
        );
        starts(
            &t,
            "ID = NULL",
            "Primary key columns can not be NULL: (ID = null)",
        );
        let ints = table(&[("ID", SqlType::Int)], false);
        starts(
            &ints,
            "ID IN ('10', 8)",
            "'10' can not be converted to the type of the key column: ID INTEGER KEY",
        );
        starts(
            &ints,
            "ID = 10.5",
            "'10.5' can not be converted to the type of the key column: ID INTEGER KEY",
        );
        let multi = table(&[("ID", SqlType::Int), ("COL", SqlType::Int)], false);
        starts(&multi, "ID = 10", "Multi-column sources must specify every key in the WHERE clause. Specified: [`ID`] Expected: [`ID` INTEGER KEY, `COL` INTEGER KEY]");
        let windowed = table(&[("ID", SqlType::Int)], true);
        let e = err(&windowed, "WINDOWSTART >= 12000");
        assert!(
            e.starts_with("WHERE clause missing key column for disjunct"),
            "{e}"
        );
        assert!(
            e.contains("Bounds on [`WINDOWSTART`, `WINDOWEND`] are supported"),
            "{e}"
        );
        starts(
            &windowed,
            "ID = 1 AND WINDOWSTART != 1",
            "Unsupported WINDOWSTART bounds: NOT_EQUAL",
        );
        starts(
            &windowed,
            "ID = 1 AND WINDOWEND > 1 AND WINDOWEND >= 2",
            "Duplicate WINDOWEND bounds on: GREATER_THAN",
        );
        starts(
            &windowed,
            "ID = 1 AND WINDOWSTART = 1 AND WINDOWSTART < 2",
            "`(WINDOWSTART < 2)` cannot be combined with other WINDOWSTART bounds",
        );
        starts(
            &t,
            "WINDOWSTART = 1 AND ID = '1'",
            "Cannot use WINDOWSTART/WINDOWEND on non-windowed source",
        );
        let without = lookup(
            None,
            &t,
            Options {
                table_scans: false,
                range_scans: true,
            },
        )
        .unwrap_err();
        assert!(without.starts_with("Missing WHERE clause."), "{without}");
    }
}
