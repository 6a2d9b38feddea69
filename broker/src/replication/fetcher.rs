//! Followers copying their leaders: one fetcher task per leader broker, with its own connection
//! to the leader's inter-broker listener (Kafka's `ReplicaFetcherThread`).
//!
//! ```text
//!  follow(p, leader) ─▶ Truncating ── OffsetForLeaderEpoch(latest epoch) ──▶ cut (KIP-279) ─┐
//!                          ▲  not complete: ask again with the new latest epoch ◀──────────┤
//!                          │                                                                ▼
//!                          └── OFFSET_OUT_OF_RANGE ◀── Fetching ── Fetch(replica_id, LEO) ──▶ append as stored,
//!                                                                                            HW = min(leader HW, LEO)
//! ```
//!
//! A partition is fetched for one leadership (its leader epoch): data fetched for an older one is
//! refused by the partition. Errors that metadata will resolve (the leader moved) back off for
//! `replica.fetch.backoff.ms` until the broker applies the new leadership.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};
use parking_lot::Mutex;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::quota::{ReplicationQuotas, Side};
use super::truncation::{initial_fetch_offset, truncation_point, EpochEndOffset, Truncation};
use crate::config::BrokerConfig;
use crate::error::ErrorCode;
use crate::metadata::MetadataImage;
use crate::partition::Partition;
use crate::replica_manager::now_ms;
use crate::wire::Client;

/// The Fetch version followers send: topic ids, and the follower's broker epoch in
/// `replica_state` (KIP-903), so that a fetch from an older incarnation never adds it to an ISR.
const FETCH_VERSION: i16 = 15;
/// The OffsetForLeaderEpoch version followers send (`replica_id`).
const EPOCH_VERSION: i16 = 4;

type Key = (Arc<str>, i32);

#[derive(Clone)]
struct Followed {
    partition: Arc<Partition>,
    /// The leadership it is fetched for.
    leader_epoch: i32,
    state: FetchState,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FetchState {
    /// Asking the leader where the logs agree.
    Truncating,
    /// Fetching from this offset.
    Fetching(i64),
    /// Waiting for metadata or the leader until then.
    Delayed(Instant),
}

struct Fetcher {
    partitions: Arc<Mutex<BTreeMap<Key, Followed>>>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// Where the image says a broker can be reached.
pub type ImageSource = Arc<dyn Fn() -> Arc<MetadataImage> + Send + Sync>;

/// The fetchers of one broker: which partitions it follows, from which leader.
pub struct FetcherManager {
    me: i32,
    config: Arc<BrokerConfig>,
    image: ImageSource,
    runtime: tokio::runtime::Handle,
    shutdown: watch::Receiver<bool>,
    broker_epoch: Arc<std::sync::atomic::AtomicI64>,
    fetchers: Mutex<HashMap<i32, Fetcher>>,
    /// While true, fetchers send nothing (a stalled follower, for tests and operators).
    paused: Arc<std::sync::atomic::AtomicBool>,
    /// The follower-side replication throttle.
    quotas: Arc<ReplicationQuotas>,
}

impl FetcherManager {
    /// A manager for broker `me` (whose registration epoch `broker_epoch` holds), spawning its
    /// tasks on `runtime`; `quotas` throttles what it fetches for throttled replicas.
    pub fn new(
        me: i32,
        config: Arc<BrokerConfig>,
        image: ImageSource,
        runtime: tokio::runtime::Handle,
        shutdown: watch::Receiver<bool>,
        broker_epoch: Arc<std::sync::atomic::AtomicI64>,
        quotas: Arc<ReplicationQuotas>,
    ) -> Self {
        FetcherManager {
            quotas,
            me,
            config,
            image,
            runtime,
            shutdown,
            broker_epoch,
            fetchers: Mutex::new(HashMap::new()),
            paused: Arc::default(),
        }
    }

    /// Pauses (`true`) or resumes every fetcher of this broker: a paused follower stops copying
    /// and falls out of the ISR after `replica.lag.time.max.ms`.
    pub fn set_paused(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::Release);
        for f in self.fetchers.lock().values() {
            f.wake.notify_one();
        }
    }

