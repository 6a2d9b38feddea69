//! The metadata image: an immutable snapshot of the cluster, built by applying records.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use super::records::{ConfigResource, Endpoint, LeaderRecovery, MetadataRecord};

/// The leader id of a partition that has none.
pub const NO_LEADER: i32 = -1;

/// One partition's placement.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitionImage {
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader broker id, [`NO_LEADER`] when offline.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Raised by every change of replicas, ISR or leader.
    pub partition_epoch: i32,
    /// Replicas being added by a reassignment.
    pub adding: Vec<i32>,
    /// Replicas being removed by a reassignment.
    pub removing: Vec<i32>,
    /// Whether the leader was elected uncleanly and is still recovering.
    pub leader_recovery: LeaderRecovery,
}

impl PartitionImage {
    /// Whether the partition has a leader.
    pub fn has_leader(&self) -> bool {
        self.leader != NO_LEADER
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The epoch of this registration.
    pub epoch: i64,
    /// Random per process start.
    pub incarnation_id: Uuid,
    /// Every advertised listener (at least the inter-broker one).
    pub endpoints: Vec<Endpoint>,
    /// Fenced brokers lead nothing and are in no ISR.
    pub fenced: bool,
    /// The broker is moving its leaderships away before it stops.
    pub in_controlled_shutdown: bool,
    /// Its log directory ids.
    pub directory_ids: Vec<Uuid>,
}

impl BrokerImage {
    /// The endpoint of listener `name`.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Whether the broker may lead partitions and join ISRs.
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }
}

/// The whole cluster as of `offset` of the metadata log.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// The lowest epoch the next broker registration may have.
    pub next_broker_epoch: i64,
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
    /// Partition `index` of `topic`, if both exist.
    pub fn partition(&self, topic: &str, index: i32) -> Option<&PartitionImage> {
        self.topics
            .get(topic)
            .and_then(|t| t.partitions.get(usize::try_from(index).ok()?))
    }

    /// Whether `broker` is in the ISR of `topic`-`index`.
    pub fn in_isr(&self, topic: &str, index: i32, broker: i32) -> bool {
        self.partition(topic, index)
            .is_some_and(|p| p.isr.contains(&broker))
    }

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

    /// The ids of the brokers that are registered and not fenced, in order.
    pub fn unfenced_brokers(&self) -> Vec<i32> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }

    /// Every partition that has `broker` among its replicas, as (topic, index, partition).
    pub fn partitions_with_replica(
        &self,
        broker: i32,
    ) -> impl Iterator<Item = (&Arc<TopicImage>, i32, &PartitionImage)> {
        self.topics.values().flat_map(move |t| {
            t.partitions
                .iter()
                .enumerate()
                .filter(move |(_, p)| p.replicas.contains(&broker))
                .map(move |(i, p)| (t, i as i32, p))
        })
    }

    /// Every partition that `broker` leads, as (topic, index, partition).
    pub fn partitions_led_by(
        &self,
        broker: i32,
    ) -> impl Iterator<Item = (&Arc<TopicImage>, i32, &PartitionImage)> {
        self.partitions_with_replica(broker)
            .filter(move |(_, _, p)| p.leader == broker)
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
                epoch,
                incarnation_id,
                endpoints,
                fenced,
                in_controlled_shutdown,
                directory_ids,
            } => {
                // a new registration has a new epoch; the same one again amends it
                let amends = self
                    .brokers
                    .get(broker_id)
                    .is_some_and(|b| b.epoch == *epoch);
                if *epoch < self.next_broker_epoch && *epoch != 0 && !amends {
                    return Err(err(format!(
                        "broker {broker_id} registers with epoch {epoch}, below {}",
                        self.next_broker_epoch
                    )));
                }
                if *epoch != 0 {
                    self.next_broker_epoch = self.next_broker_epoch.max(epoch + 1);
                }
                let endpoints = if endpoints.is_empty() {
                    vec![Endpoint {
                        name: crate::config::DEFAULT_LISTENER_NAME.to_string(),
                        host: host.clone(),
                        port: *port,
                    }]
                } else {
                    endpoints.clone()
                };
                self.brokers.insert(
                    *broker_id,
                    BrokerImage {
                        id: *broker_id,
                        host: host.clone(),
                        port: *port,
                        rack: rack.clone(),
                        epoch: *epoch,
                        incarnation_id: *incarnation_id,
                        endpoints,
                        fenced: *fenced,
                        in_controlled_shutdown: *in_controlled_shutdown,
                        directory_ids: directory_ids.clone(),
                    },
                );
            }
            MetadataRecord::UnfenceBroker { broker_id, epoch } => {
                let b = self.registered(*broker_id, *epoch).map_err(err)?;
                b.fenced = false;
            }
            MetadataRecord::FenceBroker { broker_id, epoch } => {
                let b = self.registered(*broker_id, *epoch).map_err(err)?;
                b.fenced = true;
                b.in_controlled_shutdown = false;
            }
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                epoch,
                in_controlled_shutdown,
            } => {
                let b = self.registered(*broker_id, *epoch).map_err(err)?;
                if let Some(c) = in_controlled_shutdown {
                    b.in_controlled_shutdown = *c;
                }
            }
            MetadataRecord::UnregisterBroker { broker_id, epoch } => {
                self.registered(*broker_id, *epoch).map_err(err)?;
                self.brokers.remove(broker_id);
            }
            MetadataRecord::NextBrokerEpoch { next_broker_epoch } => {
                self.next_broker_epoch = self.next_broker_epoch.max(*next_broker_epoch);
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
                partition_epoch,
                adding,
                removing,
                leader_recovery,
            } => {
                let image = PartitionImage {
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                    partition_epoch: *partition_epoch,
                    adding: adding.clone(),
                    removing: removing.clone(),
                    leader_recovery: *leader_recovery,
                };
                check_partition(&image).map_err(err)?;
                let (name, t) = self.topic_mut(topic_id).map_err(err)?;
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
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                leader,
                isr,
                replicas,
                adding,
                removing,
                leader_recovery,
                bump_leader_epoch,
            } => {
                let (name, t) = self.topic_mut(topic_id).map_err(err)?;
                let p = usize::try_from(*partition)
                    .ok()
                    .and_then(|i| t.partitions.get_mut(i))
                    .ok_or_else(|| err(format!("unknown partition {name}-{partition}")))?;
                let mut next = p.clone();
                next.partition_epoch += 1;
                if let Some(l) = leader {
                    if *l != next.leader {
                        next.leader_epoch += 1;
                    }
                    next.leader = *l;
                }
                if *bump_leader_epoch && leader.is_none_or(|l| l == p.leader) {
                    next.leader_epoch += 1;
                }
                if let Some(v) = isr {
                    next.isr = v.clone();
                }
                if let Some(v) = replicas {
                    next.replicas = v.clone();
                }
                if let Some(v) = adding {
                    next.adding = v.clone();
                }
                if let Some(v) = removing {
                    next.removing = v.clone();
                }
                if let Some(v) = leader_recovery {
                    next.leader_recovery = *v;
                }
                check_partition(&next).map_err(|e| err(format!("{name}-{partition}: {e}")))?;
                *p = next;
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
                    if m.is_empty() {
                        self.broker_configs.remove(id);
                    }
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

    /// The registration of `broker` if its epoch is `epoch`.
    fn registered(&mut self, broker: i32, epoch: i64) -> Result<&mut BrokerImage, String> {
        match self.brokers.get_mut(&broker) {
            Some(b) if b.epoch == epoch => Ok(b),
            Some(b) => Err(format!(
                "broker {broker} has epoch {}, not {epoch}",
                b.epoch
            )),
            None => Err(format!("broker {broker} is not registered")),
        }
    }

    /// The topic with id `id`, for a change.
    fn topic_mut(&mut self, id: &Uuid) -> Result<(String, &mut TopicImage), String> {
        let name = self
            .topic_ids
            .get(id)
            .ok_or_else(|| format!("unknown topic id {id}"))?
            .clone();
        let topic = self
            .topics
            .get_mut(&name)
            .ok_or_else(|| format!("unknown topic {name}"))?;
        Ok((name, Arc::make_mut(topic)))
    }
}

