//! The processor API: user code that sees each record whole (key, value, timestamp, headers
//! and where it was read), keeps state in stores of its own, forwards what it likes, and runs
//! on a schedule of stream time or of the wall clock, as Kafka Streams' `Processor` does.
//!
//! A [`Processor`] is added with [`crate::KStream::process`], which makes one per task; its
//! stores are declared with [`StoreBuilder`] and [`crate::StreamsBuilder::add_state_store`]
//! and named in `process`, which connects them.
//!
//! ```
//! use std::time::Duration;
//! use tributary_streams::process::{
//!     Processor, ProcessorContext, PunctuationType, Record, Schedule, StoreBuilder,
//! };
//! use tributary_streams::{Consumed, Produced, Serdes, StreamsBuilder, StreamsError, TestDriver};
//!
//! /// Counts records per key and emits every count each 10 ms of stream time.
//! struct Counter;
//!
//! impl Processor<String, String, String, i64> for Counter {
//!     fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<(), StreamsError> {
//!         ctx.schedule(Duration::from_millis(10), PunctuationType::StreamTime)?;
//!         Ok(())
//!     }
//!
//!     fn process(
//!         &mut self,
//!         record: Record<String, String>,
//!         ctx: &mut ProcessorContext<'_, String, i64>,
//!     ) -> Result<(), StreamsError> {
//!         let mut counts = ctx.key_value_store::<String, i64>("counts")?;
//!         let count = counts.get(&record.key)?.unwrap_or(0) + 1;
//!         counts.put(&record.key, &count)
//!     }
//!
//!     fn punctuate(
//!         &mut self,
//!         _schedule: Schedule,
//!         timestamp: i64,
//!         ctx: &mut ProcessorContext<'_, String, i64>,
//!     ) -> Result<(), StreamsError> {
//!         let all = ctx.key_value_store::<String, i64>("counts")?.all()?;
//!         for (key, count) in all {
//!             ctx.forward(Record::new(key, count, timestamp))?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let builder = StreamsBuilder::new();
//! builder.add_state_store(StoreBuilder::key_value("counts", Serdes::string(), Serdes::long()));
//! builder
//!     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
//!     .process(|| Counter, &["counts"])
//!     .to("counts-out", Produced::with(Serdes::string(), Serdes::long()));
//! let driver = TestDriver::new(builder.build().unwrap());
//! let mut clicks = driver.input_topic("clicks", Serdes::string(), Serdes::string());
//! let mut out = driver.output_topic("counts-out", Serdes::string(), Serdes::long());
//! clicks.pipe_input_at("a".into(), "x".into(), 1).unwrap(); // stream time 1: punctuates at 0
//! clicks.pipe_input_at("a".into(), "x".into(), 12).unwrap(); // at 10
//! assert_eq!(out.read_key_value().unwrap(), ("a".to_string(), 1));
//! assert_eq!(out.read_key_value().unwrap(), ("a".to_string(), 2));
//! ```

mod node;
mod store;

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use node::{processor_node, Fixed, Plain, Runner};
pub use store::{KeyValueStore, SessionStore, StoreBuilder, WindowStore};

use crate::processor::{Context, DynRecord, Header, StreamsError, TaskId};
pub use crate::processor::{PunctuationType, RecordMetadata};
use crate::store::StoreKind;

/// A record as a processor gets and forwards it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The timestamp (ms).
    pub timestamp: i64,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl<K, V> Record<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers: Vec::new(),
        }
    }

    /// The record with another key.
    pub fn with_key<K2>(self, key: K2) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The record with another value.
    pub fn with_value<V2>(self, value: V2) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The record with `header` added after the others.
    pub fn with_header(mut self, name: &str, value: Option<&[u8]>) -> Self {
        self.headers
            .push((name.to_string(), value.map(<[u8]>::to_vec)));
        self
    }

    /// The value of the last header named `name` (`Some(None)`: a null value), as Kafka's
    /// `Headers.lastHeader` finds it.
    pub fn last_header(&self, name: &str) -> Option<Option<&[u8]>> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }
}

/// A punctuation schedule, as [`ProcessorContext::schedule`] gives it (Kafka's
/// `Cancellable`): [`Processor::punctuate`] gets it back, and
/// [`ProcessorContext::cancel`] stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule(u64);

