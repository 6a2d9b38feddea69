//! `KTable<K, V>`: a changelog stream read as a table, the latest value per key. Its nodes
//! forward changes (the new value and, where known, the old one); `to_stream` turns them back
//! into records, a deletion becoming a record with a null value.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

use crate::builder::Graph;
use crate::grouped::Materialized;
use crate::kstream::{pass_through, KStream};
use crate::processor::{
    stateless, typed, Change, Context, Dyn, DynRecord, NodeFactory, StreamsError,
};
use crate::serde::{from_bytes, to_bytes, Serdes, SharedSerde};
use crate::store::{split_timestamp, with_timestamp};
use crate::topology::Kind;

mod getter;

pub(crate) use getter::{store_getter, Getter, GetterMaker};

/// A table: the latest value of each key.
#[must_use = "a table that is never used adds a dead branch"]
pub struct KTable<K, V> {
    graph: Rc<RefCell<Graph>>,
    node: usize,
    key_serde: Option<SharedSerde<K>>,
    value_serde: Option<SharedSerde<V>>,
    /// The store holding the table, when it is materialized.
    store: Option<usize>,
    /// The switch that makes the nearest materialized table upstream send old values with its
    /// changes (`None`: none can).
    old_values: Vec<Arc<AtomicBool>>,
    /// For a windowed aggregation's table (and tables derived from it): how long after a
    /// window's end it closes (its grace period; for sessions, plus the gap).
    window_close: Option<i64>,
    /// Makes the reader of the table's current values that joins use (`None`: this table
    /// cannot be read that way).
    getter: Option<GetterMaker<K, V>>,
    /// Whether the table can send old values without being given a store: it, or the table it
    /// derives from, is kept in one (Kafka's `enableSendingOldValues(false)` succeeding).
    kept: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            graph: Rc::clone(&self.graph),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            store: self.store,
            old_values: self.old_values.clone(),
            window_close: self.window_close,
            getter: self.getter.clone(),
            kept: self.kept,
            _types: PhantomData,
        }
    }
}

type TablePredicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

