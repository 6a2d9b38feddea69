//! `TestDriver`: runs a topology without a broker, as Kafka Streams' `TopologyTestDriver` does.
//!
//! Records piped into an input topic are serialized with the topic's serdes, read by the
//! topology's source as a broker's record would be, and processed at once, depth-first through
//! their whole sub-topology; what sinks write is kept per topic for the output topics to read.
//! A record written to a topic the topology also reads is processed next, within the same pipe.
//! Every topic has one partition, its records numbered from offset 0; output records keep the
//! input record's timestamp and headers. Stream time moves with the records piped; the wall
//! clock only when told to ([`TestDriver::advance_wall_clock_time`]), each move running the
//! wall-clock punctuations due, as Kafka's driver runs them.
//!
//! ```
//! use tributary_streams::{Consumed, Produced, Serdes, StreamsBuilder, TestDriver};
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
//!     .map_values(|v: &String| v.to_uppercase())
//!     .to("shout", Produced::with(Serdes::string(), Serdes::string()));
//! let driver = TestDriver::new(builder.build().unwrap());
//! let mut input = driver.input_topic("words", Serdes::string(), Serdes::string());
//! let mut output = driver.output_topic("shout", Serdes::string(), Serdes::string());
//! input.pipe_input("k".to_string(), "hello".to_string()).unwrap();
//! assert_eq!(output.read_key_value().unwrap(), ("k".to_string(), "HELLO".to_string()));
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::StreamsConfig;
use crate::processor::{
    Decoder, DynRecord, Header, OutputRecord, RecordMetadata, StreamsError, TaskId,
};
use crate::serde::SharedSerde;
use crate::store::query::{session_view, window_view, StoreAccess};
use crate::store::{
    KeyValueBytes, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, StoreKind,
};
use crate::task::Task;
use crate::topology::{Kind, Topology};

/// The application id when the config gives none.
const DEFAULT_APPLICATION_ID: &str = "test-driver";

/// A record as test topics give and take it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord<K, V> {
    /// Key.
    pub key: K,
    /// Value.
    pub value: V,
    /// Timestamp (ms).
    pub timestamp: i64,
    /// Headers.
    pub headers: Vec<Header>,
}

/// Records processed in one pipe at most: a topology writing to a topic it reads (directly or
/// round a loop) would otherwise never stop.
const PIPE_LIMIT: usize = 1_000_000;

struct Driver {
    task: Task,
    /// Store ids by name.
    stores: HashMap<String, usize>,
    /// Source node and decoder by topic.
    sources: HashMap<String, (usize, Decoder)>,
    /// Sources' timestamp extractors, by node.
    extractors: HashMap<usize, crate::processor::DynExtractor>,
    /// The largest timestamp of each input topic's records so far.
    partition_times: HashMap<String, i64>,
    /// Records written, by topic.
    outputs: HashMap<String, VecDeque<OutputRecord>>,
    /// The next offset of each input topic, with its name shared by the records' metadata.
    offsets: HashMap<String, (Arc<str>, i64)>,
    /// The mocked wall clock (ms since the epoch).
    wall_clock: i64,
    /// Where persistent stores are (declared after the task, so dropped after it).
    _state_dir: Option<tempfile::TempDir>,
}

impl Driver {
    /// Processes one record of `topic` and then every record it made for a topic the topology
    /// reads. What was written before an error stays written.
    fn pipe(&mut self, first: OutputRecord) -> Result<(), StreamsError> {
        self.run(VecDeque::from([first]))
    }

    /// Moves the wall clock on by `ms`, runs the punctuations due and commits (caches flush),
    /// then processes what they wrote to topics the topology reads.
    fn advance_wall_clock(&mut self, ms: i64) -> Result<(), StreamsError> {
        self.wall_clock = self.wall_clock.saturating_add(ms);
        let result = self
            .task
            .advance_wall_clock(self.wall_clock)
            .and_then(|()| self.task.flush());
        let mut queue = VecDeque::new();
        self.capture(&mut queue);
        result?;
        self.run(queue)
    }

    /// Keeps what the task wrote for the output topics, and queues what went to topics the
    /// topology reads.
    fn capture(&mut self, queue: &mut VecDeque<OutputRecord>) {
        for out in self.task.take_produced() {
            if self.sources.contains_key(&*out.topic) {
                queue.push_back(out.clone());
            }
            self.outputs
                .entry(out.topic.to_string())
                .or_default()
                .push_back(out);
        }
    }

