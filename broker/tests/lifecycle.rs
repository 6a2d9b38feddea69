//! Broker lifecycle and capacity: data directories that belong to another node, stray data,
//! reserved names, parked fetches, duplicated partitions in one request.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use tributary_broker::error::ErrorCode;
use tributary_broker::BrokerConfig;
use tributary_testkit::{record_batch, requests, unique_name, RawClient, TestBroker};

async fn create(client: &mut RawClient, topic: &str, partitions: i32) -> i16 {
    client
        .call(&requests::create_topic(topic, partitions), 7)
        .await
        .unwrap()
        .unwrap()
        .topics[0]
        .error_code
}

fn config(dir: &std::path::Path, extra: &[(&str, &str)]) -> BrokerConfig {
    let mut props: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    props.insert("listeners".into(), "PLAINTEXT://127.0.0.1:0".into());
    props.insert("log.dirs".into(), dir.display().to_string());
    BrokerConfig::from_props(props).unwrap()
}

#[tokio::test]
async fn a_data_directory_of_another_node_is_refused_not_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let broker = tributary_broker::start(config(dir.path(), &[]))
        .await
        .unwrap();
    let mut c = RawClient::connect(&broker.local_addr().to_string())
        .await
        .unwrap();
    assert_eq!(create(&mut c, "keep-me", 2).await, 0);
    broker.shutdown().await;
    let err = tributary_broker::start(config(dir.path(), &[("node.id", "2")]))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("node.id=1"), "{err}");
    assert!(
        dir.path().join("keep-me-0").exists() && dir.path().join("keep-me-1").exists(),
        "data untouched"
    );
    let broker = tributary_broker::start(config(dir.path(), &[]))
        .await
        .unwrap();
    assert!(broker.state().replicas.get("keep-me", 1).is_some());
    broker.shutdown().await;
}

#[tokio::test]
async fn data_of_an_unknown_topic_id_is_kept_aside_as_stray() {
    let dir = tempfile::tempdir().unwrap();
    let broker = tributary_broker::start(config(dir.path(), &[]))
        .await
        .unwrap();
    let addr = broker.local_addr().to_string();
    let mut c = RawClient::connect(&addr).await.unwrap();
    assert_eq!(create(&mut c, "t", 1).await, 0);
    let produce = requests::produce("t", 0, record_batch(&[b"precious"])).with_acks(1);
    assert_eq!(
        c.call(&produce, 9).await.unwrap().unwrap().responses[0].partition_responses[0].error_code,
        0
    );
    broker.shutdown().await;
    // the directory now claims to belong to a topic id the metadata does not know
    let meta = dir.path().join("t-0/partition.metadata");
    std::fs::write(
        &meta,
        format!("version: 0\ntopic_id: {}\n", uuid::Uuid::new_v4()),
    )
    .unwrap();
    let broker = tributary_broker::start(config(dir.path(), &[]))
        .await
        .unwrap();
    let strays: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("-stray"))
        .collect();
    assert_eq!(strays.len(), 1, "set aside, not deleted");
    assert!(
        strays[0]
            .path()
            .join("00000000000000000000.log")
            .metadata()
            .unwrap()
            .len()
            > 0
    );
    let p = broker.state().replicas.get("t", 0).unwrap();
    assert_eq!(
        p.offsets().log_end_offset,
        0,
        "the topic starts afresh, without the foreign data"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn the_metadata_log_name_cannot_be_a_topic() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    assert_eq!(
        create(&mut c, "__cluster_metadata", 1).await,
        ErrorCode::InvalidRequest.code()
    );
    let md = c
        .call(
            &MetadataRequest::default()
                .with_topics(Some(vec![
                    kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(requests::topic_name("__cluster_metadata"))),
                ]))
                .with_allow_auto_topic_creation(true),
            12,
        )
        .await
        .unwrap()
        .unwrap();
    assert_ne!(md.topics[0].error_code, 0, "not auto-created either");
    assert!(broker
        .data_dir()
        .join("__cluster_metadata-0/metadata.log")
        .exists());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_fetches_do_not_starve_other_requests() {
    let broker = TestBroker::start_with(&[("queued.max.requests", "2")]).await;
    let addr = broker.bootstrap();
    let topic = unique_name("parked");
    let mut admin = RawClient::connect(&addr).await.unwrap();
    assert_eq!(create(&mut admin, &topic, 1).await, 0);
    let mut parked = Vec::new();
    for _ in 0..6 {
        let mut c = RawClient::connect(&addr).await.unwrap();
        let fetch = requests::fetch(&topic, 0, 0, 25_000, 10 << 20);
        let frame = c.encode(&fetch, 12);
        c.send_raw(&frame).await.unwrap();
        parked.push(c);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // With the fetches holding the two request slots this would wait 25 s (past the client's 10 s).
    let produce = requests::produce(&topic, 0, record_batch(&[b"wake"])).with_acks(1);
    let r = admin
        .call(&produce, 9)
        .await
        .unwrap()
        .expect("answered while fetches are parked");
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    drop(parked);
    broker.stop().await;
}

#[tokio::test]
async fn a_partition_named_twice_is_written_once_or_refused() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("dup");
    assert_eq!(create(&mut c, &topic, 1).await, 0);
    let part = |v: &[u8]| {
        PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(record_batch(&[v])))
    };
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(requests::topic_name(&topic))
            .with_partition_data(vec![part(b"first"), part(b"second")])]);
    let r = c.call(&produce, 9).await.unwrap().unwrap();
    assert_eq!(r.responses[0].partition_responses.len(), 1);
    assert_eq!(
        broker
            .handle()
            .state()
            .replicas
            .get(&topic, 0)
            .unwrap()
            .offsets()
            .log_end_offset,
        1,
        "written once (the last batch wins, as in Kafka)"
    );
    let lo = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(requests::topic_name(&topic))
            .with_partitions(vec![
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1);
                2
            ])]);
    let r = c.call(&lo, 5).await.unwrap().unwrap();
    assert!(r.topics[0]
        .partitions
        .iter()
        .all(|p| p.error_code == ErrorCode::InvalidRequest.code()));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_topic_answers_its_parked_fetches_at_once() {
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let topic = unique_name("gone");
    let mut admin = RawClient::connect(&addr).await.unwrap();
    assert_eq!(create(&mut admin, &topic, 1).await, 0);
    let mut fetcher = RawClient::connect(&addr).await.unwrap();
    let fetch = requests::fetch(&topic, 0, 0, 25_000, 1);
    let frame = fetcher.encode(&fetch, 12);
    fetcher.send_raw(&frame).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let del = DeleteTopicsRequest::default().with_topic_names(vec![requests::topic_name(&topic)]);
    assert_eq!(
        admin.call(&del, 5).await.unwrap().unwrap().responses[0].error_code,
        0
    );
    // answered well before max_wait (the client gives up after 10 s)
    let mut resp = fetcher.read_frame().await.unwrap().expect("fetch answered");
    <ResponseHeader as kafka_protocol::protocol::Decodable>::decode(&mut resp, 1).unwrap();
    let r = <FetchResponse as kafka_protocol::protocol::Decodable>::decode(&mut resp, 12).unwrap();
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    broker.stop().await;
}

