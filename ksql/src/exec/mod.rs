//! Running plans: expressions evaluated over rows, rows in formats as streams serdes, and the
//! processors of queries.

pub mod aggregate;
pub mod eval;
pub mod insert;
pub mod join;
pub mod serde;
pub mod stateless;
pub mod timestamps;

use std::sync::Arc;

use tributary_streams::{KStream, Produced, SharedSerde, Window, Windowed};

use crate::value::Row;
use serde::RowSerdes;

/// Where a query's output records go.
pub enum Output {
    /// A topic (a persistent query's sink), written with the serdes of its formats.
    Topic {
        /// The topic.
        name: String,
        /// The serdes of its keys (unwindowed) and values.
        serdes: RowSerdes,
        /// The column each row's timestamp comes from (`WITH (TIMESTAMP=...)`), if any.
        timestamp: Option<timestamps::TimestampColumn>,
    },
    /// A push query's client. Its plan is transient: each record's value is a row of the
    /// projection; a record without a value is a deletion (of a table's key, or of an
    /// aggregation's group that stops matching `HAVING`), whose key is the projection of the
    /// deleted row with nulls where its values were, when the plan knows them.
    Rows(RowSink),
}

/// Takes each output record of a push query: its key row and its value (`None`: a deletion).
pub type RowSink = Arc<dyn Fn(&Row, Option<&Row>) + Send + Sync>;

/// The key of an output record: a row, or a row in a window.
pub trait OutputKey: Send + Sync + 'static {
    /// The key's columns and its window.
    fn parts(&self) -> (&Row, Option<Window>);
}

impl OutputKey for Row {
    fn parts(&self) -> (&Row, Option<Window>) {
        (self, None)
    }
}

impl OutputKey for Windowed<Row> {
    fn parts(&self) -> (&Row, Option<Window>) {
        (&self.key, Some(self.window))
    }
}

impl Output {
    /// Ends `stream` here; `key` makes the serde of the stream's keys from that of their
    /// columns (windowed keys wrap it).
    pub(crate) fn write<K: OutputKey + Clone>(
        self,
        stream: KStream<K, Option<Row>>,
        key: impl FnOnce(SharedSerde<Row>) -> SharedSerde<K>,
    ) {
        match self {
            Output::Topic {
                name,
                serdes: (k, v),
                timestamp,
            } => {
                let stream = match timestamp {
                    Some(column) => stream.process(
                        move || timestamps::SetTimestamp {
                            column: column.clone(),
                        },
                        &[],
                    ),
                    None => stream,
                };
                stream.to(&name, Produced::with(key(k), v))
            }
            Output::Rows(sink) => {
                stream.foreach(move |k: &K, v: &Option<Row>| sink(k.parts().0, v.as_ref()))
            }
        }
    }
}
