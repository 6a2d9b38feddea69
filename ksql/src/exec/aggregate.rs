//! An aggregation's topology: the source's rows grouped by the grouping expressions (through
//! a repartition topic), each group's state kept in a store whose changelog holds it, and
//! every change of a group written out as a row of the output table (or deleted where
//! `HAVING` stops holding).
//!
//! A stream's rows are added to their group; a table's changes move rows between groups: the
//! old row is taken out of its group (undo) and the new one added to its own.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use datafusion_common::ScalarValue;
use tributary_streams::process::{Processor, ProcessorContext, Record};
use tributary_streams::{
    BufferConfig, Grouped, KTable, Materialized, SessionWindowedSerde, SessionWindows, SharedSerde,
    StreamsBuilder, StreamsError, Suppressed, TimeWindowedSerde, TimeWindows, Topology, Window,
    Windowed,
};

use super::eval::Evaluator;
use super::join::Rows;
use super::serde::{KeySerde, RowSerdes, StateSerde, ValueSerde};
use super::{Output, OutputKey};
use crate::format::{Format, RowFormat};
use crate::parser::ast::{SourceKind, WindowKind};
use crate::plan::aggregate::{AggregatePlan, Call};
use crate::value::Row;

/// The name Kafka Streams' topics and store take in ksqlDB's aggregations.
const GROUP_BY: &str = "Aggregate-GroupBy";
const STORE: &str = "Aggregate-Aggregate-Materialize";

/// Evaluates the source side of an aggregation: a source row's group key and its calls'
/// arguments.
#[derive(Clone)]
struct Grouper {
    plan: Arc<AggregatePlan>,
    eval: Evaluator,
}

impl Grouper {
    /// The group key and the arguments of `value` (with key `key`), or `None` when `WHERE`
    /// drops the row or a grouping expression is null (ksqlDB leaves such rows out).
    fn group(
        &self,
        key: &Row,
        value: &Row,
        meta: (Option<i64>, Option<i32>, Option<i64>),
    ) -> Option<(Row, Row)> {
        let mut row: Row = Vec::with_capacity(self.plan.scope.columns.len());
        row.extend(key.iter().cloned());
        row.extend(value.iter().cloned());
        row.push(ScalarValue::Int64(meta.0));
        row.push(ScalarValue::Int32(meta.1));
        row.push(ScalarValue::Int64(meta.2));
        self.group_row(&row)
    }

    /// [`Grouper::group`] of a joined row (keyed by the join key, which the joined row ends
    /// with when it is a synthetic key).
    fn group_joined(&self, key: &Row, mut row: Row) -> Option<(Row, Row)> {
        if self.plan.join.as_ref().is_some_and(|j| j.synthetic_key) {
            row.push(key.first().cloned().unwrap_or(ScalarValue::Null));
        }
        self.group_row(&row)
    }

    /// The group key and the arguments of a row of the scope's columns.
    fn group_row(&self, row: &Row) -> Option<(Row, Row)> {
        let batch = match self.eval.batch(row) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot evaluate a record: skipped");
                return None;
            }
        };
        if let Some(f) = &self.plan.filter {
            if !Evaluator::is_true(f, &batch) {
                return None;
            }
        }
        let mut group = Vec::with_capacity(self.plan.group.len());
        for (i, g) in self.plan.group.iter().enumerate() {
            let v = Evaluator::eval(g, &batch);
            if v.is_null() {
                tracing::warn!(
                    "Group-by column with index {i} resolved to null. The source row will be excluded from the table."
                );
                return None;
            }
            group.push(v);
        }
        let args = self
            .plan
            .calls
            .iter()
            .flat_map(|c| c.args.iter())
            .map(|a| Evaluator::eval(a, &batch))
            .collect();
        Some((group, args))
    }
}

/// The stream side: each record becomes its group's key and its arguments.
struct GroupStream {
    grouper: Grouper,
}

