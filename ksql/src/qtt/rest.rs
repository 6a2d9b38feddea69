//! Running a case of ksqlDB's REST suite as ksqlDB's `RestTestExecutor` does: a KSQL server of
//! its own on the cluster; the statements before the first `SELECT` in one `/ksql` request,
//! the inputs written, the persistent queries given time to read them, then each query sent
//! to `/query` and its whole answer read (its `LIMIT` ends it). The answers are compared
//! with the expected responses, which list only the fields they check (`key|startsWith` for
//! a prefix), rows in any order unless the case asks for order; an expected error is matched
//! by its class, message and HTTP status.

use std::collections::BTreeMap;
use std::time::Duration;

use super::case::{RestCase, Variant};
use super::compare::matches;
use super::json::{self, J};
use super::run::{check_outputs, drain, topics_to_create, write_inputs, Verdict};
use crate::server::{KsqlServer, ServerConfig};

/// How long a query's answer may take to end.
const QUERY_LIMIT: Duration = Duration::from_secs(30);

/// What the server answered a request.
struct Answer {
    status: u16,
    body: J,
}

/// Runs the REST case `v` against the cluster at `bootstrap`.
pub async fn run(v: &Variant, bootstrap: &str) -> Verdict {
    let Some(case) = &v.rest else {
        return Verdict::Fail("not a REST case".into());
    };
    let mut props = BTreeMap::new();
    for (k, val) in [
        ("bootstrap.servers", bootstrap),
        ("listeners", "http://127.0.0.1:0"),
        ("ksql.service.id", "some.ksql.service.id"),
        ("ksql.streams.commit.interval.ms", "50"),
        ("ksql.streams.cache.max.bytes.buffering", "0"),
        ("ksql.streams.auto.offset.reset", "earliest"),
        ("ksql.streams.num.stream.threads", "1"),
        // (as ksqlDB's REST test harness configures its server)
        ("ksql.query.push.v2.enabled", "true"),
    ] {
        props.insert(k.to_string(), val.to_string());
    }
    let config = match ServerConfig::from_properties(props) {
        Ok(c) => c,
        Err(e) => return Verdict::Fail(format!("cannot configure the server: {e}")),
    };
    let server = match KsqlServer::start(config).await {
        Ok(s) => s,
        Err(e) => return Verdict::Fail(format!("cannot start the server: {e}")),
    };
    let url = format!("http://{}", server.addr());
    let verdict = play(v, case, &server, &url, bootstrap).await;
    server.stop().await;
    verdict
}

