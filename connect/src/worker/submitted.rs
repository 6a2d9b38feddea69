//! The records a source task sent and the broker has not acknowledged yet, in the order they
//! were sent, and the source offsets that are safe to commit (Kafka Connect's
//! `SubmittedRecords`): a source partition's offset is committable once its record and every
//! record sent before it are acknowledged. Acknowledged records leave the front as the task
//! goes on, so what is kept is what is in flight, not everything since the last commit.

use std::collections::VecDeque;
use std::time::Instant;

use futures::channel::oneshot::Canceled;
use futures::FutureExt;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::DeliveryFuture;

use crate::connector::ConnectError;
use crate::data::Value;

use super::connector_config::Tolerance;
use super::TaskId;

/// The producer's answer for one record (a `DeliveryFuture`; tests give a channel).
pub(super) trait Delivery:
    std::future::Future<Output = Result<OwnedDeliveryResult, Canceled>> + Unpin
{
}

impl<D> Delivery for D where
    D: std::future::Future<Output = Result<OwnedDeliveryResult, Canceled>> + Unpin
{
}

/// A record sent and not yet acknowledged, with the source position it carries.
struct InFlight<D> {
    /// `None`: nothing to wait for (a transform dropped the record, or it failed and was
    /// tolerated), its offset is committable as soon as the records before it are.
    delivery: Option<D>,
    partition: Value,
    offset: Value,
}

/// Records in flight and committable offsets of one source task.
pub(super) struct Submitted<D = DeliveryFuture> {
    in_flight: VecDeque<InFlight<D>>,
    /// The latest committable offset of each source partition (few: a linear search).
    committable: Vec<(Value, Value)>,
    /// Whether a record came since the offsets were last taken (records without a source
    /// partition leave no offset, and the task's `commit` is still due).
    pushed: bool,
}

impl<D> Default for Submitted<D> {
    fn default() -> Self {
        Submitted {
            in_flight: VecDeque::new(),
            committable: Vec::new(),
            pushed: false,
        }
    }
}

impl<D: Delivery> Submitted<D> {
    /// A record sent (`delivery`), or one with nothing to wait for (`None`).
    pub fn push(&mut self, delivery: Option<D>, partition: Value, offset: Value) {
        self.pushed = true;
        self.in_flight.push_back(InFlight {
            delivery,
            partition,
            offset,
        });
    }

    /// Whether no record came since the offsets were last taken.
    pub fn is_empty(&self) -> bool {
        !self.pushed
    }

    /// Moves the acknowledged records at the front to the committable offsets, without
    /// waiting. A record the producer failed to write fails the task, unless tolerated.
    pub fn collect_acknowledged(
        &mut self,
        id: &TaskId,
        tolerance: Tolerance,
    ) -> Result<(), ConnectError> {
        while let Some(front) = self.in_flight.front_mut() {
            if let Some(d) = &mut front.delivery {
                match d.now_or_never() {
                    None => return Ok(()),
                    Some(result) => check_delivery(id, result, tolerance)?,
                }
            }
            self.acknowledge_front();
        }
        Ok(())
    }

    /// Waits for every record in flight, until `deadline`.
    pub async fn wait_all(
        &mut self,
        id: &TaskId,
        tolerance: Tolerance,
        deadline: Instant,
    ) -> Result<(), ConnectError> {
        while let Some(front) = self.in_flight.front_mut() {
            if let Some(d) = &mut front.delivery {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, d).await {
                    Ok(result) => check_delivery(id, result, tolerance)?,
                    Err(_) => {
                        return Err(ConnectError::Retriable(format!(
                            "Timed out waiting for records in flight to be acknowledged before committing offsets of {id}"
                        )))
                    }
                }
            }
            self.acknowledge_front();
        }
        Ok(())
    }

    /// The committable offsets, taken (a transaction takes those of every record sent: its
    /// commit is their acknowledgement).
    pub fn take_offsets(&mut self, all_sent: bool) -> Vec<(Value, Value)> {
        if all_sent {
            while !self.in_flight.is_empty() {
                self.acknowledge_front();
            }
        }
        self.pushed = !self.in_flight.is_empty();
        std::mem::take(&mut self.committable)
    }

    fn acknowledge_front(&mut self) {
        let Some(f) = self.in_flight.pop_front() else {
            return;
        };
        if f.partition.is_null() {
            return;
        }
        match self.committable.iter_mut().find(|(p, _)| *p == f.partition) {
            Some(e) => e.1 = f.offset,
            None => self.committable.push((f.partition, f.offset)),
        }
    }
}

