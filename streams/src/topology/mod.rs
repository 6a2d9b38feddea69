//! A topology: the graph of sources, processors and sinks a [`crate::StreamsBuilder`] built,
//! split into sub-topologies (the parts no record crosses between), as Kafka Streams splits it.

mod describe;
mod java_order;

pub use describe::TopologyDescription;

use crate::processor::{Decoder, NodeFactory};
use crate::store::StoreDef;

/// What a node is.
#[derive(Clone)]
pub(crate) enum Kind {
    /// Reads topics.
    Source {
        topics: Vec<String>,
        /// An internal (repartition) topic: its name at run time is `<application.id>-<topic>`.
        internal: bool,
        decoder: Decoder,
        /// The key and value types it decodes to.
        types: (std::any::TypeId, std::any::TypeId),
    },
    /// Processes records, with the stores of these ids.
    Processor { stores: Vec<usize> },
    /// Writes a topic; an internal (repartition) one is `<application.id>-<topic>` at run time.
    Sink { topic: String, internal: bool },
    /// Writes each record to the topic a function chooses for it.
    DynamicSink,
}

/// One node as the builder defined it.
#[derive(Clone)]
pub(crate) struct NodeDef {
    pub name: String,
    pub kind: Kind,
    /// Parents, by index, in the order they were given.
    pub parents: Vec<usize>,
    /// Makes the running node (sources decode instead and pass records on).
    pub factory: Option<NodeFactory>,
    /// A source of the same topics as an earlier one, which Kafka Streams folds into it.
    pub folded_into: Option<usize>,
    /// A node of a global table (its source and the node keeping its store): it runs outside
    /// of tasks, on every instance.
    pub global: bool,
}

/// A processing graph, ready to describe or run.
#[derive(Clone, Default)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
    /// The state stores, by id.
    pub(crate) stores: Vec<StoreDef>,
    /// Each node's children, by index, in the order records are forwarded to them.
    children: Vec<Vec<usize>>,
    /// Groups of topics (name, internal) that must have as many partitions as each other.
    pub(crate) copartition_groups: Vec<Vec<(String, bool)>>,
    /// The timestamp extractors of sources that have one, by node.
    pub(crate) extractors: std::collections::HashMap<usize, crate::processor::DynExtractor>,
    /// Repartition topics (names without the application id) given a number of partitions.
    pub(crate) repartition_partitions: std::collections::BTreeMap<String, i32>,
}

