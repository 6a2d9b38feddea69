//! The states of connectors and tasks as Kafka Connect reports them (`/status`, the status
//! topic): `UNASSIGNED`, `RUNNING`, `PAUSED`, `FAILED`, `RESTARTING`, `STOPPED`, with the
//! worker that runs them and, for a failure, its trace.

use std::sync::{Arc, Mutex};

/// A connector's or task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not assigned to a worker (yet).
    Unassigned,
    /// Running.
    Running,
    /// Paused: running but not moving records.
    Paused,
    /// Failed; see the trace.
    Failed,
    /// Being restarted.
    Restarting,
    /// Stopped: its tasks are shut down (KIP-875).
    Stopped,
}

impl State {
    /// The name the REST API writes.
    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
            State::Stopped => "STOPPED",
        }
    }
}

/// The state of one connector or task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub state: State,
    /// The worker running it (`host:port`).
    pub worker_id: String,
    /// For a failure: what went wrong, as a Java-style trace.
    pub trace: Option<String>,
}

/// What a status is about: a connector or one of its tasks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKey {
    /// A connector.
    Connector(String),
    /// A task.
    Task(super::TaskId),
}

/// Told of every status change and of each topic a connector starts to use (the distributed
/// herder writes them to the status topic).
pub trait StatusListener: Send + Sync {
    /// A connector or task changed state; `version` is its plugin's version, when it is running.
    fn on_status(&self, key: &StatusKey, status: &Status, version: Option<&str>);
    /// A task of `connector` used `topic` for the first time.
    fn on_topic(&self, connector: &str, task: u32, topic: &str);
}

struct Reporter {
    key: StatusKey,
    version: Option<&'static str>,
    listener: Arc<dyn StatusListener>,
}

/// A status shared between a running task and the worker that reports it.
#[derive(Clone)]
pub struct StatusCell {
    status: Arc<Mutex<Status>>,
    reporter: Option<Arc<Reporter>>,
}

impl std::fmt::Debug for StatusCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl StatusCell {
    /// A new status.
    pub fn new(state: State, worker_id: &str) -> StatusCell {
        StatusCell {
            status: Arc::new(Mutex::new(Status {
                state,
                worker_id: worker_id.to_string(),
                trace: None,
            })),
            reporter: None,
        }
    }

    /// A new status whose changes `listener` hears of (from the first one).
    pub fn reported(
        state: State,
        worker_id: &str,
        key: StatusKey,
        version: Option<&'static str>,
        listener: Option<Arc<dyn StatusListener>>,
    ) -> StatusCell {
        let mut cell = StatusCell::new(state, worker_id);
        cell.reporter = listener.map(|listener| {
            Arc::new(Reporter {
                key,
                version,
                listener,
            })
        });
        cell
    }

    /// The current status.
    pub fn get(&self) -> Status {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Status)) {
        let now = match self.status.lock() {
            Ok(mut s) => {
                change(&mut s);
                s.clone()
            }
            Err(_) => return,
        };
        if let Some(r) = &self.reporter {
            // as Kafka Connect: no version while a connector or task is not running
            let version = match now.state {
                State::Unassigned | State::Restarting => None,
                _ => r.version,
            };
            r.listener.on_status(&r.key, &now, version);
        }
    }

    /// Sets the state (clearing any trace).
    pub fn set(&self, state: State) {
        self.update(|s| {
            s.state = state;
            s.trace = None;
        });
    }

    /// Marks a failure with its trace.
    pub fn fail(&self, class: &str, message: &str) {
        self.update(|s| {
            s.state = State::Failed;
            s.trace = Some(format!("{class}: {message}\n"));
        });
    }
}
