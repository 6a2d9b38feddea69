//! Windowed aggregations through the `TestDriver`: windowed keys as users read them, window and
//! session stores, suppression, and the errors of bad windows and buffers. (What they emit is
//! compared with Kafka Streams' own driver in `differential.rs`.)

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tributary_streams::{
    BufferConfig, Consumed, Grouped, Materialized, Produced, Serdes, SessionWindows,
    StreamsBuilder, StreamsConfig, Suppressed, TestDriver, TimeWindows, Window, Windowed,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn grouped() -> Grouped<String, String> {
    Grouped::with(Serdes::string(), Serdes::string())
}

fn windowed(key: &str, start: i64, end: i64) -> Windowed<String> {
    Windowed {
        key: key.to_string(),
        window: Window { start, end },
    }
}

fn driver(b: StreamsBuilder) -> TestDriver {
    let config = StreamsConfig::new()
        .with("application.id", "app")
        .with("cache.max.bytes.buffering", 0);
    TestDriver::with_config(b.build().unwrap(), &config).unwrap()
}

#[test]
fn a_tumbling_count_emits_windowed_keys_and_keeps_its_windows_in_a_store() {
    let b = StreamsBuilder::new();
    b.stream("views", strings())
        .group_by_key(grouped())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).unwrap())
        // (kept longer than the windows and their grace, for the queries below)
        .count_with(Materialized::named("views-per-window").with_retention(ms(100)))
        .to_stream()
        .to(
            "counts",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 10),
                Serdes::nullable(Serdes::long()),
            ),
        );
    let d = driver(b);
    let mut input = d.input_topic("views", Serdes::string(), Serdes::string());
    for (user, ts) in [
        ("ann", 1),
        ("bob", 3),
        ("ann", 9),
        ("ann", 12),
        ("ann", 4),
        ("bob", 30),
        ("ann", 2),
    ] {
        input
            .pipe_input_at(user.to_string(), "page".to_string(), ts)
            .unwrap();
    }
    let mut out = d.output_topic(
        "counts",
        Serdes::time_windowed(Serdes::string(), 10),
        Serdes::nullable(Serdes::long()),
    );
    let got: Vec<(Windowed<String>, Option<i64>, i64)> = std::iter::from_fn(|| {
        (!out.is_empty()).then(|| {
            let r = out.read_record().unwrap();
            (r.key, r.value, r.timestamp)
        })
    })
    .collect();
    assert_eq!(
        got,
        vec![
            (windowed("ann", 0, 10), Some(1), 1),
            (windowed("bob", 0, 10), Some(1), 3),
            (windowed("ann", 0, 10), Some(2), 9),
            (windowed("ann", 10, 20), Some(1), 12),
            // late but within the grace period (stream time 12, window closes at 15)
            (windowed("ann", 0, 10), Some(3), 9),
            (windowed("bob", 30, 40), Some(1), 30),
            // ("ann" at 2 comes after the window closed at stream time 30: dropped)
        ]
    );
    let store = d
        .window_store("views-per-window", Serdes::string(), Serdes::long())
        .unwrap();
    assert_eq!(store.fetch(&"ann".to_string(), 0).unwrap(), Some(3));
    assert_eq!(store.fetch(&"ann".to_string(), 20).unwrap(), None);
    assert_eq!(
        store.fetch_range(&"ann".to_string(), 0, 100).unwrap(),
        vec![(0, 3), (10, 1)]
    );
    assert_eq!(store.all().unwrap().len(), 4);
    assert!(d
        .session_store("views-per-window", Serdes::string(), Serdes::long())
        .is_err());
}

