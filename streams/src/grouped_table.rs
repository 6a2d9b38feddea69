//! Tables grouped by a new key (`KTable::group_by`) and their aggregations: each change of a
//! row is sent to the group of its new value (added) and of its old value (subtracted), through
//! the repartition topic `<application.id>-<name>-repartition`, as Kafka Streams'
//! `KTableRepartitionMap` and `KTableAggregate`/`KTableReduce` do.
//!
//! The repartition topic's values are Kafka's `ChangedSerializer` bytes: the new value then
//! `0x01`, the old value then `0x00`, or (a change within one group) the new value's length as a
//! zig-zag varint, the new value, the old value, then `0x02`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::builder::Graph;
use crate::grouped::{missing_serdes, Grouped, Materialized};
use crate::ktable::KTable;
use crate::processor::{typed, Change, Context, Dyn, DynRecord, NodeFactory, StreamsError};
use crate::serde::{from_bytes, to_bytes, SerdeError, Serdes, SharedSerde};
use crate::store::{split_timestamp, with_timestamp, StoreKind};
use crate::topology::Kind;

/// A table grouped by a new key, ready to aggregate.
pub struct KGroupedTable<K, V> {
    graph: Rc<RefCell<Graph>>,
    /// The node selecting the new keys.
    select: usize,
    grouped: Grouped<K, V>,
    /// The repartition source of a named grouping, shared by its aggregations.
    shared_source: Rc<RefCell<Option<usize>>>,
}

/// Picks a row's group and the value it brings there.
type Selector<K, V, K2, V2> = Arc<dyn Fn(&K, &V) -> (K2, V2) + Send + Sync>;

/// A change's new and old values' bytes.
type ChangeBytes<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Starts an aggregate from a group's first value.
type Start<K, V, VA> = Arc<dyn Fn(&K, &V) -> VA + Send + Sync>;

/// Folds a value into an aggregate, or takes it out.
type Fold<K, V, VA> = Arc<dyn Fn(&K, &V, VA) -> VA + Send + Sync>;

impl<K, V> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The table's rows regrouped by `selector` (a new key and value per row), to aggregate per
    /// new key: an update moves the row's value out of its old group and into its new one.
    pub fn group_by<K2, V2>(
        &self,
        selector: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
        grouped: Grouped<K2, V2>,
    ) -> KGroupedTable<K2, V2>
    where
        K2: Send + Sync + 'static,
        V2: Send + Sync + 'static,
    {
        let graph = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        let name = g.name("KTABLE-SELECT-", grouped.name.as_deref());
        // the old values are needed (a source table gets a store for them)
        if let Err(e) = self.value_getter(&mut g) {
            g.error.get_or_insert(e);
        }
        self.request_old_values();
        let factory = match grouped.key.clone() {
            Some(key_serde) => Some(select_node::<K, V, K2, V2>(
                Arc::new(selector),
                key_serde,
                grouped.value.clone(),
            )),
            None => {
                g.error.get_or_insert(format!(
                    "the grouping {name} needs a key serde and a value serde: give them with Grouped::with"
                ));
                None
            }
        };
        let select = g.add(
            name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node()],
            factory,
        );
        drop(g);
        KGroupedTable {
            graph,
            select,
            grouped,
            shared_source: Rc::new(RefCell::new(None)),
        }
    }
}

/// The node sending each change to its groups: one change when the group stays, else the
/// subtraction from the old group first, then the addition to the new one.
fn select_node<K, V, K2, V2>(
    selector: Selector<K, V, K2, V2>,
    key_serde: SharedSerde<K2>,
    value_serde: Option<SharedSerde<V2>>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    K2: Send + Sync + 'static,
    V2: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let change = typed::<Change>(&r.value)?;
        let (new, old) = change.values::<V>()?;
        // (a pair with a null key or value is skipped, as in Kafka)
        let usable = |pair: (K2, V2)| -> Result<Option<(Vec<u8>, K2, V2)>, StreamsError> {
            if value_serde.as_ref().is_some_and(|s| s.is_null(&pair.1)) {
                return Ok(None);
            }
            Ok(to_bytes(&key_serde, "key", "group_by", &pair.0)?.map(|kb| (kb, pair.0, pair.1)))
        };
        let new_pair = match new {
            Some(v) => usable(selector(key, v))?,
            None => None,
        };
        let old_pair = match old {
            Some(v) => usable(selector(key, v))?,
            None => None,
        };
        let send = |ctx: &mut dyn Context, k: K2, new: Option<V2>, old: Option<V2>| {
            ctx.forward(DynRecord {
                key: Arc::new(k),
                value: Arc::new(Change {
                    new: Arc::new(new),
                    old: Some(Arc::new(old) as Dyn),
                }),
                timestamp: r.timestamp,
                headers: Arc::clone(&r.headers),
            })
        };
        match (old_pair, new_pair) {
            (Some((ob, _, ov)), Some((nb, nk, nv))) if ob == nb => {
                send(ctx, nk, Some(nv), Some(ov))
            }
            (old_pair, new_pair) => {
                if let Some((_, ok, ov)) = old_pair {
                    send(ctx, ok, None, Some(ov))?;
                }
                if let Some((_, nk, nv)) = new_pair {
                    send(ctx, nk, Some(nv), None)?;
                }
                Ok(())
            }
        }
    })
}

