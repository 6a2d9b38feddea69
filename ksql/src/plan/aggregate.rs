//! Planning `GROUP BY` aggregations: the grouping expressions and the aggregate calls'
//! arguments are evaluated on the source's rows; every SELECT item and `HAVING` is rewritten
//! over the aggregated row (the group's key columns, then each call's result), so that an
//! expression outside an aggregate can only read what the group holds, as ksqlDB's
//! `AggregateAnalyzer` requires.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{self as sql, VisitMut, VisitorMut};

use super::expr::{function_args, function_name, ExprPlanner, Scope, ScopeColumn};
use super::join::JoinPlan;
use super::text::ksql_text;
use super::{
    compile, derived_name, is_reserved, source_scope, Compiled, GeneratedNames, PlanError,
};
use crate::catalog::{Catalog, DataSource};
use crate::functions::aggregate::{is_aggregate, Arg, Limits, Udaf};
use crate::parser::ast::{Emit, Query, SelectItem, SourceKind, WindowExpr};
use crate::types::SqlType;

/// One aggregate call: its function and the rows' arguments it reads.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function.
    pub udaf: Udaf,
    /// Its row arguments, over the source's rows.
    pub args: Vec<Compiled>,
}

/// A `GROUP BY` aggregation over one source, or over the rows of a join.
#[derive(Debug, Clone)]
pub struct AggregatePlan {
    /// The source read (a join's first).
    pub source: DataSource,
    /// The rows of the join aggregated, if it aggregates a join: its columns are then named
    /// `ALIAS_NAME` in `scope`.
    pub join: Option<Box<JoinPlan>>,
    /// The columns of the source's rows (as [`super::StatelessPlan::scope`]), or of the
    /// joined rows.
    pub scope: Scope,
    /// `WHERE`, on the source's rows.
    pub filter: Option<Compiled>,
    /// The grouping expressions, on the source's rows: the output's key columns.
    pub group: Vec<Compiled>,
    /// The aggregate calls.
    pub calls: Vec<Call>,
    /// The aggregated row's columns: the key columns, then each call's result.
    pub post: Scope,
    /// `HAVING`, on the aggregated row.
    pub having: Option<Compiled>,
    /// The output's key columns.
    pub key: Vec<(String, SqlType)>,
    /// The output's value columns, on the aggregated row.
    pub value: Vec<(String, Compiled)>,
    /// `WINDOW`: the groups are per key and window (the aggregated row then ends with
    /// `WINDOWSTART` and `WINDOWEND`).
    pub window: Option<WindowExpr>,
    /// `EMIT FINAL`: a window's result is written once, when the window closes.
    pub emit_final: bool,
    /// Planned for a push query: the values are the whole projection in its order (keys
    /// included), and not every key need be selected.
    pub transient: bool,
}

impl AggregatePlan {
    /// What is aggregated: a stream, or a table (a table's changes move rows between groups).
    pub fn input_kind(&self) -> SourceKind {
        match &self.join {
            Some(j) => j.kind,
            None => self.source.kind,
        }
    }

    /// The output's value columns.
    pub fn value_columns(&self) -> Vec<(String, SqlType)> {
        self.value
            .iter()
            .map(|(n, c)| (n.clone(), c.ty.clone()))
            .collect()
    }

    /// The types of the state of every call, one after the other.
    pub fn state_types(&self) -> Vec<SqlType> {
        self.calls
            .iter()
            .flat_map(|c| c.udaf.state_types())
            .collect()
    }
}

/// The name of the aggregated row's column holding group key `i`.
fn key_column(i: usize) -> String {
    format!("KSQL_GROUP_KEY_{i}")
}

/// The name of the aggregated row's column holding call `i`'s result (ksqlDB's name).
fn agg_column(i: usize) -> String {
    format!("KSQL_AGG_VARIABLE_{i}")
}

