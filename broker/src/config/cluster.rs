//! Cluster settings with KRaft's names: the listeners, the node's roles, the controller quorum,
//! replication and broker lifecycle timings (see `docs/design/replication.md`, section 1).
//!
//! ```text
//!  controller.quorum.voters empty, process.roles=broker,controller  ─▶ SingleNode (today's broker)
//!  controller.quorum.voters set                                     ─▶ Quorum (a cluster member)
//! ```
//!
//! Everything is parsed and checked at start with messages that name the key; a cluster member's
//! settings are complete here even where the code that runs them lands later.

use super::ConfigError;

/// One entry of `listeners` / `advertised.listeners`: `NAME://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The listener's name (`PLAINTEXT`, `CONTROLLER`, ...).
    pub name: String,
    /// Host to bind or advertise; empty in the config means every interface.
    pub host: String,
    /// Port; 0 lets the system pick (tests).
    pub port: u16,
}

/// One entry of `controller.quorum.voters`: `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    /// The controller's node id.
    pub id: i32,
    /// Host of its controller listener.
    pub host: String,
    /// Port of its controller listener.
    pub port: u16,
}

/// `process.roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serves clients and hosts partitions.
    pub broker: bool,
    /// Votes in the controller quorum and keeps the metadata log.
    pub controller: bool,
}

/// How the node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMode {
    /// One process that is broker and controller, with a local metadata log: no quorum.
    SingleNode,
    /// A member of a cluster with a controller quorum.
    Quorum(QuorumConfig),
}

/// The controller quorum a cluster member belongs to or talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    /// `controller.quorum.voters`.
    pub voters: Vec<Voter>,
    /// `controller.quorum.bootstrap.servers`: where brokers may find the controllers.
    pub bootstrap: Vec<(String, u16)>,
    /// `controller.quorum.election.timeout.ms`.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms`.
    pub fetch_timeout_ms: u64,
    /// `controller.quorum.request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `controller.quorum.retry.backoff.ms`.
    pub retry_backoff_ms: u64,
}

/// How followers fetch from leaders and when they fall out of the ISR (`replica.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms`.
    pub fetch_wait_max_ms: u64,
    /// `replica.fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `replica.fetch.max.bytes` (per partition).
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`.
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed fetch.
    pub fetch_backoff_ms: u64,
    /// `num.replica.fetchers`: fetcher tasks per source broker.
    pub num_fetchers: usize,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub hw_checkpoint_interval_ms: u64,
    /// `replica.selector.class`: where consumers that name their rack read from.
    pub selector: crate::replication::replica_selector::ReplicaSelector,
}

/// Broker registration and failure detection (`broker.*`, `controlled.shutdown.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleConfig {
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `controlled.shutdown.enable`: move leadership away before stopping.
    pub controlled_shutdown: bool,
    /// `auto.leader.rebalance.enable`: move leadership back to preferred replicas.
    pub auto_leader_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds`, in milliseconds.
    pub leader_imbalance_check_interval_ms: u64,
}

/// Everything of a node's place in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `listeners`, in order.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners` (defaults to `listeners`).
    pub advertised: Vec<Listener>,
    /// `controller.listener.names`.
    pub controller_listener_names: Vec<String>,
    /// `inter.broker.listener.name`: the listener brokers reach each other on.
    pub inter_broker_listener: String,
    /// `process.roles`.
    pub roles: Roles,
    /// Single node or quorum member.
    pub mode: ClusterMode,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// `replica.*`.
    pub replication: ReplicationConfig,
    /// `broker.*` lifecycle settings.
    pub lifecycle: LifecycleConfig,
}

fn bad(key: &str, value: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "Invalid value {value} for configuration {key}: {why}"
    ))
}

/// Splits `host:port` (`[v6]:port` too); an empty host stays empty.
fn host_port(key: &str, value: &str, entry: &str) -> Result<(String, u16), ConfigError> {
    let (host, port) = entry.rsplit_once(':').ok_or_else(|| {
        bad(
            key,
            value,
            format!("'{entry}' has no port (expected HOST:PORT)"),
        )
    })?;
    let port = port
        .parse::<u16>()
        .map_err(|_| bad(key, value, format!("port '{port}' is not a number 0-65535")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), port))
}

/// The listener name of a bare `host:port` and of a single node's broker listener.
pub const DEFAULT_LISTENER_NAME: &str = "PLAINTEXT";

