//! Joins: `FROM a JOIN b ON ... [JOIN c ON ...]` planned as a chain of two-sided steps, each
//! joining the rows joined so far with one more source, as ksqlDB plans them (a left-deep
//! tree in `FROM` order).
//!
//! The joined row holds every source's columns in `FROM` order (keys, values, `ROWTIME`,
//! `ROWPARTITION`, `ROWOFFSET`), each qualified by its source's alias; a synthetic key column
//! (`ROWKEY`) follows when no source column always holds the result's key (a full outer join,
//! or join expressions that are no columns). The result is keyed by the last step's join
//! expression, whose value is the record's key.

use std::collections::BTreeSet;

use sqlparser::ast as sql;

use super::expr::{ExprPlanner, Scope, ScopeColumn, Typed};
use super::{
    check_partitioned, column_of, compile, derived_name, is_reserved, join_and, source_scope,
    where_clause,
};
use super::{Compiled, PlanError};
use crate::catalog::{Catalog, DataSource, Windowing};
use crate::format::Format;
use crate::parser::ast::{JoinKind, Query, SelectItem, SourceKind, Within};
use crate::types::SqlType;

/// A source of a join.
#[derive(Debug, Clone)]
pub struct JoinInput {
    /// The stream or table read.
    pub source: DataSource,
    /// Its alias (or name).
    pub qualifier: String,
    /// Where its columns start in the joined row.
    pub offset: usize,
}

impl JoinInput {
    /// How many columns it adds to the joined row: keys, values, the three pseudo columns and
    /// a windowed source's `WINDOWSTART` and `WINDOWEND` (as `super::source_scope`).
    pub fn width(&self) -> usize {
        let window = if self.source.windowing.is_some() {
            2
        } else {
            0
        };
        self.source.key.len() + self.source.value.len() + 3 + window
    }
}

/// One join of the chain: the rows joined so far (the first `left_width` columns of the
/// joined row) with the next source.
#[derive(Debug, Clone)]
pub struct JoinStep {
    /// Inner, left, right or full outer.
    pub kind: JoinKind,
    /// `WITHIN` (stream-stream joins).
    pub within: Option<Within>,
    /// The left join expression, over the rows joined so far.
    pub left_key: Compiled,
    /// Whether the rows joined so far must be keyed by `left_key` first (they are keyed by
    /// something else).
    pub left_rekey: bool,
    /// The right join expression, over the next source's rows (`source_scope`).
    pub right_key: Compiled,
    /// Whether the next source must be keyed by `right_key` first.
    pub right_rekey: bool,
    /// A foreign-key join: the left table's rows join the right table's row whose key is
    /// `left_key` of theirs, and the result keeps the left table's key.
    pub foreign_key: bool,
    /// How many columns of the joined row the left side has.
    pub left_width: usize,
    /// What the left side is: a stream, or a table (when all its sources are tables).
    pub left_kind: SourceKind,
    /// What the next source is.
    pub right_kind: SourceKind,
    /// The columns of the joined row that always hold the step's key (none for a full outer
    /// join).
    pub equiv: Vec<usize>,
    /// The columns the result's key may be named after, in ksqlDB's order of preference.
    pub viable: Vec<usize>,
    /// The name of the column a re-keyed side's key is (`ALIAS_COL`), for messages.
    pub key_name: String,
}

/// A join query: its sources, its steps, then a filter and a projection over the joined row.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    /// The sources, in `FROM` order.
    pub inputs: Vec<JoinInput>,
    /// `inputs.len() - 1` steps.
    pub steps: Vec<JoinStep>,
    /// The joined row's columns (with the synthetic key last when there is one).
    pub scope: Scope,
    /// Whether a synthetic key column ends the scope (its value is the record's key).
    pub synthetic_key: bool,
    /// `WHERE`.
    pub filter: Option<Compiled>,
    /// The output's key columns (without `PARTITION BY`: the join key, the record's key).
    pub key: Vec<(String, Compiled)>,
    /// The output's value columns.
    pub value: Vec<(String, Compiled)>,
    /// A table when every source is one, else a stream.
    pub kind: SourceKind,
    /// Whether `PARTITION BY` re-keys the output (its key columns are then evaluated; else the
    /// key is the join key).
    pub partitioned: bool,
}

impl JoinPlan {
    /// The output's key columns.
    pub fn key_columns(&self) -> Vec<(String, SqlType)> {
        columns(&self.key)
    }

    /// The output's value columns.
    pub fn value_columns(&self) -> Vec<(String, SqlType)> {
        columns(&self.value)
    }
}

fn columns(c: &[(String, Compiled)]) -> Vec<(String, SqlType)> {
    c.iter().map(|(n, c)| (n.clone(), c.ty.clone())).collect()
}

/// How ksqlDB names a join type in messages.
fn join_words(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "[INNER] JOIN",
        JoinKind::Left => "LEFT [OUTER] JOIN",
        JoinKind::Right => "RIGHT [OUTER] JOIN",
        JoinKind::Outer => "[FULL] OUTER JOIN",
    }
}

