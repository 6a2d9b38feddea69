//! Expressions: a `sqlparser` expression resolved against the columns in scope, typed by
//! ksqlDB's rules, and built as a DataFusion logical expression that DataFusion turns into a
//! physical expression evaluated over Arrow record batches.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use datafusion_common::{Column, DFSchema, ScalarValue};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, Operator};
use sqlparser::ast::{self as sql, BinaryOperator, UnaryOperator, Value};

use super::text::ksql_text;
use super::PlanError;
use crate::functions;
use crate::types::SqlType;

/// A column that expressions may name.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// The source (or alias) that qualifies it (`None`: only reachable unqualified).
    pub qualifier: Option<String>,
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
}

/// The columns expressions see, in the order of the rows they are evaluated on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
}

/// An expression and its SQL type.
#[derive(Debug, Clone)]
pub struct Typed {
    /// The DataFusion expression.
    pub expr: Expr,
    /// Its type.
    pub ty: SqlType,
}

impl Scope {
    /// The name of column `i` in the Arrow schema of the rows.
    pub fn field_name(i: usize) -> String {
        format!("c{i}")
    }

    /// The DataFusion schema of rows of these columns.
    pub fn df_schema(&self) -> Result<DFSchema, PlanError> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(Scope::field_name(i), c.ty.arrow(), true))
            .collect();
        DFSchema::try_from(arrow::datatypes::Schema::new(fields))
            .map_err(|e| PlanError::Internal(e.to_string()))
    }

    /// The index of the column `name` (qualified by `qualifier` when given).
    pub fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<usize, PlanError> {
        let found: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.name == name
                    && match qualifier {
                        Some(q) => c.qualifier.as_deref() == Some(q),
                        None => true,
                    }
            })
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => Ok(*i),
            [] => Err(PlanError::Invalid(match qualifier {
                Some(q) => format!("column '{q}.{name}' cannot be resolved."),
                None => format!("column '{name}' cannot be resolved."),
            })),
            _ => {
                let mut candidates: Vec<String> = found
                    .iter()
                    .map(|i| {
                        format!(
                            "{}.{name}",
                            self.columns[*i].qualifier.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                candidates.sort();
                let last = candidates.pop().unwrap_or_default();
                let list = if candidates.is_empty() {
                    last
                } else {
                    format!("{} or {last}", candidates.join(", "))
                };
                Err(PlanError::Invalid(format!(
                    "Column '{name}' is ambiguous. Could be {list}."
                )))
            }
        }
    }
}

/// `e` with the position it is about (`Line: L, Col: C: `, as ksqlDB's messages start).
pub(crate) fn located(e: PlanError, at: sqlparser::tokenizer::Location) -> PlanError {
    match e {
        PlanError::Invalid(m) if at.line > 0 => {
            PlanError::Invalid(format!("Line: {}, Col: {}: {m}", at.line, at.column))
        }
        other => other,
    }
}

/// A message's position prefix (`Line: L, Col: C: `, or empty) and the rest.
fn split_position(m: &str) -> (&str, &str) {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = m.strip_prefix("Line: ") else {
        return ("", m);
    };
    let rest = &rest[digits(rest)..];
    let Some(rest) = rest.strip_prefix(", Col: ") else {
        return ("", m);
    };
    let rest = &rest[digits(rest)..];
    match rest.strip_prefix(": ") {
        Some(after) => m.split_at(m.len() - after.len()),
        None => ("", m),
    }
}

/// Whether `m` says a column cannot be resolved (after its position, if it has one).
pub fn unresolved(m: &str) -> bool {
    split_position(m).1.starts_with("column '")
}

/// `m`, a column that cannot be resolved, in `clause`: `Line: L, Col: C: JOIN ON column ...`.
pub fn in_clause(clause: &str, m: &str) -> String {
    let (at, rest) = split_position(m);
    format!("{at}{clause} {rest}")
}

/// Plans expressions over a scope.
pub struct ExprPlanner<'a> {
    scope: &'a Scope,
    schema: DFSchema,
}

impl<'a> ExprPlanner<'a> {
    /// A planner for expressions over `scope`.
    pub fn new(scope: &'a Scope) -> Result<Self, PlanError> {
        Ok(ExprPlanner {
            scope,
            schema: scope.df_schema()?,
        })
    }

    /// The columns in scope.
    pub fn scope(&self) -> &Scope {
        self.scope
    }

    /// The DataFusion schema of the rows.
    pub fn schema(&self) -> &DFSchema {
        &self.schema
    }

    /// A reference to column `i` of the scope.
    pub fn column_ref(&self, i: usize) -> Typed {
        self.column(i)
    }

    fn column(&self, i: usize) -> Typed {
        Typed {
            expr: Expr::Column(Column::from_name(Scope::field_name(i))),
            ty: self.scope.columns[i].ty.clone(),
        }
    }

    /// The type DataFusion gives `expr`, as a SQL type.
    pub fn type_of(&self, expr: &Expr) -> Result<SqlType, PlanError> {
        let t = expr
            .get_type(&self.schema)
            .map_err(|e| PlanError::Invalid(e.to_string()))?;
        SqlType::from_arrow(&t)
            .ok_or_else(|| PlanError::Invalid(format!("unsupported result type {t}")))
    }

    /// Plans `e`, found in `clause` (`SELECT`, `WHERE`, ...): unknown columns are reported as
    /// ksqlDB reports them, with the clause.
    pub fn plan_in(&self, clause: &str, e: &sql::Expr) -> Result<Typed, PlanError> {
        self.plan(e).map_err(|err| match err {
            PlanError::Invalid(m) if unresolved(&m) => PlanError::Invalid(in_clause(clause, &m)),
            // (ksqlDB type-checks a filter on its own, and says so)
            PlanError::Invalid(m) if clause == "WHERE" || clause == "HAVING" => {
                PlanError::Invalid(format!("Error in {clause} expression: {m}"))
            }
            // (ksqlDB compiles each clause's expressions apart, and names the clause's kind)
            PlanError::Codegen(m) => PlanError::Invalid(match clause {
                "WHERE" | "HAVING" => format!("Invalid Predicate: {m}."),
                "SELECT" => format!("Invalid Select: {m}."),
                "PARTITION BY" => format!("Invalid SelectKey: {m}."),
                _ => m,
            }),
            other => other,
        })
    }

