//! Network partitions between the nodes of a process cluster, with Linux network namespaces.
//!
//! ```text
//!   root ns (the test's clients) 10.X.100.1 ── veth ── router ns (forwards, policy rules)
//!                                                        ├── veth ── node 1 ns, 10.X.1.2
//!                                                        ├── veth ── node 2 ns, 10.X.2.2
//!                                                        └── veth ── node 3 ns, 10.X.3.2
//! ```
//!
//! Every node runs in its own namespace with its own address, so a cut from node `a` to node `b`
//! is one policy rule in the router (`from A to B blackhole`): new connections time out and
//! established ones stall, as on a real network, while the test's clients still reach every
//! node. Healing deletes the rules. Needs root and `ip` (iproute2); [`Netns::available`] says
//! whether this machine has both.
//!
//! Names carry the creating process id (`tf<pid>...`), so leftovers of a run that died are
//! recognised and removed by the next one, and two runs at once never collide.

use std::collections::BTreeSet;
use std::process::Command;

/// The namespaces, links and cuts of one run. Dropping it removes everything.
pub struct Netns {
    prefix: String,
    /// Second byte of the run's 10.X.0.0/16.
    net: u8,
    nodes: Vec<i32>,
    cuts: BTreeSet<(i32, i32)>,
}

/// Runs `ip ARGS`, returning its stderr as the error.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl Netns {
    /// Whether namespaces can be made here: root, and `ip` on the path.
    pub fn available() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        root && Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Creates the router and one namespace per node in `nodes`, linked as the module docs show.
    pub fn create(nodes: &[i32]) -> Result<Netns, String> {
        sweep_leftovers();
        let prefix = format!("tf{:x}", std::process::id());
        let used = ip_output(&["-o", "-4", "addr"]) + &ip_output(&["-4", "route"]);
        let net = (16u8..250)
            .find(|x| !used.contains(&format!("10.{x}.")))
            .ok_or("no free 10.X.0.0/16 for the test network")?;
        let mut this = Netns {
            prefix,
            net,
            nodes: nodes.to_vec(),
            cuts: BTreeSet::new(),
        };
        this.build()?;
        Ok(this)
    }

    fn router(&self) -> String {
        format!("{}r", self.prefix)
    }

    /// The namespace node `id` runs in.
    pub fn namespace(&self, id: i32) -> String {
        format!("{}n{id}", self.prefix)
    }

    /// Node `id`'s address.
    pub fn address(&self, id: i32) -> String {
        format!("10.{}.{id}.2", self.net)
    }

    fn build(&mut self) -> Result<(), String> {
        let router = self.router();
        let net = self.net;
        ip(&["netns", "add", &router])?;
        in_ns(&router, "echo 1 > /proc/sys/net/ipv4/ip_forward")?;
        ip(&["-n", &router, "link", "set", "lo", "up"])?;
        // the root namespace's way in
        let host = format!("{}h", self.prefix);
        let host_peer = format!("{}hr", self.prefix);
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", &host_peer,
        ])?;
        ip(&["link", "set", &host_peer, "netns", &router])?;
        ip(&["addr", "add", &format!("10.{net}.100.1/24"), "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        ip(&[
            "-n",
            &router,
            "addr",
            "add",
            &format!("10.{net}.100.2/24"),
            "dev",
            &host_peer,
        ])?;
        ip(&["-n", &router, "link", "set", &host_peer, "up"])?;
        ip(&[
            "route",
            "add",
            &format!("10.{net}.0.0/16"),
            "via",
            &format!("10.{net}.100.2"),
        ])?;
        for &id in &self.nodes.clone() {
            let ns = self.namespace(id);
            let inside = format!("{}i{id}", self.prefix);
            let outside = format!("{}o{id}", self.prefix);
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&[
                "link", "add", &inside, "type", "veth", "peer", "name", &outside,
            ])?;
            ip(&["link", "set", &inside, "netns", &ns])?;
            ip(&["link", "set", &outside, "netns", &router])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.{net}.{id}.2/24"),
                "dev",
                &inside,
            ])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            ip(&[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.{net}.{id}.1"),
            ])?;
            ip(&[
                "-n",
                &router,
                "addr",
                "add",
                &format!("10.{net}.{id}.1/24"),
                "dev",
                &outside,
            ])?;
            ip(&["-n", &router, "link", "set", &outside, "up"])?;
        }
        Ok(())
    }

    /// Drops every packet from node `from` to node `to` (one direction).
    pub fn cut(&mut self, from: i32, to: i32) -> Result<(), String> {
        if self.cuts.insert((from, to)) {
            self.rule("add", from, to)?;
        }
        Ok(())
    }

    /// Cuts both directions between every node of `a` and every node of `b`.
    pub fn partition(&mut self, a: &[i32], b: &[i32]) -> Result<(), String> {
        for &x in a {
            for &y in b {
                self.cut(x, y)?;
                self.cut(y, x)?;
            }
        }
        Ok(())
    }

    /// Removes every cut.
    pub fn heal(&mut self) -> Result<(), String> {
        for (from, to) in std::mem::take(&mut self.cuts) {
            self.rule("del", from, to)?;
        }
        Ok(())
    }

    /// The cuts in force, as (from, to) pairs.
    pub fn cuts(&self) -> &BTreeSet<(i32, i32)> {
        &self.cuts
    }

    fn rule(&self, op: &str, from: i32, to: i32) -> Result<(), String> {
        ip(&[
            "-n",
            &self.router(),
            "rule",
            op,
            "from",
            &self.address(from),
            "to",
            &self.address(to),
            "blackhole",
        ])
    }
}

fn in_ns(ns: &str, script: &str) -> Result<(), String> {
    let status = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script])
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{script}` failed in {ns}"))
    }
}

/// Removes namespaces and links of earlier runs whose process is gone.
fn sweep_leftovers() {
    let alive = |pid: &str| {
        u32::from_str_radix(pid, 16)
            .is_ok_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    };
    for line in ip_output(&["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(rest) = name.strip_prefix("tf") {
            let pid: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            // the node/router suffixes start with a letter that is no hex digit ('n', 'r')
            if !pid.is_empty() && !alive(&pid) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
    for line in ip_output(&["-o", "link"]).lines() {
        let name = line
            .split(':')
            .nth(1)
            .map(|s| s.trim().split('@').next().unwrap_or(""))
            .unwrap_or("");
        if let Some(rest) = name.strip_prefix("tf") {
            let pid: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if !pid.is_empty() && !alive(&pid) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for &id in &self.nodes {
            let _ = ip(&["netns", "del", &self.namespace(id)]);
        }
        let _ = ip(&["netns", "del", &self.router()]);
        let _ = ip(&["link", "del", &format!("{}h", self.prefix)]);
    }
}
