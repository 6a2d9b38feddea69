//! Where a follower cuts its log before it fetches from a new leader (KIP-101, KIP-279), from
//! the leader's OffsetForLeaderEpoch answer. Pure; follows Kafka's
//! `AbstractFetcherThread.getOffsetTruncationState`.
//!
//! ```text
//! follower F: epochs (0,0) (1,120) (3,150), LEO 170     leader L: epochs (0,0) (1,120) (2,140) (4,160), LEO 200
//! F asks for its latest epoch 3   → L: (2, 160)   F has no epoch 2; its end for 2 is epoch 1's (150)
//!                                                 → cut to 150, not complete
//! F asks for its latest epoch, 1  → L: (1, 140)   F's end for 1 is 150, same epoch → cut to 140, complete
//! ```
//!
//! After a complete truncation the follower's log is a prefix of the leader's: logs never
//! diverge, whatever elections happened while it was away.

/// The leader's answer for one partition: the largest epoch ≤ the one asked and where it ends;
/// `(-1, -1)` when the leader knows no such epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// Leader epoch, -1 when undefined.
    pub leader_epoch: i32,
    /// End offset, -1 when undefined.
    pub end_offset: i64,
}

/// Where to cut, and whether that is the end of truncation (`false`: ask again with the
/// follower's latest epoch after the cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Cut the log to this offset (a no-op when it is at or past the log end).
    pub to: i64,
    /// Whether the follower may fetch after this cut.
    pub complete: bool,
}

/// The cut for the leader's `answer`. `local_end_for(epoch)` is the follower's own
/// OffsetForLeaderEpoch answer (its epoch cache); `leo` its log end; `fetch_offset` the offset it
/// was about to fetch from (its high watermark when it had no epochs).
pub fn truncation_point(
    answer: EpochEndOffset,
    local_end_for: impl Fn(i32) -> Option<(i32, i64)>,
    leo: i64,
    fetch_offset: i64,
) -> Truncation {
    if answer.end_offset < 0 {
        // the leader knows nothing of our epochs: fall back to where we would fetch from
        return Truncation {
            to: fetch_offset.min(leo),
            complete: true,
        };
    }
    if answer.leader_epoch < 0 {
        return Truncation {
            to: answer.end_offset.min(leo),
            complete: true,
        };
    }
    match local_end_for(answer.leader_epoch) {
        Some((epoch, end)) if epoch == answer.leader_epoch => Truncation {
            to: end.min(answer.end_offset).min(leo),
            complete: true,
        },
        Some((_, end)) => Truncation {
            to: end.min(leo),
            complete: false,
        },
        None => Truncation {
            to: answer.end_offset.min(leo),
            complete: true,
        },
    }
}

/// Where a new follower starts fetching: its log end when it tracks leader epochs (it then
/// truncates by epoch first), else its high watermark (Kafka's `initialFetchOffset`).
pub fn initial_fetch_offset(has_epochs: bool, leo: i64, high_watermark: i64) -> i64 {
    if has_epochs {
        leo
    } else {
        high_watermark.min(leo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `LeaderEpochFileCache.endOffsetFor` over `(epoch, start)` entries.
    fn end_for(entries: &'static [(i32, i64)], leo: i64) -> impl Fn(i32) -> Option<(i32, i64)> {
        move |epoch| {
            let latest = entries.last()?;
            if epoch == latest.0 {
                return Some((epoch, leo));
            }
            let next = entries.iter().find(|(e, _)| *e > epoch)?;
            match entries.iter().rev().find(|(e, _)| *e <= epoch) {
                Some((e, _)) => Some((*e, next.1)),
                None => Some((epoch, next.1)),
            }
        }
    }

    const LEADER: &[(i32, i64)] = &[(0, 0), (1, 120), (2, 140), (4, 160)];
    const FOLLOWER: &[(i32, i64)] = &[(0, 0), (1, 120), (3, 150)];

    #[test]
    fn the_kip_279_example_truncates_in_two_rounds() {
        let leader = end_for(LEADER, 200);
        // round 1: the follower asks for its latest epoch, 3
        let (e, o) = leader(3).unwrap();
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: e,
                end_offset: o,
            },
            end_for(FOLLOWER, 170),
            170,
            170,
        );
        assert_eq!(
            t,
            Truncation {
                to: 150,
                complete: false
            }
        );
        // round 2: after the cut its latest epoch is 1
        const AFTER: &[(i32, i64)] = &[(0, 0), (1, 120)];
        let (e, o) = leader(1).unwrap();
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: e,
                end_offset: o,
            },
            end_for(AFTER, 150),
            150,
            150,
        );
        assert_eq!(
            t,
            Truncation {
                to: 140,
                complete: true
            }
        );
    }

    #[test]
    fn a_follower_with_the_leaders_epoch_keeps_what_the_leader_has() {
        // same epoch, follower behind: nothing to cut
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: 4,
                end_offset: 200,
            },
            end_for(LEADER, 180),
            180,
            180,
        );
        assert_eq!(
            t,
            Truncation {
                to: 180,
                complete: true
            }
        );
        // same epoch, follower ahead of the leader's end for it (an unacknowledged tail)
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: 1,
                end_offset: 140,
            },
            end_for(&[(0, 0), (1, 120)], 155),
            155,
            155,
        );
        assert_eq!(
            t,
            Truncation {
                to: 140,
                complete: true
            }
        );
    }

    #[test]
    fn unknown_answers_fall_back_to_the_fetch_offset_or_the_leaders_end() {
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: -1,
                end_offset: -1,
            },
            end_for(FOLLOWER, 170),
            170,
            90,
        );
        assert_eq!(
            t,
            Truncation {
                to: 90,
                complete: true
            }
        );
        // the leader answered with an epoch below every epoch the follower tracks
        let t = truncation_point(
            EpochEndOffset {
                leader_epoch: 0,
                end_offset: 60,
            },
            |_| None,
            170,
            170,
        );
        assert_eq!(
            t,
            Truncation {
                to: 60,
                complete: true
            }
        );
    }

    #[test]
    fn new_followers_start_at_their_log_end_or_high_watermark() {
        assert_eq!(initial_fetch_offset(true, 100, 80), 100);
        assert_eq!(initial_fetch_offset(false, 100, 80), 80);
    }
}
