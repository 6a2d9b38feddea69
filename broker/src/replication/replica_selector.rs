//! Fetching from the closest replica (KIP-392): a consumer that names its rack (`client.rack`,
//! Fetch v11+) may be sent by the leader to an in-sync follower in that rack, and followers
//! serve such consumers up to their high watermark.
//!
//! `replica.selector.class` chooses the policy, under Kafka's class names: unset, consumers read
//! from leaders only (Kafka's default); `org.apache.kafka.common.replica.RackAwareReplicaSelector`
//! prefers the leader when it is in the client's rack, else the most caught-up in-sync replica
//! of that rack, else the leader.

/// Kafka's rack-aware selector class.
pub const RACK_AWARE: &str = "org.apache.kafka.common.replica.RackAwareReplicaSelector";

/// Which replica a consumer reads from (`replica.selector.class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicaSelector {
    /// Consumers read from the leader (no `replica.selector.class`).
    #[default]
    LeaderOnly,
    /// [`RACK_AWARE`].
    RackAware,
}

impl ReplicaSelector {
    /// The selector a `replica.selector.class` value names; `Err` says which classes exist.
    pub fn parse(class: &str) -> Result<ReplicaSelector, String> {
        match class.trim() {
            "" => Ok(ReplicaSelector::LeaderOnly),
            RACK_AWARE => Ok(ReplicaSelector::RackAware),
            other => Err(format!(
                "Invalid value {other} for configuration replica.selector.class: Tributary provides {RACK_AWARE} (or leave it unset to read from leaders only)"
            )),
        }
    }
}

/// A replica a consumer could read from, as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaView {
    /// Node id.
    pub id: i32,
    /// Its broker's rack (`broker.rack`).
    pub rack: Option<String>,
    /// Its log end offset.
    pub log_end_offset: i64,
    /// Milliseconds since it was last caught up with the leader (0 for the leader).
    pub since_caught_up_ms: u64,
}

impl ReplicaSelector {
    /// The replica other than the leader that a consumer in `client_rack` should read from, or
    /// `None` for the leader. `followers` are the in-sync followers whose log holds the fetch
    /// offset.
    pub fn select(
        self,
        client_rack: &str,
        leader: &ReplicaView,
        followers: &[ReplicaView],
    ) -> Option<i32> {
        if self == ReplicaSelector::LeaderOnly || client_rack.is_empty() {
            return None;
        }
        let in_rack = |r: &ReplicaView| r.rack.as_deref() == Some(client_rack);
        if in_rack(leader) {
            return None;
        }
        followers
            .iter()
            .filter(|r| in_rack(r))
            // most caught up, then most recently caught up, then the lowest id (deterministic)
            .max_by(|a, b| {
                a.log_end_offset
                    .cmp(&b.log_end_offset)
                    .then(b.since_caught_up_ms.cmp(&a.since_caught_up_ms))
                    .then(b.id.cmp(&a.id))
            })
            .map(|r| r.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: i32, rack: &str, leo: i64, lag: u64) -> ReplicaView {
        ReplicaView {
            id,
            rack: (!rack.is_empty()).then(|| rack.to_string()),
            log_end_offset: leo,
            since_caught_up_ms: lag,
        }
    }

    #[test]
    fn parses_kafkas_class_name_and_refuses_others() {
        assert_eq!(ReplicaSelector::parse(""), Ok(ReplicaSelector::LeaderOnly));
        assert_eq!(
            ReplicaSelector::parse(RACK_AWARE),
            Ok(ReplicaSelector::RackAware)
        );
        let err = ReplicaSelector::parse("com.example.Nearest").unwrap_err();
        assert!(err.contains("replica.selector.class") && err.contains(RACK_AWARE));
    }

    #[test]
    fn leader_only_and_rackless_clients_read_from_the_leader() {
        let leader = view(1, "a", 10, 0);
        let followers = [view(2, "b", 10, 0)];
        assert_eq!(
            ReplicaSelector::LeaderOnly.select("b", &leader, &followers),
            None
        );
        assert_eq!(
            ReplicaSelector::RackAware.select("", &leader, &followers),
            None
        );
    }

    #[test]
    fn the_leader_wins_in_its_own_rack() {
        let leader = view(1, "a", 10, 0);
        let followers = [view(2, "a", 10, 0)];
        assert_eq!(
            ReplicaSelector::RackAware.select("a", &leader, &followers),
            None
        );
    }

    #[test]
    fn the_most_caught_up_follower_of_the_clients_rack_is_chosen() {
        let leader = view(1, "a", 10, 0);
        let followers = [
            view(2, "b", 8, 0),
            view(3, "b", 10, 50),
            view(4, "b", 10, 5),
            view(5, "c", 10, 0),
        ];
        assert_eq!(
            ReplicaSelector::RackAware.select("b", &leader, &followers),
            Some(4)
        );
        // no replica in the client's rack: the leader
        assert_eq!(
            ReplicaSelector::RackAware.select("z", &leader, &followers),
            None
        );
    }
}
