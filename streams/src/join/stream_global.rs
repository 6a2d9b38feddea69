//! Global tables and stream-global joins: a [`GlobalKTable`] holds every partition of its
//! topic on every instance, so a stream joins it on any key its records map to, without
//! repartitioning or co-partitioning (Kafka Streams' `GlobalKTable` and
//! `KStreamGlobalKTableJoin`).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use super::stream_table::is_null;
use crate::builder::{Consumed, Graph, StreamsBuilder};
use crate::grouped::Materialized;
use crate::kstream::KStream;
use crate::processor::{typed, Context, Dyn, DynRecord, NodeFactory};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::{split_timestamp, with_timestamp, StoreDef, StoreKind};
use crate::topology::Kind;
use crate::window::IsNull;

/// A table of every partition of a topic, on every instance; joined by streams on any key.
pub struct GlobalKTable<K, V> {
    store: usize,
    store_name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> GlobalKTable<K, V> {
    /// The name of the store holding the table.
    pub fn queryable_store_name(&self) -> &str {
        &self.store_name
    }
}

impl StreamsBuilder {
    /// The global table of `topic`: its latest value per key, every partition on every
    /// instance, read whole before the instance processes anything and kept up to date after.
    /// The topic is the table's changelog (the store has none of its own).
    pub fn global_table<K, V>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V>
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let graph = self.graph();
        let mut g = graph.borrow_mut();
        let store_name = match &materialized.name {
            Some(n) => {
                g.check_name(n);
                n.clone()
            }
            None => g.name(&format!("{topic}-STATE-STORE-"), None),
        };
        let source_name = g.name("KSTREAM-SOURCE-", consumed.name.as_deref());
        let node_name = g.name("KTABLE-SOURCE-", None);
        let store = g.add_store(StoreDef {
            name: store_name.clone(),
            logged: false,
            persistent: false,
            dsl_default: false,
            timestamped: true,
            cached: false,
            kind: StoreKind::KeyValue,
        });
        // (the store holds the topic's bytes as they are, read with the topic's serdes, on
        // brokers as in the test driver)
        let (k, v) = (Arc::clone(&consumed.key), Arc::clone(&consumed.value));
        let taken = g.nodes.iter().any(|n| {
            n.global
                && matches!(&n.kind, Kind::Source { topics, .. } if topics.iter().any(|t| t == topic))
        });
        if taken {
            g.error.get_or_insert(format!(
                "Topic {topic} has already been registered by another source."
            ));
        }
        let nullable_value = crate::serde::Serdes::nullable(Arc::clone(&consumed.value));
        let (dk, dv) = (Arc::clone(&consumed.key), nullable_value);
        let decoder: crate::processor::Decoder = Arc::new(
            move |t: &str, kb: Option<&[u8]>, vb: Option<&[u8]>, h: &[crate::Header]| {
                let (key, value) = crate::serde::decode((&dk, &dv), t, kb, vb, h)?;
                Ok((Arc::new(key) as Dyn, Arc::new(value) as Dyn))
            },
        );
        let source = g.add(
            source_name,
            Kind::Source {
                topics: vec![topic.to_string()],
                internal: false,
                decoder,
                types: (
                    std::any::TypeId::of::<K>(),
                    std::any::TypeId::of::<Option<V>>(),
                ),
            },
            Vec::new(),
            None,
        );
        let node = g.add(
            node_name,
            Kind::Processor {
                stores: vec![store],
            },
            vec![source],
            Some(global_node::<K, V>(
                store,
                store_name.clone(),
                Arc::clone(&k),
                Arc::clone(&v),
            )),
        );
        g.nodes[source].global = true;
        g.nodes[node].global = true;
        GlobalKTable {
            store,
            store_name,
            key_serde: k,
            value_serde: v,
            _types: PhantomData,
        }
    }
}

/// The node keeping a global table's store: each record replaces (or, without a value,
/// deletes) its key's row; records without a key are skipped.
fn global_node<K, V>(
    store: usize,
    store_name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let Some(kb) = to_bytes(&key_serde, "key", &store_name, typed::<K>(&r.key)?)? else {
            return Ok(());
        };
        let value = match typed::<Option<V>>(&r.value)? {
            Some(v) => to_bytes(&value_serde, "value", &store_name, v)?,
            None => None,
        };
        let stored = value.map(|b| with_timestamp(r.timestamp, &b));
        ctx.put(store, &kb, stored.as_deref(), r.timestamp)
    })
}

