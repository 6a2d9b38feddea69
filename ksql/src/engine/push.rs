//! Transient push queries (`SELECT ... EMIT CHANGES`): a streams app of their own whose rows
//! go to the client that asked, not to a topic, until the client closes the query or its
//! `LIMIT` is reached. Any query a persistent one could run: filters and projections,
//! aggregations (windowed too; the keys need not be selected, and with no `GROUP BY` every
//! row is one group) and joins. When it ends, its consumer group and internal topics are
//! deleted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{channel, error::TrySendError, Receiver};
use tributary_streams::KafkaStreams;

use datafusion_common::ScalarValue;

use super::planned::Planned;
use super::{Engine, KsqlError, Topics};
use crate::exec::{Output, RowSink};
use crate::parser::ast::Query;
use crate::types::SqlType;
use crate::value::Row;

/// How many rows a push query holds for a client that reads slower than they come.
pub(super) const ROWS_BUFFERED: usize = 500;

/// The reader thread of a scalable push query (see `scalable.rs`).
pub(super) struct Tail {
    /// Tells the thread to stop.
    pub stop: Arc<AtomicBool>,
    /// The thread.
    pub thread: Option<std::thread::JoinHandle<()>>,
    /// Why it stopped reading, if it failed.
    pub error: Arc<StdMutex<Option<String>>>,
}

/// A row of a push query.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow {
    /// The projection's values.
    pub columns: Row,
    /// The row is a deletion (of a table's key, or an aggregation's group that stops
    /// matching `HAVING`): its values are null, its keys (and window) known.
    pub tombstone: bool,
}

/// What a push query leaves in the cluster.
struct Cleanup {
    topics: Topics,
    internal: Vec<String>,
    group: String,
}

impl Cleanup {
    async fn run(self) {
        if let Err(e) = self.topics.delete_group(&self.group).await {
            tracing::debug!(error = %e, "a push query's consumer group stays");
        }
        for t in &self.internal {
            if let Err(e) = self.topics.delete(t).await {
                tracing::warn!(topic = %t, error = %e, "a push query's internal topic stays");
            }
        }
    }
}

/// A running push query.
pub struct PushQuery {
    /// Its id (`transient_PAGEVIEWS_5821973461`).
    pub id: String,
    /// The columns of its rows.
    pub columns: Vec<(String, SqlType)>,
    /// `LIMIT n`: how many rows it gives before it ends.
    pub limit: Option<u64>,
    rows: Receiver<PushRow>,
    streams: Option<Arc<KafkaStreams>>,
    cleanup: Option<Cleanup>,
    tail: Option<Tail>,
}

impl PushQuery {
    /// A push query whose rows a [`Tail`] reads.
    pub(super) fn tailing(
        id: String,
        columns: Vec<(String, SqlType)>,
        limit: Option<u64>,
        rows: Receiver<PushRow>,
        tail: Tail,
    ) -> PushQuery {
        PushQuery {
            id,
            columns,
            limit,
            rows,
            streams: None,
            cleanup: None,
            tail: Some(tail),
        }
    }

    /// The next row (`None`: the query stopped).
    pub async fn next(&mut self) -> Option<PushRow> {
        self.rows.recv().await
    }

    /// Why the query failed, if it did.
    pub fn error(&self) -> Option<String> {
        if let Some(tail) = &self.tail {
            return tail.error.lock().ok().and_then(|e| e.clone());
        }
        self.streams.as_ref().and_then(|s| s.error())
    }

