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
    /// Each changelog's topic configs.
    pub changelog_configs: Vec<Vec<(&'static str, String)>>,
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
    /// Groups of topics (run-time names) that joins need partitioned alike.
    pub copartition: Vec<Vec<String>>,
    /// The topics of global tables (read whole by every instance, outside of tasks).
    pub global_topics: Vec<String>,
    /// Repartition topics (run-time names) with a number of partitions of their own.
    pub explicit: BTreeMap<String, i32>,
}

/// Kafka Streams' configs for repartition topics: records are deleted once processed (by
/// offset), never by age.
const REPARTITION_CONFIGS: [(&str, &str); 4] = [
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("segment.bytes", "52428800"),
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
                let changelog_configs = logged
                    .iter()
                    .map(|&s| topology.stores[s].changelog_configs())
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
                    changelog_configs,
                }
            })
            .collect();
        let copartition = topology
            .copartition_groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|(t, internal)| {
                        crate::topology::runtime_topic(application_id, t, *internal)
                    })
                    .collect()
            })
            .collect();
        let explicit = topology
            .repartition_partitions
            .iter()
            .map(|(t, n)| (crate::topology::runtime_topic(application_id, t, true), *n))
            .collect();
        Plan {
            subs,
            repartition,
            copartition,
            global_topics: super::global::global_topics(topology),
            explicit,
        }
    }

    /// The topics the application reads that it does not create.
    pub fn user_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .subs
            .iter()
            .flat_map(Sub::topics)
            .filter(|t| !self.repartition.contains(t))
            .chain(&self.global_topics)
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
        self.resolve(existing).map(|(per_sub, _)| per_sub)
    }

    /// Every topic's partitions, repartition topics included (see [`Plan::partitions`]).
    pub fn topic_partitions(
        &self,
        existing: &BTreeMap<String, i32>,
    ) -> Result<BTreeMap<String, i32>, StreamsError> {
        self.resolve(existing).map(|(_, counts)| counts)
    }

    /// The partitions per sub-topology and per topic.
    fn resolve(
        &self,
        existing: &BTreeMap<String, i32>,
    ) -> Result<(Vec<i32>, BTreeMap<String, i32>), StreamsError> {
        let missing: Vec<String> = self
            .user_topics()
            .into_iter()
            .filter(|t| !existing.contains_key(t))
            .collect();
        if !missing.is_empty() {
            return Err(StreamsError::MissingSourceTopic(missing));
        }
        let mut counts: BTreeMap<String, i32> = existing.clone();
        // a join's topics must be partitioned alike: its user topics must agree, and its
        // repartition topics take their count
        let mut fixed: BTreeMap<String, i32> = self.explicit.clone();
        for group in &self.copartition {
            // (repartition topics with a count of their own count as given ones)
            let users: BTreeMap<&String, i32> = group
                .iter()
                .filter_map(|t| match self.explicit.get(t) {
                    Some(n) => Some((t, *n)),
                    None if self.repartition.contains(t) => None,
                    None => existing.get(t).map(|n| (t, *n)),
                })
                .collect();
            let mut distinct: Vec<i32> = users.values().copied().collect();
            distinct.dedup();
            if distinct.len() > 1 {
                let list: Vec<String> = users.iter().map(|(t, n)| format!("{t}={n}")).collect();
                return Err(StreamsError::Topology(format!(
                    "Topics not co-partitioned: [{{{}}}]",
                    list.join(", ")
                )));
            }
            if let Some(&n) = distinct.first() {
                for t in group.iter().filter(|t| self.repartition.contains(t)) {
                    fixed.entry(t.clone()).or_insert(n);
                }
            }
        }
        counts.extend(fixed.iter().map(|(t, n)| (t.clone(), *n)));
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
                    let n = fixed.get(w).copied().unwrap_or(n);
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
        Ok((per_sub, counts))
    }

    /// The internal topics to create, for these partition counts (per sub-topology, and per
    /// topic for repartition topics).
    pub fn internal_topics(
        &self,
        partitions: &[i32],
        counts: &BTreeMap<String, i32>,
    ) -> Vec<InternalTopic> {
        let mut out = Vec::new();
        for (sub, &n) in self.subs.iter().zip(partitions) {
            for w in &sub.writes {
                out.push(InternalTopic {
                    name: w.clone(),
                    partitions: counts.get(w).copied().unwrap_or(n),
                    configs: owned(&REPARTITION_CONFIGS),
                });
            }
            for (c, configs) in sub.changelogs.iter().zip(&sub.changelog_configs) {
                out.push(InternalTopic {
                    name: c.clone(),
                    partitions: n,
                    configs: configs.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Consumed, Joined, Materialized, Serdes, StreamsBuilder};

    fn plan(rekey: bool) -> Plan {
        let b = StreamsBuilder::new();
        let table = b.table(
            "tbl",
            Consumed::with(Serdes::string(), Serdes::string()),
            Materialized::new(),
        );
        let mut stream = b.stream("in", Consumed::with(Serdes::string(), Serdes::string()));
        if rekey {
            stream = stream.select_key(|_, v: &String| v.clone());
        }
        stream
            .join(
                &table,
                |v: &String, t: &String| format!("{v}{t}"),
                Joined::with(Serdes::string(), Serdes::string(), Serdes::string()),
            )
            .to(
                "out",
                crate::Produced::with(Serdes::string(), Serdes::string()),
            );
        Plan::new(&b.build().unwrap(), "app")
    }

    #[test]
    fn joined_topics_must_be_co_partitioned_and_repartition_topics_follow_them() {
        let existing =
            |a: i32, b: i32| BTreeMap::from([("in".to_string(), a), ("tbl".to_string(), b)]);
        let err = plan(false).partitions(&existing(2, 3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid topology: Topics not co-partitioned: [{in=2, tbl=3}]"
        );
        assert_eq!(plan(false).partitions(&existing(3, 3)).ok(), Some(vec![3]));
        // a re-keyed stream goes through a repartition topic with the table's partitions
        let rekeyed = plan(true);
        let per_sub = rekeyed.partitions(&existing(2, 5)).ok();
        // (sub-topology 0: the table and the join; 1: the stream and the repartition sink)
        assert_eq!(per_sub, Some(vec![5, 2]));
        let counts = rekeyed.topic_partitions(&existing(2, 5)).unwrap();
        let topics = rekeyed.internal_topics(&[5, 2], &counts);
        let repartition = topics
            .iter()
            .find(|t| t.name.ends_with("-repartition"))
            .map(|t| t.partitions);
        assert_eq!(repartition, Some(5));
    }
}