impl<K, V> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub(crate) fn new(
        graph: Rc<RefCell<Graph>>,
        node: usize,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
        store: Option<usize>,
    ) -> Self {
        KTable {
            graph,
            node,
            key_serde,
            value_serde,
            store,
            old_values: Vec::new(),
            window_close: None,
            getter: None,
            kept: store.is_some(),
            _types: PhantomData,
        }
        .with_store_getter()
    }

    /// A table kept in a store is read from it.
    fn with_store_getter(mut self) -> Self {
        if let (Some(store), Some(k), Some(v)) =
            (self.store, self.key_serde.clone(), self.value_serde.clone())
        {
            self.getter = Some(Rc::new(move |g: &mut Graph| {
                let name = g.stores[store].name.clone();
                Ok((store_getter(store, name, k.clone(), v.clone()), vec![store]))
            }));
        }
        self
    }

    /// The table marked as able (or not) to send old values without a new store.
    pub(crate) fn with_kept(mut self, kept: bool) -> Self {
        self.kept = kept;
        self
    }

    /// The table with this getter maker.
    pub(crate) fn with_getter(mut self, getter: Option<GetterMaker<K, V>>) -> Self {
        self.getter = getter;
        self
    }

    /// The reader of the table's current values, and the stores it reads (which the reading
    /// node must be given); a table that is not kept in a store yet gets one, as Kafka Streams
    /// materializes a table source that a join reads.
    pub(crate) fn value_getter(&self, g: &mut Graph) -> Result<(Getter<K, V>, Vec<usize>), String> {
        match &self.getter {
            Some(make) => make(g),
            None => Err(format!(
                "the table of node {} cannot be joined: it is not kept in a store and cannot compute its values (a suppressed or windowed table)",
                g.nodes[self.node].name
            )),
        }
    }

    /// The table with this window close time.
    pub(crate) fn with_window_close(mut self, close: Option<i64>) -> Self {
        self.window_close = close;
        self
    }

    pub(crate) fn kept(&self) -> bool {
        self.kept
    }

    pub(crate) fn window_close(&self) -> Option<i64> {
        self.window_close
    }

    pub(crate) fn graph(&self) -> &Rc<RefCell<Graph>> {
        &self.graph
    }

    pub(crate) fn node(&self) -> usize {
        self.node
    }

    pub(crate) fn key_serde(&self) -> Option<SharedSerde<K>> {
        self.key_serde.clone()
    }

    pub(crate) fn value_serde(&self) -> Option<SharedSerde<V>> {
        self.value_serde.clone()
    }

    /// The table with this switch for old values upstream.
    pub(crate) fn with_old_values(mut self, switch: Option<Arc<AtomicBool>>) -> Self {
        self.old_values = switch.into_iter().collect();
        self
    }

    /// The table with these switches for old values (all are turned on together).
    pub(crate) fn with_old_value_switches(mut self, switches: Vec<Arc<AtomicBool>>) -> Self {
        self.old_values = switches;
        self
    }

    /// The switches that make the tables upstream send old values.
    pub(crate) fn old_value_switches(&self) -> Vec<Arc<AtomicBool>> {
        self.old_values.clone()
    }

    /// Asks the tables upstream to send old values, where one can.
    pub(crate) fn request_old_values(&self) {
        for s in &self.old_values {
            s.store(true, AtomicOrdering::Relaxed);
        }
    }

    /// The name of the store holding this table, to query it; `None` when the table is not
    /// materialized (a filter or mapping of another table).
    pub fn queryable_store_name(&self) -> Option<String> {
        self.store
            .map(|s| self.graph.borrow().stores[s].name.clone())
    }

    fn add<V2>(
        &self,
        prefix: &str,
        factory: NodeFactory,
        value_serde: Option<SharedSerde<V2>>,
    ) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        let mut g = self.graph.borrow_mut();
        let name = g.name(prefix, None);
        let node = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node],
            Some(factory),
        );
        drop(g);
        KTable::new(
            Rc::clone(&self.graph),
            node,
            self.key_serde.clone(),
            value_serde,
            None,
        )
        .with_old_value_switches(self.old_values.clone())
        .with_window_close(self.window_close)
        .with_kept(self.kept)
    }

    /// The table's changes as a stream: each update as a record, each deletion as a record
    /// with a null (`None`) value.
    pub fn to_stream(&self) -> KStream<K, Option<V>> {
        let mut g = self.graph.borrow_mut();
        let name = g.name("KTABLE-TOSTREAM-", None);
        let node = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node],
            Some(stateless(|r: DynRecord, ctx: &mut dyn Context| {
                let change = typed::<Change>(&r.value)?;
                let value = Arc::clone(&change.new);
                ctx.forward(DynRecord { value, ..r })
            })),
        );
        drop(g);
        KStream::new(Rc::clone(&self.graph), node).with_serdes(
            self.key_serde.clone(),
            self.value_serde.clone().map(Serdes::nullable),
            false,
        )
    }

    /// The rows `predicate` holds for; a row that stops matching is deleted downstream.
    pub fn filter(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KTable<K, V> {
        self.filtered(Arc::new(predicate), false)
    }

    /// The rows `predicate` does not hold for.
    pub fn filter_not(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KTable<K, V> {
        self.filtered(Arc::new(predicate), true)
    }

    fn filtered(&self, predicate: TablePredicate<K, V>, not: bool) -> KTable<K, V> {
        // with old values, a filter drops changes that stay filtered out; it asks for them only
        // where upstream can send them without a new store, as Kafka Streams' filter does
        if self.kept {
            self.request_old_values();
        }
        let getter = self.getter.clone().map(|parent| {
            let predicate = Arc::clone(&predicate);
            getter::derived(
                parent,
                Arc::new(move |k: &K, v: V| (predicate(k, &v) != not).then_some(v)),
            )
        });
        self.add(
            "KTABLE-FILTER-",
            table_filter::<K, V>(predicate, not),
            self.value_serde.clone(),
        )
        .with_getter(getter)
    }

    /// Each row's value mapped with `mapper`.
    pub fn map_values<V2>(&self, mapper: impl Fn(&V) -> V2 + Send + Sync + 'static) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.map_values_with_key(move |_: &K, v: &V| mapper(v))
    }

    /// Each row's value mapped with `mapper`, which sees the row's key too (Kafka's
    /// `mapValues(ValueMapperWithKey)`).
    pub fn map_values_with_key<V2>(
        &self,
        mapper: impl Fn(&K, &V) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.mapped(
            "KTABLE-MAPVALUES-",
            move |k: &K, v: &V, _| mapper(k, v),
            None,
        )
    }

    /// Each row's value mapped with `mapper`, which sees the row's key and timestamp (the
    /// timestamp of its last update), as a value transformer of Kafka's `transformValues`
    /// reads them from its context.
    pub fn transform_values<V2>(
        &self,
        mapper: impl Fn(&K, &V, i64) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.mapped("KTABLE-TRANSFORMVALUES-", mapper, None)
    }

    /// [`KTable::transform_values`] whose values `value_serde` writes and reads, for what needs
    /// the table's serdes downstream (a foreign-key join).
    pub fn transform_values_with_serde<V2>(
        &self,
        mapper: impl Fn(&K, &V, i64) -> V2 + Send + Sync + 'static,
        value_serde: SharedSerde<V2>,
    ) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        self.mapped("KTABLE-TRANSFORMVALUES-", mapper, Some(value_serde))
    }

    fn mapped<V2>(
        &self,
        prefix: &str,
        mapper: impl Fn(&K, &V, i64) -> V2 + Send + Sync + 'static,
        value_serde: Option<SharedSerde<V2>>,
    ) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        let getter = self.getter.clone().map(|parent| {
            let mapper = Arc::clone(&mapper);
            getter::derived_timestamped(
                parent,
                Arc::new(move |k: &K, v: V, ts| Some(mapper(k, &v, ts))),
            )
        });
        self.add(
            prefix,
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                let key = typed::<K>(&r.key)?;
                let ts = r.timestamp;
                let map = |d: &Dyn| -> Result<Dyn, StreamsError> {
                    Ok(Arc::new(
                        typed::<Option<V>>(d)?.as_ref().map(|v| mapper(key, v, ts)),
                    ))
                };
                let change = typed::<Change>(&r.value)?;
                let value: Dyn = Arc::new(Change {
                    new: map(&change.new)?,
                    old: change.old.as_ref().map(&map).transpose()?,
                });
                ctx.forward(DynRecord { value, ..r })
            }),
            value_serde,
        )
        .with_getter(getter)
    }
}

