//! The task assignor: which instance of the application runs which task, and where standby
//! copies of task state are kept. The group's leader runs it on the members' subscriptions.
//!
//! Each instance joins the group once (its threads share the membership), with its process id,
//! its thread count and the tasks it ran or kept state for. Tasks stay where they were while
//! that keeps the load fair (sticky), go next to instances that hold their state (a standby),
//! and otherwise to the least loaded instance for its threads. Standbys go to other instances,
//! those with the task's state first.
//!
//! On the wire the subscription and assignment are Kafka's consumer protocol (so Kafka's tools
//! show the partitions each member reads), with this assignor's data as JSON in `user_data`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use serde::{Deserialize, Serialize};

pub use crate::processor::TaskId;

/// What an instance tells the leader when it joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subscription {
    /// The version of this data (1).
    pub version: u32,
    /// The instance's process id (a new one each start).
    pub process_id: String,
    /// Its stream threads.
    pub threads: u32,
    /// The tasks it ran before this rebalance.
    pub active: BTreeSet<TaskId>,
    /// The tasks it keeps state of without running them.
    pub standby: BTreeSet<TaskId>,
    /// Its `application.server`, for interactive queries.
    pub endpoint: Option<String>,
}

/// What the leader tells an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Assignment {
    /// The version of this data (1).
    pub version: u32,
    /// The tasks it runs.
    pub active: BTreeSet<TaskId>,
    /// The tasks it keeps standby state of.
    pub standby: BTreeSet<TaskId>,
    /// Every instance's endpoint and the tasks it runs (for interactive queries).
    pub hosts: BTreeMap<String, BTreeSet<TaskId>>,
    /// Every instance's endpoint and the tasks it keeps standby copies of.
    #[serde(default)]
    pub standby_hosts: BTreeMap<String, BTreeSet<TaskId>>,
}

const CONSUMER_PROTOCOL_VERSION: i16 = 0;
const DATA_VERSION: u32 = 1;

/// The subscription's bytes: Kafka's consumer protocol with `topics` and our data.
pub(crate) fn encode_subscription(topics: &[String], sub: &Subscription) -> Bytes {
    let msg = ConsumerProtocolSubscription::default()
        .with_topics(
            topics
                .iter()
                .map(|t| StrBytes::from_string(t.clone()))
                .collect(),
        )
        .with_user_data(Some(Bytes::from(
            serde_json::to_vec(sub).unwrap_or_default(),
        )));
    versioned(&msg)
}

/// The subscription in `data`, if it is one of ours.
pub(crate) fn decode_subscription(data: &[u8]) -> Option<Subscription> {
    let mut buf = Bytes::copy_from_slice(data);
    let version = read_version(&mut buf)?;
    let msg = ConsumerProtocolSubscription::decode(&mut buf, version).ok()?;
    let sub: Subscription = serde_json::from_slice(msg.user_data.as_deref()?).ok()?;
    (sub.version == DATA_VERSION).then_some(sub)
}

/// The assignment's bytes: the partitions of the active tasks, and our data.
pub(crate) fn encode_assignment(partitions: &BTreeMap<String, Vec<i32>>, a: &Assignment) -> Bytes {
    let msg = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(
            partitions
                .iter()
                .map(|(t, p)| {
                    AssignedPartitions::default()
                        .with_topic(TopicName(StrBytes::from_string(t.clone())))
                        .with_partitions(p.clone())
                })
                .collect(),
        )
        .with_user_data(Some(Bytes::from(serde_json::to_vec(a).unwrap_or_default())));
    versioned(&msg)
}

/// The assignment in `data` (an empty one when the leader sent none).
pub(crate) fn decode_assignment(data: &[u8]) -> Option<Assignment> {
    if data.is_empty() {
        return Some(Assignment::default());
    }
    let mut buf = Bytes::copy_from_slice(data);
    let version = read_version(&mut buf)?;
    let msg = ConsumerProtocolAssignment::decode(&mut buf, version).ok()?;
    serde_json::from_slice(msg.user_data.as_deref()?).ok()
}

fn versioned<M: Encodable>(msg: &M) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(CONSUMER_PROTOCOL_VERSION);
    // encoding a message built here at a version it supports cannot fail
    let _ = msg.encode(&mut buf, CONSUMER_PROTOCOL_VERSION);
    buf.freeze()
}

