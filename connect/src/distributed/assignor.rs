//! The leader's incremental cooperative assignment, as Kafka Connect's
//! `IncrementalCooperativeAssignor` does it: work keeps running where it runs; new work goes to
//! the least loaded workers; work of deleted connectors and duplicates is revoked; when a worker
//! leaves, its work is held back for `scheduled.rebalance.max.delay.ms` (it may come back) and
//! then spread over the others, or given at once to a worker that joined meanwhile; when the
//! load is uneven, the busiest workers give work up (revocation) and a second rebalance places
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::protocol::{Metadata, Work};

/// A member as the leader sees it.
#[derive(Clone, Debug)]
pub struct MemberWork {
    /// Its member id.
    pub member_id: String,
    /// What it joined with.
    pub metadata: Metadata,
}

/// What the leader decides for one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Work to start.
    pub assigned: Vec<Work>,
    /// Work to give up.
    pub revoked: Vec<Work>,
}

/// The leader's memory between rebalances.
#[derive(Debug, Default)]
pub struct Assignor {
    /// Everything assigned after the last round, by member.
    previous: BTreeMap<String, BTreeSet<Work>>,
    /// When held-back work of departed workers is reassigned.
    deadline: Option<Instant>,
    /// The members of the round the delay started in.
    members_at_delay: BTreeSet<String>,
}

impl Assignor {
    /// Assigns `all` (every connector and task that should run) over `members`, at `now`.
    /// Returns each member's decision and the delay (zero when nothing is held back).
    pub fn assign(
        &mut self,
        members: &[MemberWork],
        all: &BTreeSet<Work>,
        max_delay: Duration,
        now: Instant,
    ) -> (BTreeMap<String, Decision>, Duration) {
        let mut decisions: BTreeMap<String, Decision> = members
            .iter()
            .map(|m| (m.member_id.clone(), Decision::default()))
            .collect();
        if members.is_empty() {
            return (decisions, Duration::ZERO);
        }
        // what each member keeps: its own work that still exists and nobody else has first
        let mut keeps: BTreeMap<String, BTreeSet<Work>> = BTreeMap::new();
        let mut running: BTreeSet<Work> = BTreeSet::new();
        for m in members {
            let kept = keeps.entry(m.member_id.clone()).or_default();
            for w in &m.metadata.owned {
                if all.contains(w) && running.insert(w.clone()) {
                    kept.insert(w.clone());
                } else if let Some(d) = decisions.get_mut(&m.member_id) {
                    d.revoked.push(w.clone());
                }
            }
        }
        // work that ran on a member that is gone
        let present: BTreeSet<&String> = members.iter().map(|m| &m.member_id).collect();
        let lost: BTreeSet<Work> = self
            .previous
            .iter()
            .filter(|(member, _)| !present.contains(member))
            .flat_map(|(_, work)| work.iter().cloned())
            .filter(|w| all.contains(w) && !running.contains(w))
            .collect();
        let mut held: BTreeSet<Work> = BTreeSet::new();
        let mut delay = Duration::ZERO;
        let mut new_members: Vec<String> = Vec::new();
        if !lost.is_empty() && !max_delay.is_zero() {
            match self.deadline {
                None => {
                    self.deadline = Some(now + max_delay);
                    self.members_at_delay = present.iter().map(|m| (*m).clone()).collect();
                    held = lost.clone();
                    delay = max_delay;
                }
                Some(deadline) if now < deadline => {
                    new_members = members
                        .iter()
                        .filter(|m| {
                            !self.members_at_delay.contains(&m.member_id)
                                && m.metadata.owned.is_empty()
                        })
                        .map(|m| m.member_id.clone())
                        .collect();
                    if new_members.is_empty() {
                        held = lost.clone();
                        delay = deadline - now;
                    }
                }
                Some(_) => {}
            }
        }
        if held.is_empty() {
            self.deadline = None;
            self.members_at_delay.clear();
        }
        // place what nobody runs: a returning worker's lost work first, then by load
        let mut unplaced: Vec<Work> = all
            .iter()
            .filter(|w| !running.contains(*w) && !held.contains(*w))
            .cloned()
            .collect();
        if !new_members.is_empty() {
            let mut i = 0;
            unplaced.retain(|w| {
                if lost.contains(w) {
                    let member = &new_members[i % new_members.len()];
                    if let Some(d) = decisions.get_mut(member) {
                        d.assigned.push(w.clone());
                    }
                    if let Some(k) = keeps.get_mut(member) {
                        k.insert(w.clone());
                    }
                    i += 1;
                    false
                } else {
                    true
                }
            });
        }
        for w in unplaced {
            let is_connector = matches!(w, Work::Connector(_));
            let member = least_loaded(&keeps, is_connector);
            if let Some(d) = decisions.get_mut(&member) {
                d.assigned.push(w.clone());
            }
            keeps.entry(member).or_default().insert(w);
        }
        // even the load out: the busiest give up work a second rebalance places
        if held.is_empty() {
            for connectors in [true, false] {
                revoke_excess(&mut keeps, &mut decisions, connectors);
            }
        }
        self.previous = keeps;
        // held work stays in memory under the departed members, to be found lost again
        if !held.is_empty() {
            self.previous
                .entry(String::from("\u{0}held"))
                .or_default()
                .extend(held);
        }
        (decisions, delay)
    }
}

