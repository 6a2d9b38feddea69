//! openraft's network between the controllers of a quorum: its messages go over the same
//! frames as brokers' requests, to the voters' controller listeners
//! (`controller.quorum.voters`). Votes have a connection of their own so that a vote never
//! waits behind a large append or a snapshot.

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
pub struct PeerNetwork;

/// The connections to one voter.
pub struct Peer {
    target: u64,
    addr: String,
    append: Connection,
    vote: Connection,
}

impl RaftNetworkFactory<MetadataRaft> for PeerNetwork {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            append: Connection::default(),
            vote: Connection::default(),
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
        match conn.call(&self.addr, &req, option.hard_ttl()).await {
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
