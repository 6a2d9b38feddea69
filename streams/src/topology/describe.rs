//! `Topology::describe()`: the text Kafka Streams' `TopologyDescription` prints, to the
//! character, so that a topology can be compared with its Java twin.
//!
//! ```text
//! Topologies:
//!    Sub-topology: 0
//!     Source: KSTREAM-SOURCE-0000000000 (topics: [input])
//!       --> KSTREAM-FILTER-0000000001
//!     Processor: KSTREAM-FILTER-0000000001 (stores: [])
//!       --> KSTREAM-SINK-0000000002
//!       <-- KSTREAM-SOURCE-0000000000
//!     Sink: KSTREAM-SINK-0000000002 (topic: output)
//!       <-- KSTREAM-FILTER-0000000001
//! ```
//!
//! Nodes are listed by the number of paths from them (most first), then by name. The `-->` and
//! `<--` lists are Java `TreeSet`s filled while those numbers still grow, in the iteration order
//! of a `HashMap` of node names: [`super::java_order`] reproduces both.

use std::cmp::Ordering;
use std::fmt;

use super::java_order::{hash_order, java_cmp, TreeSet};
use super::{Kind, Topology};

/// A topology's description, printed as Kafka Streams prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription {
    text: String,
    subtopologies: usize,
}

impl TopologyDescription {
    /// How many sub-topologies there are.
    pub fn subtopology_count(&self) -> usize {
        self.subtopologies
    }

    pub(super) fn of(topology: &Topology) -> TopologyDescription {
        let groups = topology.groups();
        let mut text = String::from("Topologies:\n ");
        for (id, members) in groups.iter().enumerate() {
            let global = members.iter().any(|&i| topology.nodes[i].global);
            if global {
                text.push_str(&format!(
                    "  Sub-topology: {id} for global store (will not generate tasks)\n"
                ));
            } else {
                text.push_str(&format!("  Sub-topology: {id}\n"));
            }
            for line in describe_group(topology, members) {
                text.push_str("    ");
                text.push_str(&line);
                text.push('\n');
            }
            // (a global store's block has no blank line after it, in Kafka's text too)
            if !global {
                text.push('\n');
            }
        }
        TopologyDescription {
            text,
            subtopologies: groups.len(),
        }
    }
}

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The lines of one sub-topology's nodes.
fn describe_group(topology: &Topology, members: &[usize]) -> Vec<String> {
    let nodes = &topology.nodes;
    let n = nodes.len();
    let mut size = vec![1i64; n];
    let mut preds: Vec<TreeSet> = vec![TreeSet::default(); n];
    let mut succs: Vec<TreeSet> = vec![TreeSet::default(); n];
    let names: Vec<&str> = members.iter().map(|&i| nodes[i].name.as_str()).collect();
    let by_name = |name: &str| {
        members
            .iter()
            .copied()
            .find(|&i| nodes[i].name == name)
            .unwrap_or(0)
    };
    for name in hash_order(&names, false) {
        let node = by_name(name);
        for &pred in &nodes[node].parents {
            {
                let cmp = |a: usize, b: usize| compare(&size, nodes, a, b);
                preds[node].add(pred, &cmp);
                succs[pred].add(node, &cmp);
            }
            let grow = size[node];
            update_size(&mut size, &preds, pred, grow);
        }
    }
    let mut order: Vec<usize> = members.to_vec();
    order.sort_by(|&a, &b| {
        size[b]
            .cmp(&size[a])
            .then(java_cmp(&nodes[a].name, &nodes[b].name))
    });
    let list = |set: &TreeSet| {
        let names: Vec<&str> = set
            .iter()
            .into_iter()
            .map(|i| nodes[i].name.as_str())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    order
        .into_iter()
        .map(|i| {
            let node = &nodes[i];
            match &node.kind {
                Kind::Source { topics, .. } => {
                    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                    format!(
                        "Source: {} (topics: [{}])\n      --> {}",
                        node.name,
                        hash_order(&topics, true).join(", "),
                        list(&succs[i])
                    )
                }
                Kind::Processor { stores } => {
                    let stores: Vec<&str> = stores
                        .iter()
                        .map(|&s| topology.stores[s].name.as_str())
                        .collect();
                    format!(
                        "Processor: {} (stores: [{}])\n      --> {}\n      <-- {}",
                        node.name,
                        hash_order(&stores, true).join(", "),
                        list(&succs[i]),
                        list(&preds[i])
                    )
                }
                Kind::Sink { topic, .. } => format!(
                    "Sink: {} (topic: {})\n      <-- {}",
                    node.name,
                    topic,
                    list(&preds[i])
                ),
                // (Kafka prints the extractor object, which a closure does not have)
                Kind::DynamicSink => format!(
                    "Sink: {} (extractor class: TopicNameExtractor)\n      <-- {}",
                    node.name,
                    list(&preds[i])
                ),
            }
        })
        .collect()
}

/// Kafka's node comparator: more paths first, then by name; compared with the sizes of now.
fn compare(size: &[i64], nodes: &[super::NodeDef], a: usize, b: usize) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    size[b]
        .cmp(&size[a])
        .then_with(|| java_cmp(&nodes[a].name, &nodes[b].name))
}

/// A node gained `by` paths: so did every node before it.
fn update_size(size: &mut [i64], preds: &[TreeSet], node: usize, by: i64) {
    size[node] += by;
    for p in preds[node].iter() {
        update_size(size, preds, p, by);
    }
}
