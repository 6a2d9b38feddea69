//! The standalone herder: one worker that runs the connectors given on its command line and
//! through the REST API, keeping their configs in memory and their source offsets in
//! `offset.storage.file.filename` (Kafka Connect's standalone mode).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::config::{Config, ConfigExt};
use futures::future::BoxFuture;

use crate::herder::{require_stopped, validate, ConnectorInfo, Herder, HerderError, Offsets};
use crate::worker::{ConnectorStatus, TargetState, Worker};

struct Entry {
    config: Config,
    target: TargetState,
}

/// The standalone herder.
pub struct StandaloneHerder {
    worker: Arc<Worker>,
    connectors: Mutex<BTreeMap<String, Entry>>,
}

impl StandaloneHerder {
    /// A herder for a worker.
    pub fn new(worker: Arc<Worker>) -> StandaloneHerder {
        StandaloneHerder {
            worker,
            connectors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The worker.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// The target state of a connector.
    pub async fn target(&self, name: &str) -> Result<TargetState, HerderError> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|e| e.target)
            .ok_or_else(|| HerderError::NotFound(name.to_string()))
    }

    /// Stops everything.
    pub async fn stop(&self) {
        self.worker.stop_all().await;
    }
}

impl Herder for StandaloneHerder {
    fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    fn put_connector<'a>(
        &'a self,
        name: &'a str,
        mut config: Config,
        allow_replace: bool,
        initial: TargetState,
    ) -> BoxFuture<'a, Result<(bool, ConnectorInfo), HerderError>> {
        Box::pin(async move {
            config.insert("name".into(), name.to_string());
            let kind = validate(self, &config)?;
            let mut connectors = self.connectors.lock().await;
            let existing = connectors.get(name).map(|e| e.target);
            if existing.is_some() && !allow_replace {
                return Err(HerderError::AlreadyExists(name.to_string()));
            }
            let target = existing.unwrap_or(initial);
            // as Kafka Connect, a connector that is not running gets no task configs (yet)
            self.worker
                .start_connector_with(name, &config, target, target == TargetState::Started)
                .await?;
            connectors.insert(
                name.to_string(),
                Entry {
                    config: config.clone(),
                    target,
                },
            );
            drop(connectors);
            // as Kafka's standalone herder: the connector is kept, but the request fails
            let failed = self
                .worker
                .status(name)
                .await
                .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
            if failed {
                return Err(HerderError::Internal(format!(
                    "Failed to transition connector {name} to state STARTED"
                )));
            }
            let tasks = self.worker.task_configs(name).await.map_or(0, |t| t.len());
            Ok((
                existing.is_none(),
                ConnectorInfo {
                    name: name.to_string(),
                    config,
                    tasks,
                    kind: Some(kind),
                },
            ))
        })
    }

    fn connectors(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.connectors.lock().await.keys().cloned().collect() })
    }

    fn config<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Config, HerderError>> {
        Box::pin(async move {
            self.connectors
                .lock()
                .await
                .get(name)
                .map(|e| e.config.clone())
                .ok_or_else(|| HerderError::NotFound(name.to_string()))
        })
    }

    fn info<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorInfo, HerderError>> {
        Box::pin(async move {
            let config = self.config(name).await?;
            let kind = config
                .string_opt("connector.class")
                .and_then(|c| self.worker.plugins().connector(&c).map(|p| p.kind));
            let tasks = self.worker.task_configs(name).await.map_or(0, |t| t.len());
            Ok(ConnectorInfo {
                name: name.to_string(),
                config,
                tasks,
                kind,
            })
        })
    }

    fn task_configs<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Config>, HerderError>> {
        Box::pin(async move {
            self.config(name).await?;
            Ok(self.worker.task_configs(name).await.unwrap_or_default())
        })
    }

    fn status<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ConnectorStatus, HerderError>> {
        Box::pin(async move {
            self.config(name).await?;
            self.worker
                .status(name)
                .await
                .ok_or_else(|| HerderError::NotFound(name.to_string()))
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let removed = self.connectors.lock().await.remove(name);
            if removed.is_none() {
                return Err(HerderError::NotFound(name.to_string()));
            }
            self.worker.stop_connector(name).await;
            self.worker.reset_active_topics(name);
            Ok(())
        })
    }

    fn set_target<'a>(
        &'a self,
        name: &'a str,
        target: TargetState,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let mut connectors = self.connectors.lock().await;
            let entry = connectors
                .get_mut(name)
                .ok_or_else(|| HerderError::NotFound(name.to_string()))?;
            let before = entry.target;
            entry.target = target;
            let config = entry.config.clone();
            drop(connectors);
            match (before, target) {
                (TargetState::Stopped, t) if t != TargetState::Stopped => {
                    self.worker
                        .start_connector_with(name, &config, t, t == TargetState::Started)
                        .await?;
                }
                (_, TargetState::Stopped) => {
                    self.worker
                        .start_connector(name, &config, TargetState::Stopped)
                        .await?;
                }
                (_, TargetState::Paused) => self.worker.set_paused(name, true).await,
                (_, TargetState::Started) => self.worker.set_paused(name, false).await,
            }
            Ok(())
        })
    }

    fn restart<'a>(
        &'a self,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let config = self.config(name).await?;
            let target = self.target(name).await?;
            let status = self.worker.status(name).await;
            let connector_failed = status
                .as_ref()
                .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
            if !include_tasks {
                if !only_failed || connector_failed {
                    self.worker.start_connector(name, &config, target).await?;
                }
                // a plain restart waits for the connector, as Kafka's standalone herder does
                let failed = self
                    .worker
                    .status(name)
                    .await
                    .is_some_and(|s| s.connector.state == crate::worker::status::State::Failed);
                if failed && !only_failed {
                    return Err(HerderError::Internal(format!(
                        "Failed to transition connector {name} to state STARTED"
                    )));
                }
                return Ok(());
            }
            if !only_failed || connector_failed {
                self.worker.start_connector(name, &config, target).await?;
                return Ok(());
            }
            if let Some(status) = status {
                for (id, s) in status.tasks {
                    if s.state == crate::worker::status::State::Failed {
                        self.worker.restart_task(name, id).await;
                    }
                }
            }
            Ok(())
        })
    }

    fn restart_task<'a>(
        &'a self,
        name: &'a str,
        task: u32,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            self.config(name).await?;
            if self.worker.restart_task(name, task).await {
                Ok(())
            } else {
                Err(HerderError::TaskNotFound(format!(
                    "Unknown task: {name}-{task}"
                )))
            }
        })
    }

    fn offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Offsets, HerderError>> {
        Box::pin(async move {
            let config = self.config(name).await?;
            Ok(self.worker.connector_offsets(name, &config).await?)
        })
    }

    fn alter_offsets<'a>(
        &'a self,
        name: &'a str,
        offsets: Offsets,
    ) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let config = self.config(name).await?;
            require_stopped(name, self.target(name).await?)?;
            Ok(self.worker.alter_offsets(name, &config, offsets).await?)
        })
    }

    fn reset_offsets<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), HerderError>> {
        Box::pin(async move {
            let config = self.config(name).await?;
            require_stopped(name, self.target(name).await?)?;
            Ok(self.worker.reset_offsets(name, &config).await?)
        })
    }

    fn active_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move { self.worker.active_topics(name) })
    }

    fn reset_topics<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.worker.reset_active_topics(name) })
    }
}
