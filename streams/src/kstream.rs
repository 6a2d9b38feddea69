//! `KStream<K, V>`: an unbounded stream of records, and its stateless operations, as Kafka
//! Streams' `KStream` has them. Every operation adds a node to the builder's graph and returns
//! the stream after it; a stream may be used more than once (each use is another branch).
//!
//! Closures see keys and values by reference; keys or values that may be null are `Option`s
//! (see [`crate::Serdes::nullable`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use crate::builder::{Graph, Produced, StreamPartitioner};
use crate::grouped::{Grouped, KGroupedStream, Materialized};
use crate::ktable::KTable;
use crate::process::{processor_node, Fixed, FixedKeyProcessor, Plain, Processor, Runner};
use crate::processor::{stateless, typed, Context, DynRecord, NodeFactory, RecordMetadata};
use crate::serde::SharedSerde;
use crate::topology::Kind;

/// How [`KStream::repartition`] writes its topic: serdes (else the stream's), a name, a
/// number of partitions (else the input's) and a partitioner (else the key's murmur2).
pub struct Repartitioned<K, V> {
    key: Option<SharedSerde<K>>,
    value: Option<SharedSerde<V>>,
    name: Option<String>,
    partitions: Option<i32>,
    partitioner: Option<StreamPartitioner<K, V>>,
}

impl<K, V> Default for Repartitioned<K, V> {
    fn default() -> Self {
        Repartitioned {
            key: None,
            value: None,
            name: None,
            partitions: None,
            partitioner: None,
        }
    }
}

impl<K, V> Repartitioned<K, V> {
    /// The stream's serdes, a generated name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys with `key` and values with `value`.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        Repartitioned {
            key: Some(key),
            value: Some(value),
            ..Self::default()
        }
    }

    /// The topic with `partitions` partitions (at least 1), whatever the input has; the
    /// tasks after it are as many.
    pub fn with_number_of_partitions(mut self, partitions: i32) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Records go to the partitions `partitioner` chooses (as `Produced::with_partitioner`).
    pub fn with_stream_partitioner(
        mut self,
        partitioner: impl Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync + 'static,
    ) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Named `name` (the topic is `<application.id>-<name>-repartition`).
    pub fn named(name: &str) -> Self {
        Self::new().with_name(name)
    }

    /// This repartitioning named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

/// A stream of records with keys of `K` and values of `V`.
#[must_use = "an operation whose stream is never used or written adds a dead branch"]
pub struct KStream<K, V> {
    graph: Rc<RefCell<Graph>>,
    node: usize,
    /// The serdes the stream's keys and values were read with, while they still apply
    /// (Kafka Streams' serde inheritance: an operation that changes the key drops the key
    /// serde, one that changes the value drops the value serde).
    key_serde: Option<SharedSerde<K>>,
    value_serde: Option<SharedSerde<V>>,
    /// Whether a key-changing operation came before: a stateful operation must then go through
    /// a repartition topic first.
    repartition_required: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            graph: Rc::clone(&self.graph),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            repartition_required: self.repartition_required,
            _types: PhantomData,
        }
    }
}

type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

