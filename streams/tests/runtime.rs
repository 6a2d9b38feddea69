//! The runtime on a broker: `KafkaStreams` runs the word count against an in-process broker,
//! with threads, repartition and changelog topics, commits, restore after a restart, two
//! instances sharing the work, and its errors.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tributary_streams::process::{
    Processor, ProcessorContext, PunctuationType, Record, Schedule, StoreBuilder,
};
use tributary_streams::{
    Consumed, Grouped, HostInfo, KafkaStreams, Materialized, Produced, Serdes, State,
    StoreQueryParameters, StreamsBuilder, StreamsConfig, StreamsError,
};
use tributary_testkit::{unique_name, TestBroker};

async fn produce(broker: &TestBroker, topic: &str, lines: &[&str]) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for (i, line) in lines.iter().enumerate() {
        let key = format!("line-{i}");
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(*line),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

fn word_count(input: &str, output: &str) -> tributary_streams::Topology {
    let b = StreamsBuilder::new();
    b.stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .flat_map_values(|line: &String| {
            line.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .group_by(
            |_, word: &String| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::named("counts"))
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
        );
    b.build().unwrap()
}

fn config(broker: &TestBroker, app: &str, threads: usize) -> StreamsConfig {
    StreamsConfig::new()
        .with("application.id", app)
        .with("bootstrap.servers", broker.bootstrap())
        .with("num.stream.threads", threads)
        .with("commit.interval.ms", 100)
        .with("session.timeout.ms", 10_000)
        .with("heartbeat.interval.ms", 500)
        .with("repartition.purge.interval.ms", 0)
}

/// The latest count of each word in `topic`, once they equal `expected` (or what they are at
/// the deadline).
fn read_counts(
    broker: &TestBroker,
    topic: &str,
    expected: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut latest = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && &latest != expected {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let word = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            latest.insert(word, count);
        }
    }
    latest
}

fn counts(text: &[&str]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for line in text {
        for w in line
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            *m.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    m
}

fn start(
    topology: tributary_streams::Topology,
    config: StreamsConfig,
) -> (KafkaStreams, Arc<Mutex<Vec<State>>>) {
    let streams = KafkaStreams::new(topology, config).unwrap();
    let seen = Arc::new(Mutex::new(vec![State::Created]));
    let s = Arc::clone(&seen);
    streams.set_state_listener(move |new, _old| s.lock().unwrap().push(new));
    streams.start().unwrap();
    assert!(
        streams.wait_for_state(State::Running, Duration::from_secs(60)),
        "not running: {:?} {:?}",
        streams.state(),
        streams.error()
    );
    (streams, seen)
}

const FIRST: [&str; 4] = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "The Dog barks",
    "quick quick",
];
const SECOND: [&str; 2] = ["the end", "a brown dog"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn word_count_runs_commits_and_resumes_with_its_state_after_a_restart() {
    let broker = TestBroker::start().await;
    let (input, output, app) = (
        unique_name("wc-in"),
        unique_name("wc-out"),
        unique_name("wc"),
    );
    broker.create_topic(&input, 3).await;
    broker.create_topic(&output, 2).await;
    produce(&broker, &input, &FIRST).await;

    let b = &broker;
    let (streams, seen) =
        tokio::task::block_in_place(|| start(word_count(&input, &output), config(b, &app, 2)));
    let expected = counts(&FIRST);
    let got = tokio::task::block_in_place(|| read_counts(b, &output, &expected));
    assert_eq!(got, expected);
    tokio::task::block_in_place(|| streams.close());
    assert_eq!(streams.state(), State::NotRunning);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            State::Created,
            State::Rebalancing,
            State::Running,
            State::PendingShutdown,
            State::NotRunning
        ]
    );

    // the internal topics exist with the input's partitions, the offsets are committed
    let probe: BaseConsumer = broker.client_config().create().unwrap();
    let md = probe.fetch_metadata(None, Duration::from_secs(5)).unwrap();
    let partitions = |name: &str| {
        md.topics()
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.partitions().len())
    };
    assert_eq!(partitions(&format!("{app}-counts-changelog")), Some(3));
    assert_eq!(partitions(&format!("{app}-counts-repartition")), Some(3));
    let mut group = broker.client_config();
    group.set("group.id", &app);
    let committer: BaseConsumer = group.create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(&input, p);
    }
    let committed = committer
        .committed_offsets(tpl, Duration::from_secs(5))
        .unwrap();
    let mut sum = 0;
    for e in committed.elements() {
        if let Offset::Offset(o) = e.offset() {
            sum += o;
        }
    }
    assert_eq!(sum, FIRST.len() as i64, "every input record committed");
    // processed repartition records were deleted after their commit
    let purged: i64 = (0..3)
        .map(|p| {
            probe
                .fetch_watermarks(
                    &format!("{app}-counts-repartition"),
                    p,
                    Duration::from_secs(5),
                )
                .unwrap()
                .0
        })
        .sum();
    assert!(purged > 0, "repartition records purged");

    // a new instance restores the counts from the changelog and goes on from the commits
    produce(&broker, &input, &SECOND).await;
    let (again, _) =
        tokio::task::block_in_place(|| start(word_count(&input, &output), config(b, &app, 1)));
    let all: Vec<&str> = FIRST.iter().chain(SECOND.iter()).copied().collect();
    let expected = counts(&all);
    let got = tokio::task::block_in_place(|| read_counts(b, &output, &expected));
    assert_eq!(got, expected);
    tokio::task::block_in_place(|| again.close());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_source_topic_puts_the_instance_in_error() {
    let broker = TestBroker::start().await;
    let b = &broker;
    let streams = KafkaStreams::new(
        word_count(&unique_name("nope"), "out"),
        config(b, &unique_name("missing"), 1),
    )
    .unwrap();
    streams.start().unwrap();
    assert!(tokio::task::block_in_place(
        || streams.wait_for_state(State::Error, Duration::from_secs(30))
    ));
    let error = streams.error().unwrap();
    assert!(error.contains("source topics were missing"), "{error}");
    tokio::task::block_in_place(|| streams.close());
    assert_eq!(streams.state(), State::Error);
}

