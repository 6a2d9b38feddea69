//! Consumer groups against in-process brokers: librdkafka consumers in groups, and exact
//! protocol requests for the cases a well-behaved client never produces.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::requests::{
    create_topic, describe_group, find_coordinator, heartbeat, join_group, offset_commit,
    offset_fetch, sync_group,
};
use tributary_testkit::{unique_name, RawClient, TestBroker};

/// Error codes, as Kafka numbers them.
const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

async fn broker() -> TestBroker {
    TestBroker::start_with(&[
        ("group.initial.rebalance.delay.ms", "200"),
        ("group.min.session.timeout.ms", "1000"),
        ("offsets.topic.num.partitions", "5"),
    ])
    .await
}

async fn produce(broker: &TestBroker, topic: &str, partitions: i32, count: usize) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    let values: Vec<String> = (0..count).map(|i| format!("v{i}")).collect();
    let mut futs = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let p = (i % partitions as usize) as i32;
        futs.push(
            producer.send_result(
                FutureRecord::to(topic)
                    .partition(p)
                    .key("k")
                    .payload(value.as_bytes()),
            ),
        );
    }
    for f in futs {
        f.unwrap().await.unwrap().unwrap();
    }
}

/// A consumer in a group, polled on its own thread.
struct Member {
    stop: Arc<AtomicBool>,
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Member {
    fn spawn(config: ClientConfig, topic: &str, seen: Arc<Mutex<Vec<(i32, i64)>>>) -> Member {
        let stop = Arc::new(AtomicBool::new(false));
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, a, topic) = (stop.clone(), assignment.clone(), topic.to_string());
        let thread = std::thread::spawn(move || {
            let consumer: BaseConsumer = config.create().unwrap();
            consumer.subscribe(&[&topic]).unwrap();
            while !s.load(Ordering::Acquire) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    seen.lock().unwrap().push((m.partition(), m.offset()));
                    consumer.commit_message(&m, CommitMode::Async).unwrap();
                }
                let now: BTreeSet<i32> = consumer
                    .assignment()
                    .unwrap()
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                *a.lock().unwrap() = now;
            }
            // dropping closes the consumer: it commits and sends LeaveGroup
        });
        Member {
            stop,
            assignment,
            thread: Some(thread),
        }
    }

    fn assigned(&self) -> BTreeSet<i32> {
        self.assignment.lock().unwrap().clone()
    }

    fn close(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.close();
    }
}

fn group_config(broker: &TestBroker, group: &str) -> ClientConfig {
    let mut c = broker.consumer_config();
    c.set("group.id", group)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300");
    c
}

