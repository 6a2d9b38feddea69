//! The word count as a service: counts the words of INPUT's lines (writing the counts to
//! OUTPUT too) and answers `GET /count/{word}` on LISTEN for any word, asking the instance
//! that holds it when that is another one. Start it twice (or more) with the same application
//! id and different `--listen` addresses: the partitions, the counting and the queries spread
//! over the instances; stop one and the others take its words over.
//!
//! ```text
//! cargo run --release -p tributary-examples --example word_count_service -- \
//!     --bootstrap-server HOST:PORT --input TOPIC --output TOPIC --application-id ID \
//!     --listen 127.0.0.1:7070
//! curl http://127.0.0.1:7070/count/hello
//! curl http://127.0.0.1:7070/instances
//! ```

use std::sync::Arc;

use clap::Parser;
use tributary_examples::app::{self, AppArgs};
use tributary_streams::HostInfo;

#[derive(Parser)]
#[command(about = "Counts words over several instances and answers queries for any word")]
struct Args {
    /// The topic of lines.
    #[arg(long, default_value = "streams-plaintext-input")]
    input: String,
    /// The topic of counts.
    #[arg(long, default_value = "streams-wordcount-output")]
    output: String,
    /// The application id (the consumer group and the prefix of internal topics).
    #[arg(long, default_value = "streams-wordcount-service")]
    application_id: String,
    /// Where this instance answers queries (host:port), which the other instances are told
    /// (`application.server`).
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: String,
    #[command(flatten)]
    app: AppArgs,
}

fn main() -> anyhow::Result<()> {
    app::init_logging();
    let args = Args::parse();
    let me = args
        .listen
        .rsplit_once(':')
        .and_then(|(host, port)| {
            Some(HostInfo {
                host: host.to_string(),
                port: port.parse().ok()?,
            })
        })
        .ok_or_else(|| anyhow::anyhow!("--listen takes host:port, not {}", args.listen))?;
    // with one standby copy of each count, a stopped instance's words move to one that has
    // them already
    let config = args.app.config(
        &args.application_id,
        &[
            ("statestore.cache.max.bytes", "0"),
            ("application.server", &args.listen),
            ("num.standby.replicas", "1"),
        ],
    );
    let topology = tributary_examples::word_count::topology(&args.input, &args.output)?;
    let api: app::Api = Box::new(move |streams: Arc<_>| {
        tributary_examples::word_count_service::router(streams, me)
    });
    app::serve(topology, config, Some((args.listen.clone(), api)))
}