impl<K, V> KStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub(crate) fn new(graph: Rc<RefCell<Graph>>, node: usize) -> Self {
        KStream {
            graph,
            node,
            key_serde: None,
            value_serde: None,
            repartition_required: false,
            _types: PhantomData,
        }
    }

    /// The stream with these serdes and repartition flag.
    pub(crate) fn with_serdes(
        mut self,
        key: Option<SharedSerde<K>>,
        value: Option<SharedSerde<V>>,
        repartition_required: bool,
    ) -> Self {
        self.key_serde = key;
        self.value_serde = value;
        self.repartition_required = repartition_required;
        self
    }

    /// `next` (of the same types) with this stream's serdes and repartition flag.
    fn same(&self, next: KStream<K, V>) -> KStream<K, V> {
        next.with_serdes(
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition_required,
        )
    }

    /// `next` (same key) with this stream's key serde and repartition flag.
    fn same_key<V2>(&self, next: KStream<K, V2>) -> KStream<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        next.with_serdes(self.key_serde.clone(), None, self.repartition_required)
    }

    /// The builder's graph.
    pub(crate) fn graph(&self) -> &Rc<RefCell<Graph>> {
        &self.graph
    }

    /// The stream's last node.
    pub(crate) fn node(&self) -> usize {
        self.node
    }

    /// The key serde, while it still applies.
    pub(crate) fn key_serde(&self) -> Option<SharedSerde<K>> {
        self.key_serde.clone()
    }

    /// The value serde, while it still applies.
    pub(crate) fn value_serde(&self) -> Option<SharedSerde<V>> {
        self.value_serde.clone()
    }

    /// Adds a processor after this stream's node.
    fn then<K2, V2>(&self, prefix: &str, factory: NodeFactory) -> KStream<K2, V2>
    where
        K2: Send + Sync + 'static,
        V2: Send + Sync + 'static,
    {
        self.processor(prefix, vec![self.node], factory)
    }

    /// Adds a processor after `parents`, named with `prefix`.
    pub(crate) fn processor<K2, V2>(
        &self,
        prefix: &str,
        parents: Vec<usize>,
        factory: NodeFactory,
    ) -> KStream<K2, V2>
    where
        K2: Send + Sync + 'static,
        V2: Send + Sync + 'static,
    {
        let mut g = self.graph.borrow_mut();
        let name = g.name(prefix, None);
        let node = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            parents,
            Some(factory),
        );
        drop(g);
        KStream::new(Rc::clone(&self.graph), node)
    }

    /// The records `predicate` holds for.
    pub fn filter(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.same(self.then(
            "KSTREAM-FILTER-",
            filter_node::<K, V>(Arc::new(predicate), false),
        ))
    }

    /// The records `predicate` does not hold for.
    pub fn filter_not(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.same(self.then(
            "KSTREAM-FILTER-",
            filter_node::<K, V>(Arc::new(predicate), true),
        ))
    }

    /// Each record as a new key and value.
    pub fn map<K2, V2>(
        &self,
        mapper: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2>
    where
        K2: Send + Sync + 'static,
        V2: Send + Sync + 'static,
    {
        let next: KStream<K2, V2> = self.then(
            "KSTREAM-MAP-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                let (k, v) = mapper(typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                ctx.forward(DynRecord {
                    key: Arc::new(k),
                    value: Arc::new(v),
                    ..r
                })?;
                Ok(())
            }),
        );
        next.with_serdes(None, None, true)
    }

    /// Each record with a new value.
    pub fn map_values<V2>(
        &self,
        mapper: impl Fn(&V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.map_values_with_key(move |_, v| mapper(v))
    }

    /// Each record with a new value computed from its key and value.
    pub fn map_values_with_key<V2>(
        &self,
        mapper: impl Fn(&K, &V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.same_key(self.then(
            "KSTREAM-MAPVALUES-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                let v = mapper(typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                ctx.forward(DynRecord {
                    value: Arc::new(v),
                    ..r
                })?;
                Ok(())
            }),
        ))
    }

    /// Each record as zero or more new records.
    pub fn flat_map<K2, V2, I>(
        &self,
        mapper: impl Fn(&K, &V) -> I + Send + Sync + 'static,
    ) -> KStream<K2, V2>
    where
        K2: Send + Sync + 'static,
        V2: Send + Sync + 'static,
        I: IntoIterator<Item = (K2, V2)>,
    {
        let next: KStream<K2, V2> = self.then(
            "KSTREAM-FLATMAP-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                for (k, v) in mapper(typed::<K>(&r.key)?, typed::<V>(&r.value)?) {
                    ctx.forward(DynRecord {
                        key: Arc::new(k),
                        value: Arc::new(v),
                        timestamp: r.timestamp,
                        headers: Arc::clone(&r.headers),
                    })?;
                }
                Ok(())
            }),
        );
        next.with_serdes(None, None, true)
    }

    /// Each record as zero or more records with its key and new values.
    pub fn flat_map_values<V2, I>(
        &self,
        mapper: impl Fn(&V) -> I + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        V2: Send + Sync + 'static,
        I: IntoIterator<Item = V2>,
    {
        self.same_key(self.then(
            "KSTREAM-FLATMAPVALUES-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                for v in mapper(typed::<V>(&r.value)?) {
                    ctx.forward(DynRecord {
                        value: Arc::new(v),
                        key: Arc::clone(&r.key),
                        timestamp: r.timestamp,
                        headers: Arc::clone(&r.headers),
                    })?;
                }
                Ok(())
            }),
        ))
    }

    /// Each record with a new key (its value unchanged).
    pub fn select_key<K2>(
        &self,
        mapper: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KStream<K2, V>
    where
        K2: Send + Sync + 'static,
    {
        let next: KStream<K2, V> = self.then("KSTREAM-KEY-SELECT-", key_select(mapper));
        next.with_serdes(None, self.value_serde.clone(), true)
    }

    /// Runs `action` on each record and passes it on.
    pub fn peek(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) -> KStream<K, V> {
        self.same(self.then(
            "KSTREAM-PEEK-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                action(typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                ctx.forward(r)?;
                Ok(())
            }),
        ))
    }

    /// Runs `action` on each record; the stream ends here.
    pub fn foreach(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) {
        let _: KStream<K, V> = self.then(
            "KSTREAM-FOREACH-",
            stateless(move |r: DynRecord, _: &mut dyn Context| {
                action(typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                Ok(())
            }),
        );
    }

    /// Runs each record through a [`Processor`] made by `supplier` (one per task), connected
    /// to the stores `stores` (added with [`crate::StreamsBuilder::add_state_store`]); the
    /// stream of what it forwards. As the processor may change keys, a grouping or join
    /// after it goes through a repartition topic, and the stream has no serdes.
    pub fn process<KOut, VOut, P>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<KOut, VOut>
    where
        K: Clone,
        V: Clone,
        KOut: Send + Sync + 'static,
        VOut: Send + Sync + 'static,
        P: Processor<K, V, KOut, VOut> + 'static,
    {
        self.process_as(None, supplier, stores)
    }

    /// [`KStream::process`] with the processor named `name`.
    pub fn process_named<KOut, VOut, P>(
        &self,
        name: &str,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<KOut, VOut>
    where
        K: Clone,
        V: Clone,
        KOut: Send + Sync + 'static,
        VOut: Send + Sync + 'static,
        P: Processor<K, V, KOut, VOut> + 'static,
    {
        self.process_as(Some(name), supplier, stores)
    }

    fn process_as<KOut, VOut, P>(
        &self,
        name: Option<&str>,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<KOut, VOut>
    where
        K: Clone,
        V: Clone,
        KOut: Send + Sync + 'static,
        VOut: Send + Sync + 'static,
        P: Processor<K, V, KOut, VOut> + 'static,
    {
        let make = move || Plain {
            processor: supplier(),
            _types: PhantomData,
        };
        let node = self.add_processor("KSTREAM-PROCESSOR-", name, make, stores);
        KStream::new(Rc::clone(&self.graph), node).with_serdes(None, None, true)
    }

    /// Runs each record through a [`FixedKeyProcessor`] made by `supplier` (one per task),
    /// connected to the stores `stores`: it may change values, timestamps and headers, not
    /// keys, so the stream keeps its key serde and needs no repartitioning (Kafka's
    /// `processValues`).
    pub fn process_values<VOut, P>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K, VOut>
    where
        V: Clone,
        VOut: Send + Sync + 'static,
        P: FixedKeyProcessor<K, V, VOut> + 'static,
    {
        self.process_values_as(None, supplier, stores)
    }

    /// [`KStream::process_values`] with the processor named `name`.
    pub fn process_values_named<VOut, P>(
        &self,
        name: &str,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K, VOut>
    where
        V: Clone,
        VOut: Send + Sync + 'static,
        P: FixedKeyProcessor<K, V, VOut> + 'static,
    {
        self.process_values_as(Some(name), supplier, stores)
    }

    fn process_values_as<VOut, P>(
        &self,
        name: Option<&str>,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K, VOut>
    where
        V: Clone,
        VOut: Send + Sync + 'static,
        P: FixedKeyProcessor<K, V, VOut> + 'static,
    {
        let make = move || Fixed {
            processor: supplier(),
            _types: PhantomData,
        };
        let node = self.add_processor("KSTREAM-PROCESSVALUES-", name, make, stores);
        self.same_key(KStream::new(Rc::clone(&self.graph), node))
    }

    /// Adds the node of a user's processor (run by what `make` makes), named `name` or with
    /// `prefix`, connected to `stores`.
    fn add_processor<R, KOut, VOut>(
        &self,
        prefix: &str,
        name: Option<&str>,
        make: impl Fn() -> R + Send + Sync + 'static,
        stores: &[&str],
    ) -> usize
    where
        R: Runner<KOut, VOut> + 'static,
        KOut: Send + Sync + 'static,
        VOut: Send + Sync + 'static,
    {
        let mut g = self.graph.borrow_mut();
        // (a given name takes no index here, as in Kafka's `process`)
        let name = match name {
            Some(given) => {
                g.check_name(given);
                given.to_string()
            }
            None => g.name(prefix, None),
        };
        let connected = g.connect_stores(&name, stores);
        let ids = connected.iter().map(|s| s.id).collect();
        let factory = processor_node(make, name.clone(), connected);
        g.add(
            name,
            Kind::Processor { stores: ids },
            vec![self.node],
            Some(factory),
        )
    }

    /// The records of this stream and of `other`, as they come.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        if !Rc::ptr_eq(&self.graph, &other.graph) {
            self.graph
                .borrow_mut()
                .error
                .get_or_insert("merge() of streams from different builders".to_string());
        }
        let merged: KStream<K, V> = self.processor(
            "KSTREAM-MERGE-",
            vec![self.node, other.node],
            pass_through(),
        );
        merged.with_serdes(
            None,
            None,
            self.repartition_required || other.repartition_required,
        )
    }

    /// Splits the stream by predicates: each record goes to the first branch whose predicate
    /// holds (see [`BranchedKStream`]).
    pub fn split(&self) -> BranchedKStream<K, V> {
        self.split_with(None)
    }

    /// [`KStream::split`] with the splitter named `name` (branches are named after it).
    pub fn split_named(&self, name: &str) -> BranchedKStream<K, V> {
        self.split_with(Some(name))
    }

    fn split_with(&self, name: Option<&str>) -> BranchedKStream<K, V> {
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-BRANCH-", name);
        let splitter = g.add(
            name.clone(),
            Kind::Processor { stores: Vec::new() },
            vec![self.node],
            Some(splitter::<K, V>(Arc::new(Vec::new()), false)),
        );
        drop(g);
        BranchedKStream {
            parent: self.clone(),
            graph: Rc::clone(&self.graph),
            splitter,
            name,
            predicates: Vec::new(),
            branches: HashMap::new(),
        }
    }

    /// Groups the records by their key, for an aggregation. The key and value serdes are
    /// `grouped`'s, else the stream's; a repartition topic comes first when the key was changed.
    pub fn group_by_key(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream::new(
            self.clone(),
            grouped.or_serdes(self.key_serde(), self.value_serde()),
            self.repartition_required,
        )
    }

    /// Groups the records by a new key, for an aggregation (through a repartition topic).
    pub fn group_by<K2>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
        grouped: Grouped<K2, V>,
    ) -> KGroupedStream<K2, V>
    where
        K2: Send + Sync + 'static,
    {
        // the key selector is named as the grouping, when it is named
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-KEY-SELECT-", grouped.name.as_deref());
        let node = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node],
            Some(key_select(selector)),
        );
        drop(g);
        let selected: KStream<K2, V> = KStream::new(Rc::clone(&self.graph), node).with_serdes(
            None,
            self.value_serde.clone(),
            true,
        );
        KGroupedStream::new(
            selected.clone(),
            grouped.or_serdes(None, self.value_serde()),
            true,
        )
    }

    /// The table of the stream's latest value per key. Given a store name, `materialized`
    /// keeps the table in that store; else the table is not kept, as in Kafka Streams.
    pub fn to_table(&self, materialized: Materialized<K, V>) -> KTable<K, V>
    where
        V: Clone,
    {
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-TOTABLE-", None);
        let (store, reserved) = match &materialized.name {
            Some(n) => (
                Some(materialized.add_store(&mut g, "", crate::store::StoreKind::KeyValue)),
                n.clone(),
            ),
            // Kafka Streams names (but does not add) the store
            None => (None, g.name("KSTREAM-TOTABLE-STATE-STORE-", None)),
        };
        let materialized = materialized.or_serdes(self.key_serde(), self.value_serde());
        let mut parent = self.node;
        if self.repartition_required {
            let names = crate::grouped::RepartitionNames::new(&mut g, &name);
            match (materialized.key.clone(), materialized.value.clone()) {
                (Some(k), Some(v)) => {
                    parent = crate::grouped::repartition(
                        &mut g,
                        self.node,
                        (&name, &names),
                        (k, v),
                        None,
                    )
                }
                _ => {
                    g.error.get_or_insert(format!(
                        "the repartition topic {name}-repartition needs a key serde and a value serde: give them with Materialized::with"
                    ));
                }
            }
        }
        drop(g);
        // the stream's values are the table's present values
        let convert: crate::ktable::ToOption =
            Arc::new(|d| Ok(Arc::new(Some(typed::<V>(d)?.clone()))));
        crate::ktable::table_from_stream(
            &self.graph,
            parent,
            (name, reserved),
            store,
            &materialized,
            Some(convert),
        )
    }

    /// The stream written to, and read back from, the topic `<application.id>-<name>-repartition`
    /// (so that its records are partitioned by their current key), as Kafka Streams'
    /// `repartition()`: the name is `repartitioned`'s, else `KSTREAM-REPARTITION-<n>`.
    pub fn repartition(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let mut g = self.graph.borrow_mut();
        let name = match repartitioned.name {
            Some(n) => {
                g.check_name(&n);
                n
            }
            None => g.name("KSTREAM-REPARTITION-", None),
        };
        match repartitioned.partitions {
            Some(n) if n < 1 => {
                g.error.get_or_insert(format!(
                    "Number of partitions must be at least 1 (repartition {name}), got {n}"
                ));
            }
            Some(n) => {
                g.repartition_partitions
                    .insert(format!("{name}-repartition"), n);
            }
            None => {}
        }
        drop(g);
        let key = repartitioned.key.or_else(|| self.key_serde());
        let value = repartitioned.value.or_else(|| self.value_serde());
        self.repartition_through(&name, (key, value), repartitioned.partitioner, false)
    }

    /// The stream through the repartition topic `<base>-repartition` with these serdes.
    ///
    /// For a join (`for_join`), as Kafka Streams' `repartitionForJoin`: a stream repartitioned
    /// for a join before keeps the last topic it was given, and an unnamed join (`base` is the
    /// stream's own node name) reads that one again (the indices are taken all the same).
    pub(crate) fn repartition_as(
        &self,
        base: &str,
        key: Option<SharedSerde<K>>,
        value: Option<SharedSerde<V>>,
        for_join: bool,
    ) -> KStream<K, V> {
        self.repartition_through(base, (key, value), None, for_join)
    }

    /// [`KStream::repartition_as`], records placed by `partitioner` when given.
    fn repartition_through(
        &self,
        base: &str,
        (key, value): (Option<SharedSerde<K>>, Option<SharedSerde<V>>),
        partitioner: Option<StreamPartitioner<K, V>>,
        for_join: bool,
    ) -> KStream<K, V> {
        let mut g = self.graph.borrow_mut();
        let names = crate::grouped::RepartitionNames::new(&mut g, base);
        let unnamed = g.nodes[self.node].name == base;
        let reused = match g.repartitioned.get(&self.node) {
            Some(&source) if for_join && unnamed => Some(source),
            _ => None,
        };
        let node = match (reused, key.clone(), value.clone()) {
            (Some(source), _, _) => source,
            (None, Some(k), Some(v)) => {
                let source = crate::grouped::repartition(
                    &mut g,
                    self.node,
                    (base, &names),
                    (k, v),
                    partitioner,
                );
                if for_join {
                    g.repartitioned.insert(self.node, source);
                }
                source
            }
            _ => {
                g.error.get_or_insert(format!(
                    "the repartition topic {base}-repartition needs a key serde and a value serde: give them with Repartitioned::with or Joined::with"
                ));
                self.node
            }
        };
        drop(g);
        KStream::new(Rc::clone(&self.graph), node).with_serdes(key, value, false)
    }

    /// Whether the key was changed upstream (stateful operations repartition first).
    pub(crate) fn repartition_required(&self) -> bool {
        self.repartition_required
    }

    /// Writes each record to the topic `extractor` names for it (Kafka's `to` with a
    /// `TopicNameExtractor`), with `produced`'s serdes and partitioner. The topics must exist.
    pub fn to_dynamic(
        &self,
        extractor: impl Fn(&K, &V, Option<&RecordMetadata>) -> String + Send + Sync + 'static,
        produced: Produced<K, V>,
    ) {
        let factory = sink_node(
            produced.key,
            produced.value,
            produced.partitioner,
            SinkTopic::Extracted(Arc::new(extractor)),
        );
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-SINK-", produced.name.as_deref());
        g.add(name, Kind::DynamicSink, vec![self.node], Some(factory));
    }

    /// Writes the stream to `topic` with `produced`'s serdes (and partitioner).
    pub fn to(&self, topic: &str, produced: Produced<K, V>) {
        let factory = sink_node(
            produced.key,
            produced.value,
            produced.partitioner,
            SinkTopic::Fixed(Arc::from(topic)),
        );
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-SINK-", produced.name.as_deref());
        g.add(
            name,
            Kind::Sink {
                topic: topic.to_string(),
                internal: false,
            },
            vec![self.node],
            Some(factory),
        );
    }
}

