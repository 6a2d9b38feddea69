//! `tributary dev-cluster`: a local cluster of separate `tributary server` processes on loopback
//! ports, for trying replication and failover on one machine.
//!
//! Nodes 1..=`--controllers` are broker and controller (a Raft quorum of that many voters), the
//! rest brokers only. Broker `i` listens on `--port + i - 1`, controller `i` on
//! `--port + 100 + i - 1`. Each node has its own data directory and log file under the cluster
//! directory (a fresh temporary one, removed at the end, unless `--data-dir` names one to keep).
//! Ctrl-C (or SIGTERM) stops every node cleanly; a node that does not stop within the grace
//! period is killed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tributary_broker::meta_properties;

#[derive(Args)]
pub struct DevClusterArgs {
    /// Number of brokers (separate processes)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub brokers: u16,
    /// How many of them are also controllers (the Raft quorum); default: all of them, at most 3
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub controllers: Option<u16>,
    /// Port of broker 1; broker i listens on PORT + i - 1, controller i on PORT + 100 + i - 1
    #[arg(long, default_value_t = 9092)]
    pub port: u16,
    /// Directory for the nodes' data and logs, kept at the end (default: a temporary one,
    /// removed at the end); a directory of an earlier run starts that cluster again
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Extra broker property for every node, KEY=VALUE; repeatable; `{id}` in the value stands
    /// for the node's id (`-o broker.rack=rack-{id}`)
    #[arg(long = "override", short = 'o', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// How long the nodes get to stop cleanly before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// How long the brokers get to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);

struct Node {
    id: u16,
    broker_port: u16,
    log: PathBuf,
    child: Child,
}

/// The started nodes; whatever way `run` ends, none is left running (they are killed if they
/// were not stopped).
struct Nodes(Vec<Node>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for n in &mut self.0 {
            if matches!(n.child.try_wait(), Ok(None)) {
                let _ = n.child.kill();
                let _ = n.child.wait();
            }
        }
    }
}

pub async fn run(args: DevClusterArgs) -> anyhow::Result<()> {
    let brokers = args.brokers;
    let controllers = args.controllers.unwrap_or(brokers.min(3));
    anyhow::ensure!(
        controllers <= brokers,
        "--controllers {controllers} is more than --brokers {brokers}: every controller is also a broker here"
    );
    let last_port = u32::from(args.port) + 100 + u32::from(brokers);
    anyhow::ensure!(
        last_port <= u32::from(u16::MAX),
        "--port {} leaves no room for {brokers} brokers and their controllers",
        args.port
    );
    for o in &args.overrides {
        anyhow::ensure!(o.contains('='), "bad --override '{o}': expected KEY=VALUE");
    }
    // (a temporary directory is removed when `temp` drops, at the end)
    let (root, temp) = match &args.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("tributary-dev-cluster-")
                .tempdir()
                .context("cannot make a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let voters = (1..=controllers)
        .map(|i| format!("{i}@127.0.0.1:{}", args.port + 100 + i - 1))
        .collect::<Vec<_>>()
        .join(",");
    if let Some(earlier) = earlier_voters(&root) {
        anyhow::ensure!(
            earlier == voters,
            "{} holds a cluster whose controllers are {earlier}; start it with the same --brokers, --controllers and --port",
            root.display()
        );
    }
    let cluster_id = existing_cluster_id(&root).unwrap_or_else(meta_properties::random_uuid);
    let exe = std::env::current_exe().context("cannot find the tributary binary")?;
    // (listening before any node starts: Ctrl-C during the start stops them too)
    let mut signals = Signals::new()?;
    let mut nodes = Nodes(Vec::new());
    for id in 1..=brokers {
        let config = write_node_config(
            &root,
            id,
            args.port,
            brokers,
            controllers,
            &voters,
            &args.overrides,
        )?;
        let data = root.join(format!("node{id}"));
        meta_properties::format(&data, &cluster_id, i32::from(id), true)
            .with_context(|| format!("cannot format {}", data.display()))?;
        let log = root.join(format!("node{id}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        // (a process group of its own: a terminal's Ctrl-C reaches this command only, which
        // then stops the nodes)
        let child = Command::new(&exe)
            .args(["server", "--no-connect", "--no-ksql"])
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start node {id}"))?;
        nodes.0.push(Node {
            id,
            broker_port: args.port + id - 1,
            log,
            child,
        });
    }
    tokio::select! {
        started = wait_until_listening(&mut nodes.0) => {
            if let Err(e) = started {
                stop_all(&mut nodes.0).await;
                return Err(e);
            }
        }
        _ = signals.next() => {
            println!("Stopping the cluster...");
            stop_all(&mut nodes.0).await;
            return Ok(());
        }
    }
    let bootstrap = nodes
        .0
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.broker_port))
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "Tributary dev cluster {cluster_id}: {brokers} broker(s), nodes 1-{controllers} also controllers (quorum {voters})"
    );
    match &temp {
        Some(_) => println!("Data and logs: {} (removed on exit)", root.display()),
        None => println!("Data and logs: {} (kept)", root.display()),
    }
    println!("Bootstrap servers: {bootstrap}");
    println!("Press Ctrl-C to stop.");
    let outcome = supervise(&mut nodes.0, &mut signals).await;
    println!("Stopping the cluster...");
    stop_all(&mut nodes.0).await;
    println!("Stopped.");
    outcome
}

