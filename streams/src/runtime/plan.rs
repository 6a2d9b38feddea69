//! What running a topology takes: its sub-topologies with the topics they read and write, the
//! number of tasks of each (the partitions of its input topics), and the internal topics to
//! create with their partitions and configs.

use std::collections::BTreeMap;

use super::assignor::TaskId;
use crate::processor::StreamsError;
use crate::topology::{Kind, Topology};

/// A sub-topology as the runtime sees it.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub id: u32,
    /// Its nodes, by index.
    pub members: Vec<usize>,
    /// Each source node and the topics it reads (run-time names).
    pub sources: Vec<(usize, Vec<String>)>,
    /// The repartition topics its sinks write (run-time names).
    pub writes: Vec<String>,
    /// The changelogs of its stores.
    pub changelogs: Vec<String>,
    /// Each changelog's `retention.ms` when its store is windowed (`compact,delete`).
    pub changelog_retention: Vec<Option<i64>>,
}

impl Sub {
    /// Every topic it reads.
    pub fn topics(&self) -> impl Iterator<Item = &String> {
        self.sources.iter().flat_map(|(_, t)| t)
    }
}

/// An internal topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InternalTopic {
    pub name: String,
    pub partitions: i32,
    pub configs: Vec<(&'static str, String)>,
}

/// The run-time shape of a topology in one application.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub subs: Vec<Sub>,
    /// Repartition topics (run-time names): written by one sub-topology, read by another.
    pub repartition: Vec<String>,
}

/// Kafka Streams' configs for repartition topics: records are deleted once processed (by
/// offset), never by age.
const REPARTITION_CONFIGS: [(&str, &str); 4] = [
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("segment.bytes", "52428800"),
    ("message.timestamp.type", "CreateTime"),
];

/// Kafka Streams' configs for a key-value store's changelog.
const CHANGELOG_CONFIGS: [(&str, &str); 2] = [
    ("cleanup.policy", "compact"),
    ("message.timestamp.type", "CreateTime"),
];

fn owned(configs: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    configs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

impl Plan {
    pub fn new(topology: &Topology, application_id: &str) -> Plan {
        let sources = topology.sources(application_id);
        let mut repartition = Vec::new();
        let subs = topology
            .subtopologies()
            .into_iter()
            .enumerate()
            .map(|(id, members)| {
                let writes: Vec<String> = members
                    .iter()
                    .filter_map(|&i| match &topology.nodes[i].kind {
                        Kind::Sink {
                            topic,
                            internal: true,
                        } => Some(crate::topology::runtime_topic(application_id, topic, true)),
                        _ => None,
                    })
                    .collect();
                repartition.extend(writes.iter().cloned());
                let logged: Vec<usize> = topology
                    .stores_of(&members)
                    .into_iter()
                    .filter(|&s| topology.stores[s].logged)
                    .collect();
                let changelogs = logged
                    .iter()
                    .map(|&s| topology.stores[s].changelog_topic(application_id))
                    .collect();
                let changelog_retention = logged
                    .iter()
                    .map(|&s| topology.stores[s].changelog_retention())
                    .collect();
                Sub {
                    id: id as u32,
                    sources: sources
                        .iter()
                        .filter(|(node, _)| members.contains(node))
                        .cloned()
                        .collect(),
                    members,
                    writes,
                    changelogs,
                    changelog_retention,
                }
            })
            .collect();
        Plan { subs, repartition }
    }

    /// The topics the application reads that it does not create.
    pub fn user_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .subs
            .iter()
            .flat_map(Sub::topics)
            .filter(|t| !self.repartition.contains(t))
            .cloned()
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// Every topic the application reads.
    pub fn all_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.subs.iter().flat_map(Sub::topics).cloned().collect();
        t.sort();
        t.dedup();
        t
    }

    /// The partitions of each sub-topology (its tasks), from the partitions of the user topics
    /// (`existing`): the most of its input topics, a repartition topic having as many as the
    /// sub-topology writing it. A user topic that does not exist is an error.
    pub fn partitions(&self, existing: &BTreeMap<String, i32>) -> Result<Vec<i32>, StreamsError> {
        let missing: Vec<String> = self
            .user_topics()
            .into_iter()
            .filter(|t| !existing.contains_key(t))
            .collect();
        if !missing.is_empty() {
            return Err(StreamsError::MissingSourceTopic(missing));
        }
        let mut counts: BTreeMap<String, i32> = existing.clone();
        let mut per_sub = vec![0i32; self.subs.len()];
        // a repartition topic's reader comes after its writer, but resolve to a fixed point
        for _ in 0..=self.subs.len() {
            let mut changed = false;
            for (i, sub) in self.subs.iter().enumerate() {
                let n = sub
                    .topics()
                    .filter_map(|t| counts.get(t))
                    .copied()
                    .max()
                    .unwrap_or(0);
                if n != per_sub[i] {
                    per_sub[i] = n;
                    changed = true;
                }
                for w in &sub.writes {
                    if counts.get(w) != Some(&n) && n > 0 {
                        counts.insert(w.clone(), n);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Ok(per_sub)
    }

    /// The internal topics to create, for these partition counts.
    pub fn internal_topics(&self, partitions: &[i32]) -> Vec<InternalTopic> {
        let mut out = Vec::new();
        for (sub, &n) in self.subs.iter().zip(partitions) {
            for w in &sub.writes {
                out.push(InternalTopic {
                    name: w.clone(),
                    partitions: n,
                    configs: owned(&REPARTITION_CONFIGS),
                });
            }
            for (c, retention) in sub.changelogs.iter().zip(&sub.changelog_retention) {
                let configs = match retention {
                    None => owned(&CHANGELOG_CONFIGS),
                    Some(ms) => vec![
                        ("cleanup.policy", "compact,delete".to_string()),
                        ("retention.ms", ms.to_string()),
                        ("message.timestamp.type", "CreateTime".to_string()),
                    ],
                };
                out.push(InternalTopic {
                    name: c.clone(),
                    partitions: n,
                    configs,
                });
            }
        }
        out
    }

    /// Every task, for these partition counts.
    pub fn tasks(&self, partitions: &[i32]) -> Vec<TaskId> {
        self.subs
            .iter()
            .zip(partitions)
            .flat_map(|(s, &n)| {
                (0..n).map(move |p| TaskId {
                    subtopology: s.id,
                    partition: p,
                })
            })
            .collect()
    }
}