/// The filter of a table: a value that does not match is forwarded as a deletion. When the
/// change carries the old value, a change where neither the new nor the old value matches is
/// not forwarded (without it, the filter cannot know, and forwards the deletion).
fn table_filter<K: 'static, V: Send + Sync + 'static>(
    predicate: TablePredicate<K, V>,
    not: bool,
) -> NodeFactory {
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let change = typed::<Change>(&r.value)?;
        let keep = |d: &Dyn| -> Result<Option<Dyn>, StreamsError> {
            Ok(match typed::<Option<V>>(d)? {
                Some(v) if predicate(key, v) != not => Some(Arc::clone(d)),
                _ => None,
            })
        };
        let new = keep(&change.new)?;
        let old = match &change.old {
            Some(o) => Some(keep(o)?),
            None => None,
        };
        if new.is_none() && matches!(old, Some(None)) {
            return Ok(());
        }
        let none = || Arc::new(None::<V>) as Dyn;
        let value: Dyn = Arc::new(Change {
            new: new.unwrap_or_else(none),
            old: old.map(|o| o.unwrap_or_else(none)),
        });
        ctx.forward(DynRecord { value, ..r })
    })
}

/// Turns a stream's value into a table's `Option<V>` value.
pub(crate) type ToOption = Arc<dyn Fn(&Dyn) -> Result<Dyn, StreamsError> + Send + Sync>;

/// The table of the records of `parent`'s node (a `None` value deletes its key; values that
/// are not `Option<V>` yet go through `convert`), in the node `name`; kept in store `store`
/// when there is one, else in a store named `reserved` once a join needs to read it.
pub(crate) fn table_from_stream<K, V>(
    graph: &Rc<RefCell<Graph>>,
    parent: usize,
    (name, reserved): (String, String),
    store: Option<usize>,
    materialized: &Materialized<K, V>,
    convert: Option<ToOption>,
) -> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let graph = Rc::clone(graph);
    let mut g = graph.borrow_mut();
    let (key, value) = (materialized.key.clone(), materialized.value.clone());
    let send_old = Arc::new(AtomicBool::new(false));
    let factory = table_factory(&mut g, store, (&key, &value), &send_old, convert.clone());
    let node = g.add(
        name,
        Kind::Processor {
            stores: store.into_iter().collect(),
        },
        vec![parent],
        Some(factory),
    );
    drop(g);
    let table = KTable::new(graph, node, key.clone(), value.clone(), store)
        .with_old_values(Some(Arc::clone(&send_old)));
    if store.is_some() {
        return table;
    }
    let logging = materialized.logging;
    let caching = materialized.caching;
    let materialize: GetterMaker<K, V> = Rc::new(move |g: &mut Graph| {
        let (Some(k), Some(v)) = (key.clone(), value.clone()) else {
            return Err(format!(
                "the table of node {} needs a key serde and a value serde to be joined: give them with Consumed::with or Materialized::with",
                g.nodes[node].name
            ));
        };
        let existing = match &g.nodes[node].kind {
            Kind::Processor { stores } => stores.first().copied(),
            _ => None,
        };
        let id = match existing {
            Some(id) => id,
            None => {
                let id = g.add_store(crate::store::StoreDef {
                    name: reserved.clone(),
                    logged: logging,
                    persistent: false,
                    dsl_default: true,
                    timestamped: true,
                    cached: caching,
                    kind: crate::store::StoreKind::KeyValue,
                });
                let factory = table_factory(
                    g,
                    Some(id),
                    (&Some(k.clone()), &Some(v.clone())),
                    &send_old,
                    convert.clone(),
                );
                g.nodes[node].kind = Kind::Processor { stores: vec![id] };
                g.nodes[node].factory = Some(factory);
                id
            }
        };
        Ok((store_getter(id, reserved.clone(), k, v), vec![id]))
    });
    table.with_getter(Some(materialize))
}

