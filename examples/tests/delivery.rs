//! The delivery guarantees of the example loops, with a crash in the middle of a batch.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tributary_examples::delivery::{consumer, run, Semantics};
use tributary_testkit::{unique_name, TestBroker};

const WAIT: Duration = Duration::from_secs(10);

fn produce(broker: &TestBroker, topic: &str, n: usize) {
    let p: ThreadedProducer<DefaultProducerContext> = broker.client_config().create().unwrap();
    for i in 0..n {
        let v = i.to_string();
        p.send(BaseRecord::<(), _>::to(topic).partition(0).payload(&v))
            .unwrap();
    }
    p.flush(WAIT).unwrap();
}

/// Processes up to `crash_after` records (then "crashes": the consumer is dropped without any
/// further commit), returning the offsets processed.
fn session(
    broker: &TestBroker,
    topic: &str,
    group: &str,
    sem: Semantics,
    crash_after: usize,
) -> Vec<i64> {
    let c = consumer(&broker.bootstrap(), group, topic).unwrap();
    let mut seen = Vec::new();
    run(&c, sem, 10, 20, WAIT, |r| {
        seen.push(r.offset);
        // stop at the crash point, or at the last record produced
        seen.len() < crash_after && r.offset < 29
    })
    .unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_redelivers_the_batch_in_flight_and_loses_nothing() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (topic, group) = (unique_name("alo"), unique_name("g"));
    tokio::task::block_in_place(|| {
        produce(&broker, &topic, 30);
        // crash after 15 records: the second batch (10-19) was half processed, not committed
        let first = session(&broker, &topic, &group, Semantics::AtLeastOnce, 15);
        assert_eq!(first, (0..15).collect::<Vec<_>>());
        let second = session(&broker, &topic, &group, Semantics::AtLeastOnce, 100);
        assert_eq!(
            second.first(),
            Some(&10),
            "the uncommitted batch comes again"
        );
        let all: BTreeSet<i64> = first.iter().chain(&second).copied().collect();
        assert_eq!(all, (0..30).collect(), "nothing is lost");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_never_redelivers_and_skips_the_batch_in_flight() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (topic, group) = (unique_name("amo"), unique_name("g"));
    tokio::task::block_in_place(|| {
        produce(&broker, &topic, 30);
        let first = session(&broker, &topic, &group, Semantics::AtMostOnce, 15);
        assert_eq!(first, (0..15).collect::<Vec<_>>());
        let second = session(&broker, &topic, &group, Semantics::AtMostOnce, 100);
        assert_eq!(
            second.first(),
            Some(&20),
            "the committed batch is not delivered again"
        );
        let both: Vec<i64> = first.iter().chain(&second).copied().collect();
        let distinct: BTreeSet<i64> = both.iter().copied().collect();
        assert_eq!(distinct.len(), both.len(), "nothing is processed twice");
        assert!(!distinct.contains(&15), "15-19 were lost in the crash");
    });
}