#[tokio::test]
async fn delete_topics_naming_a_topic_twice_deletes_nothing() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("twice");
    assert_eq!(create(&mut c, &topic, 1).await, 0);
    let del = DeleteTopicsRequest::default().with_topic_names(vec![
        requests::topic_name(&topic),
        requests::topic_name(&topic),
    ]);
    let r = c.call(&del, 5).await.unwrap().unwrap();
    assert!(r
        .responses
        .iter()
        .all(|t| t.error_code == ErrorCode::InvalidRequest.code()));
    assert!(
        broker.handle().state().image().topics.contains_key(&topic),
        "still there"
    );
    broker.stop().await;
}

/// DescribeQuorum on a single node: a quorum of one voter that leads, whose log end and high
/// watermark follow the metadata log, with the data directory's id; any partition other than
/// `__cluster_metadata-0` is unknown.
#[tokio::test]
async fn a_single_node_describes_itself_as_a_one_voter_quorum() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let ask = |topic: &str, partition: i32| {
        DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(requests::topic_name(topic))
            .with_partitions(vec![
                PartitionData::default().with_partition_index(partition)
            ])])
    };
    let before = c
        .call(&ask("__cluster_metadata", 0), 2)
        .await
        .unwrap()
        .unwrap();
    let p = &before.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_id.0, p.leader_epoch), (0, 1, 1));
    assert_eq!(p.current_voters.len(), 1);
    assert!(p.observers.is_empty());
    let voter = &p.current_voters[0];
    assert_eq!(voter.replica_id.0, 1);
    assert_eq!(voter.log_end_offset, p.high_watermark);
    assert!(!voter.replica_directory_id.is_nil());
    assert_eq!(before.nodes.len(), 1);
    // a metadata change moves the log end
    c.call(&requests::create_topic(&unique_name("quorum"), 1), 7)
        .await
        .unwrap()
        .unwrap();
    let after = c
        .call(&ask("__cluster_metadata", 0), 2)
        .await
        .unwrap()
        .unwrap();
    assert!(after.topics[0].partitions[0].high_watermark > p.high_watermark);
    assert_eq!(
        after.topics[0].partitions[0].current_voters[0].replica_directory_id,
        voter.replica_directory_id,
        "the directory keeps its id"
    );
    let other = c.call(&ask("orders", 0), 0).await.unwrap().unwrap();
    assert_eq!(
        other.topics[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // every version answers, with the fields it has
    for version in 0..=2 {
        let r = c
            .call(&ask("__cluster_metadata", 0), version)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.topics[0].partitions[0].leader_id.0, 1, "v{version}");
    }
    broker.stop().await;
}
