//! The in-memory key-value store: a B-tree of byte keys, as Kafka Streams' `InMemoryKeyValueStore`
//! keeps a `TreeMap<Bytes, byte[]>`.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::KeyValueBytes;

/// The entries of `entries` with `from <= key <= to` (an open end when `None`) that `keep`
/// accepts, in key order.
pub(crate) fn range(
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Vec::new();
        }
    }
    let lower = from.map_or(Bound::Unbounded, Bound::Included);
    let upper = to.map_or(Bound::Unbounded, Bound::Included);
    entries
        .range::<[u8], _>((lower, upper))
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Entries in a B-tree, in unsigned byte order of keys.
#[derive(Debug, Default)]
pub(crate) struct InMemoryKeyValueStore {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KeyValueBytes for InMemoryKeyValueStore {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        match value {
            Some(v) => match self.entries.get_mut(key) {
                Some(old) => {
                    old.clear();
                    old.extend_from_slice(v);
                }
                None => {
                    self.entries.insert(key.to_vec(), v.to_vec());
                }
            },
            None => {
                self.entries.remove(key);
            }
        }
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        range(&self.entries, from, to, |_| true)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_deletes_and_ranges_in_unsigned_byte_order() {
        let mut s = InMemoryKeyValueStore::default();
        s.put(b"b", Some(b"2"));
        s.put(&[0xff], Some(b"high"));
        s.put(b"a", Some(b"1"));
        s.put(b"c", Some(b"3"));
        s.put(b"a", Some(b"one"));
        assert_eq!(s.get(b"a"), Some(&b"one"[..]));
        s.put(b"c", None);
        assert_eq!(s.get(b"c"), None);
        assert_eq!(s.len(), 3);
        let keys: Vec<Vec<u8>> = s.range(None, None).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec(), vec![0xff]]);
        assert_eq!(s.range(Some(b"b"), Some(b"z")).len(), 1);
        assert!(s.range(Some(b"z"), Some(b"a")).is_empty());
    }
}
