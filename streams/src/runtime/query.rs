//! Interactive queries: read-only access to the stores of the tasks a running instance holds,
//! and which instance holds which key (`application.server` metadata), as Kafka Streams'
//! `KafkaStreams.store`, `queryMetadataForKey` and `streamsMetadataForStore` give them.
//!
//! Each stream thread publishes the tasks it runs in the instance's [`Registry`]; a query
//! locks one task at a time, between two records of its thread. The leader's assignment tells
//! every instance where every task runs (by `application.server`), from which the metadata
//! is answered.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::coordinator::source_partitions;
use super::plan::Plan;
use super::{KafkaStreams, State, Status};
use crate::processor::{StreamsError, TaskId};
use crate::serde::{to_bytes, SharedSerde};
use crate::store::global::GlobalStores;
use crate::store::query::{session_view, window_view, StoreAccess};
use crate::store::{
    KeyValueBytes, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore,
};
use crate::task::Task;

/// A task a stream thread runs, shared with the queries of its stores.
pub(crate) type SharedTask = Arc<Mutex<Task>>;

/// The task, locked (a panic elsewhere does not make it unreadable).
pub(crate) fn locked(task: &SharedTask) -> MutexGuard<'_, Task> {
    task.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where an instance can be reached for queries: its `application.server`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostInfo {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl HostInfo {
    /// `host:port`, as `application.server` gives it.
    pub(crate) fn parse(endpoint: &str) -> Option<HostInfo> {
        let (host, port) = endpoint.rsplit_once(':')?;
        let port = port.parse().ok()?;
        (!host.is_empty()).then(|| HostInfo {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for HostInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Where a key of a store lives (Kafka Streams' `KeyQueryMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQueryMetadata {
    /// The instance running the key's task.
    pub active_host: HostInfo,
    /// The instances keeping standby copies of it.
    pub standby_hosts: Vec<HostInfo>,
    /// The key's partition.
    pub partition: i32,
}

/// An instance of the application and what it holds (Kafka Streams' `StreamsMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsMetadata {
    /// Its `application.server`.
    pub host_info: HostInfo,
    /// The stores of the tasks it runs.
    pub state_store_names: BTreeSet<String>,
    /// The input partitions of the tasks it runs.
    pub topic_partitions: BTreeSet<(String, i32)>,
    /// The stores of the tasks it keeps standby copies of.
    pub standby_state_store_names: BTreeSet<String>,
    /// The input partitions of those tasks.
    pub standby_topic_partitions: BTreeSet<(String, i32)>,
}

/// Every instance's tasks, as the last assignment gave them.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    /// Tasks run, by `application.server`.
    pub active: BTreeMap<String, BTreeSet<TaskId>>,
    /// Standby copies, by `application.server`.
    pub standby: BTreeMap<String, BTreeSet<TaskId>>,
    /// Partitions of each topic the application reads.
    pub partitions: Arc<BTreeMap<String, i32>>,
}

/// What queries of a running instance read: the tasks of its threads, its global stores, and
/// the last assignment's view of the group.
#[derive(Default)]
pub(crate) struct Registry {
    /// Each thread's active and standby tasks.
    tasks: Mutex<BTreeMap<usize, ThreadTasks>>,
    pub cluster: Mutex<Cluster>,
    pub globals: Arc<GlobalStores>,
    /// Which thread holds each task's state directory.
    pub task_dirs: Arc<super::task_dirs::TaskDirs>,
}

/// A thread's tasks by id: those it runs, and its standbys.
type ThreadTasks = (BTreeMap<TaskId, SharedTask>, BTreeMap<TaskId, SharedTask>);

impl Registry {
    /// Thread `thread` now runs `tasks` and keeps `standbys`.
    pub fn publish(
        &self,
        thread: usize,
        tasks: BTreeMap<TaskId, SharedTask>,
        standbys: BTreeMap<TaskId, SharedTask>,
    ) {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(thread, (tasks, standbys));
    }

    /// The tasks of every thread, in task order (`standbys`: their standby tasks too).
    fn tasks(&self, standbys: bool) -> Vec<(TaskId, SharedTask)> {
        let threads = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<(TaskId, SharedTask)> = threads
            .values()
            .flat_map(|(active, standby)| {
                let standby = standbys.then_some(standby).into_iter().flatten();
                active
                    .iter()
                    .chain(standby)
                    .map(|(id, task)| (*id, Arc::clone(task)))
            })
            .collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    pub fn set_cluster(&self, cluster: Cluster) {
        *self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = cluster;
    }
}

/// Which store a query reads, and where (Kafka's `StoreQueryParameters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreQueryParameters {
    name: String,
    stale: bool,
    partition: Option<i32>,
}

impl StoreQueryParameters {
    /// Store `name`, in the tasks this instance runs.
    pub fn from_name(name: &str) -> Self {
        StoreQueryParameters {
            name: name.to_string(),
            stale: false,
            partition: None,
        }
    }

    /// Its standby copies on this instance too, and while the instance rebalances (Kafka's
    /// `enableStaleStores`): what they hold may lag behind the active task's.
    pub fn enable_stale_stores(mut self) -> Self {
        self.stale = true;
        self
    }

    /// Only the task of partition `partition` (Kafka's `withPartition`).
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}

/// A store of a running instance: its instances in the tasks running now (or the global
/// store), readable while the instance is RUNNING (also REBALANCING, with its standbys, when
/// stale stores are asked for).
struct LiveStore {
    status: Arc<Status>,
    id: usize,
    name: String,
    global: bool,
    timestamped: bool,
    stale: bool,
    partition: Option<i32>,
}

impl StoreAccess for LiveStore {
    fn visit(&self, visit: &mut dyn FnMut(&dyn KeyValueBytes)) -> Result<(), StreamsError> {
        let state = self.status.get();
        let readable = state == State::Running || (self.stale && state == State::Rebalancing);
        if !readable {
            return Err(StreamsError::StoreUnavailable(format!(
                "The state store, {}, may have migrated to another instance (the instance is {state:?}).",
                self.name
            )));
        }
        let registry = &self.status.registry;
        if self.global {
            registry.globals.visit(self.id, visit);
            return Ok(());
        }
        for (id, task) in registry.tasks(self.stale) {
            if self.partition.is_some_and(|p| p != id.partition) {
                continue;
            }
            let task = locked(&task);
            if let Some(slot) = task.store(self.id) {
                visit(slot.store.as_ref());
            }
        }
        Ok(())
    }

    fn timestamped(&self) -> bool {
        self.timestamped
    }
}

impl KafkaStreams {
    /// Store `name` of the running instance, for `access`, after Kafka's checks.
    fn live_store(&self, query: &StoreQueryParameters) -> Result<LiveStore, StreamsError> {
        let name = query.name.as_str();
        let state = self.state();
        if !state.is_running_or_rebalancing() {
            return Err(StreamsError::StoreUnavailable(format!(
                "KafkaStreams is not running. State is {state:?}."
            )));
        }
        let Some(id) = self.topology.stores.iter().position(|s| s.name == name) else {
            return Err(StreamsError::UnknownStore(format!(
                "Cannot get state store {name} because no such store is registered in the topology."
            )));
        };
        if state != State::Running && !query.stale {
            return Err(StreamsError::StoreUnavailable(format!(
                "Cannot get state store {name} because the instance is {state:?}, not RUNNING."
            )));
        }
        let def = &self.topology.stores[id];
        Ok(LiveStore {
            status: Arc::clone(&self.status),
            id,
            name: name.to_string(),
            global: self.topology.global_store(id),
            timestamped: def.timestamped,
            stale: query.stale,
            partition: query.partition,
        })
    }

    /// The key-value store `query` names, read with its key and value serdes: over the tasks
    /// this instance runs, or one partition's, and with stale stores over its standbys too
    /// (readable while the instance rebalances).
    pub fn key_value_store_with<K, V>(
        &self,
        query: &StoreQueryParameters,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyKeyValueStore<K, V>, StreamsError> {
        let live = self.live_store(query)?;
        Ok(ReadOnlyKeyValueStore::new(
            Arc::new(live),
            &query.name,
            key,
            value,
        ))
    }

    /// The window store `query` names (see [`KafkaStreams::key_value_store_with`]).
    pub fn window_store_with<K, V>(
        &self,
        query: &StoreQueryParameters,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyWindowStore<K, V>, StreamsError> {
        let kv = self.key_value_store_with(query, key, value)?;
        window_view(self.store_kind(&query.name), &query.name, kv)
    }

    /// The session store `query` names (see [`KafkaStreams::key_value_store_with`]).
    pub fn session_store_with<K, V>(
        &self,
        query: &StoreQueryParameters,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlySessionStore<K, V>, StreamsError> {
        let kv = self.key_value_store_with(query, key, value)?;
        session_view(self.store_kind(&query.name), &query.name, kv)
    }

    /// The key-value store `name` over the tasks this instance runs (or a global table's
    /// store), read with its key and value serdes. An error when the instance is not
    /// RUNNING (`StoreUnavailable`: try again after the rebalance) or has no such store; reads
    /// fail the same way once the instance stops running.
    pub fn key_value_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyKeyValueStore<K, V>, StreamsError> {
        self.key_value_store_with(&StoreQueryParameters::from_name(name), key, value)
    }

    /// The window store `name` (of a windowed aggregation) over the tasks this instance
    /// runs, read with the record key's serde and the value's.
    pub fn window_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyWindowStore<K, V>, StreamsError> {
        self.window_store_with(&StoreQueryParameters::from_name(name), key, value)
    }

    /// The session store `name` (of a session aggregation) over the tasks this instance
    /// runs, read with the record key's serde and the value's.
    pub fn session_store<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlySessionStore<K, V>, StreamsError> {
        self.session_store_with(&StoreQueryParameters::from_name(name), key, value)
    }

    fn store_kind(&self, name: &str) -> Option<crate::store::StoreKind> {
        self.topology
            .stores
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.kind)
    }

    /// Which instance holds `key` of store `store` (serialized with `serde`, the key serde
    /// of the store's input): the key's partition (Kafka's default partitioner over the
    /// store's input topics) and the `application.server` of the instance running its task
    /// and of those keeping standby copies. `None` while that is not known (no assignment
    /// yet, or the instance running the task gave no `application.server`).
    pub fn query_metadata_for_key<K>(
        &self,
        store: &str,
        key: &K,
        serde: &SharedSerde<K>,
    ) -> Result<Option<KeyQueryMetadata>, StreamsError> {
        let plan = Plan::new(&self.topology, self.config.application_id()?);
        let (sub, _) = store_sub(&self.topology, &plan, store)?;
        let cluster = self
            .status
            .registry
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let partitions = plan.subs[sub]
            .topics()
            .filter_map(|t| cluster.partitions.get(t).copied())
            .max();
        let Some(partitions) = partitions else {
            return Ok(None);
        };
        let bytes = to_bytes(serde, "key", store, key)?.ok_or_else(|| {
            StreamsError::InvalidArgument("a null key has no partition".to_string())
        })?;
        let partition = tributary_client::partition::partition_for_key(&bytes, partitions);
        let task = TaskId {
            subtopology: sub as u32,
            partition,
        };
        let holders = |map: &BTreeMap<String, BTreeSet<TaskId>>| -> Vec<HostInfo> {
            map.iter()
                .filter(|(_, tasks)| tasks.contains(&task))
                .filter_map(|(host, _)| HostInfo::parse(host))
                .collect()
        };
        let Some(active_host) = holders(&cluster.active).into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(KeyQueryMetadata {
            active_host,
            standby_hosts: holders(&cluster.standby),
            partition,
        }))
    }

    /// Every instance of the application (with an `application.server`) and what it holds,
    /// as of the last assignment.
    pub fn metadata_for_all_streams_clients(&self) -> Result<Vec<StreamsMetadata>, StreamsError> {
        let plan = Plan::new(&self.topology, self.config.application_id()?);
        let cluster = self
            .status
            .registry
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let hosts: BTreeSet<&String> = cluster
            .active
            .keys()
            .chain(cluster.standby.keys())
            .collect();
        let none = BTreeSet::new();
        let mut out = Vec::new();
        for host in hosts {
            let Some(host_info) = HostInfo::parse(host) else {
                continue;
            };
            let active = cluster.active.get(host).unwrap_or(&none);
            let standby = cluster.standby.get(host).unwrap_or(&none);
            let stores = |tasks: &BTreeSet<TaskId>| -> BTreeSet<String> {
                tasks
                    .iter()
                    .filter_map(|t| plan.subs.get(t.subtopology as usize))
                    .flat_map(|sub| self.topology.stores_of(&sub.members))
                    .map(|id| self.topology.stores[id].name.clone())
                    .collect()
            };
            let mut state_store_names = stores(active);
            // global stores are on every instance
            state_store_names.extend(
                (0..self.topology.stores.len())
                    .filter(|&id| self.topology.global_store(id))
                    .map(|id| self.topology.stores[id].name.clone()),
            );
            out.push(StreamsMetadata {
                host_info,
                state_store_names,
                topic_partitions: source_partitions(&plan, &cluster.partitions, active)
                    .into_iter()
                    .collect(),
                standby_state_store_names: stores(standby),
                standby_topic_partitions: source_partitions(&plan, &cluster.partitions, standby)
                    .into_iter()
                    .collect(),
            });
        }
        Ok(out)
    }

    /// The instances holding store `store` (running or keeping a standby copy of one of its
    /// tasks), as of the last assignment.
    pub fn streams_metadata_for_store(
        &self,
        store: &str,
    ) -> Result<Vec<StreamsMetadata>, StreamsError> {
        if !self.topology.stores.iter().any(|s| s.name == store) {
            return Err(StreamsError::UnknownStore(format!(
                "Cannot get state store {store} because no such store is registered in the topology."
            )));
        }
        Ok(self
            .metadata_for_all_streams_clients()?
            .into_iter()
            .filter(|m| {
                m.state_store_names.contains(store) || m.standby_state_store_names.contains(store)
            })
            .collect())
    }
}

/// The sub-topology (index in the plan) whose tasks hold store `store`, and the store's id.
fn store_sub(
    topology: &crate::topology::Topology,
    plan: &Plan,
    store: &str,
) -> Result<(usize, usize), StreamsError> {
    let Some(id) = topology.stores.iter().position(|s| s.name == store) else {
        return Err(StreamsError::UnknownStore(format!(
            "Cannot get state store {store} because no such store is registered in the topology."
        )));
    };
    plan.subs
        .iter()
        .position(|sub| topology.stores_of(&sub.members).contains(&id))
        .map(|sub| (sub, id))
        .ok_or_else(|| {
            StreamsError::UnknownStore(format!(
                "store {store} belongs to no task (a global table's store is on every instance)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_host_and_port() {
        assert_eq!(
            HostInfo::parse("localhost:8080"),
            Some(HostInfo {
                host: "localhost".into(),
                port: 8080
            })
        );
        assert_eq!(
            HostInfo::parse("[::1]:9").map(|h| h.to_string()),
            Some("[::1]:9".into())
        );
        assert_eq!(HostInfo::parse("nohost"), None);
        assert_eq!(HostInfo::parse(":80"), None);
        assert_eq!(HostInfo::parse("h:99999"), None);
    }
}