    /// Plans `e`, a column of a projection: an untyped `NULL` has no type to give it.
    pub fn plan_projected(&self, e: &sql::Expr) -> Result<Typed, PlanError> {
        let t = self.plan_in("SELECT", e)?;
        if is_null_literal(&t.expr) {
            return Err(PlanError::Invalid(
                "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).".into(),
            ));
        }
        Ok(t)
    }

    /// Plans `e`.
    pub fn plan(&self, e: &sql::Expr) -> Result<Typed, PlanError> {
        match e {
            sql::Expr::Identifier(id) => Ok(self.column(
                self.scope
                    .resolve(None, &id.value)
                    .map_err(|e| located(e, id.span.start))?,
            )),
            sql::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, name] => Ok(self.column(
                    self.scope
                        .resolve(Some(&q.value), &name.value)
                        .map_err(|e| located(e, q.span.start))?,
                )),
                _ => Err(PlanError::Invalid(format!("{e} cannot be resolved."))),
            },
            sql::Expr::Nested(inner) => self.plan(inner),
            sql::Expr::Value(v) => literal(&v.value),
            sql::Expr::TypedString(ts) => {
                let ty = sql_data_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                self.cast(
                    Typed {
                        expr: Expr::Literal(ScalarValue::Utf8(Some(text)), None),
                        ty: SqlType::String,
                    },
                    &ty,
                )
            }
            sql::Expr::UnaryOp { op, expr } => {
                let inner = self.plan(expr)?;
                match op {
                    UnaryOperator::Not => {
                        self.expect_boolean(&inner, "NOT")?;
                        Ok(Typed {
                            expr: Expr::Not(Box::new(inner.expr)),
                            ty: SqlType::Boolean,
                        })
                    }
                    UnaryOperator::Minus => {
                        if !inner.ty.is_numeric() {
                            return Err(PlanError::Invalid(format!(
                                "Unsupported arithmetic unary operation: -{}",
                                inner.ty
                            )));
                        }
                        Ok(Typed {
                            expr: Expr::Negative(Box::new(inner.expr)),
                            ty: inner.ty,
                        })
                    }
                    UnaryOperator::Plus => Ok(inner),
                    other => Err(PlanError::Invalid(format!("unsupported operator {other}"))),
                }
            }
            sql::Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            sql::Expr::IsNull(inner) => Ok(Typed {
                expr: Expr::IsNull(Box::new(self.plan(inner)?.expr)),
                ty: SqlType::Boolean,
            }),
            sql::Expr::IsNotNull(inner) => Ok(Typed {
                expr: Expr::IsNotNull(Box::new(self.plan(inner)?.expr)),
                ty: SqlType::Boolean,
            }),
            sql::Expr::IsDistinctFrom(a, b) | sql::Expr::IsNotDistinctFrom(a, b) => {
                let (op, name) = if matches!(e, sql::Expr::IsDistinctFrom(..)) {
                    (Operator::IsDistinctFrom, "IS_DISTINCT_FROM")
                } else {
                    (Operator::IsNotDistinctFrom, "IS_NOT_DISTINCT_FROM")
                };
                let (a, b) = self.comparable((self.plan(a)?, a), (self.plan(b)?, b), name)?;
                Ok(Typed {
                    expr: binary(a.expr, op, b.expr),
                    ty: SqlType::Boolean,
                })
            }
            sql::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let v = self.plan(expr)?;
                let (v1, lo) =
                    self.comparable((v.clone(), expr), (self.plan(low)?, low), "BETWEEN")?;
                let (v2, hi) = self.comparable((v, expr), (self.plan(high)?, high), "BETWEEN")?;
                let within = binary(
                    binary(v1.expr, Operator::GtEq, lo.expr),
                    Operator::And,
                    binary(v2.expr, Operator::LtEq, hi.expr),
                );
                Ok(negated_if(*negated, within))
            }
            sql::Expr::InList {
                expr,
                list,
                negated,
            } => {
                // (the value and the items coerced to one type together, as ksqlDB does;
                // NULL items never match)
                let mut exprs: Vec<&sql::Expr> = vec![expr];
                exprs.extend(list.iter().filter(|e| !is_sql_null(e)));
                let (_, items) = self.coerce_list(&exprs)?;
                let mut items = items.into_iter();
                let v = items
                    .next()
                    .ok_or_else(|| PlanError::Internal("IN without a value".into()))?;
                // (DataFusion's flat IN: a chain of ORs as long as the list would overflow the
                // stack of whatever walks it)
                let items: Vec<Expr> = items.map(|item| item.expr).collect();
                let any = if items.is_empty() {
                    Expr::Literal(ScalarValue::Boolean(Some(false)), None)
                } else {
                    Expr::IsTrue(Box::new(Expr::InList(datafusion_expr::expr::InList::new(
                        Box::new(v.expr),
                        items,
                        false,
                    ))))
                };
                Ok(negated_if(*negated, any))
            }
            sql::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                ..
            } => {
                let v = self.plan(expr)?;
                let p = self.plan(pattern)?;
                if v.ty != SqlType::String || p.ty != SqlType::String {
                    return Err(PlanError::Invalid(format!(
                        "Unsupported types for LIKE: {} LIKE {}",
                        v.ty, p.ty
                    )));
                }
                let escape = match escape_char {
                    Some(v) => match &v.value {
                        Value::SingleQuotedString(s) if s.chars().count() == 1 => s.chars().next(),
                        _ => {
                            return Err(PlanError::Invalid(
                                "ESCAPE must be a single character".into(),
                            ))
                        }
                    },
                    None => None,
                };
                Ok(Typed {
                    expr: Expr::Like(datafusion_expr::Like::new(
                        *negated,
                        Box::new(v.expr),
                        Box::new(p.expr),
                        escape,
                        false,
                    )),
                    ty: SqlType::Boolean,
                })
            }
            sql::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            sql::Expr::Cast {
                expr, data_type, ..
            } => {
                let v = self.plan(expr)?;
                let ty = sql_data_type(data_type)?;
                if !is_null_literal(&v.expr) && !super::cast::supported(&v.ty, &ty) {
                    return Err(PlanError::Codegen(format!(
                        "Cast of {} to {ty} is not supported",
                        v.ty
                    )));
                }
                self.cast(v, &ty)
            }
            sql::Expr::Function(f) => self.function(f),
            sql::Expr::Array(a) => self.array(&a.elem),
            sql::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.plan(expr)?];
                if let Some(f) = substring_from {
                    args.push(self.plan(f)?);
                }
                if let Some(f) = substring_for {
                    args.push(self.plan(f)?);
                }
                functions::call(self, "SUBSTRING", args)
            }
            sql::Expr::Trim {
                expr,
                trim_where: None,
                trim_what: None,
                trim_characters: None,
            } => functions::call(self, "TRIM", vec![self.plan(expr)?]),
            sql::Expr::Ceil {
                expr,
                field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
            } => functions::call(self, "CEIL", vec![self.plan(expr)?]),
            sql::Expr::Floor {
                expr,
                field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
            } => functions::call(self, "FLOOR", vec![self.plan(expr)?]),
            sql::Expr::CompoundFieldAccess { root, access_chain } => {
                // (`source.column[...]`: the root names a source, the first access a column)
                let qualified = match (root.as_ref(), access_chain.first()) {
                    (
                        sql::Expr::Identifier(q),
                        Some(sql::AccessExpr::Dot(sql::Expr::Identifier(name))),
                    ) if self.scope.resolve(None, &q.value).is_err() => {
                        self.scope.resolve(Some(&q.value), &name.value).ok()
                    }
                    _ => None,
                };
                let (mut v, rest) = match qualified {
                    Some(c) => (self.column(c), &access_chain[1..]),
                    None => (self.plan(root)?, &access_chain[..]),
                };
                for access in rest {
                    v = match access {
                        sql::AccessExpr::Subscript(sql::Subscript::Index { index }) => {
                            let i = self.plan(index)?;
                            self.subscript(v, i)?
                        }
                        sql::AccessExpr::Dot(sql::Expr::Identifier(id)) => {
                            self.field(v, &id.value)?
                        }
                        other => {
                            return Err(PlanError::Invalid(format!("unsupported access {other}")))
                        }
                    };
                }
                Ok(v)
            }
            other => Err(PlanError::Invalid(format!(
                "unsupported expression: {other}"
            ))),
        }
    }

    fn expect_boolean(&self, v: &Typed, what: &str) -> Result<(), PlanError> {
        if v.ty == SqlType::Boolean {
            Ok(())
        } else {
            Err(PlanError::Invalid(format!(
                "{what} requires a BOOLEAN operand, got {}",
                v.ty
            )))
        }
    }

    fn binary(
        &self,
        left: &sql::Expr,
        op: &BinaryOperator,
        right: &sql::Expr,
    ) -> Result<Typed, PlanError> {
        if let BinaryOperator::Arrow = op {
            // struct dereference: `a->b`
            let v = self.plan(left)?;
            let name = match right {
                sql::Expr::Identifier(id) => id.value.clone(),
                other => {
                    return Err(PlanError::Invalid(format!(
                        "expected a field name after ->, found {other}"
                    )))
                }
            };
            return self.field(v, &name);
        }
        let l = self.plan(left)?;
        let r = self.plan(right)?;
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let name = if *op == BinaryOperator::And {
                    "AND"
                } else {
                    "OR"
                };
                self.expect_boolean(&l, name)?;
                self.expect_boolean(&r, name)?;
                Ok(Typed {
                    expr: binary(
                        l.expr,
                        if *op == BinaryOperator::And {
                            Operator::And
                        } else {
                            Operator::Or
                        },
                        r.expr,
                    ),
                    ty: SqlType::Boolean,
                })
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let (operator, name) = match op {
                    BinaryOperator::Eq => (Operator::Eq, "EQUAL"),
                    BinaryOperator::NotEq => (Operator::NotEq, "NOT_EQUAL"),
                    BinaryOperator::Lt => (Operator::Lt, "LESS_THAN"),
                    BinaryOperator::LtEq => (Operator::LtEq, "LESS_THAN_OR_EQUAL"),
                    BinaryOperator::Gt => (Operator::Gt, "GREATER_THAN"),
                    _ => (Operator::GtEq, "GREATER_THAN_OR_EQUAL"),
                };
                let (a, b) = self.comparable((l, left), (r, right), name)?;
                // (ksqlDB's comparisons are false, never null, when a side is null)
                Ok(Typed {
                    expr: Expr::IsTrue(Box::new(binary(a.expr, operator, b.expr))),
                    ty: SqlType::Boolean,
                })
            }
            BinaryOperator::StringConcat => self.concat(l, r),
            BinaryOperator::Plus if l.ty == SqlType::String && r.ty == SqlType::String => {
                self.concat(l, r)
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let (operator, sym) = match op {
                    BinaryOperator::Plus => (Operator::Plus, "+"),
                    BinaryOperator::Minus => (Operator::Minus, "-"),
                    BinaryOperator::Multiply => (Operator::Multiply, "*"),
                    BinaryOperator::Divide => (Operator::Divide, "/"),
                    _ => (Operator::Modulo, "%"),
                };
                let (left_null, right_null) = (is_sql_null(left), is_sql_null(right));
                if left_null || right_null {
                    let name = |null: bool, ty: &SqlType| {
                        if null {
                            "null".to_string()
                        } else {
                            ty.to_string()
                        }
                    };
                    return Err(PlanError::Invalid(format!(
                        "Error processing expression: ({} {sym} {}). Arithmetic on types {} and {} are not supported.",
                        ksql_text(left),
                        ksql_text(right),
                        name(left_null, &l.ty),
                        name(right_null, &r.ty)
                    )));
                }
                if !l.ty.is_numeric() || !r.ty.is_numeric() {
                    return Err(PlanError::Invalid(format!(
                        "Error processing expression: ({} {sym} {}). Unsupported arithmetic types. {} {}",
                        ksql_text(left),
                        ksql_text(right),
                        l.ty,
                        r.ty
                    )));
                }
                self.arithmetic(l, operator, r)
            }
            other => Err(PlanError::Invalid(format!("unsupported operator {other}"))),
        }
    }

    fn concat(&self, l: Typed, r: Typed) -> Result<Typed, PlanError> {
        let l = self.cast(l, &SqlType::String)?;
        let r = self.cast(r, &SqlType::String)?;
        Ok(Typed {
            expr: binary(l.expr, Operator::StringConcat, r.expr),
            ty: SqlType::String,
        })
    }

    fn arithmetic(&self, l: Typed, op: Operator, r: Typed) -> Result<Typed, PlanError> {
        let result = arithmetic_type(&l.ty, op, &r.ty);
        match &result {
            SqlType::Decimal { .. } => {
                // operands at their own decimal types (DataFusion widens them), the result at
                // ksqlDB's precision and scale
                let l = self.cast(l.clone(), &as_decimal(&l.ty))?;
                let r = self.cast(r.clone(), &as_decimal(&r.ty))?;
                let e = binary(l.expr, op, r.expr);
                let got = self.type_of(&e)?;
                self.cast(Typed { expr: e, ty: got }, &result)
            }
            _ => {
                let l = self.cast(l, &result)?;
                let r = self.cast(r, &result)?;
                Ok(Typed {
                    expr: binary(l.expr, op, r.expr),
                    ty: result,
                })
            }
        }
    }

    /// Both sides at a type they can be compared at with `what` (ksqlDB's name of the
    /// comparison: `EQUAL`, `LESS_THAN`, ...), or ksqlDB's error.
    fn comparable(
        &self,
        (l, ls): (Typed, &sql::Expr),
        (r, rs): (Typed, &sql::Expr),
        what: &str,
    ) -> Result<(Typed, Typed), PlanError> {
        let (null_l, null_r) = (is_null_literal(&l.expr), is_null_literal(&r.expr));
        if null_l || null_r {
            let name = |t: &Typed, null: bool| {
                if null {
                    "NULL"
                } else {
                    super::coerce::base_name(&t.ty)
                }
            };
            let op = match what {
                "EQUAL" => "=",
                "NOT_EQUAL" => "<>",
                "LESS_THAN" => "<",
                "LESS_THAN_OR_EQUAL" => "<=",
                "GREATER_THAN" => ">",
                "GREATER_THAN_OR_EQUAL" => ">=",
                "IS_DISTINCT_FROM" => "IS DISTINCT FROM",
                "IS_NOT_DISTINCT_FROM" => "IS NOT DISTINCT FROM",
                other => other,
            };
            return Err(PlanError::Invalid(format!(
                "Comparison with NULL not supported: {} {op} {}\nUse 'IS NULL' or 'IS NOT NULL' instead.",
                name(&l, null_l),
                name(&r, null_r)
            )));
        }
        let cannot = || {
            PlanError::Invalid(format!(
                "Cannot compare {} ({}) to {} ({}) with {what}.",
                ksql_text(ls),
                l.ty,
                ksql_text(rs),
                r.ty
            ))
        };
        // booleans, arrays, maps and structs are only equal or not
        let equality = matches!(
            what,
            "EQUAL" | "NOT_EQUAL" | "IS_DISTINCT_FROM" | "IS_NOT_DISTINCT_FROM"
        );
        let unordered = |t: &SqlType| {
            matches!(
                t,
                SqlType::Boolean | SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
            )
        };
        if (unordered(&l.ty) || unordered(&r.ty)) && !equality {
            return Err(cannot());
        }
        if l.ty == r.ty {
            return Ok((l, r));
        }
        if l.ty.is_numeric() && r.ty.is_numeric() {
            let common = common_numeric(&l.ty, &r.ty);
            return Ok((self.cast(l, &common)?, self.cast(r, &common)?));
        }
        // a string compared with a date, time or timestamp is read as one; a date compared
        // with a timestamp is its midnight
        let temporal =
            |t: &SqlType| matches!(t, SqlType::Date | SqlType::Time | SqlType::Timestamp);
        match (&l.ty, &r.ty) {
            (SqlType::Date, SqlType::Timestamp) => {
                return Ok((self.cast(l, &SqlType::Timestamp)?, r));
            }
            (SqlType::Timestamp, SqlType::Date) => {
                return Ok((l, self.cast(r, &SqlType::Timestamp)?));
            }
            _ => {}
        }
        if temporal(&l.ty) && r.ty == SqlType::String {
            let t = l.ty.clone();
            return Ok((l, self.cast(r, &t)?));
        }
        if temporal(&r.ty) && l.ty == SqlType::String {
            let t = r.ty.clone();
            return Ok((self.cast(l, &t)?, r));
        }
        Err(cannot())
    }

    /// `v` as `ty`.
    pub fn cast(&self, v: Typed, ty: &SqlType) -> Result<Typed, PlanError> {
        if is_null_literal(&v.expr) {
            return Ok(super::coerce::typed_null(ty));
        }
        if &v.ty == ty {
            return Ok(v);
        }
        if !super::cast::arrow_casts_as_ksql(&v.ty, ty) {
            return Ok(Typed {
                expr: Expr::ScalarFunction(ScalarFunction::new_udf(
                    functions::rowfn::row_udf("KSQL_CAST", ty.arrow(), functions::cast::cast_row),
                    vec![v.expr, super::coerce::typed_null(ty).expr],
                )),
                ty: ty.clone(),
            });
        }
        Ok(Typed {
            expr: Expr::Cast(datafusion_expr::Cast::new(Box::new(v.expr), ty.arrow())),
            ty: ty.clone(),
        })
    }

    fn case(
        &self,
        operand: Option<&sql::Expr>,
        conditions: &[sql::CaseWhen],
        else_result: Option<&sql::Expr>,
    ) -> Result<Typed, PlanError> {
        let operand = operand
            .map(|o| Ok::<_, PlanError>((self.plan(o)?, o)))
            .transpose()?;
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for c in conditions {
            let cond = self.plan(&c.condition)?;
            let cond = match &operand {
                Some((o, o_sql)) => {
                    let (a, b) =
                        self.comparable((o.clone(), o_sql), (cond, &c.condition), "EQUAL")?;
                    Typed {
                        expr: binary(a.expr, Operator::Eq, b.expr),
                        ty: SqlType::Boolean,
                    }
                }
                None => {
                    if cond.ty != SqlType::Boolean {
                        return Err(PlanError::Invalid(format!(
                            "WHEN operand type should be boolean.{}Type for '{}' is {}",
                            "\n",
                            display_expr(&cond.expr),
                            cond.ty
                        )));
                    }
                    cond
                }
            };
            whens.push(cond.expr);
            results.push(self.plan(&c.result)?);
        }
        let else_v = else_result.map(|e| self.plan(e)).transpose()?;
        // the result type: the first non-null result's
        let ty = results
            .iter()
            .chain(else_v.iter())
            .find(|r| !is_null_literal(&r.expr))
            .map(|r| r.ty.clone())
            .ok_or_else(|| {
                PlanError::Invalid(
                    "Invalid Case expression. All case branches have NULL type".into(),
                )
            })?;
        for r in results.iter().chain(else_v.iter()) {
            if !is_null_literal(&r.expr) && r.ty != ty && !(r.ty.is_numeric() && ty.is_numeric()) {
                return Err(PlanError::Invalid(format!(
                    "Invalid Case expression. Type for all 'THEN' clauses should be the same.{}THEN expression '{}' has type: {}. {}",
                    "\n",
                    display_expr(&r.expr),
                    r.ty,
                    ty
                )));
            }
        }
        let when_then = whens
            .into_iter()
            .zip(results)
            .map(|(w, r)| Ok((Box::new(w), Box::new(self.cast(r, &ty)?.expr))))
            .collect::<Result<Vec<_>, PlanError>>()?;
        let else_expr = match else_v {
            Some(e) => Some(Box::new(self.cast(e, &ty)?.expr)),
            None => None,
        };
        Ok(Typed {
            expr: Expr::Case(datafusion_expr::Case::new(None, when_then, else_expr)),
            ty,
        })
    }

    fn field(&self, v: Typed, name: &str) -> Result<Typed, PlanError> {
        let SqlType::Struct(fields) = &v.ty else {
            return Err(PlanError::Invalid(format!(
                "Expected STRUCT type, got {}: {}",
                v.ty,
                display_expr(&v.expr)
            )));
        };
        let Some((real, ty)) = fields
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
        else {
            return Err(PlanError::Invalid(format!(
                "Could not find field '{name}' in '{}'.",
                display_expr(&v.expr)
            )));
        };
        Ok(Typed {
            expr: Expr::ScalarFunction(ScalarFunction::new_udf(
                datafusion_functions::core::get_field(),
                vec![
                    v.expr,
                    Expr::Literal(ScalarValue::Utf8(Some(real.clone())), None),
                ],
            )),
            ty: ty.clone(),
        })
    }

    fn subscript(&self, v: Typed, index: Typed) -> Result<Typed, PlanError> {
        match &v.ty {
            SqlType::Array(item) => {
                if !matches!(index.ty, SqlType::Int | SqlType::Bigint) {
                    return Err(PlanError::Invalid(format!(
                        "array index must be an INTEGER, got {}",
                        index.ty
                    )));
                }
                let item = (**item).clone();
                let index = self.cast(index, &SqlType::Bigint)?;
                Ok(Typed {
                    expr: Expr::ScalarFunction(ScalarFunction::new_udf(
                        datafusion_functions_nested::extract::array_element_udf(),
                        vec![v.expr, index.expr],
                    )),
                    ty: item,
                })
            }
            SqlType::Map(k, val) => {
                let key = self.cast(index, k)?;
                let val = (**val).clone();
                Ok(Typed {
                    expr: Expr::ScalarFunction(ScalarFunction::new_udf(
                        datafusion_functions::core::get_field(),
                        vec![v.expr, key.expr],
                    )),
                    ty: val,
                })
            }
            other => Err(PlanError::Invalid(format!(
                "Subscript expression can only be used on ARRAY or MAP, got {other}"
            ))),
        }
    }

    /// `ARRAY[e, ...]`: an array of the elements' common type.
    fn array(&self, elems: &[sql::Expr]) -> Result<Typed, PlanError> {
        if elems.is_empty() {
            return Err(PlanError::Invalid(
                "Array constructor cannot be empty. Please supply at least one element (see https://github.com/confluentinc/ksql/issues/4239).".into(),
            ));
        }
        let (item_ty, items) = self.coerced(elems)?;
        let item_ty = item_ty.ok_or_else(|| {
            PlanError::Invalid(
                "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.".into(),
            )
        })?;
        Ok(make_array(items, item_ty))
    }

    /// The elements of a constructor at their common type (a coercion error is the
    /// constructor's own, with no clause named).
    fn coerced(&self, elems: &[sql::Expr]) -> Result<(Option<SqlType>, Vec<Typed>), PlanError> {
        let refs: Vec<&sql::Expr> = elems.iter().collect();
        self.coerce_list(&refs).map_err(|e| match e {
            PlanError::Codegen(m) => PlanError::Invalid(m),
            other => other,
        })
    }

    /// `STRUCT(name := e, ...)` and `MAP(k := v, ...)`.
    fn constructor(&self, name: &str, args: &[sql::Expr]) -> Result<Typed, PlanError> {
        let mut pairs = Vec::new();
        for a in args {
            match a {
                sql::Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Assignment,
                    right,
                } => pairs.push((left.as_ref(), right.as_ref())),
                other => {
                    return Err(PlanError::Invalid(format!(
                        "{name} arguments are name := value pairs, found {other}"
                    )))
                }
            }
        }
        if name == "STRUCT" {
            let mut fields = Vec::new();
            let mut exprs = Vec::new();
            for (n, v) in pairs {
                let field = match n {
                    sql::Expr::Identifier(id) => id.value.clone(),
                    other => {
                        return Err(PlanError::Invalid(format!(
                            "STRUCT field names are identifiers, found {other}"
                        )))
                    }
                };
                let v = self.plan(v)?;
                if is_null_literal(&v.expr) {
                    return Err(PlanError::Invalid(
                        "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).".into(),
                    ));
                }
                exprs.push(Expr::Literal(ScalarValue::Utf8(Some(field.clone())), None));
                exprs.push(v.expr);
                fields.push((field, v.ty));
            }
            let ty = SqlType::Struct(fields);
            // (`STRUCT()`: a struct of no fields, which a cast fills with nulls by name)
            if exprs.is_empty() {
                let empty = arrow::array::StructArray::new_empty_fields(1, None);
                return Ok(Typed {
                    expr: Expr::Literal(ScalarValue::Struct(std::sync::Arc::new(empty)), None),
                    ty,
                });
            }
            let made = Expr::ScalarFunction(ScalarFunction::new_udf(
                datafusion_functions::core::named_struct(),
                exprs,
            ));
            return Ok(Typed {
                expr: Expr::Cast(datafusion_expr::Cast::new(Box::new(made), ty.arrow())),
                ty,
            });
        }
        if pairs.is_empty() {
            return Err(PlanError::Invalid(
                "Map constructor cannot be empty. Please supply at least one key value pair (see https://github.com/confluentinc/ksql/issues/4239).".into(),
            ));
        }
        let keys: Vec<sql::Expr> = pairs.iter().map(|(k, _)| (*k).clone()).collect();
        let values: Vec<sql::Expr> = pairs.iter().map(|(_, v)| (*v).clone()).collect();
        let (kt, keys) = self.coerced(&keys)?;
        let kt = kt.ok_or_else(|| {
            PlanError::Invalid(
                "Cannot construct a map with all NULL keys (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL key to the desired type.".into(),
            )
        })?;
        let (vt, values) = self.coerced(&values)?;
        let vt = vt.ok_or_else(|| {
            PlanError::Invalid(
                "Cannot construct a map with all NULL values (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.".into(),
            )
        })?;
        let k = make_array(keys, kt.clone());
        let v = make_array(values, vt.clone());
        let ty = SqlType::Map(Box::new(kt), Box::new(vt));
        let made = Expr::ScalarFunction(ScalarFunction::new_udf(
            datafusion_functions_nested::map::map_udf(),
            vec![k.expr, v.expr],
        ));
        Ok(Typed {
            expr: Expr::Cast(datafusion_expr::Cast::new(Box::new(made), ty.arrow())),
            ty,
        })
    }

    fn function(&self, f: &sql::Function) -> Result<Typed, PlanError> {
        let name = function_name(f);
        let args = function_args(f)?;
        if name == "STRUCT" || name == "MAP" {
            return self.constructor(&name, &args);
        }
        if functions::lambda::is_call(&name, &args) {
            return functions::lambda::plan(self, &name, &args);
        }
        // (`DATEADD(DAYS, n, d)`: an interval function's unit is a word, not a column)
        if let Some(unit) =
            functions::datetime::interval_unit(&name, &args, |e| self.plan(e).is_ok())
        {
            let mut rest = Vec::with_capacity(args.len());
            for a in &args[1..] {
                rest.push(self.plan(a)?);
            }
            return functions::datetime::plan_interval(self, &name, unit, rest);
        }
        let mut typed = Vec::with_capacity(args.len());
        for a in &args {
            typed.push(self.plan(a)?);
        }
        functions::call(self, &name, typed)
    }
}

