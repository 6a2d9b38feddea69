//! Forwarding, as Kafka Connect's workers do it: a request that changes the cluster's configs
//! (create, config PUT/PATCH, delete, stop, offsets PATCH/DELETE, restarts with
//! `includeTasks`/`onlyFailed`) goes to the leader, a plain connector restart or a task restart
//! to the worker that runs it. The first hop adds `forward=true`, the second `forward=false`,
//! and a worker that gets `forward=false` and still is not the right one answers 409. While
//! the group has no leader (a worker starting), such a request waits for one up to 15 s, then
//! gets Kafka Connect's 409. The
//! answer comes back unchanged, except that `Location` names the worker first asked.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{error, AppState};

/// Where a request must be handled.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    Leader,
    Owner(String, Option<u32>),
}

/// Kafka Connect's percent-decoding of a path segment.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn flag(query: Option<&str>, name: &str) -> Option<bool> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.eq_ignore_ascii_case("true"))
}

fn destination(method: &Method, path: &str, query: Option<&str>) -> Option<Destination> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let name = || decode(parts[1]);
    match (method, parts.as_slice()) {
        (&Method::POST, ["connectors"]) => Some(Destination::Leader),
        (&Method::DELETE, ["connectors", _]) => Some(Destination::Leader),
        (&Method::PUT | &Method::PATCH, ["connectors", _, "config"]) => Some(Destination::Leader),
        (&Method::PUT, ["connectors", _, "stop"]) => Some(Destination::Leader),
        (&Method::PATCH | &Method::DELETE, ["connectors", _, "offsets"]) => {
            Some(Destination::Leader)
        }
        (&Method::POST, ["connectors", _, "restart"]) => {
            if flag(query, "includeTasks") == Some(true) || flag(query, "onlyFailed") == Some(true)
            {
                Some(Destination::Leader)
            } else {
                Some(Destination::Owner(name(), None))
            }
        }
        (&Method::POST, ["connectors", _, "tasks", task, "restart"]) => {
            Some(Destination::Owner(name(), Some(task.parse().ok()?)))
        }
        _ => None,
    }
}

/// How long a request that needs the leader waits for the group to name one (a worker that
/// just started is still joining) before it is answered 409.
const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

async fn leader(s: &AppState) -> Result<Option<String>, crate::herder::HerderError> {
    let deadline = std::time::Instant::now() + LEADER_WAIT;
    loop {
        match s.herder.leader_url() {
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// The middleware: handles the request here, or forwards it.
pub(super) async fn forward(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(dest) = destination(req.method(), req.uri().path(), req.uri().query()) else {
        return next.run(req).await;
    };
    let target = match dest {
        Destination::Leader => match leader(&s).await {
            Ok(None) => return next.run(req).await,
            Ok(Some(url)) => url,
            Err(e) => return e.into_response(),
        },
        Destination::Owner(connector, task) => match s.herder.owner_url(&connector, task) {
            None => return next.run(req).await,
            Some(url) => url,
        },
    };
    let hop = flag(req.uri().query(), "forward");
    if hop == Some(false) {
        return error(
            409,
            "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
        );
    }
    let rest: Vec<&str> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("forward"))
        .collect();
    let mut url = format!(
        "{}/{}?forward={}",
        target.trim_end_matches('/'),
        req.uri().path().trim_start_matches('/'),
        hop.is_none()
    );
    for kv in rest {
        url.push('&');
        url.push_str(kv);
    }
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = match to_bytes(req.into_body(), 16 << 20).await {
        Ok(b) => b,
        Err(e) => return error(400, &format!("Cannot read the request body: {e}")),
    };
    let mut out = s.http.request(method, &url).body(body);
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&name) {
            out = out.header(name, v);
        }
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            let cause =
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |c| c.to_string());
            return error(
                500,
                &format!("IO Error trying to forward REST request: {cause}"),
            );
        }
    };
    let status =
        StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let location = answer
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = answer.bytes().await.unwrap_or_default();
    let mut resp = (status, Body::from(body)).into_response();
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(location) = location {
        // the worker first asked, not the leader
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| s.herder.worker().worker_id().to_string(), str::to_string);
        let path = location
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or(location);
        if let Ok(v) = HeaderValue::from_str(&format!("http://{host}{path}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_go_where() {
        let d = |m: Method, p: &str, q: Option<&str>| destination(&m, p, q);
        assert_eq!(
            d(Method::POST, "/connectors", None),
            Some(Destination::Leader)
        );
        assert_eq!(d(Method::GET, "/connectors", None), None);
        assert_eq!(
            d(Method::PUT, "/connectors/a/config", None),
            Some(Destination::Leader)
        );
        assert_eq!(
            d(Method::PATCH, "/connectors/a/config", None),
            Some(Destination::Leader)
        );
        assert_eq!(d(Method::PUT, "/connectors/a/pause", None), None);
        assert_eq!(
            d(Method::PUT, "/connectors/a/stop", None),
            Some(Destination::Leader)
        );
        assert_eq!(
            d(Method::DELETE, "/connectors/a", None),
            Some(Destination::Leader)
        );
        assert_eq!(
            d(Method::DELETE, "/connectors/a/offsets", None),
            Some(Destination::Leader)
        );
        assert_eq!(d(Method::GET, "/connectors/a/offsets", None), None);
        assert_eq!(
            d(
                Method::POST,
                "/connectors/a%20b/restart",
                Some("includeTasks=false")
            ),
            Some(Destination::Owner("a b".into(), None))
        );
        assert_eq!(
            d(
                Method::POST,
                "/connectors/a/restart",
                Some("onlyFailed=true")
            ),
            Some(Destination::Leader)
        );
        assert_eq!(
            d(Method::POST, "/connectors/a/tasks/2/restart", None),
            Some(Destination::Owner("a".into(), Some(2)))
        );
        assert_eq!(d(Method::POST, "/connectors/a/tasks/x/restart", None), None);
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%e2%82%ac"), "€");
    }
}
