//! The command topic, `_confluent-ksql-<service id>_command_topic`: every statement that
//! changes what the servers of a service know or run (CREATE, CREATE ... AS SELECT, INSERT
//! INTO ... SELECT, DROP, TERMINATE, CREATE/DROP TYPE) is recorded there once it ran, with the
//! session properties it ran with and the id of the query it started.
//!
//! A server starting plays the topic from its beginning before it answers (its queries start
//! only once every command was played, so one terminated later never runs), then a runner task
//! goes on reading it and plays the commands other servers of the service record. Every server
//! of a service so runs the same persistent queries under the same application ids, and the
//! queries' consumer groups split the work between them; a restarted server resumes its queries
//! from their committed offsets.
//!
//! Before a statement runs, the server waits until its runner has played every command
//! recorded so far, so it runs against the catalogue every earlier statement made. (Two
//! servers taking conflicting statements at the same moment can still record them in one order
//! and run them in another; ksqlDB fences with a transactional producer there.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::{Engine, EngineConfig, KsqlError};

/// One recorded statement (the value of a command topic record; its key is the command id,
/// `stream/`NAME`/create`, as ksqlDB keys them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Command {
    /// The statement, with its `;`.
    pub statement: String,
    /// The session properties it ran with.
    #[serde(default)]
    pub streams_properties: BTreeMap<String, String>,
    /// The id of the persistent query it started, if it started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    /// The server process that ran it first (which does not run it again while it lives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// How long a statement waits for the runner to play what other servers recorded.
const CATCH_UP: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long the reader waits for a record before it checks its position.
const IDLE: Duration = Duration::from_secs(1);

/// A server's end of its service's command topic.
pub(super) struct CommandLog {
    topic: String,
    producer: FutureProducer,
    consumer: StreamConsumer,
    /// The offset the runner reads next: every command before it has run here.
    next: watch::Sender<i64>,
    /// This server process's id: the commands it records carry it, and its runner passes them.
    origin: String,
}

/// The command topic's name for `service_id`.
pub(super) fn topic_name(service_id: &str) -> String {
    format!("_confluent-ksql-{service_id}_command_topic")
}

impl CommandLog {
    /// Opens the command topic of `config`'s service, making it when it does not exist (one
    /// partition, kept forever; `ksql.internal.topic.replicas` replicas, 1 by default).
    pub async fn open(
        config: &EngineConfig,
        topics: &crate::engine::Topics,
    ) -> Result<CommandLog, KsqlError> {
        let topic = topic_name(&config.service_id);
        let replicas = match config.settings.get("ksql.internal.topic.replicas") {
            Some(r) => Some(r.parse::<i16>().map_err(|_| {
                KsqlError::Statement(format!(
                    "ksql.internal.topic.replicas must be a number, not '{r}'"
                ))
            })?),
            None => Some(1),
        };
        match topics.describe(&topic).await.map_err(KsqlError::Kafka)? {
            Some(1) => {}
            Some(n) => {
                return Err(KsqlError::Statement(format!(
                    "Invalid partition count on topic '{topic}'. Expected: 1, but was: {n}"
                )))
            }
            None => topics
                .create_with_configs(
                    &topic,
                    1,
                    replicas,
                    &[("retention.ms", "-1"), ("cleanup.policy", "delete")],
                )
                .await
                .map_err(KsqlError::Kafka)?,
        }
        let kafka = |e: rdkafka::error::KafkaError| {
            KsqlError::Kafka(format!("cannot use the command topic {topic}: {e}"))
        };
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            // (a statement holds the engine while its command is delivered)
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(kafka)?;
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap_servers)
            // (assigned, not subscribed: the group id is never used to commit)
            .set("group.id", format!("{topic}-reader"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .map_err(kafka)?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, Offset::Beginning)
            .map_err(kafka)?;
        consumer.assign(&assignment).map_err(kafka)?;
        let (low, _) =
            tokio::task::block_in_place(|| consumer.fetch_watermarks(&topic, 0, TIMEOUT))
                .map_err(kafka)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(CommandLog {
            origin: format!("{}-{nanos:x}", std::process::id()),
            topic,
            producer,
            consumer,
            next: watch::Sender::new(low),
        })
    }

    /// The offset the next command recorded will have.
    async fn end(&self) -> Result<i64, KsqlError> {
        let (_, high) =
            tokio::task::block_in_place(|| self.consumer.fetch_watermarks(&self.topic, 0, TIMEOUT))
                .map_err(|e| {
                    KsqlError::Kafka(format!("cannot read the command topic {}: {e}", self.topic))
                })?;
        Ok(high)
    }

