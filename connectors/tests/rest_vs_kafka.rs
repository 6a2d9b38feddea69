//! Our REST API against Kafka Connect 4.4's, answer by answer: the requests recorded in
//! `connect/tests/fixtures/kafka-connect-rest.md` are replayed against a standalone worker (on an
//! in-process broker) in the recorded order, and each answer's status, `Content-Type`,
//! `Location` and JSON body are compared with Kafka's (see `fixture.rs` for what is
//! normalized). The standalone sections (S1–S40) are replayed as recorded, with a test plugin
//! in the place of the recording's `FailingSourceConnector`; the distributed sections that
//! apply to a standalone worker follow in `distributed_sections`. Where we answer differently
//! on purpose, the comparison says so (`Opts::adjust`) and why.
//!
//! Not replayed: `/admin/loggers` (not implemented), the distributed-only behaviour
//! (forwarding, rebalances), and answers that depend on a moment (a status "right after" a
//! change, which our synchronous herder never shows).

mod common;
#[path = "rest_vs_kafka/distributed.rs"]
mod distributed;
#[path = "rest_vs_kafka/fixture.rs"]
mod fixture;

use common::{append, ConnectWorker};
use fixture::{Expected, Opts, Replay, J};
use tributary_connect::config::Config;
use tributary_connect::connector::{
    ConnectError, ConnectorInstance, ConnectorPlugin, ConnectorType, Plugins, SourceConnector,
    SourceTask,
};
use tributary_connect::herder::Herder;
use tributary_connect::worker::TargetState;
use tributary_testkit::TestBroker;

/// The recording's test plugin: a source connector whose `start` fails.
struct FailingSourceConnector;

impl SourceConnector for FailingSourceConnector {
    fn start(&mut self, _config: &Config) -> Result<(), ConnectError> {
        Err(ConnectError::Fatal(
            "connector start failed on purpose".into(),
        ))
    }
    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(Vec::new())
    }
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(tributary_connectors::file::FileStreamSourceTask::default())
    }
}

fn failing_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "tributary.fixture.FailingSourceConnector",
        kind: ConnectorType::Source,
        version: "1.0",
        task_class: "tributary.fixture.FailingSourceTask",
        config: &[],
        create: || ConnectorInstance::Source(Box::new(FailingSourceConnector)),
    }
}

/// The converters of Kafka's standalone.properties (`ConnectWorker` flushes offsets every
/// 200 ms where Kafka's did every 2 s).
const WORKER: &[(&str, &str)] = &[
    (
        "key.converter",
        "org.apache.kafka.connect.json.JsonConverter",
    ),
    (
        "value.converter",
        "org.apache.kafka.connect.json.JsonConverter",
    ),
    ("key.converter.schemas.enable", "false"),
    ("value.converter.schemas.enable", "false"),
];

/// A test's worker, its files (Kafka's `/tmp/kcref/files`) and the replayer.
struct Setup {
    _broker: TestBroker,
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    worker: ConnectWorker,
    r: Replay,
}

async fn setup(with_failing_plugin: bool) -> Setup {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("the files dir");
    // the plugins the recorded Kafka Connect workers had (their plugin lists are compared)
    let mut plugins = Plugins::new();
    plugins.register(tributary_connectors::file::source_plugin());
    plugins.register(tributary_connectors::file::sink_plugin());
    plugins.register(tributary_connectors::http::sink_plugin());
    if with_failing_plugin {
        plugins.register(failing_plugin());
    }
    let worker = ConnectWorker::start_with_plugins(
        &broker,
        &dir.path().join("standalone.offsets"),
        WORKER,
        plugins,
    )
    .await;
    let r = Replay::new(&worker.url, &files.display().to_string());
    Setup {
        _broker: broker,
        _dir: dir,
        dir: files,
        worker,
        r,
    }
}

/// Our HTTP sink, listed first among the sinks (`io.confluent…` sorts first).
fn with_http_sink(e: &mut Expected) {
    if let Some(J::Arr(list)) = &mut e.json {
        list.insert(
            0,
            J::Obj(vec![
                (
                    "class".into(),
                    J::Str("io.confluent.connect.http.HttpSinkConnector".into()),
                ),
                ("type".into(), J::Str("sink".into())),
                ("version".into(), J::Str("4.4.0".into())),
            ]),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_sections() {
    let Setup {
        _broker,
        _dir,
        dir,
        worker,
        r,
    } = setup(true).await;
    append(&dir.join("sa.txt"), "s1\ns2\n");
    // the connectors of the command line: sa-src.properties and sa-json.json
    let file = |name: &str| dir.join(name).display().to_string();
    let sa_src = Config::from([
        ("name".into(), "sa-src".into()),
        ("connector.class".into(), "FileStreamSource".into()),
        ("tasks.max".into(), "1".into()),
        ("file".into(), file("sa.txt")),
        ("topic".into(), "sa-topic".into()),
    ]);
    let sa_json = Config::from([
        ("connector.class".into(), "FileStreamSink".into()),
        ("tasks.max".into(), "1".into()),
        ("file".into(), file("sa-sink.txt")),
        ("topics".into(), "sa-topic".into()),
    ]);
    for (name, config) in [("sa-src", sa_src), ("sa-json", sa_json)] {
        worker
            .herder
            .put_connector(name, config, false, TargetState::Started)
            .await
            .expect("the command line's connectors start");
    }

    r.replay("S1").await;
    r.check("S2", Opts::new().set()).await;
    r.eventually("S3", Opts::new().unordered()).await;
    r.replay("S4").await;
    r.replay("S5").await;
    r.check("S6", Opts::new().adjust(with_http_sink)).await;
    r.replay("S7").await;
    r.replay("S8").await;
    r.replay("S9").await;
    r.replay("S10").await;
    // the connector-level failure (our test plugin has the recording's class name and text)
    r.replay("S11").await;
    r.replay("S12").await;
    r.replay("S13").await;
    r.replay("S14").await;
    r.replay("S15").await;
    r.replay("S16").await;
    r.replay("S17").await;
    r.replay("S18").await;
    r.replay("S19").await;
    r.replay("S20").await;
    r.replay("S21").await;
    r.replay("S22").await;
    // offsets once the source's and the sink's are committed
    r.eventually("S23", Opts::new()).await;
    r.eventually("S24", Opts::new()).await;
    r.replay("S25").await;
    r.replay("S26").await;
    r.replay("S27").await;
    r.replay("S28").await;
    r.replay("S29").await;
    r.replay("S30").await;
    r.replay("S31").await;
    // S32, S33: /admin/loggers is not implemented
    r.replay("S34").await;
    r.replay("S35").await;
    r.replay("S36").await;
    r.check("S37", Opts::new().set()).await;
    r.replay("S38").await;
    r.replay("S39").await;
    r.replay("S40").await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_sections() {
    distributed::run().await;
}