#[test]
fn sessions_merge_and_the_store_holds_the_merged_session() {
    let b = StreamsBuilder::new();
    b.stream("clicks", strings())
        .group_by_key(grouped())
        .windowed_by_session(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(10)).unwrap())
        .count_with(Materialized::named("sessions"))
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::session_windowed(Serdes::string()),
                Serdes::nullable(Serdes::long()),
            ),
        );
    let d = driver(b);
    let mut input = d.input_topic("clicks", Serdes::string(), Serdes::string());
    for ts in [0, 10, 5] {
        input.pipe_input_at("k".into(), "c".into(), ts).unwrap();
    }
    let mut out = d.output_topic(
        "out",
        Serdes::session_windowed(Serdes::string()),
        Serdes::nullable(Serdes::long()),
    );
    let got: Vec<(Windowed<String>, Option<i64>, i64)> = std::iter::from_fn(|| {
        (!out.is_empty()).then(|| {
            let r = out.read_record().unwrap();
            (r.key, r.value, r.timestamp)
        })
    })
    .collect();
    // the record at 5 joins both sessions: each is deleted, the merged one holds all three
    assert_eq!(
        got,
        vec![
            (windowed("k", 0, 0), Some(1), 0),
            (windowed("k", 10, 10), Some(1), 10),
            (windowed("k", 0, 0), None, 0),
            (windowed("k", 10, 10), None, 10),
            (windowed("k", 0, 10), Some(3), 10),
        ]
    );
    let store = d
        .session_store("sessions", Serdes::string(), Serdes::long())
        .unwrap();
    assert_eq!(
        store.fetch(&"k".to_string()).unwrap(),
        vec![(windowed("k", 0, 10), 3)]
    );
}

#[test]
fn emit_final_waits_for_the_window_to_close() {
    let b = StreamsBuilder::new();
    b.stream("in", strings())
        .group_by_key(grouped())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(2)).unwrap())
        .count()
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .to(
            "final",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 10),
                Serdes::nullable(Serdes::long()),
            ),
        );
    let d = driver(b);
    let mut input = d.input_topic("in", Serdes::string(), Serdes::string());
    let mut out = d.output_topic(
        "final",
        Serdes::time_windowed(Serdes::string(), 10),
        Serdes::nullable(Serdes::long()),
    );
    for ts in [1, 5, 9, 11] {
        input.pipe_input_at("k".into(), "v".into(), ts).unwrap();
    }
    assert!(out.is_empty(), "the window [0, 10) closes at 12");
    input.pipe_input_at("k".into(), "v".into(), 12).unwrap();
    assert_eq!(
        out.read_key_value().unwrap(),
        (windowed("k", 0, 10), Some(3))
    );
    assert!(out.is_empty());
}

#[test]
fn bad_windows_stores_and_buffers_are_refused_with_clear_errors() {
    // a retention shorter than the windows and their grace
    let b = StreamsBuilder::new();
    let _ = b
        .stream("in", strings())
        .group_by_key(grouped())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).unwrap())
        .count_with(Materialized::named("w").with_retention(ms(12)));
    let err = b.build().err().unwrap().to_string();
    assert!(
        err.contains("The retention period of the window store w must be no smaller than its window size plus the grace period. Got size=[10], grace=[5], retention=[12]"),
        "{err}"
    );

    // emit-final with a buffer that would emit early
    let b = StreamsBuilder::new();
    let _ = b
        .stream("in", strings())
        .group_by_key(grouped())
        .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).unwrap())
        .count()
        .suppress(Suppressed::until_window_closes(BufferConfig::max_records(
            5,
        )));
    let err = b.build().err().unwrap().to_string();
    assert!(err.contains("until_window_closes needs a buffer"), "{err}");

    // a full buffer that must not emit early stops processing with Kafka's message
    let b = StreamsBuilder::new();
    b.stream("in", strings())
        .group_by_key(grouped())
        .count()
        .suppress(
            Suppressed::until_time_limit(
                ms(100),
                BufferConfig::max_records(1).shut_down_when_full(),
            )
            .with_name("limited"),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
        );
    let d = driver(b);
    let mut input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at("a".into(), "v".into(), 1).unwrap();
    let err = input
        .pipe_input_at("b".into(), "v".into(), 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("limited buffer exceeded its max capacity. Currently [2/1] records"),
        "{err}"
    );
}
