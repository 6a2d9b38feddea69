//! A join's rows read as one source's, for a query that aggregates them: every column of the
//! joined row is named after its source (`ALIAS_NAME`, as ksqlDB's joined schema names them)
//! and the query's column references are rewritten to those names, so that the aggregation
//! planner reads the joined rows as it reads a single source's rows.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{self as sql, VisitMut, VisitorMut};

use super::expr::{Scope, ScopeColumn};
use super::join::{check_windows, joined_rows, prefixed, selected_name, JoinPlan};
use super::{column_of, PlanError};
use crate::catalog::Catalog;
use crate::parser::ast::{Query, SelectItem};

/// A join's rows as one source's.
pub(super) struct FlatJoin {
    /// The joined rows (without filter and projection: the aggregation does both).
    pub plan: JoinPlan,
    /// The joined row's columns, named `ALIAS_NAME` and unqualified.
    pub scope: Scope,
    /// The query over those columns: `*` expanded, every column reference renamed, and each
    /// selected column without an alias named as a join's projection names it.
    pub query: Query,
    /// The sources' own column names (which generated names skip).
    pub taken: BTreeSet<String>,
}

/// Plans the joined rows of `q` and rewrites `q` over them.
pub(super) fn flatten(catalog: &Catalog, q: &Query) -> Result<FlatJoin, PlanError> {
    let plan = joined_rows(catalog, q)?;
    check_windows(&plan.steps)?;
    let joined = &plan.scope;
    let scope = Scope {
        columns: joined
            .columns
            .iter()
            .map(|c| ScopeColumn {
                qualifier: None,
                name: prefixed(c),
                ty: c.ty.clone(),
            })
            .collect(),
    };
    let rename = |e: &sql::Expr| -> Result<sql::Expr, PlanError> {
        let mut e = e.clone();
        let mut renamer = Renamer {
            joined,
            flat: &scope,
            skip: BTreeSet::new(),
            hidden: Vec::new(),
            error: None,
        };
        let _ = e.visit(&mut renamer);
        match renamer.error {
            Some(err) => Err(err),
            None => Ok(e),
        }
    };
    let mut select = Vec::with_capacity(q.select.len());
    for item in &q.select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                let only = match item {
                    SelectItem::QualifiedWildcard(q) => Some(q.as_str()),
                    _ => None,
                };
                for input in &plan.inputs {
                    if only.is_some_and(|o| o != input.qualifier) {
                        continue;
                    }
                    let count = input.source.key.len() + input.source.value.len();
                    for c in input.offset..input.offset + count {
                        let name = scope.columns[c].name.clone();
                        select.push(SelectItem::Expr {
                            expr: Box::new(sql::Expr::Identifier(sql::Ident::new(name.clone()))),
                            alias: Some(name),
                        });
                    }
                }
            }
            SelectItem::Expr { expr, alias } => {
                // (a join's rows have no window: ksqlDB cannot select the aggregation's
                // window bounds over them, https://github.com/confluentinc/ksql/issues/5931)
                if let Some(bound) = super::first_named(expr, &["WINDOWSTART", "WINDOWEND"]) {
                    if column_of(joined, expr).is_none() {
                        return Err(PlanError::Invalid(format!(
                            "SELECT column '{bound}' cannot be resolved."
                        )));
                    }
                }
                let alias = match (alias, column_of(joined, expr)) {
                    (Some(a), _) => Some(a.clone()),
                    (None, Some(c)) => Some(selected_name(&plan.inputs, &joined.columns[c])),
                    (None, None) => None,
                };
                select.push(SelectItem::Expr {
                    expr: Box::new(rename(expr)?),
                    alias,
                });
            }
        }
    }
    let query = Query {
        select,
        from: q.from.clone(),
        window: q.window,
        filter: q.filter.as_ref().map(rename).transpose()?,
        group_by: q.group_by.iter().map(rename).collect::<Result<_, _>>()?,
        partition_by: q.partition_by.clone(),
        having: q.having.as_ref().map(rename).transpose()?,
        emit: q.emit,
        limit: q.limit,
    };
    let taken = plan
        .inputs
        .iter()
        .flat_map(|i| {
            i.source
                .columns()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(FlatJoin {
        plan,
        scope,
        query,
        taken,
    })
}

/// Renames the column references of an expression from the joined row's qualified columns to
/// their flat names.
struct Renamer<'a> {
    joined: &'a Scope,
    flat: &'a Scope,
    /// What names no column: the fields of `->`, and the names just written.
    skip: BTreeSet<*const sql::Expr>,
    /// The parameters of the lambdas being visited, which hide columns of their names.
    hidden: Vec<String>,
    error: Option<PlanError>,
}

impl Renamer<'_> {
    /// The flat name of column `c` of the joined row.
    fn name(&self, c: usize) -> sql::Ident {
        sql::Ident::new(self.flat.columns[c].name.clone())
    }

    /// The column `name` (of `qualifier`) resolves to; `None` when it resolves to none (a
    /// lambda's argument, a name the planner reports), an error when it is ambiguous.
    fn resolve(&mut self, qualifier: Option<&str>, name: &str) -> Option<usize> {
        match self.joined.resolve(qualifier, name) {
            Ok(c) => Some(c),
            Err(PlanError::Invalid(m)) if m.contains("is ambiguous") => {
                self.error = Some(PlanError::Invalid(format!(
                    "Exception while preparing statement: {m}"
                )));
                None
            }
            Err(_) => None,
        }
    }
}

impl VisitorMut for Renamer<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut sql::Expr) -> ControlFlow<()> {
        if self.skip.contains(&(e as *const sql::Expr)) {
            return ControlFlow::Continue(());
        }
        match e {
            sql::Expr::BinaryOp {
                op: sql::BinaryOperator::Arrow,
                right,
                ..
            } => {
                self.skip.insert(right.as_ref() as *const sql::Expr);
            }
            sql::Expr::Lambda(l) => match crate::functions::lambda::parameter_names(l) {
                Ok(names) => self.hidden.extend(names),
                Err(e) => self.error = Some(e),
            },
            sql::Expr::Identifier(id) if self.hidden.contains(&id.value) => {}
            sql::Expr::Identifier(id) => {
                if let Some(c) = self.resolve(None, &id.value) {
                    *id = self.name(c);
                }
            }
            sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                if let Some(c) = self.resolve(Some(&parts[0].value), &parts[1].value) {
                    *e = sql::Expr::Identifier(self.name(c));
                }
            }
            // (`source.column[...]`: the root names a source, the first access a column)
            sql::Expr::CompoundFieldAccess { root, access_chain } => {
                if let (
                    sql::Expr::Identifier(q),
                    Some(sql::AccessExpr::Dot(sql::Expr::Identifier(name))),
                ) = (root.as_ref(), access_chain.first())
                {
                    if self.joined.resolve(None, &q.value).is_err() {
                        if let Some(c) = self.resolve(Some(&q.value), &name.value) {
                            **root = sql::Expr::Identifier(self.name(c));
                            access_chain.remove(0);
                            self.skip.insert(root.as_ref() as *const sql::Expr);
                        }
                    }
                }
            }
            _ => {}
        }
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut sql::Expr) -> ControlFlow<()> {
        if let sql::Expr::Lambda(l) = e {
            if let Ok(names) = crate::functions::lambda::parameter_names(l) {
                let kept = self.hidden.len().saturating_sub(names.len());
                self.hidden.truncate(kept);
            }
        }
        ControlFlow::Continue(())
    }
}
