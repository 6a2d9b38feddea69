//! The consumer group protocol of KIP-848 (`group.protocol=consumer`) as a state machine.
//!
//! Members send ConsumerGroupHeartbeat; the coordinator owns the assignment:
//!
//! ```text
//!  join / leave / subscription or topic change ──► group epoch + 1
//!  group epoch > assignment epoch ──► target assignment (server assignor) at the group epoch
//!  each member, on its heartbeat, reconciles towards its target:
//!     owns partitions not in its target ──► told to revoke them, keeps its epoch
//!     nothing to revoke ──► member epoch = assignment epoch, gets the target partitions no
//!                           other member still holds (the rest on later heartbeats)
//! ```
//!
//! A partition is never given to a member while another still holds it, so no partition is
//! ever consumed by two members of one epoch. Members that stop heartbeating for the session
//! timeout, or keep revoked partitions past their rebalance timeout, are removed.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::assignor::{assign, Assignment, AssignorMember};
use crate::error::ErrorCode;

/// What the state machine needs to know about topics.
pub trait TopicView {
    /// Id and partition count of a topic, by name.
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)>;
    /// Every topic name (for regex subscriptions).
    fn names(&self) -> Vec<String>;
}

/// Broker settings (`group.consumer.*`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `group.consumer.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub max_size: usize,
    /// `group.consumer.assignors`, the default first.
    pub assignors: Vec<String>,
}

/// A ConsumerGroupHeartbeat request.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    /// Member id (v1: chosen by the client).
    pub member_id: String,
    /// 0 joins, -1 leaves, -2 leaves for a while (static members); else the member's epoch.
    pub member_epoch: i32,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.rack`.
    pub rack_id: Option<String>,
    /// Rebalance timeout (time to revoke partitions).
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names, when changed.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// Subscribed topic regex (v1), when changed.
    pub subscribed_topic_regex: Option<String>,
    /// Preferred server assignor.
    pub server_assignor: Option<String>,
    /// Partitions the member owns, when changed.
    pub owned: Option<Assignment>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Request version.
    pub version: i16,
    /// A fresh id, used when a v0 member joins without one.
    pub unique: String,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResult {
    /// Member id.
    pub member_id: String,
    /// Member epoch.
    pub member_epoch: i32,
    /// Heartbeat interval.
    pub heartbeat_interval_ms: i32,
    /// The member's full assignment, when it changed since the last answer.
    pub assignment: Option<Assignment>,
}

/// An error with Kafka's code and a message.
pub type Refusal = (ErrorCode, String);

/// Group states, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The target assignment is being computed.
    Assigning,
    /// Members are moving to the target assignment.
    Reconciling,
    /// Every member has its target assignment.
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// A member of a consumer group. What is serialized is what survives a coordinator restart.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConsumerMember {
    /// Member id.
    pub id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.rack`.
    pub rack_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names.
    pub subscribed_names: Vec<String>,
    /// Subscribed regex.
    pub subscribed_regex: Option<String>,
    /// Preferred server assignor.
    pub server_assignor: Option<String>,
    /// Member epoch.
    pub epoch: i32,
    previous_epoch: i32,
    /// Partitions the member holds now.
    pub assigned: Assignment,
    /// Partitions it was told to give up and has not confirmed yet.
    pub revoking: Assignment,
    #[serde(skip)]
    session_deadline: i64,
    #[serde(skip)]
    revoke_deadline: Option<i64>,
    #[serde(skip)]
    sent: Option<Assignment>,
    /// A static member that left with epoch -2 and may come back.
    left_static: bool,
}

/// A consumer group (KIP-848).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ConsumerGroup {
    id: String,
    group_epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, ConsumerMember>,
    // ordered maps: the snapshot of an unchanged group is byte-for-byte the same
    statics: BTreeMap<String, String>,
    target: BTreeMap<String, Assignment>,
    /// Subscribed topics with their partition counts when the target was last computed.
    topics_seen: BTreeMap<Uuid, i32>,
    assignor: String,
    state_since: i64,
    /// Something stored changed since the last [`ConsumerGroup::take_dirty`].
    #[serde(skip)]
    dirty: bool,
}

fn remove_all(from: &mut Assignment, what: &Assignment) {
    for (t, ps) in what {
        if let Some(mine) = from.get_mut(t) {
            for p in ps {
                mine.remove(p);
            }
            if mine.is_empty() {
                from.remove(t);
            }
        }
    }
}

