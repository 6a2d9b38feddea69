//! Replication throttles (KIP-73), as Kafka's `ReplicationQuotaManager` applies them.
//!
//! Two broker configs set at runtime bound the bytes per second this broker moves for throttled
//! replicas: `leader.replication.throttled.rate` what it serves to followers as a leader,
//! `follower.replication.throttled.rate` what it fetches as a follower. Which replicas are
//! throttled comes from two topic configs, `leader.replication.throttled.replicas` and
//! `follower.replication.throttled.replicas`: `partition:broker` pairs naming this broker, or `*`
//! for every partition. The traffic of every throttled replica counts against the rate, but only
//! replicas outside the ISR are held back, so that a throttle never slows down the writes waiting
//! for the ISR; `kafka-reassign-partitions --throttle` sets both for the replicas a reassignment
//! moves.
//!
//! The rate is measured as Kafka's replication quotas measure it (`SimpleRate`): bytes over 11
//! one-second samples, divided by the time since the oldest sample began (one second at least).
//! While the measured rate is above the bound, a leader answers a held-back partition with no
//! records and a follower leaves it out of its fetches.

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::mono_ms;
use crate::metadata::MetadataImage;

/// Samples a rate is measured over (`replication.quota.window.num`).
const SAMPLES: u64 = 11;
/// Length of one sample (`replication.quota.window.size.seconds`).
const SAMPLE_MS: u64 = 1000;

/// Which side of replication a throttle applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A leader answering its followers.
    Leader,
    /// A follower fetching from its leader.
    Follower,
}

impl Side {
    /// The broker config bounding the rate.
    pub fn rate_config(self) -> &'static str {
        match self {
            Side::Leader => "leader.replication.throttled.rate",
            Side::Follower => "follower.replication.throttled.rate",
        }
    }

    /// The topic config listing the throttled replicas.
    pub fn replicas_config(self) -> &'static str {
        match self {
            Side::Leader => "leader.replication.throttled.replicas",
            Side::Follower => "follower.replication.throttled.replicas",
        }
    }
}

/// Bytes per second over Kafka's sampled window.
#[derive(Debug, Default)]
struct RateMeter {
    /// (sample start, bytes), oldest first.
    samples: VecDeque<(u64, u64)>,
}

impl RateMeter {
    fn purge(&mut self, now: u64) {
        while self
            .samples
            .front()
            .is_some_and(|(start, _)| now.saturating_sub(*start) >= SAMPLES * SAMPLE_MS)
        {
            self.samples.pop_front();
        }
    }

    fn record(&mut self, bytes: u64, now: u64) {
        self.purge(now);
        match self.samples.back_mut() {
            Some((start, sum)) if now < *start + SAMPLE_MS => *sum += bytes,
            _ => self.samples.push_back((now, bytes)),
        }
    }

    fn rate(&mut self, now: u64) -> f64 {
        self.purge(now);
        let Some((oldest, _)) = self.samples.front() else {
            return 0.0;
        };
        let total: u64 = self.samples.iter().map(|(_, b)| b).sum();
        // (Kafka's SimpleRate: the time since the oldest sample, one sample's length at least)
        let elapsed = now.saturating_sub(*oldest).max(SAMPLE_MS);
        total as f64 * 1000.0 / elapsed as f64
    }
}

/// This broker's two replication throttles.
#[derive(Debug)]
pub struct ReplicationQuotas {
    me: i32,
    leader: Mutex<RateMeter>,
    follower: Mutex<RateMeter>,
}

/// One side's throttle as it stands for one fetch: which partitions it holds back and whether
/// they are held back now.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    side: Side,
    me: i32,
    /// The measured rate is above the bound.
    pub exceeded: bool,
}

impl ReplicationQuotas {
    /// The throttles of broker `me`.
    pub fn new(me: i32) -> Self {
        ReplicationQuotas {
            me,
            leader: Mutex::default(),
            follower: Mutex::default(),
        }
    }

    fn meter(&self, side: Side) -> &Mutex<RateMeter> {
        match side {
            Side::Leader => &self.leader,
            Side::Follower => &self.follower,
        }
    }

    /// The throttle of `side` under the image's broker configs, or `None` when no rate is set
    /// (the usual case: nothing to check).
    pub fn throttle(&self, side: Side, image: &MetadataImage) -> Option<Throttle> {
        let dynamic = image.dynamic_configs(self.me);
        let value = [dynamic.broker, dynamic.default]
            .into_iter()
            .flatten()
            .find_map(|m| m.get(side.rate_config()))?;
        let bound: f64 = value.trim().parse().ok()?;
        if bound >= i64::MAX as f64 {
            return None;
        }
        let rate = self.meter(side).lock().rate(mono_ms());
        Some(Throttle {
            side,
            me: self.me,
            exceeded: rate > bound,
        })
    }

    /// Counts `bytes` of throttled replication on `side`.
    pub fn record(&self, side: Side, bytes: usize) {
        if bytes > 0 {
            self.meter(side).lock().record(bytes as u64, mono_ms());
        }
    }
}

impl Throttle {
    /// Whether partition `index` of `topic` is throttled on this side of this broker: named in
    /// the topic's throttled-replicas config, its traffic counts against the rate; it is held
    /// back when its replica is out of the ISR and [`Throttle::exceeded`].
    pub fn applies(&self, image: &MetadataImage, topic: &str, index: i32) -> bool {
        image
            .topics
            .get(topic)
            .and_then(|t| t.configs.get(self.side.replicas_config()))
            .is_some_and(|list| names(list, index, self.me))
    }
}

/// Whether a throttled-replicas list (`*`, or `partition:broker,...`) names `partition` on
/// `broker`.
fn names(list: &str, partition: i32, broker: i32) -> bool {
    let list = list.trim();
    list == "*"
        || list.split(',').any(|entry| {
            entry.split_once(':').is_some_and(|(p, b)| {
                p.trim().parse() == Ok(partition) && b.trim().parse() == Ok(broker)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_lists_name_partitions_on_this_broker() {
        assert!(names("*", 3, 1));
        assert!(names("0:1, 1:2", 1, 2));
        assert!(!names("0:1,1:2", 1, 1));
        assert!(!names("", 0, 1));
        assert!(!names("garbage", 0, 1));
    }

    #[test]
    fn a_rate_is_measured_since_the_oldest_sample_one_second_at_least() {
        let mut m = RateMeter::default();
        m.record(100_000, 0);
        // 100 kB in the first instant counts as 100 kB/s, as Kafka's SimpleRate measures it
        assert!((m.rate(1) - 100_000.0).abs() < 1.0, "{}", m.rate(1));
        m.record(100_000, 5_500);
        assert!((m.rate(8_000) - 25_000.0).abs() < 1.0, "{}", m.rate(8_000));
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut m = RateMeter::default();
        m.record(1_000_000, 0);
        m.record(1_000, 11_000);
        // the first sample is 11 s old: only the second counts, over one second
        assert!((m.rate(11_500) - 1_000.0).abs() < 1.0, "{}", m.rate(11_500));
        assert_eq!(m.samples.len(), 1);
    }
}
