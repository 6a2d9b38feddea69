//! Window and session stores: key-value stores whose keys carry a time, kept for a retention
//! period of stream time, as Kafka Streams' in-memory window and session stores keep them.
//!
//! The keys are the bytes Kafka Streams writes to the stores' changelogs:
//! a window store's is the record key, the window start (8 bytes, big-endian) and a sequence
//! number (4 bytes, 0: the DSL keeps no duplicates); a session store's is the record key, the
//! session end and the session start. So one key's windows are in time order, and the store's
//! bytes go to and come back from the changelog unchanged.

use super::{InMemoryKeyValueStore, KeyValueBytes};
use crate::processor::StreamsError;

/// Which time a store's keys carry, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    /// `key ‖ start ‖ seqnum`: the window start, 12 bytes from the end.
    Window,
    /// `key ‖ end ‖ start`: the session end, 16 bytes from the end.
    Session,
}

impl Schema {
    /// Bytes after the record key.
    pub fn suffix(self) -> usize {
        match self {
            Schema::Window => 12,
            Schema::Session => 16,
        }
    }

    /// The time a store key is kept by (window start, session end); `None` for a key too short
    /// to be one.
    pub fn time(self, key: &[u8]) -> Option<i64> {
        let at = key.len().checked_sub(self.suffix())?;
        Some(read_long(&key[at..]))
    }
}

pub(crate) fn read_long(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

/// A window store's key for `key`'s window starting at `start`.
pub(crate) fn window_key(key: &[u8], start: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 12);
    out.extend_from_slice(key);
    out.extend_from_slice(&start.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// A session store's key for `key`'s session `[start, end]`.
pub(crate) fn session_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 16);
    out.extend_from_slice(key);
    out.extend_from_slice(&end.to_be_bytes());
    out.extend_from_slice(&start.to_be_bytes());
    out
}

/// A session store key's `(start, end)`.
pub(crate) fn session_bounds(store_key: &[u8]) -> (i64, i64) {
    let at = store_key.len() - 16;
    (read_long(&store_key[at + 8..]), read_long(&store_key[at..]))
}

/// The entries of `store` whose record key is exactly `key` and whose time (by `schema`) is in
/// `[from, to]`, in key order (by time).
pub(crate) fn fetch(
    store: &dyn KeyValueBytes,
    schema: Schema,
    key: &[u8],
    from: i64,
    to: i64,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if from > to {
        return Vec::new();
    }
    let mut lower = key.to_vec();
    lower.extend_from_slice(&from.max(0).to_be_bytes());
    let mut upper = key.to_vec();
    upper.extend_from_slice(&to.to_be_bytes());
    upper.extend(std::iter::repeat_n(0xff, schema.suffix() - 8));
    store
        .range(Some(&lower), Some(&upper))
        .into_iter()
        .filter(|(k, _)| k.len() == key.len() + schema.suffix() && k.starts_with(key))
        .collect()
}

/// Entries kept for `retention` ms of the store's own stream time (the largest time put).
///
/// As Kafka Streams' default window stores, which drop time segments of
/// `max(retention / 2, 60 s)` at once, entries stay a segment longer than the retention
/// (a put older than that is ignored). Reads show them only with a write cache in front, as
/// Kafka's cache still holds them; without one, a read sees only entries within the retention.
///
/// The entries and a time index (keys: [`time_index_key`]) are two key-value stores: in
/// memory, or two files under the task's state directory (a persistent window or session
/// store).
pub(crate) struct WindowStore {
    schema: Schema,
    retention: i64,
    /// How long entries are kept: the retention plus a segment.
    keep: i64,
    cached: bool,
    observed: i64,
    /// No entry is older than this (a lower bound: deletions do not raise it).
    oldest: i64,
    entries: Box<dyn KeyValueBytes>,
    by_time: Box<dyn KeyValueBytes>,
}

/// The time index's key of a store entry: its time, the sign bit flipped so that the bytes
/// sort as the numbers do, then the entry's key.
fn time_index_key(time: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&((time as u64) ^ (1 << 63)).to_be_bytes());
    out.extend_from_slice(key);
    out
}

impl WindowStore {
    /// A store in memory.
    pub fn in_memory(schema: Schema, retention: i64, cached: bool) -> Self {
        Self::over(
            schema,
            retention,
            cached,
            Box::new(InMemoryKeyValueStore::default()),
            Box::new(InMemoryKeyValueStore::default()),
        )
    }

    /// A store over `entries` and its time index `by_time` (empty, or files kept from an
    /// earlier run).
    pub fn over(
        schema: Schema,
        retention: i64,
        cached: bool,
        entries: Box<dyn KeyValueBytes>,
        by_time: Box<dyn KeyValueBytes>,
    ) -> Self {
        WindowStore {
            schema,
            retention,
            keep: retention.saturating_add((retention / 2).max(60_000)),
            cached,
            observed: i64::MIN,
            // (entries kept from an earlier run may be of any time: the first expiry looks)
            oldest: if entries.len() == 0 {
                i64::MAX
            } else {
                i64::MIN
            },
            entries,
            by_time,
        }
    }

    fn older_than(&self, time: i64, period: i64) -> bool {
        self.observed != i64::MIN && time <= self.observed.saturating_sub(period)
    }

    fn expired(&self, time: i64) -> bool {
        self.older_than(time, self.keep)
    }

