//! Read-only, typed views of key-value stores: what interactive queries and the
//! [`crate::TestDriver`] give users.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{split_timestamp, KeyValueBytes};
use crate::processor::StreamsError;
use crate::serde::{from_bytes, to_bytes, SharedSerde};

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
