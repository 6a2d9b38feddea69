//! `KTable::suppress`: holding a table's updates back, per key, and sending only the latest
//! one once its time has come: when its window closes (`until_window_closes`, the final result
//! of a windowed aggregation) or a time limit after its first update (`until_time_limit`).
//!
//! As Kafka Streams' `KTableSuppressProcessor`: the buffer is ordered by time, then by the
//! key's bytes; a key updated again keeps its place and takes the latest value, timestamp and
//! headers; the node keeps its own stream time (the largest timestamp of the updates that
//! reach it) and emits the entries whose time is at most that stream time minus the duration,
//! only when an update arrives. The buffer is a store logged to a changelog, so it survives a
//! restart; its value format is Tributary's own (Kafka's is internal to Kafka Streams too).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Windowed;
use crate::ktable::KTable;
use crate::processor::{typed, Change, Context, Dyn, DynRecord, Header, NodeFactory, StreamsError};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::window::read_long;
use crate::store::{StoreDef, StoreKind};
use crate::topology::Kind;

/// How much a suppression may hold, and what happens when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    max_records: u64,
    max_bytes: u64,
    shut_down: bool,
}

impl BufferConfig {
    /// No bound (the application stops if memory runs out, as Kafka's does).
    pub fn unbounded() -> Self {
        BufferConfig {
            max_records: u64::MAX,
            max_bytes: u64::MAX,
            shut_down: true,
        }
    }

    /// At most `n` records; when full, the oldest are emitted early.
    pub fn max_records(n: u64) -> Self {
        BufferConfig {
            max_records: n,
            max_bytes: u64::MAX,
            shut_down: false,
        }
    }

    /// At most `n` bytes of keys and values; when full, the oldest are emitted early.
    pub fn max_bytes(n: u64) -> Self {
        BufferConfig {
            max_records: u64::MAX,
            max_bytes: n,
            shut_down: false,
        }
    }

    /// This buffer with at most `n` records too.
    pub fn with_max_records(mut self, n: u64) -> Self {
        self.max_records = n;
        self
    }

    /// This buffer with at most `n` bytes too.
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// When full, the application stops with an error (results stay final).
    pub fn shut_down_when_full(mut self) -> Self {
        self.shut_down = true;
        self
    }

    /// When full, the oldest entries are emitted before their time.
    pub fn emit_early_when_full(mut self) -> Self {
        self.shut_down = false;
        self
    }
}

/// The time an entry is buffered by.
type TimeOf<K> = Arc<dyn Fn(&K, i64) -> i64 + Send + Sync>;

/// What `KTable::suppress` holds back, and for how long.
pub struct Suppressed<K> {
    name: Option<String>,
    /// `None`: until the window closes (its grace period, found upstream).
    limit: Option<i64>,
    time: TimeOf<K>,
    buffer: BufferConfig,
    drop_tombstones: bool,
}

impl<K: 'static> Suppressed<Windowed<K>> {
    /// Only the final result of each window, once the window closed (its end plus the grace
    /// period has passed); deletions are not sent. The buffer must stop the application when
    /// full (`BufferConfig::unbounded()` or `shut_down_when_full()`), so results stay final.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        Suppressed {
            name: None,
            limit: None,
            time: Arc::new(|key: &Windowed<K>, _| key.window.end),
            buffer,
            drop_tombstones: true,
        }
    }
}

impl<K> Suppressed<K> {
    /// Each key's latest update once `limit` has passed (in stream time) since its first
    /// buffered update.
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        Suppressed {
            name: None,
            limit: Some(i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)),
            time: Arc::new(|_: &K, timestamp| timestamp),
            buffer,
            drop_tombstones: false,
        }
    }

    /// This suppression named `name` (its store is `<name>-store`).
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