    /// Follows `partition` (now a follower at its current leader epoch) from `leader`: it first
    /// truncates by leader epoch, then fetches. A leaderless partition (`-1`) is followed by
    /// nobody until it has a leader.
    pub fn follow(&self, partition: Arc<Partition>, leader: i32) {
        self.unfollow(&partition);
        if leader < 0 || leader == self.me {
            return;
        }
        let key: Key = (Arc::clone(&partition.topic), partition.index);
        let state = if partition.latest_epoch().is_some() {
            FetchState::Truncating
        } else {
            let o = partition.offsets();
            // no epochs to compare: start from the high watermark, cutting what is above it
            FetchState::Fetching(initial_fetch_offset(
                false,
                o.log_end_offset,
                o.high_watermark,
            ))
        };
        let followed = Followed {
            leader_epoch: partition.leader_epoch(),
            partition,
            state,
        };
        let mut fetchers = self.fetchers.lock();
        let fetcher = fetchers
            .entry(leader)
            .or_insert_with(|| self.spawn_fetcher(leader));
        fetcher.partitions.lock().insert(key, followed);
        fetcher.wake.notify_one();
    }

    /// Stops following `partition` (it leads now, or was deleted).
    pub fn unfollow(&self, partition: &Partition) {
        let key: Key = (Arc::clone(&partition.topic), partition.index);
        let mut fetchers = self.fetchers.lock();
        for f in fetchers.values() {
            f.partitions.lock().remove(&key);
        }
        fetchers.retain(|_, f| {
            let keep = !f.partitions.lock().is_empty();
            if !keep {
                f.task.abort();
            }
            keep
        });
    }

    /// The partitions followed from each leader, for tests and `cluster describe`.
    pub fn followed(&self) -> Vec<(i32, String, i32)> {
        let fetchers = self.fetchers.lock();
        let mut out = Vec::new();
        for (leader, f) in fetchers.iter() {
            for (t, p) in f.partitions.lock().keys() {
                out.push((*leader, t.to_string(), *p));
            }
        }
        out.sort();
        out
    }

    fn spawn_fetcher(&self, leader: i32) -> Fetcher {
        let partitions: Arc<Mutex<BTreeMap<Key, Followed>>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let task = FetcherTask {
            me: self.me,
            leader,
            config: Arc::clone(&self.config),
            image: Arc::clone(&self.image),
            partitions: Arc::clone(&partitions),
            wake: Arc::clone(&wake),
            shutdown: self.shutdown.clone(),
            conn: None,
            paused: Arc::clone(&self.paused),
            broker_epoch: Arc::clone(&self.broker_epoch),
            quotas: Arc::clone(&self.quotas),
        };
        let task = self.runtime.spawn(task.run());
        Fetcher {
            partitions,
            wake,
            task,
        }
    }

    /// Stops every fetcher.
    pub fn stop(&self) {
        for (_, f) in self.fetchers.lock().drain() {
            f.task.abort();
        }
    }
}

impl Drop for FetcherManager {
    fn drop(&mut self) {
        self.stop();
    }
}

struct FetcherTask {
    me: i32,
    leader: i32,
    config: Arc<BrokerConfig>,
    image: ImageSource,
    partitions: Arc<Mutex<BTreeMap<Key, Followed>>>,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    conn: Option<Client>,
    paused: Arc<std::sync::atomic::AtomicBool>,
    broker_epoch: Arc<std::sync::atomic::AtomicI64>,
    quotas: Arc<ReplicationQuotas>,
}

impl FetcherTask {
    fn backoff(&self) -> Duration {
        Duration::from_millis(self.config.cluster.replication.fetch_backoff_ms.max(1))
    }

