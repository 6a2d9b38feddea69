//! Stream-stream joins within a time window (inner, left, outer), as Kafka Streams'
//! `KStreamKStreamJoin` computes them.
//!
//! Each side's records are kept in a window store (`<join node>-store`, one entry per record)
//! for the window plus the grace period. A record joins the other side's records of its key
//! whose timestamps are within `before`/`after` of its own; each pair is joined at the larger
//! of the two timestamps. In left and outer joins a record that found no partner waits in a
//! shared store (`KSTREAM-OUTERSHARED-<n>-store`) until its window closed in stream time (the
//! largest timestamp either side has seen), and is then joined with `None`, unless a partner
//! came meanwhile; these results come out when a record in time order arrives, before its own
//! results.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::kstream::KStream;
use crate::processor::{typed, Context, DynRecord, NodeFactory, StreamsError};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::window::{fetch, read_long, Schema};
use crate::store::{StoreDef, StoreKind};
use crate::topology::Kind;
use crate::window::{millis, IsNull};

use super::stream_table::is_null;

/// How far apart two records may be to join: the other side's records from `before` before to
/// `after` after a record (Kafka Streams' `JoinWindows`), and how long late records are
/// accepted (the grace period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before: i64,
    after: i64,
    grace: i64,
    /// Whether left and outer joins hold an unmatched record back until its window closed
    /// (Kafka's spurious-result fix); without it, it is joined with `None` at once.
    hold_unmatched: bool,
}

impl JoinWindows {
    /// Records at most `time_difference` apart join, as Kafka's deprecated `JoinWindows.of`:
    /// late records are accepted for what is left of 24 hours after twice the difference, and
    /// left and outer joins give an unmatched record joined with `None` at once (and its later
    /// matches too), as Kafka Streams did before its spurious-result fix (KIP-633).
    pub fn of(time_difference: Duration) -> Result<JoinWindows, StreamsError> {
        let d = millis(time_difference, "timeDifference")?;
        let grace = (24 * 60 * 60 * 1000 - d.saturating_mul(2)).max(0);
        let mut w = Self::checked(d, d, grace)?;
        w.hold_unmatched = false;
        Ok(w)
    }

    /// Records at most `time_difference` apart join; no late records.
    pub fn of_time_difference_with_no_grace(
        time_difference: Duration,
    ) -> Result<JoinWindows, StreamsError> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Records at most `time_difference` apart join; records up to `after_window_end` late
    /// still join.
    pub fn of_time_difference_and_grace(
        time_difference: Duration,
        after_window_end: Duration,
    ) -> Result<JoinWindows, StreamsError> {
        let d = millis(time_difference, "timeDifference")?;
        let grace = millis(after_window_end, "afterWindowEnd")?;
        Self::checked(d, d, grace)
    }

    /// These windows reaching `before` back from a record (instead of the time difference).
    pub fn before(self, before: Duration) -> Result<JoinWindows, StreamsError> {
        Ok(JoinWindows {
            hold_unmatched: self.hold_unmatched,
            ..Self::checked(millis(before, "timeDifference")?, self.after, self.grace)?
        })
    }

    /// These windows reaching `after` forward from a record.
    pub fn after(self, after: Duration) -> Result<JoinWindows, StreamsError> {
        Ok(JoinWindows {
            hold_unmatched: self.hold_unmatched,
            ..Self::checked(self.before, millis(after, "timeDifference")?, self.grace)?
        })
    }

    fn checked(before: i64, after: i64, grace: i64) -> Result<JoinWindows, StreamsError> {
        if before.saturating_add(after) < 0 {
            return Err(StreamsError::InvalidArgument(
                "Window interval (ie, beforeMs+afterMs) must not be negative.".into(),
            ));
        }
        if grace < 0 {
            return Err(StreamsError::InvalidArgument(
                "Grace period must not be negative.".into(),
            ));
        }
        Ok(JoinWindows {
            before,
            after,
            grace,
            hold_unmatched: true,
        })
    }

