//! The bytes of a foreign-key join's internal topics and subscription store, as Kafka
//! Streams 4 writes them (`SubscriptionWrapperSerde`, `SubscriptionResponseWrapperSerde`,
//! `CombinedKeySchema`), and the hash that tells a stale response from a current one
//! (Kafka's `Murmur3.hash128`: MurmurHash3 x64 128 with seed 104729, both halves big-endian).

use crate::processor::StreamsError;

/// What a subscription asks of the foreign side (Kafka's `Instruction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// Forget the subscription; answer nothing.
    DeleteKeyNoPropagate = 0,
    /// Forget the subscription; answer with no foreign value.
    DeleteKeyAndPropagate = 1,
    /// Answer with the foreign value, or with none when there is no foreign row.
    PropagateNullIfNoFkValAvailable = 2,
    /// Answer only when there is a foreign row.
    PropagateOnlyIfFkValAvailable = 3,
}

impl Instruction {
    fn from_byte(b: u8) -> Option<Instruction> {
        Some(match b {
            0 => Instruction::DeleteKeyNoPropagate,
            1 => Instruction::DeleteKeyAndPropagate,
            2 => Instruction::PropagateNullIfNoFkValAvailable,
            3 => Instruction::PropagateOnlyIfFkValAvailable,
            _ => return None,
        })
    }

    /// Whether the subscription is forgotten.
    pub fn deletes(self) -> bool {
        matches!(
            self,
            Instruction::DeleteKeyNoPropagate | Instruction::DeleteKeyAndPropagate
        )
    }
}

/// The version of subscriptions Kafka Streams 4 writes (with the primary partition).
const SUBSCRIPTION_VERSION: u8 = 1;
/// The version of responses.
const RESPONSE_VERSION: u8 = 0;
/// The flag bit of a version byte: no hash follows.
const NO_HASH: u8 = 0x80;

/// A left row's subscription to a foreign key (Kafka's `SubscriptionWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    /// The hash of the left value's bytes (`None`: the row was deleted).
    pub hash: Option<[u8; 16]>,
    pub instruction: Instruction,
    /// The left row's key bytes.
    pub primary_key: Vec<u8>,
    /// The partition of the left row's task, where the response goes.
    pub partition: i32,
}

fn bad(what: &str) -> StreamsError {
    StreamsError::Kafka(format!("a foreign-key join read a bad {what}"))
}

impl Subscription {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 16 + self.primary_key.len() + 4);
        out.push(SUBSCRIPTION_VERSION | if self.hash.is_none() { NO_HASH } else { 0 });
        out.push(self.instruction as u8);
        if let Some(hash) = &self.hash {
            out.extend_from_slice(hash);
        }
        out.extend_from_slice(&self.primary_key);
        out.extend_from_slice(&self.partition.to_be_bytes());
        out
    }

    pub fn decode(data: &[u8]) -> Result<Subscription, StreamsError> {
        let (&first, rest) = data.split_first().ok_or_else(|| bad("subscription"))?;
        let version = first & !NO_HASH;
        if version > SUBSCRIPTION_VERSION {
            return Err(StreamsError::Kafka(format!(
                "SubscriptionWrapper is of an incompatible version: {version}"
            )));
        }
        let (&instruction, mut rest) = rest.split_first().ok_or_else(|| bad("subscription"))?;
        let instruction = Instruction::from_byte(instruction).ok_or_else(|| bad("instruction"))?;
        let hash = if first & NO_HASH == 0 {
            let (h, r) = rest
                .split_first_chunk::<16>()
                .ok_or_else(|| bad("subscription"))?;
            rest = r;
            Some(*h)
        } else {
            None
        };
        let (primary_key, partition) = if version >= 1 {
            let (pk, p) = rest
                .split_last_chunk::<4>()
                .ok_or_else(|| bad("subscription"))?;
            (pk, i32::from_be_bytes(*p))
        } else {
            (rest, -1)
        };
        Ok(Subscription {
            hash,
            instruction,
            primary_key: primary_key.to_vec(),
            partition,
        })
    }
}

/// A response as read: the subscription's hash and the foreign value's bytes.
pub(crate) type Answer = (Option<[u8; 16]>, Option<Vec<u8>>);

/// The foreign side's answer to a subscription (Kafka's `SubscriptionResponseWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The subscription's hash, echoed.
    pub hash: Option<[u8; 16]>,
    /// The foreign value's bytes (`None`: no foreign row).
    pub value: Option<Vec<u8>>,
    /// Where it goes: the subscribing row's partition (not written).
    pub partition: i32,
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let value = self.value.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 16 + value.len());
        out.push(RESPONSE_VERSION | if self.hash.is_none() { NO_HASH } else { 0 });
        if let Some(hash) = &self.hash {
            out.extend_from_slice(hash);
        }
        out.extend_from_slice(value);
        out
    }

    /// The response in `data`: its hash and foreign value bytes (none when nothing follows
    /// the hash, as Kafka reads it).
    pub fn decode(data: &[u8]) -> Result<Answer, StreamsError> {
        let (&first, mut rest) = data.split_first().ok_or_else(|| bad("response"))?;
        let version = first & !NO_HASH;
        if version != RESPONSE_VERSION {
            return Err(StreamsError::Kafka(format!(
                "SubscriptionResponseWrapper is of an incompatible version: {version}"
            )));
        }
        let hash = if first & NO_HASH == 0 {
            let (h, r) = rest
                .split_first_chunk::<16>()
                .ok_or_else(|| bad("response"))?;
            rest = r;
            Some(*h)
        } else {
            None
        };
        Ok((hash, (!rest.is_empty()).then(|| rest.to_vec())))
    }
}

