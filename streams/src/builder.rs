//! `StreamsBuilder`: where a topology starts. It names nodes as Kafka Streams does
//! (`KSTREAM-FILTER-0000000001`: one counter per builder, used by every operation), so that
//! `describe()` and the internal topic names match a Java app built the same way.

use std::any::TypeId;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::grouped::Materialized;
use crate::kstream::KStream;
use crate::ktable::KTable;
use crate::process::{ConnectedStore, StoreBuilder};
use crate::processor::{Decoder, Dyn, NodeFactory, StreamsError};
use crate::serde::SharedSerde;
use crate::store::StoreDef;
use crate::topology::{Kind, NodeDef, Topology};

/// How a stream's records are read: key and value serdes, and optionally the source's name.
pub struct Consumed<K, V> {
    pub(crate) key: SharedSerde<K>,
    pub(crate) value: SharedSerde<V>,
    pub(crate) name: Option<String>,
    pub(crate) extractor: Option<TimestampExtractor<K, V>>,
}

/// Picks a record's timestamp (Kafka's `TimestampExtractor`): given its deserialized key and
/// value (`None`: a table's tombstone), the record's own timestamp and its partition's time so
/// far. A negative answer skips the record (logged, as Kafka Streams skips a negative extracted
/// timestamp); an error stops the task (`Fatal user code error in TimestampExtractor callback`).
pub type TimestampExtractor<K, V> =
    Arc<dyn Fn(&K, Option<&V>, i64, i64) -> Result<i64, String> + Send + Sync>;

impl<K, V> Consumed<K, V> {
    /// Reads keys with `key` and values with `value`.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        Consumed {
            key,
            value,
            name: None,
            extractor: None,
        }
    }

    /// Takes each record's timestamp from `extractor` instead of the record's own.
    pub fn with_timestamp_extractor(mut self, extractor: TimestampExtractor<K, V>) -> Self {
        self.extractor = Some(extractor);
        self
    }

    /// Names the source node (instead of `KSTREAM-SOURCE-<n>`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

/// Chooses a record's partition (Kafka's `StreamPartitioner`): given the topic, the key, the
/// value and the topic's number of partitions, a partition in `0..partitions`, or `None` for
/// the producer's default (murmur2 of the key bytes).
pub type StreamPartitioner<K, V> = Arc<dyn Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync>;

/// How a stream's records are written: key and value serdes, optionally the sink's name and a
/// partitioner.
pub struct Produced<K, V> {
    pub(crate) key: SharedSerde<K>,
    pub(crate) value: SharedSerde<V>,
    pub(crate) name: Option<String>,
    pub(crate) partitioner: Option<StreamPartitioner<K, V>>,
}