impl<K, V> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The table's updates held back as `suppressed` says: emit-final for windowed
    /// aggregations (`Suppressed::until_window_closes`), or rate limiting.
    pub fn suppress(&self, suppressed: Suppressed<K>) -> KTable<K, V> {
        // the buffer keeps the replaced value too
        self.request_old_values();
        let graph = self.graph();
        let mut g = graph.borrow_mut();
        let (name, store_name) = match &suppressed.name {
            Some(n) => {
                g.check_name(n);
                (n.clone(), format!("{n}-store"))
            }
            None => {
                let name = g.name("KTABLE-SUPPRESS-", None);
                (name, g.name("KTABLE-SUPPRESS-STATE-STORE-", None))
            }
        };
        let store = g.add_store(StoreDef {
            name: store_name.clone(),
            logged: true,
            persistent: false,
            dsl_default: false,
            timestamped: false,
            cached: false,
            kind: StoreKind::KeyValue,
        });
        let limit = match suppressed.limit {
            Some(l) => Some(l),
            None => {
                if !suppressed.buffer.shut_down {
                    g.error.get_or_insert(
                        "until_window_closes needs a buffer that stops the application when full (BufferConfig::unbounded() or shut_down_when_full()): emitting early would not be final".to_string(),
                    );
                }
                if self.window_close().is_none() {
                    g.error.get_or_insert(format!(
                        "Window close time is only defined for windowed computations. Got [{name}]"
                    ));
                }
                self.window_close()
            }
        };
        let send_old = Arc::new(AtomicBool::new(false));
        let factory = match (self.key_serde(), self.value_serde()) {
            (Some(k), Some(v)) => Some(suppress_node(
                Buffer {
                    node: name.clone(),
                    store,
                    store_name,
                    key_serde: k,
                    value_serde: v,
                    config: suppressed.buffer,
                },
                limit.unwrap_or(0),
                suppressed.time,
                suppressed.drop_tombstones,
                Arc::clone(&send_old),
            )),
            _ => {
                g.error.get_or_insert(format!(
                    "the suppression {name} needs the table's key and value serdes: give them with Materialized::with upstream"
                ));
                None
            }
        };
        let node = g.add(
            name,
            Kind::Processor {
                stores: vec![store],
            },
            vec![self.node()],
            factory,
        );
        drop(g);
        KTable::new(
            std::rc::Rc::clone(graph),
            node,
            self.key_serde(),
            self.value_serde(),
            None,
        )
        .with_old_values(Some(send_old))
        .with_window_close(self.window_close())
        .with_kept(self.kept())
    }
}

struct Buffer<K, V> {
    node: String,
    store: usize,
    store_name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    config: BufferConfig,
}

/// A buffered update: the time it is held by, the record's timestamp and headers, the value
/// before it was first buffered and the latest one.
struct Entry {
    time: i64,
    timestamp: i64,
    headers: Vec<Header>,
    prior: Option<Vec<u8>>,
    new: Option<Vec<u8>>,
}