/// The upper-case name of a function call.
pub fn function_name(f: &sql::Function) -> String {
    match f.name.0.last() {
        Some(sql::ObjectNamePart::Identifier(id)) => id.value.to_uppercase(),
        _ => f.name.to_string().to_uppercase(),
    }
}

/// The arguments of a call (`COUNT(*)` has none). ksqlDB's calls take expressions only:
/// `DISTINCT`, `ORDER BY`, `OVER`, `FILTER` and the like are refused rather than ignored.
pub fn function_args(f: &sql::Function) -> Result<Vec<sql::Expr>, PlanError> {
    let modified = f.over.is_some()
        || f.filter.is_some()
        || f.null_treatment.is_some()
        || !f.within_group.is_empty()
        || matches!(&f.args, sql::FunctionArguments::List(l)
            if l.duplicate_treatment.is_some() || !l.clauses.is_empty());
    if modified {
        return Err(PlanError::Invalid(format!(
            "Syntax Error: {} takes expressions only",
            function_name(f)
        )));
    }
    match &f.args {
        sql::FunctionArguments::None => Ok(Vec::new()),
        sql::FunctionArguments::Subquery(_) => {
            Err(PlanError::Invalid("subqueries are not supported".into()))
        }
        sql::FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e)) => Some(Ok(e.clone())),
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard) => None,
                other => Some(Err(PlanError::Invalid(format!(
                    "unsupported function argument {other}"
                )))),
            })
            .collect(),
    }
}

