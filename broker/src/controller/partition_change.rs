//! `PartitionChangeBuilder`: one partition's next leader, ISR and replicas, as a
//! `PartitionChange` record (Kafka's class of the same name).
//!
//! The builder starts from the partition's current state, takes the targets a caller sets (a new
//! ISR, new replicas, an election kind), picks the leader and emits only what changed. The rules:
//!
//! * the ISR never names a replica that is not in the replicas;
//! * a leader is a replica in the ISR that is active (registered, unfenced, not shutting down);
//!   the current leader stays while it is eligible, except in a preferred election;
//! * with no eligible leader, an unclean election (when allowed) takes the first active replica
//!   in replica order, makes the ISR `[it]` and marks it RECOVERING (KIP-704); otherwise the
//!   partition goes offline (`leader = -1`) and keeps its ISR, so that its last members can come
//!   back and lead cleanly;
//! * the leader epoch also rises when replicas are removed (the removed ones must not act on
//!   it), and the ISR never becomes empty;
//! * the record is `None` when nothing changes.

use uuid::Uuid;

use crate::metadata::{LeaderRecovery, MetadataRecord, PartitionImage, NO_LEADER};

/// How the leader is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Keep the current leader while it is eligible, else the first eligible replica.
    Clean,
    /// The first replica (the preferred leader) when it is eligible, else the current leader,
    /// else the first eligible replica.
    Preferred,
    /// As `Clean`, and when no replica in the ISR is eligible, the first active replica.
    Unclean,
}

/// Builds one partition's change.
pub struct PartitionChangeBuilder<'a> {
    topic_id: Uuid,
    partition: i32,
    current: &'a PartitionImage,
    active: &'a dyn Fn(i32) -> bool,
    isr: Option<Vec<i32>>,
    replicas: Option<Vec<i32>>,
    adding: Option<Vec<i32>>,
    removing: Option<Vec<i32>>,
    recovery: Option<LeaderRecovery>,
    election: Election,
    bump_leader_epoch: bool,
}

impl<'a> PartitionChangeBuilder<'a> {
    /// A builder for partition `partition` of topic `topic_id` in state `current`; `active`
    /// tells whether a broker may lead and be in the ISR.
    pub fn new(
        topic_id: Uuid,
        partition: i32,
        current: &'a PartitionImage,
        active: &'a dyn Fn(i32) -> bool,
    ) -> Self {
        PartitionChangeBuilder {
            topic_id,
            partition,
            current,
            active,
            isr: None,
            replicas: None,
            adding: None,
            removing: None,
            recovery: None,
            election: Election::Clean,
            bump_leader_epoch: false,
        }
    }

    /// Sets the target ISR.
    pub fn isr(mut self, isr: Vec<i32>) -> Self {
        self.isr = Some(isr);
        self
    }

    /// Sets the target replicas, with the reassignment's adding and removing sets.
    pub fn replicas(mut self, replicas: Vec<i32>, adding: Vec<i32>, removing: Vec<i32>) -> Self {
        self.replicas = Some(replicas);
        self.adding = Some(adding);
        self.removing = Some(removing);
        self
    }

    /// Sets the leader recovery state (a recovering leader that reports it has recovered).
    pub fn recovery(mut self, recovery: LeaderRecovery) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// Sets how the leader is chosen.
    pub fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    /// Raises the leader epoch even when the leader stays (a reassignment completes).
    pub fn bump_leader_epoch(mut self) -> Self {
        self.bump_leader_epoch = true;
        self
    }

