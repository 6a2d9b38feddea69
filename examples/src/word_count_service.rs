//! The word count as a service, as Kafka Streams' `WordCountInteractiveQueriesExample` runs it:
//! each instance counts the words of its share of the partitions and answers HTTP queries for
//! any word, from its own store or by asking the instance that holds the word (found through
//! `application.server` metadata). Start several with the same application id and the work
//! and the state spread over them; stop one and the others take its words over.
//!
//! * `GET /count/{word}`: `{"word", "count", "host"}` (404 when the word was never seen; 503
//!   while the instances rebalance).
//! * `GET /counts`: this instance's counts, `{word: count}`.
//! * `GET /instances`: every instance with the partitions it counts and keeps standby copies
//!   of.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tributary_streams::{HostInfo, KafkaStreams, Serdes, StreamsError};

/// The store the word count keeps its counts in.
const STORE: &str = "counts";

/// What the handlers share.
struct Service {
    streams: Arc<KafkaStreams>,
    /// This instance's `application.server`.
    me: HostInfo,
    client: reqwest::Client,
}

/// The HTTP API of the instance `streams`, reachable at `me`.
pub fn router(streams: Arc<KafkaStreams>, me: HostInfo) -> Router {
    let service = Arc::new(Service {
        streams,
        me,
        client: reqwest::Client::new(),
    });
    Router::new()
        .route("/count/{word}", get(count))
        .route("/counts", get(local_counts))
        .route("/instances", get(instances))
        .with_state(service)
}

/// An answer of `status` with `{"error": message}`.
fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// A query's error as an answer: 503 while the stores are not queryable, else 500.
fn query_error(e: StreamsError) -> Response {
    match e {
        StreamsError::StoreUnavailable(_) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Runs a store query off the async threads (it waits for the task between two records).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StreamsError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(query_error),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

#[derive(Deserialize)]
struct CountQuery {
    /// Set by an instance that forwarded the query: answer from here or not at all.
    #[serde(default)]
    local: bool,
}

async fn count(
    State(service): State<Arc<Service>>,
    Path(word): Path<String>,
    Query(query): Query<CountQuery>,
) -> Response {
    let streams = Arc::clone(&service.streams);
    let key = word.clone();
    let meta = match blocking(move || {
        streams.query_metadata_for_key(STORE, &key, &Serdes::string())
    })
    .await
    {
        Ok(Some(meta)) => meta,
        Ok(None) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "where the word is counted is not known yet",
            )
        }
        Err(answer) => return answer,
    };
    if meta.active_host != service.me {
        if query.local {
            // (the asker's view of the group is older or newer than ours)
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{word} is counted on {}", meta.active_host),
            );
        }
        return forward(&service, &meta.active_host, &word).await;
    }
    let streams = Arc::clone(&service.streams);
    let key = word.clone();
    let found = blocking(move || {
        streams
            .key_value_store(STORE, Serdes::string(), Serdes::long())?
            .get(&key)
    })
    .await;
    match found {
        Ok(Some(count)) => Json(json!({
            "word": word,
            "count": count,
            "host": service.me.to_string(),
        }))
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no count for {word}")),
        Err(answer) => answer,
    }
}

/// Asks `host` for the count of `word`, and answers what it answered.
async fn forward(service: &Service, host: &HostInfo, word: &str) -> Response {
    let url = format!("http://{host}/count/{word}?local=true");
    let answer = match service.client.get(&url).send().await {
        Ok(answer) => answer,
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("{host}: {e}")),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match answer.json::<Value>().await {
        Ok(body) => (status, Json(body)).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, format!("{host}: {e}")),
    }
}

async fn local_counts(State(service): State<Arc<Service>>) -> Response {
    let streams = Arc::clone(&service.streams);
    match blocking(move || {
        streams
            .key_value_store(STORE, Serdes::string(), Serdes::long())?
            .all()
    })
    .await
    {
        Ok(all) => {
            let counts: serde_json::Map<String, Value> =
                all.into_iter().map(|(word, n)| (word, json!(n))).collect();
            Json(Value::Object(counts)).into_response()
        }
        Err(answer) => answer,
    }
}

async fn instances(State(service): State<Arc<Service>>) -> Response {
    let streams = Arc::clone(&service.streams);
    match blocking(move || streams.metadata_for_all_streams_clients()).await {
        Ok(all) => {
            let partitions = |set: &std::collections::BTreeSet<(String, i32)>| -> Vec<Value> {
                set.iter()
                    .map(|(t, p)| json!({ "topic": t, "partition": p }))
                    .collect()
            };
            let list: Vec<Value> = all
                .iter()
                .map(|m| {
                    json!({
                        "host": m.host_info.to_string(),
                        "stores": m.state_store_names,
                        "partitions": partitions(&m.topic_partitions),
                        "standby_partitions": partitions(&m.standby_topic_partitions),
                    })
                })
                .collect();
            Json(list).into_response()
        }
        Err(answer) => answer,
    }
}
