//! Broker configs: the properties Tributary acts on, and which names Kafka lets change at
//! runtime.

use super::topic::{check_value, LONG_MAX, TOPIC_CONFIGS};
use super::ConfigType;

/// Whether Tributary applies a broker config changed at runtime: the broker-level defaults of
/// topic configs, which apply to every log without a restart (as Kafka's cluster-wide dynamic
/// configs do). Other names Kafka lets change at runtime are accepted, stored and described, but
/// change nothing yet (see docs/log-management.md).
pub fn is_dynamic_broker_config(name: &str) -> bool {
    TOPIC_CONFIGS.iter().any(|d| d.synonyms.contains(&name))
}

/// How Kafka lets a broker config change at runtime (`DynamicBrokerConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Only in the properties file: "Cannot update these configs dynamically".
    ReadOnly,
    /// On one broker only, never as the cluster-wide default.
    PerBroker,
    /// On one broker or as the cluster-wide default.
    ClusterWide,
}

/// One broker config name of Kafka's, as `scripts/gen-kafka-broker-configs.sh` reads it from
/// Kafka's `ConfigDef`.
#[derive(Debug)]
pub struct KafkaBrokerConfig {
    /// Property name.
    pub name: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Whether and where it may change at runtime.
    pub update: Update,
    /// An SSL setting that may change at runtime only with a `listener.name.<listener>.` prefix.
    pub listener_only: bool,
    /// Smallest value Kafka's validator allows.
    pub min: Option<f64>,
    /// Largest value Kafka's validator allows.
    pub max: Option<f64>,
    /// Allowed values (strings) or list items; empty means any.
    pub allowed: &'static [&'static str],
}

/// Kafka's definition of a broker config name; a listener override
/// (`listener.name.<listener>.<config>`) has the definition of its `<config>`.
pub fn kafka_broker_config(name: &str) -> Option<&'static KafkaBrokerConfig> {
    let name = listener_base(name).unwrap_or(name);
    let all = super::kafka_names::KAFKA_BROKER_CONFIGS;
    all.binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &all[i])
}

/// `listener.name.<listener>.<config>`: the listener override of `<config>`.
fn listener_base(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("listener.name.")?;
    let (_listener, base) = rest.split_once('.')?;
    Some(base)
}

/// Validates a broker config set at runtime, on one broker (`per_broker`) or as the cluster-wide
/// default, by Kafka's rules (`DynamicBrokerConfig.validateConfigs`): names Kafka only reads at
/// start are refused, SSL settings need a listener prefix, per-broker settings cannot be
/// cluster defaults, known names need a value of their type; names Kafka does not know are
/// accepted and stored, as Kafka stores them.
pub fn validate_dynamic_broker_config(
    name: &str,
    value: &str,
    per_broker: bool,
) -> Result<(), String> {
    let base = listener_base(name);
    let kafka = kafka_broker_config(name);
    if base.is_none() {
        if let Some(def) = kafka {
            if def.update == Update::ReadOnly {
                return Err(format!("Cannot update these configs dynamically: [{name}]"));
            }
            if def.listener_only {
                return Err(format!(
                    "These security configs can be dynamically updated only per-listener using the listener prefix: [{name}]"
                ));
            }
        }
    }
    let per_broker_only = match (base, kafka) {
        // a listener override is per broker unless its base is a cluster-level listener setting
        (Some(b), _) => !matches!(
            b,
            "max.connections" | "max.connection.creation.rate" | "num.network.threads"
        ),
        (None, Some(def)) => def.update == Update::PerBroker,
        (None, None) => false,
    };
    if per_broker_only && !per_broker {
        return Err(format!(
            "Cannot update these configs at default cluster level, broker id must be specified: [{name}]"
        ));
    }
    // Kafka's own validator decides (refuse only what Kafka refuses); a name only Tributary
    // knows gets Tributary's rules
    let Some(def) = kafka else {
        let checked_name = base.unwrap_or(name);
        return match BROKER_CONFIGS.iter().find(|d| d.name == checked_name) {
            Some(ours) => check_value(name, ours.kind, ours.allowed, ours.min, value),
            None => Ok(()),
        };
    };
    check_value(
        name,
        def.kind,
        def.allowed,
        def.min.unwrap_or(f64::NEG_INFINITY),
        value,
    )?;
    if let (Some(max), Ok(n)) = (def.max, value.trim().parse::<f64>()) {
        if n > max {
            return Err(format!(
                "Invalid value {value} for configuration {name}: Value must be no more than {max}"
            ));
        }
    }
    Ok(())
}

