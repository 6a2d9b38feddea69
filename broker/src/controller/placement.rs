//! Replica placement for new partitions: Kafka's rack-aware striping.
//!
//! Brokers are listed alternating between racks (rack a's first broker, rack b's first, ..., rack
//! a's second, ...). Partition `p`'s leader is the broker at `(p + start) % n` of that list; its
//! followers follow at a shift that grows every `n` partitions, skipping a broker whose rack
//! already holds a replica until every rack has one. So leaders spread over brokers, replicas of
//! one partition over racks, and followers of one broker's leaderships over the others. Pure: the
//! caller picks the random `start` and `shift` (Kafka picks them at random per topic).

use std::collections::{BTreeMap, BTreeSet};

/// A broker that may receive new replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementBroker {
    /// Node id.
    pub id: i32,
    /// Its `broker.rack`, if set.
    pub rack: Option<String>,
}

/// Where a topic's placement starts: the leader of its first partition and the followers' first
/// shift, as indexes into the rack-alternated broker list (taken modulo its length).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stripe {
    /// Index of the first partition's leader.
    pub start: usize,
    /// The followers' initial shift.
    pub shift: usize,
}

impl Stripe {
    /// A random stripe, as Kafka starts every topic at a random broker.
    pub fn random() -> Self {
        let bits = uuid::Uuid::new_v4().as_u128();
        Stripe {
            start: (bits as u32) as usize,
            shift: ((bits >> 32) as u32) as usize,
        }
    }
}

/// Why no placement is possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The replication factor is below 1.
    #[error("Replication factor must be larger than 0.")]
    NonPositive,
    /// More replicas than usable brokers.
    #[error("Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {brokers} broker(s) are registered.")]
    NotEnoughBrokers {
        /// The replication factor asked for.
        rf: i16,
        /// Usable brokers.
        brokers: usize,
    },
}

/// Replica lists for partitions `from..to` with `rf` replicas each over `brokers` (which the
/// caller has limited to unfenced brokers not shutting down).
pub fn place(
    brokers: &[PlacementBroker],
    from: i32,
    to: i32,
    rf: i16,
    stripe: Stripe,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    if rf < 1 {
        return Err(PlacementError::NonPositive);
    }
    let rf = rf as usize;
    if rf > brokers.len() {
        return Err(PlacementError::NotEnoughBrokers {
            rf: rf as i16,
            brokers: brokers.len(),
        });
    }
    let (list, racks) = rack_alternated(brokers);
    let n = list.len();
    let rack_of: BTreeMap<i32, Option<&str>> =
        brokers.iter().map(|b| (b.id, b.rack.as_deref())).collect();
    let start = stripe.start % n;
    let mut shift = stripe.shift % n;
    let mut out = Vec::with_capacity((to - from).max(0) as usize);
    for p in from.max(0)..to {
        let p = p as usize;
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![list[first]];
        let mut used_racks: BTreeSet<Option<&str>> = BTreeSet::from([rack_of[&list[first]]]);
        let mut k = 0;
        while replicas.len() < rf {
            let candidate = list[follower_index(first, shift * racks, k, n)];
            k += 1;
            let rack = rack_of[&candidate];
            let rack_ok = !used_racks.contains(&rack) || used_racks.len() == racks;
            if rack_ok && !replicas.contains(&candidate) {
                replicas.push(candidate);
                used_racks.insert(rack);
            }
            if k > 2 * n * n {
                // cannot happen (rf ≤ n distinct brokers exist); never loop forever
                break;
            }
        }
        out.push(replicas);
    }
    Ok(out)
}

/// The index of a partition's `k`th follower candidate (Kafka's `replicaIndex`).
fn follower_index(first: usize, shift: usize, k: usize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    (first + 1 + (shift + k) % (n - 1)) % n
}

