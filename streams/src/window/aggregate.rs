//! Time-window aggregations (tumbling and hopping), and what every windowed aggregation node
//! shares: reading and writing its store's aggregates and forwarding them as changes of a
//! [`Windowed`] key.
//!
//! As in Kafka Streams, each node keeps its own *stream time* (the largest timestamp it has
//! seen, from its task's start); a window takes records until its end is more than the grace
//! period behind it, and a record for windows that all closed is dropped (logged at debug).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{TimeWindows, Window, Windowed};
use crate::processor::{typed, Change, Context, Dyn, DynRecord, Header, NodeFactory, StreamsError};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::window::window_key;
use crate::store::{split_timestamp, with_timestamp};

/// One step of an aggregation: a record and the aggregate so far (`None`: a new window) give
/// the new one.
pub(crate) type Step<K, V, VA> = Arc<dyn Fn(&K, &V, Option<VA>) -> VA + Send + Sync>;

/// A windowed aggregation's store and serdes, and its switch for old values.
pub(crate) struct Aggregates<K, VA> {
    pub store: usize,
    pub store_name: String,
    pub key_serde: SharedSerde<K>,
    pub agg_serde: SharedSerde<VA>,
    pub send_old: Arc<AtomicBool>,
}

impl<K, VA> Clone for Aggregates<K, VA> {
    fn clone(&self) -> Self {
        Aggregates {
            store: self.store,
            store_name: self.store_name.clone(),
            key_serde: Arc::clone(&self.key_serde),
            agg_serde: Arc::clone(&self.agg_serde),
            send_old: Arc::clone(&self.send_old),
        }
    }
}

impl<K, VA> Aggregates<K, VA>
where
    K: Clone + Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    /// The key's bytes; `None` for a null key (Kafka Streams skips those records).
    pub fn key_bytes(&self, key: &K) -> Result<Option<Vec<u8>>, StreamsError> {
        to_bytes(&self.key_serde, "key", &self.store_name, key)
    }

    /// The aggregate stored under `store_key` and its timestamp, when the store is
    /// timestamped (window stores).
    pub fn read_timestamped(
        &self,
        ctx: &dyn Context,
        store_key: &[u8],
    ) -> Result<Option<(VA, i64)>, StreamsError> {
        match ctx
            .store(self.store)?
            .get(store_key)
            .and_then(split_timestamp)
        {
            Some((ts, bytes)) => Ok(Some((self.decode(bytes)?, ts))),
            None => Ok(None),
        }
    }

    /// An aggregate from its bytes.
    pub fn decode(&self, bytes: &[u8]) -> Result<VA, StreamsError> {
        from_bytes(&self.agg_serde, "value", &self.store_name, Some(bytes))
    }

    /// The aggregate's bytes.
    pub fn encode(&self, value: &VA) -> Result<Option<Vec<u8>>, StreamsError> {
        to_bytes(&self.agg_serde, "value", &self.store_name, value)
    }

    /// Whether the changes forwarded must carry old values.
    pub fn sends_old(&self) -> bool {
        self.send_old.load(Ordering::Relaxed)
    }

    /// Writes `new` at `timestamp` under `store_key` (a timestamped window store's) and
    /// forwards it as the change of `key`, with `old` when old values are asked for.
    #[allow(clippy::too_many_arguments)]
    pub fn put_timestamped(
        &self,
        ctx: &mut dyn Context,
        store_key: &[u8],
        key: Windowed<K>,
        new: VA,
        old: Option<VA>,
        timestamp: i64,
        headers: &Arc<Vec<Header>>,
    ) -> Result<(), StreamsError> {
        let stored = self.encode(&new)?.map(|b| with_timestamp(timestamp, &b));
        let record = self.change(key, Some(new), old, timestamp, headers);
        ctx.put_and_forward(self.store, store_key, stored.as_deref(), timestamp, record)
    }

    /// The record forwarding a change of `key`.
    pub fn change(
        &self,
        key: Windowed<K>,
        new: Option<VA>,
        old: Option<VA>,
        timestamp: i64,
        headers: &Arc<Vec<Header>>,
    ) -> DynRecord {
        let old: Option<Dyn> = self.sends_old().then(|| Arc::new(old) as Dyn);
        DynRecord {
            key: Arc::new(key),
            value: Arc::new(Change {
                new: Arc::new(new),
                old,
            }),
            timestamp,
            headers: Arc::clone(headers),
        }
    }
}

/// The aggregation of time windows (tumbling or hopping): each record updates every window
/// that holds it and is still open.
pub(crate) fn time_window_node<K, V, VA>(
    windows: TimeWindows,
    aggregates: Aggregates<K, VA>,
    step: Step<K, V, VA>,
) -> NodeFactory
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    crate::processor::stateful(move || {
        let (aggregates, step) = (aggregates.clone(), Arc::clone(&step));
        let mut stream_time = -1i64;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let key = typed::<K>(&r.key)?;
            let Some(kb) = aggregates.key_bytes(key)? else {
                return Ok(());
            };
            let value = typed::<V>(&r.value)?;
            stream_time = stream_time.max(r.timestamp);
            let close = stream_time - windows.grace;
            for window in windows.windows_for(r.timestamp) {
                if window.end <= close {
                    tracing::debug!(
                        store = %aggregates.store_name,
                        "skipping a record for an expired window [{}, {}) (close time {close}, stream time {stream_time})",
                        window.start, window.end
                    );
                    continue;
                }
                let store_key = window_key(&kb, window.start);
                update(&aggregates, ctx, &store_key, key, value, window, &step, &r)?;
            }
            Ok(())
        }
    })
}

/// Adds record `r` to the window's aggregate under `store_key` (or starts it), stores it with
/// the larger of the two timestamps and forwards it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update<K, V, VA>(
    aggregates: &Aggregates<K, VA>,
    ctx: &mut dyn Context,
    store_key: &[u8],
    key: &K,
    value: &V,
    window: Window,
    step: &Step<K, V, VA>,
    r: &DynRecord,
) -> Result<(), StreamsError>
where
    K: Clone + Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    let existing = aggregates.read_timestamped(ctx, store_key)?;
    let (before, timestamp) = match existing {
        Some((agg, ts)) => (Some(agg), ts.max(r.timestamp)),
        None => (None, r.timestamp),
    };
    let old = match (&before, aggregates.sends_old()) {
        (Some(_), true) => aggregates.read_timestamped(ctx, store_key)?.map(|(a, _)| a),
        _ => None,
    };
    let new = step(key, value, before);
    let windowed = Windowed {
        key: key.clone(),
        window,
    };
    aggregates.put_timestamped(ctx, store_key, windowed, new, old, timestamp, &r.headers)
}
