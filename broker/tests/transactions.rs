//! Idempotence and transactions against an in-process broker: the protocol step by step with
//! exact error codes (bad input of every kind), and rdkafka's transactional producer and
//! `read_committed` consumer end to end.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tributary_testkit::requests::{create_topic, produce, topic_name};
use tributary_testkit::{producer_batch, unique_name, RawClient, TestBroker};

const INVALID_REQUEST: i16 = 42;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const CONCURRENT_TRANSACTIONS: i16 = 51;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const PRODUCER_FENCED: i16 = 90;
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
const ILLEGAL_GENERATION: i16 = 22;
const INVALID_RECORD: i16 = 87;
const INVALID_TOPIC_EXCEPTION: i16 = 17;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn broker() -> TestBroker {
    TestBroker::start_with(&[
        ("transaction.state.log.num.partitions", "3"),
        ("offsets.topic.num.partitions", "3"),
        (
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "200",
        ),
        ("group.initial.rebalance.delay.ms", "0"),
    ])
    .await
}

async fn client(b: &TestBroker) -> RawClient {
    RawClient::connect(&b.bootstrap()).await.unwrap()
}

async fn make_topic(c: &mut RawClient, topic: &str, partitions: i32) {
    let r = c
        .call(&create_topic(topic, partitions), 7)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.topics[0].error_code, 0);
}

/// InitProducerId for `txn` (retrying while the coordinator loads or aborts): `(pid, epoch)`.
async fn init(c: &mut RawClient, txn: &str, timeout_ms: i32) -> (i64, i16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = c
            .call(
                &InitProducerIdRequest::default()
                    .with_transactional_id(Some(TransactionalId(sb(txn))))
                    .with_transaction_timeout_ms(timeout_ms)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
                4,
            )
            .await
            .unwrap()
            .unwrap();
        if r.error_code == 0 {
            return (r.producer_id.0, r.producer_epoch);
        }
        assert!(
            [14, 15, CONCURRENT_TRANSACTIONS].contains(&r.error_code),
            "InitProducerId failed with {}",
            r.error_code
        );
        assert!(Instant::now() < deadline, "InitProducerId kept failing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn add_partitions(
    c: &mut RawClient,
    txn: &str,
    pid: i64,
    epoch: i16,
    parts: &[(&str, i32)],
) -> Vec<i16> {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in parts {
        match topics.iter_mut().find(|x| x.name.0.as_str() == *t) {
            Some(x) => x.partitions.push(*p),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![*p]),
            ),
        }
    }
    let r = c
        .call(
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(TransactionalId(sb(txn)))
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(topics),
            3,
        )
        .await
        .unwrap()
        .unwrap();
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect()
}

async fn end_txn(c: &mut RawClient, txn: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    end_txn_v(c, txn, pid, epoch, commit, 3).await
}

async fn end_txn_v(
    c: &mut RawClient,
    txn: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
    version: i16,
) -> i16 {
    c.call(
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(sb(txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit),
        version,
    )
    .await
    .unwrap()
    .unwrap()
    .error_code
}

async fn send(c: &mut RawClient, topic: &str, partition: i32, batch: bytes::Bytes) -> (i16, i64) {
    let r = c
        .call(&produce(topic, partition, batch), 9)
        .await
        .unwrap()
        .unwrap();
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// ListOffsets latest for one partition with an isolation level (1: read_committed).
/// [`send`], the error code only.
async fn send_code(c: &mut RawClient, topic: &str, partition: i32, batch: bytes::Bytes) -> i16 {
    send(c, topic, partition, batch).await.0
}

async fn latest(c: &mut RawClient, topic: &str, partition: i32, isolation: i8) -> i64 {
    let r = c
        .call(
            &ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(isolation)
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(topic_name(topic))
                    .with_partitions(vec![ListOffsetsPartition::default()
                        .with_partition_index(partition)
                        .with_timestamp(-1)])]),
            5,
        )
        .await
        .unwrap()
        .unwrap();
    r.topics[0].partitions[0].offset
}

async fn describe(c: &mut RawClient, txn: &str) -> (i16, String, Vec<(String, i32)>) {
    let r = c
        .call(
            &DescribeTransactionsRequest::default()
                .with_transactional_ids(vec![TransactionalId(sb(txn))]),
            0,
        )
        .await
        .unwrap()
        .unwrap();
    let s = &r.transaction_states[0];
    let parts = s
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
        .collect();
    (s.error_code, s.transaction_state.to_string(), parts)
}

