//! Table-table joins (inner, left, outer), as Kafka Streams' `KTableKTableJoin`: an update of
//! either table is joined with the other table's current value of the key; the result is a
//! table (`KTABLE-JOINTHIS`/`-JOINOTHER` into `KTABLE-MERGE`), kept in a store when
//! `Materialized` is given. A result's timestamp is the larger of the two sides'.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::grouped::Materialized;
use crate::ktable::{Getter, GetterMaker, KTable};
use crate::processor::{typed, Change, Context, Dyn, DynRecord, NodeFactory};
use crate::serde::to_bytes;
use crate::store::{with_timestamp, StoreKind};
use crate::topology::Kind;

/// A joiner over both sides' values (`None`: no row on that side); `None` when the variant does
/// not join those (an inner join's joiner without both values).
type Joiner<V, VO, VR> = Arc<dyn Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Inner,
    Left,
    Outer,
}

impl<K, V> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The rows of keys both tables have, their values joined by `joiner`.
    pub fn join<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(other, inner_joiner(joiner), Variant::Inner, None)
    }

    /// [`KTable::join`], the result kept as `materialized` says (queryable, logged).
    pub fn join_materialized<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(
            other,
            inner_joiner(joiner),
            Variant::Inner,
            Some(materialized),
        )
    }

    /// Every row of this table, joined with the other table's value of the key when it has one.
    pub fn left_join<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(other, left_joiner(joiner), Variant::Left, None)
    }

    /// [`KTable::left_join`], the result kept as `materialized` says.
    pub fn left_join_materialized<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(
            other,
            left_joiner(joiner),
            Variant::Left,
            Some(materialized),
        )
    }

    /// Every key of either table, joined with whatever each side has.
    pub fn outer_join<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(
            other,
            Arc::new(move |v, o| Some(joiner(v, o))),
            Variant::Outer,
            None,
        )
    }

    /// [`KTable::outer_join`], the result kept as `materialized` says.
    pub fn outer_join_materialized<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(
            other,
            Arc::new(move |v, o| Some(joiner(v, o))),
            Variant::Outer,
            Some(materialized),
        )
    }

    fn table_join<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: Joiner<V, VO, VR>,
        variant: Variant,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let graph = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        // names in Kafka Streams' order: the result's store, the merge, then the two joins
        let materialized = materialized.map(|m| m.or_serdes(self.key_serde(), None));
        let store = materialized
            .as_ref()
            .map(|m| m.add_store(&mut g, "KTABLE-MERGE-STATE-STORE-", StoreKind::KeyValue));
        let merge_name = g.name("KTABLE-MERGE-", None);
        let this_name = g.name("KTABLE-JOINTHIS-", None);
        let other_name = g.name("KTABLE-JOINOTHER-", None);
        let getters = self
            .value_getter(&mut g)
            .and_then(|this| other.value_getter(&mut g).map(|other| (this, other)));
        let ((this_getter, this_stores), (other_getter, other_stores)) = match getters {
            Ok(x) => x,
            Err(e) => {
                g.error.get_or_insert(e);
                drop(g);
                return KTable::new(graph, self.node(), None, None, None);
            }
        };
        drop(g);
        // old values: a left join needs this side's, an outer join both sides'
        if variant != Variant::Inner {
            self.request_old_values();
        }
        if variant == Variant::Outer {
            other.request_old_values();
        }
        let send_old = Arc::new(AtomicBool::new(false));
        let joiner_for_getter = Arc::clone(&joiner);
        let this_node = join_side::<K, V, VO, VR>(
            Side::This(other_getter),
            Arc::clone(&joiner),
            variant,
            Arc::clone(&send_old),
        );
        let other_node = join_side::<K, V, VO, VR>(
            Side::Other(this_getter),
            joiner,
            variant,
            Arc::clone(&send_old),
        );
        let mut g = graph.borrow_mut();
        g.copartition(&[self.node(), other.node()]);
        let joins = [
            g.add(
                this_name,
                Kind::Processor {
                    stores: other_stores,
                },
                vec![self.node()],
                Some(this_node),
            ),
            g.add(
                other_name,
                Kind::Processor {
                    stores: this_stores,
                },
                vec![other.node()],
                Some(other_node),
            ),
        ];
        let merge_factory = match (&materialized, store) {
            (Some(m), Some(id)) => match (m.key.clone(), m.value.clone()) {
                (Some(k), Some(v)) => {
                    let store_name = g.stores[id].name.clone();
                    Some(materialized_merge::<K, VR>(
                        id,
                        store_name,
                        k,
                        v,
                        Arc::clone(&send_old),
                    ))
                }
                _ => {
                    let store_name = g.stores[id].name.clone();
                    g.error
                        .get_or_insert(crate::grouped::missing_serdes(&store_name));
                    None
                }
            },
            _ => Some(merge(Arc::clone(&send_old))),
        };
        let merge_node = g.add(
            merge_name,
            Kind::Processor {
                stores: store.into_iter().collect(),
            },
            joins.to_vec(),
            merge_factory,
        );
        drop(g);
        let (key_serde, value_serde) = match &materialized {
            Some(m) => (m.key.clone(), m.value.clone()),
            None => (self.key_serde(), None),
        };
        let mut switches = vec![send_old];
        switches.extend(self.old_value_switches());
        switches.extend(other.old_value_switches());
        let table = KTable::new(graph, merge_node, key_serde, value_serde, store)
            .with_old_value_switches(switches)
            .with_kept(true);
        if store.is_some() {
            return table;
        }
        // unkept, the result is read by joining both sides' current values
        let (this, that) = (self.clone(), other.clone());
        let joiner = Arc::clone(&joiner_for_getter);
        let getter: GetterMaker<K, VR> = Rc::new(move |g| {
            let (this_get, mut stores) = this.value_getter(g)?;
            let (that_get, that_stores) = that.value_getter(g)?;
            for s in that_stores {
                if !stores.contains(&s) {
                    stores.push(s);
                }
            }
            let joiner = Arc::clone(&joiner);
            let get: Getter<K, VR> = Arc::new(move |ctx: &dyn Context, k: &K| {
                let t = this_get(ctx, k)?;
                let o = that_get(ctx, k)?;
                let timestamp = match (&t, &o) {
                    (Some((_, a)), Some((_, b))) => (*a).max(*b),
                    (Some((_, a)), None) => *a,
                    (None, Some((_, b))) => *b,
                    (None, None) => return Ok(None),
                };
                let joins = match variant {
                    Variant::Inner => t.is_some() && o.is_some(),
                    Variant::Left => t.is_some(),
                    Variant::Outer => true,
                };
                if !joins {
                    return Ok(None);
                }
                Ok(
                    joiner(t.as_ref().map(|(v, _)| v), o.as_ref().map(|(v, _)| v))
                        .map(|v| (v, timestamp)),
                )
            });
            Ok((get, stores))
        });
        table.with_getter(Some(getter))
    }
}

