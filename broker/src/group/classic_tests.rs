//! Unit tests of the classic group state machine: every transition and error code.

use super::*;

const SESSION: i32 = 10_000;
const REBALANCE: i32 = 20_000;

fn limits(delay: i32, max_size: usize) -> Limits {
    Limits {
        min_session_timeout_ms: 6_000,
        max_session_timeout_ms: 1_800_000,
        initial_rebalance_delay_ms: delay,
        max_size,
    }
}

fn group(delay: i32) -> ClassicGroup<u32> {
    ClassicGroup::new("g", limits(delay, 1000), 0)
}

fn req(member: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member.into(),
        instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
        unique: format!("u{}", member.len()),
    }
}

fn static_req(member: &str, instance: &str, unique: &str) -> JoinRequest {
    JoinRequest {
        instance_id: Some(instance.into()),
        unique: unique.into(),
        ..req(member, &["range"])
    }
}

fn sync_req(member: &str, generation: i32, assignments: &[(&str, &str)]) -> SyncRequest {
    SyncRequest {
        member_id: member.into(),
        instance_id: None,
        generation,
        protocol_type: Some("consumer".into()),
        protocol: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
    }
}

/// Replies in the actions, by waiter.
fn replies(actions: Vec<Action<u32>>) -> Vec<(u32, Reply)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Reply(w, r) => Some((w, r)),
            Action::Persist => None,
        })
        .collect()
}

fn persisted(actions: &[Action<u32>]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Persist))
}

fn join_result(r: &Reply) -> &JoinResult {
    match r {
        Reply::Join(j) => j,
        other => panic!("expected a join reply, got {other:?}"),
    }
}

fn sync_result(r: &Reply) -> &SyncResult {
    match r {
        Reply::Sync(s) => s,
        other => panic!("expected a sync reply, got {other:?}"),
    }
}

/// Joins a new dynamic member the KIP-394 way; returns its id and the actions of the second
/// join (the one that counts).
fn join_new(g: &mut ClassicGroup<u32>, waiter: u32, now: i64) -> (String, Vec<Action<u32>>) {
    let unique = JoinRequest {
        unique: format!("w{waiter}"),
        ..req("", &["range"])
    };
    let first = replies(g.join(unique, waiter, now));
    let j = join_result(&first[0].1);
    assert_eq!(j.error, ErrorCode::MemberIdRequired);
    let id = j.member_id.clone();
    assert!(!id.is_empty());
    let actions = g.join(req(&id, &["range"]), waiter, now);
    (id, actions)
}

/// A Stable group of one member with no initial delay.
fn stable_one() -> (ClassicGroup<u32>, String) {
    let mut g = group(0);
    let (id, actions) = join_new(&mut g, 1, 0);
    let r = replies(actions);
    assert_eq!(join_result(&r[0].1).generation, 1);
    let s = g.sync(sync_req(&id, 1, &[(&id, "A")]), 2, 0);
    assert!(persisted(&s));
    assert_eq!(g.state(), GroupState::Stable);
    (g, id)
}

#[test]
fn first_join_needs_a_member_id_then_completes_and_syncs() {
    let mut g = group(0);
    let (id, actions) = join_new(&mut g, 1, 0);
    let r = replies(actions);
    assert_eq!(r.len(), 1);
    let j = join_result(&r[0].1);
    assert_eq!(j.error, ErrorCode::None);
    assert_eq!(j.generation, 1);
    assert_eq!(j.leader, id);
    assert_eq!(j.protocol.as_deref(), Some("range"));
    assert_eq!(j.members.len(), 1, "the leader gets the member list");
    assert_eq!(g.state(), GroupState::CompletingRebalance);

    let s = g.sync(sync_req(&id, 1, &[(&id, "A")]), 2, 0);
    assert!(persisted(&s), "the assignment is stored before the answer");
    let r = replies(s);
    assert_eq!(sync_result(&r[0].1).assignment, Bytes::from("A"));
    assert_eq!(g.state(), GroupState::Stable);
    let stored = g.to_stored();
    assert_eq!(stored.generation, 1);
    assert_eq!(stored.members[0].assignment, Bytes::from("A"));
}

