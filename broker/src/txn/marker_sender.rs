//! Transaction markers for partitions led by other brokers: the coordinator sends them with
//! WriteTxnMarkers (v1) to each partition's leader, which answers once the markers are
//! replicated (Kafka's `TransactionMarkerChannelManager`).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::error::ErrorCode;
use crate::log::Marker;
use crate::metadata::MetadataImage;
use crate::wire::Client;

/// Longest wait for a leader's answer (it waits for its followers before answering).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The marker errors after which a partition never needs the marker (a newer epoch or
/// coordinator already owns the producer there, or the partition is gone), rather than a retry.
pub const NO_RETRY: [ErrorCode; 3] = [
    ErrorCode::InvalidProducerEpoch,
    ErrorCode::TransactionCoordinatorFenced,
    ErrorCode::UnknownTopicOrPartition,
];

/// Sends the marker for `partitions` (all led by `leader`) and returns those to retry.
pub async fn send(
    image: &MetadataImage,
    leader: i32,
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    partitions: Vec<(String, i32)>,
) -> Vec<(String, i32)> {
    let Some(broker) = image.brokers.get(&leader) else {
        return partitions;
    };
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (t, p) in &partitions {
        topics.entry(t.clone()).or_default().push(*p);
    }
    let req = WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(producer_epoch)
        .with_transaction_result(marker.commit)
        .with_coordinator_epoch(marker.coordinator_epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    WritableTxnMarkerTopic::default()
                        .with_name(crate::handlers::topic_name(t))
                        .with_partition_indexes(ps)
                })
                .collect(),
        )]);
    let addr = format!("{}:{}", broker.host, broker.port);
    let answer: std::io::Result<WriteTxnMarkersResponse> = async {
        let mut client = Client::connect(&addr, CALL_TIMEOUT).await?;
        client.call(&req, 1).await
    }
    .await;
    let resp = match answer {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(leader, error = %e, "cannot send transaction markers; retrying");
            return partitions;
        }
    };
    let mut retry = Vec::new();
    let mut answered = Vec::new();
    for m in resp.markers {
        for t in m.topics {
            for p in t.partitions {
                let key = (t.name.0.to_string(), p.partition_index);
                answered.push(key.clone());
                let code = p.error_code;
                if code == 0 || NO_RETRY.iter().any(|c| c.code() == code) {
                    continue;
                }
                tracing::info!(leader, topic = %key.0, partition = key.1, code = p.error_code, "transaction marker not written; retrying");
                retry.push(key);
            }
        }
    }
    retry.extend(partitions.into_iter().filter(|k| !answered.contains(k)));
    retry
}
