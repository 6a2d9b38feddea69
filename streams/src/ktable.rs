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
    old_values: Option<Arc<AtomicBool>>,
    /// For a windowed aggregation's table (and tables derived from it): how long after a
    /// window's end it closes (its grace period; for sessions, plus the gap).
    window_close: Option<i64>,
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
            old_values: None,
            window_close: None,
            _types: PhantomData,
        }
    }

    /// The table with this window close time.
    pub(crate) fn with_window_close(mut self, close: Option<i64>) -> Self {
        self.window_close = close;
        self
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
        self.old_values = switch;
        self
    }

    /// Asks the tables upstream to send old values, where one can.
    pub(crate) fn request_old_values(&self) {
        if let Some(s) = &self.old_values {
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
        .with_old_values(self.old_values.clone())
        .with_window_close(self.window_close)
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
        self.request_old_values();
        self.add(
            "KTABLE-FILTER-",
            table_filter::<K, V>(predicate, not),
            self.value_serde.clone(),
        )
    }

    /// Each row's value mapped with `mapper`.
    pub fn map_values<V2>(&self, mapper: impl Fn(&V) -> V2 + Send + Sync + 'static) -> KTable<K, V2>
    where
        V2: Send + Sync + 'static,
    {
        let map = move |d: &Dyn| -> Result<Dyn, StreamsError> {
            Ok(Arc::new(typed::<Option<V>>(d)?.as_ref().map(&mapper)))
        };
        self.add(
            "KTABLE-MAPVALUES-",
            stateless(move |r: DynRecord, ctx: &mut dyn Context| {
                let change = typed::<Change>(&r.value)?;
                let value: Dyn = Arc::new(Change {
                    new: map(&change.new)?,
                    old: change.old.as_ref().map(&map).transpose()?,
                });
                ctx.forward(DynRecord { value, ..r })
            }),
            None,
        )
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
/// when there is one.
pub(crate) fn table_from_stream<K, V>(
    graph: &Rc<RefCell<Graph>>,
    parent: usize,
    name: String,
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
    let factory = match (store, &key, &value) {
        (None, _, _) => stateless(|r: DynRecord, ctx: &mut dyn Context| {
            let value: Dyn = Arc::new(Change {
                new: Arc::clone(&r.value),
                old: None,
            });
            ctx.forward(DynRecord { value, ..r })
        }),
        (Some(store), Some(k), Some(v)) => {
            let name = g.stores[store].name.clone();
            table_node::<K, V>((store, name), k.clone(), v.clone(), Arc::clone(&send_old))
        }
        (Some(store), _, _) => {
            let store_name = g.stores[store].name.clone();
            g.error.get_or_insert(format!(
                "the store {store_name} needs a key serde and a value serde: give them with Consumed::with or Materialized::with"
            ));
            pass_through()
        }
    };
    let factory = match convert {
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
    };
    let node = g.add(
        name,
        Kind::Processor {
            stores: store.into_iter().collect(),
        },
        vec![parent],
        Some(factory),
    );
    drop(g);
    KTable::new(graph, node, key, value, store).with_old_values(store.map(|_| send_old))
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
        let existing = ctx.store(store)?.get(&kb).and_then(split_timestamp);
        if new_bytes.is_none() && existing.is_none() {
            return Ok(());
        }
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