/// Chooses a record's topic (Kafka's `TopicNameExtractor`) from its key, value and where it
/// was read.
pub type TopicNameExtractor<K, V> =
    Arc<dyn Fn(&K, &V, Option<&RecordMetadata>) -> String + Send + Sync>;

/// Where a sink writes.
enum SinkTopic<K, V> {
    Fixed(Arc<str>),
    Extracted(TopicNameExtractor<K, V>),
}

/// A sink writing each record to its topic, with these serdes and partitioner.
fn sink_node<K, V>(
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    partitioner: Option<crate::builder::StreamPartitioner<K, V>>,
    topic: SinkTopic<K, V>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let extracted;
        let topic: &Arc<str> = match &topic {
            SinkTopic::Fixed(t) => t,
            SinkTopic::Extracted(extract) => {
                let (k, v) = (typed::<K>(&r.key)?, typed::<V>(&r.value)?);
                extracted = Arc::from(extract(k, v, ctx.record_metadata()));
                &extracted
            }
        };
        let mut out = crate::serde::sink_record((&key, &value), topic, &r)?;
        if let Some(p) = &partitioner {
            let (k, v) = (typed::<K>(&r.key)?, typed::<V>(&r.value)?);
            crate::processor::choose_partition(p.as_ref(), &mut out, k, v, ctx)?;
        }
        ctx.produce(out);
        Ok(())
    })
}

