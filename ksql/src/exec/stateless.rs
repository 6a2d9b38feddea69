//! A stateless query's processor: each record is filtered and projected into the output's key
//! and value.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use tributary_streams::process::{Processor, ProcessorContext, Record};
use tributary_streams::StreamsError;

use super::eval::Evaluator;
use crate::parser::ast::SourceKind;
use crate::plan::StatelessPlan;
use crate::value::Row;

/// Filters and projects records (one per task).
pub struct StatelessProcessor {
    plan: Arc<StatelessPlan>,
    eval: Evaluator,
    /// When the query only copies columns (no filter, no table function): the columns of
    /// the scope's row its key and value copy, which then need no Arrow batch.
    copies: Option<(Vec<usize>, Vec<usize>)>,
}

impl StatelessProcessor {
    /// A processor running `plan`.
    pub fn new(plan: Arc<StatelessPlan>, eval: Evaluator) -> Self {
        let copies = if plan.filter.is_none() && plan.explode.is_empty() {
            let columns = |cols: &[(String, crate::plan::Compiled)]| {
                cols.iter()
                    .map(|(_, c)| Evaluator::column_of(c))
                    .collect::<Option<Vec<_>>>()
            };
            columns(&plan.key).zip(columns(&plan.value))
        } else {
            None
        };
        StatelessProcessor { plan, eval, copies }
    }
}

/// The element type of an array type.
fn element(ty: &crate::types::SqlType) -> crate::types::SqlType {
    match ty {
        crate::types::SqlType::Array(item) => (**item).clone(),
        other => other.clone(),
    }
}

