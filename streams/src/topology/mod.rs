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
}

/// A processing graph, ready to describe or run.
#[derive(Clone, Default)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
}

impl Topology {
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

    /// Each node's children, by index, in the order they were added.
    pub(crate) fn children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &p in &n.parents {
                children[p].push(i);
            }
        }
        children
    }
}
