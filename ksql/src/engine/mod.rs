//! The engine: runs statements against a Kafka cluster. DDL changes the catalogue (and makes
//! topics); `CREATE ... AS SELECT` and `INSERT INTO ... SELECT` start persistent queries, each a
//! `tributary-streams` application; `INSERT INTO ... VALUES` writes one record.

mod explain;
mod planned;
mod print;
mod properties;
mod pull;
mod push;
mod scalable;
mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tributary_streams::{KafkaStreams, StreamsConfig};

use crate::catalog::{Catalog, DataSource, PersistentQuery};
use crate::exec::serde::serdes;
use crate::exec::timestamps::TimestampColumn;
use crate::exec::Output;
use crate::format::{Format, RowFormat};
use crate::parser::ast::{ColumnKind, CreateAsSelect, CreateSource, SourceKind, Statement};
use crate::parser::{self, Parsed};
use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value::Row;
pub use explain::QueryExplanation;
use planned::Planned;
pub use print::{PrintRequest, Printer, Printing};
pub use properties::SourceProperties;
pub use pull::PullQuery;
pub use push::{PushQuery, PushRow};
pub use topics::Topics;

/// A statement that failed, with ksqlDB's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KsqlError {
    /// The SQL does not parse.
    #[error("{0}")]
    Parse(#[from] parser::ParseError),
    /// The statement is not valid here (ksqlDB's `KsqlStatementException`).
    #[error("{0}")]
    Statement(String),
    /// Something the engine does not do yet.
    #[error("{0}")]
    Unsupported(String),
    /// The cluster failed.
    #[error("{0}")]
    Kafka(String),
}

impl From<PlanError> for KsqlError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Invalid(m) | PlanError::Codegen(m) => KsqlError::Statement(m),
            PlanError::Unsupported(m) => KsqlError::Unsupported(m),
            PlanError::Internal(m) => KsqlError::Statement(m),
        }
    }
}

/// How the engine reaches its cluster and names what it makes.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `ksql.service.id`: the prefix of query application ids and internal topics.
    pub service_id: String,
    /// `ksql.streams.*` properties (without the prefix) given to every query.
    pub streams: BTreeMap<String, String>,
    /// The server's other `ksql.*` settings (`ksql.query.pull.limit.clause.enabled`, ...),
    /// which a session's properties override.
    pub settings: BTreeMap<String, String>,
}

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A stream or table was created (or replaced).
    SourceCreated {
        /// Its name.
        name: String,
        /// Stream or table.
        kind: SourceKind,
    },
    /// A persistent query started.
    QueryStarted {
        /// Its id.
        id: String,
        /// The source it writes.
        sink: String,
    },
    /// A record was written.
    Inserted,
    /// A source was dropped.
    Dropped {
        /// Its name.
        name: String,
    },
    /// Queries were terminated.
    Terminated(Vec<String>),
    /// A session property changed.
    PropertySet,
    /// A custom type was created or dropped.
    TypeChanged,
}

struct Running {
    streams: Arc<KafkaStreams>,
    application_id: String,
    inputs: Vec<String>,
    /// Started (a query made while commands are replayed waits for the end of the replay).
    started: bool,
    /// What `EXPLAIN` shows of it.
    explained: explain::Explained,
}

/// A recorded command being played again: the cluster holds its topics already, and its
/// query keeps the id it was given.
#[derive(Debug, Clone, Default)]
struct Replaying {
    query_id: Option<String>,
}

/// The engine of one server (or of one conformance test case).
pub struct Engine {
    config: EngineConfig,
    catalog: Catalog,
    topics: Topics,
    producer: rdkafka::producer::FutureProducer,
    running: BTreeMap<String, Running>,
    /// Set while a recorded command runs again.
    replaying: Option<Replaying>,
    /// Queries wait for [`Engine::start_deferred`] instead of starting.
    defer: bool,
}