    /// Processes the records of `queue` and every record they make for a topic the topology
    /// reads, one after the other.
    fn run(&mut self, mut queue: VecDeque<OutputRecord>) -> Result<(), StreamsError> {
        let mut processed = 0;
        while let Some(record) = queue.pop_front() {
            processed += 1;
            if processed > PIPE_LIMIT {
                return Err(StreamsError::Topology(format!(
                    "one piped record led to more than {PIPE_LIMIT} records: does the topology write to a topic it reads ({})?",
                    record.topic
                )));
            }
            let (source, decoder) = self
                .sources
                .get(&*record.topic)
                .cloned()
                .ok_or_else(|| StreamsError::UnknownTopic(record.topic.to_string()))?;
            let (key, value) = decoder(
                &record.topic,
                record.key.as_deref(),
                record.value.as_deref(),
                &record.headers,
            )?;
            let (name, next) = self
                .offsets
                .entry(record.topic.to_string())
                .or_insert_with(|| (Arc::clone(&record.topic), 0));
            let metadata = RecordMetadata::new(Arc::clone(name), 0, *next);
            *next += 1;
            // (a negative extracted timestamp skips the record, as on a broker; the partition
            // time is the largest timestamp of the topic's records so far)
            let time = self
                .partition_times
                .entry(record.topic.to_string())
                .or_insert(-1);
            let timestamp = match self.extractors.get(&source) {
                None => record.timestamp,
                Some(extract) => {
                    let t = extract(&key, &value, record.timestamp, *time).map_err(|e| {
                        StreamsError::Kafka(format!(
                            "Fatal user code error in TimestampExtractor callback for record: {e}"
                        ))
                    })?;
                    if t < 0 {
                        continue;
                    }
                    t
                }
            };
            *time = (*time).max(timestamp);
            let rec = DynRecord {
                key,
                value,
                timestamp,
                headers: Arc::new(record.headers),
            };
            // a commit after each record, as Kafka's driver does: caches flush
            let result = self
                .task
                .process(source, rec, metadata)
                .and_then(|()| self.task.punctuate_stream_time())
                .and_then(|()| self.task.flush());
            self.capture(&mut queue);
            result?;
        }
        Ok(())
    }
}

type Shared = Arc<Mutex<Driver>>;

fn lock(driver: &Shared) -> MutexGuard<'_, Driver> {
    driver
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a topology without a broker (see the module docs).
pub struct TestDriver {
    driver: Shared,
}

impl TestDriver {
    /// A driver running `topology` as the application `test-driver`, with Kafka's defaults.
    ///
    /// # Panics
    /// When a processor fails to initialize (see [`TestDriver::with_config`] for the error).
    pub fn new(topology: Topology) -> TestDriver {
        match Self::with_config(topology, &StreamsConfig::new()) {
            Ok(driver) => driver,
            Err(e) => panic!("the topology could not start: {e}"),
        }
    }

