//! Decoding and dispatch: from a frame to the handler of its API and back to a response frame.
//!
//! The route table below is the single list of what the broker implements. The ApiVersions
//! answer is generated from it, so what is advertised and what is served cannot disagree.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::frame::{ResponseFrame, SplicingBuf};
use crate::handlers;
use crate::network::CloseReason;
use crate::server::BrokerState;

/// What a handler knows about the request it serves.
pub struct RequestContext {
    /// Broker state.
    pub state: Arc<BrokerState>,
    /// API version of the request.
    pub version: i16,
    /// `client.id` from the request header.
    pub client_id: Option<StrBytes>,
    /// Address of the client.
    pub peer: SocketAddr,
    /// The request's share of `queued.max.requests` and `queued.max.request.bytes`.
    permits: parking_lot::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    /// The request's share of `queued.max.request.bytes`, held until it is answered (its frame
    /// stays in memory that long).
    _memory: tokio::sync::OwnedSemaphorePermit,
}

/// What a request holds of the broker's bounded capacity while it is handled.
pub(crate) struct Permits {
    pub(crate) _memory: tokio::sync::OwnedSemaphorePermit,
    pub(crate) _slot: tokio::sync::OwnedSemaphorePermit,
}

impl RequestContext {
    /// `client.id` from the request header, empty when absent.
    pub fn client_id_string(&self) -> String {
        self.client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    /// The client's address as Kafka shows it in group descriptions (`/127.0.0.1`).
    pub fn client_host(&self) -> String {
        format!("/{}", self.peer.ip())
    }

    /// Gives back the request's `queued.max.requests` slot before a long wait (a Fetch parked
    /// until data arrives), so that parked requests never starve the ones that would wake them.
    /// The memory it holds stays reserved.
    pub fn release_capacity(&self) {
        self.permits.lock().take();
    }
}

/// What a handler wants done with its request.
pub enum Reply<R> {
    /// Send this response.
    Respond(R),
    /// Send nothing (Produce with acks=0).
    Silent,
    /// Close the connection (Produce with acks=0 that failed: the client learns of the error
    /// by reconnecting and refreshing metadata, as with Kafka).
    Close(String),
    /// Send this response with these file ranges in place of its records placeholders, in the
    /// order the encoder writes them (Fetch; see [`crate::frame`]).
    Spliced(R, Vec<crate::log::FileSlice>),
}

impl<R> From<R> for Reply<R> {
    fn from(r: R) -> Self {
        Reply::Respond(r)
    }
}

/// An API this broker serves: its key and the versions advertised.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// API key.
    pub key: ApiKey,
    /// Lowest version advertised.
    pub min: i16,
    /// Highest version advertised.
    pub max: i16,
}

macro_rules! routes {
    ($( $key:ident : $req:ty => $handler:path, $min:expr, $max:expr; )*) => {
        /// Every API served, with the versions advertised in ApiVersions.
        pub const ROUTES: &[Route] = &[ $( Route { key: ApiKey::$key, min: $min, max: $max }, )* ];

        async fn route(ctx: RequestContext, key: ApiKey, correlation_id: i32, body: &mut Bytes) -> Result<Option<ResponseFrame>, CloseReason> {
            match key {
                $( ApiKey::$key => {
                    let request = <$req>::decode(body, ctx.version)
                        .map_err(|e| CloseReason::BadRequest(format!("cannot decode {:?} v{}: {e}", key, ctx.version)))?;
                    let version = ctx.version;
                    let reply: Reply<<$req as kafka_protocol::protocol::Request>::Response> = $handler(ctx, request).await.into();
                    match reply {
                        Reply::Respond(r) => encode_response(correlation_id, version, &r).map(|b| Some(b.into())),
                        Reply::Spliced(r, files) => encode_spliced(correlation_id, version, &r, files).map(Some),
                        Reply::Silent => Ok(None),
                        Reply::Close(why) => Err(CloseReason::BadRequest(why)),
                    }
                } )*
                _ => Err(CloseReason::BadRequest(format!("API {key:?} is not served"))),
            }
        }

        /// Decodes a request frame the way the broker does when it serves it, without handling it: the entry
        /// point of the request-decoding fuzz target. Never panics; errors say why the frame
        /// would close the connection.
        pub fn decode_frame(frame: Bytes) -> Result<(), String> {
            let (key, version, _) = parse_prefix(&frame).map_err(|e| e.to_string())?;
            let mut body = frame;
            let header_version = key.request_header_version(version);
            RequestHeader::decode(&mut body, header_version).map_err(|e| e.to_string())?;
            match key {
                $( ApiKey::$key => <$req>::decode(&mut body, version).map(|_| ()).map_err(|e| e.to_string()), )*
                _ => Err(format!("API {key:?} is not served")),
            }
        }
    };
}

