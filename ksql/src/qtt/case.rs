//! Test cases as ksqlDB's query-validation test files hold them, expanded into the variants
//! that run (one per entry of `format` and of `config`).

use std::collections::BTreeMap;
use std::path::Path;

use super::json::{self, J};

/// A record a case writes or expects.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSpec {
    /// The topic.
    pub topic: String,
    /// The key (`None`: absent, a null key).
    pub key: Option<J>,
    /// The value (`J::Null`: a tombstone).
    pub value: J,
    /// The timestamp (`None`: 0 on input, not checked on output).
    pub timestamp: Option<i64>,
    /// The window of a windowed key: start, end and type (`time` or `session`).
    pub window: Option<(i64, i64, String)>,
    /// The headers (`None`: none), values in base64.
    pub headers: Option<Vec<(String, Option<String>)>>,
}

/// An expected failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedException {
    /// The Java class (simple name kept), if given.
    pub class: Option<String>,
    /// A part of the message, if given.
    pub message: Option<String>,
}

/// One runnable variant of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The file's name without `.json`.
    pub file: String,
    /// `<file> - <case>[ - <FORMAT>][ - <prop>=<config>]`.
    pub name: String,
    /// The statements, joined by new lines, `{FORMAT}` substituted.
    pub statements: String,
    /// The records written before the queries run.
    pub inputs: Vec<RecordSpec>,
    /// The records expected.
    pub outputs: Vec<RecordSpec>,
    /// Declared topics and their partition counts.
    pub topics: Vec<(String, i32)>,
    /// Session properties.
    pub properties: BTreeMap<String, String>,
    /// The failure expected instead of outputs, if any.
    pub expected_exception: Option<ExpectedException>,
    /// The formats its statements use (upper case).
    pub formats: Vec<String>,
    /// A case of the REST suite: what goes through the server's REST API and comes back.
    pub rest: Option<RestCase>,
}

/// A case of ksqlDB's REST suite (`rest-query-validation-tests`): its statements go to a
/// server, those before the first `SELECT` in one `/ksql` request, each query to `/query`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestCase {
    /// The statements, one each, `{FORMAT}` substituted.
    pub statements: Vec<String>,
    /// The expected responses: `{"admin": entity}` per entity of the `/ksql` request, then
    /// `{"query": [header, rows..., final message]}` per query; each lists only the fields
    /// it checks.
    pub responses: Vec<J>,
    /// The error the last statement is expected to answer (`type`, `message`, `status`).
    pub error: Option<J>,
    /// Rows must come in the order listed (else in any order).
    pub verify_order: bool,
    /// The inputs are written once the first query runs (else before it starts).
    pub inputs_after_query: bool,
}

/// Formats that need a schema registry.
pub const REGISTRY_FORMATS: &[&str] = &["AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"];

impl Variant {
    /// Whether it needs a schema registry (which Tributary does not have yet).
    pub fn needs_registry(&self) -> bool {
        self.formats
            .iter()
            .any(|f| REGISTRY_FORMATS.contains(&f.as_str()))
    }
}

