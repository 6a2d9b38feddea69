//! Leader elections on request (ElectLeaders, KIP-460) and partition reassignments (KIP-455), as
//! the active controller plans them: pure functions from the image to `PartitionChange` records.
//!
//! A reassignment to target replicas `T` of a partition with replicas `R` first adds the new
//! replicas: the replicas become `T` followed by `R − T`, with `adding = T − R` and
//! `removing = R − T`. The new replicas copy the log from the leader; once every replica of `T`
//! is in the ISR, the next change of the partition (the ISR expansion that brings the last one
//! in) completes it: the replicas become `T`, the removed ones leave the ISR (and lead no more).
//! A reassignment that only reorders or removes in-sync replicas completes at once (see
//! [`super::partition_change`]). Cancelling reverts to `R`.

use super::partition_change::{Election, PartitionChangeBuilder};
use super::replication_control::is_active;
use crate::error::ErrorCode;
use crate::metadata::{MetadataImage, MetadataRecord, PartitionImage, TopicImage, NO_LEADER};

/// Why a partition's election or reassignment was refused: Kafka's error and message.
pub type Refusal = (ErrorCode, String);

/// The kind of an election on request (ElectLeaders' `election_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ElectionType {
    /// Move leadership to the first replica when it is in the ISR and alive.
    Preferred,
    /// Elect a leader for a partition that has none, from outside the ISR if needed.
    Unclean,
}

fn partition<'a>(
    image: &'a MetadataImage,
    topic: &str,
    index: i32,
) -> Result<(&'a TopicImage, &'a PartitionImage), Refusal> {
    let t = image.topics.get(topic).ok_or_else(|| {
        (
            ErrorCode::UnknownTopicOrPartition,
            format!("No such topic as {topic}"),
        )
    })?;
    let p = usize::try_from(index)
        .ok()
        .and_then(|i| t.partitions.get(i))
        .ok_or_else(|| {
            (
                ErrorCode::UnknownTopicOrPartition,
                format!("No such partition as {topic}-{index}"),
            )
        })?;
    Ok((t, p))
}

/// The change that elects a leader of `topic`-`index` as `kind` asks: ELECTION_NOT_NEEDED when
/// the preferred replica already leads (preferred) or a leader exists (unclean),
/// PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE when no such leader can be
/// chosen now.
pub fn elect_leader(
    image: &MetadataImage,
    topic: &str,
    index: i32,
    kind: ElectionType,
) -> Result<MetadataRecord, Refusal> {
    let (t, p) = partition(image, topic, index)?;
    let not_needed = match kind {
        ElectionType::Preferred => p.replicas.first() == Some(&p.leader),
        ElectionType::Unclean => p.leader != NO_LEADER,
    };
    if not_needed {
        return Err((
            ErrorCode::ElectionNotNeeded,
            "Leader election not needed for topic partition.".to_string(),
        ));
    }
    let active = |b: i32| is_active(image, b);
    let election = match kind {
        ElectionType::Preferred => Election::Preferred,
        ElectionType::Unclean => Election::Unclean,
    };
    PartitionChangeBuilder::new(t.id, index, p, &active)
        .election(election)
        .build()
        // (a change that elects nobody new is no election)
        .filter(|r| matches!(r, MetadataRecord::PartitionChange { leader: Some(l), .. } if *l != NO_LEADER))
        .ok_or_else(|| match kind {
            ElectionType::Preferred => (
                ErrorCode::PreferredLeaderNotAvailable,
                format!(
                    "Failed to elect leader for partition {topic}-{index} under strategy PreferredReplicaPartitionLeaderElectionStrategy"
                ),
            ),
            ElectionType::Unclean => (
                ErrorCode::EligibleLeadersNotAvailable,
                format!("No eligible replica of {topic}-{index} is alive"),
            ),
        })
}

/// Whether a reassignment of `p` is in progress.
pub fn is_reassigning(p: &PartitionImage) -> bool {
    !p.adding.is_empty() || !p.removing.is_empty()
}