/// Whether `e` calls an aggregate function somewhere.
fn has_aggregate(e: &sql::Expr) -> Option<String> {
    let mut found = None;
    let _ = sql::visit_expressions(e, |x| {
        if let sql::Expr::Function(f) = x {
            let name = function_name(f);
            if is_aggregate(&name) {
                found = Some(name);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    found
}

/// Drops the qualifier of column references that resolve in `scope`, so that `T.A` and `A`
/// compare equal.
fn unqualify(e: &mut sql::Expr, scope: &Scope) {
    // (a window bound qualified by the source, `T.WINDOWSTART`, names the group's window)
    let qualifier = scope.columns.first().and_then(|c| c.qualifier.clone());
    let _ = sql::visit_expressions_mut(e, |x| {
        if let sql::Expr::CompoundIdentifier(parts) = x {
            let bound = parts.len() == 2
                && WINDOW_BOUNDS.contains(&parts[1].value.as_str())
                && qualifier.as_deref() == Some(parts[0].value.as_str());
            if parts.len() == 2
                && (bound
                    || scope
                        .resolve(Some(&parts[0].value), &parts[1].value)
                        .is_ok())
            {
                *x = sql::Expr::Identifier(parts[1].clone());
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Strips parentheses around `e`.
fn bare(e: &sql::Expr) -> &sql::Expr {
    match e {
        sql::Expr::Nested(inner) => bare(inner),
        other => other,
    }
}

/// Rewrites expressions over the aggregated row: grouping expressions become key columns,
/// aggregate calls result columns; column references left over are what is not grouped.
struct Rewriter<'a> {
    scope: &'a Scope,
    planner: &'a ExprPlanner<'a>,
    group: &'a [sql::Expr],
    limits: Limits,
    /// The calls so far, by their text (a call written twice is computed once).
    calls: Vec<(String, Call)>,
    /// Column references found outside both.
    loose: Vec<String>,
    /// The right-hand sides of `->`, which are field names, not columns.
    fields: BTreeSet<*const sql::Expr>,
    error: Option<PlanError>,
}

impl Rewriter<'_> {
    fn group_index(&self, e: &sql::Expr) -> Option<usize> {
        let e = bare(e);
        self.group.iter().position(|g| bare(g) == e)
    }

    fn call(&mut self, f: &sql::Function) -> Result<usize, PlanError> {
        let name = function_name(f);
        let mut args = function_args(f)?;
        for a in &args {
            if let Some(inner) = has_aggregate(a) {
                let _ = inner;
                return Err(PlanError::Invalid(format!(
                    "Aggregate functions can not be nested: {}",
                    ksql_text(&sql::Expr::Function(f.clone()))
                )));
            }
        }
        // COUNT(*) and COUNT() count ROWTIME, which is never null: as a literal, they also
        // count a table's rows, whose changes carry no time
        if args.is_empty() && name == "COUNT" {
            args.push(sql::Expr::Value(
                sql::Value::Number("1".into(), false).with_empty_span(),
            ));
        }
        let text = ksql_text(&sql::Expr::Function(f.clone()));
        if let Some(i) = self.calls.iter().position(|(t, _)| *t == text) {
            return Ok(i);
        }
        let mut typed = Vec::with_capacity(args.len());
        let mut described = Vec::with_capacity(args.len());
        for a in &args {
            let t = self.planner.plan_in("SELECT", a)?;
            let literal = match a {
                sql::Expr::Value(v) => {
                    super::expr::literal(&v.value)
                        .ok()
                        .and_then(|l| match l.expr {
                            datafusion_expr::Expr::Literal(s, _) => Some(s),
                            _ => None,
                        })
                }
                sql::Expr::UnaryOp {
                    op: sql::UnaryOperator::Minus,
                    expr,
                } => match expr.as_ref() {
                    sql::Expr::Value(v) => {
                        super::expr::literal(&v.value)
                            .ok()
                            .and_then(|l| match l.expr {
                                datafusion_expr::Expr::Literal(s, _) => s.arithmetic_negate().ok(),
                                _ => None,
                            })
                    }
                    _ => None,
                },
                _ => None,
            };
            described.push(Arg {
                ty: t.ty.clone(),
                literal,
                text: ksql_text(a),
            });
            typed.push(t);
        }
        let (udaf, row_args) = Udaf::resolve(&name, &described, self.limits)?;
        let args = typed
            .into_iter()
            .take(row_args)
            .map(|t| compile(self.planner, t))
            .collect::<Result<Vec<_>, _>>()?;
        self.calls.push((text, Call { udaf, args }));
        Ok(self.calls.len() - 1)
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut sql::Expr) -> ControlFlow<()> {
        if self.fields.contains(&(e as *const sql::Expr)) {
            return ControlFlow::Continue(());
        }
        if let Some(i) = self.group_index(e) {
            *e = sql::Expr::Identifier(sql::Ident::new(key_column(i)));
            return ControlFlow::Continue(());
        }
        match e {
            sql::Expr::Function(f) if is_aggregate(&function_name(f)) => match self.call(f) {
                Ok(i) => *e = sql::Expr::Identifier(sql::Ident::new(agg_column(i))),
                Err(err) => {
                    self.error = Some(err);
                    return ControlFlow::Break(());
                }
            },
            sql::Expr::BinaryOp {
                op: sql::BinaryOperator::Arrow,
                right,
                ..
            } => {
                self.fields.insert(right.as_ref() as *const sql::Expr);
            }
            sql::Expr::Identifier(id) if self.scope.resolve(None, &id.value).is_ok() => {
                self.loose.push(id.value.clone());
            }
            sql::Expr::CompoundIdentifier(parts)
                if parts.len() == 2
                    && self
                        .scope
                        .resolve(Some(&parts[0].value), &parts[1].value)
                        .is_ok() =>
            {
                self.loose.push(parts[1].value.clone());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Plans an aggregation (a query with `GROUP BY`, or with aggregate calls), whose output is
/// named `sink` (for messages).
pub fn plan_aggregate(
    catalog: &Catalog,
    q: &Query,
    sink: &str,
    limits: Limits,
    transient: bool,
) -> Result<AggregatePlan, PlanError> {
    // (a join's rows are aggregated as one source's, their columns named after their source)
    let flat = if q.from.joins.is_empty() {
        None
    } else {
        Some(super::flat_join::flatten(catalog, q)?)
    };
    let q = flat.as_ref().map_or(q, |f| &f.query);
    if !q.partition_by.is_empty() {
        return Err(PlanError::Unsupported(
            "PARTITION BY with GROUP BY is not supported yet".into(),
        ));
    }
    if q.select.iter().any(|i| {
        matches!(i, SelectItem::Expr { expr, .. } if super::table_functions::has_table_function(expr))
    }) {
        return Err(PlanError::Invalid(
            "Table functions cannot be used with aggregations.".into(),
        ));
    }
    let source = match &flat {
        Some(f) => f.plan.inputs[0].source.clone(),
        None => catalog
            .source(&q.from.first.name)
            .map_err(PlanError::Invalid)?
            .clone(),
    };
    let kind = flat.as_ref().map_or(source.kind, |f| f.plan.kind);
    if matches!(source.value_format, crate::format::Format::Kafka) {
        return Err(PlanError::Invalid(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support GROUP BY.",
            source.name
        )));
    }
    if q.window.is_some() && kind == SourceKind::Table {
        return Err(PlanError::Invalid(
            "Windowing not supported for table aggregations.".into(),
        ));
    }
    let windowed = match &flat {
        Some(f) => f.plan.inputs.iter().any(|i| i.source.windowing.is_some()),
        None => source.windowing.is_some(),
    };
    if windowed {
        return Err(PlanError::Unsupported(
            "aggregations of windowed sources are not supported yet".into(),
        ));
    }
    if q.emit == Some(Emit::Final) && q.window.is_none() {
        return Err(PlanError::Invalid(
            "EMIT FINAL is only supported for windowed aggregations.".into(),
        ));
    }
    let scope = match &flat {
        Some(f) => f.scope.clone(),
        None => source_scope(&source, q.from.first.qualifier()),
    };
    let planner = ExprPlanner::new(&scope)?;
    if q.window.is_some() {
        check_window_bounds(q)?;
    }
    // (the rows a windowed aggregation filters have no window yet)
    if q.window.is_some() {
        if let Some(bound) = q
            .filter
            .as_ref()
            .and_then(|f| super::first_named(f, &WINDOW_BOUNDS))
        {
            return Err(PlanError::Invalid(format!(
                "Error in WHERE expression: Unknown column {bound}."
            )));
        }
    }
    // (an aggregate is not a function a row can call)
    if let Some(name) = q.filter.as_ref().and_then(has_aggregate) {
        return Err(PlanError::Invalid(format!(
            "Can't find any functions with the name '{name}'"
        )));
    }
    let filter = super::where_clause(&planner, q.filter.as_ref())?;
    // the grouping expressions, unqualified
    let mut group: Vec<sql::Expr> = Vec::new();
    for g in &q.group_by {
        if let Some(name) = has_aggregate(g) {
            return Err(PlanError::Invalid(format!(
                "GROUP BY does not support aggregate functions: {name} is an aggregate function."
            )));
        }
        let mut g = g.clone();
        unqualify(&mut g, &scope);
        if group.iter().any(|x| bare(x) == bare(&g)) {
            return Err(PlanError::Invalid(format!(
                "Duplicate GROUP BY expression: {}",
                super::qualified_text(&g, &source.name, &scope)
            )));
        }
        group.push(g);
    }
    // (a push query may aggregate every row into one group, and need not select its keys)
    if transient && group.is_empty() {
        group.push(sql::Expr::Value(
            sql::Value::Number("1".into(), false).with_empty_span(),
        ));
    }
    // the projection: `*` is every column of the source
    let mut items: Vec<(Option<String>, sql::Expr)> = Vec::new();
    for item in &q.select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                for (name, _) in source.columns() {
                    items.push((None, sql::Expr::Identifier(sql::Ident::new(name.clone()))));
                }
            }
            SelectItem::Expr { expr, alias } => {
                if let Some(a) = alias {
                    if is_reserved(a) {
                        return Err(PlanError::Invalid(format!(
                            "`{a}` is a reserved column name. You cannot use it as an alias for a column."
                        )));
                    }
                }
                let mut e = (**expr).clone();
                unqualify(&mut e, &scope);
                items.push((alias.clone(), e));
            }
        }
    }
    let mut generated = match &flat {
        Some(f) => GeneratedNames::taking(f.taken.clone()),
        None => GeneratedNames::new(&source),
    };
    let names: Vec<String> = items
        .iter()
        .map(|(alias, e)| {
            alias
                .clone()
                .or_else(|| derived_name(e))
                .unwrap_or_else(|| generated.name())
        })
        .collect();
    // each grouping expression is a key column, named after the item selecting it
    let mut key_items: Vec<Vec<usize>> = vec![Vec::new(); group.len()];
    for (i, (_, e)) in items.iter().enumerate() {
        if let Some(g) = group.iter().position(|g| bare(g) == bare(e)) {
            key_items[g].push(i);
        }
    }
    for selected in &key_items {
        if selected.len() > 1 {
            return Err(PlanError::Invalid(format!(
                "The projection contains a key column more than once: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                selected
                    .iter()
                    .map(|i| format!("`{}`", names[*i]))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
    }
    let mut rewriter = Rewriter {
        scope: &scope,
        planner: &planner,
        group: &group,
        limits,
        calls: Vec::new(),
        loose: Vec::new(),
        fields: BTreeSet::new(),
        error: None,
    };
    // every item outside the key, rewritten over the aggregated row
    let mut values: Vec<(String, sql::Expr)> = Vec::new();
    let mut not_grouped: Vec<String> = Vec::new();
    for (i, (_, e)) in items.iter().enumerate() {
        if let Some(g) = key_items.iter().position(|k| k.contains(&i)) {
            // (a push query's rows are its projection: its keys are values too)
            if transient {
                values.push((
                    names[i].clone(),
                    sql::Expr::Identifier(sql::Ident::new(key_column(g))),
                ));
            }
            continue;
        }
        let mut rewritten = e.clone();
        rewriter.loose.clear();
        rewriter.fields.clear();
        let _ = rewritten.visit(&mut rewriter);
        if let Some(err) = rewriter.error.take() {
            return Err(err);
        }
        if !rewriter.loose.is_empty() {
            // (an unknown function is reported as such first)
            if let Err(PlanError::Invalid(m)) = planner.plan(e) {
                let unknown = m
                    .strip_prefix("Can't find any functions with the name '")
                    .and_then(|rest| rest.strip_suffix('\''));
                if unknown.is_some_and(|name| !is_aggregate(name)) {
                    return Err(PlanError::Invalid(m));
                }
            }
            not_grouped.push(ksql_text(e));
        }
        values.push((names[i].clone(), rewritten));
    }
    let having = match &q.having {
        Some(h) => {
            let mut rewritten = h.clone();
            unqualify(&mut rewritten, &scope);
            rewriter.loose.clear();
            rewriter.fields.clear();
            let _ = rewritten.visit(&mut rewriter);
            if let Some(err) = rewriter.error.take() {
                return Err(err);
            }
            if let Some(first) = rewriter.loose.first() {
                if not_grouped.is_empty() {
                    return Err(PlanError::Invalid(format!(
                        "Non-aggregate HAVING expression not part of GROUP BY: {first}\nConsider switching the HAVING clause to a WHERE clause before the GROUP BY."
                    )));
                }
            }
            Some(rewritten)
        }
        None => None,
    };
    let (texts, calls): (Vec<String>, Vec<Call>) = rewriter.calls.into_iter().unzip();
    if calls.is_empty() {
        return Err(PlanError::Invalid(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.".into(),
        ));
    }
    if !not_grouped.is_empty() {
        return Err(PlanError::Invalid(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
            not_grouped.join(", ")
        )));
    }
    if group.is_empty() {
        return Err(PlanError::Invalid(format!(
            "CREATE TABLE AS SELECT statement does not support aggregate function [{}] without a GROUP BY clause.",
            texts
                .iter()
                .map(|t| t.replace("()", "(ROWTIME)"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if kind == SourceKind::Table {
        let mut refused: Vec<&str> = Vec::new();
        for c in &calls {
            if !c.udaf.undoable() && !refused.contains(&c.udaf.name()) {
                refused.push(c.udaf.name());
            }
        }
        if !refused.is_empty() {
            let names: Vec<String> = refused.iter().map(|s| s.to_string()).collect();
            return Err(PlanError::Invalid(if names.len() == 1 {
                format!(
                    "The aggregation function {} cannot be applied to a table source, only to a stream source.",
                    names[0]
                )
            } else {
                format!(
                    "The aggregation functions {} cannot be applied to a table source, only to a stream source.",
                    super::join_and(&names)
                )
            }));
        }
    }
    // the keys: every grouping expression must be selected
    let missing: Vec<String> = group
        .iter()
        .zip(&key_items)
        .filter(|(_, k)| k.is_empty())
        .map(|(g, _)| ksql_text(g))
        .collect();
    if !missing.is_empty() && !transient {
        let (head, noun) = if missing.len() == 1 {
            ("Key missing from projection (ie, SELECT). ", "expression")
        } else {
            ("Keys missing from projection (ie, SELECT). ", "expressions")
        };
        return Err(PlanError::Invalid(format!(
            "{head}\nThe query used to build `{sink}` must include the grouping {noun} {} in its projection (eg, SELECT {}...).",
            super::join_and(&missing),
            missing.join(", ")
        )));
    }
    let mut group_compiled = Vec::with_capacity(group.len());
    let mut key = Vec::with_capacity(group.len());
    for (i, (g, k)) in group.iter().zip(&key_items).enumerate() {
        let t = planner.plan_in("GROUP BY", g)?;
        let name = k
            .first()
            .map_or_else(|| key_column(i), |&k| names[k].clone());
        key.push((name, t.ty.clone()));
        group_compiled.push(compile(&planner, t)?);
    }
    // the aggregated row
    let mut post = Scope::default();
    for (i, (_, ty)) in key.iter().enumerate() {
        post.columns.push(ScopeColumn {
            qualifier: None,
            name: key_column(i),
            ty: ty.clone(),
        });
    }
    for (i, c) in calls.iter().enumerate() {
        post.columns.push(ScopeColumn {
            qualifier: None,
            name: agg_column(i),
            ty: c.udaf.result_type(),
        });
    }
    if q.window.is_some() {
        for name in WINDOW_BOUNDS {
            post.columns.push(ScopeColumn {
                qualifier: None,
                name: name.to_string(),
                ty: SqlType::Bigint,
            });
        }
    }
    let post_planner = ExprPlanner::new(&post)?;
    let mut seen = BTreeSet::new();
    if !transient {
        for (name, _) in &key {
            seen.insert(name.clone());
        }
    }
    let mut value = Vec::with_capacity(values.len());
    for (name, e) in values {
        if !seen.insert(name.clone()) {
            let t = post_planner.plan_in("SELECT", &e)?;
            return Err(PlanError::Invalid(format!(
                "Duplicate value columns found in schema: `{name}` {}",
                t.ty
            )));
        }
        let t = post_planner
            .plan_projected(&e)
            .map_err(|err| in_query_terms(err, &texts, &group))?;
        value.push((name, compile(&post_planner, t)?));
    }
    if value.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    let having = match having {
        Some(h) => {
            let t = post_planner
                .plan_in("HAVING", &h)
                .map_err(|err| in_query_terms(err, &texts, &group))?;
            if t.ty != SqlType::Boolean {
                return Err(PlanError::Invalid(format!(
                    "Type error in HAVING expression: Should evaluate to boolean but is {} instead.",
                    t.ty
                )));
            }
            Some(compile(&post_planner, t)?)
        }
        None => None,
    };
    Ok(AggregatePlan {
        source,
        join: flat.as_ref().map(|f| Box::new(f.plan.clone())),
        scope,
        filter,
        group: group_compiled,
        calls,
        post,
        having,
        key,
        value,
        window: q.window,
        emit_final: q.emit == Some(Emit::Final),
        transient,
    })
}

/// A message about the aggregated row in the query's words: its columns named by the calls
/// (`texts`) and grouping expressions they hold, as ksqlDB's messages name them.
fn in_query_terms(e: PlanError, texts: &[String], group: &[sql::Expr]) -> PlanError {
    let PlanError::Invalid(mut m) = e else {
        return e;
    };
    // (from the last: `KSQL_AGG_VARIABLE_1` begins `KSQL_AGG_VARIABLE_10`)
    for (i, t) in texts.iter().enumerate().rev() {
        m = m.replace(&agg_column(i), t);
    }
    for (i, g) in group.iter().enumerate().rev() {
        m = m.replace(&key_column(i), &ksql_text(g));
    }
    PlanError::Invalid(m)
}

/// The window bounds columns of a windowed aggregation's rows.
const WINDOW_BOUNDS: [&str; 2] = ["WINDOWSTART", "WINDOWEND"];

/// The window bounds only exist once rows are grouped into windows: they can be selected, and
/// nothing else.
fn check_window_bounds(q: &Query) -> Result<(), PlanError> {
    let mut clauses: Vec<&sql::Expr> = q.group_by.iter().collect();
    clauses.extend(q.having.iter());
    let mut calls = Vec::new();
    for item in &q.select {
        if let SelectItem::Expr { expr, .. } = item {
            let _ = sql::visit_expressions(expr.as_ref(), |x| {
                if let sql::Expr::Function(f) = x {
                    if is_aggregate(&function_name(f)) {
                        calls.push(x.clone());
                    }
                }
                ControlFlow::<()>::Continue(())
            });
        }
    }
    clauses.extend(calls.iter());
    for e in clauses {
        let mut found = None;
        let _ = sql::visit_expressions(e, |x| {
            if let sql::Expr::Identifier(id) = x {
                if WINDOW_BOUNDS.contains(&id.value.as_str()) {
                    found = Some(id.value.clone());
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if let Some(name) = found {
            return Err(PlanError::Invalid(format!(
                "Window bounds column {name} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions.\nSee https://github.com/confluentinc/ksql/issues/4397"
            )));
        }
    }
    Ok(())
}

/// Whether `q` aggregates: it has `GROUP BY`, or calls an aggregate function in its
/// projection or `HAVING`.
pub fn is_aggregation(q: &Query) -> bool {
    !q.group_by.is_empty()
        || q.having.is_some()
        || q.select.iter().any(|i| match i {
            SelectItem::Expr { expr, .. } => has_aggregate(expr).is_some(),
            _ => false,
        })
}
