// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use super::*;

fn one(sql: &str) -> Statement {
    parse_one(sql, &BTreeMap::new()).unwrap().statement
}

#[test]
fn create_stream_with_key_and_properties() {
    let s = one("CREATE STREAM test (K STRING KEY, id bigint, `name` varchar, v MAP<STRING, ARRAY<INT>>) WITH (kafka_topic='test_topic', value_format='DELIMITED', partitions=4);");
    let Statement::CreateSource(c) = s else {
        panic!("{s:?}")
    };
    assert_eq!(c.kind, SourceKind::Stream);
    assert_eq!(c.name, "TEST");
    let names: Vec<_> = c.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["K", "ID", "name", "V"]);
    assert_eq!(c.columns[0].kind, ColumnKind::Key);
    assert_eq!(
        c.columns[3].ty,
        SqlType::Map(
            Box::new(SqlType::String),
            Box::new(SqlType::Array(Box::new(SqlType::Int)))
        )
    );
    assert_eq!(
        c.properties["KAFKA_TOPIC"],
        Literal::String("test_topic".into())
    );
    assert_eq!(c.properties["PARTITIONS"], Literal::Number("4".into()));
}

#[test]
fn create_table_as_select_with_window_group_by_and_emit() {
    let s = one("create table S2 with (value_format='json') as select id, count(*) as cnt from test t window tumbling (size 30 seconds, grace period 1 minute) where id > 1 group by id having count(*) > 2 emit changes");
    let Statement::CreateAsSelect(c) = s else {
        panic!("{s:?}")
    };
    assert_eq!(c.kind, SourceKind::Table);
    let q = c.query;
    assert_eq!(q.from.first.name, "TEST");
    assert_eq!(q.from.first.alias.as_deref(), Some("T"));
    assert_eq!(
        q.window.unwrap().kind,
        WindowKind::Tumbling { size: 30_000 }
    );
    assert_eq!(q.window.unwrap().grace, Some(60_000));
    assert_eq!(q.group_by.len(), 1);
    assert!(q.having.is_some());
    assert_eq!(q.emit, Some(Emit::Changes));
    let SelectItem::Expr { alias, .. } = &q.select[1] else {
        panic!()
    };
    assert_eq!(alias.as_deref(), Some("CNT"));
}

#[test]
fn joins_with_within_and_aliases() {
    let s = one("SELECT * FROM a x LEFT OUTER JOIN b y WITHIN (1 HOUR, 2 MINUTES) GRACE PERIOD 10 SECONDS ON x.id = y.id FULL JOIN c ON x.id = c.id EMIT CHANGES;");
    let Statement::Query(q) = s else { panic!() };
    assert_eq!(q.select, vec![SelectItem::Wildcard]);
    assert_eq!(q.from.joins.len(), 2);
    assert_eq!(q.from.joins[0].kind, JoinKind::Left);
    assert_eq!(
        q.from.joins[0].within,
        Some(Within {
            before: 3_600_000,
            after: 120_000,
            grace: Some(10_000)
        })
    );
    assert_eq!(q.from.joins[1].kind, JoinKind::Outer);
    assert_eq!(q.from.joins[1].right.qualifier(), "C");
}

#[test]
fn several_statements_keep_their_text() {
    let sql = "CREATE STREAM A (X INT) WITH (kafka_topic='a', value_format='JSON');\n  INSERT INTO A (X) VALUES (1);";
    let all = parse(sql, &BTreeMap::new()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].text,
        "CREATE STREAM A (X INT) WITH (kafka_topic='a', value_format='JSON')"
    );
    assert_eq!(all[1].text, "INSERT INTO A (X) VALUES (1)");
}

