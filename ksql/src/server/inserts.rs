//! `POST /inserts-stream`: rows streamed into a stream or table, as ksqlDB's endpoint takes
//! them.
//!
//! The request body is lines of JSON: first the arguments, `{"target": "S", "properties":
//! {}}`, then one object per row, its fields named by column (case-insensitively, unless
//! quoted with backticks). Each row is written to the target's topic in its key and value
//! formats, timestamped now, and acknowledged in order, `{"status":"ok","seq":0}`, one per
//! line (`application/vnd.ksqlapi.delimited.v1`, the default) or in one JSON array
//! (`Accept: application/json`). A row that cannot be written gets
//! `{"status":"error","seq":n,"error_code":40000,"message":"..."}` and ends the response, as
//! in ksqlDB; so does the end of the request, once every row written is acknowledged.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::AppState;
use crate::catalog::DataSource;
use crate::engine::{key_format, value_format};
use crate::format::RowFormat;
use crate::value::{self, Row};

/// Rows written and not yet acknowledged, at most (the request is read no further until
/// acknowledgements come).
const IN_FLIGHT: usize = 1000;

/// The longest line (row) read.
const MAX_LINE: usize = 16 << 20;

/// How long a row's write may take.
const WRITE_LIMIT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Arguments {
    target: String,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Map<String, Value>,
}

/// A source's name as written: unquoted names are upper-cased, backticked ones kept.
fn identifier(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(quoted) => quoted.to_string(),
        None => t.to_uppercase(),
    }
}

/// A record's key and value bytes.
type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What the rows are written with.
struct Target {
    source: DataSource,
    key: RowFormat,
    value: RowFormat,
    producer: FutureProducer,
}

impl Target {
    /// A row's key and value bytes, or ksqlDB's message for what is wrong with it.
    fn record(&self, line: &[u8]) -> Result<Record, String> {
        let object: Map<String, Value> = match serde_json::from_slice(line) {
            Ok(Value::Object(o)) => o,
            _ => return Err("Invalid JSON in inserts stream".into()),
        };
        // (field names as column names: upper-cased unless quoted)
        let mut fields: Map<String, Value> = Map::new();
        for (name, v) in object {
            let column = identifier(&name);
            if fields.insert(column.clone(), v).is_some() {
                return Err(format!("Found duplicate column name {column}"));
            }
        }
        let convert = |ty: &crate::types::SqlType, v: &Value| {
            crate::format::json::from_json(v, ty).map_err(|e| {
                format!(
                    "Can't coerce a field of type {} into type {ty}: {e}",
                    kind(v)
                )
            })
        };
        let mut key: Row = Vec::with_capacity(self.source.key.len());
        for (name, ty) in &self.source.key {
            match fields.get(name) {
                None | Some(Value::Null) => {
                    return Err(format!("Key field must be specified: {name}"));
                }
                Some(v) => key.push(convert(ty, v)?),
            }
        }
        let mut values: Row = Vec::with_capacity(self.source.format_columns().len());
        for (name, ty) in self.source.format_columns() {
            values.push(match fields.get(name) {
                None => value::null(ty),
                Some(v) => convert(ty, v)?,
            });
        }
        let key_bytes = if key.is_empty() {
            None
        } else {
            self.key
                .serialize(Some(key.as_slice()))
                .map_err(|e| e.to_string())?
        };
        let value_bytes = self
            .value
            .serialize(Some(values.as_slice()))
            .map_err(|e| e.to_string())?;
        Ok((key_bytes, value_bytes))
    }
}

/// A JSON value's kind, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_f64() => "Double",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "JsonArray",
        Value::Object(_) => "JsonObject",
    }
}

/// How acknowledgements are written.
struct Writer {
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    json: bool,
    written: bool,
}

impl Writer {
    async fn send(&mut self, v: Value) -> bool {
        let text = if self.json {
            let lead = if self.written { "," } else { "[" };
            format!("{lead}{v}")
        } else {
            format!("{v}\n")
        };
        self.written = true;
        self.tx.send(Ok(Bytes::from(text))).await.is_ok()
    }

    async fn end(mut self) {
        if self.json {
            let tail = if self.written { "]" } else { "[]" };
            let _ = self.tx.send(Ok(Bytes::from(tail))).await;
        }
        self.written = true;
    }
}

fn ack(seq: u64) -> Value {
    json!({"status": "ok", "seq": seq})
}

fn failure(seq: u64, message: &str) -> Value {
    json!({"status": "error", "seq": seq, "error_code": 40000, "message": message})
}

/// Splits a body into lines as they come.
struct Lines {
    body: axum::body::BodyDataStream,
    buffer: Vec<u8>,
    done: bool,
}

impl Lines {
    /// The next non-empty line, `None` at the end of the body.
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=at).collect();
                let line = trim(&line);
                if line.is_empty() {
                    continue;
                }
                return Some(Ok(line.to_vec()));
            }
            if self.done {
                let rest = std::mem::take(&mut self.buffer);
                let rest = trim(&rest);
                return (!rest.is_empty()).then(|| Ok(rest.to_vec()));
            }
            if self.buffer.len() > MAX_LINE {
                return Some(Err(format!(
                    "Invalid JSON in inserts stream: a line longer than {} MiB",
                    MAX_LINE >> 20
                )));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Some(Err(e.to_string())),
                None => self.done = true,
            }
        }
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &line[start..end.max(start)]
}

