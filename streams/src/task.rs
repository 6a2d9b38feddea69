//! A task: instances of a topology's nodes that records run through, depth-first, each
//! forwarded record finishing its way through the children before the next one goes (as Kafka
//! Streams' `StreamTask` runs them). The [`crate::TestDriver`] runs one task over the whole
//! topology; the runtime on brokers will run one per partition group.

use crate::processor::{Context, DynRecord, Node, OutputRecord, StreamsError};
use crate::topology::Topology;

pub(crate) struct Task {
    /// Each node's instance (`None` for sources, which only decode, and while a node runs).
    nodes: Vec<Option<Box<dyn Node>>>,
    children: Vec<Vec<usize>>,
    /// What sinks wrote, in order, until taken.
    produced: Vec<OutputRecord>,
}

impl Task {
    /// Instances of every node of `topology`.
    pub fn new(topology: &Topology) -> Task {
        Task {
            nodes: topology
                .nodes
                .iter()
                .map(|n| n.factory.as_ref().map(|f| f()))
                .collect(),
            children: topology.children(),
            produced: Vec::new(),
        }
    }

    /// Runs `record`, read by source `source`, through its children.
    pub fn process(&mut self, source: usize, record: DynRecord) -> Result<(), StreamsError> {
        for child in self.children[source].clone() {
            self.run(child, record.clone())?;
        }
        Ok(())
    }

    /// What the sinks wrote since the last call.
    pub fn take_produced(&mut self) -> Vec<OutputRecord> {
        std::mem::take(&mut self.produced)
    }

    fn run(&mut self, node: usize, record: DynRecord) -> Result<(), StreamsError> {
        let Some(mut instance) = self.nodes.get_mut(node).and_then(Option::take) else {
            return Err(StreamsError::Topology(format!(
                "node {node} has no processor to run (a cycle?)"
            )));
        };
        let result = instance.process(record, &mut NodeContext { task: self, node });
        self.nodes[node] = Some(instance);
        result
    }
}

struct NodeContext<'a> {
    task: &'a mut Task,
    node: usize,
}

impl Context for NodeContext<'_> {
    fn forward(&mut self, record: DynRecord) -> Result<(), StreamsError> {
        for child in self.task.children[self.node].clone() {
            self.task.run(child, record.clone())?;
        }
        Ok(())
    }

    fn forward_to(&mut self, child: usize, record: DynRecord) -> Result<(), StreamsError> {
        let Some(&target) = self.task.children[self.node].get(child) else {
            return Err(StreamsError::Topology(format!(
                "node {} has no child {child}",
                self.node
            )));
        };
        self.task.run(target, record)
    }

    fn produce(&mut self, record: OutputRecord) {
        self.task.produced.push(record);
    }
}