/// `ARRAY[items]` of items of `item_ty`.
fn make_array(items: Vec<Typed>, item_ty: SqlType) -> Typed {
    let ty = SqlType::Array(Box::new(item_ty));
    let made = Expr::ScalarFunction(ScalarFunction::new_udf(
        datafusion_functions_nested::make_array::make_array_udf(),
        items.into_iter().map(|t| t.expr).collect(),
    ));
    Typed {
        expr: Expr::Cast(datafusion_expr::Cast::new(Box::new(made), ty.arrow())),
        ty,
    }
}

/// A boolean expression, or its negation.
fn negated_if(negated: bool, e: Expr) -> Typed {
    Typed {
        expr: if negated { Expr::Not(Box::new(e)) } else { e },
        ty: SqlType::Boolean,
    }
}

fn binary(l: Expr, op: Operator, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

/// Whether `e` is an untyped `NULL` (not `CAST(NULL AS T)`).
pub fn is_null_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Null, _))
}

/// Whether `e` is the literal `NULL`.
pub fn is_sql_null(e: &sql::Expr) -> bool {
    match e {
        sql::Expr::Value(v) => v.value == Value::Null,
        sql::Expr::Nested(inner) => is_sql_null(inner),
        _ => false,
    }
}

/// An expression as ksqlDB prints it in messages (columns by their internal names for now).
pub fn display_expr(e: &Expr) -> String {
    e.to_string()
}

