//! The bodies of ksqlDB's REST answers (its `KsqlEntity` kinds, by `@type`).

use serde_json::{json, Value};

use crate::catalog::{Catalog, DataSource};
use crate::engine::QueryExplanation;
use crate::parser::ast::SourceKind;
use crate::types::SqlType;

/// `currentStatus`: a statement that changed something ran.
pub fn current_status(
    statement: &str,
    command_id: &str,
    message: &str,
    query_id: Option<&str>,
    sequence: u64,
) -> Value {
    json!({
        "@type": "currentStatus",
        "statementText": statement,
        "commandId": command_id,
        "commandStatus": {
            "status": "SUCCESS",
            "message": message,
            "queryId": query_id,
        },
        "commandSequenceNumber": sequence,
        "warnings": [],
    })
}

/// `statement_error`: a statement that failed (error code 40001).
pub fn statement_error(message: &str, statement: &str, entities: &[Value]) -> Value {
    json!({
        "@type": "statement_error",
        "error_code": 40001,
        "message": message,
        "statementText": statement,
        "entities": entities,
    })
}

/// `streams` / `tables`: `SHOW STREAMS` and `SHOW TABLES`.
pub fn source_list(statement: &str, catalog: &Catalog, kind: SourceKind) -> Value {
    let items: Vec<Value> = catalog
        .sources
        .values()
        .filter(|s| s.kind == kind)
        .map(|s| {
            json!({
                "type": s.kind.to_string(),
                "name": s.name,
                "topic": s.topic,
                "keyFormat": s.key_format.to_string(),
                "valueFormat": s.value_format.to_string(),
                "isWindowed": s.windowing.is_some(),
            })
        })
        .collect();
    let (ty, field) = match kind {
        SourceKind::Stream => ("streams", "streams"),
        SourceKind::Table => ("tables", "tables"),
    };
    let mut v = json!({
        "@type": ty,
        "statementText": statement,
        "warnings": [],
    });
    v[field] = Value::Array(items);
    v
}

/// `type_list`: `SHOW TYPES`.
pub fn types(statement: &str, catalog: &Catalog) -> Value {
    let types: serde_json::Map<String, Value> = catalog
        .types
        .iter()
        .map(|(n, t)| (n.clone(), schema(t)))
        .collect();
    json!({
        "@type": "type_list",
        "statementText": statement,
        "types": types,
        "warnings": [],
    })
}

/// `queries`: `SHOW QUERIES`.
pub fn queries(statement: &str, catalog: &Catalog) -> Value {
    let items: Vec<Value> = catalog
        .queries
        .values()
        .map(|q| running_query(q, catalog))
        .collect();
    json!({
        "@type": "queries",
        "statementText": statement,
        "queries": items,
        "warnings": [],
    })
}

/// `kafka_topics`: `SHOW TOPICS` (internal topics, whose names start with `_`, left out
/// unless `all`: `SHOW ALL TOPICS`).
pub fn topics(statement: &str, topics: &[(String, Vec<usize>)], all: bool) -> Value {
    let items: Vec<Value> = topics
        .iter()
        .filter(|(name, _)| all || !name.starts_with('_'))
        .map(|(name, replicas)| json!({"name": name, "replicaInfo": replicas}))
        .collect();
    json!({
        "@type": "kafka_topics",
        "statementText": statement,
        "topics": items,
        "warnings": [],
    })
}

/// `properties`: `SHOW PROPERTIES` (the server's, then the session's overrides).
pub fn properties(
    statement: &str,
    server: &std::collections::BTreeMap<String, String>,
    session: &std::collections::BTreeMap<String, String>,
) -> Value {
    let items: Vec<Value> = server
        .iter()
        .map(|(k, v)| {
            let scope = if k.starts_with("ksql.streams.") {
                "STREAMS"
            } else {
                "KSQL"
            };
            // (secrets stay on the server)
            let secret = ["password", "jaas", "secret"]
                .iter()
                .any(|w| k.to_lowercase().contains(w));
            let v = if secret { "[hidden]" } else { v.as_str() };
            json!({"name": k, "scope": scope, "value": v})
        })
        .collect();
    json!({
        "@type": "properties",
        "statementText": statement,
        "properties": items,
        "overwrittenProperties": session.keys().collect::<Vec<_>>(),
        "defaultProperties": [],
        "warnings": [],
    })
}

/// `function_names`: `SHOW FUNCTIONS`.
pub fn function_names(statement: &str) -> Value {
    let mut items: Vec<Value> = crate::functions::names()
        .into_iter()
        .map(|n| json!({"name": n, "type": "SCALAR", "category": ""}))
        .collect();
    items.extend(
        crate::functions::aggregate::NAMES
            .iter()
            .map(|n| json!({"name": n, "type": "AGGREGATE", "category": ""})),
    );
    json!({
        "@type": "function_names",
        "statementText": statement,
        "functions": items,
        "warnings": [],
    })
}

