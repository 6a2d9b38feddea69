//! Stores of the processor API: declared with a [`StoreBuilder`], used through a typed
//! [`KeyValueStore`] handle.

use std::any::Any;
use std::sync::Arc;

use super::ConnectedStore;
use crate::processor::{Context, StreamsError};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::window::{fetch, read_long, session_bounds, session_key, window_key, Schema};
use crate::store::{StoreDef, StoreKind};
use crate::window::{Window, Windowed};

/// A store for processors to keep state in (Kafka's `Stores.keyValueStoreBuilder`): its name,
/// its key and value serdes, and whether its writes go to the changelog topic
/// `<application.id>-<name>-changelog` (they do unless logging is disabled), from which it is
/// restored where its task runs next. Values are stored as the value serde writes them,
/// without a timestamp; there is no write cache in front (Kafka's builders have caching off
/// unless asked).
pub struct StoreBuilder<K, V> {
    name: String,
    serdes: StoreSerdes<K, V>,
    logged: bool,
    persistent: bool,
    kind: StoreKind,
}

/// A store's serdes, which its typed handles read and write with.
pub(crate) struct StoreSerdes<K, V> {
    key: SharedSerde<K>,
    value: SharedSerde<V>,
}

impl<K: 'static, V: 'static> StoreBuilder<K, V> {
    /// An in-memory key-value store `name` with these serdes, logged to its changelog.
    pub fn key_value(name: &str, key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        StoreBuilder {
            name: name.to_string(),
            serdes: StoreSerdes { key, value },
            logged: true,
            persistent: false,
            kind: StoreKind::KeyValue,
        }
    }

