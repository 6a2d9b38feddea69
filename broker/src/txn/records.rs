//! Records of `__transaction_state`, in Kafka's formats (`TransactionLogKey` v0,
//! `TransactionLogValue` v0), so that Kafka's tools could read them:
//!
//! ```text
//! key:   version: i16 = 0, transactional_id: string
//! value: version: i16 = 0, producer_id: i64, producer_epoch: i16, timeout_ms: i32,
//!        status: i8, partitions: [topic: string, partitions: [i32]] (nullable),
//!        last_update_ms: i64, start_ms: i64
//! ```
//! A null value (tombstone) removes an expired transactional id.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::state::{TxnMetadata, TxnState, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

/// Encodes the key of `transactional_id`.
pub fn key(transactional_id: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + transactional_id.len());
    b.put_i16(0);
    b.put_i16(transactional_id.len() as i16);
    b.put_slice(transactional_id.as_bytes());
    b.freeze()
}

/// Encodes the value of a transaction's metadata.
pub fn value(m: &TxnMetadata) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_i16(0);
    b.put_i64(m.producer_id);
    b.put_i16(m.producer_epoch);
    b.put_i32(m.timeout_ms);
    b.put_i8(m.state.id());
    // partitions grouped by topic, in order
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in &m.partitions {
        match topics.last_mut() {
            Some((name, ps)) if *name == t.as_str() => ps.push(*p),
            _ => topics.push((t.as_str(), vec![*p])),
        }
    }
    b.put_i32(topics.len() as i32);
    for (t, ps) in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(p);
        }
    }
    b.put_i64(m.last_update_ms);
    b.put_i64(m.start_ms);
    b.freeze()
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(format!("record ends early at byte {}", self.at));
        };
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn i8(&mut self) -> Result<i8, String> {
        Ok(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn string(&mut self) -> Result<String, String> {
        let len = self.i16()?;
        if len < 0 {
            return Err("null string".into());
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| "string is not UTF-8".to_string())
    }
}

/// Decodes a key: the transactional id.
pub fn decode_key(key: &[u8]) -> Result<String, String> {
    let mut r = Reader { buf: key, at: 0 };
    let version = r.i16()?;
    if version != 0 {
        return Err(format!("unknown transaction log key version {version}"));
    }
    r.string()
}

/// Decodes a value into the metadata of `transactional_id`.
pub fn decode_value(transactional_id: &str, value: &[u8]) -> Result<TxnMetadata, String> {
    let mut r = Reader { buf: value, at: 0 };
    let version = r.i16()?;
    if version != 0 {
        return Err(format!("unknown transaction log value version {version}"));
    }
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let status = r.i8()?;
    let state = TxnState::from_id(status).ok_or(format!("unknown transaction state {status}"))?;
    let mut partitions = BTreeSet::new();
    let topics = r.i32()?;
    for _ in 0..topics.max(0) {
        let topic = r.string()?;
        let n = r.i32()?;
        for _ in 0..n.max(0) {
            partitions.insert((topic.clone(), r.i32()?));
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    Ok(TxnMetadata {
        transactional_id: transactional_id.to_string(),
        producer_id,
        previous_producer_id: NO_PRODUCER_ID,
        producer_epoch,
        last_producer_epoch: NO_PRODUCER_EPOCH,
        timeout_ms,
        state,
        partitions,
        start_ms,
        last_update_ms,
        failed_epoch_fence: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let mut m = TxnMetadata::new("app-1", 4000, 60_000, 12);
        m.producer_epoch = 3;
        m.state = TxnState::PrepareCommit;
        m.start_ms = 10;
        m.partitions = [
            ("a".to_string(), 0),
            ("a".to_string(), 2),
            ("b".to_string(), 1),
        ]
        .into_iter()
        .collect();
        let k = key("app-1");
        assert_eq!(decode_key(&k).unwrap(), "app-1");
        let back = decode_value("app-1", &value(&m)).unwrap();
        assert_eq!(back, m);
        assert!(decode_value("app-1", &value(&m)[..20]).is_err());
        assert!(decode_key(&[0, 1, 0, 9, b'x']).is_err());
    }
}
