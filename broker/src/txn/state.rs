//! The transaction state machine: one transactional id's metadata and every transition
//! Kafka's `TransactionCoordinator` allows, as pure functions. The coordinator runtime
//! ([`super::coordinator`]) writes each new state to `__transaction_state` before it applies
//! it, and does the I/O (markers, timers) around these functions.
//!
//! ```text
//!   Empty ──AddPartitions──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──markers──▶ CompleteCommit
//!     ▲                        │  │                                                      │
//!     │                        │  └─EndTxn(abort)──▶ PrepareAbort ──markers──▶ CompleteAbort
//!     │                        │                        ▲                              │
//!     │                        └─InitProducerId/timeout─▶ PrepareEpochFence (epoch+1)  │
//!     └──────────────── InitProducerId (epoch+1) ◀────────────────────────────────────┘
//! ```

use std::collections::BTreeSet;

use crate::error::ErrorCode;

/// Where a transaction stands (Kafka's `TransactionState`, with its ids for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction open.
    Empty,
    /// Partitions were added; data may be written.
    Ongoing,
    /// Commit decided and logged; markers are being written.
    PrepareCommit,
    /// Abort decided and logged; markers are being written.
    PrepareAbort,
    /// Every partition has its COMMIT marker.
    CompleteCommit,
    /// Every partition has its ABORT marker.
    CompleteAbort,
    /// The transactional id expired and is being removed.
    Dead,
    /// A newer producer (or the timeout) fences the open transaction before aborting it.
    PrepareEpochFence,
}

impl TxnState {
    /// The id stored in `__transaction_state`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state with a stored id.
    pub fn from_id(id: i8) -> Option<TxnState> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name DescribeTransactions and ListTransactions report.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state with a reported name (ListTransactions filters), case-sensitive as Kafka.
    pub fn from_name(name: &str) -> Option<TxnState> {
        (0..=7)
            .filter_map(TxnState::from_id)
            .find(|s| s.name() == name)
    }

