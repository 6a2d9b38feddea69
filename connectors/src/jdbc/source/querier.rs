//! One table or custom query: its SQL (Confluent's `TimestampIncrementingCriteria`), its offset,
//! and one run of it, streamed in batches of `batch.max.rows` through a portal.
//!
//! ```text
//!  BEGIN ─▶ prepare ─▶ column schemas (NOT NULL from pg_attribute) ─▶ CURRENT_TIMESTAMP − delay
//!        ─▶ bind(offset) ─▶ fetch batch.max.rows ─▶ records (offset of each) ─▶ channel ─▶ ... ─▶ COMMIT
//! ```

use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement, Transaction};
use tributary_connect::connector::ConnectError;
use tributary_connect::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use tributary_connect::record::ConnectRecord;

use super::config::Mode;
use super::criteria::{build_sql, unix_micros, TsParam};
use super::offsets::{query_partition, table_partition_v0, table_partition_v1, Offset};
use crate::jdbc::conn::classify;
use crate::jdbc::dialect::TableId;
use crate::jdbc::types::encode::Param;
use crate::jdbc::types::{map_column, Decode, NumericMapping, Raw};

/// What a querier reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A whole table (`SELECT * FROM`).
    Table(TableId),
    /// A custom query.
    Query(String),
}

/// What the querier loop sends to `poll`.
pub type Batch = Result<Vec<ConnectRecord>, ConnectError>;

/// How the columns of a result become a struct.
struct RowMapping {
    schema: Schema,
    /// Row index, field name and decoding of each supported column.
    fields: Vec<(usize, Decode)>,
    /// The incrementing column's position in `fields`.
    incrementing: Option<usize>,
    /// The timestamp columns' row indexes and decodings, in COALESCE order.
    timestamps: Vec<(usize, Decode)>,
}

fn find_column(names: &[&str], wanted: &str) -> Result<usize, String> {
    if let Some(i) = names.iter().position(|n| *n == wanted) {
        return Ok(i);
    }
    let lower = wanted.to_lowercase();
    let matches: Vec<usize> = (0..names.len())
        .filter(|i| names[*i].to_lowercase() == lower)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        _ => Err(names.join(",")),
    }
}

/// Everything one querier needs to know and keep.
pub struct Querier {
    /// The table or query.
    pub source: Source,
    /// The topic its records go to.
    pub topic: String,
    partition: Value,
    mode: Mode,
    incrementing: Option<String>,
    timestamps: Vec<String>,
    /// Where it has got to.
    pub offset: Offset,
    sql: String,
    numeric: NumericMapping,
    delay_ms: i64,
    warned: bool,
}

/// A decoded row waiting for the next one (timestamp mode commits a timestamp only when a
/// later one follows, as Confluent's `TimestampTableQuerier`).
struct Pending {
    value: Value,
    timestamp: Option<(i64, i64)>,
}

