//! A Jepsen-style fault suite for a cluster of `tributary server` processes.
//!
//! One [`run`] starts a fresh 3-node cluster ([`ProcessCluster`]), creates a topic with three
//! replicas and `min.insync.replicas=2`, starts the clients of [`workload`] and injects one
//! [`FaultKind`] over and over until the clients have done the operations asked for. Then it
//! heals everything, waits until every replica is back in sync, reads every partition to its
//! end, stops the nodes cleanly, compares the replica logs byte for byte, and hands the
//! recorded [`history`] to the [`checker`]. Every anomaly the checker counts is a bug.
//!
//! `tests/faults.rs` runs the short form in CI; `scripts/faults.sh` the long one.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod netns;
pub mod replicas;
pub mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

pub use checker::Report;
pub use cluster::ProcessCluster;
pub use nemesis::FaultKind;
pub use netns::Netns;

use history::{History, Op};
use workload::{Workload, WorkloadConfig};

/// One run of one fault kind.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The `tributary` binary.
    pub binary: PathBuf,
    /// The fault to inject.
    pub kind: FaultKind,
    /// Writes (sends and transactions) the clients must complete before the faults stop.
    pub min_ops: usize,
    /// Faults injected at least, however quickly the operations are done.
    pub min_faults: usize,
    /// Seeds the schedule and the clients' choices.
    pub seed: u64,
    /// Where the nodes' data and logs and the history go (kept).
    pub dir: PathBuf,
    /// Run the nodes in network namespaces ([`Netns`]); needed by [`FaultKind::Partition`].
    pub netns: bool,
    /// Kafka's default timeouts instead of the short ones the CI form uses.
    pub default_timeouts: bool,
}

/// What a run did, besides the checker's report.
#[derive(Debug)]
pub struct RunSummary {
    /// The checker's report.
    pub report: Report,
    /// Faults injected.
    pub faults: usize,
    /// How long the run took.
    pub elapsed: Duration,
    /// Where the history and node logs are.
    pub dir: PathBuf,
    /// What went wrong outside the checker's anomalies (a final read that could not reach a
    /// partition's end): also bugs.
    pub problems: Vec<String>,
}

const PARTITIONS: i32 = 4;
const TOPIC: &str = "queue";

/// Node properties of a run: replication as the issue asks (RF=3, min ISR 2, no unclean
/// elections) and, unless `default_timeouts`, short failure-detection timeouts.
fn node_props(default_timeouts: bool) -> (Vec<(String, String)>, Duration) {
    let mut props = vec![
        ("default.replication.factor", "3"),
        ("min.insync.replicas", "2"),
        ("offsets.topic.replication.factor", "3"),
        ("offsets.topic.num.partitions", "3"),
        ("transaction.state.log.replication.factor", "3"),
        ("transaction.state.log.min.isr", "2"),
        ("transaction.state.log.num.partitions", "3"),
        ("unclean.leader.election.enable", "false"),
    ];
    let session = if default_timeouts {
        Duration::from_millis(9000)
    } else {
        props.extend([
            ("broker.session.timeout.ms", "3000"),
            ("broker.heartbeat.interval.ms", "500"),
            ("replica.lag.time.max.ms", "3000"),
            ("controller.quorum.election.timeout.ms", "1000"),
        ]);
        Duration::from_millis(3000)
    };
    let props = props
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (props, session)
}

