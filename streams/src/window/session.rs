//! Session-window aggregations, as Kafka Streams' `KStreamSessionWindowAggregate` computes
//! them: a record joins every session of its key that ends at most the inactivity gap before
//! it or starts at most the gap after it; those sessions are merged into one (their aggregates
//! combined with the merger, oldest first) and removed, each removal forwarded as a deletion.

use std::sync::Arc;

use super::aggregate::{Aggregates, Step};
use super::{SessionWindows, Window, Windowed};
use crate::processor::{typed, Context, DynRecord, NodeFactory};
use crate::store::window::{fetch, session_bounds, session_key, Schema};

/// Combines an aggregate so far (`None`: none yet) with a merged session's.
pub(crate) type Merge<K, VA> = Arc<dyn Fn(&K, Option<VA>, VA) -> Option<VA> + Send + Sync>;

/// A session aggregation's functions over `Option<VA>` (`None`: Kafka's null aggregate, a
/// reduction's start).
pub(crate) struct SessionSteps<K, V, VA> {
    /// A new session's aggregate.
    pub init: Arc<dyn Fn() -> Option<VA> + Send + Sync>,
    /// Combines the aggregate so far with a merged session's.
    pub merge: Merge<K, VA>,
    /// Adds a record.
    pub add: Step<K, V, VA>,
}

impl<K, V, VA> Clone for SessionSteps<K, V, VA> {
    fn clone(&self) -> Self {
        SessionSteps {
            init: Arc::clone(&self.init),
            merge: Arc::clone(&self.merge),
            add: Arc::clone(&self.add),
        }
    }
}

pub(crate) fn session_window_node<K, V, VA>(
    windows: SessionWindows,
    aggregates: Aggregates<K, VA>,
    steps: SessionSteps<K, V, VA>,
) -> NodeFactory
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    crate::processor::stateful(move || {
        let (aggregates, steps) = (aggregates.clone(), steps.clone());
        let mut stream_time = -1i64;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let key = typed::<K>(&r.key)?;
            let Some(kb) = aggregates.key_bytes(key)? else {
                return Ok(());
            };
            let ts = r.timestamp;
            stream_time = stream_time.max(ts);
            let close = stream_time - windows.grace - windows.gap;
            let found: Vec<(Vec<u8>, Vec<u8>)> = fetch(
                ctx.store(aggregates.store)?,
                Schema::Session,
                &kb,
                ts - windows.gap,
                i64::MAX,
            )
            .into_iter()
            .filter(|(k, _)| session_bounds(k).0 <= ts + windows.gap)
            .collect();
            let mut agg = (steps.init)();
            let mut merged = Window { start: ts, end: ts };
            for (k, v) in &found {
                agg = (steps.merge)(key, agg, aggregates.decode(v)?);
                let (start, end) = session_bounds(k);
                merged.start = merged.start.min(start);
                merged.end = merged.end.max(end);
            }
            if merged.end < close {
                tracing::debug!(store = %aggregates.store_name, "skipping a record for an expired session [{}, {}] (close time {close})", merged.start, merged.end);
                return Ok(());
            }
            if merged != (Window { start: ts, end: ts }) {
                for (k, v) in found {
                    let (start, end) = session_bounds(&k);
                    let old = if aggregates.sends_old() {
                        Some(aggregates.decode(&v)?)
                    } else {
                        None
                    };
                    let windowed = Windowed {
                        key: key.clone(),
                        window: Window { start, end },
                    };
                    let record = aggregates.change(windowed, None, old, end, &r.headers);
                    ctx.put_and_forward(aggregates.store, &k, None, ts, record)?;
                }
            }
            let new = (steps.add)(key, typed::<V>(&r.value)?, agg);
            let store_key = session_key(&kb, merged.start, merged.end);
            let old = match ctx.store(aggregates.store)?.get(&store_key) {
                Some(bytes) if aggregates.sends_old() => Some(aggregates.decode(bytes)?),
                _ => None,
            };
            let bytes = aggregates.encode(&new)?;
            let windowed = Windowed {
                key: key.clone(),
                window: merged,
            };
            let record = aggregates.change(windowed, Some(new), old, merged.end, &r.headers);
            ctx.put_and_forward(aggregates.store, &store_key, bytes.as_deref(), ts, record)
        }
    })
}

/// The functions of a session count.
pub(crate) fn count_steps<K, V>() -> SessionSteps<K, V, i64> {
    SessionSteps {
        init: Arc::new(|| Some(0)),
        merge: Arc::new(|_, a: Option<i64>, b| Some(a.unwrap_or(0) + b)),
        add: Arc::new(|_, _, a: Option<i64>| a.unwrap_or(0) + 1),
    }
}

/// The functions of a session reduction with `reducer`.
pub(crate) fn reduce_steps<K, V>(reducer: crate::grouped::Reducer<V>) -> SessionSteps<K, V, V>
where
    V: Clone + Send + Sync + 'static,
{
    let r2 = Arc::clone(&reducer);
    SessionSteps {
        init: Arc::new(|| None),
        merge: Arc::new(move |_, a: Option<V>, b: V| {
            Some(match a {
                Some(a) => r2(&a, &b),
                None => b,
            })
        }),
        add: Arc::new(move |_, v: &V, a: Option<V>| match a {
            Some(a) => reducer(&a, v),
            None => v.clone(),
        }),
    }
}
