//! The MQTT source in a standalone worker against an in-process broker and a private
//! `mosquitto` (testkit's `MqttBroker`), driven through the REST API: messages published by a
//! real MQTT client to several topics arrive in the Kafka topic when a subscription (with `+`
//! and `#` wildcards) matches, keyed by their MQTT topic, payload as the value; QoS 1 messages
//! published while the connector is paused, or stopped (its MQTT client disconnected, the
//! persistent session kept by the broker), arrive once it runs again.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ConnectWorker;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;
use tributary_testkit::{unique_name, MqttBroker, TestBroker};

/// An MQTT publisher whose event loop runs in a tokio task, counting the broker's PUBACKs.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicUsize>,
    sent: usize,
    driver: tokio::task::JoinHandle<()>,
}

impl Publisher {
    async fn connect(mqtt: &MqttBroker) -> Publisher {
        let mut o = MqttOptions::new(unique_name("publisher"), "127.0.0.1", mqtt.port());
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(o, 100);
        let acked = Arc::new(AtomicUsize::new(0));
        let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
        let counter = acked.clone();
        let driver = tokio::spawn(async move {
            let mut connected = Some(connected_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                    Ok(_) => {}
                    Err(e) => panic!("the test publisher lost its connection: {e}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), connected_rx)
            .await
            .expect("the publisher connected in time")
            .expect("the publisher connected");
        Publisher {
            client,
            acked,
            sent: 0,
            driver,
        }
    }

    /// Publishes at QoS 1 and waits until the broker acknowledged every message.
    async fn publish(&mut self, messages: &[(&str, &str)]) {
        for (topic, payload) in messages {
            self.client
                .publish(*topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
                .await
                .expect("published");
            self.sent += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.acked.load(Ordering::SeqCst) < self.sent {
            assert!(Instant::now() < deadline, "the broker did not acknowledge");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn close(self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.driver).await;
    }
}

/// One record read from Kafka: key, value, and its `mqtt.qos` header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Got {
    key: String,
    value: String,
    qos: String,
}

/// Reads on from where it was until `n` records came in all (30 s at most).
async fn read_until(consumer: &StreamConsumer, got: &mut Vec<Got>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} records; got {got:?}"
        );
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        else {
            continue;
        };
        let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        let qos = m
            .headers()
            .and_then(|hs| {
                hs.iter()
                    .find(|h| h.key == "mqtt.qos")
                    .map(|h| text(h.value))
            })
            .unwrap_or_default();
        got.push(Got {
            key: text(m.key()),
            value: text(m.payload()),
            qos,
        });
    }
}

fn sorted(mut v: Vec<Got>) -> Vec<Got> {
    v.sort();
    v
}

fn expected(items: &[(&str, &str)]) -> Vec<Got> {
    sorted(
        items
            .iter()
            .map(|(k, v)| Got {
                key: k.to_string(),
                value: v.to_string(),
                qos: "1".into(),
            })
            .collect(),
    )
}

async fn state(w: &ConnectWorker, name: &str) -> (String, String) {
    let (_, s) = w
        .request(
            reqwest::Method::GET,
            &format!("/connectors/{name}/status"),
            None,
        )
        .await;
    (
        s["connector"]["state"].as_str().unwrap_or("").to_string(),
        s["tasks"][0]["state"].as_str().unwrap_or("").to_string(),
    )
}

async fn wait_state(w: &ConnectWorker, name: &str, connector: &str, task: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (c, t) = state(w, name).await;
        if c == connector && task.is_none_or(|want| t == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {c}/{t}, not {connector}/{task:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_subscriptions_and_a_persistent_session() {
    let broker = TestBroker::start().await;
    let mut mqtt = MqttBroker::start_async().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let topic = unique_name("mqtt-in");
    broker.create_topic(&topic, 1).await;
    let client_id = unique_name("connector");

    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            "/connectors/mqtt-in/config",
            Some(json!({
                "connector.class": "io.confluent.connect.mqtt.MqttSourceConnector",
                "tasks.max": "1",
                "mqtt.server.uri": mqtt.uri(),
                "mqtt.topics": "sensors/+/temp, alerts/#",
                "kafka.topic": topic,
                "mqtt.qos": "1",
                "mqtt.clean.session.enabled": "false",
                "mqtt.client.id": client_id,
                "mqtt.connect.timeout.seconds": "10",
                "mqtt.keepalive.interval.seconds": "5",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            })),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // the task runs once its subscriptions are acknowledged
    wait_state(&w, "mqtt-in", "RUNNING", Some("RUNNING")).await;

    let consumer: StreamConsumer = broker.consumer_config().create().expect("a consumer");
    consumer.subscribe(&[topic.as_str()]).expect("subscribed");
    let mut got = Vec::new();

    let mut publisher = Publisher::connect(&mqtt).await;
    publisher
        .publish(&[
            ("sensors/a/temp", "21.5"),
            ("sensors/a/humidity", "not subscribed"),
            ("sensors/b/temp", "19"),
            ("alerts/fire/floor1", "smoke"),
            ("alerts", "the parent level matches #"),
            ("other/topic", "not subscribed"),
        ])
        .await;
    let first = [
        ("sensors/a/temp", "21.5"),
        ("sensors/b/temp", "19"),
        ("alerts/fire/floor1", "smoke"),
        ("alerts", "the parent level matches #"),
    ];
    read_until(&consumer, &mut got, first.len()).await;
    assert_eq!(sorted(got.clone()), expected(&first));

    // paused: the task stays connected but is not polled; the messages wait in its buffer
    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/mqtt-in/pause", None)
        .await;
    assert_eq!(code, 202);
    wait_state(&w, "mqtt-in", "PAUSED", None).await;
    publisher.publish(&[("sensors/p/temp", "paused")]).await;
    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/mqtt-in/resume", None)
        .await;
    assert_eq!(code, 202);
    read_until(&consumer, &mut got, first.len() + 1).await;

    // stopped: the task disconnects; the broker queues QoS 1 messages for its session
    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/mqtt-in/stop", None)
        .await;
    assert_eq!(code, 204);
    wait_state(&w, "mqtt-in", "STOPPED", None).await;
    let gone = format!("Client {client_id} disconnected");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mqtt.log_text().contains(&gone) {
        assert!(
            Instant::now() < deadline,
            "the connector's MQTT client did not disconnect: {}",
            mqtt.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let offline = [
        ("sensors/c/temp", "q1"),
        ("sensors/c/temp", "q2"),
        ("alerts/x", "q3"),
    ];
    publisher.publish(&offline).await;
    publisher.close().await;

    // the broker itself restarts meanwhile: the session and its queue are persisted
    tokio::task::block_in_place(|| mqtt.restart());

    let (code, _) = w
        .request(reqwest::Method::PUT, "/connectors/mqtt-in/resume", None)
        .await;
    assert_eq!(code, 202);
    let all: Vec<(&str, &str)> = first
        .iter()
        .chain(&[("sensors/p/temp", "paused")])
        .chain(&offline)
        .copied()
        .collect();
    read_until(&consumer, &mut got, all.len()).await;
    assert_eq!(sorted(got.clone()), expected(&all));
    wait_state(&w, "mqtt-in", "RUNNING", Some("RUNNING")).await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_the_task_with_the_reason() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let w = ConnectWorker::start(&broker, &dir.path().join("offsets"), &[]).await;
    let port = tributary_testkit::free_port();
    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            "/connectors/mqtt-nowhere/config",
            Some(json!({
                "connector.class": "MqttSourceConnector",
                "mqtt.server.uri": format!("tcp://127.0.0.1:{port}"),
                "mqtt.topics": "a/#",
                "kafka.topic": "nowhere",
                "mqtt.connect.timeout.seconds": "1",
            })),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    wait_state(&w, "mqtt-nowhere", "RUNNING", Some("FAILED")).await;
    let (_, s) = w
        .request(
            reqwest::Method::GET,
            "/connectors/mqtt-nowhere/status",
            None,
        )
        .await;
    let trace = s["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains(&format!("tcp://127.0.0.1:{port}")),
        "the trace names the broker: {trace}"
    );

    // a config error is refused when the connector is created
    let (code, body) = w
        .request(
            reqwest::Method::PUT,
            "/connectors/mqtt-bad/config",
            Some(json!({
                "connector.class": "MqttSourceConnector",
                "mqtt.server.uri": "tcp://127.0.0.1:1883",
                "mqtt.topics": "a/#/b",
                "kafka.topic": "t",
            })),
        )
        .await;
    assert_ne!(code, 201, "{body}");
    w.stop().await;
}
