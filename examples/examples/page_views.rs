//! Page views per user per minute, each window's count written once, when it has closed.
//!
//! ```text
//! cargo run --release -p tributary-examples --example page_views -- \
//!     --bootstrap-server HOST:PORT --input TOPIC --output TOPIC [--window-ms 60000] [--grace-ms 10000]
//! ```
//!
//! Input records: key = user, value = page. Output: key = user, value =
//! `{"user":..,"window_start":..,"window_end":..,"views":..}`. A window's count comes out once
//! the input's time (per partition) has passed the window's end plus the grace period.

use std::time::Duration;

use clap::Parser;
use tributary_examples::app::{self, AppArgs};

#[derive(Parser)]
#[command(about = "Counts page views per user per window, emitting each window once")]
struct Args {
    /// The topic of page views (key: user).
    #[arg(long, default_value = "pageviews")]
    input: String,
    /// The topic of counts.
    #[arg(long, default_value = "pageviews-per-window")]
    output: String,
    /// The application id.
    #[arg(long, default_value = "page-views")]
    application_id: String,
    /// The window size (ms).
    #[arg(long, default_value_t = 60_000)]
    window_ms: u64,
    /// How late a view may come after its window's end (ms).
    #[arg(long, default_value_t = 10_000)]
    grace_ms: u64,
    #[command(flatten)]
    app: AppArgs,
}

fn main() -> anyhow::Result<()> {
    app::init_logging();
    let args = Args::parse();
    let topology = tributary_examples::page_views::topology(
        &args.input,
        &args.output,
        Duration::from_millis(args.window_ms),
        Duration::from_millis(args.grace_ms),
    )?;
    app::run(topology, args.app.config(&args.application_id, &[]))
}
