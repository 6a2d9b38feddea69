//! # tributary-connectors
//!
//! The connectors that a Tributary Connect worker runs, one folder per connector, with Kafka
//! Connect's well-known config keys: file source and sink, PostgreSQL source and sink, an HTTP
//! sink and a data generator source.
//!
//! They are built in a later issue; today this crate holds no code.
