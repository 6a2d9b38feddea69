//! Bad input of every kind gets Kafka's answer (an error code, or a closed connection where
//! Kafka closes it), never a panic, and other clients keep being served.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tributary_broker::dispatch::ROUTES;
use tributary_broker::error::ErrorCode;
use tributary_testkit::{record_batch, requests, unique_name, RawClient, TestBroker};

async fn create(client: &mut RawClient, topic: &str, partitions: i32) -> CreateTopicsResponse {
    client
        .call(&requests::create_topic(topic, partitions), 7)
        .await
        .unwrap()
        .unwrap()
}

fn fetch_req(topic: &str, partition: i32, offset: i64) -> FetchRequest {
    requests::fetch(topic, partition, offset, 0, 1)
}

async fn produce_code(client: &mut RawClient, topic: &str, partition: i32, records: Bytes) -> i16 {
    let resp = client
        .call(&requests::produce(topic, partition, records), 9)
        .await
        .unwrap()
        .unwrap();
    resp.responses[0].partition_responses[0].error_code
}

async fn leo(client: &mut RawClient, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(requests::topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    client.call(&req, 5).await.unwrap().unwrap().topics[0].partitions[0].offset
}

/// A healthy request on a new connection still gets its answer.
async fn still_serving(addr: &str) {
    let mut c = RawClient::connect(addr).await.unwrap();
    let resp = c
        .call(&ApiVersionsRequest::default(), 2)
        .await
        .unwrap()
        .expect("broker still answers");
    assert_eq!(resp.error_code, 0);
}

#[tokio::test]
async fn api_versions_advertises_exactly_the_route_table() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    for version in 0..=4 {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("testkit"))
            .with_client_software_version(StrBytes::from_static_str("1.0"));
        let resp = c.call(&req, version).await.unwrap().unwrap();
        assert_eq!(resp.error_code, 0);
        let got: Vec<(i16, i16, i16)> = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        let want: Vec<(i16, i16, i16)> = ROUTES
            .iter()
            .map(|r| (r.key as i16, r.min, r.max))
            .collect();
        assert_eq!(got, want);
        // feature flags (v3+): the KIP-848 consumer group protocol, finalized at level 1
        let features: Vec<(String, i16, i16)> = resp
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level))
            .collect();
        if version >= 3 {
            assert_eq!(features, vec![("group.version".to_string(), 1, 1)]);
            assert_eq!(resp.supported_features.len(), 1);
            assert!(resp.finalized_features_epoch >= 0);
        } else {
            assert!(features.is_empty());
        }
    }
    let produce = ROUTES.iter().find(|r| r.key == ApiKey::Produce).unwrap();
    assert_eq!(
        produce.min, 0,
        "Produce is advertised from v0 so librdkafka keeps compression on"
    );
    broker.stop().await;
}

#[tokio::test]
async fn unsupported_api_versions_version_gets_the_v0_error_answer() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    // ApiVersions v9: header v2 layout, unknown body; Kafka answers v0 with error 35.
    let mut frame = BytesMut::new();
    let body: &[u8] = &[0, 18, 0, 9, 0, 0, 0, 7, 0, 4, b't', b'e', b's', b't', 0, 0];
    frame.put_i32(body.len() as i32);
    frame.put_slice(body);
    c.send_raw(&frame).await.unwrap();
    let mut resp = c.read_frame().await.unwrap().unwrap();
    let header = ResponseHeader::decode_v0(&mut resp);
    assert_eq!(header, 7);
    let decoded =
        <ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut resp, 0).unwrap();
    assert_eq!(decoded.error_code, ErrorCode::UnsupportedVersion.code());
    assert_eq!(decoded.api_keys.len(), 1);
    assert_eq!(
        (decoded.api_keys[0].api_key, decoded.api_keys[0].max_version),
        (18, 4)
    );
    broker.stop().await;
}

trait DecodeV0 {
    fn decode_v0(buf: &mut Bytes) -> i32;
}
impl DecodeV0 for ResponseHeader {
    fn decode_v0(buf: &mut Bytes) -> i32 {
        <ResponseHeader as kafka_protocol::protocol::Decodable>::decode(buf, 0)
            .unwrap()
            .correlation_id
    }
}

