//! Kafka's word count on the streams library: reads lines from INPUT and writes each word's
//! running count to OUTPUT (key: the word; value: the count as an 8-byte big-endian long).
//!
//! ```text
//! cargo run --release -p tributary-examples --example word_count -- \
//!     --bootstrap-server HOST:PORT --input TOPIC --output TOPIC --application-id ID [--exactly-once]
//! ```
//!
//! Runs until Ctrl-C (or SIGTERM), then commits and leaves its group. Start it twice with the same
//! application id and the two instances share the work.

use clap::Parser;
use tributary_examples::app::{self, AppArgs};

#[derive(Parser)]
#[command(about = "Counts the words of a topic's lines, as Kafka's WordCountDemo does")]
struct Args {
    /// The topic of lines.
    #[arg(long, default_value = "streams-plaintext-input")]
    input: String,
    /// The topic of counts.
    #[arg(long, default_value = "streams-wordcount-output")]
    output: String,
    /// The application id (the consumer group and the prefix of internal topics).
    #[arg(long, default_value = "streams-wordcount")]
    application_id: String,
    #[command(flatten)]
    app: AppArgs,
}

fn main() -> anyhow::Result<()> {
    app::init_logging();
    let args = Args::parse();
    // every update goes out, as in Kafka's demo (which sets the cache to 0 too)
    let config = args
        .app
        .config(&args.application_id, &[("statestore.cache.max.bytes", "0")]);
    let topology = tributary_examples::word_count::topology(&args.input, &args.output)?;
    app::run(topology, config)
}
