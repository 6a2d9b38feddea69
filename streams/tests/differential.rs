//! The differential suite: topologies built here and, the same way, with Kafka Streams' DSL
//! (`tests/java/TopologyScenarios.java`), fed the same random records (out of order, late,
//! null keys and values) through our `TestDriver` and Kafka's `TopologyTestDriver`, with and
//! without the write cache. Every output topic's records (keys, values, timestamps, order)
//! and the stores' changelogs must be equal byte for byte. `docs/streams.md` lists the
//! scenarios.
//!
//! Environment: `TRIBUTARY_DIFF_ROUNDS` (random inputs per scenario and cache size, default
//! 8), `TRIBUTARY_DIFF_SEED`.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use tributary_streams::process::{
    Processor, ProcessorContext, PunctuationType, Record, Schedule, StoreBuilder,
};
use tributary_streams::{
    BufferConfig, Consumed, Grouped, JoinWindows, Joined, KGroupedStream, KStream, KTable,
    Materialized, Produced, Repartitioned, Serdes, SessionWindows, SlidingWindows, StoreType,
    StreamJoined, StreamsBuilder, StreamsConfig, StreamsError, Suppressed, TableJoined, TestDriver,
    TimeWindows,
};

type Key = Option<String>;
type Value = Option<String>;

const SCENARIOS: [&str; 31] = [
    "word_count",
    "tumbling_count_suppress",
    "hopping_reduce",
    "hopping_aggregate_suppress",
    "sliding_count",
    "sliding_reduce",
    "session_count",
    "session_aggregate",
    "count_time_limit",
    "stream_table_join",
    "table_table_joins",
    "table_join_materialized",
    "stream_stream_inner",
    "stream_stream_left",
    "stream_stream_outer",
    "stream_stream_left_legacy",
    "stream_stream_outer_legacy",
    "table_sources",
    "table_join_of_join",
    "table_group_count",
    "table_group_reduce",
    "table_group_aggregate",
    "stream_global_join",
    "processor_punctuate",
    "processor_repartition",
    "fk_join",
    "fk_left_join",
    "fk_join_named",
    "word_count_persistent",
    "tumbling_count_suppress_persistent",
    "session_count_persistent",
];

/// The scenarios that read a second topic, `tbl`.
fn two_topics(scenario: &str) -> bool {
    scenario.contains("join")
        || scenario.starts_with("stream_stream")
        || scenario == "table_sources"
}

fn or_null<T: AsRef<str>>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |s| s.as_ref().to_string())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn keys_values() -> Grouped<Key, Value> {
    Grouped::with(
        Serdes::nullable(Serdes::string()),
        Serdes::nullable(Serdes::string()),
    )
}

/// Java's `split("\\W+")` of a lowercased line, without empty words.
fn words(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_deref().unwrap_or("null")
}

/// The processor of `processor_punctuate` (`Counting` in the Java harness): counts records
/// per key in store `counts` (a null value deletes the key), forwards records without a key
/// with their metadata, and forwards every count on punctuations: every 10 ms of stream time,
/// and every 7 ms of wall-clock time until stream time reaches 40, every 13 ms after that.
#[derive(Default)]
struct Counting {
    wall: Option<Schedule>,
    rescheduled: bool,
}

fn metadata_text(ctx: &ProcessorContext<'_, Key, Value>) -> String {
    let m = ctx.record_metadata().unwrap();
    format!(
        "{}:{}:{}:{}",
        m.topic(),
        m.partition(),
        m.offset(),
        ctx.current_stream_time_ms()
    )
}

