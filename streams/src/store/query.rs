//! Read-only, typed views of key-value stores: what interactive queries and the
//! [`crate::TestDriver`] give users.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{split_timestamp, KeyValueBytes, StoreKind};
use crate::processor::StreamsError;
use crate::serde::{from_bytes, to_bytes, SharedSerde};

/// A window view of store `name` (of `kind`), or an error naming what it is instead.
pub(crate) fn window_view<K, V>(
    kind: Option<StoreKind>,
    name: &str,
    kv: ReadOnlyKeyValueStore<K, V>,
) -> Result<ReadOnlyWindowStore<K, V>, StreamsError> {
    match kind {
        Some(StoreKind::Window { size, .. }) => Ok(ReadOnlyWindowStore::new(kv, size)),
        _ => Err(StreamsError::UnknownStore(format!(
            "{name} is not a window store"
        ))),
    }
}

/// A session view of store `name` (of `kind`), or an error naming what it is instead.
pub(crate) fn session_view<K, V>(
    kind: Option<StoreKind>,
    name: &str,
    kv: ReadOnlyKeyValueStore<K, V>,
) -> Result<ReadOnlySessionStore<K, V>, StreamsError> {
    match kind {
        Some(StoreKind::Session { .. }) => Ok(ReadOnlySessionStore::new(kv)),
        _ => Err(StreamsError::UnknownStore(format!(
            "{name} is not a session store"
        ))),
    }
}

/// Where a view finds the store instances it reads (one per task holding the store).
pub(crate) trait StoreAccess: Send + Sync {
    /// Calls `visit` with each instance, in task order.
    fn visit(&self, visit: &mut dyn FnMut(&dyn KeyValueBytes)) -> Result<(), StreamsError>;
    /// Whether values carry a timestamp in front.
    fn timestamped(&self) -> bool;
}