/// Waits until DescribeTransactions reports `state`.
async fn wait_state(c: &mut RawClient, txn: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s, _) = describe(c, txn).await;
        if s == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{txn} stayed {s}, expected {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_step_by_step_with_the_last_stable_offset() {
    let b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("txn");
    make_topic(&mut c, &topic, 2).await;
    let txn = unique_name("app");
    let (pid, epoch) = init(&mut c, &txn, 60_000).await;
    assert_eq!(epoch, 0);
    assert_eq!(describe(&mut c, &txn).await.1, "Empty");

    // a transactional batch before its partition is added is refused (KIP-890)
    let early = producer_batch(pid, epoch, 0, &[b"early"], true);
    assert_eq!(send(&mut c, &topic, 0, early).await.0, INVALID_TXN_STATE);

    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &[(&topic, 0), (&topic, 1)]).await,
        [0, 0]
    );
    let (code, state, parts) = describe(&mut c, &txn).await;
    assert_eq!((code, state.as_str()), (0, "Ongoing"));
    assert_eq!(parts, [(topic.clone(), 0), (topic.clone(), 1)]);

    let (code, first) = send(
        &mut c,
        &topic,
        0,
        producer_batch(pid, epoch, 0, &[b"a", b"b"], true),
    )
    .await;
    assert_eq!((code, first), (0, 0));
    // a plain batch from the same producer inside its transaction is refused
    let plain = producer_batch(pid, epoch, 2, &[b"x"], false);
    assert_eq!(send(&mut c, &topic, 0, plain).await.0, INVALID_TXN_STATE);
    // the LSO stays at the transaction's first offset; read_uncommitted sees the high watermark
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 0);
    assert_eq!(latest(&mut c, &topic, 0, 0).await, 2);
    // the LSO of the partition with no data yet is its end
    assert_eq!(latest(&mut c, &topic, 1, 1).await, 0);

    assert_eq!(end_txn(&mut c, &txn, pid, epoch, true).await, 0);
    wait_state(&mut c, &txn, "CompleteCommit").await;
    // the COMMIT markers: offset 2 on partition 0, offset 0 on partition 1
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 3);
    assert_eq!(latest(&mut c, &topic, 1, 1).await, 1);
    // a retried EndTxn(commit) succeeds, an abort after the commit does not
    assert_eq!(end_txn(&mut c, &txn, pid, epoch, true).await, 0);
    assert_eq!(
        end_txn(&mut c, &txn, pid, epoch, false).await,
        INVALID_TXN_STATE
    );

    // the next transaction aborts: its data stays in the log but the fetch lists it
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &[(&topic, 0)]).await,
        [0]
    );
    let (code, off) = send(
        &mut c,
        &topic,
        0,
        producer_batch(pid, epoch, 2, &[b"c"], true),
    )
    .await;
    assert_eq!((code, off), (0, 3));
    assert_eq!(end_txn(&mut c, &txn, pid, epoch, false).await, 0);
    wait_state(&mut c, &txn, "CompleteAbort").await;
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 5);

    let fetch = tributary_testkit::requests::fetch(&topic, 0, 0, 0, 0);
    let fetch = fetch.with_isolation_level(1);
    let r = c.call(&fetch, 12).await.unwrap().unwrap();
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.last_stable_offset, 5);
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    assert_eq!(aborted, [(pid, 3)]);

    // DescribeProducers shows the producer and no open transaction
    let r = c
        .call(
            &DescribeProducersRequest::default().with_topics(vec![
                describe_producers_request::TopicRequest::default()
                    .with_name(topic_name(&topic))
                    .with_partition_indexes(vec![0]),
            ]),
            0,
        )
        .await
        .unwrap()
        .unwrap();
    let prods = &r.topics[0].partitions[0].active_producers;
    assert_eq!(prods.len(), 1);
    assert_eq!(
        (
            prods[0].producer_id.0,
            prods[0].last_sequence,
            prods[0].current_txn_start_offset
        ),
        (pid, 2, -1)
    );

    // ListTransactions with filters
    let r = c
        .call(
            &ListTransactionsRequest::default()
                .with_state_filters(vec![sb("CompleteAbort"), sb("Nope")])
                .with_producer_id_filters(vec![ProducerId(pid)])
                .with_duration_filter(-1),
            1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.unknown_state_filters, [sb("Nope")]);
    assert_eq!(r.transaction_states.len(), 1);
    assert_eq!(r.transaction_states[0].transactional_id.0.as_str(), txn);
    // v2 (KIP-1152): a regular expression the whole transactional id matches
    let pattern = |p: &str| {
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_transactional_id_pattern(Some(sb(p)))
    };
    let ids = |r: &ListTransactionsResponse| -> Vec<String> {
        r.transaction_states
            .iter()
            .map(|t| t.transactional_id.0.to_string())
            .collect()
    };
    let prefix = &txn[..txn.len() - 3];
    let r = c
        .call(&pattern(&format!("{prefix}.*")), 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&r), vec![txn.clone()]);
    let r = c.call(&pattern(prefix), 2).await.unwrap().unwrap();
    assert!(ids(&r).is_empty(), "the whole id must match");
    let r = c.call(&pattern("(unclosed"), 2).await.unwrap().unwrap();
    assert_eq!(r.error_code, 128, "INVALID_REGULAR_EXPRESSION");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_kafkas_error_codes() {
    let b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("bad");
    make_topic(&mut c, &topic, 1).await;
    let txn = unique_name("bad-app");

    // timeouts above transaction.max.timeout.ms, empty transactional ids
    let r = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(sb(&txn))))
                .with_transaction_timeout_ms(900_001),
            4,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, INVALID_TRANSACTION_TIMEOUT);
    let r = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(sb(""))))
                .with_transaction_timeout_ms(1000),
            4,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, INVALID_REQUEST);
    // an id longer than a Kafka string can hold in __transaction_state (flexible versions
    // could carry it)
    let r = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(sb(&"x".repeat(40_000)))))
                .with_transaction_timeout_ms(1000),
            4,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.error_code, INVALID_REQUEST);

    let (pid, epoch) = init(&mut c, &txn, 60_000).await;
    // EndTxn without a transaction; unknown producer id; wrong epochs
    assert_eq!(
        end_txn(&mut c, &txn, pid, epoch, true).await,
        INVALID_TXN_STATE
    );
    assert_eq!(
        end_txn(&mut c, &txn, pid + 1000, epoch, true).await,
        INVALID_PRODUCER_ID_MAPPING
    );
    assert_eq!(
        end_txn(&mut c, &txn, pid, epoch + 1, true).await,
        PRODUCER_FENCED
    );
    // before KIP-588 (EndTxn v0-1) the same is INVALID_PRODUCER_EPOCH
    assert_eq!(
        end_txn_v(&mut c, &txn, pid, epoch + 1, true, 1).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch + 1, &[(&topic, 0)]).await,
        [PRODUCER_FENCED]
    );
    // an unknown transactional id
    let ghost = unique_name("ghost");
    assert_eq!(
        end_txn(&mut c, &ghost, pid, epoch, true).await,
        INVALID_PRODUCER_ID_MAPPING
    );
    assert_eq!(describe(&mut c, &ghost).await.0, TRANSACTIONAL_ID_NOT_FOUND);
    // unknown partitions: that one fails, the others are not attempted
    assert_eq!(
        add_partitions(
            &mut c,
            &txn,
            pid,
            epoch,
            &[(&topic, 0), (&topic, 7), ("no-such-topic", 0)]
        )
        .await,
        [
            OPERATION_NOT_ATTEMPTED,
            UNKNOWN_TOPIC_OR_PARTITION,
            UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    assert_eq!(describe(&mut c, &txn).await.1, "Empty", "nothing was added");

    // TxnOffsetCommit for a group whose offsets partition is not in the transaction
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &[(&topic, 0)]).await,
        [0]
    );
    let group = unique_name("g");
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(sb(&txn)))
        .with_group_id(GroupId(sb(&group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_member_id(sb(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(topic_name(&topic))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(5)])]);
    // (FindCoordinator creates the offsets topic)
    c.call(&tributary_testkit::requests::find_coordinator(&group), 3)
        .await
        .unwrap()
        .unwrap();
    let r = c.call(&commit, 3).await.unwrap().unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, INVALID_TXN_STATE);
    // with the offsets partition added: a member of a group that does not exist
    let add = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(sb(&txn)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(sb(&group)));
    assert_eq!(c.call(&add, 3).await.unwrap().unwrap().error_code, 0);
    let as_member = commit
        .clone()
        .with_generation_id(3)
        .with_member_id(sb("some-member"));
    let r = c.call(&as_member, 3).await.unwrap().unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, ILLEGAL_GENERATION);
    // TxnOffsetCommit at another epoch: fenced
    let r = c
        .call(&commit.clone().with_producer_epoch(epoch + 1), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, INVALID_PRODUCER_EPOCH);
    // a transactional batch at another epoch than the transaction's is refused (KIP-890)
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, epoch + 1, 0, &[b"zombie"], true)
        )
        .await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(end_txn(&mut c, &txn, pid, epoch, false).await, 0);
    wait_state(&mut c, &txn, "CompleteAbort").await;

    // idempotent producer: gaps and old epochs
    let r = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000),
            4,
        )
        .await
        .unwrap()
        .unwrap();
    let ipid = r.producer_id.0;
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(ipid, 0, 0, &[b"1"], false)
        )
        .await,
        0
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(ipid, 0, 5, &[b"gap"], false)
        )
        .await,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(ipid, 1, 0, &[b"2"], false)
        )
        .await,
        0
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(ipid, 0, 1, &[b"old"], false)
        )
        .await,
        INVALID_PRODUCER_EPOCH
    );
    // a retried batch gets its original offset and is not written again
    let (code, off) = send(
        &mut c,
        &topic,
        0,
        producer_batch(ipid, 1, 0, &[b"2"], false),
    )
    .await;
    assert_eq!(code, 0);
    let (_, again) = send(
        &mut c,
        &topic,
        0,
        producer_batch(ipid, 1, 0, &[b"2"], false),
    )
    .await;
    assert_eq!(again, off);
    // only the coordinators write to the internal topics
    for internal in ["__consumer_offsets", "__transaction_state"] {
        assert_eq!(
            send_code(
                &mut c,
                internal,
                0,
                producer_batch(ipid, 1, 1, &[b"x"], false)
            )
            .await,
            INVALID_TOPIC_EXCEPTION
        );
    }
    // a producer id without a sequence is malformed (Kafka's LogValidator)
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(ipid, 1, -1, &[b"no-seq"], false)
        )
        .await,
        INVALID_RECORD
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_producer_fences_the_old_one_and_aborts_its_transaction() {
    let b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("fence");
    make_topic(&mut c, &topic, 1).await;
    let txn = unique_name("fenced");
    let (pid, old) = init(&mut c, &txn, 60_000).await;
    assert_eq!(
        add_partitions(&mut c, &txn, pid, old, &[(&topic, 0)]).await,
        [0]
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, old, 0, &[b"zombie"], true)
        )
        .await,
        0
    );
    assert_eq!(
        latest(&mut c, &topic, 0, 1).await,
        0,
        "open transaction holds the LSO"
    );

    // the second instance: its first InitProducerId aborts the open transaction
    let (pid2, new) = init(&mut c, &txn, 60_000).await;
    assert_eq!(pid2, pid);
    assert!(
        new >= old + 2,
        "fencing bumps the epoch, the retry bumps it again"
    );
    wait_state(&mut c, &txn, "Empty").await;
    assert_eq!(
        latest(&mut c, &topic, 0, 1).await,
        2,
        "the abort marker freed the LSO"
    );
    // the zombie is fenced everywhere
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, old, 1, &[b"late"], true)
        )
        .await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        add_partitions(&mut c, &txn, pid, old, &[(&topic, 0)]).await,
        [PRODUCER_FENCED]
    );
    assert_eq!(end_txn(&mut c, &txn, pid, old, true).await, PRODUCER_FENCED);
    // its record was aborted: a read_committed fetch lists it as such
    let r = c
        .call(
            &tributary_testkit::requests::fetch(&topic, 0, 0, 0, 0).with_isolation_level(1),
            12,
        )
        .await
        .unwrap()
        .unwrap();
    let aborted = r.responses[0].partitions[0]
        .aborted_transactions
        .clone()
        .unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        (aborted[0].producer_id.0, aborted[0].first_offset),
        (pid, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_never_ends_is_aborted_at_its_timeout() {
    let b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("hang");
    make_topic(&mut c, &topic, 1).await;
    let txn = unique_name("hanging");
    let (pid, epoch) = init(&mut c, &txn, 1000).await;
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &[(&topic, 0)]).await,
        [0]
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, epoch, 0, &[b"never"], true)
        )
        .await,
        0
    );
    // other producers keep writing; the LSO waits for the hanging transaction
    let other = producer_batch(-1, -1, -1, &[b"plain"], false);
    assert_eq!(send(&mut c, &topic, 0, other).await.0, 0);
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 0);
    wait_state(&mut c, &txn, "CompleteAbort").await;
    assert_eq!(
        latest(&mut c, &topic, 0, 1).await,
        3,
        "the LSO moved past the abort marker"
    );
    assert_eq!(
        end_txn(&mut c, &txn, pid, epoch, true).await,
        PRODUCER_FENCED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_survive_a_broker_restart() {
    let mut b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("restart");
    make_topic(&mut c, &topic, 1).await;
    let txn = unique_name("durable");
    let (pid, epoch) = init(&mut c, &txn, 60_000).await;
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &[(&topic, 0)]).await,
        [0]
    );
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, epoch, 0, &[b"open"], true)
        )
        .await,
        0
    );
    drop(c);
    b.restart().await;
    let mut c = client(&b).await;
    // the open transaction is still open (state replayed; producer state from the snapshot)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, state, _) = describe(&mut c, &txn).await;
        if code == 0 {
            assert_eq!(state, "Ongoing");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 0);
    assert_eq!(
        send_code(
            &mut c,
            &topic,
            0,
            producer_batch(pid, epoch, 1, &[b"more"], true)
        )
        .await,
        0
    );
    assert_eq!(end_txn(&mut c, &txn, pid, epoch, true).await, 0);
    wait_state(&mut c, &txn, "CompleteCommit").await;
    assert_eq!(latest(&mut c, &topic, 0, 1).await, 3);
}

