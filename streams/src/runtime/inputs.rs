//! A stream thread's input partitions: where each one's records go (found per record without
//! allocating), and how far each was read.

use std::sync::Arc;

use super::assignor::TaskId;

/// An input partition of a running task.
pub(super) struct Input {
    pub topic: String,
    pub partition: i32,
    /// The next offset to read (`None`: from the reset position).
    pub next: Option<i64>,
    /// The largest timestamp read (committed with the offset as the partition time).
    pub time: i64,
}

/// Where an input partition's records go: the task, its source node, the topic's name the
/// records' metadata shares, and the partition's place in the task's inputs.
pub(super) struct Route {
    pub task: TaskId,
    pub source: usize,
    pub topic: Arc<str>,
    pub input: usize,
}

/// Routes by topic, then by partition.
#[derive(Default)]
pub(super) struct Routes {
    // (a thread reads a few topics: a scan of their names is cheaper than hashing one)
    topics: Vec<(String, Vec<Option<Route>>)>,
}

impl Routes {
    pub fn clear(&mut self) {
        self.topics.clear();
    }

    pub fn insert(&mut self, topic: &str, partition: i32, route: Route) {
        let Ok(p) = usize::try_from(partition) else {
            return;
        };
        let at = match self.topics.iter().position(|(t, _)| t == topic) {
            Some(at) => at,
            None => {
                self.topics.push((topic.to_string(), Vec::new()));
                self.topics.len() - 1
            }
        };
        let partitions = &mut self.topics[at].1;
        if partitions.len() <= p {
            partitions.resize_with(p + 1, || None);
        }
        partitions[p] = Some(route);
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<&Route> {
        let (_, partitions) = self.topics.iter().find(|(t, _)| t == topic)?;
        partitions.get(usize::try_from(partition).ok()?)?.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(partition: u32, input: usize) -> Route {
        Route {
            task: TaskId {
                subtopology: 0,
                partition: partition as i32,
            },
            source: 0,
            topic: Arc::from("t"),
            input,
        }
    }

    #[test]
    fn routes_are_found_by_topic_and_partition_and_cleared() {
        let mut routes = Routes::default();
        routes.insert("a", 2, route(2, 0));
        routes.insert("b", 0, route(0, 1));
        assert_eq!(routes.get("a", 2).map(|r| r.input), Some(0));
        assert_eq!(routes.get("b", 0).map(|r| r.input), Some(1));
        assert!(routes.get("a", 0).is_none());
        assert!(routes.get("a", 3).is_none());
        assert!(routes.get("a", -1).is_none());
        assert!(routes.get("c", 0).is_none());
        routes.clear();
        assert!(routes.get("a", 2).is_none());
    }
}
