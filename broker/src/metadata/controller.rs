//! The controller: validates metadata changes, appends them to the metadata log and publishes
//! the new image. In single-node (combined) mode it runs inside the broker process.
//!
//! Every change runs under one lock, in a blocking task: validate against the current image,
//! build records, append durably, apply, publish, then let the listener (the replica manager)
//! reconcile local logs before the request is answered, so a topic can be used as soon as
//! CreateTopics returns.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use uuid::Uuid;

use super::image::{MetadataImage, TopicImage};
use super::records::{ConfigResource, LeaderRecovery, MetadataRecord};
use super::store::MetadataLog;
use super::{is_internal_topic, validate_topic_name};
use crate::config::{validate_topic_config, BrokerConfig};
use crate::controller::placement::{place, PlacementBroker, Stripe};
use crate::error::ErrorCode;

/// Largest partition count a single topic may have. Each partition is a directory with open
/// files, so an absurd count would exhaust the machine; Kafka has no explicit cap but fails
/// in the same place.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

/// Most partitions one CreateTopics request may create, or one CreatePartitions request add, in
/// all: Kafka's controller refuses more with POLICY_VIOLATION ("Excessively large number of
/// partitions per request.").
pub const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// Largest number of partitions the cluster may hold in all, for the same reason.
pub const MAX_PARTITIONS_TOTAL: usize = 100_000;

fn check_total(image: &MetadataImage, adding: i32) -> Result<(), OpError> {
    let total = image.partition_count() + adding.max(0) as usize;
    if total > MAX_PARTITIONS_TOTAL {
        return Err((ErrorCode::InvalidPartitions, format!("The cluster would have {total} partitions; at most {MAX_PARTITIONS_TOTAL} are allowed.")));
    }
    Ok(())
}

/// A topic to create.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partition count, or -1 for `num.partitions`.
    pub partitions: i32,
    /// Replication factor, or -1 for `default.replication.factor`.
    pub replication_factor: i16,
    /// Manual replica assignment: partition index -> broker ids.
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Config overrides.
    pub configs: BTreeMap<String, String>,
}

/// Committed batches a cluster's controller keeps for fetching brokers; one further behind gets
/// a snapshot of the image instead.
const HISTORY_BATCHES: usize = 10_000;

/// A failed request item: the Kafka error and a message for the client.
pub type OpError = (ErrorCode, String);

/// The image a metadata log holds.
fn replay(log: &mut dyn MetadataLog) -> Result<MetadataImage, String> {
    let batches = log
        .replay()
        .map_err(|e| format!("cannot read the metadata log: {e}"))?;
    let mut image = MetadataImage::empty();
    for (offset, records) in &batches {
        image = image.apply(*offset, records).map_err(|e| e.to_string())?;
    }
    Ok(image)
}

/// Called with every newly published image, before the change is acknowledged.
pub type ImageListener = Box<dyn Fn(&MetadataImage) + Send + Sync>;

pub(super) struct Inner {
    pub(super) log: Mutex<Box<dyn MetadataLog>>,
    pub(super) image_tx: watch::Sender<Arc<MetadataImage>>,
    pub(super) listeners: Mutex<Vec<ImageListener>>,
    pub(super) config: Arc<BrokerConfig>,
    /// Broker sessions, when brokers register with this controller (a cluster).
    pub(super) cluster: Option<Arc<Mutex<super::cluster_control::ClusterControl>>>,
    /// The latest committed batches, for brokers that fetch metadata (a cluster).
    pub(super) history: Mutex<History>,
    /// Set on a broker whose controller is another process: operations go there.
    pub(super) remote: Option<super::remote::RemoteController>,
    /// Set on a controller of a quorum: changes are committed through Raft.
    pub(super) quorum: std::sync::OnceLock<super::quorum::Quorum>,
    /// Brokers following the metadata: the offset each has fetched to, and when (unix ms).
    pub(super) observers: Mutex<BTreeMap<i32, (i64, i64)>>,
    /// Set when the controller stops: nothing is written any more.
    pub(super) stopped: std::sync::atomic::AtomicBool,
}