/// A literal's value and type: integers are INT when they fit, else BIGINT; numbers with a
/// point are DECIMAL, with an exponent DOUBLE.
pub fn literal(v: &Value) -> Result<Typed, PlanError> {
    let (value, ty) = match v {
        // (untyped: a null of the type it meets)
        Value::Null => (ScalarValue::Null, SqlType::String),
        Value::Boolean(b) => (ScalarValue::Boolean(Some(*b)), SqlType::Boolean),
        Value::SingleQuotedString(s) => (ScalarValue::Utf8(Some(s.clone())), SqlType::String),
        Value::Number(n, _) => {
            if n.contains(['e', 'E']) {
                let d: f64 = n
                    .parse()
                    .map_err(|_| PlanError::Invalid(format!("invalid number {n}")))?;
                (ScalarValue::Float64(Some(d)), SqlType::Double)
            } else if n.contains('.') {
                let (int, frac) = n.split_once('.').unwrap_or((n, ""));
                let int_digits = int.trim_start_matches('0').len();
                let scale = frac.len();
                let precision = (int_digits + scale).max(1);
                if precision > 38 {
                    let d: f64 = n
                        .parse()
                        .map_err(|_| PlanError::Invalid(format!("invalid number {n}")))?;
                    (ScalarValue::Float64(Some(d)), SqlType::Double)
                } else {
                    let v = crate::format::json::decimal_from_text(n, precision as u8, scale as i8)
                        .map_err(PlanError::Invalid)?;
                    (
                        v,
                        SqlType::Decimal {
                            precision: precision as u8,
                            scale: scale as i8,
                        },
                    )
                }
            } else if let Ok(i) = n.parse::<i32>() {
                (ScalarValue::Int32(Some(i)), SqlType::Int)
            } else if let Ok(i) = n.parse::<i64>() {
                (ScalarValue::Int64(Some(i)), SqlType::Bigint)
            } else {
                let d: f64 = n
                    .parse()
                    .map_err(|_| PlanError::Invalid(format!("invalid number {n}")))?;
                (ScalarValue::Float64(Some(d)), SqlType::Double)
            }
        }
        other => return Err(PlanError::Invalid(format!("unsupported literal {other}"))),
    };
    Ok(Typed {
        expr: Expr::Literal(value, None),
        ty,
    })
}

