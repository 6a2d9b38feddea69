//! Reading a table's current value of a key inside a running task, as joins need it (Kafka
//! Streams' `KTableValueGetter`): from the table's store, or, for a table derived without a
//! store (a filter, a mapping), from its parent's value through the same function.

use std::rc::Rc;
use std::sync::Arc;

use crate::builder::Graph;
use crate::processor::{Context, StreamsError};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::split_timestamp;

/// Reads a table's current value of a key, and its timestamp (`None`: no row).
pub(crate) type Getter<K, V> =
    Arc<dyn Fn(&dyn Context, &K) -> Result<Option<(V, i64)>, StreamsError> + Send + Sync>;

/// Makes a table's getter when a join asks for it (a table source without a store gets one
/// then), with the ids of the stores it reads.
pub(crate) type GetterMaker<K, V> =
    Rc<dyn Fn(&mut Graph) -> Result<(Getter<K, V>, Vec<usize>), String>>;

/// The getter of a table kept in the timestamped store `store`.
pub(crate) fn store_getter<K, V>(
    store: usize,
    store_name: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
) -> Getter<K, V>
where
    K: 'static,
    V: 'static,
{
    Arc::new(move |ctx: &dyn Context, k: &K| {
        let Some(kb) = to_bytes(&key, "key", &store_name, k)? else {
            return Ok(None);
        };
        match ctx.store(store)?.get(&kb).and_then(split_timestamp) {
            Some((ts, bytes)) => Ok(Some((
                from_bytes(&value, "value", &store_name, Some(bytes))?,
                ts,
            ))),
            None => Ok(None),
        }
    })
}

/// Derives a table's value from its parent's (`None`: no row).
pub(crate) type Derive<K, V, V2> = Arc<dyn Fn(&K, V) -> Option<V2> + Send + Sync>;

/// The getter maker of a table derived from `parent`'s with `derive` (a value that `derive`
/// turns into `None` is no row).
pub(crate) fn derived<K, V, V2>(
    parent: GetterMaker<K, V>,
    derive: Derive<K, V, V2>,
) -> GetterMaker<K, V2>
where
    K: 'static,
    V: 'static,
    V2: 'static,
{
    derived_timestamped(parent, Arc::new(move |k: &K, v: V, _| derive(k, v)))
}

/// Derives a table's value from its parent's and the row's timestamp.
pub(crate) type DeriveTimestamped<K, V, V2> = Arc<dyn Fn(&K, V, i64) -> Option<V2> + Send + Sync>;

/// [`derived`], `derive` seeing the row's timestamp.
pub(crate) fn derived_timestamped<K, V, V2>(
    parent: GetterMaker<K, V>,
    derive: DeriveTimestamped<K, V, V2>,
) -> GetterMaker<K, V2>
where
    K: 'static,
    V: 'static,
    V2: 'static,
{
    Rc::new(move |g: &mut Graph| {
        let (inner, stores) = parent(g)?;
        let derive = Arc::clone(&derive);
        let getter: Getter<K, V2> = Arc::new(move |ctx: &dyn Context, k: &K| {
            Ok(inner(ctx, k)?.and_then(|(v, ts)| derive(k, v, ts).map(|v2| (v2, ts))))
        });
        Ok((getter, stores))
    })
}