#[test]
fn bad_settings_are_refused_before_start() {
    let topology = word_count("in", "out");
    let err = KafkaStreams::new(
        topology.clone(),
        StreamsConfig::new().with("application.id", "a"),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("bootstrap.servers"), "{err}");
    let err = KafkaStreams::new(
        topology,
        StreamsConfig::new()
            .with("application.id", "a")
            .with("bootstrap.servers", "localhost:9")
            .with("processing.guarantee", "exactly_once"),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("processing.guarantee"), "{err}");
}

fn standby(streams: &KafkaStreams) -> Vec<tributary_streams::TaskId> {
    let mut t: Vec<_> = streams
        .metadata_for_local_threads()
        .into_iter()
        .flat_map(|m| m.standby_tasks)
        .collect();
    t.sort();
    t
}

fn active(streams: &KafkaStreams) -> Vec<tributary_streams::TaskId> {
    let mut t: Vec<_> = streams
        .metadata_for_local_threads()
        .into_iter()
        .flat_map(|m| m.active_tasks)
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_split_the_tasks_and_one_takes_over_when_the_other_closes() {
    two_instances(false).await;
}

/// As above, the counts in files (each instance its own state directory) and two threads per
/// instance: tasks also move between the threads of an instance, which take over each
/// other's files, and standbys become active with their files.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_with_persistent_stores_hand_tasks_and_their_files_over() {
    two_instances(true).await;
}

