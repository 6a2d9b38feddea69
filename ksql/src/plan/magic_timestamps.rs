//! ksqlDB's "magic" timestamps (its `StatementRewriteForMagicPseudoTimestamp`): in `WHERE`, a
//! string literal compared with `ROWTIME`, `WINDOWSTART` or `WINDOWEND` (by `=`, `<>`, `<`,
//! `<=`, `>`, `>=`, `BETWEEN`) is a point in time, `'2020-02-10T08:31:44.001+0000'` or a
//! partial `'2018'`, read as its epoch ms.

use std::ops::ControlFlow;

use sqlparser::ast::{self as sql, BinaryOperator, Value, VisitMut, VisitorMut};

use super::PlanError;
use crate::functions::datetime::partial_timestamp;

/// `e` with its magic timestamps read (an unreadable one is an error).
pub fn rewrite(e: &sql::Expr) -> Result<sql::Expr, PlanError> {
    let mut e = e.clone();
    let mut v = Magic;
    match e.visit(&mut v) {
        ControlFlow::Break(err) => Err(err),
        ControlFlow::Continue(()) => Ok(e),
    }
}

/// Whether `e` names a time column.
fn time_column(e: &sql::Expr) -> bool {
    let name = match e {
        sql::Expr::Identifier(id) => &id.value,
        sql::Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(p) => &p.value,
            None => return false,
        },
        _ => return false,
    };
    matches!(name.as_str(), "ROWTIME" | "WINDOWSTART" | "WINDOWEND")
}

/// Reads `e` when it is a string literal.
fn read(e: &mut sql::Expr) -> Result<(), PlanError> {
    if let sql::Expr::Value(v) = e {
        if let Value::SingleQuotedString(text) = &v.value {
            let ms = partial_timestamp(text).map_err(PlanError::Invalid)?;
            v.value = Value::Number(ms.to_string(), false);
        }
    }
    Ok(())
}

/// Reads the string side of a comparison whose other side is a time column.
fn compared(left: &mut sql::Expr, right: &mut sql::Expr) -> Result<(), PlanError> {
    if time_column(left) {
        read(right)
    } else if time_column(right) {
        read(left)
    } else {
        Ok(())
    }
}

struct Magic;

impl VisitorMut for Magic {
    type Break = PlanError;

    fn post_visit_expr(&mut self, e: &mut sql::Expr) -> ControlFlow<PlanError> {
        let done = match e {
            sql::Expr::BinaryOp {
                left,
                op:
                    BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq,
                right,
            } => compared(left, right),
            sql::Expr::IsDistinctFrom(left, right) | sql::Expr::IsNotDistinctFrom(left, right) => {
                compared(left, right)
            }
            sql::Expr::Between {
                expr, low, high, ..
            } if time_column(expr) => read(low).and_then(|()| read(high)),
            _ => Ok(()),
        };
        match done {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        rewrite(&crate::parser::parse_expr(sql).unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn strings_compared_with_time_columns_are_points_in_time() {
        assert_eq!(
            rewritten("ROWTIME > '2018-01-01T00:00:00.001'"),
            "ROWTIME > 1514764800001"
        );
        assert_eq!(rewritten("ROWTIME >= '2018'"), "ROWTIME >= 1514764800000");
        assert_eq!(
            rewritten("'2020-02-10T08:31:44.001+0000' <= WINDOWSTART AND X = 'a'"),
            "1581323504001 <= WINDOWSTART AND X = 'a'"
        );
        assert_eq!(
            rewritten("ROWTIME > '2019-01-01T00:00:00+0445'"),
            "ROWTIME > 1546283700000"
        );
        assert_eq!(
            rewritten("T.ROWTIME BETWEEN '2018-01-01T00:00:00.001' AND '2018-01-01T00:00:01'"),
            "T.ROWTIME BETWEEN 1514764800001 AND 1514764801000"
        );
        assert_eq!(
            rewritten("WINDOWEND = '2020-02-23T23:45Z'"),
            "WINDOWEND = 1582501500000"
        );
        let err = rewrite(&crate::parser::parse_expr("ROWTIME = 'soon'").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Failed to parse timestamp 'soon'"),
            "{err}"
        );
    }
}