impl Querier {
    /// A querier of `source` starting at `offset`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: Source,
        topic_prefix: &str,
        mode: Mode,
        incrementing: Option<String>,
        timestamps: Vec<String>,
        offset: Offset,
        suffix: &str,
        numeric: NumericMapping,
        delay_ms: i64,
    ) -> Querier {
        let (base, topic, partition) = match &source {
            Source::Table(t) => (
                format!("SELECT * FROM {}", t.quoted()),
                format!("{topic_prefix}{}", t.table),
                if mode == Mode::Bulk {
                    table_partition_v0(t)
                } else {
                    table_partition_v1(t)
                },
            ),
            Source::Query(q) => (q.clone(), topic_prefix.to_string(), query_partition()),
        };
        let sql = build_sql(&base, mode, incrementing.as_deref(), &timestamps, suffix);
        Querier {
            source,
            topic,
            partition,
            mode,
            incrementing,
            timestamps,
            offset,
            sql,
            numeric,
            delay_ms,
            warned: false,
        }
    }

    /// The SQL it runs.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    fn name(&self) -> String {
        match &self.source {
            Source::Table(t) => t.unquoted(),
            Source::Query(q) => format!("query '{q}'"),
        }
    }

    async fn mapping(
        &mut self,
        tx: &Transaction<'_>,
        stmt: &Statement,
    ) -> Result<RowMapping, ConnectError> {
        let oids: Vec<u32> = stmt
            .columns()
            .iter()
            .filter_map(|c| c.table_oid())
            .filter(|o| *o != 0)
            .collect();
        let mut not_null: Vec<(u32, i16)> = Vec::new();
        if !oids.is_empty() {
            let rows = tx
                .query(
                    "SELECT attrelid, attnum FROM pg_catalog.pg_attribute \
                     WHERE attrelid = ANY($1) AND attnum > 0 AND attnotnull",
                    &[&oids],
                )
                .await
                .map_err(|e| classify("Reading column metadata failed", &e).into_connect())?;
            not_null = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        }
        let mut builder = SchemaBuilder::struct_();
        if let Source::Table(t) = &self.source {
            builder = builder.name(t.table.clone());
        }
        let mut fields = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut all_names: Vec<&str> = Vec::new();
        for (i, c) in stmt.columns().iter().enumerate() {
            all_names.push(c.name());
            let declared_not_null = match (c.table_oid(), c.column_id()) {
                (Some(t), Some(a)) => not_null.contains(&(t, a)),
                _ => false,
            };
            match map_column(
                c.type_(),
                c.type_modifier(),
                !declared_not_null,
                self.numeric,
            ) {
                Some((schema, decode)) => {
                    builder = builder.field(c.name(), schema)?;
                    fields.push((i, decode));
                    names.push(c.name());
                }
                None => {
                    if !self.warned {
                        tracing::warn!(column = c.name(), r#type = c.type_().name(), source = %self.name(), "JDBC type {} not currently supported; the column is left out", c.type_().name());
                    }
                }
            }
        }
        self.warned = true;
        let incrementing = match &self.incrementing {
            Some(col) if self.mode.incrementing() => {
                Some(find_column(&names, col).map_err(|all| {
                    ConnectError::Fatal(format!("Incrementing column {col} not found in {all}"))
                })?)
            }
            _ => None,
        };
        let mut timestamps = Vec::new();
        if self.mode.timestamp() {
            for col in &self.timestamps {
                let i = find_column(&all_names, col).map_err(|all| {
                    ConnectError::Fatal(format!("Timestamp column {col} not found in {all}"))
                })?;
                let (_, decode) = map_column(stmt.columns()[i].type_(), -1, true, self.numeric)
                    .filter(|(_, d)| matches!(d, Decode::Timestamp | Decode::Date))
                    .ok_or_else(|| {
                        ConnectError::Fatal(format!(
                            "Timestamp column {col} of {} is of type {}, not a timestamp or date",
                            self.name(),
                            stmt.columns()[i].type_().name()
                        ))
                    })?;
                timestamps.push((i, decode));
            }
        }
        Ok(RowMapping {
            schema: builder.build(),
            fields,
            incrementing,
            timestamps,
        })
    }

    /// Runs the query once from the current offset and sends its records in batches of
    /// `max_rows`; `Ok(false)` when nobody receives them any more.
    pub async fn run(
        &mut self,
        tx: &Transaction<'_>,
        out: &mpsc::Sender<Batch>,
        max_rows: usize,
    ) -> Result<bool, ConnectError> {
        let name = self.name();
        let db = |what: &str, e: tokio_postgres::Error| {
            classify(&format!("{what} for {name}"), &e).into_connect()
        };
        let stmt = tx
            .prepare(&self.sql)
            .await
            .map_err(|e| db("Preparing the query failed", e))?;
        let mapping = self.mapping(tx, &stmt).await?;
        let end = if self.mode.timestamp() {
            let now: i64 = tx
                .query_one(
                    "SELECT (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000000)::int8",
                    &[],
                )
                .await
                .map_err(|e| db("Reading the database time failed", e))?
                .get(0);
            now - self.delay_ms * 1000
        } else {
            0
        };
        let begin = TsParam(unix_micros(self.offset.timestamp_or_start()));
        let inc_value = Value::Int64(self.offset.incrementing_or_start());
        let inc = Param {
            value: &inc_value,
            schema: None,
        };
        let end = TsParam(end);
        let params: Vec<&(dyn ToSql + Sync)> = match self.mode {
            Mode::Bulk => vec![],
            Mode::Incrementing => vec![&inc],
            Mode::Timestamp => vec![&begin, &end],
            Mode::TimestampIncrementing => vec![&end, &begin, &inc],
        };
        let portal = tx
            .bind(&stmt, &params)
            .await
            .map_err(|e| db("Running the query failed", e))?;
        let mut pending: Option<Pending> = None;
        loop {
            let rows = tx
                .query_portal(&portal, max_rows as i32)
                .await
                .map_err(|e| db("Reading rows failed", e))?;
            let done = rows.len() < max_rows;
            let mut records = Vec::with_capacity(rows.len() + 1);
            for row in &rows {
                self.extract(row, &mapping, &mut pending, &mut records)?;
            }
            if done {
                if let Some(p) = pending.take() {
                    if p.timestamp.is_some() {
                        self.offset.timestamp = p.timestamp;
                    }
                    records.push(self.record(p.value));
                }
            }
            if !records.is_empty() && out.send(Ok(records)).await.is_err() {
                return Ok(false);
            }
            if done {
                return Ok(true);
            }
        }
    }

    fn record(&self, value: Value) -> ConnectRecord {
        let offset = if self.mode == Mode::Bulk {
            Value::Null
        } else {
            self.offset.to_value()
        };
        let schema = value.as_struct().map(|s| s.schema().clone());
        ConnectRecord::source(
            self.partition.clone(),
            offset,
            self.topic.clone(),
            SchemaAndValue::NULL,
            SchemaAndValue::new(schema, value),
        )
    }

    fn extract(
        &mut self,
        row: &Row,
        m: &RowMapping,
        pending: &mut Option<Pending>,
        records: &mut Vec<ConnectRecord>,
    ) -> Result<(), ConnectError> {
        let mut st = Struct::new(m.schema.clone())?;
        let mut values = Vec::with_capacity(m.fields.len());
        for ((i, decode), field) in m.fields.iter().zip(m.schema.fields()) {
            let raw: Raw<'_> = row.try_get(*i).map_err(|e| {
                ConnectError::Fatal(format!("Reading column {} failed: {e}", field.name()))
            })?;
            let v = decode.value(raw.0).map_err(|e| {
                ConnectError::Fatal(format!("Column {} of {}: {e}", field.name(), self.name()))
            })?;
            values.push(v.clone());
            st.put(field.name(), v)?;
        }
        let mut timestamp = None;
        for (i, decode) in &m.timestamps {
            let raw: Raw<'_> = row
                .try_get(*i)
                .map_err(|e| ConnectError::Fatal(format!("Reading a timestamp failed: {e}")))?;
            if let Some(parts) = decode.timestamp_parts(raw.0) {
                timestamp = Some(parts);
                break;
            }
        }
        let incrementing = match m.incrementing {
            Some(i) => Some(incrementing_value(
                &values[i],
                m.schema.fields()[i].schema(),
            )?),
            None => None,
        };
        let value = Value::Struct(st);
        match self.mode {
            Mode::Bulk => records.push(self.record(value)),
            Mode::Incrementing => {
                self.offset.incrementing = incrementing;
                records.push(self.record(value));
            }
            Mode::TimestampIncrementing => {
                self.offset = Offset {
                    incrementing,
                    timestamp,
                };
                records.push(self.record(value));
            }
            Mode::Timestamp => {
                if let Some(p) = pending.take() {
                    // the pending row's timestamp is complete once a later one follows
                    let later = match (p.timestamp, timestamp) {
                        (Some(a), Some(b)) => a < b,
                        _ => true,
                    };
                    if later && p.timestamp.is_some() {
                        self.offset.timestamp = p.timestamp;
                    }
                    records.push(self.record(p.value));
                }
                *pending = Some(Pending { value, timestamp });
            }
        }
        Ok(())
    }
}