impl Engine {
    /// An engine on the cluster at `config.bootstrap_servers`.
    pub fn new(config: EngineConfig) -> Result<Engine, KsqlError> {
        let topics = Topics::new(&config.bootstrap_servers).map_err(KsqlError::Kafka)?;
        let producer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("linger.ms", "0")
            // (Kafka's partitioner, as ksqlDB's Java producer: a key lands where Kafka Streams
            // and every Java client put it, so inserted rows stay co-partitioned)
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(|e| KsqlError::Kafka(format!("cannot create a producer: {e}")))?;
        Ok(Engine {
            config,
            catalog: Catalog::default(),
            topics,
            producer,
            running: BTreeMap::new(),
            replaying: None,
            defer: false,
        })
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The producer `INSERT ... VALUES` writes with.
    pub fn producer(&self) -> &rdkafka::producer::FutureProducer {
        &self.producer
    }

    /// The topics client.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The application ids and input topics of the running queries.
    pub fn running_queries(&self) -> Vec<(String, String, Vec<String>)> {
        self.running
            .iter()
            .map(|(id, r)| (id.clone(), r.application_id.clone(), r.inputs.clone()))
            .collect()
    }

    /// Why a running query failed, if one did.
    pub fn failed_query(&self) -> Option<(String, String)> {
        self.running
            .iter()
            .find_map(|(id, r)| r.streams.error().map(|e| (id.clone(), e)))
    }

    /// Runs a statement recorded by a server of this service (the command topic), as it ran
    /// there: its topics were made (or deleted) then and are left alone, and the query it
    /// starts keeps `query_id`, its recorded id (so the query resumes from its committed
    /// offsets and state).
    pub async fn replay(
        &mut self,
        parsed: &Parsed,
        properties: &BTreeMap<String, String>,
        query_id: Option<&str>,
    ) -> Result<Outcome, KsqlError> {
        self.replaying = Some(Replaying {
            query_id: query_id.map(str::to_string),
        });
        let outcome = self.execute(parsed, properties).await;
        self.replaying = None;
        outcome
    }

    /// Whether queries wait for [`Engine::start_deferred`] instead of starting (while a
    /// server replays its commands, so a query terminated later in them never runs).
    pub fn defer_starts(&mut self, defer: bool) {
        self.defer = defer;
    }

    /// Starts the queries that waited; the ids of those that failed to, with why.
    pub fn start_deferred(&mut self) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        for (id, r) in self.running.iter_mut().filter(|(_, r)| !r.started) {
            match r.streams.start() {
                Ok(()) => r.started = true,
                Err(e) => failed.push((id.clone(), e.to_string())),
            }
        }
        failed
    }

    /// Parses `sql` with this engine's custom types.
    pub fn parse(&self, sql: &str) -> Result<Vec<Parsed>, KsqlError> {
        Ok(parser::parse(sql, &self.catalog.types)?)
    }

    /// [`Engine::parse`] of a statement parsed before as part of a larger text, where it
    /// starts at `start` (its messages' positions count from that text's start).
    pub fn parse_at(
        &self,
        sql: &str,
        start: sqlparser::tokenizer::Location,
    ) -> Result<Vec<Parsed>, KsqlError> {
        Ok(parser::parse_at(sql, &self.catalog.types, start)?)
    }

    /// Runs one statement with session `properties`.
    pub async fn execute(
        &mut self,
        parsed: &Parsed,
        properties: &BTreeMap<String, String>,
    ) -> Result<Outcome, KsqlError> {
        match &parsed.statement {
            Statement::CreateSource(c) => self.create_source(c, &parsed.text, properties).await,
            Statement::CreateAsSelect(c) => {
                self.create_as_select(c, &parsed.text, properties).await
            }
            Statement::InsertInto {
                target,
                target_at,
                query,
            } => {
                self.insert_into(target, *target_at, query, &parsed.text, properties)
                    .await
            }
            Statement::InsertValues {
                target,
                columns,
                values,
            } => {
                crate::exec::insert::insert_values(self, target, columns, values).await?;
                Ok(Outcome::Inserted)
            }
            Statement::Drop {
                kind,
                name,
                if_exists,
                delete_topic,
            } => {
                self.drop_source(*kind, name, *if_exists, *delete_topic)
                    .await
            }
            Statement::Terminate(id) => self.terminate(id.as_deref()).await,
            Statement::CreateType {
                name,
                ty,
                if_not_exists,
            } => {
                if self.catalog.types.contains_key(name) && !if_not_exists {
                    return Err(KsqlError::Statement(format!(
                        "Cannot register custom type '{name}' since it is already registered with type: {}",
                        self.catalog.types[name]
                    )));
                }
                self.catalog.types.entry(name.clone()).or_insert(ty.clone());
                Ok(Outcome::TypeChanged)
            }
            Statement::DropType { name, if_exists } => {
                if self.catalog.types.remove(name).is_none() && !if_exists {
                    return Err(KsqlError::Statement(format!("Type {name} does not exist.")));
                }
                Ok(Outcome::TypeChanged)
            }
            Statement::SetProperty { .. } | Statement::UnsetProperty(_) => Ok(Outcome::PropertySet),
            other => Err(KsqlError::Unsupported(format!(
                "this statement is not supported yet: {other:?}"
            ))),
        }
    }

