//! A replicated cluster inside the test process: N brokers on loopback ports with their own
//! data directories, and one controller (its metadata log in a directory of its own) that the
//! brokers reach over TCP, as brokers of separate processes do: they register, heartbeat, send
//! their ISR changes and fetch the metadata through its listener. Brokers can be killed (a crash: no controlled shutdown, heartbeats stop, the
//! controller fences them after `broker.session.timeout.ms`), stopped cleanly, and restarted on
//! the same port and data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tributary_broker::metadata::{Controller, FileMetadataLog, MetadataImage};
use tributary_broker::{BrokerConfig, BrokerHandle};

/// Settings that make failure detection and ISR changes quick enough for tests.
const FAST: &[(&str, &str)] = &[
    ("broker.session.timeout.ms", "1500"),
    ("broker.heartbeat.interval.ms", "100"),
    ("replica.lag.time.max.ms", "2000"),
    ("replica.fetch.wait.max.ms", "200"),
    ("replica.fetch.backoff.ms", "100"),
    ("leader.imbalance.check.interval.seconds", "3600"),
    ("offsets.topic.num.partitions", "3"),
    ("transaction.state.log.num.partitions", "3"),
];

struct Member {
    handle: Option<BrokerHandle>,
    dir: tempfile::TempDir,
    port: u16,
}

/// An in-process cluster of brokers sharing one controller.
pub struct TestCluster {
    controller: Controller,
    controller_addr: String,
    _controller_dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
    members: BTreeMap<i32, Member>,
    props: BTreeMap<String, String>,
}

impl TestCluster {
    /// Starts `n` brokers (ids 1..=n) with extra properties (Kafka names), and waits until every
    /// one is registered and unfenced. `{id}` in a value stands for each broker's id
    /// (`("broker.rack", "rack-{id}")`).
    pub async fn start(n: i32, props: &[(&str, &str)]) -> TestCluster {
        let controller_dir = tempfile::Builder::new()
            .prefix("tributary-controller-")
            .tempdir()
            .expect("temp dir");
        let mut map: BTreeMap<String, String> = FAST
            .iter()
            .chain(props.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert(
            "log.dirs".into(),
            controller_dir.path().display().to_string(),
        );
        let config = Arc::new(BrokerConfig::from_props(map.clone()).expect("valid config"));
        let log = FileMetadataLog::open(&controller_dir.path().join("__cluster_metadata-0"))
            .expect("metadata log");
        let controller = Controller::open_cluster(
            Box::new(log),
            config,
            tributary_broker::meta_properties::random_uuid(),
        )
        .expect("controller");
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(controller.clone().run_periodic(stop_rx.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("controller listener");
        let controller_addr = listener.local_addr().expect("address").to_string();
        tokio::spawn(tributary_broker::metadata::remote::serve(
            listener,
            controller.clone(),
            stop_rx,
        ));
        let mut cluster = TestCluster {
            controller,
            controller_addr,
            _controller_dir: controller_dir,
            stop,
            members: BTreeMap::new(),
            props: map,
        };
        for id in 1..=n {
            let dir = tempfile::Builder::new()
                .prefix(&format!("tributary-node{id}-"))
                .tempdir()
                .expect("temp dir");
            cluster.members.insert(
                id,
                Member {
                    handle: None,
                    dir,
                    port: 0,
                },
            );
            cluster.boot(id).await;
        }
        cluster
            .wait_for(Duration::from_secs(20), |img| {
                img.unfenced_brokers().len() == n as usize
            })
            .await;
        cluster
    }

    async fn boot(&mut self, id: i32) {
        let member = self.members.get_mut(&id).expect("member");
        let mut props: BTreeMap<String, String> = self
            .props
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("{id}", &id.to_string())))
            .collect();
        props.insert("node.id".into(), id.to_string());
        props.insert("log.dirs".into(), member.dir.path().display().to_string());
        props.insert(
            "listeners".into(),
            format!("PLAINTEXT://127.0.0.1:{}", member.port),
        );
        let config = BrokerConfig::from_props(props).expect("valid member config");
        let remote = Controller::connect(
            Arc::new(config.clone()),
            &[(0, self.controller_addr.clone())],
        )
        .await
        .expect("controller reachable");
        let handle = tributary_broker::start_member(config, remote)
            .await
            .expect("member starts");
        member.port = handle.local_addr().port();
        member.handle = Some(handle);
    }

    /// The bytes of broker `id`'s log of partition `p` of `topic`, from its log start to its log
    /// end, whole batches only: replicas of one partition must hold the same.
    pub fn replica_log(&self, id: i32, topic: &str, p: i32) -> Vec<u8> {
        let part = self
            .broker(id)
            .state()
            .replicas
            .get(topic, p)
            .expect("replica hosted");
        let end = part.offsets().log_end_offset;
        let mut out = Vec::new();
        let mut offset = part.offsets().log_start_offset;
        while offset < end {
            let (info, _) = part
                .read_for_replica(offset, 1 << 20)
                .expect("readable log");
            let Some(slice) = info.slice else { break };
            let chunk = slice.read().expect("readable log");
            let mut pos = 0;
            while pos + tributary_broker::log::BATCH_HEADER_LEN <= chunk.len() {
                let h = tributary_broker::log::BatchHeader::parse(&chunk[pos..]).expect("batch");
                if pos + h.size() > chunk.len() {
                    break;
                }
                out.extend_from_slice(&chunk[pos..pos + h.size()]);
                offset = h.next_offset();
                pos += h.size();
            }
        }
        out
    }

    /// What a failed test prints: each partition of `topics` (placement, and every running
    /// replica's offsets and open transactions), then every transaction the running brokers
    /// coordinate.
    pub fn describe(&self, topics: &[&str]) -> String {
        let brokers = self
            .members
            .iter()
            .filter_map(|(id, m)| m.handle.as_ref().map(|h| (*id, h)));
        crate::describe_brokers(&self.image(), brokers, topics)
    }

    /// The controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// The running broker `id`.
    pub fn broker(&self, id: i32) -> &BrokerHandle {
        self.members[&id].handle.as_ref().expect("broker running")
    }

    /// `host:port` of every running broker, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.members
            .values()
            .filter(|m| m.handle.is_some())
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills broker `id` as a crash would.
    pub async fn kill(&mut self, id: i32) {
        if let Some(h) = self.members.get_mut(&id).and_then(|m| m.handle.take()) {
            h.kill().await;
        }
    }

    /// Stops broker `id` cleanly (controlled shutdown).
    pub async fn stop_broker(&mut self, id: i32) {
        if let Some(h) = self.members.get_mut(&id).and_then(|m| m.handle.take()) {
            h.shutdown().await;
        }
    }

    /// Starts broker `id` again on its port and data, and waits until it is unfenced.
    pub async fn restart(&mut self, id: i32) {
        self.boot(id).await;
        self.wait_for(Duration::from_secs(20), |img| {
            img.brokers.get(&id).is_some_and(|b| !b.fenced)
        })
        .await;
    }

    /// Creates `topic` with one partition on `replicas` (the first leads), panicking on failure.
    pub async fn create_topic_on(&self, topic: &str, replicas: &[i32]) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            rdkafka::ClientConfig::new()
                .set("bootstrap.servers", self.bootstrap())
                .create()
                .expect("admin client");
        let assignment = [replicas];
        let t = NewTopic::new(topic, 1, TopicReplication::Variable(&assignment));
        let r = admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .expect("CreateTopics answered");
        assert!(r[0].is_ok(), "{r:?}");
    }

