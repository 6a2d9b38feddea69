//! Kafka Connect's REST API on `listeners` (port 8083 by default): the same paths, bodies and
//! status codes, so the same `curl` commands work.
//!
//! ```text
//!  GET  /                      GET/POST /connectors           GET/PUT/PATCH /connectors/C/config
//!  GET  /connectors/C[/status|/tasks|/topics|/offsets]        PUT /connectors/C/{pause,resume,stop}
//!  POST /connectors/C/restart  POST /connectors/C/tasks/T/restart   DELETE /connectors/C
//!  GET  /connector-plugins[/P/config]   PUT /connector-plugins/P/config/validate   /admin/loggers
//! ```

mod bodies;
mod forward;
mod loggers;
mod plugins;
mod requests;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::Serialize;

use crate::herder::{Herder, HerderError};
use crate::worker::status::State as RunState;
use crate::worker::TargetState;
use bodies::*;
use requests::{config_of, jersey_error, parse_json, require_json};

/// What `GET /` reports.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// The Kafka version this worker is compatible with.
    pub version: String,
    /// The build's commit.
    pub commit: String,
    /// The Kafka cluster's id.
    pub kafka_cluster_id: String,
}

#[derive(Clone)]
struct AppState {
    herder: Arc<dyn Herder>,
    info: Arc<ServerInfo>,
    /// For requests forwarded to other workers.
    http: reqwest::Client,
}

/// The REST API's routes.
pub fn router(herder: Arc<dyn Herder>, info: ServerInfo) -> Router {
    let state = AppState {
        herder,
        info: Arc::new(info),
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/connectors", get(list_connectors).post(create_connector))
        .route("/connectors/", get(list_connectors))
        .route(
            "/connectors/{name}",
            get(connector_info).delete(delete_connector),
        )
        .route(
            "/connectors/{name}/config",
            get(connector_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(connector_status))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/restart", post(restart))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route(
            "/connectors/{name}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route("/connector-plugins", get(plugins::plugins))
        .route(
            "/connector-plugins/{plugin}/config",
            get(plugins::plugin_config),
        )
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(loggers::all))
        .route("/admin/loggers/", get(loggers::all))
        .route("/admin/loggers/{name}", get(loggers::one).put(loggers::set))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::forward,
        ))
        .layer(axum::middleware::from_fn(requests::check_accept))
        .with_state(state)
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let text = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Kafka Connect's error body: `{"error_code": N, "message": "..."}`.
fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(
        code,
        &ErrorBody {
            error_code: status,
            message: message.to_string(),
        },
    )
}

impl IntoResponse for HerderError {
    fn into_response(self) -> Response {
        error(self.status(), &self.to_string())
    }
}

async fn not_found() -> Response {
    jersey_error(404, "Not Found")
}

async fn method_not_allowed() -> Response {
    jersey_error(405, "Method Not Allowed")
}

async fn health() -> Response {
    json(
        StatusCode::OK,
        &HealthBody {
            status: "healthy".into(),
            message: "Worker has completed startup and is ready to handle requests.".into(),
        },
    )
}

/// A herder error, with the "not found" wording Kafka Connect uses at this endpoint.
fn not_found_as(e: HerderError, wording: impl Fn(&str) -> String) -> Response {
    match e {
        HerderError::NotFound(name) => error(404, &wording(&name)),
        other => other.into_response(),
    }
}

async fn root(State(s): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &RootBody {
            version: s.info.version.clone(),
            commit: s.info.commit.clone(),
            kafka_cluster_id: s.info.kafka_cluster_id.clone(),
        },
    )
}

/// `GET /connectors[?expand=status|info]`: the names, or with `expand` an object of them
/// whose parts follow the order of the `expand` parameters (an unknown one adds nothing).
async fn list_connectors(State(s): State<AppState>, uri: Uri) -> Response {
    let names = s.herder.connectors().await;
    let expand = requests::expands(uri.query());
    if expand.is_empty() {
        return json(StatusCode::OK, &names);
    }
    let mut out: BTreeMap<String, ExpandedBody> = BTreeMap::new();
    for name in names {
        let mut e = ExpandedBody::default();
        for what in &expand {
            match what.as_str() {
                "status" if !e.0.iter().any(|(k, _)| *k == "status") => {
                    if let Ok(st) = s.herder.status(&name).await {
                        e.0.push(("status", Expanded::Status(StatusBody::of(&name, &st))));
                    }
                }
                "info" if !e.0.iter().any(|(k, _)| *k == "info") => {
                    if let Ok(i) = s.herder.info(&name).await {
                        e.0.push(("info", Expanded::Info(InfoBody::of(&i))));
                    }
                }
                _ => {}
            }
        }
        out.insert(name, e);
    }
    json(StatusCode::OK, &out)
}