    /// Whether a source's single value column is written alone: its `WRAP_SINGLE_VALUE`, else
    /// `ksql.persistence.wrap.single.values` (ksqlDB refuses the property for several
    /// columns).
    fn unwrapped(
        &self,
        props: &SourceProperties,
        value_columns: usize,
        session: &BTreeMap<String, String>,
    ) -> Result<bool, KsqlError> {
        if props.wrap_single_value.is_some() && value_columns != 1 {
            return Err(KsqlError::Statement(
                "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas".into(),
            ));
        }
        if props.wrap_single_value.is_some() || value_columns != 1 {
            return Ok(props.unwrapped());
        }
        Ok(self.setting_is(session, "ksql.persistence.wrap.single.values", "false"))
    }

    async fn create_source(
        &mut self,
        c: &CreateSource,
        sql: &str,
        session: &BTreeMap<String, String>,
    ) -> Result<Outcome, KsqlError> {
        // (a source stream or table is read-only: never replaced, nor replacing)
        let replaces_source = self
            .catalog
            .sources
            .get(&c.name)
            .is_some_and(|existing| existing.read_only);
        if c.or_replace && (c.source || replaces_source) {
            let word = kind_word(c.kind);
            return Err(KsqlError::Statement(format!(
                "Cannot add {word} '{}': CREATE OR REPLACE is not supported on source {word}s.",
                c.name
            )));
        }
        if let Some(existing) = self.catalog.sources.get(&c.name) {
            if c.if_not_exists {
                return Ok(Outcome::SourceCreated {
                    name: c.name.clone(),
                    kind: existing.kind,
                });
            }
            if !c.or_replace {
                return Err(KsqlError::Statement(format!(
                    "Cannot add {} '{}': A {} with the same name already exists",
                    kind_word(c.kind),
                    c.name,
                    kind_word(existing.kind)
                )));
            }
        }
        // (formats not given come from ksql.persistence.default.format.key/value)
        let mut given = c.properties.clone();
        if !given.contains_key("FORMAT") {
            for (name, setting) in [
                ("KEY_FORMAT", "ksql.persistence.default.format.key"),
                ("VALUE_FORMAT", "ksql.persistence.default.format.value"),
            ] {
                if let (false, Some(d)) = (given.contains_key(name), self.setting(session, setting))
                {
                    given.insert(
                        name.to_string(),
                        crate::parser::ast::Literal::String(d.to_string()),
                    );
                }
            }
        }
        let props = SourceProperties::parse(&given, c.kind, None)?;
        let topic = props.topic.clone().ok_or_else(|| {
            KsqlError::Statement(
                "Missing required property \"KAFKA_TOPIC\" which has no default value.".into(),
            )
        })?;
        let mut key = Vec::new();
        let mut value = Vec::new();
        let mut header_columns: Vec<(String, SqlType, Option<String>)> = Vec::new();
        for col in &c.columns {
            match &col.kind {
                ColumnKind::Key => {
                    if c.kind == SourceKind::Stream && col.primary {
                        return Err(KsqlError::Statement(format!(
                            "Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                            col.name
                        )));
                    }
                    if c.kind == SourceKind::Table && !col.primary {
                        return Err(KsqlError::Statement(format!(
                            "Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                            col.name
                        )));
                    }
                    key.push((col.name.clone(), col.ty.clone()));
                }
                ColumnKind::Value => value.push((col.name.clone(), col.ty.clone())),
                ColumnKind::Headers(header) => {
                    let expected = match header {
                        None => crate::catalog::headers_type(),
                        Some(_) => SqlType::Bytes,
                    };
                    if col.ty != expected {
                        let what = match header {
                            None => "HEADERS".to_string(),
                            Some(k) => format!("HEADER('{k}')"),
                        };
                        return Err(KsqlError::Statement(format!(
                            "Invalid type for {what} column: expected {expected}, got {}",
                            col.ty
                        )));
                    }
                    // (as ksqlDB's schema builder: nothing after HEADERS, each key once)
                    if header_columns.iter().any(|(_, _, h)| h.is_none()) {
                        return Err(KsqlError::Statement(
                            "Schema already contains a HEADERS column.".into(),
                        ));
                    }
                    if let Some(k) = header {
                        if header_columns.iter().any(|(_, _, h)| h.as_ref() == Some(k)) {
                            return Err(KsqlError::Statement(format!(
                                "Schema already contains a HEADER('{k}') column."
                            )));
                        }
                    }
                    header_columns.push((col.name.clone(), col.ty.clone(), header.clone()));
                }
            }
        }
        // (as ksqlDB's rows: the value's columns, then the headers')
        let headers: Vec<Option<String>> =
            header_columns.iter().map(|(_, _, h)| h.clone()).collect();
        value.extend(header_columns.into_iter().map(|(n, t, _)| (n, t)));
        let mut names = std::collections::BTreeSet::new();
        for (n, _) in key.iter().chain(value.iter()) {
            if !names.insert(n.clone()) {
                return Err(KsqlError::Statement(format!("Duplicate column names: {n}")));
            }
            if matches!(
                n.as_str(),
                "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND"
            ) {
                return Err(KsqlError::Statement(format!(
                    "'{n}' is a reserved column name. You cannot use it as a name for a column."
                )));
            }
        }
        if c.kind == SourceKind::Table && key.is_empty() {
            return Err(KsqlError::Statement(
                "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.".into(),
            ));
        }
        let unwrapped_value = self.unwrapped(&props, value.len() - headers.len(), session)?;
        let source = DataSource {
            name: c.name.clone(),
            kind: c.kind,
            topic: topic.clone(),
            key,
            value,
            headers,
            key_format: props.key_format.clone(),
            value_format: props.value_format.clone(),
            unwrapped_value,
            timestamp: props.timestamp.clone(),
            windowing: props.windowing,
            sql: sql.to_string(),
            read_only: c.source,
        };
        check_formats(&source)?;
        if source.windowing.is_some() && source.key.is_empty() {
            return Err(KsqlError::Statement(
                "Windowed sources require a key column.".into(),
            ));
        }
        TimestampColumn::of(&source).map_err(KsqlError::Statement)?;
        if self.replaying.is_none()
            && !self.topics.exists(&topic).await.map_err(KsqlError::Kafka)?
        {
            match props.partitions {
                Some(p) => self
                    .topics
                    .create(&topic, p, props.replicas)
                    .await
                    .map_err(KsqlError::Kafka)?,
                None => {
                    return Err(KsqlError::Statement(format!(
                        "Topic '{topic}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} {} (...) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, REPLICAS=1, ...);",
                        kind_word(c.kind), c.kind, c.name
                    )))
                }
            }
        }
        self.catalog.sources.insert(c.name.clone(), source);
        Ok(Outcome::SourceCreated {
            name: c.name.clone(),
            kind: c.kind,
        })
    }

