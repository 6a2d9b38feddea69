//! ksqlDB's coercion of a list of expressions to one type (its `CoercionUtil`), used by
//! `x IN (...)` (the value and the items together) and by the elements of `ARRAY[...]` and
//! `MAP(...)`. Literals are lax (`'4.000'` is a number next to numbers, `10` a string next
//! to strings); other expressions only widen (`INT` to `BIGINT`, `DECIMAL`, `DOUBLE`).
//! Constructors are coerced element by element, so `ARRAY['3', null]` is an `ARRAY<BIGINT>`
//! next to one.

use datafusion_expr::Expr;
use sqlparser::ast::{self as sql, BinaryOperator, UnaryOperator, Value};

use super::expr::{function_args, function_name, ExprPlanner, Typed};
use super::text::ksql_text;
use super::PlanError;
use crate::functions::cast::{cast_value, exact_boolean};
use crate::types::SqlType;
use crate::value;

/// What the coercion rules distinguish in an expression.
enum Kind<'e> {
    /// `NULL`: takes the common type.
    Null,
    /// A string literal.
    Str(&'e str),
    /// A number or boolean literal.
    Literal,
    /// `ARRAY[...]`.
    Array(&'e [sql::Expr]),
    /// `MAP(k := v, ...)`.
    Map(Vec<(&'e sql::Expr, &'e sql::Expr)>),
    /// `STRUCT(name := v, ...)`.
    Struct(Vec<(String, &'e sql::Expr)>),
    /// Anything else.
    Other,
}

fn kind(e: &sql::Expr) -> Kind<'_> {
    match e {
        sql::Expr::Nested(inner) => kind(inner),
        sql::Expr::Value(v) => match &v.value {
            Value::Null => Kind::Null,
            Value::SingleQuotedString(s) => Kind::Str(s),
            Value::Number(..) | Value::Boolean(_) => Kind::Literal,
            _ => Kind::Other,
        },
        sql::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if matches!(expr.as_ref(), sql::Expr::Value(v) if matches!(v.value, Value::Number(..))) => {
            Kind::Literal
        }
        sql::Expr::Array(a) => Kind::Array(&a.elem),
        sql::Expr::Function(f) => {
            let name = function_name(f);
            if name != "MAP" && name != "STRUCT" {
                return Kind::Other;
            }
            let Ok(args) = function_args(f) else {
                return Kind::Other;
            };
            // (the pairs borrow from `f`, whose argument list `function_args` copied)
            let sql::FunctionArguments::List(list) = &f.args else {
                return Kind::Other;
            };
            let mut pairs = Vec::with_capacity(args.len());
            for a in &list.args {
                match a {
                    sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(
                        sql::Expr::BinaryOp {
                            left,
                            op: BinaryOperator::Assignment,
                            right,
                        },
                    )) => pairs.push((left.as_ref(), right.as_ref())),
                    _ => return Kind::Other,
                }
            }
            if name == "MAP" {
                Kind::Map(pairs)
            } else {
                let mut fields = Vec::with_capacity(pairs.len());
                for (n, v) in pairs {
                    match n {
                        sql::Expr::Identifier(id) => fields.push((id.value.clone(), v)),
                        _ => return Kind::Other,
                    }
                }
                Kind::Struct(fields)
            }
        }
        _ => Kind::Other,
    }
}

/// Why coercion failed: types that do not meet (reported with the outermost expression's
/// types), or anything else (reported as it is).
enum Fail {
    Mismatch(String),
    Other(PlanError),
}

impl From<PlanError> for Fail {
    fn from(e: PlanError) -> Self {
        Fail::Other(e)
    }
}

/// ksqlDB's message for types that do not meet.
fn mismatch(e: &sql::Expr, ty: &SqlType, target: &SqlType) -> Fail {
    Fail::Mismatch(format!(
        "operator does not exist: {target} = {ty} ({})\nHint: You might need to add explicit type casts.",
        ksql_text(e)
    ))
}

/// ksqlDB's message for a string literal that is no value of `target`.
fn invalid_syntax(text: &str, target: &SqlType) -> Fail {
    Fail::Other(PlanError::Codegen(format!(
        "invalid input syntax for type {}: \"{text}\".",
        base_name(target)
    )))
}

/// The name of a type's kind (`DECIMAL` for every `DECIMAL(p, s)`, `ARRAY` for arrays...).
pub fn base_name(t: &SqlType) -> &'static str {
    match t {
        SqlType::Boolean => "BOOLEAN",
        SqlType::Int => "INTEGER",
        SqlType::Bigint => "BIGINT",
        SqlType::Double => "DOUBLE",
        SqlType::Decimal { .. } => "DECIMAL",
        SqlType::String => "STRING",
        SqlType::Bytes => "BYTES",
        SqlType::Date => "DATE",
        SqlType::Time => "TIME",
        SqlType::Timestamp => "TIMESTAMP",
        SqlType::Array(_) => "ARRAY",
        SqlType::Map(..) => "MAP",
        SqlType::Struct(_) => "STRUCT",
    }
}

