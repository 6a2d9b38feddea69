//! Kafka Connect's group protocol, incremental cooperative version 1 (protocol name
//! `compatible`): what a worker joins with (its REST URL, the config topic offset it has read,
//! and what it runs now) and what the leader assigns (what to start, what to give up, and how
//! long a departed worker's work is held back). Same bytes as Kafka Connect's
//! `IncrementalCooperativeConnectProtocol`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::worker::TaskId;

/// The protocol name workers agree on.
pub const PROTOCOL: &str = "compatible";
/// Its version.
const VERSION: i16 = 1;
/// The task number that stands for a connector itself in an assignment.
const CONNECTOR_TASK: i32 = -1;

/// A piece of work: a connector instance or one task.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// A connector.
    Connector(String),
    /// A task.
    Task(TaskId),
}

impl Work {
    /// The connector it belongs to.
    pub fn connector(&self) -> &str {
        match self {
            Work::Connector(c) => c,
            Work::Task(t) => &t.connector,
        }
    }
}

/// What a worker joins with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Its REST URL (`http://host:port/`).
    pub url: String,
    /// The config topic offset it has read up to.
    pub config_offset: i64,
    /// What it runs now.
    pub owned: Vec<Work>,
}

/// The leader's answer to one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// 0, or 1 when the worker's config is behind the leader's.
    pub error: i16,
    /// The leader's member id.
    pub leader: String,
    /// The leader's REST URL.
    pub leader_url: String,
    /// The config topic offset the assignment was made at.
    pub config_offset: i64,
    /// Work to start.
    pub assigned: Vec<Work>,
    /// Work to give up.
    pub revoked: Vec<Work>,
    /// Milliseconds until the leader reassigns a departed worker's work (0: nothing held).
    pub delay_ms: i32,
}

/// Why bytes are not a valid message of the protocol.
#[derive(Debug, thiserror::Error)]
#[error("malformed Connect protocol message: {0}")]
pub struct ProtocolError(&'static str);

fn put_string(out: &mut BytesMut, s: &str) {
    out.put_i16(s.len() as i16);
    out.put_slice(s.as_bytes());
}

fn get_string(b: &mut Bytes) -> Result<String, ProtocolError> {
    if b.remaining() < 2 {
        return Err(ProtocolError("truncated string"));
    }
    let len = b.get_i16();
    if len < 0 || b.remaining() < len as usize {
        return Err(ProtocolError("bad string length"));
    }
    String::from_utf8(b.split_to(len as usize).to_vec()).map_err(|_| ProtocolError("not UTF-8"))
}

fn get_i16(b: &mut Bytes) -> Result<i16, ProtocolError> {
    (b.remaining() >= 2)
        .then(|| b.get_i16())
        .ok_or(ProtocolError("truncated"))
}

fn get_i32(b: &mut Bytes) -> Result<i32, ProtocolError> {
    (b.remaining() >= 4)
        .then(|| b.get_i32())
        .ok_or(ProtocolError("truncated"))
}

fn get_i64(b: &mut Bytes) -> Result<i64, ProtocolError> {
    (b.remaining() >= 8)
        .then(|| b.get_i64())
        .ok_or(ProtocolError("truncated"))
}

/// Work grouped by connector, as the protocol lists it: each connector with its task numbers,
/// -1 for the connector itself.
fn put_work(out: &mut BytesMut, work: &[Work]) {
    let mut by_connector: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for w in work {
        let n = match w {
            Work::Connector(_) => CONNECTOR_TASK,
            Work::Task(t) => t.task as i32,
        };
        by_connector.entry(w.connector()).or_default().push(n);
    }
    out.put_i32(by_connector.len() as i32);
    for (connector, tasks) in by_connector {
        put_string(out, connector);
        out.put_i32(tasks.len() as i32);
        for t in tasks {
            out.put_i32(t);
        }
    }
}

fn get_work(b: &mut Bytes) -> Result<Vec<Work>, ProtocolError> {
    let n = get_i32(b)?;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let connector = get_string(b)?;
        let tasks = get_i32(b)?;
        for _ in 0..tasks.max(0) {
            let t = get_i32(b)?;
            out.push(if t == CONNECTOR_TASK {
                Work::Connector(connector.clone())
            } else {
                Work::Task(TaskId {
                    connector: connector.clone(),
                    task: u32::try_from(t).map_err(|_| ProtocolError("bad task number"))?,
                })
            });
        }
    }
    Ok(out)
}

