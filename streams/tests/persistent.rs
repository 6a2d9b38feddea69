//! Persistent stores on a broker: a count kept in a file under `state.dir`, restored into a
//! new instance, and the state directory locked against a second instance.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tributary_streams::{
    Consumed, Grouped, KafkaStreams, Materialized, Produced, Serdes, State, StoreType,
    StreamsBuilder, StreamsConfig, StreamsError,
};
use tributary_testkit::{unique_name, TestBroker};

async fn produce(broker: &TestBroker, topic: &str, keys: &[&str]) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for k in keys {
        producer
            .send(
                FutureRecord::to(topic).key(*k).payload("x"),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// The latest count per key in `topic`, once it is `want` (or a minute passed).
fn counts(broker: &TestBroker, topic: &str, want: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while &seen != want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let k = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            seen.insert(
                k,
                i64::from_be_bytes(m.payload().unwrap().try_into().unwrap()),
            );
        }
    }
    seen
}

fn topology(input: &str, output: &str) -> tributary_streams::Topology {
    let s = Serdes::string;
    let b = StreamsBuilder::new();
    b.stream(input, Consumed::with(s(), s()))
        .group_by_key(Grouped::with(s(), s()))
        .count_with(Materialized::named("tallies").with_store_type(StoreType::Persistent))
        .to_stream()
        .to(
            output,
            Produced::with(s(), Serdes::nullable(Serdes::long())),
        );
    b.build().unwrap()
}

/// Input and output topics and an application id (`app` its prefix), the input holding the
/// keys a, b, a.
async fn counting_app(broker: &TestBroker, app: &str) -> (String, String, String) {
    let (input, output, app) = (
        unique_name("keys"),
        unique_name("tallies"),
        unique_name(app),
    );
    broker.create_topic(&input, 2).await;
    broker.create_topic(&output, 1).await;
    produce(broker, &input, &["a", "b", "a"]).await;
    (input, output, app)
}