fn inner_joiner<V, VO, VR>(
    joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
) -> Joiner<V, VO, VR>
where
    V: 'static,
    VO: 'static,
    VR: 'static,
{
    Arc::new(move |v: Option<&V>, o: Option<&VO>| match (v, o) {
        (Some(v), Some(o)) => Some(joiner(v, o)),
        _ => None,
    })
}

fn left_joiner<V, VO, VR>(
    joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
) -> Joiner<V, VO, VR>
where
    V: 'static,
    VO: 'static,
    VR: 'static,
{
    Arc::new(move |v: Option<&V>, o: Option<&VO>| v.map(|v| joiner(v, o)))
}

/// Which table's updates a join node receives, with the getter of the other table.
enum Side<K, V, VO> {
    This(Getter<K, VO>),
    Other(Getter<K, V>),
}

/// The result of one side's update (`new`, `old`) against the other side's current value
/// `other` (`join(mine, theirs)` calls the user's joiner in its order): the new and old joined
/// values, or `None` when nothing is forwarded.
fn side_result<M, O, VR>(
    variant: Variant,
    this_side: bool,
    (new, old): (Option<&M>, Option<&M>),
    other: Option<&O>,
    sends_old: bool,
    join: impl Fn(Option<&M>, Option<&O>) -> Option<VR>,
) -> Option<(Option<VR>, Option<VR>)> {
    let any = other.is_some() || new.is_some() || old.is_some();
    match (variant, this_side) {
        (Variant::Inner, _) => other.map(|o| {
            (
                new.and_then(|n| join(Some(n), Some(o))),
                old.filter(|_| sends_old)
                    .and_then(|x| join(Some(x), Some(o))),
            )
        }),
        (Variant::Left, true) => any.then(|| {
            (
                new.and_then(|n| join(Some(n), other)),
                old.filter(|_| sends_old).and_then(|x| join(Some(x), other)),
            )
        }),
        // the other side of a left join: this side's row, whatever the other has
        (Variant::Left, false) => other.map(|o| {
            (
                join(new, Some(o)),
                sends_old.then(|| join(old, Some(o))).flatten(),
            )
        }),
        (Variant::Outer, _) => any.then(|| {
            (
                (other.is_some() || new.is_some())
                    .then(|| join(new, other))
                    .flatten(),
                (sends_old && (other.is_some() || old.is_some()))
                    .then(|| join(old, other))
                    .flatten(),
            )
        }),
    }
}

