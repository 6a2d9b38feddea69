//! The metadata image: an immutable snapshot of the cluster, built by applying records.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use super::records::{ConfigResource, MetadataRecord};

/// One partition's placement.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionImage {
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader broker id.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicImage {
    /// Name.
    pub name: String,
    /// Id.
    pub id: Uuid,
    /// Partitions by index.
    pub partitions: Vec<PartitionImage>,
    /// Topic config overrides.
    pub configs: BTreeMap<String, String>,
}

/// A registered broker.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerImage {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack.
    pub rack: Option<String>,
}

/// The whole cluster as of `offset` of the metadata log.
#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    /// Offset of the last record applied, -1 when empty.
    pub offset: i64,
    /// Cluster id.
    pub cluster_id: String,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerImage>,
    /// Topics by name.
    pub topics: BTreeMap<String, Arc<TopicImage>>,
    /// Topic names by id.
    pub topic_ids: HashMap<Uuid, String>,
    /// Broker-level dynamic configs (unused by topics, kept for DescribeConfigs).
    pub broker_configs: BTreeMap<Option<i32>, BTreeMap<String, String>>,
    /// Group config overrides (KIP-848), by group id.
    pub group_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// The first producer id not yet given to any broker.
    pub next_producer_id: i64,
}

/// A record that cannot apply to the image (a bug or a corrupt log).
#[derive(Debug, thiserror::Error)]
#[error("metadata record at offset {offset} does not apply: {reason}")]
pub struct ApplyError {
    /// Offset of the record.
    pub offset: i64,
    /// Why.
    pub reason: String,
}

impl MetadataImage {
    /// An empty image.
    pub fn empty() -> Self {
        MetadataImage {
            offset: -1,
            ..Default::default()
        }
    }

    /// The broker configs set at runtime for broker `node` and for every broker.
    pub fn dynamic_configs(&self, node: i32) -> crate::config::Dynamic<'_> {
        crate::config::Dynamic {
            broker: self.broker_configs.get(&Some(node)),
            default: self.broker_configs.get(&None),
        }
    }

    /// Looks up a topic by id.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<&Arc<TopicImage>> {
        self.topic_ids.get(id).and_then(|n| self.topics.get(n))
    }

    /// Total partitions in the cluster.
    pub fn partition_count(&self) -> usize {
        self.topics.values().map(|t| t.partitions.len()).sum()
    }

    /// Applies one batch of records, the first at `offset`, giving the next image.
    pub fn apply(
        &self,
        offset: i64,
        records: &[MetadataRecord],
    ) -> Result<MetadataImage, ApplyError> {
        let mut next = self.clone();
        for (i, record) in records.iter().enumerate() {
            let at = offset + i as i64;
            next.apply_one(at, record)?;
            next.offset = at;
        }
        Ok(next)
    }

    fn apply_one(&mut self, offset: i64, record: &MetadataRecord) -> Result<(), ApplyError> {
        let err = |reason: String| ApplyError { offset, reason };
        match record {
            MetadataRecord::Cluster { cluster_id } => self.cluster_id = cluster_id.clone(),
            MetadataRecord::RegisterBroker {
                broker_id,
                host,
                port,
                rack,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerImage {
                        id: *broker_id,
                        host: host.clone(),
                        port: *port,
                        rack: rack.clone(),
                    },
                );
            }
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(name) {
                    return Err(err(format!("topic {name} already exists")));
                }
                self.topic_ids.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    Arc::new(TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: Vec::new(),
                        configs: BTreeMap::new(),
                    }),
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
            } => {
                let name = self
                    .topic_ids
                    .get(topic_id)
                    .ok_or_else(|| err(format!("unknown topic id {topic_id}")))?;
                let topic = self
                    .topics
                    .get_mut(name)
                    .ok_or_else(|| err(format!("unknown topic {name}")))?;
                let t = Arc::make_mut(topic);
                let image = PartitionImage {
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                };
                let idx = usize::try_from(*partition)
                    .map_err(|_| err(format!("negative partition {partition}")))?;
                match idx.cmp(&t.partitions.len()) {
                    std::cmp::Ordering::Less => t.partitions[idx] = image,
                    std::cmp::Ordering::Equal => t.partitions.push(image),
                    std::cmp::Ordering::Greater => {
                        return Err(err(format!(
                            "partition {partition} of {name} skips an index"
                        )))
                    }
                }
            }
            MetadataRecord::Config {
                resource,
                name,
                value,
            } => match resource {
                ConfigResource::Topic(topic) => {
                    let t = self
                        .topics
                        .get_mut(topic)
                        .ok_or_else(|| err(format!("config for unknown topic {topic}")))?;
                    let t = Arc::make_mut(t);
                    match value {
                        Some(v) => t.configs.insert(name.clone(), v.clone()),
                        None => t.configs.remove(name),
                    };
                }
                ConfigResource::Broker(id) => {
                    let m = self.broker_configs.entry(*id).or_default();
                    match value {
                        Some(v) => m.insert(name.clone(), v.clone()),
                        None => m.remove(name),
                    };
                }
                ConfigResource::Group(group) => {
                    let m = self.group_configs.entry(group.clone()).or_default();
                    match value {
                        Some(v) => m.insert(name.clone(), v.clone()),
                        None => m.remove(name),
                    };
                    if m.is_empty() {
                        self.group_configs.remove(group);
                    }
                }
            },
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => {
                if *next_producer_id <= self.next_producer_id {
                    return Err(err(format!(
                        "producer id block ends at {next_producer_id}, below {}",
                        self.next_producer_id
                    )));
                }
                self.next_producer_id = *next_producer_id;
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let name = self
                    .topic_ids
                    .remove(topic_id)
                    .ok_or_else(|| err(format!("unknown topic id {topic_id}")))?;
                self.topics.remove(&name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_builds_topics_configs_and_removes_them() {
        let id = Uuid::new_v4();
        let part = |p| MetadataRecord::Partition {
            topic_id: id,
            partition: p,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
        };
        let img = MetadataImage::empty()
            .apply(
                0,
                &[
                    MetadataRecord::Topic {
                        name: "t".into(),
                        topic_id: id,
                    },
                    part(0),
                    part(1),
                    MetadataRecord::Config {
                        resource: ConfigResource::Topic("t".into()),
                        name: "retention.ms".into(),
                        value: Some("5".into()),
                    },
                ],
            )
            .unwrap();
        assert_eq!(img.offset, 3);
        let t = &img.topics["t"];
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.configs["retention.ms"], "5");
        assert_eq!(img.topic_by_id(&id).unwrap().name, "t");
        let img2 = img
            .apply(4, &[MetadataRecord::RemoveTopic { topic_id: id }])
            .unwrap();
        assert!(img2.topics.is_empty() && img2.topic_ids.is_empty());
        assert_eq!(img.topics.len(), 1, "images are immutable snapshots");
        assert!(img2.apply(5, &[part(0)]).is_err());
    }
}
