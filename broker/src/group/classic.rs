//! The classic group membership protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) as a
//! state machine: events in, [`Action`]s out, no I/O and no clock of its own.
//!
//! ```text
//!            join                      all joined or         leader's SyncGroup
//!  Empty ───────────► PreparingRebalance ─────────────► CompletingRebalance ──────────► Stable
//!    ▲                 ▲    rebalance timeout              │                             │
//!    │ no members left │◄──────────────────────────────────┘◄────────────────────────────┘
//!    └─────────────────┘     join / leave / session expiry / metadata change
//! ```
//!
//! The rules are Kafka's (`ClassicGroup` and `GroupMetadataManager`): KIP-394 member ids handed
//! out on the first join, KIP-345 static members replaced in place, the initial rebalance delay
//! for new groups, and the pending-sync deadline after a join completes. A parked JoinGroup or
//! SyncGroup is a waiter `W` (the runtime's reply channel) answered later through an action.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use indexmap::IndexMap;

use super::records::{GroupValue, MemberValue};
use crate::error::ErrorCode;

/// How long a member that joined for the first time may take to complete the join before it is
/// dropped (Kafka's `newMemberJoinTimeoutMs`).
const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 5 * 60 * 1000;

/// Group states, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (possibly committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Join done; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// The group does not exist (any more).
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as ListGroups and DescribeGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Broker settings a group obeys.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
}

/// A JoinGroup request, as the state machine needs it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Member id; empty on a first join.
    pub member_id: String,
    /// `group.instance.id` (static membership).
    pub instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Protocol type.
    pub protocol_type: String,
    /// Protocols (assignors) with the member's metadata for each, in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a first join gets `MEMBER_ID_REQUIRED` and a member id (KIP-394).
    pub require_known_member_id: bool,
    /// v9+: a static leader that rejoins may skip computing the assignment.
    pub supports_skip_assignment: bool,
    /// A unique suffix for a new member id.
    pub unique: String,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    /// Error.
    pub error: ErrorCode,
    /// Generation.
    pub generation: i32,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// This member's id.
    pub member_id: String,
    /// For the leader: every member with its metadata for the selected protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// The leader need not compute an assignment (static leader rejoin, v9+).
    pub skip_assignment: bool,
}

impl JoinResult {
    /// A failed join.
    pub fn error(error: ErrorCode, member_id: &str) -> Self {
        JoinResult {
            error,
            generation: -1,
            protocol_type: None,
            protocol: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Generation the member is in.
    pub generation: i32,
    /// v5+: protocol type, checked against the group's.
    pub protocol_type: Option<String>,
    /// v5+: protocol name, checked against the group's.
    pub protocol: Option<String>,
    /// The leader's assignment per member.
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// Error.
    pub error: ErrorCode,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
}

impl SyncResult {
    fn error(error: ErrorCode) -> Self {
        SyncResult {
            error,
            protocol_type: None,
            protocol: None,
            assignment: Bytes::new(),
        }
    }
}

/// An answer for a parked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// JoinGroup answer.
    Join(JoinResult),
    /// SyncGroup answer.
    Sync(SyncResult),
}

/// What the runtime must do after an event.
#[derive(Debug)]
pub enum Action<W> {
    /// Answer a parked request.
    Reply(W, Reply),
    /// Write the group's metadata ([`ClassicGroup::to_stored`]) to the log.
    Persist,
}

/// One member of a classic group.
#[derive(Debug)]
pub struct Member<W> {
    /// Member id.
    pub id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Protocols with metadata, in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// Current assignment.
    pub assignment: Bytes,
    awaiting_join: Option<W>,
    awaiting_sync: Option<W>,
    session_deadline: i64,
    is_new: bool,
    supports_skip_assignment: bool,
}

impl<W> Member<W> {
    /// The member's metadata for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Answers the member's parked requests with `code`.
    fn fail_waiters(&mut self, code: ErrorCode) -> Vec<Action<W>> {
        let mut out = Vec::new();
        if let Some(w) = self.awaiting_join.take() {
            out.push(Action::Reply(
                w,
                Reply::Join(JoinResult::error(code, &self.id)),
            ));
        }
        if let Some(w) = self.awaiting_sync.take() {
            out.push(Action::Reply(w, Reply::Sync(SyncResult::error(code))));
        }
        out
    }

