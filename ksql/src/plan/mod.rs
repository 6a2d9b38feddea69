//! Planning: a query resolved against the catalogue into the steps a persistent or push query
//! runs, with every expression typed and compiled into a DataFusion physical expression.

pub mod expr;

use std::sync::Arc;

use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_physical_expr::PhysicalExpr;
use sqlparser::ast as sql;

use crate::catalog::{Catalog, DataSource};
use crate::parser::ast::{Query, SelectItem};
use crate::types::SqlType;
use expr::{ExprPlanner, Scope, ScopeColumn, Typed};

/// A query that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The statement is wrong (ksqlDB's message).
    #[error("{0}")]
    Invalid(String),
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

/// The name ksqlDB gives a projected expression without an alias.
fn column_name(e: &sql::Expr, position: usize) -> String {
    match e {
        sql::Expr::Identifier(id) => id.value.clone(),
        sql::Expr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(|| format!("KSQL_COL_{position}"), |p| p.value.clone()),
        sql::Expr::BinaryOp {
            op: sql::BinaryOperator::Arrow,
            right,
            ..
        } => match right.as_ref() {
            sql::Expr::Identifier(id) => id.value.clone(),
            _ => format!("KSQL_COL_{position}"),
        },
        sql::Expr::Nested(inner) => column_name(inner, position),
        _ => format!("KSQL_COL_{position}"),
    }
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
/// messages).
pub fn plan_stateless(
    catalog: &Catalog,
    q: &Query,
    sink: &str,
) -> Result<StatelessPlan, PlanError> {
    if !q.from.joins.is_empty() {
        return Err(PlanError::Unsupported("joins are not supported yet".into()));
    }
    if q.window.is_some() || !q.group_by.is_empty() || q.having.is_some() {
        return Err(PlanError::Unsupported(
            "aggregations are not supported yet".into(),
        ));
    }
    if !q.partition_by.is_empty() {
        return Err(PlanError::Unsupported(
            "PARTITION BY is not supported yet".into(),
        ));
    }
    let source = catalog
        .source(&q.from.first.name)
        .map_err(PlanError::Invalid)?
        .clone();
    let qualifier = q.from.first.qualifier().to_string();
    let scope = source_scope(&source, &qualifier);
    let planner = ExprPlanner::new(&scope)?;
    let filter = match &q.filter {
        Some(f) => {
            let t = planner.plan_in("WHERE", f)?;
            if t.ty != SqlType::Boolean {
                return Err(PlanError::Invalid(format!(
                    "Type error in WHERE expression: Should evaluate to boolean but is {f} ({}) instead.",
                    t.ty
                )));
            }
            Some(compile(&planner, t)?)
        }
        None => None,
    };
    // the projection, with `*` expanded to the source's columns
    let mut items: Vec<(String, Typed, Option<usize>)> = Vec::new();
    for (position, item) in q.select.iter().enumerate() {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                for (i, c) in scope.columns.iter().enumerate() {
                    let pseudo = i >= source.key.len() + source.value.len();
                    if !pseudo {
                        items.push((
                            c.name.clone(),
                            planner.plan(&sql::Expr::Identifier(sql::Ident::new(&c.name)))?,
                            Some(i),
                        ));
                    }
                }
            }
            SelectItem::Expr { expr, alias } => {
                let name = alias.clone().unwrap_or_else(|| column_name(expr, position));
                let typed = planner.plan_in("SELECT", expr)?;
                let column = match expr.as_ref() {
                    sql::Expr::Identifier(id) => Some(scope.resolve(None, &id.value)?),
                    sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                        Some(scope.resolve(Some(&parts[0].value), &parts[1].value)?)
                    }
                    _ => None,
                };
                items.push((name, typed, column));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, ..) in &items {
        if !seen.insert(name.clone()) {
            return Err(PlanError::Invalid(format!(
                "Duplicate value columns found in schema: `{name}`"
            )));
        }
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
    if !missing.is_empty() {
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
    })
}
