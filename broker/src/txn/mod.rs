//! Idempotent producers and transactions, coordinator side.
//!
//! * [`producer_ids`]: producer ids in blocks allocated through the metadata log;
//! * [`state`]: the transaction state machine (pure);
//! * [`records`]: its records in `__transaction_state`;
//! * [`coordinator`]: the runtime that stores states, writes markers and runs timers.
//!
//! The partition side (sequence checks, open transactions, the last stable offset, the
//! aborted transaction index) lives with the log, in `crate::log`.

pub mod coordinator;
pub mod marker_sender;
pub mod producer_ids;
pub mod records;
pub mod state;

pub use coordinator::{TransactionCoordinator, TRANSACTION_TOPIC};
pub use state::{TxnMetadata, TxnState};
