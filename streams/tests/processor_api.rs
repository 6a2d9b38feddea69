//! The processor API through the `TestDriver`: punctuation on the wall clock and on stream
//! time, stores of processors and their changelogs, headers and metadata, and the errors a
//! user meets. (`differential.rs` compares the same features with Kafka Streams' driver.)

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tributary_streams::process::{
    FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor, ProcessorContext,
    PunctuationType, Record, Schedule, StoreBuilder,
};
use tributary_streams::{
    Consumed, Produced, Serdes, StreamsBuilder, StreamsConfig, StreamsError, TestDriver, Window,
    Windowed,
};

type Ctx<'a> = ProcessorContext<'a, String, String>;

/// Forwards a record per punctuation: key = the kind, value = its timestamp; with `cancel_at`,
/// its wall-clock schedule stops at the first punctuation at or after that time.
struct Ticker {
    kind: PunctuationType,
    interval: u64,
    cancel_at: Option<i64>,
    schedule: Option<Schedule>,
}

impl Processor<String, String, String, String> for Ticker {
    fn init(&mut self, ctx: &mut Ctx<'_>) -> Result<(), StreamsError> {
        self.schedule = Some(ctx.schedule(Duration::from_millis(self.interval), self.kind)?);
        Ok(())
    }

    fn process(&mut self, _: Record<String, String>, _: &mut Ctx<'_>) -> Result<(), StreamsError> {
        Ok(())
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        assert_eq!(Some(schedule), self.schedule);
        assert!(
            ctx.record_metadata().is_none(),
            "no record in a punctuation"
        );
        if self.cancel_at.is_some_and(|at| timestamp >= at) {
            ctx.cancel(schedule);
        }
        let kind = format!("{:?}", self.kind);
        ctx.forward(Record::new(kind, timestamp.to_string(), timestamp))
    }
}

fn ticker_driver(ticker: fn() -> Ticker, wall_clock: i64) -> TestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(ticker, &[])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    TestDriver::with_wall_clock(b.build().unwrap(), &StreamsConfig::new(), wall_clock).unwrap()
}

fn values(driver: &TestDriver) -> Vec<String> {
    driver
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_values_to_list()
        .unwrap()
}

#[test]
fn wall_clock_punctuations_fire_an_interval_after_scheduling_and_skip_missed_times() {
    let driver = ticker_driver(
        || Ticker {
            kind: PunctuationType::WallClockTime,
            interval: 100,
            cancel_at: Some(1_500),
            schedule: None,
        },
        1_000,
    );
    let ms = Duration::from_millis;
    driver.advance_wall_clock_time(ms(99)).unwrap();
    assert!(values(&driver).is_empty(), "not due before 1100");
    driver.advance_wall_clock_time(ms(1)).unwrap();
    assert_eq!(values(&driver), ["1100"]);
    // a jump over several times: one call, at the time reached; then on the grid again
    driver.advance_wall_clock_time(ms(250)).unwrap();
    assert_eq!(values(&driver), ["1350"]);
    driver.advance_wall_clock_time(ms(49)).unwrap();
    assert!(values(&driver).is_empty(), "next at 1400");
    driver.advance_wall_clock_time(ms(1)).unwrap();
    assert_eq!(values(&driver), ["1400"]);
    // records do not move the wall clock
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input
        .pipe_input_at("k".into(), "v".into(), 1_000_000)
        .unwrap();
    assert!(values(&driver).is_empty());
    // cancelled from within its punctuation at 1500: nothing after
    driver.advance_wall_clock_time(ms(100)).unwrap();
    assert_eq!(values(&driver), ["1500"]);
    driver.advance_wall_clock_time(ms(1_000)).unwrap();
    assert!(values(&driver).is_empty(), "cancelled");
}

