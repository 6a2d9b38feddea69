//! `MqttSourceConnector`: one task subscribed to `mqtt.topics` on an MQTT broker, writing each
//! message to `kafka.topic`.
//!
//! ```text
//!  MQTT broker ─▶ rumqttc event loop (a tokio task: connects, subscribes on every new
//!       session, reconnects with backoff) ─▶ buffer (records.buffer.max.capacity)
//!  poll() ─▶ up to records.buffer.max.batch.size messages ─▶ records
//!       key: the MQTT topic (STRING), value: the payload (BYTES), headers: mqtt.message.id,
//!       mqtt.qos, mqtt.retained, mqtt.duplicate
//!  commit() (the worker committed the records polled so far) ─▶ PUBACK / PUBREC to the broker
//! ```
//!
//! With QoS 1 or 2 a message is acknowledged to the broker only once Kafka has it, so a task
//! that stops or crashes before that gets it again (at least once) when its session is kept
//! (`mqtt.clean.session.enabled=false` and a fixed `mqtt.client.id`); messages published while
//! the task is away are queued by the broker for that session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS,
    SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::{mpsc, watch};
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{
    ConfigKey, ConfigType, ConnectError, Importance, SourceConnector, SourceTask, SourceTaskContext,
};
use tributary_connect::data::{Schema, SchemaAndValue, Type, Value};
use tributary_connect::record::ConnectRecord;

/// The settings.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::required(
        "mqtt.server.uri",
        ConfigType::List,
        Importance::High,
        "MQTT brokers to connect to, tcp://host:port; the next is tried when one cannot be reached",
    ),
    ConfigKey::required(
        "mqtt.topics",
        ConfigType::List,
        Importance::High,
        "The MQTT topic filters to subscribe to (wildcards + and # allowed)",
    ),
    ConfigKey::required(
        "kafka.topic",
        ConfigType::String,
        Importance::High,
        "The Kafka topic the messages are written to",
    ),
    ConfigKey::optional(
        "mqtt.qos",
        ConfigType::Int,
        "0",
        Importance::Medium,
        "The QoS of the subscriptions: 0 (at most once), 1 (at least once) or 2 (exactly once)",
    ),
    ConfigKey::optional(
        "mqtt.clean.session.enabled",
        ConfigType::Boolean,
        "true",
        Importance::Low,
        "Whether the broker forgets the session (subscriptions, queued messages) when the client disconnects",
    ),
    ConfigKey::optional(
        "mqtt.client.id",
        ConfigType::String,
        "",
        Importance::Medium,
        "The MQTT client id; blank for a generated one (only with a clean session)",
    ),
    ConfigKey::optional(
        "mqtt.username",
        ConfigType::String,
        "",
        Importance::High,
        "Username to connect with, or blank to connect without a username",
    ),
    ConfigKey::optional(
        "mqtt.password",
        ConfigType::Password,
        "",
        Importance::High,
        "Password to connect with, or blank to connect without a password",
    ),
    ConfigKey::optional(
        "mqtt.connect.timeout.seconds",
        ConfigType::Int,
        "30",
        Importance::Low,
        "How long to wait for the broker to accept a connection",
    ),
    ConfigKey::optional(
        "mqtt.keepalive.interval.seconds",
        ConfigType::Int,
        "60",
        Importance::Low,
        "The keep alive interval",
    ),
    ConfigKey::optional(
        "records.buffer.max.capacity",
        ConfigType::Int,
        "50000",
        Importance::Low,
        "The most messages received and not yet polled; the connection waits when it is full",
    ),
    ConfigKey::optional(
        "records.buffer.max.batch.size",
        ConfigType::Int,
        "4096",
        Importance::Low,
        "The most records one poll returns",
    ),
    ConfigKey::optional(
        "records.buffer.empty.timeout",
        ConfigType::Long,
        "100",
        Importance::Low,
        "How long (ms) a poll waits for a first message",
    ),
    ConfigKey::optional(
        "mqtt.ack.after.commit",
        ConfigType::Boolean,
        "true",
        Importance::Low,
        "QoS 1/2: acknowledge messages to the broker after Kafka committed them (at least once); false: as they arrive (at most once)",
    ),
];

/// Kafka Connect's (Confluent's) MQTT source connector.
#[derive(Default)]
pub struct MqttSourceConnector {
    config: Config,
}

impl SourceConnector for MqttSourceConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        Settings::from_config(config)?;
        self.config = config.clone();
        Ok(())
    }

    /// One task: every task would get every message of its subscriptions.
    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(vec![self.config.clone()])
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(MqttSourceTask::default())
    }
}

