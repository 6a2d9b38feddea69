//! Windowed keys as bytes, as Kafka Streams writes them: a time window's key is the inner key's
//! bytes then the window start (8 bytes, big-endian); a session's is the inner key's bytes,
//! then the end, then the start. A time window's end is not written: the reader knows the size.

use super::{Window, Windowed};
use crate::serde::{Serde, SerdeError, SharedSerde};

/// Time-windowed keys (Kafka's `TimeWindowedSerializer`/`TimeWindowedDeserializer`).
pub struct TimeWindowedSerde<K> {
    inner: SharedSerde<K>,
    size: i64,
}

impl<K> TimeWindowedSerde<K> {
    /// Keys with `inner`, windows of `size_ms` (the reader's window end is start + size, at
    /// most `i64::MAX`).
    pub fn new(inner: SharedSerde<K>, size_ms: i64) -> Self {
        TimeWindowedSerde {
            inner,
            size: size_ms,
        }
    }
}

fn key_bytes<K>(
    inner: &SharedSerde<K>,
    topic: &str,
    key: &K,
    extra: usize,
) -> Result<Option<Vec<u8>>, SerdeError> {
    Ok(inner.serialize(topic, key)?.map(|mut b| {
        b.reserve(extra);
        b
    }))
}

/// The inner key's bytes and the `N` bytes after them.
type Parts<'a, const N: usize> = (&'a [u8], [u8; N]);

fn split<'a, const N: usize>(
    data: Option<&'a [u8]>,
    what: &str,
) -> Result<Option<Parts<'a, N>>, SerdeError> {
    let Some(data) = data else {
        return Ok(None);
    };
    let at = data.len().checked_sub(N).ok_or_else(|| {
        SerdeError(format!(
            "a {what} key needs at least {N} bytes, got {}",
            data.len()
        ))
    })?;
    let mut tail = [0u8; N];
    tail.copy_from_slice(&data[at..]);
    Ok(Some((&data[..at], tail)))
}

fn long(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

impl<K> Serde<Windowed<K>> for TimeWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>) -> Result<Option<Vec<u8>>, SerdeError> {
        let Some(mut b) = key_bytes(&self.inner, topic, &value.key, 8)? else {
            return Ok(None);
        };
        b.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(Some(b))
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Windowed<K>, SerdeError> {
        let Some((key, start)) = split::<8>(data, "time-windowed")? else {
            return Err(SerdeError("a windowed key cannot be null".to_string()));
        };
        let start = i64::from_be_bytes(start);
        let end = start.checked_add(self.size).unwrap_or(i64::MAX);
        Ok(Windowed {
            key: self.inner.deserialize(topic, Some(key))?,
            window: Window { start, end },
        })
    }
}

/// Session-windowed keys (Kafka's `SessionWindowedSerializer`/`SessionWindowedDeserializer`).
pub struct SessionWindowedSerde<K> {
    inner: SharedSerde<K>,
}

impl<K> SessionWindowedSerde<K> {
    /// Keys with `inner`.
    pub fn new(inner: SharedSerde<K>) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K> Serde<Windowed<K>> for SessionWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>) -> Result<Option<Vec<u8>>, SerdeError> {
        let Some(mut b) = key_bytes(&self.inner, topic, &value.key, 16)? else {
            return Ok(None);
        };
        b.extend_from_slice(&value.window.end.to_be_bytes());
        b.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(Some(b))
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Windowed<K>, SerdeError> {
        let Some((key, tail)) = split::<16>(data, "session-windowed")? else {
            return Err(SerdeError("a windowed key cannot be null".to_string()));
        };
        Ok(Windowed {
            key: self.inner.deserialize(topic, Some(key))?,
            window: Window {
                start: long(&tail[8..]),
                end: long(&tail[..8]),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Serdes;

    #[test]
    fn windowed_keys_are_written_as_kafka_streams_writes_them() {
        let k = Windowed {
            key: "ab".to_string(),
            window: Window { start: 10, end: 20 },
        };
        let time = Serdes::time_windowed(Serdes::string(), 10);
        let bytes = time.serialize("t", &k).unwrap().unwrap();
        assert_eq!(bytes, [b"ab".as_slice(), &10i64.to_be_bytes()].concat());
        assert_eq!(time.deserialize("t", Some(&bytes)).unwrap(), k);
        // the end comes from the reader's size, capped at i64::MAX
        let huge = Serdes::time_windowed(Serdes::string(), i64::MAX);
        assert_eq!(
            huge.deserialize("t", Some(&bytes)).unwrap().window.end,
            i64::MAX
        );

        let session = Serdes::session_windowed(Serdes::string());
        let bytes = session.serialize("t", &k).unwrap().unwrap();
        let expected = [b"ab".as_slice(), &20i64.to_be_bytes(), &10i64.to_be_bytes()].concat();
        assert_eq!(bytes, expected);
        assert_eq!(session.deserialize("t", Some(&bytes)).unwrap(), k);

        assert!(time.deserialize("t", Some(b"short")).is_err());
        assert!(session.deserialize("t", None).is_err());
    }
}
