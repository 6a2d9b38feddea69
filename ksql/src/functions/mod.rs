//! ksqlDB's scalar functions by name: DataFusion's own where their meaning is ksqlDB's, with
//! the argument and result types ksqlDB gives them; ksqlDB's own where they differ
//! ([`rowfn`]).

pub mod aggregate;
mod bytes;
pub mod cast;
mod collections;
pub mod datetime;
mod json;
pub mod lambda;
mod math;
mod regex;
pub mod rowfn;
mod string;
pub mod test_udfs;
mod text;
mod url;

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_functions::{core, math as df_math, string as df_string, unicode};

use rowfn::row_udf;

use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;

/// The names of the scalar functions known, sorted.
pub fn names() -> Vec<&'static str> {
    let mut n = vec![
        "ABS",
        "AS_VALUE",
        "FROM_BYTES",
        "GEO_DISTANCE",
        "NULLIF",
        "TO_BYTES",
        "CEIL",
        "GREATEST",
        "INITCAP",
        "INSTR",
        "LEAST",
        "SUBSTRING",
        "TO_JSON_STRING",
        "COALESCE",
        "CONCAT",
        "EXP",
        "FLOOR",
        "IFNULL",
        "LCASE",
        "LEN",
        "LN",
        "LPAD",
        "LTRIM",
        "REPLACE",
        "ROUND",
        "RPAD",
        "TRUNC",
        "RTRIM",
        "SIGN",
        "PI",
        "RANDOM",
        "TRIM",
        "UCASE",
    ];
    n.extend(math::NAMES);
    n.extend(collections::NAMES);
    n.extend(url::NAMES);
    n.extend(datetime::NAMES);
    n.extend(lambda::NAMES);
    n.extend(regex::NAMES);
    n.extend(text::NAMES);
    n.extend(json::NAMES);
    n.sort_unstable();
    n
}

/// The name a function is declared with in ksqlDB, which its messages use.
fn declared(name: &str) -> String {
    match name {
        "ABS" => "Abs".into(),
        "CEIL" => "Ceil".into(),
        "FLOOR" => "Floor".into(),
        "ROUND" => "Round".into(),
        "LPAD" => "LPad".into(),
        "RPAD" => "RPad".into(),
        "CHR" => "Chr".into(),
        "SIGN" | "SQRT" | "EXP" | "LN" | "GREATEST" | "LEAST" | "INSTR" | "INITCAP"
        | "SUBSTRING" | "CONCAT" | "LCASE" | "UCASE" | "LEN" | "TRIM" | "REPLACE" | "TO_BYTES"
        | "FROM_BYTES" | "GEO_DISTANCE" => name.to_lowercase(),
        _ if math::NAMES.contains(&name)
            || url::NAMES.contains(&name)
            || datetime::NAMES.contains(&name)
            || lambda::NAMES.contains(&name)
            || regex::NAMES.contains(&name)
            || text::NAMES.contains(&name)
            || name == "EXTRACTJSONFIELD" =>
        {
            name.to_lowercase()
        }
        other => other.to_string(),
    }
}

/// A string argument's text (`None`: null or not a string).
fn text_arg(v: Option<&ScalarValue>) -> Option<&str> {
    match v {
        Some(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        ) => Some(s),
        _ => None,
    }
}