/// The parsed settings.
#[derive(Clone, Debug)]
struct Settings {
    /// The brokers' `host:port`, from `mqtt.server.uri`.
    servers: Vec<(String, u16)>,
    topics: Vec<String>,
    kafka_topic: String,
    qos: QoS,
    clean_session: bool,
    client_id: Option<String>,
    credentials: Option<(String, String)>,
    connect_timeout: Duration,
    keepalive: Duration,
    buffer_capacity: usize,
    batch_size: usize,
    empty_timeout: Duration,
    ack_after_commit: bool,
}

fn invalid(name: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::invalid(name, value, why)
}

/// `tcp://host[:port]` (or `mqtt://`), the port 1883 by default.
fn parse_uri(text: &str) -> Result<(String, u16), ConfigError> {
    let bad = |why: &str| invalid("mqtt.server.uri", text, why);
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| bad("Expected a URI such as tcp://host:1883"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" | "mqtt" => {}
        "ssl" | "tls" | "mqtts" | "ws" | "wss" => {
            return Err(bad(&format!(
                "{scheme}:// is not supported; only tcp:// connections are"
            )))
        }
        _ => return Err(bad("Expected a URI such as tcp://host:1883")),
    }
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("Expected tcp://[address]:port"))?;
        (h, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains('/') {
        return Err(bad("Expected a URI such as tcp://host:1883"));
    }
    let port = match port {
        None => 1883,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("The port must be a number from 1 to 65535"))?,
    };
    Ok((host.to_string(), port))
}

/// Whether `filter` is a valid MQTT topic filter: not empty, `#` only as the whole last level,
/// `+` only as a whole level.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| {
        (!level.contains('#') || (*level == "#" && i == levels.len() - 1))
            && (!level.contains('+') || *level == "+")
    })
}

