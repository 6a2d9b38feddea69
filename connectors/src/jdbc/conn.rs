//! Connections and what their errors mean: a lost connection, a deadlock or a server going
//! down are worth retrying; bad data, a constraint violation or a missing column are not.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};
use tributary_connect::connector::ConnectError;

use super::url::PgUrl;

/// What went wrong talking to the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// The connection, the server or a transient conflict: trying again can help.
    Transient(String),
    /// The statement or the data: trying again gives the same answer.
    Permanent(String),
}

impl DbError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            DbError::Transient(m) | DbError::Permanent(m) => m,
        }
    }

    /// Whether trying again can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, DbError::Transient(_))
    }

    /// As a connector error: transient → retriable, permanent → fatal.
    pub fn into_connect(self) -> ConnectError {
        match self {
            DbError::Transient(m) => ConnectError::Retriable(m),
            DbError::Permanent(m) => ConnectError::Fatal(m),
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// SQLSTATE classes worth a retry: connection exceptions (08), transaction rollbacks such as
/// serialization failures and deadlocks (40), insufficient resources (53), operator intervention
/// such as a shutdown (57), system errors (58), and `lock_not_available` (55P03).
fn transient_state(code: &str) -> bool {
    matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58")) || code == "55P03"
}

/// Classifies a driver error and writes the server's message, detail and hint.
pub fn classify(context: &str, e: &tokio_postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        let mut m = format!(
            "{context}: {}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(d) = db.detail() {
            m.push_str(&format!("; detail: {d}"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!("; hint: {h}"));
        }
        return if transient_state(db.code().code()) {
            DbError::Transient(m)
        } else {
            DbError::Permanent(m)
        };
    }
    let mut m = format!("{context}: {e}");
    // (the driver's message leaves out its cause, such as why a parameter could not be written)
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !m.contains(&text) {
            m.push_str(": ");
            m.push_str(&text);
        }
        cause = c.source();
    }
    // no server answer: the connection is gone, or never came (io, closed, timeout)
    if e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) {
        return DbError::Transient(m);
    }
    let text = e.to_string();
    if text.contains("connection")
        || text.contains("timed out")
        || text.contains("error connecting")
    {
        DbError::Transient(m)
    } else {
        DbError::Permanent(m)
    }
}

/// Opens a connection; its I/O runs on a spawned task that ends when the client is dropped.
pub async fn connect(url: &PgUrl) -> Result<Client, DbError> {
    let (client, connection) = url
        .config
        .connect(NoTls)
        .await
        .map_err(|e| DbError::Transient(connect_message(url, &e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

fn connect_message(url: &PgUrl, e: &tokio_postgres::Error) -> String {
    let hosts: Vec<String> = url
        .config
        .get_hosts()
        .iter()
        .zip(url.config.get_ports())
        .map(|(h, p)| match h {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
            tokio_postgres::config::Host::Unix(p2) => format!("{}:{p}", p2.display()),
        })
        .collect();
    let detail = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    format!(
        "Could not connect to PostgreSQL database '{}' at {} as user '{}': {detail}",
        url.database,
        hosts.join(","),
        url.config.get_user().unwrap_or("")
    )
}

/// Connects, trying `attempts` times `backoff` apart (Confluent's `connection.attempts` and
/// `connection.backoff.ms`).
pub async fn connect_with_retries(
    url: &PgUrl,
    attempts: u32,
    backoff: Duration,
) -> Result<Client, DbError> {
    let mut left = attempts.max(1);
    loop {
        match connect(url).await {
            Ok(c) => return Ok(c),
            Err(e) if left > 1 => {
                left -= 1;
                tracing::warn!(error = %e, attempts_left = left, "cannot connect to PostgreSQL; trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs a future to completion from synchronous code that may itself run on a Tokio runtime
/// (a connector's `start` and `task_configs` are synchronous, and a worker calls them from its
/// runtime): on a thread of its own with a small runtime, so that no runtime is blocked
/// inside another.
pub fn run_blocking<T, F>(make: impl FnOnce() -> F + Send) -> Result<T, ConnectError>
where
    T: Send,
    F: Future<Output = Result<T, ConnectError>>,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ConnectError::Fatal(format!("Cannot start a runtime: {e}")))?;
            rt.block_on(make())
        })
        .join()
        .unwrap_or_else(|_| Err(ConnectError::Fatal("the database thread panicked".into())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_states() {
        for c in ["08006", "40001", "40P01", "53300", "57P01", "55P03"] {
            assert!(transient_state(c), "{c}");
        }
        for c in ["23505", "22P02", "42703", "42P01", "23502"] {
            assert!(!transient_state(c), "{c}");
        }
    }
}