/// The text of a call's argument types in messages (`null` for an untyped NULL).
fn type_list(args: &[Typed]) -> String {
    args.iter()
        .map(|a| {
            if crate::plan::expr::is_null_literal(&a.expr) {
                "null".to_string()
            } else {
                a.ty.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// ksqlDB's message for arguments no declaration of `name` takes.
fn refused(name: &str, args: &[Typed]) -> PlanError {
    PlanError::Invalid(format!(
        "Function '{}' does not accept parameters ({}).",
        declared(name),
        type_list(args)
    ))
}

fn arity(name: &str, args: &[Typed], n: std::ops::RangeInclusive<usize>) -> Result<(), PlanError> {
    if n.contains(&args.len()) {
        Ok(())
    } else {
        Err(refused(name, args))
    }
}

/// The type `LEAST`/`GREATEST` compare at: ksqlDB declares them for each of INT, BIGINT,
/// DOUBLE, DECIMAL, STRING, BYTES, DATE, TIME and TIMESTAMP and picks the one declaration
/// every argument converts to implicitly (an untyped NULL fits all).
fn extremum_type(name: &str, args: &[Typed]) -> Result<SqlType, PlanError> {
    use SqlType::*;
    arity(name, args, 1..=usize::MAX)?;
    let typed: Vec<&SqlType> = args
        .iter()
        .filter(|a| !crate::plan::expr::is_null_literal(&a.expr))
        .map(|a| &a.ty)
        .collect();
    let ambiguous = || {
        PlanError::Invalid(format!(
            "Function '{}' cannot be resolved due to ambiguous method parameters ({}).",
            declared(name),
            type_list(args)
        ))
    };
    let Some(first) = typed.first() else {
        return Err(ambiguous());
    };
    let same = |a: &SqlType, b: &SqlType| std::mem::discriminant(a) == std::mem::discriminant(b);
    if typed.iter().all(|t| same(t, first)) {
        return Ok(match first {
            Decimal { .. } => typed.iter().skip(1).fold((*first).clone(), |acc, t| {
                crate::plan::coerce::widen(&acc, t)
            }),
            other => (*other).clone(),
        });
    }
    // (numbers widen INT < BIGINT < DECIMAL < DOUBLE; strings read as dates, times,
    // timestamps and bytes)
    let rank = |t: &SqlType| match t {
        Int => Some(0),
        Bigint => Some(1),
        Decimal { .. } => Some(2),
        Double => Some(3),
        _ => None,
    };
    let implicit = |from: &SqlType, to: &SqlType| {
        same(from, to)
            || matches!((rank(from), rank(to)), (Some(a), Some(b)) if a <= b)
            || (*from == String && matches!(to, Date | Time | Timestamp | Bytes))
    };
    let declared_for = [
        Int,
        Bigint,
        Decimal {
            precision: 38,
            scale: 0,
        },
        Double,
        String,
        Bytes,
        Date,
        Time,
        Timestamp,
    ];
    let fits: Vec<&SqlType> = declared_for
        .iter()
        .filter(|d| typed.iter().all(|t| implicit(t, d)))
        .collect();
    match fits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(refused(name, args)),
        _ => Err(ambiguous()),
    }
}

fn strings(p: &ExprPlanner<'_>, args: Vec<Typed>) -> Result<Vec<Typed>, PlanError> {
    args.into_iter()
        .map(|a| p.cast(a, &SqlType::String))
        .collect()
}

fn doubles(p: &ExprPlanner<'_>, args: Vec<Typed>) -> Result<Vec<Typed>, PlanError> {
    args.into_iter()
        .map(|a| p.cast(a, &SqlType::Double))
        .collect()
}

/// `TO_JSON_STRING(v)`: the JSON text of any value (`null` for null).
fn to_json_string(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let v = args.first().cloned().unwrap_or(ScalarValue::Null);
    Ok(ScalarValue::Utf8(Some(
        crate::format::json::to_json_string(&v),
    )))
}

/// Plans the call `name(args)`.
pub fn call(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    let typed = |r: Result<Typed, PlanError>, ty: SqlType| -> Result<Typed, PlanError> {
        let v = r?;
        p.cast(v, &ty)
    };
    match name {
        "AS_VALUE" => {
            arity(name, &args, 1..=1)?;
            Ok(args
                .into_iter()
                .next()
                .ok_or_else(|| PlanError::Invalid("AS_VALUE takes 1 argument".into()))?)
        }
        "SUBSTRING" => {
            arity(name, &args, 2..=3)?;
            let bytes = args[0].ty == SqlType::Bytes;
            let mut it = args.into_iter();
            let mut cast = Vec::new();
            if let Some(s) = it.next() {
                cast.push(if bytes {
                    s
                } else {
                    p.cast(s, &SqlType::String)?
                });
            }
            for a in it {
                cast.push(p.cast(a, &SqlType::Bigint)?);
            }
            let (ret, ty) = if bytes {
                (DataType::Binary, SqlType::Bytes)
            } else {
                (DataType::Utf8, SqlType::String)
            };
            typed(
                udf_call(p, row_udf("SUBSTRING", ret, string::substring), cast),
                ty,
            )
        }
        "TO_JSON_STRING" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(
                    p,
                    row_udf("TO_JSON_STRING", DataType::Utf8, to_json_string),
                    args,
                ),
                SqlType::String,
            )
        }
        "INSTR" => {
            arity(name, &args, 2..=4)?;
            let mut cast = Vec::new();
            for (i, a) in args.into_iter().enumerate() {
                cast.push(p.cast(
                    a,
                    if i < 2 {
                        &SqlType::String
                    } else {
                        &SqlType::Bigint
                    },
                )?);
            }
            typed(
                udf_call(p, row_udf("INSTR", DataType::Int32, string::instr), cast),
                SqlType::Int,
            )
        }
        "INITCAP" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(
                    p,
                    row_udf("INITCAP", DataType::Utf8, string::initcap),
                    strings(p, args)?,
                ),
                SqlType::String,
            )
        }
        "GREATEST" | "LEAST" => {
            let ty = extremum_type(name, &args)?;
            let args = args
                .into_iter()
                .map(|a| p.cast(a, &ty))
                .collect::<Result<Vec<_>, _>>()?;
            let f = if name == "GREATEST" {
                core::greatest()
            } else {
                core::least()
            };
            typed(udf_call(p, f, args), ty)
        }
        _ if collections::NAMES.contains(&name) => collections::plan(p, name, args),
        _ if url::NAMES.contains(&name) => url::plan(p, name, args),
        _ if regex::NAMES.contains(&name) => regex::plan(p, name, args),
        _ if text::NAMES.contains(&name) => text::plan(p, name, args),
        _ if json::NAMES.contains(&name) => json::plan(p, name, args),
        _ if datetime::NAMES.contains(&name) => datetime::plan(p, name, args),
        "GEO_DISTANCE" => {
            let numbers = args.len() >= 4 && args[..4].iter().all(|a| a.ty.is_numeric());
            let unit = args.get(4).is_none_or(|u| u.ty == SqlType::String);
            if !(4..=5).contains(&args.len()) || !numbers || !unit {
                return Err(refused(name, &args));
            }
            let mut args = args;
            let unit = if args.len() == 5 { args.pop() } else { None };
            let mut cast = doubles(p, args)?;
            cast.extend(unit);
            typed(
                udf_call(
                    p,
                    row_udf("GEO_DISTANCE", DataType::Float64, math::geo_distance),
                    cast,
                ),
                SqlType::Double,
            )
        }
        "TO_BYTES" | "FROM_BYTES" => {
            let (input, f, ret): (SqlType, rowfn::RowFn, SqlType) = if name == "TO_BYTES" {
                (SqlType::String, bytes::to_bytes, SqlType::Bytes)
            } else {
                (SqlType::Bytes, bytes::from_bytes, SqlType::String)
            };
            match args.as_slice() {
                [a, e] if a.ty == input && e.ty == SqlType::String => {
                    let n: &'static str = if name == "TO_BYTES" {
                        "TO_BYTES"
                    } else {
                        "FROM_BYTES"
                    };
                    typed(udf_call(p, row_udf(n, ret.arrow(), f), args), ret)
                }
                _ => Err(refused(name, &args)),
            }
        }
        "NULLIF" => {
            // (null when both are equal, else the first)
            arity(name, &args, 2..=2)?;
            let ty = args[0].ty.clone();
            let (a, b) = (args[0].clone(), args[1].clone());
            let b = if b.ty == ty || crate::plan::expr::is_null_literal(&b.expr) {
                p.cast(b, &ty)?
            } else if b.ty.is_numeric() && ty.is_numeric() {
                let common = crate::plan::expr::common_type(&ty, &b.ty);
                if common != ty {
                    return Err(refused(name, &args));
                }
                p.cast(b, &ty)?
            } else {
                return Err(refused(name, &args));
            };
            let equal = datafusion_expr::Expr::IsTrue(Box::new(a.expr.clone().eq(b.expr)));
            Ok(Typed {
                expr: datafusion_expr::Expr::Case(datafusion_expr::Case::new(
                    None,
                    vec![(
                        Box::new(equal),
                        Box::new(crate::plan::coerce::typed_null(&ty).expr),
                    )],
                    Some(Box::new(a.expr)),
                )),
                ty,
            })
        }
        "UCASE" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(p, df_string::upper(), strings(p, args)?),
                SqlType::String,
            )
        }
        "LCASE" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(p, df_string::lower(), strings(p, args)?),
                SqlType::String,
            )
        }
        "LEN" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(p, unicode::character_length(), strings(p, args)?),
                SqlType::Int,
            )
        }
        "TRIM" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(
                    p,
                    row_udf("TRIM", DataType::Utf8, string::trim),
                    strings(p, args)?,
                ),
                SqlType::String,
            )
        }
        "LTRIM" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(
                    p,
                    row_udf("LTRIM", DataType::Utf8, string::ltrim),
                    strings(p, args)?,
                ),
                SqlType::String,
            )
        }
        "RTRIM" => {
            arity(name, &args, 1..=1)?;
            typed(
                udf_call(
                    p,
                    row_udf("RTRIM", DataType::Utf8, string::rtrim),
                    strings(p, args)?,
                ),
                SqlType::String,
            )
        }
        "REPLACE" => {
            arity(name, &args, 3..=3)?;
            typed(
                udf_call(p, df_string::replace(), strings(p, args)?),
                SqlType::String,
            )
        }
        "CONCAT" if args.iter().any(|a| a.ty == SqlType::Bytes) => text::plan(p, name, args),
        "CONCAT" => {
            arity(name, &args, 1..=usize::MAX)?;
            typed(
                udf_call(p, df_string::concat(), strings(p, args)?),
                SqlType::String,
            )
        }
        "LPAD" | "RPAD" => {
            arity(name, &args, 3..=3)?;
            let bytes = args[0].ty == SqlType::Bytes;
            let ty = if bytes {
                SqlType::Bytes
            } else {
                SqlType::String
            };
            let mut cast = Vec::new();
            for (i, a) in args.into_iter().enumerate() {
                cast.push(p.cast(a, if i == 1 { &SqlType::Bigint } else { &ty })?);
            }
            let (f, n): (rowfn::RowFn, &'static str) = if name == "LPAD" {
                (string::lpad, "LPAD")
            } else {
                (string::rpad, "RPAD")
            };
            typed(udf_call(p, row_udf(n, ty.arrow(), f), cast), ty)
        }
        "COALESCE" | "IFNULL" => {
            if name == "IFNULL" {
                arity(name, &args, 2..=2)?;
            } else {
                arity(name, &args, 1..=usize::MAX)?;
            }
            let ty = args[0].ty.clone();
            if args.len() == 1 {
                return args
                    .into_iter()
                    .next()
                    .ok_or_else(|| PlanError::Invalid("COALESCE takes arguments".into()));
            }
            let mut args = args
                .into_iter()
                .map(|a| p.cast(a, &ty).map(|t| t.expr))
                .collect::<Result<Vec<_>, _>>()?;
            // (DataFusion's coalesce only runs once simplified into this CASE)
            let last = args.pop().map(Box::new);
            let when_then = args
                .into_iter()
                .map(|a| (Box::new(a.clone().is_not_null()), Box::new(a)))
                .collect();
            Ok(Typed {
                expr: datafusion_expr::Expr::Case(datafusion_expr::Case::new(
                    None, when_then, last,
                )),
                ty,
            })
        }
        "ABS" => {
            arity(name, &args, 1..=1)?;
            let ty = args[0].ty.clone();
            if !ty.is_numeric() {
                return Err(PlanError::Invalid(format!(
                    "Function 'ABS' does not accept parameters ({ty})."
                )));
            }
            typed(udf_call(p, df_math::abs(), args), ty)
        }
        "CEIL" | "FLOOR" => {
            arity(name, &args, 1..=1)?;
            let ty = args[0].ty.clone();
            let f = if name == "CEIL" {
                df_math::ceil()
            } else {
                df_math::floor()
            };
            match ty {
                SqlType::Int | SqlType::Bigint => Ok(args
                    .into_iter()
                    .next()
                    .ok_or_else(|| PlanError::Invalid(format!("{name} takes 1 argument")))?),
                _ => typed(udf_call(p, f, doubles(p, args)?), SqlType::Double),
            }
        }
        "EXP" | "LN" | "SIGN" => {
            arity(name, &args, 1..=1)?;
            let f = match name {
                "EXP" => df_math::exp(),
                "LN" => df_math::ln(),
                _ => df_math::signum(),
            };
            let ty = if name == "SIGN" {
                SqlType::Int
            } else {
                SqlType::Double
            };
            typed(udf_call(p, f, doubles(p, args)?), ty)
        }
        "ROUND" | "TRUNC" => {
            arity(name, &args, 1..=2)?;
            let ty = args[0].ty.clone();
            let round = name == "ROUND";
            let types = args
                .iter()
                .map(|a| a.ty.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let refused = || {
                PlanError::Invalid(format!(
                    "Function '{}' does not accept parameters ({types}).",
                    if round { "Round" } else { "trunc" },
                ))
            };
            if args.len() == 2 && args[1].ty != SqlType::Int {
                return Err(refused());
            }
            let n: &'static str = if round { "ROUND" } else { "TRUNC" };
            let (f, ret): (rowfn::RowFn, SqlType) = match (&ty, args.len()) {
                (SqlType::Int | SqlType::Bigint, 1) => {
                    let v = args.into_iter().next().ok_or_else(refused)?;
                    return p.cast(v, &SqlType::Bigint);
                }
                (SqlType::Double, 1) if round => (math::round_double_to_long, SqlType::Bigint),
                (SqlType::Double, 1) => (math::trunc_double_to_long, SqlType::Bigint),
                (SqlType::Int | SqlType::Bigint | SqlType::Double, _) if round => {
                    (math::round_double_places, SqlType::Double)
                }
                (SqlType::Int | SqlType::Bigint | SqlType::Double, _) => {
                    (math::trunc_double_places, SqlType::Double)
                }
                (SqlType::Decimal { precision, scale }, 1) => (
                    if round {
                        math::round_decimal
                    } else {
                        math::trunc_decimal
                    },
                    SqlType::Decimal {
                        precision: (i16::from(*precision) - i16::from(*scale)).clamp(1, 38) as u8,
                        scale: 0,
                    },
                ),
                (SqlType::Decimal { .. }, _) => (
                    if round {
                        math::round_decimal_places
                    } else {
                        math::trunc_decimal_places
                    },
                    ty.clone(),
                ),
                _ => return Err(refused()),
            };
            let mut args = args;
            if ty != SqlType::Double && !matches!(ty, SqlType::Decimal { .. }) {
                args[0] = p.cast(args[0].clone(), &SqlType::Double)?;
            }
            typed(udf_call(p, row_udf(n, ret.arrow(), f), args), ret)
        }
        "RANDOM" => {
            arity(name, &args, 0..=0)?;
            let mut t = udf_call(p, df_math::random(), Vec::new())?;
            t.ty = SqlType::Double;
            Ok(t)
        }
        "PI" => {
            arity(name, &args, 0..=0)?;
            Ok(Typed {
                expr: datafusion_expr::lit(std::f64::consts::PI),
                ty: SqlType::Double,
            })
        }
        _ if math::NAMES.contains(&name) => {
            let found =
                math::by_name(name, args.len()).filter(|_| args.iter().all(|a| a.ty.is_numeric()));
            let Some((n, f)) = found else {
                return Err(PlanError::Invalid(format!(
                    "Function '{}' does not accept parameters ({}).",
                    name.to_lowercase(),
                    args.iter()
                        .map(|a| a.ty.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            typed(
                udf_call(p, row_udf(n, DataType::Float64, f), doubles(p, args)?),
                SqlType::Double,
            )
        }
        _ => test_udfs::call(p, name, &args).unwrap_or_else(|| {
            Err(PlanError::Invalid(format!(
                "Can't find any functions with the name '{name}'"
            )))
        }),
    }
}
