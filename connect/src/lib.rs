//! # tributary-connect
//!
//! A Kafka Connect compatible worker.
//!
//! This crate will run source and sink connectors and their tasks, in standalone mode (configs
//! from files, offsets in a local file) and distributed mode (workers forming a cluster through
//! the group protocol with protocol type `connect`, configs, offsets and statuses in compacted
//! topics). It will serve Kafka Connect's REST API on port 8083, pass records through converters
//! and single message transforms, and follow `errors.tolerance` with a dead letter queue.
//!
//! It is built in a later issue; today it holds no code.
