//! Pull queries (`SELECT ... FROM t WHERE ...;` without `EMIT CHANGES`): the current rows of a
//! table, or the records of a stream, that match, once.
//!
//! A table's current rows are read from its topic: every partition from its beginning to the
//! end it has when the query starts, the last value of each key kept (a tombstone deletes
//! it); a stream's records are all kept. The `WHERE` clause and the projection are then
//! evaluated over each, as a push query's would be. A key lookup ([`keys`]: ksqlDB's rules for
//! which keys a `WHERE` clause asks for) reads the whole topic too, but decodes only the
//! records of the keys asked for; there is no index by key yet, so its cost grows with the
//! topic, not the answer.

mod keys;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{source_serdes, Engine, KsqlError};
use crate::catalog::DataSource;
use crate::exec::eval::Evaluator;
use crate::exec::stateless::pull_row;
use crate::parser::ast::{Query, SelectItem, SourceKind};
use crate::plan::PlanError;
use crate::plan::{self, StatelessPlan};
use crate::types::SqlType;
use crate::value::Row;

/// How long reading a source may take.
const READ_LIMIT: Duration = Duration::from_secs(60);

/// ksqlDB's advice after a clause pull queries refuse.
const PUSH_HINT: &str =
    "See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query.";

/// A planned pull query, run with [`PullQuery::run`] (which needs no engine).
pub struct PullQuery {
    /// Its id (`query_1733577600000`).
    pub id: String,
    /// The columns of its rows, each with whether it is a key column (of a table).
    pub columns: Vec<(String, SqlType, bool)>,
    /// It reads a stream: its answer ends with a final message, as a push query's does.
    pub stream: bool,
    /// `LIMIT n`.
    pub limit: Option<u64>,
    plan: StatelessPlan,
    bootstrap: String,
    /// A key lookup: the keys asked for (a windowed key's without its window).
    keys: Option<std::collections::HashSet<Row>>,
}

impl Engine {
    /// Plans the pull query `q` with the session's properties.
    pub fn pull_query(
        &self,
        q: &Query,
        session: &BTreeMap<String, String>,
    ) -> Result<PullQuery, KsqlError> {
        let refused = |clause: &str| {
            KsqlError::Statement(format!(
                "Pull queries don't support {clause} clauses. {PUSH_HINT}"
            ))
        };
        if !q.from.joins.is_empty() {
            return Err(refused("JOIN"));
        }
        if q.window.is_some() {
            return Err(refused("WINDOW"));
        }
        if !q.group_by.is_empty() || q.having.is_some() {
            return Err(refused("GROUP BY"));
        }
        if !q.partition_by.is_empty() {
            return Err(refused("PARTITION BY"));
        }
        let disabled = |name: &str| self.setting_is(session, name, "false");
        if q.limit.is_some() && disabled("ksql.query.pull.limit.clause.enabled") {
            return Err(KsqlError::Statement(format!(
                "LIMIT clause in pull queries is currently disabled. You can enable them by setting ksql.query.pull.limit.clause.enabled=true. {PUSH_HINT}"
            )));
        }
        // (a record's partition and offset are not a row's: a table's rows merge records)
        let select: Vec<&sqlparser::ast::Expr> = q
            .select
            .iter()
            .filter_map(|i| match i {
                SelectItem::Expr { expr, .. } => Some(expr.as_ref()),
                _ => None,
            })
            .collect();
        for (clause, exprs) in [("SELECT", select), ("WHERE", q.filter.iter().collect())] {
            if let Some(pseudo) = exprs
                .iter()
                .find_map(|e| plan::first_named(e, &["ROWPARTITION", "ROWOFFSET"]))
            {
                return Err(KsqlError::Statement(format!(
                    "Pull queries don't support the following columns in {clause} clauses: `{pseudo}`"
                )));
            }
        }
        let source = self
            .catalog
            .source(&q.from.first.name)
            .map_err(KsqlError::Statement)?;
        let options = keys::Options {
            table_scans: !disabled("ksql.query.pull.table.scan.enabled"),
            range_scans: !disabled("ksql.query.pull.range.scan.enabled"),
        };
        let lookup = || {
            if source.kind == SourceKind::Table {
                keys::lookup(q.filter.as_ref(), source, options).map_err(KsqlError::Statement)
            } else {
                Ok(keys::Lookup::Scan)
            }
        };
        // (ksqlDB checks a pull query's WHERE again, and names the predicate it checked; its
        // type checks let LIKE on other types through, to the key analysis' message)
        let plan = plan::plan_transient(&self.catalog, q).map_err(|e| match (e, &q.filter) {
            (PlanError::Invalid(m), _) if m.contains("Unsupported types for LIKE") => {
                match lookup() {
                    Err(KsqlError::Statement(m)) => PlanError::Invalid(m),
                    _ => PlanError::Invalid(m),
                }
            }
            (PlanError::Invalid(m), Some(filter))
                if m.starts_with("Error in WHERE expression:") =>
            {
                PlanError::Invalid(format!(
                    "{m}\nStatement: {}",
                    crate::plan::text::ksql_text(filter)
                ))
            }
            (e, _) => e,
        })?;
        if !plan.explode.is_empty() {
            return Err(KsqlError::Statement(
                "Pull queries don't support table functions.".into(),
            ));
        }
        let keys = match lookup()? {
            keys::Lookup::Scan => None,
            keys::Lookup::Keys(rows) => Some(rows),
        };
        // (a table is queryable once a query materializes it, or when it is a source table;
        // checked once the query is planned, as ksqlDB does)
        let materialized = self.catalog.queries.values().any(|p| p.sink == source.name);
        if source.kind == SourceKind::Table && !materialized && !source.read_only {
            return Err(KsqlError::Statement(format!(
                "The `{0}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_{0} AS SELECT * FROM {0}'. See https://cnfl.io/queries for more info.",
                source.name
            )));
        }
        let stream = source.kind == SourceKind::Stream;
        let flags = if stream {
            Vec::new()
        } else {
            key_flags(q, source)
        };
        let columns = plan
            .value
            .iter()
            .enumerate()
            .map(|(i, (n, c))| {
                let key = flags.len() == plan.value.len() && flags[i];
                (n.clone(), c.ty.clone(), key)
            })
            .collect();
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        Ok(PullQuery {
            id: format!("query_{millis}"),
            columns,
            stream,
            limit: q.limit,
            plan,
            bootstrap: self.config.bootstrap_servers.clone(),
            keys,
        })
    }
}

