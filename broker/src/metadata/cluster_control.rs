//! The controller's side of a cluster: brokers register, heartbeat and are fenced when silent;
//! leaders change their partitions' ISR (AlterPartition). Each operation plans its records with
//! the pure deciders of [`crate::controller`] on the current image and commits them like any
//! other metadata change, so that every broker applies the same leadership changes.

use std::sync::Arc;

use uuid::Uuid;

use super::controller::{Controller, OpError};
use super::image::{MetadataImage, TopicImage};
use super::records::{LeaderRecovery, MetadataRecord};
use crate::config::BrokerConfig;
use crate::controller::broker_heartbeats::{
    BrokerHeartbeatManager, Heartbeat, HeartbeatAnswer, RegistrationRequest,
};
use crate::controller::partition_change::PartitionChangeBuilder;
use crate::controller::replication_control::{
    elect_unclean_leaders, is_active, rebalance_leaders, transition_records, BrokerTransition,
    MAX_ELECTIONS_PER_REBALANCE,
};
use crate::error::ErrorCode;
use crate::replication::mono_ms;

/// The in-memory state of the active controller (not in the metadata log).
pub(crate) struct ClusterControl {
    heartbeats: BrokerHeartbeatManager,
}

impl ClusterControl {
    pub(super) fn activated(config: &BrokerConfig, image: &MetadataImage) -> Self {
        ClusterControl {
            heartbeats: BrokerHeartbeatManager::activated(
                config.cluster.lifecycle.session_timeout_ms,
                image,
                mono_ms(),
            ),
        }
    }
}

/// Whether `topic` may elect a leader from outside its ISR (`unclean.leader.election.enable`:
/// the topic's value, else the brokers').
pub fn unclean_allowed(config: &BrokerConfig, image: &MetadataImage, topic: &TopicImage) -> bool {
    let Some(def) = crate::config::topic_config_def("unclean.leader.election.enable") else {
        return false;
    };
    config
        .resolve_topic_config(def, &topic.configs, &image.dynamic_configs(config.node_id))
        .value
        .eq_ignore_ascii_case("true")
}

/// A leader's ISR change, as AlterPartition carries it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IsrChange {
    /// The leader sending it.
    pub broker_id: i32,
    /// Its broker epoch (-1: not checked).
    pub broker_epoch: i64,
    /// The partition.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// The leader epoch it leads at.
    pub leader_epoch: i32,
    /// The partition epoch its view is at.
    pub partition_epoch: i32,
    /// The ISR it proposes.
    pub new_isr: Vec<i32>,
    /// The recovery state it reports.
    pub leader_recovery: LeaderRecovery,
}

fn no_cluster() -> OpError {
    (
        ErrorCode::UnknownServerError,
        "this controller does not manage broker registrations".to_string(),
    )
}

impl Controller {
    /// The broker sessions of a cluster's controller.
    fn control(&self) -> Result<Arc<parking_lot::Mutex<ClusterControl>>, OpError> {
        self.inner.cluster.clone().ok_or_else(no_cluster)
    }

    /// Registers a broker (BrokerRegistration); answers its broker epoch.
    pub async fn register_broker(&self, req: RegistrationRequest) -> Result<i64, OpError> {
        if let Some(remote) = &self.inner.remote {
            return remote.register_broker(self, req).await;
        }
        let control = self.control()?;
        let (id, incarnation) = (req.broker_id, req.incarnation_id);
        let epoch = self
            .run(move |image, config| {
                let unclean = |t: &TopicImage| unclean_allowed(config, image, t);
                match control
                    .lock()
                    .heartbeats
                    .register(image, &req, mono_ms(), &unclean)
                {
                    Ok(records) => {
                        let epoch = match records.last() {
                            Some(MetadataRecord::RegisterBroker { epoch, .. }) => *epoch,
                            _ => -1,
                        };
                        (records, Ok(epoch))
                    }
                    Err(e) => (Vec::new(), Err(e)),
                }
            })
            .await??;
        // the broker must apply at least this far before it is unfenced
        let offset = self.image().offset;
        self.control()?
            .lock()
            .heartbeats
            .registered(id, epoch, incarnation, offset, mono_ms());
        tracing::info!(broker = id, epoch, "broker registered");
        Ok(epoch)
    }

