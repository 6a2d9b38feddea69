//! What a broker's state does to partitions: the leader and ISR changes the controller commits
//! when a broker is fenced, starts a controlled shutdown, or is unfenced, and preferred-leader
//! elections. Pure functions over the image (Kafka's `ReplicationControlManager`); the image they
//! get already holds the broker's new state, so "active" is read from it.

use crate::metadata::{MetadataImage, MetadataRecord, TopicImage, NO_LEADER};

use super::partition_change::{Election, PartitionChangeBuilder};

/// A change of one broker's state that the controller must commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerTransition {
    /// Unfence it; offline partitions it can lead get a leader.
    Unfence,
    /// Fence it: it leaves ISRs and leaderships.
    Fence,
    /// Mark it in controlled shutdown: its leaderships move away.
    ControlledShutdown,
}

/// Most preferred-leader elections one rebalance check makes (Kafka's
/// `maxElectionsPerImbalance`).
pub const MAX_ELECTIONS_PER_REBALANCE: usize = 1_000;

/// Whether `broker` may lead and be in ISRs in `image`: registered, unfenced, not shutting down.
pub fn is_active(image: &MetadataImage, broker: i32) -> bool {
    image.brokers.get(&broker).is_some_and(|b| b.is_active())
}

fn election_for(topic: &TopicImage, unclean: &dyn Fn(&TopicImage) -> bool) -> Election {
    if unclean(topic) {
        Election::Unclean
    } else {
        Election::Clean
    }
}

