//! Global stores: the stores of global tables, whole on every instance (every partition of
//! their topic), kept by the instance's global thread and read by every task's stream-global
//! joins.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{InMemoryKeyValueStore, KeyValueBytes};

/// The global stores of an instance, by store id: key bytes to the timestamped value bytes.
#[derive(Debug, Default)]
pub(crate) struct GlobalStores {
    stores: RwLock<HashMap<usize, InMemoryKeyValueStore>>,
}

impl GlobalStores {
    /// The value of `key` in store `id`.
    pub fn get(&self, id: usize, key: &[u8]) -> Option<Vec<u8>> {
        let stores = self
            .stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stores.get(&id).and_then(|s| s.get(key)).map(<[u8]>::to_vec)
    }

    /// Calls `visit` with store `id` (an empty one until it holds something).
    pub fn visit(&self, id: usize, visit: &mut dyn FnMut(&dyn KeyValueBytes)) {
        let stores = self
            .stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match stores.get(&id) {
            Some(store) => visit(store),
            None => visit(&InMemoryKeyValueStore::default()),
        }
    }

    /// Sets `key` in store `id` (`None`: deletes it).
    pub fn put(&self, id: usize, key: &[u8], value: Option<&[u8]>) {
        let mut stores = self
            .stores
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stores.entry(id).or_default().put(key, value);
    }
}