impl Processor<Key, Value, Key, Value> for Counting {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Key, Value>) -> Result<(), StreamsError> {
        ctx.schedule(ms(10), PunctuationType::StreamTime)?;
        self.wall = Some(ctx.schedule(ms(7), PunctuationType::WallClockTime)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Key, Value>,
        ctx: &mut ProcessorContext<'_, Key, Value>,
    ) -> Result<(), StreamsError> {
        let Some(key) = &record.key else {
            let text = format!("meta:{}", metadata_text(ctx));
            let bytes = record.value.as_ref().map(|v| v.as_bytes().to_vec());
            let mut out = record.with_value(Some(text));
            out.headers = vec![("h".to_string(), bytes)];
            return ctx.forward(out);
        };
        let mut counts = ctx.key_value_store::<String, i64>("counts")?;
        if record.value.is_none() {
            counts.delete(key)?;
            return Ok(());
        }
        let count = counts.get(key)?.unwrap_or(0) + 1;
        counts.put(key, &count)
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, Key, Value>,
    ) -> Result<(), StreamsError> {
        let kind = if Some(schedule) == self.wall {
            if self.rescheduled {
                "wall2"
            } else {
                "wall"
            }
        } else {
            "stream"
        };
        for (key, count) in ctx.key_value_store::<String, i64>("counts")?.all()? {
            let record = Record::new(Some(key), Some(format!("{kind}:{count}")), timestamp)
                .with_header("type", Some(kind.as_bytes()));
            ctx.forward(record)?;
        }
        if kind == "stream" && timestamp >= 40 && !self.rescheduled {
            if let Some(wall) = self.wall {
                ctx.cancel(wall);
            }
            self.wall = Some(ctx.schedule(ms(13), PunctuationType::WallClockTime)?);
            self.rescheduled = true;
        }
        Ok(())
    }
}

/// Swaps key and value (`Swap` in the Java harness).
struct Swap;

impl Processor<Key, Value, Key, Value> for Swap {
    fn process(
        &mut self,
        record: Record<Key, Value>,
        ctx: &mut ProcessorContext<'_, Key, Value>,
    ) -> Result<(), StreamsError> {
        let (key, value) = (record.key.clone(), record.value.clone());
        ctx.forward(record.with_key(value).with_value(key))
    }
}

/// Replaces the value with where the record was read (`Meta` in the Java harness).
struct Meta;

impl Processor<Key, Value, Key, Value> for Meta {
    fn process(
        &mut self,
        record: Record<Key, Value>,
        ctx: &mut ProcessorContext<'_, Key, Value>,
    ) -> Result<(), StreamsError> {
        let text = metadata_text(ctx);
        ctx.forward(record.with_value(Some(text)))
    }
}

/// The foreign key of a left value in the foreign-key join scenarios (`fk` in the Java
/// harness): "a", "b", "c" or none, from its first byte and length.
fn foreign_key(v: &str) -> Option<Key> {
    let i = (usize::from(v.as_bytes()[0]) + v.len()) % 4;
    (i < 3).then(|| Some(["a", "b", "c"][i].to_string()))
}