/// The records of a broker transition: the broker record first, then the partition changes it
/// causes, planned on the image with the broker record applied. `None` when the broker is not
/// registered.
pub fn transition_records(
    image: &MetadataImage,
    broker: i32,
    transition: BrokerTransition,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Option<Vec<MetadataRecord>> {
    let epoch = image.brokers.get(&broker)?.epoch;
    let first = match transition {
        BrokerTransition::Unfence => MetadataRecord::UnfenceBroker {
            broker_id: broker,
            epoch,
        },
        BrokerTransition::Fence => MetadataRecord::FenceBroker {
            broker_id: broker,
            epoch,
        },
        BrokerTransition::ControlledShutdown => MetadataRecord::BrokerRegistrationChange {
            broker_id: broker,
            epoch,
            in_controlled_shutdown: Some(true),
        },
    };
    let staged = image
        .apply(image.offset + 1, std::slice::from_ref(&first))
        .ok()?;
    let mut out = vec![first];
    match transition {
        BrokerTransition::Unfence => out.extend(on_broker_active(&staged, broker, unclean)),
        BrokerTransition::Fence | BrokerTransition::ControlledShutdown => {
            out.extend(on_broker_inactive(&staged, broker, unclean))
        }
    }
    Some(out)
}

/// The changes when `broker` stops being active (fenced, or in controlled shutdown): it leaves
/// every ISR (except where it is the last member: the ISR never empties, so that the partition
/// can come back cleanly with it) and every partition it led elects another leader, or goes
/// offline. `unclean` tells whether a topic allows unclean elections
/// (`unclean.leader.election.enable`).
pub fn on_broker_inactive(
    image: &MetadataImage,
    broker: i32,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Vec<MetadataRecord> {
    let active = |b: i32| is_active(image, b);
    let mut out = Vec::new();
    for (topic, index, p) in image.partitions_with_replica(broker) {
        if !p.isr.contains(&broker) && p.leader != broker {
            continue;
        }
        let isr: Vec<i32> = if p.isr == [broker] {
            p.isr.clone()
        } else {
            p.isr.iter().copied().filter(|b| *b != broker).collect()
        };
        let change = PartitionChangeBuilder::new(topic.id, index, p, &active)
            .isr(isr)
            .election(election_for(topic, unclean))
            .build();
        out.extend(change);
    }
    out
}

/// The changes when `broker` becomes active again: every offline partition it can lead gets a
/// leader (itself when it is in the ISR; uncleanly only where the topic allows it). Rejoining ISRs
/// goes through the leaders, once the broker has caught up.
pub fn on_broker_active(
    image: &MetadataImage,
    broker: i32,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Vec<MetadataRecord> {
    let active = |b: i32| is_active(image, b);
    let mut out = Vec::new();
    for (topic, index, p) in image.partitions_with_replica(broker) {
        if p.leader != NO_LEADER {
            continue;
        }
        let change = PartitionChangeBuilder::new(topic.id, index, p, &active)
            .election(election_for(topic, unclean))
            .build();
        out.extend(change);
    }
    out
}

/// Preferred-leader elections for every partition not led by its first replica where that
/// replica is eligible (Kafka's `maybeBalancePartitionLeaders`, run every
/// `leader.imbalance.check.interval.seconds` when `auto.leader.rebalance.enable`), at most `max`.
pub fn rebalance_leaders(image: &MetadataImage, max: usize) -> Vec<MetadataRecord> {
    let active = |b: i32| is_active(image, b);
    let mut out = Vec::new();
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            if out.len() >= max {
                return out;
            }
            if p.replicas.first() == Some(&p.leader) {
                continue;
            }
            out.extend(
                PartitionChangeBuilder::new(topic.id, index as i32, p, &active)
                    .election(Election::Preferred)
                    .build(),
            );
        }
    }
    out
}

/// Unclean elections for the partitions without a leader whose topic now allows them (Kafka's
/// periodic `maybeElectUncleanLeaders`): a topic whose `unclean.leader.election.enable` was
/// turned on after its partitions went offline gets leaders back.
pub fn elect_unclean_leaders(
    image: &MetadataImage,
    unclean: &dyn Fn(&TopicImage) -> bool,
) -> Vec<MetadataRecord> {
    let active = |b: i32| is_active(image, b);
    let mut out = Vec::new();
    for topic in image.topics.values().filter(|t| unclean(t)) {
        for (index, p) in topic.partitions.iter().enumerate() {
            if p.leader == NO_LEADER {
                out.extend(
                    PartitionChangeBuilder::new(topic.id, index as i32, p, &active)
                        .election(Election::Unclean)
                        .build(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{LeaderRecovery, PartitionImage};
    use uuid::Uuid;

    /// Brokers 1..=n registered and unfenced; topic "t" with the given (replicas, isr, leader).
    fn image(n: i32, topic: &str, partitions: &[(&[i32], &[i32], i32)]) -> MetadataImage {
        let mut records = Vec::new();
        for b in 1..=n {
            records.push(MetadataRecord::RegisterBroker {
                broker_id: b,
                host: "h".into(),
                port: 9000 + b as u16,
                rack: None,
                epoch: 10 + b as i64,
                incarnation_id: Uuid::nil(),
                endpoints: vec![],
                fenced: false,
                in_controlled_shutdown: false,
                directory_ids: vec![],
            });
        }
        let id = Uuid::from_u128(5);
        records.push(MetadataRecord::Topic {
            name: topic.into(),
            topic_id: id,
        });
        for (i, (replicas, isr, leader)) in partitions.iter().enumerate() {
            records.push(MetadataRecord::Partition {
                topic_id: id,
                partition: i as i32,
                replicas: replicas.to_vec(),
                isr: isr.to_vec(),
                leader: *leader,
                leader_epoch: 0,
                partition_epoch: 0,
                adding: vec![],
                removing: vec![],
                leader_recovery: LeaderRecovery::Recovered,
            });
        }
        MetadataImage::empty().apply(0, &records).unwrap()
    }

    fn fence(image: &MetadataImage, b: i32) -> MetadataImage {
        let epoch = image.brokers[&b].epoch;
        image
            .apply(
                image.offset + 1,
                &[MetadataRecord::FenceBroker {
                    broker_id: b,
                    epoch,
                }],
            )
            .unwrap()
    }

    fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        image.apply(image.offset + 1, records).unwrap()
    }

    fn state(image: &MetadataImage, topic: &str) -> Vec<(i32, Vec<i32>, i32)> {
        image.topics[topic]
            .partitions
            .iter()
            .map(|p: &PartitionImage| (p.leader, p.isr.clone(), p.leader_epoch))
            .collect()
    }

    const CLEAN: &dyn Fn(&TopicImage) -> bool = &|_| false;
    const UNCLEAN: &dyn Fn(&TopicImage) -> bool = &|_| true;

    #[test]
    fn a_fenced_broker_leaves_isrs_and_its_leaderships_move() {
        let img = image(
            3,
            "t",
            &[
                (&[1, 2, 3], &[1, 2, 3], 1),
                (&[2, 3, 1], &[2, 3, 1], 2),
                (&[2, 3], &[2, 3], 2),
            ],
        );
        let img = fence(&img, 1);
        let changes = on_broker_inactive(&img, 1, CLEAN);
        assert_eq!(
            changes.len(),
            2,
            "the partition without broker 1 is untouched"
        );
        let next = apply(&img, &changes);
        assert_eq!(
            state(&next, "t"),
            vec![(2, vec![2, 3], 1), (2, vec![2, 3], 0), (2, vec![2, 3], 0)]
        );
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_offline_then_returns() {
        let img = image(3, "t", &[(&[1, 2, 3], &[1], 1)]);
        let img = fence(&img, 1);
        let next = apply(&img, &on_broker_inactive(&img, 1, CLEAN));
        assert_eq!(state(&next, "t"), vec![(NO_LEADER, vec![1], 1)]);
        // broker 1 comes back with a new registration and is unfenced: it leads again
        let back = apply(
            &next,
            &[
                MetadataRecord::RegisterBroker {
                    broker_id: 1,
                    host: "h".into(),
                    port: 9001,
                    rack: None,
                    epoch: 20,
                    incarnation_id: Uuid::nil(),
                    endpoints: vec![],
                    fenced: true,
                    in_controlled_shutdown: false,
                    directory_ids: vec![],
                },
                MetadataRecord::UnfenceBroker {
                    broker_id: 1,
                    epoch: 20,
                },
            ],
        );
        let next = apply(&back, &on_broker_active(&back, 1, CLEAN));
        assert_eq!(state(&next, "t"), vec![(1, vec![1], 2)]);
        // broker 2 coming back does not make it leader: it is not in the ISR
        assert!(on_broker_active(&next, 2, CLEAN).is_empty());
    }

    #[test]
    fn an_unclean_topic_elects_an_out_of_sync_replica() {
        let img = image(3, "t", &[(&[1, 2, 3], &[1], 1)]);
        let img = fence(&img, 1);
        let next = apply(&img, &on_broker_inactive(&img, 1, UNCLEAN));
        let p = &next.topics["t"].partitions[0];
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2]));
        assert_eq!(p.leader_recovery, LeaderRecovery::Recovering);
    }

    #[test]
    fn turning_unclean_election_on_later_brings_offline_partitions_back() {
        let img = image(3, "t", &[(&[1, 2, 3], &[1], 1), (&[2, 3], &[2, 3], 2)]);
        let img = fence(&img, 1);
        let img = apply(&img, &on_broker_inactive(&img, 1, CLEAN));
        assert_eq!(state(&img, "t")[0].0, NO_LEADER);
        assert!(elect_unclean_leaders(&img, CLEAN).is_empty());
        let next = apply(&img, &elect_unclean_leaders(&img, UNCLEAN));
        assert_eq!(state(&next, "t")[0].0, 2);
        assert_eq!(
            state(&next, "t")[1],
            (2, vec![2, 3], 0),
            "a led partition is left alone"
        );
    }

    #[test]
    fn a_broker_in_controlled_shutdown_hands_its_leaderships_over() {
        let img = image(3, "t", &[(&[1, 2, 3], &[1, 2, 3], 1), (&[1, 2], &[1], 1)]);
        let img = apply(
            &img,
            &[MetadataRecord::BrokerRegistrationChange {
                broker_id: 1,
                epoch: 11,
                in_controlled_shutdown: Some(true),
            }],
        );
        let next = apply(&img, &on_broker_inactive(&img, 1, CLEAN));
        assert_eq!(
            state(&next, "t"),
            vec![(2, vec![2, 3], 1), (NO_LEADER, vec![1], 1)]
        );
    }

    #[test]
    fn leaders_go_back_to_eligible_preferred_replicas() {
        let img = image(
            3,
            "t",
            &[
                (&[1, 2], &[1, 2], 2),
                (&[1, 3], &[3], 3),
                (&[1, 3], &[1, 3], 1),
                (&[2, 3], &[2, 3], 3),
                (&[3, 2], &[3, 2], NO_LEADER),
            ],
        );
        let next = apply(&img, &rebalance_leaders(&img, MAX_ELECTIONS_PER_REBALANCE));
        let leaders: Vec<i32> = state(&next, "t").iter().map(|s| s.0).collect();
        // partition 1's preferred leader is out of the ISR; a leaderless partition is elected
        assert_eq!(leaders, vec![1, 3, 1, 2, 3]);
        assert!(rebalance_leaders(&next, MAX_ELECTIONS_PER_REBALANCE).is_empty());
        assert_eq!(rebalance_leaders(&img, 2).len(), 2, "at most max per check");
    }

    #[test]
    fn a_transition_commits_the_broker_record_then_its_partition_changes() {
        let img = image(2, "t", &[(&[1, 2], &[1, 2], 1)]);
        let records = transition_records(&img, 1, BrokerTransition::Fence, CLEAN).unwrap();
        assert!(matches!(
            records[0],
            MetadataRecord::FenceBroker { broker_id: 1, .. }
        ));
        let next = apply(&img, &records);
        assert_eq!(state(&next, "t"), vec![(2, vec![2], 1)]);
        assert!(next.brokers[&1].fenced);
        assert!(transition_records(&img, 7, BrokerTransition::Fence, CLEAN).is_none());
    }
}
