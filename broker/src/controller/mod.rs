//! The controller role of a cluster member, independent of how the metadata log is replicated:
//! the decisions the active controller takes, as pure functions over the metadata image.
//!
//! * [`placement`]: where new partitions' replicas go (rack-aware striping);
//! * [`partition_change`]: one partition's next leader and ISR (`PartitionChangeBuilder`);
//! * [`replication_control`]: what fencing, unfencing, controlled shutdown and leader rebalancing
//!   do to partitions;
//! * [`reassignment`]: leader elections on request (ElectLeaders) and partition reassignments;
//! * [`broker_heartbeats`]: broker sessions, registrations and state transitions.
//!
//! They take the image and the time as arguments and return records to commit; the single-node
//! [`crate::metadata::Controller`] uses [`placement`], and the cluster's active controller runs
//! all of them (see `docs/design/replication.md`).

pub mod broker_heartbeats;
pub mod partition_change;
pub mod placement;
pub mod reassignment;
pub mod replication_control;
