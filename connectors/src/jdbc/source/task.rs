//! `JdbcSourceTask`: the queriers of its tables (or its query) run one after the other on a
//! task of their own, each at most every `poll.interval.ms`, and hand their records to
//! `poll` through a channel of one batch (so a slow producer holds the query back rather than
//! memory filling up).
//!
//! ```text
//!  start: offsets (context) ─▶ queriers ─▶ spawn loop ──┐
//!  loop:  the querier due first ─▶ run (batches) ──────▶ channel ─▶ poll()
//!         connection lost ─▶ reconnect after connection.backoff.ms, resume from the offsets
//! ```

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_postgres::Client;
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{ConnectError, SourceTask, SourceTaskContext};
use tributary_connect::record::ConnectRecord;

use super::config::{Mode, SourceSettings, TABLES_KEY};
use super::offsets::{query_partition, table_partition_v0, table_partition_v1, Offset};
use super::querier::{Batch, Querier, Source};
use crate::jdbc::conn::{classify, connect_with_retries};
use crate::jdbc::dialect::TableId;

/// How long `poll` waits for records before answering with none.
const POLL_WAIT: Duration = Duration::from_millis(500);

/// Confluent's JDBC source task.
#[derive(Default)]
pub struct JdbcSourceTask {
    records: Option<mpsc::Receiver<Batch>>,
    querying: Option<tokio::task::JoinHandle<()>>,
}

/// A table's columns: name, NOT NULL, and whether it is a serial or identity column.
async fn describe(
    client: &Client,
    table: &TableId,
) -> Result<Vec<(String, bool, bool)>, ConnectError> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.attnotnull, \
             (a.attidentity <> '' OR COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)) \
             FROM pg_catalog.pg_attribute a \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = pg_catalog.to_regclass($1)::oid AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| classify(&format!("Describing table {}", table.unquoted()), &e).into_connect())?;
    if rows.is_empty() {
        return Err(ConnectError::Config(ConfigError::new(format!(
            "Table '{}' does not exist or has no columns",
            table.unquoted()
        ))));
    }
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The incrementing column of a table (found when not configured), with the columns checked as
/// Confluent's task checks them: they exist, and with `validate.non.null` they are NOT NULL.
async fn check_table(
    client: &Client,
    table: &TableId,
    s: &SourceSettings,
) -> Result<Option<String>, ConnectError> {
    let columns = describe(client, table).await?;
    let find = |name: &str| {
        columns
            .iter()
            .find(|c| c.0 == name)
            .or_else(|| columns.iter().find(|c| c.0.eq_ignore_ascii_case(name)))
    };
    let mut incrementing = None;
    if s.mode.incrementing() {
        let column = if s.incrementing_column.is_empty() {
            columns.iter().find(|c| c.2).ok_or_else(|| {
                ConnectError::Config(ConfigError::new(format!(
                    "No auto-incrementing column found in table '{}'; set incrementing.column.name",
                    table.unquoted()
                )))
            })?
        } else {
            find(&s.incrementing_column).ok_or_else(|| {
                ConnectError::Config(ConfigError::new(format!(
                    "Incrementing column: {} does not exist in table '{}'",
                    s.incrementing_column,
                    table.unquoted()
                )))
            })?
        };
        if s.validate_non_null && !column.1 {
            return Err(ConnectError::Fatal(format!(
                "Cannot make incremental queries using incrementing column {} on {} because this column is nullable.",
                column.0,
                table.unquoted()
            )));
        }
        incrementing = Some(column.0.clone());
    }
    if s.mode.timestamp() {
        let missing: Vec<&str> = s
            .timestamp_columns
            .iter()
            .filter(|c| find(c).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ConnectError::Config(ConfigError::new(format!(
                "Timestamp columns: {} do not exist in table '{}'",
                missing.join(", "),
                table.unquoted()
            ))));
        }
        if s.validate_non_null
            && !s
                .timestamp_columns
                .iter()
                .any(|c| find(c).is_some_and(|c| c.1))
        {
            return Err(ConnectError::Fatal(format!(
                "Cannot make incremental queries using timestamp columns {} on {} because all of these columns are nullable.",
                s.timestamp_columns.join(","),
                table.unquoted()
            )));
        }
    }
    Ok(incrementing)
}

async fn database_time_millis(client: &Client) -> Result<i64, ConnectError> {
    let row = client
        .query_one(
            "SELECT (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000)::int8",
            &[],
        )
        .await
        .map_err(|e| classify("Reading the database time failed", &e).into_connect())?;
    Ok(row.get(0))
}