    fn next_query_id(&mut self, prefix: &str, sink: &str) -> String {
        // (a replayed query keeps its recorded id; later ids count on from the highest)
        if let Some(id) = self.replaying.as_ref().and_then(|r| r.query_id.clone()) {
            if let Some(n) = id.rsplit('_').next().and_then(|n| n.parse::<u64>().ok()) {
                self.catalog.query_count = self.catalog.query_count.max(n + 1);
            }
            return id;
        }
        let id = format!("{prefix}_{sink}_{}", self.catalog.query_count);
        self.catalog.query_count += 1;
        id
    }

    async fn create_as_select(
        &mut self,
        c: &CreateAsSelect,
        sql: &str,
        session: &BTreeMap<String, String>,
    ) -> Result<Outcome, KsqlError> {
        if self.catalog.sources.contains_key(&c.name) {
            if c.if_not_exists {
                return Ok(Outcome::SourceCreated {
                    name: c.name.clone(),
                    kind: c.kind,
                });
            }
            if !c.or_replace {
                let existing = self.catalog.sources[&c.name].kind;
                return Err(KsqlError::Statement(format!(
                    "Cannot add {} '{}': A {} with the same name already exists",
                    kind_word(c.kind),
                    c.name,
                    kind_word(existing)
                )));
            }
            return Err(KsqlError::Unsupported(
                "CREATE OR REPLACE of a query's sink is not supported yet".into(),
            ));
        }
        if c.query.limit.is_some() {
            return Err(KsqlError::Statement(format!(
                "CREATE {} AS SELECT statements don't support LIMIT clause.",
                kind_word(c.kind).to_uppercase()
            )));
        }
        let planned = Planned::new(&self.catalog, &c.query, Some(&c.name), session)?;
        let input = planned.source().clone();
        if planned.kind() != c.kind {
            return Err(KsqlError::Statement(match c.kind {
                SourceKind::Table => "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.".to_string(),
                SourceKind::Stream => "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.".to_string(),
            }));
        }
        let props = SourceProperties::parse(&c.properties, c.kind, Some(&input))?;
        let (key_columns, value_columns) = planned.columns();
        // (only NONE, which writes no key, may be asked for)
        if key_columns.is_empty()
            && c.properties.contains_key("KEY_FORMAT")
            && props.key_format != Format::None
        {
            return Err(KsqlError::Statement(
                "Key format specified for stream without key columns.".into(),
            ));
        }
        // a keyless source's NONE key format cannot hold the key the query gives its output:
        // ksqlDB then takes the default key format
        let key_format = match &props.key_format {
            Format::None if !key_columns.is_empty() && !c.properties.contains_key("KEY_FORMAT") => {
                match session.get("ksql.persistence.default.format.key") {
                    Some(name) => Format::parse(name, None).map_err(KsqlError::Statement)?,
                    None => Format::Kafka,
                }
            }
            // (and a query that leaves its keys out writes none)
            _ if key_columns.is_empty() && !c.properties.contains_key("KEY_FORMAT") => Format::None,
            other => other.clone(),
        };
        let topic = props.topic.clone().unwrap_or_else(|| c.name.clone());
        let unwrapped_value = self.unwrapped(&props, value_columns.len(), session)?;
        let sink = DataSource {
            name: c.name.clone(),
            kind: c.kind,
            topic: topic.clone(),
            key: key_columns,
            value: value_columns,
            headers: Vec::new(),
            key_format,
            value_format: props.value_format.clone(),
            unwrapped_value,
            timestamp: props.timestamp.clone(),
            windowing: planned.windowing(),
            sql: sql.to_string(),
            read_only: false,
        };
        // (ksqlDB names the statement it analysed in its message for a key its format cannot
        // hold)
        planned
            .check_sink(&sink)
            .and_then(|()| check_formats(&sink))
            .map_err(|e| match e {
                KsqlError::Statement(m) if m.starts_with("Key format does not support schema") => {
                    match crate::plan::text::formatted_create_as(
                        &kind_word(c.kind).to_uppercase(),
                        &c.name,
                        &c.properties,
                        &c.query,
                        &input,
                    ) {
                        Some(text) => KsqlError::Statement(format!("{m}\nStatement: {text}")),
                        None => KsqlError::Statement(m),
                    }
                }
                other => other,
            })?;
        TimestampColumn::of(&sink).map_err(KsqlError::Statement)?;
        if self.replaying.is_none()
            && !self.topics.exists(&topic).await.map_err(KsqlError::Kafka)?
        {
            let partitions = match props.partitions {
                Some(p) => p,
                None => self
                    .topics
                    .partitions(&input.topic)
                    .await
                    .map_err(KsqlError::Kafka)?,
            };
            self.topics
                .create(&topic, partitions, props.replicas)
                .await
                .map_err(KsqlError::Kafka)?;
        }
        let prefix = match c.kind {
            SourceKind::Stream => "CSAS",
            SourceKind::Table => "CTAS",
        };
        let id = self.next_query_id(prefix, &c.name);
        let sources = planned.sources().iter().map(|s| s.name.clone()).collect();
        self.start(&id, planned, &sink, session, true)?;
        self.catalog.sources.insert(c.name.clone(), sink);
        self.catalog.queries.insert(
            id.clone(),
            PersistentQuery {
                id: id.clone(),
                sink: c.name.clone(),
                sources,
                sql: sql.to_string(),
            },
        );
        Ok(Outcome::QueryStarted {
            id,
            sink: c.name.clone(),
        })
    }

