//! The replica manager: the partitions this broker hosts, kept in line with the metadata image.
//!
//! Each partition lives in `<log.dirs>/<topic>-<partition>/`, with a `partition.metadata` file
//! naming its topic id (as Kafka writes it) so that a topic deleted and re-created under the
//! same name never picks up the old data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::log::Log;
use crate::metadata::MetadataImage;
use crate::partition::{Partition, RoleChange};
use crate::replication::hw_checkpoint;
use crate::replication::quota::ReplicationQuotas;

type Key = (Arc<str>, i32);

/// The partitions hosted here.
pub struct ReplicaManager {
    data_dir: PathBuf,
    config: Arc<BrokerConfig>,
    clean_shutdown: bool,
    partitions: RwLock<HashMap<Key, Arc<Partition>>>,
    /// Set when a partition could not be opened: such a log was never checked, so the next
    /// start must not trust it as cleanly closed.
    open_failed: std::sync::atomic::AtomicBool,
    /// The fetchers of the partitions followed here (cluster members only).
    fetchers: Option<crate::replication::fetcher::FetcherManager>,
    /// The replication throttles of this broker, leader and follower side.
    quotas: Arc<ReplicationQuotas>,
    /// High watermarks saved before this start, taken by partitions as they open (members
    /// only).
    saved_hws: parking_lot::Mutex<hw_checkpoint::Checkpoint>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `<dir name>.<uuid>-<suffix>` beside `dir`, with the directory-name part cut so that the
/// whole name fits the 255-byte file-name limit (Kafka caps it the same way).
fn capped_sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    // `-<partition>` is kept whole; the topic part is what gets cut.
    let partition = name
        .rsplit_once('-')
        .map(|(_, p)| format!("-{p}"))
        .unwrap_or_default();
    let topic = name.strip_suffix(partition.as_str()).unwrap_or(&name);
    let tail = format!("{partition}.{}-{suffix}", Uuid::new_v4().simple());
    let mut keep = topic.len().min(255usize.saturating_sub(tail.len()));
    while !topic.is_char_boundary(keep) {
        keep -= 1;
    }
    dir.with_file_name(format!("{}{tail}", &topic[..keep]))
}

fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join("partition.metadata")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
}

impl ReplicaManager {
    /// A manager for `data_dir`; `clean_shutdown` says whether logs may skip recovery.
    pub fn new(data_dir: &Path, config: Arc<BrokerConfig>, clean_shutdown: bool) -> Self {
        ReplicaManager {
            data_dir: data_dir.to_path_buf(),
            clean_shutdown,
            partitions: RwLock::new(HashMap::new()),
            open_failed: Default::default(),
            fetchers: None,
            quotas: Arc::new(ReplicationQuotas::new(config.node_id)),
            saved_hws: Default::default(),
            config,
        }
    }

    /// The replication throttles of this broker.
    pub fn quotas(&self) -> &Arc<ReplicationQuotas> {
        &self.quotas
    }

    /// Makes followers fetch from their leaders (a cluster member), and has partitions start
    /// from the high watermarks saved before this start.
    pub fn set_fetchers(&mut self, fetchers: crate::replication::fetcher::FetcherManager) {
        self.fetchers = Some(fetchers);
        match hw_checkpoint::read(&self.data_dir) {
            Ok(saved) => *self.saved_hws.lock() = saved,
            Err(e) => {
                tracing::warn!(error = %e, "high watermark checkpoint unreadable; partitions start from their log start")
            }
        }
    }

    /// Saves every hosted partition's high watermark (cluster members; a single node's follows
    /// its log end). Blocking.
    pub fn checkpoint_high_watermarks(&self) {
        if self.fetchers.is_none() {
            return;
        }
        let mut entries: Vec<(String, i32, i64)> = self
            .all()
            .iter()
            .filter(|p| !p.is_deleted())
            .map(|p| (p.topic.to_string(), p.index, p.offsets().high_watermark))
            .collect();
        entries.sort();
        if let Err(e) = hw_checkpoint::write(&self.data_dir, &entries) {
            tracing::warn!(error = %e, "cannot write the high watermark checkpoint");
        }
    }

    /// The fetchers, if this broker is a cluster member.
    pub fn fetchers(&self) -> Option<&crate::replication::fetcher::FetcherManager> {
        self.fetchers.as_ref()
    }