/// The change that starts (or, with `target` `None`, cancels) a reassignment of
/// `topic`-`index`; `Ok(None)` when nothing changes. `unclean` says whether the topic allows an
/// unclean election (a cancel whose original replicas are all out of sync needs one);
/// `allow_rf_change` (AlterPartitionReassignments v1) whether the replica count may change.
pub fn alter_reassignment(
    image: &MetadataImage,
    topic: &str,
    index: i32,
    target: Option<&[i32]>,
    unclean: bool,
    allow_rf_change: bool,
) -> Result<Option<MetadataRecord>, Refusal> {
    let (t, p) = partition(image, topic, index)?;
    let active = |b: i32| is_active(image, b);
    let builder = PartitionChangeBuilder::new(t.id, index, p, &active);
    let Some(target) = target else {
        if !is_reassigning(p) {
            return Err((
                ErrorCode::NoReassignmentInProgress,
                "No partition reassignment is in progress.".to_string(),
            ));
        }
        // back to the original replicas: the ones being added leave, the ones being removed stay
        let original: Vec<i32> = p
            .replicas
            .iter()
            .copied()
            .filter(|r| !p.adding.contains(r))
            .collect();
        let mut isr: Vec<i32> = p
            .isr
            .iter()
            .copied()
            .filter(|r| !p.adding.contains(r))
            .collect();
        let mut election = Election::Clean;
        if isr.is_empty() {
            if !unclean {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "Unable to revert partition assignment for {topic}:{index} because it would require an unclean leader election."
                    ),
                ));
            }
            isr = original.iter().copied().take(1).collect();
            election = Election::Unclean;
        }
        return Ok(builder
            .replicas(original, vec![], vec![])
            .isr(isr)
            .election(election)
            .build());
    };
    validate_assignment(image, target)?;
    let original_len = p.replicas.len() - p.adding.len();
    if !allow_rf_change && target.len() != original_len {
        return Err((
            ErrorCode::InvalidReplicationFactor,
            format!(
                "The replication factor is changed from {original_len} to {}",
                target.len()
            ),
        ));
    }
    // a new target replaces an ongoing reassignment: it starts from the original replicas
    let current: Vec<i32> = p
        .replicas
        .iter()
        .copied()
        .filter(|r| !p.adding.contains(r) || target.contains(r))
        .collect();
    let removing: Vec<i32> = current
        .iter()
        .copied()
        .filter(|r| !target.contains(r))
        .collect();
    let adding: Vec<i32> = target
        .iter()
        .copied()
        .filter(|r| !current.contains(r) || p.adding.contains(r))
        .collect();
    let replicas: Vec<i32> = target.iter().chain(&removing).copied().collect();
    Ok(builder.replicas(replicas, adding, removing).build())
}

