//! The metadata record types, after KRaft's (`TopicRecord`, `PartitionRecord`, ...).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a config record applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name")]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker, by id; `None` is the cluster-wide default.
    Broker(Option<i32>),
    /// A consumer group, by id (KIP-848 group configs).
    Group(String),
}

/// One advertised listener of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Listener name (`PLAINTEXT`, `INTERNAL`, ...).
    pub name: String,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
}

/// Whether a partition's leader holds everything that was acknowledged (KIP-704).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaderRecovery {
    /// The leader was elected from the ISR: nothing acknowledged is missing.
    #[default]
    Recovered,
    /// The leader was elected from outside the ISR and may lack acknowledged data; the ISR stays
    /// `[leader]` until it says it has recovered.
    Recovering,
}

impl LeaderRecovery {
    /// Whether the leader was elected cleanly or has recovered.
    pub fn is_recovered(&self) -> bool {
        *self == LeaderRecovery::Recovered
    }
}

/// One change to cluster metadata. A change made by one request is appended as one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// Identifies the cluster; the first record of a new metadata log.
    Cluster {
        /// Kafka-style cluster id.
        cluster_id: String,
    },
    /// A broker registered itself (KRaft's `RegisterBrokerRecord`). The fields after `rack` came
    /// with the cluster; a single node's older records load with their defaults.
    RegisterBroker {
        /// Node id.
        broker_id: i32,
        /// Advertised host of the inter-broker listener.
        host: String,
        /// Advertised port of the inter-broker listener.
        port: u16,
        /// Rack, if configured.
        rack: Option<String>,
        /// The broker epoch this registration starts (0 for a single node).
        #[serde(default)]
        epoch: i64,
        /// Random per process start: a restart is a new incarnation.
        #[serde(default = "Uuid::nil")]
        incarnation_id: Uuid,
        /// Every advertised listener; empty means only `host:port`, as `PLAINTEXT`.
        #[serde(default)]
        endpoints: Vec<Endpoint>,
        /// A new registration is fenced until the broker has caught up (cluster mode).
        #[serde(default)]
        fenced: bool,
        /// The broker asked to shut down and is moving its leaderships away.
        #[serde(default)]
        in_controlled_shutdown: bool,
        /// The broker's log directory ids (`directory.id` of `meta.properties`).
        #[serde(default)]
        directory_ids: Vec<Uuid>,
    },
    /// A registered broker may lead and be in ISRs again (KRaft's `UnfenceBrokerRecord`).
    UnfenceBroker {
        /// Node id.
        broker_id: i32,
        /// Its current registration's epoch.
        epoch: i64,
    },
    /// A broker missed its session or stopped: it leads nothing and leaves every ISR
    /// (KRaft's `FenceBrokerRecord`).
    FenceBroker {
        /// Node id.
        broker_id: i32,
        /// Its current registration's epoch.
        epoch: i64,
    },
    /// A broker began a controlled shutdown (KRaft's `BrokerRegistrationChangeRecord`).
    BrokerRegistrationChange {
        /// Node id.
        broker_id: i32,
        /// Its current registration's epoch.
        epoch: i64,
        /// `Some(true)` when it starts shutting down.
        in_controlled_shutdown: Option<bool>,
    },
    /// A broker was removed from the cluster (KRaft's `UnregisterBrokerRecord`).
    UnregisterBroker {
        /// Node id.
        broker_id: i32,
        /// The registration's epoch.
        epoch: i64,
    },
    /// Raises the counter that broker epochs come from; only snapshots write it (the counter
    /// otherwise follows the registrations).
    NextBrokerEpoch {
        /// The epoch the next registration gets at least.
        next_broker_epoch: i64,
    },
    /// A topic was created.
    Topic {
        /// Topic name.
        name: String,
        /// Topic id.
        topic_id: Uuid,
    },
    /// A partition was created or changed.
    Partition {
        /// Topic id.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// Replica broker ids.
        replicas: Vec<i32>,
        /// In-sync replica broker ids.
        isr: Vec<i32>,
        /// Leader broker id.
        leader: i32,
        /// Leader epoch.
        leader_epoch: i32,
        /// Bumped by every change of the partition's replicas, ISR or leader.
        #[serde(default)]
        partition_epoch: i32,
        /// Replicas being added by a reassignment.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        adding: Vec<i32>,
        /// Replicas being removed by a reassignment.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removing: Vec<i32>,
        /// Whether the leader was elected uncleanly and is still recovering (KIP-704).
        #[serde(default, skip_serializing_if = "LeaderRecovery::is_recovered")]
        leader_recovery: LeaderRecovery,
    },
    /// A change to one partition's leader, ISR or replicas (KRaft's `PartitionChangeRecord`):
    /// `None` leaves a field as it is. The partition epoch always rises; the leader epoch rises
    /// when the leader changes or `bump_leader_epoch` is set, never for an ISR change alone.
    PartitionChange {
        /// Topic id.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// The new leader, `Some(-1)` for none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<i32>,
        /// The new ISR.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isr: Option<Vec<i32>>,
        /// The new replica list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replicas: Option<Vec<i32>>,
        /// The new adding replicas.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        adding: Option<Vec<i32>>,
        /// The new removing replicas.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removing: Option<Vec<i32>>,
        /// The new recovery state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader_recovery: Option<LeaderRecovery>,
        /// Raise the leader epoch even with the same leader (a reassignment completes).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bump_leader_epoch: bool,
    },
    /// A config was set (`Some`) or removed (`None`).
    Config {
        /// What it applies to.
        resource: ConfigResource,
        /// Config name.
        name: String,
        /// New value.
        value: Option<String>,
    },
    /// A topic was deleted.
    RemoveTopic {
        /// Topic id.
        topic_id: Uuid,
    },
    /// A block of producer ids went to a broker: ids below `next_producer_id` are taken
    /// (KRaft's `ProducerIdsRecord`).
    ProducerIds {
        /// The broker the block went to.
        broker_id: i32,
        /// The first id of the next block.
        next_producer_id: i64,
    },
}
