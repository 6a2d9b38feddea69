//! Windowed grouped streams: `KGroupedStream::windowed_by*` and their aggregations, each a
//! table of [`Windowed`] keys kept in a window or session store.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::aggregate::{time_window_node, Aggregates, Step};
use super::session::{count_steps, reduce_steps, session_window_node, SessionSteps};
use super::sliding::{sliding_window_node, IsNull};
use super::{SessionWindows, SlidingWindows, TimeWindows, Windowed};
use crate::builder::Graph;
use crate::grouped::{missing_serdes, KGroupedStream, Materialized};
use crate::ktable::KTable;
use crate::processor::NodeFactory;
use crate::serde::{Serdes, SharedSerde};
use crate::store::StoreKind;

impl<K, V> KGroupedStream<K, V>
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The grouped records in time windows (tumbling or hopping), to aggregate per key and
    /// window.
    pub fn windowed_by(&self, windows: TimeWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped: self.clone(),
            windows: TimeKind::Time(windows),
        }
    }

    /// The grouped records in sliding windows.
    pub fn windowed_by_sliding(&self, windows: SlidingWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped: self.clone(),
            windows: TimeKind::Sliding(windows),
        }
    }

    /// The grouped records in sessions.
    pub fn windowed_by_session(&self, windows: SessionWindows) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream {
            grouped: self.clone(),
            windows,
        }
    }
}

#[derive(Clone, Copy)]
enum TimeKind {
    Time(TimeWindows),
    Sliding(SlidingWindows),
}

/// A grouped stream in time or sliding windows (Kafka Streams' `TimeWindowedKStream`).
pub struct TimeWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: TimeKind,
}

/// A grouped stream in sessions (Kafka Streams' `SessionWindowedKStream`).
pub struct SessionWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: SessionWindows,
}

/// Kafka Streams' `count(Materialized)` of time and session windows takes one index more
/// than `count()` when the store is not named.
fn burn_for_unnamed<K, VA>(graph: &mut Graph, materialized: &Materialized<K, VA>) {
    if materialized.name.is_none() {
        let _ = graph.name("", None);
    }
}

/// The store's retention: `Materialized`'s, else `minimum`.
fn retention<K, VA>(materialized: &Materialized<K, VA>, minimum: i64) -> i64 {
    materialized.retention.map_or(minimum, |r| {
        i64::try_from(r.as_millis()).unwrap_or(i64::MAX)
    })
}

