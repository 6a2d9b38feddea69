//! Server-side assignors of the consumer group protocol (KIP-848): `uniform` (balanced and
//! sticky) and `range` (co-partitioned ranges per topic), with Kafka's names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// A member as an assignor sees it.
#[derive(Debug, Clone)]
pub struct AssignorMember {
    /// Member id.
    pub id: String,
    /// Topics it subscribes to (existing ones).
    pub topics: BTreeSet<Uuid>,
    /// What it is assigned now (for stickiness).
    pub current: Assignment,
}

/// Computes the target assignment with the named assignor. `topics` gives the partition count
/// of every subscribed topic.
pub fn assign(
    name: &str,
    members: &[AssignorMember],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    match name {
        "range" => range(members, topics),
        _ => uniform(members, topics),
    }
}

/// Every member subscribed to a topic gets a contiguous range of its partitions, members in
/// id order, the first ones one partition more when they do not divide evenly.
fn range(members: &[AssignorMember], topics: &BTreeMap<Uuid, i32>) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.clone(), Assignment::new()))
        .collect();
    for (topic, &count) in topics {
        let mut subs: Vec<&AssignorMember> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        let n = subs.len() as i32;
        let (per, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            if take > 0 {
                out.entry(m.id.clone())
                    .or_default()
                    .entry(*topic)
                    .or_default()
                    .extend(next..next + take);
            }
            next += take;
        }
    }
    out
}

