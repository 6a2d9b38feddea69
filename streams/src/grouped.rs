//! Grouped streams and their aggregations (`count`, `reduce`, `aggregate`), and the options
//! that name and type them: [`Grouped`] (the repartition topic) and [`Materialized`] (the
//! store).
//!
//! An aggregation keeps its result per key in a timestamped key-value store (logged to
//! `<application.id>-<store>-changelog`) and emits each update as a table's change. When the
//! key was changed upstream (`group_by`, `select_key`, `map`, ...), the records first go
//! through the repartition topic `<application.id>-<name>-repartition`, so that all records of
//! one key meet in one task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::kstream::KStream;
use crate::ktable::KTable;
use crate::processor::{typed, Change, Context, Dyn, DynRecord, NodeFactory};
use crate::serde::{from_bytes, to_bytes, Serdes, SharedSerde};
use crate::store::{split_timestamp, with_timestamp, StoreDef, StoreKind};
use crate::topology::Kind;

/// How grouped records are typed and named: the serdes of the repartition topic and its name
/// (`<application.id>-<name>-repartition`).
pub struct Grouped<K, V> {
    pub(crate) key: Option<SharedSerde<K>>,
    pub(crate) value: Option<SharedSerde<V>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Default for Grouped<K, V> {
    fn default() -> Self {
        Grouped {
            key: None,
            value: None,
            name: None,
        }
    }
}

impl<K, V> Grouped<K, V> {
    /// The stream's own serdes, a generated name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys with `key` and values with `value`.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        Grouped {
            key: Some(key),
            value: Some(value),
            name: None,
        }
    }

    /// Named `name` (the repartition topic is `<application.id>-<name>-repartition`).
    pub fn named(name: &str) -> Self {
        Self::new().with_name(name)
    }

    /// This grouping named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// This grouping with the key serde `key`.
    pub fn with_key_serde(mut self, key: SharedSerde<K>) -> Self {
        self.key = Some(key);
        self
    }

    /// This grouping with the value serde `value`.
    pub fn with_value_serde(mut self, value: SharedSerde<V>) -> Self {
        self.value = Some(value);
        self
    }

    pub(crate) fn or_serdes(
        mut self,
        key: Option<SharedSerde<K>>,
        value: Option<SharedSerde<V>>,
    ) -> Self {
        self.key = self.key.or(key);
        self.value = self.value.or(value);
        self
    }
}

/// How a table is kept: its store's name (else a generated one), serdes, and whether it is
/// logged to a changelog topic (by default it is).
pub struct Materialized<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key: Option<SharedSerde<K>>,
    pub(crate) value: Option<SharedSerde<V>>,
    pub(crate) logging: bool,
    pub(crate) caching: bool,
    /// How long a windowed store keeps windows (ms); `None`: the windows' size plus grace.
    pub(crate) retention: Option<Duration>,
    /// `None`: the application's `default.dsl.store`.
    pub(crate) store_type: Option<StoreType>,
}

/// Where a DSL store keeps its state (Kafka's `Materialized.StoreType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreType {
    /// In memory (the default here unless `default.dsl.store` says `rocksDB`, Kafka's
    /// default).
    #[default]
    InMemory,
    /// In files under the task's state directory (`state.dir/<application.id>/<task>/`), for
    /// state larger than memory (Kafka's `ROCKS_DB`): key-value, window and session stores.
    Persistent,
}

impl<K, V> Default for Materialized<K, V> {
    fn default() -> Self {
        Materialized {
            name: None,
            key: None,
            value: None,
            logging: true,
            caching: true,
            retention: None,
            store_type: None,
        }
    }
}

impl<K, V> Materialized<K, V> {
    /// A store with a generated name and the serdes known upstream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store named `name` (queryable by that name; its changelog is
    /// `<application.id>-<name>-changelog`).
    pub fn named(name: &str) -> Self {
        Self::new().with_name(name)
    }