    fn size(&self) -> i64 {
        self.before + self.after
    }
}

/// How a stream-stream join is typed and named: the key serde, both sides' value serdes (else
/// those known upstream), the join's name (its nodes are `<name>-this-join` etc.) and its
/// stores' base name.
pub struct StreamJoined<K, V, VO> {
    key: Option<SharedSerde<K>>,
    value: Option<SharedSerde<V>>,
    other: Option<SharedSerde<VO>>,
    name: Option<String>,
    store_name: Option<String>,
    logging: bool,
}

impl<K, V, VO> Default for StreamJoined<K, V, VO> {
    fn default() -> Self {
        StreamJoined {
            key: None,
            value: None,
            other: None,
            name: None,
            store_name: None,
            logging: true,
        }
    }
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    /// The serdes known upstream, generated names.
    pub fn new() -> Self {
        Self::default()
    }

    /// These serdes: keys, this stream's values, the other stream's values.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>, other: SharedSerde<VO>) -> Self {
        StreamJoined {
            key: Some(key),
            value: Some(value),
            other: Some(other),
            ..Self::default()
        }
    }

    /// This join named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// This join's stores named after `name` (`<name>-this-join-store`, ...).
    pub fn with_store_name(mut self, name: &str) -> Self {
        self.store_name = Some(name.to_string());
        self
    }

    /// This join's stores without changelogs.
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }
}

/// The joiner over both sides' values (`None`: no partner).
type Joiner<V, VO, VR> = Arc<dyn Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync>;

/// Which joins emit unmatched records of which side.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Outer {
    left: bool,
    right: bool,
}

