//! A join query's topology: each source read into rows of its columns (keys, values, then
//! `ROWTIME`, `ROWPARTITION`, `ROWOFFSET`), re-keyed by its join expression where it is not
//! keyed by it (through a repartition topic), then joined step by step with the streams
//! library's joins, and the joined rows filtered and projected into the output.
//!
//! Stream-stream joins use Kafka's windows as ksqlDB does: without `GRACE PERIOD`, the
//! deprecated `JoinWindows.of` (24 hours of grace, unmatched rows of left and outer joins
//! joined with nulls at once); with it, the windows that hold those rows until they close.
//! RIGHT joins are left joins with the sides swapped, as in ksqlDB.

use std::sync::Arc;
use std::time::Duration;

use datafusion_common::ScalarValue;
use tributary_streams::process::{
    FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor, ProcessorContext,
    Record,
};
use tributary_streams::{
    JoinWindows, Joined, KStream, KTable, Materialized, SharedSerde, StreamJoined, StreamsBuilder,
    StreamsError, TableJoined, Topology,
};

use super::eval::Evaluator;
use super::serde::{KeySerde, RowSerdes, StateSerde};
use super::Output;
use crate::format::{Format, RowFormat};
use crate::parser::ast::{JoinKind, SourceKind};
use crate::plan::expr::{Scope, ScopeColumn};
use crate::plan::join::{JoinPlan, JoinStep};
use crate::plan::Compiled;
use crate::types::SqlType;
use crate::value::{null, Row};

/// Rows (of one source, or joined so far): a stream or a table of them.
pub(super) enum Rows {
    /// A stream of rows.
    Stream(KStream<Row, Row>),
    /// A table of rows.
    Table(KTable<Row, Row>),
}

/// A source's row: its keys, values, then `ROWTIME`, `ROWPARTITION`, `ROWOFFSET`, then a
/// windowed source's `WINDOWSTART` and `WINDOWEND` (which its key rows end with).
fn source_row(
    key: &[ScalarValue],
    value: Option<&Row>,
    (types, keys): (&[SqlType], usize),
    meta: (i64, Option<(i32, i64)>),
) -> Row {
    let keys = keys.min(key.len());
    let window = &key[keys..];
    let mut row: Row = Vec::with_capacity(types.len());
    row.extend(key[..keys].iter().cloned());
    let values = types.len().saturating_sub(keys + 3 + window.len());
    match value {
        Some(v) => row.extend(v.iter().cloned()),
        None => row.extend(types[keys..keys + values].iter().map(null)),
    }
    row.push(ScalarValue::Int64(Some(meta.0)));
    row.push(ScalarValue::Int32(meta.1.map(|(p, _)| p)));
    row.push(ScalarValue::Int64(meta.1.map(|(_, o)| o)));
    row.extend(window.iter().cloned());
    row
}

/// Reads a stream's records into rows (records without a value are dropped, as joins drop
/// them), keeping their keys.
struct StreamRows {
    types: Arc<Vec<SqlType>>,
    /// The number of the source's key columns.
    keys: usize,
}

impl FixedKeyProcessor<Row, Option<Row>, Row> for StreamRows {
    fn process(
        &mut self,
        record: FixedKeyRecord<Row, Option<Row>>,
        ctx: &mut FixedKeyProcessorContext<'_, Row, Row>,
    ) -> Result<(), StreamsError> {
        let Some(value) = &record.value else {
            return Ok(());
        };
        let meta = ctx.record_metadata().map(|m| (m.partition(), m.offset()));
        let row = source_row(
            record.key(),
            Some(value),
            (&self.types, self.keys),
            (record.timestamp, meta),
        );
        let record = record.with_value(row);
        ctx.forward(record)
    }
}

/// Keys rows by a join expression (rows whose expression is null are dropped: they join
/// nothing).
struct Rekey {
    key: Compiled,
    eval: Evaluator,
}