/// A created connector's answer: 201 with its absolute `Location`.
fn created(s: &AppState, headers: &HeaderMap, info: &crate::herder::ConnectorInfo) -> Response {
    let mut resp = json(StatusCode::CREATED, &InfoBody::of(info));
    if let Some(v) =
        requests::connector_location(headers, s.herder.worker().worker_id(), &info.name)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn create_connector(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(resp) = require_json(&headers) {
        return resp;
    }
    let req = match parse_json(
        &body,
        "Cannot invoke \"org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()\" because \"createRequest\" is null",
    ) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let config =
        match req.get("config") {
            None | Some(serde_json::Value::Null) => return error(
                500,
                "Cannot invoke \"java.util.Map.get(Object)\" because \"connectorConfig\" is null",
            ),
            Some(c) => match config_of(c) {
                Ok(c) => c,
                Err(m) => return error(500, &m),
            },
        };
    let name = req
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_string();
    if name.trim().is_empty() {
        if let Some(n) = config.get("name") {
            return error(
                400,
                &format!(
                    "Connector name configuration ({n}) doesn't match connector name in the URL ()"
                ),
            );
        }
        return error(
            400,
            "Connector configuration is invalid and contains the following 1 error(s):\nInvalid value  for configuration name: String may not be empty\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
        );
    }
    if let Some(n) = config.get("name") {
        if *n != name {
            return error(
                400,
                &format!("Connector name configuration ({n}) doesn't match connector name in the URL ({name})"),
            );
        }
    }
    // Kafka's InitialState.forValue: any case
    let initial = match req.get("initial_state").and_then(|v| v.as_str()) {
        None => TargetState::Started,
        Some(v) => match v.to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => return error(500, &requests::bad_initial_state(&body, v)),
        },
    };
    match s.herder.put_connector(&name, config, false, initial).await {
        Ok((_, info)) => created(&s, &headers, &info),
        Err(e) => e.into_response(),
    }
}

async fn connector_info(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.info(&name).await {
        Ok(i) => json(StatusCode::OK, &InfoBody::of(&i)),
        Err(e) => e.into_response(),
    }
}

async fn connector_config(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.config(&name).await {
        Ok(c) => json(StatusCode::OK, &c),
        Err(e) => e.into_response(),
    }
}

async fn put_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = require_json(&headers) {
        return resp;
    }
    let config =
        match parse_json(&body, "No content to map due to end-of-input").map(|v| config_of(&v)) {
            Ok(Ok(c)) => c,
            Ok(Err(m)) => return error(500, &m),
            Err(resp) => return resp,
        };
    if let Some(n) = config.get("name") {
        if *n != name {
            return error(
                400,
                &format!("Connector name configuration ({n}) doesn't match connector name in the URL ({name})"),
            );
        }
    }
    match s
        .herder
        .put_connector(&name, config, true, TargetState::Started)
        .await
    {
        Ok((true, info)) => created(&s, &headers, &info),
        Ok((false, info)) => json(StatusCode::OK, &InfoBody::of(&info)),
        Err(e) => e.into_response(),
    }
}

async fn patch_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = require_json(&headers) {
        return resp;
    }
    let value = match parse_json(&body, "No content to map due to end-of-input") {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    // `null` removes a key; the rest is read as a config map
    let removed: Vec<String> = value
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let patch: BTreeMap<String, Option<String>> = match config_of(&value) {
        Ok(c) => c
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .chain(removed.into_iter().map(|k| (k, None)))
            .collect(),
        Err(m) => return error(500, &m),
    };
    let mut config = match s.herder.config(&name).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    for (k, v) in patch {
        match v {
            Some(v) => {
                config.insert(k, v);
            }
            None => {
                config.remove(&k);
            }
        }
    }
    match s
        .herder
        .put_connector(&name, config, true, TargetState::Started)
        .await
    {
        Ok((_, info)) => json(StatusCode::OK, &InfoBody::of(&info)),
        Err(e) => e.into_response(),
    }
}

async fn connector_status(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.status(&name).await {
        Ok(st) => json(StatusCode::OK, &StatusBody::of(&name, &st)),
        Err(e) => not_found_as(e, |n| format!("No status found for connector {n}")),
    }
}

/// Pause and resume answer 202, stop 204.
async fn set_target(s: &AppState, name: &str, target: TargetState) -> Response {
    match s.herder.set_target(name, target).await {
        Ok(()) if target == TargetState::Stopped => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => not_found_as(e, |n| format!("Unknown connector {n}")),
    }
}

async fn pause(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    set_target(&s, &name, TargetState::Paused).await
}

async fn resume(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    set_target(&s, &name, TargetState::Started).await
}

async fn stop(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    set_target(&s, &name, TargetState::Stopped).await
}

