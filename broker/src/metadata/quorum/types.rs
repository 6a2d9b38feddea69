//! The openraft types of the metadata quorum, in one place so that an upgrade of openraft
//! touches one file.

// (the macro names `Cursor` for the default snapshot data)
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::metadata::records::MetadataRecord;

/// One entry of the replicated metadata log: records the active controller commits together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetadataBatch {
    /// The records, applied all or nothing.
    pub records: Vec<MetadataRecord>,
}

/// What applying an entry gave: its metadata offset, or why it did not apply (on every
/// controller alike, so that the proposer can tell its client).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchApplied {
    /// The image's offset after the entry.
    pub offset: i64,
    /// Set when the batch did not apply and was skipped.
    pub error: Option<String>,
}

openraft::declare_raft_types!(
    /// The metadata quorum: entries are [`MetadataBatch`]es, nodes are `node.id`s with their
    /// controller listener address.
    pub MetadataRaft:
        D = MetadataBatch,
        R = BatchApplied,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// A Raft node of the quorum.
pub type Raft = openraft::Raft<MetadataRaft>;
/// A log position.
pub type LogId = openraft::LogId<u64>;
/// A vote.
pub type Vote = openraft::Vote<u64>;
/// A log entry.
pub type Entry = openraft::Entry<MetadataRaft>;
/// A storage failure.
pub type StorageError = openraft::StorageError<u64>;
/// The membership stored with the state machine.
pub type StoredMembership = openraft::StoredMembership<u64, openraft::BasicNode>;
/// A snapshot's metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<u64, openraft::BasicNode>;