/// Which items of the projection are key columns: the source's keys (and a windowed key's
/// bounds) selected as they are.
fn key_flags(q: &Query, source: &DataSource) -> Vec<bool> {
    let windowed = source.windowing.is_some();
    let is_key = |name: &str| {
        source.key.iter().any(|(k, _)| k == name)
            || (windowed && (name == "WINDOWSTART" || name == "WINDOWEND"))
    };
    let mut flags = Vec::new();
    for item in &q.select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                flags.extend(source.key.iter().map(|_| true));
                if windowed {
                    flags.extend([true, true]);
                }
                flags.extend(source.value.iter().map(|_| false));
            }
            SelectItem::Expr { expr, .. } => flags.push(match expr.as_ref() {
                sqlparser::ast::Expr::Identifier(id) => is_key(&id.value),
                sqlparser::ast::Expr::CompoundIdentifier(parts) => {
                    parts.len() == 2 && is_key(&parts[1].value)
                }
                _ => false,
            }),
        }
    }
    flags
}

/// A record read: its key and value rows and its metadata.
pub(super) struct Read {
    pub key: Row,
    pub value: Option<Row>,
    /// Its timestamp, partition and offset.
    pub meta: (i64, i32, i64),
}

/// A record of `source`'s topic read with its serdes; `None` (logged) when it cannot be.
pub(super) fn decode(
    source: &crate::catalog::DataSource,
    (key_serde, value_serde): &(
        tributary_streams::SharedSerde<Row>,
        tributary_streams::SharedSerde<Option<Row>>,
    ),
    m: &rdkafka::message::BorrowedMessage<'_>,
) -> Option<Read> {
    let (partition, offset) = (m.partition(), m.offset());
    let headers = tributary_streams::headers_of(m);
    match (
        key_serde.deserialize_with_headers(&source.topic, &headers, m.key()),
        value_serde.deserialize_with_headers(&source.topic, &headers, m.payload()),
    ) {
        (Ok(key), Ok(value)) => Some(Read {
            key,
            value,
            meta: (m.timestamp().to_millis().unwrap_or(0), partition, offset),
        }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(topic = %source.topic, partition, offset, error = %e, "a record that cannot be read: skipped");
            None
        }
    }
}