/// Builds `scenario` as the Java harness does; the topics to compare.
fn build(scenario: &str, b: &StreamsBuilder) -> Vec<&'static str> {
    let ns = || Serdes::nullable(Serdes::string());
    let nl = || Serdes::nullable(Serdes::long());
    // (table scenarios read "in" as a table: no stream of it)
    match scenario {
        "table_table_joins" => {
            let t1: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let t2: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t1.join(&t2, |x: &String, y: &String| format!("{x}*{y}"))
                .to_stream()
                .to("out", Produced::with(ns(), ns()));
            t1.left_join(&t2, |x: &String, y: Option<&String>| {
                format!("{x}*{}", or_null(y))
            })
            .to_stream()
            .to("out2", Produced::with(ns(), ns()));
            t1.outer_join(&t2, |x: Option<&String>, y: Option<&String>| {
                format!("{}*{}", or_null(x), or_null(y))
            })
            .to_stream()
            .to("out3", Produced::with(ns(), ns()));
            return vec!["out", "out2", "out3"];
        }
        "table_join_of_join" => {
            let t1: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let t2: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let j = t1.outer_join(&t2, |x: Option<&String>, y: Option<&String>| {
                format!("{}*{}", or_null(x), or_null(y))
            });
            t2.left_join(&j, |x: &String, y: Option<&String>| {
                format!("{x}/{}", or_null(y))
            })
            .to_stream()
            .to("out", Produced::with(ns(), ns()));
            return vec!["out"];
        }
        "table_group_count" => {
            let t: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t.group_by(
                |k: &Key, v: &String| (v.clone(), k.clone()),
                Grouped::with(Serdes::string(), ns()),
            )
            .count()
            .to_stream()
            .to("out", Produced::with(Serdes::string(), nl()));
            return vec![
                "out",
                "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition",
                "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-changelog",
            ];
        }
        "table_group_reduce" => {
            let t: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t.group_by(
                |k: &Key, v: &String| (v[..1].to_string(), k.clone().unwrap_or_default()),
                Grouped::with(Serdes::string(), Serdes::string()),
            )
            .reduce(
                |a: &String, v: &String| format!("{a}{v}"),
                |a: &String, v: &String| a.replacen(v.as_str(), "", 1),
                Materialized::new(),
            )
            .to_stream()
            .to("out", Produced::with(Serdes::string(), ns()));
            return vec![
                "out",
                "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-changelog",
            ];
        }
        "table_group_aggregate" => {
            let t: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t.filter(|_, v: &String| !v.starts_with('q'))
                .group_by(
                    |_: &Key, v: &String| (v[..1].to_string(), v.clone()),
                    Grouped::with(Serdes::string(), Serdes::string()).with_name("g"),
                )
                .aggregate(
                    || 0i64,
                    |_, v: &String, a: i64| a + v.len() as i64,
                    |_, v: &String, a: i64| a - v.len() as i64,
                    Materialized::with(Serdes::string(), Serdes::long()).with_name("lengths"),
                )
                .to_stream()
                .to("out", Produced::with(Serdes::string(), nl()));
            return vec!["out", "app-g-repartition", "app-lengths-changelog"];
        }
        "table_sources" => {
            b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::named("s"),
            )
            .to_stream()
            .to("out", Produced::with(ns(), ns()));
            let t2: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t2.to_stream().to("out2", Produced::with(ns(), ns()));
            return vec!["out", "out2", "app-s-changelog"];
        }
        "fk_join" | "fk_left_join" | "fk_join_named" => {
            let left: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let right: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let fk = |_: &Key, v: &String| foreign_key(v);
            let joined = match scenario {
                "fk_join" => left
                    .join_on_foreign_key(&right, fk, |x: &String, y: &String| format!("{x}*{y}")),
                "fk_left_join" => left.left_join_on_foreign_key_with(
                    &right,
                    fk,
                    |x: &String, y: Option<&String>| format!("{x}*{}", or_null(y)),
                    TableJoined::new(),
                    Materialized::with(ns(), Serdes::string()).with_name("fkres"),
                ),
                _ => left.join_on_foreign_key_with(
                    &right,
                    fk,
                    |x: &String, y: &String| format!("{x}*{y}"),
                    TableJoined::named("fkj"),
                    Materialized::new(),
                ),
            };
            joined.to_stream().to("out", Produced::with(ns(), ns()));
            return match scenario {
                "fk_join" => vec![
                    "out",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog",
                ],
                "fk_left_join" => vec![
                    "out",
                    "app-fkres-changelog",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
                ],
                _ => vec![
                    "out",
                    "app-fkj-subscription-registration-topic",
                    "app-fkj-subscription-response-topic",
                    "app-fkj-subscription-store-changelog",
                ],
            };
        }
        "table_join_materialized" => {
            let t1: KTable<Key, String> = b.table(
                "in",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            let t2: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            t1.filter(|_, v: &String| !v.starts_with('x'))
                .join_materialized(
                    &t2,
                    |x: &String, y: &String| format!("{x}*{y}"),
                    Materialized::with(ns(), Serdes::string()).with_name("joined"),
                )
                .to_stream()
                .to("out", Produced::with(ns(), ns()));
            return vec!["out", "app-joined-changelog"];
        }
        _ => {}
    }
    let input: KStream<Key, Value> = b.stream("in", Consumed::with(ns(), ns()));
    let by_key: KGroupedStream<Key, Value> = input.group_by_key(keys_values());
    let time_windowed = |size| Serdes::time_windowed(ns(), size);
    let session_windowed = || Serdes::session_windowed(ns());
    // (Kafka's default stores are RocksDB: its twin of a `_persistent` scenario is the same)
    let store_type = if scenario.ends_with("_persistent") {
        StoreType::Persistent
    } else {
        StoreType::InMemory
    };
    match scenario {
        "processor_punctuate" => {
            b.add_state_store(StoreBuilder::key_value(
                "counts",
                Serdes::string(),
                Serdes::long(),
            ));
            input
                .process(Counting::default, &["counts"])
                .to("out", Produced::with(ns(), ns()));
            vec!["out", "app-counts-changelog"]
        }
        "processor_repartition" => {
            let swapped: KStream<Key, Value> = input.process(|| Swap, &[]);
            swapped
                .repartition(Repartitioned::with(ns(), ns()))
                .process(|| Meta, &[])
                .to("out", Produced::with(ns(), ns()));
            swapped
                .group_by_key(keys_values())
                .count()
                .to_stream()
                .to("out2", Produced::with(ns(), nl()));
            vec![
                "out",
                "out2",
                "app-KSTREAM-REPARTITION-0000000002-repartition",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000008-repartition",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000008-changelog",
            ]
        }
        "word_count" | "word_count_persistent" => {
            input
                .flat_map_values(|v: &Value| v.as_deref().map(words).unwrap_or_default())
                .filter(|_, w: &String| !w.is_empty())
                .group_by(
                    |_, w: &String| w.clone(),
                    Grouped::with(Serdes::string(), Serdes::string()),
                )
                .count_with(Materialized::named("counts").with_store_type(store_type))
                .to_stream()
                .to("out", Produced::with(Serdes::string(), nl()));
            vec!["out", "app-counts-changelog", "app-counts-repartition"]
        }
        "tumbling_count_suppress" | "tumbling_count_suppress_persistent" => {
            let counts = by_key
                .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).unwrap())
                .count_with(Materialized::named("counts").with_store_type(store_type));
            counts
                .to_stream()
                .to("out", Produced::with(time_windowed(10), nl()));
            counts
                .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
                .to_stream()
                .to("final", Produced::with(time_windowed(10), nl()));
            vec!["out", "final", "app-counts-changelog"]
        }
        "hopping_reduce" => {
            let windows = TimeWindows::of_size_and_grace(ms(10), ms(3))
                .unwrap()
                .advance_by(ms(4))
                .unwrap();
            by_key
                .windowed_by(windows)
                .reduce(
                    |a: &Value, v: &Value| Some(format!("{}+{}", text(a), text(v))),
                    Materialized::new(),
                )
                .to_stream()
                .to(
                    "out",
                    Produced::with(time_windowed(10), Serdes::nullable(ns())),
                );
            vec!["out", "app-KSTREAM-REDUCE-STATE-STORE-0000000001-changelog"]
        }
        "hopping_aggregate_suppress" => {
            let windows = TimeWindows::of_size_with_no_grace(ms(8))
                .unwrap()
                .advance_by(ms(2))
                .unwrap();
            by_key
                .windowed_by(windows)
                .aggregate(
                    String::new,
                    |_, v: &Value, a: String| match v {
                        Some(v) => a + &v[..1],
                        None => a + "~",
                    },
                    Materialized::with(ns(), Serdes::string()),
                )
                .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
                .to_stream()
                .to(
                    "final",
                    Produced::with(time_windowed(8), Serdes::nullable(Serdes::string())),
                );
            vec![
                "final",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog",
            ]
        }
        "sliding_count" => {
            let counts = by_key
                .windowed_by_sliding(
                    SlidingWindows::of_time_difference_and_grace(ms(5), ms(2)).unwrap(),
                )
                .count();
            counts
                .to_stream()
                .to("out", Produced::with(time_windowed(5), nl()));
            counts
                .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
                .to_stream()
                .to("final", Produced::with(time_windowed(5), nl()));
            vec![
                "out",
                "final",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog",
            ]
        }
        "sliding_reduce" => {
            input
                .filter(|_, v: &Value| v.is_some())
                .group_by_key(keys_values())
                .windowed_by_sliding(
                    SlidingWindows::of_time_difference_with_no_grace(ms(7)).unwrap(),
                )
                .reduce(
                    |a: &Value, v: &Value| Some(format!("{}+{}", text(a), text(v))),
                    Materialized::new(),
                )
                .to_stream()
                .to(
                    "out",
                    Produced::with(time_windowed(7), Serdes::nullable(ns())),
                );
            vec!["out"]
        }
        "session_count" | "session_count_persistent" => {
            let counts = by_key
                .windowed_by_session(
                    SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(3)).unwrap(),
                )
                .count_with(Materialized::named("sessions").with_store_type(store_type));
            counts
                .to_stream()
                .to("out", Produced::with(session_windowed(), nl()));
            counts
                .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
                .to_stream()
                .to("final", Produced::with(session_windowed(), nl()));
            vec!["out", "final", "app-sessions-changelog"]
        }
        "session_aggregate" => {
            input
                .filter(|_, v: &Value| v.is_some())
                .group_by_key(keys_values())
                .windowed_by_session(
                    SessionWindows::of_inactivity_gap_with_no_grace(ms(4)).unwrap(),
                )
                .aggregate(
                    String::new,
                    |_, v: &Value, a: String| a + &text(v)[..1],
                    |_, a: String, b: String| format!("{a}|{b}"),
                    Materialized::with(ns(), Serdes::string()),
                )
                .to_stream()
                .to(
                    "out",
                    Produced::with(session_windowed(), Serdes::nullable(Serdes::string())),
                );
            vec![
                "out",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog",
            ]
        }
        "count_time_limit" => {
            by_key
                .count()
                .suppress(Suppressed::until_time_limit(
                    ms(7),
                    BufferConfig::max_records(2),
                ))
                .to_stream()
                .to("out", Produced::with(ns(), nl()));
            vec!["out"]
        }
        "stream_global_join" => {
            let g = b.global_table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            input
                .join_global(
                    &g,
                    |k: &Key, _: &Value| k.clone(),
                    |v: &Value, w: &String| format!("{}*{w}", text(v)),
                )
                .to("out", Produced::with(ns(), Serdes::string()));
            input
                .left_join_global(
                    &g,
                    |_: &Key, v: &Value| v.as_deref().map(|s| s[..1].to_string()),
                    |v: &Value, w: Option<&String>| format!("{}*{}", text(v), or_null(w)),
                )
                .to("out2", Produced::with(ns(), Serdes::string()));
            vec!["out", "out2"]
        }
        "stream_table_join" => {
            let t: KTable<Key, String> = b.table(
                "tbl",
                Consumed::with(ns(), Serdes::string()),
                Materialized::new(),
            );
            input
                .join(
                    &t,
                    |v: &Value, w: &String| format!("{}*{w}", text(v)),
                    Joined::new(),
                )
                .to("out", Produced::with(ns(), Serdes::string()));
            input
                .left_join(
                    &t,
                    |v: &Value, w: Option<&String>| format!("{}*{}", text(v), or_null(w)),
                    Joined::new(),
                )
                .to("out2", Produced::with(ns(), Serdes::string()));
            vec!["out", "out2"]
        }
        s if s.starts_with("stream_stream") => {
            let other: KStream<Key, Value> = b.stream("tbl", Consumed::with(ns(), ns()));
            // (legacy: the windows without the spurious-result fix, as ksqlDB uses them)
            let legacy = s.ends_with("_legacy");
            let s = s.trim_end_matches("_legacy");
            let w = if legacy {
                JoinWindows::of(ms(5)).unwrap()
            } else {
                JoinWindows::of_time_difference_and_grace(ms(5), ms(2)).unwrap()
            };
            let sj = || StreamJoined::with(ns(), ns(), ns());
            let joined: KStream<Key, String> = match s {
                "stream_stream_inner" => input.join_windowed(
                    &other,
                    |x: &Value, y: &Value| format!("{}*{}", text(x), text(y)),
                    w,
                    sj(),
                ),
                "stream_stream_left" => input.left_join_windowed(
                    &other,
                    |x: &Value, y: Option<&Value>| {
                        format!("{}*{}", text(x), or_null(y.and_then(|y| y.as_deref())))
                    },
                    w,
                    sj(),
                ),
                _ => input.outer_join_windowed(
                    &other,
                    |x: Option<&Value>, y: Option<&Value>| {
                        format!(
                            "{}*{}",
                            or_null(x.and_then(|x| x.as_deref())),
                            or_null(y.and_then(|y| y.as_deref()))
                        )
                    },
                    w,
                    sj(),
                ),
            };
            joined.to("out", Produced::with(ns(), Serdes::string()));
            match s {
                "stream_stream_inner" => vec![
                    "out",
                    "app-KSTREAM-JOINTHIS-0000000004-store-changelog",
                    "app-KSTREAM-JOINOTHER-0000000005-store-changelog",
                ],
                "stream_stream_left" if legacy => vec![
                    "out",
                    "app-KSTREAM-JOINTHIS-0000000004-store-changelog",
                    "app-KSTREAM-OUTEROTHER-0000000005-store-changelog",
                ],
                "stream_stream_outer" if legacy => vec![
                    "out",
                    "app-KSTREAM-OUTERTHIS-0000000004-store-changelog",
                    "app-KSTREAM-OUTEROTHER-0000000005-store-changelog",
                ],
                "stream_stream_left" => vec![
                    "out",
                    "app-KSTREAM-JOINTHIS-0000000004-store-changelog",
                    "app-KSTREAM-OUTEROTHER-0000000005-store-changelog",
                    "app-KSTREAM-OUTERSHARED-0000000004-store-changelog",
                ],
                _ => vec![
                    "out",
                    "app-KSTREAM-OUTERTHIS-0000000004-store-changelog",
                    "app-KSTREAM-OUTEROTHER-0000000005-store-changelog",
                    "app-KSTREAM-OUTERSHARED-0000000004-store-changelog",
                ],
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An input record: topic, key, value, timestamp; or, for topic `wall`, a move of the wall
/// clock by "timestamp" ms.
type Input = (&'static str, Key, Value, i64);

/// Random records: a few keys (some null), values (some null), timestamps mostly rising with
/// repeats, some out of order and some late; with `wall`, moves of the wall clock among them.
fn random_input(rng: &mut Rng, two_topics: bool, wall: bool) -> Vec<Input> {
    const KEYS: [&str; 3] = ["a", "b", "c"];
    const VALUES: [&str; 5] = ["x1", "Yes no", "zz top", "Hello, world!", "q"];
    let n = 30 + rng.below(50);
    let mut time = rng.below(6) as i64;
    (0..n)
        .map(|_| {
            let key = (rng.below(20) != 0).then(|| KEYS[rng.below(3) as usize].to_string());
            let value = (rng.below(12) != 0).then(|| VALUES[rng.below(5) as usize].to_string());
            time += rng.below(5) as i64;
            let ts = if rng.below(7) == 0 {
                (time - rng.below(25) as i64).max(0)
            } else {
                time
            };
            if wall && rng.below(5) == 0 {
                return ("wall", None, None, 1 + rng.below(20) as i64);
            }
            let topic = if two_topics && rng.below(2) == 0 {
                "tbl"
            } else {
                "in"
            };
            (topic, key, value, ts)
        })
        .collect()
}

fn hex(b: &Option<Vec<u8>>) -> String {
    match b {
        None => "-".to_string(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// The case as the Java harness reads it.
fn case_text(scenario: &str, cache: usize, input: &[Input]) -> String {
    let mut s = format!("case {scenario} {cache}\n");
    for (topic, k, v, ts) in input {
        let k = k.as_ref().map(|k| k.as_bytes().to_vec());
        let v = v.as_ref().map(|v| v.as_bytes().to_vec());
        s.push_str(&format!("{topic} {} {} {ts}\n", hex(&k), hex(&v)));
    }
    s
}

/// Our output for the case, in the harness's format.
fn run_here(scenario: &str, cache: usize, input: &[Input]) -> String {
    let b = StreamsBuilder::new();
    let topics = build(scenario, &b);
    let config = StreamsConfig::new()
        .with("application.id", "app")
        .with("statestore.cache.max.bytes", cache);
    // (the wall clock starts at 0, as the harness starts Kafka's)
    let driver = TestDriver::with_wall_clock(b.build().unwrap(), &config, 0).unwrap();
    let topic = |name: &str| {
        driver.input_topic(
            name,
            Serdes::nullable(Serdes::string()),
            Serdes::nullable(Serdes::string()),
        )
    };
    let (mut main, mut second) = (topic("in"), topic("tbl"));
    for (t, k, v, ts) in input {
        let result = match *t {
            "wall" => driver.advance_wall_clock_time(ms(*ts as u64)),
            "tbl" => second.pipe_input_at(k.clone(), v.clone(), *ts),
            _ => main.pipe_input_at(k.clone(), v.clone(), *ts),
        };
        if let Err(e) = result {
            return format!("ERROR {e}\n");
        }
    }
    let mut out = String::new();
    for t in topics {
        let mut o = driver.output_topic(
            t,
            Serdes::nullable(Serdes::byte_array()),
            Serdes::nullable(Serdes::byte_array()),
        );
        while !o.is_empty() {
            let r = o.read_record().unwrap();
            out.push_str(&format!(
                "{t} {} {} {}",
                hex(&r.key),
                hex(&r.value),
                r.timestamp
            ));
            for (name, value) in &r.headers {
                out.push_str(&format!(" {name}={}", hex(value)));
            }
            out.push('\n');
        }
    }
    out
}

/// The lines around the first line where `expected` and `ours` differ.
fn first_difference(expected: &str, ours: &str) -> String {
    let (e, o): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), ours.lines().collect());
    let at = e.iter().zip(&o).take_while(|(a, b)| a == b).count();
    let from = at.saturating_sub(3);
    let show = |lines: &[&str]| lines[from.min(lines.len())..(at + 4).min(lines.len())].join("\n");
    format!(
        "(line {at}) Kafka Streams:\n{}\n--- ours:\n{}\n",
        show(&e),
        show(&o)
    )
}

#[test]
fn topologies_write_what_kafka_streams_writes_for_the_same_input() {
    let rounds: usize = std::env::var("TRIBUTARY_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("TRIBUTARY_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) | 1);
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    for scenario in SCENARIOS {
        for cache in [10 * 1024 * 1024, 0] {
            for _ in 0..rounds {
                cases.push((
                    scenario,
                    cache,
                    random_input(
                        &mut rng,
                        two_topics(scenario),
                        scenario.starts_with("processor"),
                    ),
                ));
            }
        }
    }
    let texts: Vec<String> = cases.iter().map(|(s, c, i)| case_text(s, *c, i)).collect();
    let kafka = common::run_java_harness("TopologyScenarios", &texts.join("---\n"));
    assert_eq!(kafka.len(), cases.len(), "one output per case");
    let mut failed: Vec<&str> = Vec::new();
    for ((case, text), expected) in cases.iter().zip(&texts).zip(&kafka) {
        let ours = run_here(case.0, case.1, &case.2);
        if &ours != expected {
            if failed.len() < 3 {
                eprintln!(
                    "case (seed {seed}):\n{text}--- first difference:\n{}",
                    first_difference(expected, &ours)
                );
            }
            // the whole case, both outputs, kept for a rerun with the harness
            let kept = std::env::temp_dir().join(format!("tributary-differential-{seed}.txt"));
            let dump = format!("{text}--- Kafka Streams:\n{expected}--- ours:\n{ours}---\n");
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&kept)
            {
                use std::io::Write;
                let _ = f.write_all(dump.as_bytes());
            }
            failed.push(case.0);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ (seed {seed}): {failed:?}",
        failed.len(),
        cases.len()
    );
}