/// The node of a table from a stream: kept in `store` when there is one, else passing the
/// records on as changes.
fn table_factory<K, V>(
    g: &mut Graph,
    store: Option<usize>,
    (key, value): (&Option<SharedSerde<K>>, &Option<SharedSerde<V>>),
    send_old: &Arc<AtomicBool>,
    convert: Option<ToOption>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let factory = match (store, key, value) {
        (None, _, _) => {
            let key_is_null = crate::join::is_null(key.clone());
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                // a row needs a key: Kafka Streams skips (and counts) records without one
                if key_is_null(typed::<K>(&r.key)?) {
                    return Ok(());
                }
                let value: Dyn = Arc::new(Change {
                    new: Arc::clone(&r.value),
                    old: None,
                });
                ctx.forward(DynRecord { value, ..r })
            })
        }
        (Some(store), Some(k), Some(v)) => {
            let name = g.stores[store].name.clone();
            table_node::<K, V>((store, name), k.clone(), v.clone(), Arc::clone(send_old))
        }
        (Some(store), _, _) => {
            let store_name = g.stores[store].name.clone();
            g.error.get_or_insert(format!(
                "the store {store_name} needs a key serde and a value serde: give them with Consumed::with or Materialized::with"
            ));
            pass_through()
        }
    };
    match convert {
        None => factory,
        Some(convert) => Arc::new(move || {
            let mut inner = factory();
            let convert = Arc::clone(&convert);
            Box::new(crate::processor::FnNode(
                move |r: DynRecord, ctx: &mut dyn Context| {
                    let value = convert(&r.value)?;
                    inner.process(DynRecord { value, ..r }, ctx)
                },
            )) as Box<dyn crate::processor::Node>
        }),
    }
}

/// The node keeping a table in store `store`: each record replaces its key's row (a `None`
/// value deletes it; deleting a row that is not there does nothing) and the change is
/// forwarded, with the replaced row when old values are asked for.
fn table_node<K, V>(
    (store, store_name): (usize, String),
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    send_old: Arc<AtomicBool>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let Some(kb) = to_bytes(&key_serde, "key", &store_name, typed::<K>(&r.key)?)? else {
            // a row needs a key: Kafka Streams skips (and counts) records without one
            return Ok(());
        };
        let new_bytes = match typed::<Option<V>>(&r.value)? {
            Some(v) => to_bytes(&value_serde, "value", &store_name, v)?,
            None => None,
        };
        // (a deletion of a row that is not there still goes on, as in Kafka: a write cache
        // drops it, an uncached table forwards it)
        let existing = ctx.store(store)?.get(&kb).and_then(split_timestamp);
        let old: Option<Dyn> = match existing {
            Some((_, bytes)) if send_old.load(AtomicOrdering::Relaxed) => Some(Arc::new(Some(
                from_bytes(&value_serde, "value", &store_name, Some(bytes))?,
            ))),
            None if send_old.load(AtomicOrdering::Relaxed) => Some(Arc::new(None::<V>)),
            _ => None,
        };
        let stored = new_bytes.as_deref().map(|b| with_timestamp(r.timestamp, b));
        let value: Dyn = Arc::new(Change {
            new: Arc::clone(&r.value),
            old,
        });
        let ts = r.timestamp;
        ctx.put_and_forward(store, &kb, stored.as_deref(), ts, DynRecord { value, ..r })
    })
}
