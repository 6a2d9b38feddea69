//! # tributary-broker
//!
//! The broker: a durable, partitioned log that speaks the Kafka wire protocol.
pub mod config;
pub mod error;
pub mod log;
pub mod metadata;