/// Parses `listeners` / `advertised.listeners`: `NAME://host:port,...` (a bare `host:port` is
/// `PLAINTEXT`); names are unique, and so are non-zero ports.
pub fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut out: Vec<Listener> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, addr) = entry
            .split_once("://")
            .unwrap_or((DEFAULT_LISTENER_NAME, entry));
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(key, value, format!("'{name}' is not a listener name")));
        }
        let (host, port) = host_port(key, value, addr)?;
        if out.iter().any(|l| l.name == name) {
            return Err(bad(
                key,
                value,
                format!("each listener must have a different name; {name} appears twice"),
            ));
        }
        if port != 0 && key == "listeners" && out.iter().any(|l| l.port == port) {
            return Err(bad(
                key,
                value,
                format!("each listener must have a different port; {port} appears twice"),
            ));
        }
        out.push(Listener { name, host, port });
    }
    if out.is_empty() {
        return Err(bad(key, value, "at least one listener is needed"));
    }
    Ok(out)
}

/// Parses `controller.quorum.voters`: `id@host:port,...`.
pub fn parse_voters(value: &str) -> Result<Vec<Voter>, ConfigError> {
    let key = "controller.quorum.voters";
    let mut out: Vec<Voter> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, addr) = entry.split_once('@').ok_or_else(|| {
            bad(
                key,
                value,
                format!("'{entry}' is not of the form ID@HOST:PORT"),
            )
        })?;
        let id = id
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| bad(key, value, format!("'{id}' is not a node id")))?;
        let (host, port) = host_port(key, value, addr)?;
        if host.is_empty() || port == 0 {
            return Err(bad(
                key,
                value,
                format!("'{entry}' needs a host and a port"),
            ));
        }
        if out.iter().any(|v| v.id == id) {
            return Err(bad(key, value, format!("node id {id} appears twice")));
        }
        out.push(Voter { id, host, port });
    }
    Ok(out)
}

/// `listener.security.protocol.map`'s protocol for `name`: the map's entry, else the name itself
/// when it is a protocol, else PLAINTEXT for a controller listener (as Kafka assumes).
fn protocol_of(
    map: &[(String, String)],
    name: &str,
    controller: bool,
) -> Result<String, ConfigError> {
    if let Some((_, p)) = map.iter().find(|(n, _)| n == name) {
        return Ok(p.clone());
    }
    if ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&name) {
        return Ok(name.to_string());
    }
    if controller {
        return Ok("PLAINTEXT".into());
    }
    Err(ConfigError(format!(
        "Invalid value for configuration listener.security.protocol.map: no security protocol is defined for listener {name}"
    )))
}