impl Processor<Row, Option<Row>, Row, Option<Row>> for GroupStream {
    fn process(
        &mut self,
        record: Record<Row, Option<Row>>,
        ctx: &mut ProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        // a record of no value is not aggregated
        let Some(value) = &record.value else {
            return Ok(());
        };
        let (partition, offset) = ctx
            .record_metadata()
            .map_or((None, None), |m| (Some(m.partition()), Some(m.offset())));
        let meta = (Some(record.timestamp), partition, offset);
        if let Some((key, args)) = self.grouper.group(&record.key, value, meta) {
            ctx.forward(Record {
                key,
                value: Some(args),
                timestamp: record.timestamp,
                headers: record.headers,
            })?;
        }
        Ok(())
    }
}

/// The joined rows' side: each joined row becomes its group's key and its arguments.
struct GroupJoined {
    grouper: Grouper,
}

impl Processor<Row, Row, Row, Option<Row>> for GroupJoined {
    fn process(
        &mut self,
        record: Record<Row, Row>,
        ctx: &mut ProcessorContext<'_, Row, Option<Row>>,
    ) -> Result<(), StreamsError> {
        if let Some((key, args)) = self.grouper.group_joined(&record.key, record.value) {
            ctx.forward(Record {
                key,
                value: Some(args),
                timestamp: record.timestamp,
                headers: record.headers,
            })?;
        }
        Ok(())
    }
}

/// Folds arguments into states and reads results out of them.
#[derive(Clone)]
struct Folder {
    plan: Arc<AggregatePlan>,
    eval: Evaluator,
    /// Where each call's state lies in the state row, and where its arguments lie in the
    /// arguments row (worked out once: the functions' state types are built on demand).
    spans: Arc<Vec<(Range<usize>, Range<usize>)>>,
}

impl Folder {
    fn new(plan: Arc<AggregatePlan>, eval: Evaluator) -> Folder {
        let (mut s, mut a) = (0, 0);
        let spans = plan
            .calls
            .iter()
            .map(|c| {
                let (width, n) = (c.udaf.state_types().len(), c.args.len());
                let span = (s..s + width, a..a + n);
                s += width;
                a += n;
                span
            })
            .collect();
        Folder {
            plan,
            eval,
            spans: Arc::new(spans),
        }
    }

    /// Each call with its state's and its arguments' places.
    fn calls(&self) -> impl Iterator<Item = (&Call, &(Range<usize>, Range<usize>))> {
        self.plan.calls.iter().zip(self.spans.iter())
    }

    fn init(&self) -> Row {
        self.plan.calls.iter().flat_map(|c| c.udaf.init()).collect()
    }

    /// Adds (or, `undo`, takes out) one row's arguments.
    fn fold(&self, args: &Row, mut state: Row, undo: bool) -> Row {
        for (c, (s, a)) in self.calls() {
            let (Some(slot), Some(values)) = (state.get_mut(s.clone()), args.get(a.clone())) else {
                break;
            };
            let done = if undo {
                c.udaf.undo(slot, values)
            } else {
                c.udaf.add(slot, values)
            };
            if let Err(e) = done {
                tracing::error!("{}: {e}", c.udaf.name());
            }
        }
        state
    }

    /// Merges the state of a later session into an earlier one's.
    fn merge(&self, mut state: Row, later: &Row) -> Row {
        for (c, (s, _)) in self.calls() {
            if let (Some(slot), Some(other)) = (state.get_mut(s.clone()), later.get(s.clone())) {
                if let Err(e) = c.udaf.merge(slot, other) {
                    tracing::error!("{}: {e}", c.udaf.name());
                }
            }
        }
        state
    }

    /// The aggregated row of a group: its key, each call's result, then the window's bounds.
    fn row(&self, key: &Row, state: &Row, window: Option<Window>) -> Row {
        let mut row: Row = key.clone();
        for (c, (s, _)) in self.calls() {
            row.push(match state.get(s.clone()) {
                Some(slot) => c.udaf.result(slot),
                None => crate::value::null(&c.udaf.result_type()),
            });
        }
        if let Some(w) = window {
            row.push(ScalarValue::Int64(Some(w.start)));
            row.push(ScalarValue::Int64(Some(w.end)));
        }
        row
    }

    fn having(&self, key: &Row, state: &Row, window: Option<Window>) -> bool {
        let Some(h) = &self.plan.having else {
            return true;
        };
        match self.eval.batch(&self.row(key, state, window)) {
            Ok(batch) => Evaluator::is_true(h, &batch),
            Err(e) => {
                tracing::warn!(error = %e, "Error evaluating predicate HAVING");
                false
            }
        }
    }