async fn two_instances(persistent: bool) {
    let broker = TestBroker::start().await;
    let (input, output, app) = (
        unique_name("wc-in"),
        unique_name("wc-out"),
        unique_name("wc2"),
    );
    broker.create_topic(&input, 4).await;
    broker.create_topic(&output, 1).await;
    let b = &broker;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let with_standby = |instance: usize| {
        let c = config(b, &app, if persistent { 2 } else { 1 }).with("num.standby.replicas", 1);
        if persistent {
            c.with("default.dsl.store", "rocksDB")
                .with("state.dir", dirs[instance].path().display().to_string())
        } else {
            c
        }
    };
    let (one, _) =
        tokio::task::block_in_place(|| start(word_count(&input, &output), with_standby(0)));
    assert!(
        standby(&one).is_empty(),
        "no other instance to keep a standby on"
    );
    assert_eq!(
        active(&one).len(),
        8,
        "two sub-topologies of four partitions"
    );
    let (two, _) =
        tokio::task::block_in_place(|| start(word_count(&input, &output), with_standby(1)));
    // the first instance rebalances too; wait until both run
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline
            && !(one.state() == State::Running
                && two.state() == State::Running
                && active(&one).len() + active(&two).len() == 8
                && !active(&two).is_empty()
                && standby(&one).len() + standby(&two).len() == 4)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let (a, c) = (active(&one), active(&two));
    assert_eq!(a.len(), 4, "{a:?} / {c:?}");
    assert_eq!(c.len(), 4, "{a:?} / {c:?}");
    assert!(a.iter().all(|t| !c.contains(t)));
    // each counting task (sub-topology 1) has a standby on the other instance
    let (sa, sc) = (standby(&one), standby(&two));
    assert!(
        sa.iter().all(|t| t.subtopology == 1 && c.contains(t)),
        "{sa:?} / {c:?}"
    );
    assert!(
        sc.iter().all(|t| t.subtopology == 1 && a.contains(t)),
        "{sc:?} / {a:?}"
    );

    produce(&broker, &input, &FIRST).await;
    let expected = counts(&FIRST);
    assert_eq!(
        tokio::task::block_in_place(|| read_counts(b, &output, &expected)),
        expected
    );
    // with stale stores, an instance that keeps standbys reads every count: its own tasks'
    // and the copies its standbys keep of the other's (once they caught up); without, only
    // its own; one partition's task alone with `with_partition`
    let reader = if sa.is_empty() { &two } else { &one };
    let local = |query: StoreQueryParameters| -> BTreeMap<String, i64> {
        reader
            .key_value_store_with(&query, Serdes::string(), Serdes::long())
            .unwrap()
            .all()
            .unwrap()
            .into_iter()
            .collect()
    };
    let stale = || local(StoreQueryParameters::from_name("counts").enable_stale_stores());
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while stale() != expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    assert_eq!(stale(), expected);
    let own = local(StoreQueryParameters::from_name("counts"));
    assert!(own.len() < expected.len(), "{own:?}");
    let mut by_partition = BTreeMap::new();
    for p in 0..4 {
        let part = local(
            StoreQueryParameters::from_name("counts")
                .enable_stale_stores()
                .with_partition(p),
        );
        assert!(part.len() < expected.len(), "partition {p}: {part:?}");
        by_partition.extend(part);
    }
    assert_eq!(by_partition, expected);
    // the second leaves; the first takes its tasks, restores their state, and goes on exactly
    tokio::task::block_in_place(|| two.close());
    if persistent {
        // its standbys closed with a checkpoint of what they read
        for task in &sc {
            let file = dirs[1]
                .path()
                .join(&app)
                .join(task.to_string())
                .join(".checkpoint");
            assert!(file.exists(), "{}", file.display());
        }
    }
    produce(&broker, &input, &SECOND).await;
    let all: Vec<&str> = FIRST.iter().chain(SECOND.iter()).copied().collect();
    let expected = counts(&all);
    assert_eq!(
        tokio::task::block_in_place(|| read_counts(b, &output, &expected)),
        expected
    );
    assert_eq!(active(&one).len(), 8);
    tokio::task::block_in_place(|| one.close());
    if persistent {
        // the counting tasks' files, with the checkpoints of the clean close
        let tasks = std::fs::read_dir(dirs[0].path().join(&app))
            .unwrap()
            .count();
        assert!(tasks >= 4, "{tasks} task directories");
        assert!(dirs[0]
            .path()
            .join(&app)
            .join("1_0")
            .join(".checkpoint")
            .exists());
    }
}