/// A sqlparser type (in CAST) as a SQL type.
pub fn sql_data_type(t: &sql::DataType) -> Result<SqlType, PlanError> {
    use sql::DataType as D;
    Ok(match t {
        D::Boolean | D::Bool => SqlType::Boolean,
        D::Int(_) | D::Integer(_) | D::Int4(_) => SqlType::Int,
        D::BigInt(_) | D::Int8(_) | D::Int64 => SqlType::Bigint,
        D::Double(_) | D::DoublePrecision | D::Float8 | D::Float64 | D::Real => SqlType::Double,
        D::Varchar(_) | D::String(_) | D::Text | D::Char(_) | D::CharVarying(_) => SqlType::String,
        D::Bytes(_) | D::Bytea | D::Blob(_) | D::Varbinary(_) | D::Binary(_) => SqlType::Bytes,
        D::Date => SqlType::Date,
        D::Time(_, _) => SqlType::Time,
        D::Timestamp(_, _) => SqlType::Timestamp,
        D::Decimal(info) | D::Numeric(info) | D::Dec(info) => match info {
            sql::ExactNumberInfo::PrecisionAndScale(p, s) => SqlType::Decimal {
                precision: u8::try_from(*p).unwrap_or(38),
                scale: i8::try_from(*s).unwrap_or(0),
            },
            sql::ExactNumberInfo::Precision(p) => SqlType::Decimal {
                precision: u8::try_from(*p).unwrap_or(38),
                scale: 0,
            },
            sql::ExactNumberInfo::None => {
                return Err(PlanError::Invalid(
                    "DECIMAL needs a precision and a scale".into(),
                ))
            }
        },
        D::Array(def) => match def {
            sql::ArrayElemTypeDef::AngleBracket(inner)
            | sql::ArrayElemTypeDef::SquareBracket(inner, _)
            | sql::ArrayElemTypeDef::Parenthesis(inner) => {
                SqlType::Array(Box::new(sql_data_type(inner)?))
            }
            sql::ArrayElemTypeDef::None => {
                return Err(PlanError::Invalid("ARRAY needs an element type".into()))
            }
        },
        D::Map(k, v) => SqlType::Map(Box::new(sql_data_type(k)?), Box::new(sql_data_type(v)?)),
        D::Struct(fields, _) => SqlType::Struct(
            fields
                .iter()
                .map(|f| {
                    Ok((
                        f.field_name
                            .as_ref()
                            .map(|n| n.value.clone())
                            .unwrap_or_default(),
                        sql_data_type(&f.field_type)?,
                    ))
                })
                .collect::<Result<Vec<_>, PlanError>>()?,
        ),
        D::Custom(name, _) => match name.to_string().to_uppercase().as_str() {
            "STRING" | "VARCHAR" => SqlType::String,
            "BYTES" => SqlType::Bytes,
            "BIGINT" => SqlType::Bigint,
            "INT" | "INTEGER" => SqlType::Int,
            "DOUBLE" => SqlType::Double,
            "BOOLEAN" => SqlType::Boolean,
            other => return Err(PlanError::Invalid(format!("Unknown type: {other}"))),
        },
        other => return Err(PlanError::Invalid(format!("unsupported type {other}"))),
    })
}