impl<K, V> Produced<K, V> {
    /// Writes keys with `key` and values with `value`.
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>) -> Self {
        Produced {
            key,
            value,
            name: None,
            partitioner: None,
        }
    }

    /// Chooses each record's partition with `partitioner` (given the topic, the key, the value
    /// and the topic's partition count: a partition in `0..count`, or `None` for the default,
    /// murmur2 of the key bytes).
    pub fn with_partitioner(
        mut self,
        partitioner: impl Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync + 'static,
    ) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Names the sink node (instead of `KSTREAM-SINK-<n>`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

/// The graph being built, shared by the builder and its streams.
#[derive(Default)]
pub(crate) struct Graph {
    pub nodes: Vec<NodeDef>,
    /// The state stores, by id.
    pub stores: Vec<StoreDef>,
    /// Kafka Streams' builder index: every operation takes the next one, named or not.
    index: u32,
    /// The first error met (a bad name); `build()` reports it.
    pub error: Option<String>,
    /// Groups of topics (name, internal) that must have as many partitions as each other (the
    /// topics read upstream of each join).
    pub copartition_groups: Vec<Vec<(String, bool)>>,
    /// The timestamp extractors of sources that have one, by node.
    pub extractors: std::collections::HashMap<usize, crate::processor::DynExtractor>,
    /// Ids of task state shared by nodes, given out so far.
    shared_states: usize,
    /// The last repartition source made for a stream's node by a join, which an unnamed join
    /// of that stream reads again (as Kafka's `KStreamImpl` keeps its repartition node).
    pub repartitioned: std::collections::HashMap<usize, usize>,
    /// Repartition topics (names without the application id) given a number of partitions.
    pub repartition_partitions: std::collections::BTreeMap<String, i32>,
    /// The stores added for processors (`add_state_store`), by name.
    pub user_stores: std::collections::HashMap<String, ConnectedStore>,
}

impl Graph {
    /// The next generated name with `prefix` (`KSTREAM-FILTER-0000000001`); a given name is
    /// used instead, but takes an index all the same, as in Kafka Streams.
    pub fn name(&mut self, prefix: &str, given: Option<&str>) -> String {
        let generated = format!("{prefix}{:010}", self.index);
        self.index += 1;
        match given {
            Some(name) => {
                self.check_name(name);
                name.to_string()
            }
            None => generated,
        }
    }

    /// Records an error when `name` breaks Kafka's rule for user-given names.
    pub fn check_name(&mut self, name: &str) {
        if let Err(e) = check_name(name) {
            self.error.get_or_insert(e);
        }
    }

    /// A new id for state that nodes of a task share (`Context::task_state`).
    pub fn shared_state_id(&mut self) -> usize {
        self.shared_states += 1;
        self.shared_states
    }

    /// Records that the sources upstream of `nodes` must be co-partitioned (they are joined).
    pub fn copartition(&mut self, nodes: &[usize]) {
        let mut sources = Vec::new();
        let mut stack: Vec<usize> = nodes.to_vec();
        let mut seen = vec![false; self.nodes.len()];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            if let Kind::Source {
                topics, internal, ..
            } = &self.nodes[n].kind
            {
                sources.extend(topics.iter().map(|t| (t.clone(), *internal)));
            }
            stack.extend(self.nodes[n].parents.iter().copied());
        }
        sources.sort();
        sources.dedup();
        self.copartition_groups.push(sources);
    }

    /// Adds a store; returns its id. A name used twice is an error, as in Kafka Streams.
    pub fn add_store(&mut self, def: StoreDef) -> usize {
        if self.stores.iter().any(|s| s.name == def.name) {
            self.error.get_or_insert(format!(
                "A different StateStore has already been added with the name {}",
                def.name
            ));
        }
        self.stores.push(def);
        self.stores.len() - 1
    }

    /// The stores `names` added for processors, for processor `node` to connect to; an
    /// error recorded for a name never added, as Kafka's builder refuses it.
    pub fn connect_stores(&mut self, node: &str, names: &[&str]) -> Vec<ConnectedStore> {
        let mut connected = Vec::new();
        for name in names {
            match self.user_stores.get(*name) {
                Some(store) => connected.push(store.clone()),
                None => {
                    self.error.get_or_insert(format!(
                        "StateStore {name} is not added yet (processor {node})."
                    ));
                }
            }
        }
        connected
    }

    /// Adds a node; returns its index.
    pub fn add(
        &mut self,
        name: String,
        kind: Kind,
        mut parents: Vec<usize>,
        factory: Option<NodeFactory>,
    ) -> usize {
        // one edge per parent (`s.merge(&s)` reads each record once), as Kafka keeps them in a set
        let mut seen = Vec::new();
        parents.retain(|p| {
            let first = !seen.contains(p);
            seen.push(*p);
            first
        });
        if self.nodes.iter().any(|n| n.name == name) {
            self.error
                .get_or_insert(format!("Processor {name} is already added."));
        }
        self.nodes.push(NodeDef {
            name,
            kind,
            parents,
            factory,
            folded_into: None,
            global: false,
        });
        self.nodes.len() - 1
    }
}

