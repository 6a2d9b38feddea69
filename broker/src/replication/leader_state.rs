//! `LeaderState`: what a partition's leader knows of its followers, and the high watermark and
//! ISR changes that follow from it (Kafka's `Partition.maybeIncrementLeaderHW`,
//! `maybeExpandIsr`, `maybeShrinkIsr`). Pure: events in, the new high watermark and ISR
//! proposals out; the partition calls it under its own lock and sends the proposals to the
//! controller (AlterPartition).
//!
//! * A follower's log end is the offset it fetches from. It is *caught up* at a fetch that asks
//!   for the leader's log end, and also (as Kafka counts it) at a fetch that reaches what the
//!   leader's log end was at its previous fetch: then it was caught up at that previous time.
//! * The high watermark is the smallest log end among the leader and the members of the
//!   *maximal* ISR (the committed ISR plus a member being added), and of caught-up eligible
//!   followers about to join. It never moves back, and it stands still while the maximal ISR is
//!   smaller than `min.insync.replicas` (Kafka 4, KIP-966).
//! * A follower outside the ISR joins (a proposal) once it has everything below the high
//!   watermark and the current epoch's first offset; an ISR follower that has not been caught up
//!   for `replica.lag.time.max.ms` leaves. One proposal is in flight at a time.

use std::collections::BTreeMap;

/// A follower as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Follower {
    /// Its log end offset, -1 until it fetches.
    leo: i64,
    /// Its log start offset.
    log_start: i64,
    /// When it was last caught up.
    last_caught_up_ms: u64,
    /// When it last fetched, and the leader's log end then.
    last_fetch_ms: u64,
    leader_leo_at_last_fetch: i64,
    /// The broker epoch of its last fetch.
    broker_epoch: i64,
    /// Whether it may join the ISR, as of its last fetch.
    eligible: bool,
}

/// An ISR change sent to the controller and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Expand(i32),
    Shrink(Vec<i32>),
}

/// An ISR change to send to the controller (AlterPartition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    /// The new ISR.
    pub isr: Vec<i32>,
    /// The leader epoch it is proposed in.
    pub leader_epoch: i32,
    /// The partition epoch it applies to.
    pub partition_epoch: i32,
}

/// What a follower fetch changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The new high watermark, when it moved.
    pub high_watermark: Option<i64>,
    /// An ISR expansion to propose.
    pub proposal: Option<IsrProposal>,
}

/// The leader's replication state of one partition.
#[derive(Debug, Clone)]
pub struct LeaderState {
    me: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    pending: Option<Pending>,
    followers: BTreeMap<i32, Follower>,
    epoch_start_offset: i64,
    leo: i64,
    hw: i64,
    min_isr: usize,
    lag_time_max_ms: u64,
    /// No new proposal before this time (after a refused one).
    retry_at_ms: u64,
}

/// How long a leader waits after a refused ISR proposal before proposing again.
pub const PROPOSAL_BACKOFF_MS: u64 = 500;

/// The settings a leader's decisions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderSettings {
    /// `min.insync.replicas` of the topic.
    pub min_insync_replicas: usize,
    /// `replica.lag.time.max.ms`.
    pub lag_time_max_ms: u64,
}