impl Settings {
    fn from_config(c: &Config) -> Result<Settings, ConfigError> {
        if !c.contains_key("mqtt.server.uri") {
            return Err(ConfigError::missing("mqtt.server.uri"));
        }
        let servers = c
            .list_or("mqtt.server.uri", &[])
            .iter()
            .filter(|u| !u.is_empty())
            .map(|u| parse_uri(u))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(invalid("mqtt.server.uri", "", "At least one URI is needed"));
        }
        if !c.contains_key("mqtt.topics") {
            return Err(ConfigError::missing("mqtt.topics"));
        }
        let topics: Vec<String> = c
            .list_or("mqtt.topics", &[])
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return Err(invalid("mqtt.topics", "", "At least one topic is needed"));
        }
        if let Some(bad) = topics.iter().find(|t| !valid_filter(t)) {
            return Err(invalid(
                "mqtt.topics",
                bad,
                "Not a valid MQTT topic filter ('+' must be a whole level, '#' the whole last level)",
            ));
        }
        let kafka_topic = c.string("kafka.topic")?;
        if kafka_topic.is_empty() {
            return Err(invalid(
                "kafka.topic",
                "",
                "The Kafka topic must not be empty",
            ));
        }
        let qos = match c.int_or("mqtt.qos", 0)? {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            other => {
                return Err(invalid(
                    "mqtt.qos",
                    &other.to_string(),
                    "Value must be 0, 1 or 2",
                ))
            }
        };
        let clean_session = c.bool_or("mqtt.clean.session.enabled", true)?;
        let client_id = c.string_opt("mqtt.client.id").filter(|s| !s.is_empty());
        if client_id.is_none() && !clean_session {
            return Err(invalid(
                "mqtt.client.id",
                "",
                "A persistent session (mqtt.clean.session.enabled=false) needs a fixed client id",
            ));
        }
        let username = c.string_or("mqtt.username", "");
        let password = c.get("mqtt.password").cloned().unwrap_or_default();
        let credentials =
            (!username.is_empty() || !password.is_empty()).then_some((username, password));
        let at_least = |name: &str, v: i64, min: i64| -> Result<(), ConfigError> {
            if v < min {
                return Err(invalid(
                    name,
                    &v.to_string(),
                    &format!("Value must be at least {min}"),
                ));
            }
            Ok(())
        };
        let connect_timeout = c.int_or("mqtt.connect.timeout.seconds", 30)?;
        at_least("mqtt.connect.timeout.seconds", connect_timeout.into(), 1)?;
        let keepalive = c.int_or("mqtt.keepalive.interval.seconds", 60)?;
        at_least("mqtt.keepalive.interval.seconds", keepalive.into(), 1)?;
        let buffer_capacity = c.int_or("records.buffer.max.capacity", 50_000)?;
        at_least("records.buffer.max.capacity", buffer_capacity.into(), 1)?;
        let batch_size = c.int_or("records.buffer.max.batch.size", 4096)?;
        at_least("records.buffer.max.batch.size", batch_size.into(), 1)?;
        let empty_timeout = c.long_or("records.buffer.empty.timeout", 100)?;
        at_least("records.buffer.empty.timeout", empty_timeout, 0)?;
        Ok(Settings {
            servers,
            topics,
            kafka_topic,
            qos,
            clean_session,
            client_id,
            credentials,
            connect_timeout: Duration::from_secs(connect_timeout as u64),
            keepalive: Duration::from_secs(keepalive as u64),
            buffer_capacity: buffer_capacity as usize,
            batch_size: batch_size as usize,
            empty_timeout: Duration::from_millis(empty_timeout as u64),
            ack_after_commit: c.bool_or("mqtt.ack.after.commit", true)?,
        })
    }

    /// Whether messages are acknowledged by the task rather than by the client on arrival.
    fn manual_acks(&self) -> bool {
        self.ack_after_commit && self.qos != QoS::AtMostOnce
    }

    /// The client options for the `server`-th broker.
    fn options(&self, server: usize, client_id: &str) -> MqttOptions {
        let (host, port) = &self.servers[server % self.servers.len()];
        let mut o = MqttOptions::new(client_id, host.clone(), *port);
        o.set_clean_session(self.clean_session)
            .set_keep_alive(self.keepalive)
            .set_manual_acks(self.manual_acks())
            // MQTT's largest packet: rumqttc's default (10 KiB) would refuse bigger payloads
            .set_max_packet_size(268_435_460, 268_435_460);
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u.clone(), p.clone());
        }
        o
    }

    fn uris(&self) -> String {
        self.servers
            .iter()
            .map(|(h, p)| format!("tcp://{h}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A message received, with the connection (its number) it came on.
struct Received {
    generation: u64,
    publish: Publish,
}

/// Where the connection is.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    /// Not subscribed yet; the last error, if any.
    Connecting(Option<String>),
    /// Connected, and the subscriptions are in place.
    Subscribed,
    /// The broker refused the connection or a subscription for good.
    Refused(String),
}

/// What the task and its connection driver share.
struct Shared {
    /// Counts the connections made (a ConnAck each); acks go only to the current one.
    generation: AtomicU64,
}

/// Drives the MQTT connection until the task goes away or disconnects.
async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    settings: Arc<Settings>,
    client_id: String,
    messages: mpsc::Sender<Received>,
    shared: Arc<Shared>,
    status: watch::Sender<Status>,
) {
    let filters: Vec<SubscribeFilter> = settings
        .topics
        .iter()
        .map(|t| SubscribeFilter::new(t.clone(), settings.qos))
        .collect();
    let mut subscribed_once = false;
    let mut server = 0usize;
    let mut backoff = Duration::from_millis(100);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = Duration::from_millis(100);
                let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
                let (host, port) = &settings.servers[server % settings.servers.len()];
                tracing::info!(
                    server = %format!("{host}:{port}"),
                    client_id = %client_id,
                    session_present = ack.session_present,
                    generation,
                    "connected to the MQTT broker"
                );
                if ack.session_present && subscribed_once {
                    // the broker kept the subscriptions
                    status.send_replace(Status::Subscribed);
                } else {
                    let (c, f) = (client.clone(), filters.clone());
                    tokio::spawn(async move {
                        if let Err(e) = c.subscribe_many(f).await {
                            tracing::warn!(error = %e, "could not request the MQTT subscriptions");
                        }
                    });
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused: Vec<&String> = ack
                    .return_codes
                    .iter()
                    .zip(&settings.topics)
                    .filter(|(code, _)| matches!(code, SubscribeReasonCode::Failure))
                    .map(|(_, t)| t)
                    .collect();
                if refused.is_empty() {
                    subscribed_once = true;
                    status.send_replace(Status::Subscribed);
                } else {
                    let why = format!(
                        "The MQTT broker refused the subscription to {}",
                        refused
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    tracing::error!("{why}");
                    status.send_replace(Status::Refused(why));
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let generation = shared.generation.load(Ordering::SeqCst);
                if messages
                    .send(Received {
                        generation,
                        publish,
                    })
                    .await
                    .is_err()
                {
                    return; // the task is gone
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                let (host, port) = &settings.servers[server % settings.servers.len()];
                let why = format!("MQTT connection to {host}:{port} failed: {e}");
                if let ConnectionError::ConnectionRefused(code) = &e {
                    use rumqttc::ConnectReturnCode as C;
                    if matches!(
                        code,
                        C::BadUserNamePassword | C::NotAuthorized | C::BadClientId
                    ) && !subscribed_once
                    {
                        status.send_replace(Status::Refused(why.clone()));
                    }
                }
                if !matches!(*status.borrow(), Status::Refused(_)) {
                    status.send_replace(Status::Connecting(Some(why.clone())));
                }
                tracing::warn!(error = %why, "reconnecting in {backoff:?}");
                if settings.servers.len() > 1 {
                    server = (server + 1) % settings.servers.len();
                    eventloop.mqtt_options = settings.options(server, &client_id);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The MQTT source task.
#[derive(Default)]
pub struct MqttSourceTask {
    settings: Option<Arc<Settings>>,
    client: Option<AsyncClient>,
    messages: Option<mpsc::Receiver<Received>>,
    driver: Option<tokio::task::JoinHandle<()>>,
    shared: Option<Arc<Shared>>,
    status: Option<watch::Receiver<Status>>,
    /// Messages handed out in records and not yet acknowledged to the broker.
    unacked: Vec<Received>,
}

impl MqttSourceTask {
    fn record(settings: &Settings, p: &Publish) -> ConnectRecord {
        let mut r = ConnectRecord::source(
            Value::Null,
            Value::Null,
            settings.kafka_topic.clone(),
            SchemaAndValue::new(
                Some(Schema::primitive(Type::String)),
                Value::String(p.topic.clone()),
            ),
            SchemaAndValue::new(
                Some(Schema::primitive(Type::Bytes)),
                Value::Bytes(p.payload.to_vec()),
            ),
        );
        r.timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as i64);
        let qos = match p.qos {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 1,
            QoS::ExactlyOnce => 2,
        };
        r.headers.add(
            "mqtt.message.id",
            SchemaAndValue::new(
                Some(Schema::primitive(Type::Int32)),
                Value::Int32(i32::from(p.pkid)),
            ),
        );
        r.headers.add(
            "mqtt.qos",
            SchemaAndValue::new(Some(Schema::primitive(Type::Int32)), Value::Int32(qos)),
        );
        r.headers.add(
            "mqtt.retained",
            SchemaAndValue::new(
                Some(Schema::primitive(Type::Boolean)),
                Value::Boolean(p.retain),
            ),
        );
        r.headers.add(
            "mqtt.duplicate",
            SchemaAndValue::new(
                Some(Schema::primitive(Type::Boolean)),
                Value::Boolean(p.dup),
            ),
        );
        r
    }

    /// Ends the connection: a DISCONNECT (the broker keeps a persistent session and its
    /// unacknowledged messages), then the driver is stopped.
    fn close(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.try_disconnect();
        }
        // the driver ends on its DISCONNECT, or when it finds the buffer gone
        self.messages = None;
        if let Some(driver) = self.driver.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        let abort = driver.abort_handle();
                        if tokio::time::timeout(Duration::from_secs(2), driver)
                            .await
                            .is_err()
                        {
                            abort.abort();
                        }
                    });
                }
                Err(_) => driver.abort(),
            }
        }
        self.unacked.clear();
    }
}