fn read_version(buf: &mut Bytes) -> Option<i16> {
    (buf.remaining() >= 2)
        .then(|| buf.get_i16())
        .filter(|v| (0..=3).contains(v))
}

/// An instance as the assignor sees it.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub member_id: String,
    pub sub: Subscription,
}

/// Each member's tasks: sticky, balanced by threads, with `standbys` copies of the state of
/// each `stateful` task on other instances where there are enough of them.
pub(crate) fn assign(
    clients: &[Client],
    tasks: &[TaskId],
    stateful: &BTreeSet<TaskId>,
    standbys: usize,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = clients
        .iter()
        .map(|c| {
            (
                c.member_id.clone(),
                Assignment {
                    version: DATA_VERSION,
                    ..Assignment::default()
                },
            )
        })
        .collect();
    if clients.is_empty() {
        return out;
    }
    let threads: Vec<u64> = clients
        .iter()
        .map(|c| u64::from(c.sub.threads.max(1)))
        .collect();
    let total_threads: u64 = threads.iter().sum();
    let total = tasks.len() as u64;
    let quota: Vec<usize> = threads
        .iter()
        .map(|t| (total * t).div_ceil(total_threads) as usize)
        .collect();
    let mut load = vec![0usize; clients.len()];
    let mut owner: BTreeMap<TaskId, usize> = BTreeMap::new();
    // sticky: a task stays where it ran, while that instance is under its quota
    for &task in tasks {
        if let Some(i) = clients.iter().position(|c| c.sub.active.contains(&task)) {
            if load[i] < quota[i] {
                load[i] += 1;
                owner.insert(task, i);
            }
        }
    }
    // the rest: an instance with the task's state, else the least loaded for its threads
    for &task in tasks {
        if owner.contains_key(&task) {
            continue;
        }
        let with_state = (0..clients.len())
            .filter(|&i| load[i] < quota[i] && clients[i].sub.standby.contains(&task))
            .min_by_key(|&i| (load[i] * 1_000_000) / threads[i] as usize);
        let i = with_state.unwrap_or_else(|| least_loaded(&load, &threads));
        load[i] += 1;
        owner.insert(task, i);
    }
    for (&task, &i) in &owner {
        if let Some(a) = out.get_mut(&clients[i].member_id) {
            a.active.insert(task);
        }
    }
    // standbys: other instances, those with the task's state first, then the least loaded
    let mut standby_load = vec![0usize; clients.len()];
    for (&task, &active) in owner.iter().filter(|(t, _)| stateful.contains(t)) {
        let mut holders = BTreeSet::from([active]);
        for _ in 0..standbys {
            let pick = (0..clients.len())
                .filter(|i| !holders.contains(i))
                .min_by_key(|&i| {
                    let has_state = clients[i].sub.standby.contains(&task)
                        || clients[i].sub.active.contains(&task);
                    (!has_state, standby_load[i], i)
                });
            let Some(i) = pick else {
                break;
            };
            holders.insert(i);
            standby_load[i] += 1;
            if let Some(a) = out.get_mut(&clients[i].member_id) {
                a.standby.insert(task);
            }
        }
    }
    // where each task runs, for every instance's interactive queries
    let mut hosts: BTreeMap<String, BTreeSet<TaskId>> = BTreeMap::new();
    for (&task, &i) in &owner {
        if let Some(endpoint) = &clients[i].sub.endpoint {
            hosts.entry(endpoint.clone()).or_default().insert(task);
        }
    }
    let mut standby_hosts: BTreeMap<String, BTreeSet<TaskId>> = BTreeMap::new();
    for (client, a) in clients
        .iter()
        .filter_map(|c| Some((c, out.get(&c.member_id)?)))
    {
        if let Some(endpoint) = &client.sub.endpoint {
            standby_hosts
                .entry(endpoint.clone())
                .or_default()
                .extend(a.standby.iter().copied());
        }
    }
    for a in out.values_mut() {
        a.hosts = hosts.clone();
        a.standby_hosts = standby_hosts.clone();
    }
    out
}