/// Waits until the members' assignments are disjoint and cover `0..partitions`.
fn wait_for_split(members: &[&Member], partitions: i32, within: Duration) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + within;
    loop {
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| m.assigned()).collect();
        let total: usize = sets.iter().map(|s| s.len()).sum();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if total == partitions as usize
            && union == (0..partitions).collect()
            && sets.iter().all(|s| !s.is_empty())
        {
            return sets;
        }
        assert!(
            Instant::now() < deadline,
            "no complete disjoint split within {within:?}: {sets:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_records(seen: &Mutex<Vec<(i32, i64)>>, want: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let distinct: BTreeSet<(i32, i64)> = seen.lock().unwrap().iter().copied().collect();
        if distinct.len() >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {want} records consumed",
            distinct.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_consumers_split_six_partitions_and_take_over_from_one_that_leaves() {
    let broker = broker().await;
    let topic = unique_name("split");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 6), 5).await.unwrap().unwrap();
    produce(&broker, &topic, 6, 600).await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut members: Vec<Member> = (0..3)
        .map(|_| Member::spawn(group_config(&broker, &group), &topic, seen.clone()))
        .collect();
    let sets = tokio::task::block_in_place(|| {
        wait_for_split(
            &members.iter().collect::<Vec<_>>(),
            6,
            Duration::from_secs(30),
        )
    });
    assert!(
        sets.iter().all(|s| s.len() == 2),
        "range gives 2 each: {sets:?}"
    );
    tokio::task::block_in_place(|| wait_for_records(&seen, 600, Duration::from_secs(20)));

    // one leaves: the two others take over its partitions well within the session timeout
    let left = Instant::now();
    members[0].close();
    let rest: Vec<&Member> = members[1..].iter().collect();
    tokio::task::block_in_place(|| wait_for_split(&rest, 6, Duration::from_secs(5)));
    assert!(left.elapsed() < Duration::from_secs(6));

    // with no failure, nothing was read twice
    let all = seen.lock().unwrap().clone();
    let distinct: BTreeSet<(i32, i64)> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 600);
    assert_eq!(all.len(), 600, "a record was consumed twice");
    drop(members);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_consumer_and_broker_restarts() {
    let mut broker = broker().await;
    let topic = unique_name("resume");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 2), 5).await.unwrap().unwrap();
    produce(&broker, &topic, 2, 100).await;

    let read = |broker: &TestBroker, want: usize| {
        let consumer: BaseConsumer = group_config(broker, &group).create().unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < want && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                got.push((m.partition(), m.offset()));
            }
        }
        // nothing more arrives: a short extra poll
        let extra_until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < extra_until {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                got.push((m.partition(), m.offset()));
            }
        }
        consumer.commit_consumer_state(CommitMode::Sync).unwrap();
        got
    };
    let first = tokio::task::block_in_place(|| read(&broker, 100));
    assert_eq!(first.len(), 100);

    produce(&broker, &topic, 2, 10).await;
    let second = tokio::task::block_in_place(|| read(&broker, 10));
    assert_eq!(
        second.len(),
        10,
        "resumes after the committed offsets: {second:?}"
    );
    assert!(second.iter().all(|(_, o)| *o >= 50));

    broker.restart().await;
    produce(&broker, &topic, 2, 4).await;
    let third = tokio::task::block_in_place(|| read(&broker, 4));
    let mut offsets: Vec<(i32, i64)> = third.clone();
    offsets.sort();
    assert_eq!(offsets, vec![(0, 55), (0, 56), (1, 55), (1, 56)]);
    broker.stop().await;
}

/// Joins a raw member the KIP-394 way; returns (member id, generation, leader).
async fn raw_join(
    c: &mut RawClient,
    group: &str,
    session_ms: i32,
) -> (String, i32, String, Vec<String>) {
    let r = c
        .call(
            &join_group(group, "", session_ms, Bytes::from_static(b"m")),
            5,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED);
    let id = r.member_id.to_string();
    let r = c
        .call(
            &join_group(group, &id, session_ms, Bytes::from_static(b"m")),
            5,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, NONE, "{r:?}");
    let members = r.members.iter().map(|m| m.member_id.to_string()).collect();
    (id, r.generation_id, r.leader.to_string(), members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_heartbeating_is_evicted_and_its_partitions_move() {
    let broker = broker().await;
    let topic = unique_name("evict");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 3), 5).await.unwrap().unwrap();
    let f = c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    assert_eq!(f.error_code, NONE);

    // a raw member joins with a 1 s session and then goes silent
    let (id, generation, leader, _) = raw_join(&mut c, &group, 1000).await;
    assert_eq!(leader, id);
    let s = c
        .call(
            &sync_group(&group, generation, &id, &[(&id, Bytes::from_static(b"x"))]),
            3,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.error_code, NONE);
    let d = c.call(&describe_group(&group), 5).await.unwrap().unwrap();
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].members.len(), 1);

    // a real consumer joins; the rebalance cannot wait for the silent member forever
    let seen = Arc::new(Mutex::new(Vec::new()));
    let m = Member::spawn(group_config(&broker, &group), &topic, seen);
    tokio::task::block_in_place(|| wait_for_split(&[&m], 3, Duration::from_secs(10)));
    let d = c.call(&describe_group(&group), 5).await.unwrap().unwrap();
    let members: Vec<String> = d.groups[0]
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    assert!(
        !members.contains(&id),
        "the silent member was evicted: {members:?}"
    );
    let hb = c
        .call(&heartbeat(&group, generation, &id), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hb.error_code, UNKNOWN_MEMBER_ID);
    drop(m);
    broker.stop().await;
}

