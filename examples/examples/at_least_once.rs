//! A consumer group member that processes each batch, then commits it: after a crash the last batch comes again (nothing lost, maybe duplicates).
//!
//! ```text
//! cargo run -p tributary-examples --example at_least_once -- [BOOTSTRAP] [TOPIC] [GROUP]
//! ```
//!
//! Run several at once with the same group: the partitions are shared among them. Stop one
//! with Ctrl-C (or kill it) and start it again to see where it resumes.

use std::time::Duration;

use tributary_examples::delivery::{consumer, run, Semantics};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "events".into());
    let group = args
        .next()
        .unwrap_or_else(|| "at_least_once-example".into());
    let consumer = consumer(&bootstrap, &group, &topic)?;
    eprintln!("consuming {topic} as group {group} (at_least_once); Ctrl-C to stop");
    run(
        &consumer,
        Semantics::AtLeastOnce,
        100,
        usize::MAX,
        Duration::from_secs(1),
        |r| {
            println!("{}\t{}\t{}", r.partition, r.offset, r.value);
            true
        },
    )
}
