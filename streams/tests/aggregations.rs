//! Grouping, aggregations and tables through the `TestDriver`, with the records Kafka Streams'
//! own `TopologyTestDriver` writes for the same topologies and input (Kafka Streams 4.4, the
//! expected records below were printed by it): outputs, repartition topics and changelogs byte
//! for byte, timestamps, the write cache's collapsing of updates, and table semantics.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use tributary_streams::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsConfig, TestDriver,
    TestRecord,
};

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn s(x: &str) -> String {
    x.to_string()
}

fn app(cache_bytes: usize) -> StreamsConfig {
    StreamsConfig::new()
        .with("application.id", "app")
        .with("cache.max.bytes.buffering", cache_bytes)
}

/// Every record of `topic`, as raw bytes: (key, value, timestamp).
type Raw = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

fn raw(driver: &TestDriver, topic: &str) -> Vec<Raw> {
    let mut t = driver.output_topic(
        topic,
        Serdes::nullable(Serdes::byte_array()),
        Serdes::nullable(Serdes::byte_array()),
    );
    let mut out = Vec::new();
    while !t.is_empty() {
        let r = t.read_record().unwrap();
        out.push((r.key, r.value, r.timestamp));
    }
    out
}

fn counted(word: &str, count: i64, ts: i64) -> Raw {
    (
        Some(word.as_bytes().to_vec()),
        Some(count.to_be_bytes().to_vec()),
        ts,
    )
}

fn word_count(b: &StreamsBuilder, materialized: Option<&str>) {
    let grouped = b
        .stream("in", strings())
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
        );
    let counts = match materialized {
        Some(name) => grouped.count_with(Materialized::named(name)),
        None => grouped.count(),
    };
    counts.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
    );
}

#[test]
fn word_count_writes_what_kafka_streams_writes_to_output_repartition_and_changelog() {
    for cache in [10 * 1024 * 1024, 0] {
        let b = StreamsBuilder::new();
        word_count(&b, None);
        let driver = TestDriver::with_config(b.build().unwrap(), &app(cache)).unwrap();
        let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
        input.pipe_input_at(s("k"), s("hello world"), 1000).unwrap();
        input.pipe_input_at(s("k"), s("hello kafka"), 2000).unwrap();
        let store = "KSTREAM-AGGREGATE-STATE-STORE-0000000003";
        assert_eq!(
            driver.produced_topics(),
            vec![
                format!("app-{store}-changelog"),
                format!("app-{store}-repartition"),
                s("out")
            ]
        );
        let expected = vec![
            counted("hello", 1, 1000),
            counted("world", 1, 1000),
            counted("hello", 2, 2000),
            counted("kafka", 1, 2000),
        ];
        assert_eq!(raw(&driver, "out"), expected);
        assert_eq!(raw(&driver, &format!("app-{store}-changelog")), expected);
        let repartitioned: Vec<Raw> = raw(&driver, &format!("app-{store}-repartition"));
        let words: Vec<(Vec<u8>, Vec<u8>, i64)> = repartitioned
            .into_iter()
            .map(|(k, v, t)| (k.unwrap(), v.unwrap(), t))
            .collect();
        assert_eq!(
            words,
            vec![
                (b"hello".to_vec(), b"hello".to_vec(), 1000),
                (b"world".to_vec(), b"world".to_vec(), 1000),
                (b"hello".to_vec(), b"hello".to_vec(), 2000),
                (b"kafka".to_vec(), b"kafka".to_vec(), 2000),
            ]
        );
    }
}

#[test]
fn a_named_store_names_the_changelog_and_repartition_topics_and_can_be_queried() {
    let b = StreamsBuilder::new();
    word_count(&b, Some("counts-store"));
    let topology = b.build().unwrap();
    assert_eq!(
        topology.internal_topics("app"),
        vec![
            (s("app-counts-store-repartition"), false),
            (s("app-counts-store-changelog"), true)
        ]
    );
    let text = topology.describe().to_string();
    assert!(text.contains("Sink: counts-store-repartition-sink (topic: counts-store-repartition)"));
    assert!(text.contains("Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])"));
    let driver = TestDriver::with_config(topology, &app(0)).unwrap();
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("k"), s("b a b"), 1).unwrap();
    assert_eq!(
        driver.produced_topics(),
        vec![
            s("app-counts-store-changelog"),
            s("app-counts-store-repartition"),
            s("out")
        ]
    );
    let store = driver
        .key_value_store("counts-store", Serdes::string(), Serdes::long())
        .unwrap();
    assert_eq!(store.get(&s("b")).unwrap(), Some(2));
    assert_eq!(store.get(&s("c")).unwrap(), None);
    assert_eq!(store.all().unwrap(), vec![(s("a"), 1), (s("b"), 2)]);
    assert_eq!(store.range(&s("b"), &s("z")).unwrap(), vec![(s("b"), 2)]);
    assert_eq!(store.approximate_num_entries().unwrap(), 2);
    assert!(driver
        .key_value_store("nope", Serdes::string(), Serdes::long())
        .is_err());
}