/// User code that processes records one at a time (Kafka Streams' `api.Processor`). One
/// instance runs per task, on one thread at a time; it is made when the task starts and
/// dropped after [`Processor::close`] when the task closes.
pub trait Processor<KIn, VIn, KOut, VOut>: Send {
    /// Called once when the task starts, after its stores were restored and before the first
    /// record: read stores, schedule punctuations.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<(), StreamsError> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one record. An error fails the task unless the processing exception handler
    /// goes on.
    fn process(
        &mut self,
        record: Record<KIn, VIn>,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError>;

    /// A punctuation of `schedule`, at `timestamp`: the stream time or the wall clock that
    /// made it due (not the time it was due at).
    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError> {
        let _ = (schedule, timestamp, ctx);
        Ok(())
    }

    /// Called when the task closes (revoked, migrated, failed, or the application stops).
    fn close(&mut self) {}
}

/// A record of a [`FixedKeyProcessor`]: its key cannot change (Kafka's `FixedKeyRecord`), so
/// the stream after the processor keeps its partitioning.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedKeyRecord<K, V> {
    key: Arc<K>,
    /// The value.
    pub value: V,
    /// The timestamp (ms).
    pub timestamp: i64,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl<K, V> FixedKeyRecord<K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The record with another value.
    pub fn with_value<V2>(self, value: V2) -> FixedKeyRecord<K, V2> {
        FixedKeyRecord {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The record with `header` added after the others.
    pub fn with_header(mut self, name: &str, value: Option<&[u8]>) -> Self {
        self.headers
            .push((name.to_string(), value.map(<[u8]>::to_vec)));
        self
    }
}

/// A processor that keeps each record's key and changes only its value, timestamp or
/// headers (Kafka Streams' `FixedKeyProcessor`), added with [`crate::KStream::process_values`]:
/// a grouping or join after it needs no repartitioning.
pub trait FixedKeyProcessor<K, VIn, VOut>: Send {
    /// Called once when the task starts, as [`Processor::init`].
    fn init(
        &mut self,
        ctx: &mut FixedKeyProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: FixedKeyRecord<K, VIn>,
        ctx: &mut FixedKeyProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError>;

    /// A punctuation of `schedule`, as [`Processor::punctuate`].
    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut FixedKeyProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError> {
        let _ = (schedule, timestamp, ctx);
        Ok(())
    }

    /// Called when the task closes.
    fn close(&mut self) {}
}

fn dyn_record<K: Send + Sync + 'static, V: Send + Sync + 'static>(
    record: Record<K, V>,
) -> DynRecord {
    DynRecord {
        key: Arc::new(record.key),
        value: Arc::new(record.value),
        timestamp: record.timestamp,
        headers: Arc::new(record.headers),
    }
}

fn fixed_key_dyn_record<K: Send + Sync + 'static, V: Send + Sync + 'static>(
    record: FixedKeyRecord<K, V>,
) -> DynRecord {
    DynRecord {
        key: record.key,
        value: Arc::new(record.value),
        timestamp: record.timestamp,
        headers: Arc::new(record.headers),
    }
}

/// The place of `node`'s child named `child` among its children, or Kafka's error.
fn child_at(ctx: &dyn Context, node: &str, child: &str) -> Result<usize, StreamsError> {
    ctx.child_named(child).ok_or_else(|| {
        StreamsError::Topology(format!(
            "Unknown downstream node: {child} either does not exist or is not connected to this processor. (processor {node})"
        ))
    })
}

/// What a [`FixedKeyProcessor`] can do: as a [`ProcessorContext`], forwarding records whose
/// key it kept.
pub struct FixedKeyProcessorContext<'a, K, VOut> {
    inner: ProcessorContext<'a, K, VOut>,
}

impl<K, VOut> FixedKeyProcessorContext<'_, K, VOut>
where
    K: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    /// Sends `record` to every processor after this one.
    pub fn forward(&mut self, record: FixedKeyRecord<K, VOut>) -> Result<(), StreamsError> {
        self.inner.inner.forward(fixed_key_dyn_record(record))
    }

    /// See [`ProcessorContext::forward_to`].
    pub fn forward_to(
        &mut self,
        record: FixedKeyRecord<K, VOut>,
        child: &str,
    ) -> Result<(), StreamsError> {
        let at = child_at(&*self.inner.inner, self.inner.node, child)?;
        self.inner
            .inner
            .forward_to(at, fixed_key_dyn_record(record))
    }

    /// See [`ProcessorContext::schedule`].
    pub fn schedule(
        &mut self,
        interval: Duration,
        kind: PunctuationType,
    ) -> Result<Schedule, StreamsError> {
        self.inner.schedule(interval, kind)
    }

    /// See [`ProcessorContext::cancel`].
    pub fn cancel(&mut self, schedule: Schedule) {
        self.inner.cancel(schedule);
    }

    /// See [`ProcessorContext::key_value_store`].
    pub fn key_value_store<KS: 'static, VS: 'static>(
        &mut self,
        name: &str,
    ) -> Result<KeyValueStore<'_, KS, VS>, StreamsError> {
        self.inner.key_value_store(name)
    }

    /// See [`ProcessorContext::window_store`].
    pub fn window_store<KS: 'static, VS: 'static>(
        &mut self,
        name: &str,
    ) -> Result<WindowStore<'_, KS, VS>, StreamsError> {
        self.inner.window_store(name)
    }

    /// See [`ProcessorContext::session_store`].
    pub fn session_store<KS: 'static, VS: 'static>(
        &mut self,
        name: &str,
    ) -> Result<SessionStore<'_, KS, VS>, StreamsError> {
        self.inner.session_store(name)
    }

    /// See [`ProcessorContext::record_metadata`].
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.inner.record_metadata()
    }

    /// See [`ProcessorContext::current_stream_time_ms`].
    pub fn current_stream_time_ms(&self) -> i64 {
        self.inner.current_stream_time_ms()
    }

    /// See [`ProcessorContext::current_system_time_ms`].
    pub fn current_system_time_ms(&self) -> i64 {
        self.inner.current_system_time_ms()
    }

    /// See [`ProcessorContext::task_id`].
    pub fn task_id(&self) -> TaskId {
        self.inner.task_id()
    }

    /// See [`ProcessorContext::application_id`].
    pub fn application_id(&self) -> &str {
        self.inner.application_id()
    }
}