/// Spreads all partitions evenly (counts differ by at most one between members with the same
/// subscriptions), keeping each member's current partitions where the balance allows, so that
/// a rebalance moves as few partitions as possible.
fn uniform(
    members: &[AssignorMember],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.clone(), Assignment::new()))
        .collect();
    let active: Vec<&AssignorMember> = members.iter().filter(|m| !m.topics.is_empty()).collect();
    if active.is_empty() {
        return out;
    }
    let partitions: Vec<(Uuid, i32)> = topics
        .iter()
        .filter(|(t, _)| active.iter().any(|m| m.topics.contains(t)))
        .flat_map(|(t, &n)| (0..n).map(move |p| (*t, p)))
        .collect();
    let total = partitions.len();
    let floor = total / active.len();
    let mut extra = total - floor * active.len();
    let mut load: HashMap<&str, usize> = HashMap::new();
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    let valid = |m: &AssignorMember, t: &Uuid, p: i32| {
        m.topics.contains(t) && topics.get(t).is_some_and(|&n| p < n)
    };
    // 1. everyone keeps up to `floor` of what it has
    let mut leftovers: Vec<(&AssignorMember, Vec<(Uuid, i32)>)> = Vec::new();
    for m in &active {
        let mut kept = 0;
        let mut rest = Vec::new();
        for (t, ps) in &m.current {
            for &p in ps {
                if !valid(m, t, p) || taken.contains(&(*t, p)) {
                    continue;
                }
                if kept < floor {
                    taken.insert((*t, p));
                    out.entry(m.id.clone())
                        .or_default()
                        .entry(*t)
                        .or_default()
                        .insert(p);
                    kept += 1;
                } else {
                    rest.push((*t, p));
                }
            }
        }
        load.insert(&m.id, kept);
        leftovers.push((m, rest));
    }
    // 2. members with more than their share keep one more while extras last
    leftovers.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.id.cmp(&b.0.id)));
    for (m, rest) in &leftovers {
        if extra == 0 {
            break;
        }
        if load[m.id.as_str()] != floor {
            continue;
        }
        if let Some(&(t, p)) = rest.iter().find(|tp| !taken.contains(tp)) {
            taken.insert((t, p));
            out.entry(m.id.clone())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
            *load.entry(&m.id).or_default() += 1;
            extra -= 1;
        }
    }
    // 3. the rest goes to the least loaded subscribed member
    for (t, p) in partitions {
        if taken.contains(&(t, p)) {
            continue;
        }
        let eligible: Vec<&AssignorMember> = active
            .iter()
            .copied()
            .filter(|m| m.topics.contains(&t))
            .collect();
        let under: Vec<&AssignorMember> = eligible
            .iter()
            .copied()
            .filter(|m| {
                let l = load[m.id.as_str()];
                l < floor || (l == floor && extra > 0)
            })
            .collect();
        let pool = if under.is_empty() { &eligible } else { &under };
        let pick = pool.iter().copied().min_by(|a, b| {
            load[a.id.as_str()]
                .cmp(&load[b.id.as_str()])
                .then(a.id.cmp(&b.id))
        });
        let Some(m) = pick else { continue };
        if load[m.id.as_str()] == floor && extra > 0 {
            extra -= 1;
        }
        *load.entry(&m.id).or_default() += 1;
        taken.insert((t, p));
        out.entry(m.id.clone())
            .or_default()
            .entry(t)
            .or_default()
            .insert(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[Uuid], current: Assignment) -> AssignorMember {
        AssignorMember {
            id: id.into(),
            topics: topics.iter().copied().collect(),
            current,
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    fn check_complete(out: &HashMap<String, Assignment>, topics: &BTreeMap<Uuid, i32>) {
        let mut seen = BTreeSet::new();
        for a in out.values() {
            for (t, ps) in a {
                for p in ps {
                    assert!(seen.insert((*t, *p)), "{t}/{p} assigned twice");
                }
            }
        }
        let total: i32 = topics.values().sum();
        assert_eq!(seen.len(), total as usize, "every partition assigned once");
    }

    #[test]
    fn uniform_balances_and_sticks() {
        let t = Uuid::new_v4();
        let topics = BTreeMap::from([(t, 7)]);
        let ms: Vec<AssignorMember> = ["a", "b", "c"]
            .iter()
            .map(|id| member(id, &[t], Assignment::new()))
            .collect();
        let first = assign("uniform", &ms, &topics);
        check_complete(&first, &topics);
        let mut sizes: Vec<usize> = first.values().map(count).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 3]);
        // a fourth member: only what it needs moves
        let mut ms: Vec<AssignorMember> = ms
            .into_iter()
            .map(|m| {
                let cur = first[&m.id].clone();
                member(&m.id, &[t], cur)
            })
            .collect();
        ms.push(member("d", &[t], Assignment::new()));
        let second = assign("uniform", &ms, &topics);
        check_complete(&second, &topics);
        let moved: usize = ["a", "b", "c"]
            .iter()
            .map(|id| {
                first[*id][&t]
                    .difference(second[*id].get(&t).unwrap_or(&BTreeSet::new()))
                    .count()
            })
            .sum();
        assert_eq!(moved, count(&second["d"]), "only d's new partitions moved");
        let mut sizes: Vec<usize> = second.values().map(count).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 2, 2, 2]);
    }

    #[test]
    fn uniform_respects_subscriptions() {
        let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
        let topics = BTreeMap::from([(t1, 4), (t2, 2)]);
        let ms = vec![
            member("a", &[t1], Assignment::new()),
            member("b", &[t1, t2], Assignment::new()),
        ];
        let out = assign("uniform", &ms, &topics);
        check_complete(&out, &topics);
        assert!(!out["a"].contains_key(&t2));
    }

    #[test]
    fn range_gives_contiguous_ranges_per_topic() {
        let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
        let topics = BTreeMap::from([(t1, 5), (t2, 5)]);
        let ms = vec![
            member("b", &[t1, t2], Assignment::new()),
            member("a", &[t1, t2], Assignment::new()),
        ];
        let out = assign("range", &ms, &topics);
        check_complete(&out, &topics);
        assert_eq!(out["a"][&t1], BTreeSet::from([0, 1, 2]));
        assert_eq!(out["b"][&t1], BTreeSet::from([3, 4]));
        assert_eq!(out["a"][&t2], out["a"][&t1], "co-partitioned");
    }
}
