//! What the JDBC connector tests share: a private PostgreSQL server with a fresh database, and
//! reading a topic's JSON records.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use serde_json::Value;
use tributary_testkit::{unique_name, Postgres, TestBroker};

/// A PostgreSQL server, one database on it, and a client of that database.
pub struct Db {
    pub pg: Postgres,
    pub name: String,
    pub client: tokio_postgres::Client,
}

impl Db {
    pub async fn start() -> Db {
        let pg = Postgres::start_async().await;
        let name = unique_name("db").replace('-', "_");
        let admin = connect(&pg, "postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("the test database is created");
        let client = connect(&pg, &name).await;
        Db { pg, name, client }
    }

    /// Restarts the server (cutting every connection) and reconnects the test's client.
    pub async fn restart(&mut self) {
        tokio::task::block_in_place(|| self.pg.restart());
        self.client = connect(&self.pg, &self.name).await;
    }

    /// `jdbc:postgresql://127.0.0.1:PORT/DB`.
    pub fn url(&self) -> String {
        self.pg.jdbc_url(&self.name)
    }

    pub async fn exec(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The rows of a query, each column as PostgreSQL's text (`NULL` for null), in order.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// The rows of a query, or none when it fails (a table not there yet).
    pub async fn try_rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.client.simple_query(sql).await {
            Ok(_) => self.rows(sql).await,
            Err(_) => Vec::new(),
        }
    }
}

async fn connect(pg: &Postgres, db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.conn_str(db), tokio_postgres::NoTls)
        .await
        .expect("a connection to the test server");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A record read back: key, value (JSON), headers.
#[derive(Debug, Clone)]
pub struct Read {
    pub key: Option<String>,
    pub value: Value,
    pub headers: Vec<(String, String)>,
}

/// Reads a topic from the start until `done` holds for what was read (30 s at most).
pub async fn read_until(
    broker: &TestBroker,
    topic: &str,
    mut done: impl FnMut(&[Read]) -> bool,
) -> Vec<Read> {
    let mut cc = broker.client_config();
    cc.set("group.id", unique_name("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = cc.create().expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut out: Vec<Read> = Vec::new();
    while !done(&out) {
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic}; read so far: {out:#?}"
        );
        let polled = tokio::task::block_in_place(|| consumer.poll(Duration::from_millis(100)));
        if let Some(Ok(m)) = polled {
            let value = m
                .payload()
                .map(|p| serde_json::from_slice(p).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            let headers = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Read {
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                value,
                headers,
            });
        }
    }
    out
}

impl Db {
    /// Waits until the rows of `sql` satisfy `done` (45 s at most) and returns them.
    pub async fn wait_rows(
        &self,
        sql: &str,
        mut done: impl FnMut(&[Vec<String>]) -> bool,
    ) -> Vec<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let rows = self.try_rows(sql).await;
            if done(&rows) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {sql}; rows now: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A connector's status: the connector's state and each task's state and trace.
pub async fn status(w: &super::ConnectWorker, name: &str) -> (String, Vec<(String, String)>) {
    let (_, s) = w
        .request(
            reqwest::Method::GET,
            &format!("/connectors/{name}/status"),
            None,
        )
        .await;
    let tasks = s["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    (
                        t["state"].as_str().unwrap_or("").to_string(),
                        t["trace"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (
        s["connector"]["state"].as_str().unwrap_or("").to_string(),
        tasks,
    )
}

/// Waits until the first task of a connector is in `state` (45 s at most); its trace.
pub async fn wait_task_state(w: &super::ConnectWorker, name: &str, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let (_, tasks) = status(w, name).await;
        if let Some((s, trace)) = tasks.first() {
            if s == state {
                return trace.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {name}'s task to be {state}: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