/// The voters of an earlier run's directory, if it has one.
fn earlier_voters(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("node1.properties")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("controller.quorum.voters="))
        .map(str::to_string)
}

/// The cluster id of an earlier run's directory, if any node's data directory is formatted.
fn existing_cluster_id(root: &Path) -> Option<String> {
    let meta = meta_properties::MetaProperties::read(&root.join("node1")).ok()??;
    Some(meta.cluster_id)
}

/// Writes node `id`'s properties (unless an earlier run did) and returns the file.
fn write_node_config(
    root: &Path,
    id: u16,
    port: u16,
    brokers: u16,
    controllers: u16,
    voters: &str,
    overrides: &[String],
) -> anyhow::Result<PathBuf> {
    let broker_port = port + id - 1;
    let (roles, listeners) = if id <= controllers {
        (
            "broker,controller",
            format!(
                "PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{}",
                port + 100 + id - 1
            ),
        )
    } else {
        ("broker", format!("PLAINTEXT://127.0.0.1:{broker_port}"))
    };
    let mut text = format!(
        "# node {id} of a tributary dev-cluster\n\
         process.roles={roles}\n\
         node.id={id}\n\
         controller.quorum.voters={voters}\n\
         controller.listener.names=CONTROLLER\n\
         listeners={listeners}\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         log.dirs={}\n",
        root.join(format!("node{id}")).display()
    );
    if brokers < 3 {
        // (Kafka's defaults for the internal topics need three brokers)
        let min_isr = brokers.min(2);
        text.push_str(&format!(
            "offsets.topic.replication.factor={brokers}\ntransaction.state.log.replication.factor={brokers}\ntransaction.state.log.min.isr={min_isr}\n"
        ));
    }
    for o in overrides {
        text.push_str(&o.replace("{id}", &id.to_string()));
        text.push('\n');
    }
    let path = root.join(format!("node{id}.properties"));
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Waits until every broker accepts connections; fails when a node exits first or the time is up.
async fn wait_until_listening(nodes: &mut [Node]) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_LIMIT;
    for i in 0..nodes.len() {
        loop {
            exited(nodes)?;
            let port = nodes[i].broker_port;
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "node {} did not start listening on port {port} within {} s; see {}",
                nodes[i].id,
                START_LIMIT.as_secs(),
                nodes[i].log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// An error naming the first node that exited.
fn exited(nodes: &mut [Node]) -> anyhow::Result<()> {
    for n in nodes.iter_mut() {
        if let Ok(Some(status)) = n.child.try_wait() {
            anyhow::bail!(
                "node {} exited ({status}); its log: {}",
                n.id,
                n.log.display()
            );
        }
    }
    Ok(())
}

/// SIGINT (Ctrl-C) and SIGTERM.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// The next one.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Runs until Ctrl-C or SIGTERM (`Ok`), or until a node exits on its own (an error).
async fn supervise(nodes: &mut [Node], signals: &mut Signals) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = signals.next() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => exited(nodes)?,
        }
    }
}

/// Asks every node to stop (SIGTERM: a controlled shutdown), waits for them, and kills those
/// still running after the grace period.
async fn stop_all(nodes: &mut [Node]) {
    for n in nodes.iter() {
        let pid = rustix::process::Pid::from_child(&n.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    for n in nodes.iter_mut() {
        loop {
            match n.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!(
                        "node {} did not stop within {} s: killing it",
                        n.id,
                        STOP_GRACE.as_secs()
                    );
                    let _ = n.child.kill();
                    let _ = n.child.wait();
                    break;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