async fn play(
    v: &Variant,
    case: &RestCase,
    server: &KsqlServer,
    url: &str,
    bootstrap: &str,
) -> Verdict {
    // the topics the case's sources and records name
    {
        let engine = server.engine().await;
        // (each statement apart: one that does not parse is the case's expected error)
        let parsed: Vec<crate::parser::Parsed> = case
            .statements
            .iter()
            .filter_map(|s| engine.parse(s).ok())
            .flatten()
            .collect();
        for (topic, partitions) in topics_to_create(v, &parsed) {
            if let Err(e) = engine.topics().create(&topic, partitions, None).await {
                return Verdict::Fail(format!("cannot create topic {topic}: {e}"));
            }
        }
    }
    let first_query = case
        .statements
        .iter()
        .position(|s| s.trim_start().starts_with("SELECT "))
        .unwrap_or(case.statements.len());
    let (admin, queries) = case.statements.split_at(first_query);
    let last = case.statements.last().cloned().unwrap_or_default();
    let client = reqwest::Client::new();
    let properties = serde_json::Value::Object(
        v.properties
            .iter()
            .map(|(k, val)| (k.clone(), serde_json::Value::String(val.clone())))
            .collect(),
    );
    let mut responses: Vec<J> = Vec::new();
    if !admin.is_empty() {
        let body = serde_json::json!({"ksql": admin.join("\n"), "streamsProperties": properties});
        let answer = match post(&client, &format!("{url}/ksql"), &body).await {
            Ok(a) => a,
            Err(e) => return Verdict::Fail(e),
        };
        if answer.status != 200 {
            return expected_error(case, &answer, &last);
        }
        let Some(entities) = answer.body.as_array() else {
            return Verdict::Fail(format!("/ksql answered {}", answer.body.to_text()));
        };
        responses.extend(
            entities
                .iter()
                .map(|e| J::Obj(vec![("admin".to_string(), e.clone())])),
        );
    }
    let write = || async {
        let engine = server.engine().await;
        write_inputs(v, &engine, bootstrap).await?;
        drain(&engine, bootstrap).await
    };
    if !case.inputs_after_query {
        if let Err(e) = write().await {
            return Verdict::Fail(e);
        }
    }
    for (i, sql) in queries.iter().enumerate() {
        let body = serde_json::json!({"ksql": sql, "streamsProperties": properties});
        let answer = if case.inputs_after_query && i == 0 {
            // (the query starts, then the inputs come)
            let request = tokio::spawn({
                let (client, url) = (client.clone(), url.to_string());
                async move { post(&client, &format!("{url}/query"), &body).await }
            });
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Err(e) = write().await {
                return Verdict::Fail(e);
            }
            match request.await {
                Ok(a) => a,
                Err(e) => Err(e.to_string()),
            }
        } else {
            post(&client, &format!("{url}/query"), &body).await
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return Verdict::Fail(e),
        };
        if answer.status != 200 {
            return expected_error(case, &answer, &last);
        }
        responses.push(J::Obj(vec![("query".to_string(), answer.body)]));
    }
    if let Some(e) = &case.error {
        return Verdict::Fail(format!(
            "Expected last statement to return an error: {}",
            e.to_text()
        ));
    }
    if !v.outputs.is_empty() {
        let engine = server.engine().await;
        if let Verdict::Fail(e) = check_outputs(v, &engine, bootstrap).await {
            return Verdict::Fail(e);
        }
    }
    check_responses(case, &responses)
}

/// POSTs `body` and reads the whole answer (a push query's until it ends).
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<Answer, String> {
    let response = client
        .post(url)
        .json(body)
        .timeout(QUERY_LIMIT)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{url}: the answer did not end within {QUERY_LIMIT:?}: {e}"))?;
    let body = json::parse(&text).map_err(|e| format!("{url} answered {text:?}: {e}"))?;
    Ok(Answer { status, body })
}

/// The verdict on an error answer: the case's expected error, or a failure.
fn expected_error(case: &RestCase, answer: &Answer, last: &str) -> Verdict {
    let message = answer
        .body
        .get("message")
        .and_then(J::as_str)
        .unwrap_or_default();
    let Some(expected) = &case.error else {
        return Verdict::Fail(format!(
            "Server failed to execute statement: {}",
            answer.body.to_text()
        ));
    };
    if let Some(status) = expected.get("status").and_then(J::as_i64) {
        if i64::from(answer.status) != status {
            return Verdict::Fail(format!(
                "expected status {status}, got {}: {message}",
                answer.status
            ));
        }
    }
    if let Some(m) = expected.get("message").and_then(J::as_str) {
        if !message.contains(m) {
            return Verdict::Fail(format!(
                "expected a message containing {m:?}, got {message:?}"
            ));
        }
    }
    let kind = answer
        .body
        .get("@type")
        .and_then(J::as_str)
        .unwrap_or_default();
    if let Some(t) = expected.get("type").and_then(J::as_str) {
        // (a statement's error is a KsqlStatementErrorMessage, which is a KsqlErrorMessage,
        // and names the statement)
        if t.ends_with("KsqlStatementErrorMessage") {
            if kind != "statement_error" {
                return Verdict::Fail(format!("expected a statement error, got {kind}: {message}"));
            }
            let statement = answer
                .body
                .get("statementText")
                .and_then(J::as_str)
                .unwrap_or_default();
            if !statement.contains(last.trim()) {
                return Verdict::Fail(format!(
                    "the error names the statement {statement:?}, not {last:?}"
                ));
            }
        }
    }
    Verdict::Pass
}