#[tokio::test]
async fn protocol_errors_for_bad_members_generations_and_topics() {
    let broker = broker().await;
    let topic = unique_name("errs");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 2), 5).await.unwrap().unwrap();
    c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();

    let (a, generation, ..) = raw_join(&mut c, &group, 10_000).await;
    // a stale generation and an unknown member
    let s = c
        .call(&sync_group(&group, generation + 1, &a, &[]), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.error_code, ILLEGAL_GENERATION);
    let hb = c
        .call(&heartbeat(&group, generation, "ghost"), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hb.error_code, UNKNOWN_MEMBER_ID);
    // garbage assignment bytes are opaque to the broker: stored and handed back as is
    let garbage = Bytes::from_static(&[0xff, 0x00, 0x13, 0x37]);
    let s = c
        .call(
            &sync_group(
                &group,
                generation,
                &a,
                &[(&a, garbage.clone()), ("ghost", garbage.clone())],
            ),
            3,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.error_code, s.assignment.clone()), (NONE, garbage));
    let d = c.call(&describe_group(&group), 5).await.unwrap().unwrap();
    assert_eq!(d.groups[0].members.len(), 1);

    // commits: a member's commit with the right generation works, a stale one does not,
    // and unknown topics or partitions are refused per partition
    let ok = c
        .call(&offset_commit(&group, generation, &a, &topic, 1, 42), 8)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.topics[0].partitions[0].error_code, NONE);
    let stale = c
        .call(&offset_commit(&group, generation - 1, &a, &topic, 1, 43), 8)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.topics[0].partitions[0].error_code, ILLEGAL_GENERATION);
    for (t, p) in [
        ("no-such-topic", 0),
        (topic.as_str(), 2),
        (topic.as_str(), -1),
    ] {
        let r = c
            .call(&offset_commit(&group, generation, &a, t, p, 1), 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            r.topics[0].partitions[0].error_code, UNKNOWN_TOPIC_OR_PARTITION,
            "{t}/{p}"
        );
    }
    // a standalone commit into a group with members is refused
    let r = c
        .call(&offset_commit(&group, -1, "", &topic, 0, 5), 8)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, UNKNOWN_MEMBER_ID);
    let f = c
        .call(&offset_fetch(&group, &topic, 1), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.topics[0].partitions[0].committed_offset, 42);
    let f = c
        .call(&offset_fetch(&group, &topic, 0), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        f.topics[0].partitions[0].committed_offset, -1,
        "never committed"
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_member_that_joins_and_never_syncs_does_not_block_the_group() {
    let broker = TestBroker::start_with(&[
        ("group.initial.rebalance.delay.ms", "0"),
        ("group.min.session.timeout.ms", "1000"),
        ("offsets.topic.num.partitions", "1"),
    ])
    .await;
    let group = unique_name("g");
    let mut a = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let mut b = RawClient::connect(&broker.bootstrap()).await.unwrap();
    a.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    let (ida, generation, ..) = raw_join(&mut a, &group, 1500).await;
    a.call(&sync_group(&group, generation, &ida, &[]), 3)
        .await
        .unwrap()
        .unwrap();
    // b joins; a must rejoin; both get generation + 1
    let b_join = tokio::spawn({
        let group = group.clone();
        async move {
            let r = raw_join(&mut b, &group, 1500).await;
            (b, r)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hb = a
        .call(&heartbeat(&group, generation, &ida), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hb.error_code, REBALANCE_IN_PROGRESS);
    let r = a
        .call(&join_group(&group, &ida, 1500, Bytes::from_static(b"m")), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, NONE);
    let (_b, (idb, gen_b, ..)) = b_join.await.unwrap();
    assert_eq!(r.generation_id, gen_b);
    // the leader syncs, b never does: after the rebalance timeout b is dropped and a alone
    // rejoins into the next generation
    let s = a
        .call(&sync_group(&group, gen_b, &ida, &[]), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.error_code, NONE);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hb = a
            .call(&heartbeat(&group, gen_b, &ida), 3)
            .await
            .unwrap()
            .unwrap();
        if hb.error_code == REBALANCE_IN_PROGRESS {
            break;
        }
        assert_eq!(hb.error_code, NONE);
        assert!(Instant::now() < deadline, "b was never dropped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = a
        .call(&join_group(&group, &ida, 1500, Bytes::from_static(b"m")), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, NONE);
    assert_eq!(r.generation_id, gen_b + 1);
    let members: Vec<String> = r.members.iter().map(|m| m.member_id.to_string()).collect();
    assert_eq!(members, vec![ida.clone()], "{idb} is gone");
    broker.stop().await;
}

#[tokio::test]
async fn thousands_of_groups_commit_and_list() {
    let broker = broker().await;
    let topic = unique_name("many");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 1), 5).await.unwrap().unwrap();
    let prefix = unique_name("many-g");
    c.call(&find_coordinator(&prefix), 3)
        .await
        .unwrap()
        .unwrap();
    for i in 0..2000 {
        let g = format!("{prefix}-{i}");
        let r = c
            .call(&offset_commit(&g, -1, "", &topic, 0, i), 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.topics[0].partitions[0].error_code, NONE);
    }
    let list = c
        .call(&kafka_protocol::messages::ListGroupsRequest::default(), 4)
        .await
        .unwrap()
        .unwrap();
    let ours: Vec<_> = list
        .groups
        .iter()
        .filter(|g| g.group_id.0.starts_with(&prefix))
        .collect();
    assert_eq!(ours.len(), 2000);
    assert!(ours.iter().all(|g| g.group_state.as_str() == "Empty"));
    let f = c
        .call(&offset_fetch(&format!("{prefix}-1234"), &topic, 0), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.topics[0].partitions[0].committed_offset, 1234);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_consumers_commit_without_joining() {
    let broker = broker().await;
    let topic = unique_name("simple");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 2), 5).await.unwrap().unwrap();
    tokio::task::block_in_place(|| {
        let consumer: BaseConsumer = group_config(&broker, &group).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(7))
            .unwrap();
        tpl.add_partition_offset(&topic, 1, Offset::Offset(9))
            .unwrap();
        consumer.commit(&tpl, CommitMode::Sync).unwrap();
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .unwrap();
        let got: HashMap<i32, Offset> = committed
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset()))
            .collect();
        assert_eq!(got[&0], Offset::Offset(7));
        assert_eq!(got[&1], Offset::Offset(9));
    });
    let d = c.call(&describe_group(&group), 5).await.unwrap().unwrap();
    assert_eq!(d.groups[0].group_state.as_str(), "Empty");
    assert_eq!(d.groups[0].protocol_type.as_str(), "");
    broker.stop().await;
}

