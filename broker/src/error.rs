//! Kafka error codes and the broker's error type.
//!
//! [`ErrorCode`] is the wire contract: every number here is Kafka's own (see Kafka's
//! `Errors.java`). Errors raised anywhere in the broker become an `ErrorCode` in exactly one
//! place, [`BrokerError::code`], so that a handler never picks a number by hand.

use std::io;

/// A Kafka protocol error code, with the numbers Kafka uses on the wire. (Serialized by name
/// between brokers and controllers.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    OffsetMetadataTooLarge = 12,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    InvalidCommitOffsetSize = 28,
    NonEmptyGroup = 68,
    GroupIdNotFound = 69,
    MemberIdRequired = 79,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
    GroupSubscribedToTopic = 86,
    UnstableOffsetCommit = 88,
    FencedMemberEpoch = 110,
    UnreleasedInstanceId = 111,
    UnsupportedAssignor = 112,
    StaleMemberEpoch = 113,
    InvalidRegularExpression = 128,
    OutOfOrderSequenceNumber = 45,
    DuplicateSequenceNumber = 46,
    InvalidProducerEpoch = 47,
    InvalidTxnState = 48,
    InvalidProducerIdMapping = 49,
    InvalidTransactionTimeout = 50,
    ConcurrentTransactions = 51,
    TransactionCoordinatorFenced = 52,
    TransactionalIdAuthorizationFailed = 53,
    SecurityDisabled = 54,
    TopicDeletionDisabled = 73,
    OperationNotAttempted = 55,
    UnknownProducerId = 59,
    TransactionalIdNotFound = 105,
    ProducerFenced = 90,
    ReplicaNotAvailable = 9,
    NotEnoughReplicasAfterAppend = 20,
    NotController = 41,
    ReassignmentInProgress = 60,
    StaleBrokerEpoch = 77,
    OffsetNotAvailable = 78,
    PreferredLeaderNotAvailable = 80,
    EligibleLeadersNotAvailable = 83,
    ElectionNotNeeded = 84,
    NoReassignmentInProgress = 85,
    InvalidUpdateVersion = 95,
    DuplicateBrokerRegistration = 101,
    BrokerIdNotRegistered = 102,
    InconsistentClusterId = 104,
    IneligibleReplica = 107,
    NewLeaderElected = 108,
    UnknownControllerId = 116,
    InvalidRegistration = 119,
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
            ErrorCode::OffsetMetadataTooLarge => "The metadata field of the offset request was too large.",
            ErrorCode::CoordinatorLoadInProgress => "The coordinator is loading and hence can't process requests.",
            ErrorCode::CoordinatorNotAvailable => "The coordinator is not available.",
            ErrorCode::NotCoordinator => "This is not the correct coordinator.",
            ErrorCode::IllegalGeneration => "Specified group generation id is not valid.",
            ErrorCode::InconsistentGroupProtocol => "The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list.",
            ErrorCode::InvalidGroupId => "The configured groupId is invalid.",
            ErrorCode::UnknownMemberId => "The coordinator is not aware of this member.",
            ErrorCode::InvalidSessionTimeout => "The session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms).",
            ErrorCode::RebalanceInProgress => "The group is rebalancing, so a rejoin is needed.",
            ErrorCode::InvalidCommitOffsetSize => "The committing offset data size is not valid.",
            ErrorCode::NonEmptyGroup => "The group is not empty.",
            ErrorCode::GroupIdNotFound => "The group id does not exist.",
            ErrorCode::MemberIdRequired => "The group member needs to have a valid member id before actually entering a consumer group.",
            ErrorCode::GroupMaxSizeReached => "The consumer group has reached its max size.",
            ErrorCode::FencedInstanceId => "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.",
            ErrorCode::GroupSubscribedToTopic => "The consumer group is actively subscribed to the topic.",
            ErrorCode::UnstableOffsetCommit => "There are unstable offsets that need to be cleared.",
            ErrorCode::FencedMemberEpoch => "The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin.",
            ErrorCode::UnreleasedInstanceId => "The instance ID is still used by another member in the consumer group. That member must leave first.",
            ErrorCode::UnsupportedAssignor => "The assignor or its version range is not supported by the consumer group.",
            ErrorCode::StaleMemberEpoch => "The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API.",
            ErrorCode::InvalidRegularExpression => "The regular expression is not valid.",
            ErrorCode::OutOfOrderSequenceNumber => "The broker received an out of order sequence number.",
            ErrorCode::DuplicateSequenceNumber => "The broker received a duplicate sequence number.",
            ErrorCode::InvalidProducerEpoch => "Producer attempted to produce with an old epoch.",
            ErrorCode::InvalidTxnState => "The producer attempted a transactional operation in an invalid state.",
            ErrorCode::InvalidProducerIdMapping => "The producer attempted to use a producer id which is not currently assigned to its transactional id.",
            ErrorCode::InvalidTransactionTimeout => "The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms).",
            ErrorCode::ConcurrentTransactions => "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.",
            ErrorCode::TransactionCoordinatorFenced => "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.",
            ErrorCode::TransactionalIdAuthorizationFailed => "Transactional Id authorization failed.",
            ErrorCode::SecurityDisabled => "Security features are disabled.",
            ErrorCode::TopicDeletionDisabled => "Topic deletion is disabled.",
            ErrorCode::OperationNotAttempted => "The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest.",
            ErrorCode::UnknownProducerId => "This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question.",
            ErrorCode::TransactionalIdNotFound => "The transactionalId could not be found.",
            ErrorCode::ProducerFenced => "There is a newer producer with the same transactionalId which fences the current one.",
            ErrorCode::ReplicaNotAvailable => "The replica is not available for the requested topic-partition. Produce/Fetch requests and other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the broker is not a replica of the topic-partition.",
            ErrorCode::NotEnoughReplicasAfterAppend => "Messages are written to the log, but to fewer in-sync replicas than required.",
            ErrorCode::NotController => "This is not the correct controller for this cluster.",
            ErrorCode::ReassignmentInProgress => "A partition reassignment is in progress.",
            ErrorCode::StaleBrokerEpoch => "Broker epoch has changed.",
            ErrorCode::OffsetNotAvailable => "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing.",
            ErrorCode::PreferredLeaderNotAvailable => "The preferred leader was not available.",
            ErrorCode::EligibleLeadersNotAvailable => "Eligible topic partition leaders are not available.",
            ErrorCode::ElectionNotNeeded => "Leader election not needed for topic partition.",
            ErrorCode::NoReassignmentInProgress => "No partition reassignment is in progress.",
            ErrorCode::InvalidUpdateVersion => "The given update version was invalid.",
            ErrorCode::DuplicateBrokerRegistration => "This broker ID is already in use.",
            ErrorCode::BrokerIdNotRegistered => "The given broker ID was not registered.",
            ErrorCode::InconsistentClusterId => "The clusterId in the request does not match that found on the server.",
            ErrorCode::IneligibleReplica => "The new ISR contains at least one ineligible replica.",
            ErrorCode::NewLeaderElected => "The AlterPartition request successfully updated the partition state but the leader has changed.",
            ErrorCode::UnknownControllerId => "This controller ID is not known.",
            ErrorCode::InvalidRegistration => "The registration is invalid.",
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
    /// Background work gave up because the broker is stopping.
    #[error("{0}")]
    Interrupted(String),
    /// The topic's configuration forbids the operation (DeleteRecords on a compact-only topic).
    #[error("{0}")]
    PolicyViolation(String),
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
    /// A producer's batch or marker refused by the partition's producer state.
    #[error("{0}")]
    Producer(#[from] crate::log::ProducerError),
    /// Records of a batch broke the topic's record rules (a null key on a compacted topic, a
    /// timestamp out of bounds): the whole batch is refused and the offending records are named
    /// (KIP-467), as Kafka's `RecordValidationException` carries them.
    #[error("{message}")]
    RecordsRejected {
        /// INVALID_TIMESTAMP when any record's timestamp is at fault, else INVALID_RECORD.
        code: ErrorCode,
        /// Kafka's summary message for the batch.
        message: String,
        /// Each offending record: its index in the batch and why.
        records: Vec<RecordError>,
    },
    /// This broker does not lead the partition (any more).
    #[error("{0}")]
    NotLeader(String),
    /// A check the caller made under the partition lock refused the batch (the transaction
    /// check of a producer's first transactional batch, KIP-890).
    #[error("{message}")]
    Refused {
        /// The code the client gets.
        code: ErrorCode,
        /// Why.
        message: String,
    },
}

