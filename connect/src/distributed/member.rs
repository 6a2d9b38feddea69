//! The worker's life in the group: join (the leader computes the assignment), give up what is
//! revoked and start what is assigned, heartbeat, and react to the config topic: a changed
//! connector restarts where it runs and rewrites its task configs when they differ; committed
//! task configs restart the tasks they changed; target states pause, resume or stop; restart
//! requests restart what they name. The leader rejoins whenever the set of connectors and tasks
//! changed, so that new work is placed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tributary_client::group::{
    lost_membership, Assignor as GroupAssignor, GroupConfig, GroupError, GroupMember, Member,
};

use super::assignor::{Assignor, MemberWork};
use super::config_topic::{self, ConfigEvent, ConfigState};
use super::protocol::{Assignment, Metadata, Work, PROTOCOL};
use super::DistributedHerder;
use crate::herder::HerderError;
use crate::worker::status::{State, StatusKey};
use crate::worker::{TargetState, TaskId};

/// Every connector and task that should run, by the config topic.
pub(super) fn all_work(state: &ConfigState) -> BTreeSet<Work> {
    let mut out = BTreeSet::new();
    for name in state.connectors.keys() {
        out.insert(Work::Connector(name.clone()));
        for task in 0..state.task_configs(name).len() {
            out.insert(Work::Task(TaskId {
                connector: name.clone(),
                task: task as u32,
            }));
        }
    }
    out
}

/// The leader's side of the protocol.
struct ConnectAssignor<'a> {
    herder: &'a DistributedHerder,
    assignor: &'a Mutex<Assignor>,
    /// The work the last assignment placed.
    placed: &'a Mutex<BTreeSet<Work>>,
}

impl GroupAssignor for ConnectAssignor<'_> {
    fn name(&self) -> &str {
        PROTOCOL
    }

    fn metadata(&self) -> Bytes {
        Metadata {
            url: self.herder.url.clone(),
            config_offset: self.herder.state().offset,
            owned: self.herder.group(|g| g.owned.iter().cloned().collect()),
        }
        .encode()
    }

    fn assign(&self, members: &[GroupMember]) -> BTreeMap<String, Bytes> {
        let state = self.herder.state();
        let all = all_work(&state);
        let work: Vec<MemberWork> = members
            .iter()
            .map(|m| MemberWork {
                member_id: m.member_id.clone(),
                metadata: Metadata::decode(m.metadata.clone()).unwrap_or_else(|e| {
                    tracing::warn!(member = %m.member_id, error = %e, "a member's metadata is unreadable");
                    Metadata::default()
                }),
            })
            .collect();
        let leader = work
            .iter()
            .find(|m| m.metadata.url == self.herder.url)
            .map(|m| m.member_id.clone())
            .unwrap_or_default();
        if let Ok(mut p) = self.placed.lock() {
            p.clone_from(&all);
        }
        let (decisions, delay) = match self.assignor.lock() {
            Ok(mut a) => a.assign(
                &work,
                &all,
                self.herder.settings.max_delay,
                std::time::Instant::now(),
            ),
            Err(_) => return BTreeMap::new(),
        };
        tracing::info!(
            members = members.len(),
            work = all.len(),
            delay_ms = delay.as_millis() as u64,
            "assigned the cluster's connectors and tasks"
        );
        decisions
            .into_iter()
            .map(|(member, d)| {
                let a = Assignment {
                    error: 0,
                    leader: leader.clone(),
                    leader_url: self.herder.url.clone(),
                    config_offset: state.offset,
                    assigned: d.assigned,
                    revoked: d.revoked,
                    delay_ms: delay.as_millis().min(i32::MAX as u128) as i32,
                };
                (member, a.encode())
            })
            .collect()
    }
}