impl LeaderState {
    /// The state of a new leadership: `me` leads at `leader_epoch`, its log ends at `leo` (where
    /// the epoch starts) and its last known high watermark is `hw`. ISR followers count as caught
    /// up now, as Kafka resets them when a leader is elected.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        me: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leo: i64,
        hw: i64,
        settings: LeaderSettings,
        now_ms: u64,
    ) -> Self {
        let followers = replicas
            .iter()
            .filter(|r| **r != me)
            .map(|r| {
                (
                    *r,
                    Follower {
                        leo: -1,
                        log_start: -1,
                        last_caught_up_ms: if isr.contains(r) { now_ms } else { 0 },
                        last_fetch_ms: 0,
                        leader_leo_at_last_fetch: -1,
                        broker_epoch: -1,
                        eligible: false,
                    },
                )
            })
            .collect();
        let mut state = LeaderState {
            me,
            leader_epoch,
            partition_epoch,
            replicas,
            isr,
            pending: None,
            followers,
            epoch_start_offset: leo,
            leo,
            hw: hw.min(leo),
            min_isr: settings.min_insync_replicas,
            lag_time_max_ms: settings.lag_time_max_ms,
            retry_at_ms: 0,
        };
        state.advance_hw(now_ms);
        state
    }

    /// The high watermark.
    pub fn high_watermark(&self) -> i64 {
        self.hw
    }

    /// The replicas.
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }

    /// The committed ISR.
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }

    /// The leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The ISR the high watermark waits for: the committed one plus a member being added.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut isr = self.isr.clone();
        if let Some(Pending::Expand(id)) = &self.pending {
            if !isr.contains(id) {
                isr.push(*id);
            }
        }
        isr
    }

    /// `min.insync.replicas` as it applies: never above the replica count (KIP-966).
    pub fn effective_min_isr(&self) -> usize {
        self.min_isr.clamp(1, self.replicas.len().max(1))
    }

    /// Whether the ISR is smaller than `min.insync.replicas`: acks=all writes are refused.
    pub fn under_min_isr(&self) -> bool {
        self.isr.len() < self.effective_min_isr()
    }

    /// Takes a high watermark saved before a restart (capped at the log end) when it is ahead
    /// of what this leadership knows.
    pub fn restore_high_watermark(&mut self, hw: i64) {
        self.hw = self.hw.max(hw.min(self.leo));
    }

    /// The in-sync followers a consumer fetching from `fetch_offset` could read from instead
    /// (KIP-392): those whose log holds that offset, as `(id, log end, ms since caught up)`.
    pub fn read_replicas(&self, fetch_offset: i64, now_ms: u64) -> Vec<(i32, i64, u64)> {
        self.followers
            .iter()
            .filter(|(id, f)| {
                self.isr.contains(id) && f.leo >= fetch_offset && f.log_start <= fetch_offset
            })
            .map(|(id, f)| (*id, f.leo, now_ms.saturating_sub(f.last_caught_up_ms)))
            .collect()
    }

    /// The smallest log start offset over the leader (`local_start`) and the followers that have
    /// fetched: the low watermark DeleteRecords reports.
    pub fn low_watermark(&self, local_start: i64) -> i64 {
        self.followers
            .values()
            .filter(|f| f.log_start >= 0)
            .map(|f| f.log_start)
            .fold(local_start, i64::min)
    }

    /// The leader appended: its log now ends at `leo`. Returns the new high watermark if it
    /// moved.
    pub fn on_local_append(&mut self, leo: i64, now_ms: u64) -> Option<i64> {
        self.leo = leo;
        self.advance_hw(now_ms)
    }

    /// A follower fetched from `fetch_offset` with its log starting at `log_start`, as broker
    /// epoch `broker_epoch`; `eligible` tells whether the broker may join the ISR (registered
    /// with that epoch, unfenced, not shutting down). A fetch from a broker that is not a replica
    /// is ignored.
    pub fn on_follower_fetch(
        &mut self,
        id: i32,
        fetch_offset: i64,
        log_start: i64,
        broker_epoch: i64,
        eligible: bool,
        now_ms: u64,
    ) -> FetchOutcome {
        let leo = self.leo;
        let Some(f) = self.followers.get_mut(&id) else {
            return FetchOutcome::default();
        };
        if fetch_offset >= leo {
            f.last_caught_up_ms = now_ms;
        } else if fetch_offset >= f.leader_leo_at_last_fetch && f.leader_leo_at_last_fetch >= 0 {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.leo = fetch_offset.min(leo);
        f.log_start = log_start;
        f.last_fetch_ms = now_ms;
        f.leader_leo_at_last_fetch = leo;
        f.broker_epoch = broker_epoch;
        f.eligible = eligible;
        let joins = eligible
            && self.pending.is_none()
            && now_ms >= self.retry_at_ms
            && !self.isr.contains(&id)
            && f.leo >= self.hw
            && f.leo >= self.epoch_start_offset;
        let proposal = joins.then(|| {
            self.pending = Some(Pending::Expand(id));
            let mut isr = self.isr.clone();
            isr.push(id);
            self.proposal(isr)
        });
        FetchOutcome {
            high_watermark: self.advance_hw(now_ms),
            proposal,
        }
    }

    /// The periodic check (every `replica.lag.time.max.ms / 2`): ISR followers not caught up for
    /// `replica.lag.time.max.ms` leave the ISR.
    pub fn on_tick(&mut self, now_ms: u64) -> Option<IsrProposal> {
        if self.pending.is_some() || now_ms < self.retry_at_ms {
            return None;
        }
        let out: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|id| *id != self.me)
            .filter(|id| {
                self.followers.get(id).is_some_and(|f| {
                    now_ms.saturating_sub(f.last_caught_up_ms) > self.lag_time_max_ms
                })
            })
            .collect();
        if out.is_empty() {
            return None;
        }
        let isr: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|id| !out.contains(id))
            .collect();
        self.pending = Some(Pending::Shrink(out));
        Some(self.proposal(isr))
    }

    /// The controller committed an ISR (the answer to a proposal, or a change it made itself at
    /// the same leader epoch). Returns the new high watermark if it moved.
    pub fn on_isr_committed(
        &mut self,
        isr: Vec<i32>,
        partition_epoch: i32,
        now_ms: u64,
    ) -> Option<i64> {
        if partition_epoch < self.partition_epoch {
            return None;
        }
        self.isr = isr;
        self.partition_epoch = partition_epoch;
        self.pending = None;
        self.advance_hw(now_ms)
    }

    /// The controller refused `proposal`: if it is still the one in flight, forget it; the next
    /// fetch or tick proposes again after [`PROPOSAL_BACKOFF_MS`]. A late answer to an older
    /// proposal changes nothing.
    pub fn on_proposal_failed(&mut self, proposal: &IsrProposal, now_ms: u64) {
        if self.pending.is_some()
            && proposal.partition_epoch == self.partition_epoch
            && proposal.leader_epoch == self.leader_epoch
            && self.pending_target().as_ref() == Some(&proposal.isr)
        {
            self.pending = None;
            self.retry_at_ms = now_ms + PROPOSAL_BACKOFF_MS;
        }
    }

    /// The ISR the pending proposal asks for.
    fn pending_target(&self) -> Option<Vec<i32>> {
        match self.pending.as_ref()? {
            Pending::Expand(id) => {
                let mut isr = self.isr.clone();
                isr.push(*id);
                Some(isr)
            }
            Pending::Shrink(out) => Some(
                self.isr
                    .iter()
                    .copied()
                    .filter(|b| !out.contains(b))
                    .collect(),
            ),
        }
    }

    /// The replicas changed at the same leader epoch (a reassignment adds or removes some):
    /// followers are added or forgotten.
    pub fn set_replicas(&mut self, replicas: Vec<i32>) {
        for r in &replicas {
            if *r != self.me && !self.followers.contains_key(r) {
                self.followers.insert(
                    *r,
                    Follower {
                        leo: -1,
                        log_start: -1,
                        last_caught_up_ms: 0,
                        last_fetch_ms: 0,
                        leader_leo_at_last_fetch: -1,
                        broker_epoch: -1,
                        eligible: false,
                    },
                );
            }
        }
        self.followers.retain(|id, _| replicas.contains(id));
        self.replicas = replicas;
    }

    /// New metadata: a follower whose broker is no longer active (fenced, shutting down,
    /// gone) stops counting as about to join the ISR, so that the high watermark no longer waits
    /// for it (Kafka checks eligibility against the metadata each time). It becomes eligible
    /// again with its next fetch. Returns the new high watermark if it moved.
    pub fn on_metadata(&mut self, active: &dyn Fn(i32) -> bool, now_ms: u64) -> Option<i64> {
        for (id, f) in self.followers.iter_mut() {
            if !active(*id) {
                f.eligible = false;
            }
        }
        self.advance_hw(now_ms)
    }

    /// `min.insync.replicas` changed. Returns the new high watermark if it moved.
    pub fn set_min_isr(&mut self, min_isr: usize, now_ms: u64) -> Option<i64> {
        self.min_isr = min_isr;
        self.advance_hw(now_ms)
    }

    fn proposal(&self, isr: Vec<i32>) -> IsrProposal {
        IsrProposal {
            isr,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
        }
    }

    /// Recomputes the high watermark.
    fn advance_hw(&mut self, now_ms: u64) -> Option<i64> {
        let maximal = self.maximal_isr();
        if maximal.len() < self.effective_min_isr() {
            return None;
        }
        let mut hw = self.leo;
        for (id, f) in &self.followers {
            let in_isr = maximal.contains(id);
            // Kafka also waits for a caught-up eligible follower about to join, so that it
            // joins holding every acknowledged record
            let about_to_join = f.eligible
                && f.leader_leo_at_last_fetch >= 0
                && now_ms.saturating_sub(f.last_caught_up_ms) <= self.lag_time_max_ms;
            if in_isr || about_to_join {
                // a member that has not fetched yet holds the high watermark where it is
                hw = hw.min(if f.leo < 0 { self.hw } else { f.leo });
            }
        }
        if hw > self.hw {
            self.hw = hw;
            Some(hw)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LAG: u64 = 30_000;

    fn settings(min_isr: usize) -> LeaderSettings {
        LeaderSettings {
            min_insync_replicas: min_isr,
            lag_time_max_ms: LAG,
        }
    }

    fn three(min_isr: usize) -> LeaderState {
        LeaderState::new(
            1,
            5,
            10,
            vec![1, 2, 3],
            vec![1, 2, 3],
            100,
            100,
            settings(min_isr),
            0,
        )
    }

    #[test]
    fn the_high_watermark_waits_for_every_isr_member() {
        let mut s = three(1);
        assert_eq!(s.on_local_append(110, 1), None);
        assert_eq!(
            s.on_follower_fetch(2, 110, 0, 7, true, 2).high_watermark,
            None
        );
        assert_eq!(
            s.on_follower_fetch(3, 105, 0, 7, true, 3).high_watermark,
            Some(105)
        );
        assert_eq!(
            s.on_follower_fetch(3, 110, 0, 7, true, 4).high_watermark,
            Some(110)
        );
        assert_eq!(s.high_watermark(), 110);
    }

    #[test]
    fn a_single_replica_moves_the_high_watermark_with_its_appends() {
        let mut s = LeaderState::new(1, 0, 0, vec![1], vec![1], 0, 0, settings(2), 0);
        assert_eq!(s.on_local_append(5, 1), Some(5));
        assert!(
            !s.under_min_isr(),
            "min.insync.replicas is capped at the replica count"
        );
    }

    #[test]
    fn a_lagging_follower_leaves_the_isr_and_rejoins_when_caught_up() {
        let mut s = three(1);
        s.on_local_append(120, 0);
        s.on_follower_fetch(2, 120, 0, 7, true, 1_000);
        s.on_follower_fetch(3, 100, 0, 7, true, 1_000);
        assert_eq!(s.on_tick(LAG), None, "not lagging long enough yet");
        // follower 2 keeps up; follower 3 stays behind
        s.on_follower_fetch(2, 120, 0, 7, true, LAG + 500);
        let p = s.on_tick(LAG + 1_000).expect("3 leaves");
        assert_eq!(p.isr, vec![1, 2]);
        assert_eq!((p.leader_epoch, p.partition_epoch), (5, 10));
        assert_eq!(s.on_tick(LAG + 2_000), None, "one proposal at a time");
        // while the shrink is pending the high watermark still waits for 3
        assert_eq!(s.high_watermark(), 100);
        assert_eq!(s.on_isr_committed(vec![1, 2], 11, LAG + 2_000), Some(120));
        // 3 catches up: it joins
        let out = s.on_follower_fetch(3, 120, 0, 7, true, LAG + 3_000);
        assert_eq!(out.proposal.map(|p| p.isr), Some(vec![1, 2, 3]));
        s.on_isr_committed(vec![1, 2, 3], 12, LAG + 3_000);
        assert_eq!(s.isr(), &[1, 2, 3]);
    }

    #[test]
    fn an_ineligible_follower_does_not_join() {
        let mut s = LeaderState::new(1, 5, 10, vec![1, 2], vec![1], 50, 50, settings(1), 0);
        let out = s.on_follower_fetch(2, 50, 0, 7, false, 1);
        assert_eq!(out.proposal, None);
        let out = s.on_follower_fetch(2, 50, 0, 7, true, 2);
        assert!(out.proposal.is_some());
    }

    #[test]
    fn a_follower_joins_only_with_the_current_epochs_first_offset() {
        // epoch started at 100; the HW was 80
        let mut s = LeaderState::new(1, 5, 10, vec![1, 2], vec![1], 100, 80, settings(1), 0);
        assert_eq!(
            s.high_watermark(),
            100,
            "alone in the ISR, the leader's HW is its LEO"
        );
        let out = s.on_follower_fetch(2, 90, 0, 7, true, 1);
        assert_eq!(out.proposal, None);
        let out = s.on_follower_fetch(2, 100, 0, 7, true, 2);
        assert!(out.proposal.is_some());
    }

    #[test]
    fn the_high_watermark_stands_still_below_min_insync_replicas() {
        let mut s = LeaderState::new(1, 5, 10, vec![1, 2, 3], vec![1], 100, 100, settings(2), 0);
        assert!(s.under_min_isr());
        assert_eq!(s.on_local_append(110, 1), None);
        // lowering min.insync.replicas releases it
        assert_eq!(s.set_min_isr(1, 2), Some(110));
    }

    #[test]
    fn a_fenced_follower_about_to_join_stops_holding_the_high_watermark() {
        // 3 was just dropped from the ISR (fenced) but had fetched recently
        let mut s = LeaderState::new(
            1,
            5,
            10,
            vec![1, 2, 3],
            vec![1, 2, 3],
            100,
            100,
            settings(1),
            0,
        );
        s.on_follower_fetch(2, 100, 0, 7, true, 1);
        s.on_follower_fetch(3, 100, 0, 7, true, 1);
        s.on_isr_committed(vec![1, 2], 11, 2);
        s.on_local_append(110, 3);
        assert_eq!(
            s.on_follower_fetch(2, 110, 0, 7, true, 4).high_watermark,
            None,
            "3 looks about to join"
        );
        // the metadata says 3 is fenced: the high watermark no longer waits for it
        assert_eq!(s.on_metadata(&|b| b != 3, 5), Some(110));
    }

    #[test]
    fn the_low_watermark_is_the_smallest_log_start() {
        let mut s = three(1);
        assert_eq!(s.low_watermark(40), 40);
        s.on_follower_fetch(2, 100, 30, 7, true, 1);
        s.on_follower_fetch(3, 100, 50, 7, true, 1);
        assert_eq!(s.low_watermark(40), 30);
    }

    proptest! {
        /// Invariants over any sequence of appends, fetches, ticks and commits: the HW never
        /// moves back, never passes the leader's log end nor the log end of any member of the
        /// maximal ISR, and the leader stays in the ISR.
        #[test]
        fn the_high_watermark_is_safe(events in prop::collection::vec((0u8..5, 0i64..40, 1i32..4, any::<bool>()), 1..80)) {
            let mut s = three(2);
            let mut leo = 100;
            let mut now = 0u64;
            let mut follower_leo: BTreeMap<i32, i64> = BTreeMap::new();
            let mut last_hw = s.high_watermark();
            for (kind, n, who, flag) in events {
                now += 1_000 * (n as u64 % 20);
                match kind {
                    0 => { leo += n; s.on_local_append(leo, now); }
                    1 | 2 if who != 1 => {
                        let prev = follower_leo.get(&who).copied().unwrap_or(100);
                        let offset = (prev + n).min(leo);
                        follower_leo.insert(who, offset);
                        let out = s.on_follower_fetch(who, offset, 0, 7, flag, now);
                        if let Some(p) = out.proposal {
                            if flag { s.on_isr_committed(p.isr, p.partition_epoch + 1, now); } else { s.on_proposal_failed(&p, now); }
                        }
                    }
                    3 => {
                        if let Some(p) = s.on_tick(now) {
                            if flag { s.on_isr_committed(p.isr, p.partition_epoch + 1, now); } else { s.on_proposal_failed(&p, now); }
                        }
                    }
                    _ => {}
                }
                let hw = s.high_watermark();
                prop_assert!(hw >= last_hw, "HW moved back: {} -> {}", last_hw, hw);
                prop_assert!(hw <= leo);
                for id in s.maximal_isr() {
                    if id != 1 && hw > 100 {
                        let f = follower_leo.get(&id).copied().unwrap_or(100);
                        prop_assert!(hw <= f, "HW {} passes ISR member {} at {}", hw, id, f);
                    }
                }
                prop_assert!(s.isr().contains(&1));
                last_hw = hw;
            }
        }
    }
}
