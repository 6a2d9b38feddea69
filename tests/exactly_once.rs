//! Exactly-once with real processes: a consume-transform-produce loop (rdkafka transactions,
//! offsets sent to the transaction) over a 6-partition input is killed with SIGKILL again and
//! again, and the broker too; the output read with `read_committed` holds every input record's
//! result exactly once. Also: an idempotent producer's retry after a broker `kill -9` is
//! recognised as a duplicate (producer state rebuilt from snapshot and log).
//!
//! The loop runs as a child process: this test binary started again with
//! `--ignored --exact ctp_worker` and its settings in the environment.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tributary_examples::exactly_once::Pipeline;
use tributary_testkit::{free_port, ServerProcess};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 6000;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tributary")
}

fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let status = Command::new(bin())
        .args([
            "topic",
            "create",
            topic,
            "-p",
            &partitions.to_string(),
            "-b",
            bootstrap,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "create {topic}");
}

/// The loop process: reads `in`, writes `out-<value>` to `out` and commits the input
/// offsets in the same transaction. Any error ends the process (the test restarts it).
#[test]
#[ignore = "the consume-transform-produce child process of exactly_once_survives_kill_9"]
fn ctp_worker() {
    let Ok(bootstrap) = std::env::var("CTP_BOOTSTRAP") else {
        return;
    };
    let input = std::env::var("CTP_INPUT").unwrap();
    let output = std::env::var("CTP_OUTPUT").unwrap();
    let group = std::env::var("CTP_GROUP").unwrap();
    // the example's loop (examples/src/exactly_once.rs), in small transactions so that the
    // kills land in the middle of the work
    let pipeline = match Pipeline::new(&bootstrap, &input, &output, &group, &format!("{group}-tx"))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("start: {e}");
            std::process::exit(2);
        }
    };
    loop {
        let step = pipeline.step(25, Duration::from_millis(100), |v| {
            [b"out-".as_slice(), v].concat()
        });
        if let Err(e) = step {
            eprintln!("transaction failed: {e}");
            std::process::exit(4);
        }
    }
}

fn start_worker(bootstrap: &str, input: &str, output: &str, group: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "ctp_worker", "--nocapture"])
        .env("CTP_BOOTSTRAP", bootstrap)
        .env("CTP_INPUT", input)
        .env("CTP_OUTPUT", output)
        .env("CTP_GROUP", group)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every value of `topic` read with `read_committed`, to the end of each partition.
fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("check-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut eof = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while eof.len() < partitions as usize {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                eof.remove(&m.partition());
                out.push(String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap());
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("{e}"),
            None => {}
        }
    }
    out
}

