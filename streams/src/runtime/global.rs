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
fn globals(topology: &Topology) -> HashMap<String, Global> {
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
                out.insert(
                    t.clone(),
                    Global {
                        decoder: Arc::clone(decoder),
                        store,
                    },
                );
            }
        }
    }
    out
}

/// The topics of `topology`'s global tables.
pub(crate) fn global_topics(topology: &Topology) -> Vec<String> {
    let mut topics: Vec<String> = globals(topology).into_keys().collect();
    topics.sort();
    topics
}

/// Fills `stores` from the global topics to their ends, then follows them on a thread of its
/// own until `shutdown`; `None` when the topology has no global table.
pub(crate) fn start(
    topology: &Topology,
    config: &StreamsConfig,
    stores: Arc<GlobalStores>,
    shutdown: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, StreamsError> {
    let globals = globals(topology);
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
    let consumer: BaseConsumer = client.create().map_err(kafka)?;
    let timeout = Duration::from_secs(30);
    let mut assignment = TopicPartitionList::new();
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
                let (_, high) = consumer
                    .fetch_watermarks(topic, p.id(), timeout)
                    .map_err(kafka)?;
                ends.insert((topic.clone(), p.id()), high);
            }
        }
    }
    consumer.assign(&assignment).map_err(kafka)?;
    let on_error = config.deserialization_handler()?;
    let keeper = Keeper {
        globals,
        stores,
        on_error,
    };
    // the bootstrap: every partition to the end it had when the instance started
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut positions: HashMap<(String, i32), i64> = HashMap::new();
    let behind = |positions: &HashMap<(String, i32), i64>| {
        ends.iter()
            .any(|(tp, &end)| end > 0 && positions.get(tp).is_none_or(|&p| p + 1 < end))
    };
    while behind(&positions) {
        if Instant::now() > deadline || shutdown.load(Ordering::SeqCst) {
            return Err(StreamsError::Kafka(
                "the global tables could not be read to their end".into(),
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                positions.insert((m.topic().to_string(), m.partition()), m.offset());
                keeper.apply(&m)?;
            }
            Some(Err(e)) => tracing::warn!("the global consumer: {e}"),
            None => {
                // (transaction markers and compacted gaps leave offsets no record has)
                for (tp, end) in &ends {
                    if let Ok(Offset::Offset(p)) = consumer.position().and_then(|l| {
                        l.find_partition(&tp.0, tp.1)
                            .map(|e| e.offset())
                            .ok_or(rdkafka::error::KafkaError::NoMessageReceived)
                    }) {
                        if p >= *end {
                            positions.insert(tp.clone(), end - 1);
                        }
                    }
                }
            }
        }
    }
    tracing::info!("global tables read to their end");
    let handle = std::thread::Builder::new()
        .name(format!("{application_id}-GlobalStreamThread"))
        .spawn(move || {
            while !shutdown.load(Ordering::SeqCst) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        if let Err(e) = keeper.apply(&m) {
                            tracing::error!("the global thread stops: {e}");
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
        if let Err(e) = (global.decoder)(m.topic(), m.key(), m.payload()) {
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
        // a record without a key has no row
        let Some(key) = m.key() else {
            return Ok(());
        };
        let timestamp = m.timestamp().to_millis().unwrap_or(0);
        let value = m.payload().map(|v| with_timestamp(timestamp, v));
        self.stores.put(global.store, key, value.as_deref());
        Ok(())
    }
}