    async fn insert_into(
        &mut self,
        target: &str,
        (line, column): (u64, u64),
        query: &crate::parser::ast::Query,
        sql: &str,
        session: &BTreeMap<String, String>,
    ) -> Result<Outcome, KsqlError> {
        let Some(sink) = self.catalog.sources.get(target).cloned() else {
            return Err(KsqlError::Statement(format!(
                "Line: {line}, Col: {column}: Source `{target}` does not exist."
            )));
        };
        if sink.kind == SourceKind::Table {
            return Err(KsqlError::Statement(format!(
                "INSERT INTO can only be used to insert into a stream. {target} is a table."
            )));
        }
        if sink.read_only {
            return Err(KsqlError::Statement(format!(
                "Cannot insert into read-only stream: {target}"
            )));
        }
        if !sink.headers.is_empty() {
            return Err(KsqlError::Statement(format!(
                "Cannot insert into {target} because it has header columns"
            )));
        }
        let planned = Planned::new(&self.catalog, query, Some(target), session)?;
        if planned.kind() != SourceKind::Stream {
            return Err(KsqlError::Statement(
                "INSERT INTO can only be used to insert into a stream. The query produces a table."
                    .into(),
            ));
        }
        let (key, value) = planned.columns();
        if key
            .iter()
            .map(|(_, t)| t)
            .ne(sink.key.iter().map(|(_, t)| t))
            || value != sink.value
        {
            return Err(KsqlError::Statement(format!(
                "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
                schema_text(&key, &value),
                schema_text(&sink.key, &sink.value)
            )));
        }
        let id = self.next_query_id("INSERTQUERY", "");
        let id = id.replacen("INSERTQUERY__", "INSERTQUERY_", 1);
        let sources = planned.sources().iter().map(|s| s.name.clone()).collect();
        self.start(&id, planned, &sink, session, false)?;
        self.catalog.queries.insert(
            id.clone(),
            PersistentQuery {
                id: id.clone(),
                sink: target.to_string(),
                sources,
                sql: sql.to_string(),
            },
        );
        Ok(Outcome::QueryStarted {
            id,
            sink: target.to_string(),
        })
    }