/// The member loop; returns when the herder stops.
pub(super) async fn run(
    h: Arc<DistributedHerder>,
    mut events: mpsc::UnboundedReceiver<ConfigEvent>,
    mut stopped: watch::Receiver<bool>,
) {
    let s = h.settings.clone();
    let bootstrap = h
        .worker
        .config()
        .bootstrap_servers
        .split(',')
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let mut member = Member::new(GroupConfig {
        bootstrap,
        group_id: s.group_id.clone(),
        protocol_type: "connect".to_string(),
        session_timeout: s.session_timeout,
        rebalance_timeout: s.rebalance_timeout,
        request_timeout: Duration::from_secs(30),
    });
    // what the topic said before this worker started is its starting point, not news
    while events.try_recv().is_ok() {}
    for (namespace, level) in h.state().loggers {
        if let Err(e) = h.worker.loggers().set(&namespace, &level) {
            tracing::warn!(%namespace, error = %e, "a cluster log level cannot be applied");
        }
    }
    let assignor = Mutex::new(Assignor::default());
    let placed = Mutex::new(BTreeSet::new());
    // the leader joins again whenever the work differs from what its last assignment placed
    let unplaced = |h: &DistributedHerder| match placed.lock() {
        Ok(p) => all_work(&h.state()) != *p,
        Err(_) => false,
    };
    'join: loop {
        if *stopped.borrow() {
            break;
        }
        h.group(|g| g.rebalancing = true);
        if let Err(e) = h.config_log.read_to_end().await {
            tracing::warn!(error = %e, "cannot read the config topic");
        }
        let connect_assignor = ConnectAssignor {
            herder: &h,
            assignor: &assignor,
            placed: &placed,
        };
        let joined = tokio::select! {
            j = member.join(&connect_assignor) => j,
            _ = stopped.changed() => break,
        };
        let joined = match joined {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, group = %s.group_id, "cannot join the group; trying again");
                member.disconnect();
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        h.set_generation(joined.generation);
        let assignment = match Assignment::decode(joined.assignment.clone()) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "the assignment is unreadable; joining again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !joined.leader {
            // a later leadership starts from what the members report
            if let Ok(mut a) = assignor.lock() {
                *a = Assignor::default();
            }
        }
        h.group(|g| {
            g.leader = joined.leader;
            g.leader_url = Some(assignment.leader_url.clone());
        });
        tracing::info!(
            generation = joined.generation,
            leader = joined.leader,
            assigned = assignment.assigned.len(),
            revoked = assignment.revoked.len(),
            "joined the Connect group"
        );
        if let Err(e) = h.config_log.read_to_end().await {
            tracing::warn!(error = %e, "cannot read the config topic");
        }
        revoke(&h, &assignment.revoked).await;
        start(&h, &assignment.assigned).await;
        h.group(|g| g.rebalancing = false);
        if joined.leader && unplaced(&h) {
            continue;
        }
        // a worker that gave work up joins again at once, so that it is placed; held-back
        // work is placed after the delay
        let rejoin_at = if !assignment.revoked.is_empty() {
            Some(Instant::now())
        } else if assignment.delay_ms > 0 {
            Some(Instant::now() + Duration::from_millis(assignment.delay_ms as u64))
        } else {
            None
        };
        let mut beat = tokio::time::interval(s.heartbeat_interval);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        loop {
            let rejoin = async {
                match rejoin_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped.changed() => break 'join,
                _ = rejoin => continue 'join,
                _ = beat.tick() => match member.heartbeat().await {
                    Ok(()) => {}
                    Err(GroupError::Rejoin(e)) => {
                        if lost_membership(e) {
                            // its work may run elsewhere by now
                            let owned: Vec<Work> = h.group(|g| g.owned.iter().cloned().collect());
                            revoke(&h, &owned).await;
                        }
                        continue 'join;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                },
                Some(event) = events.recv() => {
                    handle(&h, event).await;
                    // the records of one request come together: take them all before the
                    // leader rebalances (a stop is a task commit and then a target state)
                    while let Ok(Some(event)) =
                        tokio::time::timeout(Duration::from_millis(100), events.recv()).await
                    {
                        handle(&h, event).await;
                    }
                    if joined.leader && unplaced(&h) {
                        continue 'join;
                    }
                }
            }
        }
    }
    if let Err(e) = member.leave().await {
        tracing::warn!(error = %e, "cannot leave the group");
    }
}

fn owns(h: &DistributedHerder, work: &Work) -> bool {
    h.group(|g| g.owned.contains(work))
}

fn owned_tasks(h: &DistributedHerder, connector: &str) -> Vec<TaskId> {
    h.group(|g| {
        g.owned
            .iter()
            .filter_map(|w| match w {
                Work::Task(t) if t.connector == connector => Some(t.clone()),
                _ => None,
            })
            .collect()
    })
}

async fn revoke(h: &DistributedHerder, revoked: &[Work]) {
    for w in revoked {
        match w {
            Work::Connector(name) => h.worker.stop_connector_alone(name).await,
            Work::Task(id) => h.worker.stop_task(id).await,
        }
        h.group(|g| g.owned.remove(w));
    }
}

async fn start(h: &DistributedHerder, assigned: &[Work]) {
    if assigned.iter().any(|w| matches!(w, Work::Task(_))) {
        // a task that moved resumes from the offsets committed elsewhere
        let t0 = std::time::Instant::now();
        if let Err(e) = h.offset_log.read_to_end().await {
            tracing::warn!(error = %e, "cannot read the offsets topic");
        }
        tracing::debug!(
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "read the offsets topic to its end"
        );
    }
    for w in assigned {
        h.group(|g| g.owned.insert(w.clone()));
        match w {
            Work::Connector(name) => {
                if let Err(e) = restart_connector(h, name).await {
                    tracing::error!(connector = %name, error = %e, "cannot start the connector");
                }
            }
            Work::Task(id) => start_task(h, id).await,
        }
    }
}

async fn start_task(h: &DistributedHerder, id: &TaskId) {
    let state = h.state();
    let (Some(connector_config), Some(task_config)) = (
        state.connectors.get(&id.connector),
        state.task_configs(&id.connector).get(id.task as usize),
    ) else {
        return;
    };
    if let Err(e) = h
        .worker
        .start_task(
            id.clone(),
            task_config.clone(),
            connector_config.clone(),
            state.target(&id.connector),
        )
        .await
    {
        tracing::error!(task = %id, error = %e, "cannot start the task");
    }
}

