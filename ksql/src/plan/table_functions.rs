//! Table functions (`EXPLODE`): each call in the projection becomes a column of its own, which
//! holds one element of the array per output row; the rows of a record are as many as its
//! longest array (shorter ones give nulls), none for empty arrays.

use std::ops::ControlFlow;

use sqlparser::ast::{self as sql, VisitMut, VisitorMut};

use super::expr::{function_args, function_name, ExprPlanner, Typed};
use super::PlanError;
use crate::parser::ast::SelectItem;
use crate::types::SqlType;

/// The column holding table function call `i`'s element.
pub fn column(i: usize) -> String {
    format!("KSQL_SYNTH_{i}")
}

/// Whether `name` is a column of [`column`]'s.
pub fn is_column(name: &str) -> bool {
    name.starts_with("KSQL_SYNTH_")
}

/// Whether `e` calls a table function.
pub fn has_table_function(e: &sql::Expr) -> bool {
    let mut found = false;
    let _ = sql::visit_expressions(e, |x| {
        if matches!(x, sql::Expr::Function(f) if function_name(f) == "EXPLODE") {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

struct Extractor<'a> {
    planner: &'a ExprPlanner<'a>,
    calls: Vec<(String, Typed)>,
    error: Option<PlanError>,
}

impl Extractor<'_> {
    fn call(&mut self, f: &sql::Function) -> Result<usize, PlanError> {
        let text = f.to_string();
        if let Some(i) = self.calls.iter().position(|(t, _)| *t == text) {
            return Ok(i);
        }
        let args = function_args(f)?;
        let [arg] = args.as_slice() else {
            return Err(PlanError::Invalid(format!(
                "Function 'explode' does not accept {} parameters.",
                args.len()
            )));
        };
        let t = self.planner.plan_in("SELECT", arg)?;
        if !matches!(t.ty, SqlType::Array(_)) {
            return Err(PlanError::Invalid(format!(
                "Function 'explode' does not accept parameters ({}).\nValid alternatives are:\nexplode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)",
                t.ty
            )));
        }
        self.calls.push((text, t));
        Ok(self.calls.len() - 1)
    }
}

impl VisitorMut for Extractor<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut sql::Expr) -> ControlFlow<()> {
        if let sql::Expr::Function(f) = e {
            if function_name(f) == "EXPLODE" {
                match self.call(f) {
                    Ok(i) => *e = sql::Expr::Identifier(sql::Ident::new(column(i))),
                    Err(err) => {
                        self.error = Some(err);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The projection with each table function call replaced by its column, and the calls'
/// arrays (typed over the source's rows), in the order of their columns.
pub fn extract(
    select: &[SelectItem],
    planner: &ExprPlanner<'_>,
) -> Result<(Vec<SelectItem>, Vec<Typed>), PlanError> {
    let mut extractor = Extractor {
        planner,
        calls: Vec::new(),
        error: None,
    };
    let mut out = Vec::with_capacity(select.len());
    for item in select {
        match item {
            SelectItem::Expr { expr, alias } => {
                let mut e = (**expr).clone();
                let _ = e.visit(&mut extractor);
                if let Some(err) = extractor.error.take() {
                    return Err(err);
                }
                out.push(SelectItem::Expr {
                    expr: Box::new(e),
                    alias: alias.clone(),
                });
            }
            other => out.push(other.clone()),
        }
    }
    Ok((out, extractor.calls.into_iter().map(|(_, t)| t).collect()))
}