impl PullQuery {
    /// Reads the source and answers the query's rows.
    pub async fn run(self) -> Result<Vec<Row>, KsqlError> {
        tokio::task::spawn_blocking(move || self.read())
            .await
            .map_err(|e| KsqlError::Statement(format!("the pull query failed: {e}")))?
    }

    /// Whether a record with this key can be in the answer: any, unless the query looks keys
    /// up. (Keys are compared read, not as bytes: a format may write one key several ways.)
    fn asked(&self, key_serde: &tributary_streams::SharedSerde<Row>, key: Option<&[u8]>) -> bool {
        let Some(keys) = &self.keys else {
            return true;
        };
        if key.is_none() {
            return false;
        }
        let source = &self.plan.source;
        match key_serde.deserialize(&source.topic, key) {
            Ok(read) => {
                let n = source.key.len().min(read.len());
                keys.contains(&read[..n])
            }
            // (decode logs what it cannot read)
            Err(_) => true,
        }
    }

    fn read(self) -> Result<Vec<Row>, KsqlError> {
        let source = &self.plan.source;
        let serdes = source_serdes(source)?;
        let eval = Evaluator::new(&self.plan.scope)?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", &self.id)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .map_err(|e| KsqlError::Kafka(format!("cannot create a consumer: {e}")))?;
        let kafka = |e: rdkafka::error::KafkaError| {
            KsqlError::Kafka(format!("cannot read topic {}: {e}", source.topic))
        };
        let metadata = consumer
            .fetch_metadata(Some(&source.topic), Duration::from_secs(30))
            .map_err(kafka)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        // each partition up to the end it has now
        let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&source.topic, p, Duration::from_secs(30))
                .map_err(kafka)?;
            if high > low {
                ends.insert(p, high);
                assignment
                    .add_partition_offset(&source.topic, p, Offset::Beginning)
                    .map_err(kafka)?;
            }
        }
        let table = source.kind == SourceKind::Table;
        // a table's current value per key (by partition, then key bytes); a stream's records
        let mut current: BTreeMap<(i32, Vec<u8>), Read> = BTreeMap::new();
        let mut records: Vec<Read> = Vec::new();
        if !ends.is_empty() {
            consumer.assign(&assignment).map_err(kafka)?;
        }
        let deadline = Instant::now() + READ_LIMIT;
        // (a partition is read once its end offset is reached, or librdkafka says it reached
        // the partition's end: past a transaction's markers, which no record shows)
        let done = |ends: &mut BTreeMap<i32, i64>, partition: i32| {
            if ends.remove(&partition).is_some() {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition(&source.topic, partition);
                let _ = consumer.pause(&tpl);
            }
        };
        while !ends.is_empty() {
            if Instant::now() > deadline {
                return Err(KsqlError::Kafka(format!(
                    "reading topic {} took longer than {READ_LIMIT:?}",
                    source.topic
                )));
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let m = match message {
                Ok(m) => m,
                Err(rdkafka::error::KafkaError::PartitionEOF(p)) => {
                    done(&mut ends, p);
                    continue;
                }
                Err(e) => return Err(kafka(e)),
            };
            let (partition, offset) = (m.partition(), m.offset());
            let Some(&end) = ends.get(&partition) else {
                continue;
            };
            // (written after the query started: not part of its answer)
            if offset >= end {
                done(&mut ends, partition);
                continue;
            }
            if offset + 1 >= end {
                done(&mut ends, partition);
            }
            if !self.asked(&serdes.0, m.key()) {
                continue;
            }
            let Some(read) = decode(source, &serdes, &m) else {
                continue;
            };
            if table {
                let bytes = m.key().map(<[u8]>::to_vec);
                match (bytes, &read.value) {
                    // (a table has no row without a key)
                    (None, _) => {}
                    (Some(k), None) => {
                        current.remove(&(partition, k));
                    }
                    (Some(k), Some(_)) => {
                        current.insert((partition, k), read);
                    }
                }
            } else if read.value.is_some() {
                records.push(read);
            }
        }
        let reads = current.into_values().chain(records);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(reads
            .filter_map(|r| {
                let value = r.value.as_ref()?;
                pull_row(&self.plan, &eval, &r.key, value, r.meta)
            })
            .take(limit)
            .collect())
    }
}