impl Inner {
    pub(super) fn new(
        log: Box<dyn MetadataLog>,
        image: MetadataImage,
        config: Arc<BrokerConfig>,
        cluster: Option<super::cluster_control::ClusterControl>,
        remote: Option<super::remote::RemoteController>,
    ) -> Inner {
        let history = History::after(image.offset);
        let (image_tx, _) = watch::channel(Arc::new(image));
        Inner {
            log: Mutex::new(log),
            image_tx,
            listeners: Mutex::new(Vec::new()),
            config,
            cluster: cluster.map(|c| Arc::new(Mutex::new(c))),
            history: Mutex::new(history),
            remote,
            quorum: std::sync::OnceLock::new(),
            observers: Mutex::default(),
            stopped: Default::default(),
        }
    }

    /// Publishes `image`, the result of committing `records` (the image's offset is `end`):
    /// keeps the batch for fetching brokers, then sends the image to subscribers and listeners.
    /// The caller holds the log lock, so that images are published in order.
    fn publish(&self, end: i64, records: Vec<MetadataRecord>, image: Arc<MetadataImage>) {
        if self.cluster.is_some() {
            // what brokers fetch: kept before the image is published
            self.history.lock().push(end, records);
        }
        self.send(image);
    }

    /// Sends `image` to subscribers, then to the listeners (the caller holds the log lock).
    pub(super) fn send(&self, image: Arc<MetadataImage>) {
        self.image_tx.send_replace(Arc::clone(&image));
        for listener in self.listeners.lock().iter() {
            listener(&image);
        }
    }

    /// [`Self::publish`] of a batch the quorum applied.
    pub(super) fn publish_applied(
        &self,
        end: i64,
        records: Vec<MetadataRecord>,
        image: Arc<MetadataImage>,
    ) {
        let _log = self.log.lock();
        self.publish(end, records, image);
    }

    /// Replaces the image with one from a snapshot: the history starts over after it.
    pub(super) fn reset(&self, image: Arc<MetadataImage>) {
        let _log = self.log.lock();
        *self.history.lock() = History::after(image.offset);
        self.send(image);
    }
}

/// The latest committed batches, each with the image's offset after it, for brokers that fetch
/// metadata; a broker further behind gets a snapshot.
pub(super) struct History {
    /// The offset the kept batches follow.
    base: i64,
    batches: std::collections::VecDeque<(i64, Vec<MetadataRecord>)>,
}

impl History {
    /// An empty history following offset `base`.
    fn after(base: i64) -> History {
        History {
            base,
            batches: Default::default(),
        }
    }

    fn push(&mut self, end: i64, records: Vec<MetadataRecord>) {
        self.batches.push_back((end, records));
        while self.batches.len() > HISTORY_BATCHES {
            if let Some((dropped, _)) = self.batches.pop_front() {
                self.base = dropped;
            }
        }
    }

    /// Up to `max` batches after offset `from - 1`, or `None` when some are no longer kept.
    fn since(&self, from: i64, max: usize) -> Option<Vec<(i64, Vec<MetadataRecord>)>> {
        if from - 1 < self.base {
            return None;
        }
        Some(
            self.batches
                .iter()
                .filter(|(end, _)| *end >= from)
                .take(max)
                .cloned()
                .collect(),
        )
    }
}

/// The controller: in process on a single node, and the active controller of a cluster. Cheap to
/// clone.
#[derive(Clone)]
pub struct Controller {
    pub(super) inner: Arc<Inner>,
}

impl Controller {
    /// Replays the metadata log into an image, registers this broker at `advertised`, and
    /// returns the controller.
    pub fn open(
        log: Box<dyn MetadataLog>,
        config: Arc<BrokerConfig>,
        advertised: (String, u16),
    ) -> Result<Self, String> {
        Self::open_formatted(log, config, advertised, None)
    }

