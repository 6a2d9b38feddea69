//! The statements of ksqlDB's language, as the parser gives them. Expressions stay
//! `sqlparser` expressions (with identifiers already in ksqlDB's case: unquoted ones upper
//! case); the planner resolves and types them.

use std::collections::BTreeMap;
use std::fmt;

use sqlparser::ast::Expr;

use crate::types::SqlType;

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name (columns) WITH (...)`.
    CreateSource(CreateSource),
    /// `CREATE [OR REPLACE] STREAM|TABLE name [WITH (...)] AS SELECT ...`.
    CreateAsSelect(CreateAsSelect),
    /// `INSERT INTO name SELECT ...`.
    InsertInto {
        /// The stream written to.
        target: String,
        /// Where its name is (line and column, from 1).
        target_at: (u64, u64),
        /// What is written.
        query: Box<Query>,
    },
    /// `INSERT INTO name [(columns)] VALUES (...)`.
    InsertValues {
        /// The stream or table written to.
        target: String,
        /// The columns named, in order (empty: every column in declaration order).
        columns: Vec<String>,
        /// The values.
        values: Vec<Expr>,
    },
    /// A push or pull query.
    Query(Box<Query>),
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`.
    Drop {
        /// Stream or table.
        kind: SourceKind,
        /// The source dropped.
        name: String,
        /// No error when it does not exist.
        if_exists: bool,
        /// Its topic is deleted too.
        delete_topic: bool,
    },
    /// `TERMINATE query_id` or `TERMINATE ALL`.
    Terminate(Option<String>),
    /// `SHOW|LIST STREAMS|TABLES|TOPICS|QUERIES|PROPERTIES|FUNCTIONS [EXTENDED]`.
    Show {
        /// What is listed.
        what: ShowWhat,
        /// `EXTENDED`.
        extended: bool,
    },
    /// `DESCRIBE [EXTENDED] name`, `DESCRIBE STREAMS|TABLES [EXTENDED]`.
    Describe {
        /// The source described (`None`: every stream or table, per `all`).
        name: Option<String>,
        /// With `name: None`: streams or tables.
        all: Option<SourceKind>,
        /// `EXTENDED`.
        extended: bool,
    },
    /// `DESCRIBE FUNCTION name`.
    DescribeFunction(String),
    /// `EXPLAIN query_id` or `EXPLAIN statement`.
    Explain(ExplainTarget),
    /// `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`.
    Print {
        /// The topic, as written (quoted names keep their case).
        topic: String,
        /// From the first record instead of new ones.
        from_beginning: bool,
        /// Every n-th record.
        interval: Option<u64>,
        /// At most this many records.
        limit: Option<u64>,
    },
    /// `SET 'name'='value'`.
    SetProperty {
        /// The property.
        name: String,
        /// Its value.
        value: String,
    },
    /// `UNSET 'name'`.
    UnsetProperty(String),
    /// `CREATE TYPE name AS type`.
    CreateType {
        /// The type's name.
        name: String,
        /// What it stands for.
        ty: SqlType,
        /// No error when it exists.
        if_not_exists: bool,
    },
    /// `DROP TYPE name`.
    DropType {
        /// The type's name.
        name: String,
        /// No error when it does not exist.
        if_exists: bool,
    },
}

/// Stream or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A stream: every record is an event.
    Stream,
    /// A table: a record updates its key.
    Table,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        })
    }
}

/// What SHOW lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowWhat {
    /// Streams.
    Streams,
    /// Tables.
    Tables,
    /// Kafka topics.
    Topics,
    /// Kafka topics, internal ones (whose names start with `_`) included: `SHOW ALL TOPICS`.
    AllTopics,
    /// Running queries.
    Queries,
    /// Properties.
    Properties,
    /// Functions.
    Functions,
    /// Connectors.
    Connectors,
    /// Custom types.
    Types,
}

/// What EXPLAIN explains.
#[derive(Debug, Clone, PartialEq)]
pub enum ExplainTarget {
    /// A running query, by id.
    QueryId(String),
    /// A statement that is not run.
    Statement(Box<Statement>),
}

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// The record's value.
    Value,
    /// The record's key (`KEY` on a stream, `PRIMARY KEY` on a table).
    Key,
    /// Every header (`HEADERS`, an `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`), or the last one
    /// with a name (`HEADER('name')`, `BYTES`).
    Headers(Option<String>),
}