    /// Stops every follower fetch (shutdown).
    pub fn stop_fetchers(&self) {
        if let Some(f) = &self.fetchers {
            f.stop();
        }
    }

    /// Starts or stops fetching for a partition whose role moved.
    fn on_role(&self, partition: &Arc<Partition>, change: RoleChange) {
        let Some(fetchers) = &self.fetchers else {
            return;
        };
        match change {
            RoleChange::BecameFollower { leader } => fetchers.follow(Arc::clone(partition), leader),
            RoleChange::BecameLeader => fetchers.unfollow(partition),
            RoleChange::Unchanged => {}
        }
    }

    /// The partition, if hosted here.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let key: Key = (Arc::from(topic), partition);
        self.partitions.read().get(&key).cloned()
    }

    /// Every hosted partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().values().cloned().collect()
    }

    fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.data_dir.join(format!("{topic}-{partition}"))
    }

    /// Makes the hosted partitions match `image`: opens or creates logs for new partitions,
    /// applies config and epoch changes, and deletes partitions of removed topics. Blocking.
    pub fn reconcile(&self, image: &MetadataImage) {
        let node = self.config.node_id;
        let active = |b: i32| image.brokers.get(&b).is_some_and(|x| x.is_active());
        let mut wanted: HashMap<Key, (Uuid, i32)> = HashMap::new();
        for topic in image.topics.values() {
            let name: Arc<str> = Arc::from(topic.name.as_str());
            // A config that does not resolve (it was validated when set, so this is a bug or a
            // hand-edited log) keeps the previous settings; it never drops the partition.
            let log_config = match self
                .config
                .resolve_log_config(&topic.configs, &image.dynamic_configs(node))
            {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(topic = %topic.name, error = %e, "bad topic config; keeping previous settings");
                    None
                }
            };
            for (index, p) in topic.partitions.iter().enumerate() {
                if !p.replicas.contains(&node) {
                    continue;
                }
                let key: Key = (Arc::clone(&name), index as i32);
                wanted.insert(key.clone(), (topic.id, p.leader_epoch));
                // (the map's lock is not held while a partition's log lock is taken: produce holds
                // a log lock while it looks partitions up)
                let existing = self.partitions.read().get(&key).cloned();
                if let Some(existing) = existing {
                    if existing.topic_id == topic.id {
                        if let Some(c) = &log_config {
                            existing.set_config(c.clone());
                        }
                        let change = existing.apply_state(p, &active);
                        self.on_role(&existing, change);
                        continue;
                    }
                }
                let Some(log_config) = &log_config else {
                    continue;
                };
                let dir = self.partition_dir(&topic.name, index as i32);
                if read_topic_id(&dir).is_some_and(|id| id != topic.id) {
                    // Data of another topic id under this name (deleted while this broker was
                    // down, or a foreign directory): set it aside as stray, never reuse it.
                    let stray = capped_sibling(&dir, "stray");
                    tracing::warn!(dir = %dir.display(), renamed = %stray.display(), "partition directory holds another topic id; kept as stray");
                    if let Err(e) = std::fs::rename(&dir, &stray) {
                        tracing::error!(dir = %dir.display(), error = %e, "cannot set old data aside; partition is offline");
                        continue;
                    }
                }
                // The directory names its topic id before any data goes in, so that data can
                // never be mistaken for another topic's after a crash.
                let meta = format!("version: 0\ntopic_id: {}\n", topic.id);
                let claimed = if read_topic_id(&dir) == Some(topic.id) {
                    Ok(())
                } else {
                    std::fs::create_dir_all(&dir).and_then(|_| {
                        crate::log::write_atomically(
                            &dir.join("partition.metadata"),
                            meta.as_bytes(),
                        )
                    })
                };
                if let Err(e) = claimed {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot write partition.metadata; partition is offline");
                    self.open_failed
                        .store(true, std::sync::atomic::Ordering::Release);
                    continue;
                }
                match Log::open(&dir, log_config.clone(), self.clean_shutdown, now_ms()) {
                    Ok(log) => {
                        let partition = Partition::new(
                            Arc::clone(&name),
                            topic.id,
                            index as i32,
                            log,
                            node,
                            p,
                            self.config.cluster.replication.lag_time_max_ms,
                        );
                        let partition = Arc::new(partition);
                        let saved = self
                            .saved_hws
                            .lock()
                            .remove(&(topic.name.clone(), index as i32));
                        if let Some(hw) = saved {
                            partition.restore_high_watermark(hw);
                        }
                        if !partition.is_leader() {
                            self.on_role(
                                &partition,
                                RoleChange::BecameFollower { leader: p.leader },
                            );
                        }
                        self.partitions.write().insert(key, partition);
                    }
                    Err(e) => {
                        tracing::error!(dir = %dir.display(), error = %e, "cannot open partition log; partition is offline");
                        self.open_failed
                            .store(true, std::sync::atomic::Ordering::Release)
                    }
                }
            }
        }
        let removed: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write();
            let doomed: Vec<Key> = map
                .iter()
                .filter(|(k, p)| wanted.get(*k).is_none_or(|(id, _)| *id != p.topic_id))
                .map(|(k, _)| k.clone())
                .collect();
            doomed.into_iter().filter_map(|k| map.remove(&k)).collect()
        };
        for p in removed {
            tracing::info!(topic = %p.topic, partition = p.index, "deleting partition");
            if let Some(f) = &self.fetchers {
                f.unfollow(&p);
            }
            // In-flight requests holding the partition must not write into a deleted directory.
            p.mark_deleted();
            if let Err(e) = self.delete_dir(&p.dir()) {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "cannot delete partition directory");
            }
        }
    }

    /// Handles directories the image does not account for, after a crash or a manual change:
    /// directories already renamed for deletion are deleted; partition directories of topic ids
    /// that no longer exist are renamed `…-stray` and kept (as Kafka 3.7+ does), never
    /// deleted, so that no data is lost to a metadata mishap. Blocking.
    pub fn handle_stray_dirs(&self, image: &MetadataImage) {
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if !path.is_dir() {
                continue;
            }
            if name.ends_with("-delete") {
                tracing::info!(dir = %path.display(), "finishing deletion of a partition directory");
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(dir = %path.display(), error = %e, "cannot delete partition directory");
                }
                continue;
            }
            if name.ends_with("-stray") {
                continue;
            }
            let Some(id) = read_topic_id(&path) else {
                continue;
            };
            if image.topic_ids.contains_key(&id) {
                continue;
            }
            let target = capped_sibling(&path, "stray");
            tracing::warn!(dir = %path.display(), renamed = %target.display(), "partition of an unknown topic id; kept as stray");
            if let Err(e) = std::fs::rename(&path, &target) {
                tracing::warn!(dir = %path.display(), error = %e, "cannot rename stray partition directory");
            }
        }
    }

    /// Renames a partition directory out of the way, then deletes it. Fails (and keeps the
    /// directory where it is) if the rename fails.
    fn delete_dir(&self, dir: &Path) -> std::io::Result<()> {
        let target = capped_sibling(dir, "delete");
        std::fs::rename(dir, &target)?;
        if let Err(e) = std::fs::remove_dir_all(&target) {
            tracing::warn!(dir = %target.display(), error = %e, "cannot delete partition directory; it is retried at the next start");
        }
        Ok(())
    }

    /// Flushes logs whose `flush.ms` has passed. Blocking.
    pub fn flush_due(&self, now_ms: i64) {
        for p in self.all() {
            if let Err(e) = p.flush_if_due(now_ms) {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        }
    }

    /// Deletes segments past retention in every hosted log. Blocking.
    pub fn apply_retention(&self, now_ms: i64) -> usize {
        let mut total = 0;
        for p in self.all() {
            match p.apply_retention(now_ms) {
                Ok(n) => total += n,
                Err(e) => {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "retention failed")
                }
            }
        }
        total
    }

    /// Forgets producers idle longer than `producer.id.expiration.ms` on every partition.
    pub fn expire_producers(&self, now_ms: i64) -> usize {
        let expiration = self.config.txn.producer_id_expiration_ms;
        self.all()
            .iter()
            .map(|p| p.expire_producers(now_ms, expiration))
            .sum()
    }

    /// Flushes and closes every log for a clean restart; returns whether all closed cleanly.
    pub fn shutdown(&self) -> bool {
        self.checkpoint_high_watermarks();
        let mut clean = !self.open_failed.load(std::sync::atomic::Ordering::Acquire);
        for p in self.all() {
            if let Err(e) = p.close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "close failed");
                clean = false;
            }
        }
        clean
    }
}