    /// The change, or `None` when nothing would change.
    pub fn build(self) -> Option<MetadataRecord> {
        let cur = self.current;
        let mut replicas = self
            .replicas
            .clone()
            .unwrap_or_else(|| cur.replicas.clone());
        let mut adding = self.adding.clone().unwrap_or_else(|| cur.adding.clone());
        let mut removing = self
            .removing
            .clone()
            .unwrap_or_else(|| cur.removing.clone());
        // the ISR never empties (without eligible leader replicas, Kafka keeps its last member)
        let mut isr: Vec<i32> = self
            .isr
            .clone()
            .filter(|isr| !isr.is_empty())
            .unwrap_or_else(|| cur.isr.clone())
            .into_iter()
            .filter(|b| replicas.contains(b))
            .collect();
        if let Some((done_replicas, done_isr)) =
            completed_reassignment(&replicas, &isr, &adding, &removing)
        {
            (replicas, isr) = (done_replicas, done_isr);
            adding.clear();
            removing.clear();
        }
        let mut recovery = self.recovery.unwrap_or(cur.leader_recovery);
        let eligible = |b: i32| isr.contains(&b) && (self.active)(b);
        let preferred = replicas.first().copied().filter(|b| eligible(*b));
        let keep =
            Some(cur.leader).filter(|b| *b != NO_LEADER && replicas.contains(b) && eligible(*b));
        let first_eligible = replicas.iter().copied().find(|b| eligible(*b));
        let clean = match self.election {
            Election::Preferred => preferred.or(keep).or(first_eligible),
            Election::Clean | Election::Unclean => keep.or(first_eligible),
        };
        // (a clean election keeps the recovery state: only the recovering leader's AlterPartition
        // says it has recovered, KIP-704)
        let leader = match clean {
            Some(l) => l,
            None => match replicas.iter().copied().find(|b| (self.active)(*b)) {
                Some(l) if self.election == Election::Unclean => {
                    isr = vec![l];
                    recovery = LeaderRecovery::Recovering;
                    l
                }
                _ => NO_LEADER,
            },
        };
        let changed = |new: &Vec<i32>, old: &Vec<i32>| (new != old).then(|| new.clone());
        let record = MetadataRecord::PartitionChange {
            topic_id: self.topic_id,
            partition: self.partition,
            leader: (leader != cur.leader).then_some(leader),
            isr: changed(&isr, &cur.isr),
            replicas: changed(&replicas, &cur.replicas),
            adding: changed(&adding, &cur.adding),
            removing: changed(&removing, &cur.removing),
            leader_recovery: (recovery != cur.leader_recovery).then_some(recovery),
            // a replica removed from the partition must stop acting on the old epoch
            bump_leader_epoch: (self.bump_leader_epoch
                || cur.replicas.iter().any(|r| !replicas.contains(r)))
                && leader == cur.leader,
        };
        match &record {
            MetadataRecord::PartitionChange {
                leader: None,
                isr: None,
                replicas: None,
                adding: None,
                removing: None,
                leader_recovery: None,
                bump_leader_epoch: false,
                ..
            } => None,
            _ => Some(record),
        }
    }
}

