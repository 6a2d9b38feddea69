//! Push queries over HTTP: `POST /query` (ksqlDB's chunked JSON array of a header, rows and
//! a final message; or `PRINT`'s lines of text), `POST /query-stream` (a header line then one
//! JSON array per row, or all of it as one JSON array for `Accept: application/json`) and
//! `POST /close-query`.
//!
//! Rows stream as they come; the query stops at its `LIMIT`, on `/close-query`, or when the
//! client goes away (the response body is dropped, and the query with it).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::statements::{parse_body, property_map};
use super::AppState;
use crate::engine::{KsqlError, PrintRequest, Printer, Printing, PullQuery, PushQuery};
use crate::parser::ast::Statement;
use crate::types::SqlType;

/// How rows are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `/query`: `[{"header":...},\n{"row":{"columns":[...]}},\n...{"finalMessage":...}]`.
    Chunked,
    /// `/query-stream`, `application/vnd.ksqlapi.delimited.v1`: one JSON value per line.
    Delimited,
    /// `/query-stream`, `application/json`: one JSON array.
    JsonArray,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueryRequest {
    ksql: String,
    #[serde(default)]
    streams_properties: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
pub(super) struct QueryStreamRequest {
    sql: String,
    #[serde(default)]
    properties: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CloseRequest {
    query_id: String,
}

pub(super) async fn query(State(s): State<AppState>, body: Bytes) -> Response {
    let request: QueryRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let session = property_map(&request.streams_properties);
    start(&s, &request.ksql, &session, Style::Chunked).await
}

pub(super) async fn query_stream(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: QueryStreamRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let json = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let style = if json {
        Style::JsonArray
    } else {
        Style::Delimited
    };
    let session = property_map(&request.properties);
    start(&s, &request.sql, &session, style).await
}

pub(super) async fn close_query(State(s): State<AppState>, body: Bytes) -> Response {
    let request: CloseRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let stop = s
        .push
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&request.query_id));
    match stop {
        Some(stop) => {
            let _ = stop.send(());
            StatusCode::OK.into_response()
        }
        None => super::error(
            StatusCode::BAD_REQUEST,
            40000,
            &format!("No query with id {}", request.query_id),
        ),
    }
}

/// A query that started.
enum Started {
    /// Rows as they come.
    Push(PushQuery),
    /// Rows as they are now.
    Pull(Box<PullQuery>),
    /// A topic's records as text lines, once connected (without holding the engine).
    Print(Printer, PrintRequest),
}

/// Starts the query in `sql` and streams its rows.
async fn start(
    s: &AppState,
    sql: &str,
    session: &BTreeMap<String, String>,
    style: Style,
) -> Response {
    let started = {
        let mut engine = s.engine.lock().await;
        match engine.parse(sql) {
            Ok(parsed) => match parsed.as_slice() {
                [p] => match &p.statement {
                    Statement::Print {
                        topic,
                        from_beginning,
                        interval,
                        limit,
                    } if style == Style::Chunked => {
                        let request = PrintRequest {
                            topic: topic.clone(),
                            from_beginning: *from_beginning,
                            interval: interval.unwrap_or(1),
                            limit: *limit,
                        };
                        Ok(Started::Print(engine.printer(), request))
                    }
                    Statement::Query(q) if q.emit.is_none() => engine
                        .pull_query(q, session)
                        .map(|q| Started::Pull(Box::new(q))),
                    Statement::Query(q) => engine.push_query(q, session).map(Started::Push),
                    _ => Err(KsqlError::Statement(format!(
                        "Statement type `{}' not supported for this resource",
                        p.text.split_whitespace().next().unwrap_or_default()
                    ))),
                },
                _ => Err(KsqlError::Statement(
                    "Expected exactly one KSQL statement.".into(),
                )),
            },
            Err(e) => Err(e),
        }
    };
    let failed = |e: KsqlError| {
        let body = super::entities::statement_error(&e.to_string(), sql, &[]);
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    };
    let content_type = match style {
        Style::Chunked | Style::JsonArray => "application/json",
        Style::Delimited => "application/vnd.ksqlapi.delimited.v1",
    };
    let query = match started {
        Ok(Started::Push(q)) => q,
        Ok(Started::Print(printer, request)) => {
            let printing: Printing = match printer.print(request).await {
                Ok(p) => p,
                Err(e) => return failed(e),
            };
            let lines = futures::stream::unfold(printing, |mut p| async move {
                let line = p.next().await?;
                Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from(line + "\n")),
                    p,
                ))
            });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from_stream(lines))
                .unwrap_or_else(|e| {
                    super::error(StatusCode::INTERNAL_SERVER_ERROR, 50000, &e.to_string())
                });
        }
        Ok(Started::Pull(q)) => {
            let header = header_text(&q.id, &q.columns, style);
            let (stream, limit) = (q.stream, q.limit);
            let rows = match q.run().await {
                Ok(rows) => rows,
                Err(e) => return failed(e),
            };
            // (a stream's answer ends as a push query's does)
            let last = stream.then(|| {
                if limit.is_some_and(|l| rows.len() as u64 >= l) {
                    "Limit Reached"
                } else {
                    "Query Completed"
                }
            });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(pull_body(header, &rows, last, style)))
                .unwrap_or_else(|e| {
                    super::error(StatusCode::INTERNAL_SERVER_ERROR, 50000, &e.to_string())
                });
        }
        Err(e) => return failed(e),
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    if let Ok(mut push) = s.push.lock() {
        push.insert(query.id.clone(), stop_tx);
    }
    let stream = rows(query, stop_rx, style, s.clone());
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| super::error(StatusCode::INTERNAL_SERVER_ERROR, 50000, &e.to_string()))
}

