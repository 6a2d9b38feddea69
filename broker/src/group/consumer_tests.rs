//! Unit tests of the consumer group protocol (KIP-848) state machine.

use super::*;

struct Topics(Vec<(String, Uuid, i32)>);

impl TopicView for Topics {
    fn by_name(&self, name: &str) -> Option<(Uuid, i32)> {
        self.0
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, id, p)| (*id, *p))
    }
    fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, ..)| n.clone()).collect()
    }
}

fn settings() -> Settings {
    Settings {
        session_timeout_ms: 45_000,
        heartbeat_interval_ms: 5_000,
        max_size: 10,
        assignors: vec!["uniform".into(), "range".into()],
    }
}

fn join(id: &str, topics: &[&str]) -> HeartbeatRequest {
    HeartbeatRequest {
        member_id: id.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        version: 1,
        ..Default::default()
    }
}

fn beat(id: &str, epoch: i32, owned: Option<&Assignment>) -> HeartbeatRequest {
    HeartbeatRequest {
        member_id: id.into(),
        member_epoch: epoch,
        owned: owned.cloned(),
        version: 1,
        ..Default::default()
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn setup() -> (ConsumerGroup, Topics, Uuid) {
    let t = Uuid::new_v4();
    (
        ConsumerGroup::new("g", 0, 0),
        Topics(vec![("t".into(), t, 4)]),
        t,
    )
}

#[test]
fn a_single_member_gets_everything_at_epoch_one() {
    let (mut g, topics, t) = setup();
    let r = g
        .heartbeat(join("a", &["t"]), &topics, &settings(), 0)
        .unwrap();
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.assignment.unwrap()[&t].len(), 4);
    assert_eq!(g.state(), ConsumerGroupState::Stable);
    // no change: no assignment in the answer
    let r = g
        .heartbeat(beat("a", 1, None), &topics, &settings(), 10)
        .unwrap();
    assert_eq!((r.member_epoch, r.assignment), (1, None));
}

#[test]
fn partitions_are_revoked_before_they_move() {
    let (mut g, topics, t) = setup();
    let s = settings();
    let a_all = g
        .heartbeat(join("a", &["t"]), &topics, &s, 0)
        .unwrap()
        .assignment
        .unwrap();
    // b joins: it gets nothing until a has given partitions up
    let r = g.heartbeat(join("b", &["t"]), &topics, &s, 10).unwrap();
    assert_eq!(r.member_epoch, 2);
    assert_eq!(count(&r.assignment.unwrap_or_default()), 0);
    assert_eq!(g.state(), ConsumerGroupState::Reconciling);
    // a is told to keep only its target, at its old epoch
    let r = g.heartbeat(beat("a", 1, None), &topics, &s, 20).unwrap();
    assert_eq!(r.member_epoch, 1, "epoch moves only after revocation");
    let kept = r.assignment.unwrap();
    assert_eq!(count(&kept), 2);
    // b still waits: the partitions are not released yet
    let r = g.heartbeat(beat("b", 2, None), &topics, &s, 30).unwrap();
    assert!(r.assignment.is_none());
    // a confirms it owns only what it kept: it moves to epoch 2 and b gets the rest
    let r = g
        .heartbeat(beat("a", 1, Some(&kept)), &topics, &s, 40)
        .unwrap();
    assert_eq!((r.member_epoch, r.assignment), (2, None));
    let r = g.heartbeat(beat("b", 2, None), &topics, &s, 50).unwrap();
    let b = r.assignment.unwrap();
    assert_eq!(count(&b), 2);
    for p in &b[&t] {
        assert!(a_all[&t].contains(p) && !kept[&t].contains(p));
    }
    assert_eq!(g.state(), ConsumerGroupState::Stable);
}

#[test]
fn wrong_epochs_are_fenced_and_strangers_unknown() {
    let (mut g, topics, _) = setup();
    let s = settings();
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    let e = g.heartbeat(beat("a", 7, None), &topics, &s, 1).unwrap_err();
    assert_eq!(e.0, ErrorCode::FencedMemberEpoch);
    let e = g
        .heartbeat(beat("zz", 1, None), &topics, &s, 1)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::UnknownMemberId);
    assert_eq!(
        g.validate_member_epoch("a", 0),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(g.validate_member_epoch("a", 1), Ok(()));
    // a fenced member starts over with epoch 0: no group-wide rebalance, its partitions back
    let epoch = g.group_epoch();
    let r = g.heartbeat(join("a", &["t"]), &topics, &s, 2).unwrap();
    assert_eq!(r.member_epoch, 1);
    assert_eq!(count(&r.assignment.unwrap()), 4);
    assert_eq!(g.group_epoch(), epoch);
}

#[test]
fn leaving_frees_partitions_for_the_others() {
    let (mut g, topics, t) = setup();
    let s = settings();
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    let a = g.heartbeat(beat("a", 1, None), &topics, &s, 1).unwrap();
    assert!(a.assignment.is_none());
    g.heartbeat(join("b", &["t"]), &topics, &s, 2).unwrap();
    let r = g.heartbeat(beat("a", -1, None), &topics, &s, 3).unwrap();
    assert_eq!(r.member_epoch, -1);
    let r = g.heartbeat(beat("b", 2, None), &topics, &s, 4).unwrap();
    assert_eq!(r.assignment.unwrap()[&t].len(), 4);
    assert!(r.member_epoch >= 3);
}

#[test]
fn silent_members_expire_and_slow_revokers_are_removed() {
    let (mut g, topics, _) = setup();
    let s = settings();
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    g.heartbeat(join("b", &["t"]), &topics, &s, 0).unwrap();
    // a must revoke half within its rebalance timeout (30 s) but never confirms
    g.heartbeat(beat("a", 1, None), &topics, &s, 1).unwrap();
    g.heartbeat(beat("b", 2, None), &topics, &s, 20_000)
        .unwrap();
    let d = g.next_deadline().unwrap();
    assert_eq!(d, 30_001);
    g.tick(d);
    assert_eq!(g.members().count(), 1);
    // b, alone, stops heartbeating: gone after the session timeout
    g.tick(20_000 + 45_000);
    assert_eq!(g.state(), ConsumerGroupState::Empty);
}

#[test]
fn static_members_come_back_to_their_partitions() {
    let (mut g, topics, _) = setup();
    let s = settings();
    let mut j = join("a1", &["t"]);
    j.instance_id = Some("i".into());
    let first = g.heartbeat(j.clone(), &topics, &s, 0).unwrap();
    // another process with the same instance id is refused while the first is there
    let mut other = j.clone();
    other.member_id = "a2".into();
    assert_eq!(
        g.heartbeat(other.clone(), &topics, &s, 1).unwrap_err().0,
        ErrorCode::UnreleasedInstanceId
    );
    // a temporary leave (-2) keeps the assignment for the restarted process
    g.heartbeat(beat("a1", -2, None), &topics, &s, 2).unwrap();
    let back = g.heartbeat(other, &topics, &s, 3).unwrap();
    assert_eq!(back.member_epoch, first.member_epoch, "no new epoch");
    assert_eq!(back.assignment, first.assignment);
}

#[test]
fn bad_assignors_regexes_and_first_requests_are_refused() {
    let (mut g, topics, _) = setup();
    let s = settings();
    let mut j = join("a", &["t"]);
    j.server_assignor = Some("sticky-magic".into());
    assert_eq!(
        g.heartbeat(j, &topics, &s, 0).unwrap_err().0,
        ErrorCode::UnsupportedAssignor
    );
    let mut j = join("a", &[]);
    j.subscribed_topic_names = None;
    j.subscribed_topic_regex = Some("(unclosed".into());
    assert_eq!(
        g.heartbeat(j, &topics, &s, 0).unwrap_err().0,
        ErrorCode::InvalidRegularExpression
    );
    let mut j = join("", &["t"]);
    j.version = 1;
    assert_eq!(
        g.heartbeat(j, &topics, &s, 0).unwrap_err().0,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn regex_subscriptions_and_new_partitions_rebalance() {
    let t1 = Uuid::new_v4();
    let mut topics = Topics(vec![
        ("orders-eu".into(), t1, 2),
        ("other".into(), Uuid::new_v4(), 3),
    ]);
    let mut g = ConsumerGroup::new("g", 0, 0);
    let s = settings();
    let mut j = join("a", &[]);
    j.subscribed_topic_names = None;
    j.subscribed_topic_regex = Some("orders-.*".into());
    let r = g.heartbeat(j, &topics, &s, 0).unwrap();
    let a = r.assignment.unwrap();
    assert_eq!(a.keys().collect::<Vec<_>>(), vec![&t1]);
    assert_eq!(count(&a), 2);
    // a topic that matches appears: the next heartbeat assigns it
    let t2 = Uuid::new_v4();
    topics.0.push(("orders-us".into(), t2, 1));
    let r = g.heartbeat(beat("a", 1, None), &topics, &s, 1).unwrap();
    assert_eq!(r.member_epoch, 2);
    assert_eq!(count(&r.assignment.unwrap()), 3);
}

#[test]
fn the_group_size_is_bounded() {
    let (mut g, topics, _) = setup();
    let s = Settings {
        max_size: 1,
        ..settings()
    };
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    assert_eq!(
        g.heartbeat(join("b", &["t"]), &topics, &s, 0)
            .unwrap_err()
            .0,
        ErrorCode::GroupMaxSizeReached
    );
}

#[test]
fn snapshots_are_stable_and_restore_the_group() {
    let (mut g, topics, _) = setup();
    let s = settings();
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    g.heartbeat(join("b", &["t"]), &topics, &s, 0).unwrap();
    let before = g.snapshot();
    // a heartbeat that changes nothing leaves the snapshot byte-for-byte the same
    g.heartbeat(beat("b", 2, None), &topics, &s, 10).unwrap();
    assert_eq!(before, g.snapshot());
    // a is told to revoke: that is a change
    g.heartbeat(beat("a", 1, None), &topics, &s, 20).unwrap();
    assert_ne!(before, g.snapshot());

    let mut back = ConsumerGroup::restore(&g.snapshot(), &s, 1_000).unwrap();
    assert_eq!(back.group_epoch(), g.group_epoch());
    assert_eq!(back.state(), g.state());
    for (m, n) in g.members().zip(back.members()) {
        assert_eq!((&m.id, m.epoch, &m.assigned), (&n.id, n.epoch, &n.assigned));
    }
    // members carry on with their epochs, and get their assignment again
    let r = back
        .heartbeat(beat("a", 1, None), &topics, &s, 1_001)
        .unwrap();
    assert_eq!(r.member_epoch, 1, "a is still revoking");
    assert!(
        r.assignment.is_some(),
        "a restored coordinator sends the assignment again"
    );
    assert!(ConsumerGroup::restore(b"not json", &s, 0).is_none());
}

#[test]
fn a_commit_from_the_previous_epoch_is_accepted_for_partitions_still_owned() {
    let (mut g, topics, t) = setup();
    let s = settings();
    g.heartbeat(join("a", &["t"]), &topics, &s, 0).unwrap();
    g.heartbeat(join("b", &["t"]), &topics, &s, 0).unwrap();
    let kept = g
        .heartbeat(beat("a", 1, None), &topics, &s, 1)
        .unwrap()
        .assignment
        .unwrap();
    // a confirms the revocation and moves to epoch 2 with the partitions it kept
    let r = g
        .heartbeat(beat("a", 1, Some(&kept)), &topics, &s, 2)
        .unwrap();
    assert_eq!(r.member_epoch, 2);
    let kept_p = *kept[&t].iter().next().unwrap();
    let given_up = (0..4).find(|p| !kept[&t].contains(p)).unwrap();
    // the answer was lost: a heartbeat with the previous epoch must say what it owns (and own
    // nothing new), or it is fenced
    let e = g.heartbeat(beat("a", 1, None), &topics, &s, 3).unwrap_err();
    assert_eq!(e.0, ErrorCode::FencedMemberEpoch);
    let r = g
        .heartbeat(beat("a", 1, Some(&kept)), &topics, &s, 4)
        .unwrap();
    assert_eq!(r.member_epoch, 2);
    // a full request (after an error the client resends everything) gets the assignment again
    let full = HeartbeatRequest {
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        ..beat("a", 2, Some(&kept))
    };
    let r = g.heartbeat(full, &topics, &s, 5).unwrap();
    assert_eq!(r.assignment.as_ref(), Some(&kept));
    let r = g.heartbeat(beat("a", 2, None), &topics, &s, 6).unwrap();
    assert!(r.assignment.is_none());
    // a commit sent at epoch 1 crossed that heartbeat: fine for a partition a still owns
    assert_eq!(g.validate_member_commit("a", 1, &[(t, kept_p)]), Ok(()));
    // not for one it gave up, nor from an older epoch
    assert_eq!(
        g.validate_member_commit("a", 1, &[(t, given_up)]),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        g.validate_member_commit("a", 0, &[(t, kept_p)]),
        Err(ErrorCode::StaleMemberEpoch)
    );
}