    fn alive_at(&self, now: i64) -> bool {
        if self.awaiting_join.is_some() {
            return !self.is_new || self.session_deadline > now;
        }
        self.awaiting_sync.is_some() || self.session_deadline > now
    }
}

/// A classic consumer group.
#[derive(Debug)]
pub struct ClassicGroup<W> {
    id: String,
    limits: Limits,
    state: GroupState,
    state_since: i64,
    protocol_type: Option<String>,
    protocol: Option<String>,
    generation: i32,
    leader: Option<String>,
    members: IndexMap<String, Member<W>>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the time they expire.
    pending: HashMap<String, i64>,
    /// `group.instance.id` → member id.
    statics: HashMap<String, String>,
    join_deadline: Option<i64>,
    /// Time left of the rebalance timeout while the initial delay runs.
    initial_delay_remaining: Option<i64>,
    new_member_added: bool,
    /// Members that have not sent SyncGroup since the join completed.
    pending_sync: HashSet<String>,
    sync_deadline: Option<i64>,
    actions: Vec<Action<W>>,
}

impl<W> ClassicGroup<W> {
    /// A new, empty group.
    pub fn new(id: &str, limits: Limits, now: i64) -> Self {
        ClassicGroup {
            id: id.to_string(),
            limits,
            state: GroupState::Empty,
            state_since: now,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: IndexMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            join_deadline: None,
            initial_delay_remaining: None,
            new_member_added: false,
            pending_sync: HashSet::new(),
            sync_deadline: None,
            actions: Vec::new(),
        }
    }

    /// A group restored from its stored metadata: Stable with its members (whose sessions start
    /// now), or Empty.
    pub fn from_stored(id: &str, v: GroupValue, limits: Limits, now: i64) -> Self {
        let mut g = Self::new(id, limits, now);
        g.protocol_type = Some(v.protocol_type).filter(|p| !p.is_empty());
        g.generation = v.generation;
        g.protocol = v.protocol;
        g.leader = v.leader;
        g.state_since = if v.current_state_timestamp > 0 {
            v.current_state_timestamp
        } else {
            now
        };
        let protocol = g.protocol.clone().unwrap_or_default();
        for m in v.members {
            if let Some(i) = &m.instance_id {
                g.statics.insert(i.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                Member {
                    id: m.member_id,
                    instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: vec![(protocol.clone(), m.subscription)],
                    assignment: m.assignment,
                    awaiting_join: None,
                    awaiting_sync: None,
                    session_deadline: now + i64::from(m.session_timeout_ms),
                    is_new: false,
                    supports_skip_assignment: false,
                },
            );
        }
        if g.members.is_empty() {
            g.leader = None;
        } else {
            g.state = GroupState::Stable;
            if !g.leader.as_ref().is_some_and(|l| g.members.contains_key(l)) {
                g.leader = g.members.keys().next().cloned();
            }
        }
        g
    }

    /// The metadata to store for this group.
    pub fn to_stored(&self) -> GroupValue {
        let protocol = self.protocol.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_since,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Group id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Current state.
    pub fn state(&self) -> GroupState {
        self.state
    }
    /// When the current state was entered.
    pub fn state_since(&self) -> i64 {
        self.state_since
    }
    /// Generation.
    pub fn generation(&self) -> i32 {
        self.generation
    }
    /// Protocol type, once a member joined.
    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }
    /// Selected protocol.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
    /// Leader member id.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }
    /// Members in join order.
    pub fn members(&self) -> impl Iterator<Item = &Member<W>> {
        self.members.values()
    }
    /// Number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    fn take_actions(&mut self) -> Vec<Action<W>> {
        std::mem::take(&mut self.actions)
    }

    fn reply(&mut self, w: W, r: Reply) {
        self.actions.push(Action::Reply(w, r));
    }

    fn transition(&mut self, to: GroupState, now: i64) {
        tracing::debug!(group = %self.id, from = self.state.name(), to = to.name(), generation = self.generation, "group state change");
        self.state = to;
        self.state_since = now;
    }

