//! # tributary-testkit
//!
//! Dev-only helpers for tests: in-process brokers on port 0 with temporary data directories,
//! client configs pointed at them, unique names, and a raw protocol client for sending
//! hand-made (and malformed) requests, the Java oracles ([`java`]) that run Kafka's own jars,
//! and private PostgreSQL servers ([`postgres`]) for the JDBC connectors' tests, Redis servers
//! ([`redis`]) and MQTT brokers ([`mqtt`]) for the Redis and MQTT connectors' tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::Request;
use rdkafka::config::ClientConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tributary_broker::{BrokerConfig, BrokerHandle};

mod cluster;
pub use cluster::TestCluster;
pub mod faults;
pub mod java;
pub mod postgres;
pub use postgres::Postgres;
pub mod redis;
mod services;
pub use redis::RedisServer;
pub mod mqtt;
pub use mqtt::MqttBroker;

/// A broker running inside the test process, on 127.0.0.1 with a free port and its own data
/// directory (removed when the `TestBroker` is dropped).
pub struct TestBroker {
    handle: Option<BrokerHandle>,
    dir: tempfile::TempDir,
    props: BTreeMap<String, String>,
}

/// A name no other test run uses: `prefix-<uuid>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl TestBroker {
    /// Starts a broker with default settings.
    pub async fn start() -> TestBroker {
        Self::start_with(&[]).await
    }

    /// Starts a broker with extra properties (Kafka names), e.g. `("num.partitions", "3")`.
    pub async fn start_with(props: &[(&str, &str)]) -> TestBroker {
        let dir = tempfile::Builder::new()
            .prefix("tributary-test-")
            .tempdir()
            .expect("temp dir");
        let mut map: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("listeners".into())
            .or_insert_with(|| "PLAINTEXT://127.0.0.1:0".into());
        map.insert("log.dirs".into(), dir.path().display().to_string());
        let mut broker = TestBroker {
            handle: None,
            dir,
            props: map,
        };
        broker.boot().await;
        broker
    }

    async fn boot(&mut self) {
        let config =
            BrokerConfig::from_props(self.props.clone()).expect("valid test broker config");
        self.handle = Some(
            tributary_broker::start(config)
                .await
                .expect("broker starts"),
        );
    }

    /// `host:port` of the listener.
    pub fn bootstrap(&self) -> String {
        self.handle
            .as_ref()
            .expect("broker running")
            .local_addr()
            .to_string()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// What a failed test prints: each partition of `topics` (offsets and open transactions),
    /// then every transaction the broker coordinates.
    pub fn describe(&self, topics: &[&str]) -> String {
        let h = self.handle();
        let image = h.state().image();
        describe_brokers(&image, [(h.state().config.node_id, h)].into_iter(), topics)
    }

    /// The running broker's handle.
    pub fn handle(&self) -> &BrokerHandle {
        self.handle.as_ref().expect("broker running")
    }

    /// Stops the broker cleanly and starts it again on the same data directory and port.
    pub async fn restart(&mut self) {
        let addr = self.bootstrap();
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
        self.props
            .insert("listeners".into(), format!("PLAINTEXT://{addr}"));
        self.boot().await;
    }

    /// A client config with `bootstrap.servers` set and quick failure on a dead broker.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap())
            .set("message.timeout.ms", "20000")
            .set("socket.timeout.ms", "10000");
        c
    }

    /// A consumer config: unique group id (never committed), no auto commit, earliest reset.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        c.set("group.id", unique_name("test-group"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100");
        c
    }

    /// Creates `topic` with `partitions` partitions (one replica) through the admin client;
    /// panics when the broker refuses.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            self.client_config().create().expect("admin client");
        let t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        for r in admin
            .create_topics([&t], &AdminOptions::new())
            .await
            .expect("CreateTopics answered")
        {
            r.unwrap_or_else(|(name, code)| panic!("topic {name} not created: {code}"));
        }
    }

    /// Stops the broker cleanly.
    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// Copies of the temp dir path, for tests that inspect files.
    pub fn data_path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// A bare Kafka protocol connection for sending exact requests, including broken ones.