/// A key-value store, read with the key and value serdes it was written with.
///
/// Over several tasks' instances, `get` answers from the instance holding the key, and
/// `range`/`all` go through the instances one after the other (each in key order), as Kafka
/// Streams' composite store does.
pub struct ReadOnlyKeyValueStore<K, V> {
    access: Arc<dyn StoreAccess>,
    name: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> ReadOnlyKeyValueStore<K, V> {
    pub(crate) fn new(
        access: Arc<dyn StoreAccess>,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Self {
        ReadOnlyKeyValueStore {
            access,
            name: name.to_string(),
            key,
            value,
            _types: PhantomData,
        }
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        to_bytes(&self.key, "key", &self.name, key)?.ok_or_else(|| {
            StreamsError::InvalidArgument("a store has no entry for a null key".to_string())
        })
    }

    fn value_of(&self, stored: &[u8]) -> Result<V, StreamsError> {
        let bytes = if self.access.timestamped() {
            split_timestamp(stored)
                .ok_or_else(|| {
                    StreamsError::Topology(format!(
                        "store {} holds a value without its timestamp",
                        self.name
                    ))
                })?
                .1
        } else {
            stored
        };
        from_bytes(&self.value, "value", &self.name, Some(bytes))
    }

    /// The value of `key`, if the store has one.
    pub fn get(&self, key: &K) -> Result<Option<V>, StreamsError> {
        let k = self.key_bytes(key)?;
        let mut found = None;
        self.access.visit(&mut |store| {
            if found.is_none() {
                found = store.get(&k).map(<[u8]>::to_vec);
            }
        })?;
        found.map(|v| self.value_of(&v)).transpose()
    }

    /// The entries with `from <= key <= to` (by the keys' bytes).
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>, StreamsError> {
        let (f, t) = (self.key_bytes(from)?, self.key_bytes(to)?);
        self.entries(Some(&f), Some(&t))
    }

    /// Every entry.
    pub fn all(&self) -> Result<Vec<(K, V)>, StreamsError> {
        self.entries(None, None)
    }

    /// How many entries there are.
    pub fn approximate_num_entries(&self) -> Result<u64, StreamsError> {
        let mut n = 0u64;
        self.access.visit(&mut |store| n += store.len() as u64)?;
        Ok(n)
    }

    fn entries(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Vec<(K, V)>, StreamsError> {
        let mut raw = Vec::new();
        self.access
            .visit(&mut |store| raw.extend(store.range(from, to)))?;
        raw.into_iter()
            .map(|(k, v)| {
                let key = from_bytes(&self.key, "key", &self.name, Some(&k))?;
                Ok((key, self.value_of(&v)?))
            })
            .collect()
    }
}

/// A window store (of a windowed aggregation), read with the record key's serde and the
/// value's.
pub struct ReadOnlyWindowStore<K, V> {
    kv: ReadOnlyKeyValueStore<K, V>,
    size: i64,
}

impl<K, V> ReadOnlyWindowStore<K, V> {
    pub(crate) fn new(kv: ReadOnlyKeyValueStore<K, V>, size: i64) -> Self {
        ReadOnlyWindowStore { kv, size }
    }

    /// The value of `key`'s window starting at `start`, if there is one.
    pub fn fetch(&self, key: &K, start: i64) -> Result<Option<V>, StreamsError> {
        let k = super::window::window_key(&self.kv.key_bytes(key)?, start);
        let mut found = None;
        self.kv.access.visit(&mut |store| {
            if found.is_none() {
                found = store.get(&k).map(<[u8]>::to_vec);
            }
        })?;
        found.map(|v| self.kv.value_of(&v)).transpose()
    }

    /// `key`'s windows starting in `[from, to]`, by start: `(start, value)`.
    pub fn fetch_range(&self, key: &K, from: i64, to: i64) -> Result<Vec<(i64, V)>, StreamsError> {
        let k = self.kv.key_bytes(key)?;
        let mut raw = Vec::new();
        self.kv.access.visit(&mut |store| {
            raw.extend(super::window::fetch(
                store,
                super::window::Schema::Window,
                &k,
                from,
                to,
            ))
        })?;
        raw.into_iter()
            .map(|(sk, v)| {
                let start = super::window::read_long(&sk[sk.len() - 12..]);
                Ok((start, self.kv.value_of(&v)?))
            })
            .collect()
    }

    /// Every window, in the store's order (by key bytes, then start).
    pub fn all(&self) -> Result<Vec<(crate::Windowed<K>, V)>, StreamsError> {
        let mut raw = Vec::new();
        self.kv
            .access
            .visit(&mut |store| raw.extend(store.range(None, None)))?;
        raw.into_iter()
            .map(|(sk, v)| {
                let at = sk.len() - 12;
                let start = super::window::read_long(&sk[at..]);
                let key = from_bytes(&self.kv.key, "key", &self.kv.name, Some(&sk[..at]))?;
                let window = crate::Window {
                    start,
                    end: start.saturating_add(self.size),
                };
                Ok((crate::Windowed { key, window }, self.kv.value_of(&v)?))
            })
            .collect()
    }
}

/// A session store (of a session aggregation), read with the record key's serde and the
/// value's.
pub struct ReadOnlySessionStore<K, V> {
    kv: ReadOnlyKeyValueStore<K, V>,
}

impl<K, V> ReadOnlySessionStore<K, V> {
    pub(crate) fn new(kv: ReadOnlyKeyValueStore<K, V>) -> Self {
        ReadOnlySessionStore { kv }
    }

    /// `key`'s sessions, by end then start.
    pub fn fetch(&self, key: &K) -> Result<Vec<(crate::Windowed<K>, V)>, StreamsError>
    where
        K: Clone,
    {
        let k = self.kv.key_bytes(key)?;
        let mut raw = Vec::new();
        self.kv.access.visit(&mut |store| {
            raw.extend(super::window::fetch(
                store,
                super::window::Schema::Session,
                &k,
                0,
                i64::MAX,
            ))
        })?;
        raw.into_iter()
            .map(|(sk, v)| {
                let (start, end) = super::window::session_bounds(&sk);
                let window = crate::Window { start, end };
                Ok((
                    crate::Windowed {
                        key: key.clone(),
                        window,
                    },
                    self.kv.value_of(&v)?,
                ))
            })
            .collect()
    }
}