/// The queriers of a task config, each from its stored offset.
async fn queriers(
    client: &Client,
    config: &Config,
    s: &SourceSettings,
    context: &dyn SourceTaskContext,
) -> Result<Vec<Querier>, ConnectError> {
    let tables: Vec<TableId> = config
        .list_or(TABLES_KEY, &[])
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| TableId::parse(t))
        .collect();
    let mut sources: Vec<(
        Source,
        Option<String>,
        Option<tributary_connect::data::Value>,
    )> = Vec::new();
    match &s.query {
        Some(q) => {
            let stored = context.offset(&query_partition());
            let inc = Some(s.incrementing_column.clone()).filter(|c| !c.is_empty());
            sources.push((Source::Query(q.clone()), inc, stored));
        }
        None if tables.is_empty() => {
            return Err(ConnectError::Config(ConfigError::new(
                "Task is being killed because it was not assigned a table nor a query to execute. \
                 If run in table mode please make sure that the tables exist on the database.",
            )))
        }
        None => {
            for t in tables {
                let inc = check_table(client, &t, s).await?;
                let stored = context
                    .offset(&table_partition_v1(&t))
                    .or_else(|| context.offset(&table_partition_v0(&t)));
                sources.push((Source::Table(t), inc, stored));
            }
        }
    }
    let mut out = Vec::new();
    for (source, inc, stored) in sources {
        let offset = match stored.filter(|v| !v.is_null()) {
            Some(v) => Offset::from_value(&v),
            None => match s.timestamp_initial {
                Some(-1) => Offset {
                    incrementing: None,
                    timestamp: Some({
                        let ms = database_time_millis(client).await?;
                        (ms, ms.rem_euclid(1000) * 1_000_000)
                    }),
                },
                Some(ms) => Offset {
                    incrementing: None,
                    timestamp: Some((ms, ms.rem_euclid(1000) * 1_000_000)),
                },
                None => Offset::default(),
            },
        };
        if s.mode != Mode::Bulk {
            tracing::info!(source = ?source, offset = ?offset, "JDBC source starts from this offset");
        }
        out.push(Querier::new(
            source,
            &s.topic_prefix,
            s.mode,
            inc,
            s.timestamp_columns.clone(),
            offset,
            &s.query_suffix,
            s.numeric_mapping,
            s.timestamp_delay_ms,
        ));
    }
    Ok(out)
}

/// Runs the queriers until the receiver goes away or one fails for good.
async fn query_loop(
    client: Client,
    mut queriers: Vec<Querier>,
    s: SourceSettings,
    out: mpsc::Sender<Batch>,
) {
    let mut client = Some(client);
    let mut due: Vec<Instant> = vec![Instant::now(); queriers.len()];
    loop {
        let Some(i) = (0..queriers.len()).min_by_key(|i| due[*i]) else {
            return;
        };
        tokio::time::sleep_until(due[i]).await;
        let c = match client.as_mut() {
            Some(c) => c,
            None => match connect_with_retries(&s.url, 1, s.backoff).await {
                Ok(c) => client.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the JDBC source cannot reconnect; trying again in {:?}", s.backoff);
                    due[i] = Instant::now() + s.backoff;
                    continue;
                }
            },
        };
        let result = async {
            let tx = c
                .transaction()
                .await
                .map_err(|e| classify("Starting a transaction failed", &e).into_connect())?;
            let alive = queriers[i].run(&tx, &out, s.batch_max_rows).await?;
            tx.commit().await.map_err(|e| {
                classify("Ending the query's transaction failed", &e).into_connect()
            })?;
            Ok::<bool, ConnectError>(alive)
        }
        .await;
        match result {
            Ok(true) => due[i] = Instant::now() + s.poll_interval,
            Ok(false) => return,
            Err(e) if e.is_retriable() => {
                tracing::warn!(error = %e, "the JDBC source query failed; reconnecting in {:?}", s.backoff);
                client = None;
                due[i] = Instant::now() + s.backoff;
            }
            Err(e) => {
                tracing::error!(error = %e, "the JDBC source query failed");
                let _ = out.send(Err(e)).await;
                return;
            }
        }
    }
}

impl SourceTask for JdbcSourceTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: &'a dyn SourceTaskContext,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let s = SourceSettings::from_config(config)?;
            let client = connect_with_retries(&s.url, s.attempts, s.backoff)
                .await
                .map_err(|e| e.into_connect())?;
            let queriers = queriers(&client, config, &s, context).await?;
            for q in &queriers {
                tracing::info!(sql = q.sql(), topic = %q.topic, "JDBC source query");
            }
            let (tx, rx) = mpsc::channel(1);
            self.records = Some(rx);
            self.querying = Some(tokio::spawn(query_loop(client, queriers, s, tx)));
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<ConnectRecord>, ConnectError>> {
        Box::pin(async move {
            let Some(rx) = self.records.as_mut() else {
                return Err(ConnectError::Fatal("the task is not started".into()));
            };
            match tokio::time::timeout(POLL_WAIT, rx.recv()).await {
                Ok(Some(batch)) => batch,
                Ok(None) => Err(ConnectError::Fatal(
                    "the JDBC source task stopped querying".into(),
                )),
                Err(_) => Ok(Vec::new()),
            }
        })
    }

    fn stop(&mut self) {
        if let Some(h) = self.querying.take() {
            h.abort();
        }
        self.records = None;
    }
}

impl Drop for JdbcSourceTask {
    fn drop(&mut self) {
        self.stop();
    }
}
