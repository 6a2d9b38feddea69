//! The KSQL server: ksqlDB's REST API on `listeners` (`http://0.0.0.0:8088` by default), with
//! its paths, bodies, `@type`s and error codes, so ksqlDB's clients and `curl` commands work.
//!
//! ```text
//!  POST /ksql           statements: CREATE, INSERT, DROP, TERMINATE, SHOW, LIST, DESCRIBE, ...
//!  POST /query          a push query, streamed as ksqlDB's chunked JSON array
//!  POST /query-stream   a push query: a header line then one line per row (or a JSON array)
//!  POST /close-query    stops a push query by id
//!  POST /inserts-stream rows streamed into a stream or table, each acknowledged
//!  GET  /info  /healthcheck  /status
//! ```
//!
//! One engine serves every request; statements run one at a time, in order, and those that
//! change the catalogue or the persistent queries are recorded in the service's command topic
//! (`commands`): a restarted server plays it again and resumes its queries, and the servers
//! of one `ksql.service.id` share it and split the queries' work. With `ksql.queries.file`
//! the server runs headless (`headless`). Push queries run apart, each a streams app of its
//! own.

mod commands;
mod entities;
mod headless;
mod inserts;
mod query;
mod statements;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex as StdMutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{oneshot, Mutex};

use crate::engine::{Engine, EngineConfig, KsqlError};

/// The server's settings, by ksqlDB's property names.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `listeners`: where the REST API listens (`http://HOST:PORT`).
    pub listeners: String,
    /// `bootstrap.servers`, `ksql.service.id` and `ksql.streams.*`.
    pub engine: EngineConfig,
    /// Every property given (for `SHOW PROPERTIES`).
    pub properties: BTreeMap<String, String>,
}

impl ServerConfig {
    /// The settings from properties: `listeners` (default `http://0.0.0.0:8088`),
    /// `bootstrap.servers` (default `localhost:9092`), `ksql.service.id` (default
    /// `default_`), and `ksql.streams.*` for every query's streams app (with ksqlDB's
    /// `ksql.streams.commit.interval.ms` of 2000 when none is given).
    pub fn from_properties(
        mut properties: BTreeMap<String, String>,
    ) -> Result<ServerConfig, String> {
        // ksqlDB's default for its queries: progress (and what is buffered for internal
        // topics) committed every 2 s, not Kafka Streams' 30 s
        properties
            .entry("ksql.streams.commit.interval.ms".into())
            .or_insert_with(|| "2000".into());
        let listeners = properties
            .get("listeners")
            .cloned()
            .unwrap_or_else(|| "http://0.0.0.0:8088".into());
        if !listeners.starts_with("http://") {
            return Err(format!(
                "listeners must be an http:// address, not '{listeners}'"
            ));
        }
        let streams = properties
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("ksql.streams.")?.to_string(), v.clone())))
            .collect();
        let settings = properties
            .iter()
            .filter(|(k, _)| k.starts_with("ksql.") && !k.starts_with("ksql.streams."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(ServerConfig {
            listeners,
            engine: EngineConfig {
                bootstrap_servers: properties
                    .get("bootstrap.servers")
                    .cloned()
                    .unwrap_or_else(|| "localhost:9092".into()),
                service_id: properties
                    .get("ksql.service.id")
                    .cloned()
                    .unwrap_or_else(|| "default_".into()),
                streams,
                settings,
            },
            properties,
        })
    }

    /// The address `listeners` names.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        let hostport = self
            .listeners
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| format!("listeners '{}' has no port", self.listeners))?;
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let host = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        format!("{host}:{port}")
            .parse()
            .map_err(|e| format!("bad listeners '{}': {e}", self.listeners))
    }
}

/// What the handlers share.
struct Shared {
    engine: Arc<Mutex<Engine>>,
    /// The service's command topic (`None`: headless).
    commands: Option<Arc<commands::CommandLog>>,
    /// The cluster's topics, for `/healthcheck` (which must not wait for a statement).
    topics: crate::engine::Topics,
    config: ServerConfig,
    /// The number of the last statement run (`commandSequenceNumber`).
    sequence: AtomicU64,
    /// Each command's id and how it ended (`/status`).
    statuses: StdMutex<BTreeMap<String, String>>,
    /// How to stop each running push query, by id.
    push: StdMutex<BTreeMap<String, oneshot::Sender<()>>>,
    /// The Kafka cluster's id, once it answered.
    cluster_id: std::sync::OnceLock<String>,
}

type AppState = Arc<Shared>;

/// A running server.
pub struct KsqlServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    shared: AppState,
    /// The command runner, and how to stop it.
    runner: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Sender<bool>,
    )>,
}