fn contains(a: &Assignment, t: &Uuid, p: i32) -> bool {
    a.get(t).is_some_and(|ps| ps.contains(&p))
}

fn is_subset(a: &Assignment, of: &Assignment) -> bool {
    a.iter()
        .all(|(t, ps)| ps.iter().all(|p| contains(of, t, *p)))
}

impl ConsumerGroup {
    /// A new, empty group.
    pub fn new(id: &str, now: i64, epoch: i32) -> Self {
        ConsumerGroup {
            id: id.to_string(),
            group_epoch: epoch,
            assignment_epoch: epoch,
            members: BTreeMap::new(),
            statics: BTreeMap::new(),
            target: BTreeMap::new(),
            topics_seen: BTreeMap::new(),
            assignor: String::new(),
            state_since: now,
            dirty: true,
        }
    }

    /// Whether the group changed since the last call (then it must be stored again).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The last store failed: store again next time.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The group as stored in `__consumer_offsets` (everything but timers).
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A group restored from [`Self::snapshot`]: members' sessions (and pending revocations)
    /// start again now.
    pub fn restore(bytes: &[u8], settings: &Settings, now: i64) -> Option<Self> {
        let mut g: ConsumerGroup = serde_json::from_slice(bytes).ok()?;
        for m in g.members.values_mut() {
            m.session_deadline = now + i64::from(settings.session_timeout_ms);
            if !m.revoking.is_empty() {
                m.revoke_deadline = Some(now + i64::from(m.rebalance_timeout_ms.max(1)));
            }
        }
        Some(g)
    }