#[tokio::test]
async fn malformed_frames_close_the_connection_and_nothing_else() {
    let broker = TestBroker::start_with(&[("socket.request.max.bytes", "4096")]).await;
    let addr = broker.bootstrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversized frame", {
            let mut v = 5000i32.to_be_bytes().to_vec();
            v.extend([0u8; 16]);
            v
        }),
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("shorter than a header", {
            let mut v = 3i32.to_be_bytes().to_vec();
            v.extend([0, 3, 0]);
            v
        }),
        ("unknown api key", {
            let mut v = 10i32.to_be_bytes().to_vec();
            v.extend([0x03, 0xE7, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
            v
        }),
        ("unserved api", {
            let mut v = 10i32.to_be_bytes().to_vec();
            v.extend([0, 11, 0, 5, 0, 0, 0, 1, 0xff, 0xff]);
            v
        }),
        ("unsupported fetch version", {
            let mut v = 10i32.to_be_bytes().to_vec();
            v.extend([0, 1, 0, 99, 0, 0, 0, 1, 0xff, 0xff]);
            v
        }),
        ("garbage metadata body", {
            let mut v = 20i32.to_be_bytes().to_vec();
            v.extend([
                0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
                0x7f,
            ]);
            v
        }),
        // found by the request_decode fuzz target: a 14-byte Metadata v0 whose topic array
        // claims 0x40000040 entries made the codec reserve 77 GB and abort the process
        ("huge array length", {
            let mut v = 14i32.to_be_bytes().to_vec();
            v.extend([0, 3, 0, 0, 0, 0x23, 0x14, 0, 0, 0, 0x40, 0, 0, 0x40]);
            v
        }),
        ("huge compact array length", {
            let mut v = 16i32.to_be_bytes().to_vec();
            v.extend([
                0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
            ]);
            v
        }),
        ("truncated produce body", {
            let mut v = 14i32.to_be_bytes().to_vec();
            v.extend([0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff]);
            v
        }),
    ];
    for (what, bytes) in cases {
        let mut c = RawClient::connect(&addr).await.unwrap();
        c.send_raw(&bytes).await.unwrap();
        let answer = c.read_frame().await.unwrap();
        assert!(answer.is_none(), "{what}: the broker closes the connection");
        still_serving(&addr).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn idle_and_half_open_connections_are_closed() {
    let broker = TestBroker::start_with(&[("connections.max.idle.ms", "300")]).await;
    let addr = broker.bootstrap();
    let mut idle = RawClient::connect(&addr).await.unwrap();
    let mut half = RawClient::connect(&addr).await.unwrap();
    half.send_raw(&[0, 0, 0, 50, 0, 18]).await.unwrap(); // a frame that never finishes
    assert!(
        idle.read_frame().await.unwrap().is_none(),
        "idle connection closed after connections.max.idle.ms"
    );
    assert!(
        half.read_frame().await.unwrap().is_none(),
        "half-sent request closed after connections.max.idle.ms"
    );
    still_serving(&addr).await;
    broker.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("pipe");
    create(&mut c, &topic, 1).await;
    let mut frames = BytesMut::new();
    for i in 0..20 {
        frames.put(c.encode(
            &requests::produce(&topic, 0, record_batch(&[format!("v{i}").as_bytes()])),
            9,
        ));
        frames.put(c.encode(&MetadataRequest::default(), 12));
    }
    c.send_raw(&frames).await.unwrap();
    for i in 0..40 {
        let mut resp = c.read_frame().await.unwrap().unwrap();
        let corr = <ResponseHeader as kafka_protocol::protocol::Decodable>::decode(&mut resp, 1)
            .unwrap()
            .correlation_id;
        assert_eq!(corr, i + 2, "response {i} in request order");
    }
    assert_eq!(leo(&mut c, &topic).await, 20);
    broker.stop().await;
}

#[tokio::test]
async fn bad_batches_get_kafka_error_codes_and_the_log_stays_intact() {
    let broker = TestBroker::start_with(&[("message.max.bytes", "2000")]).await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("badbatch");
    create(&mut c, &topic, 1).await;
    assert_eq!(
        produce_code(&mut c, &topic, 0, record_batch(&[b"good"])).await,
        0
    );

    let good = record_batch(&[b"hello", b"world"]);
    let mut crc = BytesMut::from(&good[..]);
    let last = crc.len() - 1;
    crc[last] ^= 0x55;
    assert_eq!(
        produce_code(&mut c, &topic, 0, crc.freeze()).await,
        ErrorCode::CorruptMessage.code()
    );

    let mut offsets = BytesMut::from(&good[..]);
    offsets[23..27].copy_from_slice(&7i32.to_be_bytes()); // lastOffsetDelta != count-1 (CRC now also wrong)
    let code = produce_code(&mut c, &topic, 0, offsets.freeze()).await;
    assert!(code == ErrorCode::CorruptMessage.code() || code == ErrorCode::InvalidRecord.code());

    let mut magic = BytesMut::from(&good[..]);
    magic[16] = 1;
    assert_eq!(
        produce_code(&mut c, &topic, 0, magic.freeze()).await,
        ErrorCode::InvalidRecord.code()
    );

    assert_eq!(
        produce_code(&mut c, &topic, 0, good.slice(..40)).await,
        ErrorCode::InvalidRecord.code(),
        "truncated batch"
    );
    let mut two = BytesMut::from(&good[..]);
    two.extend_from_slice(&good);
    assert_eq!(
        produce_code(&mut c, &topic, 0, two.freeze()).await,
        ErrorCode::InvalidRecord.code(),
        "two batches in one partition"
    );
    assert_eq!(
        produce_code(&mut c, &topic, 0, Bytes::new()).await,
        ErrorCode::InvalidRecord.code(),
        "empty records"
    );

    let big = vec![b'x'; 3000];
    assert_eq!(
        produce_code(&mut c, &topic, 0, record_batch(&[&big])).await,
        ErrorCode::MessageTooLarge.code()
    );

    assert_eq!(
        produce_code(&mut c, &topic, 7, record_batch(&[b"x"])).await,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert_eq!(
        produce_code(&mut c, "no-such-topic", 0, record_batch(&[b"x"])).await,
        ErrorCode::UnknownTopicOrPartition.code()
    );

    let mut acks = requests::produce(&topic, 0, record_batch(&[b"x"]));
    acks.acks = 5;
    let resp = c.call(&acks, 9).await.unwrap().unwrap();
    assert_eq!(
        resp.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidRequiredAcks.code()
    );

    assert_eq!(
        leo(&mut c, &topic).await,
        1,
        "nothing but the one good batch was written"
    );
    let fetched = c.call(&fetch_req(&topic, 0, 0), 12).await.unwrap().unwrap();
    let records = fetched.responses[0].partitions[0].records.clone().unwrap();
    let mut buf = records.clone();
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
    assert_eq!(set.records.len(), 1);
    assert_eq!(set.records[0].value.as_deref(), Some(&b"good"[..]));
    broker.stop().await;
}

#[tokio::test]
async fn old_produce_versions_are_answered_unsupported_version() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    // Produce v2: acks=1, timeout, one topic "t" with partition 0 and a 3-byte message set.
    let mut body = BytesMut::new();
    body.put_slice(&[0, 0, 0, 2, 0, 0, 0, 9, 0, 2, b'c', b'l']);
    body.put_i16(1);
    body.put_i32(1000);
    body.put_i32(1);
    body.put_i16(1);
    body.put_slice(b"t");
    body.put_i32(1);
    body.put_i32(0);
    body.put_i32(3);
    body.put_slice(&[1, 2, 3]);
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.put(body);
    c.send_raw(&frame).await.unwrap();
    let resp = c.read_frame().await.unwrap().expect("answered, not closed");
    let expected: Vec<u8> = [
        &9i32.to_be_bytes()[..],
        &1i32.to_be_bytes(),
        &1i16.to_be_bytes(),
        b"t",
        &1i32.to_be_bytes(),
        &0i32.to_be_bytes(),
        &35i16.to_be_bytes(),
        &(-1i64).to_be_bytes(),
        &(-1i64).to_be_bytes(),
        &0i32.to_be_bytes(),
    ]
    .concat();
    assert_eq!(&resp[..], &expected[..]);
    still_serving(&broker.bootstrap()).await;
    broker.stop().await;
}

#[tokio::test]
async fn invalid_topics_absurd_partitions_and_unknown_partitions() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    for bad in ["", ".", "..", "has space", "slash/name", &"x".repeat(250)] {
        let r = create(&mut c, bad, 1).await;
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::InvalidTopicException.code(),
            "{bad:?}"
        );
    }
    for n in [0, -5] {
        let r = create(&mut c, &unique_name("parts"), n).await;
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::InvalidPartitions.code(),
            "{n}"
        );
    }
    // more than 10,000 partitions in one request: Kafka's controller refuses the request
    for n in [10_001, 1_000_000, i32::MAX] {
        let r = create(&mut c, &unique_name("parts"), n).await;
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::PolicyViolation.code(),
            "{n}"
        );
        assert_eq!(
            r.topics[0].error_message.as_deref(),
            Some("Excessively large number of partitions per request.")
        );
    }
    let topic = unique_name("known");
    create(&mut c, &topic, 2).await;
    let fetched = c.call(&fetch_req(&topic, 5, 0), 12).await.unwrap().unwrap();
    assert_eq!(
        fetched.responses[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let fetched = c
        .call(&fetch_req(&topic, 0, 42), 12)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fetched.responses[0].partitions[0].error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
    let fetched = c
        .call(&fetch_req(&topic, 0, -1), 12)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fetched.responses[0].partitions[0].error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
    let md = c
        .call(
            &MetadataRequest::default().with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(requests::topic_name("bad name!"))),
            ])),
            12,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        md.topics[0].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_at_once_are_all_served() {
    let _ = rlimit::increase_nofile_limit(1 << 16);
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let mut tasks = Vec::new();
    for _ in 0..2000 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = RawClient::connect(&addr).await?;
            let r = c.call(&ApiVersionsRequest::default(), 2).await?;
            tokio::time::sleep(Duration::from_millis(200)).await; // keep them open together
            Ok::<_, std::io::Error>(r.map(|r| r.error_code))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if let Ok(Ok(Some(0))) = t.await {
            ok += 1;
        }
    }
    assert_eq!(ok, 2000);
    still_serving(&addr).await;
    broker.stop().await;
}

