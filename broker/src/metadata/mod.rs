//! Cluster metadata: an ordered log of records applied to an immutable in-memory image.
//!
//! ```text
//!  admin request ─▶ Controller (validate, build records) ─▶ MetadataLog.append (durable)
//!                                                         ─▶ MetadataImage::apply ─▶ publish
//!                                                                               └─▶ ReplicaManager reconciles logs
//! ```
//!
//! The image and its apply code know nothing of where the log lives: on a single node a local
//! file ([`FileMetadataLog`]); in a cluster the controller quorum replicates the same records
//! with Raft (`quorum/`), and brokers fetch them from the active controller (`remote/`).

mod cluster_control;
mod config_change;
mod controller;
mod image;
mod quorum;
mod reassignments;
mod records;
pub mod remote;
mod snapshot;
mod store;

pub use cluster_control::{unclean_allowed, IsrChange};
pub use config_change::{ConfigAlteration, ConfigOp};
pub use controller::{Controller, TopicSpec, MAX_PARTITIONS_PER_REQUEST};
pub use image::{BrokerImage, MetadataImage, PartitionImage, TopicImage, NO_LEADER};
pub use quorum::{QuorumView, ReplicaView};
pub use reassignments::{is_reassigning, ElectionType, PartitionResults, ReassignmentTargets};
pub use records::{ConfigResource, Endpoint, LeaderRecovery, MetadataRecord};
pub use store::{FileMetadataLog, MetadataLog};

/// Whether a topic is one of Kafka's internal topics.
pub fn is_internal_topic(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

/// Kafka's topic name rules: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`; the
/// messages are those of Kafka's controller.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is invalid: the empty string is not allowed".into());
    }
    if name == "." || name == ".." {
        return Err(format!("Topic name is invalid: '{name}' is not allowed"));
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is invalid: the length of '{name}' is longer than the max allowed length 249"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name is invalid: '{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}
