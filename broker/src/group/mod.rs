//! The group coordinator: consumer group membership and committed offsets.
//!
//! ```text
//!  handlers (JoinGroup, SyncGroup, OffsetCommit, ...)
//!        │
//!  coordinator   one shard per hosted partition of __consumer_offsets: lock, run the state
//!        │       machine, append its records, answer parked requests, schedule wake-ups
//!  classic       the classic rebalance protocol as a pure state machine (events in, actions out)
//!  records       Kafka's key/value formats of __consumer_offsets
//! ```
//!
//! The coordinator of a group is the leader of partition `abs(hash(group)) % partitions` of
//! `__consumer_offsets`; its state is rebuilt by replaying that partition.

pub mod assignor;
pub mod classic;
pub mod consumer;
pub mod consumer_protocol;
pub mod coordinator;
pub mod records;

pub use coordinator::{internal_topic_rf, partition_for, GroupCoordinator, OFFSETS_TOPIC};
