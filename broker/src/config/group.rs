//! Group configs (KIP-848): per-group overrides of the broker's `group.*` settings, set with
//! IncrementalAlterConfigs on resource type GROUP and described with DescribeConfigs, as Kafka 4
//! has them (`kafka-configs --entity-type groups`).
//!
//! `consumer.session.timeout.ms` and `consumer.heartbeat.interval.ms` take effect on the group's
//! next heartbeats; the other names (share and streams groups, dead letter queues, the
//! assignment interval) are accepted, stored and described, and change nothing yet.

use super::{check_value, BrokerConfig, ConfigType};

/// One group config: its name, the broker setting that gives its default, and its rules.
#[derive(Debug)]
pub struct GroupConfigDef {
    /// Group-level name.
    pub name: &'static str,
    /// The broker property that supplies the default.
    pub synonym: &'static str,
    /// Kafka's default of that broker property.
    pub default: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Allowed values for strings; empty means any.
    pub allowed: &'static [&'static str],
    /// Smallest allowed number.
    pub min: f64,
}

macro_rules! group_config {
    ($name:expr, $synonym:expr, $default:expr, $kind:ident, [$($allowed:expr),*], $min:expr) => {
        GroupConfigDef { name: $name, synonym: $synonym, default: $default, kind: ConfigType::$kind, allowed: &[$($allowed),*], min: $min as f64 }
    };
}

/// Kafka 4.4's group configs, in its order.
pub const GROUP_CONFIGS: &[GroupConfigDef] = &[
    group_config!(
        "consumer.assignment.interval.ms",
        "group.consumer.assignment.interval.ms",
        "1000",
        Int,
        [],
        0
    ),
    group_config!(
        "consumer.heartbeat.interval.ms",
        "group.consumer.heartbeat.interval.ms",
        "5000",
        Int,
        [],
        1
    ),
    group_config!(
        "consumer.session.timeout.ms",
        "group.consumer.session.timeout.ms",
        "45000",
        Int,
        [],
        1
    ),
    group_config!(
        "errors.deadletterqueue.copy.record.enable",
        "errors.deadletterqueue.copy.record.enable",
        "false",
        Boolean,
        [],
        0
    ),
    group_config!(
        "errors.deadletterqueue.topic.name",
        "errors.deadletterqueue.topic.name",
        "",
        String,
        [],
        0
    ),
    group_config!(
        "share.assignment.interval.ms",
        "group.share.assignment.interval.ms",
        "1000",
        Int,
        [],
        0
    ),
    group_config!(
        "share.auto.offset.reset",
        "share.auto.offset.reset",
        "latest",
        String,
        [],
        0
    ),
    group_config!(
        "share.delivery.count.limit",
        "group.share.delivery.count.limit",
        "5",
        Int,
        [],
        2
    ),
    group_config!(
        "share.heartbeat.interval.ms",
        "group.share.heartbeat.interval.ms",
        "5000",
        Int,
        [],
        1
    ),
    group_config!(
        "share.isolation.level",
        "share.isolation.level",
        "read_uncommitted",
        String,
        ["read_committed", "read_uncommitted"],
        0
    ),
    group_config!(
        "share.partition.max.record.locks",
        "group.share.partition.max.record.locks",
        "2000",
        Int,
        [],
        100
    ),
    group_config!(
        "share.record.lock.duration.ms",
        "group.share.record.lock.duration.ms",
        "30000",
        Int,
        [],
        1000
    ),
    group_config!(
        "share.renew.acknowledge.enable",
        "share.renew.acknowledge.enable",
        "true",
        Boolean,
        [],
        0
    ),
    group_config!(
        "share.session.timeout.ms",
        "group.share.session.timeout.ms",
        "45000",
        Int,
        [],
        1
    ),
    group_config!(
        "streams.assignment.interval.ms",
        "group.streams.assignment.interval.ms",
        "1000",
        Int,
        [],
        0
    ),
    group_config!(
        "streams.assignor.name",
        "group.streams.assignors",
        "sticky",
        String,
        [],
        0
    ),
    group_config!(
        "streams.heartbeat.interval.ms",
        "group.streams.heartbeat.interval.ms",
        "5000",
        Int,
        [],
        1
    ),
    group_config!(
        "streams.initial.rebalance.delay.ms",
        "group.streams.initial.rebalance.delay.ms",
        "3000",
        Int,
        [],
        0
    ),
    group_config!(
        "streams.num.standby.replicas",
        "group.streams.num.standby.replicas",
        "0",
        Int,
        [],
        0
    ),
    group_config!(
        "streams.rack.aware.assignment.tags",
        "group.streams.rack.aware.assignment.tags",
        "",
        List,
        [],
        0
    ),
    group_config!(
        "streams.session.timeout.ms",
        "group.streams.session.timeout.ms",
        "45000",
        Int,
        [],
        1
    ),
];

/// Looks up a group config definition by name.
pub fn group_config_def(name: &str) -> Option<&'static GroupConfigDef> {
    GROUP_CONFIGS.iter().find(|d| d.name == name)
}

impl BrokerConfig {
    /// The broker's value of a group config's synonym: the properties, else Kafka's default.
    pub fn group_config_default(&self, def: &GroupConfigDef) -> String {
        self.props
            .get(def.synonym)
            .cloned()
            .unwrap_or_else(|| def.default.to_string())
    }

    fn group_bound(&self, name: &str, default: i64) -> i64 {
        self.props
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }
}

/// Validates a group config override by Kafka's rules (`GroupConfig.validate`): a known name, a
/// value of its type, and the consumer timeouts within the broker's bounds.
pub fn validate_group_config(name: &str, value: &str, broker: &BrokerConfig) -> Result<(), String> {
    let def = group_config_def(name).ok_or_else(|| format!("Unknown group config name: {name}"))?;
    check_value(name, def.kind, def.allowed, def.min, value)?;
    let n = value.trim().parse::<i64>().ok();
    let range = |lo: i64, hi: i64| -> Result<(), String> {
        match n {
            Some(n) if n < lo || n > hi => Err(format!(
                "{name} must be in the range {lo} to {hi} inclusive."
            )),
            _ => Ok(()),
        }
    };
    match name {
        "consumer.session.timeout.ms" => range(
            i64::from(broker.group.consumer_min_session_timeout_ms),
            i64::from(broker.group.consumer_max_session_timeout_ms),
        ),
        "consumer.heartbeat.interval.ms" => range(
            broker.group_bound("group.consumer.min.heartbeat.interval.ms", 5_000),
            broker.group_bound("group.consumer.max.heartbeat.interval.ms", 15_000),
        ),
        "share.session.timeout.ms" => range(
            broker.group_bound("group.share.min.session.timeout.ms", 45_000),
            broker.group_bound("group.share.max.session.timeout.ms", 60_000),
        ),
        "share.heartbeat.interval.ms" => range(
            broker.group_bound("group.share.min.heartbeat.interval.ms", 5_000),
            broker.group_bound("group.share.max.heartbeat.interval.ms", 15_000),
        ),
        "streams.session.timeout.ms" => range(
            broker.group_bound("group.streams.min.session.timeout.ms", 45_000),
            broker.group_bound("group.streams.max.session.timeout.ms", 60_000),
        ),
        "streams.heartbeat.interval.ms" => range(
            broker.group_bound("group.streams.min.heartbeat.interval.ms", 5_000),
            broker.group_bound("group.streams.max.heartbeat.interval.ms", 15_000),
        ),
        _ => Ok(()),
    }
}