/// Compares the answers with the expected responses.
fn check_responses(case: &RestCase, actual: &[J]) -> Verdict {
    if actual.len() < case.responses.len() {
        return Verdict::Fail(format!(
            "Not enough responses: expected {}, got {}: {}",
            case.responses.len(),
            actual.len(),
            J::Arr(actual.to_vec()).to_text()
        ));
    }
    for (i, (expected, actual)) in case.responses.iter().zip(actual).enumerate() {
        let result = match (expected.get("admin"), expected.get("query")) {
            (Some(e), _) => match actual.get("admin") {
                Some(a) => fields(a, e, &format!("responses[{i}]->admin")),
                None => Err(format!("responses[{i}]: expected an admin response")),
            },
            (_, Some(J::Arr(rows))) => match actual.get("query") {
                Some(J::Arr(got)) => query(got, rows, case.verify_order, i),
                _ => Err(format!("responses[{i}]: expected a query response")),
            },
            _ => Err(format!(
                "responses[{i}]: an expected response of no known kind"
            )),
        };
        if let Err(e) = result {
            return Verdict::Fail(format!("{e}\nactual: {}", actual.to_text()));
        }
    }
    Verdict::Pass
}

/// A query's answer: as many elements as expected, each with the expected fields; rows
/// (whole, with their `tombstone` mark) in any order unless `ordered`.
fn query(actual: &[J], expected: &[J], ordered: bool, i: usize) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "responses[{i}]: row count mismatch: expected {}, got {}",
            expected.len(),
            actual.len()
        ));
    }
    let mut expected_rows: Vec<&J> = Vec::new();
    let mut actual_rows: Vec<&J> = Vec::new();
    for (n, (a, e)) in actual.iter().zip(expected).enumerate() {
        match (a.get("row"), e.get("row")) {
            (Some(ar), Some(er)) if !ordered => {
                actual_rows.push(ar);
                expected_rows.push(er);
            }
            _ => fields(a, e, &format!("responses[{i}]->query[{n}]"))?,
        }
    }
    for e in expected_rows {
        match actual_rows.iter().position(|a| fields(a, e, "").is_ok()) {
            Some(at) => {
                actual_rows.remove(at);
            }
            None => return Err(format!("responses[{i}]: no row is {}", e.to_text())),
        }
    }
    Ok(())
}

/// Whether `actual` has each field `expected` lists, recursively in objects.
fn fields(actual: &J, expected: &J, path: &str) -> Result<(), String> {
    let J::Obj(expected) = expected else {
        return if matches(actual, expected) {
            Ok(())
        } else {
            Err(format!(
                "Response mismatch at {path}: expected {}, got {}",
                expected.to_text(),
                actual.to_text()
            ))
        };
    };
    for (key, e) in expected {
        // (`name|starts_with`: ksqlDB's match operators, EQUALS the default)
        let (name, prefix) = match key.split_once('|') {
            Some((name, op)) if op.eq_ignore_ascii_case("starts_with") => (name, true),
            Some((name, op)) if op.eq_ignore_ascii_case("equals") => (name, false),
            Some((_, op)) => return Err(format!("unknown match operator {op} in {key}")),
            None => (key.as_str(), false),
        };
        let at = format!("{path}->{name}");
        let Some(a) = actual.get(name) else {
            return Err(format!("Response mismatch at {path}: no field {name}"));
        };
        match (prefix, e) {
            (true, J::Str(p)) => {
                if !a.as_str().is_some_and(|s| s.starts_with(p.as_str())) {
                    return Err(format!(
                        "Response mismatch at {at}: expected a string starting {p:?}, got {}",
                        a.to_text()
                    ));
                }
            }
            (_, J::Obj(_)) => fields(a, e, &at)?,
            _ => {
                if !matches(a, e) {
                    return Err(format!(
                        "Response mismatch at {at}: expected {}, got {}",
                        e.to_text(),
                        a.to_text()
                    ));
                }
            }
        }
    }
    Ok(())
}