/// The replicas and ISR a reassignment ends with, once its target replicas (the replicas less
/// the ones being removed) are all in the ISR and some of them are; `None` while it must wait,
/// or when none is in progress (Kafka's `PartitionReassignmentReplicas`).
fn completed_reassignment(
    replicas: &[i32],
    isr: &[i32],
    adding: &[i32],
    removing: &[i32],
) -> Option<(Vec<i32>, Vec<i32>)> {
    if adding.is_empty() && removing.is_empty() {
        return None;
    }
    let target: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|r| !removing.contains(r))
        .collect();
    let target_isr: Vec<i32> = isr
        .iter()
        .copied()
        .filter(|r| !removing.contains(r))
        .collect();
    (!target.is_empty() && !target_isr.is_empty() && target.iter().all(|r| target_isr.contains(r)))
        .then_some((target, target_isr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{MetadataImage, MetadataRecord};
    use proptest::prelude::*;

    fn partition(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionImage {
        PartitionImage {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 7,
            adding: vec![],
            removing: vec![],
            leader_recovery: LeaderRecovery::Recovered,
        }
    }

    /// The leader, ISR and recovery fields of a change.
    type Fields = (Option<i32>, Option<Vec<i32>>, Option<LeaderRecovery>);

    fn fields(r: Option<MetadataRecord>) -> Option<Fields> {
        match r? {
            MetadataRecord::PartitionChange {
                leader,
                isr,
                leader_recovery,
                ..
            } => Some((leader, isr, leader_recovery)),
            other => panic!("not a change: {other:?}"),
        }
    }

    const ID: Uuid = Uuid::from_u128(9);

    #[test]
    fn nothing_to_change_is_no_record() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let all = |_| true;
        assert!(PartitionChangeBuilder::new(ID, 0, &p, &all)
            .build()
            .is_none());
        assert!(PartitionChangeBuilder::new(ID, 0, &p, &all)
            .isr(vec![1, 2, 3])
            .build()
            .is_none());
    }

    #[test]
    fn a_fenced_leader_is_replaced_by_the_first_eligible_replica_in_replica_order() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let not_1 = |b| b != 1;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &not_1)
            .isr(vec![2, 3])
            .build();
        assert_eq!(fields(r), Some((Some(2), Some(vec![2, 3]), None)));
    }

    #[test]
    fn a_shrunk_isr_keeps_an_eligible_leader() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 2);
        let all = |_| true;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all)
            .isr(vec![2])
            .build();
        assert_eq!(fields(r), Some((None, Some(vec![2]), None)));
    }

    #[test]
    fn no_eligible_replica_takes_the_partition_offline_with_its_isr() {
        let p = partition(&[1, 2, 3], &[1], 1);
        let none = |_| false;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &none).build();
        assert_eq!(fields(r), Some((Some(NO_LEADER), None, None)));
    }

    #[test]
    fn an_unclean_election_takes_an_active_replica_outside_the_isr_as_recovering() {
        let p = partition(&[1, 2, 3], &[1], 1);
        let only_3 = |b| b == 3;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &only_3)
            .election(Election::Unclean)
            .build();
        assert_eq!(
            fields(r),
            Some((Some(3), Some(vec![3]), Some(LeaderRecovery::Recovering)))
        );
        // but a clean candidate always wins over an unclean one
        let p = partition(&[1, 2, 3], &[1, 2], 1);
        let not_1 = |b| b != 1;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &not_1)
            .election(Election::Unclean)
            .build();
        assert_eq!(fields(r), Some((Some(2), None, None)));
    }

    #[test]
    fn a_preferred_election_moves_leadership_back_to_the_first_replica() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 2);
        let all = |_| true;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all)
            .election(Election::Preferred)
            .build();
        assert_eq!(fields(r), Some((Some(1), None, None)));
        // not when the preferred replica is out of the ISR
        let p = partition(&[1, 2, 3], &[2, 3], 2);
        assert!(PartitionChangeBuilder::new(ID, 0, &p, &all)
            .election(Election::Preferred)
            .build()
            .is_none());
        // a leaderless partition gets the first eligible replica
        let p = partition(&[1, 2, 3], &[2, 3], NO_LEADER);
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all)
            .election(Election::Preferred)
            .build();
        assert_eq!(fields(r), Some((Some(2), None, None)));
    }

    #[test]
    fn a_recovering_leader_stays_recovering_until_it_says_otherwise() {
        let mut p = partition(&[1, 2, 3], &[3], NO_LEADER);
        p.leader_recovery = LeaderRecovery::Recovering;
        let all = |_| true;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all).build();
        assert_eq!(fields(r), Some((Some(3), None, None)));
        let p = partition(&[1, 2, 3], &[3], 3);
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all)
            .recovery(LeaderRecovery::Recovering)
            .build();
        assert_eq!(
            fields(r),
            Some((None, None, Some(LeaderRecovery::Recovering)))
        );
    }

    #[test]
    fn removing_a_replica_raises_the_leader_epoch_and_an_empty_isr_is_ignored() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let all = |_| true;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all)
            .replicas(vec![1, 2], vec![], vec![])
            .build();
        match r {
            Some(MetadataRecord::PartitionChange {
                isr,
                bump_leader_epoch,
                ..
            }) => {
                assert_eq!(isr, Some(vec![1, 2]));
                assert!(bump_leader_epoch);
            }
            other => panic!("{other:?}"),
        }
        assert!(PartitionChangeBuilder::new(ID, 0, &p, &all)
            .isr(vec![])
            .build()
            .is_none());
    }

    /// (replicas, isr, leader, adding, removing) after a change.
    fn after(p: &PartitionImage, r: Option<MetadataRecord>) -> PartitionImage {
        let mut next = p.clone();
        if let Some(MetadataRecord::PartitionChange {
            leader,
            isr,
            replicas,
            adding,
            removing,
            ..
        }) = r
        {
            next.leader = leader.unwrap_or(p.leader);
            next.isr = isr.unwrap_or_else(|| p.isr.clone());
            next.replicas = replicas.unwrap_or_else(|| p.replicas.clone());
            next.adding = adding.unwrap_or_else(|| p.adding.clone());
            next.removing = removing.unwrap_or_else(|| p.removing.clone());
        }
        next
    }

    #[test]
    fn a_reassignment_waits_for_its_new_replicas_then_drops_the_old_ones() {
        let all = |_| true;
        // [1, 2, 3] -> [2, 3, 4]: 4 is added, 1 removed once 4 is in sync
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let started = after(
            &p,
            PartitionChangeBuilder::new(ID, 0, &p, &all)
                .replicas(vec![2, 3, 4, 1], vec![4], vec![1])
                .build(),
        );
        assert_eq!(
            (&started.replicas, &started.isr, started.leader),
            (&vec![2, 3, 4, 1], &vec![1, 2, 3], 1)
        );
        assert_eq!((&started.adding, &started.removing), (&vec![4], &vec![1]));
        // an ISR change without 4 leaves it in progress
        let still = after(
            &started,
            PartitionChangeBuilder::new(ID, 0, &started, &all)
                .isr(vec![1, 2])
                .build(),
        );
        assert_eq!(still.adding, vec![4]);
        // 4 joins the ISR: the reassignment completes, and leader 1, removed, is replaced
        let done = after(
            &started,
            PartitionChangeBuilder::new(ID, 0, &started, &all)
                .isr(vec![1, 2, 3, 4])
                .build(),
        );
        assert_eq!(
            (&done.replicas, &done.isr, done.leader),
            (&vec![2, 3, 4], &vec![2, 3, 4], 2)
        );
        assert!(done.adding.is_empty() && done.removing.is_empty());
    }

    #[test]
    fn a_reassignment_that_only_removes_in_sync_replicas_completes_at_once() {
        let all = |_| true;
        let p = partition(&[1, 2, 3], &[1, 2, 3], 3);
        let done = after(
            &p,
            PartitionChangeBuilder::new(ID, 0, &p, &all)
                .replicas(vec![1, 2, 3], vec![], vec![3])
                .build(),
        );
        assert_eq!(
            (&done.replicas, &done.isr, done.leader),
            (&vec![1, 2], &vec![1, 2], 1)
        );
        assert!(done.removing.is_empty());
    }

    #[test]
    fn an_offline_partition_is_led_again_when_an_isr_member_returns() {
        let p = partition(&[1, 2, 3], &[2], NO_LEADER);
        let all = |_| true;
        let r = PartitionChangeBuilder::new(ID, 0, &p, &all).build();
        assert_eq!(fields(r), Some((Some(2), None, None)));
    }

    proptest! {
        /// Whatever the targets, the change applies to the image (the leader is an active ISR
        /// member or there is none, the ISR is within the replicas) and an eligible current
        /// leader stays unless a preferred election moves it.
        #[test]
        fn every_change_applies_and_keeps_an_eligible_leader(
            isr_bits in 0u8..8, new_isr_bits in prop::option::of(0u8..8),
            leader_idx in 0usize..4, active_bits in 0u8..8, kind in 0u8..3,
        ) {
            let replicas = vec![1, 2, 3];
            let pick = |bits: u8| -> Vec<i32> { replicas.iter().copied().filter(|b| bits & (1 << (b - 1)) != 0).collect() };
            let isr = pick(isr_bits);
            let leader = isr.get(leader_idx).copied().unwrap_or(NO_LEADER);
            let p = partition(&replicas, &isr, leader);
            let active = move |b: i32| active_bits & (1 << (b - 1)) != 0;
            let election = [Election::Clean, Election::Preferred, Election::Unclean][kind as usize];
            let mut b = PartitionChangeBuilder::new(ID, 0, &p, &active).election(election);
            if let Some(bits) = new_isr_bits { b = b.isr(pick(bits)); }
            let record = b.build();
            let image = MetadataImage::empty().apply(0, &[
                MetadataRecord::Topic { name: "t".into(), topic_id: ID },
                MetadataRecord::Partition {
                    topic_id: ID, partition: 0, replicas: p.replicas.clone(), isr: p.isr.clone(),
                    leader: p.leader, leader_epoch: 3, partition_epoch: 7, adding: vec![], removing: vec![],
                    leader_recovery: LeaderRecovery::Recovered,
                },
            ]).unwrap();
            let Some(record) = record else { return Ok(()); };
            let next = image.apply(2, &[record]).expect("a built change applies");
            let np = &next.topics["t"].partitions[0];
            prop_assert!(np.leader == NO_LEADER || (active(np.leader) && np.isr.contains(&np.leader)));
            let target_isr = new_isr_bits.map(pick).unwrap_or(isr.clone());
            if election != Election::Preferred && leader != NO_LEADER && active(leader) && target_isr.contains(&leader) {
                prop_assert_eq!(np.leader, leader);
            }
            prop_assert_eq!(np.partition_epoch, 8);
        }
    }
}