impl BrokerError {
    /// The Kafka error code a client receives for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            BrokerError::Batch(e) => e.code(),
            BrokerError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            BrokerError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            BrokerError::UnknownTopicOrPartition(_) => ErrorCode::UnknownTopicOrPartition,
            BrokerError::NotLeader(_) => ErrorCode::NotLeaderOrFollower,
            BrokerError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            BrokerError::PolicyViolation(_) => ErrorCode::PolicyViolation,
            BrokerError::Interrupted(_) => ErrorCode::UnknownServerError,
            BrokerError::InvalidTimestamp(_) => ErrorCode::InvalidTimestamp,
            BrokerError::NotEnoughReplicas { .. } => ErrorCode::NotEnoughReplicas,
            BrokerError::Storage { .. } | BrokerError::LogOffline(_) => {
                ErrorCode::KafkaStorageError
            }
            BrokerError::Refused { code, .. } | BrokerError::RecordsRejected { code, .. } => *code,
            BrokerError::Producer(e) => match e {
                crate::log::ProducerError::InvalidEpoch(_) => ErrorCode::InvalidProducerEpoch,
                crate::log::ProducerError::OutOfOrder(_) => ErrorCode::OutOfOrderSequenceNumber,
                crate::log::ProducerError::InvalidTxnState(_) => ErrorCode::InvalidTxnState,
                crate::log::ProducerError::CoordinatorFenced(_) => {
                    ErrorCode::TransactionCoordinatorFenced
                }
            },
        }
    }

    /// The refusal of a batch whose `records` broke the topic's rules, with Kafka's messages:
    /// a timestamp error anywhere makes it INVALID_TIMESTAMP, otherwise INVALID_RECORD listing
    /// the first three record errors.
    pub fn records_rejected(any_timestamp: bool, records: Vec<RecordError>) -> Self {
        if any_timestamp {
            return BrokerError::RecordsRejected {
                code: ErrorCode::InvalidTimestamp,
                message: "One or more records have been rejected due to invalid timestamp".into(),
                records,
            };
        }
        let first: Vec<String> = records.iter().take(3).map(|r| r.to_string()).collect();
        BrokerError::RecordsRejected {
            code: ErrorCode::InvalidRecord,
            message: format!(
                "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                records.len(),
                first.join(", ")
            ),
            records,
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

/// One record of a produced batch that broke a rule, as a Produce response names it (KIP-467).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's index in its batch.
    pub batch_index: i32,
    /// Why it was refused.
    pub message: String,
}

impl std::fmt::Display for RecordError {
    /// Kafka's `RecordError.toString`, which its batch-level message embeds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordError(batchIndex={}, message='{}')",
            self.batch_index, self.message
        )
    }
}

/// Result type of the broker crate.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;