    /// A store with these serdes.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        Materialized {
            key: Some(key),
            value: Some(value),
            ..Self::default()
        }
    }

    /// This store named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// This store with the key serde `key`.
    pub fn with_key_serde(mut self, key: SharedSerde<K>) -> Self {
        self.key = Some(key);
        self
    }

    /// This store with the value serde `value`.
    pub fn with_value_serde(mut self, value: SharedSerde<V>) -> Self {
        self.value = Some(value);
        self
    }

    /// This store without a changelog topic (its state is lost with the task).
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// This (windowed) store keeping windows for `retention` of stream time after their start
    /// (sessions: after their end); at least the windows' size plus their grace period.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// This store kept as `store_type` says, whatever the application's `default.dsl.store`.
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = Some(store_type);
        self
    }

    /// This store without a write cache: every update is sent downstream.
    pub fn with_caching_disabled(mut self) -> Self {
        self.caching = false;
        self
    }

    pub(crate) fn or_serdes(
        mut self,
        key: Option<SharedSerde<K>>,
        value: Option<SharedSerde<V>>,
    ) -> Self {
        self.key = self.key.or(key);
        self.value = self.value.or(value);
        self
    }

    /// Adds the store to the graph (named `name`, or `<prefix><n>`); its id.
    pub(crate) fn add_store(
        &self,
        graph: &mut crate::builder::Graph,
        prefix: &str,
        kind: StoreKind,
    ) -> usize {
        let name = match &self.name {
            Some(n) => {
                graph.check_name(n);
                n.clone()
            }
            None => graph.name(prefix, None),
        };
        graph.add_store(StoreDef {
            name,
            logged: self.logging,
            persistent: self.store_type == Some(StoreType::Persistent),
            dsl_default: self.store_type.is_none(),
            timestamped: !matches!(kind, StoreKind::Session { .. }),
            cached: self.caching,
            kind,
        })
    }
}

/// A stream grouped by key, ready to aggregate.
pub struct KGroupedStream<K, V> {
    stream: KStream<K, V>,
    grouped: Grouped<K, V>,
    repartition: bool,
}

impl<K, V> Clone for KGroupedStream<K, V> {
    fn clone(&self) -> Self {
        KGroupedStream {
            stream: self.stream.clone(),
            grouped: Grouped {
                key: self.grouped.key.clone(),
                value: self.grouped.value.clone(),
                name: self.grouped.name.clone(),
            },
            repartition: self.repartition,
        }
    }
}

/// A reducer: the aggregate so far and a new value give the new aggregate.
pub(crate) type Reducer<V> = Arc<dyn Fn(&V, &V) -> V + Send + Sync>;
/// An aggregator: a record's key and value and the aggregate so far give the new aggregate.
type Aggregator<K, V, VA> = Arc<dyn Fn(&K, &V, VA) -> VA + Send + Sync>;
/// One step of an aggregation: a record and the aggregate so far (if any) give the new one.
type Step<K, V, VA> = Arc<dyn Fn(&K, &V, Option<VA>) -> VA + Send + Sync>;

