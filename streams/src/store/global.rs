//! Global stores: the stores of global tables, whole on every instance (every partition of
//! their topic), kept by the instance's global thread and read by every task's stream-global
//! joins.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

/// A global store's entries: key bytes to the timestamped value bytes.
type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// The global stores of an instance, by store id.
#[derive(Debug, Default)]
pub(crate) struct GlobalStores {
    stores: RwLock<HashMap<usize, Entries>>,
}

impl GlobalStores {
    /// The value of `key` in store `id`.
    pub fn get(&self, id: usize, key: &[u8]) -> Option<Vec<u8>> {
        let stores = self
            .stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stores.get(&id).and_then(|s| s.get(key)).cloned()
    }

    /// Sets `key` in store `id` (`None`: deletes it).
    pub fn put(&self, id: usize, key: &[u8], value: Option<&[u8]>) {
        let mut stores = self
            .stores
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = stores.entry(id).or_default();
        match value {
            Some(v) => {
                store.insert(key.to_vec(), v.to_vec());
            }
            None => {
                store.remove(key);
            }
        }
    }
}