#[test]
fn bad_sql_names_the_position() {
    let e = parse_one(
        "CREATE STREAM A (X INT) WITH (kafka_topic='a'",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("line 1:"), "{e}");
    let e = parse_one("SELEC * FROM A;", &BTreeMap::new()).unwrap_err();
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    let e = parse_one(
        "CREATE STREAM A (X FOO) WITH (kafka_topic='a');",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(e.message.contains("Unknown type: FOO"), "{e}");
}

#[test]
fn expressions_keep_ksql_syntax() {
    // struct dereference, subscripts, quoted identifiers
    let s = one("SELECT a->b, arr[1], m['k'], `lower` FROM s EMIT CHANGES;");
    let Statement::Query(q) = s else { panic!() };
    assert_eq!(q.select.len(), 4);
}

#[test]
fn other_statements() {
    assert_eq!(
        one("DROP STREAM IF EXISTS x DELETE TOPIC;"),
        Statement::Drop {
            kind: SourceKind::Stream,
            name: "X".into(),
            if_exists: true,
            delete_topic: true
        }
    );
    assert_eq!(
        one("SET 'auto.offset.reset'='earliest';"),
        Statement::SetProperty {
            name: "auto.offset.reset".into(),
            value: "earliest".into()
        }
    );
    assert_eq!(
        one("PRINT 'topic' FROM BEGINNING LIMIT 3;"),
        Statement::Print {
            topic: "topic".into(),
            from_beginning: true,
            interval: None,
            limit: Some(3)
        }
    );
    assert_eq!(
        one("show streams extended"),
        Statement::Show {
            what: ShowWhat::Streams,
            extended: true
        }
    );
    assert_eq!(
        one("SHOW ALL TOPICS"),
        Statement::Show {
            what: ShowWhat::AllTopics,
            extended: false
        }
    );
    assert_eq!(
        one("TERMINATE CSAS_S1_0;"),
        Statement::Terminate(Some("CSAS_S1_0".into()))
    );
}

#[test]
fn group_by_and_partition_by_take_value_expressions_only() {
    let types = BTreeMap::new();
    let error = |sql: &str| parse_one(sql, &types).unwrap_err().to_string();
    // lists, parenthesized or not, and predicates inside parentheses
    for sql in [
        "SELECT A, COUNT(*) FROM T GROUP BY A, B + 1 EMIT CHANGES",
        "SELECT A, COUNT(*) FROM T GROUP BY (A, B) EMIT CHANGES",
        "SELECT A, COUNT(*) FROM T GROUP BY (A = B) EMIT CHANGES",
        "SELECT * FROM T PARTITION BY A || 'x', B EMIT CHANGES",
    ] {
        assert!(parse_one(sql, &types).is_ok(), "{sql}");
    }
    assert_eq!(
        error("SELECT COUNT(*) FROM T GROUP BY DATA AND ID"),
        "line 1:33: Syntax Error"
    );
    assert_eq!(
        error("SELECT * FROM T PARTITION BY A > 1"),
        "line 1:30: Syntax Error"
    );
    assert_eq!(
        error("SELECT COUNT(*) FROM T GROUP BY F3, (F2, F1)"),
        "line 1:40: Syntax Error\nmissing ')' at ','"
    );
    assert!(error("SELECT * FROM T PARTITION BY ()")
        .ends_with("PARTITION BY requires at least one expression"));
}

#[test]
fn a_statement_parsed_again_keeps_its_positions_in_the_whole_text() {
    let types = BTreeMap::new();
    let all = parse(
        "CREATE STREAM A (X INT) WITH (kafka_topic='a');\nINSERT INTO B SELECT X FROM A;",
        &types,
    )
    .unwrap();
    assert_eq!(all[1].start, Location::new(2, 1));
    let again = parse_at(&all[1].text, &types, all[1].start).unwrap();
    let Statement::InsertInto { target_at, .. } = &again[0].statement else {
        panic!("{:?}", again[0].statement)
    };
    assert_eq!(*target_at, (2, 13));
    assert_eq!(again[0].text, all[1].text);
    // an error in a statement that starts mid-line
    let e = parse_at("SELEC 1", &types, Location::new(3, 7)).unwrap_err();
    assert_eq!((e.line, e.column), (3, 7));
}

#[test]
fn lambdas_of_one_or_more_parameters() {
    let e = parse_expr("TRANSFORM(m, (k, v) => UCASE(k), x => x->a + 1)").unwrap();
    let sqlparser::ast::Expr::Function(f) = e else {
        panic!("{e:?}")
    };
    let sqlparser::ast::FunctionArguments::List(list) = f.args else {
        panic!("no arguments")
    };
    let lambdas: Vec<(Vec<String>, String)> = list
        .args
        .iter()
        .filter_map(|a| match a {
            sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(
                sqlparser::ast::Expr::Lambda(l),
            )) => {
                let names = match &l.params {
                    sqlparser::ast::OneOrManyWithParens::Many(ps) => {
                        ps.iter().map(|p| p.name.value.clone()).collect()
                    }
                    sqlparser::ast::OneOrManyWithParens::One(p) => vec![p.name.value.clone()],
                };
                Some((names, l.body.to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        lambdas,
        vec![
            (
                vec!["K".to_string(), "V".to_string()],
                "UCASE(K)".to_string()
            ),
            (vec!["X".to_string()], "X -> A + 1".to_string()),
        ]
    );
    // (a parenthesized expression is no lambda without `=>`)
    assert_eq!(
        parse_expr("(a + b) * 2").unwrap().to_string(),
        "(A + B) * 2"
    );
    assert!(parse_expr("TRANSFORM(a, (x, 1) => x)").is_err());
}