/// Doubles integers from `input` to `output`; what comes out, and the instance's end state.
async fn doubled(broker: &TestBroker, handler: Option<&str>) -> (Vec<i32>, State, Option<String>) {
    let (input, output) = (unique_name("ints"), unique_name("doubled"));
    broker.create_topic(&input, 1).await;
    broker.create_topic(&output, 1).await;
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for payload in [
        1i32.to_be_bytes().to_vec(),
        b"bad".to_vec(),
        3i32.to_be_bytes().to_vec(),
    ] {
        producer
            .send(
                FutureRecord::<(), _>::to(&input).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let b = StreamsBuilder::new();
    b.stream(
        &input,
        Consumed::with(Serdes::nullable(Serdes::string()), Serdes::integer()),
    )
    .map_values(|v: &i32| v * 2)
    .to(
        &output,
        Produced::with(Serdes::nullable(Serdes::string()), Serdes::integer()),
    );
    let mut config = config(broker, &unique_name("ints"), 1);
    if let Some(h) = handler {
        config.set("default.deserialization.exception.handler", h);
    }
    let streams = KafkaStreams::new(b.build().unwrap(), config).unwrap();
    streams.start().unwrap();
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[output.as_str()]).unwrap();
    let mut out = Vec::new();
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && out.len() < 2 && streams.state() != State::Error {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                out.push(i32::from_be_bytes(m.payload().unwrap().try_into().unwrap()));
            }
        }
        streams.close();
    });
    (out, streams.state(), streams.error())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_that_cannot_be_read_stop_the_app_or_are_skipped_as_configured() {
    let broker = TestBroker::start().await;
    let (out, state, _) = doubled(
        &broker,
        Some("org.apache.kafka.streams.errors.LogAndContinueExceptionHandler"),
    )
    .await;
    assert_eq!(out, vec![2, 6]);
    assert_eq!(state, State::NotRunning);
    let (out, state, error) = doubled(&broker, None).await;
    assert!(out.len() <= 1, "{out:?}");
    assert_eq!(state, State::Error);
    let error = error.unwrap();
    assert!(
        error.contains("set to fail upon a deserialization error"),
        "{error}"
    );
    assert!(
        error.contains("Size of data received by IntegerDeserializer is not 4"),
        "{error}"
    );
}