fn zigzag_varint(n: i32, out: &mut Vec<u8>) {
    let mut v = ((n << 1) ^ (n >> 31)) as u32;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_zigzag_varint(data: &[u8]) -> Option<(i32, usize)> {
    let mut v: u32 = 0;
    for (i, b) in data.iter().enumerate().take(5) {
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((((v >> 1) as i32) ^ -((v & 1) as i32), i + 1));
        }
    }
    None
}

/// The new and old values' bytes of a change read from a repartition topic (Kafka's
/// `ChangedDeserializer`).
fn decode_change(data: &[u8]) -> Result<ChangeBytes<'_>, SerdeError> {
    let bad = || SerdeError("a change in a repartition topic that cannot be read".into());
    let (&flag, body) = data.split_last().ok_or_else(bad)?;
    match flag {
        0 => Ok((None, Some(body))),
        1 => Ok((Some(body), None)),
        2 => {
            let (len, at) = read_zigzag_varint(body).ok_or_else(bad)?;
            let len = usize::try_from(len).map_err(|_| bad())?;
            let new = body.get(at..at + len).ok_or_else(bad)?;
            Ok((Some(new), Some(&body[at + len..])))
        }
        _ => Err(bad()),
    }
}

/// How a grouped table's aggregation starts, adds and subtracts.
struct Steps<K, V, VA> {
    /// The aggregate of a group's first value.
    start: Start<K, V, VA>,
    add: Fold<K, V, VA>,
    subtract: Fold<K, V, VA>,
}