/// rdkafka's transactional producer and read_committed / read_uncommitted consumers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_commit_and_abort_across_partitions() {
    let b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("rd");
    make_topic(&mut c, &topic, 3).await;
    let bootstrap = b.bootstrap();
    let topic2 = topic.clone();
    let (committed, uncommitted) = tokio::task::spawn_blocking(move || {
        let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("transactional.id", unique_name("rd-tx"))
            .set("linger.ms", "2")
            .create()
            .unwrap();
        let t = Duration::from_secs(20);
        producer.init_transactions(t).unwrap();
        for (round, commit) in [(0, true), (1, false), (2, true), (3, false), (4, true)] {
            producer.begin_transaction().unwrap();
            for i in 0..30 {
                let v = format!("{round}-{i}");
                producer
                    .send(BaseRecord::to(&topic2).partition(i % 3).key(&v).payload(&v))
                    .unwrap();
            }
            if commit {
                producer.commit_transaction(t).unwrap();
            } else {
                producer.flush(t).unwrap();
                producer.abort_transaction(t).unwrap();
            }
        }
        let read = |isolation: &str| {
            let consumer: BaseConsumer = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", unique_name("rd-read"))
                .set("isolation.level", isolation)
                .set("enable.partition.eof", "true")
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            for p in 0..3 {
                tpl.add_partition_offset(&topic2, p, Offset::Beginning)
                    .unwrap();
            }
            consumer.assign(&tpl).unwrap();
            let mut out: Vec<Vec<String>> = vec![Vec::new(); 3];
            let mut eof = std::collections::HashSet::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while eof.len() < 3 {
                assert!(Instant::now() < deadline);
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        eof.remove(&m.partition());
                        out[m.partition() as usize]
                            .push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
                    }
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                        eof.insert(p);
                    }
                    Some(Err(e)) => panic!("{e}"),
                    None => {}
                }
            }
            out
        };
        (read("read_committed"), read("read_uncommitted"))
    })
    .await
    .unwrap();
    for p in 0..3usize {
        let want: Vec<String> = [0, 2, 4]
            .iter()
            .flat_map(|r| {
                (0..30)
                    .filter(move |i| i % 3 == p)
                    .map(move |i| format!("{r}-{i}"))
            })
            .collect();
        assert_eq!(
            committed[p], want,
            "partition {p}: committed records in order"
        );
        assert_eq!(
            uncommitted[p].len(),
            50,
            "read_uncommitted sees aborted records too"
        );
    }
}