fn filter_node<K: 'static, V: 'static>(predicate: Predicate<K, V>, not: bool) -> NodeFactory {
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        if predicate(typed::<K>(&r.key)?, typed::<V>(&r.value)?) != not {
            ctx.forward(r)?;
        }
        Ok(())
    })
}

/// A node giving each record the key `selector` computes.
fn key_select<K, V, K2>(selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static) -> NodeFactory
where
    K: 'static,
    V: 'static,
    K2: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let k = selector(typed::<K>(&r.key)?, typed::<V>(&r.value)?);
        ctx.forward(DynRecord {
            key: Arc::new(k),
            ..r
        })
    })
}

pub(crate) fn pass_through() -> NodeFactory {
    stateless(|r: DynRecord, ctx: &mut dyn Context| {
        ctx.forward(r)?;
        Ok(())
    })
}

/// A stream being split ([`KStream::split`]): branches are added in order, and a record goes to
/// the first whose predicate holds, else to the default branch if there is one, else nowhere.
/// The branches come back by name: the splitter's name followed by the branch's name, or by its
/// position (from 1; the default branch is `0`), as Kafka Streams names them.
#[must_use = "the branches are only made by default_branch() or no_default_branch()"]
pub struct BranchedKStream<K, V> {
    /// The stream split (its serdes go to the branches).
    parent: KStream<K, V>,
    graph: Rc<RefCell<Graph>>,
    splitter: usize,
    name: String,
    predicates: Vec<Predicate<K, V>>,
    branches: HashMap<String, KStream<K, V>>,
}

