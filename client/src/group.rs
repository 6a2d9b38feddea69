//! Group membership through the classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup) with an assignment computed here, for members whose assignor librdkafka cannot
//! run: a Streams application's tasks, Connect's workers. Offsets are committed and fetched with
//! the member's generation, as a consumer of the group would.
//!
//! A [`Member`] is driven by its owner: [`Member::join`] until it has an assignment, then
//! [`Member::heartbeat`] every `heartbeat.interval.ms`; a heartbeat that answers
//! [`GroupError::Rejoin`] means the group is rebalancing (or the member was dropped) and the
//! owner joins again once it has given its work up.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequest, OffsetFetchRequestTopic};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::wire::Client;

/// What went wrong with a group call.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The connection failed or timed out.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The group is rebalancing, or no longer knows this member: join again.
    #[error("the group needs this member to join again ({0})")]
    Rejoin(ResponseError),
    /// An error the broker answered that joining again does not cure.
    #[error("{api} failed: {error}")]
    Broker {
        /// The request.
        api: &'static str,
        /// What the broker answered.
        error: ResponseError,
    },
    /// No broker answered.
    #[error("no broker of {0} answered")]
    NoBroker(String),
}

/// How a member joins its group.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Brokers to find the coordinator through (`host:port`).
    pub bootstrap: Vec<String>,
    /// The group.
    pub group_id: String,
    /// The protocol type (`consumer` for a Streams application, `connect` for Connect).
    pub protocol_type: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms`: how long the group waits for members to rejoin.
    pub rebalance_timeout: Duration,
    /// How long a call may take.
    pub request_timeout: Duration,
}

/// A member of the group as the leader sees it when assigning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// The metadata it joined with.
    pub metadata: Bytes,
}

/// Computes the group's assignment when this member is the leader.
pub trait Assignor {
    /// The protocol (assignor) name members agree on.
    fn name(&self) -> &str;
    /// This member's metadata for the join.
    fn metadata(&self) -> Bytes;
    /// Each member's assignment.
    fn assign(&self, members: &[GroupMember]) -> BTreeMap<String, Bytes>;
}

/// The outcome of a join: this member's generation, id and assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The generation.
    pub generation: i32,
    /// This member's id.
    pub member_id: String,
    /// Whether this member computed the assignment.
    pub leader: bool,
    /// This member's assignment, as the leader's assignor encoded it.
    pub assignment: Bytes,
}

/// Sends a member's heartbeats on a connection of its own ([`Member::heartbeats`]).
pub struct Heartbeats {
    member: Member,
}

impl Heartbeats {
    /// One heartbeat; [`GroupError::Rejoin`] when the group is rebalancing or has dropped the
    /// member.
    pub async fn beat(&mut self) -> Result<(), GroupError> {
        self.member.heartbeat().await
    }
}

/// A member of a group.
pub struct Member {
    config: GroupConfig,
    coordinator: Option<Client>,
    member_id: String,
    generation: i32,
}

const FIND_COORDINATOR_VERSION: i16 = 3;
const JOIN_GROUP_VERSION: i16 = 7;
const SYNC_GROUP_VERSION: i16 = 5;
const HEARTBEAT_VERSION: i16 = 4;
const LEAVE_GROUP_VERSION: i16 = 4;
const OFFSET_COMMIT_VERSION: i16 = 8;
const OFFSET_FETCH_VERSION: i16 = 7;

fn code_error(code: i16) -> Option<ResponseError> {
    ResponseError::try_from_code(code)
}

/// Errors after which the coordinator must be looked up again.
fn coordinator_moved(e: ResponseError) -> bool {
    matches!(
        e,
        ResponseError::NotCoordinator
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::CoordinatorLoadInProgress
    )
}

/// Whether `error` (from [`GroupError::Rejoin`]) means the group no longer knows this member,
/// so its work may have gone to others meanwhile (rather than a plain rebalance).
pub fn lost_membership(error: ResponseError) -> bool {
    matches!(
        error,
        ResponseError::UnknownMemberId
            | ResponseError::IllegalGeneration
            | ResponseError::FencedInstanceId
    )
}

/// Errors that a new join cures.
fn needs_rejoin(e: ResponseError) -> bool {
    matches!(
        e,
        ResponseError::RebalanceInProgress
            | ResponseError::UnknownMemberId
            | ResponseError::IllegalGeneration
            | ResponseError::FencedInstanceId
    )
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl Member {
    /// A member of `config.group_id` that has not joined yet.
    pub fn new(config: GroupConfig) -> Member {
        Member {
            config,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
        }
    }

    /// The generation of the last join (-1 before the first).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// This member's id ("" before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The connection to the group's coordinator, found through the bootstrap brokers.
    async fn coordinator(&mut self) -> Result<&mut Client, GroupError> {
        if self.coordinator.is_none() {
            let found = self.find_coordinator().await?;
            self.coordinator = Some(found);
        }
        self.coordinator
            .as_mut()
            .ok_or_else(|| GroupError::NoBroker(self.config.bootstrap.join(",")))
    }

    async fn find_coordinator(&self) -> Result<Client, GroupError> {
        let timeout = self.config.request_timeout;
        let mut last = GroupError::NoBroker(self.config.bootstrap.join(","));
        for addr in &self.config.bootstrap {
            let mut client = match Client::connect(addr, timeout).await {
                Ok(c) => c,
                Err(e) => {
                    last = e.into();
                    continue;
                }
            };
            let req = FindCoordinatorRequest::default()
                .with_key(str(&self.config.group_id))
                .with_key_type(0);
            let resp = match client.call(&req, FIND_COORDINATOR_VERSION).await {
                Ok(r) => r,
                Err(e) => {
                    last = e.into();
                    continue;
                }
            };
            if let Some(error) = code_error(resp.error_code) {
                last = GroupError::Broker {
                    api: "FindCoordinator",
                    error,
                };
                continue;
            }
            let addr = format!("{}:{}", resp.host.as_str(), resp.port);
            return Ok(Client::connect(&addr, timeout).await?);
        }
        Err(last)
    }

    /// Maps an error code of `api`: a moved coordinator is forgotten (the call may be retried),
    /// a rejoin error says so.
    fn check(&mut self, api: &'static str, code: i16) -> Result<(), GroupError> {
        let Some(error) = code_error(code) else {
            return Ok(());
        };
        if coordinator_moved(error) {
            self.coordinator = None;
        }
        if needs_rejoin(error) {
            return Err(GroupError::Rejoin(error));
        }
        Err(GroupError::Broker { api, error })
    }

    /// Whether a failed call may be tried again (the coordinator moved, is loading, or the
    /// connection broke), a few times and a little later each time; forgets the coordinator
    /// then.
    async fn retry(&mut self, error: &GroupError, attempt: &mut u32) -> bool {
        let (moved, transient) = match error {
            GroupError::Broker { error, .. } => (
                coordinator_moved(*error),
                // offsets of a transaction whose markers are not written yet
                *error == ResponseError::UnstableOffsetCommit,
            ),
            GroupError::Io(_) | GroupError::NoBroker(_) => (true, false),
            GroupError::Rejoin(_) => (false, false),
        };
        // about a minute of tries, a second apart at most: a broker restart or an offsets
        // topic loading takes that long
        if !(moved || transient) || *attempt >= 60 {
            return false;
        }
        if moved {
            self.coordinator = None;
        }
        *attempt += 1;
        tokio::time::sleep(Duration::from_millis(100 * u64::from((*attempt).min(10)))).await;
        true
    }

    /// Forgets the coordinator connection (after a call on it was cancelled midway, its
    /// answer would be read as the next call's).
    pub fn disconnect(&mut self) {
        self.coordinator = None;
    }

    /// Joins the group (JoinGroup, then SyncGroup with the assignment this member computes when
    /// it is the leader); returns this member's assignment.
    pub async fn join(&mut self, assignor: &(dyn Assignor + Sync)) -> Result<Joined, GroupError> {
        let mut attempt = 0;
        loop {
            let joined = self.join_once(assignor).await;
            if let Err(e) = &joined {
                if self.retry(e, &mut attempt).await {
                    continue;
                }
            }
            match joined {
                // a new member learns its id first, then joins with it
                Err(GroupError::Broker {
                    error: ResponseError::MemberIdRequired,
                    ..
                }) => continue,
                Err(GroupError::Rejoin(ResponseError::UnknownMemberId)) => {
                    self.member_id.clear();
                    continue;
                }
                Err(GroupError::Rejoin(_)) => continue,
                other => return other,
            }
        }
    }

    async fn join_once(&mut self, assignor: &(dyn Assignor + Sync)) -> Result<Joined, GroupError> {
        let config = self.config.clone();
        let join = JoinGroupRequest::default()
            .with_group_id(GroupId(str(&config.group_id)))
            .with_session_timeout_ms(config.session_timeout.as_millis() as i32)
            .with_rebalance_timeout_ms(config.rebalance_timeout.as_millis() as i32)
            .with_member_id(str(&self.member_id))
            .with_protocol_type(str(&config.protocol_type))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(str(assignor.name()))
                .with_metadata(assignor.metadata())]);
        // a join waits for the other members, up to the rebalance timeout
        let client = self.coordinator().await?;
        let resp = client
            .call_with_timeout(
                &join,
                JOIN_GROUP_VERSION,
                config.rebalance_timeout + config.request_timeout,
            )
            .await?;
        if !resp.member_id.is_empty() {
            self.member_id = resp.member_id.to_string();
        }
        self.check("JoinGroup", resp.error_code)?;
        self.generation = resp.generation_id;
        let leader = resp.leader == resp.member_id;
        let assignments = if leader {
            let members: Vec<GroupMember> = resp
                .members
                .iter()
                .map(|m| GroupMember {
                    member_id: m.member_id.to_string(),
                    metadata: m.metadata.clone(),
                })
                .collect();
            assignor
                .assign(&members)
                .into_iter()
                .map(|(member, assignment)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(str(&member))
                        .with_assignment(assignment)
                })
                .collect()
        } else {
            Vec::new()
        };
        let sync = SyncGroupRequest::default()
            .with_group_id(GroupId(str(&config.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(str(&self.member_id))
            .with_protocol_type(Some(str(&config.protocol_type)))
            .with_protocol_name(Some(str(assignor.name())))
            .with_assignments(assignments);
        let client = self.coordinator().await?;
        let resp = client
            .call_with_timeout(
                &sync,
                SYNC_GROUP_VERSION,
                config.rebalance_timeout + config.request_timeout,
            )
            .await?;
        self.check("SyncGroup", resp.error_code)?;
        Ok(Joined {
            generation: self.generation,
            member_id: self.member_id.clone(),
            leader,
            assignment: resp.assignment,
        })
    }

    /// A heartbeat sender for this member's current generation, with a connection of its own,
    /// so that heartbeats go on while this member waits on a long call.
    pub fn heartbeats(&self) -> Heartbeats {
        Heartbeats {
            member: Member {
                config: self.config.clone(),
                coordinator: None,
                member_id: self.member_id.clone(),
                generation: self.generation,
            },
        }
    }

    /// Tells the coordinator this member is alive; [`GroupError::Rejoin`] when the group is
    /// rebalancing or has dropped it.
    pub async fn heartbeat(&mut self) -> Result<(), GroupError> {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(str(&self.config.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(str(&self.member_id));
        let resp = self
            .coordinator()
            .await?
            .call(&req, HEARTBEAT_VERSION)
            .await;
        match resp {
            Ok(resp) => self.check("Heartbeat", resp.error_code),
            Err(e) => {
                self.coordinator = None;
                Err(e.into())
            }
        }
    }

    /// Commits `offsets` (topic, partition, next offset to read) with this member's
    /// generation.
    pub async fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), GroupError> {
        let with: Vec<(String, i32, i64, String)> = offsets
            .iter()
            .map(|(t, p, o)| (t.clone(), *p, *o, String::new()))
            .collect();
        self.commit_with_metadata(&with).await
    }

    /// Commits `offsets` (topic, partition, next offset to read, the offset's metadata) with
    /// this member's generation.
    pub async fn commit_with_metadata(
        &mut self,
        offsets: &[(String, i32, i64, String)],
    ) -> Result<(), GroupError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (topic, partition, offset, metadata) in offsets {
            topics.entry(topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(str(metadata))),
            );
        }
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(str(&self.config.group_id)))
            .with_generation_id_or_member_epoch(self.generation)
            .with_member_id(str(&self.member_id))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, p)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(str(t)))
                            .with_partitions(p)
                    })
                    .collect(),
            );
        let mut attempt = 0;
        loop {
            let result = self.commit_once(&req).await;
            match &result {
                Err(e) if self.retry(e, &mut attempt).await => continue,
                _ => return result,
            }
        }
    }

    async fn commit_once(&mut self, req: &OffsetCommitRequest) -> Result<(), GroupError> {
        let resp = self
            .coordinator()
            .await?
            .call(req, OFFSET_COMMIT_VERSION)
            .await?;
        for t in &resp.topics {
            for p in &t.partitions {
                self.check("OffsetCommit", p.error_code)?;
            }
        }
        Ok(())
    }

    /// The committed offsets of `partitions` (topic, partition): `None` where there is none.
    pub async fn committed(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Option<i64>>, GroupError> {
        let found = self.committed_with_metadata(partitions).await?;
        Ok(found.into_iter().map(|c| c.map(|(o, _)| o)).collect())
    }

    /// The committed offsets of `partitions` (topic, partition) with their metadata: `None`
    /// where there is none.
    pub async fn committed_with_metadata(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Option<(i64, String)>>, GroupError> {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            topics.entry(topic).or_default().push(*partition);
        }
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(str(&self.config.group_id)))
            .with_require_stable(true)
            .with_topics(Some(
                topics
                    .into_iter()
                    .map(|(t, p)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(TopicName(str(t)))
                            .with_partition_indexes(p)
                    })
                    .collect(),
            ));
        let mut attempt = 0;
        let resp = loop {
            let result = self.fetch_once(&req).await;
            match &result {
                Err(e) if self.retry(e, &mut attempt).await => continue,
                _ => break result?,
            }
        };
        let mut found: BTreeMap<(String, i32), (i64, String)> = BTreeMap::new();
        for t in &resp.topics {
            for p in &t.partitions {
                if p.committed_offset >= 0 {
                    let metadata = p.metadata.as_ref().map_or("", |m| m.as_str());
                    found.insert(
                        (t.name.0.to_string(), p.partition_index),
                        (p.committed_offset, metadata.to_string()),
                    );
                }
            }
        }
        Ok(partitions
            .iter()
            .map(|(t, p)| found.get(&(t.clone(), *p)).cloned())
            .collect())
    }

    async fn fetch_once(
        &mut self,
        req: &OffsetFetchRequest,
    ) -> Result<kafka_protocol::messages::OffsetFetchResponse, GroupError> {
        let resp = self
            .coordinator()
            .await?
            .call(req, OFFSET_FETCH_VERSION)
            .await?;
        // a partition's error (UNSTABLE_OFFSET_COMMIT while a transaction completes) fails the
        // whole fetch, which is then tried again
        if let Some(code) = resp
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| p.error_code)
            .find(|&c| c != 0)
        {
            self.check("OffsetFetch", code)?;
        }
        self.check("OffsetFetch", resp.error_code)?;
        Ok(resp)
    }

    /// Leaves the group, so that its work moves at once rather than after the session timeout.
    pub async fn leave(&mut self) -> Result<(), GroupError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(str(&self.config.group_id)))
            .with_members(vec![MemberIdentity::default()
                .with_member_id(str(&self.member_id))
                .with_reason(Some(str("the member is closing")))]);
        let resp = self
            .coordinator()
            .await?
            .call(&req, LEAVE_GROUP_VERSION)
            .await?;
        self.member_id.clear();
        self.generation = -1;
        self.check("LeaveGroup", resp.error_code)
    }
}
