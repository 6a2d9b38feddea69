//! `tributary connect distributed` as a user runs it: worker processes with one `group.id`
//! against a real server process, driven with HTTP requests as with curl. The workers share the
//! connectors and tasks, forward what needs the leader, keep configs, offsets and statuses in
//! the internal topics in Kafka Connect's formats, move the work of a worker killed with
//! SIGKILL to the others after `scheduled.rebalance.max.delay.ms` (no record lost or doubled),
//! and spread work again over a worker that joins.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{json, Value};
use tributary_testkit::{free_port, unique_name, ServerProcess};

/// A worker process, stopped with SIGTERM (and killed if it lingers) on drop.
struct WorkerProcess {
    child: Child,
    port: u16,
}

impl WorkerProcess {
    fn start(dir: &Path, name: &str, bootstrap: &str, cluster: &str) -> WorkerProcess {
        WorkerProcess::start_with(dir, name, bootstrap, cluster, "")
    }

    /// A worker with more properties (`key=value` lines).
    fn start_with(
        dir: &Path,
        name: &str,
        bootstrap: &str,
        cluster: &str,
        extra: &str,
    ) -> WorkerProcess {
        let port = free_port();
        let props = dir.join(format!("{name}.properties"));
        std::fs::write(
            &props,
            format!(
                "bootstrap.servers={bootstrap}\ngroup.id={cluster}\n\
                 config.storage.topic={cluster}-configs\noffset.storage.topic={cluster}-offsets\n\
                 status.storage.topic={cluster}-status\nconfig.storage.replication.factor=1\n\
                 offset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
                 key.converter=org.apache.kafka.connect.storage.StringConverter\n\
                 value.converter=org.apache.kafka.connect.storage.StringConverter\n\
                 offset.flush.interval.ms=300\nsession.timeout.ms=6000\nheartbeat.interval.ms=1000\n\
                 scheduled.rebalance.max.delay.ms=3000\nlisteners=http://127.0.0.1:{port}\n{extra}"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["connect", "distributed"])
            .arg(&props)
            .env("RUST_LOG", "info,rdkafka=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        WorkerProcess { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn id(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let Ok(resp) = req.send().await else {
        return (0, Value::Null, None);
    };
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        location,
    )
}

/// Waits until `check` gives a value (a cluster converges on its own time).
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The connector's and its tasks' states and workers, once all of them are RUNNING.
async fn running(w: &WorkerProcess, name: &str) -> Option<Vec<String>> {
    let (code, s, _) = call(
        reqwest::Method::GET,
        &w.url(&format!("/connectors/{name}/status")),
        None,
    )
    .await;
    if code != 200 || s["connector"]["state"] != "RUNNING" {
        return None;
    }
    let tasks = s["tasks"].as_array()?;
    if tasks.is_empty() || tasks.iter().any(|t| t["state"] != "RUNNING") {
        return None;
    }
    let mut workers = vec![s["connector"]["worker_id"].as_str()?.to_string()];
    workers.extend(
        tasks
            .iter()
            .filter_map(|t| t["worker_id"].as_str().map(str::to_string)),
    );
    Some(workers)
}

/// Every record of a topic: key and value as text (`None` for a tombstone).
fn read_topic(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(String, Option<String>, i32)> {
    read_topic_as(bootstrap, topic, partitions, "read_uncommitted")
}

/// Every record of a topic, read at an isolation level.
fn read_topic_as(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: &str,
) -> Vec<(String, Option<String>, i32)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(2) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
            out.push((
                text(m.key()).unwrap_or_default(),
                text(m.payload()),
                m.partition(),
            ));
            idle = Instant::now();
        }
    }
    out
}

/// Every line of the sink's file, sorted (three sources write to one topic in no set order).
fn sorted_lines(path: &Path) -> Vec<String> {
    let mut l = lines(path);
    l.sort();
    l
}