impl<K, V> KStream<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Records of both streams with the same key and timestamps within `windows`, joined by
    /// `joiner` (at the larger timestamp).
    pub fn join_windowed<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<V, VO, Option<VR>> = Arc::new(move |v, o| match (v, o) {
            (Some(v), Some(o)) => Some(joiner(v, o)),
            _ => None,
        });
        self.stream_join(
            other,
            joiner,
            windows,
            joined,
            Outer {
                left: false,
                right: false,
            },
        )
    }

    /// [`KStream::join_windowed`], and each record of this stream that found no partner by the
    /// time its window closed, joined with `None`.
    pub fn left_join_windowed<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<V, VO, Option<VR>> = Arc::new(move |v, o| v.map(|v| joiner(v, o)));
        self.stream_join(
            other,
            joiner,
            windows,
            joined,
            Outer {
                left: true,
                right: false,
            },
        )
    }

    /// [`KStream::join_windowed`], and each record of either stream that found no partner by
    /// the time its window closed, joined with `None` for the other side.
    pub fn outer_join_windowed<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: Joiner<V, VO, Option<VR>> = Arc::new(move |v, o| Some(joiner(v, o)));
        self.stream_join(
            other,
            joiner,
            windows,
            joined,
            Outer {
                left: true,
                right: true,
            },
        )
    }

    fn stream_join<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        joiner: Joiner<V, VO, Option<VR>>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
        outer: Outer,
    ) -> KStream<K, VR>
    where
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let key = joined.key.clone().or_else(|| self.key_serde());
        let value = joined.value.clone().or_else(|| self.value_serde());
        let other_value = joined.other.clone().or_else(|| other.value_serde());
        let base = |s: usize, side: &str| match &joined.name {
            Some(n) => format!("{n}-{side}"),
            None => self.graph().borrow().nodes[s].name.clone(),
        };
        let this = if self.repartition_required() {
            self.repartition_as(&base(self.node(), "left"), key.clone(), value.clone(), true)
        } else {
            self.clone()
        };
        let that = if other.repartition_required() {
            other.repartition_as(
                &base(other.node(), "right"),
                key.clone(),
                other_value.clone(),
                true,
            )
        } else {
            other.clone()
        };
        let graph = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        let named = |suffix: &str| joined.name.as_ref().map(|n| format!("{n}-{suffix}"));
        let this_windowed = g.name("KSTREAM-WINDOWED-", named("this-windowed").as_deref());
        let other_windowed = g.name("KSTREAM-WINDOWED-", named("other-windowed").as_deref());
        let (this_prefix, this_suffix) = if outer.right {
            ("KSTREAM-OUTERTHIS-", "outer-this-join")
        } else {
            ("KSTREAM-JOINTHIS-", "this-join")
        };
        let (other_prefix, other_suffix) = if outer.left {
            ("KSTREAM-OUTEROTHER-", "outer-other-join")
        } else {
            ("KSTREAM-JOINOTHER-", "other-join")
        };
        let this_generated = g.name(this_prefix, None);
        let other_generated = g.name(other_prefix, None);
        let merge = g.name("KSTREAM-MERGE-", named("merge").as_deref());
        let this_join = named(this_suffix).unwrap_or_else(|| this_generated.clone());
        let other_join = named(other_suffix).unwrap_or_else(|| other_generated.clone());
        let store_name = |generated: &str, suffix: &str| match &joined.store_name {
            Some(s) => format!("{s}-{suffix}-store"),
            None => format!("{generated}-store"),
        };
        let retention = windows.size().saturating_add(windows.grace);
        let window_store = |name: String| StoreDef {
            name,
            logged: joined.logging,
            persistent: false,
            dsl_default: true,
            timestamped: false,
            cached: false,
            kind: StoreKind::Window {
                retention,
                size: windows.size(),
                duplicates: true,
            },
        };
        let this_store = g.add_store(window_store(store_name(&this_generated, this_suffix)));
        let other_store = g.add_store(window_store(store_name(&other_generated, other_suffix)));
        let shared = ((outer.left || outer.right) && windows.hold_unmatched).then(|| {
            let name = match &joined.store_name {
                Some(s) if outer.right => format!("{s}-outer-shared-join-store"),
                Some(s) => format!("{s}-left-shared-join-store"),
                None => format!(
                    "KSTREAM-OUTERSHARED-{}-store",
                    &this_generated[this_generated.len() - 10..]
                ),
            };
            g.add_store(StoreDef {
                name,
                logged: joined.logging,
                persistent: false,
                dsl_default: true,
                timestamped: false,
                cached: false,
                kind: StoreKind::KeyValue,
            })
        });
        let (Some(key_serde), Some(value_serde), Some(other_serde)) =
            (key.clone(), value.clone(), other_value.clone())
        else {
            g.error.get_or_insert(format!(
                "the join {this_join} needs a key serde and both value serdes: give them with StreamJoined::with"
            ));
            drop(g);
            return KStream::new(Rc::clone(&graph), self.node()).with_serdes(key, None, false);
        };
        g.copartition(&[this.node(), that.node()]);
        let tracker = g.shared_state_id();
        let stores = Stores {
            this: this_store,
            other: other_store,
            shared,
        };
        let this_w = g.add(
            this_windowed,
            Kind::Processor {
                stores: vec![this_store],
            },
            vec![this.node()],
            Some(windowed_node(
                this_store,
                key_serde.clone(),
                value_serde.clone(),
            )),
        );
        let other_w = g.add(
            other_windowed,
            Kind::Processor {
                stores: vec![other_store],
            },
            vec![that.node()],
            Some(windowed_node(
                other_store,
                key_serde.clone(),
                other_serde.clone(),
            )),
        );
        let serdes = Serdes3 {
            key: key_serde,
            value: value_serde,
            other: other_serde,
        };
        let this_j = g.add(
            this_join,
            Kind::Processor {
                stores: std::iter::once(other_store).chain(shared).collect(),
            },
            vec![this_w],
            Some(join_node::<K, V, VO, VR>(
                true,
                windows,
                outer,
                stores,
                tracker,
                serdes.clone(),
                Arc::clone(&joiner),
            )),
        );
        let other_j = g.add(
            other_join,
            Kind::Processor {
                stores: std::iter::once(this_store).chain(shared).collect(),
            },
            vec![other_w],
            Some(join_node::<K, V, VO, VR>(
                false, windows, outer, stores, tracker, serdes, joiner,
            )),
        );
        let node = g.add(
            merge,
            Kind::Processor { stores: Vec::new() },
            vec![this_j, other_j],
            Some(crate::kstream::pass_through()),
        );
        drop(g);
        KStream::new(Rc::clone(&graph), node).with_serdes(key, None, false)
    }
}