impl ExprPlanner<'_> {
    /// The common type of `exprs` and each of them converted to it, as ksqlDB coerces a
    /// user's list (the type is `None`, and the items untyped nulls, when all are `NULL`).
    /// Types that do not meet, and strings that are no value of the type, are
    /// [`PlanError::Codegen`] errors.
    pub fn coerce_list(
        &self,
        exprs: &[&sql::Expr],
    ) -> Result<(Option<SqlType>, Vec<Typed>), PlanError> {
        let mut common = None;
        for e in exprs {
            common = self.resolve(e, common).map_err(|f| match f {
                Fail::Mismatch(m) => PlanError::Codegen(m),
                Fail::Other(e) => e,
            })?;
        }
        let Some(ty) = common else {
            let items = exprs
                .iter()
                .map(|e| self.plan(e))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((None, items));
        };
        let items = exprs
            .iter()
            .map(|e| self.convert(e, &ty))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Some(ty), items))
    }

    /// The type `e` and the list's type so far (`acc`) meet at.
    fn resolve(&self, e: &sql::Expr, acc: Option<SqlType>) -> Result<Option<SqlType>, Fail> {
        let k = kind(e);
        if let Kind::Null = k {
            return Ok(acc);
        }
        let ty = self.plan(e)?.ty;
        let Some(acc) = acc else {
            return Ok(Some(ty));
        };
        // a mismatch inside a constructor is reported with the constructor's types
        let outer = |f: Fail| match f {
            Fail::Mismatch(_) => mismatch(e, &ty, &acc),
            other => other,
        };
        Ok(Some(match k {
            Kind::Array(elems) => {
                let SqlType::Array(item) = &acc else {
                    return Err(mismatch(e, &ty, &acc));
                };
                let item = self
                    .resolve_all((**item).clone(), elems.iter())
                    .map_err(outer)?;
                SqlType::Array(Box::new(item))
            }
            Kind::Map(pairs) => {
                let SqlType::Map(k, v) = &acc else {
                    return Err(mismatch(e, &ty, &acc));
                };
                let k = self
                    .resolve_all((**k).clone(), pairs.iter().map(|(k, _)| *k))
                    .map_err(outer)?;
                let v = self
                    .resolve_all((**v).clone(), pairs.iter().map(|(_, v)| *v))
                    .map_err(outer)?;
                SqlType::Map(Box::new(k), Box::new(v))
            }
            Kind::Struct(fields) => {
                let (SqlType::Struct(have), SqlType::Struct(want)) = (&ty, &acc) else {
                    return Err(mismatch(e, &ty, &acc));
                };
                let mut out: Vec<(String, SqlType)> = Vec::new();
                for ((name, field), (_, field_ty)) in fields.iter().zip(have) {
                    let t = match want.iter().find(|(n, _)| n == name) {
                        Some((_, w)) => self
                            .resolve(field, Some(w.clone()))
                            .map_err(outer)?
                            .unwrap_or_else(|| w.clone()),
                        None => field_ty.clone(),
                    };
                    out.push((name.clone(), t));
                }
                for (name, t) in want {
                    if !out.iter().any(|(n, _)| n == name) {
                        out.push((name.clone(), t.clone()));
                    }
                }
                SqlType::Struct(out)
            }
            Kind::Str(s) if acc.is_numeric() => numeric_from_string(s, &acc)?,
            Kind::Str(s) if acc == SqlType::Boolean => {
                exact_boolean(s.trim()).ok_or_else(|| invalid_syntax(s, &acc))?;
                acc
            }
            k => {
                let lax = matches!(k, Kind::Str(_) | Kind::Literal);
                can_coerce(&ty, &acc, lax)
                    .or_else(|| can_coerce(&acc, &ty, lax))
                    .ok_or_else(|| mismatch(e, &ty, &acc))?
            }
        }))
    }

    /// The type the elements of a constructor meet at, starting from `target`.
    fn resolve_all<'e>(
        &self,
        target: SqlType,
        elems: impl Iterator<Item = &'e sql::Expr>,
    ) -> Result<SqlType, Fail> {
        let mut acc = target;
        for e in elems {
            if let Some(t) = self.resolve(e, Some(acc.clone()))? {
                acc = t;
            }
        }
        Ok(acc)
    }

    /// `e` converted to the list's common type: literals at plan time, the rest by a cast.
    fn convert(&self, e: &sql::Expr, to: &SqlType) -> Result<Typed, PlanError> {
        let k = kind(e);
        if let Kind::Null = k {
            return Ok(typed_null(to));
        }
        let typed = self.plan(e)?;
        if &typed.ty == to {
            return Ok(typed);
        }
        if let Kind::Str(_) | Kind::Literal = k {
            let v = constant(&typed.expr)
                .ok_or_else(|| PlanError::Internal(format!("{e} is no constant")))?;
            let v = cast_value(&v, to).map_err(|detail| {
                tracing::debug!(%detail, "literal conversion failed");
                let text = match k {
                    Kind::Str(s) => s.to_string(),
                    _ => ksql_text(e),
                };
                PlanError::Codegen(format!(
                    "invalid input syntax for type {}: \"{text}\".",
                    base_name(to)
                ))
            })?;
            return Ok(Typed {
                expr: Expr::Literal(v, None),
                ty: to.clone(),
            });
        }
        self.cast(typed, to)
    }
}