pub struct RawClient {
    stream: TcpStream,
    correlation: i32,
}

impl RawClient {
    /// Connects to `addr`.
    pub async fn connect(addr: &str) -> std::io::Result<RawClient> {
        Ok(RawClient {
            stream: TcpStream::connect(addr).await?,
            correlation: 0,
        })
    }

    /// Sends raw bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads one response frame (without the size prefix), or `None` if the broker closed
    /// the connection; gives up after 10 s.
    pub async fn read_frame(&mut self) -> std::io::Result<Option<Bytes>> {
        tokio::time::timeout(
            Duration::from_secs(10),
            tributary_broker::wire::read_frame(&mut self.stream),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no response in 10 s"))?
    }

    /// Encodes a request frame for `req` at `version` with this client's next correlation id.
    pub fn encode<R: Request>(&mut self, req: &R, version: i16) -> Bytes {
        self.correlation += 1;
        tributary_broker::wire::encode_request(req, version, self.correlation, "testkit")
            .expect("encode request")
    }

    /// Sends `req` at `version` and decodes the answer; `None` if the connection was closed.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> std::io::Result<Option<R::Response>> {
        let frame = self.encode(req, version);
        self.send_raw(&frame).await?;
        let Some(resp) = self.read_frame().await? else {
            return Ok(None);
        };
        let (correlation, body) = tributary_broker::wire::decode_response::<R>(resp, version)?;
        assert_eq!(
            correlation, self.correlation,
            "responses come back in order"
        );
        Ok(Some(body))
    }
}

/// A record to encode: key (or null), value, timestamp.
pub type TestRecord<'a> = (Option<&'a [u8]>, &'a [u8], i64);

/// An uncompressed magic-2 record batch holding `values` (keys `k0`, `k1`, ...), encoded the
/// way a client encodes it, with valid CRC.
pub fn record_batch(values: &[&[u8]]) -> Bytes {
    let keys: Vec<String> = (0..values.len()).map(|i| format!("k{i}")).collect();
    let records: Vec<TestRecord<'_>> = values
        .iter()
        .zip(&keys)
        .map(|(v, k)| (Some(k.as_bytes()), *v, 1_700_000_000_000))
        .collect();
    record_batch_with(&records, kafka_protocol::records::Compression::None)
}