impl ClusterConfig {
    /// Reads and checks the cluster settings; `get` gives a property's value or default.
    pub fn from_props(get: &dyn Fn(&str) -> String, node_id: i32) -> Result<Self, ConfigError> {
        let num = |k: &str| -> Result<i64, ConfigError> {
            let v = get(k);
            v.trim()
                .parse::<i64>()
                .map_err(|_| bad(k, &v, "not a number"))
        };
        let list = |k: &str| -> Vec<String> {
            get(k)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let listeners = parse_listeners("listeners", &get("listeners"))?;
        let advertised_value = get("advertised.listeners");
        let advertised = if advertised_value.trim().is_empty() {
            listeners.clone()
        } else {
            parse_listeners("advertised.listeners", &advertised_value)?
        };
        let controller_listener_names: Vec<String> = list("controller.listener.names")
            .into_iter()
            .map(|n| n.to_ascii_uppercase())
            .collect();
        let map_value = get("listener.security.protocol.map");
        let mut map = Vec::new();
        for entry in map_value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (n, p) = entry.split_once(':').ok_or_else(|| {
                bad(
                    "listener.security.protocol.map",
                    &map_value,
                    format!("'{entry}' is not NAME:PROTOCOL"),
                )
            })?;
            map.push((n.trim().to_ascii_uppercase(), p.trim().to_ascii_uppercase()));
        }
        for l in &listeners {
            let protocol = protocol_of(&map, &l.name, controller_listener_names.contains(&l.name))?;
            if protocol != "PLAINTEXT" {
                return Err(ConfigError(format!(
                    "Invalid value for configuration listeners: listener {} uses security protocol {protocol}; Tributary serves PLAINTEXT listeners only (TLS and SASL come with security)",
                    l.name
                )));
            }
        }
        let roles_value = get("process.roles");
        let roles = Roles {
            broker: list("process.roles").iter().any(|r| r == "broker"),
            controller: list("process.roles").iter().any(|r| r == "controller"),
        };
        if !roles.broker && !roles.controller {
            return Err(bad(
                "process.roles",
                &roles_value,
                "give broker, controller or both",
            ));
        }
        let for_controllers = |name: &str| controller_listener_names.iter().any(|n| n == name);
        for n in &controller_listener_names {
            if !listeners.iter().any(|l| &l.name == n) && roles.controller {
                return Err(ConfigError(format!(
                    "Invalid value for configuration controller.listener.names: {n} is not one of the listeners ({})",
                    names(&listeners)
                )));
            }
        }
        let inter_value = get("inter.broker.listener.name");
        let inter_broker_listener = if inter_value.trim().is_empty() {
            listeners
                .iter()
                .find(|l| !for_controllers(&l.name))
                .map_or(DEFAULT_LISTENER_NAME.to_string(), |l| l.name.clone())
        } else {
            inter_value.trim().to_ascii_uppercase()
        };
        if roles.broker {
            if !listeners.iter().any(|l| l.name == inter_broker_listener) {
                return Err(ConfigError(format!(
                    "Invalid value for configuration inter.broker.listener.name: {inter_broker_listener} is not one of the listeners ({})",
                    names(&listeners)
                )));
            }
            if for_controllers(&inter_broker_listener) {
                return Err(ConfigError(format!(
                    "Invalid value for configuration inter.broker.listener.name: {inter_broker_listener} is a controller listener (controller.listener.names)"
                )));
            }
        }
        if let Some(l) = advertised.iter().find(|l| for_controllers(&l.name)) {
            if !advertised_value.trim().is_empty() {
                return Err(ConfigError(format!(
                    "Invalid value for configuration advertised.listeners: the controller listener {} must not be advertised to clients",
                    l.name
                )));
            }
        }
        let voters = parse_voters(&get("controller.quorum.voters"))?;
        let bootstrap_value = get("controller.quorum.bootstrap.servers");
        let mut bootstrap = Vec::new();
        for entry in bootstrap_value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            bootstrap.push(host_port(
                "controller.quorum.bootstrap.servers",
                &bootstrap_value,
                entry,
            )?);
        }
        let mode = if voters.is_empty() && bootstrap.is_empty() {
            if !(roles.broker && roles.controller) {
                return Err(ConfigError(format!(
                    "Invalid value {roles_value} for configuration process.roles: a node that is not both broker and controller needs controller.quorum.voters (or controller.quorum.bootstrap.servers); only process.roles=broker,controller runs without a quorum"
                )));
            }
            ClusterMode::SingleNode
        } else {
            if roles.controller {
                let Some(me) = voters.iter().find(|v| v.id == node_id) else {
                    return Err(ConfigError(format!(
                        "Invalid value for configuration controller.quorum.voters: node.id {node_id} is a controller (process.roles={roles_value}) but not one of the voters ({}); dynamic quorums through controller.quorum.bootstrap.servers alone are not supported yet",
                        voters.iter().map(|v| v.id.to_string()).collect::<Vec<_>>().join(", ")
                    )));
                };
                let Some(first) = controller_listener_names.first() else {
                    return Err(ConfigError(
                        "Invalid value for configuration controller.listener.names: a controller needs one (e.g. CONTROLLER), naming one of the listeners".into(),
                    ));
                };
                let listener = listeners.iter().find(|l| &l.name == first);
                if listener.is_some_and(|l| l.port != 0 && l.port != me.port) {
                    return Err(ConfigError(format!(
                        "Invalid value for configuration listeners: the controller listener {first} listens on port {}, but controller.quorum.voters gives node {node_id} port {}",
                        listener.map_or(0, |l| l.port),
                        me.port
                    )));
                }
            } else if voters.iter().any(|v| v.id == node_id) {
                return Err(ConfigError(format!(
                    "Invalid value for configuration node.id: {node_id} is one of controller.quorum.voters, but process.roles={roles_value} has no controller role"
                )));
            }
            ClusterMode::Quorum(QuorumConfig {
                voters,
                bootstrap,
                election_timeout_ms: num("controller.quorum.election.timeout.ms")?.max(1) as u64,
                fetch_timeout_ms: num("controller.quorum.fetch.timeout.ms")?.max(1) as u64,
                request_timeout_ms: num("controller.quorum.request.timeout.ms")?.max(1) as u64,
                retry_backoff_ms: num("controller.quorum.retry.backoff.ms")?.max(0) as u64,
            })
        };
        let rack = Some(get("broker.rack").trim().to_string()).filter(|r| !r.is_empty());
        Ok(ClusterConfig {
            listeners,
            advertised,
            controller_listener_names,
            inter_broker_listener,
            roles,
            mode,
            rack,
            replication: ReplicationConfig {
                lag_time_max_ms: num("replica.lag.time.max.ms")?.max(1) as u64,
                fetch_wait_max_ms: num("replica.fetch.wait.max.ms")?.max(0) as u64,
                fetch_min_bytes: num("replica.fetch.min.bytes")?.clamp(1, i32::MAX.into()) as i32,
                fetch_max_bytes: num("replica.fetch.max.bytes")?.clamp(1, i32::MAX.into()) as i32,
                fetch_response_max_bytes: num("replica.fetch.response.max.bytes")?
                    .clamp(1, i32::MAX.into()) as i32,
                fetch_backoff_ms: num("replica.fetch.backoff.ms")?.max(0) as u64,
                num_fetchers: num("num.replica.fetchers")?.max(1) as usize,
                hw_checkpoint_interval_ms: num("replica.high.watermark.checkpoint.interval.ms")?
                    .max(1) as u64,
                selector: crate::replication::replica_selector::ReplicaSelector::parse(&get(
                    "replica.selector.class",
                ))
                .map_err(ConfigError)?,
            },
            lifecycle: LifecycleConfig {
                session_timeout_ms: num("broker.session.timeout.ms")?.max(1) as u64,
                heartbeat_interval_ms: num("broker.heartbeat.interval.ms")?.max(1) as u64,
                controlled_shutdown: get("controlled.shutdown.enable").eq_ignore_ascii_case("true"),
                auto_leader_rebalance: get("auto.leader.rebalance.enable")
                    .eq_ignore_ascii_case("true"),
                leader_imbalance_check_interval_ms:
                    (num("leader.imbalance.check.interval.seconds")?.max(1) as u64)
                        .saturating_mul(1000),
            },
        })
    }

    /// The listener clients and other brokers use: the inter-broker listener, else the first
    /// listener that is not a controller's.
    pub fn broker_listener(&self) -> &Listener {
        let controller = |l: &&Listener| self.controller_listener_names.contains(&l.name);
        self.listeners
            .iter()
            .find(|l| l.name == self.inter_broker_listener)
            .or_else(|| self.listeners.iter().find(|l| !controller(l)))
            .unwrap_or(&self.listeners[0])
    }

    /// What the broker listener advertises: the advertised listener of the same name, else
    /// `None` (the bound address is given).
    pub fn advertised_broker(&self) -> Option<&Listener> {
        let name = &self.broker_listener().name;
        self.advertised.iter().find(|l| &l.name == name)
    }
}