/// One record as a reader sees it: key, value, timestamp, headers.
type Fields = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
    Vec<(String, Option<Vec<u8>>)>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_keep_null_and_empty_fields_timestamps_and_headers_on_the_way_through() {
    let broker = TestBroker::start().await;
    let (input, output) = (unique_name("fields-in"), unique_name("fields-out"));
    broker.create_topic(&input, 1).await;
    broker.create_topic(&output, 1).await;
    let sent: Vec<Fields> = vec![
        (None, Some(b"v".to_vec()), 1_000, vec![]),
        (Some(vec![]), Some(vec![]), 2_000, vec![]),
        (Some(b"k".to_vec()), None, 3_000, vec![]),
        (
            Some(b"k".to_vec()),
            Some(b"with headers".to_vec()),
            4_000,
            vec![
                ("h".to_string(), Some(b"1".to_vec())),
                ("nothing".to_string(), None),
                ("h".to_string(), Some(vec![])),
            ],
        ),
    ];
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for (key, value, timestamp, headers) in &sent {
        let mut owned = OwnedHeaders::new();
        for (name, v) in headers {
            owned = owned.insert(Header {
                key: name,
                value: v.as_deref(),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&input)
            .timestamp(*timestamp)
            .headers(owned);
        if let Some(k) = key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = value {
            record = record.payload(v.as_slice());
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
    }
    let b = StreamsBuilder::new();
    let bytes = || Serdes::nullable(Serdes::byte_array());
    b.stream(&input, Consumed::with(bytes(), bytes()))
        .to(&output, Produced::with(bytes(), bytes()));
    let streams = KafkaStreams::new(
        b.build().unwrap(),
        config(&broker, &unique_name("fields"), 1).with("auto.offset.reset", "earliest"),
    )
    .unwrap();
    streams.start().unwrap();
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[output.as_str()]).unwrap();
    let mut got: Vec<Fields> = Vec::new();
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && got.len() < sent.len() {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                got.push((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().map(<[u8]>::to_vec),
                    m.timestamp().to_millis().unwrap(),
                    headers,
                ));
            }
        }
        streams.close();
    });
    assert_eq!(got, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_commits_outputs_state_and_offsets_in_transactions() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("eos-in"),
        unique_name("eos-out"),
        unique_name("eos"),
    );
    broker.create_topic(&input, 3).await;
    broker.create_topic(&output, 1).await;
    produce(&broker, &input, &FIRST).await;
    let b = &broker;
    let eos = || {
        config(b, &app, 2)
            .with("processing.guarantee", "exactly_once_v2")
            .with("statestore.cache.max.bytes", 0)
    };
    let (streams, _) = tokio::task::block_in_place(|| start(word_count(&input, &output), eos()));
    // every update of every word, in order, read committed: 1, 2, ... n and nothing twice
    let expected = counts(&FIRST);
    let total: i64 = expected.values().sum();
    let mut consumer_config = broker.consumer_config();
    consumer_config.set("isolation.level", "read_committed");
    let consumer: BaseConsumer = consumer_config.create().unwrap();
    consumer.subscribe(&[output.as_str()]).unwrap();
    let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline
            && seen.values().map(|v| v.len() as i64).sum::<i64>() < total
        {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let word = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let count = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
                seen.entry(word).or_default().push(count);
            }
        }
    });
    for (word, n) in &expected {
        assert_eq!(seen[word], (1..=*n).collect::<Vec<_>>(), "{word}");
    }
    tokio::task::block_in_place(|| streams.close());
    // a restart goes on from the transaction's offsets and state
    produce(&broker, &input, &SECOND).await;
    let (again, _) = tokio::task::block_in_place(|| start(word_count(&input, &output), eos()));
    let all: Vec<&str> = FIRST.iter().chain(SECOND.iter()).copied().collect();
    let expected = counts(&all);
    assert_eq!(
        tokio::task::block_in_place(|| read_counts(b, &output, &expected)),
        expected
    );
    tokio::task::block_in_place(|| again.close());
}

/// Counts records per key in its store; every 200 ms of wall-clock time forwards
/// `tick-<partition>` = the sum of its counts. A record read from elsewhere than its task's
/// partition of `input` fails it.
struct Tally {
    input: String,
}