    /// Starts the persistent query `id` running `planned` into `sink`.
    fn start(
        &mut self,
        id: &str,
        planned: Planned,
        sink: &DataSource,
        session: &BTreeMap<String, String>,
        set_timestamps: bool,
    ) -> Result<(), KsqlError> {
        // (one query per id: a replayed command must not stand in for a running query)
        if self.running.contains_key(id) {
            return Err(KsqlError::Statement(format!(
                "A query with id {id} is running already"
            )));
        }
        let mut topics: Vec<String> = planned.sources().iter().map(|s| s.topic.clone()).collect();
        // (an aggregation windows its output keys itself; other queries keep their source's
        // windows in the key rows)
        let serdes = match planned {
            Planned::Aggregate(_) => serdes(key_format(sink)?, value_format(sink)?),
            _ => source_serdes(sink)?,
        };
        // (`CREATE ... AS SELECT`'s TIMESTAMP sets the output's timestamps; INSERT INTO, as in
        // ksqlDB, keeps the query's)
        let timestamp = if set_timestamps {
            TimestampColumn::of(sink).map_err(KsqlError::Statement)?
        } else {
            None
        };
        let plan_outline = explain::outline(&planned, sink);
        let topology = planned.topology(
            Output::Topic {
                name: sink.topic.clone(),
                serdes,
                timestamp,
            },
            self.throw_on_invalid_timestamp(session),
        )?;
        let application_id = format!("_confluent-ksql-{}query_{id}", self.config.service_id);
        let config = self.query_config(&application_id, session);
        // what the query reads: its source and its own repartition topics
        let mut inputs = std::mem::take(&mut topics);
        inputs.extend(
            topology
                .internal_topics(&application_id)
                .into_iter()
                .filter(|(_, changelog)| !changelog)
                .map(|(t, _)| t),
        );
        let explained = explain::Explained {
            plan: plan_outline,
            topology: topology.describe().to_string(),
            overridden: session.clone(),
        };
        let streams =
            KafkaStreams::new(topology, config).map_err(|e| KsqlError::Statement(e.to_string()))?;
        if !self.defer {
            streams
                .start()
                .map_err(|e| KsqlError::Statement(e.to_string()))?;
        }
        self.running.insert(
            id.to_string(),
            Running {
                streams: Arc::new(streams),
                application_id,
                inputs,
                started: !self.defer,
                explained,
            },
        );
        Ok(())
    }

