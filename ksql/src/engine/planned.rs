//! Planned queries and their topologies: filters and projections, aggregations, joins.

use std::collections::BTreeMap;
use std::sync::Arc;

use tributary_streams::{StreamsBuilder, Topology};

use super::{source_serdes, KsqlError};
use crate::catalog::{Catalog, DataSource};
use crate::exec::eval::Evaluator;
use crate::exec::stateless::StatelessProcessor;
use crate::exec::Output;
use crate::format::Format;
use crate::parser::ast::SourceKind;
use crate::plan;
use crate::types::SqlType;

/// Columns by name and type.
pub(super) type Columns = Vec<(String, SqlType)>;

/// A planned query: persistent (its output a sink's records) or transient (a push query's
/// rows).
pub(super) enum Planned {
    /// Filters and projections.
    Stateless(plan::StatelessPlan),
    /// A `GROUP BY` aggregation.
    Aggregate(plan::aggregate::AggregatePlan),
    /// A join.
    Join(plan::join::JoinPlan),
}

impl Planned {
    /// Plans `q`, whose output is `sink` (a push query's: `None`), with the session's
    /// properties.
    pub(super) fn new(
        catalog: &Catalog,
        q: &crate::parser::ast::Query,
        sink: Option<&str>,
        session: &BTreeMap<String, String>,
    ) -> Result<Planned, KsqlError> {
        let transient = sink.is_none();
        let sink = sink.unwrap_or_default();
        if !q.from.joins.is_empty() && !plan::aggregate::is_aggregation(q) {
            Ok(Planned::Join(plan::join::plan_join(
                catalog, q, sink, transient,
            )?))
        } else if plan::aggregate::is_aggregation(q) {
            let limit = |name: &str| {
                session
                    .get(name)
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
            };
            let limits = crate::functions::aggregate::Limits {
                collect_list: limit("ksql.functions.collect_list.limit"),
                collect_set: limit("ksql.functions.collect_set.limit"),
            };
            Ok(Planned::Aggregate(plan::aggregate::plan_aggregate(
                catalog, q, sink, limits, transient,
            )?))
        } else if transient {
            Ok(Planned::Stateless(plan::plan_transient(catalog, q)?))
        } else {
            // (ksqlDB's new planner lets a stream query leave its keys out: keyless output)
            let keyless = session
                .get("ksql.new.query.planner.enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            Ok(Planned::Stateless(plan::plan_stateless(
                catalog, q, sink, keyless,
            )?))
        }
    }

    /// The source read (the first, for a join).
    pub(super) fn source(&self) -> &DataSource {
        match self {
            Planned::Stateless(p) => &p.source,
            Planned::Aggregate(p) => &p.source,
            Planned::Join(p) => &p.inputs[0].source,
        }
    }

    /// Every source read.
    pub(super) fn sources(&self) -> Vec<&DataSource> {
        match self {
            Planned::Join(p) => p.inputs.iter().map(|i| &i.source).collect(),
            Planned::Aggregate(p) => match &p.join {
                Some(j) => j.inputs.iter().map(|i| &i.source).collect(),
                None => vec![&p.source],
            },
            other => vec![other.source()],
        }
    }

    /// What the query makes: an aggregation a table, else what it reads.
    pub(super) fn kind(&self) -> SourceKind {
        match self {
            Planned::Stateless(p) => p.source.kind,
            Planned::Aggregate(_) => SourceKind::Table,
            Planned::Join(p) => p.kind,
        }
    }

    /// The output's key and value columns.
    pub(super) fn columns(&self) -> (Columns, Columns) {
        match self {
            Planned::Stateless(p) => (p.key_columns(), p.value_columns()),
            Planned::Aggregate(p) => (p.key.clone(), p.value_columns()),
            Planned::Join(p) => (p.key_columns(), p.value_columns()),
        }
    }

    /// How the output's keys are windowed: as the source's, or by the aggregation's window.
    pub(super) fn windowing(&self) -> Option<crate::catalog::Windowing> {
        use crate::catalog::Windowing;
        use crate::parser::ast::WindowKind;
        match self {
            Planned::Stateless(p) => p.source.windowing,
            Planned::Aggregate(p) => match p.window.map(|w| w.kind) {
                Some(WindowKind::Tumbling { size }) => Some(Windowing::Time {
                    size,
                    hopping: false,
                }),
                Some(WindowKind::Hopping { size, .. }) => Some(Windowing::Time {
                    size,
                    hopping: true,
                }),
                Some(WindowKind::Session { .. }) => Some(Windowing::Session),
                None => p.source.windowing,
            },
            // (a join of windowed sources keeps their windows: they all have the same)
            Planned::Join(p) => {
                p.inputs.iter().map(|i| i.source.windowing).reduce(
                    |a, b| {
                        if a == b {
                            a
                        } else {
                            None
                        }
                    },
                )?
            }
        }
    }

    /// Checks that `sink`'s formats can hold what the query keeps.
    pub(super) fn check_sink(&self, sink: &DataSource) -> Result<(), KsqlError> {
        if let Planned::Aggregate(p) = self {
            // (ksqlDB keeps the states in the value format)
            if matches!(sink.value_format, Format::Delimited(_))
                && p.calls.iter().any(|c| c.udaf.structured_state())
            {
                return Err(KsqlError::Kafka(
                    "One of the functions used in the statement has an intermediate type that the value format can not handle. Please remove the function or change the format.\nConsider up-voting https://github.com/confluentinc/ksql/issues/3950, which will resolve this limitation".into(),
                ));
            }
        }
        Ok(())
    }

    /// The query's topology, its output written to `output`.
    pub(super) fn topology(
        self,
        output: Output,
        fail_on_bad_timestamp: bool,
    ) -> Result<Topology, KsqlError> {
        match self {
            Planned::Stateless(plan) => {
                let eval = Evaluator::new(&plan.scope)?;
                let (key, value) = source_serdes(&plan.source)?;
                let topic = plan.source.topic.clone();
                let plan = Arc::new(plan);
                let builder = StreamsBuilder::new();
                let consumed = crate::exec::timestamps::consumed(
                    &plan.source,
                    (key, value),
                    fail_on_bad_timestamp,
                )
                .map_err(KsqlError::Statement)?;
                let out = builder.stream(&topic, consumed).process(
                    move || StatelessProcessor::new(Arc::clone(&plan), eval.clone()),
                    &[],
                );
                output.write(out, |k| k);
                builder
                    .build()
                    .map_err(|e| KsqlError::Statement(e.to_string()))
            }
            Planned::Aggregate(plan) => {
                let inputs = match &plan.join {
                    Some(j) => j
                        .inputs
                        .iter()
                        .map(|i| source_serdes(&i.source))
                        .collect::<Result<Vec<_>, _>>()?,
                    None => vec![source_serdes(&plan.source)?],
                };
                crate::exec::aggregate::topology(plan, inputs, output, fail_on_bad_timestamp)
                    .map_err(KsqlError::Statement)
            }
            Planned::Join(plan) => {
                let inputs = plan
                    .inputs
                    .iter()
                    .map(|i| source_serdes(&i.source))
                    .collect::<Result<Vec<_>, _>>()?;
                crate::exec::join::topology(plan, inputs, output, fail_on_bad_timestamp)
                    .map_err(KsqlError::Statement)
            }
        }
    }
}