    /// Handles a broker's heartbeat (BrokerHeartbeat): renews its session and commits the
    /// fencing, unfencing or controlled shutdown it calls for.
    pub async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatAnswer, OpError> {
        if let Some(remote) = &self.inner.remote {
            return remote.broker_heartbeat(hb).await;
        }
        let control = self.control()?;
        let (answer, transition) = self
            .run(move |image, config| {
                let decided = control.lock().heartbeats.heartbeat(image, &hb, mono_ms());
                match decided {
                    Ok((answer, transition)) => {
                        let unclean = |t: &TopicImage| unclean_allowed(config, image, t);
                        let records = transition
                            .and_then(|t| transition_records(image, hb.broker_id, t, &unclean))
                            .unwrap_or_default();
                        (records, Ok((answer, transition)))
                    }
                    Err(e) => (Vec::new(), Err(e)),
                }
            })
            .await??;
        if let Some(t) = transition {
            tracing::info!(broker = hb.broker_id, transition = ?t, "broker state changed");
            if t == BrokerTransition::ControlledShutdown {
                let offset = self.image().offset;
                self.control()?
                    .lock()
                    .heartbeats
                    .shutdown_committed(hb.broker_id, offset);
            }
        }
        Ok(answer)
    }

    /// Fences the brokers whose session expired (`broker.session.timeout.ms` without a
    /// heartbeat), and those of nodes whose controller listener has refused the quorum's
    /// connections for a quarter of an election timeout (or half a heartbeat interval, if
    /// shorter) while the broker sent nothing: in
    /// combined mode nothing listening means the process is gone, so a new active controller
    /// need not wait a whole session for a node that died with the old one. Returns them.
    pub async fn fence_expired_brokers(&self) -> Result<Vec<i32>, OpError> {
        let control = self.control()?;
        let refusing = self.refusing_voters();
        self.run(move |image, config| {
            let now = mono_ms();
            // (a refused connection means nothing listens: one more of Raft's heartbeats,
            // sent every fifth of an election timeout, is all the confirmation it needs)
            let half_interval = config.cluster.lifecycle.heartbeat_interval_ms / 2;
            let grace = match &config.cluster.mode {
                crate::config::ClusterMode::Quorum(q) => {
                    (q.election_timeout_ms / 4).min(half_interval)
                }
                crate::config::ClusterMode::SingleNode => half_interval,
            };
            let mut expired = control.lock().heartbeats.expired_brokers(image, now);
            for b in &expired {
                tracing::warn!(broker = b, "broker session expired: fencing it");
            }
            for (voter, since) in &refusing {
                let id = *voter as i32;
                let Some(broker) = image.brokers.get(&id) else {
                    continue;
                };
                if broker.fenced
                    || expired.contains(&id)
                    || now.saturating_sub(*since) < grace
                    || control.lock().heartbeats.heard_since(id, broker.epoch, *since)
                {
                    continue;
                }
                tracing::warn!(
                    broker = id,
                    "node's controller listener refuses connections and its broker is silent: fencing it"
                );
                expired.push(id);
            }
            let unclean = |t: &TopicImage| unclean_allowed(config, image, t);
            let mut staged = image.clone();
            let mut records = Vec::new();
            for b in &expired {
                if let Some(r) = transition_records(&staged, *b, BrokerTransition::Fence, &unclean)
                {
                    match staged.apply(staged.offset + 1, &r) {
                        Ok(next) => staged = next,
                        Err(e) => {
                            tracing::error!(error = %e, "fencing plan does not apply");
                            continue;
                        }
                    }
                    records.extend(r);
                }
            }
            (records, expired)
        })
        .await
    }

    /// The connection a broker heartbeats on closed (a killed process closes its sockets at
    /// once): unless it heartbeats again within half a `broker.heartbeat.interval.ms`, it is
    /// fenced now rather than after the whole `broker.session.timeout.ms`. So a crashed broker's
    /// partitions fail over in about a second; a broker cut off without a closed connection (a
    /// network partition) still takes the session timeout, as in Kafka.
    pub async fn heartbeat_connection_closed(&self, broker_id: i32, epoch: i64) {
        let Ok(control) = self.control() else {
            return;
        };
        let closed_at = crate::replication::mono_ms();
        let wait = self.inner.config.cluster.lifecycle.heartbeat_interval_ms / 2;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        let result = self
            .run(move |image, config| {
                let silent = control
                    .lock()
                    .heartbeats
                    .silent_since(broker_id, epoch, closed_at);
                let unfenced = image
                    .brokers
                    .get(&broker_id)
                    .is_some_and(|b| b.epoch == epoch && !b.fenced);
                if !(silent && unfenced) {
                    return (Vec::new(), false);
                }
                let unclean = |t: &TopicImage| unclean_allowed(config, image, t);
                let records =
                    transition_records(image, broker_id, BrokerTransition::Fence, &unclean)
                        .unwrap_or_default();
                (records, true)
            })
            .await;
        if let Ok(true) = result {
            tracing::warn!(
                broker = broker_id,
                "broker's connection closed and it did not come back: fenced"
            );
        }
    }

