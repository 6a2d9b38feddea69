//! Sliding-window aggregations, as Kafka Streams' `KStreamSlidingWindowAggregate` computes them.
//!
//! Windows are `[start, start + d]` (both ends included) and exist only where records are: a
//! record at `t` has a *left* window `[t - d, t]` ending at it and, once a later record exists
//! within `d`, a *right* window `[t + 1, t + 1 + d]` starting just after it. A new record
//! updates every existing window that holds it, creates its own left window (seeded from the
//! window ending just before it), the right window of the record before it, and its own right
//! window when records after it exist (out-of-order input). Records before `d` all fall in
//! the one window `[0, d]`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::aggregate::{Aggregates, Step};
use super::{SlidingWindows, Window, Windowed};
use crate::processor::{typed, Context, DynRecord, NodeFactory, StreamsError};
use crate::store::window::{fetch, read_long, window_key, Schema};
use crate::store::{split_timestamp, with_timestamp};

/// Tells a null value (which sliding windows skip) from others.
pub(crate) type IsNull<V> = Arc<dyn Fn(&V) -> bool + Send + Sync>;

pub(crate) fn sliding_window_node<K, V, VA>(
    windows: SlidingWindows,
    aggregates: Aggregates<K, VA>,
    step: Step<K, V, VA>,
    is_null: IsNull<V>,
) -> NodeFactory
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    crate::processor::stateful(move || {
        let mut node = Sliding {
            d: windows.difference,
            grace: windows.grace,
            aggregates: aggregates.clone(),
            step: Arc::clone(&step),
            stream_time: -1,
        };
        let is_null = Arc::clone(&is_null);
        move |r: DynRecord, ctx: &mut dyn Context| {
            let key = typed::<K>(&r.key)?;
            let value = typed::<V>(&r.value)?;
            let Some(kb) = node.aggregates.key_bytes(key)? else {
                return Ok(());
            };
            if is_null(value) {
                return Ok(());
            }
            node.process(ctx, &kb, key, value, &r)
        }
    })
}

struct Sliding<K, V, VA> {
    d: i64,
    grace: i64,
    aggregates: Aggregates<K, VA>,
    step: Step<K, V, VA>,
    stream_time: i64,
}

/// A stored window: its start, its aggregate's bytes and timestamp.
struct Stored {
    start: i64,
    bytes: Vec<u8>,
    timestamp: i64,
}

/// The record being aggregated.
struct Rec<'a, K, V> {
    kb: &'a [u8],
    key: &'a K,
    value: &'a V,
    r: &'a DynRecord,
    close: i64,
}