/// Where a row stream is.
struct Rows {
    id: String,
    query: Option<PushQuery>,
    stop: oneshot::Receiver<()>,
    style: Style,
    sent: u64,
    header_sent: bool,
    state: AppState,
}

impl Drop for Rows {
    fn drop(&mut self) {
        // (ended, or its client went away: it can no longer be closed by id)
        if let Ok(mut push) = self.state.push.lock() {
            push.remove(&self.id);
        }
    }
}

/// The response body: the header, then each row as it comes, then the end.
fn rows(
    query: PushQuery,
    stop: oneshot::Receiver<()>,
    style: Style,
    state: AppState,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let start = Rows {
        id: query.id.clone(),
        query: Some(query),
        stop,
        style,
        sent: 0,
        header_sent: false,
        state,
    };
    futures::stream::unfold(start, |mut r| async move {
        let query = r.query.as_mut()?;
        if !r.header_sent {
            r.header_sent = true;
            let columns: Vec<(String, SqlType, bool)> = query
                .columns
                .iter()
                .map(|(n, t)| (n.clone(), t.clone(), false))
                .collect();
            let text = header_text(&query.id, &columns, r.style);
            return Some((Ok(Bytes::from(text)), r));
        }
        let limit_reached = query.limit.is_some_and(|l| r.sent >= l);
        let mut error = None;
        let next = if limit_reached {
            None
        } else {
            loop {
                tokio::select! {
                    row = query.next() => {
                        if row.is_none() {
                            error = query.error();
                        }
                        break row;
                    }
                    _ = &mut r.stop => break None,
                    // (a query whose app failed gives no more rows: say why and end)
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        if let Some(e) = query.error() {
                            error = Some(e);
                            break None;
                        }
                    }
                }
            }
        };
        match next {
            Some(row) => {
                r.sent += 1;
                let values = values_text(&row.columns);
                let text = match r.style {
                    Style::Chunked if row.tombstone => {
                        format!("{{\"row\":{{\"columns\":[{values}],\"tombstone\":true}}}},\n")
                    }
                    Style::Chunked => format!("{{\"row\":{{\"columns\":[{values}]}}}},\n"),
                    Style::Delimited => format!("[{values}]\n"),
                    Style::JsonArray => format!(",\n[{values}]"),
                };
                Some((Ok(Bytes::from(text)), r))
            }
            None => {
                let query = r.query.take()?;
                query.close().await;
                let failed = error
                    .map(|e| json!({"@type": "generic_error", "error_code": 50000, "message": e}));
                let text = match (r.style, failed) {
                    (Style::Chunked, Some(e)) => format!("{}]\n", json!({"errorMessage": e})),
                    (Style::Chunked, None) => {
                        let message = if limit_reached {
                            "Limit Reached"
                        } else {
                            "Query Completed"
                        };
                        format!("{}]\n", json!({"finalMessage": message}))
                    }
                    (Style::Delimited, Some(e)) => format!("{e}\n"),
                    (Style::Delimited, None) => String::new(),
                    (Style::JsonArray, Some(e)) => format!(",\n{e}]\n"),
                    (Style::JsonArray, None) => "]\n".to_string(),
                };
                Some((Ok(Bytes::from(text)), r))
            }
        }
    })
}

/// The first part of the body: the query's id and columns.
fn header_text(id: &str, columns: &[(String, SqlType, bool)], style: Style) -> String {
    match style {
        Style::Chunked => {
            // (a pull query marks its key columns)
            let schema = columns
                .iter()
                .map(|(n, t, key)| {
                    if *key {
                        format!("`{n}` {t} KEY")
                    } else {
                        format!("`{n}` {t}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "[{},\n",
                json!({"header": {"queryId": id, "schema": schema}})
            )
        }
        Style::Delimited | Style::JsonArray => {
            let header = json!({
                "queryId": id,
                "columnNames": columns.iter().map(|(n, ..)| n).collect::<Vec<_>>(),
                "columnTypes": columns.iter().map(|(_, t, _)| t.to_string()).collect::<Vec<_>>(),
            });
            if style == Style::Delimited {
                format!("{header}\n")
            } else {
                format!("[{header}")
            }
        }
    }
}

/// A row's values as JSON.
fn values_text(row: &[datafusion_common::ScalarValue]) -> String {
    row.iter()
        .map(crate::format::json::to_json_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A pull query's whole answer: the header, its rows, its final message if it has one, and
/// the end of the array.
fn pull_body(
    header: String,
    rows: &[crate::value::Row],
    last: Option<&str>,
    style: Style,
) -> String {
    let mut text = header;
    match style {
        Style::Chunked => {
            // (the header ended with ",\n": the array goes on with a row, or ends)
            let rows: Vec<String> = rows
                .iter()
                .map(|r| format!("{{\"row\":{{\"columns\":[{}]}}}}", values_text(r)))
                .chain(last.map(|m| json!({"finalMessage": m}).to_string()))
                .collect();
            if rows.is_empty() {
                text.truncate(text.trim_end_matches(",\n").len());
            }
            text.push_str(&rows.join(",\n"));
            text.push_str("]\n");
        }
        Style::Delimited => {
            for r in rows {
                text.push_str(&format!("[{}]\n", values_text(r)));
            }
        }
        Style::JsonArray => {
            for r in rows {
                text.push_str(&format!(",\n[{}]", values_text(r)));
            }
            text.push_str("]\n");
        }
    }
    text
}