#[test]
fn two_members_wait_for_each_other_and_followers_wait_for_the_leader() {
    let mut g = group(0);
    let (a, actions) = join_new(&mut g, 1, 0);
    assert!(
        replies(actions).len() == 1,
        "alone, the join completes at once"
    );
    g.sync(sync_req(&a, 1, &[(&a, "A")]), 2, 0);

    // b joins: a must rejoin before anyone is answered
    let (b, actions) = join_new(&mut g, 3, 10);
    assert!(replies(actions).is_empty());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(g.heartbeat(&a, None, 1, 20), ErrorCode::RebalanceInProgress);
    let r = replies(g.join(req(&a, &["range"]), 4, 30));
    assert_eq!(r.len(), 2);
    for (w, reply) in &r {
        let j = join_result(reply);
        assert_eq!(j.generation, 2);
        assert_eq!(j.leader, a, "the old leader stays leader");
        let expected_members = if *w == 4 { 2 } else { 0 };
        assert_eq!(j.members.len(), expected_members);
    }
    // the follower's sync waits for the leader's
    assert!(replies(g.sync(sync_req(&b, 2, &[]), 5, 40)).is_empty());
    let r = replies(g.sync(sync_req(&a, 2, &[(&a, "A2"), (&b, "B2")]), 6, 50));
    let by_waiter: HashMap<u32, Bytes> = r
        .iter()
        .map(|(w, s)| (*w, sync_result(s).assignment.clone()))
        .collect();
    assert_eq!(by_waiter[&5], Bytes::from("B2"));
    assert_eq!(by_waiter[&6], Bytes::from("A2"));
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn unknown_members_are_refused_everywhere() {
    let (mut g, _) = stable_one();
    let r = replies(g.join(req("nobody", &["range"]), 9, 0));
    assert_eq!(join_result(&r[0].1).error, ErrorCode::UnknownMemberId);
    assert_eq!(
        g.heartbeat("nobody", None, 1, 0),
        ErrorCode::UnknownMemberId
    );
    let r = replies(g.sync(sync_req("nobody", 1, &[]), 9, 0));
    assert_eq!(sync_result(&r[0].1).error, ErrorCode::UnknownMemberId);
    assert_eq!(g.leave("nobody", None, 0).0, ErrorCode::UnknownMemberId);
    assert_eq!(
        g.validate_offset_commit("nobody", None, 1, false, 0),
        Err(ErrorCode::UnknownMemberId)
    );
}

#[test]
fn stale_generations_are_illegal() {
    let (mut g, id) = stable_one();
    assert_eq!(g.heartbeat(&id, None, 0, 0), ErrorCode::IllegalGeneration);
    let r = replies(g.sync(sync_req(&id, 7, &[]), 9, 0));
    assert_eq!(sync_result(&r[0].1).error, ErrorCode::IllegalGeneration);
    assert_eq!(
        g.validate_offset_commit(&id, None, 0, false, 0),
        Err(ErrorCode::IllegalGeneration)
    );
    assert_eq!(g.validate_offset_commit(&id, None, 1, false, 0), Ok(()));
}

#[test]
fn commits_during_completing_rebalance_are_refused() {
    let mut g = group(0);
    let (id, _) = join_new(&mut g, 1, 0);
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    assert_eq!(
        g.validate_offset_commit(&id, None, 1, false, 0),
        Err(ErrorCode::RebalanceInProgress)
    );
    // a transactional commit is accepted (it applies when the transaction commits), as in Kafka
    assert_eq!(g.validate_offset_commit(&id, None, 1, true, 0), Ok(()));
    assert_eq!(
        g.validate_offset_commit(&id, None, 0, true, 0),
        Err(ErrorCode::IllegalGeneration)
    );
    // heartbeats are fine while the leader computes the assignment
    assert_eq!(g.heartbeat(&id, None, 1, 0), ErrorCode::None);
}

#[test]
fn standalone_commits_only_to_groups_without_members() {
    let mut empty = group(0);
    assert_eq!(empty.validate_offset_commit("", None, -1, false, 0), Ok(()));
    let (mut g, _) = stable_one();
    assert_eq!(
        g.validate_offset_commit("", None, -1, false, 0),
        Err(ErrorCode::UnknownMemberId)
    );
    // Kafka takes a transactional commit without member and generation also then
    assert_eq!(g.validate_offset_commit("", None, -1, true, 0), Ok(()));
}

#[test]
fn sync_during_preparing_rebalance_is_refused() {
    let (mut g, a) = stable_one();
    join_new(&mut g, 3, 0);
    let r = replies(g.sync(sync_req(&a, 1, &[]), 4, 0));
    assert_eq!(sync_result(&r[0].1).error, ErrorCode::RebalanceInProgress);
}

#[test]
fn a_member_that_stops_heartbeating_is_evicted() {
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    let (b, _) = join_new(&mut g, 3, 0);
    g.join(req(&a, &["range"]), 4, 0);
    g.sync(sync_req(&b, 2, &[]), 5, 0);
    g.sync(sync_req(&a, 2, &[]), 6, 0);
    assert_eq!(g.state(), GroupState::Stable);
    // a heartbeats, b does not
    let half = i64::from(SESSION) / 2;
    assert_eq!(g.heartbeat(&a, None, 2, half), ErrorCode::None);
    let deadline = g.next_deadline().expect("sessions are timed");
    assert!(deadline <= i64::from(SESSION));
    assert!(replies(g.tick(deadline)).is_empty());
    assert_eq!(g.size(), 1, "b expired");
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    // a rejoins and gets generation 3 alone
    let r = replies(g.join(req(&a, &["range"]), 7, deadline + 1));
    let j = join_result(&r[0].1);
    assert_eq!((j.generation, j.members.len()), (3, 1));
}

#[test]
fn members_that_do_not_rejoin_in_the_rebalance_timeout_are_dropped() {
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    // b joins; a keeps heartbeating but never rejoins
    let (b, _) = join_new(&mut g, 3, 100);
    for t in [200, 9_000, 18_000] {
        // heartbeats keep a alive, but do not count as rejoining
        assert_eq!(g.heartbeat(&a, None, 1, t), ErrorCode::RebalanceInProgress);
    }
    assert!(replies(g.tick(18_000)).is_empty());
    let deadline = g.next_deadline().unwrap();
    assert_eq!(deadline, 100 + i64::from(REBALANCE));
    let r = replies(g.tick(100 + i64::from(REBALANCE)));
    assert_eq!(r.len(), 1);
    let j = join_result(&r[0].1);
    assert_eq!((j.member_id.as_str(), j.generation), (b.as_str(), 2));
    assert_eq!(j.leader, b, "the leader left, so the one who joined leads");
    assert_eq!(g.size(), 1);
}

#[test]
fn leaving_triggers_a_rebalance_and_the_last_one_out_empties_the_group() {
    let (mut g, a) = stable_one();
    let (code, actions) = g.leave(&a, None, 5);
    assert_eq!(code, ErrorCode::None);
    assert!(persisted(&actions), "the empty generation is stored");
    assert_eq!(g.state(), GroupState::Empty);
    assert_eq!(g.generation(), 2);
    assert_eq!(g.heartbeat(&a, None, 2, 6), ErrorCode::UnknownMemberId);
}

#[test]
fn leaving_while_others_wait_completes_their_join() {
    let (mut g, a) = stable_one();
    let (b, actions) = join_new(&mut g, 3, 0);
    assert!(replies(actions).is_empty(), "waits for a to rejoin");
    let (code, actions) = g.leave(&a, None, 1);
    assert_eq!(code, ErrorCode::None);
    let r = replies(actions);
    let j = join_result(&r[0].1);
    assert_eq!(
        (j.member_id.as_str(), j.leader.as_str()),
        (b.as_str(), b.as_str())
    );
}

#[test]
fn static_member_rejoining_takes_its_place_and_fences_the_old_id() {
    let mut g = group(0);
    // static members get an id on their first join (no MEMBER_ID_REQUIRED round)
    let r = replies(g.join(static_req("", "inst-1", "one"), 1, 0));
    let old = join_result(&r[0].1).member_id.clone();
    assert_eq!(join_result(&r[0].1).error, ErrorCode::None);
    g.sync(sync_req(&old, 1, &[(&old, "A")]), 2, 0);
    assert_eq!(g.state(), GroupState::Stable);

    // the process restarts and rejoins with the same instance id
    let actions = g.join(static_req("", "inst-1", "two"), 3, 100);
    assert!(persisted(&actions), "the new member id is stored");
    let r = replies(actions);
    let j = join_result(&r[0].1);
    assert_eq!(j.error, ErrorCode::None);
    assert_ne!(j.member_id, old);
    assert_eq!(j.generation, 1, "no rebalance");
    assert_eq!(g.state(), GroupState::Stable);
    let new = j.member_id.clone();
    let r = replies(g.sync(
        SyncRequest {
            instance_id: Some("inst-1".into()),
            ..sync_req(&new, 1, &[])
        },
        4,
        100,
    ));
    assert_eq!(
        sync_result(&r[0].1).assignment,
        Bytes::from("A"),
        "keeps its assignment"
    );
    // the zombie with the old id is fenced
    assert_eq!(
        g.heartbeat(&old, Some("inst-1"), 1, 200),
        ErrorCode::FencedInstanceId
    );
    let r = replies(g.join(static_req(&old, "inst-1", "x"), 5, 200));
    assert_eq!(join_result(&r[0].1).error, ErrorCode::FencedInstanceId);
    assert_eq!(
        g.validate_offset_commit(&old, Some("inst-1"), 1, false, 200),
        Err(ErrorCode::FencedInstanceId)
    );
    // a static member leaves by instance id alone
    assert_eq!(g.leave("", Some("inst-1"), 300).0, ErrorCode::None);
    assert_eq!(g.state(), GroupState::Empty);
}

#[test]
fn initial_delay_waits_for_more_members_within_the_rebalance_timeout() {
    let mut g = group(3_000);
    let (a, actions) = join_new(&mut g, 1, 0);
    assert!(replies(actions).is_empty(), "the first rebalance waits");
    assert_eq!(g.next_deadline(), Some(3_000));
    let (_b, actions) = join_new(&mut g, 2, 1_000);
    assert!(replies(actions).is_empty(), "even when everyone has joined");
    // a member arrived during the delay: wait another delay
    assert!(replies(g.tick(3_000)).is_empty());
    assert_eq!(g.next_deadline(), Some(6_000));
    let r = replies(g.tick(6_000));
    assert_eq!(r.len(), 2);
    for (_, reply) in &r {
        assert_eq!(join_result(reply).generation, 1);
        assert_eq!(join_result(reply).leader, a);
    }
}

#[test]
fn group_max_size_is_enforced() {
    let mut g = ClassicGroup::new("g", limits(0, 1), 0);
    join_new(&mut g, 1, 0);
    let r = replies(g.join(req("", &["range"]), 2, 0));
    assert_eq!(join_result(&r[0].1).error, ErrorCode::GroupMaxSizeReached);
}

#[test]
fn protocols_must_be_compatible() {
    let (mut g, _) = stable_one();
    let r = replies(g.join(req("", &["roundrobin"]), 3, 0));
    assert_eq!(
        join_result(&r[0].1).error,
        ErrorCode::InconsistentGroupProtocol
    );
    let other_type = JoinRequest {
        protocol_type: "connect".into(),
        ..req("", &["range"])
    };
    let r = replies(g.join(other_type, 4, 0));
    assert_eq!(
        join_result(&r[0].1).error,
        ErrorCode::InconsistentGroupProtocol
    );
    let mut empty = group(0);
    let r = replies(empty.join(req("", &[]), 5, 0));
    assert_eq!(
        join_result(&r[0].1).error,
        ErrorCode::InconsistentGroupProtocol
    );
}

#[test]
fn session_timeouts_outside_the_broker_range_are_invalid() {
    let mut g = group(0);
    for timeout in [1_000, 2_000_000] {
        let r = replies(g.join(
            JoinRequest {
                session_timeout_ms: timeout,
                ..req("", &["range"])
            },
            1,
            0,
        ));
        assert_eq!(join_result(&r[0].1).error, ErrorCode::InvalidSessionTimeout);
    }
}

#[test]
fn the_protocol_is_chosen_by_vote() {
    let mut g = group(0);
    let mut first = req("", &["range", "roundrobin"]);
    first.require_known_member_id = false;
    g.join(first, 1, 0);
    let a = g.members().next().unwrap().id.clone();
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    for (w, protocols) in [(3, ["roundrobin", "range"]), (4, ["roundrobin", "range"])] {
        let mut r = req("", &protocols);
        r.require_known_member_id = false;
        r.unique = format!("m{w}");
        g.join(r, w, 0);
    }
    let r = replies(g.join(req(&a, &["range", "roundrobin"]), 5, 0));
    assert_eq!(r.len(), 3);
    for (_, reply) in &r {
        assert_eq!(join_result(reply).protocol.as_deref(), Some("roundrobin"));
    }
}

#[test]
fn a_member_that_joins_and_never_syncs_is_removed() {
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    let (b, _) = join_new(&mut g, 3, 0);
    g.join(req(&a, &["range"]), 4, 0);
    // the leader syncs, b never does
    g.sync(sync_req(&a, 2, &[(&a, "A"), (&b, "B")]), 5, 0);
    assert_eq!(g.state(), GroupState::Stable);
    // b keeps heartbeating, yet it must sync within the rebalance timeout
    assert_eq!(g.heartbeat(&b, None, 2, 5_000), ErrorCode::None);
    assert_eq!(g.heartbeat(&a, None, 2, 15_000), ErrorCode::None);
    assert_eq!(g.heartbeat(&b, None, 2, 15_000), ErrorCode::None);
    let deadline = g.next_deadline().unwrap();
    assert!(deadline <= i64::from(REBALANCE));
    g.tick(i64::from(REBALANCE));
    assert_eq!(g.size(), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn pending_member_ids_expire() {
    let mut g = group(0);
    let r = replies(g.join(req("", &["range"]), 1, 0));
    let id = join_result(&r[0].1).member_id.clone();
    assert_eq!(g.next_deadline(), Some(i64::from(SESSION)));
    g.tick(i64::from(SESSION));
    let r = replies(g.join(req(&id, &["range"]), 2, i64::from(SESSION) + 1));
    assert_eq!(join_result(&r[0].1).error, ErrorCode::UnknownMemberId);
}

#[test]
fn a_rejoin_without_changes_in_stable_gets_the_current_generation() {
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    let (b, _) = join_new(&mut g, 3, 0);
    g.join(req(&a, &["range"]), 4, 0);
    g.sync(sync_req(&a, 2, &[]), 5, 0);
    // the follower rejoins with the same metadata: no rebalance
    let r = replies(g.join(req(&b, &["range"]), 6, 10));
    let j = join_result(&r[0].1);
    assert_eq!((j.generation, j.error), (2, ErrorCode::None));
    assert_eq!(g.state(), GroupState::Stable);
    // with new metadata it triggers one
    let r = replies(g.join(req(&b, &["range", "roundrobin"]), 7, 20));
    assert!(r.is_empty());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn unloading_answers_parked_requests_not_coordinator() {
    let mut g = group(3_000);
    join_new(&mut g, 1, 0);
    let r = replies(g.unload());
    assert_eq!(r.len(), 1);
    assert_eq!(join_result(&r[0].1).error, ErrorCode::NotCoordinator);
}

#[test]
fn restored_groups_are_stable_with_their_members() {
    let (g, a) = stable_one();
    let stored = g.to_stored();
    let mut back: ClassicGroup<u32> = ClassicGroup::from_stored("g", stored, limits(0, 10), 1_000);
    assert_eq!(back.state(), GroupState::Stable);
    assert_eq!(back.generation(), 1);
    assert_eq!(back.heartbeat(&a, None, 1, 1_001), ErrorCode::None);
    // members restored from the log must heartbeat again or expire
    assert!(back.next_deadline().is_some());
    back.tick(1_001 + i64::from(SESSION));
    assert_eq!(back.state(), GroupState::Empty);
}

#[test]
fn a_parked_request_always_has_a_deadline() {
    // whatever the state, a group holding a waiter has a wake-up scheduled: nothing can hang
    let mut g = group(3_000);
    join_new(&mut g, 1, 0);
    assert!(g.next_deadline().is_some());
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    join_new(&mut g, 3, 0);
    assert!(g.next_deadline().is_some());
}

#[test]
fn standalone_commits_with_ids_are_accepted_while_the_group_is_empty() {
    let mut g = group(0);
    assert_eq!(
        g.validate_offset_commit("some-member", Some("inst"), -1, false, 0),
        Ok(())
    );
}

#[test]
fn sessions_restart_when_a_parked_sync_is_answered() {
    let mut g = group(0);
    let (a, _) = join_new(&mut g, 1, 0);
    g.sync(sync_req(&a, 1, &[]), 2, 0);
    let (b, _) = join_new(&mut g, 3, 0);
    g.join(req(&a, &["range"]), 4, 0);
    // b waits in SyncGroup far longer than its session while the leader computes
    g.sync(sync_req(&b, 2, &[]), 5, 0);
    let late = i64::from(SESSION) * 3 / 2;
    let r = replies(g.sync(sync_req(&a, 2, &[]), 6, late));
    assert_eq!(r.len(), 2);
    g.tick(late + 1);
    assert_eq!(
        g.size(),
        2,
        "b's session started again when it got its answer"
    );
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn a_join_with_no_rejoined_member_waits_instead_of_electing_an_absent_leader() {
    let mut g = group(0);
    let r = replies(g.join(static_req("", "inst-1", "one"), 1, 0));
    let id = join_result(&r[0].1).member_id.clone();
    g.sync(sync_req(&id, 1, &[]), 2, 0);
    // a new static member joins then leaves before the static one rejoins
    let r = g.join(static_req("", "inst-2", "two"), 3, 10);
    assert!(replies(r).is_empty());
    assert_eq!(g.leave("", Some("inst-2"), 20).0, ErrorCode::None);
    for t in [9_000, 18_000] {
        // alive, but not rejoining
        assert_eq!(
            g.heartbeat(&id, Some("inst-1"), 1, t),
            ErrorCode::RebalanceInProgress
        );
    }
    g.tick(10 + i64::from(REBALANCE));
    assert_eq!(g.generation(), 1, "no generation without a joined leader");
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    let r = replies(g.join(static_req(&id, "inst-1", "x"), 4, 30 + i64::from(REBALANCE)));
    assert_eq!(join_result(&r[0].1).generation, 2);
}