    /// Elects preferred leaders where they are eligible and not leading
    /// (`auto.leader.rebalance.enable`), and unclean leaders for offline partitions of topics that
    /// allow it.
    pub async fn balance_leaders(&self) -> Result<usize, OpError> {
        self.run(move |image, config| {
            let unclean = |t: &TopicImage| unclean_allowed(config, image, t);
            let mut records = elect_unclean_leaders(image, &unclean);
            if config.cluster.lifecycle.auto_leader_rebalance {
                // planned on the image after the unclean elections
                let staged = image
                    .apply(image.offset + 1, &records)
                    .unwrap_or_else(|_| image.clone());
                records.extend(rebalance_leaders(&staged, MAX_ELECTIONS_PER_REBALANCE));
            }
            let n = records.len();
            (records, n)
        })
        .await
    }

    /// The active controller's periodic work until `stop` turns true: fencing brokers whose
    /// session expired (every 100 ms) and balancing leaders (every
    /// `leader.imbalance.check.interval.seconds`).
    pub async fn run_periodic(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let fence_every = std::time::Duration::from_millis(100);
        let balance_every = std::time::Duration::from_millis(
            self.inner
                .config
                .cluster
                .lifecycle
                .leader_imbalance_check_interval_ms,
        );
        let mut next_balance = tokio::time::Instant::now() + balance_every;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(fence_every) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            if !self.is_active() {
                // (a controller of a quorum that does not lead: the leader does this)
                next_balance = tokio::time::Instant::now() + balance_every;
                continue;
            }
            if let Err((code, message)) = self.fence_expired_brokers().await {
                tracing::warn!(?code, %message, "fencing expired brokers failed");
            }
            if tokio::time::Instant::now() >= next_balance {
                next_balance = tokio::time::Instant::now() + balance_every;
                if let Err((code, message)) = self.balance_leaders().await {
                    tracing::warn!(?code, %message, "leader balancing failed");
                }
            }
        }
    }

    /// Applies a leader's ISR change (AlterPartition), with Kafka's checks: the sender leads at
    /// the current leader epoch (FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER) with the current
    /// broker epoch (STALE_BROKER_EPOCH), from the current partition epoch
    /// (INVALID_UPDATE_VERSION); the ISR holds the leader and only active replicas
    /// (INELIGIBLE_REPLICA); RECOVERING only with the ISR `[leader]`, and never after RECOVERED.
    pub async fn alter_partition(&self, change: IsrChange) -> Result<(), ErrorCode> {
        if let Some(remote) = &self.inner.remote {
            return remote.alter_partition(change).await;
        }
        let result = self
            .run(move |image, _| match plan_isr_change(image, &change) {
                Ok(records) => (records, Ok(())),
                Err(code) => (Vec::new(), Err(code)),
            })
            .await;
        match result {
            Ok(r) => r,
            Err((code, _)) => Err(code),
        }
    }
}

/// The records of an ISR change, or why it is refused.
fn plan_isr_change(image: &MetadataImage, c: &IsrChange) -> Result<Vec<MetadataRecord>, ErrorCode> {
    let topic = image
        .topic_by_id(&c.topic_id)
        .ok_or(ErrorCode::UnknownTopicId)?;
    let p = usize::try_from(c.partition)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    match image.brokers.get(&c.broker_id) {
        Some(b) if c.broker_epoch >= 0 && b.epoch != c.broker_epoch => {
            return Err(ErrorCode::StaleBrokerEpoch)
        }
        None => return Err(ErrorCode::StaleBrokerEpoch),
        _ => {}
    }
    if c.leader_epoch < p.leader_epoch {
        return Err(ErrorCode::FencedLeaderEpoch);
    }
    if p.leader != c.broker_id || c.leader_epoch > p.leader_epoch {
        return Err(ErrorCode::NotLeaderOrFollower);
    }
    if c.partition_epoch != p.partition_epoch {
        return Err(ErrorCode::InvalidUpdateVersion);
    }
    if !c.new_isr.contains(&c.broker_id) || c.new_isr.iter().any(|b| !p.replicas.contains(b)) {
        return Err(ErrorCode::InvalidRequest);
    }
    if c.new_isr
        .iter()
        .any(|b| !p.isr.contains(b) && !is_active(image, *b))
    {
        return Err(ErrorCode::IneligibleReplica);
    }
    // (Kafka's rules: RECOVERING only with the ISR [leader]; RECOVERED never goes back)
    if c.leader_recovery == LeaderRecovery::Recovering
        && (c.new_isr.len() > 1 || p.leader_recovery == LeaderRecovery::Recovered)
    {
        return Err(ErrorCode::InvalidRequest);
    }
    let active = |b: i32| is_active(image, b);
    let record = PartitionChangeBuilder::new(topic.id, c.partition, p, &active)
        .isr(c.new_isr.clone())
        .recovery(c.leader_recovery)
        .build();
    Ok(record.into_iter().collect())
}