fn least_loaded(load: &[usize], threads: &[u64]) -> usize {
    (0..load.len())
        .min_by(|&a, &b| {
            // load per thread, compared without division
            (load[a] as u64 * threads[b])
                .cmp(&(load[b] as u64 * threads[a]))
                .then(a.cmp(&b))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u32, p: i32) -> TaskId {
        TaskId {
            subtopology: s,
            partition: p,
        }
    }

    fn client(id: &str, threads: u32, active: &[TaskId], standby: &[TaskId]) -> Client {
        Client {
            member_id: id.to_string(),
            sub: Subscription {
                version: DATA_VERSION,
                process_id: format!("p-{id}"),
                threads,
                active: active.iter().copied().collect(),
                standby: standby.iter().copied().collect(),
                endpoint: Some(format!("{id}:8080")),
            },
        }
    }

    fn all_stateful(n: i32) -> BTreeSet<TaskId> {
        tasks(n).into_iter().collect()
    }

    fn tasks(n: i32) -> Vec<TaskId> {
        (0..2).flat_map(|s| (0..n).map(move |p| t(s, p))).collect()
    }

    #[test]
    fn tasks_spread_by_threads_and_every_task_runs_once() {
        let clients = [client("a", 1, &[], &[]), client("b", 2, &[], &[])];
        let out = assign(&clients, &tasks(6), &all_stateful(6), 0);
        let (a, b) = (&out["a"].active, &out["b"].active);
        assert_eq!(a.len() + b.len(), 12);
        assert!(a.is_disjoint(b));
        assert_eq!(a.len(), 4, "one third for the one-thread instance");
        assert_eq!(out["a"].hosts["b:8080"], *b);
    }

    #[test]
    fn tasks_stay_where_they_ran_and_a_new_instance_gets_a_fair_share() {
        let all = tasks(3);
        let first = assign(&[client("a", 1, &[], &[])], &all, &all_stateful(3), 0);
        assert_eq!(first["a"].active.len(), 6);
        let had: Vec<TaskId> = first["a"].active.iter().copied().collect();
        let out = assign(
            &[client("a", 1, &had, &[]), client("b", 1, &[], &[])],
            &all,
            &all_stateful(3),
            0,
        );
        assert_eq!(out["a"].active.len(), 3);
        assert_eq!(out["b"].active.len(), 3);
        // and back: the survivor keeps its tasks and takes the others
        let kept: Vec<TaskId> = out["a"].active.iter().copied().collect();
        let back = assign(&[client("a", 1, &kept, &[])], &all, &all_stateful(3), 0);
        assert!(out["a"].active.is_subset(&back["a"].active));
        assert_eq!(back["a"].active.len(), 6);
    }

    #[test]
    fn standbys_go_to_other_instances_preferring_those_with_state() {
        let all = tasks(2);
        let clients = [
            client("a", 1, &[t(0, 0), t(0, 1)], &[]),
            client("b", 1, &[t(1, 0), t(1, 1)], &[]),
            client("c", 1, &[], &[t(0, 0)]),
        ];
        let out = assign(&clients, &all, &all_stateful(2), 1);
        for task in &all {
            let active: Vec<&String> = out
                .iter()
                .filter(|(_, a)| a.active.contains(task))
                .map(|(m, _)| m)
                .collect();
            let standby: Vec<&String> = out
                .iter()
                .filter(|(_, a)| a.standby.contains(task))
                .map(|(m, _)| m)
                .collect();
            assert_eq!(active.len(), 1, "{task}");
            assert_eq!(standby.len(), 1, "{task}");
            assert_ne!(active, standby, "{task}");
        }
        // one instance: no standby possible
        let alone = assign(&clients[..1], &all, &all_stateful(2), 1);
        // stateless tasks have no standbys
        let stateless = assign(&clients, &all, &BTreeSet::new(), 1);
        assert!(stateless.values().all(|a| a.standby.is_empty()));
        assert!(alone["a"].standby.is_empty());
    }

    #[test]
    fn subscriptions_and_assignments_round_trip_through_the_consumer_protocol() {
        let sub = client("a", 2, &[t(0, 1)], &[t(1, 0)]).sub;
        let bytes = encode_subscription(&["in".to_string()], &sub);
        assert_eq!(&bytes[..2], &[0, 0]);
        assert_eq!(decode_subscription(&bytes), Some(sub));
        assert_eq!(decode_subscription(b"\x00\x00junk"), None);
        let a = assign(&[client("a", 1, &[], &[])], &tasks(1), &all_stateful(1), 0)
            .remove("a")
            .unwrap_or_default();
        let parts = BTreeMap::from([("in".to_string(), vec![0])]);
        let bytes = encode_assignment(&parts, &a);
        assert_eq!(decode_assignment(&bytes), Some(a));
        assert_eq!(decode_assignment(&[]), Some(Assignment::default()));
    }
}
