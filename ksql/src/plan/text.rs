//! Expressions printed as ksqlDB prints them in messages (its `ExpressionFormatter`):
//! identifiers bare, binary operations in parentheses, `MAP('a':=V)`, `ARRAY[1, 2]`.

use sqlparser::ast::{self as sql, Value};

use super::expr::{function_args, function_name, sql_data_type};

/// `e` as ksqlDB's messages print it.
pub fn ksql_text(e: &sql::Expr) -> String {
    match e {
        sql::Expr::Identifier(id) => id.value.clone(),
        sql::Expr::CompoundIdentifier(parts) => parts
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join("."),
        sql::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Number(n, _) => n.clone(),
            Value::Boolean(b) => b.to_string(),
            Value::Null => "null".to_string(),
            other => other.to_string(),
        },
        sql::Expr::Nested(inner) => ksql_text(inner),
        sql::Expr::BinaryOp {
            left,
            op: sql::BinaryOperator::Arrow,
            right,
        } => format!("{}->{}", ksql_text(left), ksql_text(right)),
        sql::Expr::BinaryOp { left, op, right } => {
            format!("({} {op} {})", ksql_text(left), ksql_text(right))
        }
        sql::Expr::UnaryOp {
            op: sql::UnaryOperator::Not,
            expr,
        } => format!("(NOT {})", ksql_text(expr)),
        sql::Expr::UnaryOp {
            op: sql::UnaryOperator::Minus,
            expr,
        } => format!("-{}", ksql_text(expr)),
        sql::Expr::IsNull(x) => format!("({} IS NULL)", ksql_text(x)),
        sql::Expr::IsNotNull(x) => format!("({} IS NOT NULL)", ksql_text(x)),
        sql::Expr::Cast {
            expr, data_type, ..
        } => format!(
            "CAST({} AS {})",
            ksql_text(expr),
            sql_data_type(data_type)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| data_type.to_string())
        ),
        sql::Expr::Array(a) => format!("ARRAY[{}]", list(&a.elem)),
        sql::Expr::InList {
            expr,
            list: items,
            negated,
        } => format!(
            "({}{} IN ({}))",
            if *negated { "NOT " } else { "" },
            ksql_text(expr),
            list(items)
        ),
        sql::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => format!(
            "({} {}BETWEEN {} AND {})",
            ksql_text(expr),
            if *negated { "NOT " } else { "" },
            ksql_text(low),
            ksql_text(high)
        ),
        sql::Expr::Function(f) => match function_args(f) {
            Ok(args) => {
                let name = function_name(f);
                let constructor = name == "MAP" || name == "STRUCT";
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        sql::Expr::BinaryOp {
                            left,
                            op: sql::BinaryOperator::Assignment,
                            right,
                        } if constructor => format!("{}:={}", ksql_text(left), ksql_text(right)),
                        other => ksql_text(other),
                    })
                    .collect();
                format!("{name}({})", args.join(", "))
            }
            Err(_) => e.to_string(),
        },
        sql::Expr::CompoundFieldAccess { root, access_chain } => {
            let mut text = ksql_text(root);
            for a in access_chain {
                match a {
                    sql::AccessExpr::Dot(field) => {
                        text = format!("{text}->{}", ksql_text(field));
                    }
                    sql::AccessExpr::Subscript(sql::Subscript::Index { index }) => {
                        text = format!("{text}[{}]", ksql_text(index));
                    }
                    other => text = format!("{text}{other}"),
                }
            }
            text
        }
        other => other.to_string(),
    }
}

fn list(items: &[sql::Expr]) -> String {
    items.iter().map(ksql_text).collect::<Vec<_>>().join(", ")
}
