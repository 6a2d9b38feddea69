//! Planning: a query resolved against the catalogue into the steps a persistent or push query
//! runs, with every expression typed and compiled into a DataFusion physical expression.

pub mod aggregate;
pub mod cast;
pub mod coerce;
pub mod expr;
mod flat_join;
pub mod join;
pub mod magic_timestamps;
pub mod table_functions;
pub mod text;

use std::sync::Arc;

use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_physical_expr::PhysicalExpr;
use sqlparser::ast as sql;

use crate::catalog::{Catalog, DataSource};
use crate::parser::ast::{Query, SelectItem, SourceKind};
use crate::types::SqlType;
use expr::{ExprPlanner, Scope, ScopeColumn, Typed};

/// A query that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The statement is wrong (ksqlDB's message).
    #[error("{0}")]
    Invalid(String),
    /// An expression ksqlDB types but cannot compile (IN-list coercion, unsupported casts):
    /// reported with the clause it is in (`Invalid Predicate: ...`).
    #[error("{0}")]
    Codegen(String),
    /// Something this engine does not do yet.
    #[error("{0}")]
    Unsupported(String),
    /// A fault of the planner itself.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A compiled expression and its type.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// What DataFusion evaluates.
    pub physical: Arc<dyn PhysicalExpr>,
    /// The SQL type of its values.
    pub ty: SqlType,
}

/// A stateless query over one source: filter, then project into key and value columns.
#[derive(Debug, Clone)]
pub struct StatelessPlan {
    /// The source read.
    pub source: DataSource,
    /// The columns rows are evaluated over: the source's keys, values, then `ROWTIME`,
    /// `ROWPARTITION`, `ROWOFFSET` (and `WINDOWSTART`, `WINDOWEND` for windowed keys).
    pub scope: Scope,
    /// `WHERE`.
    pub filter: Option<Compiled>,
    /// The output's key columns and their expressions.
    pub key: Vec<(String, Compiled)>,
    /// The output's value columns and their expressions.
    pub value: Vec<(String, Compiled)>,
    /// The arrays of the projection's table functions (`EXPLODE`), one per column appended
    /// to the scope's.
    pub explode: Vec<Compiled>,
    /// Planned for a push query (see [`plan_transient`]).
    pub transient: bool,
}

impl StatelessPlan {
    /// The output's key columns.
    pub fn key_columns(&self) -> Vec<(String, SqlType)> {
        self.key
            .iter()
            .map(|(n, c)| (n.clone(), c.ty.clone()))
            .collect()
    }

    /// The output's value columns.
    pub fn value_columns(&self) -> Vec<(String, SqlType)> {
        self.value
            .iter()
            .map(|(n, c)| (n.clone(), c.ty.clone()))
            .collect()
    }
}

/// The scope of rows read from `source` (aliased `qualifier`).
pub fn source_scope(source: &DataSource, qualifier: &str) -> Scope {
    let q = Some(qualifier.to_string());
    let mut columns: Vec<ScopeColumn> = source
        .columns()
        .map(|(n, t)| ScopeColumn {
            qualifier: q.clone(),
            name: n.clone(),
            ty: t.clone(),
        })
        .collect();
    let mut pseudo = vec![
        ("ROWTIME", SqlType::Bigint),
        ("ROWPARTITION", SqlType::Int),
        ("ROWOFFSET", SqlType::Bigint),
    ];
    if source.windowing.is_some() {
        pseudo.push(("WINDOWSTART", SqlType::Bigint));
        pseudo.push(("WINDOWEND", SqlType::Bigint));
    }
    columns.extend(pseudo.into_iter().map(|(n, t)| ScopeColumn {
        qualifier: q.clone(),
        name: n.to_string(),
        ty: t,
    }));
    Scope { columns }
}

/// Compiles a typed expression into a physical one.
pub fn compile(planner: &ExprPlanner<'_>, t: Typed) -> Result<Compiled, PlanError> {
    let physical = datafusion_physical_expr::create_physical_expr(
        &t.expr,
        planner.schema(),
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )
    .map_err(|e| PlanError::Invalid(e.to_string()))?;
    Ok(Compiled { physical, ty: t.ty })
}

