//! The embedded "consumer" protocol: what Kafka consumers put in the opaque member metadata
//! (subscriptions) and assignments of the classic protocol. The broker reads them only to check
//! them (OffsetDelete's subscribed-topic check).

use bytes::Bytes;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::Decodable;

/// Decodes `[version: int16][body]`, reading newer versions as the newest known one (fields are
/// only ever appended), as Kafka's `ConsumerProtocol` does.
fn decode<T: Decodable>(bytes: &[u8], max: i16) -> Option<T> {
    if bytes.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    if version < 0 {
        return None;
    }
    let mut body = Bytes::copy_from_slice(&bytes[2..]);
    T::decode(&mut body, version.min(max)).ok()
}

/// The topics a consumer subscribes to, from its member metadata.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let s: ConsumerProtocolSubscription = decode(metadata, 3)?;
    Some(s.topics.into_iter().map(|t| t.to_string()).collect())
}

/// The partitions assigned to a consumer, from its assignment.
pub fn assigned_partitions(assignment: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let a: ConsumerProtocolAssignment = decode(assignment, 3)?;
    Some(
        a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.0.to_string(), tp.partitions))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};

    #[test]
    fn reads_v0_subscription_and_assignment() {
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i32(2);
        for t in ["a", "bb"] {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        b.put_i32(-1); // null user data
        assert_eq!(subscribed_topics(&b), Some(vec!["a".into(), "bb".into()]));

        let mut a = BytesMut::new();
        a.put_i16(0);
        a.put_i32(1);
        a.put_i16(1);
        a.put_slice(b"a");
        a.put_i32(2);
        a.put_i32(0);
        a.put_i32(3);
        a.put_i32(-1);
        assert_eq!(
            assigned_partitions(&a),
            Some(vec![("a".into(), vec![0, 3])])
        );
        assert_eq!(assigned_partitions(&[0]), None);
        assert_eq!(assigned_partitions(&[0, 0, 0xff]), None);
    }
}