    /// [`Self::open`] for a data directory formatted with `cluster_id` (`meta.properties`): a new
    /// metadata log starts with that id instead of a random one.
    pub fn open_formatted(
        mut log: Box<dyn MetadataLog>,
        config: Arc<BrokerConfig>,
        advertised: (String, u16),
        cluster_id: Option<String>,
    ) -> Result<Self, String> {
        let mut image = replay(log.as_mut())?;
        let mut startup = Vec::new();
        if image.cluster_id.is_empty() {
            startup.push(MetadataRecord::Cluster {
                cluster_id: cluster_id.unwrap_or_else(crate::meta_properties::random_uuid),
            });
        }
        let node = config.node_id;
        let registered = image.brokers.get(&node);
        if registered.is_none_or(|b| b.host != advertised.0 || b.port != advertised.1) {
            startup.push(MetadataRecord::RegisterBroker {
                broker_id: node,
                host: advertised.0,
                port: advertised.1,
                rack: config.cluster.rack.clone(),
                epoch: 0,
                incarnation_id: Uuid::nil(),
                endpoints: Vec::new(),
                fenced: false,
                in_controlled_shutdown: false,
                directory_ids: Vec::new(),
            });
        }
        if !startup.is_empty() {
            let offset = log
                .append(&startup)
                .map_err(|e| format!("cannot write the metadata log: {e}"))?;
            image = image.apply(offset, &startup).map_err(|e| e.to_string())?;
        }
        tracing::info!(cluster_id = %image.cluster_id, topics = image.topics.len(), offset = image.offset, "metadata loaded");
        Ok(Controller {
            inner: Arc::new(Inner::new(log, image, config, None, None)),
        })
    }

    /// The controller of a cluster whose brokers register with it (BrokerRegistration and
    /// BrokerHeartbeat): no broker is registered on opening; each one joins fenced and is
    /// unfenced once it has caught up. `cluster_id` names a new metadata log.
    pub fn open_cluster(
        mut log: Box<dyn MetadataLog>,
        config: Arc<BrokerConfig>,
        cluster_id: String,
    ) -> Result<Self, String> {
        let mut image = replay(log.as_mut())?;
        if image.cluster_id.is_empty() {
            let first = [MetadataRecord::Cluster { cluster_id }];
            let offset = log
                .append(&first)
                .map_err(|e| format!("cannot write the metadata log: {e}"))?;
            image = image.apply(offset, &first).map_err(|e| e.to_string())?;
        }
        let control = super::cluster_control::ClusterControl::activated(&config, &image);
        tracing::info!(cluster_id = %image.cluster_id, brokers = image.brokers.len(), offset = image.offset, "cluster metadata loaded");
        Ok(Controller {
            inner: Arc::new(Inner::new(log, image, config, Some(control), None)),
        })
    }

    /// The controller of a quorum member before its Raft node starts: the image of its state
    /// machine, broker sessions (given out once it leads), nothing written locally.
    pub(super) fn with_state_machine(
        config: Arc<BrokerConfig>,
        sm: &super::quorum::ImageStateMachine,
    ) -> Self {
        let image = (*sm.image()).clone();
        let control = super::cluster_control::ClusterControl::activated(&config, &image);
        Controller {
            inner: Arc::new(Inner::new(
                Box::new(super::store::NoLog),
                image,
                config,
                Some(control),
                None,
            )),
        }
    }

    /// Up to `max` committed batches after offset `from - 1` for a fetching broker, or `None`
    /// when it is too far behind (it gets a snapshot).
    pub(super) fn history_since(
        &self,
        from: i64,
        max: usize,
    ) -> Option<Vec<(i64, Vec<MetadataRecord>)>> {
        self.inner.history.lock().since(from, max)
    }

    /// Notes that broker `id` has fetched the metadata up to `offset`.
    pub(super) fn observer_fetched(&self, id: i32, offset: i64) {
        let now = crate::replica_manager::now_ms();
        self.inner.observers.lock().insert(id, (offset, now));
    }

    /// Sets the listener that sees every new image (and calls it with the current one).
    pub fn set_listener(&self, listener: ImageListener) {
        self.add_listener(listener);
    }

    /// Adds a listener that sees every new image, in order, before the change is answered
    /// (and calls it with the current one): each broker of an in-process cluster reconciles its
    /// replicas this way.
    pub fn add_listener(&self, listener: ImageListener) {
        // under the log lock, so that no change commits between the first call and the
        // registration
        let _log = self.inner.log.lock();
        listener(&self.image());
        self.inner.listeners.lock().push(listener);
    }