fn record(j: &J) -> Result<RecordSpec, String> {
    let topic = j
        .get("topic")
        .and_then(J::as_str)
        .ok_or("a record without a topic")?
        .to_string();
    let key = j.get("key").cloned();
    let value = j.get("value").cloned().unwrap_or(J::Null);
    let timestamp = match j.get("timestamp") {
        None | Some(J::Null) => None,
        Some(t) => Some(t.as_i64().ok_or("a timestamp that is not an integer")?),
    };
    let window = match j.get("window") {
        None | Some(J::Null) => None,
        Some(w) => Some((
            w.get("start")
                .and_then(J::as_i64)
                .ok_or("a window without start")?,
            w.get("end")
                .and_then(J::as_i64)
                .ok_or("a window without end")?,
            w.get("type")
                .and_then(J::as_str)
                .unwrap_or("time")
                .to_lowercase(),
        )),
    };
    let headers = match j.get("headers") {
        None | Some(J::Null) => None,
        Some(h) => Some(
            h.as_array()
                .ok_or("headers that are not a list")?
                .iter()
                .map(|h| {
                    let k = h
                        .get("KEY")
                        .or_else(|| h.get("key"))
                        .and_then(J::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let v = h
                        .get("VALUE")
                        .or_else(|| h.get("value"))
                        .and_then(J::as_str)
                        .map(str::to_string);
                    (k, v)
                })
                .collect(),
        ),
    };
    Ok(RecordSpec {
        topic,
        key,
        value,
        timestamp,
        window,
        headers,
    })
}

fn records(j: Option<&J>) -> Result<Vec<RecordSpec>, String> {
    match j {
        None | Some(J::Null) => Ok(Vec::new()),
        Some(list) => list
            .as_array()
            .ok_or("records that are not a list")?
            .iter()
            .map(record)
            .collect(),
    }
}

/// The formats a statement text names (`VALUE_FORMAT='JSON'`, `FORMAT='KAFKA'`, ...).
pub fn formats_named(sql: &str) -> Vec<String> {
    let upper = sql.to_uppercase();
    let mut found = Vec::new();
    for prop in ["KEY_FORMAT", "VALUE_FORMAT", "FORMAT"] {
        let mut rest = upper.as_str();
        while let Some(i) = rest.find(prop) {
            let before = rest[..i].chars().last();
            let after = rest[i + prop.len()..].trim_start();
            rest = &rest[i + prop.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(after) = after.strip_prefix('=') else {
                continue;
            };
            let after = after.trim_start();
            let Some(after) = after.strip_prefix('\'') else {
                continue;
            };
            if let Some(end) = after.find('\'') {
                let f = after[..end].to_string();
                if !found.contains(&f) {
                    found.push(f);
                }
            }
        }
    }
    found
}

/// Loads a file's variants (disabled cases are left out).
pub fn load(path: &Path) -> Result<Vec<Variant>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let root = json::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let tests = root
        .get("tests")
        .and_then(J::as_array)
        .ok_or_else(|| format!("{}: no \"tests\" list", path.display()))?;
    // (a file of the REST suite: its cases expect responses or errors of the REST API)
    let rest = tests
        .iter()
        .any(|t| t.get("responses").is_some() || t.get("expectedError").is_some());
    let file = if rest { format!("rest/{file}") } else { file };
    let mut variants = Vec::new();
    for t in tests {
        if t.get("enabled") == Some(&J::Bool(false)) {
            continue;
        }
        let name = t.get("name").and_then(J::as_str).unwrap_or("").to_string();
        let statements: Vec<String> = t
            .get("statements")
            .and_then(J::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        let inputs = records(t.get("inputs")).map_err(|e| format!("{file} - {name}: {e}"))?;
        let outputs = records(t.get("outputs")).map_err(|e| format!("{file} - {name}: {e}"))?;
        let topics = t
            .get("topics")
            .and_then(J::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|tp| {
                let n = tp.get("name").and_then(J::as_str)?;
                let p = tp.get("partitions").and_then(J::as_i64).unwrap_or(1);
                Some((n.to_string(), p as i32))
            })
            .collect::<Vec<_>>();
        let mut properties = BTreeMap::new();
        if let Some(J::Obj(props)) = t.get("properties") {
            for (k, v) in props {
                let v = match v {
                    J::Str(s) => s.clone(),
                    other => other.to_text(),
                };
                properties.insert(k.clone(), v);
            }
        }
        let expected_exception = t.get("expectedException").map(|e| ExpectedException {
            class: e.get("type").and_then(J::as_str).map(str::to_string),
            message: e.get("message").and_then(J::as_str).map(str::to_string),
        });
        let format_list: Vec<Option<String>> = match t.get("format").and_then(J::as_array) {
            Some(l) if !l.is_empty() => l
                .iter()
                .filter_map(|f| f.as_str().map(|s| Some(s.to_string())))
                .collect(),
            _ => vec![None],
        };
        let config_list: Vec<Option<String>> = match t.get("config").and_then(J::as_array) {
            Some(l) if !l.is_empty() => l
                .iter()
                .map(|c| match c {
                    J::Str(s) => Some(s.clone()),
                    other => Some(other.to_text()),
                })
                .collect(),
            _ => vec![None],
        };
        for format in &format_list {
            for config in &config_list {
                let mut full = format!("{file} - {name}");
                let sql: Vec<String> = statements
                    .iter()
                    .map(|s| match format {
                        Some(f) => s.replace("{FORMAT}", f),
                        None => s.clone(),
                    })
                    .collect();
                if let Some(f) = format {
                    full.push_str(&format!(" - {f}"));
                }
                let mut props = properties.clone();
                if let Some(c) = config {
                    if let Some((k, v)) = props.iter_mut().find(|(_, v)| v.as_str() == "{CONFIG}") {
                        *v = c.clone();
                        full.push_str(&format!(" - {k}={c}"));
                    }
                }
                let statement_list = sql.clone();
                let sql = sql.join("\n");
                let mut formats = formats_named(&sql);
                for key in [
                    "ksql.persistence.default.format.value",
                    "ksql.persistence.default.format.key",
                ] {
                    if let Some(f) = props.get(key) {
                        formats.push(f.to_uppercase());
                    }
                }
                if let Some(f) = format {
                    if sql.contains(f.as_str()) && !formats.contains(f) {
                        formats.push(f.clone());
                    }
                }
                let rest = rest.then(|| RestCase {
                    statements: statement_list.clone(),
                    responses: t
                        .get("responses")
                        .and_then(J::as_array)
                        .unwrap_or(&[])
                        .to_vec(),
                    error: t.get("expectedError").cloned(),
                    verify_order: t.get("outputConditions").and_then(|c| c.get("verifyOrder"))
                        == Some(&J::Bool(true)),
                    inputs_after_query: t
                        .get("inputConditions")
                        .and_then(|c| c.get("waitForActivePushQuery"))
                        == Some(&J::Bool(true)),
                });
                variants.push(Variant {
                    file: file.clone(),
                    name: full,
                    rest,
                    statements: sql,
                    inputs: inputs.clone(),
                    outputs: outputs.clone(),
                    topics: topics.clone(),
                    properties: props,
                    expected_exception: expected_exception.clone(),
                    formats,
                });
            }
        }
    }
    Ok(variants)
}