impl<K, V> TimeWindowedKStream<K, V>
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The number of records per key and window.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_inner(Materialized::new())
    }

    /// The number of records per key and window, kept as `materialized` says.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        if matches!(self.windows, TimeKind::Time(_)) {
            burn_for_unnamed(&mut self.grouped.graph().borrow_mut(), &materialized);
        }
        self.count_inner(materialized)
    }

    fn count_inner(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.build(
            materialized.or_serdes(self.grouped.key_serde(), Some(Serdes::long())),
            "KSTREAM-AGGREGATE-",
            Arc::new(|_: &K, _: &V, count: Option<i64>| count.unwrap_or(0) + 1),
        )
    }

    /// Each key's values per window combined with `reducer` (the first value as it is).
    pub fn reduce(
        &self,
        reducer: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V>
    where
        V: Clone,
    {
        let materialized =
            materialized.or_serdes(self.grouped.key_serde(), self.grouped.value_serde());
        self.build(
            materialized,
            "KSTREAM-REDUCE-",
            Arc::new(move |_: &K, v: &V, agg: Option<V>| match agg {
                Some(agg) => reducer(&agg, v),
                None => v.clone(),
            }),
        )
    }

    /// Each key's values per window folded into an aggregate: `initializer` starts a window's,
    /// `aggregator` adds a record.
    pub fn aggregate<VA>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Send + Sync + 'static,
    {
        self.build(
            materialized.or_serdes(self.grouped.key_serde(), None),
            "KSTREAM-AGGREGATE-",
            Arc::new(move |k: &K, v: &V, agg: Option<VA>| {
                aggregator(k, v, agg.unwrap_or_else(&initializer))
            }),
        )
    }

    fn build<VA>(
        &self,
        materialized: Materialized<K, VA>,
        prefix: &str,
        step: Step<K, V, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Send + Sync + 'static,
    {
        let send_old = Arc::new(AtomicBool::new(false));
        let switch = Arc::clone(&send_old);
        let windows = self.windows;
        let (size, grace, minimum) = match windows {
            TimeKind::Time(w) => (w.size, w.grace, w.size.saturating_add(w.grace)),
            TimeKind::Sliding(w) => (
                w.difference,
                w.grace,
                w.difference.saturating_mul(2).saturating_add(w.grace),
            ),
        };
        let is_null: IsNull<V> = self.grouped.is_null();
        let r = retention(&materialized, minimum);
        let (node, store) = self.grouped.add_aggregation(
            &materialized,
            prefix,
            StoreKind::Window {
                retention: r,
                size,
                duplicates: false,
            },
            |g, store, store_name| {
                if r < minimum {
                    g.error.get_or_insert(match windows {
                        TimeKind::Time(w) => format!(
                            "The retention period of the window store {store_name} must be no smaller than its window size plus the grace period. Got size=[{}], grace=[{}], retention=[{r}]",
                            w.size, w.grace
                        ),
                        TimeKind::Sliding(w) => format!(
                            "The retention period of the window store {store_name} must be no smaller than 2 * time difference plus the grace period. Got time difference=[{}], grace=[{}], retention=[{r}]",
                            w.difference, w.grace
                        ),
                    });
                }
                let factory: Option<NodeFactory> =
                    match (materialized.key.clone(), materialized.value.clone()) {
                        (Some(key_serde), Some(agg_serde)) => {
                            let aggregates = Aggregates {
                                store,
                                store_name: store_name.to_string(),
                                key_serde,
                                agg_serde,
                                send_old: switch,
                            };
                            Some(match windows {
                                TimeKind::Time(w) => time_window_node(w, aggregates, step),
                                TimeKind::Sliding(w) => {
                                    sliding_window_node(w, aggregates, step, is_null)
                                }
                            })
                        }
                        _ => {
                            g.error.get_or_insert(missing_serdes(store_name));
                            None
                        }
                    };
                factory
            },
        );
        windowed_table(
            &self.grouped,
            node,
            store,
            materialized.key.map(|k| Serdes::time_windowed(k, size)),
            materialized.value,
            send_old,
            grace,
        )
    }
}

fn windowed_table<K, V, VA>(
    grouped: &KGroupedStream<K, V>,
    node: usize,
    store: usize,
    key_serde: Option<SharedSerde<Windowed<K>>>,
    value_serde: Option<SharedSerde<VA>>,
    send_old: Arc<AtomicBool>,
    close_after: i64,
) -> KTable<Windowed<K>, VA>
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    VA: Send + Sync + 'static,
{
    KTable::new(
        std::rc::Rc::clone(grouped.graph()),
        node,
        key_serde,
        value_serde,
        Some(store),
    )
    .with_old_values(Some(send_old))
    .with_window_close(Some(close_after))
}

impl<K, V> SessionWindowedKStream<K, V>
where
    K: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The number of records per key and session.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_inner(Materialized::new())
    }

    /// The number of records per key and session, kept as `materialized` says.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        burn_for_unnamed(&mut self.grouped.graph().borrow_mut(), &materialized);
        self.count_inner(materialized)
    }

    fn count_inner(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.build(
            materialized.or_serdes(self.grouped.key_serde(), Some(Serdes::long())),
            "KSTREAM-AGGREGATE-",
            count_steps(),
        )
    }

    /// Each key's values per session combined with `reducer` (merged sessions too).
    pub fn reduce(
        &self,
        reducer: impl Fn(&V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V>
    where
        V: Clone,
    {
        let materialized =
            materialized.or_serdes(self.grouped.key_serde(), self.grouped.value_serde());
        self.build(
            materialized,
            "KSTREAM-REDUCE-",
            reduce_steps(Arc::new(reducer)),
        )
    }

    /// Each key's values per session folded into an aggregate: `initializer` starts a
    /// session's, `aggregator` adds a record, `merger` combines two sessions' aggregates when a
    /// record joins them.
    pub fn aggregate<VA>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Send + Sync + 'static,
    {
        let initializer = Arc::new(initializer);
        let init = Arc::clone(&initializer);
        let steps = SessionSteps {
            init: Arc::new(move || Some(init())),
            merge: Arc::new(move |k: &K, a: Option<VA>, b: VA| {
                Some(match a {
                    Some(a) => merger(k, a, b),
                    None => b,
                })
            }),
            add: Arc::new(move |k: &K, v: &V, a: Option<VA>| {
                aggregator(k, v, a.unwrap_or_else(|| initializer()))
            }),
        };
        self.build(
            materialized.or_serdes(self.grouped.key_serde(), None),
            "KSTREAM-AGGREGATE-",
            steps,
        )
    }

    fn build<VA>(
        &self,
        materialized: Materialized<K, VA>,
        prefix: &str,
        steps: SessionSteps<K, V, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Send + Sync + 'static,
    {
        let send_old = Arc::new(AtomicBool::new(false));
        let switch = Arc::clone(&send_old);
        let windows = self.windows;
        let minimum = windows.gap.saturating_add(windows.grace);
        let r = retention(&materialized, minimum);
        let (node, store) = self.grouped.add_aggregation(
            &materialized,
            prefix,
            StoreKind::Session { retention: r },
            |g, store, store_name| {
                if r < minimum {
                    g.error.get_or_insert(format!(
                        "The retention period of the session store {store_name} must be no smaller than the session inactivity gap plus the grace period. Got gap=[{}], grace=[{}], retention=[{r}]",
                        windows.gap, windows.grace
                    ));
                }
                match (materialized.key.clone(), materialized.value.clone()) {
                (Some(key_serde), Some(agg_serde)) => Some(session_window_node(
                    windows,
                    Aggregates {
                        store,
                        store_name: store_name.to_string(),
                        key_serde,
                        agg_serde,
                        send_old: switch,
                    },
                    steps,
                )),
                _ => {
                    g.error.get_or_insert(missing_serdes(store_name));
                    None
                }
            }},
        );
        windowed_table(
            &self.grouped,
            node,
            store,
            materialized.key.map(Serdes::session_windowed),
            materialized.value,
            send_old,
            minimum,
        )
    }
}
