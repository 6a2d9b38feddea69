//! `POST /ksql`: statements, run in order; the answer is one entity per statement that has
//! one, or the first failure (with the entities before it).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::commands::Command;
use super::entities;
use super::AppState;
use crate::engine::{kind_word, Engine, KsqlError, Outcome};
use crate::parser::ast::{ExplainTarget, ShowWhat, SourceKind, Statement};
use crate::parser::Parsed;

/// The request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct KsqlRequest {
    /// The statements, each ending with `;`.
    pub ksql: String,
    /// Properties for these statements (`auto.offset.reset`, `ksql.streams.*`, ...).
    #[serde(default)]
    pub streams_properties: BTreeMap<String, Value>,
}

/// Properties from a request's JSON object (strings as they are, other values as text).
pub(super) fn property_map(props: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    props
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Parses a JSON request body, or answers ksqlDB's 400.
pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        super::error(
            StatusCode::BAD_REQUEST,
            40000,
            &format!("Invalid request body: {e}"),
        )
    })
}

pub(super) async fn ksql(State(s): State<AppState>, body: Bytes) -> Response {
    let request: KsqlRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    // (in a task of its own: a client that goes away does not cut a statement off between
    // running it and recording it in the command topic)
    match tokio::spawn(run_request(s, request)).await {
        Ok(response) => response,
        Err(e) => super::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            50000,
            &format!("the statements failed: {e}"),
        ),
    }
}

/// Runs a request's statements in order.
async fn run_request(s: AppState, request: KsqlRequest) -> Response {
    let mut session = property_map(&request.streams_properties);
    // (what other servers recorded runs here first)
    if let Some(log) = &s.commands {
        if let Err(e) = log.catch_up().await {
            return failure(&e, &request.ksql, &[]);
        }
    }
    let mut engine = s.engine.lock().await;
    let parsed = match engine.parse(&request.ksql) {
        Ok(p) => p,
        Err(e) => return failure(&e, &request.ksql, &[]),
    };
    let mut out: Vec<Value> = Vec::new();
    for p in &parsed {
        match run(&s, &mut engine, p, &mut session).await {
            Ok(Some(entity)) => out.push(entity),
            Ok(None) => {}
            Err(e) => return failure(&e, &format!("{};", p.text), &out),
        }
    }
    Json(out).into_response()
}

/// ksqlDB's answer to a failed statement: 400 with the message (and what ran before it).
/// ksqlDB's answer to a query sent to `/ksql` (error code 40002).
const QUERY_ENDPOINT: &str = "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT";