fn names(listeners: &[Listener]) -> String {
    listeners
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::BrokerConfig;

    fn config(props: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_props(
            props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn error(props: &[(&str, &str)]) -> String {
        config(props).unwrap_err().to_string()
    }

    #[test]
    fn listeners_and_voters_parse_as_kafka_writes_them() {
        let l = parse_listeners(
            "listeners",
            "PLAINTEXT://127.0.0.1:9092, CONTROLLER://:9093,internal://[::1]:0",
        )
        .unwrap();
        assert_eq!(
            l,
            vec![
                Listener {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092
                },
                Listener {
                    name: "CONTROLLER".into(),
                    host: "".into(),
                    port: 9093
                },
                Listener {
                    name: "INTERNAL".into(),
                    host: "::1".into(),
                    port: 0
                },
            ]
        );
        assert_eq!(
            parse_listeners("listeners", "localhost:1").unwrap()[0].name,
            "PLAINTEXT"
        );
        for bad in [
            "",
            "A://h:1,A://h:2",
            "A://h:1,B://h:1",
            "A://h",
            "A://h:99999",
            "A B://h:1",
        ] {
            assert!(parse_listeners("listeners", bad).is_err(), "{bad}");
        }
        let v = parse_voters("1@127.0.0.1:9093, 2@localhost:9094").unwrap();
        assert_eq!(
            v[1],
            Voter {
                id: 2,
                host: "localhost".into(),
                port: 9094
            }
        );
        assert!(parse_voters("").unwrap().is_empty());
        for bad in ["1@h", "x@h:1", "1@h:1,1@h:2", "1@:5", "-1@h:1", "h:1"] {
            assert!(parse_voters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn todays_single_node_configs_keep_working() {
        let c = config(&[]).unwrap();
        assert_eq!(c.cluster.mode, ClusterMode::SingleNode);
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:9092");
        assert!(c.cluster.roles.broker && c.cluster.roles.controller);
        assert_eq!(c.cluster.inter_broker_listener, "PLAINTEXT");
        let c = config(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:7000,CONTROLLER://127.0.0.1:7001",
            ),
            ("controller.listener.names", "CONTROLLER"),
            ("advertised.listeners", "PLAINTEXT://kafka.example:7000"),
        ])
        .unwrap();
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:7000");
        assert_eq!(c.advertised, Some(("kafka.example".into(), 7000)));
        assert_eq!(c.cluster.replication.lag_time_max_ms, 30_000);
        assert_eq!(c.cluster.lifecycle.session_timeout_ms, 9_000);
    }

    #[test]
    fn a_three_node_member_is_parsed_and_checked() {
        let member = |id: &str, roles: &str, port: &str| {
            config(&[
                ("node.id", id),
                ("process.roles", roles),
                (
                    "controller.quorum.voters",
                    "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097",
                ),
                (
                    "listeners",
                    &format!("PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:{port}"),
                ),
                ("controller.listener.names", "CONTROLLER"),
                ("broker.rack", "r1"),
            ])
        };
        let c = member("2", "broker,controller", "9095").unwrap();
        let ClusterMode::Quorum(q) = &c.cluster.mode else {
            panic!("a quorum member")
        };
        assert_eq!(q.voters.len(), 3);
        assert_eq!(c.cluster.rack.as_deref(), Some("r1"));
        assert!(member("2", "broker,controller", "9999")
            .unwrap_err()
            .to_string()
            .contains("port"));
        assert!(member("4", "controller", "9093")
            .unwrap_err()
            .to_string()
            .contains("not one of the voters"));
        assert!(member("1", "broker", "9093")
            .unwrap_err()
            .to_string()
            .contains("no controller role"));
        assert!(member("4", "broker", "9093").is_ok(), "a broker-only node");
    }

    #[test]
    fn bad_cluster_settings_name_the_key() {
        for (props, words) in [
            (
                vec![("process.roles", "broker")],
                vec!["process.roles", "controller.quorum.voters"],
            ),
            (
                vec![("listeners", "SSL://127.0.0.1:1")],
                vec!["SSL", "PLAINTEXT"],
            ),
            (
                vec![("listeners", "EXTERNAL://127.0.0.1:1")],
                vec!["listener.security.protocol.map", "EXTERNAL"],
            ),
            (
                vec![("controller.listener.names", "CONTROLLER")],
                vec!["controller.listener.names", "CONTROLLER"],
            ),
            (
                vec![("inter.broker.listener.name", "INTERNAL")],
                vec!["inter.broker.listener.name"],
            ),
            (
                vec![
                    ("controller.quorum.voters", "1@127.0.0.1:9093"),
                    ("listeners", "PLAINTEXT://127.0.0.1:0"),
                ],
                vec!["controller.listener.names"],
            ),
        ] {
            let e = error(&props);
            for w in words {
                assert!(e.contains(w), "{props:?}: {e} names {w}");
            }
        }
    }
}

#[cfg(test)]
mod example_files {
    use super::*;
    use crate::config::{parse_properties, BrokerConfig};

    /// The example cluster configuration in `config/cluster/` parses into three cluster members
    /// (each also one of the three controllers) with distinct ports that agree on the voters.
    #[test]
    fn the_three_node_examples_are_valid() {
        let mut ports = Vec::new();
        let mut voters = Vec::new();
        for i in 1..=3 {
            let path = format!(
                "{}/../config/cluster/node{i}.properties",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let c = BrokerConfig::from_props(parse_properties(&text).unwrap()).unwrap();
            assert_eq!(c.node_id, i);
            let ClusterMode::Quorum(q) = &c.cluster.mode else {
                panic!("{path}: a quorum member")
            };
            voters.push(q.voters.clone());
            ports.extend(c.cluster.listeners.iter().map(|l| l.port));
        }
        assert!(voters.windows(2).all(|w| w[0] == w[1]), "one quorum");
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "no port used twice: {ports:?}");
    }
}
