//! A classic-group member against an in-process broker: two members split what the leader's
//! assignor hands out, the group rebalances when one leaves, and offsets are committed and
//! read with the member's generation.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tributary_client::group::{
    lost_membership, Assignor, GroupConfig, GroupError, GroupMember, Member,
};
use tributary_testkit::{unique_name, TestBroker};

/// Hands out the numbers 0..n round-robin over the members (sorted by id); each member's
/// metadata is its name.
struct Numbers {
    name: String,
    n: u32,
}

impl Assignor for Numbers {
    fn name(&self) -> &str {
        "numbers"
    }

    fn metadata(&self) -> Bytes {
        Bytes::from(self.name.clone())
    }

    fn assign(&self, members: &[GroupMember]) -> BTreeMap<String, Bytes> {
        let mut ids: Vec<&GroupMember> = members.iter().collect();
        ids.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in 0..self.n {
            let m = ids[i as usize % ids.len()];
            out.entry(m.member_id.clone())
                .or_default()
                .push(i.to_string());
        }
        ids.iter()
            .map(|m| {
                let mine = out.remove(&m.member_id).unwrap_or_default().join(",");
                // the metadata came through: each assignment names its member
                let who = String::from_utf8_lossy(&m.metadata).to_string();
                (m.member_id.clone(), Bytes::from(format!("{who}:{mine}")))
            })
            .collect()
    }
}

fn member(broker: &TestBroker, group: &str) -> Member {
    Member::new(GroupConfig {
        bootstrap: vec![broker.bootstrap()],
        group_id: group.to_string(),
        protocol_type: "consumer".to_string(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_split_the_work_rebalance_when_one_leaves_and_commit_with_their_generation() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let group = unique_name("g");
    let mut a = member(&broker, &group);
    let numbers = |name: &str| Numbers {
        name: name.to_string(),
        n: 4,
    };
    let first = a.join(&numbers("a")).await.unwrap();
    assert!(first.leader);
    assert_eq!(first.assignment, Bytes::from("a:0,1,2,3"));
    assert!(!a.member_id().is_empty());

    // b joins: a hears of the rebalance through its heartbeat, and both join again
    let mut b = member(&broker, &group);
    let (for_a, for_b) = (numbers("a"), numbers("b"));
    let (b_joined, a_joined) = tokio::join!(b.join(&for_b), async {
        loop {
            match a.heartbeat().await {
                Ok(()) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(GroupError::Rejoin(e)) => {
                    assert!(!lost_membership(e), "{e}");
                    break a.join(&for_a).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    let (a_joined, b_joined) = (a_joined.unwrap(), b_joined.unwrap());
    assert_eq!(a_joined.generation, b_joined.generation);
    assert!(a_joined.generation > first.generation);
    let mut all: Vec<String> = [&a_joined.assignment, &b_joined.assignment]
        .iter()
        .flat_map(|x| {
            let s = String::from_utf8_lossy(x).to_string();
            let (_, nums) = s.split_once(':').unwrap();
            nums.split(',').map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    assert_eq!(all, vec!["0", "1", "2", "3"], "every number to one member");

    // offsets committed by a member with its generation come back
    let topic = unique_name("t");
    broker.create_topic(&topic, 2).await;
    a.commit(&[(topic.clone(), 0, 42), (topic.clone(), 1, 7)])
        .await
        .unwrap();
    let read = b
        .committed(&[(topic.clone(), 0), (topic.clone(), 1), (topic.clone(), 5)])
        .await
        .unwrap();
    assert_eq!(read, vec![Some(42), Some(7), None]);

    // b leaves: a's next heartbeat asks it to join again, and it gets everything
    b.leave().await.unwrap();
    loop {
        match a.heartbeat().await {
            Ok(()) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(GroupError::Rejoin(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let alone = a.join(&numbers("a")).await.unwrap();
    assert_eq!(alone.assignment, Bytes::from("a:0,1,2,3"));
    a.leave().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_the_group_dropped_learns_it_lost_its_membership() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let group = unique_name("g");
    let mut a = Member::new(GroupConfig {
        bootstrap: vec![broker.bootstrap()],
        group_id: group.clone(),
        protocol_type: "consumer".to_string(),
        session_timeout: Duration::from_millis(6000),
        rebalance_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
    });
    let numbers = Numbers {
        name: "a".to_string(),
        n: 1,
    };
    a.join(&numbers).await.unwrap();
    // silent past the session timeout: the coordinator removes the member
    tokio::time::sleep(Duration::from_millis(7500)).await;
    match a.heartbeat().await {
        Err(GroupError::Rejoin(e)) => assert!(lost_membership(e), "{e}"),
        other => panic!("expected the membership lost, got {other:?}"),
    }
    // and joining again works
    let back = a.join(&numbers).await.unwrap();
    assert_eq!(back.assignment, Bytes::from("a:0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_broker_is_a_clear_error() {
    let mut m = Member::new(GroupConfig {
        bootstrap: vec!["127.0.0.1:1".to_string()],
        group_id: "g".to_string(),
        protocol_type: "consumer".to_string(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_millis(200),
    });
    // a heartbeat does not retry: it says at once that nothing answered
    let e = m.heartbeat().await.unwrap_err();
    assert!(
        matches!(e, GroupError::Io(_) | GroupError::NoBroker(_)),
        "{e}"
    );
}
