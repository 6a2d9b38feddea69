//! One run of the streams benchmark: runs an app (stateless, count, windowed) over an input
//! topic that already holds `--records` records, and prints its records per second (from the
//! first record read to the last) and its peak memory. `scripts/bench-streams.sh` runs it next
//! to a plain consumer and to the same apps in Java Kafka Streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tributary_examples::app::AppArgs;
use tributary_examples::bench::{peak_rss_kib, topology, App};
use tributary_streams::KafkaStreams;

/// mimalloc, as the `tributary` binary uses (an app's choice; the JVM brings its own).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Measures a streams app's records per second over a filled topic")]
struct Args {
    /// The app.
    #[arg(long, value_enum)]
    app: App,
    /// The input topic.
    #[arg(long)]
    input: String,
    /// The output topic.
    #[arg(long)]
    output: String,
    /// The application id (fresh for each run).
    #[arg(long)]
    application_id: String,
    /// How many records the input holds.
    #[arg(long)]
    records: u64,
    #[command(flatten)]
    app_args: AppArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seen = Arc::new(AtomicU64::new(0));
    let topology = topology(args.app, &args.input, &args.output, Arc::clone(&seen))?;
    let config = args
        .app_args
        .config(&args.application_id, &[("auto.offset.reset", "earliest")]);
    let streams = KafkaStreams::new(topology, config)?;
    streams.start()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<Instant> = None;
    while seen.load(Ordering::Relaxed) < args.records && Instant::now() < deadline {
        if first.is_none() && seen.load(Ordering::Relaxed) > 0 {
            first = Some(Instant::now());
        }
        if let Some(e) = streams.error() {
            anyhow::bail!("the app failed: {e}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = first.map_or(Duration::ZERO, |f| f.elapsed());
    let n = seen.load(Ordering::Relaxed);
    streams.close();
    let rate = n as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "RESULT impl=tributary app={:?} records={n} seconds={:.3} records_per_sec={rate:.0} peak_rss_kib={}",
        args.app,
        elapsed.as_secs_f64(),
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}
