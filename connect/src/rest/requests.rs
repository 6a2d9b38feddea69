//! Requests as Kafka Connect's Jersey and Jackson read them: JSON bodies only (415 for another
//! media type), JSON answers only (406), numbers and booleans in a config map taken as their
//! text, Jackson's wording for the bodies it cannot read (500s in Kafka Connect), query flags
//! read with Java's `Boolean.parseBoolean`, and the absolute `Location` of a created connector.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::bodies::ErrorBody;
use crate::config::Config;

/// An error Jersey answers itself (no resource for the path, the method or the media type):
/// Kafka Connect's error body, but without a `Content-Type`.
pub(super) fn jersey_error(status: u16, reason: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        error_code: status,
        message: format!("HTTP {status} {reason}"),
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    (code, Body::from(text)).into_response()
}

/// The resources consume `application/json` only; a request with another `Content-Type` is a
/// 415 (one without a `Content-Type`, as a request without a body, is let through).
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), Response> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
    if media.trim().eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(jersey_error(415, "Unsupported Media Type"))
    }
}

/// Middleware: the resources produce `application/json` only; an `Accept` that excludes it
/// is a 406.
pub(super) async fn check_accept(request: Request, next: Next) -> Response {
    let acceptable = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("*/*").split(','))
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|range| !range.is_empty())
        .collect::<Vec<_>>();
    let json_ok = acceptable.is_empty()
        || acceptable
            .iter()
            .any(|r| r == "*/*" || r == "application/*" || r == "application/json" || r == "*");
    if json_ok {
        next.run(request).await
    } else {
        jersey_error(406, "Not Acceptable")
    }
}

/// A JSON body; `empty` is the message for an empty body (Jersey hands the resource `null`, and
/// the message is the resulting `NullPointerException`'s), a body that does not parse gets
/// Jackson's message. Both are 500s.
pub(super) fn parse_json(body: &Bytes, empty: &str) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(super::error(500, empty));
    }
    serde_json::from_slice(body).map_err(|e| super::error(500, &jackson_message(body, &e)))
}

/// Where Jackson reports a problem: `line: L, column: C` (1-based, characters).
fn location(text: &str) -> String {
    let line = 1 + text.matches('\n').count();
    let column = 1 + text.rsplit('\n').next().unwrap_or("").chars().count();
    format!(
        "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {line}, column: {column}]"
    )
}

/// Jackson's message for a body cut short inside an object or array; serde's for the rest.
fn jackson_message(body: &[u8], e: &serde_json::Error) -> String {
    let text = String::from_utf8_lossy(body);
    if e.classify() != serde_json::error::Category::Eof {
        return e.to_string();
    }
    let mut open = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, '{' | '[') => open.push(c),
            (false, _, '}' | ']') => {
                open.pop();
            }
            _ => {}
        }
    }
    let what = match open.last() {
        Some('[') if !in_string => "Array entries",
        Some('{') if !in_string => "Object entries",
        _ => return e.to_string(),
    };
    format!(
        "Unexpected end-of-input within/between {what}{}",
        location(&text)
    )
}

/// A config map as Jackson reads a `Map<String, String>`: numbers and booleans become their
/// text; `null` values are left out.
pub(super) fn config_of(v: &Value) -> Result<Config, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "Cannot deserialize value of type `java.util.LinkedHashMap<java.lang.String,java.lang.String>` from {} value",
            json_kind(v)
        ));
    };
    let mut config = Config::new();
    for (k, v) in map {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            other => {
                return Err(format!(
                    "Cannot deserialize value of type `java.lang.String` from {} value",
                    json_kind(other)
                ))
            }
        };
        config.insert(k.clone(), text);
    }
    Ok(config)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "Object",
        Value::Array(_) => "Array",
        _ => "scalar",
    }
}

/// Jackson's message for an `initial_state` that is not one of `RUNNING`, `PAUSED`, `STOPPED`,
/// located at the value in the raw body.
pub(super) fn bad_initial_state(body: &Bytes, value: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let at = text
        .find("\"initial_state\"")
        .map(|i| {
            let rest = &text[i + "\"initial_state\"".len()..];
            let skipped = rest.len()
                - rest
                    .trim_start_matches(|c: char| c.is_whitespace() || c == ':')
                    .len();
            i + "\"initial_state\"".len() + skipped
        })
        .unwrap_or(text.len());
    const CLASS: &str = "org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest";
    format!(
        "Cannot construct instance of `{CLASS}$InitialState`, problem: No enum constant {CLASS}.InitialState.{}{} (through reference chain: {CLASS}[\"initial_state\"])",
        value.to_uppercase(),
        location(&text[..at])
    )
}

/// A boolean query parameter as `Boolean.parseBoolean` reads it (only `true`, in any case, is
/// true; the first occurrence counts).
pub(super) fn query_flag(query: Option<&str>, name: &str) -> bool {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true"))
}

/// The `expand` query parameters, in order.
pub(super) fn expands(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "expand")
        .map(|(_, v)| v.to_string())
        .collect()
}

/// `Location` of a created connector: absolute, from the URL the request was sent to, the name
/// percent-encoded as a path (a `/` is left as is).
pub(super) fn connector_location(
    headers: &HeaderMap,
    fallback_host: &str,
    name: &str,
) -> Option<HeaderValue> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(fallback_host);
    let mut path = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!("http://{host}/connectors/{path}")).ok()
}
