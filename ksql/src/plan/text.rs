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

/// Whether `f` is called on `*` (`COUNT(*)`).
fn is_star_call(f: &sql::Function) -> bool {
    matches!(&f.args, sql::FunctionArguments::List(l)
        if matches!(l.args.as_slice(), [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard)]))
}

fn list(items: &[sql::Expr]) -> String {
    items.iter().map(ksql_text).collect::<Vec<_>>().join(", ")
}

/// `CREATE <kind> <name> [WITH (...)] AS <q>` as ksqlDB's `SqlFormatter` prints the statement
/// it analysed (in some of its messages): one projection item per line, each named (derived
/// or generated names), columns qualified by the source's alias, `EMIT CHANGES` added. `None`
/// for what it does not lay out here: joins, windows, `*`.
pub fn formatted_create_as(
    kind: &str,
    name: &str,
    properties: &crate::parser::ast::Properties,
    q: &crate::parser::ast::Query,
    source: &crate::catalog::DataSource,
) -> Option<String> {
    use crate::parser::ast::{Emit, Literal, SelectItem};
    use sqlparser::ast::VisitMut;
    if !q.from.joins.is_empty() || q.window.is_some() {
        return None;
    }
    let qualifier = q.from.first.qualifier().to_string();
    let columns: std::collections::BTreeSet<&str> = source
        .columns()
        .map(|(n, _)| n.as_str())
        .chain(["ROWTIME", "ROWPARTITION", "ROWOFFSET"])
        .collect();
    let qualified = |e: &sql::Expr| {
        let mut e = e.clone();
        let _ = e.visit(&mut Qualify {
            qualifier: &qualifier,
            columns: &columns,
        });
        ksql_text(&e)
    };
    let mut generated = super::GeneratedNames::new(source);
    let mut items = Vec::with_capacity(q.select.len());
    for item in &q.select {
        let SelectItem::Expr { expr, alias } = item else {
            return None;
        };
        let alias = alias
            .clone()
            .or_else(|| super::derived_name(expr))
            .unwrap_or_else(|| generated.name());
        items.push(format!("{} {alias}", qualified(expr)));
    }
    let mut text = format!("CREATE {kind} {name} ");
    if !properties.is_empty() {
        let props: Vec<String> = properties
            .iter()
            .map(|(k, v)| match v {
                Literal::String(s) => format!("{k}='{}'", s.replace('\'', "''")),
                Literal::Number(n) => format!("{k}={n}"),
                other => format!("{k}={}", other.text()),
            })
            .collect();
        text.push_str(&format!("WITH ({}) ", props.join(", ")));
    }
    text.push_str("AS SELECT");
    if items.len() > 1 {
        text.push_str(&format!("\n  {}", items.join(",\n  ")));
    } else {
        text.push_str(&format!(" {}", items.join("")));
    }
    text.push_str(&format!("\nFROM {} {qualifier}\n", q.from.first.name));
    if let Some(f) = &q.filter {
        text.push_str(&format!("WHERE {}\n", qualified(f)));
    }
    let list = |exprs: &[sql::Expr]| exprs.iter().map(qualified).collect::<Vec<_>>().join(", ");
    if !q.group_by.is_empty() {
        text.push_str(&format!("GROUP BY {}\n", list(&q.group_by)));
    }
    if !q.partition_by.is_empty() {
        text.push_str(&format!("PARTITION BY {}\n", list(&q.partition_by)));
    }
    if let Some(h) = &q.having {
        text.push_str(&format!("HAVING {}\n", qualified(h)));
    }
    text.push_str(match q.emit {
        Some(Emit::Final) => "EMIT FINAL",
        _ => "EMIT CHANGES",
    });
    Some(text)
}

/// Qualifies a source's column references (not a struct field's name after `->`); keeps
/// `COUNT(*)` as written.
struct Qualify<'a> {
    qualifier: &'a str,
    columns: &'a std::collections::BTreeSet<&'a str>,
}

impl sql::VisitorMut for Qualify<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut sql::Expr) -> std::ops::ControlFlow<()> {
        match e {
            // (printed as written: the messages that read `ksql_text` name COUNT(ROWTIME))
            sql::Expr::Function(f) if is_star_call(f) => {
                *e = sql::Expr::Identifier(sql::Ident::new(format!("{}(*)", function_name(f))));
            }
            sql::Expr::Identifier(id) if self.columns.contains(id.value.as_str()) => {
                *e = sql::Expr::CompoundIdentifier(vec![
                    sql::Ident::new(self.qualifier),
                    id.clone(),
                ]);
            }
            sql::Expr::BinaryOp {
                op: sql::BinaryOperator::Arrow,
                right,
                ..
            } => {
                if let sql::Expr::CompoundIdentifier(parts) = right.as_mut() {
                    if parts.len() == 2 && parts[0].value == self.qualifier {
                        **right = sql::Expr::Identifier(parts[1].clone());
                    }
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DataSource;
    use crate::format::Format;
    use crate::parser::ast::{SourceKind, Statement};
    use crate::types::SqlType;

    #[test]
    fn create_as_select_laid_out_as_ksqldb_analysed_it() {
        let source = DataSource {
            name: "TEST".into(),
            kind: SourceKind::Stream,
            topic: "t".into(),
            key: vec![("F1".into(), SqlType::Int)],
            value: vec![("F2".into(), SqlType::Int)],
            headers: Vec::new(),
            key_format: Format::Kafka,
            value_format: Format::Json,
            unwrapped_value: false,
            timestamp: None,
            windowing: None,
            sql: String::new(),
            read_only: false,
        };
        let parsed = crate::parser::parse_one(
            "CREATE TABLE OUTPUT WITH (KEY_FORMAT='KAFKA') AS SELECT f2, f1 AS k, f2+f1, COUNT(*) FROM TEST WHERE f2 > 0 GROUP BY f1, f2;",
            &Default::default(),
        )
        .unwrap();
        let Statement::CreateAsSelect(c) = parsed.statement else {
            panic!("not a CREATE AS SELECT");
        };
        assert_eq!(
            formatted_create_as("TABLE", &c.name, &c.properties, &c.query, &source).unwrap(),
            "CREATE TABLE OUTPUT WITH (KEY_FORMAT='KAFKA') AS SELECT\n  TEST.F2 F2,\n  TEST.F1 K,\n  (TEST.F2 + TEST.F1) KSQL_COL_0,\n  COUNT(*) KSQL_COL_1\nFROM TEST TEST\nWHERE (TEST.F2 > 0)\nGROUP BY TEST.F1, TEST.F2\nEMIT CHANGES"
        );
    }
}