impl Processor<String, String, String, String> for Tally {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        ctx.schedule(Duration::from_millis(200), PunctuationType::WallClockTime)?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let m = ctx.record_metadata().unwrap();
        if m.topic() != self.input || m.partition() != ctx.task_id().partition {
            return Err(StreamsError::Config(format!("read from {m:?}")));
        }
        let mut tally = ctx.key_value_store::<String, i64>("tally")?;
        let n = tally.get(&record.key)?.unwrap_or(0);
        tally.put(&record.key, &(n + 1))
    }

    fn punctuate(
        &mut self,
        _: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let sum: i64 = ctx
            .key_value_store::<String, i64>("tally")?
            .all()?
            .iter()
            .map(|(_, n)| n)
            .sum();
        let key = format!("tick-{}", ctx.task_id().partition);
        ctx.forward(Record::new(key, sum.to_string(), timestamp))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processors_punctuate_on_the_wall_clock_and_keep_their_stores_across_a_restart() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("tally-in"),
        unique_name("tally-out"),
        unique_name("tally"),
    );
    broker.create_topic(&input, 2).await;
    broker.create_topic(&output, 1).await;
    produce(&broker, &input, &FIRST).await;
    let topology = || {
        let b = StreamsBuilder::new();
        b.add_state_store(StoreBuilder::key_value(
            "tally",
            Serdes::string(),
            Serdes::long(),
        ));
        let name = input.clone();
        b.stream(&input, Consumed::with(Serdes::string(), Serdes::string()))
            .process(
                move || Tally {
                    input: name.clone(),
                },
                &["tally"],
            )
            .to(&output, Produced::with(Serdes::string(), Serdes::string()));
        b.build().unwrap()
    };
    let b = &broker;
    let eos = || config(b, &app, 2).with("processing.guarantee", "exactly_once_v2");
    // the latest sum of each task, read committed, once they add up to `total` and every task
    // ticked at least `ticks` times
    let tallies = |total: i64, ticks: usize| {
        let mut consumer_config = b.consumer_config();
        consumer_config.set("isolation.level", "read_committed");
        let consumer: BaseConsumer = consumer_config.create().unwrap();
        consumer.subscribe(&[output.as_str()]).unwrap();
        let mut latest: BTreeMap<String, (i64, usize)> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let done = |l: &BTreeMap<String, (i64, usize)>| {
            l.len() == 2
                && l.values().map(|(s, _)| s).sum::<i64>() == total
                && l.values().all(|(_, n)| *n >= ticks)
        };
        while Instant::now() < deadline && !done(&latest) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let sum: i64 = std::str::from_utf8(m.payload().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                let entry = latest.entry(key).or_default();
                *entry = (sum, entry.1 + 1);
            }
        }
        latest
    };
    let (streams, _) = tokio::task::block_in_place(|| start(topology(), eos()));
    // ticks come with no input too: several per task after the records were counted
    let got = tokio::task::block_in_place(|| tallies(FIRST.len() as i64, 3));
    assert_eq!(
        got.values().map(|(s, _)| s).sum::<i64>(),
        FIRST.len() as i64,
        "{got:?}"
    );
    assert!(got.values().all(|(_, n)| *n >= 3), "{got:?}");
    assert_eq!(streams.state(), State::Running, "{:?}", streams.error());
    tokio::task::block_in_place(|| streams.close());
    // a new instance restores the tallies from their changelog and counts on
    produce(&broker, &input, &SECOND).await;
    let (again, _) = tokio::task::block_in_place(|| start(topology(), eos()));
    let total = (FIRST.len() + SECOND.len()) as i64;
    let got = tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // (the first instance's last ticks come first: read until the new sums show)
            let got = tallies(total, 1);
            if got.values().map(|(s, _)| s).sum::<i64>() == total || Instant::now() > deadline {
                return got;
            }
        }
    });
    assert_eq!(got.values().map(|(s, _)| s).sum::<i64>(), total, "{got:?}");
    tokio::task::block_in_place(|| again.close());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interactive_queries_read_local_stores_and_find_the_instance_of_each_key() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("iq-in"),
        unique_name("iq-out"),
        unique_name("iq"),
    );
    broker.create_topic(&input, 2).await;
    broker.create_topic(&output, 1).await;
    let b = &broker;
    let at = |port: u16| {
        config(b, &app, 1)
            .with("num.standby.replicas", 1)
            .with("application.server", format!("localhost:{port}"))
    };
    let (s, l) = (Serdes::string(), Serdes::long());
    // not started: no store to read
    let idle = KafkaStreams::new(word_count(&input, &output), at(1111)).unwrap();
    let err = idle
        .key_value_store("counts", s.clone(), l.clone())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "KafkaStreams is not running. State is Created."
    );
    drop(idle);
    let bad = KafkaStreams::new(
        word_count(&input, &output),
        at(1).with("application.server", "no-port"),
    );
    assert!(bad
        .err()
        .unwrap()
        .to_string()
        .contains("Expected format host:port"));

    let (one, _) = tokio::task::block_in_place(|| start(word_count(&input, &output), at(1111)));
    let (two, _) = tokio::task::block_in_place(|| start(word_count(&input, &output), at(2222)));
    tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline
            && !(one.state() == State::Running
                && two.state() == State::Running
                && !active(&one).is_empty()
                && !active(&two).is_empty()
                && standby(&one).len() + standby(&two).len() == 2)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    produce(&broker, &input, &FIRST).await;
    let expected = counts(&FIRST);
    assert_eq!(
        tokio::task::block_in_place(|| read_counts(b, &output, &expected)),
        expected
    );
    let host = |port: u16| HostInfo {
        host: "localhost".to_string(),
        port,
    };
    let mut union = BTreeMap::new();
    for (word, n) in &expected {
        // both instances know where the word is: the task of its repartition partition
        let meta = one
            .query_metadata_for_key("counts", word, &s)
            .unwrap()
            .unwrap();
        assert_eq!(
            Some(&meta),
            two.query_metadata_for_key("counts", word, &s)
                .unwrap()
                .as_ref()
        );
        let (holder, other, other_port) = if meta.active_host == host(1111) {
            (&one, &two, 2222)
        } else {
            assert_eq!(meta.active_host, host(2222));
            (&two, &one, 1111)
        };
        assert_eq!(meta.standby_hosts, [host(other_port)], "{word}");
        assert_eq!(
            holder
                .key_value_store("counts", s.clone(), l.clone())
                .unwrap()
                .get(word)
                .unwrap(),
            Some(*n),
            "{word} is where its metadata says"
        );
        assert_eq!(
            other
                .key_value_store("counts", s.clone(), l.clone())
                .unwrap()
                .get(word)
                .unwrap(),
            None,
            "{word} only where it is active"
        );
    }
    for instance in [&one, &two] {
        let store = instance
            .key_value_store("counts", s.clone(), l.clone())
            .unwrap();
        for (word, n) in store.all().unwrap() {
            assert!(union.insert(word, n).is_none(), "a word on both instances");
        }
    }
    assert_eq!(union, expected);
    // what each instance holds
    let meta = one.streams_metadata_for_store("counts").unwrap();
    assert_eq!(meta, two.streams_metadata_for_store("counts").unwrap());
    assert_eq!(
        meta.iter().map(|m| m.host_info.clone()).collect::<Vec<_>>(),
        [host(1111), host(2222)]
    );
    // the counting tasks read the repartition topic: its partitions are each on one instance
    let repartition = format!("{app}-counts-repartition");
    let mut counting = Vec::new();
    for m in &meta {
        let read: Vec<i32> = m
            .topic_partitions
            .iter()
            .filter(|(t, _)| *t == repartition)
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(
            m.state_store_names.contains("counts"),
            !read.is_empty(),
            "{m:?}"
        );
        counting.extend(read);
    }
    counting.sort_unstable();
    assert_eq!(counting, [0, 1]);
    assert_eq!(one.metadata_for_all_streams_clients().unwrap(), meta);
    // misuse
    let unknown = one
        .key_value_store("nope", s.clone(), l.clone())
        .err()
        .unwrap();
    assert_eq!(
        unknown.to_string(),
        "Cannot get state store nope because no such store is registered in the topology."
    );
    assert!(one.window_store("counts", s.clone(), l.clone()).is_err());
    assert!(one.streams_metadata_for_store("nope").is_err());
    tokio::task::block_in_place(|| two.close());
    tokio::task::block_in_place(|| one.close());
    let closed = one
        .key_value_store("counts", s.clone(), l.clone())
        .err()
        .unwrap();
    assert!(
        matches!(closed, StreamsError::StoreUnavailable(_)),
        "{closed}"
    );
}