    /// Asks (AlterPartitionReassignments, over the wire) for `topic`-0 to move to `replicas`
    /// (`None`: cancel its reassignment); returns the partition's error code.
    pub async fn reassign(&self, topic: &str, replicas: Option<&[i32]>) -> i16 {
        use kafka_protocol::messages::alter_partition_reassignments_request::{
            ReassignablePartition, ReassignableTopic,
        };
        use kafka_protocol::messages::{
            AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
        };
        let req = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![ReassignableTopic::default()
                .with_name(crate::requests::topic_name(topic))
                .with_partitions(vec![ReassignablePartition::default()
                    .with_partition_index(0)
                    .with_replicas(
                        replicas.map(|r| r.iter().map(|b| BrokerId(*b)).collect()),
                    )])]);
        let first = self
            .bootstrap()
            .split(',')
            .next()
            .unwrap_or_default()
            .to_string();
        let resp: AlterPartitionReassignmentsResponse = crate::RawClient::connect(&first)
            .await
            .expect("broker reachable")
            .call(&req, 0)
            .await
            .expect("answered")
            .expect("decodable");
        assert_eq!(resp.error_code, 0, "{resp:?}");
        resp.responses[0].partitions[0].error_code
    }

    /// Writes `v0`, `v1`, ... `v<n-1>` to `topic` with acks=all, one after the other.
    pub async fn produce_numbered(&self, topic: &str, n: usize) {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let producer: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("acks", "all")
            .create()
            .expect("producer");
        for i in 0..n {
            let v = format!("v{i}");
            producer
                .send(
                    FutureRecord::<(), _>::to(topic).payload(&v),
                    Duration::from_secs(20),
                )
                .await
                .expect("acks=all write");
        }
    }

    /// Waits until `done` holds for the image, panicking after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&MetadataImage) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.controller.subscribe();
        loop {
            if done(&rx.borrow_and_update()) {
                return;
            }
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    panic!("cluster did not reach the expected state in {timeout:?}: {:?}", self.image().brokers);
                }
            }
        }
    }

    /// Stops every broker cleanly and the controller's periodic work.
    pub async fn shutdown(mut self) {
        let ids: Vec<i32> = self.members.keys().copied().collect();
        for id in ids {
            self.stop_broker(id).await;
        }
        let _ = self.stop.send(true);
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
