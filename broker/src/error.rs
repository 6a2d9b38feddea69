//! Kafka error codes and the broker's error type.
//!
//! [`ErrorCode`] is the wire contract: every number here is Kafka's own (see Kafka's
//! `Errors.java`). Errors raised anywhere in the broker become an `ErrorCode` in exactly one
//! place, [`BrokerError::code`], so that a handler never picks a number by hand.

use std::io;

/// A Kafka protocol error code, with the numbers Kafka uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[allow(missing_docs)] // the names are Kafka's and documented there
pub enum ErrorCode {
    UnknownServerError = -1,
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    InvalidFetchSize = 4,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    MessageTooLarge = 10,
    InvalidTopicException = 17,
    RecordListTooLarge = 18,
    InvalidTimestamp = 32,
    NotEnoughReplicas = 19,
    InvalidRequiredAcks = 21,
    UnsupportedVersion = 35,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    InvalidReplicaAssignment = 39,
    InvalidConfig = 40,
    InvalidRequest = 42,
    UnsupportedForMessageFormat = 43,
    PolicyViolation = 44,
    KafkaStorageError = 56,
    UnknownLeaderEpoch = 75,
    FencedLeaderEpoch = 74,
    InvalidRecord = 87,
    UnknownTopicId = 100,
    InconsistentTopicId = 103,
    ResourceNotFound = 91,
}

impl ErrorCode {
    /// The number sent on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Kafka's default message for the code, used where a response carries an error message.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownServerError => "The server experienced an unexpected error when processing the request.",
            ErrorCode::None => "",
            ErrorCode::OffsetOutOfRange => "The requested offset is not within the range of offsets maintained by the server.",
            ErrorCode::CorruptMessage => "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.",
            ErrorCode::UnknownTopicOrPartition => "This server does not host this topic-partition.",
            ErrorCode::InvalidFetchSize => "The requested fetch size is invalid.",
            ErrorCode::LeaderNotAvailable => "There is no leader for this topic-partition as we are in the middle of a leadership election.",
            ErrorCode::NotLeaderOrFollower => "For requests intended only for the leader, this error indicates that the broker is not the current leader.",
            ErrorCode::RequestTimedOut => "The request timed out.",
            ErrorCode::MessageTooLarge => "The request included a message larger than the max message size the server will accept.",
            ErrorCode::InvalidTopicException => "The request attempted to perform an operation on an invalid topic.",
            ErrorCode::RecordListTooLarge => "The request included message batch larger than the configured segment size on the server.",
            ErrorCode::InvalidTimestamp => "The timestamp of the message is out of acceptable range.",
            ErrorCode::NotEnoughReplicas => "Messages are rejected since there are fewer in-sync replicas than required.",
            ErrorCode::InvalidRequiredAcks => "Produce request specified an invalid value for required acks.",
            ErrorCode::UnsupportedVersion => "The version of API is not supported.",
            ErrorCode::TopicAlreadyExists => "Topic with this name already exists.",
            ErrorCode::InvalidPartitions => "Number of partitions is below 1.",
            ErrorCode::InvalidReplicationFactor => "Replication factor is below 1 or larger than the number of available brokers.",
            ErrorCode::InvalidReplicaAssignment => "Replica assignment is invalid.",
            ErrorCode::InvalidConfig => "Configuration is invalid.",
            ErrorCode::InvalidRequest => "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker.",
            ErrorCode::UnsupportedForMessageFormat => "The message format version on the broker does not support the request.",
            ErrorCode::PolicyViolation => "Request parameters do not satisfy the configured policy.",
            ErrorCode::KafkaStorageError => "Disk error when trying to access log file on the disk.",
            ErrorCode::UnknownLeaderEpoch => "The leader epoch in the request is newer than the epoch on the broker.",
            ErrorCode::FencedLeaderEpoch => "The leader epoch in the request is older than the epoch on the broker.",
            ErrorCode::InvalidRecord => "This record has failed the validation on broker and hence will be rejected.",
            ErrorCode::UnknownTopicId => "This server does not host this topic ID.",
            ErrorCode::InconsistentTopicId => "The log's topic ID did not match the topic ID in the request.",
            ErrorCode::ResourceNotFound => "A request illegally referred to a resource that does not exist.",
        }
    }
}

/// Everything that can go wrong inside the broker, with enough structure to pick the Kafka code.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A record batch failed validation.
    #[error("invalid record batch: {0}")]
    Batch(#[from] crate::log::BatchError),
    /// A record batch is larger than `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes={max}")]
    MessageTooLarge {
        /// Size of the batch.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// An offset outside `[log start offset, log end offset]` was asked for.
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The log start offset.
        start: i64,
        /// The log end offset.
        end: i64,
    },
    /// The topic or partition does not exist on this broker.
    #[error("unknown topic or partition {0}")]
    UnknownTopicOrPartition(String),
    /// A record timestamp is outside `message.timestamp.{before,after}.max.ms`.
    #[error("{0}")]
    InvalidTimestamp(String),
    /// Fewer in-sync replicas than `min.insync.replicas` for an acks=all write.
    #[error("the partition has {isr} in-sync replicas, fewer than min.insync.replicas={min}")]
    NotEnoughReplicas {
        /// In-sync replicas now.
        isr: usize,
        /// The topic's minimum.
        min: i32,
    },
    /// A config key or value is not acceptable.
    #[error("{0}")]
    InvalidConfig(String),
    /// A disk operation failed; the log that saw it refuses further writes.
    #[error("storage error on {path}: {source}")]
    Storage {
        /// The file or directory involved.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// An earlier fsync or write failed, so the log no longer accepts writes (see fjall: a
    /// failed fsync is never retried blindly because the kernel may have dropped the pages).
    #[error("log {0} is offline after an earlier storage error")]
    LogOffline(String),
}

impl BrokerError {
    /// The Kafka error code a client receives for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            BrokerError::Batch(e) => e.code(),
            BrokerError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            BrokerError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            BrokerError::UnknownTopicOrPartition(_) => ErrorCode::UnknownTopicOrPartition,
            BrokerError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            BrokerError::InvalidTimestamp(_) => ErrorCode::InvalidTimestamp,
            BrokerError::NotEnoughReplicas { .. } => ErrorCode::NotEnoughReplicas,
            BrokerError::Storage { .. } | BrokerError::LogOffline(_) => {
                ErrorCode::KafkaStorageError
            }
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn storage(path: impl AsRef<std::path::Path>, source: io::Error) -> Self {
        BrokerError::Storage {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result type of the broker crate.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;