impl Entry {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&(self.headers.len() as u32).to_be_bytes());
        for (name, value) in &self.headers {
            put_bytes(&mut out, Some(name.as_bytes()));
            put_bytes(&mut out, value.as_deref());
        }
        put_bytes(&mut out, self.prior.as_deref());
        put_bytes(&mut out, self.new.as_deref());
        out
    }

    fn decode(b: &[u8]) -> Option<Entry> {
        let mut r = Reader(b);
        let time = r.long()?;
        let timestamp = r.long()?;
        let n = r.int()?;
        let mut headers = Vec::new();
        for _ in 0..n {
            let name = String::from_utf8_lossy(&r.bytes()??).into_owned();
            headers.push((name, r.bytes()?));
        }
        Some(Entry {
            time,
            timestamp,
            headers,
            prior: r.bytes()?,
            new: r.bytes()?,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn long(&mut self) -> Option<i64> {
        self.take(8).map(read_long)
    }
    fn int(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A length-prefixed field: `Some(None)` for a null one, `None` when the bytes end.
    fn bytes(&mut self) -> Option<Option<Vec<u8>>> {
        let n = self.int()?;
        if n < 0 {
            return Some(None);
        }
        self.take(n as usize).map(|b| Some(b.to_vec()))
    }
}

/// The buffer's order: by time, then by key bytes; and each key's time.
#[derive(Default)]
struct Index {
    order: BTreeSet<(i64, Vec<u8>)>,
    times: HashMap<Vec<u8>, i64>,
    bytes: u64,
}

fn suppress_node<K, V>(
    buffer: Buffer<K, V>,
    limit: i64,
    time_of: TimeOf<K>,
    drop_tombstones: bool,
    send_old: Arc<AtomicBool>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let buffer = Arc::new(buffer);
    crate::processor::stateful(move || {
        let (b, time_of, send_old) = (
            Arc::clone(&buffer),
            Arc::clone(&time_of),
            Arc::clone(&send_old),
        );
        let mut stream_time = -1i64;
        // built from the store (restored from its changelog) at the first record
        let mut index: Option<Index> = None;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let index = match &mut index {
                Some(i) => i,
                None => index.insert(load(&b, ctx)?),
            };
            stream_time = stream_time.max(r.timestamp);
            let key = typed::<K>(&r.key)?;
            let Some(kb) = to_bytes(&b.key_serde, "key", &b.store_name, key)? else {
                return Ok(());
            };
            let change = typed::<Change>(&r.value)?;
            let new = value_bytes(&b, &change.new)?;
            let earlier = match index.times.get(&kb) {
                Some(_) => ctx.store(b.store)?.get(&kb).and_then(Entry::decode),
                None => None,
            };
            let entry = match earlier {
                // a key buffered again keeps its place and its prior value
                Some(e) => {
                    index.bytes = index.bytes.saturating_sub(entry_size(&kb, &e));
                    Entry {
                        time: e.time,
                        timestamp: r.timestamp,
                        headers: r.headers.as_ref().clone(),
                        prior: e.prior,
                        new,
                    }
                }
                None => Entry {
                    time: time_of(key, r.timestamp),
                    timestamp: r.timestamp,
                    headers: r.headers.as_ref().clone(),
                    prior: match &change.old {
                        Some(old) => value_bytes(&b, old)?,
                        None => None,
                    },
                    new,
                },
            };
            index.bytes += entry_size(&kb, &entry);
            index.order.insert((entry.time, kb.clone()));
            index.times.insert(kb.clone(), entry.time);
            ctx.put(b.store, &kb, Some(&entry.encode()), r.timestamp)?;
            let expiry = stream_time.saturating_sub(limit);
            while let Some((time, _)) = index.order.first() {
                if *time > expiry {
                    break;
                }
                emit(&b, index, ctx, drop_tombstones, &send_old)?;
            }
            let full = |i: &Index| {
                i.order.len() as u64 > b.config.max_records || i.bytes > b.config.max_bytes
            };
            if full(index) {
                if b.config.shut_down {
                    return Err(StreamsError::Topology(format!(
                        "{} buffer exceeded its max capacity. Currently [{}/{}] records and [{}/{}] bytes.",
                        b.node,
                        index.order.len(),
                        b.config.max_records,
                        index.bytes,
                        b.config.max_bytes
                    )));
                }
                while full(index) && !index.order.is_empty() {
                    emit(&b, index, ctx, drop_tombstones, &send_old)?;
                }
            }
            Ok(())
        }
    })
}

fn entry_size(key: &[u8], e: &Entry) -> u64 {
    (key.len() + e.new.as_ref().map_or(0, Vec::len) + e.prior.as_ref().map_or(0, Vec::len)) as u64
}

/// The bytes of a table value (`Option<V>` between nodes).
fn value_bytes<K, V: 'static>(
    b: &Buffer<K, V>,
    value: &Dyn,
) -> Result<Option<Vec<u8>>, StreamsError> {
    match typed::<Option<V>>(value)? {
        Some(v) => to_bytes(&b.value_serde, "value", &b.store_name, v),
        None => Ok(None),
    }
}

/// The buffer's entries, from its store.
fn load<K, V>(b: &Buffer<K, V>, ctx: &dyn Context) -> Result<Index, StreamsError> {
    let mut index = Index::default();
    for (key, value) in ctx.store(b.store)?.range(None, None) {
        let Some(entry) = Entry::decode(&value) else {
            return Err(StreamsError::Topology(format!(
                "the suppression buffer {} holds an entry it cannot read",
                b.store_name
            )));
        };
        index.bytes += entry_size(&key, &entry);
        index.order.insert((entry.time, key.clone()));
        index.times.insert(key, entry.time);
    }
    Ok(index)
}

/// Takes the oldest entry out of the buffer and forwards it (a deletion only when tombstones
/// are kept).
fn emit<K, V>(
    b: &Buffer<K, V>,
    index: &mut Index,
    ctx: &mut dyn Context,
    drop_tombstones: bool,
    send_old: &AtomicBool,
) -> Result<(), StreamsError>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let Some((_, kb)) = index.order.pop_first() else {
        return Ok(());
    };
    index.times.remove(&kb);
    let Some(entry) = ctx.store(b.store)?.get(&kb).and_then(Entry::decode) else {
        return Ok(());
    };
    index.bytes = index.bytes.saturating_sub(entry_size(&kb, &entry));
    ctx.put(b.store, &kb, None, entry.timestamp)?;
    if entry.new.is_none() && drop_tombstones {
        return Ok(());
    }
    let decode = |bytes: Option<Vec<u8>>| -> Result<Option<V>, StreamsError> {
        bytes
            .map(|v| from_bytes(&b.value_serde, "value", &b.store_name, Some(&v)))
            .transpose()
    };
    let key = from_bytes(&b.key_serde, "key", &b.store_name, Some(&kb))?;
    let old: Option<Dyn> = if send_old.load(Ordering::Relaxed) {
        Some(Arc::new(decode(entry.prior)?))
    } else {
        None
    };
    ctx.forward(DynRecord {
        key: Arc::new(key),
        value: Arc::new(Change {
            new: Arc::new(decode(entry.new)?),
            old,
        }),
        timestamp: entry.timestamp,
        headers: Arc::new(entry.headers),
    })
}
