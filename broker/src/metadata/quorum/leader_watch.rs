//! Noticing at once that the active controller's process is gone.
//!
//! openraft 0.9 lets a follower stand for election only once the leader lease
//! (`election_timeout_max`) and then an election timeout have passed without a heartbeat:
//! 2.25–2.5 s with Kafka's default `controller.quorum.election.timeout.ms` of one second. When
//! the silent leader's controller listener refuses connections, nothing listens there any more
//! (in combined mode, the node's process is gone), and waiting longer tells nothing new. Then a
//! follower asks for votes as soon as the other voters' leases have run out, the lowest
//! surviving id first and each next one a heartbeat interval later, so that they do not split
//! the vote. A leader that is merely slow or paused still accepts connections and is left to
//! openraft's own timers.
//!
//! openraft 0.9 also draws each voter's election timeout once, at start: two voters that drew
//! nearly the same one split the vote round after round (a busy machine makes it likelier).
//! A quorum without a leader for longer than openraft needs to elect one gets a fresh start:
//! each voter waits a new random delay and, if still nobody leads, stands again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;

use super::Raft;
use crate::replication::mono_ms;

/// When this voter last heard from a leader (monotonic ms), for [`watch`].
#[derive(Default)]
pub(crate) struct LastHeard(AtomicU64);

impl LastHeard {
    /// A leader's append (or heartbeat) arrived now.
    pub(crate) fn heard(&self) {
        self.0.store(mono_ms(), Ordering::Release);
    }

    fn at(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// The quorum's timing, as openraft is configured with it.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    /// openraft's heartbeat interval (ms).
    pub heartbeat_ms: u64,
    /// openraft's `election_timeout_min` (ms).
    pub election_ms: u64,
    /// openraft's leader lease: its `election_timeout_max` (ms).
    pub lease_ms: u64,
}

/// A random number below `bound` (a fresh draw each call).
fn random_below(bound: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(mono_ms());
    h.finish() % bound.max(1)
}

/// When follower `me` should stand for election after leader `leader` was last heard at
/// `heard`: after the other voters' leases, in order of id among the surviving voters.
fn election_at(voters: &[u64], leader: u64, me: u64, heard: u64, timing: Timing) -> u64 {
    let rank = voters
        .iter()
        .filter(|v| **v != leader)
        .position(|v| *v == me)
        .unwrap_or(0) as u64;
    heard + timing.lease_ms + timing.heartbeat_ms / 2 + rank * timing.heartbeat_ms
}

/// Watches, on follower `me`, for a silent leader whose controller listener refuses
/// connections, and then starts an election early (see the module docs). Ends when Raft stops.
pub(crate) async fn watch(
    raft: Raft,
    me: u64,
    voters: BTreeMap<u64, BasicNode>,
    heard: Arc<LastHeard>,
    timing: Timing,
) {
    let ids: Vec<u64> = voters.keys().copied().collect();
    let tick = Duration::from_millis(timing.heartbeat_ms.max(10));
    let mut metrics = raft.metrics();
    let mut leaderless_since = None;
    loop {
        tokio::time::sleep(tick).await;
        let (leader, term) = {
            let m = metrics.borrow_and_update();
            if m.running_state.is_err() {
                return;
            }
            (m.current_leader, m.current_term)
        };
        let Some(leader) = leader else {
            let since = *leaderless_since.get_or_insert_with(mono_ms);
            if mono_ms().saturating_sub(since) < timing.lease_ms + 2 * timing.election_ms {
                continue;
            }
            // split votes: stand again after a fresh random delay, unless someone won meanwhile
            // (or this voter voted in a newer term)
            tokio::time::sleep(Duration::from_millis(random_below(timing.election_ms))).await;
            let still = {
                let m = metrics.borrow_and_update();
                m.current_leader.is_none() && m.current_term == term
            };
            if still {
                tracing::info!(
                    term,
                    "no controller quorum leader elected yet: standing again"
                );
                if let Err(e) = raft.trigger().elect().await {
                    tracing::debug!(error = %e, "cannot start an election");
                    return;
                }
            }
            leaderless_since = Some(mono_ms());
            continue;
        };
        leaderless_since = None;
        if leader == me {
            continue;
        }
        let last = heard.at();
        if mono_ms().saturating_sub(last) < 2 * timing.heartbeat_ms {
            continue;
        }
        let Some(addr) = voters.get(&leader).map(|n| n.addr.clone()) else {
            continue;
        };
        let probe = tokio::time::timeout(tick, tokio::net::TcpStream::connect(&addr)).await;
        if !matches!(probe, Ok(Err(ref e)) if e.kind() == std::io::ErrorKind::ConnectionRefused) {
            continue;
        }
        let at = election_at(&ids, leader, me, last, timing);
        tracing::info!(
            leader,
            term,
            in_ms = at.saturating_sub(mono_ms()),
            "the active controller's listener refuses connections: standing for election"
        );
        tokio::time::sleep(Duration::from_millis(at.saturating_sub(mono_ms()))).await;
        // another voter won meanwhile, or the leader spoke again: nothing to do
        let unchanged = {
            let m = metrics.borrow_and_update();
            m.current_term == term && m.current_leader == Some(leader)
        };
        if unchanged && heard.at() == last {
            if let Err(e) = raft.trigger().elect().await {
                tracing::debug!(error = %e, "cannot start an election");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survivors_stand_in_order_of_id_after_the_lease() {
        let timing = Timing {
            heartbeat_ms: 200,
            election_ms: 1000,
            lease_ms: 1250,
        };
        let voters = [1, 2, 3];
        // leader 2 died: 1 first, 3 a heartbeat later
        assert_eq!(election_at(&voters, 2, 1, 10_000, timing), 11_350);
        assert_eq!(election_at(&voters, 2, 3, 10_000, timing), 11_550);
        // leader 1 died: 2 first
        assert_eq!(election_at(&voters, 1, 2, 10_000, timing), 11_350);
    }

    #[test]
    fn random_delays_stay_below_their_bound() {
        assert!((0..100).all(|_| random_below(300) < 300));
        assert_eq!(random_below(0), 0);
    }
}
