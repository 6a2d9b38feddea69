//! Windows: the time ranges that windowed aggregations group records by, and windowed keys.
//!
//! * [`TimeWindows`]: fixed-size windows `[start, start + size)`, tumbling (advancing by
//!   their size) or hopping (advancing by less), aligned to the epoch.
//! * [`SlidingWindows`]: windows `[start, start + difference]` (both ends included) that
//!   slide with the records: each record opens one window that ends at it and one that starts
//!   just after it, so every distinct set of records within the time difference is counted once.
//! * [`SessionWindows`]: per key, records closer than the inactivity gap form one session
//!   `[first, last]`; a record between two sessions merges them.
//!
//! A window accepts records until its end plus the *grace period* has passed in stream time
//! (the largest timestamp the aggregation has seen); a later record for it is dropped as late.
//! The result of a windowed aggregation is a table keyed by [`Windowed`] keys, written to
//! topics as Kafka Streams writes them ([`crate::Serdes::time_windowed`],
//! [`crate::Serdes::session_windowed`]).

pub(crate) mod aggregate;
mod serde;
pub(crate) mod session;
pub(crate) mod sliding;
mod stream;
pub(crate) mod suppress;

use std::fmt;
use std::time::Duration;

use crate::processor::StreamsError;

pub use serde::{SessionWindowedSerde, TimeWindowedSerde};
pub(crate) use sliding::IsNull;
pub use stream::{SessionWindowedKStream, TimeWindowedKStream};
pub use suppress::{BufferConfig, Suppressed};

/// A window's bounds in milliseconds: `[start, end)` for time windows, `[start, end]` (both
/// included) for sliding windows and sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// The first millisecond of the window.
    pub start: i64,
    /// Its end.
    pub end: i64,
}

/// A key of a windowed aggregation: the record key and its window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    /// The record key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    /// `[key@start/end]`, as Kafka Streams prints a windowed key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}@{}/{}]",
            self.key, self.window.start, self.window.end
        )
    }
}

/// A duration in whole milliseconds, or Kafka's error naming the parameter.
pub(crate) fn millis(d: Duration, name: &str) -> Result<i64, StreamsError> {
    i64::try_from(d.as_millis()).map_err(|_| {
        StreamsError::InvalidArgument(format!(
            "Invalid value for parameter \"{name}\" (value was: {d:?}). It can't be converted to milliseconds."
        ))
    })
}

/// Fixed-size windows, tumbling or hopping (Kafka Streams' `TimeWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    pub(crate) size: i64,
    pub(crate) advance: i64,
    pub(crate) grace: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` that drop every late record.
    pub fn of_size_with_no_grace(size: Duration) -> Result<TimeWindows, StreamsError> {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept records up to `after_window_end` after their end.
    pub fn of_size_and_grace(
        size: Duration,
        after_window_end: Duration,
    ) -> Result<TimeWindows, StreamsError> {
        let size = millis(size, "size")?;
        Self::checked(size, size, millis(after_window_end, "afterWindowEnd")?)
    }

    /// These windows made hopping: a new one starts every `advance` (at most the size).
    pub fn advance_by(self, advance: Duration) -> Result<TimeWindows, StreamsError> {
        Self::checked(self.size, millis(advance, "advance")?, self.grace)
    }

    fn checked(size: i64, advance: i64, grace: i64) -> Result<TimeWindows, StreamsError> {
        let bad = |m: String| Err(StreamsError::InvalidArgument(m));
        if size <= 0 {
            return bad("Window size (sizeMs) must be larger than zero.".into());
        }
        if advance <= 0 || advance > size {
            return bad(format!(
                "Window advancement interval should be more than zero and less than window duration which is {size} ms, but given advancement interval is: {advance} ms"
            ));
        }
        if grace < 0 {
            return bad("Grace period must not be negative.".into());
        }
        Ok(TimeWindows {
            size,
            advance,
            grace,
        })
    }

    /// The window size in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    /// The windows holding `timestamp`, by start: none for a negative timestamp.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        let mut start = (timestamp - self.size + self.advance).max(0) / self.advance * self.advance;
        let mut out = Vec::new();
        while start <= timestamp {
            // (an end past i64::MAX cannot be a window: Kafka refuses it too)
            if let Some(end) = start.checked_add(self.size) {
                out.push(Window { start, end });
            }
            start += self.advance;
        }
        out
    }
}

/// Windows that slide with the records (Kafka Streams' `SlidingWindows`): `[t - difference, t]`
/// for each record time `t`, and the windows that start just after each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    pub(crate) difference: i64,
    pub(crate) grace: i64,
}

impl SlidingWindows {
    /// Windows covering `time_difference`, with no grace period.
    pub fn of_time_difference_with_no_grace(
        time_difference: Duration,
    ) -> Result<SlidingWindows, StreamsError> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Windows covering `time_difference`, accepting records up to `after_window_end` late.
    pub fn of_time_difference_and_grace(
        time_difference: Duration,
        after_window_end: Duration,
    ) -> Result<SlidingWindows, StreamsError> {
        let difference = millis(time_difference, "timeDifference")?;
        let grace = millis(after_window_end, "afterWindowEnd")?;
        // (Kafka accepts a difference of 0 here and fails on the first record; refuse it now)
        if difference <= 0 {
            return Err(StreamsError::InvalidArgument(
                "Window time difference must be larger than zero.".into(),
            ));
        }
        Ok(SlidingWindows { difference, grace })
    }

    /// The time difference in milliseconds.
    pub fn time_difference_ms(&self) -> i64 {
        self.difference
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }
}

/// Sessions of activity per key, closed by a gap of inactivity (Kafka Streams'
/// `SessionWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    pub(crate) gap: i64,
    pub(crate) grace: i64,
}

