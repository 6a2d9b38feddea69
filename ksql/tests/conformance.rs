//! ksqlDB's own query-validation tests that this engine passes completely, run as the
//! `tributary ksql qtt` runner runs them: each variant against a broker of its own.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tributary_ksql::qtt::{self, Verdict};
use tributary_testkit::TestBroker;

fn qtt_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/ksqldb/query-validation-tests")
        .join(name)
}

async fn passes_completely(file: &str) {
    let variants = qtt::load(&qtt_file(file)).unwrap();
    assert!(!variants.is_empty());
    let mut failures = Vec::new();
    for v in variants.iter().filter(|v| !v.needs_registry()) {
        let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
        if let Verdict::Fail(why) = qtt::run_variant(v, &broker.bootstrap()).await {
            failures.push(format!("{}: {why}", v.name));
        }
        broker.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_filter_passes() {
    passes_completely("project-filter.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_passes() {
    passes_completely("where.json").await;
}

// GROUP BY aggregations: streams and tables (undo), every aggregate function's state and
// result, HAVING

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_passes() {
    passes_completely("count.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_passes() {
    passes_completely("sum.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attr_passes() {
    passes_completely("attr.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_passes() {
    passes_completely("correlation-udaf.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_deviation_passes() {
    passes_completely("standarddeviation.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_passes() {
    passes_completely("histogram.json").await;
}

// table functions and JSON text

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explode_passes() {
    passes_completely("explode.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_json_string_passes() {
    passes_completely("to_json_string.json").await;
}
