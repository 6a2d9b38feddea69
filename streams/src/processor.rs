//! The runtime side of a topology: records as they travel between processor nodes, and the
//! nodes themselves.
//!
//! The DSL is typed (`KStream<K, V>`); the graph is not. Between nodes a key or value is an
//! `Arc<dyn Any>`, shared (not copied) when a node forwards one record to several children, and
//! each typed node looks its types up again. A record goes through its whole sub-topology
//! depth-first before the next one starts, as in Kafka Streams.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::serde::SerdeError;
use crate::store::KeyValueBytes;

/// A key or value between nodes.
pub(crate) type Dyn = Arc<dyn Any + Send + Sync>;

/// A record header: name and value (null allowed), as Kafka keeps them.
pub type Header = (String, Option<Vec<u8>>);

/// The headers of a record read with an rdkafka consumer, in order (a key may repeat).
pub fn headers_of<M: rdkafka::message::Message>(m: &M) -> Vec<Header> {
    use rdkafka::message::Headers as _;
    m.headers()
        .map(|h| {
            h.iter()
                .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}

/// A task: one partition of one sub-topology, printed `<subtopology>_<partition>` as Kafka
/// Streams prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    /// The sub-topology.
    pub subtopology: u32,
    /// The partition.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// Where the record being processed was read: its topic, partition and offset (Kafka
/// Streams' `RecordMetadata`). A record a processor forwards keeps its input record's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
}

impl RecordMetadata {
    pub(crate) fn new(topic: Arc<str>, partition: i32, offset: i64) -> Self {
        RecordMetadata {
            topic,
            partition,
            offset,
        }
    }

    /// The topic (an internal topic's full name, `<application.id>-...-repartition`).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The offset.
    pub fn offset(&self) -> i64 {
        self.offset
    }
}

/// The time a punctuation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// Stream time: the largest timestamp of the records the task has processed. It moves only
    /// when records come; a punctuation every `interval` fires at multiples of the interval
    /// once stream time reaches them (one call for a jump over several).
    StreamTime,
    /// The wall clock: fires `interval` after it was scheduled and every `interval` after
    /// that, whether records come or not (skipping the times missed during a pause).
    WallClockTime,
}

/// A record between nodes.
#[derive(Clone)]
pub(crate) struct DynRecord {
    pub key: Dyn,
    pub value: Dyn,
    pub timestamp: i64,
    pub headers: Arc<Vec<Header>>,
}

/// A table's update, as a table node forwards it: the new value and the one it replaced, each
/// an `Option<V>` (`None`: no value, a deletion). The old value is only sent where a node
/// downstream asked for it (Kafka Streams' "send old values"); elsewhere `old` is `None`.
pub(crate) struct Change {
    pub new: Dyn,
    pub old: Option<Dyn>,
}

impl Change {
    /// The new and the old value as `V`s (each `None` when absent or not sent).
    pub fn values<V: 'static>(&self) -> Result<(Option<&V>, Option<&V>), StreamsError> {
        let new = typed::<Option<V>>(&self.new)?.as_ref();
        let old = match &self.old {
            Some(o) => typed::<Option<V>>(o)?.as_ref(),
            None => None,
        };
        Ok((new, old))
    }
}

/// A record a sink writes: the bytes for a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputRecord {
    /// The topic (shared by the records a sink writes).
    pub topic: Arc<str>,
    /// The partition, when the writer chose one (changelogs: the task's); else the
    /// producer's partitioner decides from the key.
    pub partition: Option<i32>,
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
#[non_exhaustive]
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
    /// Source topics that do not exist (Kafka Streams' `MissingSourceTopicException`).
    #[error("One or more source topics were missing during rebalance: {0:?}")]
    MissingSourceTopic(Vec<String>),
    /// A Kafka client or broker error.
    #[error("{0}")]
    Kafka(String),
    /// A setting with a bad or missing value.
    #[error("{0}")]
    Config(String),
    /// A store that does not exist, or that the asker may not use.
    #[error("{0}")]
    UnknownStore(String),
    /// A store that cannot be queried now (the instance is not running, or is rebalancing):
    /// Kafka's `InvalidStateStoreException`. Asking again later may work.
    #[error("{0}")]
    StoreUnavailable(String),
    /// A bad argument to a test topic (a negative timestamp or time step), with Kafka's message.
    #[error("{0}")]
    InvalidArgument(String),
    /// A test output topic read with nothing to read: nothing was ever written to it
    /// (`Uninitialized topic: <name>`) or everything was read (`Empty topic: <name>`).
    #[error("{0}")]
    NoRecord(String),
}