/// How a branch of [`KStream::split`] is named and what becomes of it (Kafka's `Branched`):
/// in the map of branches under `<splitter><name>` (by default its position, `0` for the
/// default branch), or handed to a chain: [`Branched::with_consumer`] takes it (the map
/// leaves it out), [`Branched::with_function`] puts in the map the stream it gives back.
pub struct Branched<K, V> {
    name: Option<String>,
    chain: Option<BranchChain<K, V>>,
}

/// What a chain makes of a branch: the stream for the map of branches, if any.
type BranchChain<K, V> = Box<dyn FnOnce(KStream<K, V>) -> Option<KStream<K, V>>>;

impl<K, V> Branched<K, V> {
    /// A branch named by its position, kept in the map as it is.
    pub fn new() -> Self {
        Branched {
            name: None,
            chain: None,
        }
    }

    /// A branch named `name` (Kafka's `Branched.as`).
    pub fn named(name: &str) -> Self {
        Branched {
            name: Some(name.to_string()),
            chain: None,
        }
    }

    /// A branch handed to `chain`, and left out of the map of branches.
    pub fn with_consumer(chain: impl FnOnce(KStream<K, V>) + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |branch| {
                chain(branch);
                None
            })),
        }
    }

    /// A branch handed to `chain`; the map of branches holds the stream it returns.
    pub fn with_function(chain: impl FnOnce(KStream<K, V>) -> KStream<K, V> + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |branch| Some(chain(branch)))),
        }
    }

    /// This branch named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