impl<K, V> KGroupedTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// How many rows each group has (a group whose rows all left stays, at 0).
    pub fn count(&self) -> KTable<K, i64> {
        self.count_with(Materialized::new())
    }

    /// [`KGroupedTable::count`], kept as `materialized` says.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate(
            || 0i64,
            |_, _, n: i64| n + 1,
            |_, _, n: i64| n - 1,
            materialized.or_serdes(None, Some(Serdes::long())),
        )
    }

    /// Each group's values combined: `adder` adds a value to the aggregate, `subtractor` takes
    /// one out (the first value is the aggregate as it is).
    pub fn reduce(
        &self,
        adder: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        V: Clone,
    {
        let materialized = materialized.or_serdes(None, self.grouped.value.clone());
        self.build(
            materialized,
            "KTABLE-REDUCE-",
            Steps {
                start: Arc::new(|_, v: &V| v.clone()),
                add: Arc::new(move |_, v: &V, agg: V| adder(&agg, v)),
                subtract: Arc::new(move |_, v: &V, agg: V| subtractor(&agg, v)),
            },
        )
    }

    /// Each group's values folded into an aggregate: `initializer` starts it, `adder` adds a
    /// value, `subtractor` takes one out.
    pub fn aggregate<VA>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Send + Sync + 'static,
    {
        let adder: Fold<K, V, VA> = Arc::new(adder);
        let first = Arc::clone(&adder);
        self.build(
            materialized,
            "KTABLE-AGGREGATE-",
            Steps {
                start: Arc::new(move |k: &K, v: &V| first(k, v, initializer())),
                add: adder,
                subtract: Arc::new(subtractor),
            },
        )
    }

    fn build<VA>(
        &self,
        materialized: Materialized<K, VA>,
        prefix: &str,
        steps: Steps<K, V, VA>,
    ) -> KTable<K, VA>
    where
        VA: Send + Sync + 'static,
    {
        let materialized = materialized.or_serdes(self.grouped.key.clone(), None);
        let mut g = self.graph.borrow_mut();
        let store =
            materialized.add_store(&mut g, "KTABLE-AGGREGATE-STATE-STORE-", StoreKind::KeyValue);
        let store_name = g.stores[store].name.clone();
        let sink_name = g.name("KSTREAM-SINK-", None);
        let source_name = g.name("KSTREAM-SOURCE-", None);
        let name = g.name(prefix, None);
        let base = self
            .grouped
            .name
            .clone()
            .unwrap_or_else(|| store_name.clone());
        let topic = format!("{base}-repartition");
        let shared = if self.grouped.name.is_some() {
            *self.shared_source.borrow()
        } else {
            None
        };
        let source = match (shared, self.grouped.key.clone(), self.grouped.value.clone()) {
            (Some(source), _, _) => Some(source),
            (None, Some(k), Some(v)) => {
                let source = repartition::<K, V>(
                    &mut g,
                    self.select,
                    &topic,
                    (sink_name, source_name),
                    k,
                    v,
                );
                if self.grouped.name.is_some() {
                    *self.shared_source.borrow_mut() = Some(source);
                }
                Some(source)
            }
            _ => {
                g.error.get_or_insert(format!(
                    "the repartition topic {topic} needs a key serde and a value serde: give them with Grouped::with"
                ));
                None
            }
        };
        let send_old = Arc::new(AtomicBool::new(false));
        let factory = match (materialized.key.clone(), materialized.value.clone()) {
            (Some(k), Some(v)) => Some(table_aggregate_node(
                (store, store_name.clone()),
                k,
                v,
                steps,
                Arc::clone(&send_old),
            )),
            _ => {
                g.error.get_or_insert(missing_serdes(&store_name));
                None
            }
        };
        let node = g.add(
            name,
            Kind::Processor {
                stores: vec![store],
            },
            source.into_iter().collect(),
            factory,
        );
        drop(g);
        KTable::new(
            Rc::clone(&self.graph),
            node,
            materialized.key,
            materialized.value,
            Some(store),
        )
        .with_old_values(Some(send_old))
    }
}

/// The sink and source of a grouped table's repartition topic (no filter: keys are never
/// null); the source's index.
fn repartition<K, V>(
    g: &mut Graph,
    parent: usize,
    topic: &str,
    (sink_name, source_name): (String, String),
    key: SharedSerde<K>,
    value: SharedSerde<V>,
) -> usize
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let (k2, v2) = (Arc::clone(&key), Arc::clone(&value));
    let base = topic.to_string();
    let sink = crate::processor::stateful(move || {
        let (key, value, base) = (Arc::clone(&key), Arc::clone(&value), base.clone());
        let mut topic: Option<Arc<str>> = None;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let topic: &Arc<str> =
                topic.get_or_insert_with(|| format!("{}-{}", ctx.application_id(), base).into());
            let change = typed::<Change>(&r.value)?;
            let take = |d: &Dyn| -> Result<Option<Vec<u8>>, StreamsError> {
                match typed::<Option<V>>(d)? {
                    Some(v) => to_bytes(&value, "value", topic, v),
                    None => Ok(None),
                }
            };
            let new = take(&change.new)?;
            let old = match &change.old {
                Some(o) => take(o)?,
                None => None,
            };
            let value = encode_change(new, old).map_err(|source| StreamsError::Serde {
                what: "value",
                topic: topic.to_string(),
                source,
            })?;
            let kb = to_bytes(&key, "key", topic, typed::<K>(&r.key)?)?;
            ctx.produce(crate::processor::OutputRecord {
                topic: Arc::clone(topic),
                partition: None,
                key: kb,
                value: Some(value),
                timestamp: r.timestamp,
                headers: r.headers.as_ref().clone(),
            });
            Ok(())
        }
    });
    g.add(
        sink_name,
        Kind::Sink {
            topic: topic.to_string(),
            internal: true,
        },
        vec![parent],
        Some(sink),
    );
    let decoder: crate::processor::Decoder = Arc::new(
        move |t: &str, kb: Option<&[u8]>, vb: Option<&[u8]>, _: &[crate::Header]| {
            let key = from_bytes(&k2, "key", t, kb)?;
            let serde_error = |source| StreamsError::Serde {
                what: "value",
                topic: t.to_string(),
                source,
            };
            let data =
                vb.ok_or_else(|| serde_error(SerdeError("a change cannot be null".into())))?;
            let (new, old) = decode_change(data).map_err(serde_error)?;
            let read = |b: Option<&[u8]>| -> Result<Option<V>, StreamsError> {
                b.map(|b| from_bytes(&v2, "value", t, Some(b))).transpose()
            };
            let change = Change {
                new: Arc::new(read(new)?),
                old: Some(Arc::new(read(old)?) as Dyn),
            };
            Ok((Arc::new(key) as Dyn, Arc::new(change) as Dyn))
        },
    );
    g.add(
        source_name,
        Kind::Source {
            topics: vec![topic.to_string()],
            internal: true,
            decoder,
            types: (
                std::any::TypeId::of::<K>(),
                std::any::TypeId::of::<Change>(),
            ),
        },
        Vec::new(),
        None,
    )
}