#[test]
fn stream_time_punctuations_follow_the_largest_timestamp_on_a_grid_from_zero() {
    let driver = ticker_driver(
        || Ticker {
            kind: PunctuationType::StreamTime,
            interval: 10,
            cancel_at: None,
            schedule: None,
        },
        0,
    );
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    let mut at = |ts: i64| {
        input.pipe_input_at("k".into(), "v".into(), ts).unwrap();
        values(&driver)
    };
    assert!(values(&driver).is_empty(), "no stream time before a record");
    assert_eq!(at(3), ["3"], "due at 0 as soon as stream time is known");
    assert!(at(9).is_empty());
    assert_eq!(at(10), ["10"]);
    assert!(
        at(2).is_empty(),
        "an older record does not move stream time"
    );
    assert_eq!(at(47), ["47"], "one call for the times jumped over");
    assert_eq!(at(50), ["50"]);
    // the end of time: one last punctuation, then the schedule has no time left
    assert_eq!(at(i64::MAX), [i64::MAX.to_string()]);
    assert!(at(i64::MAX).is_empty());
    driver
        .advance_wall_clock_time(Duration::from_secs(3_600))
        .unwrap();
    assert!(
        values(&driver).is_empty(),
        "the wall clock does not move stream time"
    );
}

/// Keeps the last value per key and the number of records; reports the record's metadata,
/// stream time and headers; adds a header.
struct Keeper;

impl Processor<String, String, String, String> for Keeper {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        let mut last = ctx.key_value_store::<String, String>("last")?;
        let before = last.put_if_absent(&record.key, &record.value)?;
        if before.is_some() {
            last.put(&record.key, &record.value)?;
        }
        if record.value == "forget" {
            last.delete(&record.key)?;
        }
        let mut total = ctx.key_value_store::<String, i64>("total")?;
        let n = total.get(&"n".to_string())?.unwrap_or(0) + 1;
        total.put(&"n".to_string(), &n)?;
        let m = ctx.record_metadata().unwrap();
        let seen = format!(
            "{}/{}/{} st={} h={:?} before={before:?} task={}",
            m.topic(),
            m.partition(),
            m.offset(),
            ctx.current_stream_time_ms(),
            record.last_header("trace").map(|v| v.map(<[u8]>::to_vec)),
            ctx.task_id()
        );
        ctx.forward(record.with_value(seen).with_header("by", Some(b"keeper")))
    }
}

#[test]
fn processors_keep_state_in_logged_stores_and_see_each_records_metadata_and_headers() {
    let b = StreamsBuilder::new();
    b.add_state_store(StoreBuilder::key_value(
        "last",
        Serdes::string(),
        Serdes::string(),
    ))
    .add_state_store(
        StoreBuilder::persistent_key_value("total", Serdes::string(), Serdes::long())
            .with_logging_disabled(),
    );
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process_named("keeper", || Keeper, &["last", "total"])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        // (in the order of Java's hash set, as Kafka Streams prints them)
        described.contains("Processor: keeper (stores: [total, last])"),
        "{described}"
    );
    let config = StreamsConfig::new().with("application.id", "app");
    let driver = TestDriver::with_config(topology, &config).unwrap();
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at("a".into(), "1".into(), 5).unwrap();
    input
        .pipe_record(tributary_streams::TestRecord {
            key: "a".into(),
            value: "2".into(),
            timestamp: 3,
            headers: vec![("trace".into(), Some(b"t-1".to_vec()))],
        })
        .unwrap();
    input.pipe_input_at("b".into(), "forget".into(), 9).unwrap();
    let out: Vec<_> = driver
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
        .unwrap();
    let seen: Vec<&str> = out.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(
        seen,
        [
            "in/0/0 st=5 h=None before=None task=0_0",
            "in/0/1 st=5 h=Some(Some([116, 45, 49])) before=Some(\"1\") task=0_0",
            "in/0/2 st=9 h=None before=None task=0_0",
        ]
    );
    // the input's headers travel on, with the one added after them
    assert_eq!(
        out[1].headers,
        [
            ("trace".to_string(), Some(b"t-1".to_vec())),
            ("by".to_string(), Some(b"keeper".to_vec())),
        ]
    );
    assert_eq!(out[1].timestamp, 3);
    // the stores hold what the processor left; only "last" is logged, at the records' times
    let last = driver
        .key_value_store("last", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(last.get(&"a".to_string()).unwrap(), Some("2".to_string()));
    assert_eq!(last.get(&"b".to_string()).unwrap(), None);
    let total = driver
        .key_value_store("total", Serdes::string(), Serdes::long())
        .unwrap();
    assert_eq!(total.get(&"n".to_string()).unwrap(), Some(3));
    let changelog: Vec<_> = driver
        .output_topic(
            "app-last-changelog",
            Serdes::string(),
            Serdes::nullable(Serdes::string()),
        )
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        changelog,
        [
            ("a".to_string(), Some("1".to_string()), 5),
            ("a".to_string(), Some("2".to_string()), 3),
            ("b".to_string(), Some("forget".to_string()), 9),
            ("b".to_string(), None, 9),
        ]
    );
    assert!(!driver
        .produced_topics()
        .contains(&"app-total-changelog".to_string()));
}