/// Checks that every qualifier in `e` names a source of the join.
fn check_qualifiers(inputs: &[JoinInput], e: &sql::Expr) -> Result<(), PlanError> {
    let mut bad = None;
    let _ = sql::visit_expressions(e, |x| {
        if let sql::Expr::CompoundIdentifier(parts) = x {
            if parts.len() == 2 && !inputs.iter().any(|i| i.qualifier == parts[0].value) {
                bad = Some(parts[0].value.clone());
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    });
    match bad {
        Some(q) => Err(PlanError::Invalid(format!(
            "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
        ))),
        None => Ok(()),
    }
}

/// The sources an expression's columns belong to (indices into `inputs`), resolving every
/// column (unknown and ambiguous ones are errors, reported for `clause`).
fn sources_of(
    inputs: &[JoinInput],
    scope: &Scope,
    e: &sql::Expr,
    clause: &str,
) -> Result<Vec<usize>, PlanError> {
    // (what names no column: the field of `a->field`, the accesses after `source.column`)
    let mut e = e.clone();
    let _ = sql::visit_expressions_mut(&mut e, |x| {
        match x {
            sql::Expr::BinaryOp {
                op: sql::BinaryOperator::Arrow,
                right,
                ..
            } => **right = sql::Expr::Value(sql::Value::Null.into()),
            sql::Expr::CompoundFieldAccess { root, access_chain } => {
                if let (
                    sql::Expr::Identifier(q),
                    Some(sql::AccessExpr::Dot(sql::Expr::Identifier(name))),
                ) = (root.as_ref(), access_chain.first())
                {
                    if scope.resolve(None, &q.value).is_err() {
                        *x = sql::Expr::CompoundIdentifier(vec![q.clone(), name.clone()]);
                    }
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let mut found = Vec::new();
    let mut error = None;
    let _ = sql::visit_expressions(&e, |x| {
        let column = match x {
            sql::Expr::Identifier(id) => Some(
                scope
                    .resolve(None, &id.value)
                    .map_err(|e| super::expr::located(e, id.span.start)),
            ),
            sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(
                scope
                    .resolve(Some(&parts[0].value), &parts[1].value)
                    .map_err(|e| super::expr::located(e, parts[0].span.start)),
            ),
            _ => None,
        };
        match column {
            Some(Ok(c)) => {
                if let Some(i) = inputs
                    .iter()
                    .position(|s| c >= s.offset && c < s.offset + s.width())
                {
                    if !found.contains(&i) {
                        found.push(i);
                    }
                }
                std::ops::ControlFlow::Continue(())
            }
            Some(Err(PlanError::Invalid(m))) if super::expr::unresolved(&m) => {
                error = Some(PlanError::Invalid(super::expr::in_clause(clause, &m)));
                std::ops::ControlFlow::Break(())
            }
            // (ksqlDB finds an ambiguous join column as it prepares the statement)
            Some(Err(PlanError::Invalid(m))) if m.contains("is ambiguous") => {
                error = Some(PlanError::Invalid(format!(
                    "Exception while preparing statement: {m}"
                )));
                std::ops::ControlFlow::Break(())
            }
            Some(Err(e)) => {
                error = Some(e);
                std::ops::ControlFlow::Break(())
            }
            None => std::ops::ControlFlow::Continue(()),
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// An expression as ksqlDB prints it in messages: its columns qualified by their source, and
/// comparisons in parentheses when `parenthesized`.
fn text(e: &sql::Expr, scope: &Scope, parenthesized: bool) -> String {
    let mut e = e.clone();
    let _ = sql::visit_expressions_mut(&mut e, |x| {
        let column = match &*x {
            sql::Expr::Identifier(id) => scope.resolve(None, &id.value).ok(),
            sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                scope.resolve(Some(&parts[0].value), &parts[1].value).ok()
            }
            _ => None,
        };
        if let Some(c) = column {
            let c = &scope.columns[c];
            *x = sql::Expr::CompoundIdentifier(vec![
                sql::Ident::new(c.qualifier.clone().unwrap_or_default()),
                sql::Ident::new(c.name.clone()),
            ]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    if parenthesized {
        super::text::ksql_text(&e)
    } else {
        e.to_string()
    }
}

/// The sources of a join and the scope of their joined row; a source twice is refused.
fn inputs(catalog: &Catalog, q: &Query) -> Result<(Vec<JoinInput>, Scope), PlanError> {
    let mut inputs: Vec<JoinInput> = Vec::new();
    let mut scope = Scope::default();
    let relations = std::iter::once(&q.from.first).chain(q.from.joins.iter().map(|j| &j.right));
    for r in relations {
        let source = catalog.source(&r.name).map_err(PlanError::Invalid)?.clone();
        if inputs.iter().any(|i| i.source.name == source.name) {
            return Err(PlanError::Invalid(if inputs.len() > 1 {
                format!(
                    "N-way joins do not support multiple occurrences of the same source. Source: '{}'.",
                    source.name
                )
            } else {
                format!(
                    "Can not join '{0}' to '{0}': self joins are not yet supported.",
                    source.name
                )
            }));
        }
        let qualifier = r.qualifier().to_string();
        let offset = scope.columns.len();
        scope
            .columns
            .extend(source_scope(&source, &qualifier).columns);
        inputs.push(JoinInput {
            source,
            qualifier,
            offset,
        });
    }
    Ok((inputs, scope))
}

/// What one `ON` condition joins: the expression over the sources joined so far and the one
/// over the next source, as written (`flipped` when the next source's came first).
struct Criteria<'a> {
    left: &'a sql::Expr,
    right: &'a sql::Expr,
    flipped: bool,
}

/// Checks the `ON` condition of the join of source `n + 1` (ksqlDB's analysis, in its order).
fn criteria<'a>(
    inputs: &[JoinInput],
    scope: &Scope,
    n: usize,
    on: &'a sql::Expr,
) -> Result<Criteria<'a>, PlanError> {
    let (a, b) = match on {
        sql::Expr::BinaryOp {
            left,
            op: sql::BinaryOperator::Eq,
            right,
        } => (left.as_ref(), right.as_ref()),
        sql::Expr::BinaryOp {
            op: sql::BinaryOperator::And,
            ..
        } => {
            return Err(PlanError::Invalid(format!(
            "Invalid join condition: joins on multiple conditions are not yet supported. Got {}.",
            text(on, scope, true)
        )))
        }
        sql::Expr::BinaryOp {
            op:
                sql::BinaryOperator::NotEq
                | sql::BinaryOperator::Lt
                | sql::BinaryOperator::LtEq
                | sql::BinaryOperator::Gt
                | sql::BinaryOperator::GtEq,
            ..
        } => {
            return Err(PlanError::Invalid(
                "Only equality join criteria is supported.".into(),
            ))
        }
        other => {
            return Err(PlanError::Invalid(format!(
                "Unsupported join expression: {}",
                text(other, scope, true)
            )))
        }
    };
    check_qualifiers(inputs, on)?;
    let known = &inputs[..n + 2];
    let sa = sources_of(known, scope, a, "JOIN ON")?;
    let sb = sources_of(known, scope, b, "JOIN ON")?;
    for (side, sources) in [(a, &sa), (b, &sb)] {
        if sources.len() != 1 {
            return Err(PlanError::Invalid(format!(
                "Invalid comparison expression '{}' in join '{}'. Each side of the join comparision must contain references from exactly one source.",
                text(side, scope, true),
                text(on, scope, true)
            )));
        }
    }
    let name = |i: usize| &inputs[i].source.name;
    if sa[0] == sb[0] {
        return Err(PlanError::Invalid(format!(
            "Each side of the join must reference exactly one source and not the same source. Left side references `{}` and right references `{}`",
            name(sa[0]),
            name(sb[0])
        )));
    }
    let next = n + 1;
    if sa[0] != next && sb[0] != next {
        return Err(PlanError::Invalid(format!(
            "A join criteria is expected to reference the source (`{}`) in the FROM clause, instead the right source references `{}` and the left source references `{}`",
            name(next),
            name(sb[0]),
            name(sa[0])
        )));
    }
    Ok(if sb[0] == next {
        Criteria {
            left: a,
            right: b,
            flipped: false,
        }
    } else {
        Criteria {
            left: b,
            right: a,
            flipped: true,
        }
    })
}

/// A name for the synthetic key: `ROWKEY`, or `ROWKEY_<n>` when a source has that name.
fn synthetic_name(inputs: &[JoinInput]) -> String {
    let taken = |n: &str| {
        inputs
            .iter()
            .any(|i| i.source.columns().any(|(c, _)| c == n))
    };
    if !taken("ROWKEY") {
        return "ROWKEY".into();
    }
    (1..)
        .map(|n| format!("ROWKEY_{n}"))
        .find(|n| !taken(n))
        .unwrap_or_default()
}

/// ksqlDB's rule for joining windowed sources: both windowed or neither, and session windows
/// only with session windows.
fn check_windowing(left: &JoinInput, right: &JoinInput) -> Result<(), PlanError> {
    let name = |w: Option<Windowing>| w.map_or("not", |w| w.type_name());
    match (left.source.windowing, right.source.windowing) {
        (None, None) => Ok(()),
        (l, r) if l.is_some() != r.is_some() => Err(PlanError::Invalid(format!(
            "Can not join windowed source to non-windowed source.\n`{}` is {} windowed\n`{}` is {} windowed",
            left.qualifier,
            name(l),
            right.qualifier,
            name(r)
        ))),
        (Some(l), Some(r)) if (l == Windowing::Session) != (r == Windowing::Session) => {
            Err(PlanError::Invalid(format!(
                "Incompatible windowed sources.\nLeft source: {}\nRight source: {}\nSession windowed sources can only be joined to other session windowed sources, and may still not result in expected behaviour as session bounds must be an exact match for the join to work\nHopping and tumbling windowed sources can only be joined to other hopping and tumbling windowed sources",
                l.type_name(),
                r.type_name()
            )))
        }
        _ => Ok(()),
    }
}

/// Plans a query whose `FROM` has joins; `sink` names its output (for messages).
pub fn plan_join(
    catalog: &Catalog,
    q: &Query,
    sink: &str,
    transient: bool,
) -> Result<JoinPlan, PlanError> {
    let JoinPlan {
        inputs,
        steps,
        scope,
        synthetic_key,
        kind,
        ..
    } = joined_rows(catalog, q)?;
    let last = steps
        .last()
        .ok_or_else(|| PlanError::Internal("a join without steps".into()))?
        .clone();
    let rowkey = scope.columns.len().saturating_sub(1);
    let planner = ExprPlanner::new(&scope)?;
    let filter =
        where_clause(&planner, q.filter.as_ref()).map_err(|e| with_prefixed_names(e, &scope))?;
    let items = projection(
        q,
        &inputs,
        &scope,
        &planner,
        synthetic_key.then_some(rowkey),
    )?;
    let (key, value) = if transient {
        // (a push query's rows are its projection, in its order)
        if !q.partition_by.is_empty() {
            return Err(PlanError::Unsupported(
                "PARTITION BY in push queries is not supported yet".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut value = Vec::with_capacity(items.len());
        for (name, typed, ..) in items {
            check_unique(&mut seen, &name)?;
            value.push((name, compile(&planner, typed)?));
        }
        (Vec::new(), value)
    } else if !q.partition_by.is_empty() {
        partition_by(q, sink, &scope, &planner, items)?
    } else if last.foreign_key {
        foreign_key_projection(&inputs[0], &scope, &planner, items)?
    } else {
        join_key_projection(
            sink,
            &scope,
            &planner,
            items,
            &last,
            synthetic_key.then_some(rowkey),
        )?
    };
    check_windows(&steps)?;
    let partitioned = !q.partition_by.is_empty();
    if kind == SourceKind::Table && partitioned {
        return Err(PlanError::Unsupported(
            "PARTITION BY over a join of tables is not supported".into(),
        ));
    }
    Ok(JoinPlan {
        inputs,
        steps,
        scope,
        synthetic_key,
        filter,
        key,
        value,
        kind,
        partitioned,
    })
}

/// The joined rows of a query whose `FROM` has joins, checked as ksqlDB analyses them (but
/// for [`check_windows`], which its callers run after their own checks): a [`JoinPlan`]
/// without filter and projection.
pub(super) fn joined_rows(catalog: &Catalog, q: &Query) -> Result<JoinPlan, PlanError> {
    let (inputs, mut scope) = inputs(catalog, q)?;
    // ksqlDB's analysis: each ON condition, then the projection's qualifiers, then formats
    let mut all_criteria = Vec::new();
    for (n, join) in q.from.joins.iter().enumerate() {
        all_criteria.push(criteria(&inputs, &scope, n, &join.on)?);
    }
    for item in &q.select {
        match item {
            SelectItem::QualifiedWildcard(qualifier)
                if !inputs.iter().any(|i| &i.qualifier == qualifier) =>
            {
                return Err(PlanError::Invalid(format!(
                    "Failed to prepare statement: '{qualifier}' is not a valid stream/table name or alias."
                )))
            }
            SelectItem::Expr { expr, .. } => check_qualifiers(&inputs, expr)?,
            _ => {}
        }
    }
    // (ksqlDB's analyzer: windowed sources join windowed sources of a like kind)
    for right in &inputs[1..] {
        check_windowing(&inputs[0], right)?;
    }
    let kafka: Vec<&str> = inputs
        .iter()
        .filter(|i| i.source.value_format == Format::Kafka)
        .map(|i| i.qualifier.as_str())
        .collect();
    if !kafka.is_empty() {
        return Err(PlanError::Invalid(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka.join(", ")
        )));
    }
    // the steps (ksqlDB's verification of each join)
    let mut steps: Vec<JoinStep> = Vec::new();
    let mut left_kind = inputs[0].source.kind;
    for (n, (join, c)) in q.from.joins.iter().zip(&all_criteria).enumerate() {
        let right = &inputs[n + 1];
        let left_width = right.offset;
        let right_kind = right.source.kind;
        let (first, second) = if c.flipped {
            (c.right, c.left)
        } else {
            (c.left, c.right)
        };
        let got = format!(
            "{} = {}",
            text(first, &scope, false),
            text(second, &scope, false)
        );
        let left_name = &inputs[0].source.name;
        let right_name = &right.source.name;
        let left_scope = Scope {
            columns: scope.columns[..left_width].to_vec(),
        };
        let right_scope = Scope {
            columns: scope.columns[right.offset..right.offset + right.width()].to_vec(),
        };
        let l_column = column_of(&left_scope, c.left);
        let r_column = column_of(&right_scope, c.right);
        let right_on_key = right.source.key.len() == 1 && r_column == Some(0);
        match (left_kind, right_kind) {
            (SourceKind::Stream, SourceKind::Table) => {
                if matches!(join.kind, JoinKind::Right | JoinKind::Outer) {
                    let what = if join.kind == JoinKind::Outer {
                        "full-outer"
                    } else {
                        "right"
                    };
                    return Err(PlanError::Invalid(format!(
                        "Invalid join type: {what} join not supported for stream-table join. Got {left_name} {} {right_name}.",
                        join_words(join.kind)
                    )));
                }
                if !right_on_key {
                    return Err(PlanError::Invalid(format!(
                        "Invalid join condition: stream-table joins require to join on the table's primary key. Got {got}."
                    )));
                }
            }
            (SourceKind::Table, SourceKind::Stream) => {
                return Err(PlanError::Invalid(format!(
                    "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {left_name} {} {right_name}.",
                    join_words(join.kind)
                )));
            }
            (SourceKind::Table, SourceKind::Table) if !right_on_key => {
                return Err(PlanError::Invalid(format!(
                    "Invalid join condition: table-table joins require to join on the primary key of the right input table. Got {got}."
                )));
            }
            _ => {}
        }
        if let Some(windowing) = right.source.windowing {
            // (their keys, window included, must match as they are: ksqlDB cannot repartition
            // windowed keys, nor give one source's keys another's windows)
            let left_on_key = inputs[0].source.key.len() == 1 && l_column == Some(0);
            if (left_kind, right_kind) == (SourceKind::Table, SourceKind::Table) && !left_on_key {
                return Err(PlanError::Invalid(
                    "Foreign-key table-table joins are not supported on windowed tables.".into(),
                ));
            }
            if !left_on_key || !right_on_key || inputs[0].source.windowing != Some(windowing) {
                return Err(PlanError::Invalid(
                    "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.".into(),
                ));
            }
            // (joined as they are: a key matches with its window, byte for byte as in ksqlDB)
            if steps.len() + 2 < inputs.len() {
                return Err(PlanError::Unsupported(
                    "n-way joins of windowed sources are not supported yet".into(),
                ));
            }
        }
        // the left rows are keyed by the previous step's key (or the first source's key)
        let left_equiv = match steps.last() {
            Some(s) => s.equiv.clone(),
            None if inputs[0].source.key.len() == 1 => vec![0],
            None => Vec::new(),
        };
        let left_rekey = !l_column.is_some_and(|c| left_equiv.contains(&c));
        // a table joined on something else than its key: a foreign-key join
        let foreign_key = left_kind == SourceKind::Table && left_rekey;
        if foreign_key {
            if join.kind == JoinKind::Outer {
                return Err(PlanError::Invalid(format!(
                    "Invalid join type: full-outer join not supported for foreign-key table-table join. Got {left_name} {} {right_name}.",
                    join_words(join.kind)
                )));
            }
            if n > 0 {
                return Err(PlanError::Invalid(format!(
                    "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {got}."
                )));
            }
        }
        let planned = |side_scope: &Scope, e: &sql::Expr| -> Result<Typed, PlanError> {
            ExprPlanner::new(side_scope)?.plan_in("JOIN ON", e)
        };
        let lt = planned(&left_scope, c.left)?;
        let rt = planned(&right_scope, c.right)?;
        if lt.ty != rt.ty {
            let (ft, st) = if c.flipped {
                (&rt.ty, &lt.ty)
            } else {
                (&lt.ty, &rt.ty)
            };
            return Err(PlanError::Invalid(format!(
                "Invalid join condition: types don't match. Got {}{{{ft}}} = {}{{{st}}}.",
                text(first, &scope, false),
                text(second, &scope, false)
            )));
        }
        let r_column = r_column.map(|c| c + right.offset);
        // the columns equal to the key: both join expressions that are columns, and those of
        // the previous step when it is keyed by one of them
        let mut equiv: Vec<usize> = Vec::new();
        if foreign_key {
            // (the result is keyed by the left table's key)
            equiv.extend(0..inputs[0].source.key.len());
        } else if join.kind != JoinKind::Outer {
            equiv.extend(l_column);
            equiv.extend(r_column);
            if let Some(prev) = steps.last() {
                if prev.equiv.iter().any(|c| equiv.contains(c)) {
                    equiv.extend(prev.equiv.iter().copied());
                }
            }
        }
        let mut viable: Vec<usize> = Vec::new();
        let previous = steps.last().map(|s| s.viable.clone()).unwrap_or_default();
        for c in previous.into_iter().chain(l_column).chain(r_column) {
            if !foreign_key && equiv.contains(&c) && !viable.contains(&c) {
                viable.push(c);
            }
        }
        let key_name = l_column
            .or(r_column)
            .map(|c| {
                let col = &scope.columns[c];
                format!("{}_{}", col.qualifier.as_deref().unwrap_or(""), col.name)
            })
            .unwrap_or_else(|| synthetic_name(&inputs));
        steps.push(JoinStep {
            key_name,
            kind: join.kind,
            within: join.within,
            left_key: compile(&ExprPlanner::new(&left_scope)?, lt)?,
            left_rekey: left_rekey && !foreign_key,
            foreign_key,
            right_key: compile(&ExprPlanner::new(&right_scope)?, rt)?,
            right_rekey: !right_on_key,
            left_width,
            left_kind,
            right_kind,
            equiv,
            viable,
        });
        if right_kind == SourceKind::Stream {
            left_kind = SourceKind::Stream;
        }
    }
    let last = steps
        .last()
        .ok_or_else(|| PlanError::Internal("a join without steps".into()))?
        .clone();
    let synthetic_key = last.viable.is_empty() && !last.foreign_key;
    if synthetic_key {
        scope.columns.push(ScopeColumn {
            qualifier: None,
            name: synthetic_name(&inputs),
            ty: last.left_key.ty.clone(),
        });
    }
    let tables = inputs.iter().all(|i| i.source.kind == SourceKind::Table);
    Ok(JoinPlan {
        inputs,
        steps,
        scope,
        synthetic_key,
        filter: None,
        key: Vec::new(),
        value: Vec::new(),
        kind: if tables {
            SourceKind::Table
        } else {
            SourceKind::Stream
        },
        partitioned: false,
    })
}

/// The output of a join keyed by its join key: the first viable column the projection selects
/// names the key (or the synthetic key column, `rowkey`, when there is one).
fn join_key_projection(
    sink: &str,
    scope: &Scope,
    planner: &ExprPlanner<'_>,
    items: Vec<Item>,
    last: &JoinStep,
    rowkey: Option<usize>,
) -> Result<(Columns, Columns), PlanError> {
    let key_column = if let Some(rowkey) = rowkey {
        items.iter().any(|i| i.2 == Some(rowkey)).then_some(rowkey)
    } else {
        last.viable
            .iter()
            .copied()
            .find(|c| items.iter().any(|i| i.2 == Some(*c)))
    };
    let prefixed = |c: usize| {
        let col = &scope.columns[c];
        match &col.qualifier {
            Some(q) => format!("{q}_{}", col.name),
            None => col.name.clone(),
        }
    };
    let Some(key_column) = key_column else {
        let name = match rowkey {
            Some(k) => scope.columns[k].name.clone(),
            None => String::new(),
        };
        return Err(missing_key(sink, scope, &last.viable, &name));
    };
    let aliases: Vec<String> = items
        .iter()
        .filter(|i| i.2 == Some(key_column))
        .map(|i| i.0.clone())
        .collect();
    if aliases.len() > 1 {
        let mut sorted = aliases;
        sorted.sort();
        return Err(doubled_key(&prefixed(key_column), &sorted));
    }
    let mut key = Vec::new();
    let mut value = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, typed, column, _) in items {
        check_unique(&mut seen, &name)?;
        let compiled = compile(planner, typed)?;
        if column == Some(key_column) {
            key.push((name, compiled));
        } else {
            value.push((name, compiled));
        }
    }
    if value.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    Ok((key, value))
}

/// ksqlDB's message for a key column the projection selects more than once (`aliases` sorted).
fn doubled_key(column: &str, aliases: &[String]) -> PlanError {
    PlanError::Invalid(format!(
        "The projection contains a key column (`{column}`) more than once, aliased as: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
        join_and(aliases)
    ))
}

/// Refuses an output column name seen before.
fn check_unique(seen: &mut BTreeSet<String>, name: &str) -> Result<(), PlanError> {
    if seen.insert(name.to_string()) {
        Ok(())
    } else {
        Err(PlanError::Invalid(format!(
            "Duplicate value columns found in schema: `{name}`"
        )))
    }
}

/// The output of a foreign-key join: keyed by the left table's key columns, each of which the
/// projection must select once.
fn foreign_key_projection(
    left: &JoinInput,
    scope: &Scope,
    planner: &ExprPlanner<'_>,
    items: Vec<Item>,
) -> Result<(Columns, Columns), PlanError> {
    let count = left.source.key.len();
    let mut keys: Vec<Vec<String>> = vec![Vec::new(); count];
    let mut key: Vec<Option<(String, Compiled)>> = vec![None; count];
    let mut value = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, typed, column, _) in items {
        check_unique(&mut seen, &name)?;
        match column.filter(|c| *c < count) {
            Some(c) => {
                keys[c].push(name.clone());
                if key[c].is_none() {
                    key[c] = Some((name, compile(planner, typed)?));
                }
            }
            None => value.push((name, compile(planner, typed)?)),
        }
    }
    for (c, aliases) in keys.iter().enumerate() {
        if aliases.len() > 1 {
            let mut sorted = aliases.clone();
            sorted.sort();
            let col = &scope.columns[c];
            return Err(doubled_key(
                &format!("{}_{}", left.qualifier, col.name),
                &sorted,
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|c| key[*c].is_none())
        .map(|c| format!("`{}`", scope.columns[c].name))
        .collect();
    if !missing.is_empty() {
        let (what, columns) = if missing.len() == 1 {
            ("Primary key column missing", "Missing column")
        } else {
            ("Primary key columns missing", "Missing columns")
        };
        return Err(PlanError::Invalid(format!(
            "{what} in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (`{}`). {columns}: {}.",
            left.source.name,
            missing.join(", ")
        )));
    }
    if value.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    Ok((key.into_iter().flatten().collect(), value))
}

/// A join re-keyed by `PARTITION BY`: its expressions (over the joined row) are the output's
/// key columns, named after the projection item selecting each; every other item is a value.
fn partition_by(
    q: &Query,
    sink: &str,
    scope: &Scope,
    planner: &ExprPlanner<'_>,
    items: Vec<Item>,
) -> Result<(Columns, Columns), PlanError> {
    let partitions = &q.partition_by;
    let columns: Vec<Option<usize>> = partitions.iter().map(|p| column_of(scope, p)).collect();
    let mut keys: Vec<Option<(String, Compiled)>> = vec![None; partitions.len()];
    let mut value = Vec::new();
    for (name, typed, column, expr) in items {
        let matched = partitions
            .iter()
            .enumerate()
            .position(|(i, p)| match columns[i] {
                Some(c) => column == Some(c),
                None => expr.as_ref() == Some(p),
            });
        match matched {
            Some(i) if keys[i].is_none() => keys[i] = Some((name, compile(planner, typed)?)),
            _ => value.push((name, compile(planner, typed)?)),
        }
    }
    let mut key = Vec::new();
    let mut missing = false;
    for (p, k) in partitions.iter().zip(keys) {
        match k {
            Some(k) => key.push(k),
            None => {
                planner.plan_in("PARTITION BY", p)?;
                missing = true;
            }
        }
    }
    let all: Vec<String> = partitions.iter().map(|p| text(p, scope, false)).collect();
    check_partitioned(sink, &all, missing, &value)?;
    Ok((key, value))
}

/// A joined row's column named after its source: `ALIAS_NAME` (the synthetic key keeps its
/// name).
pub(super) fn prefixed(c: &ScopeColumn) -> String {
    match &c.qualifier {
        Some(q) => format!("{q}_{}", c.name),
        None => c.name.clone(),
    }
}

/// A message about the joined row with its columns named as ksqlDB's joined schema names
/// them ([`prefixed`]).
fn with_prefixed_names(e: PlanError, scope: &Scope) -> PlanError {
    let PlanError::Invalid(mut m) = e else {
        return e;
    };
    let columns: Vec<&ScopeColumn> = scope
        .columns
        .iter()
        .filter(|c| c.qualifier.is_some())
        .collect();
    for c in columns {
        if let Some(q) = &c.qualifier {
            m = replace_word(&m, &format!("{q}.{}", c.name), &prefixed(c));
        }
    }
    PlanError::Invalid(m)
}

/// `text` with every occurrence of `word` that no identifier character touches replaced.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + word.len()..].chars().next();
        out.push_str(&rest[..i]);
        if is_ident(before) || is_ident(after) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The name of a selected column of the joined row without an alias, as ksqlDB's: its own,
/// or [`prefixed`] when it is a pseudo column's or several sources have a column of that name.
pub(super) fn selected_name(inputs: &[JoinInput], c: &ScopeColumn) -> String {
    let shared = inputs
        .iter()
        .filter(|i| i.source.columns().any(|(n, _)| *n == c.name))
        .count()
        > 1;
    if c.qualifier.is_some() && (is_reserved(&c.name) || shared) {
        prefixed(c)
    } else {
        c.name.clone()
    }
}

/// A projection item: output name, typed expression, the column it selects if it is a bare
/// column, and its expression as written (`None` for `*`'s columns).
type Item = (String, Typed, Option<usize>, Option<sql::Expr>);

/// Output columns: names and compiled expressions.
type Columns = Vec<(String, Compiled)>;

/// The projection's items. `*` is every source's keys and values (after the synthetic key, when there
/// is one), `x.*` the source `x`'s.
fn projection(
    q: &Query,
    inputs: &[JoinInput],
    scope: &Scope,
    planner: &ExprPlanner<'_>,
    synthetic: Option<usize>,
) -> Result<Vec<Item>, PlanError> {
    let taken: BTreeSet<String> = inputs
        .iter()
        .flat_map(|i| {
            i.source
                .columns()
                .map(|(c, _)| c.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut next_generated = 0usize;
    let mut items = Vec::new();
    for item in &q.select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                let only = match item {
                    SelectItem::QualifiedWildcard(q) => Some(q.as_str()),
                    _ => None,
                };
                let partitioned = !q.partition_by.is_empty();
                if let (None, Some(k), false) = (only, synthetic, partitioned) {
                    items.push((
                        scope.columns[k].name.clone(),
                        planner.column_ref(k),
                        Some(k),
                        None,
                    ));
                }
                for input in inputs {
                    if only.is_some_and(|o| o != input.qualifier) {
                        continue;
                    }
                    let keys = input.source.key.len();
                    let count = keys + input.source.value.len();
                    // (re-keyed by PARTITION BY, ksqlDB's `*` is the joined row's values: each
                    // source's values, pseudo columns, then keys)
                    let columns: Vec<usize> = if partitioned {
                        (keys..count + 3).chain(0..keys).collect()
                    } else {
                        (0..count).collect()
                    };
                    for c in columns.into_iter().map(|c| c + input.offset) {
                        items.push((
                            prefixed(&scope.columns[c]),
                            planner.column_ref(c),
                            Some(c),
                            None,
                        ));
                    }
                }
            }
            SelectItem::Expr { expr, alias } => {
                if let Some(a) = alias {
                    if is_reserved(a) {
                        return Err(PlanError::Invalid(format!(
                            "Reserved column name in select: `{a}`. Please remove or alias the column."
                        )));
                    }
                }
                let typed = planner.plan_projected(expr)?;
                let column = column_of(scope, expr);
                let name = match (alias, column) {
                    (Some(a), _) => a.clone(),
                    (None, Some(c)) => selected_name(inputs, &scope.columns[c]),
                    (None, None) => match derived_name(expr) {
                        Some(n) => n,
                        None => loop {
                            let n = format!("KSQL_COL_{next_generated}");
                            next_generated += 1;
                            if !taken.contains(&n) {
                                break n;
                            }
                        },
                    },
                };
                items.push((name, typed, column, Some((**expr).clone())));
            }
        }
    }
    Ok(items)
}

/// Whether a type is or holds a map (which no key may be: its serialized form is not stable).
fn has_map(t: &SqlType) -> bool {
    match t {
        SqlType::Map(..) => true,
        SqlType::Array(item) => has_map(item),
        SqlType::Struct(fields) => fields.iter().any(|(_, t)| has_map(t)),
        _ => false,
    }
}

/// The `WITHIN` clause each join kind needs or refuses, and the keys sides are re-keyed by.
pub(super) fn check_windows(steps: &[JoinStep]) -> Result<(), PlanError> {
    for s in steps {
        if s.foreign_key && s.kind == JoinKind::Right {
            return Err(PlanError::Invalid(
                "RIGHT OUTER JOIN on a foreign key is not supported".into(),
            ));
        }
        if (s.left_rekey || s.right_rekey) && has_map(&s.left_key.ty) {
            return Err(PlanError::Invalid(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{}`. Column type: {}. See https://github.com/confluentinc/ksql/issues/6621 for more.",
                s.key_name, s.left_key.ty
            )));
        }
        match (s.left_kind, s.right_kind, s.within.is_some()) {
            (SourceKind::Stream, SourceKind::Stream, false) => {
                return Err(PlanError::Invalid(
                    "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select".into(),
                ))
            }
            (SourceKind::Stream, SourceKind::Table, true) => {
                return Err(PlanError::Invalid(
                    "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to execute your join again.".into(),
                ))
            }
            (SourceKind::Table, SourceKind::Table, true) => {
                return Err(PlanError::Invalid(
                    "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop the window definition (i.e. the WITHIN clause) and try to execute your Table-Table join again.".into(),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// ksqlDB's message when no projection item selects the join key.
fn missing_key(sink: &str, scope: &Scope, viable: &[usize], rowkey: &str) -> PlanError {
    if viable.is_empty() {
        return PlanError::Invalid(format!(
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink}` must include the join expression {rowkey} in its projection (eg, SELECT {rowkey}...).\n{rowkey} was added as a synthetic key column because the join criteria did not match any source column. This expression must be included in the projection and may be aliased. "
        ));
    }
    let names: Vec<String> = viable
        .iter()
        .map(|&c| {
            let col = &scope.columns[c];
            format!("{}.{}", col.qualifier.as_deref().unwrap_or(""), col.name)
        })
        .collect();
    let noun = if names.len() == 1 {
        "expression"
    } else {
        "expressions"
    };
    let list = match names.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        _ => names[0].clone(),
    };
    PlanError::Invalid(format!(
        "Key missing from projection (ie, SELECT). \nThe query used to build `{sink}` must include the join {noun} {list} in its projection (eg, SELECT {}...).",
        names[0]
    ))
}

#[cfg(test)]
mod tests {
    use super::replace_word;

    #[test]
    fn only_whole_names_are_replaced() {
        assert_eq!(
            replace_word(
                "Cannot compare A.ID to A.IDX or XA.ID (A.ID)",
                "A.ID",
                "A_ID"
            ),
            "Cannot compare A_ID to A.IDX or XA.ID (A_ID)"
        );
        assert_eq!(replace_word("A.ID", "A.ID", "A_ID"), "A_ID");
        assert_eq!(replace_word("nothing", "A.ID", "A_ID"), "nothing");
    }
}
