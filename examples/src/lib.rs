//! # tributary-examples
//!
//! Runnable programs that show how to use Tributary from Rust. Each example is a binary under
//! `examples/` of this crate and is run with `cargo run -p tributary-examples --example NAME`.
//!
//! Examples arrive with the capabilities they show (consumer groups, streams, connect, ksql).