#[derive(Clone, Copy)]
struct Stores {
    this: usize,
    other: usize,
    shared: Option<usize>,
}

struct Serdes3<K, V, VO> {
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    other: SharedSerde<VO>,
}

impl<K, V, VO> Clone for Serdes3<K, V, VO> {
    fn clone(&self) -> Self {
        Serdes3 {
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
            other: Arc::clone(&self.other),
        }
    }
}

/// A side's windowed node: passes the record on to its join node first, then keeps it in the
/// side's window store (key ‖ timestamp ‖ sequence number, numbered from 1 per task; a record
/// without a key is not kept).
fn windowed_node<K, V>(store: usize, key: SharedSerde<K>, value: SharedSerde<V>) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    crate::processor::stateful(move || {
        let (key, value) = (Arc::clone(&key), Arc::clone(&value));
        let mut seqnum: u32 = 0;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let ts = r.timestamp;
            let kb = to_bytes(&key, "key", "join", typed::<K>(&r.key)?)?;
            let vb = to_bytes(&value, "value", "join", typed::<V>(&r.value)?)?;
            ctx.forward(r)?;
            if let Some(kb) = kb {
                // (a null value is not kept, but its changelog record is written, as Kafka's
                // changelogging window store writes it)
                seqnum = (seqnum + 1) & 0x7fff_ffff;
                let mut store_key = kb;
                store_key.extend_from_slice(&ts.to_be_bytes());
                store_key.extend_from_slice(&seqnum.to_be_bytes());
                ctx.put(store, &store_key, vb.as_deref(), ts)?;
            }
            Ok(())
        }
    })
}

/// The join's time, shared by both sides in a task.
#[derive(Clone, Copy)]
struct Tracker {
    stream_time: i64,
    /// The smallest timestamp waiting in the shared store, as Kafka Streams tracks it (stale by
    /// design: it decides when the store is looked at).
    min_time: i64,
}

/// A key of the shared store: timestamp, side (1: this side, 0: the other), record key.
fn shared_key(ts: i64, this_side: bool, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + key.len());
    out.extend_from_slice(&ts.to_be_bytes());
    out.push(u8::from(this_side));
    out.extend_from_slice(key);
    out
}

/// The shared store's value: the list of values waiting under one key, each with its side,
/// in Kafka Streams' list encoding.
fn encode_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x01];
    out.extend_from_slice(&(items.len() as i32).to_be_bytes());
    for item in items {
        out.extend_from_slice(&(item.len() as i32).to_be_bytes());
        out.extend_from_slice(item);
    }
    out
}

fn decode_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let Some(rest) = bytes.get(1..) else {
        return items;
    };
    let read_int = |b: &[u8]| -> Option<usize> {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        usize::try_from(i32::from_be_bytes(a)).ok()
    };
    let Some(count) = read_int(rest) else {
        return items;
    };
    let mut at = 4;
    for _ in 0..count {
        let Some(len) = rest.get(at..).and_then(read_int) else {
            break;
        };
        at += 4;
        let Some(item) = rest.get(at..at + len) else {
            break;
        };
        items.push(item.to_vec());
        at += len;
    }
    items
}