/// The decimal type an integer type widens to (INT: 10 digits, BIGINT: 19).
fn as_decimal(t: &SqlType) -> SqlType {
    match t {
        SqlType::Int => SqlType::Decimal {
            precision: 10,
            scale: 0,
        },
        SqlType::Bigint => SqlType::Decimal {
            precision: 19,
            scale: 0,
        },
        other => other.clone(),
    }
}

/// The type values of two types meet at (numbers widen; otherwise the first).
pub fn common_type(a: &SqlType, b: &SqlType) -> SqlType {
    if a.is_numeric() && b.is_numeric() {
        common_numeric(a, b)
    } else {
        a.clone()
    }
}

/// The type two numbers are compared at.
fn common_numeric(a: &SqlType, b: &SqlType) -> SqlType {
    use SqlType::*;
    match (a, b) {
        (Double, _) | (_, Double) => Double,
        (Decimal { .. }, _) | (_, Decimal { .. }) => {
            let (a, b) = (as_decimal(a), as_decimal(b));
            match (a, b) {
                (
                    Decimal {
                        precision: p1,
                        scale: s1,
                    },
                    Decimal {
                        precision: p2,
                        scale: s2,
                    },
                ) => {
                    let scale = s1.max(s2);
                    let int = (i16::from(p1) - i16::from(s1)).max(i16::from(p2) - i16::from(s2));
                    Decimal {
                        precision: (int + i16::from(scale)).clamp(1, 38) as u8,
                        scale,
                    }
                }
                _ => Double,
            }
        }
        (Bigint, _) | (_, Bigint) => Bigint,
        _ => Int,
    }
}

