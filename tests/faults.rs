//! The fault suite, short form (see `testkit::faults` and docs/replication.md): for each fault
//! kind, a fresh cluster of three `tributary server` processes, idempotent, transactional and
//! consuming clients, the fault injected again and again until the clients have done at least
//! 2,000 operations, then a final read, a byte comparison of the replica logs, and the checker.
//! Any anomaly fails the test.
//!
//! Environment: `TRIBUTARY_FAULT_OPS` (operations per kind, default 2000),
//! `TRIBUTARY_FAULT_KINDS` (comma list, default all), `TRIBUTARY_FAULT_MIN_FAULTS` (faults per
//! kind at least, default 6), `TRIBUTARY_FAULT_SEED`,
//! `TRIBUTARY_FAULT_DIR` (keep every run's history and node logs there),
//! `TRIBUTARY_FAULT_DEFAULT_TIMEOUTS=1` (Kafka's default timeouts instead of short ones).
//! The `partition` kind needs root and `ip` (network namespaces); without them it is skipped
//! with a notice.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tributary_testkit::faults::{self, FaultKind, Netns, RunConfig};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_anomaly_under_kills_pauses_partitions_and_rolling_restarts() {
    let kinds: Vec<FaultKind> = match std::env::var("TRIBUTARY_FAULT_KINDS") {
        Ok(list) => list
            .split(',')
            .map(|k| FaultKind::parse(k.trim()).unwrap_or_else(|| panic!("unknown kind {k}")))
            .collect(),
        Err(_) => FaultKind::ALL.to_vec(),
    };
    let min_ops = env_or("TRIBUTARY_FAULT_OPS", 2000usize);
    let seed = env_or("TRIBUTARY_FAULT_SEED", std::process::id() as u64);
    let keep = std::env::var("TRIBUTARY_FAULT_DIR").ok().map(PathBuf::from);
    let base = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(tributary_testkit::unique_name("tributary-faults"))
    });
    let netns = Netns::available();
    println!(
        "fault suite: seed {seed}, {min_ops} operations per kind, data in {}",
        base.display()
    );
    let mut failed = Vec::new();
    for kind in kinds {
        if kind.needs_netns() && !netns {
            println!(
                "{}: SKIPPED (needs root and `ip` for network namespaces)",
                kind.name()
            );
            continue;
        }
        let config = RunConfig {
            binary: env!("CARGO_BIN_EXE_tributary").into(),
            kind,
            min_ops,
            min_faults: env_or("TRIBUTARY_FAULT_MIN_FAULTS", 6usize),
            seed,
            dir: base.join(format!("{}-{seed}", kind.name())),
            netns,
            default_timeouts: env_or("TRIBUTARY_FAULT_DEFAULT_TIMEOUTS", 0u8) == 1,
        };
        match faults::run(config).await {
            Ok(summary) => {
                println!(
                    "== {}: {} faults in {:.0?}\n{}",
                    kind.name(),
                    summary.faults,
                    summary.elapsed,
                    summary.report
                );
                for problem in &summary.problems {
                    println!("problem: {problem}");
                }
                if !summary.report.anomalies.is_empty() || !summary.problems.is_empty() {
                    failed.push(format!(
                        "{}: anomalies, see {}",
                        kind.name(),
                        summary.dir.display()
                    ));
                }
            }
            Err(e) => failed.push(format!("{}: run failed: {e}", kind.name())),
        }
    }
    if failed.is_empty() && keep.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    assert!(
        failed.is_empty(),
        "fault suite failed (seed {seed}):\n{}",
        failed.join("\n")
    );
}