/// OffsetFetch of the group's committed offset: `require_stable` answers
/// UNSTABLE_OFFSET_COMMIT while the transaction is open.
async fn committed_offset(c: &mut RawClient, group: &str, topic: &str, stable: bool) -> (i16, i64) {
    let r = c
        .call(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(sb(group)))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(topic_name(topic))
                        .with_partition_indexes(vec![0]),
                ]))
                .with_require_stable(stable),
            7,
        )
        .await
        .unwrap()
        .unwrap();
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_committed_in_a_transaction_show_only_when_it_commits() {
    const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    let mut b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("offs");
    make_topic(&mut c, &topic, 1).await;
    let group = unique_name("txn-group");
    c.call(&tributary_testkit::requests::find_coordinator(&group), 3)
        .await
        .unwrap()
        .unwrap();
    let txn = unique_name("offs-app");
    let (pid, epoch) = init(&mut c, &txn, 60_000).await;
    let commit_at = |offset: i64| {
        TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(sb(&txn)))
            .with_group_id(GroupId(sb(&group)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(-1)
            .with_member_id(sb(""))
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(topic_name(&topic))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)])])
    };
    for (offset, commit) in [(7, false), (9, true)] {
        let add = AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(sb(&txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_group_id(GroupId(sb(&group)));
        assert_eq!(c.call(&add, 3).await.unwrap().unwrap().error_code, 0);
        let r = c.call(&commit_at(offset), 3).await.unwrap().unwrap();
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
        assert_eq!(
            committed_offset(&mut c, &group, &topic, true).await.0,
            UNSTABLE_OFFSET_COMMIT
        );
        assert_ne!(
            committed_offset(&mut c, &group, &topic, false).await.1,
            offset
        );
        assert_eq!(end_txn(&mut c, &txn, pid, epoch, commit).await, 0);
        wait_state(
            &mut c,
            &txn,
            if commit {
                "CompleteCommit"
            } else {
                "CompleteAbort"
            },
        )
        .await;
    }
    // the aborted 7 never showed; the committed 9 does
    assert_eq!(committed_offset(&mut c, &group, &topic, true).await, (0, 9));
    // a plain commit written after a transactional one wins when the transaction commits
    let add = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(sb(&txn)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(sb(&group)));
    assert_eq!(c.call(&add, 3).await.unwrap().unwrap().error_code, 0);
    let r = c.call(&commit_at(20), 3).await.unwrap().unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let plain = tributary_testkit::requests::offset_commit(&group, -1, "", &topic, 0, 25);
    let r = c.call(&plain, 8).await.unwrap().unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(end_txn(&mut c, &txn, pid, epoch, true).await, 0);
    wait_state(&mut c, &txn, "CompleteCommit").await;
    assert_eq!(
        committed_offset(&mut c, &group, &topic, true).await,
        (0, 25)
    );
    // the same after a restart (replay)
    drop(c);
    b.restart().await;
    let mut c = client(&b).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, off) = committed_offset(&mut c, &group, &topic, true).await;
        if code == 0 {
            assert_eq!(off, 25);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "offset fetch kept failing with {code}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A coordinator that stopped between the commit decision and the markers finishes the
/// transaction when it loads `__transaction_state` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_completes_a_prepared_commit() {
    use tributary_broker::txn::{records, TxnMetadata, TxnState, TRANSACTION_TOPIC};
    let mut b = broker().await;
    let mut c = client(&b).await;
    let topic = unique_name("prepared");
    make_topic(&mut c, &topic, 2).await;
    let txn = unique_name("prepared-app");
    let (pid, epoch) = init(&mut c, &txn, 60_000).await;
    let parts = [(topic.as_str(), 0), (topic.as_str(), 1)];
    assert_eq!(
        add_partitions(&mut c, &txn, pid, epoch, &parts).await,
        [0, 0]
    );
    for p in 0..2 {
        let batch = producer_batch(pid, epoch, 0, &[b"decided"], true);
        assert_eq!(send(&mut c, &topic, p, batch).await.0, 0);
    }
    // the decision is in the log, the markers are not (as if the broker died right there)
    let mut prepared = TxnMetadata::new(&txn, pid, 60_000, 0);
    prepared.producer_epoch = epoch;
    prepared.state = TxnState::PrepareCommit;
    prepared.partitions = [(topic.clone(), 0), (topic.clone(), 1)]
        .into_iter()
        .collect();
    prepared.start_ms = 1;
    let n = b.handle().state().image().topics[TRANSACTION_TOPIC]
        .partitions
        .len();
    let p = tributary_broker::group::partition_for(&txn, n);
    let log = b
        .handle()
        .state()
        .replicas
        .get(TRANSACTION_TOPIC, p)
        .unwrap();
    log.append_records(
        &[(records::key(&txn), Some(records::value(&prepared)))],
        kafka_protocol::records::Compression::None,
        None,
        0,
        None,
    )
    .unwrap();
    drop(c);
    b.restart().await;
    let mut c = client(&b).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, state, _) = describe(&mut c, &txn).await;
        if code == 0 && state == "CompleteCommit" {
            break;
        }
        assert!(Instant::now() < deadline, "stayed {state} ({code})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in 0..2 {
        assert_eq!(
            latest(&mut c, &topic, p, 1).await,
            2,
            "COMMIT marker on partition {p}"
        );
    }
}
