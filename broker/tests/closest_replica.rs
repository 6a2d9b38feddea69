//! Fetching from the closest replica (KIP-392) in an in-process cluster of three brokers in
//! three racks, with `replica.selector.class` set to Kafka's rack-aware selector: a leader sends
//! a consumer of another rack to the in-sync replica of that rack, the follower serves it up to
//! its high watermark, older fetch versions still read from leaders only, and librdkafka with
//! `client.rack` reads every record from its rack's replica.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::protocol::StrBytes;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use tributary_broker::error::ErrorCode;
use tributary_testkit::{unique_name, RawClient, TestCluster};

const RACK_AWARE: &str = "org.apache.kafka.common.replica.RackAwareReplicaSelector";
const RECORDS: usize = 300;

async fn cluster() -> TestCluster {
    TestCluster::start(
        3,
        &[
            ("broker.rack", "rack-{id}"),
            ("replica.selector.class", RACK_AWARE),
        ],
    )
    .await
}

fn client(cluster: &TestCluster) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cluster.bootstrap())
        .set("socket.timeout.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "500");
    c
}

/// `topic` with one partition on `replicas` (led by the first), `RECORDS` records written with
/// acks=all, and every replica in sync with the leader's high watermark.
async fn topic_with_records(cluster: &TestCluster, replicas: &[i32]) -> String {
    let topic = unique_name("racks");
    cluster.create_topic_on(&topic, replicas).await;
    cluster
        .wait_for(Duration::from_secs(20), |img| {
            img.topics.get(&topic).is_some_and(|t| {
                t.partitions[0].leader == replicas[0] && t.partitions[0].isr.len() == replicas.len()
            })
        })
        .await;
    cluster.produce_numbered(&topic, RECORDS).await;
    // the followers learn the high watermark on their next fetch
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for &id in &replicas[1..] {
        loop {
            let p = cluster.broker(id).state().replicas.get(&topic, 0).unwrap();
            if p.offsets().high_watermark == RECORDS as i64 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "broker {id} lags");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    topic
}

/// A consumer's fetch of `topic`-0 from `offset` sent to broker `to` at `version`, from `rack`.
async fn fetch(
    cluster: &TestCluster,
    to: i32,
    topic: &str,
    offset: i64,
    version: i16,
    rack: &str,
) -> PartitionData {
    let image = cluster.image();
    let t = &image.topics[topic];
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(offset)
        .with_current_leader_epoch(t.partitions[0].leader_epoch)
        .with_partition_max_bytes(1 << 20);
    let ft = if version >= 13 {
        FetchTopic::default().with_topic_id(t.id)
    } else {
        FetchTopic::default().with_topic(tributary_testkit::requests::topic_name(topic))
    };
    let mut req = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![ft.with_partitions(vec![partition])]);
    if version >= 11 {
        req = req.with_rack_id(StrBytes::from(rack.to_string()));
    }
    let addr = cluster.broker(to).local_addr().to_string();
    let mut raw = RawClient::connect(&addr).await.unwrap();
    let resp: FetchResponse = raw.call(&req, version).await.unwrap().unwrap();
    resp.responses[0].partitions[0].clone()
}

/// The offsets of the records in a fetched records field.
fn offsets(p: &PartitionData) -> Vec<i64> {
    let mut bytes = p.records.clone().unwrap_or_default();
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
        out.extend(set.records.iter().map(|r| r.offset));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_sends_a_consumer_to_its_racks_replica_and_the_follower_serves_it() {
    let cluster = cluster().await;
    let topic = topic_with_records(&cluster, &[1, 2, 3]).await;

    // the leader (rack-1) points a rack-2 consumer at broker 2, with no records
    let p = fetch(&cluster, 1, &topic, 0, 16, "rack-2").await;
    assert_eq!(p.error_code, 0);
    assert_eq!(p.preferred_read_replica, 2);
    assert!(p.records.unwrap_or_default().is_empty());
    assert_eq!(p.high_watermark, RECORDS as i64);
    // a consumer in the leader's rack, one without a rack and one in an unknown rack read here
    for rack in ["rack-1", "", "rack-9"] {
        let p = fetch(&cluster, 1, &topic, 0, 16, rack).await;
        assert_eq!(p.preferred_read_replica, -1, "rack {rack:?}");
        assert_eq!(offsets(&p).first(), Some(&0), "rack {rack:?}");
    }

    // the follower serves the consumer up to its high watermark
    let p = fetch(&cluster, 2, &topic, 0, 16, "rack-2").await;
    assert_eq!(p.error_code, 0);
    assert_eq!(p.preferred_read_replica, -1);
    let got = offsets(&p);
    assert_eq!(got, (0..RECORDS as i64).collect::<Vec<_>>());
    // at its high watermark: nothing yet; beyond its log end: out of range
    let p = fetch(&cluster, 2, &topic, RECORDS as i64, 16, "rack-2").await;
    assert_eq!(p.error_code, 0);
    assert!(offsets(&p).is_empty());
    let p = fetch(&cluster, 2, &topic, RECORDS as i64 + 10, 16, "rack-2").await;
    assert_eq!(p.error_code, ErrorCode::OffsetOutOfRange.code());

    // before v11 a consumer reads from leaders only
    let p = fetch(&cluster, 2, &topic, 0, 10, "").await;
    assert_eq!(p.error_code, ErrorCode::NotLeaderOrFollower.code());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_selector_consumers_read_from_leaders() {
    let cluster = TestCluster::start(2, &[("broker.rack", "rack-{id}")]).await;
    let topic = topic_with_records(&cluster, &[1, 2]).await;
    let p = fetch(&cluster, 1, &topic, 0, 16, "rack-2").await;
    assert_eq!(p.error_code, 0);
    assert_eq!(p.preferred_read_replica, -1);
    cluster.shutdown().await;
}

/// Keeps librdkafka's latest statistics.
#[derive(Clone, Default)]
struct Stats(Arc<Mutex<Option<Statistics>>>);

impl ClientContext for Stats {
    fn stats(&self, statistics: Statistics) {
        *self.0.lock().unwrap() = Some(statistics);
    }
}

impl ConsumerContext for Stats {}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn librdkafka_with_client_rack_reads_everything_from_its_racks_replica() {
    let cluster = cluster().await;
    let topic = topic_with_records(&cluster, &[1, 2, 3]).await;
    let stats = Stats::default();
    let consumer: BaseConsumer<Stats> = client(&cluster)
        .set("group.id", unique_name("rack3"))
        .set("client.rack", "rack-3")
        .set("statistics.interval.ms", "200")
        .create_with_context(stats.clone())
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while got.len() < RECORDS && std::time::Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    let want: Vec<String> = (0..RECORDS).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want);
    // librdkafka reports which broker it fetches the partition from: rack-3's, not the leader
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let _ = consumer.poll(Duration::from_millis(100));
        let fetching_from = stats.0.lock().unwrap().as_ref().and_then(|s| {
            let p = s.topics.get(&topic)?.partitions.get(&0)?;
            Some((p.leader, p.broker))
        });
        if fetching_from == Some((1, 3)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "(leader, broker fetched from): {fetching_from:?}"
        );
    }
    // (closed while the brokers run: a consumer closed after them retries for its session)
    drop(consumer);
    cluster.shutdown().await;
}
