//! Scalable push queries (ksqlDB's "push v2", `ksql.query.push.v2.enabled`): a push query
//! that filters and projects the output of one persistent query, from now on, reads that
//! query's sink topic with a plain consumer instead of running a streams app of its own: no
//! consumer group, no internal topics, so any number of clients can follow a query's output.
//! ksqlDB's conditions apply (no join, window, `GROUP BY`, `HAVING` or `PARTITION BY`,
//! `EMIT CHANGES`, `auto.offset.reset` latest, exactly one query writing the source, no
//! `ROWPARTITION`/`ROWOFFSET`); other push queries run as streams apps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::mpsc::{channel, error::TrySendError, Sender};

use super::pull::{decode, Read};
use super::push::{PushQuery, PushRow, Tail, ROWS_BUFFERED};
use super::{source_serdes, Engine, KsqlError};
use crate::exec::eval::Evaluator;
use crate::exec::stateless::pull_row;
use crate::parser::ast::{Emit, Query, SelectItem};
use crate::plan::{self, StatelessPlan};

const TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// Whether `q` runs as a scalable push query with the session's properties.
    pub(super) fn is_scalable(&self, q: &Query, session: &BTreeMap<String, String>) -> bool {
        let enabled = self.setting_is(session, "ksql.query.push.v2.enabled", "true");
        let reset = session
            .get("auto.offset.reset")
            .or_else(|| session.get("ksql.streams.auto.offset.reset"))
            .or_else(|| self.config.streams.get("auto.offset.reset"))
            .map_or("latest", String::as_str);
        let writers = self
            .catalog
            .queries
            .values()
            .filter(|p| p.sink == q.from.first.name)
            .count();
        let pseudo = |e: &sqlparser::ast::Expr| {
            plan::first_named(e, &["ROWPARTITION", "ROWOFFSET"]).is_some()
        };
        enabled
            && q.from.joins.is_empty()
            && q.window.is_none()
            && q.group_by.is_empty()
            && q.having.is_none()
            && q.partition_by.is_empty()
            && !plan::aggregate::is_aggregation(q)
            && q.emit == Some(Emit::Changes)
            && reset.eq_ignore_ascii_case("latest")
            && writers == 1
            && !q.filter.as_ref().is_some_and(pseudo)
            && !q.select.iter().any(|i| match i {
                SelectItem::Expr { expr, .. } => pseudo(expr),
                _ => false,
            })
    }

    /// Starts `q` as a scalable push query: its source's partitions are read from their ends
    /// as they are now (the query is active when this returns).
    pub(super) fn scalable_push_query(&self, q: &Query) -> Result<PushQuery, KsqlError> {
        let plan = plan::plan_transient(&self.catalog, q)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let id = format!("SCALABLE_PUSH_QUERY_{}", nanos % 10_000_000_000);
        let columns = plan
            .value
            .iter()
            .map(|(n, c)| (n.clone(), c.ty.clone()))
            .collect();
        let topic = plan.source.topic.clone();
        let kafka = |e: rdkafka::error::KafkaError| {
            KsqlError::Kafka(format!("cannot read topic {topic}: {e}"))
        };
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.config.bootstrap_servers)
            // (assigned, never committed)
            .set("group.id", &id)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(kafka)?;
        let mut assignment = TopicPartitionList::new();
        tokio::task::block_in_place(|| -> Result<(), KsqlError> {
            let metadata = consumer
                .fetch_metadata(Some(&topic), TIMEOUT)
                .map_err(kafka)?;
            for t in metadata.topics().iter().filter(|t| t.name() == topic) {
                for p in t.partitions() {
                    let (_, high) = consumer
                        .fetch_watermarks(&topic, p.id(), TIMEOUT)
                        .map_err(kafka)?;
                    assignment
                        .add_partition_offset(&topic, p.id(), Offset::Offset(high))
                        .map_err(kafka)?;
                }
            }
            consumer.assign(&assignment).map_err(kafka)
        })?;
        let (tx, rows) = channel(ROWS_BUFFERED);
        let stop = Arc::new(AtomicBool::new(false));
        let error = Arc::new(StdMutex::new(None));
        let thread = std::thread::Builder::new()
            .name(format!("{id}-reader"))
            .spawn({
                let (stop, error) = (Arc::clone(&stop), Arc::clone(&error));
                move || {
                    if let Err(e) = follow(&consumer, &plan, &tx, &stop) {
                        if let Ok(mut slot) = error.lock() {
                            *slot = Some(e);
                        }
                    }
                }
            })
            .map_err(|e| KsqlError::Kafka(format!("cannot start a thread: {e}")))?;
        Ok(PushQuery::tailing(
            id,
            columns,
            q.limit,
            rows,
            Tail {
                stop,
                thread: Some(thread),
                error,
            },
        ))
    }
}

/// Reads records as they come and sends the rows that match, until `stop` or the client goes.
fn follow(
    consumer: &BaseConsumer,
    plan: &StatelessPlan,
    tx: &Sender<PushRow>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let source = &plan.source;
    let serdes = source_serdes(source).map_err(|e| e.to_string())?;
    let eval = Evaluator::new(&plan.scope).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = match message {
            Ok(m) => m,
            // (librdkafka recovers from what is not fatal, as Kafka's consumer does)
            Err(rdkafka::error::KafkaError::MessageConsumptionFatal(e)) => {
                return Err(format!("cannot read topic {}: {e}", source.topic))
            }
            Err(e) => {
                tracing::debug!(topic = %source.topic, error = %e, "a consumer error, going on");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // (as ksqlDB's scalable push queries, a keyed source's record without a key is passed)
        if m.key().is_none() && !source.key.is_empty() {
            continue;
        }
        // (a deletion of a table's key shows in no row here)
        let Some(Read {
            key,
            value: Some(value),
            meta,
        }) = decode(source, &serdes, &m)
        else {
            continue;
        };
        let Some(columns) = pull_row(plan, &eval, &key, &value, meta) else {
            continue;
        };
        let mut row = PushRow {
            columns,
            tombstone: false,
        };
        // (rows wait for the client)
        loop {
            match tx.try_send(row) {
                Ok(()) => break,
                Err(TrySendError::Closed(_)) => return Ok(()),
                Err(TrySendError::Full(r)) => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    row = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    Ok(())
}