impl Drop for MqttSourceTask {
    fn drop(&mut self) {
        if let Some(d) = self.driver.take() {
            d.abort();
        }
    }
}

impl SourceTask for MqttSourceTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        _context: &'a dyn SourceTaskContext,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let settings = Arc::new(Settings::from_config(config)?);
            let client_id = settings.client_id.clone().unwrap_or_else(|| {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                format!(
                    "tributary-{:x}{:x}",
                    std::process::id(),
                    nanos & 0xffff_ffff
                )
            });
            let (client, mut eventloop) = AsyncClient::new(settings.options(0, &client_id), 1024);
            let mut network = rumqttc::NetworkOptions::new();
            network.set_connection_timeout(settings.connect_timeout.as_secs());
            eventloop.set_network_options(network);
            let (tx, rx) = mpsc::channel(settings.buffer_capacity);
            let (status_tx, mut status_rx) = watch::channel(Status::Connecting(None));
            let shared = Arc::new(Shared {
                generation: AtomicU64::new(0),
            });
            self.driver = Some(tokio::spawn(drive(
                eventloop,
                client.clone(),
                settings.clone(),
                client_id.clone(),
                tx,
                shared.clone(),
                status_tx,
            )));
            self.client = Some(client);
            self.messages = Some(rx);
            self.shared = Some(shared);
            self.settings = Some(settings.clone());
            // running means subscribed: a message published from now on is received
            let waited = tokio::time::timeout(settings.connect_timeout, async {
                loop {
                    match &*status_rx.borrow_and_update() {
                        Status::Subscribed => return Ok(()),
                        Status::Refused(why) => return Err(ConnectError::Fatal(why.clone())),
                        Status::Connecting(_) => {}
                    }
                    if status_rx.changed().await.is_err() {
                        return Err(ConnectError::Fatal(
                            "the MQTT connection ended while starting".into(),
                        ));
                    }
                }
            })
            .await;
            let result = match waited {
                Ok(r) => r,
                Err(_) => {
                    let last = match &*status_rx.borrow() {
                        Status::Connecting(Some(e)) => format!(": {e}"),
                        _ => String::new(),
                    };
                    Err(ConnectError::Retriable(format!(
                        "Could not connect to the MQTT broker at {} and subscribe within {} s{last}",
                        settings.uris(),
                        settings.connect_timeout.as_secs()
                    )))
                }
            };
            if result.is_err() {
                self.close();
            } else {
                tracing::info!(
                    servers = %settings.uris(),
                    topics = %settings.topics.join(","),
                    client_id = %client_id,
                    "subscribed to MQTT"
                );
            }
            self.status = Some(status_rx);
            result
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<ConnectRecord>, ConnectError>> {
        Box::pin(async move {
            let (Some(settings), Some(rx)) = (self.settings.clone(), self.messages.as_mut()) else {
                return Err(ConnectError::Fatal("the task is not started".into()));
            };
            let first = match tokio::time::timeout(settings.empty_timeout, rx.recv()).await {
                Err(_) => {
                    if let Some(Status::Refused(why)) =
                        self.status.as_ref().map(|s| s.borrow().clone())
                    {
                        return Err(ConnectError::Fatal(why));
                    }
                    return Ok(Vec::new());
                }
                Ok(None) => {
                    return Err(ConnectError::Fatal(
                        "the MQTT connection ended unexpectedly".into(),
                    ))
                }
                Ok(Some(m)) => m,
            };
            let mut batch = vec![first];
            while batch.len() < settings.batch_size {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let records = batch
                .iter()
                .map(|m| Self::record(&settings, &m.publish))
                .collect();
            if settings.manual_acks() {
                self.unacked.extend(
                    batch
                        .into_iter()
                        .filter(|m| m.publish.qos != QoS::AtMostOnce),
                );
            }
            Ok(records)
        })
    }

    /// Every record polled so far is in Kafka: acknowledge their messages to the broker.
    fn commit(&mut self) -> BoxFuture<'_, Result<(), ConnectError>> {
        Box::pin(async move {
            let (Some(client), Some(shared)) = (self.client.as_ref(), self.shared.as_ref()) else {
                return Ok(());
            };
            let current = shared.generation.load(Ordering::SeqCst);
            for m in self.unacked.drain(..) {
                // a message of an earlier connection is sent again by the broker (its session
                // kept) or gone with the session: its packet id means nothing on this one
                if m.generation != current {
                    continue;
                }
                if let Err(e) = client.ack(&m.publish).await {
                    tracing::warn!(error = %e, "could not acknowledge an MQTT message; the broker will send it again");
                    break;
                }
            }
            self.unacked.clear();
            Ok(())
        })
    }

    fn stop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Config {
        config(&[
            ("mqtt.server.uri", "tcp://broker:1883"),
            ("mqtt.topics", "sensors/+/temp"),
            ("kafka.topic", "mqtt"),
        ])
    }

    #[test]
    fn defaults_are_confluents() {
        let s = Settings::from_config(&minimal()).unwrap();
        assert_eq!(s.servers, vec![("broker".to_string(), 1883)]);
        assert_eq!(s.topics, vec!["sensors/+/temp".to_string()]);
        assert_eq!(s.kafka_topic, "mqtt");
        assert_eq!(s.qos, QoS::AtMostOnce);
        assert!(s.clean_session);
        assert_eq!(s.client_id, None);
        assert_eq!(s.credentials, None);
        assert_eq!(s.connect_timeout, Duration::from_secs(30));
        assert_eq!(s.keepalive, Duration::from_secs(60));
        assert_eq!(s.batch_size, 4096);
        assert!(s.ack_after_commit);
        assert!(!s.manual_acks(), "QoS 0 has nothing to acknowledge");
    }

    #[test]
    fn settings_are_parsed() {
        let mut c = minimal();
        for (k, v) in [
            (
                "mqtt.server.uri",
                "tcp://a:1884, mqtt://b, tcp://[::1]:1885/",
            ),
            ("mqtt.topics", "a/#, b/+/c ,#"),
            ("mqtt.qos", "2"),
            ("mqtt.clean.session.enabled", "FALSE"),
            ("mqtt.client.id", "collector-1"),
            ("mqtt.username", "u"),
            ("mqtt.password", "p"),
            ("mqtt.keepalive.interval.seconds", "5"),
            ("mqtt.connect.timeout.seconds", "3"),
        ] {
            c.insert(k.into(), v.into());
        }
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(
            s.servers,
            vec![
                ("a".to_string(), 1884),
                ("b".to_string(), 1883),
                ("::1".to_string(), 1885)
            ]
        );
        assert_eq!(s.topics, ["a/#", "b/+/c", "#"]);
        assert_eq!(s.qos, QoS::ExactlyOnce);
        assert!(!s.clean_session);
        assert_eq!(s.client_id.as_deref(), Some("collector-1"));
        assert_eq!(s.credentials, Some(("u".into(), "p".into())));
        assert_eq!(s.keepalive, Duration::from_secs(5));
        assert!(s.manual_acks());
        let o = s.options(1, "collector-1");
        assert_eq!(o.broker_address(), ("b".to_string(), 1883));
        assert!(!o.clean_session());
        assert!(o.manual_acks());
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        for (k, v) in [
            ("mqtt.server.uri", "broker:1883"),
            ("mqtt.server.uri", "ssl://broker:8883"),
            ("mqtt.server.uri", "tcp://broker:0"),
            ("mqtt.server.uri", ""),
            ("mqtt.topics", ""),
            ("mqtt.topics", "a/#/b"),
            ("mqtt.topics", "a/b+"),
            ("mqtt.qos", "3"),
            ("mqtt.clean.session.enabled", "maybe"),
            ("mqtt.keepalive.interval.seconds", "0"),
            ("kafka.topic", ""),
        ] {
            let mut c = minimal();
            c.insert(k.into(), v.into());
            let e = Settings::from_config(&c).expect_err(&format!("{k}={v} accepted"));
            assert!(e.message().contains(k), "{}", e.message());
        }
        for missing in ["mqtt.server.uri", "mqtt.topics", "kafka.topic"] {
            let mut c = minimal();
            c.remove(missing);
            assert!(Settings::from_config(&c).is_err());
        }
        // a persistent session needs a client id
        let mut c = minimal();
        c.insert("mqtt.clean.session.enabled".into(), "false".into());
        let e = Settings::from_config(&c).unwrap_err();
        assert!(e.message().contains("mqtt.client.id"), "{}", e.message());
    }

    #[test]
    fn topic_filters() {
        for ok in ["a", "a/b", "+", "#", "a/+/c", "a/#", "/a", "+/+/#"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "a#", "a/#/c", "a+", "a/b+/c", "#/a"] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn messages_become_records() {
        let s = Settings::from_config(&minimal()).unwrap();
        let mut p = Publish::new("sensors/a/temp", QoS::AtLeastOnce, b"21.5".to_vec());
        p.pkid = 7;
        p.retain = true;
        let r = MqttSourceTask::record(&s, &p);
        assert_eq!(r.topic, "mqtt");
        assert_eq!(r.key, Value::String("sensors/a/temp".into()));
        assert_eq!(r.key_schema.as_ref().map(|s| s.ty()), Some(Type::String));
        assert_eq!(r.value, Value::Bytes(b"21.5".to_vec()));
        assert_eq!(r.value_schema.as_ref().map(|s| s.ty()), Some(Type::Bytes));
        let header = |k: &str| r.headers.last_with_name(k).map(|h| h.value.clone());
        assert_eq!(header("mqtt.message.id"), Some(Value::Int32(7)));
        assert_eq!(header("mqtt.qos"), Some(Value::Int32(1)));
        assert_eq!(header("mqtt.retained"), Some(Value::Boolean(true)));
        assert_eq!(header("mqtt.duplicate"), Some(Value::Boolean(false)));
    }
}