/// Counts how many processors were closed; fails its `init` when told to.
struct Closing {
    closed: Arc<AtomicUsize>,
    fail_init: bool,
}

impl Processor<String, String, String, String> for Closing {
    fn init(&mut self, _: &mut Ctx<'_>) -> Result<(), StreamsError> {
        if self.fail_init {
            return Err(StreamsError::Config("cannot start".to_string()));
        }
        Ok(())
    }

    fn process(&mut self, _: Record<String, String>, _: &mut Ctx<'_>) -> Result<(), StreamsError> {
        Ok(())
    }

    fn close(&mut self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A topology of two processors in a row, the second failing its `init` when told to.
fn closing(closed: &Arc<AtomicUsize>, fail_init: bool) -> tributary_streams::Topology {
    let b = StreamsBuilder::new();
    let (first, second) = (Arc::clone(closed), Arc::clone(closed));
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(
            move || Closing {
                closed: Arc::clone(&first),
                fail_init: false,
            },
            &[],
        )
        .process(
            move || Closing {
                closed: Arc::clone(&second),
                fail_init,
            },
            &[],
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

#[test]
fn processors_are_closed_with_their_task_unless_their_init_failed() {
    let closed = Arc::new(AtomicUsize::new(0));
    let driver = TestDriver::new(closing(&closed, false));
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input("k".into(), "v".into()).unwrap();
    assert_eq!(closed.load(Ordering::SeqCst), 0);
    driver.close();
    assert_eq!(closed.load(Ordering::SeqCst), 2);
    drop((driver, input));
    assert_eq!(closed.load(Ordering::SeqCst), 2, "closed once");

    let closed = Arc::new(AtomicUsize::new(0));
    let err = TestDriver::with_config(closing(&closed, true), &StreamsConfig::new())
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "cannot start");
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "only the processor whose init succeeded is closed"
    );
}

/// Uses store `store` as `String -> i64`, and schedules every `interval` ms.
struct Misuse {
    store: &'static str,
    interval: u64,
}

impl Processor<String, String, String, String> for Misuse {
    fn init(&mut self, ctx: &mut Ctx<'_>) -> Result<(), StreamsError> {
        ctx.schedule(
            Duration::from_millis(self.interval),
            PunctuationType::StreamTime,
        )?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        ctx.key_value_store::<String, i64>(self.store)?
            .put(&record.key, &1)
    }
}

fn misuse(store: &'static str, added: &[&str], connected: &[&str], interval: u64) -> String {
    let b = StreamsBuilder::new();
    for name in added {
        b.add_state_store(StoreBuilder::key_value(
            name,
            Serdes::string(),
            Serdes::string(),
        ));
    }
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(move || Misuse { store, interval }, connected)
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = match b.build() {
        Ok(t) => t,
        Err(e) => return e.to_string(),
    };
    let driver = match TestDriver::with_config(topology, &StreamsConfig::new()) {
        Ok(d) => d,
        Err(e) => return e.to_string(),
    };
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    match input.pipe_input("k".into(), "v".into()) {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn misused_stores_and_schedules_are_clear_errors() {
    assert_eq!(
        misuse("s", &[], &["s"], 10),
        "Invalid topology: StateStore s is not added yet (processor KSTREAM-PROCESSOR-0000000001)."
    );
    assert!(misuse("s", &["s"], &[], 10)
        .starts_with("Processor KSTREAM-PROCESSOR-0000000001 has no access to StateStore s"));
    assert_eq!(
        misuse("s", &["s"], &["s"], 10),
        "store s does not hold keys of alloc::string::String and values of i64"
    );
    assert_eq!(
        misuse("s", &["s"], &["s"], 0),
        "The minimum supported scheduling interval is 1 millisecond."
    );
    let b = StreamsBuilder::new();
    b.add_state_store(StoreBuilder::key_value(
        "twice",
        Serdes::string(),
        Serdes::string(),
    ))
    .add_state_store(StoreBuilder::key_value(
        "twice",
        Serdes::string(),
        Serdes::long(),
    ));
    assert_eq!(
        b.build().err().unwrap().to_string(),
        "Invalid topology: A different StateStore has already been added with the name twice"
    );
}

/// Upper-cases values and stamps them 1 ms later, keys untouched.
struct Shout;

impl FixedKeyProcessor<String, String, String> for Shout {
    fn process(
        &mut self,
        record: FixedKeyRecord<String, String>,
        ctx: &mut FixedKeyProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let shouted = record.value.to_uppercase();
        let timestamp = record.timestamp + 1;
        assert_eq!(ctx.record_metadata().unwrap().topic(), "in");
        ctx.forward(
            record
                .with_value(shouted)
                .with_timestamp(timestamp)
                .with_header("shouted", None),
        )
    }
}

#[test]
fn value_processors_keep_keys_so_groupings_after_them_need_no_repartition() {
    let b = StreamsBuilder::new();
    let shouted = b
        .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process_values(|| Shout, &[]);
    shouted.to("loud", Produced::with(Serdes::string(), Serdes::string()));
    shouted
        .group_by_key(tributary_streams::Grouped::new())
        .count()
        .to_stream()
        .to(
            "counts",
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
        );
    let topology = b.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        described.contains("KSTREAM-PROCESSVALUES-0000000001"),
        "{described}"
    );
    assert!(!described.contains("repartition"), "{described}");
    let driver = TestDriver::new(topology);
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at("k".into(), "hey".into(), 10).unwrap();
    input.pipe_input_at("k".into(), "you".into(), 20).unwrap();
    let loud = driver
        .output_topic("loud", Serdes::string(), Serdes::string())
        .read_records_to_list()
        .unwrap();
    assert_eq!(
        loud.iter()
            .map(|r| (r.key.as_str(), r.value.as_str(), r.timestamp))
            .collect::<Vec<_>>(),
        [("k", "HEY", 11), ("k", "YOU", 21)]
    );
    assert_eq!(loud[0].headers, [("shouted".to_string(), None)]);
    let counts = driver
        .output_topic("counts", Serdes::string(), Serdes::nullable(Serdes::long()))
        .read_values_to_list()
        .unwrap();
    assert_eq!(counts, [Some(1), Some(2)]);
}

/// Sends even numbers to the child named "to-evens", odd ones to "to-odds"; "0" to a child
/// that does not exist.
struct Router;

impl Processor<String, String, String, String> for Router {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        let n: i64 = record.value.parse().unwrap();
        let child = match n {
            0 => "nowhere",
            n if n % 2 == 0 => "to-evens",
            _ => "to-odds",
        };
        ctx.forward_to(record, child)
    }
}

#[test]
fn processors_forward_to_a_child_by_its_name() {
    let b = StreamsBuilder::new();
    let s = Serdes::string;
    let routed = b
        .stream("in", Consumed::with(s(), s()))
        .process_named("router", || Router, &[]);
    routed.to("evens", Produced::with(s(), s()).named("to-evens"));
    routed.to("odds", Produced::with(s(), s()).named("to-odds"));
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("in", s(), s());
    for (i, n) in ["1", "2", "3", "4"].into_iter().enumerate() {
        input.pipe_input_at("k".into(), n.into(), i as i64).unwrap();
    }
    let read = |topic: &str| {
        driver
            .output_topic(topic, s(), s())
            .read_values_to_list()
            .unwrap()
    };
    assert_eq!(read("evens"), ["2", "4"]);
    assert_eq!(read("odds"), ["1", "3"]);
    let err = input.pipe_input_at("k".into(), "0".into(), 9).unwrap_err();
    assert!(
        err.to_string().contains(
            "Unknown downstream node: nowhere either does not exist or is not connected to this processor."
        ),
        "{err}"
    );
}

/// Forwards a record unless its key was seen within the last 10 s (a window per record, by
/// its timestamp); reports what the window store holds for the key.
struct Dedup;

impl Processor<String, String, String, String> for Dedup {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        let ts = record.timestamp;
        let mut seen = ctx.window_store::<String, String>("seen")?;
        let recent = seen.fetch_range(&record.key, ts - 10_000, ts)?;
        seen.put(&record.key, &record.value, ts)?;
        let held = seen.all()?.len();
        let first = seen.fetch(&record.key, ts)?;
        if recent.is_empty() {
            let value = format!("{} held={held} at={first:?}", record.value);
            ctx.forward(record.with_value(value))?;
        }
        Ok(())
    }
}

#[test]
fn processors_keep_windows_in_window_stores_logged_with_kafkas_window_keys() {
    let b = StreamsBuilder::new();
    let s = Serdes::string;
    b.add_state_store(
        StoreBuilder::window(
            "seen",
            Duration::from_secs(60),
            Duration::from_secs(10),
            s(),
            s(),
        )
        .unwrap(),
    );
    b.stream("in", Consumed::with(s(), s()))
        .process(|| Dedup, &["seen"])
        .to("out", Produced::with(s(), s()));
    let config = StreamsConfig::new().with("application.id", "app");
    let driver = TestDriver::with_config(b.build().unwrap(), &config).unwrap();
    let mut input = driver.input_topic("in", s(), s());
    input.pipe_input_at("a".into(), "a1".into(), 1_000).unwrap();
    input.pipe_input_at("a".into(), "a2".into(), 5_000).unwrap(); // within 10 s of a1
    input.pipe_input_at("b".into(), "b1".into(), 6_000).unwrap();
    input
        .pipe_input_at("a".into(), "a3".into(), 20_000)
        .unwrap();
    // stream time 100 s: the windows of 1 s to 20 s are past the retention of 60 s
    input
        .pipe_input_at("c".into(), "c1".into(), 100_000)
        .unwrap();
    let out = driver
        .output_topic("out", s(), s())
        .read_values_to_list()
        .unwrap();
    assert_eq!(
        out,
        [
            "a1 held=1 at=Some(\"a1\")",
            "b1 held=3 at=Some(\"b1\")",
            "a3 held=4 at=Some(\"a3\")",
            "c1 held=1 at=Some(\"c1\")",
        ]
    );
    // the changelog's keys are Kafka's window keys: the key, the window start, a sequence
    // number
    let changelog = driver
        .output_topic("app-seen-changelog", Serdes::byte_array(), s())
        .read_records_to_list()
        .unwrap();
    let mut first_key = b"a".to_vec();
    first_key.extend_from_slice(&1_000i64.to_be_bytes());
    first_key.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(changelog.len(), 5);
    assert_eq!(changelog[0].key, first_key);
    assert_eq!(
        (changelog[0].value.as_str(), changelog[0].timestamp),
        ("a1", 1_000)
    );
    // interactive queries read it as a window store
    let store = driver.window_store("seen", s(), s()).unwrap();
    assert_eq!(
        store.fetch(&"c".to_string(), 100_000).unwrap(),
        Some("c1".to_string())
    );
    assert_eq!(store.fetch(&"a".to_string(), 1_000).unwrap(), None);
    // and a window store is not a key-value store
    assert!(StoreBuilder::<String, String>::window(
        "short",
        Duration::from_secs(1),
        Duration::from_secs(10),
        s(),
        s()
    )
    .err()
    .unwrap()
    .to_string()
    .contains("must be no smaller than its window size"));
}

/// Counts records per key in sessions of activity with 5 s gaps, merging the sessions a record
/// joins (Kafka's session windows, by hand); forwards each session's count.
struct Sessions;

impl Processor<String, String, String, String> for Sessions {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamsError> {
        let ts = record.timestamp;
        let mut store = ctx.session_store::<String, i64>("sessions")?;
        let near = store.find_sessions(&record.key, ts - 5_000, ts + 5_000)?;
        let (mut start, mut end, mut count) = (ts, ts, 1);
        for (session, n) in &near {
            start = start.min(session.window.start);
            end = end.max(session.window.end);
            count += n;
            store.remove(session)?;
        }
        let merged = Windowed {
            key: record.key.clone(),
            window: Window { start, end },
        };
        store.put(&merged, &count)?;
        assert_eq!(store.fetch_session(&record.key, start, end)?, Some(count));
        let all = store.fetch(&record.key)?.len();
        let value = format!("[{start},{end}]={count} sessions={all}");
        ctx.forward(record.with_value(value))
    }
}

#[test]
fn processors_keep_sessions_in_session_stores_logged_with_kafkas_session_keys() {
    let b = StreamsBuilder::new();
    let s = Serdes::string;
    b.add_state_store(StoreBuilder::session(
        "sessions",
        Duration::from_secs(60),
        s(),
        Serdes::long(),
    ));
    b.stream("in", Consumed::with(s(), s()))
        .process(|| Sessions, &["sessions"])
        .to("out", Produced::with(s(), s()));
    let config = StreamsConfig::new().with("application.id", "app");
    let driver = TestDriver::with_config(b.build().unwrap(), &config).unwrap();
    let mut input = driver.input_topic("in", s(), s());
    for (key, ts) in [
        ("a", 1_000),
        ("a", 4_000),
        ("a", 20_000),
        ("b", 21_000),
        ("a", 12_000),
    ] {
        input.pipe_input_at(key.into(), "x".into(), ts).unwrap();
    }
    let out = driver
        .output_topic("out", s(), s())
        .read_values_to_list()
        .unwrap();
    assert_eq!(
        out,
        [
            "[1000,1000]=1 sessions=1",
            "[1000,4000]=2 sessions=1",
            "[20000,20000]=1 sessions=2",
            "[21000,21000]=1 sessions=1",
            // 12 s is more than 5 s from 4 s and from 20 s: a session of its own
            "[12000,12000]=1 sessions=3",
        ]
    );
    // the changelog's keys are Kafka's session keys: the key, the end, the start; a merged
    // session's parts are removed with tombstones
    let changelog = driver
        .output_topic(
            "app-sessions-changelog",
            Serdes::byte_array(),
            Serdes::nullable(Serdes::long()),
        )
        .read_records_to_list()
        .unwrap();
    let mut merged = b"a".to_vec();
    merged.extend_from_slice(&4_000i64.to_be_bytes());
    merged.extend_from_slice(&1_000i64.to_be_bytes());
    let values: Vec<Option<i64>> = changelog.iter().map(|r| r.value).collect();
    assert_eq!(values, [Some(1), None, Some(2), Some(1), Some(1), Some(1)]);
    assert_eq!(changelog[2].key, merged);
    let store = driver
        .session_store("sessions", s(), Serdes::long())
        .unwrap();
    let sessions: Vec<(i64, i64, i64)> = store
        .fetch(&"a".to_string())
        .unwrap()
        .into_iter()
        .map(|(w, n)| (w.window.start, w.window.end, n))
        .collect();
    assert_eq!(
        sessions,
        [(1_000, 4_000, 2), (12_000, 12_000, 1), (20_000, 20_000, 1)]
    );
}