/// A type as ksqlDB's REST schema object (`{"type": "ARRAY", "memberSchema": ...}`).
pub fn schema(t: &SqlType) -> Value {
    let base = crate::plan::coerce::base_name(t);
    match t {
        SqlType::Array(item) => json!({"type": base, "fields": null, "memberSchema": schema(item)}),
        SqlType::Map(_, v) => json!({"type": base, "fields": null, "memberSchema": schema(v)}),
        SqlType::Struct(fields) => json!({
            "type": base,
            "fields": fields.iter().map(|(n, t)| json!({"name": n, "schema": schema(t)})).collect::<Vec<_>>(),
            "memberSchema": null,
        }),
        SqlType::Decimal { precision, scale } => json!({
            "type": base,
            "fields": null,
            "memberSchema": null,
            "parameters": {"precision": precision, "scale": scale},
        }),
        _ => json!({"type": base, "fields": null, "memberSchema": null}),
    }
}

/// A source's columns as ksqlDB's `fields` (keys marked).
fn fields(source: &DataSource) -> Vec<Value> {
    source
        .key
        .iter()
        .map(|(n, t)| json!({"name": n, "schema": schema(t), "type": "KEY"}))
        .chain(source.value.iter().map(
            |(n, t)| match source.header_columns().find(|(h, _)| *h == n) {
                Some((_, key)) => {
                    json!({"name": n, "schema": schema(t), "type": "HEADER", "headerKey": key})
                }
                None => json!({"name": n, "schema": schema(t)}),
            },
        ))
        .collect()
}

/// `queryDescription`: `EXPLAIN query_id` (`host`: this server, whose status is given).
pub fn query_description(statement: &str, q: &QueryExplanation, host: &str) -> Value {
    json!({
        "@type": "queryDescription",
        "statementText": statement,
        "queryDescription": {
            "id": q.id,
            "statementText": q.statement,
            "windowType": q.sink.windowing.as_ref().map(|w| w.type_name()),
            "fields": fields(&q.sink),
            "sources": q.sources,
            "sinks": [q.sink.name],
            "sinkKafkaTopics": [q.sink.topic],
            "topology": q.topology,
            "executionPlan": q.plan,
            "overriddenProperties": q.overridden,
            "ksqlHostQueryStatus": {host: q.state},
            "queryType": "PERSISTENT",
            "queryErrors": [],
            "tasksMetadata": [],
            "state": q.state,
        },
        "warnings": [],
    })
}

/// `sourceDescription`: `DESCRIBE name`.
pub fn source_description(
    statement: &str,
    catalog: &Catalog,
    source: &DataSource,
    partitions: Option<i32>,
    extended: bool,
) -> Value {
    let fields = fields(source);
    let reads: Vec<Value> = catalog
        .queries
        .values()
        .filter(|q| q.sources.contains(&source.name))
        .map(|q| running_query(q, catalog))
        .collect();
    let writes: Vec<Value> = catalog
        .queries
        .values()
        .filter(|q| q.sink == source.name)
        .map(|q| running_query(q, catalog))
        .collect();
    json!({
        "@type": "sourceDescription",
        "statementText": statement,
        "sourceDescription": {
            "name": source.name,
            "windowType": source.windowing.as_ref().map(|w| w.type_name()),
            "readQueries": reads,
            "writeQueries": writes,
            "fields": fields,
            "type": source.kind.to_string(),
            "timestamp": source.timestamp.as_ref().map(|(c, _)| c.clone()).unwrap_or_default(),
            "statistics": "",
            "errorStats": "",
            "extended": extended,
            "keyFormat": source.key_format.to_string(),
            "valueFormat": source.value_format.to_string(),
            "topic": source.topic,
            "partitions": partitions.unwrap_or(0),
            "replication": 1,
            "statement": source.sql,
            "queryOffsetSummaries": [],
            "sourceConstraints": [],
        },
        "warnings": [],
    })
}

fn running_query(q: &crate::catalog::PersistentQuery, catalog: &Catalog) -> Value {
    let topic = catalog.sources.get(&q.sink).map(|s| s.topic.clone());
    json!({
        "queryString": q.sql,
        "sinks": [q.sink],
        "sinkKafkaTopics": topic.into_iter().collect::<Vec<_>>(),
        "id": q.id,
        "statusCount": {"RUNNING": 1},
        "queryType": "PERSISTENT",
        "state": "RUNNING",
    })
}