    /// Group id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Group epoch.
    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }
    /// Epoch of the target assignment.
    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }
    /// Name of the assignor in use.
    pub fn assignor(&self) -> &str {
        &self.assignor
    }
    /// When the group last changed state (for offset expiry).
    pub fn state_since(&self) -> i64 {
        self.state_since
    }
    /// Members.
    pub fn members(&self) -> impl Iterator<Item = &ConsumerMember> {
        self.members.values()
    }

    /// Whether `member_id` is a member.
    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }
    /// A member's target assignment.
    pub fn target_of(&self, member: &str) -> Assignment {
        self.target.get(member).cloned().unwrap_or_default()
    }
    /// Whether any member subscribes to `topic` by name.
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.members.values().any(|m| {
            m.subscribed_names.iter().any(|t| t == topic)
                || m.subscribed_regex
                    .as_ref()
                    .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok())
                    .is_some_and(|re| re.is_match(topic))
        })
    }

    /// Current state.
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.assignment_epoch < self.group_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.epoch != self.assignment_epoch
                || !m.revoking.is_empty()
                || m.assigned != self.target_of(&m.id)
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    fn bump(&mut self, now: i64) {
        self.group_epoch += 1;
        self.state_since = now;
        self.dirty = true;
    }

    /// Checks an OffsetFetch by a member at `epoch`.
    pub fn validate_member_epoch(&self, member_id: &str, epoch: i32) -> Result<(), ErrorCode> {
        self.validate_member_commit(member_id, epoch, &[])
    }

    /// Checks an OffsetCommit by a member at `epoch` for `partitions`. Besides the current
    /// epoch, the member's previous epoch is accepted for partitions it held then and still
    /// holds: a heartbeat that moved it to a new epoch without changing those partitions may
    /// cross a commit in flight (the rule of KIP-1251, narrowed to one epoch back).
    pub fn validate_member_commit(
        &self,
        member_id: &str,
        epoch: i32,
        partitions: &[(Uuid, i32)],
    ) -> Result<(), ErrorCode> {
        let m = self
            .members
            .get(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        let previous_still_owned = epoch == m.previous_epoch
            && epoch > 0
            && !partitions.is_empty()
            && partitions.iter().all(|(t, p)| contains(&m.assigned, t, *p));
        if epoch != m.epoch && !previous_still_owned {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Handles a ConsumerGroupHeartbeat.
    pub fn heartbeat(
        &mut self,
        req: HeartbeatRequest,
        topics: &dyn TopicView,
        settings: &Settings,
        now: i64,
    ) -> Result<HeartbeatResult, Refusal> {
        if let Some(a) = &req.server_assignor {
            if !settings.assignors.contains(a) {
                return Err((
                    ErrorCode::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {a} is not supported. Supported assignors: {}.",
                        settings.assignors.join(", ")
                    ),
                ));
            }
        }
        if let Some(r) = &req.subscribed_topic_regex {
            if let Err(e) = regex::Regex::new(r) {
                return Err((
                    ErrorCode::InvalidRegularExpression,
                    format!("SubscribedTopicRegex `{r}` is not a valid regular expression: {e}."),
                ));
            }
        }
        let mut changed = false;
        let id = match req.member_epoch {
            0 => {
                let (id, new) = self.join(&req, settings)?;
                changed = new;
                id
            }
            -1 | -2 => return self.leave(&req, settings, now),
            epoch => {
                let m = self.members.get(&req.member_id).ok_or_else(|| {
                    (
                        ErrorCode::UnknownMemberId,
                        format!(
                            "Member {} is not a member of group {}.",
                            req.member_id, self.id
                        ),
                    )
                })?;
                // the previous epoch is accepted only from a member that says what it owns and
                // owns nothing new (its last answer was lost), as in Kafka
                let fenced = epoch > m.epoch
                    || (epoch < m.epoch
                        && !(epoch == m.previous_epoch
                            && req
                                .owned
                                .as_ref()
                                .is_some_and(|o| is_subset(o, &m.assigned))));
                if fenced {
                    return Err((
                        ErrorCode::FencedMemberEpoch,
                        format!(
                            "The member epoch {epoch} of {} is fenced; the current epoch is {}.",
                            req.member_id, m.epoch
                        ),
                    ));
                }
                req.member_id.clone()
            }
        };
        // A full request (the client's first, or after an error or a lost answer) always gets
        // the whole assignment back.
        let full = req.member_epoch == 0
            || (req.rebalance_timeout_ms != -1
                && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
                && req.owned.is_some());
        let mut member_changed = false;
        if let Some(m) = self.members.get_mut(&id) {
            if full {
                m.sent = None;
            }
            m.client_id.clone_from(&req.client_id);
            m.client_host.clone_from(&req.client_host);
            if let Some(names) = &req.subscribed_topic_names {
                let mut names = names.clone();
                names.sort();
                names.dedup();
                if names != m.subscribed_names {
                    m.subscribed_names = names;
                    changed = true;
                }
            }
            if let Some(r) = &req.subscribed_topic_regex {
                let r = Some(r.clone()).filter(|r| !r.is_empty());
                if r != m.subscribed_regex {
                    m.subscribed_regex = r;
                    changed = true;
                }
            }
            if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
                m.server_assignor = req.server_assignor.clone();
                changed = true;
            }
            if req.rack_id.is_some() && req.rack_id != m.rack_id {
                m.rack_id = req.rack_id.clone();
                member_changed = true;
            }
            if req.rebalance_timeout_ms > 0 && req.rebalance_timeout_ms != m.rebalance_timeout_ms {
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
                member_changed = true;
            }
            m.session_deadline = now + i64::from(settings.session_timeout_ms);
        }
        if changed {
            self.bump(now);
        }
        if member_changed {
            self.dirty = true;
        }
        // topics created, deleted or grown change the assignment too
        let seen = self.subscribed_topics(topics);
        if seen != self.topics_seen {
            self.topics_seen = seen;
            if self.assignment_epoch == self.group_epoch {
                self.bump(now);
            }
        }
        if self.assignment_epoch < self.group_epoch {
            self.compute_target(settings, topics);
        }
        self.reconcile(&id, req.owned, now);
        let m = self
            .members
            .get_mut(&id)
            .ok_or((ErrorCode::UnknownServerError, "member vanished".into()))?;
        let assignment = if m.sent.as_ref() != Some(&m.assigned) {
            m.sent = Some(m.assigned.clone());
            Some(m.assigned.clone())
        } else {
            None
        };
        Ok(HeartbeatResult {
            member_id: id,
            member_epoch: m.epoch,
            heartbeat_interval_ms: settings.heartbeat_interval_ms,
            assignment,
        })
    }

    /// A member joins (epoch 0); returns its id and whether the group epoch must move.
    fn join(
        &mut self,
        req: &HeartbeatRequest,
        settings: &Settings,
    ) -> Result<(String, bool), Refusal> {
        let id = if req.member_id.is_empty() {
            if req.version >= 1 {
                return Err((ErrorCode::InvalidRequest, "MemberId can't be empty.".into()));
            }
            req.unique.clone()
        } else {
            req.member_id.clone()
        };
        if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
            return Err((
                ErrorCode::InvalidRequest,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.".into(),
            ));
        }
        if let Some(inst) = &req.instance_id {
            if let Some(old_id) = self.statics.get(inst).cloned() {
                let old_left = self.members.get(&old_id).is_some_and(|m| m.left_static);
                if old_id != id && !old_left {
                    return Err((
                        ErrorCode::UnreleasedInstanceId,
                        format!("Static member {old_id} with instance id {inst} is present in group {}.", self.id),
                    ));
                }
                // the static member is back under a new id: it keeps its assignment and epoch
                if let Some(mut m) = self.members.remove(&old_id) {
                    m.id = id.clone();
                    m.left_static = false;
                    m.sent = None;
                    m.client_id = req.client_id.clone();
                    m.client_host = req.client_host.clone();
                    if let Some(t) = self.target.remove(&old_id) {
                        self.target.insert(id.clone(), t);
                    }
                    self.members.insert(id.clone(), m);
                    self.statics.insert(inst.clone(), id.clone());
                    self.dirty = true;
                    return Ok((id, false));
                }
            }
        }
        if let Some(m) = self.members.get_mut(&id) {
            // a fenced member starting over: it holds nothing any more, and gets its target
            // partitions back as they are free (no group-wide rebalance for it)
            m.assigned.clear();
            m.revoking.clear();
            m.epoch = 0;
            m.sent = None;
            self.dirty = true;
            return Ok((id, false));
        } else {
            if self.members.len() >= settings.max_size {
                return Err((
                    ErrorCode::GroupMaxSizeReached,
                    format!(
                        "The consumer group has reached its maximum capacity of {} members.",
                        settings.max_size
                    ),
                ));
            }
            self.members.insert(
                id.clone(),
                ConsumerMember {
                    id: id.clone(),
                    instance_id: req.instance_id.clone(),
                    rack_id: None,
                    client_id: req.client_id.clone(),
                    client_host: req.client_host.clone(),
                    rebalance_timeout_ms: req.rebalance_timeout_ms,
                    subscribed_names: Vec::new(),
                    subscribed_regex: None,
                    server_assignor: None,
                    epoch: 0,
                    previous_epoch: -1,
                    assigned: Assignment::new(),
                    revoking: Assignment::new(),
                    session_deadline: 0,
                    revoke_deadline: None,
                    sent: None,
                    left_static: false,
                },
            );
            if let Some(inst) = &req.instance_id {
                self.statics.insert(inst.clone(), id.clone());
            }
        }
        Ok((id, true))
    }

    fn leave(
        &mut self,
        req: &HeartbeatRequest,
        settings: &Settings,
        now: i64,
    ) -> Result<HeartbeatResult, Refusal> {
        let Some(m) = self.members.get_mut(&req.member_id) else {
            return Err((
                ErrorCode::UnknownMemberId,
                format!(
                    "Member {} is not a member of group {}.",
                    req.member_id, self.id
                ),
            ));
        };
        if req.member_epoch == -2 && m.instance_id.is_some() {
            // a static member restarting: its partitions wait for it until its session ends
            m.left_static = true;
            self.dirty = true;
        } else {
            self.remove_member(&req.member_id);
            self.bump(now);
        }
        Ok(HeartbeatResult {
            member_id: req.member_id.clone(),
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: settings.heartbeat_interval_ms,
            assignment: None,
        })
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(m) = self.members.remove(id) {
            if let Some(i) = &m.instance_id {
                if self.statics.get(i).map(String::as_str) == Some(id) {
                    self.statics.remove(i);
                }
            }
        }
        self.target.remove(id);
    }

    /// Topic ids and partition counts of everything the members subscribe to.
    fn subscribed_topics(&self, topics: &dyn TopicView) -> BTreeMap<Uuid, i32> {
        let ids: BTreeSet<Uuid> = self
            .members
            .values()
            .flat_map(|m| Self::topics_of(m, topics))
            .collect();
        let mut out = BTreeMap::new();
        for name in topics.names() {
            if let Some((id, count)) = topics.by_name(&name) {
                if ids.contains(&id) {
                    out.insert(id, count);
                }
            }
        }
        out
    }

    /// The topics one member subscribes to, by id.
    fn topics_of(m: &ConsumerMember, topics: &dyn TopicView) -> BTreeSet<Uuid> {
        let mut out: BTreeSet<Uuid> = m
            .subscribed_names
            .iter()
            .filter_map(|n| topics.by_name(n).map(|(id, _)| id))
            .collect();
        if let Some(re) = m
            .subscribed_regex
            .as_ref()
            .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok())
        {
            for name in topics.names() {
                if !name.starts_with("__") && re.is_match(&name) {
                    out.extend(topics.by_name(&name).map(|(id, _)| id));
                }
            }
        }
        out
    }

    fn compute_target(&mut self, settings: &Settings, topics: &dyn TopicView) {
        // the assignor most members ask for, else the broker's default
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        self.assignor = votes
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(a, _)| a.to_string())
            .or_else(|| settings.assignors.first().cloned())
            .unwrap_or_else(|| "uniform".into());
        let members: Vec<AssignorMember> = self
            .members
            .values()
            .map(|m| AssignorMember {
                id: m.id.clone(),
                topics: Self::topics_of(m, topics),
                // stick to the previous target
                current: self.target.get(&m.id).cloned().unwrap_or_default(),
            })
            .collect();
        self.target = assign(&self.assignor, &members, &self.topics_seen)
            .into_iter()
            .collect();
        self.assignment_epoch = self.group_epoch;
    }

    fn reconcile(&mut self, id: &str, owned: Option<Assignment>, now: i64) {
        let target = self.target_of(id);
        let epoch = self.assignment_epoch;
        let Some(m) = self.members.get(id) else {
            return;
        };
        let before = (m.epoch, m.assigned.clone(), m.revoking.clone());
        self.reconcile_member(id, &target, epoch, owned, now);
        if let Some(m) = self.members.get(id) {
            if (m.epoch, &m.assigned, &m.revoking) != (before.0, &before.1, &before.2) {
                self.dirty = true;
            }
        }
    }

    fn reconcile_member(
        &mut self,
        id: &str,
        target: &Assignment,
        epoch: i32,
        owned: Option<Assignment>,
        now: i64,
    ) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        if let Some(owned) = owned {
            // what the member no longer owns has been revoked
            m.revoking = m
                .revoking
                .iter()
                .filter_map(|(t, ps)| {
                    let kept: BTreeSet<i32> = ps
                        .iter()
                        .copied()
                        .filter(|p| contains(&owned, t, *p))
                        .collect();
                    (!kept.is_empty()).then_some((*t, kept))
                })
                .collect();
        }
        if !m.revoking.is_empty() {
            return;
        }
        m.revoke_deadline = None;
        if m.epoch == epoch && m.assigned == *target {
            return;
        }
        let mut to_revoke = m.assigned.clone();
        remove_all(&mut to_revoke, target);
        if !to_revoke.is_empty() {
            remove_all(&mut m.assigned, &to_revoke);
            m.revoking = to_revoke;
            m.revoke_deadline = Some(now + i64::from(m.rebalance_timeout_ms.max(1)));
            return;
        }
        if m.epoch != epoch {
            m.previous_epoch = m.epoch;
            m.epoch = epoch;
        }
        let mut missing = target.clone();
        remove_all(&mut missing, &m.assigned);
        if missing.is_empty() {
            return;
        }
        // partitions still held by another member wait for a later heartbeat
        let free: Vec<(Uuid, i32)> = missing
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
            .filter(|(t, p)| {
                !self.members.values().any(|o| {
                    o.id != id && (contains(&o.assigned, t, *p) || contains(&o.revoking, t, *p))
                })
            })
            .collect();
        if let Some(m) = self.members.get_mut(id) {
            for (t, p) in free {
                m.assigned.entry(t).or_default().insert(p);
            }
        }
    }

    /// Expires members whose session ended or who kept revoked partitions too long.
    pub fn tick(&mut self, now: i64) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.session_deadline <= now || m.revoke_deadline.is_some_and(|d| d <= now))
            .map(|m| m.id.clone())
            .collect();
        for id in &gone {
            tracing::info!(group = %self.id, member = %id, "consumer group member expired");
            self.remove_member(id);
        }
        if !gone.is_empty() {
            self.bump(now);
        }
    }

    /// The next time [`Self::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        self.members
            .values()
            .flat_map(|m| std::iter::once(m.session_deadline).chain(m.revoke_deadline))
            .min()
    }
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
