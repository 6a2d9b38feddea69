//! Transient push queries (`SELECT ... EMIT CHANGES`): a streams app of their own whose rows
//! go to the client that asked, not to a topic, until the client closes the query or its
//! `LIMIT` is reached.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{channel, error::TrySendError, Receiver};
use tributary_streams::{Consumed, KafkaStreams, StreamsBuilder};

use super::{source_serdes, Engine, KsqlError};
use crate::exec::eval::Evaluator;
use crate::exec::stateless::StatelessProcessor;
use crate::parser::ast::Query;
use crate::plan;
use crate::types::SqlType;
use crate::value::Row;

/// How many rows a push query holds for a client that reads slower than they come.
const ROWS_BUFFERED: usize = 500;

/// A running push query.
pub struct PushQuery {
    /// Its id (`transient_PAGEVIEWS_5821973461`).
    pub id: String,
    /// The columns of its rows.
    pub columns: Vec<(String, SqlType)>,
    /// `LIMIT n`: how many rows it gives before it ends.
    pub limit: Option<u64>,
    rows: Receiver<Row>,
    streams: Option<Arc<KafkaStreams>>,
}

impl PushQuery {
    /// The next row (`None`: the query stopped).
    pub async fn next(&mut self) -> Option<Row> {
        self.rows.recv().await
    }

    /// Why the query failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.streams.as_ref().and_then(|s| s.error())
    }

    /// Stops the query and waits until it has.
    pub async fn close(mut self) {
        // (a stream thread waiting for room in the channel sees it closed)
        self.rows.close();
        if let Some(s) = self.streams.take() {
            super::stop(s).await;
        }
    }
}

impl Drop for PushQuery {
    fn drop(&mut self) {
        self.rows.close();
        // (a client that went away: stop the app without holding up whoever dropped it)
        if let Some(s) = self.streams.take() {
            std::thread::spawn(move || s.close_timeout(Duration::from_secs(10)));
        }
    }
}

impl Engine {
    /// Starts the push query `q` with the session's properties: it reads its source from
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
        if !q.from.joins.is_empty()
            || q.window.is_some()
            || !q.group_by.is_empty()
            || q.having.is_some()
        {
            return Err(KsqlError::Unsupported(
                "push queries with joins or aggregations are not supported yet: create a stream or table AS SELECT and query it"
                    .into(),
            ));
        }
        let plan = plan::plan_transient(&self.catalog, q)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let id = format!("transient_{}_{}", plan.source.name, nanos % 10_000_000_000);
        let eval = Evaluator::new(&plan.scope)?;
        let (in_key, in_value) = source_serdes(&plan.source)?;
        let columns = plan.value_columns();
        let topic = plan.source.topic.clone();
        // (rows wait for the client: a full channel holds the stream thread back)
        let (tx, rows) = channel(ROWS_BUFFERED);
        let plan = Arc::new(plan);
        let builder = StreamsBuilder::new();
        builder
            .stream(&topic, Consumed::with(in_key, in_value))
            .process(
                move || StatelessProcessor::new(Arc::clone(&plan), eval.clone()),
                &[],
            )
            .foreach(move |_: &Row, v: &Option<Row>| {
                let Some(v) = v else { return };
                let mut row = v.clone();
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
        let topology = builder
            .build()
            .map_err(|e| KsqlError::Statement(e.to_string()))?;
        let application_id = format!("_confluent-ksql-{}{id}", self.config.service_id);
        let mut config = self.query_config(&application_id, session);
        let reset = session
            .get("auto.offset.reset")
            .or_else(|| session.get("ksql.streams.auto.offset.reset"))
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
        })
    }
}
