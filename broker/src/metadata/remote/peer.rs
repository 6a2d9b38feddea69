//! openraft's network between the controllers of a quorum: its messages go over the same
//! frames as brokers' requests, to the voters' controller listeners
//! (`controller.quorum.voters`). Votes have a connection of their own so that a vote never
//! waits behind a large append or a snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::{CallError, Connection, Request, Response};
use crate::metadata::quorum::MetadataRaft;

/// Makes a [`Peer`] for each voter openraft talks to.
pub struct PeerNetwork {
    refusing: Arc<RefusingVoters>,
}

impl PeerNetwork {
    /// A network that records in `refusing` the voters whose controller listener refuses
    /// connections.
    pub fn new(refusing: Arc<RefusingVoters>) -> PeerNetwork {
        PeerNetwork { refusing }
    }
}

/// The voters whose controller listener refused a connection (nothing listens: in combined
/// mode, the node's process is gone), with the monotonic time (ms) since when; a voter that
/// answers again leaves the set. The active controller fences such a node's broker without
/// waiting for its session to expire.
#[derive(Default)]
pub struct RefusingVoters(parking_lot::Mutex<HashMap<u64, u64>>);

impl RefusingVoters {
    /// The voters refusing connections, with the time the refusals began.
    pub fn since(&self) -> Vec<(u64, u64)> {
        self.0.lock().iter().map(|(id, t)| (*id, *t)).collect()
    }

    fn refused(&self, id: u64) {
        self.0
            .lock()
            .entry(id)
            .or_insert_with(crate::replication::mono_ms);
    }

    fn answered(&self, id: u64) {
        self.0.lock().remove(&id);
    }
}

/// The connections to one voter.
pub struct Peer {
    target: u64,
    addr: String,
    append: Connection,
    vote: Connection,
    refusing: Arc<RefusingVoters>,
}

impl RaftNetworkFactory<MetadataRaft> for PeerNetwork {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            append: Connection::default(),
            vote: Connection::default(),
            refusing: Arc::clone(&self.refusing),
        }
    }
}

type PeerError<E> = RPCError<u64, BasicNode, RaftError<u64, E>>;

impl Peer {
    /// Sends `req` on `conn` and takes the answer `pick` finds in the response.
    async fn send<T, E: std::error::Error>(
        &self,
        conn: &Connection,
        req: Request,
        option: RPCOption,
        pick: impl FnOnce(Response) -> Result<Result<T, RaftError<u64, E>>, String>,
    ) -> Result<T, PeerError<E>> {
        let result = conn.call(&self.addr, &req, option.hard_ttl()).await;
        match &result {
            Err(CallError::Unreachable(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.refusing.refused(self.target)
            }
            Err(CallError::Unreachable(_)) => {}
            _ => self.refusing.answered(self.target),
        }
        match result {
            Ok(resp) => match pick(resp) {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
                Err(other) => Err(RPCError::Network(NetworkError::new(
                    &std::io::Error::other(format!(
                        "unexpected answer from controller {}: {other:?}",
                        self.target
                    )),
                ))),
            },
            Err(CallError::Unreachable(e)) => Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(CallError::Failed(e)) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }
}

impl RaftNetwork<MetadataRaft> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<MetadataRaft>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, PeerError<openraft::error::Infallible>> {
        self.send(
            &self.append,
            Request::RaftAppend(rpc),
            option,
            |r| match r {
                Response::RaftAppend(a) => Ok(a),
                other => Err(format!("{other:?}")),
            },
        )
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<MetadataRaft>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, PeerError<InstallSnapshotError>> {
        self.send(
            &self.append,
            Request::RaftSnapshot(rpc),
            option,
            |r| match r {
                Response::RaftSnapshot(a) => Ok(a),
                other => Err(format!("{other:?}")),
            },
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, PeerError<openraft::error::Infallible>> {
        self.send(&self.vote, Request::RaftVote(rpc), option, |r| match r {
            Response::RaftVote(a) => Ok(a),
            other => Err(format!("{other:?}")),
        })
        .await
    }
}
