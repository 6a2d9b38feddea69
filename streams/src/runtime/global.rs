//! The global thread: keeps the global tables' stores (every partition of their topics) on
//! this instance. Before the stream threads start, it reads each topic to its end (the
//! bootstrap, as Kafka Streams' `GlobalStateManager` does), then follows the topics until the
//! instance closes. Records are checked with the table's serdes (a record that cannot be read
//! goes to the deserialization handler) and kept as they are: key bytes to the record's
//! timestamp and value bytes, a record without a value deleting its key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::config::{ClientRole, Guarantee, OnError, StreamsConfig};
use crate::processor::{Decoder, StreamsError};
use crate::store::global::GlobalStores;
use crate::store::with_timestamp;
use crate::topology::{Kind, Topology};

/// A global table as the thread keeps it: its topic, how records are read, its store.
struct Global {
    decoder: Decoder,
    store: usize,
}

/// The global tables of `topology`, by topic.
fn globals(topology: &Topology) -> Result<HashMap<String, Global>, StreamsError> {
    let children = topology.children();
    let mut out = HashMap::new();
    for (i, node) in topology.nodes.iter().enumerate() {
        let Kind::Source {
            topics, decoder, ..
        } = &node.kind
        else {
            continue;
        };
        if !node.global {
            continue;
        }
        let store = children[i]
            .iter()
            .find_map(|&c| match &topology.nodes[c].kind {
                Kind::Processor { stores } => stores.first().copied(),
                _ => None,
            });
        if let Some(store) = store {
            for t in topics {
                let global = Global {
                    decoder: Arc::clone(decoder),
                    store,
                };
                if out.insert(t.clone(), global).is_some() {
                    return Err(StreamsError::Topology(format!(
                        "Topic {t} has already been registered by another source."
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// The topics of `topology`'s global tables.
pub(crate) fn global_topics(topology: &Topology) -> Vec<String> {
    let mut topics: Vec<String> = globals(topology)
        .map(HashMap::into_keys)
        .into_iter()
        .flatten()
        .collect();
    topics.sort();
    topics
}

/// Fills `stores` from the global topics to their ends, then follows them on a thread of its
/// own until `stop`; `None` when the topology has no global table. The bootstrap gives up when
/// `close` is set or when no partition moves for five minutes; an error after it (a record the
/// handler does not skip) fails the instance through `status`.
pub(crate) fn start(
    topology: &Topology,
    config: &StreamsConfig,
    stores: Arc<GlobalStores>,
    (stop, close): (Arc<AtomicBool>, Arc<AtomicBool>),
    status: Arc<super::Status>,
) -> Result<Option<std::thread::JoinHandle<()>>, StreamsError> {
    let globals = globals(topology)?;
    if globals.is_empty() {
        return Ok(None);
    }
    let kafka = |e: rdkafka::error::KafkaError| StreamsError::Kafka(e.to_string());
    let mut client = ClientConfig::new();
    for (k, v) in config.client_props(ClientRole::RestoreConsumer) {
        client.set(k, v);
    }
    if config.processing_guarantee()? == Guarantee::ExactlyOnceV2 {
        client.set("isolation.level", "read_committed");
    }
    let application_id = config.application_id().unwrap_or("streams");
    client
        .set("group.id", format!("{application_id}-global"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("client.id", format!("{application_id}-global-consumer"));
    super::thread::fetch_without_backoff(&mut client);
    let consumer: BaseConsumer = client.create().map_err(kafka)?;
    let timeout = Duration::from_secs(30);
    let mut assignment = TopicPartitionList::new();
    // the offset each partition must reach (partitions with nothing to read are left out)
    let mut ends: HashMap<(String, i32), i64> = HashMap::new();
    for topic in globals.keys() {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(kafka)?;
        for t in metadata.topics() {
            if t.error().is_some() {
                return Err(StreamsError::MissingSourceTopic(vec![topic.clone()]));
            }
            for p in t.partitions() {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(kafka)?;
                let (low, high) = super::watermarks::watermarks(&consumer, topic, p.id(), timeout)
                    .map_err(kafka)?;
                if low < high {
                    ends.insert((topic.clone(), p.id()), high);
                }
            }
        }
    }
    consumer.assign(&assignment).map_err(kafka)?;
    let keeper = Keeper {
        globals,
        stores,
        on_error: config.deserialization_handler()?,
    };
    // the bootstrap: every partition to the end it had when the instance started
    let stall = Duration::from_secs(300);
    let mut progress = Instant::now();
    let mut checked = Instant::now();
    while !ends.is_empty() {
        if close.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
            return Err(StreamsError::Kafka(
                "the instance closed while it read its global tables".into(),
            ));
        }
        if progress.elapsed() > stall {
            return Err(StreamsError::Kafka(format!(
                "the global tables could not be read to their end: no progress for {stall:?}"
            )));
        }
        let polled = consumer.poll(Duration::from_millis(100));
        let idle = polled.is_none();
        match polled {
            Some(Ok(m)) => {
                progress = Instant::now();
                keeper.apply(&m)?;
                let tp = (m.topic().to_string(), m.partition());
                if ends.get(&tp).is_some_and(|&end| m.offset() + 1 >= end) {
                    ends.remove(&tp);
                }
            }
            Some(Err(e)) => tracing::warn!("the global consumer: {e}"),
            None => {}
        }
        // (transaction markers and compacted offsets have no record: the position tells)
        if idle || checked.elapsed() > Duration::from_millis(100) {
            checked = Instant::now();
            if let Ok(positions) = consumer.position() {
                ends.retain(|(topic, partition), end| {
                    !matches!(
                        positions.find_partition(topic, *partition).map(|e| e.offset()),
                        Some(Offset::Offset(p)) if p >= *end
                    )
                });
            }
        }
    }
    tracing::info!("global tables read to their end");
    let handle = std::thread::Builder::new()
        .name(format!("{application_id}-GlobalStreamThread"))
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        if let Err(e) = keeper.apply(&m) {
                            // (joins must not go on reading a table that stopped following)
                            status.fail(&e);
                            return;
                        }
                    }
                    Some(Err(e)) => tracing::warn!("the global consumer: {e}"),
                    None => {}
                }
            }
        })
        .map_err(|e| StreamsError::Kafka(format!("cannot start the global thread: {e}")))?;
    Ok(Some(handle))
}

/// Applies global records to the stores.
struct Keeper {
    globals: HashMap<String, Global>,
    stores: Arc<GlobalStores>,
    on_error: OnError,
}

impl Keeper {
    fn apply<M: Message>(&self, m: &M) -> Result<(), StreamsError> {
        let Some(global) = self.globals.get(m.topic()) else {
            return Ok(());
        };
        // a record without a key has no row (and is not read)
        let Some(key) = m.key() else {
            return Ok(());
        };
        let headers = crate::headers_of(m);
        if let Err(e) = (global.decoder)(m.topic(), Some(key), m.payload(), &headers) {
            return match self.on_error {
                OnError::Continue => {
                    tracing::warn!(
                        "skipping a record of global topic {} partition {} offset {}: {e}",
                        m.topic(),
                        m.partition(),
                        m.offset()
                    );
                    Ok(())
                }
                OnError::Fail => Err(e),
            };
        }
        let timestamp = m.timestamp().to_millis().unwrap_or(0);
        let value = m.payload().map(|v| with_timestamp(timestamp, v));
        self.stores.put(global.store, key, value.as_deref());
        Ok(())
    }
}
