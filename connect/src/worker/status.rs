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

/// A status shared between a running task and the worker that reports it.
#[derive(Clone, Debug)]
pub struct StatusCell(Arc<Mutex<Status>>);

impl StatusCell {
    /// A new status.
    pub fn new(state: State, worker_id: &str) -> StatusCell {
        StatusCell(Arc::new(Mutex::new(Status {
            state,
            worker_id: worker_id.to_string(),
            trace: None,
        })))
    }

    /// The current status.
    pub fn get(&self) -> Status {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Sets the state (clearing any trace).
    pub fn set(&self, state: State) {
        if let Ok(mut s) = self.0.lock() {
            s.state = state;
            s.trace = None;
        }
    }

    /// Marks a failure with its trace.
    pub fn fail(&self, class: &str, message: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.state = State::Failed;
            s.trace = Some(format!("{class}: {message}\n"));
        }
    }
}
