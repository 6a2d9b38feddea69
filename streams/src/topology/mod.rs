//! A topology: the graph of sources, processors and sinks a [`crate::StreamsBuilder`] built,
//! split into sub-topologies (the parts no record crosses between), as Kafka Streams splits it.

mod describe;
mod java_order;

pub use describe::TopologyDescription;

use crate::processor::{Decoder, NodeFactory};

/// What a node is.
#[derive(Clone)]
pub(crate) enum Kind {
    /// Reads topics.
    Source {
        topics: Vec<String>,
        decoder: Decoder,
        /// The key and value types it decodes to.
        types: (std::any::TypeId, std::any::TypeId),
    },
    /// Processes records (with state stores, later).
    Processor { stores: Vec<String> },
    /// Writes a topic.
    Sink { topic: String },
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
}

/// A processing graph, ready to describe or run.
#[derive(Clone, Default)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
    /// Each node's children, by index, in the order records are forwarded to them.
    children: Vec<Vec<usize>>,
}

impl Topology {
    /// The topology of the builder's `nodes`, with sources of the same topics folded into the
    /// first as Kafka Streams folds them: the later source's children become the first's (after
    /// its own), and a folded parent moves to the end of its child's parents.
    pub(crate) fn from_nodes(mut nodes: Vec<NodeDef>) -> Topology {
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
        Topology { nodes, children }
    }

    /// The topology as Kafka Streams' `Topology.describe()` prints it.
    pub fn describe(&self) -> TopologyDescription {
        TopologyDescription::of(self)
    }

    /// The topics its sources read.
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

    /// The sub-topologies: groups of connected nodes (by index, in definition order), numbered
    /// by their earliest node, as Kafka Streams numbers them.
    pub(crate) fn subtopologies(&self) -> Vec<Vec<usize>> {
        let mut root: Vec<usize> = (0..self.nodes.len()).collect();
        fn find(root: &mut [usize], mut x: usize) -> usize {
            while root[x] != x {
                root[x] = root[root[x]];
                x = root[x];
            }
            x
        }
        for (i, n) in self.nodes.iter().enumerate() {
            for &p in &n.parents {
                let (a, b) = (find(&mut root, i), find(&mut root, p));
                if a != b {
                    root[a] = b;
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
