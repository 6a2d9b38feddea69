//! Stream-table joins: each stream record is joined with the table's current value of its key
//! (table updates produce nothing), as Kafka Streams' `KStreamKTableJoin`.

use std::rc::Rc;
use std::sync::Arc;

use super::Joined;
use crate::kstream::KStream;
use crate::ktable::{Getter, KTable};
use crate::processor::{typed, Context, DynRecord, NodeFactory};
use crate::serde::SharedSerde;
use crate::topology::Kind;
use crate::window::IsNull;

/// The joiner of a stream-table join, over `Option` for the table side (left joins give
/// `None`); `None` when it does not join (an inner join without a table value).
type Joiner<K, V, VT, VR> = Arc<dyn Fn(&K, &V, Option<&VT>) -> Option<VR> + Send + Sync>;

impl<K, V> KStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Each record joined with `table`'s current value of its key, by `joiner`; records whose
    /// key has no row (or whose key or value is null) produce nothing. The stream goes through
    /// a repartition topic first when its key was changed.
    pub fn join<VT, VR>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR>
    where
        VT: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<K, V, VT, VR> = Arc::new(move |_, v, t| t.map(|t| joiner(v, t)));
        self.table_join(table, joiner, joined, false)
    }

    /// Each record joined with `table`'s current value of its key, or with `None` when it has
    /// none: every record with a value produces one (a record without a key too).
    pub fn left_join<VT, VR>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR>
    where
        VT: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.table_join(
            table,
            Arc::new(move |_, v, t| Some(joiner(v, t))),
            joined,
            true,
        )
    }

    fn table_join<VT, VR>(
        &self,
        table: &KTable<K, VT>,
        joiner: Joiner<K, V, VT, VR>,
        joined: Joined<K, V, VT>,
        left: bool,
    ) -> KStream<K, VR>
    where
        VT: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let key_serde = joined.key.clone().or_else(|| self.key_serde());
        let value_serde = joined.value.clone().or_else(|| self.value_serde());
        let stream = if self.repartition_required() {
            let base = joined
                .name
                .clone()
                .unwrap_or_else(|| self.graph().borrow().nodes[self.node()].name.clone());
            self.repartition_as(&base, key_serde.clone(), value_serde.clone(), true)
        } else {
            self.clone()
        };
        let graph = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        let prefix = if left {
            "KSTREAM-LEFTJOIN-"
        } else {
            "KSTREAM-JOIN-"
        };
        let name = g.name(prefix, joined.name.as_deref());
        let (factory, stores) = match table.value_getter(&mut g) {
            Ok((getter, stores)) => (
                Some(join_node(
                    getter,
                    joiner,
                    left,
                    is_null(key_serde.clone()),
                    is_null(value_serde),
                )),
                stores,
            ),
            Err(e) => {
                g.error.get_or_insert(e);
                (None, Vec::new())
            }
        };
        g.copartition(&[stream.node(), table.node()]);
        let node = g.add(
            name,
            Kind::Processor { stores },
            vec![stream.node()],
            factory,
        );
        drop(g);
        KStream::new(Rc::clone(&graph), node).with_serdes(key_serde, None, false)
    }
}

/// Tells nulls by a serde, when one is known (only a nullable serde's `None` is null).
pub(crate) fn is_null<T: 'static>(serde: Option<SharedSerde<T>>) -> IsNull<T> {
    match serde {
        Some(s) => Arc::new(move |v: &T| s.is_null(v)),
        None => Arc::new(|_: &T| false),
    }
}

fn join_node<K, V, VT, VR>(
    getter: Getter<K, VT>,
    joiner: Joiner<K, V, VT, VR>,
    left: bool,
    key_is_null: IsNull<K>,
    value_is_null: IsNull<V>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VT: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let value = typed::<V>(&r.value)?;
        let (no_key, no_value) = (key_is_null(key), value_is_null(value));
        // a left join keeps a record without a key (it joins no row); otherwise a record
        // without a key or a value joins nothing
        if no_value || (no_key && !left) {
            tracing::debug!("skipping a record with a null join key or value");
            return Ok(());
        }
        let other = if no_key {
            None
        } else {
            getter(&*ctx, key)?.map(|(v, _)| v)
        };
        let Some(joined) = joiner(key, value, other.as_ref()) else {
            return Ok(());
        };
        ctx.forward(DynRecord {
            value: Arc::new(joined),
            ..r
        })
    })
}