/// A declared column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Its name, in ksqlDB's case.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Key, value or headers.
    pub kind: ColumnKind,
    /// Declared `PRIMARY KEY` (only tables may).
    pub primary: bool,
}

/// `CREATE STREAM|TABLE` with columns.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    /// Stream or table.
    pub kind: SourceKind,
    /// Its name.
    pub name: String,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `SOURCE`: a read-only source materialized for pull queries.
    pub source: bool,
    /// The columns (empty: inferred, which needs a schema registry).
    pub columns: Vec<ColumnDef>,
    /// The `WITH` properties, names upper case.
    pub properties: Properties,
}

/// `CREATE STREAM|TABLE ... AS SELECT`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    /// Stream or table.
    pub kind: SourceKind,
    /// Its name.
    pub name: String,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The `WITH` properties, names upper case.
    pub properties: Properties,
    /// The query that fills it.
    pub query: Box<Query>,
}

/// `WITH (...)` properties: upper-case names to literal values.
pub type Properties = BTreeMap<String, Literal>;

/// A property's literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string.
    String(String),
    /// A number, as written.
    Number(String),
    /// TRUE or FALSE.
    Boolean(bool),
}

impl Literal {
    /// The value as text (a string's contents, a number as written).
    pub fn text(&self) -> String {
        match self {
            Literal::String(s) | Literal::Number(s) => s.clone(),
            Literal::Boolean(b) => b.to_string(),
        }
    }
}

/// A SELECT statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The projection.
    pub select: Vec<SelectItem>,
    /// What is read.
    pub from: From,
    /// `WINDOW ...`.
    pub window: Option<WindowExpr>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY` expressions.
    pub group_by: Vec<Expr>,
    /// `PARTITION BY` expressions.
    pub partition_by: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `EMIT CHANGES` / `EMIT FINAL` (`None`: a pull query).
    pub emit: Option<Emit>,
    /// `LIMIT n`.
    pub limit: Option<u64>,
}

/// One item of a projection.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`.
    Wildcard,
    /// `source.*`.
    QualifiedWildcard(String),
    /// An expression, with its alias.
    Expr {
        /// The expression.
        expr: Box<Expr>,
        /// `AS alias`.
        alias: Option<String>,
    },
}

/// `EMIT CHANGES` or `EMIT FINAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Every change.
    Changes,
    /// A window's result once it closes.
    Final,
}

/// A source in FROM, with its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// The stream or table.
    pub name: String,
    /// `AS alias` (`None`: the name is the alias).
    pub alias: Option<String>,
}

impl Relation {
    /// The name columns are qualified by.
    pub fn qualifier(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// The FROM clause: a source, then its joins in order.
#[derive(Debug, Clone, PartialEq)]
pub struct From {
    /// The leftmost source.
    pub first: Relation,
    /// The joins, left to right.
    pub joins: Vec<Join>,
}

/// One join.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Inner, left, right or full outer.
    pub kind: JoinKind,
    /// The source joined.
    pub right: Relation,
    /// `WITHIN` (stream-stream joins).
    pub within: Option<Within>,
    /// The ON condition.
    pub on: Expr,
}

/// The kind of join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `[INNER] JOIN`.
    Inner,
    /// `LEFT [OUTER] JOIN`.
    Left,
    /// `RIGHT [OUTER] JOIN`.
    Right,
    /// `FULL [OUTER] JOIN` / `OUTER JOIN`.
    Outer,
}

/// `WITHIN n unit` or `WITHIN (before, after)`, with an optional grace period (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within {
    /// How far before the left record the right one may be (ms).
    pub before: i64,
    /// How far after (ms).
    pub after: i64,
    /// `GRACE PERIOD` (ms).
    pub grace: Option<i64>,
}

/// A WINDOW clause; durations in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowExpr {
    /// The kind and size.
    pub kind: WindowKind,
    /// `RETENTION`.
    pub retention: Option<i64>,
    /// `GRACE PERIOD`.
    pub grace: Option<i64>,
}

/// The kind of window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLING (SIZE n)`.
    Tumbling {
        /// The size.
        size: i64,
    },
    /// `HOPPING (SIZE n, ADVANCE BY m)`.
    Hopping {
        /// The size.
        size: i64,
        /// The advance.
        advance: i64,
    },
    /// `SESSION (gap)`.
    Session {
        /// The inactivity gap.
        gap: i64,
    },
}