    /// Plays every command recorded so far into `engine`, the queries they leave running
    /// started once all were played. Commands that fail are logged and passed.
    pub async fn replay(&self, engine: &mut Engine) -> Result<(), KsqlError> {
        let end = self.end().await?;
        engine.defer_starts(true);
        let mut played = 0;
        while *self.next.borrow() < end {
            // (offsets without a record, transaction markers, end the replay by position)
            let Ok(read) = tokio::time::timeout(IDLE, self.read()).await else {
                self.advance();
                continue;
            };
            let (offset, command) = read?;
            if let Some(command) = command {
                play(engine, offset, &command).await;
                played += 1;
            }
            self.next.send_replace(offset + 1);
        }
        engine.defer_starts(false);
        for (id, why) in engine.start_deferred() {
            tracing::error!(query = %id, error = %why, "a recorded query cannot start");
        }
        if played > 0 {
            tracing::info!(commands = played, topic = %self.topic, "commands replayed");
        }
        Ok(())
    }

    /// The next record: its offset and command (`None`: a record that is no command).
    async fn read(&self) -> Result<(i64, Option<Command>), KsqlError> {
        let m = self.consumer.recv().await.map_err(|e| {
            KsqlError::Kafka(format!("cannot read the command topic {}: {e}", self.topic))
        })?;
        let command = m
            .payload()
            .and_then(|p| match serde_json::from_slice::<Command>(p) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(offset = m.offset(), error = %e, "a command topic record that is no command: passed");
                    None
                }
            });
        Ok((m.offset(), command))
    }

    /// Plays what other servers record, until `stop` changes.
    pub async fn run(
        self: Arc<Self>,
        engine: Arc<tokio::sync::Mutex<Engine>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let read = tokio::select! {
                r = self.read() => r,
                _ = stop.changed() => return,
                _ = tokio::time::sleep(IDLE) => {
                    self.advance();
                    continue;
                }
            };
            let (offset, command) = match read {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "the command runner cannot read; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // (this process's own commands ran when they were recorded)
            if let Some(command) = command.filter(|c| c.origin.as_deref() != Some(&self.origin)) {
                play(&mut *engine.lock().await, offset, &command).await;
            }
            self.next.send_replace(offset + 1);
        }
    }

    /// Moves the next offset to the reader's position when it is further (past offsets that
    /// hold no record).
    fn advance(&self) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        if let Some(rdkafka::Offset::Offset(p)) =
            positions.find_partition(&self.topic, 0).map(|e| e.offset())
        {
            self.next.send_if_modified(|n| {
                let further = p > *n;
                if further {
                    *n = p;
                }
                further
            });
        }
    }

    /// The id this server's commands carry.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Waits until the runner has played every command recorded so far.
    pub async fn catch_up(&self) -> Result<(), KsqlError> {
        let end = self.end().await?;
        let mut next = self.next.subscribe();
        let caught_up = tokio::time::timeout(CATCH_UP, async {
            next.wait_for(|n| *n >= end).await.is_ok()
        })
        .await
        .unwrap_or(false);
        if caught_up {
            Ok(())
        } else {
            Err(KsqlError::Kafka(
                "Timeout while waiting for command topic consumer to process command topic".into(),
            ))
        }
    }

    /// Records a statement that ran here: its offset.
    pub async fn record(&self, id: &str, command: &Command) -> Result<i64, KsqlError> {
        let value = serde_json::to_vec(command)
            .map_err(|e| KsqlError::Statement(format!("cannot record the statement: {e}")))?;
        let delivery = self
            .producer
            .send(
                FutureRecord::to(&self.topic).key(id).payload(&value),
                TIMEOUT,
            )
            .await
            .map_err(|(e, _)| {
                KsqlError::Kafka(format!(
                    "The statement ran on this server but could not be recorded in the command topic {} (other servers and a restart will not know it): {e}",
                    self.topic
                ))
            })?;
        Ok(delivery.offset)
    }
}

/// Runs a recorded command; a failure is logged.
async fn play(engine: &mut Engine, offset: i64, command: &Command) {
    let parsed = match engine.parse(&command.statement) {
        Ok(p) if p.len() == 1 => p,
        Ok(_) => {
            tracing::warn!(offset, statement = %command.statement, "a recorded command that is not one statement: passed");
            return;
        }
        Err(e) => {
            tracing::warn!(offset, statement = %command.statement, error = %e, "a recorded command that does not parse: passed");
            return;
        }
    };
    if let Err(e) = engine
        .replay(
            &parsed[0],
            &command.streams_properties,
            command.query_id.as_deref(),
        )
        .await
    {
        tracing::warn!(offset, statement = %command.statement, error = %e, "a recorded command failed here: passed");
    }
}
