//! The persistent key-value store: an embedded B-tree file ([`redb`]) under the task's state
//! directory, for state larger than memory. Writes gather in memory and go to the file in
//! one transaction at each commit (or every [`FLUSH_AT`] writes); reads look at the
//! gathered writes first. Commits are not synced to disk: the changelog is the store's
//! record. When the task checkpoints, the file is made durable first; a task that starts
//! again keeps the file if its checkpoint says how far the changelog it holds goes, and is
//! otherwise wiped and restored from the changelog (see `runtime::checkpoint`).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableTableMetadata, TableDefinition};
use typed_arena::Arena;

use super::KeyValueBytes;
use crate::processor::StreamsError;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");

/// Entries as read: keys and values.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Writes gathered before they go to the file, whatever the commit interval.
const FLUSH_AT: usize = 10_000;

/// A key-value store in a file.
pub(crate) struct PersistentKeyValueStore {
    db: Database,
    /// Writes not in the file yet (`None`: a deletion).
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Values read from the file, kept until the next write so that reads can lend them.
    reads: Arena<Vec<u8>>,
}

fn storage(e: impl std::fmt::Display) -> StreamsError {
    StreamsError::Kafka(format!("a persistent store failed: {e}"))
}

impl PersistentKeyValueStore {
    /// The store in `dir`: the file there, or a new empty one.
    pub fn open(dir: &Path) -> Result<Self, StreamsError> {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let db = Database::create(dir.join("store.redb")).map_err(storage)?;
        let mut tx = db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::None);
        tx.open_table(TABLE).map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(PersistentKeyValueStore {
            db,
            pending: BTreeMap::new(),
            reads: Arena::new(),
        })
    }

    /// Writes the gathered writes to the file, in one transaction.
    fn write_pending(&mut self) -> Result<(), StreamsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::None);
        {
            let mut table = tx.open_table(TABLE).map_err(storage)?;
            for (k, v) in &self.pending {
                match v {
                    Some(v) => {
                        table.insert(k.as_slice(), v.as_slice()).map_err(storage)?;
                    }
                    None => {
                        table.remove(k.as_slice()).map_err(storage)?;
                    }
                }
            }
        }
        tx.commit().map_err(storage)?;
        self.pending.clear();
        Ok(())
    }

    /// The file's value of `key`.
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StreamsError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(TABLE).map_err(storage)?;
        let value = table.get(key).map_err(storage)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// The file's entries from `from` to `to` (inclusive, open ends when `None`).
    fn read_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Entries, StreamsError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(TABLE).map_err(storage)?;
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        let mut out = Vec::new();
        for entry in table.range::<&[u8]>((lower, upper)).map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

impl KeyValueBytes for PersistentKeyValueStore {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        if let Some(pending) = self.pending.get(key) {
            return pending.as_deref();
        }
        match self.read(key) {
            Ok(Some(value)) => Some(self.reads.alloc(value).as_slice()),
            Ok(None) => None,
            Err(e) => {
                // (the trait cannot fail; a broken file reads as empty, loudly)
                tracing::error!("{e}");
                None
            }
        }
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.reads = Arena::new();
        self.pending.insert(key.to_vec(), value.map(<[u8]>::to_vec));
        if self.pending.len() >= FLUSH_AT {
            if let Err(e) = self.write_pending() {
                tracing::error!("{e}");
            }
        }
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Vec::new();
            }
        }
        let stored = self.read_range(from, to).unwrap_or_else(|e| {
            tracing::error!("{e}");
            Vec::new()
        });
        // the gathered writes over the file's entries
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = stored.into_iter().collect();
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        for (k, v) in self.pending.range::<[u8], _>((lower, upper)) {
            match v {
                Some(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        merged.into_iter().collect()
    }

    fn len(&self) -> usize {
        let stored = self
            .db
            .begin_read()
            .map_err(storage)
            .and_then(|tx| tx.open_table(TABLE).map_err(storage))
            .and_then(|table| table.len().map_err(storage))
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let mut len = stored;
        for (k, v) in &self.pending {
            let in_file = matches!(self.read(k), Ok(Some(_)));
            match (in_file, v.is_some()) {
                (false, true) => len += 1,
                (true, false) => len = len.saturating_sub(1),
                _ => {}
            }
        }
        len
    }

    fn commit(&mut self) -> Result<(), StreamsError> {
        self.write_pending()
    }

    fn make_durable(&mut self) -> Result<(), StreamsError> {
        self.write_pending()?;
        // (a synced commit makes the unsynced ones before it durable too)
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate);
        tx.commit().map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_read_back_before_and_after_they_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = PersistentKeyValueStore::open(&dir.path().join("s")).unwrap();
        s.put(b"b", Some(b"2"));
        s.put(b"a", Some(b"1"));
        s.put(b"\xff", Some(b"high"));
        assert_eq!(s.get(b"a"), Some(&b"1"[..]));
        s.commit().unwrap();
        assert_eq!(s.get(b"a"), Some(&b"1"[..]));
        assert_eq!(s.get(b"b"), Some(&b"2"[..]));
        s.put(b"a", None);
        s.put(b"c", Some(b"3"));
        assert_eq!(s.get(b"a"), None);
        assert_eq!(s.len(), 3);
        let all: Vec<Vec<u8>> = s.range(None, None).into_iter().map(|(k, _)| k).collect();
        assert_eq!(all, [b"b".to_vec(), b"c".to_vec(), b"\xff".to_vec()]);
        assert_eq!(s.range(Some(b"b"), Some(b"c")).len(), 2);
        assert!(s.range(Some(b"c"), Some(b"b")).is_empty());
        s.commit().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(b"a"), None);
        // a store opened again in the same place has what was made durable
        s.make_durable().unwrap();
        drop(s);
        let s = PersistentKeyValueStore::open(&dir.path().join("s")).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(b"a"), None);
        assert_eq!(s.get(b"c"), Some(&b"3"[..]));
    }

    #[test]
    fn many_writes_go_to_the_file_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = PersistentKeyValueStore::open(dir.path()).unwrap();
        for i in 0..25_000u32 {
            s.put(&i.to_be_bytes(), Some(&(i * 2).to_be_bytes()));
        }
        assert!(s.pending.len() < FLUSH_AT);
        assert_eq!(s.get(&7u32.to_be_bytes()), Some(&14u32.to_be_bytes()[..]));
        assert_eq!(s.len(), 25_000);
        let r = s.range(Some(&100u32.to_be_bytes()), Some(&104u32.to_be_bytes()));
        assert_eq!(r.len(), 5);
    }
}