impl<K, V> KGroupedStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub(crate) fn new(stream: KStream<K, V>, grouped: Grouped<K, V>, repartition: bool) -> Self {
        KGroupedStream {
            stream,
            grouped,
            repartition,
        }
    }

    /// The number of records per key, in a store with a generated name.
    pub fn count(&self) -> KTable<K, i64> {
        self.count_inner(Materialized::new())
    }

    /// The number of records per key, kept as `materialized` says.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        if materialized.name.is_none() {
            // Kafka Streams' count(Materialized) takes one more index than count()
            let _ = self.stream.graph().borrow_mut().name("", None);
        }
        self.count_inner(materialized)
    }

    fn count_inner(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        let materialized = materialized.or_serdes(self.grouped.key.clone(), Some(Serdes::long()));
        self.aggregate_with(
            materialized,
            Arc::new(|| 0i64),
            Arc::new(|_: &K, _: &V, count: i64| count + 1),
        )
    }

    /// Each key's values combined with `reducer` (the first value as it is).
    pub fn reduce(
        &self,
        reducer: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        V: Clone,
    {
        let materialized =
            materialized.or_serdes(self.grouped.key.clone(), self.grouped.value.clone());
        let reducer: Reducer<V> = Arc::new(reducer);
        self.build(
            materialized,
            "KSTREAM-REDUCE-",
            Arc::new(move |_: &K, v: &V, old: Option<V>| match old {
                None => v.clone(),
                Some(agg) => reducer(&agg, v),
            }),
        )
    }

    /// Each key's values folded into an aggregate: `initializer` starts it, `aggregator` adds
    /// a record.
    pub fn aggregate<VA>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Send + Sync + 'static,
    {
        let materialized = materialized.or_serdes(self.grouped.key.clone(), None);
        self.aggregate_with(materialized, Arc::new(initializer), Arc::new(aggregator))
    }

    fn aggregate_with<VA>(
        &self,
        materialized: Materialized<K, VA>,
        initializer: Arc<dyn Fn() -> VA + Send + Sync>,
        aggregator: Aggregator<K, V, VA>,
    ) -> KTable<K, VA>
    where
        VA: Send + Sync + 'static,
    {
        self.build(
            materialized,
            "KSTREAM-AGGREGATE-",
            Arc::new(move |k: &K, v: &V, old: Option<VA>| {
                aggregator(k, v, old.unwrap_or_else(|| initializer()))
            }),
        )
    }

    /// The aggregation node (after a repartition topic when needed) and its table. Names take
    /// the builder's indices in Kafka Streams' order: the store (unless named), the
    /// aggregation, then the repartition sink, filter and source.
    fn build<VA>(
        &self,
        materialized: Materialized<K, VA>,
        prefix: &str,
        step: Step<K, V, VA>,
    ) -> KTable<K, VA>
    where
        VA: Send + Sync + 'static,
    {
        let send_old = Arc::new(AtomicBool::new(false));
        let switch = Arc::clone(&send_old);
        let is_null = self.is_null();
        let (node, store) = self.add_aggregation(
            &materialized,
            prefix,
            StoreKind::KeyValue,
            |g, store, store_name| match (materialized.key.clone(), materialized.value.clone()) {
                (Some(k), Some(v)) => Some(aggregate_node::<K, V, VA>(
                    (store, store_name.to_string()),
                    k,
                    v,
                    step,
                    switch,
                    is_null,
                )),
                _ => {
                    g.error.get_or_insert(missing_serdes(store_name));
                    None
                }
            },
        );
        KTable::new(
            std::rc::Rc::clone(self.stream.graph()),
            node,
            materialized.key,
            materialized.value,
            Some(store),
        )
        .with_old_values(Some(send_old))
    }

    /// Adds an aggregation's node and store after the grouping (through the repartition topic
    /// when the key changed upstream), taking the builder's indices in Kafka Streams' order: the
    /// store (unless named), the node, then the repartition sink, filter and source. `factory`
    /// makes the node for its store (id and name), or records why it cannot. Returns the
    /// node's and the store's ids.
    pub(crate) fn add_aggregation<VA>(
        &self,
        materialized: &Materialized<K, VA>,
        prefix: &str,
        kind: StoreKind,
        factory: impl FnOnce(&mut crate::builder::Graph, usize, &str) -> Option<NodeFactory>,
    ) -> (usize, usize) {
        let graph = std::rc::Rc::clone(self.stream.graph());
        let mut g = graph.borrow_mut();
        let store = materialized.add_store(&mut g, &format!("{prefix}STATE-STORE-"), kind);
        let store_name = g.stores[store].name.clone();
        let agg_name = g.name(prefix, None);
        let parent = if self.repartition {
            let base = self
                .grouped
                .name
                .clone()
                .unwrap_or_else(|| store_name.clone());
            let names = RepartitionNames::new(&mut g, &base);
            match (self.grouped.key.clone(), self.grouped.value.clone()) {
                (Some(k), Some(v)) => {
                    repartition(&mut g, self.stream.node(), (&base, &names), (k, v), None)
                }
                _ => {
                    g.error.get_or_insert(format!(
                        "the repartition topic {base}-repartition needs a key serde and a value serde: give them with Grouped::with"
                    ));
                    self.stream.node()
                }
            }
        } else {
            self.stream.node()
        };
        let factory = factory(&mut g, store, &store_name);
        let node = g.add(
            agg_name,
            Kind::Processor {
                stores: vec![store],
            },
            vec![parent],
            factory,
        );
        (node, store)
    }

    /// Tells null values (which Kafka Streams' aggregations skip) by the grouping's value
    /// serde: only a nullable serde's `None` is one.
    pub(crate) fn is_null(&self) -> crate::window::IsNull<V> {
        match self.grouped.value.clone() {
            Some(serde) => Arc::new(move |v: &V| serde.is_null(v)),
            None => Arc::new(|_: &V| false),
        }
    }

    /// The grouping's key serde (the grouped stream's or `Grouped`'s).
    pub(crate) fn key_serde(&self) -> Option<SharedSerde<K>> {
        self.grouped.key.clone()
    }

    /// The grouping's value serde.
    pub(crate) fn value_serde(&self) -> Option<SharedSerde<V>> {
        self.grouped.value.clone()
    }

    /// The builder's graph.
    pub(crate) fn graph(&self) -> &std::rc::Rc<std::cell::RefCell<crate::builder::Graph>> {
        self.stream.graph()
    }
}

/// The error of a store made without the serdes it needs.
pub(crate) fn missing_serdes(store_name: &str) -> String {
    format!(
        "the store {store_name} needs a key serde and a value serde: give them with Grouped::with or Materialized::with"
    )
}

/// The names of a repartition topic's nodes, taking the builder's indices (sink, filter,
/// source) whether they are used or not: generated ones when the base name is itself a
/// generated one (`KSTREAM...-<10 digits>`), else `<base>-repartition-sink` etc., as Kafka
/// Streams decides.
pub(crate) struct RepartitionNames {
    sink: String,
    filter: String,
    source: String,
}

/// Whether `name` looks generated (Kafka's `KSTREAM.*-[0-9]{10}`).
fn generated(name: &str) -> bool {
    let digits = name.len() >= 11
        && name.as_bytes()[name.len() - 11] == b'-'
        && name[name.len() - 10..].bytes().all(|b| b.is_ascii_digit());
    name.starts_with("KSTREAM") && digits
}