    /// A property's value: the session's, else the server's.
    fn setting<'a>(&'a self, session: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
        session
            .get(name)
            .or_else(|| self.config.settings.get(name))
            .map(|v| v.trim())
    }

    /// Whether a property (the session's, else the server's) is set to `value` (`true`,
    /// `false`), in any case.
    fn setting_is(&self, session: &BTreeMap<String, String>, name: &str, value: &str) -> bool {
        self.setting(session, name)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    /// `ksql.timestamp.throw.on.invalid`: a source record whose timestamp column cannot be
    /// read stops the query (instead of being skipped).
    fn throw_on_invalid_timestamp(&self, session: &BTreeMap<String, String>) -> bool {
        self.setting_is(session, "ksql.timestamp.throw.on.invalid", "true")
    }

    /// The streams configuration of a query: the server's `ksql.streams.*` properties, then
    /// the session's.
    fn query_config(
        &self,
        application_id: &str,
        session: &BTreeMap<String, String>,
    ) -> StreamsConfig {
        let mut config = StreamsConfig::new()
            .with("application.id", application_id)
            .with("bootstrap.servers", &self.config.bootstrap_servers);
        for (k, v) in &self.config.streams {
            config.set(k, v);
        }
        // ksqlDB logs a record it cannot read and goes on (unless
        // `ksql.fail.on.deserialization.error` is true)
        let fail = session
            .get("ksql.fail.on.deserialization.error")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !fail {
            config.set(
                "default.deserialization.exception.handler",
                "LogAndContinueExceptionHandler",
            );
        }
        // only `ksql.streams.*` session properties reach the streams runtime (ksqlDB's internal
        // `__...__` ones and every other name stay out of the clients' configs), and
        // `auto.offset.reset` as the CLI's `SET` gives it
        for (k, v) in session {
            if let Some(k) = k.strip_prefix("ksql.streams.") {
                if !k.starts_with("__") {
                    config.set(k, v);
                }
            } else if k == "auto.offset.reset" {
                config.set(k, v);
            }
        }
        config
    }

    async fn drop_source(
        &mut self,
        kind: SourceKind,
        name: &str,
        if_exists: bool,
        delete_topic: bool,
    ) -> Result<Outcome, KsqlError> {
        let Some(source) = self.catalog.sources.get(name) else {
            if if_exists {
                return Ok(Outcome::Dropped {
                    name: name.to_string(),
                });
            }
            return Err(KsqlError::Statement(format!(
                "{} {name} does not exist.",
                match kind {
                    SourceKind::Stream => "Stream",
                    SourceKind::Table => "Table",
                }
            )));
        };
        if source.kind != kind {
            return Err(KsqlError::Statement(format!(
                "Incompatible data source type is {}, but statement was DROP {}",
                source.kind, kind
            )));
        }
        let users: Vec<String> = self
            .catalog
            .queries
            .values()
            .filter(|q| q.sink == name || q.sources.iter().any(|s| s == name))
            .map(|q| q.id.clone())
            .collect();
        let writers: Vec<&String> = users
            .iter()
            .filter(|id| self.catalog.queries[*id].sink == name)
            .collect();
        if !users.is_empty() {
            let readers: Vec<&String> = users
                .iter()
                .filter(|id| self.catalog.queries[*id].sink != name)
                .collect();
            let _ = writers;
            return Err(KsqlError::Statement(format!(
                "Cannot drop {name}.\nThe following queries read from this source: [{}].\nThe following queries write into this source: [{}].\nYou need to terminate them before dropping {name}.",
                readers.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                users
                    .iter()
                    .filter(|id| self.catalog.queries[*id].sink == name)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if delete_topic && source.read_only {
            return Err(KsqlError::Statement(format!(
                "Cannot delete topic for read-only source: {name}"
            )));
        }
        let topic = source.topic.clone();
        self.catalog.sources.remove(name);
        if delete_topic && self.replaying.is_none() {
            self.topics.delete(&topic).await.map_err(KsqlError::Kafka)?;
        }
        Ok(Outcome::Dropped {
            name: name.to_string(),
        })
    }

    async fn terminate(&mut self, id: Option<&str>) -> Result<Outcome, KsqlError> {
        let ids: Vec<String> = match id {
            Some(id) => {
                if !self.catalog.queries.contains_key(id) {
                    return Err(KsqlError::Statement(format!("Unknown queryId: {id}")));
                }
                vec![id.to_string()]
            }
            None => self.catalog.queries.keys().cloned().collect(),
        };
        for id in &ids {
            self.catalog.queries.remove(id);
            if let Some(r) = self.running.remove(id) {
                stop(r.streams).await;
            }
        }
        Ok(Outcome::Terminated(ids))
    }

    /// Stops every query.
    pub async fn close(&mut self) {
        let running = std::mem::take(&mut self.running);
        for (_, r) in running {
            stop(r.streams).await;
        }
    }
}

async fn stop(streams: Arc<KafkaStreams>) {
    let _ =
        tokio::task::spawn_blocking(move || streams.close_timeout(Duration::from_secs(10))).await;
}

/// `stream` or `table`, as ksqlDB's messages say.
pub fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    }
}

fn schema_text(
    key: &[(String, crate::types::SqlType)],
    value: &[(String, crate::types::SqlType)],
) -> String {
    key.iter()
        .map(|(n, t)| format!("`{n}` {t} KEY"))
        .chain(value.iter().map(|(n, t)| format!("`{n}` {t}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a source's formats against its columns.
fn check_formats(s: &DataSource) -> Result<(), KsqlError> {
    key_format(s)?;
    value_format(s)?;
    // (a JSON object's names are strings)
    for (format, columns) in [
        (&s.key_format, s.key.as_slice()),
        (&s.value_format, s.format_columns()),
    ] {
        if matches!(format, Format::Json) && columns.iter().any(|(_, t)| map_key_not_string(t)) {
            return Err(KsqlError::Statement(
                "JSON only supports MAP types with STRING keys".into(),
            ));
        }
    }
    Ok(())
}

/// Whether `t` is or holds a map whose keys are not strings.
fn map_key_not_string(t: &SqlType) -> bool {
    match t {
        SqlType::Map(k, v) => **k != SqlType::String || map_key_not_string(v),
        SqlType::Array(item) => map_key_not_string(item),
        SqlType::Struct(fields) => fields.iter().any(|(_, t)| map_key_not_string(t)),
        _ => false,
    }
}

/// The format of a source's keys.
pub fn key_format(s: &DataSource) -> Result<RowFormat, KsqlError> {
    RowFormat::new(s.key_format.clone(), s.key.clone(), true, true).map_err(KsqlError::Statement)
}

/// The format of a source's values.
pub fn value_format(s: &DataSource) -> Result<RowFormat, KsqlError> {
    RowFormat::new(
        s.value_format.clone(),
        s.format_columns().to_vec(),
        s.unwrapped_value,
        false,
    )
    .map_err(KsqlError::Statement)
}

/// The serdes of a source's records.
pub fn source_serdes(
    s: &DataSource,
) -> Result<
    (
        tributary_streams::SharedSerde<Row>,
        tributary_streams::SharedSerde<Option<Row>>,
    ),
    KsqlError,
> {
    let key: tributary_streams::SharedSerde<Row> =
        Arc::new(crate::exec::serde::KeySerde(key_format(s)?));
    let value: tributary_streams::SharedSerde<Option<Row>> = Arc::new(
        crate::exec::serde::ValueSerde::with_headers(value_format(s)?, s.headers.clone()),
    );
    let key: tributary_streams::SharedSerde<Row> = match s.windowing {
        Some(windowing) => Arc::new(crate::exec::serde::WindowedKeySerde {
            key: crate::exec::serde::KeySerde(key_format(s)?),
            windowing,
        }),
        None => key,
    };
    Ok((key, value))
}