pub(super) async fn inserts_stream(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let mut lines = Lines {
        body: body.into_data_stream(),
        buffer: Vec::new(),
        done: false,
    };
    let arguments: Arguments = match lines.next().await {
        Some(Ok(line)) => match serde_json::from_slice(&line) {
            Ok(a) => a,
            Err(e) => {
                return super::error(
                    StatusCode::BAD_REQUEST,
                    40000,
                    &format!("Invalid request body: {e}"),
                )
            }
        },
        Some(Err(e)) => {
            return super::error(
                StatusCode::BAD_REQUEST,
                40000,
                &format!("Invalid request body: {e}"),
            )
        }
        None => {
            return super::error(
                StatusCode::BAD_REQUEST,
                40000,
                "Invalid request body: no arguments",
            )
        }
    };
    let target = match target(&s, &arguments.target).await {
        Ok(t) => t,
        Err(message) => return super::error(StatusCode::BAD_REQUEST, 40001, &message),
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(write_rows(
        target,
        lines,
        Writer {
            tx,
            json,
            written: false,
        },
    ));
    let content_type = if json {
        "application/json"
    } else {
        "application/vnd.ksqlapi.delimited.v1"
    };
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(tokio_stream_of(rx)),
    )
        .into_response()
}

fn tokio_stream_of(
    mut rx: mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The source rows go to, checked as ksqlDB checks it.
async fn target(s: &AppState, name: &str) -> Result<Target, String> {
    let engine = s.engine.lock().await;
    let target = identifier(name);
    let source = engine.catalog().source(&target).map_err(|_| {
        format!(
            "Cannot insert values into an unknown stream/table: `{target}`{}",
            engine.catalog().case_hint(&target)
        )
    })?;
    if source.windowing.is_some() {
        return Err("Cannot insert values into windowed stream/table".into());
    }
    if source.read_only {
        return Err(format!(
            "Cannot insert values into read-only {}: {target}",
            crate::engine::kind_word(source.kind)
        ));
    }
    Ok(Target {
        key: key_format(source).map_err(|e| e.to_string())?,
        value: value_format(source).map_err(|e| e.to_string())?,
        source: source.clone(),
        producer: engine.producer().clone(),
    })
}

/// A row's write, finishing with its sequence number and how it went.
type Delivery =
    std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Result<(), String>)> + Send>>;

/// What happened next: a write finished, or a line came.
enum Event {
    Written(u64, Result<(), String>),
    Line(Option<Result<Vec<u8>, String>>),
}

/// Writes each row of `lines` and acknowledges it, in order.
async fn write_rows(target: Target, lines: Lines, mut out: Writer) {
    write_all(&target, lines, &mut out).await;
    out.end().await;
}

/// [`write_rows`] up to the end of the request, a row that fails, or a client gone.
async fn write_all(target: &Target, mut lines: Lines, out: &mut Writer) {
    let mut pending: VecDeque<Delivery> = VecDeque::new();
    let mut seq: u64 = 0;
    let mut reading = true;
    loop {
        // (acknowledge in order; read on while few rows are in flight)
        let event = if reading && pending.len() < IN_FLIGHT {
            if let Some(first) = pending.front_mut() {
                tokio::select! {
                    biased;
                    (n, result) = first => Event::Written(n, result),
                    line = lines.next() => Event::Line(line),
                }
            } else {
                Event::Line(lines.next().await)
            }
        } else if let Some(first) = pending.front_mut() {
            let (n, result) = first.await;
            Event::Written(n, result)
        } else {
            return;
        };
        let failed = match event {
            Event::Written(n, result) => {
                pending.pop_front();
                if !acknowledge(out, n, result).await {
                    return;
                }
                continue;
            }
            Event::Line(None) => {
                reading = false;
                continue;
            }
            Event::Line(Some(Err(e))) => (seq, e),
            Event::Line(Some(Ok(line))) => {
                let n = seq;
                seq += 1;
                match target.record(&line) {
                    Ok((key, value)) => match enqueue(target, key, value).await {
                        Ok(delivery) => {
                            pending.push_back(Box::pin(async move {
                                let result = match delivery.await {
                                    Ok(Ok(_)) => Ok(()),
                                    Ok(Err((e, _))) => {
                                        Err(format!("Error in processing inserts: {e}"))
                                    }
                                    Err(_) => {
                                        Err("Error in processing inserts: the write was cancelled"
                                            .to_string())
                                    }
                                };
                                (n, result)
                            }));
                            continue;
                        }
                        Err(message) => (n, message),
                    },
                    Err(message) => (n, message),
                }
            }
        };
        // (the rows before a failing one are acknowledged first)
        while let Some(first) = pending.pop_front() {
            let (n, result) = first.await;
            if !acknowledge(out, n, result).await {
                return;
            }
        }
        let _ = out.send(failure(failed.0, &failed.1)).await;
        return;
    }
}

/// Writes one row's acknowledgement (or its error); false once the answer must end.
async fn acknowledge(out: &mut Writer, n: u64, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => out.send(ack(n)).await,
        Err(message) => {
            let _ = out.send(failure(n, &message)).await;
            false
        }
    }
}

/// Hands a record to the producer (waiting while its queue is full); the delivery follows.
async fn enqueue(
    target: &Target,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
) -> Result<rdkafka::producer::DeliveryFuture, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + WRITE_LIMIT;
    loop {
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&target.source.topic).timestamp(now);
        if let Some(k) = &key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &value {
            record = record.payload(v.as_slice());
        }
        match target.producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                _,
            )) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err((e, _)) => return Err(format!("Error in processing inserts: {e}")),
        }
    }
}
