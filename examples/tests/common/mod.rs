//! What the example tests share: the example binaries cargo built, their logs, and reading a
//! topic.

// (each test binary uses a part of this module)
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;
use tributary_testkit::TestBroker;

/// The example binary `name` cargo built next to this test (`target/<profile>/examples/NAME`;
/// `cargo test` builds the examples, a filtered run wants `cargo build --examples` first).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is built by `cargo test`", path.display());
    path
}

/// The app's log, appended to `<tmp>/<app>.log` (kept for a failed run).
pub fn log(app: &str) -> Stdio {
    let path = std::env::temp_dir().join(format!("{app}.log"));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// The records of `topic` (key and value as text), read committed from its start, until `want`
/// of them came or `wait` passed.
pub fn read_text(
    broker: &TestBroker,
    topic: &str,
    want: usize,
    wait: Duration,
) -> Vec<(String, String)> {
    let mut config = broker.consumer_config();
    config.set("isolation.level", "read_committed");
    let consumer: BaseConsumer = config.create().expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    let mut seen = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && seen.len() < want {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            seen.push((text(m.key()), text(m.payload())));
        }
    }
    seen
}