    /// Stops writing: every later change is refused with NOT_CONTROLLER (background work that
    /// outlives a controller's shutdown never appends to its log). Waits for a change in
    /// progress to finish.
    pub fn stop(&self) {
        let _log = self.inner.log.lock();
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether this is a broker's handle on a controller in another process.
    pub fn is_remote(&self) -> bool {
        self.inner.remote.is_some()
    }

    /// Whether brokers register with this controller (a cluster), rather than one node being
    /// the whole cluster.
    pub fn manages_brokers(&self) -> bool {
        self.inner.cluster.is_some()
    }

    /// A receiver of every new image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.inner.image_tx.subscribe()
    }

    /// The current image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.inner.image_tx.borrow().clone()
    }

    /// Runs `op` under the controller lock in a blocking task: it sees the current image and
    /// returns the records to commit plus its answer.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&MetadataImage, &BrokerConfig) -> (Vec<MetadataRecord>, T) + Send + 'static,
    ) -> Result<T, OpError> {
        if let Some(q) = self.inner.quorum.get() {
            return self.run_in_quorum(q, op).await;
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut log = inner.log.lock();
            if inner.stopped.load(std::sync::atomic::Ordering::Acquire) {
                return Err((
                    ErrorCode::NotController,
                    "the controller is stopping".to_string(),
                ));
            }
            let current = inner.image_tx.borrow().clone();
            let (records, answer) = op(&current, &inner.config);
            if records.is_empty() {
                return Ok(answer);
            }
            let offset = log.append(&records).map_err(|e| {
                tracing::error!(error = %e, "metadata log append failed");
                (
                    ErrorCode::KafkaStorageError,
                    format!("metadata log write failed: {e}"),
                )
            })?;
            let next = current
                .apply(offset, &records)
                .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
            let end = next.offset;
            inner.publish(end, records, Arc::new(next));
            Ok(answer)
        })
        .await
        .map_err(|e| {
            (
                ErrorCode::UnknownServerError,
                format!("controller task failed: {e}"),
            )
        })?
    }

    /// Creates topics (or only validates them). Answers each spec in order.
    pub async fn create_topics(
        &self,
        specs: Vec<TopicSpec>,
        validate_only: bool,
    ) -> Vec<Result<Arc<TopicImage>, OpError>> {
        if let Some(remote) = &self.inner.remote {
            return remote.create_topics(self, specs, validate_only).await;
        }
        let count = specs.len();
        let result = self
            .run(move |image, config| {
                let mut records = Vec::new();
                let mut answers = Vec::new();
                let requested: i64 = specs
                    .iter()
                    .map(|s| match (s.assignments.len(), s.partitions) {
                        (0, -1) => i64::from(config.num_partitions),
                        (0, n) => i64::from(n.max(0)),
                        (n, _) => n as i64,
                    })
                    .sum();
                if requested > MAX_PARTITIONS_PER_REQUEST {
                    let refused = (
                        ErrorCode::PolicyViolation,
                        "Excessively large number of partitions per request.".to_string(),
                    );
                    return (records, vec![Err(refused); specs.len()]);
                }
                let mut staged = image.clone();
                for spec in specs {
                    match plan_topic(&staged, config, &spec) {
                        Ok(batch) => {
                            let Ok(next) = staged.apply(staged.offset + 1, &batch) else {
                                answers.push(Err((
                                    ErrorCode::UnknownServerError,
                                    "internal error planning topic".into(),
                                )));
                                continue;
                            };
                            staged = next;
                            let created = staged.topics.get(&spec.name).cloned();
                            answers.push(
                                created.ok_or((
                                    ErrorCode::UnknownServerError,
                                    "topic vanished".into(),
                                )),
                            );
                            if !validate_only {
                                records.extend(batch);
                            }
                        }
                        Err(e) => answers.push(Err(e)),
                    }
                }
                (records, answers)
            })
            .await;
        result.unwrap_or_else(|e| vec![Err(e); count])
    }

    /// Creates one topic with broker defaults if it does not exist (auto-creation).
    pub async fn ensure_topic(&self, name: &str) -> Result<Arc<TopicImage>, OpError> {
        if let Some(t) = self.image().topics.get(name) {
            return Ok(Arc::clone(t));
        }
        let spec = TopicSpec {
            name: name.to_string(),
            partitions: -1,
            replication_factor: -1,
            assignments: vec![],
            configs: BTreeMap::new(),
        };
        match self.create_topics(vec![spec], false).await.pop() {
            Some(Err((ErrorCode::TopicAlreadyExists, _))) => self
                .image()
                .topics
                .get(name)
                .cloned()
                .ok_or((ErrorCode::UnknownTopicOrPartition, "topic deleted".into())),
            Some(r) => r,
            None => Err((ErrorCode::UnknownServerError, "no answer".into())),
        }
    }

    /// Deletes topics by name or id. Answers each in order with the deleted topic's name and id.
    pub async fn delete_topics(
        &self,
        topics: Vec<(Option<String>, Uuid)>,
    ) -> Vec<Result<(String, Uuid), OpError>> {
        if let Some(remote) = &self.inner.remote {
            return remote.delete_topics(self, topics).await;
        }
        let count = topics.len();
        self.run(move |image, _| {
            // Resolve every entry first: a topic named twice (by name, by id, or both) is refused
            // everywhere it appears and deleted nowhere, as Kafka answers.
            let resolved: Vec<Result<(String, Uuid), OpError>> = topics
                .iter()
                .map(|(name, id)| {
                    let has_name = name.as_deref().is_some_and(|n| !n.is_empty());
                    if has_name && !id.is_nil() {
                        return Err((
                            ErrorCode::InvalidRequest,
                            "You may not specify both topic name and topic id.".into(),
                        ));
                    }
                    let found = if has_name {
                        name.as_ref().and_then(|n| image.topics.get(n))
                    } else {
                        image.topic_by_id(id)
                    };
                    match found {
                        Some(t) => Ok((t.name.clone(), t.id)),
                        None if has_name => Err((
                            ErrorCode::UnknownTopicOrPartition,
                            ErrorCode::UnknownTopicOrPartition.message().to_string(),
                        )),
                        None => Err((
                            ErrorCode::UnknownTopicId,
                            ErrorCode::UnknownTopicId.message().to_string(),
                        )),
                    }
                })
                .collect();
            let mut seen: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
            for (_, id) in resolved.iter().flatten() {
                *seen.entry(*id).or_default() += 1;
            }
            let mut records = Vec::new();
            let answers = resolved
                .into_iter()
                .map(|r| match r {
                    Ok((name, id)) if seen[&id] > 1 => Err((
                        ErrorCode::InvalidRequest,
                        format!("Duplicate topic {name} in request"),
                    )),
                    Ok((name, id)) => {
                        records.push(MetadataRecord::RemoveTopic { topic_id: id });
                        Ok((name, id))
                    }
                    Err(e) => Err(e),
                })
                .collect();
            (records, answers)
        })
        .await
        .unwrap_or_else(|e| vec![Err(e); count])
    }

    /// Changes topic or broker configs (AlterConfigs, IncrementalAlterConfigs), or only
    /// validates the changes. Answers each resource in order; a resource that fails changes
    /// nothing, the others still apply.
    pub async fn alter_configs(
        &self,
        changes: Vec<super::ConfigAlteration>,
        validate_only: bool,
    ) -> Vec<Result<(), OpError>> {
        if let Some(remote) = &self.inner.remote {
            return remote.alter_configs(self, changes, validate_only).await;
        }
        let count = changes.len();
        self.run(move |image, config| {
            let mut staged = image.clone();
            let mut records = Vec::new();
            let mut answers = Vec::with_capacity(changes.len());
            for change in &changes {
                let planned = super::config_change::plan(&staged, config, change);
                let answer = planned.and_then(|batch| {
                    staged = staged
                        .apply(staged.offset + 1, &batch)
                        .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
                    if !validate_only {
                        records.extend(batch);
                    }
                    Ok(())
                });
                answers.push(answer);
            }
            (records, answers)
        })
        .await
        .unwrap_or_else(|e| vec![Err(e); count])
    }

    /// Gives broker `broker_id` the next block of `size` producer ids (AllocateProducerIds):
    /// returns its first id. The block is in the metadata log before it is used, so no id is
    /// ever handed out twice, across restarts too.
    pub async fn allocate_producer_ids(&self, broker_id: i32, size: i64) -> Result<i64, OpError> {
        if size <= 0 {
            return Err((
                ErrorCode::InvalidRequest,
                format!("a block of {size} producer ids"),
            ));
        }
        if let Some(remote) = &self.inner.remote {
            return remote.allocate_producer_ids(broker_id, size).await;
        }
        self.run(move |image, _| {
            let start = image.next_producer_id;
            match start.checked_add(size) {
                Some(next) => (
                    vec![MetadataRecord::ProducerIds {
                        broker_id,
                        next_producer_id: next,
                    }],
                    Ok(start),
                ),
                None => (
                    vec![],
                    Err((
                        ErrorCode::UnknownServerError,
                        "producer ids are exhausted".to_string(),
                    )),
                ),
            }
        })
        .await?
    }

    /// Raises a topic's partition count to `count`.
    pub async fn create_partitions(
        &self,
        topic: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), OpError> {
        if let Some(remote) = &self.inner.remote {
            return remote
                .create_partitions(self, topic, count, assignments, validate_only)
                .await;
        }
        self.run(move |image, _config| {
            let answer = plan_partitions(image, &topic, count, assignments.as_deref());
            match answer {
                Ok(records) if !validate_only => (records, Ok(())),
                Ok(_) => (vec![], Ok(())),
                Err(e) => (vec![], Err(e)),
            }
        })
        .await?
    }
}

