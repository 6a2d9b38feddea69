//! What the connector tests share: a standalone worker with its REST API on a loopback port,
//! against an in-process broker.

#![allow(dead_code)]

pub mod pg;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tributary_connect::config::Config;
use tributary_connect::connector::Plugins;
use tributary_connect::rest::{self, ServerInfo};
use tributary_connect::standalone::StandaloneHerder;
use tributary_connect::worker::offsets::FileOffsetStore;
use tributary_connect::worker::{Worker, WorkerConfig};
use tributary_testkit::TestBroker;

/// A standalone worker with its REST API on a loopback port.
pub struct ConnectWorker {
    pub herder: Arc<StandaloneHerder>,
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl ConnectWorker {
    pub async fn start(
        broker: &TestBroker,
        offsets: &Path,
        extra: &[(&str, &str)],
    ) -> ConnectWorker {
        let mut plugins = Plugins::new();
        tributary_connectors::register(&mut plugins);
        Self::start_with_plugins(broker, offsets, extra, plugins).await
    }

    /// A worker that runs `plugins`.
    pub async fn start_with_plugins(
        broker: &TestBroker,
        offsets: &Path,
        extra: &[(&str, &str)],
        plugins: Plugins,
    ) -> ConnectWorker {
        let mut props = Config::new();
        props.insert("bootstrap.servers".into(), broker.bootstrap());
        props.insert("offset.flush.interval.ms".into(), "200".into());
        props.insert(
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        );
        props.insert(
            "value.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        );
        for (k, v) in extra {
            props.insert(k.to_string(), v.to_string());
        }
        let config = WorkerConfig::from_props(props).expect("a valid worker config");
        let store = Arc::new(FileOffsetStore::open(offsets).expect("the offsets file opens"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let worker = Arc::new(Worker::new(config, plugins, store, addr.to_string()));
        let herder = Arc::new(StandaloneHerder::new(worker));
        let router = rest::router(
            herder.clone(),
            ServerInfo {
                version: "4.4.0".into(),
                commit: "test".into(),
                kafka_cluster_id: "test-cluster".into(),
            },
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        ConnectWorker {
            herder,
            url: format!("http://{addr}"),
            server,
        }
    }

    pub async fn stop(self) {
        self.herder.stop().await;
        self.server.abort();
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut req = client.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the REST API answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("a JSON body")
        };
        (status, value)
    }
}

/// Waits until `f` holds (a worker moves records on its own time).
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the file opens");
    f.write_all(text.as_bytes()).expect("written");
}
