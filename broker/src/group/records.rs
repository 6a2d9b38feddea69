//! The records of `__consumer_offsets`, in Kafka's own binary formats, so that the internal topic
//! reads the same as Kafka's (`kafka-console-consumer --formatter OffsetsMessageFormatter`).
//!
//! | key version | key                      | value                          |
//! |-------------|--------------------------|--------------------------------|
//! | 0, 1        | group, topic, partition  | committed offset (v0-v3)       |
//! | 2           | group                    | group metadata (v0-v3)         |
//!
//! A null value is a tombstone: the offset or the group is gone. Tributary writes offset values
//! v3 and group values v3, and reads every version Kafka wrote before the flexible ones.

use bytes::{BufMut, Bytes, BytesMut};

/// A committed offset, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// The offset.
    pub offset: i64,
    /// Leader epoch of the last consumed record, or -1.
    pub leader_epoch: i32,
    /// Free-form metadata from the client.
    pub metadata: String,
    /// When it was committed (ms since the epoch).
    pub commit_timestamp: i64,
}

/// A member as group metadata stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's protocol.
    pub subscription: Bytes,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// A classic group as stored after each completed rebalance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    /// Protocol type (`consumer`, `connect`, ...); empty for a group that only commits.
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// Selected protocol (assignor).
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state.
    pub current_state_timestamp: i64,
    /// Members and their assignments.
    pub members: Vec<MemberValue>,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetsRecord {
    /// A committed offset, or its removal.
    Offset {
        /// Group.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// `None`: deleted.
        value: Option<OffsetValue>,
    },
    /// A group's metadata, or its removal.
    Group {
        /// Group.
        group: String,
        /// `None`: deleted.
        value: Option<GroupValue>,
    },
    /// A consumer-protocol (KIP-848) group's state, or its removal (Tributary's own record).
    ConsumerGroup {
        /// Group.
        group: String,
        /// `None`: deleted; else the group's snapshot.
        value: Option<Bytes>,
    },
    /// A record of a kind this version does not know (kept for forward compatibility).
    Unknown(i16),
}

/// Key version of Tributary's consumer group snapshot records. Kafka stores consumer-protocol
/// groups in several record kinds (key versions 3-8); Tributary stores one snapshot per group
/// under a version Kafka does not use.
pub const CONSUMER_GROUP_KEY_VERSION: i16 = 1000;

/// Encodes the key of a consumer-protocol group's snapshot.
pub fn consumer_group_key(group: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + group.len());
    b.put_i16(CONSUMER_GROUP_KEY_VERSION);
    put_str(&mut b, group);
    b.freeze()
}

/// Encodes an offset commit key.
pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::with_capacity(10 + group.len() + topic.len());
    b.put_i16(1);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

/// Encodes an offset commit value (v3).
pub fn offset_value(v: &OffsetValue) -> Bytes {
    let mut b = BytesMut::with_capacity(26 + v.metadata.len());
    b.put_i16(3);
    b.put_i64(v.offset);
    b.put_i32(v.leader_epoch);
    put_str(&mut b, &v.metadata);
    b.put_i64(v.commit_timestamp);
    b.freeze()
}

/// Encodes a group metadata key.
pub fn group_key(group: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + group.len());
    b.put_i16(2);
    put_str(&mut b, group);
    b.freeze()
}

/// Encodes a group metadata value (v3).
pub fn group_value(v: &GroupValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, &v.protocol_type);
    b.put_i32(v.generation);
    put_nullable(&mut b, v.protocol.as_deref());
    put_nullable(&mut b, v.leader.as_deref());
    b.put_i64(v.current_state_timestamp);
    b.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_str(&mut b, &m.member_id);
        put_nullable(&mut b, m.instance_id.as_deref());
        put_str(&mut b, &m.client_id);
        put_str(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        b.put_i32(m.session_timeout_ms);
        b.put_i32(m.subscription.len() as i32);
        b.put_slice(&m.subscription);
        b.put_i32(m.assignment.len() as i32);
        b.put_slice(&m.assignment);
    }
    b.freeze()
}

fn put_str(b: &mut BytesMut, s: &str) {
    // names are bounded by the request size limits; Kafka caps strings at i16::MAX bytes
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    b.put_i16(bytes.len() as i16);
    b.put_slice(bytes);
}