fn join_side<K, V, VO, VR>(
    side: Side<K, V, VO>,
    joiner: Joiner<V, VO, VR>,
    variant: Variant,
    send_old: Arc<AtomicBool>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VO: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let change = typed::<Change>(&r.value)?;
        let sends_old = send_old.load(Ordering::Relaxed);
        // (new, old) of the result, and its timestamp; None: nothing to forward
        let result: Option<(Option<VR>, Option<VR>, i64)> = match &side {
            Side::This(other_getter) => {
                let other = other_getter(&*ctx, key)?;
                let ts = other
                    .as_ref()
                    .map_or(r.timestamp, |(_, t)| r.timestamp.max(*t));
                side_result(
                    variant,
                    true,
                    change.values::<V>()?,
                    other.as_ref().map(|(v, _)| v),
                    sends_old,
                    |mine, theirs| joiner(mine, theirs),
                )
                .map(|(new, old)| (new, old, ts))
            }
            Side::Other(this_getter) => {
                let this = this_getter(&*ctx, key)?;
                let ts = this
                    .as_ref()
                    .map_or(r.timestamp, |(_, t)| r.timestamp.max(*t));
                side_result(
                    variant,
                    false,
                    change.values::<VO>()?,
                    this.as_ref().map(|(v, _)| v),
                    sends_old,
                    |mine, theirs| joiner(theirs, mine),
                )
                .map(|(new, old)| (new, old, ts))
            }
        };
        let Some((new, old, timestamp)) = result else {
            return Ok(());
        };
        let old: Option<Dyn> = sends_old.then(|| Arc::new(old) as Dyn);
        ctx.forward(DynRecord {
            key: r.key,
            value: Arc::new(Change {
                new: Arc::new(new),
                old,
            }),
            timestamp,
            headers: r.headers,
        })
    })
}

/// The merge of an unkept join: the changes as they come (without old values unless asked).
fn merge(send_old: Arc<AtomicBool>) -> NodeFactory {
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        if send_old.load(Ordering::Relaxed) {
            return ctx.forward(r);
        }
        let change = typed::<Change>(&r.value)?;
        let value: Dyn = Arc::new(Change {
            new: Arc::clone(&change.new),
            old: None,
        });
        ctx.forward(DynRecord { value, ..r })
    })
}

/// The merge of a kept join: each result is written to the store (and its changelog) and
/// forwarded, through the store's write cache when it has one.
fn materialized_merge<K, VR>(
    store: usize,
    store_name: String,
    key_serde: crate::serde::SharedSerde<K>,
    value_serde: crate::serde::SharedSerde<VR>,
    send_old: Arc<AtomicBool>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let Some(kb) = to_bytes(&key_serde, "key", &store_name, typed::<K>(&r.key)?)? else {
            return Ok(());
        };
        let change = typed::<Change>(&r.value)?;
        let new_bytes = match typed::<Option<VR>>(&change.new)? {
            Some(v) => to_bytes(&value_serde, "value", &store_name, v)?,
            None => None,
        };
        let old: Option<Dyn> = if send_old.load(Ordering::Relaxed) {
            Some(
                match ctx
                    .store(store)?
                    .get(&kb)
                    .and_then(crate::store::split_timestamp)
                {
                    Some((_, bytes)) => Arc::new(Some(crate::serde::from_bytes(
                        &value_serde,
                        "value",
                        &store_name,
                        Some(bytes),
                    )?)),
                    None => Arc::new(None::<VR>),
                },
            )
        } else {
            None
        };
        let stored = new_bytes.as_deref().map(|b| with_timestamp(r.timestamp, b));
        let value: Dyn = Arc::new(Change {
            new: Arc::clone(&change.new),
            old,
        });
        let ts = r.timestamp;
        ctx.put_and_forward(store, &kb, stored.as_deref(), ts, DynRecord { value, ..r })
    })
}