impl Processor<Row, Row, Row, Row> for Rekey {
    fn process(
        &mut self,
        record: Record<Row, Row>,
        ctx: &mut ProcessorContext<'_, Row, Row>,
    ) -> Result<(), StreamsError> {
        let batch = match self.eval.batch(&record.value) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot evaluate a join expression: record skipped");
                return Ok(());
            }
        };
        let key = Evaluator::eval(&self.key, &batch);
        if key.is_null() {
            return Ok(());
        }
        ctx.forward(Record {
            key: vec![key],
            value: record.value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// Filters and projects joined rows into the output's values (the output's key is the
/// record's key, the join key).
struct Project {
    plan: Arc<JoinPlan>,
    eval: Evaluator,
}

impl Project {
    /// The output value of a joined row; `None` when the filter drops it.
    fn project(&self, key: &Row, row: Row) -> Option<Row> {
        let batch = self.filtered(key, row)?;
        Some(Self::columns(&self.plan.value, &batch))
    }

    fn columns(columns: &[(String, Compiled)], batch: &arrow::record_batch::RecordBatch) -> Row {
        columns
            .iter()
            .map(|(_, c)| Evaluator::eval(c, batch))
            .collect()
    }

    /// The one-row batch of a joined row (with the synthetic key's value when there is one).
    fn batch(&self, key: &Row, mut row: Row) -> Option<arrow::record_batch::RecordBatch> {
        if self.plan.synthetic_key {
            row.push(key.first().cloned().unwrap_or(ScalarValue::Null));
        }
        match self.eval.batch(&row) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(error = %e, "cannot evaluate a joined row: skipped");
                None
            }
        }
    }

    /// [`Project::batch`], `None` when the filter drops the row.
    fn filtered(&self, key: &Row, row: Row) -> Option<arrow::record_batch::RecordBatch> {
        let batch = self.batch(key, row)?;
        if let Some(f) = &self.plan.filter {
            if !Evaluator::is_true(f, &batch) {
                return None;
            }
        }
        Some(batch)
    }
}

/// [`Project`] for a join re-keyed by `PARTITION BY`: the key is evaluated too.
struct ProjectPartitioned(Project);