    /// Whether a read shows an entry of `time`.
    fn visible(&self, key: &[u8]) -> bool {
        self.cached
            || self
                .schema
                .time(key)
                .is_some_and(|t| !self.older_than(t, self.retention))
    }

    /// Drops the entries kept long enough.
    fn expire(&mut self) {
        let cutoff = self.observed.saturating_sub(self.keep);
        if self.oldest > cutoff {
            return;
        }
        // (every index key of a time up to the cutoff sorts before this one)
        let upper = time_index_key(cutoff.saturating_add(1), &[]);
        for (index_key, _) in self.by_time.range(None, Some(&upper)) {
            self.by_time.put(&index_key, None);
            self.entries.put(&index_key[8..], None);
        }
        self.oldest = cutoff.saturating_add(1);
    }
}

impl std::fmt::Debug for WindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowStore")
            .field("schema", &self.schema)
            .field("retention", &self.retention)
            .field("observed", &self.observed)
            .finish_non_exhaustive()
    }
}

impl KeyValueBytes for WindowStore {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        if !self.visible(key) {
            return None;
        }
        self.entries.get(key)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some(time) = self.schema.time(key) else {
            return;
        };
        match value {
            None => {
                if self.entries.get(key).is_some() {
                    self.entries.put(key, None);
                    self.by_time.put(&time_index_key(time, key), None);
                }
            }
            Some(v) => {
                if self.expired(time) {
                    return;
                }
                if self.entries.get(key).is_none() {
                    self.by_time.put(&time_index_key(time, key), Some(&[]));
                }
                self.entries.put(key, Some(v));
                self.oldest = self.oldest.min(time);
                if time > self.observed {
                    self.observed = time;
                    self.expire();
                }
            }
        }
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut found = self.entries.range(from, to);
        found.retain(|(k, _)| self.visible(k));
        found
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn retains(&self, key: &[u8]) -> bool {
        self.entries.get(key).is_some()
            && self
                .schema
                .time(key)
                .is_some_and(|t| !self.older_than(t, self.retention))
    }

    fn commit(&mut self) -> Result<(), StreamsError> {
        self.entries.commit()?;
        self.by_time.commit()
    }

    fn make_durable(&mut self) -> Result<(), StreamsError> {
        self.entries.make_durable()?;
        self.by_time.make_durable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fetched_by_key_and_time_and_expire_with_retention() {
        windows_expire(WindowStore::in_memory(Schema::Window, 100, false));
    }

    #[test]
    fn persistent_windows_expire_as_in_memory_ones() {
        let dir = tempfile::tempdir().unwrap();
        let open = |part: &str| -> Box<dyn KeyValueBytes> {
            Box::new(
                crate::store::persistent::PersistentKeyValueStore::open(&dir.path().join(part))
                    .unwrap(),
            )
        };
        let store = WindowStore::over(Schema::Window, 100, false, open("entries"), open("by-time"));
        windows_expire(store);
    }

    #[test]
    fn negative_times_sort_before_positive_ones_in_the_index() {
        assert!(time_index_key(-5, b"z") < time_index_key(0, b"a"));
        assert!(time_index_key(i64::MIN, b"") < time_index_key(-1, b""));
        assert!(time_index_key(1, b"") < time_index_key(i64::MAX, b""));
    }

    fn windows_expire(mut s: WindowStore) {
        s.put(&window_key(b"a", 0), Some(b"a0"));
        s.put(&window_key(b"a", 50), Some(b"a50"));
        s.put(&window_key(b"ab", 10), Some(b"ab10"));
        s.put(&window_key(b"a\0", 10), Some(b"other"));
        let got: Vec<Vec<u8>> = fetch(&s, Schema::Window, b"a", 0, 60)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, vec![b"a0".to_vec(), b"a50".to_vec()]);
        assert_eq!(fetch(&s, Schema::Window, b"a", 1, 49).len(), 0);
        // stream time 120: windows starting at or before 20 are out of reads
        s.put(&window_key(b"b", 120), Some(b"b"));
        s.commit().unwrap();
        assert_eq!(s.get(&window_key(b"a", 0)), None);
        assert_eq!(s.get(&window_key(b"ab", 10)), None);
        assert_eq!(fetch(&s, Schema::Window, b"a", 0, 200).len(), 1);
        // and gone a segment (at least a minute) later; later puts of them are ignored
        assert_eq!(s.len(), 5);
        s.put(&window_key(b"b", 60_101), Some(b"b"));
        assert_eq!(s.len(), 5, "the window at 0 is gone");
        s.put(&window_key(b"a", 0), Some(b"late"));
        assert_eq!(s.len(), 5);
        s.put(&window_key(b"a", 50), None);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn sessions_are_found_by_end_then_start() {
        let mut s = WindowStore::in_memory(Schema::Session, 1000, true);
        s.put(&session_key(b"k", 5, 10), Some(b"1"));
        s.put(&session_key(b"k", 0, 3), Some(b"2"));
        s.put(&session_key(b"k", 20, 20), Some(b"3"));
        let found = fetch(&s, Schema::Session, b"k", 3, 20);
        let bounds: Vec<(i64, i64)> = found.iter().map(|(k, _)| session_bounds(k)).collect();
        assert_eq!(bounds, vec![(0, 3), (5, 10), (20, 20)]);
    }
}