/// A store a processor was connected to, with its serdes (a `StoreSerdes<K, V>`).
#[derive(Clone)]
pub(crate) struct ConnectedStore {
    pub name: String,
    pub id: usize,
    pub serdes: Arc<dyn Any + Send + Sync>,
}

/// What a processor can do while it runs: forward records, use its stores, schedule
/// punctuations, and read the task's times and the record's metadata.
pub struct ProcessorContext<'a, KOut, VOut> {
    inner: &'a mut dyn Context,
    node: &'a str,
    stores: &'a [ConnectedStore],
    /// The current record's timestamp, or the punctuation's: what the stores' changelog
    /// records get.
    timestamp: i64,
    _types: PhantomData<fn(KOut, VOut)>,
}

impl<'a, KOut, VOut> ProcessorContext<'a, KOut, VOut>
where
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    /// Sends `record` to every processor after this one, which process it before this call
    /// returns. It keeps the metadata of the record being processed.
    pub fn forward(&mut self, record: Record<KOut, VOut>) -> Result<(), StreamsError> {
        self.inner.forward(dyn_record(record))
    }

    /// Sends `record` to the processor (or sink) named `child` after this one only (Kafka's
    /// `forward(record, childName)`); an error when no node after this one has that name.
    pub fn forward_to(
        &mut self,
        record: Record<KOut, VOut>,
        child: &str,
    ) -> Result<(), StreamsError> {
        let at = child_at(&*self.inner, self.node, child)?;
        self.inner.forward_to(at, dyn_record(record))
    }

    /// Schedules [`Processor::punctuate`] every `interval` (at least 1 ms) of `kind` of time.
    /// On stream time it fires at multiples of the interval as soon as stream time reaches
    /// them; on the wall clock `interval` from now, then every `interval`.
    pub fn schedule(
        &mut self,
        interval: Duration,
        kind: PunctuationType,
    ) -> Result<Schedule, StreamsError> {
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if ms < 1 {
            return Err(StreamsError::InvalidArgument(
                "The minimum supported scheduling interval is 1 millisecond.".to_string(),
            ));
        }
        Ok(Schedule(self.inner.schedule(ms, kind)))
    }

    /// Stops a schedule of this processor.
    pub fn cancel(&mut self, schedule: Schedule) {
        self.inner.cancel(schedule.0);
    }

    /// The key-value store `name`, which `process` connected to this processor, read and
    /// written with the serdes of its [`StoreBuilder`] (of `K` and `V`).
    pub fn key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<KeyValueStore<'_, K, V>, StreamsError> {
        let store = self.connected(name)?;
        if self.inner.store_kind(store.id) != Some(StoreKind::KeyValue) {
            return Err(StreamsError::UnknownStore(format!(
                "{name} is not a key-value store"
            )));
        }
        KeyValueStore::new(&mut *self.inner, store, self.timestamp)
    }

    /// The window store `name` ([`StoreBuilder::window`]), which `process` connected to this
    /// processor, read and written with its serdes (of `K` and `V`).
    pub fn window_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<WindowStore<'_, K, V>, StreamsError> {
        let store = self.connected(name)?;
        WindowStore::new(&mut *self.inner, store, self.timestamp)
    }

    /// The session store `name` ([`StoreBuilder::session`]), which `process` connected to
    /// this processor, read and written with its serdes (of `K` and `V`).
    pub fn session_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<SessionStore<'_, K, V>, StreamsError> {
        let store = self.connected(name)?;
        SessionStore::new(&mut *self.inner, store, self.timestamp)
    }

    fn connected(&self, name: &str) -> Result<&'a ConnectedStore, StreamsError> {
        self.stores.iter().find(|s| s.name == name).ok_or_else(|| {
            StreamsError::UnknownStore(format!(
                "Processor {} has no access to StateStore {name} as the store is not connected to the processor. Name the store in `process` to connect it.",
                self.node
            ))
        })
    }

    /// Where the record being processed was read; `None` in a punctuation or in `init`.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.inner.record_metadata()
    }

    /// The task's stream time: the largest timestamp of the records it processed, this one
    /// included (-1 before the first).
    pub fn current_stream_time_ms(&self) -> i64 {
        self.inner.stream_time()
    }

    /// The wall clock (ms since the epoch), as the task last read it.
    pub fn current_system_time_ms(&self) -> i64 {
        self.inner.wall_clock()
    }

    /// The task this processor runs in.
    pub fn task_id(&self) -> TaskId {
        self.inner.task_id()
    }

    /// The application's id.
    pub fn application_id(&self) -> &str {
        self.inner.application_id()
    }
}
