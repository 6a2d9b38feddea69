//! The controller quorum inside one process: three controllers replicate the metadata log with
//! Raft over their controller listeners (the same transport separate processes use). Only the
//! leader acts; when it stops, another takes over with every committed change; a controller that
//! comes back catches up; a controller of an earlier one-controller cluster brings its metadata
//! into the quorum.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tributary_broker::metadata::{Controller, FileMetadataLog, MetadataLog, MetadataRecord};
use tributary_broker::BrokerConfig;

const CLUSTER: &str = "quorum-test-cluster-0";

struct Member {
    controller: Controller,
    stop: watch::Sender<bool>,
}

struct Quorum {
    dirs: BTreeMap<i32, tempfile::TempDir>,
    ports: BTreeMap<i32, u16>,
    members: BTreeMap<i32, Member>,
}

fn config(id: i32, ports: &BTreeMap<i32, u16>, dir: &std::path::Path) -> Arc<BrokerConfig> {
    let voters = ports
        .iter()
        .map(|(i, p)| format!("{i}@127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let props: BTreeMap<String, String> = [
        ("process.roles", "controller".to_string()),
        ("node.id", id.to_string()),
        ("controller.quorum.voters", voters),
        ("controller.listener.names", "CONTROLLER".into()),
        (
            "listeners",
            format!("CONTROLLER://127.0.0.1:{}", ports[&id]),
        ),
        ("log.dirs", dir.display().to_string()),
        ("controller.quorum.election.timeout.ms", "300".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Arc::new(BrokerConfig::from_props(props).unwrap())
}

impl Quorum {
    async fn start(n: i32) -> Quorum {
        let mut listeners = BTreeMap::new();
        for id in 1..=n {
            listeners.insert(id, TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let ports = listeners
            .iter()
            .map(|(id, l)| (*id, l.local_addr().unwrap().port()))
            .collect();
        let dirs = (1..=n)
            .map(|id| (id, tempfile::tempdir().unwrap()))
            .collect();
        let mut q = Quorum {
            dirs,
            ports,
            members: BTreeMap::new(),
        };
        for (id, listener) in listeners {
            q.open(id, listener).await;
        }
        q
    }

    async fn open(&mut self, id: i32, listener: TcpListener) {
        let dir = self.dirs[&id].path().to_path_buf();
        let config = config(id, &self.ports, &dir);
        let controller = Controller::open_quorum(
            config,
            &dir.join("__cluster_metadata-0"),
            CLUSTER.to_string(),
        )
        .await
        .unwrap();
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(tributary_broker::metadata::remote::serve(
            listener,
            controller.clone(),
            stop_rx,
        ));
        self.members.insert(id, Member { controller, stop });
    }

    /// Stops controller `id` as a crash would look to the others: it answers nothing more.
    async fn stop(&mut self, id: i32) {
        let m = self.members.remove(&id).unwrap();
        let _ = m.stop.send(true);
        m.controller.leave_quorum().await;
    }

    async fn restart(&mut self, id: i32) {
        // (the stopped listener closes as its task ends: a moment later)
        let mut bound = None;
        for _ in 0..100 {
            match TcpListener::bind(("127.0.0.1", self.ports[&id])).await {
                Ok(l) => {
                    bound = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let listener = bound.expect("the controller's port is free again");
        self.open(id, listener).await;
    }

    /// The active controller, once one is (15 s at most).
    async fn active(&self) -> i32 {
        for _ in 0..300 {
            let active: Vec<i32> = self
                .members
                .iter()
                .filter(|(_, m)| m.controller.is_active())
                .map(|(id, _)| *id)
                .collect();
            if let [one] = active[..] {
                return one;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no active controller");
    }

    /// A block of 10 producer ids from controller `id`: its first id.
    async fn allocate(&self, id: i32) -> Result<i64, (tributary_broker::error::ErrorCode, String)> {
        self.members[&id]
            .controller
            .allocate_producer_ids(1, 10)
            .await
    }

    /// Waits until controller `id` has applied `offset`.
    async fn caught_up(&self, id: i32, offset: i64) {
        for _ in 0..300 {
            if self.members[&id].controller.image().offset >= offset {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("controller {id} did not catch up to {offset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_a_new_one_keeps_every_committed_change() {
    let mut q = Quorum::start(3).await;
    let leader = q.active().await;
    // the first leader names the cluster from its data directory
    assert_eq!(q.members[&leader].controller.image().cluster_id, CLUSTER);
    let mut blocks = Vec::new();
    for _ in 0..5 {
        blocks.push(q.allocate(leader).await.unwrap());
    }
    // the others refuse, naming no work done
    for (id, _) in q.members.iter().filter(|(id, _)| **id != leader) {
        let refused = q.allocate(*id).await.unwrap_err();
        assert_eq!(
            refused.0,
            tributary_broker::error::ErrorCode::NotController,
            "{refused:?}"
        );
    }
    // every controller applies the same changes
    let offset = q.members[&leader].controller.image().offset;
    for id in 1..=3 {
        q.caught_up(id, offset).await;
        assert_eq!(
            q.members[&id].controller.image().next_producer_id,
            blocks[4] + 10
        );
    }
    // DescribeQuorum's view: three voters, the leader at the head of the log (from Raft's
    // metrics, which may trail the applied image by a moment)
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut view = q.members[&leader].controller.quorum_view().unwrap();
    while view.high_watermark <= offset && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        view = q.members[&leader].controller.quorum_view().unwrap();
    }
    assert_eq!(view.leader_id, leader);
    assert_eq!(view.voters.len(), 3);
    assert!(view.high_watermark > offset, "{view:?}");

    // the leader stops: another takes over with everything committed, and carries on
    q.stop(leader).await;
    let second = q.active().await;
    assert_ne!(second, leader);
    let next = q.allocate(second).await.unwrap();
    assert_eq!(next, blocks[4] + 10, "no producer id is handed out twice");
    let view = q.members[&second].controller.quorum_view().unwrap();
    assert!(view.leader_epoch >= 2, "a new term: {view:?}");

    // the stopped controller comes back from its log and catches up
    q.restart(leader).await;
    let offset = q.members[&second].controller.image().offset;
    q.caught_up(leader, offset).await;
    assert_eq!(
        q.members[&leader].controller.image().next_producer_id,
        next + 10
    );

    // with two of three stopped nothing changes, and the request says why
    let others: Vec<i32> = (1..=3).filter(|id| *id != second).collect();
    q.stop(others[0]).await;
    q.stop(others[1]).await;
    let alone = q.allocate(second).await.unwrap_err();
    assert_eq!(
        alone.0,
        tributary_broker::error::ErrorCode::NotController,
        "{alone:?}"
    );
    q.stop(second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_behind_the_kept_log_catches_up_from_a_snapshot() {
    let mut q = Quorum::start(3).await;
    let leader = q.active().await;
    let behind = (1..=3).find(|id| *id != leader).unwrap();
    q.stop(behind).await;
    let mut last = 0;
    for _ in 0..20 {
        last = q.allocate(leader).await.unwrap();
    }
    // the others fold their log into a snapshot and drop it: the stopped one cannot be sent
    // the entries it misses any more
    let offset = q.members[&leader].controller.image().offset;
    for (id, m) in &q.members {
        q.caught_up(*id, offset).await;
        let at = m.controller.compact_metadata_log().await.unwrap();
        assert!(at >= offset, "snapshot at {at}, applied {offset}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    q.restart(behind).await;
    q.caught_up(behind, offset).await;
    let image = q.members[&behind].controller.image();
    assert_eq!(image.next_producer_id, last + 10);
    assert_eq!(image.cluster_id, CLUSTER);
    // and it keeps following after the snapshot
    let next = q.allocate(leader).await.unwrap();
    let offset = q.members[&leader].controller.image().offset;
    q.caught_up(behind, offset).await;
    assert_eq!(
        q.members[&behind].controller.image().next_producer_id,
        next + 10
    );
    // a restart of a controller whose own state came from that snapshot
    q.stop(behind).await;
    q.restart(behind).await;
    q.caught_up(behind, offset).await;
    for id in (1..=3).collect::<Vec<_>>() {
        q.stop(id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_controller_metadata_log_becomes_the_quorums_first_entry() {
    // the metadata log of an earlier version's single cluster controller
    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("__cluster_metadata-0");
    let mut old = FileMetadataLog::open(&metadata).unwrap();
    old.append(&[
        MetadataRecord::Cluster {
            cluster_id: CLUSTER.into(),
        },
        MetadataRecord::ProducerIds {
            broker_id: 1,
            next_producer_id: 5000,
        },
    ])
    .unwrap();
    drop(old);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = BTreeMap::from([(1, listener.local_addr().unwrap().port())]);
    let controller = Controller::open_quorum(
        config(1, &ports, dir.path()),
        &metadata,
        CLUSTER.to_string(),
    )
    .await
    .unwrap();
    let first = {
        let mut got = None;
        for _ in 0..300 {
            match controller.allocate_producer_ids(1, 10).await {
                Ok(id) => {
                    got = Some(id);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        got.expect("the single voter leads")
    };
    assert_eq!(first, 5000, "the old log's producer ids are kept");
    assert_eq!(controller.image().cluster_id, CLUSTER);
    controller.leave_quorum().await;
    drop(listener);
}
