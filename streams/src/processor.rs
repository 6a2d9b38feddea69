//! The runtime side of a topology: records as they travel between processor nodes, and the
//! nodes themselves.
//!
//! The DSL is typed (`KStream<K, V>`); the graph is not. Between nodes a key or value is an
//! `Arc<dyn Any>`, shared (not copied) when a node forwards one record to several children, and
//! each typed node looks its types up again. A record goes through its whole sub-topology
//! depth-first before the next one starts, as in Kafka Streams.

use std::any::Any;
use std::sync::Arc;

use crate::serde::SerdeError;

/// A key or value between nodes.
pub(crate) type Dyn = Arc<dyn Any + Send + Sync>;

/// A record header: name and value (null allowed), as Kafka keeps them.
pub type Header = (String, Option<Vec<u8>>);

/// A record between nodes.
#[derive(Clone)]
pub(crate) struct DynRecord {
    pub key: Dyn,
    pub value: Dyn,
    pub timestamp: i64,
    pub headers: Arc<Vec<Header>>,
}

/// A record a sink writes: the bytes for a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// The topic.
    pub topic: String,
    /// Key bytes (`None`: null).
    pub key: Option<Vec<u8>>,
    /// Value bytes (`None`: null).
    pub value: Option<Vec<u8>>,
    /// Timestamp (ms), the input record's for stateless operations.
    pub timestamp: i64,
    /// Headers.
    pub headers: Vec<Header>,
}

/// What processing a record went wrong on.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// A key or value could not be read or written.
    #[error("{what} of a record of topic {topic}: {source}")]
    Serde {
        /// "key" or "value".
        what: &'static str,
        /// The topic.
        topic: String,
        /// Why.
        source: SerdeError,
    },
    /// A topology that cannot be built or run as it stands.
    #[error("Invalid topology: {0}")]
    Topology(String),
    /// Input for a topic no source reads.
    #[error("Unknown topic: {0}")]
    UnknownTopic(String),
    /// A test output topic read with nothing to read: nothing was ever written to it
    /// (`Uninitialized topic: <name>`) or everything was read (`Empty topic: <name>`).
    #[error("{0}")]
    NoRecord(String),
}

/// What a node does with a record.
pub(crate) enum Forward {
    /// To every child.
    All(DynRecord),
    /// To its `n`-th child only.
    Child(usize, DynRecord),
    /// Out of the topology, to a topic.
    Produce(OutputRecord),
}

/// A node of a running task.
pub(crate) trait Node: Send {
    /// Handles one record, pushing what follows from it to `out` in order.
    fn process(&mut self, record: DynRecord, out: &mut Vec<Forward>) -> Result<(), StreamsError>;
}

/// Makes a node for each task.
pub(crate) type NodeFactory = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// Turns the bytes of an input record into a key and a value.
pub(crate) type Decoder = Arc<
    dyn Fn(&str, Option<&[u8]>, Option<&[u8]>) -> Result<(Dyn, Dyn), StreamsError> + Send + Sync,
>;

/// A typed view of a record's key, which the graph guarantees (the DSL wired the types).
pub(crate) fn typed<T: 'static>(value: &Dyn) -> Result<&T, StreamsError> {
    value.downcast_ref::<T>().ok_or_else(|| {
        StreamsError::Topology(format!(
            "a node expected a {} between processors",
            std::any::type_name::<T>()
        ))
    })
}

/// A node from a closure over the record and the output.
pub(crate) struct FnNode<F>(pub F);

impl<F> Node for FnNode<F>
where
    F: FnMut(DynRecord, &mut Vec<Forward>) -> Result<(), StreamsError> + Send,
{
    fn process(&mut self, record: DynRecord, out: &mut Vec<Forward>) -> Result<(), StreamsError> {
        (self.0)(record, out)
    }
}

/// A factory of [`FnNode`]s sharing one stateless function.
pub(crate) fn stateless<F>(f: F) -> NodeFactory
where
    F: Fn(DynRecord, &mut Vec<Forward>) -> Result<(), StreamsError> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Arc::new(move || {
        let f = Arc::clone(&f);
        Box::new(FnNode(move |r: DynRecord, out: &mut Vec<Forward>| {
            f(r, out)
        })) as Box<dyn Node>
    })
}