/// The app's settings: its state in `state`, committing every 100 ms.
fn app_config(broker: &TestBroker, app: &str, state: &std::path::Path) -> StreamsConfig {
    StreamsConfig::new()
        .with("application.id", app)
        .with("bootstrap.servers", broker.bootstrap())
        .with("commit.interval.ms", 100)
        .with("state.dir", state.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persistent_counts_live_in_the_state_directory_which_one_instance_locks() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = counting_app(&broker, "persistent").await;
    let state = tempfile::tempdir().unwrap();
    let config = || app_config(&broker, &app, state.path());
    let want = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    let b = &broker;
    let streams = KafkaStreams::new(topology(&input, &output), config()).unwrap();
    tokio::task::block_in_place(|| {
        streams.start().unwrap();
        assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
    });
    let first = want(&[("a", 2), ("b", 1)]);
    assert_eq!(
        tokio::task::block_in_place(|| counts(b, &output, &first)),
        first
    );
    // the store is a file in the task's directory
    let files: Vec<String> = ["0_0", "0_1"]
        .iter()
        .map(|task| {
            state
                .path()
                .join(&app)
                .join(task)
                .join("tallies")
                .join("store.redb")
        })
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(files.len(), 2, "one file per task: {files:?}");
    // a second instance cannot share the state directory
    let second = KafkaStreams::new(topology(&input, &output), config()).unwrap();
    let err = second.start().unwrap_err();
    assert!(
        matches!(&err, StreamsError::Config(m) if m.starts_with("Unable to initialize state")),
        "{err}"
    );
    assert_eq!(streams.state(), State::Running);
    tokio::task::block_in_place(|| streams.close());
    // a new instance (the lock released) restores the counts and goes on
    produce(&broker, &input, &["b", "c"]).await;
    let again = KafkaStreams::new(topology(&input, &output), config()).unwrap();
    tokio::task::block_in_place(|| {
        again.start().unwrap();
        assert!(
            again.wait_for_state(State::Running, Duration::from_secs(60)),
            "{:?}",
            again.error()
        );
    });
    let second_round = want(&[("a", 2), ("b", 2), ("c", 1)]);
    assert_eq!(
        tokio::task::block_in_place(|| counts(b, &output, &second_round)),
        second_round
    );
    let store = again
        .key_value_store("tallies", Serdes::string(), Serdes::long())
        .unwrap();
    assert_eq!(store.get(&"a".to_string()).unwrap(), Some(2));
    tokio::task::block_in_place(|| again.close());
}

/// The checkpoint in each task directory of `app`: `(changelog partition, offset)` lines.
fn checkpoints(state: &std::path::Path, app: &str) -> Vec<String> {
    ["0_0", "0_1"]
        .iter()
        .filter_map(|task| {
            std::fs::read_to_string(state.join(app).join(task).join(".checkpoint")).ok()
        })
        .collect()
}

/// Deletes every record of `app`'s `tallies` changelog (made a `delete` topic for that: the
/// records of a compacted topic cannot be deleted): a task that started again from its
/// changelog would find nothing in it.
async fn empty_the_changelog(broker: &TestBroker, app: &str) {
    let admin: AdminClient<DefaultClientContext> = broker.client_config().create().unwrap();
    let changelog = format!("{app}-tallies-changelog");
    let policy =
        AlterConfig::new(ResourceSpecifier::Topic(&changelog)).set("cleanup.policy", "delete");
    for result in admin
        .alter_configs(&[policy], &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap();
    }
    let consumer: BaseConsumer = broker.consumer_config().create().unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..2 {
        let (_, high) = consumer
            .fetch_watermarks(&changelog, p, Duration::from_secs(10))
            .unwrap();
        list.add_partition_offset(&changelog, p, Offset::Offset(high))
            .unwrap();
    }
    admin
        .delete_records(&list, &AdminOptions::new())
        .await
        .unwrap();
    for p in 0..2 {
        let (low, high) = consumer
            .fetch_watermarks(&changelog, p, Duration::from_secs(10))
            .unwrap();
        assert_eq!(low, high, "{changelog}-{p} emptied");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clean_close_checkpoints_the_files_and_a_restart_reads_only_newer_changelog_records() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    for guarantee in ["at_least_once", "exactly_once_v2"] {
        let (input, output, app) = counting_app(&broker, "checkpointed").await;
        let state = tempfile::tempdir().unwrap();
        let config =
            || app_config(&broker, &app, state.path()).with("processing.guarantee", guarantee);
        let want = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        let b = &broker;
        let run = |expected: BTreeMap<String, i64>| {
            let streams = KafkaStreams::new(topology(&input, &output), config()).unwrap();
            tokio::task::block_in_place(|| {
                streams.start().unwrap();
                assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
                assert_eq!(counts(b, &output, &expected), expected, "{guarantee}");
            });
            streams
        };
        let streams = run(want(&[("a", 2), ("b", 1)]));
        if guarantee == "exactly_once_v2" {
            // exactly once, a running task has no checkpoint: a crash wipes its files
            assert_eq!(checkpoints(state.path(), &app), Vec::<String>::new());
        }
        tokio::task::block_in_place(|| streams.close());
        // a clean close writes each task's checkpoint: its changelog partition's last offset
        let written = checkpoints(state.path(), &app);
        assert_eq!(written.len(), 2, "{guarantee}: {written:?}");
        for text in &written {
            assert!(
                text.starts_with("0\n1\n") && text.contains(&format!("{app}-tallies-changelog ")),
                "{guarantee}: {text:?}"
            );
        }
        // with the changelog emptied, only the files can remember a=2 and b=1
        empty_the_changelog(&broker, &app).await;
        produce(&broker, &input, &["b", "c"]).await;
        let again = run(want(&[("a", 2), ("b", 2), ("c", 1)]));
        let store = again
            .key_value_store("tallies", Serdes::string(), Serdes::long())
            .unwrap();
        assert_eq!(store.get(&"a".to_string()).unwrap(), Some(2), "{guarantee}");
        tokio::task::block_in_place(|| again.close());
    }
}