/// The workers (by id) that run the connectors or their tasks, once all of them run.
async fn placement(w: &WorkerProcess, names: &[&str]) -> Option<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    for name in names {
        ids.extend(running(w, name).await?);
    }
    Some(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_connectors_move_a_dead_workers_work_and_spread_over_a_new_one() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), data.path(), free_port());
    let bootstrap = server.bootstrap();
    let work = tempfile::tempdir().unwrap();
    let cluster = unique_name("connect-cluster");
    let topic = unique_name("lines");
    let output = work.path().join("out.txt");
    // three sources (one is `life`, the name the recorded partitions below are for), one sink
    let sources = ["life", "src2", "src3"];
    let input = |name: &str| work.path().join(format!("{name}.txt"));
    let mut expected: Vec<String> = Vec::new();
    let add_lines = |round: u32, expected: &mut Vec<String>| {
        for name in sources {
            let text = format!("{name}-{round}a\n{name}-{round}b\n");
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(input(name))
                .unwrap();
            std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
            expected.extend(text.lines().map(str::to_string));
        }
        expected.sort();
    };
    add_lines(1, &mut expected);

    let mut workers: Vec<WorkerProcess> = ["a", "b", "c"]
        .iter()
        .map(|n| WorkerProcess::start(work.path(), n, &bootstrap, &cluster))
        .collect();

    // create through every worker (those that are not the leader forward)
    let mut bodies: Vec<Value> = sources
        .iter()
        .map(|name| {
            json!({"name": name, "config": {"connector.class": "FileStreamSource",
                "tasks.max": "1", "file": input(name).display().to_string(), "topic": topic}})
        })
        .collect();
    bodies.push(
        json!({"name": "sink", "config": {"connector.class": "FileStreamSink",
        "tasks.max": "1", "file": output.display().to_string(), "topics": topic}}),
    );
    for (i, body) in bodies.iter().enumerate() {
        let w = &workers[i % 3];
        let (code, answer, location) = eventually("the cluster to take a connector", async || {
            let (code, answer, location) = call(
                reqwest::Method::POST,
                &w.url("/connectors"),
                Some(body.clone()),
            )
            .await;
            // 409 while the group forms (no leader known yet)
            (code != 409 && code != 0).then_some((code, answer, location))
        })
        .await;
        assert_eq!(code, 201, "{answer}");
        assert_eq!(answer["name"], body["name"]);
        // the Location names the worker that was asked, also when the leader answered
        assert_eq!(
            location,
            Some(w.url(&format!("/connectors/{}", body["name"].as_str().unwrap())))
        );
    }
    // a name is taken once, whichever worker is asked
    for w in &workers {
        let (code, answer, _) = call(
            reqwest::Method::POST,
            &w.url("/connectors"),
            Some(bodies[0].clone()),
        )
        .await;
        assert_eq!(
            (code, answer["message"].as_str()),
            (409, Some("Connector life already exists"))
        );
    }

    let names = ["life", "src2", "src3", "sink"];
    eventually("the lines to go through the topic", async || {
        (sorted_lines(&output) == expected).then_some(())
    })
    .await;
    // four connectors and four tasks over three workers: each runs a share
    let spread = eventually("every worker to run work", async || {
        let ids = placement(&workers[0], &names).await?;
        (ids.len() == 3).then_some(ids)
    })
    .await;
    assert_eq!(
        spread,
        workers
            .iter()
            .map(WorkerProcess::id)
            .collect::<BTreeSet<_>>()
    );

    // the internal topics hold Kafka Connect's records
    let configs = read_topic(&bootstrap, &format!("{cluster}-configs"), 1);
    let value = |key: &str| {
        configs
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .and_then(|(_, v, _)| v.clone())
            .unwrap_or_default()
    };
    let connector: Value = serde_json::from_str(&value("connector-life")).unwrap();
    assert_eq!(
        connector["properties"]["connector.class"],
        "FileStreamSource"
    );
    assert_eq!(connector["properties"]["name"], "life");
    let task: Value = serde_json::from_str(&value("task-life-0")).unwrap();
    assert_eq!(
        task["properties"]["task.class"],
        "org.apache.kafka.connect.file.FileStreamSourceTask"
    );
    assert_eq!(value("commit-life"), r#"{"tasks":1}"#);
    let offsets = read_topic(&bootstrap, &format!("{cluster}-offsets"), 25);
    let key = format!(r#"["life",{{"filename":"{}"}}]"#, input("life").display());
    let position = format!(r#"{{"position":{}}}"#, "life-1a\nlife-1b\n".len());
    assert!(
        offsets
            .iter()
            .any(|(k, v, _)| *k == key && v.as_deref() == Some(position.as_str())),
        "{offsets:?}"
    );
    let statuses = read_topic(&bootstrap, &format!("{cluster}-status"), 5);
    // Kafka's partitioning (murmur2 of the key): Kafka Connect 4.4 wrote these keys to the
    // same partitions (connect/tests/fixtures/kafka-connect-topics.md), members in its order
    let status = statuses
        .iter()
        .rev()
        .find(|(k, _, _)| k == "status-connector-life")
        .unwrap();
    assert_eq!(status.2, 3);
    assert!(status
        .1
        .as_deref()
        .unwrap()
        .starts_with(r#"{"state":"RUNNING","trace":null,"worker_id":"127.0.0.1:"#));
    let task = statuses
        .iter()
        .rev()
        .find(|(k, _, _)| k == "status-task-life-0")
        .unwrap();
    assert_eq!(task.2, 4);

    // kill -9 the worker that runs `life`'s task; its work moves after the delay
    let (_, s, _) = call(
        reqwest::Method::GET,
        &workers[0].url("/connectors/life/status"),
        None,
    )
    .await;
    let victim = s["tasks"][0]["worker_id"].as_str().unwrap().to_string();
    let i = workers.iter().position(|w| w.id() == victim).unwrap();
    workers[i].kill9();
    let dead = workers.remove(i);
    add_lines(2, &mut expected);
    let survivors: BTreeSet<String> = workers.iter().map(WorkerProcess::id).collect();
    eventually("the survivors to run everything", async || {
        let ids = placement(&workers[0], &names).await?;
        ids.is_subset(&survivors).then_some(())
    })
    .await;
    eventually("the new lines to arrive", async || {
        (lines(&output).len() >= expected.len()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sorted_lines(&output), expected, "no line lost or doubled");
    drop(dead);

    // a worker that joins gets a share
    workers.push(WorkerProcess::start(work.path(), "d", &bootstrap, &cluster));
    let newcomer = workers[2].id();
    eventually("the new worker to run work", async || {
        let ids = placement(&workers[0], &names).await?;
        ids.contains(&newcomer).then_some(())
    })
    .await;
    add_lines(3, &mut expected);
    eventually("the lines after the spread to arrive", async || {
        (lines(&output).len() >= expected.len()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sorted_lines(&output), expected, "no line lost or doubled");

    // stop, offsets and delete go through the leader from any worker
    let follower = &workers[1];
    let (code, _, _) = call(
        reqwest::Method::PUT,
        &follower.url("/connectors/life/stop"),
        None,
    )
    .await;
    assert_eq!(code, 204);
    eventually("the source to stop", async || {
        let (_, s, _) = call(
            reqwest::Method::GET,
            &workers[0].url("/connectors/life/status"),
            None,
        )
        .await;
        (s["connector"]["state"] == "STOPPED" && s["tasks"] == json!([])).then_some(())
    })
    .await;
    let (code, answer, _) = call(
        reqwest::Method::PATCH,
        &follower.url("/connectors/life/offsets"),
        Some(json!({"offsets": [{"partition": {"filename": input("life").display().to_string()}, "offset": {"position": 4}}]})),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let (_, answer, _) = call(
        reqwest::Method::GET,
        &workers[0].url("/connectors/life/offsets"),
        None,
    )
    .await;
    assert_eq!(answer["offsets"][0]["offset"]["position"], 4);
    for name in names {
        let (code, _, _) = call(
            reqwest::Method::DELETE,
            &follower.url(&format!("/connectors/{name}")),
            None,
        )
        .await;
        assert_eq!(code, 204);
    }
    eventually("the connectors to be gone everywhere", async || {
        for w in &workers {
            let (_, list, _) = call(reqwest::Method::GET, &w.url("/connectors"), None).await;
            if list != json!([]) {
                return None;
            }
        }
        Some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_tasks_deliver_each_line_once_across_a_worker_kill() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_tributary"), data.path(), free_port());
    let bootstrap = server.bootstrap();
    let work = tempfile::tempdir().unwrap();
    let cluster = unique_name("connect-eos");
    let topic = unique_name("eos-lines");
    let input = work.path().join("in.txt");
    std::fs::write(&input, "").unwrap();
    let eos = "exactly.once.source.support=enabled\n";
    let mut workers = vec![
        WorkerProcess::start_with(work.path(), "a", &bootstrap, &cluster, eos),
        WorkerProcess::start_with(work.path(), "b", &bootstrap, &cluster, eos),
    ];

    // the preflight check of KIP-618: a file can be read exactly once, stdin cannot
    eventually("the REST API", async || {
        let (code, _, _) = call(reqwest::Method::GET, &workers[0].url("/"), None).await;
        (code == 200).then_some(())
    })
    .await;
    let check = |config: Value| {
        let url = workers[0].url("/connector-plugins/FileStreamSource/config/validate");
        async move { call(reqwest::Method::PUT, &url, Some(config)).await }
    };
    let (code, answer, _) = check(json!({"connector.class": "FileStreamSource", "name": "x",
        "topic": topic, "file": input.display().to_string(), "exactly.once.support": "required"}))
    .await;
    assert_eq!(
        (code, answer["error_count"].as_i64()),
        (200, Some(0)),
        "{answer}"
    );
    let (_, answer, _) = check(json!({"connector.class": "FileStreamSource", "name": "x",
        "topic": topic, "exactly.once.support": "required", "transaction.boundary": "connector"}))
    .await;
    assert_eq!(answer["error_count"], 2, "{answer}");
    let text = answer.to_string();
    assert!(text.contains("The connector does not support exactly-once semantics with the provided configuration."), "{text}");
    assert!(
        text.contains("The connector does not support connector-defined transaction boundaries"),
        "{text}"
    );

    let source = json!({"name": "eos", "config": {"connector.class": "FileStreamSource",
        "tasks.max": "1", "file": input.display().to_string(), "topic": topic,
        "exactly.once.support": "required", "batch.size": "50"}});
    let (code, answer, _) = eventually("the cluster to take the connector", async || {
        let r = call(
            reqwest::Method::POST,
            &workers[0].url("/connectors"),
            Some(source.clone()),
        )
        .await;
        (r.0 != 409 && r.0 != 0).then_some(r)
    })
    .await;
    assert_eq!(code, 201, "{answer}");
    eventually("the task to run", async || {
        running(&workers[0], "eos").await
    })
    .await;

    // lines keep coming while the worker running the task is killed
    let total = 3000;
    let writer = {
        let input = input.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&input)
                .unwrap();
            for i in 0..total {
                writeln!(f, "line-{i}").unwrap();
                if i % 100 == 99 {
                    f.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(150));
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, s, _) = call(
        reqwest::Method::GET,
        &workers[0].url("/connectors/eos/status"),
        None,
    )
    .await;
    let victim = s["tasks"][0]["worker_id"].as_str().unwrap().to_string();
    let i = workers.iter().position(|w| w.id() == victim).unwrap();
    workers[i].kill9();
    workers.remove(i);
    writer.join().unwrap();

    // a read_committed consumer sees every line once, in order
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        let seen: Vec<String> = read_topic_as(&bootstrap, &topic, 1, "read_committed")
            .into_iter()
            .filter_map(|(_, v, _)| v)
            .collect();
        if seen.len() >= total || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let expected: Vec<String> = (0..total).map(|i| format!("line-{i}")).collect();
    assert_eq!(seen.len(), expected.len(), "every line once");
    assert!(seen == expected, "in order, none twice");
}
