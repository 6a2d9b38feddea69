//! # tributary-broker
//!
//! The broker: a durable, partitioned log that speaks the Kafka wire protocol, so that every
//! Kafka client (librdkafka, kcat, kafka-python, kafkajs, the Java client) works unchanged.
//!
//! ## Layout
//!
//! ```text
//!  server      start/stop: data dir, metadata replay, logs, listener, background tasks
//!  network     TCP accept, framing, per-connection read/write tasks
//!  dispatch    header decoding and the route table (which also answers ApiVersions)
//!  frame       response frames; Fetch records sent from the page cache with sendfile
//!  handlers/   one module per Kafka API
//!  metadata/   metadata records, image, log store, controller
//!  group/      the group coordinator: membership state machines and committed offsets
//!  replica_manager, partition   the partitions hosted here, their offsets and roles
//!  replication/   ISR replication: leader state, follower fetchers, truncation, acks=all waits
//!  controller/    the controller's decisions (placement, elections, broker sessions), pure
//!  lifecycle   a cluster member's registration, heartbeats and controlled shutdown
//!  log/        segments, indexes, batches, recovery
//!  config      broker and topic configs with Kafka's names
//!  meta_properties   which cluster and node a data directory belongs to (storage format)
//!  error       Kafka error codes and the broker error type
//! ```
//!
//! Start one with [`server::start`] and a [`config::BrokerConfig`].

pub mod config;
pub mod controller;
pub mod dispatch;
pub mod error;
mod frame;
pub mod group;
pub mod handlers;
pub mod lifecycle;
pub mod log;
pub mod log_cleaner;
pub mod meta_properties;
pub mod metadata;
mod network;
pub mod partition;
pub mod replica_manager;
pub mod replication;
pub mod server;
pub mod txn;
pub use tributary_client::wire;

pub use config::BrokerConfig;
pub use server::{start, start_member, start_node, BrokerHandle, NodeHandle};
