//! `EXPLAIN query_id`: what a persistent query runs. Its statement, output columns, sources
//! and sink; an outline of its plan (the steps from the sink down to the sources, as ksqlDB's
//! execution plan is laid out); and its streams topology as Kafka Streams describes one
//! (sub-topologies, sources, processors, stores, sinks).

use std::collections::BTreeMap;

use super::planned::Planned;
use super::{schema_text, Engine, KsqlError};
use crate::catalog::DataSource;
use crate::parser::ast::{JoinKind, WindowKind};

/// A running persistent query, explained.
#[derive(Debug, Clone)]
pub struct QueryExplanation {
    /// Its id.
    pub id: String,
    /// Its statement.
    pub statement: String,
    /// The source it writes.
    pub sink: DataSource,
    /// The sources it reads.
    pub sources: Vec<String>,
    /// The outline of its plan.
    pub plan: String,
    /// Its topology, described.
    pub topology: String,
    /// The session properties it was started with.
    pub overridden: BTreeMap<String, String>,
    /// ksqlDB's state word: `RUNNING` or `ERROR`.
    pub state: &'static str,
}

/// What a query keeps for `EXPLAIN` once it started.
#[derive(Debug, Clone, Default)]
pub(super) struct Explained {
    pub plan: String,
    pub topology: String,
    pub overridden: BTreeMap<String, String>,
}

impl Engine {
    /// `EXPLAIN id`: the running persistent query `id`, explained.
    pub fn explain(&self, id: &str) -> Result<QueryExplanation, KsqlError> {
        let (Some(query), Some(running)) = (self.catalog.queries.get(id), self.running.get(id))
        else {
            return Err(KsqlError::Statement(format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of running queries.")));
        };
        let sink = self
            .catalog
            .source(&query.sink)
            .map_err(KsqlError::Statement)?
            .clone();
        let state = match running.streams.state() {
            tributary_streams::State::Error | tributary_streams::State::PendingError => "ERROR",
            _ => "RUNNING",
        };
        Ok(QueryExplanation {
            id: id.to_string(),
            statement: query.sql.clone(),
            sink,
            sources: query.sources.clone(),
            plan: running.explained.plan.clone(),
            topology: running.explained.topology.clone(),
            overridden: running.explained.overridden.clone(),
            state,
        })
    }
}

/// One step of a plan and the steps it reads.
struct Step {
    label: String,
    inputs: Vec<Step>,
}

impl Step {
    fn new(label: impl Into<String>, input: Step) -> Step {
        Step {
            label: label.into(),
            inputs: vec![input],
        }
    }

    fn source(s: &DataSource) -> Step {
        Step {
            label: format!(
                "[ SOURCE ] | {} | Schema: {} | Topic: {}",
                s.name,
                schema_text(&s.key, &s.value),
                s.topic
            ),
            inputs: Vec::new(),
        }
    }

    fn render(&self, depth: usize, out: &mut String) {
        out.push_str(&"\t\t".repeat(depth));
        out.push_str(" > ");
        out.push_str(&self.label);
        out.push('\n');
        for i in &self.inputs {
            i.render(depth + 1, out);
        }
    }
}

/// The outline of `planned`, which writes `sink`.
pub(super) fn outline(planned: &Planned, sink: &DataSource) -> String {
    let mut step = match planned {
        Planned::Stateless(p) => {
            let mut s = Step::source(&p.source);
            if p.filter.is_some() {
                s = Step::new("[ FILTER ]", s);
            }
            if !p.explode.is_empty() {
                s = Step::new("[ FLAT MAP ] (table functions)", s);
            }
            s
        }
        Planned::Aggregate(p) => {
            let mut s = Step::source(&p.source);
            if p.filter.is_some() {
                s = Step::new("[ FILTER ]", s);
            }
            s = Step::new(format!("[ GROUP BY ] | {} key column(s)", p.group.len()), s);
            let window = match p.window.as_ref().map(|w| w.kind) {
                Some(WindowKind::Tumbling { size }) => format!(" | Window: TUMBLING {size} ms"),
                Some(WindowKind::Hopping { size, advance }) => {
                    format!(" | Window: HOPPING {size} ms, advancing {advance} ms")
                }
                Some(WindowKind::Session { gap }) => format!(" | Window: SESSION gap {gap} ms"),
                None => String::new(),
            };
            s = Step::new(
                format!("[ AGGREGATE ] | {} aggregate(s){window}", p.calls.len()),
                s,
            );
            if p.having.is_some() {
                s = Step::new("[ HAVING ]", s);
            }
            if p.emit_final {
                s = Step::new("[ SUPPRESS ] | until the window closes", s);
            }
            s
        }
        Planned::Join(p) => {
            let mut inputs = p.inputs.iter();
            let mut s = match inputs.next() {
                Some(first) => Step::source(&first.source),
                None => Step::new("[ NOTHING ]", Step::source(sink)),
            };
            for (input, join) in inputs.zip(&p.steps) {
                let kind = match join.kind {
                    JoinKind::Inner => "INNER",
                    JoinKind::Left => "LEFT",
                    JoinKind::Right => "RIGHT",
                    JoinKind::Outer => "OUTER",
                };
                let within = match &join.within {
                    Some(w) => format!(" | Within: {} ms before, {} ms after", w.before, w.after),
                    None => String::new(),
                };
                s = Step {
                    label: format!("[ JOIN ] | {kind}{within}"),
                    inputs: vec![s, Step::source(&input.source)],
                };
            }
            if p.filter.is_some() {
                s = Step::new("[ FILTER ]", s);
            }
            s
        }
    };
    let (key, value) = planned.columns();
    step = Step::new(
        format!("[ PROJECT ] | Schema: {}", schema_text(&key, &value)),
        step,
    );
    step = Step::new(
        format!(
            "[ SINK ] | {} | Schema: {} | Topic: {}",
            sink.name,
            schema_text(&sink.key, &sink.value),
            sink.topic
        ),
        step,
    );
    let mut out = String::new();
    step.render(0, &mut out);
    out
}
