//! Controllers in other processes: brokers reach the controllers over TCP with Kafka's framing and
//! one private API key (never advertised, JSON bodies), and learn metadata by fetching the
//! committed batches, as KRaft brokers fetch the metadata log. The controllers of a quorum send
//! each other openraft's messages the same way.
//!
//! ```text
//!  broker                                          active controller
//!   RemoteController ── request (ops, registration, heartbeats, AlterPartition) ──▶ server::serve
//!                    ◀─ answer + the controller's offset after it ─────────────────
//!   metadata fetcher ── FetchMetadata{from} (long poll) ─────────────────────────▶ history / snapshot
//!                    ◀─ batches after `from` (or a snapshot), the quorum's state ──
//!   image watch + listeners (the replica manager reconciles)
//!
//!  controller ── RaftAppend / RaftVote / RaftSnapshot ──▶ controller (openraft)
//! ```
//!
//! A controller that is not the active one answers `NotController` with the leader it knows;
//! the broker's client moves there and asks again.

mod client;
mod peer;
mod server;

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use super::config_change::ConfigAlteration;
use super::controller::{OpError, TopicSpec};
use super::image::TopicImage;
use super::quorum::{MetadataRaft, QuorumView};
use super::records::MetadataRecord;
use super::{ElectionType, IsrChange, PartitionResults, ReassignmentTargets};
use crate::controller::broker_heartbeats::{Heartbeat, HeartbeatAnswer, RegistrationRequest};
use crate::error::ErrorCode;

pub use client::RemoteController;
pub use peer::{PeerNetwork, RefusingVoters};
pub use server::serve;

/// The private API key of controller requests.
pub const CONTROLLER_API_KEY: i16 = 10020;

/// Largest request or answer frame (a snapshot of a large image is the biggest).
const MAX_FRAME: usize = 256 << 20;

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    CreateTopics {
        specs: Vec<TopicSpec>,
        validate_only: bool,
    },
    DeleteTopics {
        topics: Vec<(Option<String>, Uuid)>,
    },
    AlterConfigs {
        changes: Vec<ConfigAlteration>,
        validate_only: bool,
    },
    CreatePartitions {
        topic: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    },
    AllocateProducerIds {
        broker_id: i32,
        size: i64,
    },
    RegisterBroker(RegistrationRequest),
    Heartbeat(Heartbeat),
    AlterPartition(IsrChange),
    ElectLeaders {
        kind: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    },
    AlterReassignments {
        changes: ReassignmentTargets,
        allow_rf_change: bool,
    },
    FetchMetadata {
        from: i64,
        max_wait_ms: u64,
        /// The fetching broker, for DescribeQuorum's observers.
        #[serde(default)]
        broker_id: Option<i32>,
    },
    RaftAppend(AppendEntriesRequest<MetadataRaft>),
    RaftVote(VoteRequest<u64>),
    RaftSnapshot(InstallSnapshotRequest<MetadataRaft>),
}

