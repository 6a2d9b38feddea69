//! Window and session stores: key-value stores whose keys carry a time, kept for a retention
//! period of stream time, as Kafka Streams' in-memory window and session stores keep them.
//!
//! The keys are the bytes Kafka Streams writes to the stores' changelogs:
//! a window store's is the record key, the window start (8 bytes, big-endian) and a sequence
//! number (4 bytes, 0: the DSL keeps no duplicates); a session store's is the record key, the
//! session end and the session start. So one key's windows are in time order, and the store's
//! bytes go to and come back from the changelog unchanged.

use std::collections::{BTreeMap, BTreeSet};

use super::KeyValueBytes;

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
#[derive(Debug)]
pub(crate) struct InMemoryWindowStore {
    schema: Schema,
    retention: i64,
    /// How long entries are kept: the retention plus a segment.
    keep: i64,
    cached: bool,
    observed: i64,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    by_time: BTreeSet<(i64, Vec<u8>)>,
}

impl InMemoryWindowStore {
    pub fn new(schema: Schema, retention: i64, cached: bool) -> Self {
        InMemoryWindowStore {
            schema,
            retention,
            keep: retention.saturating_add((retention / 2).max(60_000)),
            cached,
            observed: i64::MIN,
            entries: BTreeMap::new(),
            by_time: BTreeSet::new(),
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

    fn expire(&mut self) {
        while let Some((time, _)) = self.by_time.first() {
            if !self.expired(*time) {
                break;
            }
            if let Some((_, key)) = self.by_time.pop_first() {
                self.entries.remove(&key);
            }
        }
    }
}

impl KeyValueBytes for InMemoryWindowStore {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        if !self.visible(key) {
            return None;
        }
        self.entries.get(key).map(Vec::as_slice)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some(time) = self.schema.time(key) else {
            return;
        };
        match value {
            None => {
                if self.entries.remove(key).is_some() {
                    self.by_time.remove(&(time, key.to_vec()));
                }
            }
            Some(v) => {
                if self.expired(time) {
                    return;
                }
                if self.entries.insert(key.to_vec(), v.to_vec()).is_none() {
                    self.by_time.insert((time, key.to_vec()));
                }
                if time > self.observed {
                    self.observed = time;
                    self.expire();
                }
            }
        }
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        super::memory::range(&self.entries, from, to, |k| self.visible(k))
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn retains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
            && self
                .schema
                .time(key)
                .is_some_and(|t| !self.older_than(t, self.retention))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fetched_by_key_and_time_and_expire_with_retention() {
        let mut s = InMemoryWindowStore::new(Schema::Window, 100, false);
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
        let mut s = InMemoryWindowStore::new(Schema::Session, 1000, true);
        s.put(&session_key(b"k", 5, 10), Some(b"1"));
        s.put(&session_key(b"k", 0, 3), Some(b"2"));
        s.put(&session_key(b"k", 20, 20), Some(b"3"));
        let found = fetch(&s, Schema::Session, b"k", 3, 20);
        let bounds: Vec<(i64, i64)> = found.iter().map(|(k, _)| session_bounds(k)).collect();
        assert_eq!(bounds, vec![(0, 3), (5, 10), (20, 20)]);
    }
}