/// What a node can do while it handles a record. Forwarding is synchronous: a forwarded
/// record goes all the way through the children before `forward` returns, as in Kafka Streams.
pub(crate) trait Context {
    /// Sends `record` to every child, one after the other.
    fn forward(&mut self, record: DynRecord) -> Result<(), StreamsError>;
    /// Sends `record` to the `n`-th child only (children in the order they were added).
    fn forward_to(&mut self, child: usize, record: DynRecord) -> Result<(), StreamsError>;
    /// Which child (its place among the children) the node named `name` is.
    fn child_named(&self, name: &str) -> Option<usize>;
    /// Writes `record` out of the topology (a sink).
    fn produce(&mut self, record: OutputRecord);
    /// The application's id (internal topics' names start with it).
    fn application_id(&self) -> &str;
    /// Store `id` of the task.
    fn store(&self, id: usize) -> Result<&dyn KeyValueBytes, StreamsError>;
    /// What store `id` of the task keeps (`None`: the task has no such store).
    fn store_kind(&self, id: usize) -> Option<crate::store::StoreKind>;
    /// Writes `key` = `value` in store `id` and forwards `record` (a table's change of that
    /// key); the changelog record gets `log_timestamp`. When the store has a write cache, the
    /// changelog write and the forward wait for the cache's flush, and a later update of the
    /// key replaces them (the change keeps the first old value).
    fn put_and_forward(
        &mut self,
        id: usize,
        key: &[u8],
        value: Option<&[u8]>,
        log_timestamp: i64,
        record: DynRecord,
    ) -> Result<(), StreamsError>;
    /// The value of `key` in the global store `id` (a global table's), whole on every
    /// instance.
    fn global_get(&self, id: usize, key: &[u8]) -> Result<Option<Vec<u8>>, StreamsError>;
    /// State that several nodes of one task share (the two sides of a stream-stream join),
    /// under an id the builder gave out (`Graph::shared_state_id`).
    fn task_state(&mut self, id: usize) -> &mut Option<Box<dyn Any + Send>>;
    /// Writes `key` = `value` in store `id` (and its changelog, with `log_timestamp`) at once,
    /// forwarding nothing.
    fn put(
        &mut self,
        id: usize,
        key: &[u8],
        value: Option<&[u8]>,
        log_timestamp: i64,
    ) -> Result<(), StreamsError>;
    /// Punctuates this node every `interval_ms` (at least 1) of `kind` of time; the schedule's
    /// id, which [`Node::punctuate`] gets back.
    fn schedule(&mut self, interval_ms: i64, kind: PunctuationType) -> u64;
    /// Cancels a schedule of this node (from within its punctuation too).
    fn cancel(&mut self, schedule: u64);
    /// The task's stream time: the largest timestamp of the records it processed (-1 before
    /// the first).
    fn stream_time(&self) -> i64;
    /// The wall clock as the task last read it (ms since the epoch).
    fn wall_clock(&self) -> i64;
    /// Where the record being processed was read (`None` in a punctuation or at init).
    fn record_metadata(&self) -> Option<&RecordMetadata>;
    /// The task the node runs in.
    fn task_id(&self) -> TaskId;
    /// How many partitions `topic` (a run-time name) has, for a partitioner.
    fn partitions(&self, topic: &str) -> Result<i32, StreamsError>;
}

/// Tells how many partitions a topic has (the runtime asks the brokers).
pub(crate) type PartitionCounts = Arc<dyn Fn(&str) -> Result<i32, StreamsError> + Send + Sync>;

/// Sets `out`'s partition with `partitioner` over its topic's partitions, for a record of `key`
/// and `value`; an error for a partition out of range, as Kafka refuses it.
pub(crate) fn choose_partition<K, V>(
    partitioner: &(dyn Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync),
    out: &mut OutputRecord,
    key: &K,
    value: &V,
    ctx: &dyn Context,
) -> Result<(), StreamsError> {
    let partitions = ctx.partitions(&out.topic)?;
    if let Some(p) = partitioner(&out.topic, key, value, partitions) {
        if !(0..partitions).contains(&p) {
            return Err(StreamsError::InvalidArgument(format!(
                "The partitioner returned partition {p} for topic {}, which has {partitions} partitions",
                out.topic
            )));
        }
        out.partition = Some(p);
    }
    Ok(())
}

/// A node of a running task.
pub(crate) trait Node: Send {
    /// Handles one record.
    fn process(&mut self, record: DynRecord, ctx: &mut dyn Context) -> Result<(), StreamsError>;
    /// Prepares the node once its task's stores are restored, before its first record.
    fn init(&mut self, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        let _ = ctx;
        Ok(())
    }
    /// A punctuation of `schedule` at `timestamp` (stream time or the wall clock).
    fn punctuate(
        &mut self,
        schedule: u64,
        timestamp: i64,
        ctx: &mut dyn Context,
    ) -> Result<(), StreamsError> {
        let _ = (schedule, timestamp, ctx);
        Ok(())
    }
    /// The task is closing (revoked, migrated, failed or the instance stops).
    fn close(&mut self) {}
}

/// Makes a node for each task.
pub(crate) type NodeFactory = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// Picks a decoded record's timestamp: given its key, its value, the record's own timestamp
/// and its partition's time so far.
pub(crate) type DynExtractor =
    Arc<dyn Fn(&Dyn, &Dyn, i64, i64) -> Result<i64, String> + Send + Sync>;

/// Turns the bytes of an input record (and its headers) into a key and a value.
pub(crate) type Decoder = Arc<
    dyn Fn(&str, Option<&[u8]>, Option<&[u8]>, &[Header]) -> Result<(Dyn, Dyn), StreamsError>
        + Send
        + Sync,
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
    F: FnMut(DynRecord, &mut dyn Context) -> Result<(), StreamsError> + Send,
{
    fn process(&mut self, record: DynRecord, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        (self.0)(record, ctx)
    }
}

/// A factory of [`FnNode`]s sharing one stateless function.
pub(crate) fn stateless<F>(f: F) -> NodeFactory
where
    F: Fn(DynRecord, &mut dyn Context) -> Result<(), StreamsError> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Arc::new(move || {
        let f = Arc::clone(&f);
        Box::new(FnNode(move |r: DynRecord, ctx: &mut dyn Context| f(r, ctx))) as Box<dyn Node>
    })
}

/// A factory of nodes with state of their own: `make` gives each task's instance its function.
pub(crate) fn stateful<M, F>(make: M) -> NodeFactory
where
    M: Fn() -> F + Send + Sync + 'static,
    F: FnMut(DynRecord, &mut dyn Context) -> Result<(), StreamsError> + Send + 'static,
{
    Arc::new(move || Box::new(FnNode(make())) as Box<dyn Node>)
}
