//! Snapshots of the metadata image: the fewest records that rebuild it.
//!
//! A snapshot is a list of records, as in KRaft: loading one runs the same apply code as the log,
//! so `MetadataImage::empty().apply(0, &image.to_records())` equals `image` (apart from the
//! offset, which the loader sets). Because images are immutable, taking a snapshot never blocks
//! the code that applies new records.

use super::image::MetadataImage;
use super::records::{ConfigResource, MetadataRecord};

/// The broker id written in a snapshot's `ProducerIds` record: the block's owner is not kept.
const SNAPSHOT_PRODUCER_ID_OWNER: i32 = -1;

impl MetadataImage {
    /// The records that rebuild this image from an empty one.
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        if !self.cluster_id.is_empty() {
            out.push(MetadataRecord::Cluster {
                cluster_id: self.cluster_id.clone(),
            });
        }
        // registrations in epoch order: each one raises the epoch counter past its own
        let mut brokers: Vec<_> = self.brokers.values().collect();
        brokers.sort_by_key(|b| (b.epoch, b.id));
        for b in brokers {
            out.push(MetadataRecord::RegisterBroker {
                broker_id: b.id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
                epoch: b.epoch,
                incarnation_id: b.incarnation_id,
                endpoints: b.endpoints.clone(),
                fenced: b.fenced,
                in_controlled_shutdown: b.in_controlled_shutdown,
                directory_ids: b.directory_ids.clone(),
            });
        }
        if self.next_broker_epoch > 0 {
            out.push(MetadataRecord::NextBrokerEpoch {
                next_broker_epoch: self.next_broker_epoch,
            });
        }
        for topic in self.topics.values() {
            out.push(MetadataRecord::Topic {
                name: topic.name.clone(),
                topic_id: topic.id,
            });
            for (i, p) in topic.partitions.iter().enumerate() {
                out.push(MetadataRecord::Partition {
                    topic_id: topic.id,
                    partition: i as i32,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    adding: p.adding.clone(),
                    removing: p.removing.clone(),
                    leader_recovery: p.leader_recovery,
                });
            }
            out.extend(configs(
                ConfigResource::Topic(topic.name.clone()),
                &topic.configs,
            ));
        }
        for (broker, values) in &self.broker_configs {
            out.extend(configs(ConfigResource::Broker(*broker), values));
        }
        for (group, values) in &self.group_configs {
            out.extend(configs(ConfigResource::Group(group.clone()), values));
        }
        if self.next_producer_id > 0 {
            out.push(MetadataRecord::ProducerIds {
                broker_id: SNAPSHOT_PRODUCER_ID_OWNER,
                next_producer_id: self.next_producer_id,
            });
        }
        out
    }
}