/// A consumer of the KIP-848 protocol (`group.protocol=consumer`): the broker assigns.
fn consumer_protocol_config(broker: &TestBroker, group: &str) -> ClientConfig {
    let mut c = broker.consumer_config();
    c.set("group.id", group).set("group.protocol", "consumer");
    c
}

async fn kip848_broker() -> TestBroker {
    TestBroker::start_with(&[
        ("group.consumer.heartbeat.interval.ms", "300"),
        ("offsets.topic.num.partitions", "3"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_members_split_partitions_and_take_over() {
    let broker = kip848_broker().await;
    let topic = unique_name("kip848");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 6), 5).await.unwrap().unwrap();
    produce(&broker, &topic, 6, 600).await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut members: Vec<Member> = (0..3)
        .map(|_| {
            Member::spawn(
                consumer_protocol_config(&broker, &group),
                &topic,
                seen.clone(),
            )
        })
        .collect();
    let sets = tokio::task::block_in_place(|| {
        wait_for_split(
            &members.iter().collect::<Vec<_>>(),
            6,
            Duration::from_secs(30),
        )
    });
    assert!(
        sets.iter().all(|s| s.len() == 2),
        "uniform gives 2 each: {sets:?}"
    );
    tokio::task::block_in_place(|| wait_for_records(&seen, 600, Duration::from_secs(20)));

    members[0].close();
    let rest: Vec<&Member> = members[1..].iter().collect();
    tokio::task::block_in_place(|| wait_for_split(&rest, 6, Duration::from_secs(10)));
    let all = seen.lock().unwrap().clone();
    let distinct: BTreeSet<(i32, i64)> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 600);
    assert_eq!(all.len(), 600, "a record was consumed twice");

    // the group is described by both APIs
    let d = c
        .call(
            &kafka_protocol::messages::ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![tributary_testkit::requests::group_id(&group)]),
            0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.groups[0].error_code, NONE);
    assert_eq!(d.groups[0].members.len(), 2);
    let listed = c
        .call(&kafka_protocol::messages::ListGroupsRequest::default(), 5)
        .await
        .unwrap()
        .unwrap();
    let ours = listed
        .groups
        .iter()
        .find(|g| g.group_id.0.as_str() == group)
        .unwrap();
    assert_eq!(ours.group_type.as_str(), "consumer");
    drop(members);
    broker.stop().await;
}

