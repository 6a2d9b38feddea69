//! Connect records: what source tasks produce and sink tasks receive, and what transforms
//! change (Kafka's `ConnectRecord` with its `SourceRecord` and `SinkRecord` kinds).

use crate::data::{Schema, SchemaAndValue, Value};

/// One header of a record: a key and Connect data.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// The schema of the value, if any.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

/// A record's headers in order (a key may repeat, as in Kafka).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }
    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, data: SchemaAndValue) {
        self.0.push(Header {
            key: key.into(),
            schema: data.schema,
            value: data.value,
        });
    }
    /// Removes every header with this key.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }
    /// The last header with this key (Kafka's `lastWithName`).
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }
    /// The headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }
    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// What kind of record this is, with what only that kind carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Made by a source task: where in the source it came from (Kafka's `SourceRecord`).
    Source {
        /// The source partition (e.g. `{"filename": "/tmp/in.txt"}`).
        partition: Value,
        /// The position in that partition (e.g. `{"position": 42}`).
        offset: Value,
    },
    /// Read from Kafka for a sink task (Kafka's `SinkRecord`).
    Sink {
        /// The record's offset in its partition.
        offset: i64,
        /// Whether the timestamp is the producer's (`CreateTime`) or the log's
        /// (`LogAppendTime`); `None` when the record has none.
        timestamp_type: TimestampType,
        /// The topic, partition and offset as read, before any transform changed them.
        original_topic: String,
        /// See `original_topic`.
        original_partition: i32,
    },
}

/// A record timestamp's type (Kafka's `TimestampType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// `NoTimestampType`.
    None,
    /// `CreateTime`: set by the producer.
    CreateTime,
    /// `LogAppendTime`: set by the broker.
    LogAppendTime,
}

/// A Connect record.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRecord {
    /// The topic it goes to (source) or came from (sink).
    pub topic: String,
    /// The Kafka partition, if chosen.
    pub kafka_partition: Option<i32>,
    /// The key's schema, if any.
    pub key_schema: Option<Schema>,
    /// The key.
    pub key: Value,
    /// The value's schema, if any.
    pub value_schema: Option<Schema>,
    /// The value.
    pub value: Value,
    /// Milliseconds since the epoch, if known.
    pub timestamp: Option<i64>,
    /// The headers.
    pub headers: Headers,
    /// Source or sink, with what that kind carries.
    pub origin: Origin,
}

impl ConnectRecord {
    /// A source record without headers.
    pub fn source(
        partition: Value,
        offset: Value,
        topic: impl Into<String>,
        key: SchemaAndValue,
        value: SchemaAndValue,
    ) -> ConnectRecord {
        ConnectRecord {
            topic: topic.into(),
            kafka_partition: None,
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            timestamp: None,
            headers: Headers::new(),
            origin: Origin::Source { partition, offset },
        }
    }

    /// The Kafka offset of a sink record.
    pub fn kafka_offset(&self) -> Option<i64> {
        match &self.origin {
            Origin::Sink { offset, .. } => Some(*offset),
            Origin::Source { .. } => None,
        }
    }

    /// Whether this is a sink record.
    pub fn is_sink(&self) -> bool {
        matches!(self.origin, Origin::Sink { .. })
    }

    /// The Java class name Kafka's messages print for the record.
    pub fn java_class(&self) -> &'static str {
        match self.origin {
            Origin::Source { .. } => "org.apache.kafka.connect.source.SourceRecord",
            Origin::Sink { .. } => "org.apache.kafka.connect.sink.SinkRecord",
        }
    }

    /// The key as schema and value.
    pub fn key_data(&self) -> SchemaAndValue {
        SchemaAndValue::new(self.key_schema.clone(), self.key.clone())
    }

    /// The value as schema and value.
    pub fn value_data(&self) -> SchemaAndValue {
        SchemaAndValue::new(self.value_schema.clone(), self.value.clone())
    }
}

/// Java's `toString()` of the record (Kafka's messages embed it).
impl std::fmt::Display for ConnectRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |s: &Option<Schema>| s.as_ref().map_or("null".to_string(), |s| s.to_string());
        match &self.origin {
            Origin::Source { partition, offset } => {
                write!(f, "SourceRecord{{sourcePartition={partition}, sourceOffset={offset}}} ")?
            }
            Origin::Sink {
                offset,
                timestamp_type,
                original_topic,
                original_partition,
            } => write!(
                f,
                "SinkRecord{{kafkaOffset={offset}, timestampType={}, originalTopic={original_topic}, originalKafkaPartition={original_partition}, originalKafkaOffset={offset}}} ",
                match timestamp_type {
                    TimestampType::None => "NoTimestampType",
                    TimestampType::CreateTime => "CreateTime",
                    TimestampType::LogAppendTime => "LogAppendTime",
                }
            )?,
        }
        write!(
            f,
            "ConnectRecord{{topic='{}', kafkaPartition={}, key={}, keySchema={}, value={}, valueSchema={}, timestamp={}, headers=ConnectHeaders(headers=",
            self.topic,
            self.kafka_partition.map_or("null".to_string(), |p| p.to_string()),
            self.key,
            opt(&self.key_schema),
            self.value,
            opt(&self.value_schema),
            self.timestamp.map_or("null".to_string(), |t| t.to_string()),
        )?;
        if !self.headers.is_empty() {
            f.write_str("[")?;
            for (i, h) in self.headers.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "ConnectHeader(key={}, value={}, schema={})",
                    h.key,
                    h.value,
                    opt(&h.schema)
                )?;
            }
            f.write_str("]")?;
        }
        f.write_str(")}")
    }
}
