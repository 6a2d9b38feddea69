//! `/admin/loggers`: the log levels of this worker, and changing them on it
//! (`?scope=worker`, the default) or on every worker of the cluster (`?scope=cluster`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::requests::{parse_json, require_json};
use super::{error, json, AppState};
use crate::loggers::{LevelError, LoggerLevel};

#[derive(Serialize)]
struct LevelBody {
    level: String,
    last_modified: Option<i64>,
}

impl From<LoggerLevel> for LevelBody {
    fn from(l: LoggerLevel) -> LevelBody {
        LevelBody {
            level: l.level,
            last_modified: l.last_modified,
        }
    }
}

/// `GET /admin/loggers`: every logger with a level of its own, and `root`, by name.
pub(super) async fn all(State(s): State<AppState>) -> Response {
    let body: BTreeMap<String, LevelBody> = s
        .herder
        .worker()
        .loggers()
        .all()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    json(StatusCode::OK, &body)
}

/// `GET /admin/loggers/NAME`.
pub(super) async fn one(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.herder.worker().loggers().get(&name) {
        Some(l) => json(StatusCode::OK, &LevelBody::from(l)),
        None => error(404, &format!("Logger {name} not found.")),
    }
}

fn level_error(e: LevelError) -> Response {
    match e {
        LevelError::Missing => error(400, &e.to_string()),
        // Kafka Connect answers 404 for a level it does not know
        LevelError::Invalid(_) | LevelError::BadName(_) => error(404, &e.to_string()),
    }
}

/// `PUT /admin/loggers/NAME[?scope=worker|cluster]` with `{"level": LEVEL}`: 200 with the
/// loggers whose level changed, or 204 for the cluster scope.
pub(super) async fn set(
    State(s): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = require_json(&headers) {
        return resp;
    }
    let req = match parse_json(
        &body,
        "Desired 'level' parameter was not specified in request.",
    ) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(level) = req.get("level").and_then(|l| l.as_str()) else {
        return level_error(LevelError::Missing);
    };
    let cluster = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .any(|(k, v)| k == "scope" && v.eq_ignore_ascii_case("cluster"));
    if cluster {
        return match s.herder.set_cluster_log_level(&name, level).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => level_error(e),
        };
    }
    match s.herder.worker().loggers().set(&name, level) {
        Ok(changed) => json(StatusCode::OK, &changed),
        Err(e) => level_error(e),
    }
}
