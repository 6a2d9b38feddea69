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

/// One change to cluster metadata. A change made by one request is appended as one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// Identifies the cluster; the first record of a new metadata log.
    Cluster {
        /// Kafka-style cluster id.
        cluster_id: String,
    },
    /// A broker registered itself.
    RegisterBroker {
        /// Node id.
        broker_id: i32,
        /// Advertised host.
        host: String,
        /// Advertised port.
        port: u16,
        /// Rack, if configured.
        rack: Option<String>,
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