fn configs<'a>(
    resource: ConfigResource,
    values: &'a std::collections::BTreeMap<String, String>,
) -> impl Iterator<Item = MetadataRecord> + 'a {
    values
        .iter()
        .map(move |(name, value)| MetadataRecord::Config {
            resource: resource.clone(),
            name: name.clone(),
            value: Some(value.clone()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::{Endpoint, LeaderRecovery};
    use proptest::prelude::*;
    use uuid::Uuid;

    /// A random history of valid records: brokers registering (some fenced, some in controlled
    /// shutdown, some re-registering with a new epoch, some unregistered), topics with
    /// partitions whose leader and ISR change, configs set and removed, producer id blocks.
    fn history() -> impl Strategy<Value = Vec<MetadataRecord>> {
        let brokers = prop::collection::vec((0u8..4, any::<bool>(), any::<bool>()), 1..6);
        let topics = prop::collection::vec(
            (
                1usize..4,
                prop::collection::vec((any::<u8>(), any::<u8>()), 0..6),
            ),
            0..4,
        );
        let configs = prop::collection::vec((0u8..3, 0u8..3, prop::option::of(0u8..3)), 0..8);
        (brokers, topics, configs, 0i64..3).prop_map(|(brokers, topics, configs, pid_blocks)| {
            build_history(&brokers, &topics, &configs, pid_blocks)
        })
    }

    fn build_history(
        brokers: &[(u8, bool, bool)],
        topics: &[(usize, Vec<(u8, u8)>)],
        configs: &[(u8, u8, Option<u8>)],
        pid_blocks: i64,
    ) -> Vec<MetadataRecord> {
        let mut out = vec![MetadataRecord::Cluster {
            cluster_id: "c1".into(),
        }];
        let mut epoch = 10;
        let mut ids = Vec::new();
        for (i, (action, fenced, shutdown)) in brokers.iter().enumerate() {
            let id = i as i32 + 1;
            epoch += 3;
            out.push(MetadataRecord::RegisterBroker {
                broker_id: id,
                host: "127.0.0.1".into(),
                port: 9000 + id as u16,
                rack: (id % 2 == 0).then(|| format!("r{id}")),
                epoch,
                incarnation_id: Uuid::from_u128(id as u128),
                endpoints: vec![Endpoint {
                    name: "INTERNAL".into(),
                    host: "127.0.0.1".into(),
                    port: 9100 + id as u16,
                }],
                fenced: true,
                in_controlled_shutdown: false,
                directory_ids: vec![Uuid::from_u128(100 + id as u128)],
            });
            if !fenced {
                out.push(MetadataRecord::UnfenceBroker {
                    broker_id: id,
                    epoch,
                });
            }
            if *shutdown {
                out.push(MetadataRecord::BrokerRegistrationChange {
                    broker_id: id,
                    epoch,
                    in_controlled_shutdown: Some(true),
                });
            }
            match action {
                0 if i > 0 => out.push(MetadataRecord::UnregisterBroker {
                    broker_id: id,
                    epoch,
                }),
                1 => out.push(MetadataRecord::FenceBroker {
                    broker_id: id,
                    epoch,
                }),
                _ => ids.push(id),
            }
        }
        if ids.is_empty() {
            ids.push(1);
        }
        for (t, (partitions, changes)) in topics.iter().enumerate() {
            let topic_id = Uuid::from_u128(1000 + t as u128);
            let name = format!("topic-{t}");
            out.push(MetadataRecord::Topic {
                name: name.clone(),
                topic_id,
            });
            for p in 0..*partitions {
                let replicas: Vec<i32> = (0..ids.len().min(3))
                    .map(|i| ids[(p + i) % ids.len()])
                    .collect();
                out.push(MetadataRecord::Partition {
                    topic_id,
                    partition: p as i32,
                    isr: replicas.clone(),
                    leader: replicas[0],
                    replicas,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    adding: vec![],
                    removing: vec![],
                    leader_recovery: LeaderRecovery::Recovered,
                });
            }
            for (which, how) in changes {
                let p = *which as usize % partitions;
                let replicas: Vec<i32> = (0..ids.len().min(3))
                    .map(|i| ids[(p + i) % ids.len()])
                    .collect();
                let leader = replicas[*how as usize % replicas.len()];
                let (leader, isr, recovery) = match how % 4 {
                    0 => (Some(-1), vec![], None),
                    1 => (Some(leader), vec![leader], Some(LeaderRecovery::Recovering)),
                    _ => (
                        Some(leader),
                        replicas.clone(),
                        Some(LeaderRecovery::Recovered),
                    ),
                };
                out.push(MetadataRecord::PartitionChange {
                    topic_id,
                    partition: p as i32,
                    leader,
                    isr: Some(isr),
                    replicas: None,
                    adding: None,
                    removing: None,
                    leader_recovery: recovery,
                    bump_leader_epoch: how % 3 == 0,
                });
            }
            out.push(MetadataRecord::Config {
                resource: ConfigResource::Topic(name),
                name: "retention.ms".into(),
                value: Some(format!("{t}")),
            });
        }
        for (kind, name, value) in configs {
            let resource = match kind {
                0 => ConfigResource::Broker(None),
                1 => ConfigResource::Broker(Some(1)),
                _ => ConfigResource::Group(format!("g{name}")),
            };
            out.push(MetadataRecord::Config {
                resource,
                name: format!("name.{name}"),
                value: value.map(|v| v.to_string()),
            });
        }
        for b in 1..=pid_blocks {
            out.push(MetadataRecord::ProducerIds {
                broker_id: 1,
                next_producer_id: b * 1000,
            });
        }
        out
    }

    proptest! {
        /// A snapshot rebuilds the image.
        #[test]
        fn a_snapshot_rebuilds_the_image(records in history()) {
            let image = MetadataImage::empty().apply(0, &records).expect("a valid history");
            let snapshot = image.to_records();
            let mut rebuilt = MetadataImage::empty().apply(0, &snapshot).expect("a snapshot applies");
            rebuilt.offset = image.offset;
            prop_assert_eq!(&rebuilt, &image);
            // and a snapshot of the rebuilt image is the same snapshot
            prop_assert_eq!(rebuilt.to_records(), snapshot);
        }
    }

    #[test]
    fn an_empty_image_has_an_empty_snapshot() {
        assert!(MetadataImage::empty().to_records().is_empty());
    }
}