/// The `ChangedSerializer` bytes of a change, from its values' bytes.
fn encode_change(new: Option<Vec<u8>>, old: Option<Vec<u8>>) -> Result<Vec<u8>, SerdeError> {
    match (new, old) {
        (Some(n), Some(o)) => {
            let mut out = Vec::with_capacity(n.len() + o.len() + 6);
            zigzag_varint(n.len() as i32, &mut out);
            out.extend_from_slice(&n);
            out.extend_from_slice(&o);
            out.push(2);
            Ok(out)
        }
        (Some(mut n), None) => {
            n.push(1);
            Ok(n)
        }
        (None, Some(mut o)) => {
            o.push(0);
            Ok(o)
        }
        (None, None) => Err(SerdeError(
            "Both old and new values are null in ChangeSerializer, which is not allowed.".into(),
        )),
    }
}

/// A grouped table's aggregation node: takes a change's old value out of its group's
/// aggregate, then adds the new one (as Kafka's `KTableAggregate`/`KTableReduce`), and stores
/// and forwards the result at the larger of the change's and the aggregate's timestamps.
fn table_aggregate_node<K, V, VA>(
    (store, store_name): (usize, String),
    key_serde: SharedSerde<K>,
    agg_serde: SharedSerde<VA>,
    steps: Steps<K, V, VA>,
    send_old: Arc<AtomicBool>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let Some(kb) = to_bytes(&key_serde, "key", &store_name, key)? else {
            return Ok(());
        };
        let change = typed::<Change>(&r.value)?;
        let (new, old) = change.values::<V>()?;
        let existing = ctx
            .store(store)?
            .get(&kb)
            .and_then(split_timestamp)
            .map(|(ts, b)| (ts, b.to_vec()));
        let decode = |b: &[u8]| from_bytes(&agg_serde, "value", &store_name, Some(b));
        let aggregate = existing.as_ref().map(|(_, b)| decode(b)).transpose()?;
        let timestamp = existing
            .as_ref()
            .map_or(r.timestamp, |(t, _)| r.timestamp.max(*t));
        // take the old value out, then add the new one
        let intermediate = match (old, aggregate) {
            (Some(o), Some(agg)) => Some((steps.subtract)(key, o, agg)),
            (_, agg) => agg,
        };
        let result = match (new, intermediate) {
            (Some(n), None) => Some((steps.start)(key, n)),
            (Some(n), Some(agg)) => Some((steps.add)(key, n, agg)),
            (None, agg) => agg,
        };
        let bytes = match &result {
            Some(v) => to_bytes(&agg_serde, "value", &store_name, v)?,
            None => None,
        };
        let stored = bytes.as_deref().map(|b| with_timestamp(timestamp, b));
        let old_value: Option<Dyn> = if send_old.load(Ordering::Relaxed) {
            Some(Arc::new(
                existing.as_ref().map(|(_, b)| decode(b)).transpose()?,
            ))
        } else {
            None
        };
        // (a deletion is logged at the change's own timestamp)
        let log_timestamp = if stored.is_some() {
            timestamp
        } else {
            r.timestamp
        };
        let record = DynRecord {
            key: r.key,
            value: Arc::new(Change {
                new: Arc::new(result),
                old: old_value,
            }),
            timestamp,
            headers: r.headers,
        };
        ctx.put_and_forward(store, &kb, stored.as_deref(), log_timestamp, record)
    })
}