/// ksqlDB's result type of arithmetic (decimal rules as ksqlDB's `DecimalUtil`).
fn arithmetic_type(a: &SqlType, op: Operator, b: &SqlType) -> SqlType {
    use SqlType::*;
    match (a, b) {
        (Double, _) | (_, Double) => Double,
        (Decimal { .. }, _) | (_, Decimal { .. }) => {
            let (
                Decimal {
                    precision: p1,
                    scale: s1,
                },
                Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) = (as_decimal(a), as_decimal(b))
            else {
                return Double;
            };
            let (p1, s1, p2, s2) = (i32::from(p1), i32::from(s1), i32::from(p2), i32::from(s2));
            let (p, s) = match op {
                Operator::Plus | Operator::Minus => {
                    let s = s1.max(s2);
                    ((p1 - s1).max(p2 - s2) + s + 1, s)
                }
                Operator::Multiply => (p1 + p2 + 1, s1 + s2),
                Operator::Divide => {
                    let s = 6.max(s1 + p2 + 1);
                    (p1 - s1 + s2 + s, s)
                }
                _ => {
                    let s = s1.max(s2);
                    ((p1 - s1).min(p2 - s2) + s, s)
                }
            };
            let p = p.clamp(1, 38);
            Decimal {
                precision: p as u8,
                scale: s.clamp(0, p) as i8,
            }
        }
        (Bigint, _) | (_, Bigint) => Bigint,
        _ => Int,
    }
}

/// The DataType of a SQL type (for functions' signatures).
pub fn arrow_of(t: &SqlType) -> DataType {
    t.arrow()
}

/// A call of a DataFusion scalar function on typed arguments, typed by DataFusion.
pub fn udf_call(
    planner: &ExprPlanner<'_>,
    udf: Arc<datafusion_expr::ScalarUDF>,
    args: Vec<Typed>,
) -> Result<Typed, PlanError> {
    let expr = Expr::ScalarFunction(ScalarFunction::new_udf(
        udf,
        args.into_iter().map(|a| a.expr).collect(),
    ));
    let ty = planner.type_of(&expr)?;
    Ok(Typed { expr, ty })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::eval::Evaluator;

    /// `e` planned and evaluated over no columns.
    fn value_of(sql: &str) -> ScalarValue {
        let scope = Scope::default();
        let planner = ExprPlanner::new(&scope).unwrap();
        let typed = planner
            .plan(&crate::parser::parse_expr(sql).unwrap())
            .unwrap();
        let compiled = super::super::compile(&planner, typed).unwrap();
        let eval = Evaluator::new(&scope).unwrap();
        Evaluator::eval(&compiled, &eval.batch(&Vec::new()).unwrap())
    }

    #[test]
    fn a_long_in_list_is_planned_flat() {
        // (as a chain of ORs, 20,000 items overflowed the stack of the planner's walk)
        let items: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        let list = items.join(", ");
        assert_eq!(
            value_of(&format!("19999 IN ({list})")),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            value_of(&format!("20000 IN ({list})")),
            ScalarValue::Boolean(Some(false))
        );
        assert_eq!(
            value_of(&format!("20000 NOT IN ({list})")),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            value_of("CAST(NULL AS INT) IN (1, 2)"),
            ScalarValue::Boolean(Some(false))
        );
    }
}