/// Runs one fault kind (see the module docs). Must be called inside a multi-threaded tokio
/// runtime. An `Err` means the run itself could not be carried out (the cluster did not start,
/// or did not become whole again after healing); anomalies are in the report.
pub async fn run(config: RunConfig) -> Result<RunSummary, String> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.dir).map_err(|e| e.to_string())?;
    let history = History::create(&config.dir.join("history.jsonl")).map_err(|e| e.to_string())?;
    let (props, session) = node_props(config.default_timeouts);
    let (binary, dir, netns) = (config.binary.clone(), config.dir.clone(), config.netns);
    let mut cluster =
        tokio::task::spawn_blocking(move || ProcessCluster::start(&binary, &dir, 3, &props, netns))
            .await
            .map_err(|e| e.to_string())??;
    let bootstrap = cluster.bootstrap();
    create_topic(&bootstrap).await?;

    let run_id = format!("faults-{}-{}", config.kind.name(), config.seed);
    let workload = Workload::start(
        WorkloadConfig {
            bootstrap: bootstrap.clone(),
            topic: TOPIC.to_string(),
            partitions: PARTITIONS,
            run_id,
            producers: 2,
            txn_producers: 1,
            group_consumers: 2,
            committed_readers: 1,
            seed: config.seed,
        },
        history.clone(),
    );
    // the faults start once the clients are under way
    let warm = Instant::now() + Duration::from_secs(60);
    while workload.writes() < 100 && Instant::now() < warm {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let mut faults = 0;
    let mut problems = Vec::new();
    let limit = Instant::now() + Duration::from_secs(1800);
    while (workload.writes() < config.min_ops || faults < config.min_faults)
        && Instant::now() < limit
    {
        let (kind, binary, history) = (config.kind, config.binary.clone(), history.clone());
        let (c, r, result) = tokio::task::spawn_blocking(move || {
            let (mut c, mut r) = (cluster, rng);
            let result = nemesis::inject(
                kind, faults, &mut c, &binary, TOPIC, session, &mut r, &history,
            );
            (c, r, result)
        })
        .await
        .map_err(|e| e.to_string())?;
        (cluster, rng) = (c, r);
        result?;
        faults += 1;
        // Jepsen's rhythm: the next fault comes once the cluster has recovered from this one
        // (every replica back in sync), after a little normal operation
        if let Err(e) = wait_in_sync(&bootstrap, RECOVERY_LIMIT).await {
            problems.push(format!("not recovered from fault {faults}: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(rand::Rng::random_range(
            &mut rng,
            500..2000,
        )))
        .await;
    }

    // heal, and wait until every replica is back in sync before the final reads
    if let Some(net) = cluster.net() {
        net.heal()?;
    }
    let mut cluster = tokio::task::spawn_blocking(move || cluster.revive_all().map(|()| cluster))
        .await
        .map_err(|e| e.to_string())??;
    wait_in_sync(&bootstrap, RECOVERY_LIMIT).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    problems.extend(workload.stop().await);
    wait_in_sync(&bootstrap, RECOVERY_LIMIT).await?;
    let (b, h) = (bootstrap.clone(), history.clone());
    let read = tokio::task::spawn_blocking(move || {
        workload::final_read(&b, TOPIC, PARTITIONS, false, &h)
            .and_then(|()| workload::final_read(&b, TOPIC, PARTITIONS, true, &h))
    })
    .await
    .map_err(|e| e.to_string())?;
    if let Err(e) = read {
        history.record(Op::Fault {
            kind: "final-read".into(),
            detail: e.clone(),
        });
        problems.push(e);
    }

    // replicas, compared after a clean stop
    let replicas = nemesis::partitions(&bootstrap, TOPIC);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_all();
        cluster
    })
    .await
    .map_err(|e| e.to_string())?;
    for (partition, (_, nodes, _)) in replicas.iter().enumerate() {
        let dirs: Vec<(i32, PathBuf)> = nodes
            .iter()
            .map(|id| {
                (
                    *id,
                    cluster.data_dir(*id).join(format!("{TOPIC}-{partition}")),
                )
            })
            .collect();
        let refs: Vec<(i32, &std::path::Path)> =
            dirs.iter().map(|(id, d)| (*id, d.as_path())).collect();
        let result = replicas::compare(&refs);
        history.record(Op::ReplicaCheck {
            partition: partition as i32,
            replicas: nodes.clone(),
            divergent: result.is_err(),
            detail: result.err().unwrap_or_default(),
        });
        if let Some(Ok(batches)) = refs.first().map(|(_, dir)| replicas::writers(dir)) {
            history.record(Op::LogWriters {
                partition: partition as i32,
                batches,
            });
        }
    }
    drop(cluster);
    history.flush().map_err(|e| e.to_string())?;
    let report =
        checker::check_file(&config.dir.join("history.jsonl")).map_err(|e| e.to_string())?;
    Ok(RunSummary {
        report,
        faults,
        elapsed: started.elapsed(),
        dir: config.dir,
        problems,
    })
}

async fn create_topic(bootstrap: &str) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = workload::client_config(bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(3))
            .set("min.insync.replicas", "2");
        let r = admin
            .create_topics([&topic], &AdminOptions::new())
            .await
            .map_err(|e| e.to_string())?;
        match &r[0] {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => break,
            Err(e) if Instant::now() > deadline => return Err(format!("create topic: {e:?}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
    wait_in_sync(bootstrap, RECOVERY_LIMIT).await
}

/// How long a healed cluster gets to have every replica in sync again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// Waits (`limit` at most) until every partition of the test topic has a leader and all three
/// replicas in its ISR.
async fn wait_in_sync(bootstrap: &str, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let b = bootstrap.to_string();
        let parts = tokio::task::spawn_blocking(move || nemesis::partitions(&b, TOPIC))
            .await
            .map_err(|e| e.to_string())?;
        if parts.len() == PARTITIONS as usize
            && parts
                .iter()
                .all(|(leader, replicas, isr)| *leader > 0 && isr.len() == replicas.len())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "replicas not in sync {limit:?} after healing: (leader, replicas, isr) {parts:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