impl Metadata {
    /// The bytes a worker joins with.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_i16(VERSION);
        put_string(&mut out, &self.url);
        out.put_i64(self.config_offset);
        // the allocation: what the worker runs, as an assignment of its own
        let allocation = Assignment {
            assigned: self.owned.clone(),
            ..Assignment::default()
        }
        .encode();
        out.put_i32(allocation.len() as i32);
        out.put_slice(&allocation);
        out.freeze()
    }

    /// Reads a worker's join metadata.
    pub fn decode(mut b: Bytes) -> Result<Metadata, ProtocolError> {
        let version = get_i16(&mut b)?;
        if version < 1 {
            return Err(ProtocolError("eager (version 0) workers are not supported"));
        }
        let url = get_string(&mut b)?;
        let config_offset = get_i64(&mut b)?;
        let len = get_i32(&mut b)?;
        let owned = if len < 0 {
            Vec::new()
        } else {
            if b.remaining() < len as usize {
                return Err(ProtocolError("truncated allocation"));
            }
            Assignment::decode(b.split_to(len as usize))?.assigned
        };
        Ok(Metadata {
            url,
            config_offset,
            owned,
        })
    }
}

impl Assignment {
    /// The bytes of an assignment.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_i16(VERSION);
        out.put_i16(self.error);
        put_string(&mut out, &self.leader);
        put_string(&mut out, &self.leader_url);
        out.put_i64(self.config_offset);
        put_work(&mut out, &self.assigned);
        put_work(&mut out, &self.revoked);
        out.put_i32(self.delay_ms);
        out.freeze()
    }

    /// Reads an assignment.
    pub fn decode(mut b: Bytes) -> Result<Assignment, ProtocolError> {
        let _version = get_i16(&mut b)?;
        Ok(Assignment {
            error: get_i16(&mut b)?,
            leader: get_string(&mut b)?,
            leader_url: get_string(&mut b)?,
            config_offset: get_i64(&mut b)?,
            assigned: get_work(&mut b)?,
            revoked: get_work(&mut b)?,
            delay_ms: get_i32(&mut b)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(c: &str, t: u32) -> Work {
        Work::Task(TaskId {
            connector: c.into(),
            task: t,
        })
    }

    #[test]
    fn metadata_and_assignments_survive_a_round_trip() {
        let m = Metadata {
            url: "http://127.0.0.1:8083/".into(),
            config_offset: 42,
            owned: vec![Work::Connector("a".into()), task("a", 0), task("b", 3)],
        };
        assert_eq!(Metadata::decode(m.encode()).expect("decodes"), m);
        let a = Assignment {
            error: 0,
            leader: "connect-1-abc".into(),
            leader_url: "http://127.0.0.1:8083/".into(),
            config_offset: 7,
            assigned: vec![Work::Connector("x".into()), task("x", 1)],
            revoked: vec![task("y", 0)],
            delay_ms: 300_000,
        };
        assert_eq!(Assignment::decode(a.encode()).expect("decodes"), a);
    }

    #[test]
    fn the_bytes_are_kafkas() {
        // version 1, error 0, leader "L", url "U", offset 5, one connector "c" with [-1, 0],
        // nothing revoked, delay 0
        let a = Assignment {
            leader: "L".into(),
            leader_url: "U".into(),
            config_offset: 5,
            assigned: vec![Work::Connector("c".into()), task("c", 0)],
            ..Assignment::default()
        };
        let expected: Vec<u8> = [
            &[0, 1, 0, 0, 0, 1, b'L', 0, 1, b'U'][..],
            &[0, 0, 0, 0, 0, 0, 0, 5],
            &[
                0, 0, 0, 1, 0, 1, b'c', 0, 0, 0, 2, 255, 255, 255, 255, 0, 0, 0, 0,
            ],
            &[0, 0, 0, 0],
            &[0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(a.encode().to_vec(), expected);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            &[0, 1],
            &[0, 1, 0, 5, b'a'],
            &[0, 0, 0, 1, b'a'],
            &[0, 1, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9],
        ] {
            assert!(Metadata::decode(Bytes::copy_from_slice(bytes)).is_err());
            assert!(Assignment::decode(Bytes::copy_from_slice(bytes)).is_err());
        }
    }
}
