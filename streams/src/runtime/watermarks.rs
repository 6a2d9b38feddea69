//! A partition's low and high watermarks, asked again while its leadership moves: librdkafka
//! asks the leader it knows once, and answers `NOT_LEADER_OR_FOLLOWER` (or a timeout) while
//! a broker fails over, where Kafka's clients look the leader up again and retry.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How long a lookup keeps trying before it gives up (Kafka Streams' `task.timeout.ms`
/// default is 5 minutes; a failover takes seconds).
const PATIENCE: Duration = Duration::from_secs(120);

/// Whether `e` passes once the cluster settles.
fn retriable(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::MetadataFetch(c) | KafkaError::OffsetFetch(c) => *c,
        _ => return false,
    };
    matches!(
        code,
        RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::UnknownTopicOrPartition
            // (librdkafka's own answer while its metadata of a restarting broker's partitions
            // is incomplete)
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::FencedLeaderEpoch
            | RDKafkaErrorCode::UnknownLeaderEpoch
            | RDKafkaErrorCode::OffsetNotAvailable
    )
}

/// The low and high watermarks of `topic`'s partition `partition`, each ask waiting at most
/// `timeout`, asked again on errors that pass with a failover.
pub(crate) fn watermarks<C: Consumer>(
    consumer: &C,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<(i64, i64), KafkaError> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        match consumer.fetch_watermarks(topic, partition, timeout) {
            Ok(w) => return Ok(w),
            Err(e) if retriable(&e) && started.elapsed() < PATIENCE => {
                tracing::debug!("the watermarks of {topic}-{partition}: {e}; asking again");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}