fn plan_partition_records(
    image: &MetadataImage,
    topic_id: Uuid,
    from: i32,
    to: i32,
    assignments: &[Vec<i32>],
    rf: i16,
) -> Result<Vec<MetadataRecord>, OpError> {
    let brokers: Vec<i32> = image.brokers.keys().copied().collect();
    // replicas for the partitions without a manual assignment, over the brokers that may take
    // them (one broker: every partition on it)
    let placed = if (assignments.len() as i64) < i64::from(to - from) {
        // brokers not shutting down; fenced ones only when the unfenced are too few (Kafka's
        // striped placer prefers unfenced brokers)
        let candidates = |fenced_too: bool| -> Vec<PlacementBroker> {
            image
                .brokers
                .values()
                .filter(|b| !b.in_controlled_shutdown && (fenced_too || !b.fenced))
                .map(|b| PlacementBroker {
                    id: b.id,
                    rack: b.rack.clone(),
                })
                .collect()
        };
        let unfenced = candidates(false);
        let usable = if unfenced.len() >= rf.max(0) as usize {
            unfenced
        } else {
            candidates(true)
        };
        place(&usable, from, to, rf, Stripe::random())
            .map_err(|e| (ErrorCode::InvalidReplicationFactor, e.to_string()))?
    } else {
        Vec::new()
    };
    let mut records = Vec::new();
    for p in from..to {
        let replicas = match assignments.get((p - from) as usize) {
            Some(r) => {
                if r.is_empty() || r.iter().any(|b| !image.brokers.contains_key(b)) {
                    return Err((ErrorCode::InvalidReplicaAssignment, format!("Replica assignment {r:?} for partition {p} names unknown brokers; known brokers are {brokers:?}")));
                }
                let mut uniq = r.clone();
                uniq.sort_unstable();
                uniq.dedup();
                if uniq.len() != r.len() {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        format!("Replica assignment {r:?} for partition {p} has duplicate brokers"),
                    ));
                }
                r.clone()
            }
            None => placed[(p - from) as usize].clone(),
        };
        // the ISR is the replicas that may lead now; the first of them leads
        let isr: Vec<i32> = replicas
            .iter()
            .copied()
            .filter(|b| image.brokers.get(b).is_some_and(|b| b.is_active()))
            .collect();
        let Some(&leader) = isr.first() else {
            return Err(if p - from < assignments.len() as i32 {
                (ErrorCode::InvalidReplicaAssignment, format!("All brokers specified in the manual partition assignment for partition {p} are fenced or in controlled shutdown."))
            } else {
                (ErrorCode::InvalidReplicationFactor, format!("Unable to replicate the partition {rf} time(s): All brokers are currently fenced or in controlled shutdown."))
            });
        };
        records.push(MetadataRecord::Partition {
            topic_id,
            partition: p,
            isr,
            replicas,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
            adding: Vec::new(),
            removing: Vec::new(),
            leader_recovery: LeaderRecovery::Recovered,
        });
    }
    Ok(records)
}