/// Brokers ordered by id within each rack, then interleaved rack by rack; and the rack count.
/// Brokers without a rack form one rack of their own.
fn rack_alternated(brokers: &[PlacementBroker]) -> (Vec<i32>, usize) {
    let mut by_rack: BTreeMap<Option<&str>, Vec<i32>> = BTreeMap::new();
    for b in brokers {
        by_rack.entry(b.rack.as_deref()).or_default().push(b.id);
    }
    for ids in by_rack.values_mut() {
        ids.sort_unstable();
    }
    let racks = by_rack.len();
    let longest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    let mut list = Vec::with_capacity(brokers.len());
    for i in 0..longest {
        for ids in by_rack.values() {
            if let Some(id) = ids.get(i) {
                list.push(*id);
            }
        }
    }
    (list, racks.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brokers(racks: &[Option<&str>]) -> Vec<PlacementBroker> {
        racks
            .iter()
            .enumerate()
            .map(|(i, r)| PlacementBroker {
                id: i as i32 + 1,
                rack: r.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn one_broker_holds_every_partition() {
        let b = brokers(&[None]);
        let placed = place(&b, 0, 3, 1, Stripe::random()).unwrap();
        assert_eq!(placed, vec![vec![1], vec![1], vec![1]]);
    }

    #[test]
    fn too_few_brokers_is_the_replication_factor_error() {
        let b = brokers(&[None, None]);
        let e = place(&b, 0, 1, 3, Stripe::default()).unwrap_err();
        assert_eq!(e.to_string(), "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered.");
        assert_eq!(
            place(&b, 0, 1, 0, Stripe::default()),
            Err(PlacementError::NonPositive)
        );
    }

    #[test]
    fn leaders_stripe_over_brokers_and_followers_follow() {
        let b = brokers(&[None, None, None]);
        let placed = place(&b, 0, 3, 3, Stripe::default()).unwrap();
        assert_eq!(placed, vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]]);
    }

    #[test]
    fn replicas_of_a_partition_land_in_different_racks() {
        // racks a: 1, 2   b: 3, 4   c: 5, 6
        let b = brokers(&[
            Some("a"),
            Some("a"),
            Some("b"),
            Some("b"),
            Some("c"),
            Some("c"),
        ]);
        let placed = place(&b, 0, 12, 3, Stripe { start: 4, shift: 2 }).unwrap();
        for replicas in &placed {
            let racks: BTreeSet<_> = replicas.iter().map(|id| (id - 1) / 2).collect();
            assert_eq!(racks.len(), 3, "{replicas:?} spans every rack");
        }
    }

    proptest! {
        /// Placement never repeats a broker, uses only the given brokers, spreads a partition
        /// over min(rf, racks) racks, and gives every broker a near-equal share of leaders.
        #[test]
        fn placements_are_valid_and_spread(
            racks in prop::collection::vec(prop::option::of(0u8..3), 1..8),
            rf in 1i16..4,
            partitions in 1i32..40,
            start in any::<u16>(),
            shift in any::<u16>(),
        ) {
            let b: Vec<PlacementBroker> = racks.iter().enumerate().map(|(i, r)| PlacementBroker {
                id: i as i32 * 10 + 3,
                rack: r.map(|r| format!("rack-{r}")),
            }).collect();
            let stripe = Stripe { start: start as usize, shift: shift as usize };
            let placed = place(&b, 0, partitions, rf, stripe);
            if rf as usize > b.len() {
                prop_assert!(placed.is_err());
                return Ok(());
            }
            let placed = placed.unwrap();
            prop_assert_eq!(placed.len(), partitions as usize);
            let rack_count = racks.iter().collect::<BTreeSet<_>>().len();
            let mut leaders: BTreeMap<i32, usize> = BTreeMap::new();
            for replicas in &placed {
                prop_assert_eq!(replicas.len(), rf as usize);
                let uniq: BTreeSet<_> = replicas.iter().collect();
                prop_assert_eq!(uniq.len(), replicas.len());
                prop_assert!(replicas.iter().all(|r| b.iter().any(|x| x.id == *r)));
                let used: BTreeSet<_> = replicas.iter()
                    .map(|r| b.iter().find(|x| x.id == *r).unwrap().rack.clone())
                    .collect();
                prop_assert_eq!(used.len(), (rf as usize).min(rack_count));
                *leaders.entry(replicas[0]).or_default() += 1;
            }
            let most = leaders.values().max().copied().unwrap_or(0);
            let least = if leaders.len() == b.len() { leaders.values().min().copied().unwrap_or(0) } else { 0 };
            prop_assert!(most - least <= 1, "leaders {:?}", leaders);
        }
    }
}
