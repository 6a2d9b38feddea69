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

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::Serialize;

use crate::config::Config;
use crate::standalone::{HerderError, StandaloneHerder};
use crate::worker::TargetState;
use bodies::*;

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
    herder: Arc<StandaloneHerder>,
    info: Arc<ServerInfo>,
}

/// The REST API's routes.
pub fn router(herder: Arc<StandaloneHerder>, info: ServerInfo) -> Router {
    let state = AppState {
        herder,
        info: Arc::new(info),
    };
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/connectors", get(list_connectors).post(create_connector))
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
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
    error(404, "HTTP 404 Not Found")
}

async fn method_not_allowed() -> Response {
    error(405, "HTTP 405 Method Not Allowed")
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

/// `?expand=status&expand=info`: axum's `Query` keeps one value per key, so the raw query is
/// read.
fn expands(query: Option<&str>) -> (bool, bool) {
    let mut status = false;
    let mut info = false;
    for pair in query.unwrap_or("").split('&') {
        match pair {
            "expand=status" => status = true,
            "expand=info" => info = true,
            _ => {}
        }
    }
    (status, info)
}

async fn list_connectors(State(s): State<AppState>, uri: axum::http::Uri) -> Response {
    let names = s.herder.connectors().await;
    let (with_status, with_info) = expands(uri.query());
    if !with_status && !with_info {
        return json(StatusCode::OK, &names);
    }
    let mut out: BTreeMap<String, ExpandedBody> = BTreeMap::new();
    for name in names {
        let mut e = ExpandedBody::default();
        if with_status {
            e.status = s
                .herder
                .status(&name)
                .await
                .ok()
                .map(|st| StatusBody::of(&name, &st));
        }
        if with_info {
            e.info = s.herder.info(&name).await.ok().map(|i| InfoBody::of(&i));
        }
        out.insert(name, e);
    }
    json(StatusCode::OK, &out)
}

/// A request body; like Kafka Connect, a body that does not parse is a 500.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    if body.is_empty() {
        return Err(error(500, "No content to map due to end-of-input"));
    }
    serde_json::from_slice(body).map_err(|e| error(500, &format!("Cannot deserialize value: {e}")))
}