impl Topology {
    /// The topology of the builder's `nodes`, with sources of the same topics folded into the
    /// first as Kafka Streams folds them: the later source's children become the first's (after
    /// its own), and a folded parent moves to the end of its child's parents.
    pub(crate) fn from_nodes(mut nodes: Vec<NodeDef>, stores: Vec<StoreDef>) -> Topology {
        let n = nodes.len();
        let mut children = vec![Vec::new(); n];
        for (i, node) in nodes.iter().enumerate() {
            for &p in &node.parents {
                children[p].push(i);
            }
        }
        let folded: Vec<(usize, usize)> = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, node)| node.folded_into.map(|main| (i, main)))
            .collect();
        for &(dup, main) in &folded {
            let moved = std::mem::take(&mut children[dup]);
            children[main].extend(moved);
        }
        for node in &mut nodes {
            for &(dup, main) in &folded {
                if node.parents.contains(&dup) {
                    node.parents.retain(|p| *p != dup && *p != main);
                    node.parents.push(main);
                }
            }
        }
        // drop the folded sources and renumber
        let keep: Vec<bool> = nodes
            .iter()
            .map(|node| node.folded_into.is_none())
            .collect();
        let mut new_index = vec![usize::MAX; n];
        let mut next = 0;
        for i in 0..n {
            if keep[i] {
                new_index[i] = next;
                next += 1;
            }
        }
        let nodes: Vec<NodeDef> = nodes
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(mut node, _)| {
                node.parents = node.parents.iter().map(|p| new_index[*p]).collect();
                node
            })
            .collect();
        let children = children
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c.into_iter().map(|i| new_index[i]).collect())
            .collect();
        Topology {
            nodes,
            stores,
            children,
            copartition_groups: Vec::new(),
            extractors: std::collections::HashMap::new(),
            repartition_partitions: std::collections::BTreeMap::new(),
        }
    }

    /// The topology as Kafka Streams' `Topology.describe()` prints it.
    pub fn describe(&self) -> TopologyDescription {
        TopologyDescription::of(self)
    }

    /// The topics its sources read, as described (internal topics without the application
    /// id in front).
    pub fn source_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                Kind::Source { topics, .. } => Some(topics.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// The internal topics the topology needs in application `application_id`: its
    /// repartition topics and its stores' changelogs, as `(name, is_changelog)`.
    pub fn internal_topics(&self, application_id: &str) -> Vec<(String, bool)> {
        let mut topics: Vec<(String, bool)> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                Kind::Sink {
                    topic,
                    internal: true,
                } => Some((runtime_topic(application_id, topic, true), false)),
                _ => None,
            })
            .collect();
        topics.extend(
            self.stores
                .iter()
                .filter(|s| s.logged)
                .map(|s| (s.changelog_topic(application_id), true)),
        );
        topics
    }

    /// Each source node with the topics it reads at run time in `application_id`.
    pub(crate) fn sources(&self, application_id: &str) -> Vec<(usize, Vec<String>)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match &n.kind {
                Kind::Source {
                    topics, internal, ..
                } => Some((
                    i,
                    topics
                        .iter()
                        .map(|t| runtime_topic(application_id, t, *internal))
                        .collect(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Whether store `id` is a global table's (kept whole on every instance).
    pub(crate) fn global_store(&self, id: usize) -> bool {
        self.nodes.iter().any(|n| {
            n.global && matches!(&n.kind, Kind::Processor { stores } if stores.contains(&id))
        })
    }

    /// The ids of the stores the nodes `members` use.
    pub(crate) fn stores_of(&self, members: &[usize]) -> Vec<usize> {
        let mut ids: Vec<usize> = members
            .iter()
            .filter_map(|&i| match &self.nodes[i].kind {
                Kind::Processor { stores } => Some(stores.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The sub-topologies: groups of connected nodes (by index, in definition order), numbered
    /// by their earliest node, as Kafka Streams numbers them.
    pub(crate) fn subtopologies(&self) -> Vec<Vec<usize>> {
        self.groups()
            .into_iter()
            .filter(|g| !g.iter().any(|&i| self.nodes[i].global))
            .collect()
    }

    /// Every group of connected nodes, global tables' included, numbered as
    /// [`Topology::subtopologies`] numbers them.
    pub(crate) fn groups(&self) -> Vec<Vec<usize>> {
        let mut root: Vec<usize> = (0..self.nodes.len()).collect();
        fn find(root: &mut [usize], mut x: usize) -> usize {
            while root[x] != x {
                root[x] = root[root[x]];
                x = root[x];
            }
            x
        }
        // a node joins its parents' group, and processors sharing a store join one group
        let mut store_user: Vec<Option<usize>> = vec![None; self.stores.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            let mut linked = n.parents.clone();
            if let Kind::Processor { stores } = &n.kind {
                for &s in stores {
                    match store_user[s] {
                        Some(other) => linked.push(other),
                        None => store_user[s] = Some(i),
                    }
                }
            }
            for p in linked {
                let (a, b) = (find(&mut root, i), find(&mut root, p));
                if a != b {
                    // the group's root is its earliest node
                    let (lo, hi) = (a.min(b), a.max(b));
                    root[hi] = lo;
                }
            }
        }
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for i in 0..self.nodes.len() {
            let r = find(&mut root, i);
            match groups.iter_mut().find(|(g, _)| *g == r) {
                Some((_, members)) => members.push(i),
                None => groups.push((r, vec![i])),
            }
        }
        groups.into_iter().map(|(_, m)| m).collect()
    }

    /// Each node's children, by index, in the order records are forwarded to them.
    pub(crate) fn children(&self) -> Vec<Vec<usize>> {
        self.children.clone()
    }
}

/// The name a topic has at run time: an internal one gets the application id in front.
pub(crate) fn runtime_topic(application_id: &str, topic: &str, internal: bool) -> String {
    if internal {
        format!("{application_id}-{topic}")
    } else {
        topic.to_string()
    }
}