fn produce_input(bootstrap: &str, topic: &str) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for i in 0..RECORDS {
        let v = format!("in-{i}");
        let p = (i % PARTITIONS as usize) as i32;
        loop {
            match producer.send(BaseRecord::to(topic).partition(p).key(&v).payload(&v)) {
                Ok(()) => break,
                Err((_, _)) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Waits until the output holds `RECORDS` committed results (or the deadline passes).
fn wait_for_output(bootstrap: &str, output: &str, deadline: Instant) {
    loop {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "watermarks")
            .set("isolation.level", "read_committed")
            .create()
            .unwrap();
        let mut total = 0i64;
        let mut ok = true;
        for p in 0..PARTITIONS {
            match consumer.fetch_watermarks(output, p, Duration::from_secs(5)) {
                Ok((_, hi)) => total += hi,
                Err(_) => ok = false,
            }
        }
        // each committed transaction adds a marker per partition: the offsets run ahead
        if ok && total >= RECORDS as i64 {
            let got = read_committed(bootstrap, output, PARTITIONS).len();
            if got >= RECORDS {
                return;
            }
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn check_exactly_once(values: &[String]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *seen.entry(v.as_str()).or_default() += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "duplicated results: {dup:?}");
    let missing: Vec<usize> = (0..RECORDS)
        .filter(|i| !seen.contains_key(format!("out-in-{i}").as_str()))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "missing results, e.g. for inputs {missing:?}"
    );
    assert_eq!(values.len(), RECORDS);
}

fn run_scenario(kill_broker: bool) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let props = [
        ("transaction.state.log.num.partitions", "4"),
        ("offsets.topic.num.partitions", "4"),
    ];
    let mut server = ServerProcess::start_with(bin(), dir.path(), port, &props);
    let bootstrap = server.bootstrap();
    let tag = format!("{}-{}", std::process::id(), u8::from(kill_broker));
    let (input, output, group) = (
        format!("ctp-in-{tag}"),
        format!("ctp-out-{tag}"),
        format!("ctp-{tag}"),
    );
    create_topic(&bootstrap, &input, PARTITIONS);
    create_topic(&bootstrap, &output, PARTITIONS);
    produce_input(&bootstrap, &input);

    let mut worker = start_worker(&bootstrap, &input, &output, &group);
    for round in 0..4u64 {
        std::thread::sleep(Duration::from_millis(700 + round * 300));
        if round == 0 {
            let done = read_committed(&bootstrap, &output, PARTITIONS).len();
            assert!(
                done < RECORDS,
                "the first kill must interrupt the work ({done} done)"
            );
        }
        if kill_broker && round % 2 == 1 {
            server.kill9();
            server = ServerProcess::start_with(bin(), dir.path(), port, &props);
        } else {
            let _ = worker.kill();
            let _ = worker.wait();
        }
        if worker.try_wait().unwrap().is_some() {
            worker = start_worker(&bootstrap, &input, &output, &group);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if worker.try_wait().unwrap().is_some() {
            worker = start_worker(&bootstrap, &input, &output, &group);
        }
        wait_for_output(&bootstrap, &output, Instant::now() + Duration::from_secs(5));
        if read_committed(&bootstrap, &output, PARTITIONS).len() >= RECORDS {
            break;
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    check_exactly_once(&read_committed(&bootstrap, &output, PARTITIONS));
}

/// A retried idempotent batch is answered with its first offset after the broker was killed
/// and restarted (producer state rebuilt from the snapshot and the log), a gap is refused
/// with OUT_OF_ORDER_SEQUENCE_NUMBER, and an older epoch with INVALID_PRODUCER_EPOCH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_are_recognised_after_kill_9() {
    use kafka_protocol::messages::InitProducerIdRequest;
    use tributary_testkit::requests::produce;
    use tributary_testkit::{producer_batch, RawClient};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = ServerProcess::start(bin(), dir.path(), port);
    let bootstrap = server.bootstrap();
    let topic = format!("idem-{}", std::process::id());
    create_topic(&bootstrap, &topic, 1);
    let mut c = RawClient::connect(&bootstrap).await.unwrap();
    let init = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000),
            4,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid >= 0);
    let epoch = init.producer_epoch;

    async fn send_to(
        c: &mut RawClient,
        topic: &str,
        pid: i64,
        seq: i32,
        epoch: i16,
        values: &[&[u8]],
    ) -> (i16, i64) {
        let req = produce(topic, 0, producer_batch(pid, epoch, seq, values, false));
        let r = c.call(&req, 9).await.unwrap().unwrap();
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }
    macro_rules! send {
        ($c:expr, $seq:expr, $epoch:expr, $values:expr) => {
            send_to($c, &topic, pid, $seq, $epoch, $values)
        };
    }
    assert_eq!(send!(&mut c, 0, epoch, &[b"a", b"b"]).await, (0, 0));
    assert_eq!(send!(&mut c, 2, epoch, &[b"c"]).await, (0, 2));
    // a rolled segment and a snapshot in between would make it easy; kill -9 makes it real
    server.kill9();
    let mut server = ServerProcess::start(bin(), dir.path(), port);
    let mut c = RawClient::connect(&server.bootstrap()).await.unwrap();
    assert_eq!(
        send!(&mut c, 0, epoch, &[b"a", b"b"]).await,
        (0, 0),
        "retry of the first batch"
    );
    assert_eq!(
        send!(&mut c, 2, epoch, &[b"c"]).await,
        (0, 2),
        "retry of the second batch"
    );
    assert_eq!(
        send!(&mut c, 5, epoch, &[b"x"]).await.0,
        45,
        "a gap is out of order"
    );
    assert_eq!(send!(&mut c, 3, epoch, &[b"d"]).await, (0, 3));
    // a new producer instance of the same id with a bumped epoch fences the old one
    assert_eq!(send!(&mut c, 0, epoch + 1, &[b"e"]).await, (0, 4));
    assert_eq!(
        send!(&mut c, 4, epoch, &[b"late"]).await.0,
        47,
        "older epoch"
    );
    // and again after a second crash
    drop(c);
    server.kill9();
    let server = ServerProcess::start(bin(), dir.path(), port);
    let mut c = RawClient::connect(&server.bootstrap()).await.unwrap();
    assert_eq!(send!(&mut c, 0, epoch + 1, &[b"e"]).await, (0, 4));
    let values = read_committed(&server.bootstrap(), &topic, 1);
    assert_eq!(values, ["a", "b", "c", "d", "e"]);
}

#[test]
fn consume_transform_produce_is_exactly_once_across_kill_9_of_the_loop() {
    run_scenario(false);
}

#[test]
fn consume_transform_produce_is_exactly_once_across_kill_9_of_the_broker() {
    run_scenario(true);
}
