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
        "consumer.assignment.interval.ms" => range(
            broker.group_bound("group.consumer.min.assignment.interval.ms", 0),
            broker.group_bound("group.consumer.max.assignment.interval.ms", 15_000),
        ),
        "share.assignment.interval.ms" => range(
            broker.group_bound("group.share.min.assignment.interval.ms", 0),
            broker.group_bound("group.share.max.assignment.interval.ms", 15_000),
        ),
        "streams.assignment.interval.ms" => range(
            broker.group_bound("group.streams.min.assignment.interval.ms", 0),
            broker.group_bound("group.streams.max.assignment.interval.ms", 15_000),
        ),
        "share.delivery.count.limit" => range(
            broker.group_bound("group.share.min.delivery.count.limit", 2),
            broker.group_bound("group.share.max.delivery.count.limit", 10),
        ),
        "share.partition.max.record.locks" => range(
            broker.group_bound("group.share.min.partition.max.record.locks", 100),
            broker.group_bound("group.share.max.partition.max.record.locks", 4_000),
        ),
        "share.record.lock.duration.ms" => range(
            broker.group_bound("group.share.min.record.lock.duration.ms", 15_000),
            broker.group_bound("group.share.max.record.lock.duration.ms", 60_000),
        ),
        "streams.num.standby.replicas" => {
            let max = broker.group_bound("group.streams.max.standby.replicas", 2);
            match n {
                Some(n) if n > max => Err(format!("{name} must be less than or equal to {max}")),
                _ => Ok(()),
            }
        }
        "share.auto.offset.reset" => {
            let v = value.trim();
            let ok = v == "earliest"
                || v == "latest"
                || v.strip_prefix("by_duration:")
                    .is_some_and(is_iso8601_duration);
            if ok {
                Ok(())
            } else {
                Err(format!("Invalid value {value} for configuration {name}: Invalid value `{value}` for configuration {name}. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."))
            }
        }
        "streams.assignor.name" => {
            let registered = broker
                .props
                .get("group.streams.assignors")
                .cloned()
                .unwrap_or_else(|| "sticky".to_string());
            let names: Vec<&str> = registered.split(',').map(str::trim).collect();
            if names.contains(&value.trim()) && !value.trim().is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{name} '{value}' is not a registered task assignor. Registered assignors are: [{}].",
                    names.join(", ")
                ))
            }
        }
        "errors.deadletterqueue.topic.name" if value.starts_with("__") => {
            Err(format!("{name}: DLQ topic name must not start with '__'"))
        }
        _ => Ok(()),
    }
}

/// Java's `Duration.parse` format, which `share.auto.offset.reset=by_duration:` takes:
/// `PnDTnHnMn.nS` with at least one part, an optional sign.
fn is_iso8601_duration(s: &str) -> bool {
    let re = regex::Regex::new(
        r"^[-+]?P(?:[-+]?[0-9]+D)?(?:T(?:[-+]?[0-9]+H)?(?:[-+]?[0-9]+M)?(?:[-+]?[0-9]+(?:[.,][0-9]{0,9})?S)?)?$",
    );
    re.is_ok_and(|re| re.is_match(s)) && s.len() > 1 && !s.ends_with('T') && s != "P"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka 4.4's answers, as its peer gave them with default broker settings.
    #[test]
    fn group_config_values_are_checked_as_kafka_checks_them() {
        let b = BrokerConfig::from_props(Default::default()).unwrap();
        let refused = |name: &str, value: &str| validate_group_config(name, value, &b).unwrap_err();
        assert_eq!(
            refused("consumer.session.timeout.ms", "1"),
            "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive."
        );
        assert_eq!(
            refused("share.assignment.interval.ms", "15001"),
            "share.assignment.interval.ms must be in the range 0 to 15000 inclusive."
        );
        assert_eq!(
            refused("share.delivery.count.limit", "11"),
            "share.delivery.count.limit must be in the range 2 to 10 inclusive."
        );
        assert_eq!(
            refused("share.record.lock.duration.ms", "14999"),
            "share.record.lock.duration.ms must be in the range 15000 to 60000 inclusive."
        );
        assert_eq!(
            refused("streams.num.standby.replicas", "3"),
            "streams.num.standby.replicas must be less than or equal to 2"
        );
        assert!(refused("share.auto.offset.reset", "by_duration:xyz")
            .contains("by_duration:<PnDTnHnMn.nS>"));
        assert_eq!(
            refused("streams.assignor.name", "bogus"),
            "streams.assignor.name 'bogus' is not a registered task assignor. Registered assignors are: [sticky]."
        );
        assert_eq!(
            refused("errors.deadletterqueue.topic.name", "__x"),
            "errors.deadletterqueue.topic.name: DLQ topic name must not start with '__'"
        );
        assert_eq!(
            refused("no.such", "1"),
            "Unknown group config name: no.such"
        );
        for (name, value) in [
            ("share.auto.offset.reset", "by_duration:PT1H30M"),
            ("share.auto.offset.reset", "by_duration:P1DT2.5S"),
            ("share.auto.offset.reset", "earliest"),
            ("streams.num.standby.replicas", "2"),
            ("streams.assignor.name", "sticky"),
            ("consumer.session.timeout.ms", "50000"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ] {
            assert_eq!(
                validate_group_config(name, value, &b),
                Ok(()),
                "{name}={value}"
            );
        }
    }
}