    /// Protocol names every member supports, in the first member's order of preference.
    fn candidate_protocols(&self) -> Vec<String> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let mut names: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in members {
            names.retain(|n| m.protocols.iter().any(|(p, _)| p == n));
        }
        names
    }

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty protocol list; otherwise
    /// the type must match and one protocol must be supported by every member.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let candidates = self.candidate_protocols();
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(n, _)| candidates.contains(n))
    }

    /// The protocol the members vote for: each votes for its most preferred candidate.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes = vec![0usize; candidates.len()];
        for m in self.members.values() {
            if let Some(i) = m
                .protocols
                .iter()
                .find_map(|(n, _)| candidates.iter().position(|c| c == n))
            {
                votes[i] += 1;
            }
        }
        let best = votes.iter().copied().max()?;
        let at = votes.iter().position(|v| *v == best)?;
        candidates.get(at).cloned()
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|i| self.statics.get(i))
            .is_some_and(|m| m != member_id)
    }

    /// The current generation's join answer for `member_id` (a member that rejoins without
    /// changes gets it again).
    fn current_join_result(&self, member_id: &str, skip_assignment: bool) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            let protocol = self.protocol.clone().unwrap_or_default();
            self.members
                .values()
                .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol)))
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: ErrorCode::None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
            skip_assignment,
        }
    }

    /// Handles a JoinGroup; `waiter` is answered through an action, now or when the rebalance
    /// completes.
    pub fn join(&mut self, req: JoinRequest, waiter: W, now: i64) -> Vec<Action<W>> {
        let limits = self.limits;
        let err = |g: &mut Self, w: W, e: ErrorCode, id: &str| {
            g.reply(w, Reply::Join(JoinResult::error(e, id)));
        };
        if req.session_timeout_ms < limits.min_session_timeout_ms
            || req.session_timeout_ms > limits.max_session_timeout_ms
        {
            err(
                self,
                waiter,
                ErrorCode::InvalidSessionTimeout,
                &req.member_id,
            );
        } else if self.state == GroupState::Dead {
            err(
                self,
                waiter,
                ErrorCode::CoordinatorNotAvailable,
                &req.member_id,
            );
        } else if !self.supports(&req.protocol_type, &req.protocols) {
            err(
                self,
                waiter,
                ErrorCode::InconsistentGroupProtocol,
                &req.member_id,
            );
        } else if req.member_id.is_empty() {
            self.join_new(req, waiter, now);
        } else {
            self.join_known(req, waiter, now);
        }
        self.take_actions()
    }

    fn is_full(&self) -> bool {
        self.members.len() + self.pending.len() >= self.limits.max_size
    }

    fn join_new(&mut self, req: JoinRequest, waiter: W, now: i64) {
        let prefix = req.instance_id.as_deref().unwrap_or(&req.client_id);
        let member_id = format!("{prefix}-{}", req.unique);
        if let Some(old) = req
            .instance_id
            .as_ref()
            .and_then(|i| self.statics.get(i))
            .cloned()
        {
            return self.replace_static_member(&old, member_id, req, waiter, now);
        }
        if self.is_full() {
            let e = JoinResult::error(ErrorCode::GroupMaxSizeReached, "");
            return self.reply(waiter, Reply::Join(e));
        }
        if req.instance_id.is_none() && req.require_known_member_id {
            let deadline = now + i64::from(req.session_timeout_ms);
            self.pending.insert(member_id.clone(), deadline);
            let e = JoinResult::error(ErrorCode::MemberIdRequired, &member_id);
            return self.reply(waiter, Reply::Join(e));
        }
        self.add_member_and_rebalance(member_id, req, waiter, now);
    }

    fn join_known(&mut self, req: JoinRequest, waiter: W, now: i64) {
        let id = req.member_id.clone();
        if self.is_fenced(&id, req.instance_id.as_deref()) {
            return self.reply(
                waiter,
                Reply::Join(JoinResult::error(ErrorCode::FencedInstanceId, &id)),
            );
        }
        if self.pending.remove(&id).is_some() {
            return self.add_member_and_rebalance(id, req, waiter, now);
        }
        let Some(member) = self.members.get(&id) else {
            return self.reply(
                waiter,
                Reply::Join(JoinResult::error(ErrorCode::UnknownMemberId, &id)),
            );
        };
        let unchanged = member.protocols == req.protocols;
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member(&id, req, waiter, now);
                self.try_complete_join(now);
            }
            GroupState::CompletingRebalance if unchanged => {
                // The member lost the join answer: give it again.
                let r = self.current_join_result(&id, false);
                self.reply(waiter, Reply::Join(r));
            }
            GroupState::Stable if unchanged && !is_leader => {
                self.refresh(&id, now);
                let r = self.current_join_result(&id, false);
                self.reply(waiter, Reply::Join(r));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member(&id, req, waiter, now);
                self.prepare_rebalance(now);
            }
            GroupState::Empty | GroupState::Dead => self.reply(
                waiter,
                Reply::Join(JoinResult::error(ErrorCode::UnknownMemberId, &id)),
            ),
        }
    }

    fn update_member(&mut self, id: &str, req: JoinRequest, waiter: W, now: i64) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        m.protocols = req.protocols;
        m.session_timeout_ms = req.session_timeout_ms;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.supports_skip_assignment = req.supports_skip_assignment;
        if !m.is_new {
            // a new member keeps its join timeout
            m.session_deadline = now + i64::from(req.session_timeout_ms);
        }
        if let Some(old) = m.awaiting_join.replace(waiter) {
            // A duplicate join from the same member: the newer request waits instead.
            self.reply(
                old,
                Reply::Join(JoinResult::error(ErrorCode::RebalanceInProgress, id)),
            );
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        req: JoinRequest,
        waiter: W,
        now: i64,
    ) {
        if let Some(i) = &req.instance_id {
            self.statics.insert(i.clone(), member_id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        self.members.insert(
            member_id.clone(),
            Member {
                id: member_id,
                instance_id: req.instance_id,
                client_id: req.client_id,
                client_host: req.client_host,
                session_timeout_ms: req.session_timeout_ms,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                protocols: req.protocols,
                assignment: Bytes::new(),
                awaiting_join: Some(waiter),
                awaiting_sync: None,
                session_deadline: now + NEW_MEMBER_JOIN_TIMEOUT_MS,
                is_new: true,
                supports_skip_assignment: req.supports_skip_assignment,
            },
        );
        self.new_member_added = true;
        self.maybe_prepare_rebalance(now);
    }

    /// KIP-345: a static member rejoined with a new member id; the old id is fenced.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        waiter: W,
        now: i64,
    ) {
        let Some(mut m) = self.members.shift_remove(old_id) else {
            return self.add_member_and_rebalance(new_id, req, waiter, now);
        };
        let fenced = m.fail_waiters(ErrorCode::FencedInstanceId);
        self.actions.extend(fenced);
        let was_leader = self.leader.as_deref() == Some(old_id);
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        m.id = new_id.clone();
        if let Some(i) = &req.instance_id {
            self.statics.insert(i.clone(), new_id.clone());
        }
        self.members.insert(new_id.clone(), m);
        let skip = req.supports_skip_assignment;
        self.update_member(&new_id, req, waiter, now);
        let same_protocol = self.protocol.is_some() && self.select_protocol() == self.protocol;
        match self.state {
            GroupState::Stable if same_protocol => {
                // Nothing changes for the others: no rebalance. The new member id is stored and
                // the member gets the current generation. A leader that cannot skip the
                // assignment (JoinGroup < v9) is told the old leader id, so that it acts as a
                // follower and simply fetches its assignment (Kafka does the same).
                let mut r = self.current_join_result(&new_id, was_leader && skip);
                if was_leader && !skip {
                    r.leader = old_id.to_string();
                    r.members.clear();
                }
                if let Some(w) = self
                    .members
                    .get_mut(&new_id)
                    .and_then(|m| m.awaiting_join.take())
                {
                    self.reply(w, Reply::Join(r));
                }
                self.actions.push(Action::Persist);
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
            _ => self.prepare_rebalance(now),
        }
    }

    fn refresh(&mut self, id: &str, now: i64) {
        if let Some(m) = self.members.get_mut(id) {
            m.session_deadline = now + i64::from(m.session_timeout_ms);
        }
    }

    fn maybe_prepare_rebalance(&mut self, now: i64) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty => {
                self.prepare_rebalance(now)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
            GroupState::Dead => {}
        }
    }

    fn prepare_rebalance(&mut self, now: i64) {
        if self.state == GroupState::CompletingRebalance {
            // The leader's assignment for the old generation is now void.
            let waiters: Vec<W> = self
                .members
                .values_mut()
                .filter_map(|m| {
                    m.assignment = Bytes::new();
                    let w = m.awaiting_sync.take();
                    if w.is_some() {
                        // the member waited on us, not on its heartbeats
                        m.session_deadline = now + i64::from(m.session_timeout_ms);
                    }
                    w
                })
                .collect();
            for w in waiters {
                self.reply(
                    w,
                    Reply::Sync(SyncResult::error(ErrorCode::RebalanceInProgress)),
                );
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let rebalance_timeout = self.max_rebalance_timeout();
        let delay = i64::from(self.limits.initial_rebalance_delay_ms);
        if self.state == GroupState::Empty && delay > 0 {
            self.initial_delay_remaining = Some((rebalance_timeout - delay).max(0));
            self.join_deadline = Some(now + delay);
            self.new_member_added = false;
        } else {
            self.initial_delay_remaining = None;
            self.join_deadline = Some(now + rebalance_timeout);
        }
        self.transition(GroupState::PreparingRebalance, now);
        self.try_complete_join(now);
    }

    fn try_complete_join(&mut self, now: i64) {
        if self.state != GroupState::PreparingRebalance || self.initial_delay_remaining.is_some() {
            return;
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some());
        if all_joined && self.pending.is_empty() {
            self.complete_join(now);
        }
    }

    fn complete_join(&mut self, now: i64) {
        // Dynamic members that did not rejoin in time leave; static ones stay in the generation.
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        if !self.members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_none()) {
            // Only static members that did not rejoin are left: no one could lead. Wait another
            // rebalance timeout (Kafka does the same).
            self.initial_delay_remaining = None;
            self.join_deadline = Some(now + self.max_rebalance_timeout());
            return;
        }
        self.join_deadline = None;
        self.initial_delay_remaining = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty, now);
            self.actions.push(Action::Persist);
            return;
        }
        self.protocol = self.select_protocol();
        let leader_joined = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if !leader_joined {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
        self.transition(GroupState::CompletingRebalance, now);
        self.pending_sync = self.members.keys().cloned().collect();
        self.sync_deadline = Some(now + self.max_rebalance_timeout());
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.current_join_result(&id, false);
            if let Some(m) = self.members.get_mut(&id) {
                m.is_new = false;
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                if let Some(w) = m.awaiting_join.take() {
                    self.reply(w, Reply::Join(result));
                }
            }
        }
    }

    /// Removes a member; its parked requests are answered `UNKNOWN_MEMBER_ID`.
    fn remove_member(&mut self, id: &str) {
        let Some(mut m) = self.members.shift_remove(id) else {
            return;
        };
        if let Some(i) = &m.instance_id {
            if self.statics.get(i).map(String::as_str) == Some(id) {
                self.statics.remove(i);
            }
        }
        self.pending_sync.remove(id);
        let gone = m.fail_waiters(ErrorCode::UnknownMemberId);
        self.actions.extend(gone);
        if self.leader.as_deref() == Some(id) {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
    }

    /// After a member left or expired: rebalance, or finish the join in progress.
    fn on_member_gone(&mut self, now: i64) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance => self.try_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Checks a member (unknown / fenced) and its generation.
    fn check_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ErrorCode> {
        if self.is_fenced(member_id, instance_id) {
            return Err(ErrorCode::FencedInstanceId);
        }
        let unknown_instance = instance_id.is_some_and(|i| !self.statics.contains_key(i));
        if !self.members.contains_key(member_id) || unknown_instance {
            return Err(ErrorCode::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        Ok(())
    }

    /// Handles a SyncGroup.
    pub fn sync(&mut self, req: SyncRequest, waiter: W, now: i64) -> Vec<Action<W>> {
        let checked = if self.state == GroupState::Dead {
            Err(ErrorCode::CoordinatorNotAvailable)
        } else {
            self.check_member(&req.member_id, req.instance_id.as_deref(), req.generation)
        }
        .and_then(|()| {
            let type_ok = req
                .protocol_type
                .as_ref()
                .is_none_or(|t| self.protocol_type.as_ref() == Some(t));
            let name_ok = req
                .protocol
                .as_ref()
                .is_none_or(|p| self.protocol.as_ref() == Some(p));
            if type_ok && name_ok {
                Ok(())
            } else {
                Err(ErrorCode::InconsistentGroupProtocol)
            }
        });
        if let Err(e) = checked {
            self.reply(waiter, Reply::Sync(SyncResult::error(e)));
            return self.take_actions();
        }
        let id = req.member_id.clone();
        match self.state {
            GroupState::Empty | GroupState::Dead => self.reply(
                waiter,
                Reply::Sync(SyncResult::error(ErrorCode::UnknownMemberId)),
            ),
            GroupState::PreparingRebalance => self.reply(
                waiter,
                Reply::Sync(SyncResult::error(ErrorCode::RebalanceInProgress)),
            ),
            GroupState::CompletingRebalance => {
                self.pending_sync.remove(&id);
                self.refresh(&id, now);
                if let Some(m) = self.members.get_mut(&id) {
                    if let Some(old) = m.awaiting_sync.replace(waiter) {
                        self.reply(
                            old,
                            Reply::Sync(SyncResult::error(ErrorCode::RebalanceInProgress)),
                        );
                    }
                }
                if self.leader.as_deref() == Some(id.as_str()) {
                    self.complete_sync(req.assignments, now);
                }
            }
            GroupState::Stable => {
                self.pending_sync.remove(&id);
                self.refresh(&id, now);
                let assignment = self
                    .members
                    .get(&id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                let r = self.sync_result(assignment);
                self.reply(waiter, Reply::Sync(r));
            }
        }
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
        self.take_actions()
    }

    fn sync_result(&self, assignment: Bytes) -> SyncResult {
        SyncResult {
            error: ErrorCode::None,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            assignment,
        }
    }

    /// The leader's assignment arrived: store it, go Stable, answer every parked SyncGroup.
    fn complete_sync(&mut self, assignments: Vec<(String, Bytes)>, now: i64) {
        let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
        for m in self.members.values_mut() {
            m.assignment = given.remove(&m.id).unwrap_or_default();
        }
        if !given.is_empty() {
            tracing::debug!(group = %self.id, unknown = given.len(), "leader assigned partitions to members not in the group; ignored");
        }
        self.transition(GroupState::Stable, now);
        self.actions.push(Action::Persist);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            if let Some(w) = m.awaiting_sync.take() {
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                let r = SyncResult {
                    error: ErrorCode::None,
                    protocol_type: self.protocol_type.clone(),
                    protocol: self.protocol.clone(),
                    assignment: m.assignment.clone(),
                };
                self.actions.push(Action::Reply(w, Reply::Sync(r)));
            }
        }
    }

    /// The group metadata of the last event could not be written: a just-completed assignment
    /// is void, so the group rebalances (Kafka resets the assignment and propagates the error).
    pub fn persist_failed(&mut self, now: i64) -> Vec<Action<W>> {
        if self.state == GroupState::Stable {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
            }
            self.prepare_rebalance(now);
        }
        self.take_actions()
    }

    /// Handles a Heartbeat.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: i64,
    ) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if self.is_fenced(member_id, instance_id) {
            return ErrorCode::FencedInstanceId;
        }
        if !self.members.contains_key(member_id) || self.state == GroupState::Empty {
            return ErrorCode::UnknownMemberId;
        }
        if generation != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        self.refresh(member_id, now);
        match self.state {
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            _ => ErrorCode::None,
        }
    }

    /// Handles one member of a LeaveGroup (an empty member id with an instance id names a
    /// static member).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: i64,
    ) -> (ErrorCode, Vec<Action<W>>) {
        if self.state == GroupState::Dead {
            return (ErrorCode::CoordinatorNotAvailable, Vec::new());
        }
        let id = if member_id.is_empty() {
            match instance_id.and_then(|i| self.statics.get(i)) {
                Some(id) => id.clone(),
                None => return (ErrorCode::UnknownMemberId, Vec::new()),
            }
        } else {
            if self.is_fenced(member_id, instance_id) {
                return (ErrorCode::FencedInstanceId, Vec::new());
            }
            member_id.to_string()
        };
        if self.pending.remove(&id).is_some() {
            self.try_complete_join(now);
            return (ErrorCode::None, self.take_actions());
        }
        if !self.members.contains_key(&id) {
            return (ErrorCode::UnknownMemberId, Vec::new());
        }
        tracing::debug!(group = %self.id, member = %id, "member left");
        self.remove_member(&id);
        self.on_member_gone(now);
        (ErrorCode::None, self.take_actions())
    }

    /// Checks an OffsetCommit against the group (Kafka's `validateOffsetCommit`).
    pub fn validate_offset_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        transactional: bool,
        now: i64,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        if generation < 0 && self.state == GroupState::Empty {
            // A standalone consumer or an admin tool (KAFKA-14201: whatever ids it sends).
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.check_member(member_id, instance_id, generation)?;
        } else if !transactional && self.state != GroupState::Empty {
            // A commit without member and generation is accepted only from outside the group
            // (a transactional one, as in Kafka, also while the group has members).
            return Err(ErrorCode::UnknownMemberId);
        }
        // Kafka lets transactional commits through while the leader computes the assignment:
        // they apply only when the transaction commits.
        if !transactional && self.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        if !member_id.is_empty() {
            self.refresh(member_id, now);
        }
        Ok(())
    }

    /// Fires what is due at `now`: expired pending members and sessions, the end of the join
    /// phase or initial delay, members that never sent SyncGroup.
    pub fn tick(&mut self, now: i64) -> Vec<Action<W>> {
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            self.try_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.alive_at(now))
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            for id in &expired {
                tracing::info!(group = %self.id, member = %id, "member session expired");
                self.remove_member(id);
            }
            self.on_member_gone(now);
        }
        if self.state == GroupState::PreparingRebalance
            && self.join_deadline.is_some_and(|d| d <= now)
        {
            match self.initial_delay_remaining {
                Some(remaining) if self.new_member_added && remaining > 0 => {
                    // New members keep arriving: wait a little longer, within the rebalance timeout.
                    let delay = i64::from(self.limits.initial_rebalance_delay_ms).min(remaining);
                    self.initial_delay_remaining = Some(remaining - delay);
                    self.join_deadline = Some(now + delay);
                    self.new_member_added = false;
                }
                _ => self.complete_join(now),
            }
        }
        if !self.pending_sync.is_empty() && self.sync_deadline.is_some_and(|d| d <= now) {
            let late: Vec<String> = self.pending_sync.drain().collect();
            for id in &late {
                tracing::info!(group = %self.id, member = %id, "member did not sync in time");
                self.remove_member(id);
            }
            self.sync_deadline = None;
            self.on_member_gone(now);
        }
        self.take_actions()
    }

    /// The next time [`Self::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        let sessions = self.members.values().filter_map(|m| {
            if m.awaiting_sync.is_some() || (m.awaiting_join.is_some() && !m.is_new) {
                None
            } else {
                Some(m.session_deadline)
            }
        });
        let join = self
            .join_deadline
            .filter(|_| self.state == GroupState::PreparingRebalance);
        let sync = self.sync_deadline.filter(|_| !self.pending_sync.is_empty());
        sessions
            .chain(self.pending.values().copied())
            .chain(join)
            .chain(sync)
            .min()
    }

    /// The coordinator is going away: every parked request is answered `NOT_COORDINATOR`, so
    /// that its client finds the new coordinator.
    pub fn unload(&mut self) -> Vec<Action<W>> {
        self.members
            .values_mut()
            .flat_map(|m| m.fail_waiters(ErrorCode::NotCoordinator))
            .collect()
    }
}

#[cfg(test)]
#[path = "classic_tests.rs"]
mod tests;