#[test]
fn aggregates_carry_the_latest_timestamp_of_their_inputs() {
    let run = |which: &str| {
        let b = StreamsBuilder::new();
        let grouped = b.stream("in", strings()).group_by_key(Grouped::new());
        let table = match which {
            "count" => grouped.count().map_values(|c: &i64| c.to_string()),
            "reduce" => grouped.reduce(
                |agg: &String, v: &String| format!("{agg}{v}"),
                Materialized::new(),
            ),
            _ => grouped.aggregate(
                String::new,
                |_, v: &String, agg: String| agg + v,
                Materialized::with(Serdes::string(), Serdes::string()),
            ),
        };
        table.to_stream().to(
            "out",
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
        );
        let driver = TestDriver::with_config(b.build().unwrap(), &app(0)).unwrap();
        let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
        input.pipe_input_at(s("k1"), s("a"), 5).unwrap();
        input.pipe_input_at(s("k1"), s("b"), 3).unwrap();
        input.pipe_input_at(s("k2"), s("c"), 10).unwrap();
        let mut out =
            driver.output_topic("out", Serdes::string(), Serdes::nullable(Serdes::string()));
        let mut records = Vec::new();
        while !out.is_empty() {
            let r = out.read_record().unwrap();
            records.push((r.key, r.value.unwrap(), r.timestamp));
        }
        records
    };
    assert_eq!(
        run("count"),
        vec![
            (s("k1"), s("1"), 5),
            (s("k1"), s("2"), 5),
            (s("k2"), s("1"), 10)
        ]
    );
    assert_eq!(
        run("reduce"),
        vec![
            (s("k1"), s("a"), 5),
            (s("k1"), s("ab"), 5),
            (s("k2"), s("c"), 10)
        ]
    );
    assert_eq!(
        run("aggregate"),
        vec![
            (s("k1"), s("a"), 5),
            (s("k1"), s("ab"), 5),
            (s("k2"), s("c"), 10)
        ]
    );
}

#[test]
fn the_write_cache_collapses_updates_of_one_input_record_and_is_off_at_zero_bytes() {
    let run = |cache: usize| {
        let b = StreamsBuilder::new();
        b.stream("in", strings())
            .flat_map_values(|v: &String| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .group_by_key(Grouped::new())
            .count_with(Materialized::named("c"))
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
            );
        let driver = TestDriver::with_config(b.build().unwrap(), &app(cache)).unwrap();
        let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
        input.pipe_input_at(s("k"), s("a b c"), 1).unwrap();
        (raw(&driver, "out"), raw(&driver, "app-c-changelog"))
    };
    let (out, changelog) = run(10 * 1024 * 1024);
    assert_eq!(out, vec![counted("k", 3, 1)]);
    assert_eq!(changelog, vec![counted("k", 3, 1)]);
    let (out, changelog) = run(0);
    let each = vec![counted("k", 1, 1), counted("k", 2, 1), counted("k", 3, 1)];
    assert_eq!(out, each);
    assert_eq!(changelog, each);
    // a cache too small for one entry sends every update at once
    let (out, _) = run(1);
    assert_eq!(out, each);
}

/// (a,1)@1, (a,x)@2, (b,x)@3, (a,null)@4 through a table topology; what `out` gets.
fn table_run(build: impl FnOnce(&StreamsBuilder)) -> Vec<(String, Option<String>, i64)> {
    let b = StreamsBuilder::new();
    build(&b);
    let driver = TestDriver::with_config(b.build().unwrap(), &app(0)).unwrap();
    let mut input = driver.input_topic("t", Serdes::string(), Serdes::nullable(Serdes::string()));
    for (k, v, ts) in [
        ("a", Some("1"), 1),
        ("a", Some("x"), 2),
        ("b", Some("x"), 3),
        ("a", None, 4),
    ] {
        input.pipe_input_at(s(k), v.map(s), ts).unwrap();
    }
    let mut out = driver.output_topic("out", Serdes::string(), Serdes::nullable(Serdes::string()));
    let mut records = Vec::new();
    while !out.is_empty() {
        let r: TestRecord<String, Option<String>> = out.read_record().unwrap();
        records.push((r.key, r.value, r.timestamp));
    }
    records
}

fn to_out(table: tributary_streams::KTable<String, String>) {
    table.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
}

