//! Sending a leader's ISR proposals to the controller (AlterPartition). The answer comes back as
//! metadata: the committed ISR reaches the partition through the image like any other change; a
//! refused proposal is forgotten, and the next follower fetch or ISR check proposes again.

use std::sync::Arc;

use super::IsrProposal;
use crate::metadata::{IsrChange, LeaderRecovery};
use crate::partition::Partition;
use crate::server::BrokerState;

/// Sends `proposal` for `partition` (led here) to the controller, in the background.
pub fn propose(state: &Arc<BrokerState>, partition: &Arc<Partition>, proposal: IsrProposal) {
    let change = IsrChange {
        broker_id: state.config.node_id,
        broker_epoch: state.broker_epoch(),
        topic_id: partition.topic_id,
        partition: partition.index,
        leader_epoch: proposal.leader_epoch,
        partition_epoch: proposal.partition_epoch,
        new_isr: proposal.isr.clone(),
        leader_recovery: LeaderRecovery::Recovered,
    };
    let (controller, partition) = (state.controller.clone(), Arc::clone(partition));
    tokio::spawn(async move {
        tracing::info!(topic = %partition.topic, partition = partition.index, isr = ?change.new_isr, "proposing ISR change");
        if let Err(code) = controller.alter_partition(change).await {
            tracing::info!(topic = %partition.topic, partition = partition.index, ?code, "ISR change refused");
            partition.isr_proposal_failed(&proposal);
        }
    });
}

/// Checks every partition led here for followers that fell out of sync
/// (`replica.lag.time.max.ms`) and proposes to drop them.
pub fn check_isrs(state: &Arc<BrokerState>) {
    for p in state.replicas.all() {
        if let Some(proposal) = p.check_isr() {
            propose(state, &p, proposal);
        }
    }
}