    /// Stops the query and waits until it has.
    pub async fn close(mut self) {
        // (a stream thread waiting for room in the channel sees it closed)
        self.rows.close();
        if let Some(mut tail) = self.tail.take() {
            tail.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = tail.thread.take() {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
        let (streams, cleanup) = (self.streams.take(), self.cleanup.take());
        // (in a task of its own: a caller that goes away meanwhile does not leave the app,
        // its group or its topics behind)
        let closing = tokio::spawn(async move {
            if let Some(s) = streams {
                super::stop(s).await;
            }
            if let Some(c) = cleanup {
                c.run().await;
            }
        });
        let _ = closing.await;
    }
}

impl Drop for PushQuery {
    fn drop(&mut self) {
        self.rows.close();
        // (the reader thread sees the flag, or the closed channel, and ends)
        if let Some(tail) = &self.tail {
            tail.stop.store(true, Ordering::Relaxed);
        }
        // (a client that went away: stop the app without holding up whoever dropped it)
        let (streams, cleanup) = (self.streams.take(), self.cleanup.take());
        if streams.is_none() && cleanup.is_none() {
            return;
        }
        let handle = tokio::runtime::Handle::try_current().ok();
        std::thread::spawn(move || {
            if let Some(s) = streams {
                s.close_timeout(Duration::from_secs(10));
            }
            if let (Some(handle), Some(c)) = (handle, cleanup) {
                handle.spawn(c.run());
            }
        });
    }
}

impl Engine {
    /// Starts the push query `q` with the session's properties: it reads its sources from
    /// the end (`auto.offset.reset` `latest`) unless the session sets `auto.offset.reset`.
    pub fn push_query(
        &mut self,
        q: &Query,
        session: &BTreeMap<String, String>,
    ) -> Result<PushQuery, KsqlError> {
        if q.emit.is_none() {
            return Err(KsqlError::Unsupported(
                "Pull queries are not supported yet: add EMIT CHANGES to stream the query's rows"
                    .into(),
            ));
        }
        if self.is_scalable(q, session) {
            return self.scalable_push_query(q);
        }
        let planned = Planned::new(&self.catalog, q, None, session)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let id = format!(
            "transient_{}_{}",
            planned.source().name,
            nanos % 10_000_000_000
        );
        let (_, columns) = planned.columns();
        let width = columns.len();
        // (rows wait for the client: a full channel holds the stream thread back)
        let (tx, rows) = channel(ROWS_BUFFERED);
        let sink: RowSink = Arc::new(move |key: &Row, value: Option<&Row>| {
            let mut row = match value {
                Some(v) => PushRow {
                    columns: v.clone(),
                    tombstone: false,
                },
                // (a deletion: the projection of the deleted row, where the plan knows it)
                None => PushRow {
                    columns: if key.len() >= width {
                        key[..width].to_vec()
                    } else {
                        vec![ScalarValue::Null; width]
                    },
                    tombstone: true,
                },
            };
            loop {
                match tx.try_send(row) {
                    // (closed: the query is closing)
                    Ok(()) | Err(TrySendError::Closed(_)) => return,
                    Err(TrySendError::Full(r)) => {
                        row = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        let topology =
            planned.topology(Output::Rows(sink), self.throw_on_invalid_timestamp(session))?;
        let application_id = format!("_confluent-ksql-{}{id}", self.config.service_id);
        let internal = topology
            .internal_topics(&application_id)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let mut config = self.query_config(&application_id, session);
        // (the session's choice, else the server's `ksql.streams.auto.offset.reset`)
        let reset = session
            .get("auto.offset.reset")
            .or_else(|| session.get("ksql.streams.auto.offset.reset"))
            .or_else(|| self.config.streams.get("auto.offset.reset"))
            .map_or("latest", String::as_str);
        config.set("auto.offset.reset", reset);
        let streams =
            KafkaStreams::new(topology, config).map_err(|e| KsqlError::Statement(e.to_string()))?;
        streams
            .start()
            .map_err(|e| KsqlError::Statement(e.to_string()))?;
        Ok(PushQuery {
            id,
            columns,
            limit: q.limit,
            rows,
            streams: Some(Arc::new(streams)),
            cleanup: Some(Cleanup {
                topics: self.topics.clone(),
                internal,
                group: application_id,
            }),
            tail: None,
        })
    }
}
