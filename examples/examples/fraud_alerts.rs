//! Fraud alerts from session windows: a burst of payments on one card (at least
//! `--min-payments`, none more than `--gap-ms` apart) raises one alert when the burst is over.
//!
//! ```text
//! cargo run --release -p tributary-examples --example fraud_alerts -- \
//!     --bootstrap-server HOST:PORT --input TOPIC --output TOPIC [--gap-ms 300000] [--min-payments 3]
//! ```
//!
//! Input records: key = card, value = `{"amount": 12.5, "merchant": "..."}`. Output: key = card,
//! value = `{"card":..,"session_start":..,"session_end":..,"payments":..,"total":..}`.

use std::time::Duration;

use clap::Parser;
use tributary_examples::app::{self, AppArgs};

#[derive(Parser)]
#[command(about = "Raises an alert for each burst of payments on one card")]
struct Args {
    /// The topic of payments (key: card).
    #[arg(long, default_value = "payments")]
    input: String,
    /// The topic of alerts.
    #[arg(long, default_value = "fraud-alerts")]
    output: String,
    /// The application id.
    #[arg(long, default_value = "fraud-alerts")]
    application_id: String,
    /// The inactivity gap that ends a burst (ms).
    #[arg(long, default_value_t = 300_000)]
    gap_ms: u64,
    /// How late a payment may come (ms).
    #[arg(long, default_value_t = 0)]
    grace_ms: u64,
    /// The payments a burst needs to raise an alert.
    #[arg(long, default_value_t = 3)]
    min_payments: i64,
    #[command(flatten)]
    app: AppArgs,
}

fn main() -> anyhow::Result<()> {
    app::init_logging();
    let args = Args::parse();
    let topology = tributary_examples::fraud_alerts::topology(
        &args.input,
        &args.output,
        Duration::from_millis(args.gap_ms),
        Duration::from_millis(args.grace_ms),
        args.min_payments,
    )?;
    app::run(topology, args.app.config(&args.application_id, &[]))
}