/// The outcome of one record's delivery: a failure fails the task unless tolerated.
fn check_delivery(
    id: &TaskId,
    result: Result<OwnedDeliveryResult, Canceled>,
    tolerance: Tolerance,
) -> Result<(), ConnectError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) if tolerance == Tolerance::All => {
            tracing::error!(task = %id, error = %e, "a record could not be produced; skipped");
            Ok(())
        }
        Ok(Err((e, _))) => Err(ConnectError::Fatal(format!(
            "Unrecoverable exception from producer send callback: {e}"
        ))),
        Err(_) => Err(ConnectError::Fatal("the producer was closed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Channel = futures::channel::oneshot::Receiver<OwnedDeliveryResult>;

    fn id() -> TaskId {
        TaskId {
            connector: "c".into(),
            task: 0,
        }
    }

    fn p(name: &str) -> Value {
        Value::String(name.into())
    }

    #[test]
    fn records_with_nothing_to_wait_for_are_committable_in_order_per_partition() {
        let mut s: Submitted<Channel> = Submitted::default();
        s.push(None, p("a"), Value::Int64(1));
        s.push(None, p("b"), Value::Int64(7));
        s.push(None, p("a"), Value::Int64(2));
        s.push(None, Value::Null, Value::Null);
        s.collect_acknowledged(&id(), Tolerance::None).unwrap();
        assert_eq!(
            s.take_offsets(false),
            vec![(p("a"), Value::Int64(2)), (p("b"), Value::Int64(7))]
        );
        assert!(s.is_empty());
        // a record without a source partition leaves no offset, but a commit is still due
        s.push(None, Value::Null, Value::Null);
        s.collect_acknowledged(&id(), Tolerance::None).unwrap();
        assert!(!s.is_empty());
        assert_eq!(s.take_offsets(false), vec![]);
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn an_unacknowledged_record_holds_back_the_offsets_after_it() {
        let mut s: Submitted<Channel> = Submitted::default();
        s.push(None, p("a"), Value::Int64(1));
        let (tx, rx) = futures::channel::oneshot::channel();
        s.push(Some(rx), p("a"), Value::Int64(2));
        s.push(None, p("b"), Value::Int64(9));
        s.collect_acknowledged(&id(), Tolerance::None).unwrap();
        assert_eq!(s.take_offsets(false), vec![(p("a"), Value::Int64(1))]);
        assert!(!s.is_empty(), "two records are still in flight");
        // the producer's answer: a failed write fails the task unless tolerated
        let err = rdkafka::error::KafkaError::MessageProduction(
            rdkafka::types::RDKafkaErrorCode::MessageTimedOut,
        );
        tx.send(Err((
            err,
            rdkafka::message::OwnedMessage::new(
                None,
                None,
                "t".into(),
                rdkafka::Timestamp::NotAvailable,
                0,
                0,
                None,
            ),
        )))
        .unwrap();
        let failed = s.wait_all(&id(), Tolerance::None, Instant::now()).await;
        assert!(failed.is_err());
    }

    #[test]
    fn a_transaction_commits_the_offsets_of_everything_sent() {
        let mut s: Submitted<Channel> = Submitted::default();
        let (_tx, rx) = futures::channel::oneshot::channel();
        s.push(Some(rx), p("a"), Value::Int64(5));
        s.push(None, p("a"), Value::Int64(6));
        assert_eq!(s.take_offsets(true), vec![(p("a"), Value::Int64(6))]);
        assert!(s.is_empty());
    }
}