/// Kafka's checks of a manual assignment: not empty, no broker twice, every broker registered.
fn validate_assignment(image: &MetadataImage, replicas: &[i32]) -> Result<(), Refusal> {
    let invalid = |m: String| (ErrorCode::InvalidReplicaAssignment, m);
    if replicas.is_empty() {
        return Err(invalid(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    for (i, r) in replicas.iter().enumerate() {
        if replicas[..i].contains(r) {
            return Err(invalid(format!(
                "The manual partition assignment includes the broker {r} more than once."
            )));
        }
        if !image.brokers.contains_key(r) {
            return Err(invalid(format!(
                "The manual partition assignment includes broker {r}, but no such broker is registered."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::LeaderRecovery;
    use uuid::Uuid;

    const ID: Uuid = Uuid::from_u128(5);

    /// An image with brokers `brokers` (fenced: `fenced`) and topic `t` with one partition.
    fn image(
        brokers: &[i32],
        fenced: &[i32],
        replicas: &[i32],
        isr: &[i32],
        leader: i32,
    ) -> MetadataImage {
        let mut records = vec![];
        for b in brokers {
            records.push(MetadataRecord::RegisterBroker {
                broker_id: *b,
                host: "h".into(),
                port: 9000 + *b as u16,
                rack: None,
                epoch: i64::from(*b),
                incarnation_id: Uuid::from_u128(*b as u128),
                endpoints: vec![],
                fenced: fenced.contains(b),
                in_controlled_shutdown: false,
                directory_ids: vec![],
            });
        }
        records.push(MetadataRecord::Topic {
            name: "t".into(),
            topic_id: ID,
        });
        records.push(MetadataRecord::Partition {
            topic_id: ID,
            partition: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 1,
            partition_epoch: 1,
            adding: vec![],
            removing: vec![],
            leader_recovery: LeaderRecovery::Recovered,
        });
        MetadataImage::empty().apply(0, &records).unwrap()
    }

    fn then(img: &MetadataImage, r: MetadataRecord) -> MetadataImage {
        img.apply(img.offset + 1, &[r]).unwrap()
    }

    #[test]
    fn preferred_elections_move_leadership_to_the_first_replica_when_it_can_lead() {
        let img = image(&[1, 2, 3], &[], &[1, 2, 3], &[1, 2, 3], 2);
        let next = then(
            &img,
            elect_leader(&img, "t", 0, ElectionType::Preferred).unwrap(),
        );
        assert_eq!(next.topics["t"].partitions[0].leader, 1);
        let again = elect_leader(&next, "t", 0, ElectionType::Preferred).unwrap_err();
        assert_eq!(again.0, ErrorCode::ElectionNotNeeded);
        // the preferred replica is out of the ISR: not available
        let img = image(&[1, 2, 3], &[], &[1, 2, 3], &[2, 3], 2);
        let e = elect_leader(&img, "t", 0, ElectionType::Preferred).unwrap_err();
        assert_eq!(e.0, ErrorCode::PreferredLeaderNotAvailable);
        let e = elect_leader(&img, "t", 1, ElectionType::Preferred).unwrap_err();
        assert_eq!(e.0, ErrorCode::UnknownTopicOrPartition);
    }

    #[test]
    fn unclean_elections_only_for_partitions_without_a_leader() {
        let img = image(&[1, 2, 3], &[], &[1, 2, 3], &[1, 2, 3], 1);
        let e = elect_leader(&img, "t", 0, ElectionType::Unclean).unwrap_err();
        assert_eq!(e.0, ErrorCode::ElectionNotNeeded);
        // the last ISR member (1) is fenced: 2, out of the ISR, takes over
        let img = image(&[1, 2, 3], &[1], &[1, 2, 3], &[1], NO_LEADER);
        let next = then(
            &img,
            elect_leader(&img, "t", 0, ElectionType::Unclean).unwrap(),
        );
        let p = &next.topics["t"].partitions[0];
        assert_eq!((p.leader, &p.isr), (2, &vec![2]));
        // nobody alive
        let img = image(&[1, 2], &[1, 2], &[1, 2], &[1], NO_LEADER);
        let e = elect_leader(&img, "t", 0, ElectionType::Unclean).unwrap_err();
        assert_eq!(e.0, ErrorCode::EligibleLeadersNotAvailable);
    }

    #[test]
    fn a_reassignment_adds_first_and_can_be_cancelled() {
        let img = image(&[1, 2, 3, 4], &[], &[1, 2, 3], &[1, 2, 3], 1);
        let r = alter_reassignment(&img, "t", 0, Some(&[2, 3, 4]), false, true)
            .unwrap()
            .unwrap();
        let moving = then(&img, r);
        let p = &moving.topics["t"].partitions[0];
        assert_eq!(
            (&p.replicas, &p.adding, &p.removing),
            (&vec![2, 3, 4, 1], &vec![4], &vec![1])
        );
        assert!(is_reassigning(p));
        // cancelled: back to the original replicas (in the order of the reassignment, as Kafka
        // reverts)
        let r = alter_reassignment(&moving, "t", 0, None, false, true)
            .unwrap()
            .unwrap();
        let back = then(&moving, r);
        let p = &back.topics["t"].partitions[0];
        assert_eq!((&p.replicas, &p.isr), (&vec![2, 3, 1], &vec![1, 2, 3]));
        assert!(!is_reassigning(p));
        let e = alter_reassignment(&back, "t", 0, None, false, true).unwrap_err();
        assert_eq!(e.0, ErrorCode::NoReassignmentInProgress);
    }

    #[test]
    fn bad_targets_are_refused_as_kafka_refuses_them() {
        let img = image(&[1, 2, 3], &[], &[1, 2, 3], &[1, 2, 3], 1);
        for bad in [&[][..], &[1, 1, 2], &[1, 2, 9]] {
            let e = alter_reassignment(&img, "t", 0, Some(bad), false, true).unwrap_err();
            assert_eq!(e.0, ErrorCode::InvalidReplicaAssignment, "{bad:?}");
        }
        let e = alter_reassignment(&img, "t", 0, Some(&[1, 2]), false, false).unwrap_err();
        assert_eq!(e.0, ErrorCode::InvalidReplicationFactor);
        // a pure reorder completes at once, with no reassignment left in progress
        let r = alter_reassignment(&img, "t", 0, Some(&[3, 2, 1]), false, false)
            .unwrap()
            .unwrap();
        let p = then(&img, r).topics["t"].partitions[0].clone();
        assert_eq!(p.replicas, vec![3, 2, 1]);
        assert!(!is_reassigning(&p));
        assert!(
            alter_reassignment(&img, "t", 0, Some(&[1, 2, 3]), false, false)
                .unwrap()
                .is_none()
        );
    }
}
