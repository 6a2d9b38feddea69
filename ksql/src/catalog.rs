//! The catalogue: the streams and tables the engine knows (ksqlDB's metastore), custom types,
//! and the persistent queries writing into its sources.

use std::collections::BTreeMap;

use crate::format::Format;
use crate::parser::ast::SourceKind;
use crate::types::SqlType;

/// How a source's keys are windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windowing {
    /// Tumbling or hopping windows of this size (ms): keys carry the window start.
    Time {
        /// The window size (ms).
        size: i64,
        /// Hopping windows (their keys are a tumbling window's; ksqlDB names them apart).
        hopping: bool,
    },
    /// Session windows: keys carry the window start and end.
    Session,
}

impl Windowing {
    /// ksqlDB's name of the window type: `TUMBLING`, `HOPPING` or `SESSION`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Windowing::Time { hopping: false, .. } => "TUMBLING",
            Windowing::Time { hopping: true, .. } => "HOPPING",
            Windowing::Session => "SESSION",
        }
    }
}

/// A stream or a table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// Its name.
    pub name: String,
    /// Stream or table.
    pub kind: SourceKind,
    /// The Kafka topic it reads.
    pub topic: String,
    /// The key columns.
    pub key: Vec<(String, SqlType)>,
    /// The value columns: those of the value format, then those read from the record's
    /// headers (`headers`).
    pub value: Vec<(String, SqlType)>,
    /// The last `headers.len()` columns of `value` come from the record's headers: each reads
    /// every header (`None`: `HEADERS`) or the last one with a key (`HEADER('key')`).
    pub headers: Vec<Option<String>>,
    /// The keys' format.
    pub key_format: Format,
    /// The values' format.
    pub value_format: Format,
    /// A single value column written as its value alone.
    pub unwrapped_value: bool,
    /// The column whose value is a record's timestamp (`TIMESTAMP`), and its format.
    pub timestamp: Option<(String, Option<String>)>,
    /// How its keys are windowed, if they are.
    pub windowing: Option<Windowing>,
    /// The statement that made it.
    pub sql: String,
    /// A `CREATE SOURCE` (read-only) source.
    pub read_only: bool,
}

impl DataSource {
    /// Every column, keys first.
    pub fn columns(&self) -> impl Iterator<Item = &(String, SqlType)> {
        self.key.iter().chain(self.value.iter())
    }

    /// The value columns the value format holds (the header columns left out).
    pub fn format_columns(&self) -> &[(String, SqlType)] {
        &self.value[..self.value.len().saturating_sub(self.headers.len())]
    }

    /// The header columns: name, and the header key each reads (`None`: every header).
    pub fn header_columns(&self) -> impl Iterator<Item = (&String, &Option<String>)> {
        let first = self.value.len().saturating_sub(self.headers.len());
        self.value[first..]
            .iter()
            .map(|(n, _)| n)
            .zip(self.headers.iter())
    }
}

/// The type of a `HEADERS` column: every header, in order, as a key and a value.
pub fn headers_type() -> SqlType {
    SqlType::Array(Box::new(SqlType::Struct(vec![
        ("KEY".into(), SqlType::String),
        ("VALUE".into(), SqlType::Bytes),
    ])))
}

/// A persistent query.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistentQuery {
    /// Its id (`CSAS_S1_0`).
    pub id: String,
    /// The source it writes.
    pub sink: String,
    /// The sources it reads.
    pub sources: Vec<String>,
    /// Its statement.
    pub sql: String,
}

/// What the engine knows.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Streams and tables by name.
    pub sources: BTreeMap<String, DataSource>,
    /// Custom types by upper-case name.
    pub types: BTreeMap<String, SqlType>,
    /// Persistent queries by id.
    pub queries: BTreeMap<String, PersistentQuery>,
    /// How many persistent queries were ever started (the number in their ids).
    pub query_count: u64,
}

impl Catalog {
    /// The source `name`, or ksqlDB's error.
    pub fn source(&self, name: &str) -> Result<&DataSource, String> {
        self.sources
            .get(name)
            .ok_or_else(|| format!("{name} does not exist."))
    }

    /// ksqlDB's hint for a source name that only differs in case from existing ones (empty
    /// when none does): `\nDid you mean "input"? Hint: wrap the source name in double quotes
    /// to make it case-sensitive.`
    pub fn case_hint(&self, name: &str) -> String {
        let matched: Vec<&DataSource> = self
            .sources
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name))
            .collect();
        let quote_hint = "Hint: wrap the source name in double quotes to make it case-sensitive.";
        match matched.as_slice() {
            [] => String::new(),
            [one] if one.name.chars().any(char::is_lowercase) => {
                format!("\nDid you mean \"{}\"? {quote_hint}", one.name)
            }
            [one] => format!(
                "\nDid you mean {}? Hint: try removing double quotes from the source name.",
                one.name
            ),
            many => {
                let n = many.len();
                let mut hint = "\nDid you mean ".to_string();
                for (i, s) in many.iter().enumerate() {
                    let punctuation = match (i + 2).cmp(&n) {
                        std::cmp::Ordering::Less => ", ",
                        std::cmp::Ordering::Equal if i == 0 => " or ",
                        std::cmp::Ordering::Equal => ", or ",
                        std::cmp::Ordering::Greater => "? ",
                    };
                    hint.push_str(&format!("\"{}\" ({}){punctuation}", s.name, s.kind));
                }
                hint.push_str(quote_hint);
                hint
            }
        }
    }
}