/// The name ksqlDB gives a projected expression without an alias, when it derives one: a
/// column's name, a struct field's name.
fn derived_name(e: &sql::Expr) -> Option<String> {
    match e {
        sql::Expr::Identifier(id) => Some(id.value.clone()),
        sql::Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
        sql::Expr::BinaryOp {
            op: sql::BinaryOperator::Arrow,
            right,
            ..
        } => match right.as_ref() {
            sql::Expr::Identifier(id) => Some(id.value.clone()),
            _ => None,
        },
        sql::Expr::Nested(inner) => derived_name(inner),
        _ => None,
    }
}

/// A name for the `position`-th expression of a list, derived or `KSQL_COL_<position>`.
fn column_name(e: &sql::Expr, position: usize) -> String {
    derived_name(e).unwrap_or_else(|| format!("KSQL_COL_{position}"))
}

/// ksqlDB's generated names `KSQL_COL_<n>`: numbered over the generated names only, skipping
/// names the source's columns already have.
struct GeneratedNames {
    next: usize,
    taken: std::collections::BTreeSet<String>,
}

impl GeneratedNames {
    fn new(source: &DataSource) -> Self {
        Self::taking(source.columns().map(|(n, _)| n.clone()).collect())
    }

    /// Generated names that skip `taken`.
    fn taking(taken: std::collections::BTreeSet<String>) -> Self {
        GeneratedNames { next: 0, taken }
    }

    fn name(&mut self) -> String {
        loop {
            let n = format!("KSQL_COL_{}", self.next);
            self.next += 1;
            if !self.taken.contains(&n) {
                return n;
            }
        }
    }
}

/// Whether `name` is a pseudo column's (which no output column may be named).
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND"
    )
}

/// The column an expression names, if it is a column reference.
fn column_of(scope: &Scope, e: &sql::Expr) -> Option<usize> {
    match e {
        sql::Expr::Identifier(id) => scope.resolve(None, &id.value).ok(),
        sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            scope.resolve(Some(&parts[0].value), &parts[1].value).ok()
        }
        sql::Expr::Nested(inner) => column_of(scope, inner),
        _ => None,
    }
}