impl SessionWindows {
    /// Sessions closed by `inactivity_gap`, with no grace period.
    pub fn of_inactivity_gap_with_no_grace(
        inactivity_gap: Duration,
    ) -> Result<SessionWindows, StreamsError> {
        Self::of_inactivity_gap_and_grace(inactivity_gap, Duration::ZERO)
    }

    /// Sessions closed by `inactivity_gap`, accepting records up to `after_window_end` late.
    pub fn of_inactivity_gap_and_grace(
        inactivity_gap: Duration,
        after_window_end: Duration,
    ) -> Result<SessionWindows, StreamsError> {
        let gap = millis(inactivity_gap, "inactivityGap")?;
        let grace = millis(after_window_end, "afterWindowEnd")?;
        if gap <= 0 {
            return Err(StreamsError::InvalidArgument(
                "Gap time cannot be zero or negative.".into(),
            ));
        }
        Ok(SessionWindows { gap, grace })
    }

    /// The inactivity gap in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn time_windows_hold_a_timestamp_as_kafka_streams_computes_them() {
        let tumbling = TimeWindows::of_size_with_no_grace(ms(10)).unwrap();
        assert_eq!(tumbling.windows_for(0), vec![Window { start: 0, end: 10 }]);
        assert_eq!(
            tumbling.windows_for(19),
            vec![Window { start: 10, end: 20 }]
        );
        assert!(tumbling.windows_for(-1).is_empty());
        let hopping = TimeWindows::of_size_and_grace(ms(10), ms(2))
            .unwrap()
            .advance_by(ms(4))
            .unwrap();
        let starts: Vec<i64> = hopping.windows_for(13).iter().map(|w| w.start).collect();
        assert_eq!(starts, vec![4, 8, 12]);
        let starts: Vec<i64> = hopping.windows_for(3).iter().map(|w| w.start).collect();
        assert_eq!(starts, vec![0]);
        assert_eq!(hopping.grace_ms(), 2);
    }

    #[test]
    fn bad_windows_are_refused_with_kafkas_messages() {
        let err = TimeWindows::of_size_with_no_grace(ms(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Window size (sizeMs) must be larger than zero."
        );
        let err = TimeWindows::of_size_with_no_grace(ms(10))
            .unwrap()
            .advance_by(ms(11))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("duration which is 10 ms, but given advancement interval is: 11 ms"),
            "{err}"
        );
        let err = SessionWindows::of_inactivity_gap_with_no_grace(ms(0)).unwrap_err();
        assert_eq!(err.to_string(), "Gap time cannot be zero or negative.");
        assert!(SlidingWindows::of_time_difference_with_no_grace(ms(0)).is_err());
        let err = TimeWindows::of_size_with_no_grace(Duration::from_secs(u64::MAX)).unwrap_err();
        assert!(
            err.to_string()
                .contains("can't be converted to milliseconds"),
            "{err}"
        );
    }

    #[test]
    fn windowed_keys_print_as_kafka_prints_them() {
        let k = Windowed {
            key: "k",
            window: Window { start: 5, end: 15 },
        };
        assert_eq!(k.to_string(), "[k@5/15]");
    }
}