fn load(work: &BTreeSet<Work>, connectors: bool) -> usize {
    work.iter()
        .filter(|w| matches!(w, Work::Connector(_)) == connectors)
        .count()
}

fn least_loaded(keeps: &BTreeMap<String, BTreeSet<Work>>, connectors: bool) -> String {
    keeps
        .iter()
        .min_by_key(|(member, work)| (load(work, connectors), work.len(), (*member).clone()))
        .map(|(m, _)| m.clone())
        .unwrap_or_default()
}

/// Revokes from members above the even share (rounded up) while some member is below it
/// (rounded down).
fn revoke_excess(
    keeps: &mut BTreeMap<String, BTreeSet<Work>>,
    decisions: &mut BTreeMap<String, Decision>,
    connectors: bool,
) {
    let n = keeps.len();
    let total: usize = keeps.values().map(|w| load(w, connectors)).sum();
    if n == 0 {
        return;
    }
    let floor = total / n;
    let ceil = total.div_ceil(n);
    let mut below: usize = keeps
        .values()
        .map(|w| floor.saturating_sub(load(w, connectors)))
        .sum();
    // down to the even share rounded up, then, while some member is still short, down to the
    // share rounded down
    for limit in [ceil, floor] {
        for (member, work) in keeps.iter_mut() {
            let Some(d) = decisions.get_mut(member) else {
                continue;
            };
            while below > 0 && load(work, connectors) > limit {
                // only work it runs already (what was just assigned stays where it went)
                let Some(w) = work
                    .iter()
                    .rev()
                    .find(|w| {
                        matches!(w, Work::Connector(_)) == connectors && !d.assigned.contains(w)
                    })
                    .cloned()
                else {
                    break;
                };
                work.remove(&w);
                d.revoked.push(w);
                below -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::TaskId;

    fn task(c: &str, t: u32) -> Work {
        Work::Task(TaskId {
            connector: c.into(),
            task: t,
        })
    }

    fn conn(c: &str) -> Work {
        Work::Connector(c.into())
    }

    fn member(id: &str, owned: &[Work]) -> MemberWork {
        MemberWork {
            member_id: id.into(),
            metadata: Metadata {
                url: format!("http://{id}/"),
                config_offset: 0,
                owned: owned.to_vec(),
            },
        }
    }

    /// Applies decisions to what members own, as workers do.
    fn apply(members: &mut [MemberWork], d: &BTreeMap<String, Decision>) {
        for m in members.iter_mut() {
            if let Some(d) = d.get(&m.member_id) {
                m.metadata.owned.retain(|w| !d.revoked.contains(w));
                m.metadata.owned.extend(d.assigned.iter().cloned());
            }
        }
    }

    fn all(n_connectors: usize, tasks: u32) -> BTreeSet<Work> {
        let mut out = BTreeSet::new();
        for c in 0..n_connectors {
            let name = format!("c{c}");
            out.insert(conn(&name));
            for t in 0..tasks {
                out.insert(task(&name, t));
            }
        }
        out
    }

    /// Rebalances until nothing is revoked (as workers rejoin after a revocation).
    fn settle(a: &mut Assignor, members: &mut [MemberWork], work: &BTreeSet<Work>, now: Instant) {
        for _ in 0..5 {
            let (d, _) = a.assign(members, work, Duration::from_secs(300), now);
            apply(members, &d);
            if d.values().all(|d| d.revoked.is_empty()) {
                return;
            }
        }
        panic!("the assignment does not settle");
    }

    fn owned_counts(members: &[MemberWork]) -> Vec<usize> {
        members.iter().map(|m| m.metadata.owned.len()).collect()
    }

    #[test]
    fn work_spreads_evenly_and_each_piece_runs_once() {
        let mut a = Assignor::default();
        let work = all(3, 4);
        let mut members = vec![member("a", &[]), member("b", &[]), member("c", &[])];
        settle(&mut a, &mut members, &work, Instant::now());
        assert_eq!(owned_counts(&members), vec![5, 5, 5]);
        let mut seen: Vec<Work> = members
            .iter()
            .flat_map(|m| m.metadata.owned.clone())
            .collect();
        seen.sort();
        assert_eq!(seen, work.iter().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn a_joining_worker_gets_a_share_by_revocation_without_moving_the_rest() {
        let mut a = Assignor::default();
        let work = all(2, 3);
        let mut members = vec![member("a", &[])];
        settle(&mut a, &mut members, &work, Instant::now());
        let before = members[0].metadata.owned.clone();
        members.push(member("b", &[]));
        let (d, delay) = a.assign(&members, &work, Duration::from_secs(300), Instant::now());
        assert_eq!(delay, Duration::ZERO);
        // first round: only revocations from the busy worker, nothing started twice
        assert!(!d["a"].revoked.is_empty());
        assert!(d["a"].assigned.is_empty());
        apply(&mut members, &d);
        settle(&mut a, &mut members, &work, Instant::now());
        assert_eq!(owned_counts(&members), vec![4, 4]);
        // what `a` kept it never stopped
        assert!(members[0].metadata.owned.iter().all(|w| before.contains(w)));
    }

    #[test]
    fn a_departed_workers_work_waits_for_the_delay_then_moves() {
        let mut a = Assignor::default();
        let work = all(2, 2);
        let mut members = vec![member("a", &[]), member("b", &[])];
        let t0 = Instant::now();
        settle(&mut a, &mut members, &work, t0);
        let b_work = members[1].metadata.owned.clone();
        members.pop();
        let (d, delay) = a.assign(&members, &work, Duration::from_secs(10), t0);
        assert_eq!(delay, Duration::from_secs(10));
        assert!(d["a"].assigned.is_empty(), "held back: {d:?}");
        // later, still within the delay: still held
        let (d, delay) = a.assign(
            &members,
            &work,
            Duration::from_secs(10),
            t0 + Duration::from_secs(4),
        );
        assert_eq!(delay, Duration::from_secs(6));
        assert!(d["a"].assigned.is_empty());
        // after it: everything runs on `a`
        let (d, delay) = a.assign(
            &members,
            &work,
            Duration::from_secs(10),
            t0 + Duration::from_secs(11),
        );
        assert_eq!(delay, Duration::ZERO);
        let mut got = d["a"].assigned.clone();
        got.sort();
        let mut want = b_work;
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_worker_that_comes_back_within_the_delay_gets_the_held_work() {
        let mut a = Assignor::default();
        let work = all(2, 1);
        let mut members = vec![member("a", &[]), member("b", &[])];
        let t0 = Instant::now();
        settle(&mut a, &mut members, &work, t0);
        let b_work = members[1].metadata.owned.clone();
        let (_, delay) = a.assign(&members[..1], &work, Duration::from_secs(10), t0);
        assert!(delay > Duration::ZERO);
        let back = [members[0].clone(), member("b2", &[])];
        let (d, delay) = a.assign(
            &back,
            &work,
            Duration::from_secs(10),
            t0 + Duration::from_secs(2),
        );
        assert_eq!(delay, Duration::ZERO);
        let mut got = d["b2"].assigned.clone();
        got.sort();
        let mut want = b_work;
        want.sort();
        assert_eq!(got, want);
        assert!(d["a"].assigned.is_empty());
    }

    #[test]
    fn deleted_and_duplicated_work_is_revoked() {
        let mut a = Assignor::default();
        let work = all(1, 1);
        let members = vec![
            member("a", &[conn("c0"), task("c0", 0), conn("gone")]),
            member("b", &[task("c0", 0)]),
        ];
        let (d, _) = a.assign(&members, &work, Duration::from_secs(10), Instant::now());
        assert_eq!(d["a"].revoked, vec![conn("gone")]);
        assert_eq!(d["b"].revoked, vec![task("c0", 0)]);
    }

    #[test]
    fn no_delay_means_lost_work_moves_at_once() {
        let mut a = Assignor::default();
        let work = all(1, 2);
        let mut members = vec![member("a", &[]), member("b", &[])];
        settle(&mut a, &mut members, &work, Instant::now());
        let (d, delay) = a.assign(&members[..1], &work, Duration::ZERO, Instant::now());
        assert_eq!(delay, Duration::ZERO);
        assert_eq!(d["a"].assigned.len(), members[1].metadata.owned.len());
    }
}