/// An expression as ksqlDB prints it in messages: its columns qualified by their source.
fn qualified_text(e: &sql::Expr, source: &str, scope: &Scope) -> String {
    let text = e.to_string();
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let called = chars.get(i) == Some(&'(');
            let qualified = start > 0 && chars[start - 1] == '.';
            if !called && !qualified && scope.resolve(None, &word).is_ok() {
                out.push_str(&format!("{source}.{word}"));
            } else {
                out.push_str(&word);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// A stateless query re-keyed by `PARTITION BY`: its expressions are the output's key columns
/// (named after the projection item that selects them, else after the expression), every other
/// projection item a value column.
#[allow(clippy::too_many_arguments)]
fn partition_by(
    q: &Query,
    sink: &str,
    source: DataSource,
    scope: Scope,
    planner: &ExprPlanner<'_>,
    filter: Option<Compiled>,
    items: Vec<(String, Typed, Option<usize>)>,
    item_exprs: Vec<Option<sql::Expr>>,
    star: bool,
) -> Result<StatelessPlan, PlanError> {
    let is_null = |e: &sql::Expr| matches!(e, sql::Expr::Value(v) if v.value == sql::Value::Null);
    let by_null = q.partition_by.len() == 1 && is_null(&q.partition_by[0]);
    if q.partition_by.len() > 1 && q.partition_by.iter().any(is_null) {
        return Err(PlanError::Invalid(
            "Cannot PARTITION BY multiple columns including NULL".into(),
        ));
    }
    // a name the projection gives an output column is not a source column
    for p in &q.partition_by {
        if let sql::Expr::Identifier(id) = p {
            let aliased = q
                .select
                .iter()
                .any(|i| matches!(i, SelectItem::Expr { alias: Some(a), .. } if *a == id.value));
            if aliased && scope.resolve(None, &id.value).is_err() {
                return Err(PlanError::Invalid(format!(
                    "PARTITION BY column '{0}' cannot be resolved. '{0}' must be a column in the source schema since PARTITION BY is applied on the input.",
                    id.value
                )));
            }
        }
    }
    let partitions: Vec<&sql::Expr> = if by_null {
        Vec::new()
    } else {
        q.partition_by.iter().collect()
    };
    let mut keys: Vec<Option<(String, Compiled)>> = vec![None; partitions.len()];
    let mut key_aliases: Vec<Vec<String>> = vec![Vec::new(); partitions.len()];
    let mut value = Vec::new();
    let columns: Vec<Option<usize>> = partitions.iter().map(|p| column_of(&scope, p)).collect();
    for ((name, typed, column), expr) in items.into_iter().zip(item_exprs) {
        let matched = partitions
            .iter()
            .enumerate()
            .position(|(i, p)| match columns[i] {
                Some(c) => column == Some(c),
                None => expr.as_ref() == Some(*p),
            });
        match matched {
            Some(i) => {
                key_aliases[i].push(name.clone());
                if keys[i].is_none() {
                    keys[i] = Some((name, compile(planner, typed)?));
                }
            }
            None => value.push((name, compile(planner, typed)?)),
        }
    }
    for aliases in &key_aliases {
        if aliases.len() > 1 {
            return Err(PlanError::Invalid(format!(
                "The projection contains a key column (`{}`) more than once, aliased as: {}.",
                aliases[0],
                join_and(aliases)
            )));
        }
    }
    let mut key = Vec::new();
    let mut missing = false;
    for (i, (p, k)) in partitions.iter().zip(keys).enumerate() {
        match k {
            Some(k) => key.push(k),
            None if star => {
                let typed = planner.plan_in("PARTITION BY", p)?;
                key.push((column_name(p, i), compile(planner, typed)?));
            }
            None => {
                planner.plan_in("PARTITION BY", p)?;
                missing = true;
            }
        }
    }
    let all: Vec<String> = partitions
        .iter()
        .map(|p| qualified_text(p, &source.name, &scope))
        .collect();
    check_partitioned(sink, &all, missing, &value)?;
    Ok(StatelessPlan {
        source,
        scope,
        filter,
        key,
        value,
        explode: Vec::new(),
        transient: false,
    })
}

/// ksqlDB's checks of a projection re-keyed by `PARTITION BY`: every partitioning expression
/// selected (when one is `missing`, the message names them `all`, as printed), and some value
/// column left.
fn check_partitioned<T>(
    sink: &str,
    all: &[String],
    missing: bool,
    value: &[T],
) -> Result<(), PlanError> {
    if missing {
        let noun = if all.len() == 1 {
            "expression"
        } else {
            "expressions"
        };
        return Err(PlanError::Invalid(format!(
            "The query used to build `{sink}` must include the partitioning {noun} {} in its projection (eg, SELECT {}...).",
            join_and(all),
            all.join(", ")
        )));
    }
    if value.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    Ok(())
}

/// The first of `names` that `e` names as a column (qualified or not).
pub fn first_named(e: &sql::Expr, names: &[&'static str]) -> Option<&'static str> {
    let mut found = None;
    let _ = sql::visit_expressions(e, |x| {
        let name = match x {
            sql::Expr::Identifier(id) => Some(id.value.as_str()),
            sql::Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.as_str()),
            _ => None,
        };
        found = name.and_then(|n| names.iter().copied().find(|c| *c == n));
        if found.is_some() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    found
}

/// `WHERE`, which must be a boolean.
fn where_clause(
    planner: &ExprPlanner<'_>,
    filter: Option<&sql::Expr>,
) -> Result<Option<Compiled>, PlanError> {
    let Some(f) = filter else { return Ok(None) };
    let t = planner.plan_in("WHERE", &magic_timestamps::rewrite(f)?)?;
    if t.ty != SqlType::Boolean {
        return Err(PlanError::Invalid(format!(
            "Type error in WHERE expression: Should evaluate to boolean but is {} ({}) instead.",
            text::ksql_text(f),
            t.ty
        )));
    }
    Ok(Some(compile(planner, t)?))
}

/// `A`, `A and B`, `A, B and C`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Plans a query with no join, window or aggregation, whose output is named `sink` (for
/// messages). With `keyless`, a stream query that selects none of its keys writes records
/// without keys (ksqlDB's new planner) instead of being refused.
pub fn plan_stateless(
    catalog: &Catalog,
    q: &Query,
    sink: &str,
    keyless: bool,
) -> Result<StatelessPlan, PlanError> {
    plan_projection(catalog, q, sink, false, keyless)
}

/// Plans a push query with no join, window or aggregation: every column of its projection
/// is a value column, in the projection's order (it has no key to keep).
pub fn plan_transient(catalog: &Catalog, q: &Query) -> Result<StatelessPlan, PlanError> {
    if !q.partition_by.is_empty() {
        return Err(PlanError::Unsupported(
            "PARTITION BY in push queries is not supported yet".into(),
        ));
    }
    plan_projection(catalog, q, "", true, false)
}

fn plan_projection(
    catalog: &Catalog,
    q: &Query,
    sink: &str,
    transient: bool,
    keyless: bool,
) -> Result<StatelessPlan, PlanError> {
    if !q.from.joins.is_empty() {
        return Err(PlanError::Unsupported("joins are not supported yet".into()));
    }
    // (a query with GROUP BY or aggregate calls is planned as an aggregation)
    if q.window.is_some() && q.group_by.is_empty() {
        return Err(PlanError::Invalid(
            "WINDOW clause requires a GROUP BY clause.".into(),
        ));
    }
    if q.window.is_some() || !q.group_by.is_empty() || q.having.is_some() {
        return Err(PlanError::Unsupported(
            "aggregations are not supported yet".into(),
        ));
    }
    let source = catalog
        .source(&q.from.first.name)
        .map_err(PlanError::Invalid)?
        .clone();
    if !transient && source.kind == SourceKind::Table && source.windowing.is_some() {
        return Err(PlanError::Invalid(
            "KSQL does not support persistent queries on windowed tables.".into(),
        ));
    }
    // (a windowed source's keys carry their windows: re-keying would drop them)
    if source.windowing.is_some() && !q.partition_by.is_empty() {
        return Err(PlanError::Invalid(
            "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.".into(),
        ));
    }
    let qualifier = q.from.first.qualifier().to_string();
    let mut scope = source_scope(&source, &qualifier);
    // table functions: a column each, after the source's
    let (select, exploded) = {
        let planner = ExprPlanner::new(&scope)?;
        table_functions::extract(&q.select, &planner)?
    };
    if !exploded.is_empty() && source.kind == crate::parser::ast::SourceKind::Table {
        return Err(PlanError::Invalid(
            "Table source is not supported with table functions".into(),
        ));
    }
    for (i, t) in exploded.iter().enumerate() {
        let SqlType::Array(item) = &t.ty else {
            return Err(PlanError::Internal("a table function of no array".into()));
        };
        scope.columns.push(ScopeColumn {
            qualifier: None,
            name: table_functions::column(i),
            ty: (**item).clone(),
        });
    }
    let planner = ExprPlanner::new(&scope)?;
    let explode = exploded
        .into_iter()
        .map(|t| compile(&planner, t))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = where_clause(&planner, q.filter.as_ref())?;
    // the projection, with `*` expanded to the source's columns
    let partitioned = !q.partition_by.is_empty();
    let mut items: Vec<(String, Typed, Option<usize>)> = Vec::new();
    let mut item_exprs: Vec<Option<sql::Expr>> = Vec::new();
    let mut star = false;
    let mut generated = GeneratedNames::new(&source);
    for item in &select {
        match item {
            SelectItem::QualifiedWildcard(q) if *q != qualifier => {
                return Err(PlanError::Invalid(format!(
                    "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
                )));
            }
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                star = true;
                let columns = source.key.len() + source.value.len();
                // (re-keyed by PARTITION BY, the former keys come after the values)
                let order: Vec<usize> = if partitioned {
                    (source.key.len()..columns)
                        .chain(0..source.key.len())
                        .collect()
                } else {
                    (0..columns).collect()
                };
                for i in order {
                    let c = &scope.columns[i];
                    items.push((c.name.clone(), planner.column_ref(i), Some(i)));
                    item_exprs.push(None);
                    // (a push query of a windowed source shows each row's window after the
                    // keys)
                    if transient && source.windowing.is_some() && i + 1 == source.key.len() {
                        for bound in ["WINDOWSTART", "WINDOWEND"] {
                            let w = scope.resolve(None, bound)?;
                            items.push((bound.to_string(), planner.column_ref(w), Some(w)));
                            item_exprs.push(None);
                        }
                    }
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
                let name = match alias {
                    Some(a) => a.clone(),
                    None => derived_name(expr)
                        .filter(|n| !table_functions::is_column(n))
                        .unwrap_or_else(|| generated.name()),
                };
                if alias.is_none() && is_reserved(&name) && !transient {
                    return Err(PlanError::Invalid(format!(
                        "Reserved column name in select: `{name}`. Please remove or alias the column."
                    )));
                }
                let typed = planner.plan_projected(expr)?;
                let column = match expr.as_ref() {
                    sql::Expr::Identifier(id) => Some(scope.resolve(None, &id.value)?),
                    sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                        Some(scope.resolve(Some(&parts[0].value), &parts[1].value)?)
                    }
                    _ => None,
                };
                items.push((name, typed, column));
                item_exprs.push(Some((**expr).clone()));
            }
        }
    }
    if partitioned {
        let mut plan = partition_by(
            q,
            sink,
            source,
            scope.clone(),
            &planner,
            filter,
            items,
            item_exprs,
            star,
        )?;
        plan.explode = explode;
        return Ok(plan);
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, typed, _) in &items {
        if !seen.insert(name.clone()) {
            return Err(PlanError::Invalid(format!(
                "Duplicate value columns found in schema: `{name}` {}",
                typed.ty
            )));
        }
    }
    if transient {
        let value = items
            .into_iter()
            .map(|(name, typed, _)| Ok((name, compile(&planner, typed)?)))
            .collect::<Result<Vec<_>, PlanError>>()?;
        return Ok(StatelessPlan {
            source,
            scope,
            filter,
            key: Vec::new(),
            value,
            explode,
            transient: true,
        });
    }
    // key columns pass through to the output's key
    let key_count = source.key.len();
    let mut key = Vec::new();
    let mut value = Vec::new();
    let mut key_aliases: Vec<Vec<String>> = vec![Vec::new(); key_count];
    for (name, typed, column) in items {
        match column {
            Some(i) if i < key_count => {
                key_aliases[i].push(name.clone());
                if key_aliases[i].len() == 1 {
                    key.push((i, name, compile(&planner, typed)?));
                }
            }
            _ => value.push((name, compile(&planner, typed)?)),
        }
    }
    for (i, aliases) in key_aliases.iter().enumerate() {
        if aliases.len() > 1 {
            return Err(PlanError::Invalid(format!(
                "The projection contains a key column (`{}`) more than once, aliased as: {}.",
                source.key[i].0,
                join_and(aliases)
            )));
        }
    }
    let missing: Vec<String> = key_aliases
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_empty())
        .map(|(i, _)| source.key[i].0.clone())
        .collect();
    let keyless = keyless
        && missing.len() == key_count
        && source.kind == crate::parser::ast::SourceKind::Stream;
    if !missing.is_empty() && !keyless {
        let all: Vec<String> = source.key.iter().map(|(n, _)| n.clone()).collect();
        let (noun, them) = if all.len() == 1 {
            ("column", all[0].clone())
        } else {
            ("columns", join_and(&all))
        };
        return Err(PlanError::Invalid(format!(
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink}` must include the key {noun} {them} in its projection (eg, SELECT {}...).",
            all.join(", ")
        )));
    }
    if value.is_empty() {
        return Err(PlanError::Invalid(
            "The projection contains no value columns.".into(),
        ));
    }
    key.sort_by_key(|(i, ..)| *i);
    let key = key.into_iter().map(|(_, n, c)| (n, c)).collect();
    Ok(StatelessPlan {
        source,
        scope,
        filter,
        key,
        value,
        explode,
        transient: false,
    })
}