    /// A driver running `topology` with `config` (`application.id`, which names internal
    /// topics, and `cache.max.bytes.buffering`; the rest is for brokers and unused here), its
    /// wall clock starting at the system's time as Kafka's driver starts it. An error when a
    /// processor fails to initialize.
    pub fn with_config(
        topology: Topology,
        config: &StreamsConfig,
    ) -> Result<TestDriver, StreamsError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self::with_wall_clock(topology, config, now)
    }

    /// A driver as [`TestDriver::with_config`] makes it, its wall clock starting at
    /// `wall_clock_ms` (ms since the epoch).
    pub fn with_wall_clock(
        topology: Topology,
        config: &StreamsConfig,
        wall_clock_ms: i64,
    ) -> Result<TestDriver, StreamsError> {
        let application_id = config.application_id().unwrap_or(DEFAULT_APPLICATION_ID);
        let cache = config.cache_max_bytes()?;
        let mut sources = HashMap::new();
        for (node, topics) in topology.sources(application_id) {
            if let Kind::Source { decoder, .. } = &topology.nodes[node].kind {
                for t in topics {
                    sources.insert(t, (node, Arc::clone(decoder)));
                }
            }
        }
        let extractors = topology.extractors.clone();
        let all: Vec<usize> = (0..topology.nodes.len()).collect();
        let stores = topology
            .stores
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let id = TaskId {
            subtopology: 0,
            partition: 0,
        };
        // (persistent stores live in a directory of the driver's own, removed with it)
        let state_dir = if topology.stores.iter().any(|s| s.persistent) {
            Some(tempfile::tempdir().map_err(|e| {
                StreamsError::Config(format!("no state directory for persistent stores: {e}"))
            })?)
        } else {
            None
        };
        let mut task = Task::new(
            &topology,
            &all,
            (application_id, id),
            cache,
            state_dir.as_ref().map(tempfile::TempDir::path),
        )?;
        task.init(wall_clock_ms)?;
        let mut driver = Driver {
            task,
            stores,
            sources,
            extractors,
            partition_times: HashMap::new(),
            outputs: HashMap::new(),
            offsets: HashMap::new(),
            wall_clock: wall_clock_ms,
            _state_dir: state_dir,
        };
        // (what processors wrote while they initialized)
        let mut queue = VecDeque::new();
        driver.capture(&mut queue);
        driver.run(queue)?;
        Ok(TestDriver {
            driver: Arc::new(Mutex::new(driver)),
        })
    }

    /// Closes the processors (their `close` runs), as Kafka's `TopologyTestDriver.close`
    /// does; the driver is not to be used after. Dropping the driver and every topic and store
    /// taken from it closes them too.
    pub fn close(&self) {
        lock(&self.driver).task.close();
    }

    /// Moves the wall clock on by `advance`, running the wall-clock punctuations due (each
    /// once, however many of its times passed), as Kafka's `advanceWallClockTime` does.
    pub fn advance_wall_clock_time(
        &self,
        advance: std::time::Duration,
    ) -> Result<(), StreamsError> {
        let ms = i64::try_from(advance.as_millis()).unwrap_or(i64::MAX);
        lock(&self.driver).advance_wall_clock(ms)
    }

    /// The key-value store `name`, read with its key and value serdes; `UnknownStore` when the
    /// topology has no store of that name.
    pub fn key_value_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyKeyValueStore<K, V>, StreamsError> {
        let d = lock(&self.driver);
        let id = *d
            .stores
            .get(name)
            .ok_or_else(|| StreamsError::UnknownStore(format!("no store named {name}")))?;
        let timestamped = d.task.store(id).is_some_and(|s| s.def.timestamped);
        drop(d);
        let access = DriverStore {
            driver: Arc::clone(&self.driver),
            id,
            timestamped,
        };
        Ok(ReadOnlyKeyValueStore::new(
            Arc::new(access),
            name,
            key,
            value,
        ))
    }

    /// The window store `name` (of a windowed aggregation), read with the record key's serde
    /// and the value's.
    pub fn window_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyWindowStore<K, V>, StreamsError> {
        let kind = self.store_kind(name)?;
        window_view(Some(kind), name, self.key_value_store(name, key, value)?)
    }

    /// The session store `name` (of a session aggregation), read with the record key's serde
    /// and the value's.
    pub fn session_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlySessionStore<K, V>, StreamsError> {
        let kind = self.store_kind(name)?;
        session_view(Some(kind), name, self.key_value_store(name, key, value)?)
    }

    fn store_kind(&self, name: &str) -> Result<StoreKind, StreamsError> {
        let d = lock(&self.driver);
        d.stores
            .get(name)
            .and_then(|&id| d.task.store(id))
            .map(|s| s.def.kind)
            .ok_or_else(|| StreamsError::UnknownStore(format!("no store named {name}")))
    }

    /// An input topic whose records start at timestamp 0 (Kafka's start at the wall clock's
    /// now; a fixed start keeps tests repeatable) and do not advance by themselves.
    pub fn input_topic<K, V>(
        &self,
        topic: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> TestInputTopic<K, V> {
        self.input_topic_from(topic, key, value, 0, 0)
    }

    /// An input topic whose records without a timestamp start at `start_ms`, each next one
    /// `advance_ms` later (Kafka's auto-advance; a negative step is taken as none).
    pub fn input_topic_from<K, V>(
        &self,
        topic: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
        start_ms: i64,
        advance_ms: i64,
    ) -> TestInputTopic<K, V> {
        TestInputTopic {
            driver: Arc::clone(&self.driver),
            topic: topic.to_string(),
            key,
            value,
            time: start_ms,
            advance: advance_ms.max(0),
        }
    }

    /// An output topic, read with these serdes.
    pub fn output_topic<K, V>(
        &self,
        topic: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic {
            driver: Arc::clone(&self.driver),
            topic: topic.to_string(),
            key,
            value,
        }
    }

    /// Every topic written to so far.
    pub fn produced_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = lock(&self.driver).outputs.keys().cloned().collect();
        t.sort();
        t
    }
}

/// Pipes records into a topic of a [`TestDriver`].
pub struct TestInputTopic<K, V> {
    driver: Shared,
    topic: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    time: i64,
    advance: i64,
}