async fn create_connector(State(s): State<AppState>, body: Bytes) -> Response {
    let req: CreateRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(config) = req.config else {
        return error(
            500,
            "Cannot invoke \"java.util.Map.get(Object)\" because \"connectorConfig\" is null",
        );
    };
    let name = req.name.clone().unwrap_or_default();
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
    let initial = match req
        .initial_state
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("RUNNING") => TargetState::Started,
        Some("PAUSED") => TargetState::Paused,
        Some("STOPPED") => TargetState::Stopped,
                Some(other) => {
            return error(
                500,
                &format!("Cannot deserialize value of type `org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest$InitialState` from String \"{other}\": not one of the values accepted for Enum class: [STOPPED, RUNNING, PAUSED]"),
            )
        }
    };
    match s.herder.put_connector(&name, config, false, initial).await {
        Ok((_, info)) => {
            let mut resp = json(StatusCode::CREATED, &InfoBody::of(&info));
            if let Ok(v) = format!("/connectors/{name}").parse() {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
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

async fn put_config(State(s): State<AppState>, Path(name): Path<String>, body: Bytes) -> Response {
    let config: Config = match parse_body(&body) {
        Ok(c) => c,
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
        Ok((created, info)) => json(
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            &InfoBody::of(&info),
        ),
        Err(e) => e.into_response(),
    }
}

async fn patch_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let patch: BTreeMap<String, Option<String>> = match parse_body(&body) {
        Ok(c) => c,
        Err(resp) => return resp,
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

#[derive(serde::Deserialize)]
struct RestartQuery {
    #[serde(rename = "includeTasks", default)]
    include_tasks: bool,
    #[serde(rename = "onlyFailed", default)]
    only_failed: bool,
}

async fn restart(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RestartQuery>,
) -> Response {
    let unknown = |n: &str| format!("Unknown connector: {n}");
    // what will restart shows RESTARTING in the answer, as Kafka Connect's does
    let before = match s.herder.status(&name).await {
        Ok(st) => st,
        Err(e) => return not_found_as(e, unknown),
    };
    if let Err(e) = s
        .herder
        .restart(&name, q.include_tasks, q.only_failed)
        .await
    {
        return not_found_as(e, unknown);
    }
    if !q.include_tasks && !q.only_failed {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut shown = before;
    let failed =
        |st: &crate::worker::status::Status| st.state == crate::worker::status::State::Failed;
    if !q.only_failed || failed(&shown.connector) {
        shown.connector.state = crate::worker::status::State::Restarting;
    }
    if q.include_tasks {
        for (_, t) in shown.tasks.iter_mut() {
            if !q.only_failed || failed(t) {
                t.state = crate::worker::status::State::Restarting;
            }
        }
    }
    json(StatusCode::ACCEPTED, &StatusBody::of(&name, &shown))
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

async fn task_status(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Response {
    match s.herder.status(&name).await {
        Ok(st) => match st.tasks.iter().find(|(id, _)| *id == task) {
            Some((id, status)) => json(
                StatusCode::OK,
                &TaskStatusBody::of(*id, status, &st.version),
            ),
            None => error(404, &format!("No status found for task {name}-{task}")),
        },
        Err(e) => e.into_response(),
    }
}

async fn restart_task(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Response {
    match s.herder.restart_task(&name, task).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => not_found_as(e, |n| format!("Unknown connector: {n}")),
    }
}

async fn topics(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let mut body = BTreeMap::new();
    body.insert(
        name.clone(),
        BTreeMap::from([("topics".to_string(), s.herder.worker().active_topics(&name))]),
    );
    json(StatusCode::OK, &body)
}

async fn reset_topics(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    s.herder.worker().reset_active_topics(&name);
    StatusCode::ACCEPTED.into_response()
}

async fn alter_offsets(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let req: serde_json::Value = match parse_body(&body) {
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

async fn plugins(State(s): State<AppState>, uri: axum::http::Uri) -> Response {
    let only_connectors = !uri.query().unwrap_or("").contains("connectorsOnly=false");
    let mut body: Vec<PluginBody> = s
        .herder
        .worker()
        .plugins()
        .connectors()
        .iter()
        .map(|p| PluginBody {
            class: p.class.to_string(),
            kind: p.kind.name().to_string(),
            version: Some(p.version.to_string()),
        })
        .collect();
    if !only_connectors {
        let version = s.info.version.clone();
        let extra = |list: &[&str], kind: &str| -> Vec<PluginBody> {
            list.iter()
                .map(|c| PluginBody {
                    class: c.to_string(),
                    kind: kind.to_string(),
                    version: Some(version.clone()),
                })
                .collect()
        };
        body.extend(extra(crate::transforms::TRANSFORMATIONS, "transformation"));
        body.extend(extra(crate::transforms::PREDICATES, "predicate"));
        body.extend(extra(crate::converter::CONVERTERS, "converter"));
    }
    json(StatusCode::OK, &body)
}

async fn plugin_config(State(s): State<AppState>, Path(plugin): Path<String>) -> Response {
    match s.herder.worker().plugins().connector(&plugin) {
        Some(p) => {
            let body: Vec<ConfigKeyBody> = p.config.iter().map(ConfigKeyBody::of).collect();
            json(StatusCode::OK, &body)
        }
        None => error(404, &format!("Unknown plugin {plugin}.")),
    }
}

async fn validate(
    State(s): State<AppState>,
    Path(plugin): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = headers;
    let config: Config = match parse_body(&body) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(p) = s.herder.worker().plugins().connector(&plugin) else {
        return error(400, &format!("Unknown plugin {plugin}."));
    };
    let result = s.herder.validate(&config);
    let errors: Vec<String> = match &result {
        Ok(_) => Vec::new(),
        Err(e) => e
            .to_string()
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("You can also find"))
            .map(str::to_string)
            .collect(),
    };
    json(StatusCode::OK, &ValidateBody::of(p, &config, &errors))
}
