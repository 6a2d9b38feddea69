//! State stores: the local state of stateful operations (aggregations, tables, joins), one
//! instance per task, each backed by a compacted changelog topic
//! `<application.id>-<store>-changelog` from which it is restored.
//!
//! Stores hold bytes, ordered as Kafka Streams orders them (keys compared as unsigned bytes),
//! so the same store can be written by the DSL, read by interactive queries and restored from
//! its changelog without knowing the types. The DSL's key-value stores are *timestamped*, as in
//! Kafka Streams: a value is the record timestamp (8 bytes, big-endian) followed by the value's
//! bytes, and the changelog holds the same bytes.

mod memory;
pub(crate) mod query;

pub use query::ReadOnlyKeyValueStore;

pub(crate) use memory::InMemoryKeyValueStore;

/// A store as the topology declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreDef {
    /// The store's name (part of its changelog topic's name).
    pub name: String,
    /// Whether writes go to a changelog topic.
    pub logged: bool,
    /// Whether values carry their timestamp (the DSL's stores) or are plain bytes.
    pub timestamped: bool,
    /// Whether updates wait in a write cache (`cache.max.bytes.buffering`) before they are
    /// logged and forwarded.
    pub cached: bool,
}

impl StoreDef {
    /// The changelog topic of this store in application `application_id`.
    pub fn changelog_topic(&self, application_id: &str) -> String {
        format!("{application_id}-{}-changelog", self.name)
    }

    /// A new, empty instance.
    pub fn create(&self) -> Box<dyn KeyValueBytes> {
        Box::new(InMemoryKeyValueStore::default())
    }
}

/// A key-value store over bytes, ordered by key.
pub(crate) trait KeyValueBytes: Send {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Option<&[u8]>;
    /// Sets `key` to `value`, or deletes it when `value` is `None`.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>);
    /// The entries with `from <= key <= to` (an open end when `None`), in key order.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)>;
    /// How many entries there are.
    fn len(&self) -> usize;
}

/// A timestamped store's value: the timestamp and the value's bytes.
pub(crate) fn split_timestamp(stored: &[u8]) -> Option<(i64, &[u8])> {
    let (ts, value) = stored.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*ts), value))
}

/// A timestamped store's bytes for `value` at `timestamp`.
pub(crate) fn with_timestamp(timestamp: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamped_values_round_trip() {
        let bytes = with_timestamp(1_700_000_000_123, b"abc");
        assert_eq!(&bytes[..8], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(
            split_timestamp(&bytes),
            Some((1_700_000_000_123, &b"abc"[..]))
        );
        assert_eq!(split_timestamp(b"short"), None);
    }
}