/// Reads API key, version and correlation id, which sit at the same place in every header
/// version, and checks the key is known.
fn parse_prefix(frame: &[u8]) -> Result<(ApiKey, i16, i32), CloseReason> {
    if frame.len() < 8 {
        return Err(CloseReason::BadRequest(format!(
            "request of {} bytes is shorter than a request header",
            frame.len()
        )));
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(api_key)
        .map_err(|_| CloseReason::BadRequest(format!("unknown API key {api_key}")))?;
    Ok((key, version, correlation_id))
}

routes! {
    Produce: ProduceRequest => handlers::produce::handle, 0, 11;
    Fetch: FetchRequest => handlers::fetch::handle, 4, 16;
    ListOffsets: ListOffsetsRequest => handlers::list_offsets::handle, 1, 10;
    Metadata: MetadataRequest => handlers::metadata::handle, 0, 12;
    ApiVersions: ApiVersionsRequest => handlers::api_versions::handle, 0, 4;
    CreateTopics: CreateTopicsRequest => handlers::create_topics::handle, 2, 7;
    DeleteTopics: DeleteTopicsRequest => handlers::delete_topics::handle, 1, 6;
    DeleteRecords: DeleteRecordsRequest => handlers::delete_records::handle, 0, 2;
    OffsetForLeaderEpoch: OffsetForLeaderEpochRequest => handlers::offset_for_leader_epoch::handle, 2, 4;
    DescribeConfigs: DescribeConfigsRequest => handlers::describe_configs::handle, 1, 4;
    AlterConfigs: AlterConfigsRequest => handlers::alter_configs::handle, 0, 2;
    IncrementalAlterConfigs: IncrementalAlterConfigsRequest => handlers::incremental_alter_configs::handle, 0, 1;
    CreatePartitions: CreatePartitionsRequest => handlers::create_partitions::handle, 0, 3;
    DescribeCluster: DescribeClusterRequest => handlers::describe_cluster::handle, 0, 1;
    FindCoordinator: FindCoordinatorRequest => handlers::find_coordinator::handle, 0, 5;
    JoinGroup: JoinGroupRequest => handlers::join_group::handle, 0, 9;
    SyncGroup: SyncGroupRequest => handlers::sync_group::handle, 0, 5;
    Heartbeat: HeartbeatRequest => handlers::heartbeat::handle, 0, 4;
    LeaveGroup: LeaveGroupRequest => handlers::leave_group::handle, 0, 5;
    OffsetCommit: OffsetCommitRequest => handlers::offset_commit::handle, 2, 9;
    OffsetFetch: OffsetFetchRequest => handlers::offset_fetch::handle, 1, 9;
    ListGroups: ListGroupsRequest => handlers::list_groups::handle, 0, 5;
    DescribeGroups: DescribeGroupsRequest => handlers::describe_groups::handle, 0, 6;
    DeleteGroups: DeleteGroupsRequest => handlers::delete_groups::handle, 0, 2;
    OffsetDelete: OffsetDeleteRequest => handlers::offset_delete::handle, 0, 0;
    ConsumerGroupHeartbeat: ConsumerGroupHeartbeatRequest => handlers::consumer_group_heartbeat::handle, 0, 1;
    ConsumerGroupDescribe: ConsumerGroupDescribeRequest => handlers::consumer_group_describe::handle, 0, 1;
    InitProducerId: InitProducerIdRequest => handlers::init_producer_id::handle, 0, 5;
    AddPartitionsToTxn: AddPartitionsToTxnRequest => handlers::add_partitions_to_txn::handle, 0, 3;
    AddOffsetsToTxn: AddOffsetsToTxnRequest => handlers::add_offsets_to_txn::handle, 0, 4;
    EndTxn: EndTxnRequest => handlers::end_txn::handle, 0, 4;
    TxnOffsetCommit: TxnOffsetCommitRequest => handlers::txn_offset_commit::handle, 0, 4;
    WriteTxnMarkers: WriteTxnMarkersRequest => handlers::write_txn_markers::handle, 1, 1;
    DescribeProducers: DescribeProducersRequest => handlers::describe_producers::handle, 0, 0;
    DescribeTransactions: DescribeTransactionsRequest => handlers::describe_transactions::handle, 0, 0;
    ListTransactions: ListTransactionsRequest => handlers::list_transactions::handle, 0, 2;
    DescribeLogDirs: DescribeLogDirsRequest => handlers::describe_log_dirs::handle, 1, 4;
    DescribeQuorum: DescribeQuorumRequest => handlers::describe_quorum::handle, 0, 2;
    ElectLeaders: ElectLeadersRequest => handlers::elect_leaders::handle, 0, 2;
    AlterPartitionReassignments: AlterPartitionReassignmentsRequest => handlers::alter_partition_reassignments::handle, 0, 1;
    ListPartitionReassignments: ListPartitionReassignmentsRequest => handlers::list_partition_reassignments::handle, 0, 0;
    DescribeAcls: DescribeAclsRequest => handlers::acls::describe, 1, 3;
    CreateAcls: CreateAclsRequest => handlers::acls::create, 1, 3;
    DeleteAcls: DeleteAclsRequest => handlers::acls::delete, 1, 3;
}

/// Encodes `[size][response header][body]` for a response at `version` into the buffer
/// `make(size)` gives, `size` being the whole frame's.
fn encode_with<R: Encodable + HeaderVersion, B: ByteBufMut>(
    correlation_id: i32,
    version: i16,
    response: &R,
    make: impl FnOnce(usize) -> B,
) -> Result<B, CloseReason> {
    let header_version = R::header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let fail = |what: &str, e: String| {
        CloseReason::BadRequest(format!("cannot encode {what} v{version}: {e}"))
    };
    let size = header
        .compute_size(header_version)
        .map_err(|e| fail("response header", e.to_string()))?
        + response
            .compute_size(version)
            .map_err(|e| fail("response", e.to_string()))?;
    let mut buf = make(size + 4);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| fail("response header", e.to_string()))?;
    response
        .encode(&mut buf, version)
        .map_err(|e| fail("response", e.to_string()))?;
    Ok(buf)
}