impl KsqlServer {
    /// Starts a server with `config`: its engine on the cluster, its REST API on `listeners`.
    pub async fn start(config: ServerConfig) -> Result<KsqlServer, KsqlError> {
        let addr = config.listen_addr().map_err(KsqlError::Statement)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| KsqlError::Statement(format!("cannot listen on {addr}: {e}")))?;
        Self::start_on(config, listener).await
    }

    /// [`KsqlServer::start`] with its REST API on `listener` (bound to `listeners`' address
    /// already). The server first plays its service's command topic (or, headless, runs its
    /// queries file), so the queries recorded before run again.
    pub async fn start_on(
        config: ServerConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<KsqlServer, KsqlError> {
        let mut engine = Engine::new(config.engine.clone())?;
        let topics = crate::engine::Topics::new(&config.engine.bootstrap_servers)
            .map_err(KsqlError::Kafka)?;
        let prepared = match config.properties.get("ksql.queries.file") {
            Some(path) => headless::run_file(&mut engine, path).await.map(|()| None),
            None => match commands::CommandLog::open(&config.engine, &topics).await {
                Ok(log) => log.replay(&mut engine).await.map(|()| Some(Arc::new(log))),
                Err(e) => Err(e),
            },
        };
        let commands = match prepared {
            Ok(c) => c,
            Err(e) => {
                engine.close().await;
                return Err(e);
            }
        };
        let engine = Arc::new(Mutex::new(engine));
        let runner = commands.as_ref().map(|log| {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(Arc::clone(log).run(Arc::clone(&engine), stopped));
            (task, stop)
        });
        let shared = Arc::new(Shared {
            engine,
            commands,
            topics,
            config,
            sequence: AtomicU64::new(0),
            statuses: StdMutex::new(BTreeMap::new()),
            push: StdMutex::new(BTreeMap::new()),
            cluster_id: std::sync::OnceLock::new(),
        });
        let addr = listener
            .local_addr()
            .map_err(|e| KsqlError::Statement(e.to_string()))?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the KSQL REST server stopped");
            }
        });
        tracing::info!(%addr, "KSQL server listening");
        Ok(KsqlServer {
            addr,
            shutdown: Some(tx),
            task,
            shared,
            runner,
        })
    }

    /// Where the REST API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's engine (statements wait while it is held).
    pub async fn engine(&self) -> tokio::sync::MutexGuard<'_, Engine> {
        self.shared.engine.lock().await
    }

    /// Stops the REST API, the push queries and every persistent query.
    pub async fn stop(mut self) {
        if let Ok(mut push) = self.shared.push.lock() {
            for (_, stop) in std::mem::take(&mut *push) {
                let _ = stop.send(());
            }
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // (a push query whose client stopped reading holds its response open: it gets a
        // while, then the connection is dropped)
        let grace = std::time::Duration::from_secs(10);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
        }
        if let Some((task, stop)) = self.runner.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
        self.shared.engine.lock().await.close().await;
    }
}

fn router(state: AppState) -> Router {
    let router = if state.commands.is_some() {
        Router::new()
            .route("/ksql", post(statements::ksql))
            .route("/query", post(query::query))
            .route("/query-stream", post(query::query_stream))
            .route("/close-query", post(query::close_query))
            .route("/inserts-stream", post(inserts::inserts_stream))
    } else {
        // (headless: what the server runs is its queries file's)
        let refuse = || async { error(StatusCode::METHOD_NOT_ALLOWED, 40500, headless::REFUSED) };
        Router::new()
            .route("/ksql", post(refuse))
            .route("/query", post(refuse))
            .route("/query-stream", post(refuse))
            .route("/close-query", post(refuse))
            .route("/inserts-stream", post(refuse))
    };
    router
        .route("/info", get(info))
        .route("/healthcheck", get(healthcheck))
        .route("/status", get(status))
        .with_state(state)
}

/// ksqlDB's error body: `@type`, `error_code` and `message`.
pub(crate) fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({
            "@type": "generic_error",
            "error_code": code,
            "message": message,
        })),
    )
        .into_response()
}

async fn info(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    let cluster = match s.cluster_id.get() {
        Some(id) => Some(id.clone()),
        None => {
            let id = s.topics.cluster_id().await;
            if let Some(id) = &id {
                let _ = s.cluster_id.set(id.clone());
            }
            id
        }
    };
    Json(json!({
        "KsqlServerInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "kafkaClusterId": cluster,
            "ksqlServiceId": s.config.engine.service_id,
            "serverStatus": "RUNNING",
        }
    }))
    .into_response()
}

async fn healthcheck(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    // (the cluster answers when its topics can be listed)
    let kafka = s.topics.list().await.is_ok();
    let body = json!({
        "isHealthy": kafka,
        "details": {
            "metastore": {"isHealthy": true},
            "kafka": {"isHealthy": kafka},
            "commandRunner": {"isHealthy": true},
        }
    });
    let status = if kafka {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn status(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    let statuses = s.statuses.lock().map(|m| m.clone()).unwrap_or_default();
    Json(json!({ "commandStatuses": statuses })).into_response()
}
