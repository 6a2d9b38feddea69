//! Topic configs: every name Kafka has, its broker-level synonyms, default and rules.

use super::ConfigType;

/// One topic-level config: its name, broker synonym, default and rules.
#[derive(Debug)]
pub struct TopicConfigDef {
    /// Topic-level name.
    pub name: &'static str,
    /// Broker-level properties that set its default, highest precedence first.
    pub synonyms: &'static [&'static str],
    /// Kafka's default value.
    pub default: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Allowed values for strings and list elements; empty means any.
    pub allowed: &'static [&'static str],
    /// Smallest allowed number, for numeric configs.
    pub min: f64,
    /// What it does.
    pub doc: &'static str,
}

pub(super) const LONG_MAX: &str = "9223372036854775807";

macro_rules! topic_config {
    ($name:expr, [$($syn:expr),*], $default:expr, $kind:ident, [$($allowed:expr),*], $min:expr, $doc:expr) => {
        TopicConfigDef { name: $name, synonyms: &[$($syn),*], default: $default, kind: ConfigType::$kind, allowed: &[$($allowed),*], min: $min as f64, doc: $doc }
    };
}

/// Every topic config Tributary knows, in Kafka's alphabetical order.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    topic_config!(
        "cleanup.policy",
        ["log.cleanup.policy"],
        "delete",
        List,
        ["compact", "delete"],
        0,
        "The retention policy to use on log segments: delete and/or compact."
    ),
    topic_config!(
        "compression.type",
        ["compression.type"],
        "producer",
        String,
        ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
        0,
        "The final compression type for a topic; 'producer' keeps the codec the producer used."
    ),
    topic_config!(
        "compression.gzip.level",
        ["compression.gzip.level"],
        "-1",
        Int,
        [],
        -1,
        "The compression level to use if compression.type is gzip (1-9, or -1 for the codec's default)."
    ),
    topic_config!(
        "compression.lz4.level",
        ["compression.lz4.level"],
        "9",
        Int,
        [],
        1,
        "The compression level to use if compression.type is lz4 (1-17)."
    ),
    topic_config!(
        "compression.zstd.level",
        ["compression.zstd.level"],
        "3",
        Int,
        [],
        -131072,
        "The compression level to use if compression.type is zstd (-131072 to 22)."
    ),
    topic_config!(
        "delete.retention.ms",
        ["log.cleaner.delete.retention.ms"],
        "86400000",
        Long,
        [],
        0,
        "How long delete tombstones are retained on compacted topics."
    ),
    topic_config!(
        "errors.deadletterqueue.group.enable",
        [],
        "false",
        Boolean,
        [],
        0,
        "Whether share groups may write undeliverable records of this topic to a dead letter queue (accepted and reported; Tributary has no share groups)."
    ),
    topic_config!(
        "file.delete.delay.ms",
        ["log.segment.delete.delay.ms"],
        "60000",
        Long,
        [],
        0,
        "How long to wait before deleting a file from the filesystem."
    ),
    topic_config!(
        "flush.messages",
        ["log.flush.interval.messages"],
        LONG_MAX,
        Long,
        [],
        1,
        "Force an fsync of the log after this many messages."
    ),
    topic_config!(
        "flush.ms",
        ["log.flush.interval.ms"],
        LONG_MAX,
        Long,
        [],
        0,
        "Force an fsync of the log after this much time."
    ),
    topic_config!(
        "follower.replication.throttled.replicas",
        [],
        "",
        List,
        [],
        0,
        "Replicas whose follower-side replication is throttled while out of the ISR, as partitionId:brokerId pairs or *; the broker config follower.replication.throttled.rate bounds their bytes per second."
    ),
    topic_config!(
        "index.interval.bytes",
        ["log.index.interval.bytes"],
        "4096",
        Int,
        [],
        0,
        "How frequently an entry is added to the offset index."
    ),
    topic_config!(
        "leader.replication.throttled.replicas",
        [],
        "",
        List,
        [],
        0,
        "Replicas whose leader-side replication is throttled while their followers are out of the ISR, as partitionId:brokerId pairs or *; the broker config leader.replication.throttled.rate bounds their bytes per second."
    ),
    topic_config!(
        "local.retention.bytes",
        ["log.local.retention.bytes"],
        "-2",
        Long,
        [],
        -2,
        "Bytes of a tiered topic kept on local disk; -2 means retention.bytes (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "local.retention.ms",
        ["log.local.retention.ms"],
        "-2",
        Long,
        [],
        -2,
        "Time a tiered topic keeps segments on local disk; -2 means retention.ms (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "max.compaction.lag.ms",
        ["log.cleaner.max.compaction.lag.ms"],
        LONG_MAX,
        Long,
        [],
        1,
        "The maximum time a message will remain ineligible for compaction."
    ),
    topic_config!(
        "max.decompressed.message.bytes",
        ["max.decompressed.message.bytes"],
        "2147483639",
        Int,
        [],
        1,
        "The largest size a compressed record batch may decompress to (accepted and reported; Tributary bounds decompression by its own limit)."
    ),
    topic_config!(
        "max.message.bytes",
        ["message.max.bytes"],
        "1048588",
        Int,
        [],
        0,
        "The largest record batch size allowed by Kafka (after compression)."
    ),
    topic_config!(
        "message.timestamp.after.max.ms",
        ["log.message.timestamp.after.max.ms"],
        "3600000",
        Long,
        [],
        0,
        "How far a record timestamp may be ahead of the broker's time."
    ),
    topic_config!(
        "message.timestamp.before.max.ms",
        ["log.message.timestamp.before.max.ms"],
        LONG_MAX,
        Long,
        [],
        0,
        "How far a record timestamp may be behind the broker's time."
    ),
    topic_config!(
        "message.timestamp.type",
        ["log.message.timestamp.type"],
        "CreateTime",
        String,
        ["CreateTime", "LogAppendTime"],
        0,
        "Whether the timestamp is the message create time or the log append time."
    ),
    topic_config!(
        "min.cleanable.dirty.ratio",
        ["log.cleaner.min.cleanable.ratio"],
        "0.5",
        Double,
        [],
        0,
        "The minimum ratio of dirty log to total log for a log to be eligible for cleaning."
    ),
    topic_config!(
        "min.compaction.lag.ms",
        ["log.cleaner.min.compaction.lag.ms"],
        "0",
        Long,
        [],
        0,
        "The minimum time a message will remain uncompacted in the log."
    ),
    topic_config!(
        "min.insync.replicas",
        ["min.insync.replicas"],
        "1",
        Int,
        [],
        1,
        "The minimum number of replicas that must acknowledge a write for acks=all to succeed."
    ),
    topic_config!(
        "preallocate",
        ["log.preallocate"],
        "false",
        Boolean,
        [],
        0,
        "Whether to preallocate the file on disk when creating a new log segment."
    ),
    topic_config!(
        "remote.copy.lag.bytes",
        ["log.remote.copy.lag.bytes"],
        "-1",
        Long,
        [],
        -1,
        "Bytes a tiered topic may hold before copying to remote storage (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "remote.copy.lag.ms",
        ["log.remote.copy.lag.ms"],
        "0",
        Long,
        [],
        -1,
        "Time a tiered topic may wait before copying to remote storage (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "remote.log.copy.disable",
        [],
        "false",
        Boolean,
        [],
        0,
        "Stops copying segments of a tiered topic to remote storage (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "remote.log.delete.on.disable",
        [],
        "false",
        Boolean,
        [],
        0,
        "Deletes remote segments when tiered storage is turned off for the topic (accepted and reported; Tributary has no tiered storage)."
    ),
    topic_config!(
        "remote.storage.enable",
        [],
        "false",
        Boolean,
        [],
        0,
        "Tiered storage for the topic; true is refused, as by a Kafka broker with remote.log.storage.system.enable=false."
    ),
    topic_config!(
        "retention.bytes",
        ["log.retention.bytes"],
        "-1",
        Long,
        [],
        -1,
        "The maximum size a partition can grow to before old segments are discarded."
    ),
    topic_config!(
        "retention.ms",
        [
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours"
        ],
        "604800000",
        Long,
        [],
        -1,
        "The maximum time a log is retained before old segments are discarded."
    ),
    topic_config!(
        "segment.bytes",
        ["log.segment.bytes"],
        "1073741824",
        Int,
        [],
        1048576,
        "The segment file size for the log (at least 1 MiB, as in Kafka 4; tests use internal.segment.bytes for smaller segments)."
    ),
    topic_config!(
        "segment.index.bytes",
        ["log.index.size.max.bytes"],
        "10485760",
        Int,
        [],
        4,
        "The size of the index that maps offsets to file positions."
    ),
    topic_config!(
        "segment.jitter.ms",
        ["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "0",
        Long,
        [],
        0,
        "The maximum random jitter subtracted from the scheduled segment roll time."
    ),
    topic_config!(
        "segment.ms",
        ["log.roll.ms", "log.roll.hours"],
        "604800000",
        Long,
        [],
        1,
        "The period of time after which the log rolls a new segment."
    ),
    topic_config!(
        "unclean.leader.election.enable",
        ["unclean.leader.election.enable"],
        "false",
        Boolean,
        [],
        0,
        "Whether replicas not in the ISR may be elected leader as a last resort."
    ),
];