/// Encodes `[size][response header][body]` for a response at `version`.
fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
) -> Result<Bytes, CloseReason> {
    encode_with(correlation_id, version, response, BytesMut::with_capacity).map(|b| b.freeze())
}

/// Encodes a response whose records placeholders are to be replaced by `files` (see
/// [`crate::frame`]); refuses to produce a frame where one was not.
fn encode_spliced<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
    files: Vec<crate::log::FileSlice>,
) -> Result<ResponseFrame, CloseReason> {
    let spliced: usize = files.iter().map(|f| f.len()).sum();
    let buf = encode_with(correlation_id, version, response, |frame| {
        SplicingBuf::new(frame.saturating_sub(spliced), files)
    })?;
    buf.into_frame().ok_or_else(|| {
        tracing::error!("a spliced response left file ranges unplaced");
        CloseReason::BadRequest("internal error: records left out of a response".into())
    })
}

/// The versions advertised for `key`, if served.
pub fn route_for(key: ApiKey) -> Option<Route> {
    ROUTES.iter().copied().find(|r| r.key == key)
}

/// Handles one request frame. `Ok(None)` means no response is due (Produce with acks=0);
/// `Err` means the connection must be closed, as Kafka closes it for requests it cannot parse.
pub(crate) async fn handle(
    state: &Arc<BrokerState>,
    peer: SocketAddr,
    frame: Bytes,
    permits: Permits,
) -> Result<Option<ResponseFrame>, CloseReason> {
    let (key, version, correlation_id) = parse_prefix(&frame)?;
    let Some(served) = route_for(key) else {
        return Err(CloseReason::BadRequest(format!(
            "unsupported API {key:?} (key {})",
            key as i16
        )));
    };
    if key == ApiKey::Produce && (0..3).contains(&version) {
        return match handlers::produce::unsupported_old_version(correlation_id, version, frame) {
            Some(answer) => Ok(Some(answer.into())),
            None => Err(CloseReason::BadRequest(format!(
                "Produce v{version} with acks=0 is not supported"
            ))),
        };
    }
    if version < served.min || version > served.max {
        if key == ApiKey::ApiVersions {
            // Kafka answers an ApiVersions version it does not know in v0 with
            // UNSUPPORTED_VERSION, so that the client can retry with a version it supports.
            return encode_response(correlation_id, 0, &handlers::api_versions::unsupported())
                .map(|b| Some(b.into()));
        }
        return Err(CloseReason::BadRequest(format!(
            "unsupported version {version} of {key:?}; supported {}..={}",
            served.min, served.max
        )));
    }
    let mut body = frame;
    let header_version = key.request_header_version(version);
    let header = RequestHeader::decode(&mut body, header_version)
        .map_err(|e| CloseReason::BadRequest(format!("cannot decode request header: {e}")))?;
    let ctx = RequestContext {
        state: Arc::clone(state),
        version,
        client_id: header.client_id,
        peer,
        permits: parking_lot::Mutex::new(Some(permits._slot)),
        _memory: permits._memory,
    };
    tracing::trace!(api = ?key, version, correlation_id, %peer, "request");
    route(ctx, key, correlation_id, &mut body).await
}
