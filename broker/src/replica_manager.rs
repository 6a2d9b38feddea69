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
use crate::partition::Partition;

type Key = (Arc<str>, i32);

/// The partitions hosted here.
pub struct ReplicaManager {
    data_dir: PathBuf,
    config: Arc<BrokerConfig>,
    clean_shutdown: bool,
    partitions: RwLock<HashMap<Key, Arc<Partition>>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
            config,
            clean_shutdown,
            partitions: RwLock::new(HashMap::new()),
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
        let mut wanted: HashMap<Key, (Uuid, i32)> = HashMap::new();
        for topic in image.topics.values() {
            let name: Arc<str> = Arc::from(topic.name.as_str());
            let log_config = match self.config.resolve_log_config(&topic.configs) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(topic = %topic.name, error = %e, "bad topic config; keeping previous settings");
                    continue;
                }
            };
            for (index, p) in topic.partitions.iter().enumerate() {
                if !p.replicas.contains(&node) {
                    continue;
                }
                let key: Key = (Arc::clone(&name), index as i32);
                wanted.insert(key.clone(), (topic.id, p.leader_epoch));
                if let Some(existing) = self.partitions.read().get(&key) {
                    if existing.topic_id == topic.id {
                        existing.set_config(log_config.clone());
                        existing.set_leader_epoch(p.leader_epoch);
                        existing.set_isr_size(p.isr.len());
                        continue;
                    }
                }
                let dir = self.partition_dir(&topic.name, index as i32);
                if read_topic_id(&dir).is_some_and(|id| id != topic.id) {
                    tracing::info!(dir = %dir.display(), "removing data of an earlier topic with the same name");
                    self.delete_dir(&dir);
                }
                match Log::open(&dir, log_config.clone(), self.clean_shutdown, now_ms()) {
                    Ok(log) => {
                        let meta = format!("version: 0\ntopic_id: {}\n", topic.id);
                        if let Err(e) = crate::log::write_atomically(
                            &dir.join("partition.metadata"),
                            meta.as_bytes(),
                        ) {
                            tracing::error!(dir = %dir.display(), error = %e, "cannot write partition.metadata");
                        }
                        let partition = Partition::new(
                            Arc::clone(&name),
                            topic.id,
                            index as i32,
                            log,
                            p.leader_epoch,
                            p.isr.len(),
                        );
                        self.partitions.write().insert(key, Arc::new(partition));
                    }
                    Err(e) => {
                        tracing::error!(dir = %dir.display(), error = %e, "cannot open partition log; partition is offline")
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
            self.delete_dir(&p.dir());
        }
    }

    /// Removes directories left behind by topics deleted before a crash. Blocking.
    pub fn remove_stray_dirs(&self) {
        let hosted: std::collections::HashSet<PathBuf> =
            self.all().iter().map(|p| p.dir()).collect();
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            let looks_like_partition = name
                .rsplit_once('-')
                .is_some_and(|(_, p)| p.parse::<u32>().is_ok())
                || name.ends_with("-delete");
            if path.is_dir()
                && looks_like_partition
                && !hosted.contains(&path)
                && path.join("partition.metadata").exists() | name.ends_with("-delete")
            {
                tracing::info!(dir = %path.display(), "removing stray partition directory");
                self.delete_dir(&path);
            }
        }
    }

    /// Renames a partition directory out of the way, then deletes it.
    fn delete_dir(&self, dir: &Path) {
        let doomed = dir.with_file_name(format!(
            "{}.{}-delete",
            dir.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            Uuid::new_v4().simple()
        ));
        let target = if dir.to_string_lossy().ends_with("-delete") {
            dir.to_path_buf()
        } else {
            doomed
        };
        if target != dir && std::fs::rename(dir, &target).is_err() {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&target) {
            tracing::warn!(dir = %target.display(), error = %e, "cannot delete partition directory");
        }
    }

    /// Flushes logs whose `flush.ms` has passed. Blocking.
    pub fn flush_due(&self, now_ms: i64) {
        for p in self.all() {
            if let Err(e) = p.flush_if_due(now_ms) {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        }
    }

    /// Flushes and closes every log for a clean restart; returns whether all closed cleanly.
    pub fn shutdown(&self) -> bool {
        let mut clean = true;
        for p in self.all() {
            if let Err(e) = p.close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "close failed");
                clean = false;
            }
        }
        clean
    }
}