/// Kafka's rule for user-given names (`Named`).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Name is illegal, it can't be empty".to_string());
    }
    if name == "." || name == ".." {
        return Err("Name cannot be \".\" or \"..\"".to_string());
    }
    if name.len() > 249 {
        return Err(format!(
            "Name is illegal, it can't be longer than 249 characters, name: {name}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "Name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Builds a topology with the DSL: streams from topics, operations on them, sinks.
#[derive(Default)]
pub struct StreamsBuilder {
    graph: Rc<RefCell<Graph>>,
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The graph being built.
    pub(crate) fn graph(&self) -> &Rc<RefCell<Graph>> {
        &self.graph
    }

    /// Adds a store for processors, which [`KStream::process`] connects to the processors
    /// that name it. A name used twice is an error at [`StreamsBuilder::build`].
    pub fn add_state_store<K, V>(&self, store: StoreBuilder<K, V>) -> &Self
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let (def, serdes) = store.into_parts();
        let name = def.name.clone();
        let mut g = self.graph.borrow_mut();
        let id = g.add_store(def);
        g.user_stores
            .insert(name.clone(), ConnectedStore { name, id, serdes });
        self
    }

    /// The records of `topic`, read with `consumed`'s serdes.
    pub fn stream<K, V>(&self, topic: &str, consumed: Consumed<K, V>) -> KStream<K, V>
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        self.stream_from(&[topic], consumed)
    }

    /// The records of several topics, read with the same serdes.
    pub fn stream_from<K, V>(&self, topics: &[&str], consumed: Consumed<K, V>) -> KStream<K, V>
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let (key, value) = (consumed.key.clone(), consumed.value.clone());
        let decoder: Decoder = Arc::new(
            move |topic: &str, k: Option<&[u8]>, v: Option<&[u8]>, headers: &[crate::Header]| {
                let (k, v) = crate::serde::decode((&key, &value), topic, k, v, headers)?;
                Ok((Arc::new(k) as Dyn, Arc::new(v) as Dyn))
            },
        );
        let extractor: Option<crate::processor::DynExtractor> =
            consumed.extractor.clone().map(|f| {
                let f: crate::processor::DynExtractor = Arc::new(
                    move |k: &Dyn, v: &Dyn, timestamp: i64, partition_time: i64| {
                        let (Some(k), Some(v)) = (k.downcast_ref::<K>(), v.downcast_ref::<V>())
                        else {
                            return Err("a record of another type than its source's".to_string());
                        };
                        f(k, Some(v), timestamp, partition_time)
                    },
                );
                f
            });
        let mut wanted: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        wanted.sort();
        wanted.dedup();
        let types = (TypeId::of::<K>(), TypeId::of::<V>());
        let mut g = self.graph.borrow_mut();
        let name = g.name("KSTREAM-SOURCE-", consumed.name.as_deref());
        if wanted.is_empty() {
            g.error
                .get_or_insert("a stream needs at least one topic".to_string());
        }
        // Kafka Streams folds sources of the same topics into the first one; sources that only
        // share some topics cannot both read them
        let mut same = None;
        let mut problem = None;
        for (i, n) in g.nodes.iter().enumerate() {
            let Kind::Source {
                topics: t,
                types: ty,
                ..
            } = &n.kind
            else {
                continue;
            };
            let mut theirs = t.clone();
            theirs.sort();
            if theirs == wanted && *ty == types {
                same = same.or(Some(i));
            } else if theirs == wanted {
                problem.get_or_insert(format!(
                    "Topics {wanted:?} are read twice with different key or value types"
                ));
            } else if theirs.iter().any(|x| wanted.contains(x)) {
                problem.get_or_insert(
                    "Two source nodes are subscribed to overlapping but not equal input topics"
                        .to_string(),
                );
            }
        }
        if let Some(p) = problem {
            g.error.get_or_insert(p);
        }
        let node = match same {
            Some(main) => {
                let node = g.add(
                    name,
                    Kind::Source {
                        topics: wanted.clone(),
                        internal: false,
                        decoder,
                        types,
                    },
                    Vec::new(),
                    None,
                );
                g.nodes[node].folded_into = Some(main);
                node
            }
            None => g.add(
                name,
                Kind::Source {
                    topics: topics
                        .iter()
                        .map(|t| t.to_string())
                        .fold(Vec::new(), |mut v, t| {
                            if !v.contains(&t) {
                                v.push(t);
                            }
                            v
                        }),
                    internal: false,
                    decoder,
                    types,
                },
                Vec::new(),
                None,
            ),
        };
        // (a source folded into another reads through it)
        if let Some(f) = extractor {
            g.extractors.insert(same.unwrap_or(node), f);
        }
        drop(g);
        KStream::new(Rc::clone(&self.graph), node).with_serdes(
            Some(consumed.key),
            Some(consumed.value),
            false,
        )
    }

    /// The table of `topic`'s latest value per key: a record updates its key, a record with a
    /// null value deletes it, and a record with a null key is dropped. Given a store name,
    /// `materialized` keeps the table in that store (queryable, logged to
    /// `<application.id>-<name>-changelog`); else the table is not kept, as in Kafka Streams.
    pub fn table<K, V>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        // Kafka Streams names (but does not add) the store first
        let reserved = match &materialized.name {
            Some(n) => n.clone(),
            None => self
                .graph
                .borrow_mut()
                .name(&format!("{topic}-STATE-STORE-"), None),
        };
        let materialized =
            materialized.or_serdes(Some(consumed.key.clone()), Some(consumed.value.clone()));
        // (the table's records are nullable values: a tombstone's value is `None`)
        let extractor = consumed.extractor.map(|f| {
            let f: TimestampExtractor<K, Option<V>> = Arc::new(
                move |k: &K, v: Option<&Option<V>>, timestamp: i64, partition_time: i64| {
                    f(k, v.and_then(Option::as_ref), timestamp, partition_time)
                },
            );
            f
        });
        let stream: KStream<K, Option<V>> = self.stream(
            topic,
            Consumed {
                key: consumed.key,
                value: crate::serde::Serdes::nullable(consumed.value),
                name: consumed.name,
                extractor,
            },
        );
        let mut g = self.graph.borrow_mut();
        let name = g.name("KTABLE-SOURCE-", None);
        let store = materialized
            .name
            .is_some()
            .then(|| materialized.add_store(&mut g, "", crate::store::StoreKind::KeyValue));
        drop(g);
        crate::ktable::table_from_stream(
            &self.graph,
            stream.node(),
            (name, reserved),
            store,
            &materialized,
            None,
        )
    }

    /// The topology built so far; `Err` names the first invalid part (a bad or repeated name, a
    /// topic read by two sources), as Kafka's `TopologyException` does.
    pub fn build(self) -> Result<Topology, StreamsError> {
        let g = self.graph.borrow();
        if let Some(e) = &g.error {
            return Err(StreamsError::Topology(e.clone()));
        }
        let mut topology = Topology::from_nodes(g.nodes.clone(), g.stores.clone());
        topology.copartition_groups = g.copartition_groups.clone();
        topology.extractors = g.extractors.clone();
        topology.repartition_partitions = g.repartition_partitions.clone();
        Ok(topology)
    }
}
