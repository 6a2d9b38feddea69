//! `/connector-plugins`: the plugins, a connector plugin's settings, and config validation.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::bodies::{ConfigKeyBody, PluginBody, ValidateBody};
use super::requests::{config_of, parse_json, require_json};
use super::{error, json, AppState};
use crate::connector::ConnectorType;
use crate::herder::HerderError;

/// `GET /connector-plugins[?connectorsOnly=false]`: sinks, then sources, then (with
/// `connectorsOnly=false`) transformations, predicates, converters and header converters, each
/// kind sorted by class name, as Kafka Connect lists them.
pub(super) async fn plugins(State(s): State<AppState>, uri: axum::http::Uri) -> Response {
    let only_connectors = !uri.query().unwrap_or("").contains("connectorsOnly=false");
    let mut connectors: Vec<_> = s.herder.worker().plugins().connectors().to_vec();
    connectors.sort_by_key(|p| (p.kind != ConnectorType::Sink, p.class));
    let mut body: Vec<PluginBody> = connectors
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
            let mut classes = list.to_vec();
            classes.sort_unstable();
            classes
                .iter()
                .map(|c| PluginBody {
                    class: c.to_string(),
                    kind: kind.to_string(),
                    version: Some(version.clone()),
                })
                .collect()
        };
        let mut header_converters = crate::converter::CONVERTERS.to_vec();
        header_converters.push(crate::converter::SIMPLE_HEADER_CONVERTER);
        body.extend(extra(crate::transforms::TRANSFORMATIONS, "transformation"));
        body.extend(extra(crate::transforms::PREDICATES, "predicate"));
        body.extend(extra(crate::converter::CONVERTERS, "converter"));
        body.extend(extra(&header_converters, "header_converter"));
    }
    json(StatusCode::OK, &body)
}

/// `GET /connector-plugins/P/config`: the connector's own settings (Kafka Connect lists the
/// framework's after them).
pub(super) async fn plugin_config(
    State(s): State<AppState>,
    Path(plugin): Path<String>,
) -> Response {
    match s.herder.worker().plugins().connector(&plugin) {
        Some(p) => {
            let body: Vec<ConfigKeyBody> = p.config.iter().map(ConfigKeyBody::of).collect();
            json(StatusCode::OK, &body)
        }
        None => error(404, &format!("Unknown plugin {plugin}.")),
    }
}

/// Kafka's `normalizedPluginName`: a trailing `Connector` dropped.
fn normalized(name: &str) -> &str {
    match name.strip_suffix("Connector") {
        Some(n) if !n.is_empty() => n,
        _ => name,
    }
}

/// `PUT /connector-plugins/P/config/validate`: 200 with every problem, also for an invalid
/// config. The class is the body's `connector.class` (which must name the path's plugin); a
/// missing or unknown class is a 500, as in Kafka Connect.
pub(super) async fn validate(
    State(s): State<AppState>,
    Path(plugin): Path<String>,
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
    let config = match config_of(&value) {
        Ok(c) => c,
        Err(m) => return error(500, &m),
    };
    let class = config.get("connector.class").cloned();
    if let Some(c) = &class {
        if !normalized(c).ends_with(normalized(&plugin)) {
            return error(
                400,
                &format!("Included connector type {c} does not match request type {plugin}"),
            );
        }
    }
    match s.herder.config_errors(&config) {
        Ok((p, errors)) => json(
            StatusCode::OK,
            &ValidateBody::of(class.as_deref().unwrap_or(""), p, &config, &errors),
        ),
        Err(HerderError::BadRequest(m)) => error(
            500,
            &format!("org.apache.kafka.connect.runtime.rest.errors.BadRequestException: {m}"),
        ),
        Err(e) => error(e.status(), &e.to_string()),
    }
}