/// The incrementing column's value as a number (Confluent's `extractOffsetIncrementedId`).
fn incrementing_value(v: &Value, schema: &Schema) -> Result<i64, ConnectError> {
    match v {
        Value::Null => Err(ConnectError::Fatal(format!(
            "Null value for incrementing column of type: {}",
            schema.ty()
        ))),
        Value::Int8(x) => Ok(i64::from(*x)),
        Value::Int16(x) => Ok(i64::from(*x)),
        Value::Int32(x) => Ok(i64::from(*x)),
        Value::Int64(x) => Ok(*x),
        Value::Decimal(d) => {
            let whole = d.with_scale(0).ok_or_else(|| {
                ConnectError::Fatal(
                    "Scale of Decimal value for incrementing column must be 0".into(),
                )
            })?;
            if whole.to_f64() > i64::MAX as f64 {
                return Err(ConnectError::Fatal(
                    "Decimal value for incrementing column exceeded Long.MAX_VALUE".into(),
                ));
            }
            Ok(whole.to_i64_wrapping())
        }
        _ => Err(ConnectError::Fatal(format!(
            "Invalid type for incrementing column: {}",
            schema.ty()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queriers_name_topics_and_partitions() {
        let q = Querier::new(
            Source::Table(TableId::parse("public.users")),
            "pg-",
            Mode::Incrementing,
            Some("id".into()),
            vec![],
            Offset::default(),
            "",
            NumericMapping::None,
            0,
        );
        assert_eq!(q.topic, "pg-users");
        assert_eq!(
            q.partition,
            table_partition_v1(&TableId::parse("public.users"))
        );
        let q = Querier::new(
            Source::Query("SELECT 1".into()),
            "exact-topic",
            Mode::Bulk,
            None,
            vec![],
            Offset::default(),
            "",
            NumericMapping::None,
            0,
        );
        assert_eq!(q.topic, "exact-topic");
        assert_eq!(q.sql(), "SELECT 1");
    }

    #[test]
    fn incrementing_values() {
        let s = Schema::primitive(tributary_connect::data::Type::Int32);
        assert_eq!(incrementing_value(&Value::Int32(5), &s).unwrap(), 5);
        assert!(incrementing_value(&Value::Null, &s)
            .unwrap_err()
            .to_string()
            .contains("Null value for incrementing column of type: INT32"));
        let d = tributary_connect::data::Decimal::parse("12").unwrap();
        assert_eq!(incrementing_value(&Value::Decimal(d), &s).unwrap(), 12);
    }
}