fn failure(e: &KsqlError, statement: &str, before: &[Value]) -> Response {
    let message = match e {
        KsqlError::Parse(p) if p.line > 0 => format!(
            "line {}:{}: {}",
            p.line,
            p.column,
            p.message.trim_start_matches("Syntax Error\n")
        ),
        other => other.to_string(),
    };
    let mut body = entities::statement_error(&message, statement, before);
    if message == QUERY_ENDPOINT {
        body["error_code"] = 40002.into();
    }
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Runs one statement: its entity, if it has one.
async fn run(
    s: &AppState,
    engine: &mut Engine,
    p: &Parsed,
    session: &mut BTreeMap<String, String>,
) -> Result<Option<Value>, KsqlError> {
    let text = format!("{};", p.text);
    match &p.statement {
        Statement::SetProperty { name, value } => {
            session.insert(name.clone(), value.clone());
            return Ok(None);
        }
        Statement::UnsetProperty(name) => {
            session.remove(name);
            return Ok(None);
        }
        Statement::Show { what, .. } => {
            let catalog = engine.catalog();
            return Ok(Some(match what {
                ShowWhat::Streams => entities::source_list(&text, catalog, SourceKind::Stream),
                ShowWhat::Tables => entities::source_list(&text, catalog, SourceKind::Table),
                ShowWhat::Queries => entities::queries(&text, catalog),
                ShowWhat::Properties => entities::properties(&text, &s.config.properties, session),
                ShowWhat::Functions => entities::function_names(&text),
                ShowWhat::Types => entities::types(&text, catalog),
                ShowWhat::Topics | ShowWhat::AllTopics => {
                    let topics = engine.topics().list().await.map_err(KsqlError::Kafka)?;
                    entities::topics(&text, &topics, *what == ShowWhat::AllTopics)
                }
                other => {
                    return Err(KsqlError::Unsupported(format!(
                        "SHOW {other:?} is not supported yet"
                    )))
                }
            }));
        }
        Statement::Describe {
            name: Some(name),
            extended,
            ..
        } => {
            let source = engine
                .catalog()
                .source(name)
                .map_err(KsqlError::Statement)?
                .clone();
            let partitions = engine
                .topics()
                .describe(&source.topic)
                .await
                .map_err(KsqlError::Kafka)?;
            return Ok(Some(entities::source_description(
                &text,
                engine.catalog(),
                &source,
                partitions,
                *extended,
            )));
        }
        Statement::Query(_) | Statement::Print { .. } => {
            return Err(KsqlError::Statement(QUERY_ENDPOINT.into()));
        }
        Statement::Explain(ExplainTarget::QueryId(id)) => {
            let explanation = engine.explain(id)?;
            let host = s.config.listeners.rsplit("://").next().unwrap_or_default();
            return Ok(Some(entities::query_description(&text, &explanation, host)));
        }
        Statement::Explain(ExplainTarget::Statement(_)) => {
            return Err(KsqlError::Unsupported(
                "EXPLAIN of a statement is not supported yet: EXPLAIN a running query by its id (SHOW QUERIES lists them)".into(),
            ));
        }
        _ => {}
    }
    // (a dropped source's topic, for the message)
    let dropped_topic = match &p.statement {
        Statement::Drop { name, .. } => engine.catalog().sources.get(name).map(|s| s.topic.clone()),
        _ => None,
    };
    let outcome = engine.execute(p, session).await?;
    let (command_id, message, query) = match outcome {
        Outcome::SourceCreated { name, kind } => (
            format!("{}/`{name}`/create", kind_word(kind)),
            format!("{} created", title(kind)),
            None,
        ),
        Outcome::QueryStarted { id, sink } => {
            let kind = engine
                .catalog()
                .sources
                .get(&sink)
                .map_or(SourceKind::Stream, |s| s.kind);
            (
                format!("{}/`{sink}`/create", kind_word(kind)),
                format!("Created query with ID {id}"),
                Some(id),
            )
        }
        Outcome::Inserted => return Ok(None),
        Outcome::Dropped { name } => (
            format!("source/`{name}`/drop"),
            match dropped_topic {
                Some(t) => format!("Source `{name}` (topic: {t}) was dropped."),
                None => format!("Source `{name}` does not exist."),
            },
            None,
        ),
        Outcome::Terminated(ids) => (
            format!("terminate/{}/execute", ids.join(",")),
            "Query terminated.".to_string(),
            None,
        ),
        Outcome::PropertySet => return Ok(None),
        Outcome::TypeChanged => (
            "type/execute".to_string(),
            "Type changed.".to_string(),
            None,
        ),
    };
    // (recorded in the command topic, whose offset is the command's sequence number)
    let sequence = match &s.commands {
        Some(log) => {
            let command = Command {
                statement: text.clone(),
                streams_properties: session.clone(),
                query_id: query.clone(),
                origin: Some(log.origin().to_string()),
            };
            let offset = log.record(&command_id, &command).await?;
            u64::try_from(offset).unwrap_or_default()
        }
        None => s.sequence.fetch_add(1, Ordering::SeqCst) + 1,
    };
    if let Ok(mut statuses) = s.statuses.lock() {
        statuses.insert(command_id.clone(), "SUCCESS".into());
    }
    Ok(Some(entities::current_status(
        &text,
        &command_id,
        &message,
        query.as_deref(),
        sequence,
    )))
}

fn title(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "Stream",
        SourceKind::Table => "Table",
    }
}
