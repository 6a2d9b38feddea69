//! # tributary-connect
//!
//! A Kafka Connect compatible worker: it runs source and sink connectors and their tasks,
//! passes records through converters and single message transforms, and behaves as Kafka
//! Connect does for the same configs.
//!
//! Layout:
//! * [`data`]: Connect's data model (schemas, values, structs, logical types).
//! * [`json`]: JSON as Kafka Connect's Jackson reads and writes it, byte for byte.
//! * [`converter`]: `key.converter` / `value.converter` (JSON, string, bytes, numbers).
//! * [`config`]: config maps with Kafka's parsing rules and error messages.

pub mod config;
pub mod converter;
pub mod data;
pub mod json;