impl<K, V, VA> Sliding<K, V, VA>
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    fn process(
        &mut self,
        ctx: &mut dyn Context,
        kb: &[u8],
        key: &K,
        value: &V,
        r: &DynRecord,
    ) -> Result<(), StreamsError> {
        let ts = r.timestamp;
        self.stream_time = self.stream_time.max(ts);
        let close = self.stream_time - self.grace;
        if ts + self.d < close {
            tracing::debug!(store = %self.aggregates.store_name, "skipping a record for an expired window (timestamp {ts}, close time {close})");
            return Ok(());
        }
        let rec = Rec {
            kb,
            key,
            value,
            r,
            close,
        };
        if ts < self.d {
            self.process_early(ctx, &rec)
        } else {
            self.process_reverse(ctx, &rec)
        }
    }

    /// The key's windows starting in `[from, to]`, by start.
    fn windows(
        &self,
        ctx: &dyn Context,
        kb: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<Stored>, StreamsError> {
        let store = ctx.store(self.aggregates.store)?;
        Ok(fetch(store, Schema::Window, kb, from, to)
            .into_iter()
            .filter_map(|(k, v)| {
                let (timestamp, bytes) = split_timestamp(&v)?;
                Some(Stored {
                    start: read_long(&k[k.len() - 12..]),
                    bytes: bytes.to_vec(),
                    timestamp,
                })
            })
            .collect())
    }

    fn process_reverse(
        &mut self,
        ctx: &mut dyn Context,
        rec: &Rec<'_, K, V>,
    ) -> Result<(), StreamsError> {
        let (ts, d) = (rec.r.timestamp, self.d);
        let mut starts = BTreeSet::new();
        let mut right_agg: Option<(Vec<u8>, i64)> = None;
        let mut left_agg: Option<Vec<u8>> = None;
        let mut previous: Option<i64> = None;
        let (mut left_created, mut right_created) = (false, false);
        let existing = self.windows(ctx, rec.kb, (ts - 2 * d).max(0), ts + 1)?;
        for w in existing.into_iter().rev() {
            starts.insert(w.start);
            let end = w.start + d;
            if w.start == ts + 1 {
                right_created = true;
            } else if end > ts {
                if right_agg.is_none() {
                    right_agg = Some((w.bytes.clone(), w.timestamp));
                }
                self.update(ctx, rec, w.start, Some((w.bytes, w.timestamp)))?;
            } else if end == ts {
                left_created = true;
                let max_ts = w.timestamp;
                self.update(ctx, rec, w.start, Some((w.bytes, w.timestamp)))?;
                if max_ts < ts {
                    previous = Some(max_ts);
                } else {
                    // a record at this very time came before: the windows exist already
                    return Ok(());
                }
            } else {
                previous = Some(w.timestamp);
                left_agg = Some(w.bytes);
                break;
            }
        }
        // the right window of the record before this one
        if let Some(p) = previous {
            let start = p + 1;
            if !starts.contains(&start) && start + d >= ts {
                self.update(ctx, rec, start, None)?;
            }
        }
        // this record's left window
        if !left_created {
            let seeded = match (previous, left_agg) {
                (Some(p), Some(agg)) if ts - d <= p => Some((agg, ts)),
                _ => None,
            };
            self.update(ctx, rec, ts - d, seeded)?;
        }
        // this record's right window, when later records exist
        if !right_created {
            if let Some((agg, agg_ts)) = right_agg {
                if agg_ts > ts {
                    self.create_right_window(ctx, rec, agg, agg_ts)?;
                }
            }
        }
        Ok(())
    }

    /// A record before the time difference: every such record is in the window `[0, d]`.
    fn process_early(
        &mut self,
        ctx: &mut dyn Context,
        rec: &Rec<'_, K, V>,
    ) -> Result<(), StreamsError> {
        let ts = rec.r.timestamp;
        let mut starts = BTreeSet::new();
        let mut combined: Option<(Vec<u8>, i64)> = None;
        let mut right_agg: Option<(Vec<u8>, i64)> = None;
        let mut previous: Option<i64> = None;
        let mut right_created = false;
        for w in self.windows(ctx, rec.kb, 0, ts + 1)? {
            starts.insert(w.start);
            if w.start == 0 {
                if w.timestamp < ts {
                    previous = Some(w.timestamp);
                }
                combined = Some((w.bytes, w.timestamp));
            } else if w.start <= ts {
                right_agg = Some((w.bytes.clone(), w.timestamp));
                self.update(ctx, rec, w.start, Some((w.bytes, w.timestamp)))?;
            } else if w.start == ts + 1 {
                right_created = true;
            }
        }
        if right_agg.is_none() {
            if let Some((bytes, agg_ts)) = &combined {
                if *agg_ts > ts {
                    right_agg = Some((bytes.clone(), *agg_ts));
                }
            }
        }
        if !right_created {
            if let Some((agg, agg_ts)) = right_agg {
                if agg_ts > ts {
                    self.create_right_window(ctx, rec, agg, agg_ts)?;
                }
            }
        }
        if let Some(p) = previous {
            if !starts.contains(&(p + 1)) {
                self.update(ctx, rec, p + 1, None)?;
            }
        }
        self.update(ctx, rec, 0, combined)
    }

    /// Adds the record to the window starting at `start`, whose aggregate so far is `so_far`
    /// (bytes and timestamp; `None`: a new window), when the window is still open.
    fn update(
        &mut self,
        ctx: &mut dyn Context,
        rec: &Rec<'_, K, V>,
        start: i64,
        so_far: Option<(Vec<u8>, i64)>,
    ) -> Result<(), StreamsError> {
        let window = Window {
            start,
            end: start + self.d,
        };
        if window.end < rec.close {
            tracing::debug!(store = %self.aggregates.store_name, "skipping an update of the expired window [{start}, {}]", window.end);
            return Ok(());
        }
        let ts = rec.r.timestamp;
        let (before, timestamp) = match so_far {
            Some((bytes, t)) => (Some(self.aggregates.decode(&bytes)?), t.max(ts)),
            None => (None, ts),
        };
        let store_key = window_key(rec.kb, start);
        let old = if self.aggregates.sends_old() {
            self.aggregates
                .read_timestamped(ctx, &store_key)?
                .map(|(a, _)| a)
        } else {
            None
        };
        let new = (self.step)(rec.key, rec.value, before);
        let windowed = Windowed {
            key: rec.key.clone(),
            window,
        };
        self.aggregates.put_timestamped(
            ctx,
            &store_key,
            windowed,
            new,
            old,
            timestamp,
            &rec.r.headers,
        )
    }

    /// The record's right window `[t + 1, t + 1 + d]`: the records after it, whose aggregate
    /// is `agg` (the window that held them and this record, before this record was added).
    fn create_right_window(
        &mut self,
        ctx: &mut dyn Context,
        rec: &Rec<'_, K, V>,
        agg: Vec<u8>,
        agg_ts: i64,
    ) -> Result<(), StreamsError> {
        let start = rec.r.timestamp + 1;
        let window = Window {
            start,
            end: start + self.d,
        };
        let store_key = window_key(rec.kb, start);
        let stored = with_timestamp(agg_ts, &agg);
        let value = self.aggregates.decode(&agg)?;
        let windowed = Windowed {
            key: rec.key.clone(),
            window,
        };
        let record = self
            .aggregates
            .change(windowed, Some(value), None, agg_ts, &rec.r.headers);
        ctx.put_and_forward(
            self.aggregates.store,
            &store_key,
            Some(&stored),
            agg_ts,
            record,
        )
    }
}