/// The value of a planned literal (`-1` is planned as a negation).
fn constant(e: &Expr) -> Option<datafusion_common::ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Negative(inner) => constant(inner)?.arithmetic_negate().ok(),
        _ => None,
    }
}

/// ksqlDB's `DefaultSqlValueCoercer`: the type a value of `from` becomes as `to` (`None`:
/// not at all). Lax coercion (of literals) also reads strings as numbers and booleans, and
/// writes anything as a string.
pub fn can_coerce(from: &SqlType, to: &SqlType, lax: bool) -> Option<SqlType> {
    use SqlType::*;
    match (from, to) {
        (Array(a), Array(b)) => Some(Array(Box::new(can_coerce(a, b, lax)?))),
        (Map(ka, va), Map(kb, vb)) => Some(Map(
            Box::new(can_coerce(ka, kb, lax)?),
            Box::new(can_coerce(va, vb, lax)?),
        )),
        (Struct(a), Struct(b)) => {
            let mut out: Vec<(std::string::String, SqlType)> = Vec::new();
            for (n, t) in a {
                let t = match b.iter().find(|(m, _)| m == n) {
                    Some((_, u)) => can_coerce(t, u, lax)?,
                    None => t.clone(),
                };
                out.push((n.clone(), t));
            }
            for (n, t) in b {
                if !out.iter().any(|(m, _)| m == n) {
                    out.push((n.clone(), t.clone()));
                }
            }
            Some(Struct(out))
        }
        _ if from == to => Some(to.clone()),
        (Int, Bigint | Double) | (Bigint | Decimal { .. }, Double) => Some(to.clone()),
        (Int | Bigint | Decimal { .. }, Decimal { .. }) => Some(widen(from, to)),
        (String, Timestamp | Time | Date | Bytes) => Some(to.clone()),
        (Boolean | Int | Bigint | Decimal { .. } | Double | Timestamp | Time | Date, String)
            if lax =>
        {
            Some(String)
        }
        (String, Boolean | Int | Bigint | Decimal { .. } | Double) if lax => Some(to.clone()),
        _ => None,
    }
}