fn plan_topic(
    image: &MetadataImage,
    config: &BrokerConfig,
    spec: &TopicSpec,
) -> Result<Vec<MetadataRecord>, OpError> {
    validate_topic_name(&spec.name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
    if spec.name == "__cluster_metadata" {
        return Err((
            ErrorCode::InvalidRequest,
            "Creation of internal topic __cluster_metadata is prohibited.".into(),
        ));
    }
    if image.topics.contains_key(&spec.name) {
        return Err((
            ErrorCode::TopicAlreadyExists,
            format!("Topic '{}' already exists.", spec.name),
        ));
    }
    let collision = spec.name.replace('.', "_");
    if let Some(other) = image
        .topics
        .keys()
        .find(|t| t.replace('.', "_") == collision)
    {
        return Err((
            ErrorCode::InvalidTopicException,
            format!(
                "Topic '{}' collides with existing topic: {other}",
                spec.name
            ),
        ));
    }
    let (partitions, rf) = if spec.assignments.is_empty() {
        let partitions = if spec.partitions == -1 {
            config.num_partitions
        } else {
            spec.partitions
        };
        let rf = if spec.replication_factor == -1 {
            config.default_replication_factor
        } else {
            spec.replication_factor
        };
        if partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                "Number of partitions was set to an invalid non-positive value.".into(),
            ));
        }
        if partitions > MAX_PARTITIONS_PER_TOPIC {
            return Err((ErrorCode::InvalidPartitions, format!("Number of partitions must be between 1 and {MAX_PARTITIONS_PER_TOPIC}, got {partitions}.")));
        }
        if rf < 1 {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                "Replication factor must be larger than 0.".into(),
            ));
        }
        let usable = image
            .brokers
            .values()
            .filter(|b| !b.in_controlled_shutdown)
            .count();
        if rf as usize > usable {
            return Err((ErrorCode::InvalidReplicationFactor, format!("Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {usable} broker(s) are registered.")));
        }
        (partitions, rf)
    } else {
        if spec.partitions != -1 || spec.replication_factor != -1 {
            return Err((ErrorCode::InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into()));
        }
        let mut sorted: Vec<i32> = spec.assignments.iter().map(|(p, _)| *p).collect();
        sorted.sort_unstable();
        if sorted.iter().enumerate().any(|(i, p)| *p != i as i32) {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                "Partitions in the replica assignment must be consecutive from 0.".into(),
            ));
        }
        if sorted.len() as i32 > MAX_PARTITIONS_PER_TOPIC {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Number of partitions must be between 1 and {MAX_PARTITIONS_PER_TOPIC}."),
            ));
        }
        (sorted.len() as i32, 0)
    };
    check_total(image, partitions)?;
    for (k, v) in &spec.configs {
        validate_topic_config(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    config
        .resolve_log_config(&spec.configs, &image.dynamic_configs(config.node_id))
        .map_err(|m| (ErrorCode::InvalidConfig, m))?;
    let topic_id = Uuid::new_v4();
    let mut records = vec![MetadataRecord::Topic {
        name: spec.name.clone(),
        topic_id,
    }];
    for (k, v) in &spec.configs {
        records.push(MetadataRecord::Config {
            resource: ConfigResource::Topic(spec.name.clone()),
            name: k.clone(),
            value: Some(v.clone()),
        });
    }
    let mut assignments = spec.assignments.clone();
    assignments.sort_by_key(|(p, _)| *p);
    let manual: Vec<Vec<i32>> = assignments.into_iter().map(|(_, r)| r).collect();
    records.extend(plan_partition_records(
        image, topic_id, 0, partitions, &manual, rf,
    )?);
    Ok(records)
}

fn plan_partitions(
    image: &MetadataImage,
    topic: &str,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
) -> Result<Vec<MetadataRecord>, OpError> {
    let t = image.topics.get(topic).ok_or_else(|| {
        (
            ErrorCode::UnknownTopicOrPartition,
            format!("The topic '{topic}' does not exist."),
        )
    })?;
    if is_internal_topic(topic) {
        return Err((
            ErrorCode::InvalidRequest,
            format!("Cannot add partitions to internal topic {topic}."),
        ));
    }
    let current = t.partitions.len() as i32;
    if count < current {
        return Err((ErrorCode::InvalidPartitions, format!("The topic {topic} currently has {current} partition(s); {count} would not be an increase.")));
    }
    if count == current {
        return Err((
            ErrorCode::InvalidPartitions,
            format!("Topic already has {current} partition(s)."),
        ));
    }
    if count > MAX_PARTITIONS_PER_TOPIC {
        return Err((ErrorCode::InvalidPartitions, format!("Number of partitions must be between 1 and {MAX_PARTITIONS_PER_TOPIC}, got {count}.")));
    }
    check_total(image, count - current)?;
    let manual = assignments.unwrap_or(&[]);
    if !manual.is_empty() && manual.len() as i32 != count - current {
        return Err((
            ErrorCode::InvalidReplicaAssignment,
            format!(
                "Increasing the number of partitions by {} but {} assignments provided.",
                count - current,
                manual.len()
            ),
        ));
    }
    let rf = t.partitions.first().map_or(1, |p| p.replicas.len() as i16);
    plan_partition_records(image, t.id, current, count, manual, rf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::FileMetadataLog;

    fn controller(dir: &std::path::Path) -> Controller {
        let config = Arc::new(BrokerConfig::from_props(BTreeMap::new()).unwrap());
        Controller::open(
            Box::new(FileMetadataLog::open(dir).unwrap()),
            config,
            ("127.0.0.1".into(), 9092),
        )
        .unwrap()
    }

    fn spec(name: &str, partitions: i32) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor: -1,
            assignments: vec![],
            configs: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn create_validate_delete_and_replay() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let r = c
            .create_topics(
                vec![
                    spec("a", 3),
                    spec("a", 1),
                    spec("bad name", 1),
                    spec("b", 0),
                    spec("v", 2),
                ],
                false,
            )
            .await;
        assert_eq!(r[0].as_ref().unwrap().partitions.len(), 3);
        assert_eq!(r[1].as_ref().unwrap_err().0, ErrorCode::TopicAlreadyExists);
        assert_eq!(
            r[2].as_ref().unwrap_err().0,
            ErrorCode::InvalidTopicException
        );
        assert_eq!(r[3].as_ref().unwrap_err().0, ErrorCode::InvalidPartitions);
        let only = c.create_topics(vec![spec("dry", 2)], true).await;
        assert!(only[0].is_ok());
        assert!(
            !c.image().topics.contains_key("dry"),
            "validate_only creates nothing"
        );
        let collide = c
            .create_topics(vec![spec("x.y", 1), spec("x_y", 1)], false)
            .await;
        assert_eq!(
            collide[1].as_ref().unwrap_err().0,
            ErrorCode::InvalidTopicException
        );
        c.create_partitions("a".into(), 5, None, false)
            .await
            .unwrap();
        assert_eq!(
            c.create_partitions("a".into(), 2, None, false)
                .await
                .unwrap_err()
                .0,
            ErrorCode::InvalidPartitions
        );
        let d = c
            .delete_topics(vec![
                (Some("v".into()), Uuid::nil()),
                (Some("nope".into()), Uuid::nil()),
            ])
            .await;
        assert!(d[0].is_ok());
        assert_eq!(
            d[1].as_ref().unwrap_err().0,
            ErrorCode::UnknownTopicOrPartition
        );
        let cluster = c.image().cluster_id.clone();
        drop(c);
        let c = controller(dir.path());
        let img = c.image();
        assert_eq!(img.cluster_id, cluster);
        assert_eq!(img.topics["a"].partitions.len(), 5);
        assert!(img.topics.contains_key("x.y") && !img.topics.contains_key("v"));
    }

    #[tokio::test]
    async fn bad_configs_and_replication_factors_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let mut s = spec("t", 1);
        s.configs.insert("cleanup.policy".into(), "shred".into());
        assert_eq!(
            c.create_topics(vec![s], false).await[0]
                .as_ref()
                .unwrap_err()
                .0,
            ErrorCode::InvalidConfig
        );
        let mut s = spec("t", 1);
        s.replication_factor = 3;
        assert_eq!(
            c.create_topics(vec![s], false).await[0]
                .as_ref()
                .unwrap_err()
                .0,
            ErrorCode::InvalidReplicationFactor
        );
        let mut s = spec("t", -1);
        s.assignments = vec![(0, vec![1]), (1, vec![7])];
        assert_eq!(
            c.create_topics(vec![s], false).await[0]
                .as_ref()
                .unwrap_err()
                .0,
            ErrorCode::InvalidReplicaAssignment
        );
    }
}