    /// An in-memory window store `name` (Kafka's `Stores.inMemoryWindowStore` in a
    /// `windowStoreBuilder`): values per key and window start, windows of `window_size`, kept
    /// for `retention` of the store's stream time (the largest window start put), logged to
    /// its changelog with Kafka's window keys. Duplicates are not retained (a put replaces the
    /// window's value). An error when the retention is shorter than the window, as Kafka's.
    pub fn window(
        name: &str,
        retention: std::time::Duration,
        window_size: std::time::Duration,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<Self, StreamsError> {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let (retention, size) = (ms(retention), ms(window_size));
        if size < 1 {
            return Err(StreamsError::InvalidArgument(format!(
                "windowSize cannot be zero or negative (store {name})"
            )));
        }
        if retention < size {
            return Err(StreamsError::InvalidArgument(format!(
                "The retention period of the window store {name} must be no smaller than its window size. Got size=[{size}], retention=[{retention}]"
            )));
        }
        Ok(StoreBuilder {
            kind: StoreKind::Window {
                retention,
                size,
                duplicates: false,
            },
            ..Self::key_value(name, key, value)
        })
    }

    /// An in-memory session store `name` (Kafka's `Stores.inMemorySessionStore` in a
    /// `sessionStoreBuilder`): a value per key and session `[start, end]`, kept for
    /// `retention` of the store's stream time after the session's end, logged to its
    /// changelog with Kafka's session keys (the record key, the end, the start).
    pub fn session(
        name: &str,
        retention: std::time::Duration,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Self {
        StoreBuilder {
            kind: StoreKind::Session {
                retention: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
            },
            ..Self::key_value(name, key, value)
        }
    }

    /// [`StoreBuilder::session`] in files under the task's state directory (Kafka's
    /// `persistentSessionStore`).
    pub fn persistent_session(
        name: &str,
        retention: std::time::Duration,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Self {
        StoreBuilder {
            persistent: true,
            ..Self::session(name, retention, key, value)
        }
    }

    /// [`StoreBuilder::window`] in files under the task's state directory (Kafka's
    /// `persistentWindowStore`).
    pub fn persistent_window(
        name: &str,
        retention: std::time::Duration,
        window_size: std::time::Duration,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<Self, StreamsError> {
        Ok(StoreBuilder {
            persistent: true,
            ..Self::window(name, retention, window_size, key, value)?
        })
    }

    /// A persistent key-value store `name` (a file under the task's state directory, for
    /// state larger than memory), logged to its changelog.
    pub fn persistent_key_value(name: &str, key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        StoreBuilder {
            persistent: true,
            ..Self::key_value(name, key, value)
        }
    }

    /// The store without a changelog: its content is lost when its task moves or the
    /// application restarts.
    pub fn with_logging_disabled(mut self) -> Self {
        self.logged = false;
        self
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store's definition and its serdes, for the builder.
    pub(crate) fn into_parts(self) -> (StoreDef, Arc<dyn Any + Send + Sync>)
    where
        K: Send + Sync,
        V: Send + Sync,
    {
        let def = StoreDef {
            name: self.name,
            logged: self.logged,
            persistent: self.persistent,
            dsl_default: false,
            timestamped: false,
            cached: false,
            kind: self.kind,
        };
        (def, Arc::new(self.serdes))
    }
}

/// A processor's key-value store, typed by its serdes. Writes go to the store and its
/// changelog at once, the changelog record stamped with the timestamp of the record being
/// processed (or of the punctuation).
pub struct KeyValueStore<'a, K, V> {
    ctx: &'a mut dyn Context,
    id: usize,
    name: &'a str,
    serdes: &'a StoreSerdes<K, V>,
    timestamp: i64,
}

impl<'a, K: 'static, V: 'static> KeyValueStore<'a, K, V> {
    pub(crate) fn new(
        ctx: &'a mut dyn Context,
        store: &'a ConnectedStore,
        timestamp: i64,
    ) -> Result<Self, StreamsError> {
        let serdes = store
            .serdes
            .downcast_ref::<StoreSerdes<K, V>>()
            .ok_or_else(|| {
                StreamsError::UnknownStore(format!(
                    "store {} does not hold keys of {} and values of {}",
                    store.name,
                    std::any::type_name::<K>(),
                    std::any::type_name::<V>()
                ))
            })?;
        Ok(KeyValueStore {
            ctx,
            id: store.id,
            name: &store.name,
            serdes,
            timestamp,
        })
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        to_bytes(&self.serdes.key, "key", self.name, key)?
            .ok_or_else(|| StreamsError::InvalidArgument("key cannot be null".to_string()))
    }

    fn entry(&self, key: &[u8], value: &[u8]) -> Result<(K, V), StreamsError> {
        Ok((
            from_bytes(&self.serdes.key, "key", self.name, Some(key))?,
            from_bytes(&self.serdes.value, "value", self.name, Some(value))?,
        ))
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StreamsError> {
        let key = self.key_bytes(key)?;
        match self.ctx.store(self.id)?.get(&key) {
            Some(bytes) => {
                from_bytes(&self.serdes.value, "value", self.name, Some(bytes)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Sets `key` to `value` (a value the serde writes as null deletes the key).
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), StreamsError> {
        let key = self.key_bytes(key)?;
        let value = to_bytes(&self.serdes.value, "value", self.name, value)?;
        self.ctx
            .put(self.id, &key, value.as_deref(), self.timestamp)
    }

    /// Sets `key` to `value` unless it has a value; the value it had.
    pub fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>, StreamsError> {
        let old = self.get(key)?;
        if old.is_none() {
            self.put(key, value)?;
        }
        Ok(old)
    }

    /// Deletes `key`; the value it had. The changelog gets a tombstone even for a key the
    /// store did not hold, as Kafka's logging store writes one.
    pub fn delete(&mut self, key: &K) -> Result<Option<V>, StreamsError> {
        let old = self.get(key)?;
        let key = self.key_bytes(key)?;
        self.ctx.put(self.id, &key, None, self.timestamp)?;
        Ok(old)
    }

    /// The entries with `from <= key <= to`, in the order of their key bytes (unsigned);
    /// none when `from` comes after `to`.
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>, StreamsError> {
        let (from, to) = (self.key_bytes(from)?, self.key_bytes(to)?);
        self.entries(Some(&from), Some(&to))
    }

    /// Every entry, in the order of their key bytes.
    pub fn all(&self) -> Result<Vec<(K, V)>, StreamsError> {
        self.entries(None, None)
    }

    fn entries(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Vec<(K, V)>, StreamsError> {
        self.ctx
            .store(self.id)?
            .range(from, to)
            .iter()
            .map(|(k, v)| self.entry(k, v))
            .collect()
    }

    /// How many entries the store holds.
    pub fn approximate_num_entries(&self) -> Result<u64, StreamsError> {
        Ok(self.ctx.store(self.id)?.len() as u64)
    }
}

/// A processor's window store, typed by its serdes: values per key and window start. Writes
/// go to the store and its changelog at once (key: Kafka's window key, the record key, the
/// window start and a sequence number), stamped with the timestamp of the record being
/// processed (or of the punctuation).
pub struct WindowStore<'a, K, V> {
    kv: KeyValueStore<'a, K, V>,
    size: i64,
}

impl<'a, K: 'static, V: 'static> WindowStore<'a, K, V> {
    pub(crate) fn new(
        ctx: &'a mut dyn Context,
        store: &'a ConnectedStore,
        timestamp: i64,
    ) -> Result<Self, StreamsError> {
        let Some(StoreKind::Window { size, .. }) = ctx.store_kind(store.id) else {
            return Err(StreamsError::UnknownStore(format!(
                "{} is not a window store",
                store.name
            )));
        };
        Ok(WindowStore {
            kv: KeyValueStore::new(ctx, store, timestamp)?,
            size,
        })
    }

    /// Sets `key`'s window starting at `window_start` to `value` (a value the serde writes as
    /// null deletes the window). A window older than the retention is not kept.
    pub fn put(&mut self, key: &K, value: &V, window_start: i64) -> Result<(), StreamsError> {
        let key = window_key(&self.kv.key_bytes(key)?, window_start);
        let value = to_bytes(&self.kv.serdes.value, "value", self.kv.name, value)?;
        self.kv
            .ctx
            .put(self.kv.id, &key, value.as_deref(), self.kv.timestamp)
    }

    /// The value of `key`'s window starting at `window_start`.
    pub fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>, StreamsError> {
        let key = window_key(&self.kv.key_bytes(key)?, window_start);
        match self.kv.ctx.store(self.kv.id)?.get(&key) {
            Some(v) => from_bytes(&self.kv.serdes.value, "value", self.kv.name, Some(v)).map(Some),
            None => Ok(None),
        }
    }

    /// `key`'s windows starting in `[from, to]`, by start: `(start, value)`.
    pub fn fetch_range(&self, key: &K, from: i64, to: i64) -> Result<Vec<(i64, V)>, StreamsError> {
        let key = self.kv.key_bytes(key)?;
        let store = self.kv.ctx.store(self.kv.id)?;
        fetch(store, Schema::Window, &key, from, to)
            .into_iter()
            .map(|(k, v)| {
                let start = read_long(&k[k.len() - 12..]);
                Ok((
                    start,
                    from_bytes(&self.kv.serdes.value, "value", self.kv.name, Some(&v))?,
                ))
            })
            .collect()
    }

    /// Every key's windows starting in `[from, to]`, in the store's order (by key bytes, then
    /// start).
    pub fn fetch_all(&self, from: i64, to: i64) -> Result<Vec<(Windowed<K>, V)>, StreamsError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|(w, _)| (from..=to).contains(&w.window.start))
            .collect())
    }

    /// Every window, in the store's order (by key bytes, then start).
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>, StreamsError> {
        self.kv
            .ctx
            .store(self.kv.id)?
            .range(None, None)
            .into_iter()
            .filter(|(k, _)| k.len() >= 12)
            .map(|(k, v)| {
                let at = k.len() - 12;
                let start = read_long(&k[at..]);
                let window = Window {
                    start,
                    end: start.saturating_add(self.size),
                };
                let (key, value) = self.kv.entry(&k[..at], &v)?;
                Ok((Windowed { key, window }, value))
            })
            .collect()
    }
}

/// A processor's session store, typed by its serdes: a value per key and session. Writes go to
/// the store and its changelog at once (key: Kafka's session key, the record key, the session
/// end and its start), stamped with the timestamp of the record being processed (or of the
/// punctuation).
pub struct SessionStore<'a, K, V> {
    kv: KeyValueStore<'a, K, V>,
}

impl<'a, K: 'static, V: 'static> SessionStore<'a, K, V> {
    pub(crate) fn new(
        ctx: &'a mut dyn Context,
        store: &'a ConnectedStore,
        timestamp: i64,
    ) -> Result<Self, StreamsError> {
        let Some(StoreKind::Session { .. }) = ctx.store_kind(store.id) else {
            return Err(StreamsError::UnknownStore(format!(
                "{} is not a session store",
                store.name
            )));
        };
        Ok(SessionStore {
            kv: KeyValueStore::new(ctx, store, timestamp)?,
        })
    }

    fn session_key(&self, session: &Windowed<K>) -> Result<Vec<u8>, StreamsError> {
        let key = self.kv.key_bytes(&session.key)?;
        Ok(session_key(&key, session.window.start, session.window.end))
    }

    /// Sets `session`'s value to `value` (a value the serde writes as null removes it).
    pub fn put(&mut self, session: &Windowed<K>, value: &V) -> Result<(), StreamsError> {
        let key = self.session_key(session)?;
        let value = to_bytes(&self.kv.serdes.value, "value", self.kv.name, value)?;
        self.kv
            .ctx
            .put(self.kv.id, &key, value.as_deref(), self.kv.timestamp)
    }

    /// Removes `session`.
    pub fn remove(&mut self, session: &Windowed<K>) -> Result<(), StreamsError> {
        let key = self.session_key(session)?;
        self.kv.ctx.put(self.kv.id, &key, None, self.kv.timestamp)
    }

    /// The value of `key`'s session `[start, end]`.
    pub fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>, StreamsError> {
        let key = session_key(&self.kv.key_bytes(key)?, start, end);
        match self.kv.ctx.store(self.kv.id)?.get(&key) {
            Some(v) => from_bytes(&self.kv.serdes.value, "value", self.kv.name, Some(v)).map(Some),
            None => Ok(None),
        }
    }

    /// `key`'s sessions that end at or after `earliest_end` and start at or before
    /// `latest_start` (the sessions a record at a time between them merges with), by end then
    /// start.
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>, StreamsError> {
        let kb = self.kv.key_bytes(key)?;
        let store = self.kv.ctx.store(self.kv.id)?;
        fetch(store, Schema::Session, &kb, earliest_end, i64::MAX)
            .into_iter()
            .filter_map(|(k, v)| {
                let (start, end) = session_bounds(&k);
                (start <= latest_start).then_some((start, end, v))
            })
            .map(|(start, end, v)| {
                let (key, value) = self.kv.entry(&kb, &v)?;
                Ok((
                    Windowed {
                        key,
                        window: Window { start, end },
                    },
                    value,
                ))
            })
            .collect()
    }

    /// Every session of `key`, by end then start.
    pub fn fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>, StreamsError> {
        self.find_sessions(key, 0, i64::MAX)
    }
}
