//! `tributary bench rebalance` and `tributary bench commits`: consumer group benchmarks.

use crate::cli::output::outln;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::client::ConnectArgs;

/// Which group protocol the members speak.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Protocol {
    /// JoinGroup/SyncGroup with a client-side assignor (--assignor)
    Classic,
    /// KIP-848 ConsumerGroupHeartbeat with the broker's assignor
    Consumer,
}

#[derive(Args)]
pub struct RebalanceBench {
    /// Members in the group before one more joins
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Group protocol
    #[arg(long, value_enum, default_value_t = Protocol::Classic)]
    pub protocol: Protocol,
    /// Partitions of the topic (default: 4 per member, at least 12)
    #[arg(long)]
    pub partitions: Option<i32>,
    /// How many times a member joins (each measured)
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Client-side assignor of classic members: range, roundrobin (eager) or cooperative-sticky
    #[arg(long, default_value = "range")]
    pub assignor: String,
    /// heartbeat.interval.ms of classic members (KIP-848 members use the broker's
    /// group.consumer.heartbeat.interval.ms)
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct CommitsBench {
    /// Concurrent consumers committing
    #[arg(long, default_value_t = 10)]
    pub consumers: usize,
    /// Seconds to run
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Partitions whose offsets each commit carries
    #[arg(long, default_value_t = 1)]
    pub partitions_per_commit: i32,
    /// Commits each consumer keeps in flight (threads committing through it)
    #[arg(long, default_value_t = 1)]
    pub in_flight: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// A group member on its own thread, publishing its assignment.
struct Member {
    stop: Arc<AtomicBool>,
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(b: &RebalanceBench, group: &str, topic: &str) -> anyhow::Result<Member> {
        let mut cfg = b.connect.client_config()?;
        cfg.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest");
        match b.protocol {
            Protocol::Classic => {
                cfg.set("partition.assignment.strategy", &b.assignor)
                    .set("heartbeat.interval.ms", b.heartbeat_ms.to_string())
                    .set("session.timeout.ms", "10000");
            }
            Protocol::Consumer => {
                cfg.set("group.protocol", "consumer");
            }
        }
        let consumer: BaseConsumer = cfg.create().context("creating a group member")?;
        consumer.subscribe(&[topic])?;
        let stop = Arc::new(AtomicBool::new(false));
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, a) = (stop.clone(), assignment.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let _ = consumer.poll(Duration::from_millis(5));
                if let Ok(tpl) = consumer.assignment() {
                    let now: BTreeSet<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                    if let Ok(mut g) = a.lock() {
                        *g = now;
                    }
                }
            }
        });
        Ok(Member {
            stop,
            assignment,
            thread: Some(thread),
        })
    }

    fn assigned(&self) -> BTreeSet<i32> {
        self.assignment
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether every member holds partitions and together they hold each partition exactly once.
fn settled(members: &[Member], partitions: i32) -> bool {
    let sets: Vec<BTreeSet<i32>> = members.iter().map(Member::assigned).collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
    total == partitions as usize
        && union.len() == partitions as usize
        && sets.iter().all(|s| !s.is_empty())
}

fn wait_settled(members: &[Member], partitions: i32, limit: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while !settled(members, partitions) {
        if start.elapsed() > limit {
            bail!("the group did not settle within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(start.elapsed())
}

pub fn rebalance(b: RebalanceBench) -> anyhow::Result<()> {
    let partitions = b
        .partitions
        .unwrap_or(((b.members + b.rounds) * 4).max(12) as i32);
    let topic = format!("bench-rebalance-{}", std::process::id());
    let group = format!("bench-rebalance-{}-{:?}", std::process::id(), b.protocol);
    create_topic(&b.connect, &topic, partitions)?;
    let mut members = Vec::new();
    for _ in 0..b.members {
        members.push(Member::start(&b, &group, &topic)?);
    }
    let first = wait_settled(&members, partitions, Duration::from_secs(120))?;
    outln!(
        "{} members ({:?}) settled on {partitions} partitions in {:.0} ms (includes group.initial.rebalance.delay.ms)",
        b.members,
        b.protocol,
        first.as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for round in 0..b.rounds {
        std::thread::sleep(Duration::from_millis(500));
        let start = Instant::now();
        members.push(Member::start(&b, &group, &topic)?);
        wait_settled(&members, partitions, Duration::from_secs(120))?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        outln!(
            "round {round}: member {} joined; all {} consuming again after {ms:.0} ms",
            members.len(),
            members.len()
        );
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    if !times.is_empty() {
        outln!(
            "rebalance on join, {} members: median {:.0} ms, max {:.0} ms",
            b.members + 1,
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    drop(members);
    Ok(())
}

fn create_topic(connect: &ConnectArgs, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let rt = tokio::runtime::Handle::current();
    rt.block_on(super::bench::ensure_topic(connect, topic, partitions))
}

pub fn commits(b: CommitsBench) -> anyhow::Result<()> {
    let topic = format!("bench-commits-{}", std::process::id());
    create_topic(&b.connect, &topic, b.partitions_per_commit.max(1))?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..b.consumers {
        let mut cfg = b.connect.client_config()?;
        cfg.set(
            "group.id",
            format!("bench-commits-{}-{i}", std::process::id()),
        )
        .set("enable.auto.commit", "false");
        let consumer: Arc<BaseConsumer> = Arc::new(cfg.create()?);
        // each commit waits for its answer; several threads keep several in flight
        for _ in 0..b.in_flight.max(1) {
            let (consumer, done, failed) = (consumer.clone(), done.clone(), failed.clone());
            let (stop, topic) = (stop.clone(), topic.clone());
            let parts = b.partitions_per_commit.max(1);
            threads.push(std::thread::spawn(move || {
                let mut offset = 0i64;
                while !stop.load(Ordering::Acquire) {
                    offset += 1;
                    let mut tpl = TopicPartitionList::new();
                    for p in 0..parts {
                        let _ = tpl.add_partition_offset(&topic, p, Offset::Offset(offset));
                    }
                    match consumer.commit(&tpl, CommitMode::Sync) {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    // warm up (coordinator lookup), then measure
    std::thread::sleep(Duration::from_secs(1));
    let (start, before) = (Instant::now(), done.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs(b.duration_secs));
    let count = done.load(Ordering::Relaxed) - before;
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    outln!(
        "{} consumers, {} commit(s) in flight each, {} partition(s) per commit: {:.0} commits/sec ({} failed)",
        b.consumers,
        b.in_flight,
        b.partitions_per_commit,
        count as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
