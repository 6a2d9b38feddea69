//! A cluster of separate `tributary server` processes, each broker and controller, that a test
//! can kill, pause, restart and (with [`Netns`]) cut off from each other.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Netns;

/// One node's process and files.
struct Node {
    config: PathBuf,
    broker: SocketAddr,
    child: Option<Child>,
    paused: bool,
}

/// Three (or more) combined broker+controller processes with data in `dir`.
pub struct ProcessCluster {
    binary: PathBuf,
    dir: PathBuf,
    net: Option<Netns>,
    nodes: BTreeMap<i32, Node>,
}

/// How long a node gets to start listening, and to stop after SIGTERM.
const START_LIMIT: Duration = Duration::from_secs(60);
const STOP_LIMIT: Duration = Duration::from_secs(30);

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl ProcessCluster {
    /// Formats and starts `n` nodes (ids 1..=n, all voters) with `props` added to each node's
    /// properties, in network namespaces when `netns` (see [`Netns`]), else on loopback ports.
    pub fn start(
        binary: &Path,
        dir: &Path,
        n: i32,
        props: &[(String, String)],
        netns: bool,
    ) -> Result<ProcessCluster, String> {
        let ids: Vec<i32> = (1..=n).collect();
        let net = if netns {
            Some(Netns::create(&ids)?)
        } else {
            None
        };
        // (host, broker port, controller port) per node
        let addrs: BTreeMap<i32, (String, u16, u16)> = ids
            .iter()
            .map(|&id| match &net {
                Some(net) => (id, (net.address(id), 9092, 9093)),
                None => (
                    id,
                    (
                        "127.0.0.1".to_string(),
                        crate::free_port(),
                        crate::free_port(),
                    ),
                ),
            })
            .collect();
        let voters = addrs
            .iter()
            .map(|(id, (h, _, c))| format!("{id}@{h}:{c}"))
            .collect::<Vec<_>>()
            .join(",");
        let cluster_id = run(binary, &["storage", "random-uuid"])?;
        let mut nodes = BTreeMap::new();
        for (&id, (host, bport, cport)) in &addrs {
            let mut text = format!(
                "process.roles=broker,controller\nnode.id={id}\ncontroller.quorum.voters={voters}\n\
                 controller.listener.names=CONTROLLER\n\
                 listeners=PLAINTEXT://{host}:{bport},CONTROLLER://{host}:{cport}\n\
                 inter.broker.listener.name=PLAINTEXT\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 log.dirs={}\n",
                dir.join(format!("node{id}")).display()
            );
            for (k, v) in props {
                text.push_str(&format!("{k}={v}\n"));
            }
            let config = dir.join(format!("node{id}.properties"));
            std::fs::write(&config, text).map_err(|e| e.to_string())?;
            run(
                binary,
                &[
                    "storage",
                    "format",
                    "-t",
                    cluster_id.trim(),
                    "--config",
                    &config.to_string_lossy(),
                ],
            )?;
            let broker = format!("{host}:{bport}")
                .parse()
                .map_err(|e| format!("{host}:{bport}: {e}"))?;
            nodes.insert(
                id,
                Node {
                    config,
                    broker,
                    child: None,
                    paused: false,
                },
            );
        }
        let mut cluster = ProcessCluster {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            net,
            nodes,
        };
        // the voters wait for each other: start all, then wait for each
        for id in ids.iter().copied() {
            cluster.spawn(id)?;
        }
        for id in ids {
            cluster.wait_listening(id)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, id: i32) -> Result<(), String> {
        let node = self.nodes.get_mut(&id).ok_or("no such node")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.config.with_extension("log"))
            .map_err(|e| e.to_string())?;
        let mut cmd = match &self.net {
            // `ip netns exec` execs the server: the child's pid is the server's
            Some(net) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &net.namespace(id)])
                    .arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        // (the suite's own TRIBUTARY_FAULT_* settings would read as broker properties)
        for (k, _) in std::env::vars() {
            if k.starts_with("TRIBUTARY_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .args(["server", "--no-connect", "--no-ksql"])
            .arg("--config")
            .arg(&node.config)
            .env("RUST_LOG", "info,openraft=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start node {id}: {e}"))?;
        node.child = Some(child);
        node.paused = false;
        Ok(())
    }

    fn wait_listening(&self, id: i32) -> Result<(), String> {
        let addr = self.nodes[&id].broker;
        let deadline = Instant::now() + START_LIMIT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("node {id} did not start listening on {addr}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The node ids.
    pub fn ids(&self) -> Vec<i32> {
        self.nodes.keys().copied().collect()
    }

    /// Every broker's address, comma-separated, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .values()
            .map(|n| n.broker.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `id`'s data directory (its `log.dirs`).
    pub fn data_dir(&self, id: i32) -> PathBuf {
        self.dir.join(format!("node{id}"))
    }

    /// The network nemesis, when the nodes run in namespaces.
    pub fn net(&mut self) -> Option<&mut Netns> {
        self.net.as_mut()
    }

    /// Whether node `id` runs (paused counts as running).
    pub fn is_running(&mut self, id: i32) -> bool {
        self.nodes
            .get_mut(&id)
            .and_then(|n| n.child.as_mut())
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill9(&mut self, id: i32) {
        if let Some(mut child) = self.nodes.get_mut(&id).and_then(|n| n.child.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the node to stop (SIGKILL after 30 s).
    pub fn stop(&mut self, id: i32) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if let Some(mut child) = node.child.take() {
            if node.paused {
                signal(child.id(), "-CONT");
            }
            signal(child.id(), "-TERM");
            let deadline = Instant::now() + STOP_LIMIT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// SIGSTOP: the process freezes with its connections open.
    pub fn pause(&mut self, id: i32) {
        if let Some(node) = self.nodes.get_mut(&id) {
            if let Some(child) = &node.child {
                signal(child.id(), "-STOP");
                node.paused = true;
            }
        }
    }

    /// SIGCONT after [`ProcessCluster::pause`].
    pub fn resume(&mut self, id: i32) {
        if let Some(node) = self.nodes.get_mut(&id) {
            if let Some(child) = &node.child {
                signal(child.id(), "-CONT");
            }
            node.paused = false;
        }
    }

    /// Starts node `id` again if it is not running and waits until it listens.
    pub fn restart(&mut self, id: i32) -> Result<(), String> {
        if !self.is_running(id) {
            self.kill9(id);
            self.spawn(id)?;
        }
        self.wait_listening(id)
    }

    /// Resumes paused nodes and starts stopped ones.
    pub fn revive_all(&mut self) -> Result<(), String> {
        for id in self.ids() {
            self.resume(id);
            self.restart(id)?;
        }
        Ok(())
    }

    /// Stops every node cleanly.
    pub fn stop_all(&mut self) {
        for id in self.ids() {
            self.stop(id);
        }
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        for id in self.ids() {
            self.resume(id);
            self.kill9(id);
        }
    }
}

fn run(binary: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(binary)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "tributary {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