#[allow(clippy::too_many_arguments)]
fn join_node<K, V, VO, VR>(
    this_side: bool,
    windows: JoinWindows,
    outer: Outer,
    stores: Stores,
    tracker_id: usize,
    serdes: Serdes3<K, V, VO>,
    joiner: Joiner<V, VO, Option<VR>>,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VO: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    let (join_before, join_after, is_outer, other_store) = if this_side {
        (windows.before, windows.after, outer.left, stores.other)
    } else {
        (windows.after, windows.before, outer.right, stores.this)
    };
    let key_null = is_null(Some(Arc::clone(&serdes.key)));
    let (this_null, other_null): (IsNull<V>, IsNull<VO>) = (
        is_null(Some(Arc::clone(&serdes.value))),
        is_null(Some(Arc::clone(&serdes.other))),
    );
    crate::processor::stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let ts = r.timestamp;
        let mut tracker = match ctx
            .task_state(tracker_id)
            .as_ref()
            .and_then(|b| b.downcast_ref::<Tracker>())
        {
            Some(t) => *t,
            None => Tracker {
                stream_time: -1,
                min_time: i64::MAX,
            },
        };
        tracker.stream_time = tracker.stream_time.max(ts);
        let result = process(
            &r,
            ctx,
            &mut tracker,
            Side {
                this_side,
                join_before,
                join_after,
                is_outer,
                other_store,
            },
            (&windows, stores, &serdes, &joiner),
            (&key_null, &this_null, &other_null),
        );
        *ctx.task_state(tracker_id) = Some(Box::new(tracker));
        result
    })
}

/// One side of the join, as its node sees it.
struct Side {
    this_side: bool,
    join_before: i64,
    join_after: i64,
    is_outer: bool,
    other_store: usize,
}

type Nulls<'a, K, V, VO> = (&'a IsNull<K>, &'a IsNull<V>, &'a IsNull<VO>);
type Setup<'a, K, V, VO, VR> = (
    &'a JoinWindows,
    Stores,
    &'a Serdes3<K, V, VO>,
    &'a Joiner<V, VO, Option<VR>>,
);

fn process<K, V, VO, VR>(
    r: &DynRecord,
    ctx: &mut dyn Context,
    tracker: &mut Tracker,
    side: Side,
    (windows, stores, serdes, joiner): Setup<'_, K, V, VO, VR>,
    (key_null, this_null, other_null): Nulls<'_, K, V, VO>,
) -> Result<(), StreamsError>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VO: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    let ts = r.timestamp;
    let key = typed::<K>(&r.key)?;
    // this side's value, or the other's when this node is the other side
    let (mine_v, mine_o) = if side.this_side {
        (Some(typed::<V>(&r.value)?), None)
    } else {
        (None, Some(typed::<VO>(&r.value)?))
    };
    let value_is_null = match (mine_v, mine_o) {
        (Some(v), _) => this_null(v),
        (_, Some(o)) => other_null(o),
        _ => true,
    };
    let forward = |ctx: &mut dyn Context, value: Option<VR>, timestamp: i64| match value {
        Some(v) => ctx.forward(DynRecord {
            key: Arc::clone(&r.key),
            value: Arc::new(v),
            timestamp,
            headers: Arc::clone(&r.headers),
        }),
        None => Ok(()),
    };
    if side.is_outer && key_null(key) && !value_is_null {
        return forward(ctx, joiner(mine_v, mine_o), ts);
    }
    if key_null(key) || value_is_null {
        tracing::debug!("skipping a record with a null key or value");
        return Ok(());
    }
    let Some(kb) = to_bytes(&serdes.key, "key", "join", key)? else {
        return Ok(());
    };
    if ts == tracker.stream_time {
        if let Some(shared) = stores.shared {
            emit_unmatched(r, ctx, tracker, &side, windows, shared, serdes, joiner)?;
        }
    }
    let from = (ts - side.join_before).max(0);
    let to = (ts + side.join_after).max(0);
    let partners = fetch(ctx.store(side.other_store)?, Schema::Window, &kb, from, to);
    let need_outer = side.is_outer && partners.is_empty();
    for (store_key, bytes) in partners {
        let other_ts = read_long(&store_key[store_key.len() - 12..]);
        if let Some(shared) = stores.shared {
            // the partner is matched: it no longer waits
            let waiting = shared_key(other_ts, !side.this_side, &kb);
            if ctx.store(shared)?.get(&waiting).is_some() {
                ctx.put(shared, &waiting, None, ts)?;
            }
        }
        let value = if side.this_side {
            let o: VO = from_bytes(&serdes.other, "value", "join", Some(&bytes))?;
            joiner(mine_v, Some(&o))
        } else {
            let v: V = from_bytes(&serdes.value, "value", "join", Some(&bytes))?;
            joiner(Some(&v), mine_o)
        };
        forward(ctx, value, ts.max(other_ts))?;
    }
    if need_outer {
        match stores.shared {
            Some(shared) if to >= tracker.stream_time => {
                tracker.min_time = tracker.min_time.min(ts);
                let raw = match (mine_v, mine_o) {
                    (Some(v), _) => to_bytes(&serdes.value, "value", "join", v)?,
                    (_, Some(o)) => to_bytes(&serdes.other, "value", "join", o)?,
                    _ => None,
                };
                let mut item = vec![u8::from(side.this_side)];
                item.extend_from_slice(&raw.unwrap_or_default());
                let waiting = shared_key(ts, side.this_side, &kb);
                let mut items = ctx
                    .store(shared)?
                    .get(&waiting)
                    .map(decode_list)
                    .unwrap_or_default();
                items.push(item);
                ctx.put(shared, &waiting, Some(&encode_list(&items)), ts)?;
            }
            _ => forward(ctx, joiner(mine_v, mine_o), ts)?,
        }
    }
    Ok(())
}