#[tokio::test]
async fn acks_zero_gets_no_answer_and_a_failed_one_closes_the_connection() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("acks0");
    create(&mut c, &topic, 1).await;
    let mut ok = requests::produce(&topic, 0, record_batch(&[b"fire-and-forget"]));
    ok.acks = 0;
    let frame = c.encode(&ok, 9);
    c.send_raw(&frame).await.unwrap();
    // The next answer on the connection is for the next request: acks=0 produced none.
    assert_eq!(leo(&mut c, &topic).await, 1);
    let mut bad = requests::produce(&topic, 9, record_batch(&[b"nowhere"]));
    bad.acks = 0;
    let frame = c.encode(&bad, 9);
    c.send_raw(&frame).await.unwrap();
    assert!(
        c.read_frame().await.unwrap().is_none(),
        "failed acks=0 produce closes the connection"
    );
    still_serving(&broker.bootstrap()).await;
    broker.stop().await;
}

#[tokio::test]
async fn record_rules_of_the_topic_are_enforced_before_anything_is_written() {
    use kafka_protocol::messages::create_topics_request::CreatableTopicConfig;
    use kafka_protocol::records::Compression;
    use tributary_testkit::record_batch_with;
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    let topic = unique_name("rules");
    let configs = [
        ("cleanup.policy", "compact"),
        ("message.timestamp.before.max.ms", "3600000"),
        ("message.timestamp.after.max.ms", "3600000"),
        ("min.insync.replicas", "2"),
    ];
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(requests::topic_name(&topic))
        .with_num_partitions(1)
        .with_replication_factor(-1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str(k))
                        .with_value(Some(StrBytes::from_static_str(v)))
                })
                .collect(),
        )]);
    assert_eq!(
        c.call(&req, 7).await.unwrap().unwrap().topics[0].error_code,
        0
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let send = |records: Bytes, acks: i16| {
        let mut r = requests::produce(&topic, 0, records);
        r.acks = acks;
        r
    };
    // the offending records named (KIP-467): (batch index, message), and the batch's message
    let record_errors = |p: &produce_response::PartitionProduceResponse| -> Vec<(i32, String)> {
        p.record_errors
            .iter()
            .map(|e| {
                let m = e.batch_index_error_message.as_ref().map(|m| m.to_string());
                (e.batch_index, m.unwrap_or_default())
            })
            .collect()
    };
    for compression in [Compression::None, Compression::Gzip] {
        let null_key = record_batch_with(
            &[
                (Some(b"k"), b"v", now),
                (None, b"v", now),
                (None, b"w", now),
            ],
            compression,
        );
        let r = c.call(&send(null_key, 1), 9).await.unwrap().unwrap();
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code,
            ErrorCode::InvalidRecord.code(),
            "null key on a compacted topic"
        );
        let why = format!(
            "Compacted topic cannot accept message without key in topic partition {topic}-0"
        );
        assert_eq!(record_errors(p), vec![(1, why.clone()), (2, why.clone())]);
        assert_eq!(
            p.error_message.as_ref().map(|m| m.to_string()),
            Some(format!(
                "One or more records have been rejected due to 2 record errors in total, and only showing the first three errors at most: [RecordError(batchIndex=1, message='{why}'), RecordError(batchIndex=2, message='{why}')]"
            ))
        );
        let old = record_batch_with(
            &[(Some(b"k"), b"v", now), (Some(b"k"), b"v", now - 7_200_000)],
            compression,
        );
        let r = c.call(&send(old, 1), 9).await.unwrap().unwrap();
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code,
            ErrorCode::InvalidTimestamp.code(),
            "2 h old with before.max.ms=1h"
        );
        let errors = record_errors(p);
        assert_eq!(errors.len(), 1, "only the old record: {errors:?}");
        assert_eq!(errors[0].0, 1);
        assert!(
            errors[0].1.starts_with(&format!(
                "Timestamp {} of message with offset 1 is out of range. The timestamp should be within [",
                now - 7_200_000
            )),
            "{errors:?}"
        );
        assert_eq!(
            p.error_message.as_ref().map(|m| m.to_string()).as_deref(),
            Some("One or more records have been rejected due to invalid timestamp")
        );
        // Produce v7 has no record errors: the code alone
        let r = c
            .call(
                &send(record_batch_with(&[(None, b"v", now)], compression), 1),
                7,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            r.responses[0].partition_responses[0].error_code,
            ErrorCode::InvalidRecord.code()
        );
    }
    let future = record_batch_with(&[(Some(b"k"), b"v", now + 7_200_000)], Compression::None);
    let r = c.call(&send(future, 1), 9).await.unwrap().unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidTimestamp.code()
    );
    let good = record_batch_with(&[(Some(b"k"), b"v", now)], Compression::None);
    // Kafka 4 counts min.insync.replicas at most up to the replication factor (KIP-966): one
    // in-sync replica of one is enough for acks=all even with min.insync.replicas=2
    let r = c.call(&send(good.clone(), -1), 9).await.unwrap().unwrap();
    assert_eq!(
        r.responses[0].partition_responses[0].error_code, 0,
        "acks=all, min.insync.replicas=2 above the replication factor 1"
    );
    let r = c.call(&send(good, 1), 9).await.unwrap().unwrap();
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(leo(&mut c, &topic).await, 2);
    broker.stop().await;
}