#[tokio::test]
async fn metadata_too_large_to_store_fails_the_sync_and_the_group_recovers() {
    let broker = TestBroker::start_with(&[
        ("group.initial.rebalance.delay.ms", "0"),
        ("group.min.session.timeout.ms", "1000"),
        ("offsets.topic.num.partitions", "1"),
    ])
    .await;
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    // 2 MB of subscription metadata: accepted by JoinGroup, but the group's record would not
    // fit __consumer_offsets' max.message.bytes
    let big = Bytes::from(vec![7u8; 2 << 20]);
    let r = c
        .call(&join_group(&group, "", 10_000, big.clone()), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED);
    let id = r.member_id.to_string();
    let r = c
        .call(&join_group(&group, &id, 10_000, big.clone()), 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, NONE);
    let s = c
        .call(
            &sync_group(
                &group,
                r.generation_id,
                &id,
                &[(&id, Bytes::from_static(b"a"))],
            ),
            3,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.error_code, -1, "UNKNOWN_SERVER_ERROR, as Kafka answers");
    // not stuck: the group asks for a rejoin, and a member with sane metadata completes
    let hb = c
        .call(&heartbeat(&group, r.generation_id, &id), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hb.error_code, REBALANCE_IN_PROGRESS);
    let r = c
        .call(
            &join_group(&group, &id, 10_000, Bytes::from_static(b"small")),
            5,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, NONE);
    let s = c
        .call(
            &sync_group(
                &group,
                r.generation_id,
                &id,
                &[(&id, Bytes::from_static(b"a"))],
            ),
            3,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.error_code, s.assignment.as_ref()), (NONE, &b"a"[..]));
    broker.stop().await;
}

#[tokio::test]
async fn loading_never_answers_with_a_wrong_offset() {
    let mut broker = TestBroker::start_with(&[("offsets.topic.num.partitions", "1")]).await;
    let topic = unique_name("load");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 1), 5).await.unwrap().unwrap();
    c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    // many commits, so that replaying the partition takes a while
    for i in 0..20_000 {
        let g = format!("{group}-{}", i % 100);
        let r = c
            .call(&offset_commit(&g, -1, "", &topic, 0, i), 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.topics[0].partitions[0].error_code, NONE);
    }
    broker.restart().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = c
            .call(&offset_fetch(&format!("{group}-7"), &topic, 0), 5)
            .await
            .unwrap()
            .unwrap();
        match f.error_code {
            // COORDINATOR_LOAD_IN_PROGRESS: retry, as clients do
            14 => {}
            NONE => {
                assert_eq!(f.topics[0].partitions[0].committed_offset, 19_907);
                break;
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(Instant::now() < deadline, "never loaded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn consumer_protocol_groups_survive_a_broker_restart() {
    use kafka_protocol::messages::ConsumerGroupHeartbeatRequest;
    use kafka_protocol::protocol::StrBytes;
    let mut broker = kip848_broker().await;
    let topic = unique_name("kip848-restart");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 4), 5).await.unwrap().unwrap();
    c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    let member = uuid_like();
    let hb = |epoch: i32, first: bool| {
        let mut r = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(tributary_testkit::requests::group_id(&group))
            .with_member_id(StrBytes::from_string(member.clone()))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(if first { 30_000 } else { -1 });
        if first {
            r = r.with_subscribed_topic_names(Some(vec![tributary_testkit::requests::topic_name(
                &topic,
            )]));
        }
        r
    };
    let r = c.call(&hb(0, true), 1).await.unwrap().unwrap();
    assert_eq!(r.error_code, NONE, "{r:?}");
    let epoch = r.member_epoch;
    let assigned: usize = r
        .assignment
        .as_ref()
        .unwrap()
        .topic_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(assigned, 4);

    broker.restart().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = c.call(&hb(epoch, false), 1).await.unwrap().unwrap();
        if r.error_code != 14 {
            break r;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.error_code, NONE, "the member is still known: {r:?}");
    assert_eq!(r.member_epoch, epoch, "and keeps its epoch");
    let again: usize = r
        .assignment
        .as_ref()
        .unwrap()
        .topic_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(again, 4, "and its partitions");
    broker.stop().await;
}

fn uuid_like() -> String {
    unique_name("member")
}

