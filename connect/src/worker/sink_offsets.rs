//! A sink connector's offsets are its consumer group's (`connect-NAME`): read, altered and
//! reset through Kafka as KIP-875 describes, in the REST API's form
//! (`{"kafka_topic": T, "kafka_partition": P}` → `{"kafka_offset": N}`).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::ConfigError;
use crate::connector::ConnectError;
use crate::data::Value;

use super::connector_config::SinkTopics;
use super::{ClientRole, WorkerConfig};

const TIMEOUT: Duration = Duration::from_secs(30);

fn group(connector: &str) -> String {
    format!("connect-{connector}")
}

fn consumer(config: &WorkerConfig, connector: &str) -> Result<BaseConsumer, ConnectError> {
    let mut c = config.client_config(ClientRole::Consumer, None)?;
    c.set("group.id", group(connector))
        .set("enable.auto.commit", "false");
    c.create().map_err(|e| {
        ConnectError::Retriable(format!(
            "Failed to create a consumer for the offsets of {connector}: {e}"
        ))
    })
}

fn partition_key(topic: &str, partition: i32) -> Value {
    Value::Map(vec![
        (
            Value::String("kafka_partition".into()),
            Value::Int32(partition),
        ),
        (
            Value::String("kafka_topic".into()),
            Value::String(topic.to_string()),
        ),
    ])
}

/// The committed offsets of a sink connector's group, for the topics it reads.
pub(crate) async fn read(
    config: WorkerConfig,
    connector: String,
    topics: SinkTopics,
) -> Result<Vec<(Value, Value)>, ConnectError> {
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&config, &connector)?;
        let metadata = consumer.fetch_metadata(None, TIMEOUT).map_err(|e| {
            ConnectError::Retriable(format!("Failed to read the cluster's topics: {e}"))
        })?;
        let regex = match &topics {
            SinkTopics::Regex(r) => Some(
                regex::Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| ConnectError::Fatal(e.to_string()))?,
            ),
            SinkTopics::List(_) => None,
        };
        let mut list = TopicPartitionList::new();
        for t in metadata.topics() {
            let wanted = match (&topics, &regex) {
                (SinkTopics::List(names), _) => names.iter().any(|n| n == t.name()),
                (_, Some(r)) => r.is_match(t.name()),
                _ => false,
            };
            if wanted {
                for p in t.partitions() {
                    list.add_partition(t.name(), p.id());
                }
            }
        }
        let committed = consumer.committed_offsets(list, TIMEOUT).map_err(|e| {
            ConnectError::Retriable(format!(
                "Failed to read the committed offsets of {}: {e}",
                group(&connector)
            ))
        })?;
        let mut out = Vec::new();
        for e in committed.elements() {
            if let Offset::Offset(o) = e.offset() {
                out.push((
                    partition_key(e.topic(), e.partition()),
                    Value::Map(vec![(
                        Value::String("kafka_offset".into()),
                        Value::Int64(o),
                    )]),
                ));
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| ConnectError::Fatal(e.to_string()))?
}

/// The topic partitions and offsets (`None`: reset) of a sink's alter request, with the checks
/// and messages of Kafka's `SinkUtils.parseSinkConnectorOffsets` (all 400s).
pub(crate) fn parse(
    offsets: &[(Value, Value)],
) -> Result<Vec<(String, i32, Option<i64>)>, ConnectError> {
    let bad = |m: String| ConnectError::Config(ConfigError::new(m));
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut list = Vec::new();
    for (partition, offset) in offsets {
        if partition.is_null() {
            return Err(bad(
                "The partition for a sink connector offset cannot be null or missing".into(),
            ));
        }
        let (Some(topic), Some(p)) = (
            partition.map_get("kafka_topic"),
            partition.map_get("kafka_partition"),
        ) else {
            return Err(bad("The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'".into()));
        };
        if topic.is_null() {
            return Err(bad(
                "Kafka topic names must be valid strings and may not be null".into(),
            ));
        }
        if p.is_null() {
            return Err(bad(
                "Kafka partitions must be valid numbers and may not be null".into(),
            ));
        }
        let p = text(p).parse::<i32>().map_err(|_| {
            bad(format!("Failed to parse the following Kafka partition value in the provided offsets: '{}'. Partition values for sink connectors need to be integers.", text(p)))
        })?;
        let o = if offset.is_null() {
            None
        } else {
            let Some(o) = offset.map_get("kafka_offset") else {
                return Err(bad("The offset for a sink connector should either be null or contain the key 'kafka_offset'".into()));
            };
            Some(text(o).parse::<i64>().map_err(|_| {
                bad(format!("Failed to parse the following Kafka offset value in the provided offsets: '{}'. Offset values for sink connectors need to be integers.", text(o)))
            })?)
        };
        list.push((text(topic), p, o));
    }
    Ok(list)
}

/// Commits the given offsets (`Value::Null` ones are left alone) for a stopped sink.
pub(crate) async fn alter(
    config: WorkerConfig,
    connector: String,
    offsets: Vec<(String, i32, Option<i64>)>,
) -> Result<(), ConnectError> {
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&config, &connector)?;
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in &offsets {
            if let Some(o) = offset {
                list.add_partition_offset(topic, *partition, Offset::Offset(*o))
                    .map_err(|e| ConnectError::Fatal(e.to_string()))?;
            }
        }
        if list.count() > 0 {
            consumer.commit(&list, CommitMode::Sync).map_err(|e| {
                ConnectError::Retriable(format!(
                    "Failed to alter consumer group offsets for connector {connector}: {e}"
                ))
            })?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ConnectError::Fatal(e.to_string()))?
}

/// Deletes a stopped sink's consumer group, so it starts again from `auto.offset.reset`.
pub(crate) async fn reset(config: &WorkerConfig, connector: &str) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(ClientRole::Admin, None)?
        .create()
        .map_err(|e| ConnectError::Retriable(format!("Failed to create an admin client: {e}")))?;
    let g = group(connector);
    let results = admin
        .delete_groups(
            &[g.as_str()],
            &AdminOptions::new().request_timeout(Some(TIMEOUT)),
        )
        .await
        .map_err(|e| {
            ConnectError::Retriable(format!("Failed to reset the offsets of {connector}: {e}"))
        })?;
    for r in results {
        if let Err((_, code)) = r {
            if code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound {
                return Err(ConnectError::Retriable(format!(
                    "Failed to delete the consumer group {g}: {code}"
                )));
            }
        }
    }
    Ok(())
}
