//! State stores: the local state of stateful operations (aggregations, tables, joins), one
//! instance per task, each backed by a compacted changelog topic
//! `<application.id>-<store>-changelog` from which it is restored.
//!
//! Stores hold bytes, ordered as Kafka Streams orders them (keys compared as unsigned bytes),
//! so the same store can be written by the DSL, read by interactive queries and restored from
//! its changelog without knowing the types. The DSL's key-value stores are *timestamped*, as in
//! Kafka Streams: a value is the record timestamp (8 bytes, big-endian) followed by the value's
//! bytes, and the changelog holds the same bytes.

pub(crate) mod global;
pub(crate) mod memory;
pub(crate) mod persistent;
pub(crate) mod query;
pub(crate) mod window;

pub use query::{ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore};

pub(crate) use memory::InMemoryKeyValueStore;

use crate::processor::StreamsError;

/// A store as the topology declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreDef {
    /// The store's name (part of its changelog topic's name).
    pub name: String,
    /// Whether writes go to a changelog topic.
    pub logged: bool,
    /// Whether the store is in files under the task's state directory rather than in memory.
    pub persistent: bool,
    /// Whether `persistent` is the application's choice for the DSL's stores
    /// (`default.dsl.store`) rather than the topology's.
    pub dsl_default: bool,
    /// Whether values carry their timestamp (the DSL's stores) or are plain bytes.
    pub timestamped: bool,
    /// Whether updates wait in a write cache (`cache.max.bytes.buffering`) before they are
    /// logged and forwarded.
    pub cached: bool,
    /// Key-value, window or session store.
    pub kind: StoreKind,
}

/// What a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// The latest value per key.
    KeyValue,
    /// Values per key and window start (windows of `size` ms), kept for `retention` ms of
    /// stream time; with `duplicates`, one entry per put (a stream-stream join's records).
    Window {
        retention: i64,
        size: i64,
        duplicates: bool,
    },
    /// Values per key and session, kept for `retention` ms of stream time after their end.
    Session { retention: i64 },
}

/// Kafka Streams' `windowstore.changelog.additional.retention.ms` default: a windowed
/// changelog keeps records this much longer than its store.
pub(crate) const CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 86_400_000;

impl StoreDef {
    /// The changelog topic of this store in application `application_id`.
    pub fn changelog_topic(&self, application_id: &str) -> String {
        format!("{application_id}-{}-changelog", self.name)
    }

    /// A new, empty instance; `cached` when a write cache is in front of it (a windowed
    /// store then shows entries past its retention as long as it keeps them, as Kafka's cache
    /// does). A persistent store is a file in `dir/<name>`.
    pub fn create(
        &self,
        cached: bool,
        dir: Option<&std::path::Path>,
    ) -> Result<Box<dyn KeyValueBytes>, StreamsError> {
        if !self.persistent {
            return Ok(self.create_in_memory(cached));
        }
        let Some(dir) = dir else {
            return Err(StreamsError::Config(format!(
                "the persistent store {} needs a state directory",
                self.name
            )));
        };
        let dir = dir.join(&self.name);
        let open = |part: &str| -> Result<Box<dyn KeyValueBytes>, StreamsError> {
            Ok(Box::new(persistent::PersistentKeyValueStore::open(
                &dir.join(part),
            )?))
        };
        Ok(match self.kind {
            StoreKind::KeyValue => Box::new(persistent::PersistentKeyValueStore::open(&dir)?),
            StoreKind::Window { retention, .. } => Box::new(window::WindowStore::over(
                window::Schema::Window,
                retention,
                cached,
                open("entries")?,
                open("by-time")?,
            )),
            StoreKind::Session { retention } => Box::new(window::WindowStore::over(
                window::Schema::Session,
                retention,
                cached,
                open("entries")?,
                open("by-time")?,
            )),
        })
    }

    /// A new, empty in-memory instance (see [`StoreDef::create`]).
    fn create_in_memory(&self, cached: bool) -> Box<dyn KeyValueBytes> {
        match self.kind {
            StoreKind::KeyValue => Box::new(InMemoryKeyValueStore::default()),
            StoreKind::Window { retention, .. } => Box::new(window::WindowStore::in_memory(
                window::Schema::Window,
                retention,
                cached,
            )),
            StoreKind::Session { retention } => Box::new(window::WindowStore::in_memory(
                window::Schema::Session,
                retention,
                cached,
            )),
        }
    }

    /// The configs of the store's changelog topic, as Kafka Streams makes them: compacted for
    /// a key-value store; `compact,delete` with the retention plus a day for a windowed one
    /// (`delete` only when it keeps duplicates).
    pub fn changelog_configs(&self) -> Vec<(&'static str, String)> {
        let windowed = |policy: &str, retention: i64| {
            vec![
                ("cleanup.policy", policy.to_string()),
                (
                    "retention.ms",
                    retention
                        .saturating_add(CHANGELOG_ADDITIONAL_RETENTION_MS)
                        .to_string(),
                ),
                ("message.timestamp.type", "CreateTime".to_string()),
            ]
        };
        match self.kind {
            StoreKind::KeyValue => vec![
                ("cleanup.policy", "compact".to_string()),
                ("message.timestamp.type", "CreateTime".to_string()),
            ],
            StoreKind::Window {
                retention,
                duplicates,
                ..
            } => windowed(
                if duplicates {
                    "delete"
                } else {
                    "compact,delete"
                },
                retention,
            ),
            StoreKind::Session { retention } => windowed("compact,delete", retention),
        }
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
    /// Whether `key` is held and within the store's retention: what a read below a write
    /// cache would find.
    fn retains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }
    /// Makes the writes so far part of the store's state on disk (a commit); nothing to do
    /// in memory.
    fn commit(&mut self) -> Result<(), StreamsError> {
        Ok(())
    }
    /// Makes what was committed survive a crash of the process (a checkpoint follows);
    /// nothing to do in memory.
    fn make_durable(&mut self) -> Result<(), StreamsError> {
        Ok(())
    }
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