impl Request {
    /// Whether only the active controller answers it (a broker's request); the others are
    /// between the controllers of a quorum.
    fn for_active_controller(&self) -> bool {
        !matches!(
            self,
            Request::RaftAppend(_) | Request::RaftVote(_) | Request::RaftSnapshot(_)
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum Response {
    Topics {
        results: Vec<Result<TopicImage, OpError>>,
        offset: i64,
    },
    Deleted {
        results: Vec<Result<(String, Uuid), OpError>>,
        offset: i64,
    },
    Altered {
        results: Vec<Result<(), OpError>>,
        offset: i64,
    },
    Done {
        result: Result<(), OpError>,
        offset: i64,
    },
    ProducerIds {
        result: Result<i64, OpError>,
    },
    Registered {
        result: Result<i64, OpError>,
        offset: i64,
    },
    Heartbeat {
        result: Result<HeartbeatAnswer, OpError>,
    },
    AlterPartition {
        result: Result<(), ErrorCode>,
    },
    Metadata {
        /// A whole image as records, at this offset, when `from` is older than the history.
        snapshot: Option<(i64, Vec<MetadataRecord>)>,
        /// Batches after `from` (and after the snapshot), in order, each with the image's
        /// offset after it.
        batches: Vec<(i64, Vec<MetadataRecord>)>,
        /// The controller's latest offset.
        committed: i64,
        /// The quorum as the controller sees it.
        #[serde(default)]
        quorum: Option<QuorumView>,
    },
    /// This controller is not the active one; `leader` is, if known.
    NotController {
        leader: Option<i32>,
    },
    RaftAppend(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    RaftVote(Result<VoteResponse<u64>, RaftError<u64>>),
    RaftSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Partitions {
        results: Result<PartitionResults, OpError>,
        offset: i64,
    },
    Failed {
        message: String,
    },
}

/// Why a call got no answer.
#[derive(Debug)]
enum CallError {
    /// No connection could be made: the request was not sent.
    Unreachable(std::io::Error),
    /// Sent, but no answer came (it may or may not have been carried out).
    Failed(std::io::Error),
}

/// One connection to a controller, opened on first use and again after a failure; requests on
/// it are answered in order, one at a time.
#[derive(Default)]
struct Connection {
    open: tokio::sync::Mutex<Option<(String, TcpStream, i32)>>,
}

impl Connection {
    /// Sends `req` to `addr` (reconnecting there if this connection goes elsewhere) and waits up
    /// to `timeout` for the answer.
    async fn call(
        &self,
        addr: &str,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        // (the wait for an earlier request's answer counts against this one's timeout)
        let mut guard = tokio::time::timeout(timeout, self.open.lock())
            .await
            .map_err(|_| {
                CallError::Unreachable(std::io::Error::other(
                    "an earlier request to the controller is still waiting for its answer",
                ))
            })?;
        if guard.as_ref().is_none_or(|(a, _, _)| a != addr) {
            *guard = None;
            let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| {
                    CallError::Unreachable(std::io::Error::other(format!(
                        "connecting to the controller at {addr} timed out"
                    )))
                })?
                .map_err(|e| {
                    CallError::Unreachable(std::io::Error::new(
                        e.kind(),
                        format!("controller at {addr}: {e}"),
                    ))
                })?;
            let _ = stream.set_nodelay(true);
            *guard = Some((addr.to_string(), stream, 0));
        }
        let Some((_, stream, correlation)) = guard.as_mut() else {
            return Err(CallError::Unreachable(std::io::Error::other(
                "no connection",
            )));
        };
        *correlation = correlation.wrapping_add(1);
        let expected = *correlation;
        let body = serde_json::to_vec(req)
            .map_err(|e| CallError::Unreachable(std::io::Error::other(e)))?;
        let mut out = BytesMut::with_capacity(body.len() + 12);
        out.put_i32(body.len() as i32 + 8);
        out.put_i16(CONTROLLER_API_KEY);
        out.put_i16(0);
        out.put_i32(expected);
        out.put_slice(&body);
        let exchange = async {
            stream.write_all(&out).await?;
            read_frame(stream)
                .await?
                .ok_or_else(|| std::io::Error::other("the controller closed the connection"))
        };
        let frame = match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                *guard = None;
                return Err(CallError::Failed(e));
            }
            Err(_) => {
                *guard = None;
                return Err(CallError::Failed(std::io::Error::other(
                    "the controller did not answer in time",
                )));
            }
        };
        if frame.len() < 4
            || i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) != expected
        {
            *guard = None;
            return Err(CallError::Failed(std::io::Error::other(
                "answer to another request",
            )));
        }
        serde_json::from_slice(&frame[4..]).map_err(|e| CallError::Failed(std::io::Error::other(e)))
    }

    /// Closes the connection.
    async fn close(&self) {
        self.open.lock().await.take();
    }
}

/// Reads one size-prefixed frame (without the size); `None` when the peer closed.
async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if stream.read_exact(&mut len).await.is_err() {
        return Ok(None);
    }
    let len = i32::from_be_bytes(len);
    if len < 0 || len as usize > MAX_FRAME {
        return Err(std::io::Error::other(format!("frame of {len} bytes")));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).await?;
    Ok(Some(buf))
}