/// Restarts: plain (or both flags false) 204; with `includeTasks` or `onlyFailed` 202 with what
/// will restart shown `RESTARTING`.
async fn restart(State(s): State<AppState>, Path(name): Path<String>, uri: Uri) -> Response {
    let include_tasks = requests::query_flag(uri.query(), "includeTasks");
    let only_failed = requests::query_flag(uri.query(), "onlyFailed");
    let unknown = |n: &str| format!("Unknown connector: {n}");
    let before = match s.herder.status(&name).await {
        Ok(st) => st,
        Err(e) => return not_found_as(e, unknown),
    };
    if let Err(e) = s.herder.restart(&name, include_tasks, only_failed).await {
        return not_found_as(e, unknown);
    }
    if !include_tasks && !only_failed {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut shown = before;
    let failed = |st: &crate::worker::status::Status| st.state == RunState::Failed;
    if !only_failed || failed(&shown.connector) {
        shown.connector.state = RunState::Restarting;
    }
    if include_tasks {
        for (_, t) in shown.tasks.iter_mut() {
            if !only_failed || failed(t) {
                t.state = RunState::Restarting;
            }
        }
    }
    json(StatusCode::ACCEPTED, &StatusBody::planned(&name, &shown))
}

async fn delete_connector(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.delete(&name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn tasks(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.task_configs(&name).await {
        Ok(configs) => {
            let body: Vec<TaskInfoBody> = configs
                .into_iter()
                .enumerate()
                .map(|(i, config)| TaskInfoBody {
                    id: TaskIdBody {
                        connector: name.clone(),
                        task: i as u32,
                    },
                    config,
                })
                .collect();
            json(StatusCode::OK, &body)
        }
        Err(e) => e.into_response(),
    }
}

/// A task number of a path; anything else matches no resource (Jersey's 404, here with
/// Kafka Connect's JSON body).
fn task_number(task: &str) -> Result<u32, Response> {
    task.parse().map_err(|_| error(404, "HTTP 404 Not Found"))
}

async fn task_status(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Response {
    let task = match task_number(&task) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let none = || error(404, &format!("No status found for task {name}-{task}"));
    match s.herder.status(&name).await {
        Ok(st) => match st.tasks.iter().find(|(id, _)| *id == task) {
            Some((id, status)) => json(
                StatusCode::OK,
                &TaskStatusBody::of(*id, status, &st.version),
            ),
            None => none(),
        },
        Err(HerderError::NotFound(_)) => none(),
        Err(e) => e.into_response(),
    }
}

async fn restart_task(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Response {
    let task = match task_number(&task) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match s.herder.restart_task(&name, task).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => not_found_as(e, |n| format!("Unknown connector: {n}")),
    }
}

async fn topics(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let mut body = BTreeMap::new();
    body.insert(
        name.clone(),
        BTreeMap::from([("topics".to_string(), s.herder.active_topics(&name).await)]),
    );
    json(StatusCode::OK, &body)
}

async fn reset_topics(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    s.herder.reset_topics(&name).await;
    StatusCode::ACCEPTED.into_response()
}

async fn alter_offsets(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = require_json(&headers) {
        return resp;
    }
    let req = match parse_json(
        &body,
        "Cannot invoke \"org.apache.kafka.connect.runtime.rest.entities.ConnectorOffsets.offsets()\" because \"offsets\" is null",
    ) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let entries = match req.get("offsets").and_then(|o| o.as_array()) {
        Some(list) if !list.is_empty() => list.clone(),
        _ => {
            return error(
                400,
                "Partitions / offsets need to be provided for an alter offsets request",
            )
        }
    };
    let mut offsets = Vec::new();
    for e in entries {
        let partition = from_json(e.get("partition").unwrap_or(&serde_json::Value::Null));
        let offset = from_json(e.get("offset").unwrap_or(&serde_json::Value::Null));
        offsets.push((partition, offset));
    }
    match s.herder.alter_offsets(&name, offsets).await {
        Ok(()) => json(
            StatusCode::OK,
            &MessageBody {
                message: "The offsets for this connector have been altered successfully".into(),
            },
        ),
        Err(e) => e.into_response(),
    }
}

async fn reset_offsets(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.reset_offsets(&name).await {
        Ok(()) => json(
            StatusCode::OK,
            &MessageBody {
                message: "The offsets for this connector have been reset successfully".into(),
            },
        ),
        Err(e) => e.into_response(),
    }
}

/// A JSON value (a partition or offset of a request) as Connect data.
fn from_json(v: &serde_json::Value) -> crate::data::Value {
    let text = serde_json::to_vec(v).unwrap_or_default();
    let converter = crate::converter::JsonConverter::default().with_schemas(false);
    crate::converter::Converter::to_connect_data(&converter, "", Some(&text))
        .map(|d| d.value)
        .unwrap_or(crate::data::Value::Null)
}

async fn offsets(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let offsets = match s.herder.offsets(&name).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let body = OffsetsBody {
        offsets: offsets
            .into_iter()
            .map(|(partition, offset)| OffsetBody {
                partition: to_json(&partition),
                offset: to_json(&offset),
            })
            .collect(),
    };
    json(StatusCode::OK, &body)
}

/// Connect data (a source partition or offset) as a JSON value.
fn to_json(v: &crate::data::Value) -> serde_json::Value {
    let converter = crate::converter::JsonConverter::default().with_schemas(false);
    crate::converter::Converter::to_bytes(&converter, "", None, v)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}