/// A broker setting known to Tributary.
#[derive(Debug)]
pub struct BrokerConfigDef {
    /// Property name.
    pub name: &'static str,
    /// Default value ("" for none).
    pub default: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Allowed values for strings.
    pub allowed: &'static [&'static str],
    /// Smallest allowed number.
    pub min: f64,
    /// What it does.
    pub doc: &'static str,
}

macro_rules! broker_config {
    ($name:expr, $default:expr, $kind:ident, [$($allowed:expr),*], $min:expr, $doc:expr) => {
        BrokerConfigDef { name: $name, default: $default, kind: ConfigType::$kind, allowed: &[$($allowed),*], min: $min as f64, doc: $doc }
    };
}

/// Broker properties Tributary understands (topic-config synonyms included).
pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[
    broker_config!("node.id", "1", Int, [], 0, "The node id of this broker."),
    broker_config!("broker.id", "", Int, [], -1, "The broker id; the same as node.id (set either, or both to one value)."),
    broker_config!("delete.topic.enable", "true", Boolean, [], 0, "Enables topic deletion; with false, DeleteTopics is refused with TOPIC_DELETION_DISABLED."),
    broker_config!("process.roles", "broker,controller", List, ["broker", "controller"], 0, "The roles of this node; the single-node default is combined mode."),
    broker_config!("listeners", "PLAINTEXT://127.0.0.1:9092", List, [], 0, "The address the Kafka listener binds to."),
    broker_config!("advertised.listeners", "", List, [], 0, "The address given to clients in metadata; defaults to listeners."),
    broker_config!("controller.listener.names", "", List, [], 0, "The listeners the controllers serve the quorum on (CONTROLLER); required on a controller of a quorum."),
    broker_config!("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", List, [], 0, "The security protocol of each listener name; Tributary serves PLAINTEXT only."),
    broker_config!("inter.broker.listener.name", "", String, [], 0, "The listener brokers reach each other on; defaults to the first listener that is not a controller's."),
    broker_config!("controller.quorum.voters", "", List, [], 0, "The controller quorum, as id@host:port,...; empty runs a single node (broker and controller in one process, no quorum)."),
    broker_config!("controller.quorum.bootstrap.servers", "", List, [], 0, "Where brokers may find the controllers, as host:port,...; an alternative to controller.quorum.voters for brokers."),
    broker_config!("controller.quorum.election.timeout.ms", "1000", Int, [], 1, "How long a voter waits without hearing from a leader before it starts an election."),
    broker_config!("controller.quorum.fetch.timeout.ms", "2000", Int, [], 1, "How long a voter waits without a successful fetch from the leader before it becomes a candidate."),
    broker_config!("controller.quorum.request.timeout.ms", "2000", Int, [], 1, "How long a quorum request waits for its answer."),
    broker_config!("controller.quorum.retry.backoff.ms", "20", Int, [], 0, "The pause before a failed quorum request is retried."),
    broker_config!("broker.rack", "", String, [], 0, "The rack of this broker, for rack-aware replica placement and fetching from the closest replica."),
    broker_config!("replica.lag.time.max.ms", "30000", Long, [], 1, "A follower that has not caught up with the leader's log end for this long leaves the ISR."),
    broker_config!("replica.fetch.wait.max.ms", "500", Int, [], 0, "The longest a follower's fetch waits at the leader for data."),
    broker_config!("replica.fetch.min.bytes", "1", Int, [], 1, "The least data a follower's fetch waits for."),
    broker_config!("replica.fetch.max.bytes", "1048576", Int, [], 0, "The bytes a follower fetches per partition at most (the first batch is returned whole)."),
    broker_config!("replica.fetch.response.max.bytes", "10485760", Int, [], 0, "The bytes of one follower fetch response at most."),
    broker_config!("replica.fetch.backoff.ms", "1000", Int, [], 0, "The pause after a failed follower fetch."),
    broker_config!("num.replica.fetchers", "1", Int, [], 1, "Fetcher tasks per source broker."),
    broker_config!("replica.selector.class", "", String, [], 0, "How a consumer that names its rack (client.rack) is pointed at a replica to read from (KIP-392): unset, consumers read from leaders; org.apache.kafka.common.replica.RackAwareReplicaSelector sends them to an in-sync replica in their rack."),
    broker_config!("replica.socket.timeout.ms", "30000", Int, [], 1, "The socket timeout of follower fetches."),
    broker_config!("replica.high.watermark.checkpoint.interval.ms", "5000", Long, [], 1, "How often each partition's high watermark is saved to disk."),
    broker_config!("broker.session.timeout.ms", "9000", Int, [], 1, "A broker that has not heartbeated to the controller for this long is fenced."),
    broker_config!("broker.heartbeat.interval.ms", "2000", Int, [], 1, "How often a broker heartbeats to the controller."),
    broker_config!("controlled.shutdown.enable", "true", Boolean, [], 0, "Move partition leadership away from a broker before it stops."),
    broker_config!("auto.leader.rebalance.enable", "true", Boolean, [], 0, "Move leadership back to the preferred replicas when it is out of balance."),
    broker_config!("leader.imbalance.check.interval.seconds", "300", Long, [], 1, "How often leader balance is checked."),
    broker_config!("leader.imbalance.per.broker.percentage", "10", Int, [], 0, "Accepted for compatibility; as in KRaft, every partition not led by its preferred replica is rebalanced."),
    broker_config!("log.dirs", "./tributary-data", String, [], 0, "The directory in which the log data and metadata are kept."),
    broker_config!("num.partitions", "1", Int, [], 1, "The default number of partitions per topic."),
    broker_config!("default.replication.factor", "1", Int, [], 1, "The default replication factor for automatically created topics."),
    broker_config!("auto.create.topics.enable", "true", Boolean, [], 0, "Enable auto creation of topics on the server."),
    broker_config!("socket.request.max.bytes", "104857600", Int, [], 1, "The maximum number of bytes in a socket request."),
    broker_config!("connections.max.idle.ms", "600000", Long, [], 1, "Idle connections timeout: connections idle longer than this are closed."),
    broker_config!("queued.max.requests", "500", Int, [], 1, "The number of requests being processed at once before the network threads stop reading."),
    broker_config!("queued.max.request.bytes", "-1", Long, [], -1, "The bytes of requests being processed at once; -1 means 512 MiB in Tributary."),
    broker_config!("max.connections", "2147483647", Int, [], 0, "The maximum number of connections allowed at any time."),
    broker_config!("fetch.max.bytes", "57671680", Int, [], 1024, "The maximum number of bytes returned for a fetch request."),
    broker_config!("message.max.bytes", "1048588", Int, [], 0, "The largest record batch size allowed."),
    broker_config!("log.segment.bytes", "1073741824", Int, [], 1048576, "The maximum size of a single log file."),
    broker_config!("log.roll.ms", "", Long, [], 1, "The maximum time before a new log segment is rolled out (in milliseconds)."),
    broker_config!("log.roll.hours", "168", Int, [], 1, "The maximum time before a new log segment is rolled out (in hours)."),
    broker_config!("log.roll.jitter.ms", "", Long, [], 0, "The maximum jitter subtracted from logRollTimeMillis (in milliseconds)."),
    broker_config!("log.roll.jitter.hours", "0", Int, [], 0, "The maximum jitter subtracted from logRollTimeMillis (in hours)."),
    broker_config!("log.index.size.max.bytes", "10485760", Int, [], 4, "The maximum size in bytes of the offset index."),
    broker_config!("log.index.interval.bytes", "4096", Int, [], 0, "The interval with which an entry is added to the offset index."),
    broker_config!("log.flush.interval.messages", LONG_MAX, Long, [], 1, "The number of messages accumulated on a log partition before messages are flushed to disk."),
    broker_config!("log.flush.interval.ms", "", Long, [], 0, "The maximum time a message stays in memory before it is flushed to disk."),
    broker_config!("log.flush.scheduler.interval.ms", "1000", Long, [], 1, "How often the flusher checks whether any log needs to be flushed."),
    broker_config!("log.message.timestamp.type", "CreateTime", String, ["CreateTime", "LogAppendTime"], 0, "Whether the timestamp is the message create time or the log append time."),
    broker_config!("log.message.timestamp.before.max.ms", LONG_MAX, Long, [], 0, "How far a record timestamp may be behind the broker's time."),
    broker_config!("log.message.timestamp.after.max.ms", "3600000", Long, [], 0, "How far a record timestamp may be ahead of the broker's time."),
    broker_config!("log.retention.ms", "", Long, [], -1, "The number of milliseconds to keep a log file before deleting it."),
    broker_config!("log.retention.minutes", "", Int, [], -1, "The number of minutes to keep a log file before deleting it."),
    broker_config!("log.retention.hours", "168", Int, [], -1, "The number of hours to keep a log file before deleting it."),
    broker_config!("log.retention.bytes", "-1", Long, [], -1, "The maximum size of the log before deleting it."),
    broker_config!("log.local.retention.bytes", "-2", Long, [], -2, "The default of local.retention.bytes (tiered storage; accepted and reported, Tributary has none)."),
    broker_config!("log.local.retention.ms", "-2", Long, [], -2, "The default of local.retention.ms (tiered storage; accepted and reported, Tributary has none)."),
    broker_config!("log.remote.copy.lag.bytes", "-1", Long, [], -1, "The default of remote.copy.lag.bytes (tiered storage; accepted and reported, Tributary has none)."),
    broker_config!("log.remote.copy.lag.ms", "0", Long, [], -1, "The default of remote.copy.lag.ms (tiered storage; accepted and reported, Tributary has none)."),
    broker_config!("max.decompressed.message.bytes", "2147483639", Int, [], 1, "The default of max.decompressed.message.bytes (accepted and reported; Tributary bounds decompression by its own limit)."),
    broker_config!("log.retention.check.interval.ms", "300000", Long, [], 1, "The frequency in milliseconds that the log cleaner checks whether any log is eligible for deletion."),
    broker_config!("log.cleaner.enable", "true", Boolean, [], 0, "Enable the log cleaner process to run on the server (needed for compacted topics, including the internal offsets topic)."),
    broker_config!("log.cleaner.threads", "1", Int, [], 1, "The number of background threads to use for log cleaning."),
    broker_config!("log.cleaner.dedupe.buffer.size", "134217728", Long, [], 1048576, "The total memory used for log deduplication across all cleaner threads."),
    broker_config!("log.cleaner.io.buffer.load.factor", "0.9", Double, [], 0.1, "Log cleaner dedupe buffer load factor: the share of the buffer that may fill up."),
    broker_config!("log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308", Double, [], 1, "The log cleaner will be throttled so that the sum of its read and write i/o will be less than this value on average."),
    broker_config!("log.cleaner.backoff.ms", "15000", Long, [], 0, "The amount of time to sleep when there are no logs to clean."),
    broker_config!("compression.gzip.level", "-1", Int, [], -1, "The compression level to use if compression.type is gzip."),
    broker_config!("compression.lz4.level", "9", Int, [], 1, "The compression level to use if compression.type is lz4."),
    broker_config!("compression.zstd.level", "3", Int, [], -131072, "The compression level to use if compression.type is zstd."),
    broker_config!("log.cleanup.policy", "delete", List, ["compact", "delete"], 0, "The default cleanup policy for segments beyond the retention window."),
    broker_config!("log.cleaner.delete.retention.ms", "86400000", Long, [], 0, "How long delete tombstones are retained."),
    broker_config!("log.cleaner.min.cleanable.ratio", "0.5", Double, [], 0, "The minimum ratio of dirty log to total log for a log to be eligible for cleaning."),
    broker_config!("log.cleaner.min.compaction.lag.ms", "0", Long, [], 0, "The minimum time a message will remain uncompacted in the log."),
    broker_config!("log.cleaner.max.compaction.lag.ms", LONG_MAX, Long, [], 1, "The maximum time a message will remain ineligible for compaction."),
    broker_config!("log.segment.delete.delay.ms", "60000", Long, [], 0, "The amount of time to wait before deleting a file from the filesystem."),
    broker_config!("log.preallocate", "false", Boolean, [], 0, "Whether to preallocate the file when creating a new segment."),
    broker_config!("compression.type", "producer", String, ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"], 0, "The final compression type for a given topic."),
    broker_config!("min.insync.replicas", "1", Int, [], 1, "The minimum number of replicas that must acknowledge a write with acks=all."),
    broker_config!("unclean.leader.election.enable", "false", Boolean, [], 0, "Whether replicas not in the ISR may be elected leader as a last resort."),
    broker_config!("offsets.topic.num.partitions", "50", Int, [], 1, "The number of partitions for the offset commit topic (should not change after deployment)."),
    broker_config!("offsets.topic.replication.factor", "3", Int, [], 1, "The replication factor for the offsets topic; capped at the number of live brokers when it is created."),
    broker_config!("offsets.topic.segment.bytes", "104857600", Int, [], 1, "The offsets topic segment bytes should be kept relatively small to facilitate faster log compaction and cache loads."),
    broker_config!("offsets.retention.minutes", "10080", Int, [], 1, "For subscribed consumers, committed offset of a specific partition will be expired and discarded when the group has been empty this long; for standalone consumers, this long after the last commit."),
    broker_config!("offsets.retention.check.interval.ms", "600000", Long, [], 1, "Frequency at which to check for stale offsets."),
    broker_config!("offset.metadata.max.bytes", "4096", Int, [], 0, "The maximum size for a metadata entry associated with an offset commit."),
    broker_config!("group.min.session.timeout.ms", "6000", Int, [], 0, "The minimum allowed session timeout for registered consumers."),
    broker_config!("group.max.session.timeout.ms", "1800000", Int, [], 0, "The maximum allowed session timeout for registered consumers."),
    broker_config!("group.initial.rebalance.delay.ms", "3000", Int, [], 0, "The amount of time the group coordinator will wait for more consumers to join a new group before performing the first rebalance."),
    broker_config!("group.max.size", "2147483647", Int, [], 1, "The maximum number of consumers that a single consumer group can accommodate."),
    broker_config!("group.consumer.session.timeout.ms", "45000", Int, [], 1, "The timeout to detect client failures when using the consumer group protocol."),
    broker_config!("group.consumer.min.session.timeout.ms", "45000", Int, [], 1, "The minimum allowed session timeout for registered consumers (consumer group protocol)."),
    broker_config!("group.consumer.max.session.timeout.ms", "60000", Int, [], 1, "The maximum allowed session timeout for registered consumers (consumer group protocol)."),
    broker_config!("group.consumer.heartbeat.interval.ms", "5000", Int, [], 1, "The heartbeat interval given to the members of a consumer group."),
    broker_config!("group.consumer.max.size", "2147483647", Int, [], 1, "The maximum number of consumers that a single consumer group (consumer protocol) can accommodate."),
    broker_config!("group.consumer.assignors", "uniform,range", List, ["uniform", "range"], 0, "The server-side assignors, by name; the first is the default."),
    broker_config!("producer.id.expiration.ms", "86400000", Int, [], 1, "The time in ms that a topic partition leader will wait before expiring producer IDs."),
    broker_config!("producer.id.expiration.check.interval.ms", "600000", Int, [], 1, "The interval at which to remove producer IDs that have expired due to producer.id.expiration.ms passing."),
    broker_config!("transactional.id.expiration.ms", "604800000", Int, [], 1, "The time in ms that the transaction coordinator will wait without receiving any transaction status updates for the current transaction before expiring its transactional id."),
    broker_config!("transaction.max.timeout.ms", "900000", Int, [], 1, "The maximum allowed timeout for transactions."),
    broker_config!("transaction.state.log.num.partitions", "50", Int, [], 1, "The number of partitions for the transaction topic (should not change after deployment)."),
    broker_config!("transaction.state.log.replication.factor", "3", Int, [], 1, "The replication factor for the transaction topic; capped at the number of live brokers when it is created."),
    broker_config!("transaction.state.log.segment.bytes", "104857600", Int, [], 1, "The transaction topic segment bytes should be kept relatively small in order to facilitate faster log compaction and cache loads."),
    broker_config!("transaction.state.log.min.isr", "2", Int, [], 1, "The minimum number of replicas that must acknowledge a write to transaction topic in order to be considered successful."),
    broker_config!("transaction.abort.timed.out.transaction.cleanup.interval.ms", "10000", Int, [], 1, "The interval at which to rollback transactions that have timed out."),
    broker_config!("transaction.remove.expired.transaction.cleanup.interval.ms", "3600000", Int, [], 1, "The interval at which to remove transactions that have expired due to transactional.id.expiration.ms passing."),
];