/// The rules every partition state keeps: replicas are distinct, the ISR is a subset of them,
/// and a leader is a replica in the ISR.
fn check_partition(p: &PartitionImage) -> Result<(), String> {
    let mut sorted = p.replicas.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != p.replicas.len() {
        return Err(format!("replicas {:?} repeat a broker", p.replicas));
    }
    if let Some(b) = p.isr.iter().find(|b| !p.replicas.contains(b)) {
        return Err(format!(
            "ISR member {b} is not a replica of {:?}",
            p.replicas
        ));
    }
    if p.has_leader() && !p.isr.contains(&p.leader) {
        return Err(format!("leader {} is not in the ISR {:?}", p.leader, p.isr));
    }
    Ok(())
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
            partition_epoch: 0,
            adding: vec![],
            removing: vec![],
            leader_recovery: LeaderRecovery::Recovered,
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

    fn one_partition(replicas: Vec<i32>) -> (Uuid, MetadataImage) {
        let id = Uuid::from_u128(7);
        let img = MetadataImage::empty()
            .apply(
                0,
                &[
                    MetadataRecord::Topic {
                        name: "t".into(),
                        topic_id: id,
                    },
                    MetadataRecord::Partition {
                        topic_id: id,
                        partition: 0,
                        isr: replicas.clone(),
                        leader: replicas[0],
                        replicas,
                        leader_epoch: 4,
                        partition_epoch: 9,
                        adding: vec![],
                        removing: vec![],
                        leader_recovery: LeaderRecovery::Recovered,
                    },
                ],
            )
            .unwrap();
        (id, img)
    }

    fn change(id: Uuid, leader: Option<i32>, isr: Option<Vec<i32>>) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            topic_id: id,
            partition: 0,
            leader,
            isr,
            replicas: None,
            adding: None,
            removing: None,
            leader_recovery: None,
            bump_leader_epoch: false,
        }
    }

    #[test]
    fn an_isr_change_raises_the_partition_epoch_and_a_leader_change_the_leader_epoch() {
        let (id, img) = one_partition(vec![1, 2, 3]);
        let shrunk = img.apply(2, &[change(id, None, Some(vec![1, 2]))]).unwrap();
        let p = &shrunk.topics["t"].partitions[0];
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 4, 10));
        assert_eq!(p.isr, vec![1, 2]);
        let moved = shrunk
            .apply(3, &[change(id, Some(2), Some(vec![2]))])
            .unwrap();
        let p = &moved.topics["t"].partitions[0];
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 5, 11));
        // the same leader again is no leader change
        let same = moved.apply(4, &[change(id, Some(2), None)]).unwrap();
        assert_eq!(same.topics["t"].partitions[0].leader_epoch, 5);
        let offline = moved
            .apply(5, &[change(id, Some(-1), Some(vec![]))])
            .unwrap();
        let p = &offline.topics["t"].partitions[0];
        assert!(!p.has_leader());
        assert_eq!(p.leader_epoch, 6);
    }

    #[test]
    fn a_change_that_breaks_the_partition_rules_does_not_apply() {
        let (id, img) = one_partition(vec![1, 2]);
        // leader outside the ISR
        assert!(img.apply(2, &[change(id, Some(2), Some(vec![1]))]).is_err());
        // ISR member that is not a replica
        assert!(img.apply(2, &[change(id, None, Some(vec![1, 5]))]).is_err());
        // unknown partition
        let mut other = change(id, None, None);
        if let MetadataRecord::PartitionChange { partition, .. } = &mut other {
            *partition = 3;
        }
        assert!(img.apply(2, &[other]).is_err());
        // repeated replicas
        let dup = MetadataRecord::Partition {
            topic_id: id,
            partition: 1,
            replicas: vec![1, 1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            adding: vec![],
            removing: vec![],
            leader_recovery: LeaderRecovery::Recovered,
        };
        assert!(img.apply(2, &[dup]).is_err());
    }

    fn register(id: i32, epoch: i64) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            broker_id: id,
            host: "h".into(),
            port: 1,
            rack: None,
            epoch,
            incarnation_id: Uuid::nil(),
            endpoints: vec![],
            fenced: true,
            in_controlled_shutdown: false,
            directory_ids: vec![],
        }
    }

    #[test]
    fn brokers_are_fenced_unfenced_and_unregistered_by_their_current_epoch() {
        let img = MetadataImage::empty()
            .apply(0, &[register(1, 5), register(2, 6)])
            .unwrap();
        assert_eq!(img.next_broker_epoch, 7);
        assert!(img.unfenced_brokers().is_empty());
        // the epoch of an older registration does not count
        assert!(img
            .apply(
                2,
                &[MetadataRecord::UnfenceBroker {
                    broker_id: 1,
                    epoch: 4
                }]
            )
            .is_err());
        let img = img
            .apply(
                2,
                &[MetadataRecord::UnfenceBroker {
                    broker_id: 1,
                    epoch: 5,
                }],
            )
            .unwrap();
        assert_eq!(img.unfenced_brokers(), vec![1]);
        assert_eq!(
            img.brokers[&1].endpoint("PLAINTEXT").map(|e| e.port),
            Some(1),
            "a registration without endpoints has its host and port as PLAINTEXT"
        );
        // a new registration must come with a newer epoch
        assert!(img.apply(3, &[register(1, 6)]).is_err());
        let img = img
            .apply(
                3,
                &[MetadataRecord::UnregisterBroker {
                    broker_id: 2,
                    epoch: 6,
                }],
            )
            .unwrap();
        assert_eq!(img.brokers.keys().copied().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn records_written_before_the_cluster_fields_load_with_their_defaults() {
        // a single node's metadata.log from before replication
        let old = r#"[{"type":"RegisterBroker","broker_id":1,"host":"127.0.0.1","port":9092,"rack":null},
            {"type":"Topic","name":"t","topic_id":"00000000-0000-0000-0000-000000000007"},
            {"type":"Partition","topic_id":"00000000-0000-0000-0000-000000000007","partition":0,
             "replicas":[1],"isr":[1],"leader":1,"leader_epoch":3}]"#;
        let records: Vec<MetadataRecord> = serde_json::from_str(old).unwrap();
        let img = MetadataImage::empty().apply(0, &records).unwrap();
        let b = &img.brokers[&1];
        assert!(!b.fenced && b.epoch == 0 && b.is_active());
        assert_eq!(img.unfenced_brokers(), vec![1]);
        let p = &img.topics["t"].partitions[0];
        assert_eq!((p.leader_epoch, p.partition_epoch), (3, 0));
        assert!(p.leader_recovery.is_recovered() && p.adding.is_empty());
        assert_eq!(img.partitions_led_by(1).count(), 1);
        assert_eq!(img.partitions_led_by(2).count(), 0);
    }
}