    fn project(&self, key: &Row, state: &Row, window: Option<Window>) -> Option<Row> {
        let batch = match self.eval.batch(&self.row(key, state, window)) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot evaluate an aggregate: skipped");
                return None;
            }
        };
        Some(
            self.plan
                .value
                .iter()
                .map(|(_, c)| Evaluator::eval(c, &batch))
                .collect(),
        )
    }
}

/// The aggregated table written out: `HAVING` (a group that stops matching is deleted), then
/// the projection. A push query's records are keyed by nothing, and a deleted group's key is
/// its projection with null aggregates (see [`Output::Rows`]).
fn write<K: OutputKey + Clone>(
    table: KTable<K, Row>,
    folder: Folder,
    output: Output,
    key: impl FnOnce(SharedSerde<Row>) -> SharedSerde<K>,
) {
    let (having, project) = (folder.clone(), folder);
    let stream = table
        .filter(move |k: &K, state: &Row| {
            let (key, window) = k.parts();
            having.having(key, state, window)
        })
        .to_stream();
    if let Output::Rows(_) = output {
        let rows = stream.map(move |k: &K, state: &Option<Row>| {
            let (key, window) = k.parts();
            match state {
                Some(s) => (Row::new(), project.project(key, s, window)),
                None => (
                    project
                        .project(key, &Row::new(), window)
                        .unwrap_or_default(),
                    None,
                ),
            }
        });
        return output.write(rows, |k| k);
    }
    let stream = stream.map_values_with_key(move |k: &K, state: &Option<Row>| {
        let (key, window) = k.parts();
        state.as_ref().and_then(|s| project.project(key, s, window))
    });
    output.write(stream, key);
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// ksqlDB's grace period when a window names none: what is left of 24 hours after the
/// window's size (or a session's gap).
fn default_grace(size: i64) -> i64 {
    (24 * 60 * 60 * 1000 - size).max(0)
}

/// The topology of `plan`, reading its source (or each source of its join) with `inputs`'
/// serdes and writing to `output`.
pub fn topology(
    plan: AggregatePlan,
    mut inputs: Vec<RowSerdes>,
    output: Output,
    fail_on_bad_timestamp: bool,
) -> Result<Topology, String> {
    let plan = Arc::new(plan);
    let source = plan.source.clone();
    let internal = |columns: Vec<(String, crate::types::SqlType)>, is_key: bool| {
        RowFormat::new(Format::Json, columns, false, is_key)
    };
    let group_key = Arc::new(KeySerde(internal(plan.key.clone(), true)?));
    let arg_columns = plan
        .calls
        .iter()
        .flat_map(|c| c.args.iter())
        .enumerate()
        .map(|(i, a)| (format!("A{i}"), a.ty.clone()))
        .collect();
    let args = Arc::new(ValueSerde::new(internal(arg_columns, false)?));
    let state_columns = plan
        .state_types()
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("S{i}"), t))
        .collect();
    let state = Arc::new(StateSerde(internal(state_columns, false)?));
    let grouper = Grouper {
        eval: Evaluator::new(&plan.scope).map_err(|e| e.to_string())?,
        plan: Arc::clone(&plan),
    };
    let folder = Folder::new(
        Arc::clone(&plan),
        Evaluator::new(&plan.post).map_err(|e| e.to_string())?,
    );
    let materialized = || {
        Materialized::with(group_key.clone(), state.clone())
            .with_name(STORE)
            .with_caching_disabled()
    };
    let grouped = Grouped::with(group_key.clone(), args.clone()).with_name(GROUP_BY);
    let builder = StreamsBuilder::new();
    let (init, add) = (folder.clone(), folder.clone());
    let bad = |e: StreamsError| e.to_string();
    // the rows aggregated: the source's, or the join's
    let joined = match &plan.join {
        Some(join) => Some(super::join::joined(
            &builder,
            join,
            std::mem::take(&mut inputs),
            fail_on_bad_timestamp,
        )?),
        None => None,
    };
    let consumed = || match inputs.first() {
        Some(serdes) => {
            crate::exec::timestamps::consumed(&source, serdes.clone(), fail_on_bad_timestamp)
        }
        None => Err("an aggregation without its source's serdes".to_string()),
    };
    match plan.input_kind() {
        SourceKind::Stream => {
            let groups = match joined {
                Some(Rows::Stream(rows)) => rows.process(
                    move || GroupJoined {
                        grouper: grouper.clone(),
                    },
                    &[],
                ),
                Some(Rows::Table(_)) => {
                    return Err("a join of tables aggregated as a stream".to_string())
                }
                None => builder.stream(&source.topic, consumed()?).process(
                    move || GroupStream {
                        grouper: grouper.clone(),
                    },
                    &[],
                ),
            };
            let grouped = groups.group_by_key(grouped);
            let init = move || init.init();
            let add = move |_: &Row, args: &Option<Row>, state: Row| match args {
                Some(a) => add.fold(a, state, false),
                None => state,
            };
            match plan.window {
                None => {
                    let table = grouped.aggregate(init, add, materialized());
                    write(table, folder, output, |k| k);
                }
                Some(w) => {
                    let size = match w.kind {
                        WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } => size,
                        WindowKind::Session { gap } => gap,
                    };
                    let grace = ms(w.grace.unwrap_or_else(|| default_grace(size)));
                    // EMIT FINAL: a window's result once the window closed
                    let last = |t: KTable<Windowed<Row>, Row>| {
                        if plan.emit_final {
                            t.suppress(
                                Suppressed::until_window_closes(BufferConfig::unbounded())
                                    .with_name("Suppress"),
                            )
                        } else {
                            t
                        }
                    };
                    match w.kind {
                        WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } => {
                            let advance = match w.kind {
                                WindowKind::Hopping { advance, .. } => advance,
                                _ => size,
                            };
                            let windows = TimeWindows::of_size_and_grace(ms(size), grace)
                                .and_then(|t| t.advance_by(ms(advance)))
                                .map_err(bad)?;
                            let table = last(grouped.windowed_by(windows).aggregate(
                                init,
                                add,
                                materialized(),
                            ));
                            write(table, folder, output, |k| {
                                Arc::new(TimeWindowedSerde::new(k, size))
                            });
                        }
                        WindowKind::Session { gap } => {
                            let windows =
                                SessionWindows::of_inactivity_gap_and_grace(ms(gap), grace)
                                    .map_err(bad)?;
                            let merger = folder.clone();
                            let table = last(grouped.windowed_by_session(windows).aggregate(
                                init,
                                add,
                                move |_: &Row, a: Row, b: Row| merger.merge(a, &b),
                                materialized(),
                            ));
                            write(table, folder, output, |k| {
                                Arc::new(SessionWindowedSerde::new(k))
                            });
                        }
                    }
                }
            }
        }
        SourceKind::Table => {
            let undo = folder.clone();
            // (a row no group takes is skipped: its value is null)
            let groups = match joined {
                Some(Rows::Table(rows)) => rows.group_by(
                    move |key: &Row, row: &Row| match grouper.group_joined(key, row.clone()) {
                        Some((k, a)) => (k, Some(a)),
                        None => (key.clone(), None),
                    },
                    grouped,
                ),
                Some(Rows::Stream(_)) => {
                    return Err("a join with a stream aggregated as a table".to_string())
                }
                None => builder
                    .table(
                        &source.topic,
                        consumed()?,
                        crate::exec::serde::source_table_store(&source)?,
                    )
                    .group_by(
                        move |key: &Row, value: &Option<Row>| match value {
                            Some(v) => match grouper.group(key, v, (None, None, None)) {
                                Some((k, a)) => (k, Some(a)),
                                None => (key.clone(), None),
                            },
                            None => (key.clone(), None),
                        },
                        grouped,
                    ),
            };
            let table = groups.aggregate(
                move || init.init(),
                move |_: &Row, args: &Option<Row>, state: Row| match args {
                    Some(a) => add.fold(a, state, false),
                    None => state,
                },
                move |_: &Row, args: &Option<Row>, state: Row| match args {
                    Some(a) => undo.fold(a, state, true),
                    None => state,
                },
                materialized(),
            );
            write(table, folder, output, |k| k);
        }
    }
    builder.build().map_err(|e| e.to_string())
}