impl StatelessProcessor {
    /// One output per element of the longest of the table functions' arrays (the columns
    /// from `at` on hold each array's element, or null past its end).
    fn explode(
        &self,
        mut row: Row,
        at: usize,
        batch: &arrow::record_batch::RecordBatch,
        record: Record<Row, Option<Row>>,
        ctx: &mut ProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        let arrays: Vec<Vec<ScalarValue>> = self
            .plan
            .explode
            .iter()
            .map(|c| crate::value::list_items(&Evaluator::eval(c, batch)).unwrap_or_default())
            .collect();
        let rows = arrays.iter().map(Vec::len).max().unwrap_or(0);
        for j in 0..rows {
            for (k, (array, c)) in arrays.iter().zip(&self.plan.explode).enumerate() {
                row[at + k] = array
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| crate::value::null(&element(&c.ty)));
            }
            let batch = match self.eval.batch(&row) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot evaluate a record: skipped");
                    return Ok(());
                }
            };
            let eval = |cols: &[(String, crate::plan::Compiled)]| -> Row {
                cols.iter()
                    .map(|(_, c)| Evaluator::eval(c, &batch))
                    .collect()
            };
            let keys = self.plan.source.key.len().min(record.key.len());
            let mut key = eval(&self.plan.key);
            key.extend(record.key[keys..].iter().cloned());
            ctx.forward(Record {
                key,
                value: Some(eval(&self.plan.value)),
                timestamp: record.timestamp,
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

impl Processor<Row, Option<Row>, Row, Option<Row>> for StatelessProcessor {
    fn process(
        &mut self,
        record: Record<Row, Option<Row>>,
        ctx: &mut ProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        let table = self.plan.source.kind == SourceKind::Table;
        let (partition, offset) = ctx
            .record_metadata()
            .map_or((0, 0), |m| (m.partition(), m.offset()));
        // a null value: a table's tombstone deletes its key; a stream forwards it unless a
        // filter would have to look at it
        let tombstone = record.value.is_none();
        if tombstone && !table && self.plan.filter.is_some() {
            return Ok(());
        }
        // (a push query shows a stream's records with values, and a table's keyed ones)
        if self.plan.transient {
            let keyless = record.key.iter().all(ScalarValue::is_null);
            if (tombstone && !table) || (table && keyless) {
                return Ok(());
            }
        }
        let meta = (record.timestamp, partition, offset);
        let mut row = scope_row(&self.plan, &record.key, record.value.as_ref(), meta);
        let keys = self.plan.source.key.len().min(record.key.len());
        let window = &record.key[keys..];
        let exploded = row.len();
        row.extend(
            self.plan
                .explode
                .iter()
                .map(|c| crate::value::null(&element(&c.ty))),
        );
        // (a projection of columns copies them: the values a batch would give, without it)
        if let (Some((k, v)), false) = (&self.copies, tombstone) {
            if k.iter().chain(v).all(|&i| self.eval.has_type(&row, i)) {
                let mut key: Row = k.iter().map(|&i| row[i].clone()).collect();
                key.extend(window.iter().cloned());
                let value: Row = v.iter().map(|&i| row[i].clone()).collect();
                return ctx.forward(Record {
                    key,
                    value: Some(value),
                    timestamp: record.timestamp,
                    headers: record.headers,
                });
            }
        }
        let batch = match self.eval.batch(&row) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot evaluate a record: skipped");
                return Ok(());
            }
        };
        if !self.plan.explode.is_empty() {
            if tombstone {
                return Ok(());
            }
            if let Some(f) = &self.plan.filter {
                if !Evaluator::is_true(f, &batch) {
                    return Ok(());
                }
            }
            return self.explode(row, exploded, &batch, record, ctx);
        }
        let mut key: Row = self
            .plan
            .key
            .iter()
            .map(|(_, c)| Evaluator::eval(c, &batch))
            .collect();
        // (the output of a windowed source keeps the windows)
        key.extend(window.iter().cloned());
        if tombstone {
            // (ksqlDB keys a stream's tombstone again only by expressions of its key columns:
            // one that reads its value, which it has none of, gives null)
            if !table && !self.plan.transient {
                let keys = self.plan.source.key.len();
                for ((_, c), k) in self.plan.key.iter().zip(key.iter_mut()) {
                    let reads_value = datafusion_physical_expr::utils::collect_columns(&c.physical)
                        .iter()
                        .any(|col| col.index() >= keys);
                    if reads_value {
                        *k = crate::value::null(&c.ty);
                    }
                }
            }
            // (a push query's deletion carries its projection, values null, as its key: see
            // `exec::Output::Rows`)
            if self.plan.transient {
                key = self
                    .plan
                    .value
                    .iter()
                    .map(|(_, c)| Evaluator::eval(c, &batch))
                    .collect();
            }
            return ctx.forward(Record {
                key,
                value: None,
                timestamp: record.timestamp,
                headers: record.headers,
            });
        }
        if let Some(f) = &self.plan.filter {
            if !Evaluator::is_true(f, &batch) {
                // (a persistent query's table deletes the key the filter drops; a push
                // query leaves the row out)
                if table && !self.plan.transient {
                    ctx.forward(Record {
                        key,
                        value: None,
                        timestamp: record.timestamp,
                        headers: record.headers,
                    })?;
                }
                return Ok(());
            }
        }
        let out: Row = self
            .plan
            .value
            .iter()
            .map(|(_, c)| Evaluator::eval(c, &batch))
            .collect();
        ctx.forward(Record {
            key,
            value: Some(out),
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// The row a plan's expressions read from a record: the key columns, the values, `ROWTIME`,
/// `ROWPARTITION` and `ROWOFFSET` (`meta`; all nulls for a tombstone), then a windowed key's
/// start and end (which the key rows of a windowed source end with).
pub fn scope_row(
    plan: &StatelessPlan,
    key: &Row,
    value: Option<&Row>,
    (timestamp, partition, offset): (i64, i32, i64),
) -> Row {
    let keys = plan.source.key.len().min(key.len());
    let mut row: Row = Vec::with_capacity(plan.scope.columns.len());
    row.extend(key[..keys].iter().cloned());
    match value {
        Some(v) => {
            row.extend(v.iter().cloned());
            row.push(ScalarValue::Int64(Some(timestamp)));
            row.push(ScalarValue::Int32(Some(partition)));
            row.push(ScalarValue::Int64(Some(offset)));
        }
        // (ksqlDB reads ROWTIME, ROWPARTITION and ROWOFFSET from the value, so a tombstone
        // has none: `PARTITION BY ROWTIME` keys it by null)
        None => {
            row.extend(plan.source.value.iter().map(|(_, t)| crate::value::null(t)));
            row.extend([
                ScalarValue::Int64(None),
                ScalarValue::Int32(None),
                ScalarValue::Int64(None),
            ]);
        }
    }
    row.extend(key[keys..].iter().cloned());
    row
}

/// A record of a pull query's source filtered (`None`: the `WHERE` drops it) and projected
/// by a transient `plan`.
pub fn pull_row(
    plan: &StatelessPlan,
    eval: &Evaluator,
    key: &Row,
    value: &Row,
    meta: (i64, i32, i64),
) -> Option<Row> {
    let row = scope_row(plan, key, Some(value), meta);
    let batch = match eval.batch(&row) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot evaluate a record: skipped");
            return None;
        }
    };
    if let Some(f) = &plan.filter {
        if !Evaluator::is_true(f, &batch) {
            return None;
        }
    }
    Some(
        plan.value
            .iter()
            .map(|(_, c)| Evaluator::eval(c, &batch))
            .collect(),
    )
}