/// Looks up a topic config definition by name.
pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Multiplier from a broker synonym's unit to the topic config's unit (milliseconds).
pub(super) fn synonym_scale(synonym: &str) -> i64 {
    if synonym.ends_with(".hours") {
        3_600_000
    } else if synonym.ends_with(".minutes") {
        60_000
    } else {
        1
    }
}

/// Upper bounds (and the values allowed besides the range) of the numeric configs that have one.
const RANGES: &[(&str, f64, &[i64])] = &[
    ("compression.gzip.level", 9.0, &[-1]),
    ("compression.lz4.level", 17.0, &[]),
    ("compression.zstd.level", 22.0, &[]),
    ("max.decompressed.message.bytes", 2147483639.0, &[]),
    ("log.cleaner.io.buffer.load.factor", 0.9, &[]),
    ("min.cleanable.dirty.ratio", 1.0, &[]),
    ("log.cleaner.min.cleanable.ratio", 1.0, &[]),
    ("log.cleaner.threads", 8.0, &[]),
];

pub(super) fn check_value(
    name: &str,
    kind: ConfigType,
    allowed: &[&str],
    min: f64,
    value: &str,
) -> Result<(), String> {
    let bad = |why: String| {
        Err(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    if let Some((_, max, also)) = RANGES.iter().find(|(n, _, _)| *n == name) {
        if let Ok(n) = value.trim().parse::<f64>() {
            let special = also.iter().any(|a| *a as f64 == n);
            if !special && (n < min || n > *max) {
                let extra: String = also.iter().map(|a| format!(" or {a}")).collect();
                return bad(format!("Value must be in [{min}, {max}]{extra}"));
            }
            if special {
                return Ok(());
            }
        }
    }
    match kind {
        ConfigType::Boolean => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return bad("Expected value to be either true or false".into());
            }
        }
        ConfigType::Int | ConfigType::Long | ConfigType::Short => {
            let parsed = if kind == ConfigType::Short {
                value
                    .trim()
                    .parse::<i16>()
                    .map(i64::from)
                    .map_err(|_| "Not a number of type SHORT")
            } else if kind == ConfigType::Int {
                value
                    .trim()
                    .parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| "Not a number of type INT")
            } else {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| "Not a number of type LONG")
            };
            match parsed {
                Ok(n) if (n as f64) < min => return bad(format!("Value must be at least {min}")),
                Ok(_) => {}
                Err(e) => return bad(e.into()),
            }
        }
        ConfigType::Double => match value.trim().parse::<f64>() {
            Ok(n) if n < min || !n.is_finite() => {
                return bad(format!("Value must be at least {min}"))
            }
            Ok(_) => {}
            Err(_) => return bad("Not a number of type DOUBLE".into()),
        },
        ConfigType::String => {
            if !allowed.is_empty() && !allowed.contains(&value) {
                return bad(format!("String must be one of: {}", allowed.join(", ")));
            }
        }
        // a class name or a secret: any text (Tributary loads no classes)
        ConfigType::Class | ConfigType::Password => {}
        ConfigType::List => {
            for item in value.split(',').map(str::trim) {
                if !allowed.is_empty() && !allowed.contains(&item) {
                    return bad(format!(
                        "List elements must be one of: {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A topic config that is not among Kafka's documented ones but is accepted and stored, and
/// described only where a topic sets it.
#[derive(Debug)]
pub struct ExtraTopicConfig {
    /// Config name.
    pub name: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Smallest allowed number, for numeric configs.
    pub min: f64,
    /// Kafka 3.x accepted it and Kafka 4.0 removed it: a deprecation warning is logged.
    pub deprecated: bool,
    /// What Tributary does with it.
    pub effect: &'static str,
}

/// Topic configs accepted besides [`TOPIC_CONFIGS`]: those Kafka 3.x accepted and Kafka 4.0
/// removed (accepted as Kafka 3.9 does, so that scripts and tools written for 3.x keep working),
/// and Kafka 4's internal `internal.segment.bytes`, which its own tests use for segments smaller
/// than `segment.bytes` allows.
pub const EXTRA_TOPIC_CONFIGS: &[ExtraTopicConfig] = &[
    ExtraTopicConfig {
        name: "internal.segment.bytes",
        kind: ConfigType::Int,
        min: 14.0,
        deprecated: false,
        effect: "the segment size, in place of segment.bytes, with no 1 MiB minimum (for tests)",
    },
    ExtraTopicConfig {
        name: "message.downconversion.enable",
        kind: ConfigType::Boolean,
        min: 0.0,
        deprecated: true,
        effect: "ignored: Tributary never converts record batches to older formats",
    },
    ExtraTopicConfig {
        name: "message.format.version",
        kind: ConfigType::String,
        min: 0.0,
        deprecated: true,
        effect: "ignored: record batches are always stored in format v2, as with any inter-broker protocol of 3.0 or later",
    },
    ExtraTopicConfig {
        name: "message.timestamp.difference.max.ms",
        kind: ConfigType::Long,
        min: 0.0,
        deprecated: true,
        effect: "applied as message.timestamp.before.max.ms and message.timestamp.after.max.ms where the topic does not set those (KIP-937)",
    },
];

/// The topic config that gives a log `bytes`-sized segments: `segment.bytes`, or Kafka 4's
/// `internal.segment.bytes` below its 1 MiB minimum (an internal topic's
/// `offsets.topic.segment.bytes` or `transaction.state.log.segment.bytes` may be smaller).
pub fn segment_size_config(bytes: i64) -> (String, String) {
    let name = if bytes < 1_048_576 {
        "internal.segment.bytes"
    } else {
        "segment.bytes"
    };
    (name.to_string(), bytes.to_string())
}

/// Looks up an accepted topic config outside [`TOPIC_CONFIGS`].
pub fn extra_topic_config(name: &str) -> Option<&'static ExtraTopicConfig> {
    EXTRA_TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Validates a topic config override: a known name and a value of the right kind. A deprecated
/// name ([`EXTRA_TOPIC_CONFIGS`]) is accepted with a warning logged.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
    if let Some(extra) = extra_topic_config(name) {
        check_value(name, extra.kind, &[], extra.min, value)?;
        if extra.deprecated {
            tracing::warn!(
                config = name,
                value,
                "topic config {name} is deprecated (removed in Kafka 4.0); accepted and {}",
                extra.effect
            );
        }
        return Ok(());
    }
    let def = topic_config_def(name).ok_or_else(|| format!("Unknown topic config name: {name}"))?;
    check_value(name, def.kind, def.allowed, def.min, value)?;
    match name {
        "leader.replication.throttled.replicas" | "follower.replication.throttled.replicas" => {
            // Kafka's ThrottledReplicaListValidator: * or partitionId:brokerId pairs
            let pair = |item: &str| {
                item.split_once(':')
                    .is_some_and(|(p, b)| p.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
            };
            let all = value.trim();
            if !(all.is_empty() || all == "*" || all.split(',').map(str::trim).all(pair)) {
                return Err(format!(
                    "Invalid value {value} for configuration {name}: {name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                ));
            }
        }
        "remote.storage.enable" if value.trim().eq_ignore_ascii_case("true") => {
            return Err("Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.".into());
        }
        _ => {}
    }
    Ok(())
}