#[test]
fn table_filter_forwards_deletions_as_kafka_streams_does_with_and_without_old_values() {
    // the source is not kept: the filter cannot know what was sent before, and deletes always
    let unkept = table_run(|b| {
        to_out(
            b.table("t", strings(), Materialized::new())
                .filter(|_, v| v != "x"),
        )
    });
    assert_eq!(
        unkept,
        vec![
            (s("a"), Some(s("1")), 1),
            (s("a"), None, 2),
            (s("b"), None, 3),
            (s("a"), None, 4)
        ]
    );
    let not = table_run(|b| {
        to_out(
            b.table("t", strings(), Materialized::new())
                .filter_not(|_, v| v == "x"),
        )
    });
    assert_eq!(not, unkept);
    // a kept source sends old values: changes that stay filtered out are dropped
    let kept = table_run(|b| {
        to_out(
            b.table("t", strings(), Materialized::named("s"))
                .filter(|_, v| v != "x"),
        )
    });
    assert_eq!(kept, vec![(s("a"), Some(s("1")), 1), (s("a"), None, 2)]);
}

#[test]
fn table_map_values_leaves_deletions_alone_and_to_table_keeps_the_latest_value() {
    let mapped = table_run(|b| {
        to_out(
            b.table("t", strings(), Materialized::new())
                .map_values(|v: &String| format!("{v}!")),
        )
    });
    assert_eq!(
        mapped,
        vec![
            (s("a"), Some(s("1!")), 1),
            (s("a"), Some(s("x!")), 2),
            (s("b"), Some(s("x!")), 3),
            (s("a"), None, 4)
        ]
    );
    let b = StreamsBuilder::new();
    to_out(b.stream("in", strings()).to_table(Materialized::named("x")));
    let driver = TestDriver::with_config(b.build().unwrap(), &app(0)).unwrap();
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("a"), s("1"), 10).unwrap();
    input.pipe_input_at(s("a"), s("2"), 5).unwrap();
    let store = driver
        .key_value_store("x", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(store.get(&s("a")).unwrap(), Some(s("2")));
    assert_eq!(raw(&driver, "app-x-changelog").len(), 2);
}

#[test]
fn table_map_values_with_key_and_transform_values_see_each_rows_key_and_timestamp() {
    let mapped = table_run(|b| {
        to_out(
            b.table("t", strings(), Materialized::new())
                .map_values_with_key(|k: &String, v: &String| format!("{k}={v}"))
                .transform_values(|_: &String, v: &String, ts| format!("{v}@{ts}")),
        )
    });
    assert_eq!(
        mapped,
        vec![
            (s("a"), Some(s("a=1@1")), 1),
            (s("a"), Some(s("a=x@2")), 2),
            (s("b"), Some(s("b=x@3")), 3),
            (s("a"), None, 4)
        ]
    );
}

#[test]
fn a_kept_table_source_ignores_deletions_of_rows_it_does_not_have_behind_a_cache() {
    let run = |materialized: Materialized<String, String>, cache: usize| {
        let b = StreamsBuilder::new();
        to_out(b.table("t", strings(), materialized));
        let driver = TestDriver::with_config(b.build().unwrap(), &app(cache)).unwrap();
        let mut input =
            driver.input_topic("t", Serdes::string(), Serdes::nullable(Serdes::string()));
        input.pipe_input_at(s("c"), None, 1).unwrap();
        input.pipe_input_at(s("a"), Some(s("1")), 10).unwrap();
        input.pipe_input_at(s("a"), None, 6).unwrap();
        input.pipe_input_at(s("a"), None, 7).unwrap();
        let mut out =
            driver.output_topic("out", Serdes::string(), Serdes::nullable(Serdes::string()));
        let mut keys = Vec::new();
        while !out.is_empty() {
            let r = out.read_record().unwrap();
            keys.push((r.key, r.value));
        }
        keys
    };
    let every_change = vec![
        (s("c"), None),
        (s("a"), Some(s("1"))),
        (s("a"), None),
        (s("a"), None),
    ];
    // an unkept table forwards every change; a kept one without a cache too (Kafka Streams
    // turns caching off with a cache of 0 bytes); behind a cache a deletion of a row that was
    // never there is dropped
    assert_eq!(run(Materialized::new(), 0), every_change);
    assert_eq!(run(Materialized::new(), 1 << 20), every_change);
    assert_eq!(run(Materialized::named("s"), 0), every_change);
    assert_eq!(
        run(Materialized::named("s"), 1 << 20),
        vec![(s("a"), Some(s("1"))), (s("a"), None)]
    );
}

#[test]
fn an_aggregation_without_serdes_is_refused_with_a_clear_error() {
    let b = StreamsBuilder::new();
    let _ = b
        .stream("in", strings())
        .map(|k: &String, v: &String| (k.clone(), v.len()))
        .group_by_key(Grouped::new())
        .count();
    let err = b.build().err().unwrap().to_string();
    assert!(err.contains("needs a key serde"), "{err}");
}