impl Processor<Row, Row, Row, Option<Row>> for ProjectPartitioned {
    fn process(
        &mut self,
        record: Record<Row, Row>,
        ctx: &mut ProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        let Some(batch) = self.0.filtered(&record.key, record.value) else {
            return Ok(());
        };
        ctx.forward(Record {
            key: Project::columns(&self.0.plan.key, &batch),
            value: Some(Project::columns(&self.0.plan.value, &batch)),
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

impl FixedKeyProcessor<Row, Row, Option<Row>> for Project {
    fn process(
        &mut self,
        record: FixedKeyRecord<Row, Row>,
        ctx: &mut FixedKeyProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        let Some(out) = self.project(record.key(), record.value.clone()) else {
            return Ok(());
        };
        let record = record.with_value(Some(out));
        ctx.forward(record)
    }
}

impl FixedKeyProcessor<Row, Option<Row>, Option<Row>> for Project {
    fn process(
        &mut self,
        record: FixedKeyRecord<Row, Option<Row>>,
        ctx: &mut FixedKeyProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        // (a table's changes: the table's filter already turned the rows it drops into
        // deletions, or dropped them)
        let out = match &record.value {
            Some(row) => match self.batch(record.key(), row.clone()) {
                Some(batch) => Some(Self::columns(&self.plan.value, &batch)),
                None => return Ok(()),
            },
            None => None,
        };
        let record = record.with_value(out);
        ctx.forward(record)
    }
}

/// The internal serde of rows of these types (JSON, never null).
fn row_serde(types: &[SqlType]) -> Result<SharedSerde<Row>, String> {
    let columns = types
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("C{i}"), t.clone()))
        .collect();
    Ok(Arc::new(StateSerde(RowFormat::new(
        Format::Json,
        columns,
        false,
        false,
    )?)))
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(u64::try_from(n).unwrap_or(0))
}

/// Both sides' rows concatenated; a missing side is all nulls.
fn concat(left: Option<&Row>, right: Option<&Row>, types: &[SqlType], split: usize) -> Row {
    let mut row = Row::with_capacity(types.len());
    match left {
        Some(l) => row.extend(l.iter().cloned()),
        None => row.extend(types[..split].iter().map(null)),
    }
    match right {
        Some(r) => row.extend(r.iter().cloned()),
        None => row.extend(types[split..].iter().map(null)),
    }
    row
}

/// The topology of `plan`: `inputs` are the serdes of its sources' records.
pub fn topology(
    plan: JoinPlan,
    inputs: Vec<RowSerdes>,
    output: Output,
    fail_on_bad_timestamp: bool,
) -> Result<Topology, String> {
    let plan = Arc::new(plan);
    let builder = StreamsBuilder::new();
    let acc = joined(&builder, &plan, inputs, fail_on_bad_timestamp)?;
    let eval = Evaluator::new(&plan.scope).map_err(|e| e.to_string())?;
    let project = {
        let plan = Arc::clone(&plan);
        move || Project {
            plan: Arc::clone(&plan),
            eval: eval.clone(),
        }
    };
    let out = match acc {
        Rows::Stream(s) if plan.partitioned => {
            s.process(move || ProjectPartitioned(project()), &[])
        }
        Rows::Stream(s) => s.process_values(project, &[]),
        Rows::Table(t) => {
            let t = match &plan.filter {
                Some(_) => {
                    let filter = project();
                    t.filter(move |k: &Row, row: &Row| filter.filtered(k, row.clone()).is_some())
                }
                None => t,
            };
            t.to_stream().process_values(project, &[])
        }
    };
    // (a push query's deletion carries the projection it knows as its key: a join knows
    // only its join key, so none)
    let out = match output {
        Output::Rows(_) => out.map(|k: &Row, v: &Option<Row>| match v {
            Some(v) => (k.clone(), Some(v.clone())),
            None => (Row::new(), None),
        }),
        Output::Topic { .. } => out,
    };
    output.write(out, |k| k);
    builder.build().map_err(|e| e.to_string())
}

/// The joined rows of `plan` (before its filter and projection), keyed by the last step's
/// join key; `inputs` are the serdes of its sources' records.
pub(super) fn joined(
    builder: &StreamsBuilder,
    plan: &JoinPlan,
    inputs: Vec<RowSerdes>,
    fail_on_bad_timestamp: bool,
) -> Result<Rows, String> {
    let types: Vec<SqlType> = plan.scope.columns.iter().map(|c| c.ty.clone()).collect();
    let bad = |e: StreamsError| e.to_string();
    // the sources' rows
    let mut sides = Vec::new();
    for (input, (key, value)) in plan.inputs.iter().zip(inputs) {
        let width = input.width();
        let keys = input.source.key.len();
        let side_types: Arc<Vec<SqlType>> =
            Arc::new(types[input.offset..input.offset + width].to_vec());
        let consumed = crate::exec::timestamps::consumed(
            &input.source,
            (key.clone(), value),
            fail_on_bad_timestamp,
        )?;
        let side = match input.source.kind {
            SourceKind::Stream => {
                let t = Arc::clone(&side_types);
                Rows::Stream(
                    builder
                        .stream(&input.source.topic, consumed)
                        .process_values(
                            move || StreamRows {
                                types: Arc::clone(&t),
                                keys,
                            },
                            &[],
                        ),
                )
            }
            SourceKind::Table => {
                let t = Arc::clone(&side_types);
                Rows::Table(
                    builder
                        .table(
                            &input.source.topic,
                            consumed,
                            crate::exec::serde::source_table_store(&input.source)?,
                        )
                        .transform_values_with_serde(
                            move |k: &Row, v: &Option<Row>, ts| {
                                source_row(k, v.as_ref(), (&t, keys), (ts, None))
                            },
                            row_serde(&side_types)?,
                        ),
                )
            }
        };
        sides.push((side, key, side_types));
    }
    let mut sides = sides.into_iter();
    let (first, first_key, _) = sides
        .next()
        .ok_or_else(|| "a join without sources".to_string())?;
    let mut acc = first;
    let mut key_serde = first_key;
    for (n, (step, (right, right_key, right_types))) in plan.steps.iter().zip(sides).enumerate() {
        let left_types = types[..step.left_width].to_vec();
        let left_serde = row_serde(&left_types)?;
        let right_serde = row_serde(&right_types)?;
        // the key format of the step's repartition topics and stores: that of a side kept as
        // it is (so that its partitions and the re-keyed side's agree), else an internal one
        key_serde = if step.foreign_key {
            // (the result keeps the left table's key)
            key_serde
        } else if !step.right_rekey {
            right_key.clone()
        } else if !step.left_rekey {
            key_serde
        } else {
            let format = RowFormat::new(
                Format::Json,
                vec![("K".to_string(), step.left_key.ty.clone())],
                false,
                true,
            )?;
            Arc::new(KeySerde(format))
        };
        let rekeyed = |s: KStream<Row, Row>, key: &Compiled, columns: &[ScopeColumn]| {
            let eval = Evaluator::new(&Scope {
                columns: columns.to_vec(),
            })
            .map_err(|e| e.to_string())?;
            let key = key.clone();
            Ok::<_, String>(s.process(
                move || Rekey {
                    key: key.clone(),
                    eval: eval.clone(),
                },
                &[],
            ))
        };
        let right_input = &plan.inputs[n + 1];
        let right_columns =
            &plan.scope.columns[right_input.offset..right_input.offset + right_input.width()];
        let left = match acc {
            Rows::Stream(s) if step.left_rekey => Rows::Stream(rekeyed(
                s,
                &step.left_key,
                &plan.scope.columns[..step.left_width],
            )?),
            other => other,
        };
        let right = match right {
            Rows::Stream(s) if step.right_rekey => {
                Rows::Stream(rekeyed(s, &step.right_key, right_columns)?)
            }
            other => other,
        };
        let all: Arc<Vec<SqlType>> = Arc::new(
            left_types
                .iter()
                .chain(right_types.iter())
                .cloned()
                .collect(),
        );
        let split = step.left_width;
        let prefix = if n + 1 < plan.steps.len() {
            format!("L{}_", plan.steps.len() - 1 - n)
        } else {
            String::new()
        };
        acc = join_step(
            step,
            left,
            right,
            (all, split),
            (key_serde.clone(), left_serde, right_serde),
            &prefix,
            &plan.scope.columns[..step.left_width],
        )
        .map_err(bad)?;
    }
    Ok(acc)
}

/// One join of the chain.
fn join_step(
    step: &JoinStep,
    left: Rows,
    right: Rows,
    (types, split): (Arc<Vec<SqlType>>, usize),
    (key, left_serde, right_serde): (SharedSerde<Row>, SharedSerde<Row>, SharedSerde<Row>),
    prefix: &str,
    left_columns: &[ScopeColumn],
) -> Result<Rows, StreamsError> {
    let t = Arc::clone(&types);
    let both = move |l: Option<&Row>, r: Option<&Row>| concat(l, r, &t, split);
    Ok(match (left, right) {
        (Rows::Stream(l), Rows::Stream(r)) => {
            let within = step.within.ok_or_else(|| {
                StreamsError::InvalidArgument("a stream-stream join needs WITHIN".into())
            })?;
            let windows = match within.grace {
                None => JoinWindows::of(ms(within.before))?,
                Some(g) => JoinWindows::of_time_difference_and_grace(ms(within.before), ms(g))?,
            }
            .before(ms(within.before))?
            .after(ms(within.after))?;
            let joined = |name: &str, a: SharedSerde<Row>, b: SharedSerde<Row>| {
                StreamJoined::with(key.clone(), a, b).with_name(&format!("{prefix}{name}"))
            };
            Rows::Stream(match step.kind {
                JoinKind::Inner => l.join_windowed(
                    &r,
                    move |a: &Row, b: &Row| both(Some(a), Some(b)),
                    windows,
                    joined("Join", left_serde, right_serde),
                ),
                JoinKind::Left => l.left_join_windowed(
                    &r,
                    move |a: &Row, b: Option<&Row>| both(Some(a), b),
                    windows,
                    joined("Join", left_serde, right_serde),
                ),
                JoinKind::Right => r.left_join_windowed(
                    &l,
                    move |b: &Row, a: Option<&Row>| both(a, Some(b)),
                    windows,
                    joined("Join", right_serde, left_serde),
                ),
                JoinKind::Outer => l.outer_join_windowed(
                    &r,
                    move |a: Option<&Row>, b: Option<&Row>| both(a, b),
                    windows,
                    joined("Join", left_serde, right_serde),
                ),
            })
        }
        (Rows::Stream(l), Rows::Table(r)) => {
            let joined =
                Joined::with(key, left_serde, right_serde).with_name(&format!("{prefix}Join"));
            Rows::Stream(match step.kind {
                JoinKind::Left => {
                    l.left_join(&r, move |a: &Row, b: Option<&Row>| both(Some(a), b), joined)
                }
                _ => l.join(&r, move |a: &Row, b: &Row| both(Some(a), Some(b)), joined),
            })
        }
        (Rows::Table(l), Rows::Table(r)) if step.foreign_key => {
            let fk_expr = step.left_key.clone();
            let eval = Evaluator::new(&Scope {
                columns: left_columns.to_vec(),
            })
            .map_err(|e| StreamsError::InvalidArgument(e.to_string()))?;
            let foreign_key = move |_: &Row, row: &Row| -> Option<Row> {
                let batch = eval.batch(row).ok()?;
                let fk = Evaluator::eval(&fk_expr, &batch);
                (!fk.is_null()).then(|| vec![fk])
            };
            // (the result's serdes, for joins after it)
            let joined_serde = row_serde(&types).map_err(StreamsError::InvalidArgument)?;
            let materialized = Materialized::with(key, joined_serde);
            Rows::Table(match step.kind {
                JoinKind::Left => l.left_join_on_foreign_key_with(
                    &r,
                    foreign_key,
                    move |a: &Row, b: Option<&Row>| both(Some(a), b),
                    TableJoined::new(),
                    materialized,
                ),
                _ => l.join_on_foreign_key_with(
                    &r,
                    foreign_key,
                    move |a: &Row, b: &Row| both(Some(a), Some(b)),
                    TableJoined::new(),
                    materialized,
                ),
            })
        }
        (Rows::Table(l), Rows::Table(r)) => Rows::Table(match step.kind {
            JoinKind::Inner => l.join(&r, move |a: &Row, b: &Row| both(Some(a), Some(b))),
            JoinKind::Left => l.left_join(&r, move |a: &Row, b: Option<&Row>| both(Some(a), b)),
            JoinKind::Right => r.left_join(&l, move |b: &Row, a: Option<&Row>| both(a, Some(b))),
            JoinKind::Outer => l.outer_join(&r, move |a: Option<&Row>, b: Option<&Row>| both(a, b)),
        }),
        (Rows::Table(_), Rows::Stream(_)) => {
            return Err(StreamsError::InvalidArgument(
                "a table cannot be joined with a stream".into(),
            ))
        }
    })
}