impl<K, V> Default for Branched<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// The splitter node routing by `predicates` (and to a last, default child when `default`).
fn splitter<K: 'static, V: 'static>(
    predicates: Arc<Vec<Predicate<K, V>>>,
    default: bool,
) -> NodeFactory {
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let (k, v) = (typed::<K>(&r.key)?, typed::<V>(&r.value)?);
        match predicates.iter().position(|p| p(k, v)) {
            Some(i) => ctx.forward_to(i, r),
            None if default => ctx.forward_to(predicates.len(), r),
            None => Ok(()),
        }
    })
}

impl<K, V> BranchedKStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Adds the child `<splitter><suffix>` and routes with the predicates so far; the branch
    /// goes to `branched`'s chain, if any, and to the result what the chain gives.
    fn add_child(&mut self, suffix: &str, default: bool, branched: Branched<K, V>) {
        let child = format!("{}{suffix}", self.name);
        let mut g = self.graph.borrow_mut();
        // (a generated name is thrown away, but its index is taken, as in Kafka Streams)
        let _ = g.name(&child, None);
        let node = g.add(
            child.clone(),
            Kind::Processor { stores: Vec::new() },
            vec![self.splitter],
            Some(pass_through()),
        );
        // the splitter of the topology built from now on routes with exactly these branches
        g.nodes[self.splitter].factory = Some(splitter(Arc::new(self.predicates.clone()), default));
        drop(g);
        let branch = self.parent.same(KStream::new(Rc::clone(&self.graph), node));
        let kept = match branched.chain {
            Some(chain) => chain(branch),
            None => Some(branch),
        };
        if let Some(kept) = kept {
            self.branches.insert(child, kept);
        }
    }

    /// A branch for the records `predicate` holds for (named by its position).
    pub fn branch(self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.branch_with(predicate, Branched::new())
    }

    /// A branch named `name` for the records `predicate` holds for.
    pub fn branch_named(
        self,
        name: &str,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.branch_with(predicate, Branched::named(name))
    }

    /// A branch for the records `predicate` holds for, named and handled as `branched` says
    /// (Kafka's `branch(predicate, Branched)`): with a chain, the branch goes to it at once.
    pub fn branch_with(
        mut self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
        mut branched: Branched<K, V>,
    ) -> Self {
        self.predicates.push(Arc::new(predicate));
        let suffix = branched
            .name
            .take()
            .unwrap_or_else(|| self.predicates.len().to_string());
        self.add_child(&suffix, false, branched);
        self
    }

    /// The branches, with a default branch (`<splitter>0`) for the records no predicate holds
    /// for.
    pub fn default_branch(self) -> HashMap<String, KStream<K, V>> {
        self.default_branch_with(Branched::new())
    }

    /// [`BranchedKStream::default_branch`] named and handled as `branched` says.
    pub fn default_branch_with(
        mut self,
        mut branched: Branched<K, V>,
    ) -> HashMap<String, KStream<K, V>> {
        let suffix = branched.name.take().unwrap_or_else(|| "0".to_string());
        self.add_child(&suffix, true, branched);
        self.branches
    }

    /// The branches; records no predicate holds for are dropped.
    pub fn no_default_branch(self) -> HashMap<String, KStream<K, V>> {
        self.branches
    }
}