/// (Re)starts a connector this worker owns in its target state, and when it runs, writes its
/// task configs if they changed.
pub(super) async fn restart_connector(
    h: &DistributedHerder,
    name: &str,
) -> Result<(), HerderError> {
    let state = h.state();
    let Some(config) = state.connectors.get(name) else {
        return Err(HerderError::NotFound(name.to_string()));
    };
    let target = state.target(name);
    h.worker.start_connector_alone(name, config, target).await?;
    if target == TargetState::Started {
        reconfigure(h, name).await?;
    }
    Ok(())
}

/// Writes a running connector's task configs and their commit when they differ from the
/// committed ones.
async fn reconfigure(h: &DistributedHerder, name: &str) -> Result<(), HerderError> {
    let Some(configs) = h.worker.generate_task_configs(name).await else {
        return Ok(());
    };
    if configs.as_slice() == h.state().task_configs(name) {
        return Ok(());
    }
    for (i, c) in configs.iter().enumerate() {
        let v = config_topic::properties_value(c);
        h.write_config(&format!("task-{name}-{i}"), Some(&v))
            .await?;
    }
    h.write_config(
        &format!("commit-{name}"),
        Some(&config_topic::commit_value(configs.len())),
    )
    .await
}

fn failed(h: &DistributedHerder, key: &StatusKey) -> bool {
    h.stored(key)
        .is_some_and(|s| s.status.state == State::Failed)
}

/// Reacts to one change of the config topic.
async fn handle(h: &DistributedHerder, event: ConfigEvent) {
    let state = h.state();
    match event {
        ConfigEvent::Connector(name) => {
            if owns(h, &Work::Connector(name.clone())) {
                if let Err(e) = restart_connector(h, &name).await {
                    tracing::error!(connector = %name, error = %e, "cannot restart the connector with its new config");
                }
            }
        }
        ConfigEvent::Removed(name) => {
            let work = Work::Connector(name.clone());
            if owns(h, &work) {
                h.worker.stop_connector_alone(&name).await;
                h.status_writer.remove(&StatusKey::Connector(name.clone()));
                h.status_writer.remove_topics(&name);
                h.worker.reset_active_topics(&name);
                h.group(|g| g.owned.remove(&work));
            }
            for id in owned_tasks(h, &name) {
                h.worker.stop_task(&id).await;
                h.status_writer.remove(&StatusKey::Task(id.clone()));
                h.group(|g| g.owned.remove(&Work::Task(id)));
            }
        }
        ConfigEvent::Target(name) => {
            let target = state.target(&name);
            if owns(h, &Work::Connector(name.clone())) {
                let running =
                    h.worker.status(&name).await.is_some_and(|s| {
                        matches!(s.connector.state, State::Running | State::Paused)
                    });
                match target {
                    TargetState::Paused if running => h.worker.set_paused(&name, true).await,
                    TargetState::Started if running => h.worker.set_paused(&name, false).await,
                    _ => {
                        if let Err(e) = restart_connector(h, &name).await {
                            tracing::error!(connector = %name, error = %e, "cannot change the connector's state");
                        }
                        // its tasks here follow the target too
                        match target {
                            TargetState::Paused => h.worker.set_paused(&name, true).await,
                            TargetState::Started => h.worker.set_paused(&name, false).await,
                            TargetState::Stopped => {}
                        }
                    }
                }
            } else {
                match target {
                    TargetState::Paused => h.worker.set_paused(&name, true).await,
                    TargetState::Started => h.worker.set_paused(&name, false).await,
                    TargetState::Stopped => {}
                }
            }
        }
        ConfigEvent::Tasks(name) => {
            let configs = state.task_configs(&name);
            for id in owned_tasks(h, &name) {
                match configs.get(id.task as usize) {
                    None => {
                        h.worker.stop_task(&id).await;
                        h.status_writer.remove(&StatusKey::Task(id.clone()));
                        h.group(|g| g.owned.remove(&Work::Task(id)));
                    }
                    Some(c) => {
                        if h.worker.task_config(&id).await.as_ref() != Some(c) {
                            start_task(h, &id).await;
                        }
                    }
                }
            }
        }
        ConfigEvent::Logger { namespace, level } => {
            match h.worker.loggers().set(&namespace, &level) {
                Ok(changed) => {
                    tracing::info!(%namespace, %level, changed = changed.len(), "applied a cluster log level")
                }
                Err(e) => {
                    tracing::warn!(%namespace, error = %e, "a cluster log level cannot be applied")
                }
            }
        }
        ConfigEvent::Restart {
            connector,
            include_tasks,
            only_failed,
        } => {
            let key = StatusKey::Connector(connector.clone());
            if owns(h, &Work::Connector(connector.clone())) && (!only_failed || failed(h, &key)) {
                if let Err(e) = restart_connector(h, &connector).await {
                    tracing::error!(connector = %connector, error = %e, "cannot restart the connector");
                }
            }
            if include_tasks {
                for id in owned_tasks(h, &connector) {
                    if !only_failed || failed(h, &StatusKey::Task(id.clone())) {
                        h.worker.restart_task(&id.connector, id.task).await;
                    }
                }
            }
        }
    }
}
