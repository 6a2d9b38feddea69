//! Partition replication, Kafka's ISR model: what a leader tracks of its followers
//! ([`leader_state`]), where a follower cuts its log before fetching from a new leader
//! ([`truncation`]), and the wait of acks=all writes for the high watermark ([`purgatory`]).
//!
//! A partition is either its leader or a follower ([`Role`]). On a single node every partition
//! leads with the ISR `{self}`, so the high watermark follows the log end at once and nothing
//! waits. The fetcher that makes followers copy their leaders, and the controller that moves
//! leadership, build on these pieces (`docs/design/replication.md`).

pub mod alter_partition;
pub mod fetcher;
pub mod hw_checkpoint;
pub mod leader_state;
pub mod purgatory;
pub mod quota;
pub mod replica_selector;
pub mod truncation;

pub use leader_state::{FetchOutcome, IsrProposal, LeaderSettings, LeaderState};

/// What a hosted replica does for its partition.
#[derive(Debug, Clone)]
pub enum Role {
    /// It leads: it takes writes and tracks its followers.
    Leader(LeaderState),
    /// It copies broker `leader`'s log.
    Follower {
        /// The leader's node id (-1 while the partition has none).
        leader: i32,
    },
}

impl Role {
    /// Whether this replica leads.
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader(_))
    }
}

/// Milliseconds on a monotonic clock (replica lag and sessions are measured on it, so that a
/// wall-clock step never expels a follower).
pub fn mono_ms() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

#[cfg(test)]
mod tests;
