//! The partition time of an input partition (the largest timestamp read from it), kept in its
//! committed offset's metadata as Kafka Streams keeps it (`TopicPartitionMetadata`): base64 of
//! a version byte (2), the time (8 bytes, big-endian) and processor metadata (none here). A
//! task that starts again takes its stream time from there, so that records already too late
//! before a restart stay too late after it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// What is not a time: nothing read yet, or no metadata (Kafka's `RecordQueue.UNKNOWN`).
pub(crate) const UNKNOWN: i64 = -1;

/// The metadata for a partition time.
pub(crate) fn encode(time: i64) -> String {
    let mut bytes = [0u8; 9];
    bytes[0] = 2;
    bytes[1..].copy_from_slice(&time.to_be_bytes());
    STANDARD.encode(bytes)
}

/// The partition time in committed metadata ([`UNKNOWN`] for empty, foreign or broken
/// metadata, as Kafka Streams reads it: versions 1 and 2).
pub(crate) fn decode(metadata: &str) -> i64 {
    let Ok(bytes) = STANDARD.decode(metadata) else {
        return UNKNOWN;
    };
    match bytes.split_first() {
        Some((1 | 2, rest)) => rest
            .first_chunk::<8>()
            .map_or(UNKNOWN, |t| i64::from_be_bytes(*t)),
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_times_are_written_as_kafka_streams_writes_them() {
        // TopicPartitionMetadata(1_700_000_000_123, empty).encode() in Kafka Streams 4.x
        let encoded = encode(1_700_000_000_123);
        assert_eq!(
            STANDARD.decode(&encoded).unwrap(),
            [2, 0, 0, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x7B]
        );
        assert_eq!(decode(&encoded), 1_700_000_000_123);
        assert_eq!(decode(&encode(UNKNOWN)), UNKNOWN);
        // version 2 with processor metadata after the time, and version 1 (time only)
        let mut with_meta = vec![2u8];
        with_meta.extend_from_slice(&42i64.to_be_bytes());
        with_meta.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, b'k', 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(decode(&STANDARD.encode(with_meta)), 42);
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(decode(&STANDARD.encode(v1)), 7);
        // what is not Kafka Streams' metadata is no time
        for other in ["", "not base64!", "AQ==", &STANDARD.encode([9u8; 9])] {
            assert_eq!(decode(other), UNKNOWN, "{other}");
        }
    }
}