fn put_nullable(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed __consumer_offsets record: {0}")]
pub struct DecodeError(String);

/// Decodes a record of `__consumer_offsets`.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<OffsetsRecord, DecodeError> {
    let mut k = Reader(key);
    let version = k.i16()?;
    match version {
        0 | 1 => {
            let group = k.string()?;
            let topic = k.string()?;
            let partition = k.i32()?;
            let value = value.map(decode_offset_value).transpose()?;
            Ok(OffsetsRecord::Offset {
                group,
                topic,
                partition,
                value,
            })
        }
        2 => {
            let group = k.string()?;
            let value = value.map(decode_group_value).transpose()?;
            Ok(OffsetsRecord::Group { group, value })
        }
        CONSUMER_GROUP_KEY_VERSION => {
            let group = k.string()?;
            Ok(OffsetsRecord::ConsumerGroup {
                group,
                value: value.map(Bytes::copy_from_slice),
            })
        }
        v => Ok(OffsetsRecord::Unknown(v)),
    }
}

fn decode_offset_value(bytes: &[u8]) -> Result<OffsetValue, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return Err(DecodeError(format!("offset value version {version}")));
    }
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string()?;
    let commit_timestamp = r.i64()?;
    if version == 1 {
        r.i64()?; // expire timestamp, superseded by offsets.retention.minutes (KIP-211)
    }
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

fn decode_group_value(bytes: &[u8]) -> Result<GroupValue, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return Err(DecodeError(format!("group value version {version}")));
    }
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.nullable()?;
    let leader = r.nullable()?;
    let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
    let count = r.i32()?;
    let mut members = Vec::with_capacity(count.clamp(0, 1024) as usize);
    for _ in 0..count.max(0) {
        let member_id = r.string()?;
        let instance_id = if version >= 3 { r.nullable()? } else { None };
        let client_id = r.string()?;
        let client_host = r.string()?;
        let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { -1 };
        let session_timeout_ms = r.i32()?;
        let subscription = r.bytes()?;
        let assignment = r.bytes()?;
        members.push(MemberValue {
            member_id,
            instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: if rebalance_timeout_ms < 0 {
                session_timeout_ms
            } else {
                rebalance_timeout_ms
            },
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError(format!(
                "needs {n} more bytes, {} left",
                self.0.len()
            )));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
    }
    fn nullable(&mut self) -> Result<Option<String>, DecodeError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|_| DecodeError("string is not UTF-8".into()))
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        self.nullable()?
            .ok_or_else(|| DecodeError("null where a string is required".into()))
    }
    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_records_round_trip() {
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "meta".into(),
            commit_timestamp: 1_700_000_000_000,
        };
        let rec = decode(&offset_key("g", "t", 7), Some(&offset_value(&v))).unwrap();
        assert_eq!(
            rec,
            OffsetsRecord::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 7,
                value: Some(v)
            }
        );
        let tomb = decode(&offset_key("g", "t", 7), None).unwrap();
        assert!(matches!(tomb, OffsetsRecord::Offset { value: None, .. }));
    }

    #[test]
    fn group_records_round_trip() {
        let v = GroupValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 1,
            members: vec![MemberValue {
                member_id: "m1".into(),
                instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let rec = decode(&group_key("g"), Some(&group_value(&v))).unwrap();
        assert_eq!(
            rec,
            OffsetsRecord::Group {
                group: "g".into(),
                value: Some(v)
            }
        );
    }

    #[test]
    fn kafka_v1_offset_value_with_expire_timestamp_decodes() {
        // version 1: offset, metadata, commit timestamp, expire timestamp
        let mut b = BytesMut::new();
        b.put_i16(1);
        b.put_i64(9);
        b.put_i16(0);
        b.put_i64(100);
        b.put_i64(200);
        let v = decode_offset_value(&b).unwrap();
        assert_eq!((v.offset, v.leader_epoch, v.commit_timestamp), (9, -1, 100));
    }

    #[test]
    fn truncated_and_unknown_records_are_errors_or_unknown() {
        assert!(decode(&[0, 1, 0], None).is_err());
        assert!(decode(&group_key("g"), Some(&[0, 3, 0, 1])).is_err());
        assert!(matches!(
            decode(&[0, 9, 1, 2], None).unwrap(),
            OffsetsRecord::Unknown(9)
        ));
    }
}
