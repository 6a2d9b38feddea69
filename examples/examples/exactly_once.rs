//! Consume-transform-produce, exactly once: reads INPUT, writes each value upper-cased to
//! OUTPUT, and commits the input offsets in the same transaction.
//!
//! ```text
//! cargo run -p tributary-examples --example exactly_once -- [BOOTSTRAP] [INPUT] [OUTPUT] [GROUP]
//! ```
//!
//! Kill it at any moment (even `kill -9`) and start it again: the output, read with
//! `tributary consume OUTPUT -X isolation.level=read_committed --from-beginning`, holds every
//! input record's result exactly once.

use std::time::Duration;

use tributary_examples::exactly_once::Pipeline;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let input = args.next().unwrap_or_else(|| "events".into());
    let output = args.next().unwrap_or_else(|| "events-upper".into());
    let group = args.next().unwrap_or_else(|| "exactly_once-example".into());
    let pipeline = Pipeline::new(&bootstrap, &input, &output, &group, &format!("{group}-tx"))?;
    eprintln!("{input} -> {output} as group {group}, exactly once; Ctrl-C to stop");
    loop {
        let n = pipeline.step(500, Duration::from_secs(1), |v| v.to_ascii_uppercase())?;
        if n > 0 {
            eprintln!("committed {n} records");
        }
    }
}