/// Without an authorizer, the ACL APIs answer as a Kafka broker without one does:
/// SECURITY_DISABLED with Kafka's messages, for every creation and every filter.
#[tokio::test]
async fn acl_apis_answer_security_disabled_as_kafka_without_an_authorizer() {
    use kafka_protocol::messages::create_acls_request::AclCreation;
    use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
    for version in 1..=3 {
        let r = c
            .call(
                &DescribeAclsRequest::default().with_resource_type_filter(1),
                version,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.error_code, ErrorCode::SecurityDisabled.code());
        assert_eq!(
            r.error_message.as_deref(),
            Some("No Authorizer is configured on the broker")
        );
        assert!(r.resources.is_empty());
        let creation = AclCreation::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("t"))
            .with_resource_pattern_type(3)
            .with_principal(StrBytes::from_static_str("User:alice"))
            .with_host(StrBytes::from_static_str("*"))
            .with_operation(3)
            .with_permission_type(3);
        let r = c
            .call(
                &CreateAclsRequest::default().with_creations(vec![creation.clone(), creation]),
                version,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.results.len(), 2);
        for result in &r.results {
            assert_eq!(result.error_code, ErrorCode::SecurityDisabled.code());
            assert_eq!(
                result.error_message.as_deref(),
                Some("No Authorizer is configured.")
            );
        }
        let r = c
            .call(
                &DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
                    .with_resource_type_filter(1)
                    .with_pattern_type_filter(1)
                    .with_operation(1)
                    .with_permission_type(1)]),
                version,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.filter_results.len(), 1);
        assert_eq!(
            r.filter_results[0].error_code,
            ErrorCode::SecurityDisabled.code()
        );
        assert!(r.filter_results[0].matching_acls.is_empty());
    }
    broker.stop().await;
}
