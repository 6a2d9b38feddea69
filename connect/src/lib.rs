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
//! * [`connector`]: the connector and task traits, and the plugin registry.
//! * [`config`]: config maps with Kafka's parsing rules and error messages.
//! * [`record`]: source and sink records with headers.
//! * [`transforms`]: single message transforms and predicates.
//! * [`worker`]: runs connectors and tasks (source and sink loops, offsets, statuses).
//! * [`herder`]: what the REST API asks of a herder, and connector config validation.
//! * [`standalone`]: the standalone herder (configs from files and REST, offsets in a file).
//! * [`distributed`]: the distributed herder (a cluster of workers sharing configs, offsets
//!   and statuses through Kafka topics).
//! * [`loggers`]: log levels changed at run time (`/admin/loggers`).
//! * [`rest`]: Kafka Connect's REST API.

pub mod config;
pub mod connector;
pub mod converter;
pub mod data;
pub mod distributed;
pub mod herder;
pub mod json;
pub mod loggers;
pub mod record;
pub mod rest;
pub mod standalone;
pub mod transforms;
pub mod worker;