/// Emits the waiting records whose windows closed (joined with `None` for the other side), in
/// the shared store's order, and takes them out of it.
#[allow(clippy::too_many_arguments)]
fn emit_unmatched<K, V, VO, VR>(
    r: &DynRecord,
    ctx: &mut dyn Context,
    tracker: &mut Tracker,
    side: &Side,
    windows: &JoinWindows,
    shared: usize,
    serdes: &Serdes3<K, V, VO>,
    joiner: &Joiner<V, VO, Option<VR>>,
) -> Result<(), StreamsError>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    VO: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    // (Kafka's check, overflow of an empty store's i64::MAX included)
    if tracker
        .min_time
        .wrapping_add(side.join_after)
        .wrapping_add(windows.grace)
        >= tracker.stream_time
    {
        return Ok(());
    }
    tracker.min_time = i64::MAX;
    let entries = ctx.store(shared)?.range(None, None);
    let (mut left_open, mut right_open) = (false, false);
    let mut done: Vec<Vec<u8>> = Vec::new();
    'entries: for (k, list) in entries {
        if k.len() < 9 {
            continue;
        }
        let ts = read_long(&k[..8]);
        let is_left = k[8] == 1;
        let key_bytes = &k[9..];
        for item in decode_list(&list) {
            tracker.min_time = ts;
            if left_open && right_open {
                break 'entries;
            }
            let lookback = if is_left {
                windows.after
            } else {
                windows.before
            };
            if tracker.min_time + lookback + windows.grace >= tracker.stream_time {
                if is_left {
                    left_open = true;
                } else {
                    right_open = true;
                }
                continue;
            }
            let key: K = from_bytes(&serdes.key, "key", "join", Some(key_bytes))?;
            let raw = item.get(1..).filter(|b| !b.is_empty());
            let value = match item.first() {
                Some(1) => {
                    let v = raw
                        .map(|b| from_bytes(&serdes.value, "value", "join", Some(b)))
                        .transpose()?;
                    joiner(v.as_ref(), None)
                }
                _ => {
                    let o = raw
                        .map(|b| from_bytes(&serdes.other, "value", "join", Some(b)))
                        .transpose()?;
                    joiner(None, o.as_ref())
                }
            };
            if let Some(value) = value {
                ctx.forward(DynRecord {
                    key: Arc::new(key),
                    value: Arc::new(value),
                    timestamp: ts,
                    headers: Arc::clone(&r.headers),
                })?;
            }
            if done.last() != Some(&k) {
                done.push(k.clone());
            }
        }
    }
    for k in done {
        ctx.put(shared, &k, None, r.timestamp)?;
    }
    Ok(())
}