    async fn run(mut self) {
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let now = Instant::now();
            let snapshot: Vec<(Key, Followed)> = {
                let mut map = self.partitions.lock();
                for f in map.values_mut() {
                    if let FetchState::Delayed(until) = f.state {
                        if until <= now {
                            f.state = FetchState::Truncating;
                        }
                    }
                }
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            let paused = self.paused.load(std::sync::atomic::Ordering::Acquire);
            let working = !paused
                && snapshot
                    .iter()
                    .any(|(_, f)| !matches!(f.state, FetchState::Delayed(_)));
            if !working {
                let next = snapshot
                    .iter()
                    .filter_map(|(_, f)| match f.state {
                        FetchState::Delayed(t) => Some(t),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(now + self.backoff());
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep_until(next) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            if let Err(e) = self.round(snapshot).await {
                tracing::debug!(leader = self.leader, error = %e, "replica fetch failed; reconnecting");
                self.conn = None;
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(self.backoff()) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }

    /// The connection to the leader, opened on first use from the image's endpoint.
    async fn connection(&mut self) -> std::io::Result<&mut Client> {
        if self.conn.is_none() {
            let image = (self.image)();
            let broker = image.brokers.get(&self.leader).ok_or_else(|| {
                std::io::Error::other(format!("leader {} is not registered", self.leader))
            })?;
            let listener = &self.config.cluster.inter_broker_listener;
            let (host, port) = broker
                .endpoint(listener)
                .map_or((broker.host.clone(), broker.port), |e| {
                    (e.host.clone(), e.port)
                });
            let timeout =
                Duration::from_millis(self.config.cluster.replication.fetch_wait_max_ms + 30_000);
            let client = Client::connect(&format!("{host}:{port}"), timeout).await?;
            self.conn = Some(client);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    /// One round: truncation requests for the partitions that need them, then one fetch.
    async fn round(&mut self, snapshot: Vec<(Key, Followed)>) -> std::io::Result<()> {
        let truncating: Vec<&(Key, Followed)> = snapshot
            .iter()
            .filter(|(_, f)| f.state == FetchState::Truncating)
            .collect();
        if !truncating.is_empty() {
            self.truncate(&truncating).await?;
            return Ok(());
        }
        let fetching: Vec<(Key, Followed, i64)> = snapshot
            .into_iter()
            .filter_map(|(k, f)| match f.state {
                FetchState::Fetching(o) => Some((k, f, o)),
                _ => None,
            })
            .collect();
        if fetching.is_empty() {
            return Ok(());
        }
        self.fetch(fetching).await
    }

    fn set_state(&self, key: &Key, epoch: i32, state: FetchState) {
        if let Some(f) = self.partitions.lock().get_mut(key) {
            // a newer follow() replaced the entry: leave it alone
            if f.leader_epoch == epoch {
                f.state = state;
            }
        }
    }

    fn delay(&self, key: &Key, epoch: i32) {
        self.set_state(
            key,
            epoch,
            FetchState::Delayed(Instant::now() + self.backoff()),
        );
    }

    async fn truncate(&mut self, parts: &[&(Key, Followed)]) -> std::io::Result<()> {
        // (the epoch cache sits behind the log lock: read it off the runtime)
        let latest: Vec<i32> = {
            let ps: Vec<Arc<Partition>> = parts
                .iter()
                .map(|(_, f)| Arc::clone(&f.partition))
                .collect();
            tokio::task::spawn_blocking(move || {
                ps.iter()
                    .map(|p| p.latest_epoch().map_or(-1, |(e, _)| e))
                    .collect()
            })
            .await
            .map_err(std::io::Error::other)?
        };
        let mut topics: BTreeMap<Arc<str>, Vec<OffsetForLeaderPartition>> = BTreeMap::new();
        for (((topic, index), f), latest) in parts.iter().map(|(k, f)| (k, f)).zip(latest) {
            topics.entry(Arc::clone(topic)).or_default().push(
                OffsetForLeaderPartition::default()
                    .with_partition(*index)
                    .with_current_leader_epoch(f.leader_epoch)
                    .with_leader_epoch(latest),
            );
        }
        let req = OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(self.me))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetForLeaderTopic::default()
                            .with_topic(crate::handlers::topic_name(t.to_string()))
                            .with_partitions(ps)
                    })
                    .collect(),
            );
        let resp: OffsetForLeaderEpochResponse =
            self.connection().await?.call(&req, EPOCH_VERSION).await?;
        // a partition the answer leaves out is asked again after a backoff
        let answered: Vec<Key> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (Arc::from(t.topic.0.as_str()), p.partition))
            })
            .collect();
        for (key, f) in parts.iter().map(|(k, f)| (k, f)) {
            if !answered.contains(key) {
                self.delay(key, f.leader_epoch);
            }
        }
        let mut cuts = Vec::new();
        for t in resp.topics {
            for p in t.partitions {
                let key: Key = (Arc::from(t.topic.0.as_str()), p.partition);
                let Some((_, f)) = parts.iter().map(|(k, f)| (k, f)).find(|(k, _)| **k == key)
                else {
                    continue;
                };
                match p.error_code {
                    0 => {
                        let answer = EpochEndOffset {
                            leader_epoch: p.leader_epoch,
                            end_offset: p.end_offset,
                        };
                        cuts.push((key, f.clone(), answer));
                    }
                    code => {
                        tracing::debug!(topic = %key.0, partition = key.1, code, "leader refused OffsetForLeaderEpoch");
                        self.delay(&key, f.leader_epoch);
                    }
                }
            }
        }
        // the cuts touch the disk
        let done = tokio::task::spawn_blocking(move || {
            cuts.into_iter()
                .map(|(key, f, answer)| {
                    let p = &f.partition;
                    let o = p.offsets();
                    let before = (o.log_end_offset, p.latest_epoch());
                    let cut: Truncation = truncation_point(
                        answer,
                        |e| p.end_offset_for_epoch(e),
                        o.log_end_offset,
                        o.high_watermark,
                    );
                    let result = p.truncate_to(f.leader_epoch, cut.to, now_ms());
                    let leo = p.offsets().log_end_offset;
                    let progressed = (leo, p.latest_epoch()) != before;
                    (key, f, cut, result, leo, progressed)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(std::io::Error::other)?;
        for (key, f, cut, result, leo, progressed) in done {
            match result {
                Ok(()) if cut.complete => {
                    tracing::info!(topic = %key.0, partition = key.1, leader = self.leader, offset = leo, "follower truncated; fetching");
                    self.set_state(&key, f.leader_epoch, FetchState::Fetching(leo));
                }
                // the next round asks with the new latest epoch; one that moved nothing would
                // ask the same again at once
                Ok(()) if progressed => {}
                Ok(()) => {
                    tracing::warn!(topic = %key.0, partition = key.1, leader = self.leader, "truncation made no progress; backing off");
                    self.delay(&key, f.leader_epoch);
                }
                Err(e) => {
                    tracing::warn!(topic = %key.0, partition = key.1, error = %e, "truncation failed");
                    self.delay(&key, f.leader_epoch);
                }
            }
        }
        Ok(())
    }

    /// Marks each partition throttled (follower side: named in the topic's
    /// `follower.replication.throttled.replicas`; its bytes count against the rate) and leaves
    /// out those held back: throttled, not in the ISR, and the rate exceeded.
    fn throttled(&self, parts: Vec<(Key, Followed, i64)>) -> Vec<(Key, Followed, i64, bool)> {
        let image = (self.image)();
        let Some(throttle) = self.quotas.throttle(Side::Follower, &image) else {
            return parts
                .into_iter()
                .map(|(k, f, o)| (k, f, o, false))
                .collect();
        };
        parts
            .into_iter()
            .filter_map(|((topic, index), f, o)| {
                let throttled = throttle.applies(&image, &topic, index);
                let held = throttled && throttle.exceeded && !image.in_isr(&topic, index, self.me);
                (!held).then_some(((topic, index), f, o, throttled))
            })
            .collect()
    }

    async fn fetch(&mut self, parts: Vec<(Key, Followed, i64)>) -> std::io::Result<()> {
        let parts = self.throttled(parts);
        if parts.is_empty() {
            // everything is held back by the throttle: wait as Kafka's fetcher does
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(self.backoff()) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
            return Ok(());
        }
        let r = &self.config.cluster.replication;
        let mut topics: BTreeMap<uuid::Uuid, Vec<FetchPartition>> = BTreeMap::new();
        for ((_, index), f, offset, _) in &parts {
            topics.entry(f.partition.topic_id).or_default().push(
                FetchPartition::default()
                    .with_partition(*index)
                    .with_current_leader_epoch(f.leader_epoch)
                    .with_fetch_offset(*offset)
                    .with_log_start_offset(f.partition.offsets().log_start_offset)
                    .with_partition_max_bytes(r.fetch_max_bytes),
            );
        }
        let epoch = self.broker_epoch.load(std::sync::atomic::Ordering::Acquire);
        let req = FetchRequest::default()
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(self.me))
                    .with_replica_epoch(epoch),
            )
            .with_max_wait_ms(r.fetch_wait_max_ms as i32)
            .with_min_bytes(r.fetch_min_bytes)
            .with_max_bytes(r.fetch_response_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(id, ps)| FetchTopic::default().with_topic_id(id).with_partitions(ps))
                    .collect(),
            );
        let resp: FetchResponse = self.connection().await?.call(&req, FETCH_VERSION).await?;
        let mut appends = Vec::new();
        for t in resp.responses {
            for p in t.partitions {
                let Some((key, f, offset, throttled)) = parts.iter().find(|(k, f, _, _)| {
                    f.partition.topic_id == t.topic_id && k.1 == p.partition_index
                }) else {
                    continue;
                };
                let key = key.clone();
                const OUT_OF_RANGE: i16 = ErrorCode::OffsetOutOfRange as i16;
                match p.error_code {
                    0 => {
                        let records = p.records.unwrap_or_default();
                        if *throttled {
                            self.quotas.record(Side::Follower, records.len());
                        }
                        appends.push((
                            key,
                            f.clone(),
                            records,
                            p.high_watermark,
                            p.log_start_offset,
                        ))
                    }
                    OUT_OF_RANGE if *offset < p.log_start_offset => {
                        // the leader deleted what we lack: start over at its log start
                        let (part, epoch, start) =
                            (Arc::clone(&f.partition), f.leader_epoch, p.log_start_offset);
                        let result = tokio::task::spawn_blocking(move || {
                            part.truncate_fully_and_start_at(epoch, start, now_ms())
                        })
                        .await
                        .map_err(std::io::Error::other)?;
                        match result {
                            Ok(()) => self.set_state(&key, epoch, FetchState::Fetching(start)),
                            Err(_) => self.delay(&key, epoch),
                        }
                    }
                    OUT_OF_RANGE => {
                        // ahead of the leader (an unclean election): find where we agree
                        self.set_state(&key, f.leader_epoch, FetchState::Truncating);
                    }
                    code => {
                        tracing::debug!(topic = %key.0, partition = key.1, code, "leader refused the fetch");
                        self.delay(&key, f.leader_epoch);
                    }
                }
            }
        }
        if appends.is_empty() {
            return Ok(());
        }
        let done = tokio::task::spawn_blocking(move || {
            appends
                .into_iter()
                .map(
                    |(key, f, records, hw, start): (Key, Followed, Bytes, i64, i64)| {
                        let result = f.partition.append_as_follower(
                            f.leader_epoch,
                            &records,
                            hw,
                            start,
                            now_ms(),
                        );
                        (key, f.clone(), result, f.partition.offsets().log_end_offset)
                    },
                )
                .collect::<Vec<_>>()
        })
        .await
        .map_err(std::io::Error::other)?;
        for (key, f, result, leo) in done {
            match result {
                Ok(_) => self.set_state(&key, f.leader_epoch, FetchState::Fetching(leo)),
                Err(e) => {
                    tracing::warn!(topic = %key.0, partition = key.1, error = %e, "follower append failed");
                    self.delay(&key, f.leader_epoch);
                }
            }
        }
        Ok(())
    }
}