/// ksqlDB's `DecimalUtil.widen`: the decimal both fit in (`INT` is `DECIMAL(10, 0)`,
/// `BIGINT` `DECIMAL(19, 0)`).
pub fn widen(a: &SqlType, b: &SqlType) -> SqlType {
    let (pa, sa) = decimal_parts(a);
    let (pb, sb) = decimal_parts(b);
    let scale = sa.max(sb);
    let whole = (pa - sa).max(pb - sb);
    SqlType::Decimal {
        precision: (whole + scale).clamp(1, 38) as u8,
        scale: scale.clamp(0, 38) as i8,
    }
}

fn decimal_parts(t: &SqlType) -> (i32, i32) {
    match t {
        SqlType::Int => (10, 0),
        SqlType::Bigint => (19, 0),
        SqlType::Decimal { precision, scale } => (i32::from(*precision), i32::from(*scale)),
        _ => (38, 0),
    }
}

/// The number type a string literal next to numbers of `target` makes the list (ksqlDB's
/// `resolveCommonNumericTypeFromStringLiteral`).
fn numeric_from_string(s: &str, target: &SqlType) -> Result<SqlType, Fail> {
    let source = string_number_type(s).ok_or_else(|| invalid_syntax(s, target))?;
    Ok(match (&source, target) {
        (SqlType::Double, _) | (_, SqlType::Double) => SqlType::Double,
        (SqlType::Decimal { .. }, _) | (_, SqlType::Decimal { .. }) => widen(&source, target),
        (SqlType::Bigint, _) | (_, SqlType::Bigint) => SqlType::Bigint,
        _ => SqlType::Int,
    })
}

/// The type of the number a string holds, read as Java's `BigDecimal` reads it: `INTEGER` or
/// `BIGINT` for whole numbers that fit, else a `DECIMAL` of its digits.
fn string_number_type(s: &str) -> Option<SqlType> {
    let t = s.trim();
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let digits = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    if !t.contains(['.', 'e', 'E']) {
        if let Ok(v) = t.parse::<i128>() {
            if v > i128::from(i32::MIN) && v < i128::from(i32::MAX) {
                return Some(SqlType::Int);
            }
            if v > i128::from(i64::MIN) && v < i128::from(i64::MAX) {
                return Some(SqlType::Bigint);
            }
        }
    }
    // BigDecimal's unscaled digits and scale
    let all = format!("{int}{frac}");
    let significant = all.trim_start_matches('0');
    let precision = i64::try_from(significant.len().max(1)).unwrap_or(i64::MAX);
    let scale = i64::try_from(frac.len())
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::from(exp));
    let (precision, scale) = if scale < 0 {
        (precision.saturating_sub(scale), 0)
    } else if i64::try_from(significant.len()).unwrap_or(i64::MAX) <= scale {
        // |v| < 1: DECIMAL(scale + 1, scale)
        (scale.saturating_add(1), scale)
    } else {
        (precision, scale)
    };
    Some(SqlType::Decimal {
        precision: precision.clamp(1, 38) as u8,
        scale: scale.clamp(0, 38) as i8,
    })
}

/// An untyped `NULL` as a null of `ty`.
pub fn typed_null(ty: &SqlType) -> Typed {
    Typed {
        expr: Expr::Literal(value::null(ty), None),
        ty: ty.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_read_as_numbers() {
        assert_eq!(
            string_number_type("4.000"),
            Some(SqlType::Decimal {
                precision: 4,
                scale: 3
            })
        );
        assert_eq!(string_number_type("2147483648"), Some(SqlType::Bigint));
        assert_eq!(string_number_type(" 10 "), Some(SqlType::Int));
        assert_eq!(
            string_number_type("0.5"),
            Some(SqlType::Decimal {
                precision: 2,
                scale: 1
            })
        );
        assert_eq!(string_number_type("10 - not a number"), None);
        assert_eq!(string_number_type("NaN"), None);
    }

    #[test]
    fn widening_keeps_whole_digits_and_scale() {
        let d = |p, s| SqlType::Decimal {
            precision: p,
            scale: s,
        };
        assert_eq!(widen(&SqlType::Int, &d(2, 1)), d(11, 1));
        assert_eq!(widen(&d(9, 2), &d(7, 6)), d(13, 6));
        assert_eq!(
            can_coerce(&SqlType::Int, &SqlType::String, false),
            None,
            "only literals become strings"
        );
        assert_eq!(
            can_coerce(&SqlType::Int, &SqlType::String, true),
            Some(SqlType::String)
        );
    }
}