/// Group configs (KIP-848): a group's own session timeout and heartbeat interval are validated
/// against the broker's bounds, described with their sources, applied to the group's members on
/// their next heartbeat, and kept across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_configs_override_the_brokers_consumer_timeouts() {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use kafka_protocol::messages::{
        ConsumerGroupHeartbeatRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
    };
    use kafka_protocol::protocol::StrBytes;
    const GROUP: i8 = 32;
    let mut broker = TestBroker::start_with(&[
        ("group.consumer.min.session.timeout.ms", "6000"),
        ("offsets.topic.num.partitions", "3"),
    ])
    .await;
    let topic = unique_name("group-configs");
    let group = unique_name("g");
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    c.call(&create_topic(&topic, 2), 5).await.unwrap().unwrap();
    c.call(&find_coordinator(&group), 3).await.unwrap().unwrap();
    let alter = |ops: &[(&str, Option<&str>)]| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(GROUP)
                .with_resource_name(StrBytes::from_string(group.clone()))
                .with_configs(
                    ops.iter()
                        .map(|(k, v)| {
                            AlterableConfig::default()
                                .with_name(StrBytes::from_string(k.to_string()))
                                .with_config_operation(if v.is_some() { 0 } else { 1 })
                                .with_value(v.map(|v| StrBytes::from_string(v.to_string())))
                        })
                        .collect(),
                ),
        ])
    };
    let describe =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(GROUP)
            .with_resource_name(StrBytes::from_string(group.clone()))
            .with_configuration_keys(None)]);
    // bad values and names: Kafka's messages, nothing stored
    for (ops, message) in [
        (
            vec![("consumer.session.timeout.ms", Some("1"))],
            "consumer.session.timeout.ms must be in the range 6000 to 60000 inclusive.",
        ),
        (
            vec![("no.such", Some("1"))],
            "Unknown group config name: no.such",
        ),
        (
            vec![
                ("consumer.heartbeat.interval.ms", Some("9000")),
                ("consumer.session.timeout.ms", Some("8000")),
            ],
            "consumer.heartbeat.interval.ms must be less than consumer.session.timeout.ms",
        ),
    ] {
        let r = c.call(&alter(&ops), 1).await.unwrap().unwrap();
        assert_eq!(r.responses[0].error_code, 40, "{ops:?}");
        assert_eq!(r.responses[0].error_message.as_deref(), Some(message));
    }
    let r = c
        .call(
            &alter(&[
                ("consumer.session.timeout.ms", Some("20000")),
                ("consumer.heartbeat.interval.ms", Some("7000")),
            ]),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.responses[0].error_code, 0,
        "{:?}",
        r.responses[0].error_message
    );
    // a member gets the group's heartbeat interval
    let hb = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(tributary_testkit::requests::group_id(&group))
        .with_member_id(StrBytes::from_string(uuid_like()))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![tributary_testkit::requests::topic_name(&topic)]));
    let r = c.call(&hb, 1).await.unwrap().unwrap();
    assert_eq!((r.error_code, r.heartbeat_interval_ms), (NONE, 7000));
    for round in 0..2 {
        let d = c.call(&describe, 4).await.unwrap().unwrap();
        let entries = &d.results[0].configs;
        let find = |n: &str| entries.iter().find(|e| e.name.as_str() == n).unwrap();
        let session = find("consumer.session.timeout.ms");
        assert_eq!(session.value.as_deref(), Some("20000"), "round {round}");
        assert_eq!(session.config_source, 8, "GROUP_CONFIG");
        let lock = find("share.record.lock.duration.ms");
        assert_eq!(
            (lock.value.as_deref(), lock.config_source),
            (Some("30000"), 5)
        );
        assert_eq!(entries.len(), 21, "every Kafka 4.4 group config");
        if round == 0 {
            drop(c);
            broker.restart().await;
            c = RawClient::connect(&broker.bootstrap()).await.unwrap();
        }
    }
    let r = c
        .call(
            &alter(&[
                ("consumer.session.timeout.ms", None),
                ("consumer.heartbeat.interval.ms", None),
            ]),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let d = c.call(&describe, 4).await.unwrap().unwrap();
    let session = d.results[0]
        .configs
        .iter()
        .find(|e| e.name.as_str() == "consumer.session.timeout.ms")
        .unwrap();
    assert_eq!(
        session.value.as_deref(),
        Some("45000"),
        "back to the broker's"
    );
    broker.stop().await;
}
