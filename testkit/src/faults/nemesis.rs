//! The faults of a run, one kind per run, each injected and healed in a loop on a seeded
//! schedule.

use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::cluster::ProcessCluster;
use super::history::{History, Op};
use super::workload::client_config;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// kill -9 the leader of a random test partition, restart it after 2–5 s.
    KillLeader,
    /// kill -9 the active controller, restart it after 2–5 s.
    KillController,
    /// SIGSTOP a node (a partition leader or the active controller) for 1.5 × the broker
    /// session timeout, then SIGCONT.
    Pause,
    /// Network partitions: a node isolated from the others (often the active controller), a
    /// non-transitive bridge, one-way cuts; healed after a few seconds.
    Partition,
    /// A rolling restart: each fault stops one node cleanly (SIGTERM: controlled shutdown
    /// moves its leaderships away first) and starts it again, the nodes taken in turn; the
    /// next node goes once every replica is back in sync, as operators roll a cluster.
    RollingRestart,
}

impl FaultKind {
    /// Every kind, in the order a suite runs them.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::KillLeader,
        FaultKind::KillController,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::RollingRestart,
    ];

    /// The kind's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillLeader => "kill-leader",
            FaultKind::KillController => "kill-controller",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::RollingRestart => "rolling-restart",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it needs network namespaces.
    pub fn needs_netns(self) -> bool {
        self == FaultKind::Partition
    }
}

/// Who leads each partition of `topic`, from the cluster's metadata (-1: none).
pub fn leaders(bootstrap: &str, topic: &str) -> Vec<i32> {
    partitions(bootstrap, topic)
        .into_iter()
        .map(|(leader, _, _)| leader)
        .collect()
}

/// (leader, replicas, isr) of each partition of `topic`; empty when metadata is unavailable.
pub fn partitions(bootstrap: &str, topic: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    let Ok(consumer) = client_config(bootstrap).create::<BaseConsumer>() else {
        return Vec::new();
    };
    let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return Vec::new();
    };
    md.topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions())
        .map(|p| (p.leader(), p.replicas().to_vec(), p.isr().to_vec()))
        .collect()
}

/// The active controller, as `tributary cluster describe` names it.
pub fn active_controller(binary: &Path, bootstrap: &str) -> Option<i32> {
    let out = std::process::Command::new(binary)
        .args(["cluster", "describe", "-b", bootstrap])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text.split("Controller: node ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// One fault, the `step`-th of its run, injected then healed; returns when the cluster is whole
/// again (not necessarily caught up).
#[allow(clippy::too_many_arguments)]
pub fn inject(
    kind: FaultKind,
    step: usize,
    cluster: &mut ProcessCluster,
    binary: &Path,
    topic: &str,
    session_timeout: Duration,
    rng: &mut StdRng,
    history: &History,
) -> Result<(), String> {
    let ids = cluster.ids();
    let bootstrap = cluster.bootstrap();
    // (-1, or nothing, while the quorum elects)
    let controller = || active_controller(binary, &bootstrap).filter(|c| ids.contains(c));
    let random_node = |rng: &mut StdRng| *ids.choose(rng).unwrap_or(&1);
    let leader_or_random = |rng: &mut StdRng| {
        let leaders = leaders(&bootstrap, topic);
        leaders
            .choose(rng)
            .copied()
            .filter(|l| *l > 0)
            .unwrap_or_else(|| random_node(rng))
    };
    let fault = |kind: &str, detail: String| {
        history.record(Op::Fault {
            kind: kind.to_string(),
            detail,
        })
    };
    match kind {
        FaultKind::KillLeader | FaultKind::KillController => {
            let victim = if kind == FaultKind::KillLeader {
                leader_or_random(rng)
            } else {
                controller().unwrap_or_else(|| random_node(rng))
            };
            cluster.kill9(victim);
            fault(kind.name(), format!("node {victim}"));
            std::thread::sleep(Duration::from_millis(rng.random_range(2000..5000)));
            cluster.restart(victim)?;
            fault("restart", format!("node {victim}"));
        }
        FaultKind::Pause => {
            let victim = if rng.random_bool(0.5) {
                leader_or_random(rng)
            } else {
                controller().unwrap_or_else(|| random_node(rng))
            };
            cluster.pause(victim);
            fault("pause", format!("node {victim}"));
            std::thread::sleep(session_timeout.mul_f64(1.5));
            cluster.resume(victim);
            fault("resume", format!("node {victim}"));
        }
        FaultKind::Partition => {
            let controller = controller();
            let net = cluster
                .net()
                .ok_or("network partitions need network namespaces")?;
            let others = |x: i32| ids.iter().copied().filter(|i| *i != x).collect::<Vec<_>>();
            let what = match rng.random_range(0..4) {
                0 => {
                    let x = controller.unwrap_or_else(|| random_node(rng));
                    net.partition(&[x], &others(x))?;
                    format!("isolated the active controller {x}")
                }
                1 => {
                    let x = random_node(rng);
                    net.partition(&[x], &others(x))?;
                    format!("isolated node {x}")
                }
                2 => {
                    // a and c cannot talk, b talks to both
                    let mut order = ids.clone();
                    rand::seq::SliceRandom::shuffle(order.as_mut_slice(), rng);
                    net.partition(&[order[0]], &[order[2]])?;
                    format!("bridge: {} | {} | {}", order[0], order[1], order[2])
                }
                _ => {
                    let x = random_node(rng);
                    for y in others(x) {
                        net.cut(x, y)?;
                    }
                    format!("one-way: node {x} cannot send to the others")
                }
            };
            fault("partition", what);
            std::thread::sleep(Duration::from_millis(rng.random_range(4000..8000)));
            net.heal()?;
            fault("heal", String::new());
        }
        FaultKind::RollingRestart => {
            let victim = ids[step % ids.len().max(1)];
            cluster.stop(victim);
            fault("stop", format!("node {victim}"));
            cluster.restart(victim)?;
            fault("restart", format!("node {victim}"));
        }
    }
    Ok(())
}