impl<K, V> TestInputTopic<K, V> {
    /// Pipes a record at the topic's current time (which then advances).
    pub fn pipe_input(&mut self, key: K, value: V) -> Result<(), StreamsError> {
        let at = self.time;
        self.time = self.time.saturating_add(self.advance);
        self.pipe_record(TestRecord {
            key,
            value,
            timestamp: at,
            headers: Vec::new(),
        })
    }

    /// Pipes a record with its own timestamp (the topic's time does not move).
    pub fn pipe_input_at(&mut self, key: K, value: V, timestamp: i64) -> Result<(), StreamsError> {
        self.pipe_record(TestRecord {
            key,
            value,
            timestamp,
            headers: Vec::new(),
        })
    }

    /// Pipes a record as given; a negative timestamp is refused, as Kafka refuses it.
    pub fn pipe_record(&mut self, record: TestRecord<K, V>) -> Result<(), StreamsError> {
        if record.timestamp < 0 {
            return Err(StreamsError::InvalidArgument(format!(
                "Invalid timestamp: {}. Timestamp should always be non-negative or null.",
                record.timestamp
            )));
        }
        let (key, value) = crate::serde::encode(
            (&self.key, &self.value),
            &self.topic,
            &record.key,
            &record.value,
        )?;
        lock(&self.driver).pipe(OutputRecord {
            topic: Arc::from(self.topic.as_str()),
            partition: None,
            key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    /// Moves the topic's time forward by `ms`; a negative step is refused, as Kafka refuses it.
    pub fn advance_time(&mut self, ms: i64) -> Result<(), StreamsError> {
        if ms < 0 {
            return Err(StreamsError::InvalidArgument(
                "advance must be positive".to_string(),
            ));
        }
        self.time = self.time.saturating_add(ms);
        Ok(())
    }
}

/// Reads what a [`TestDriver`]'s topology wrote to a topic, oldest first.
pub struct TestOutputTopic<K, V> {
    driver: Shared,
    topic: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
}

impl<K, V> TestOutputTopic<K, V> {
    /// The next record; Kafka's errors when there is none.
    pub fn read_record(&mut self) -> Result<TestRecord<K, V>, StreamsError> {
        let next = {
            let mut d = lock(&self.driver);
            match d.outputs.get_mut(&self.topic) {
                None => {
                    return Err(StreamsError::NoRecord(format!(
                        "Uninitialized topic: {}",
                        self.topic
                    )))
                }
                Some(q) => q.pop_front(),
            }
        };
        let r =
            next.ok_or_else(|| StreamsError::NoRecord(format!("Empty topic: {}", self.topic)))?;
        let (key, value) = crate::serde::decode(
            (&self.key, &self.value),
            &self.topic,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        )?;
        Ok(TestRecord {
            key,
            value,
            timestamp: r.timestamp,
            headers: r.headers,
        })
    }

    /// The next record's key and value.
    pub fn read_key_value(&mut self) -> Result<(K, V), StreamsError> {
        self.read_record().map(|r| (r.key, r.value))
    }

    /// The next record's value.
    pub fn read_value(&mut self) -> Result<V, StreamsError> {
        self.read_record().map(|r| r.value)
    }

    /// Every record left, whole.
    pub fn read_records_to_list(&mut self) -> Result<Vec<TestRecord<K, V>>, StreamsError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.read_record()?);
        }
        Ok(out)
    }

    /// Every record left, as keys and values.
    pub fn read_key_values_to_list(&mut self) -> Result<Vec<(K, V)>, StreamsError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.read_key_value()?);
        }
        Ok(out)
    }

    /// Every value left.
    pub fn read_values_to_list(&mut self) -> Result<Vec<V>, StreamsError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.read_value()?);
        }
        Ok(out)
    }

    /// Whether nothing is left to read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    /// How many records are left to read.
    pub fn queue_size(&self) -> usize {
        self.driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .outputs
            .get(&self.topic)
            .map_or(0, VecDeque::len)
    }
}

/// A driver's store, for reading.
struct DriverStore {
    driver: Shared,
    id: usize,
    timestamped: bool,
}

impl StoreAccess for DriverStore {
    fn visit(&self, visit: &mut dyn FnMut(&dyn KeyValueBytes)) -> Result<(), StreamsError> {
        let d = lock(&self.driver);
        let slot = d
            .task
            .store(self.id)
            .ok_or_else(|| StreamsError::UnknownStore(format!("store {} is gone", self.id)))?;
        visit(slot.store.as_ref());
        Ok(())
    }

    fn timestamped(&self) -> bool {
        self.timestamped
    }
}
