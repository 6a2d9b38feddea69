//! # tributary-examples
//!
//! Runnable programs that show how to use Tributary from Rust. Each example is a binary under
//! `examples/` of this crate and is run with `cargo run -p tributary-examples --example NAME`.
//!
//! | example         | shows                                                              |
//! |-----------------|--------------------------------------------------------------------|
//! | `at_least_once` | a consumer group member that processes, then commits               |
//! | `at_most_once`  | a consumer group member that commits, then processes               |
//! | `exactly_once`  | consume-transform-produce with offsets committed in the transaction |
//! | `word_count`    | Kafka's word count on the streams library (`KafkaStreams`)         |
//! | `page_views`    | views per user per minute: tumbling windows, emit-final            |
//! | `fraud_alerts`  | bursts of payments per card: session windows, emit-final           |
//! | `orders`        | orders enriched from a customers table: a stream-table join        |
//! | `word_count_service` | the word count over several instances, queried over HTTP      |
//! | `streams_bench` | one run of the streams benchmark (`scripts/bench-streams.sh`)      |
//! | `nexmark`       | the Nexmark benchmark on a KSQL server (`scripts/bench-nexmark.sh`) |
//!
//! The loops live here, in [`delivery`], so that tests can check the guarantee each one gives
//! when the process dies half-way.

pub mod app;
pub mod bench;
pub mod delivery;
pub mod exactly_once;
pub mod fraud_alerts;
pub mod nexmark;
pub mod orders;
pub mod page_views;
pub mod word_count;
pub mod word_count_service;
