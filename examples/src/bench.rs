//! The topologies of the streams benchmark (`scripts/bench-streams.sh`), built the same way as
//! their Java twins in `scripts/java/StreamsBench.java`: each counts the records its source
//! reads, so that the benchmark measures records per second from the first record to the last.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tributary_streams::{
    Consumed, Grouped, Produced, Serdes, StreamsBuilder, StreamsError, TimeWindows, Topology,
    Windowed,
};

/// Which app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum App {
    /// filter + map_values, written to the output topic.
    Stateless,
    /// count per key, the counts written to the output topic.
    Count,
    /// count per key in 1-second tumbling windows, written to the output topic.
    Windowed,
}

/// The app's topology; `seen` counts the records read.
pub fn topology(
    app: App,
    input: &str,
    output: &str,
    seen: Arc<AtomicU64>,
) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new();
    let bytes = || Serdes::nullable(Serdes::byte_array());
    let source = b
        .stream(input, Consumed::with(bytes(), bytes()))
        .peek(move |_, _| {
            seen.fetch_add(1, Ordering::Relaxed);
        });
    match app {
        App::Stateless => source
            .filter(|_, v: &Option<Vec<u8>>| v.as_ref().is_some_and(|v| !v.is_empty()))
            .map_values(|v: &Option<Vec<u8>>| v.as_ref().map_or(0, Vec::len) as i64)
            .to(output, Produced::with(bytes(), Serdes::long())),
        App::Count => source
            .group_by_key(Grouped::with(bytes(), bytes()))
            .count()
            .to_stream()
            .to(
                output,
                Produced::with(bytes(), Serdes::nullable(Serdes::long())),
            ),
        App::Windowed => source
            .group_by_key(Grouped::with(bytes(), bytes()))
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(1))?)
            .count()
            .to_stream()
            .map(|k: &Windowed<Option<Vec<u8>>>, v: &Option<i64>| (k.key.clone(), *v))
            .to(
                output,
                Produced::with(bytes(), Serdes::nullable(Serdes::long())),
            ),
    }
    b.build()
}

/// The process's peak resident memory (`VmHWM`), in KiB, where Linux reports it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