/// Maps a stream record to the global table's key it joins.
type KeySelector<K, V, KG> = Arc<dyn Fn(&K, &V) -> KG + Send + Sync>;

/// A stream-global joiner (`None` on the table side: no row; `None` result: no output).
type Joiner<V, VG, VR> = Arc<dyn Fn(&V, Option<&VG>) -> Option<VR> + Send + Sync>;

impl<K, V> KStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Each record joined with `global`'s row of the key `key_selector` maps it to; records
    /// whose key has no row produce nothing.
    pub fn join_global<KG, VG, VR>(
        &self,
        global: &GlobalKTable<KG, VG>,
        key_selector: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, &VG) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR>
    where
        KG: Send + Sync + 'static,
        VG: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<V, VG, VR> = Arc::new(move |v, g| g.map(|g| joiner(v, g)));
        self.global_join(global, Arc::new(key_selector), joiner, false)
    }

    /// Each record joined with `global`'s row of the key `key_selector` maps it to, or with
    /// `None` when there is none.
    pub fn left_join_global<KG, VG, VR>(
        &self,
        global: &GlobalKTable<KG, VG>,
        key_selector: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VG>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR>
    where
        KG: Send + Sync + 'static,
        VG: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<V, VG, VR> = Arc::new(move |v, g| Some(joiner(v, g)));
        self.global_join(global, Arc::new(key_selector), joiner, true)
    }

    fn global_join<KG, VG, VR>(
        &self,
        global: &GlobalKTable<KG, VG>,
        key_selector: KeySelector<K, V, KG>,
        joiner: Joiner<V, VG, VR>,
        left: bool,
    ) -> KStream<K, VR>
    where
        KG: Send + Sync + 'static,
        VG: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let graph: Rc<RefCell<Graph>> = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        // (Kafka Streams names both joins this way)
        let name = g.name("KSTREAM-LEFTJOIN-", None);
        let factory = global_join_node(
            GlobalSide {
                store: global.store,
                store_name: global.store_name.clone(),
                key_serde: Arc::clone(&global.key_serde),
                value_serde: Arc::clone(&global.value_serde),
            },
            key_selector,
            joiner,
            left,
            (is_null(self.key_serde()), is_null(self.value_serde())),
        );
        let node = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node()],
            Some(factory),
        );
        drop(g);
        KStream::new(Rc::clone(&graph), node).with_serdes(
            self.key_serde(),
            None,
            self.repartition_required(),
        )
    }
}

/// The global table a join reads.
struct GlobalSide<KG, VG> {
    store: usize,
    store_name: String,
    key_serde: SharedSerde<KG>,
    value_serde: SharedSerde<VG>,
}

fn global_join_node<K, V, KG, VG, VR>(
    global: GlobalSide<KG, VG>,
    key_selector: KeySelector<K, V, KG>,
    joiner: Joiner<V, VG, VR>,
    left: bool,
    (key_is_null, value_is_null): (IsNull<K>, IsNull<V>),
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    KG: Send + Sync + 'static,
    VG: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let value = typed::<V>(&r.value)?;
        if value_is_null(value) {
            return Ok(());
        }
        let mapped = to_bytes(
            &global.key_serde,
            "key",
            &global.store_name,
            &key_selector(key, value),
        )?;
        // a left join keeps a record without a key; otherwise a record whose mapped key is
        // null joins nothing
        let keep_keyless = left && key_is_null(key);
        let row = match &mapped {
            Some(kb) => ctx.global_get(global.store, kb)?,
            None if keep_keyless => None,
            None => return Ok(()),
        };
        let other = match row.as_deref().and_then(split_timestamp) {
            Some((_, bytes)) => Some(from_bytes(
                &global.value_serde,
                "value",
                &global.store_name,
                Some(bytes),
            )?),
            None => None,
        };
        let Some(joined) = joiner(value, other.as_ref()) else {
            return Ok(());
        };
        ctx.forward(DynRecord {
            value: Arc::new(joined),
            ..r
        })
    })
}