/// The subscription store's key: the foreign key's length, the foreign key and the primary
/// key, so that a prefix scan finds a foreign key's subscribers in primary key order.
pub(crate) fn combined_key(foreign_key: &[u8], primary_key: &[u8]) -> Vec<u8> {
    let mut out = prefix(foreign_key);
    out.extend_from_slice(primary_key);
    out
}

/// The start of the combined keys of `foreign_key`.
pub(crate) fn prefix(foreign_key: &[u8]) -> Vec<u8> {
    let len = i32::try_from(foreign_key.len()).unwrap_or(i32::MAX);
    let mut out = Vec::with_capacity(4 + foreign_key.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(foreign_key);
    out
}

/// Kafka Streams' seed for the value hash.
const SEED: u64 = 104_729;

/// MurmurHash3 x64 128 of `data` with Kafka's seed, as Kafka writes it: `h1` then `h2`,
/// big-endian.
pub(crate) fn hash(data: &[u8]) -> [u8; 16] {
    let (h1, h2) = murmur3_x64_128(data, SEED);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&h1.to_be_bytes());
    out[8..].copy_from_slice(&h2.to_be_bytes());
    out
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// MurmurHash3 x64 128 (Austin Appleby's, as Kafka's `Murmur3.hash128` computes it).
fn murmur3_x64_128(data: &[u8], seed: u64) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let (mut h1, mut h2) = (seed, seed);
    let blocks = data.chunks_exact(16);
    let tail = blocks.remainder();
    for block in blocks {
        let mut k1 = u64::from_le_bytes(block[..8].try_into().unwrap_or([0; 8]));
        let mut k2 = u64::from_le_bytes(block[8..].try_into().unwrap_or([0; 8]));
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let (mut k1, mut k2) = (0u64, 0u64);
    for (i, &b) in tail.iter().enumerate().rev() {
        if i >= 8 {
            k2 ^= u64::from(b) << ((i - 8) * 8);
        } else {
            k1 ^= u64::from(b) << (i * 8);
        }
    }
    if tail.len() > 8 {
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
    }
    if !tail.is_empty() {
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn murmur3_matches_kafkas_vectors() {
        // Kafka's Murmur3Test (seed 123)
        let signed = |(a, b): (u64, u64)| (a as i64, b as i64);
        assert_eq!(
            signed(murmur3_x64_128(b"21", 123)),
            (5857341059704281894, -5288187638297930763)
        );
        assert_eq!(
            signed(murmur3_x64_128(b"foobar", 123)),
            (-351361463397418609, 8959716011862540668)
        );
        assert_eq!(
            signed(murmur3_x64_128(b"abc", 123)),
            (1489494923063836066, -5440978547625122829)
        );
        // Kafka Streams 4.4's hashes (seed 104729)
        assert_eq!(hex(&hash(b"")), "9d2764a018e329428c3cf3b035938518");
        assert_eq!(hex(&hash(b"foobar")), "e545263cde70bba21e8c9e2fc5c7ed4e");
        assert_eq!(hex(&hash(b"A|x")), "90b5a891ca24d90f13464d9ef2956982");
    }

    #[test]
    fn wrappers_are_kafkas_bytes_and_read_back() {
        let s = Subscription {
            hash: Some(hash(b"A|x")),
            instruction: Instruction::PropagateOnlyIfFkValAvailable,
            primary_key: b"k1".to_vec(),
            partition: 0,
        };
        assert_eq!(
            hex(&s.encode()),
            "010390b5a891ca24d90f13464d9ef29569826b3100000000"
        );
        assert_eq!(Subscription::decode(&s.encode()).unwrap(), s);
        let deleted = Subscription {
            hash: None,
            instruction: Instruction::DeleteKeyAndPropagate,
            primary_key: b"k1".to_vec(),
            partition: 0,
        };
        assert_eq!(hex(&deleted.encode()), "81016b3100000000");
        assert_eq!(Subscription::decode(&deleted.encode()).unwrap(), deleted);
        let none = Response {
            hash: None,
            value: None,
            partition: 3,
        };
        assert_eq!(hex(&none.encode()), "80");
        assert_eq!(Response::decode(&none.encode()).unwrap(), (None, None));
        let some = Response {
            hash: Some([7; 16]),
            value: Some(b"ra".to_vec()),
            partition: 0,
        };
        assert_eq!(
            Response::decode(&some.encode()).unwrap(),
            (Some([7; 16]), Some(b"ra".to_vec()))
        );
        assert_eq!(hex(&combined_key(b"A", b"k1")), "00000001416b31");
        assert!(Subscription::decode(&[0x05, 0x00]).is_err());
        assert!(Subscription::decode(&[]).is_err());
        assert!(Response::decode(&[0x01]).is_err());
    }
}