impl RepartitionNames {
    pub(crate) fn new(g: &mut crate::builder::Graph, base: &str) -> Self {
        let sink = g.name("KSTREAM-SINK-", None);
        let filter = g.name("KSTREAM-FILTER-", None);
        let source = g.name("KSTREAM-SOURCE-", None);
        if !generated(base) {
            RepartitionNames {
                sink: format!("{base}-repartition-sink"),
                filter: format!("{base}-repartition-filter"),
                source: format!("{base}-repartition-source"),
            }
        } else {
            RepartitionNames {
                sink,
                filter,
                source,
            }
        }
    }
}

/// Adds the filter, sink and source of the repartition topic `<base>-repartition` after
/// `parent`; the source's index.
pub(crate) fn repartition<K, V>(
    g: &mut crate::builder::Graph,
    parent: usize,
    (base, names): (&str, &RepartitionNames),
    (key, value): (SharedSerde<K>, SharedSerde<V>),
    partitioner: Option<crate::builder::StreamPartitioner<K, V>>,
) -> usize
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let topic = format!("{base}-repartition");
    let filter = g.add(
        names.filter.clone(),
        Kind::Processor { stores: Vec::new() },
        vec![parent],
        Some(crate::kstream::pass_through()),
    );
    let (k2, v2) = (key.clone(), value.clone());
    let sink_topic = topic.clone();
    let sink = crate::processor::stateful(move || {
        let (key, value, base) = (key.clone(), value.clone(), sink_topic.clone());
        let partitioner = partitioner.clone();
        let mut topic: Option<Arc<str>> = None;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let topic: &Arc<str> =
                topic.get_or_insert_with(|| format!("{}-{}", ctx.application_id(), base).into());
            let mut out = crate::serde::sink_record((&key, &value), topic, &r)?;
            // records without a key are dropped: no task could own them
            if out.key.is_none() {
                return Ok(());
            }
            if let Some(p) = &partitioner {
                let (k, v) = (typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                crate::processor::choose_partition(p.as_ref(), &mut out, k, v, ctx)?;
            }
            ctx.produce(out);
            Ok(())
        }
    });
    g.add(
        names.sink.clone(),
        Kind::Sink {
            topic: topic.clone(),
            internal: true,
        },
        vec![filter],
        Some(sink),
    );
    let decoder: crate::processor::Decoder = Arc::new(
        move |t: &str, kb: Option<&[u8]>, vb: Option<&[u8]>, h: &[crate::Header]| {
            let (k, v) = crate::serde::decode((&k2, &v2), t, kb, vb, h)?;
            Ok((Arc::new(k) as Dyn, Arc::new(v) as Dyn))
        },
    );
    g.add(
        names.source.clone(),
        Kind::Source {
            topics: vec![topic],
            internal: true,
            decoder,
            types: (std::any::TypeId::of::<K>(), std::any::TypeId::of::<V>()),
        },
        Vec::new(),
        None,
    )
}

/// The aggregation node: reads the key's aggregate, applies `step`, writes and forwards it.
fn aggregate_node<K, V, VA>(
    (store, store_name): (usize, String),
    key_serde: SharedSerde<K>,
    agg_serde: SharedSerde<VA>,
    step: Step<K, V, VA>,
    send_old: Arc<AtomicBool>,
    is_null: crate::window::IsNull<V>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let Some(kb) = to_bytes(&key_serde, "key", &store_name, key)? else {
            // Kafka Streams skips (and counts) records whose key or value is null
            return Ok(());
        };
        if is_null(typed::<V>(&r.value)?) {
            return Ok(());
        }
        let (old, old_for_change, old_ts) =
            match ctx.store(store)?.get(&kb).and_then(split_timestamp) {
                Some((ts, bytes)) => {
                    let old = from_bytes(&agg_serde, "value", &store_name, Some(bytes))?;
                    let again = if send_old.load(Ordering::Relaxed) {
                        Some(from_bytes(&agg_serde, "value", &store_name, Some(bytes))?)
                    } else {
                        None
                    };
                    (Some(old), again, Some(ts))
                }
                None => (None, None, None),
            };
        let new = step(key, typed::<V>(&r.value)?, old);
        let timestamp = old_ts.map_or(r.timestamp, |t| t.max(r.timestamp));
        let new_bytes = to_bytes(&agg_serde, "value", &store_name, &new)?;
        let stored = new_bytes.as_deref().map(|b| with_timestamp(timestamp, b));
        let old: Option<Dyn> = send_old
            .load(Ordering::Relaxed)
            .then(|| Arc::new(old_for_change) as Dyn);
        let record = DynRecord {
            key: r.key,
            value: Arc::new(Change {
                new: Arc::new(Some(new)),
                old,
            }),
            timestamp,
            headers: r.headers,
        };
        ctx.put_and_forward(store, &kb, stored.as_deref(), timestamp, record)
    })
}