    /// The states this one may follow (Kafka's `validPreviousStates`).
    fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether a transaction in this state is finished (markers written or none needed).
    pub fn is_complete(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// No producer id / epoch.
pub const NO_PRODUCER_ID: i64 = -1;
/// No producer epoch.
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Whether `epoch` leaves no room for another bump (Kafka's `isEpochExhausted`).
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// One transactional id's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// `transactional.id`.
    pub transactional_id: String,
    /// Current producer id.
    pub producer_id: i64,
    /// The producer id before the last rotation (epoch exhaustion), or -1.
    pub previous_producer_id: i64,
    /// Current epoch.
    pub producer_epoch: i16,
    /// The epoch before the last bump, for retried InitProducerId calls (KIP-360), or -1.
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms` the producer asked for.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions of the open (or finishing) transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// When the open transaction started, or -1.
    pub start_ms: i64,
    /// Last change.
    pub last_update_ms: i64,
    /// An epoch fence whose log write failed: the next fence reuses the bumped epoch.
    pub failed_epoch_fence: bool,
}

/// What InitProducerId leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// Write this (state Empty) and answer its producer id and epoch.
    Ready(TxnMetadata),
    /// An open transaction was fenced: write this (PrepareAbort at the bumped epoch), abort it,
    /// and answer `CONCURRENT_TRANSACTIONS` so that the producer retries.
    FenceAndAbort(TxnMetadata),
}

/// What EndTxn leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    /// Already done (a retry): answer success, write nothing.
    AlreadyDone,
    /// Write this (PrepareCommit or PrepareAbort), answer, then write the markers.
    Prepare(TxnMetadata),
}

impl TxnMetadata {
    /// A new transactional id: producer id `producer_id`, no epoch yet, Empty.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            failed_epoch_fence: false,
        }
    }

    /// The same metadata in `state`, checked against the allowed transitions.
    fn transition(&self, state: TxnState) -> Result<TxnMetadata, ErrorCode> {
        if !state.valid_previous().contains(&self.state) {
            tracing::error!(
                transactional_id = %self.transactional_id,
                from = self.state.name(),
                to = state.name(),
                "illegal transaction state transition"
            );
            return Err(ErrorCode::InvalidTxnState);
        }
        let mut next = self.clone();
        next.state = state;
        Ok(next)
    }

    /// InitProducerId for this transactional id (Kafka's `prepareInitProducerIdTransit`).
    /// `expected` is the producer id and epoch the client already has (KIP-360, v3+);
    /// `fresh_producer_id` is used when the epoch is exhausted.
    pub fn init(
        &self,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        fresh_producer_id: i64,
        now_ms: i64,
    ) -> Result<InitOutcome, ErrorCode> {
        if let Some((pid, epoch)) = expected {
            let valid = self.producer_epoch == NO_PRODUCER_EPOCH
                || pid == self.producer_id
                || (pid == self.previous_producer_id && epoch_exhausted(epoch));
            if !valid {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        match self.state {
            TxnState::PrepareAbort | TxnState::PrepareCommit => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Empty | TxnState::CompleteAbort | TxnState::CompleteCommit => {
                let mut next = self.transition(TxnState::Empty)?;
                if epoch_exhausted(self.producer_epoch)
                    && expected.is_none_or(|(_, e)| e == self.producer_epoch)
                {
                    // a new producer id, remembering the old one for a retried call
                    next.previous_producer_id = if expected.is_some() {
                        self.producer_id
                    } else {
                        NO_PRODUCER_ID
                    };
                    next.producer_id = fresh_producer_id;
                    next.producer_epoch = 0;
                    next.last_producer_epoch = if expected.is_some() {
                        self.producer_epoch
                    } else {
                        NO_PRODUCER_EPOCH
                    };
                } else {
                    let bumped = self.producer_epoch.saturating_add(1);
                    let (epoch, last) = match expected {
                        None => (bumped, NO_PRODUCER_EPOCH),
                        Some((_, e))
                            if self.producer_epoch == NO_PRODUCER_EPOCH
                                || e == self.producer_epoch =>
                        {
                            (bumped, self.producer_epoch)
                        }
                        // a retry of a bump whose answer was lost
                        Some((_, e)) if e == self.last_producer_epoch => {
                            (self.producer_epoch, self.last_producer_epoch)
                        }
                        Some(_) => return Err(ErrorCode::ProducerFenced),
                    };
                    next.producer_epoch = epoch;
                    next.last_producer_epoch = last;
                }
                next.timeout_ms = timeout_ms;
                next.partitions.clear();
                next.start_ms = -1;
                next.last_update_ms = now_ms;
                next.failed_epoch_fence = false;
                Ok(InitOutcome::Ready(next))
            }
            TxnState::Ongoing => {
                let fenced = self.fence_epoch()?;
                let pid = fenced.producer_id;
                let epoch = fenced.producer_epoch;
                match fenced.end(pid, epoch, false, false, now_ms)? {
                    EndOutcome::Prepare(abort) => Ok(InitOutcome::FenceAndAbort(abort)),
                    EndOutcome::AlreadyDone => Err(ErrorCode::ConcurrentTransactions),
                }
            }
            TxnState::Dead | TxnState::PrepareEpochFence => Err(ErrorCode::ConcurrentTransactions),
        }
    }

    /// Fences the producer of the open transaction: PrepareEpochFence at epoch + 1 (not
    /// written to the log; the abort that follows is). After a fence whose write failed the
    /// epoch in memory is already the bumped one ([`TxnMetadata::fence_failed`]) and is reused.
    pub fn fence_epoch(&self) -> Result<TxnMetadata, ErrorCode> {
        if self.producer_epoch == i16::MAX && !self.failed_epoch_fence {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        let mut next = self.transition(TxnState::PrepareEpochFence)?;
        if !self.failed_epoch_fence {
            next.producer_epoch = self.producer_epoch + 1;
        }
        next.last_producer_epoch = NO_PRODUCER_EPOCH;
        next.failed_epoch_fence = false;
        Ok(next)
    }

    /// The write of a fence (the abort at `fenced_epoch`) failed: as in Kafka the open
    /// transaction stays as it was, but with the bumped epoch in memory, so the fenced producer
    /// stays fenced, and the next fence attempt reuses that epoch instead of bumping again.
    pub fn fence_failed(&mut self, fenced_epoch: i16) {
        self.producer_epoch = fenced_epoch;
        self.last_producer_epoch = NO_PRODUCER_EPOCH;
        self.failed_epoch_fence = true;
    }

    /// Checks the producer id and epoch of a client request against this transaction.
    fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
        if producer_id != self.producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if epoch != self.producer_epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        Ok(())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: `None` when the partitions are already in the
    /// open transaction (nothing to write).
    pub fn add_partitions(
        &self,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, ErrorCode> {
        self.check_producer(producer_id, epoch)?;
        match self.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Ongoing if partitions.iter().all(|p| self.partitions.contains(p)) => {
                return Ok(None)
            }
            _ => {}
        }
        let mut next = self.transition(TxnState::Ongoing)?;
        if self.state != TxnState::Ongoing {
            next.start_ms = now_ms;
        }
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now_ms;
        Ok(Some(next))
    }

    /// EndTxn (`from_client`) or an abort decided by the coordinator (fencing, timeout), as
    /// Kafka's `endTransaction` decides it.
    pub fn end(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        from_client: bool,
        now_ms: i64,
    ) -> Result<EndOutcome, ErrorCode> {
        if producer_id != self.producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if (from_client && epoch != self.producer_epoch) || epoch < self.producer_epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        let invalid = Err(ErrorCode::InvalidTxnState);
        match (self.state, commit) {
            (TxnState::Ongoing, _) => {}
            (TxnState::PrepareEpochFence, false) if !from_client => {}
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                return Ok(EndOutcome::AlreadyDone)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                return Err(ErrorCode::ConcurrentTransactions)
            }
            _ => return invalid,
        }
        let target = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        let mut next = self.transition(target)?;
        next.producer_epoch = epoch;
        next.last_update_ms = now_ms;
        Ok(EndOutcome::Prepare(next))
    }

    /// After every marker is written: CompleteCommit or CompleteAbort, no partitions.
    pub fn complete(&self, now_ms: i64) -> Result<TxnMetadata, ErrorCode> {
        let target = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return Err(ErrorCode::InvalidTxnState),
        };
        let mut next = self.transition(target)?;
        next.partitions.clear();
        next.last_update_ms = now_ms;
        Ok(next)
    }

    /// Whether the open transaction ran past its timeout.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms.saturating_add(i64::from(self.timeout_ms)) < now_ms
    }

    /// Whether an idle transactional id is due for removal (`transactional.id.expiration.ms`).
    pub fn expired(&self, now_ms: i64, expiration_ms: i64) -> bool {
        self.state.is_complete() && self.last_update_ms.saturating_add(expiration_ms) <= now_ms
    }

    /// Dead: written as a tombstone.
    pub fn dead(&self) -> Result<TxnMetadata, ErrorCode> {
        self.transition(TxnState::Dead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(o: Result<InitOutcome, ErrorCode>) -> TxnMetadata {
        match o {
            Ok(InitOutcome::Ready(m)) => m,
            other => panic!("expected Ready, got {other:?}"),
        }
    }

    fn prepared(o: Result<EndOutcome, ErrorCode>) -> TxnMetadata {
        match o {
            Ok(EndOutcome::Prepare(m)) => m,
            other => panic!("expected Prepare, got {other:?}"),
        }
    }

    fn parts(ps: &[(&str, i32)]) -> Vec<(String, i32)> {
        ps.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    /// A transactional id initialised once: producer 10, epoch 0, Empty.
    fn started() -> TxnMetadata {
        ready(TxnMetadata::new("t", 10, 60_000, 0).init(60_000, None, 99, 1))
    }

    #[test]
    fn state_ids_and_names_round_trip() {
        for id in 0..=7 {
            let s = TxnState::from_id(id).unwrap();
            assert_eq!(s.id(), id);
            assert_eq!(TxnState::from_name(s.name()), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_name("ongoing"), None);
    }

    #[test]
    fn a_new_id_starts_at_epoch_zero_and_each_init_bumps_it() {
        let m = started();
        assert_eq!(
            (m.producer_id, m.producer_epoch, m.state),
            (10, 0, TxnState::Empty)
        );
        let again = ready(m.init(30_000, None, 99, 2));
        assert_eq!((again.producer_id, again.producer_epoch), (10, 1));
        assert_eq!(again.timeout_ms, 30_000);
    }

    #[test]
    fn commit_goes_through_prepare_and_complete() {
        let m = started();
        let on = m
            .add_partitions(10, 0, &parts(&[("a", 0), ("b", 1)]), 5)
            .unwrap()
            .unwrap();
        assert_eq!(on.state, TxnState::Ongoing);
        assert_eq!(on.start_ms, 5);
        // adding what is already there writes nothing
        assert_eq!(on.add_partitions(10, 0, &parts(&[("a", 0)]), 6), Ok(None));
        let more = on
            .add_partitions(10, 0, &parts(&[("c", 0)]), 7)
            .unwrap()
            .unwrap();
        assert_eq!(more.partitions.len(), 3);
        assert_eq!(more.start_ms, 5, "the transaction keeps its start");
        let prep = prepared(more.end(10, 0, true, true, 8));
        assert_eq!(prep.state, TxnState::PrepareCommit);
        // while markers are written: the same EndTxn again, and new partitions, must wait
        assert_eq!(
            prep.end(10, 0, true, true, 9),
            Err(ErrorCode::ConcurrentTransactions)
        );
        assert_eq!(
            prep.end(10, 0, false, true, 9),
            Err(ErrorCode::InvalidTxnState)
        );
        assert_eq!(
            prep.add_partitions(10, 0, &parts(&[("d", 0)]), 9),
            Err(ErrorCode::ConcurrentTransactions)
        );
        assert_eq!(
            prep.init(60_000, None, 99, 9),
            Err(ErrorCode::ConcurrentTransactions)
        );
        let done = prep.complete(10).unwrap();
        assert_eq!(done.state, TxnState::CompleteCommit);
        assert!(done.partitions.is_empty());
        assert_eq!(done.end(10, 0, true, true, 11), Ok(EndOutcome::AlreadyDone));
        assert_eq!(
            done.end(10, 0, false, true, 11),
            Err(ErrorCode::InvalidTxnState)
        );
        // the next transaction starts from CompleteCommit
        let next = done
            .add_partitions(10, 0, &parts(&[("a", 0)]), 12)
            .unwrap()
            .unwrap();
        assert_eq!((next.state, next.start_ms), (TxnState::Ongoing, 12));
    }

    #[test]
    fn abort_goes_through_prepare_and_complete() {
        let on = started()
            .add_partitions(10, 0, &parts(&[("a", 0)]), 5)
            .unwrap()
            .unwrap();
        let prep = prepared(on.end(10, 0, false, true, 6));
        assert_eq!(prep.state, TxnState::PrepareAbort);
        assert_eq!(
            prep.end(10, 0, false, true, 7),
            Err(ErrorCode::ConcurrentTransactions)
        );
        let done = prep.complete(8).unwrap();
        assert_eq!(done.state, TxnState::CompleteAbort);
        assert_eq!(done.end(10, 0, false, true, 9), Ok(EndOutcome::AlreadyDone));
        assert_eq!(
            done.end(10, 0, true, true, 9),
            Err(ErrorCode::InvalidTxnState)
        );
    }

    #[test]
    fn end_without_a_transaction_is_invalid() {
        let m = started();
        assert_eq!(m.end(10, 0, true, true, 5), Err(ErrorCode::InvalidTxnState));
        assert_eq!(
            m.end(10, 0, false, true, 5),
            Err(ErrorCode::InvalidTxnState)
        );
        assert_eq!(m.complete(5), Err(ErrorCode::InvalidTxnState));
    }

    #[test]
    fn wrong_producer_ids_and_epochs_are_refused() {
        let on = started()
            .add_partitions(10, 0, &parts(&[("a", 0)]), 5)
            .unwrap()
            .unwrap();
        assert_eq!(
            on.add_partitions(11, 0, &parts(&[("a", 0)]), 6),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(
            on.add_partitions(10, 1, &parts(&[("a", 0)]), 6),
            Err(ErrorCode::ProducerFenced)
        );
        assert_eq!(
            on.end(11, 0, true, true, 6),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(on.end(10, 1, true, true, 6), Err(ErrorCode::ProducerFenced));
        assert_eq!(
            on.end(10, -1, true, true, 6),
            Err(ErrorCode::ProducerFenced)
        );
    }

    #[test]
    fn a_new_producer_fences_the_open_transaction_and_aborts_it() {
        let on = started()
            .add_partitions(10, 0, &parts(&[("a", 0)]), 5)
            .unwrap()
            .unwrap();
        let fence = on.fence_epoch().unwrap();
        assert_eq!(
            (fence.state, fence.producer_epoch),
            (TxnState::PrepareEpochFence, 1)
        );
        let abort = match on.init(60_000, None, 99, 6) {
            Ok(InitOutcome::FenceAndAbort(m)) => m,
            other => panic!("expected a fence, got {other:?}"),
        };
        assert_eq!(
            (abort.state, abort.producer_epoch),
            (TxnState::PrepareAbort, 1)
        );
        assert_eq!(abort.partitions, on.partitions);
        // the old producer is fenced from now on
        assert_eq!(
            abort.end(10, 0, true, true, 7),
            Err(ErrorCode::ProducerFenced)
        );
        // the retried InitProducerId after the abort completes bumps again
        let done = abort.complete(8).unwrap();
        let m = ready(done.init(60_000, None, 99, 9));
        assert_eq!(m.producer_epoch, 2);
        // a fence whose write failed keeps the bumped epoch: the old producer stays fenced and
        // the next fence reuses the epoch instead of bumping again
        let mut failed = on.clone();
        failed.fence_failed(abort.producer_epoch);
        assert_eq!(failed.state, TxnState::Ongoing);
        assert_eq!(
            failed.end(10, 0, true, true, 7),
            Err(ErrorCode::ProducerFenced)
        );
        assert_eq!(
            failed.add_partitions(10, 0, &[("t".into(), 9)], 7),
            Err(ErrorCode::ProducerFenced)
        );
        let again = failed.fence_epoch().unwrap();
        assert_eq!((again.producer_epoch, again.failed_epoch_fence), (1, false));
        match failed.init(60_000, None, 99, 9).unwrap() {
            InitOutcome::FenceAndAbort(a) => assert_eq!(a.producer_epoch, 1),
            InitOutcome::Ready(_) => panic!("an open transaction must be aborted first"),
        }
    }

    #[test]
    fn kip_360_epoch_bumps_and_retries() {
        let m = started();
        // the producer knows (10, 0) and asks for a bump
        let bumped = ready(m.init(60_000, Some((10, 0)), 99, 2));
        assert_eq!((bumped.producer_epoch, bumped.last_producer_epoch), (1, 0));
        // its answer was lost: the retry with (10, 0) gets the same epoch
        let retried = ready(bumped.init(60_000, Some((10, 0)), 99, 3));
        assert_eq!(retried.producer_epoch, 1);
        // a stale epoch, or another producer id, is fenced
        let fresh = ready(bumped.init(60_000, None, 99, 4));
        assert_eq!(
            fresh.init(60_000, Some((10, 0)), 99, 5),
            Err(ErrorCode::ProducerFenced)
        );
        assert_eq!(
            fresh.init(60_000, Some((12, 2)), 99, 5),
            Err(ErrorCode::ProducerFenced)
        );
    }

    #[test]
    fn an_exhausted_epoch_rotates_the_producer_id() {
        let mut m = started();
        m.producer_epoch = i16::MAX - 1;
        let next = ready(m.init(60_000, Some((10, i16::MAX - 1)), 77, 2));
        assert_eq!((next.producer_id, next.producer_epoch), (77, 0));
        assert_eq!(next.previous_producer_id, 10);
        // the retry of that call, with the old id and its exhausted epoch, gets the same answer
        let retried = ready(next.init(60_000, Some((10, i16::MAX - 1)), 78, 3));
        assert_eq!((retried.producer_id, retried.producer_epoch), (77, 0));
    }

    #[test]
    fn timeouts_and_expiry() {
        let on = started()
            .add_partitions(10, 0, &parts(&[("a", 0)]), 100)
            .unwrap()
            .unwrap();
        assert!(!on.timed_out(60_100));
        assert!(on.timed_out(60_101));
        assert!(
            !on.expired(i64::MAX, 1),
            "an open transaction never expires"
        );
        let m = started();
        assert!(m.expired(1_001, 1000));
        assert_eq!(m.dead().unwrap().state, TxnState::Dead);
        assert_eq!(on.dead(), Err(ErrorCode::InvalidTxnState));
    }
}