/// A magic-2 record batch of `(key, value, timestamp)` records with the given compression.
pub fn record_batch_with(
    records: &[TestRecord<'_>],
    compression: kafka_protocol::records::Compression,
) -> Bytes {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // the encoder keeps records in one batch while offset - sequence is constant;
            // base sequence -1 (no idempotence) then needs sequence = offset - 1
            sequence: i as i32 - 1,
            timestamp: *ts,
            key: k.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(v)),
            headers: indexmap::IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// A batch from producer `producer_id` at `epoch` whose records carry sequences from
/// `base_sequence` on, as an idempotent (or, with `transactional`, a transactional) producer
/// writes it.
pub fn producer_batch(
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    values: &[&[u8]],
    transactional: bool,
) -> Bytes {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_sequence + i as i32,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::copy_from_slice(v)),
            headers: indexmap::IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: kafka_protocol::records::Compression::None,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// A child process that is asked to stop with `signal` (`TERM`, `INT`) when dropped, and
/// killed if it has not stopped 15 s later.
pub struct StopOnDrop {
    /// The process.
    pub child: std::process::Child,
    /// The signal's name, as `kill -<signal>` takes it.
    pub signal: &'static str,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = std::process::Command::new("kill")
            .arg(format!("-{}", self.signal))
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tributary server` child process (for tests that kill, restart or drive the CLI), on
/// 127.0.0.1 at a fixed port so that it can be restarted on the same address.
pub struct ServerProcess {
    child: std::process::Child,
    port: u16,
}

/// Waits until something accepts connections on 127.0.0.1:`port`, panicking after `limit`.
fn wait_listening(port: u16, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "server did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl ServerProcess {
    /// Starts `binary server` on `port` with `data_dir` and waits until it listens (30 s max).
    pub fn start(binary: &str, data_dir: &Path, port: u16) -> ServerProcess {
        Self::start_with(binary, data_dir, port, &[])
    }

    /// [`ServerProcess::start`] with broker properties, e.g. `("log.cleaner.backoff.ms", "50")`.
    pub fn start_with(
        binary: &str,
        data_dir: &Path,
        port: u16,
        props: &[(&str, &str)],
    ) -> ServerProcess {
        let mut cmd = std::process::Command::new(binary);
        cmd.args([
            "server",
            "--no-connect",
            "--no-ksql",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir);
        for (k, v) in props {
            cmd.arg("--override").arg(format!("{k}={v}"));
        }
        let child = cmd
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tributary server");
        wait_listening(port, Duration::from_secs(30));
        ServerProcess { child, port }
    }

    /// Starts `binary server --config CONFIG` (a cluster node's properties file) and waits until
    /// its broker listener on `port` accepts connections (60 s max: a broker waits for its
    /// controller).
    pub fn start_config(binary: &str, config: &Path, port: u16) -> ServerProcess {
        let server = Self::spawn_config(binary, config, port);
        server.wait_listening();
        server
    }

    /// Starts `binary server --config CONFIG` without waiting: the members of a controller
    /// quorum wait for each other, so they are all started before any is waited for. Its log
    /// (warnings and errors) goes to CONFIG with the extension `log`.
    pub fn spawn_config(binary: &str, config: &Path, port: u16) -> ServerProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_extension("log"))
            .map(std::process::Stdio::from)
            .unwrap_or_else(|_| std::process::Stdio::null());
        let child = std::process::Command::new(binary)
            .args(["server", "--no-connect", "--no-ksql"])
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tributary server");
        ServerProcess { child, port }
    }

    /// Waits until the broker listener accepts connections (60 s max).
    pub fn wait_listening(&self) {
        wait_listening(self.port, Duration::from_secs(60));
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Requests for [`RawClient`], built the way a client builds them.
pub mod requests {
    use bytes::Bytes;
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        BrokerId, CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;

    /// A topic name field.
    pub fn topic_name(s: &str) -> TopicName {
        TopicName(StrBytes::from_string(s.to_string()))
    }

    /// CreateTopics for one topic with the broker's default replication factor.
    pub fn create_topic(topic: &str, partitions: i32) -> CreateTopicsRequest {
        CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)])
    }

    /// Produce of `records` to one partition with acks=all.
    pub fn produce(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])])
    }

    /// FindCoordinator for a group (v3: one key).
    pub fn find_coordinator(group: &str) -> kafka_protocol::messages::FindCoordinatorRequest {
        kafka_protocol::messages::FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(group.to_string()))
            .with_key_type(0)
    }

    /// JoinGroup of a "consumer" group member with one protocol ("range") and its metadata.
    pub fn join_group(
        group: &str,
        member_id: &str,
        session_timeout_ms: i32,
        metadata: Bytes,
    ) -> kafka_protocol::messages::JoinGroupRequest {
        use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
        kafka_protocol::messages::JoinGroupRequest::default()
            .with_group_id(group_id(group))
            .with_session_timeout_ms(session_timeout_ms)
            .with_rebalance_timeout_ms(session_timeout_ms)
            .with_member_id(StrBytes::from_string(member_id.to_string()))
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(metadata)])
    }

    /// SyncGroup; the leader passes `(member, assignment)` pairs.
    pub fn sync_group(
        group: &str,
        generation: i32,
        member_id: &str,
        assignments: &[(&str, Bytes)],
    ) -> kafka_protocol::messages::SyncGroupRequest {
        use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
        kafka_protocol::messages::SyncGroupRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member_id.to_string()))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(StrBytes::from_string(m.to_string()))
                            .with_assignment(a.clone())
                    })
                    .collect(),
            )
    }

    /// Heartbeat.
    pub fn heartbeat(
        group: &str,
        generation: i32,
        member_id: &str,
    ) -> kafka_protocol::messages::HeartbeatRequest {
        kafka_protocol::messages::HeartbeatRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member_id.to_string()))
    }

    /// OffsetCommit of one partition (generation -1 and no member: a standalone consumer).
    pub fn offset_commit(
        group: &str,
        generation: i32,
        member_id: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> kafka_protocol::messages::OffsetCommitRequest {
        use kafka_protocol::messages::offset_commit_request::{
            OffsetCommitRequestPartition, OffsetCommitRequestTopic,
        };
        kafka_protocol::messages::OffsetCommitRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(StrBytes::from_string(member_id.to_string()))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)])])
    }

    /// OffsetFetch (v1-v7 layout) of one partition.
    pub fn offset_fetch(
        group: &str,
        topic: &str,
        partition: i32,
    ) -> kafka_protocol::messages::OffsetFetchRequest {
        use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
        kafka_protocol::messages::OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partition_indexes(vec![partition])]))
    }

    /// DescribeGroups of one group.
    pub fn describe_group(group: &str) -> kafka_protocol::messages::DescribeGroupsRequest {
        kafka_protocol::messages::DescribeGroupsRequest::default()
            .with_groups(vec![group_id(group)])
    }

    /// A group id field.
    pub fn group_id(s: &str) -> kafka_protocol::messages::GroupId {
        kafka_protocol::messages::GroupId(StrBytes::from_string(s.to_string()))
    }

    /// Fetch of one partition from `offset`, waiting up to `max_wait_ms` for `min_bytes`.
    pub fn fetch(
        topic: &str,
        partition: i32,
        offset: i64,
        max_wait_ms: i32,
        min_bytes: i32,
    ) -> FetchRequest {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(min_bytes)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])])
    }
}

/// Each partition of `topics` (placement, and each of `brokers`' replica offsets and open
/// transactions), then every transaction `brokers` coordinate: what a failed test prints.
pub fn describe_brokers<'a>(
    image: &tributary_broker::metadata::MetadataImage,
    brokers: impl Iterator<Item = (i32, &'a BrokerHandle)>,
    topics: &[&str],
) -> String {
    use std::fmt::Write;
    let brokers: Vec<(i32, &BrokerHandle)> = brokers.collect();
    let mut out = String::new();
    for topic in topics {
        let Some(t) = image.topics.get(*topic) else {
            let _ = writeln!(out, "{topic}: not in the metadata");
            continue;
        };
        for (p, placement) in t.partitions.iter().enumerate() {
            let p = p as i32;
            let _ = writeln!(
                out,
                "{topic}-{p}: leader {} (epoch {}), isr {:?}",
                placement.leader, placement.leader_epoch, placement.isr
            );
            for (id, h) in &brokers {
                let Some(part) = h.state().replicas.get(topic, p) else {
                    continue;
                };
                let o = part.offsets();
                let open: Vec<(i64, i16, i64)> = part
                    .producers()
                    .iter()
                    .filter_map(|e| {
                        e.current_txn_first_offset
                            .map(|f| (e.producer_id, e.epoch, f))
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "  broker {id}: log end {}, high watermark {}, last stable {}, open transactions (producer, epoch, first offset) {open:?}",
                    o.log_end_offset, o.high_watermark, o.last_stable_offset
                );
            }
        }
    }
    for (id, h) in &brokers {
        let (txns, loading) = h.state().txns.list();
        let _ = writeln!(
            out,
            "transactions coordinated by broker {id} (loading: {loading}):"
        );
        for t in txns {
            let _ = writeln!(out, "  {t:?}");
        }
    }
    out
}
