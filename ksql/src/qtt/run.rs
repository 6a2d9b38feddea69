//! Running one variant against a cluster: its statements through an engine, its inputs
//! written in their topics' formats, its queries driven until they have read everything, and
//! the output topics compared with what it expects.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::case::{RecordSpec, Variant};
use super::compare::matches;
use super::json::J;
use crate::catalog::DataSource;
use crate::engine::{Engine, EngineConfig, KsqlError};
use crate::format::{json::java_double, Format};
use crate::parser::ast::Statement;
use crate::types::SqlType;

/// A variant's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It behaved as expected.
    Pass,
    /// It did not; why.
    Fail(String),
}

/// How long queries get to read their inputs.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// The class of an error, in ksqlDB's hierarchy of exceptions.
fn error_class(e: &KsqlError) -> &'static str {
    match e {
        KsqlError::Parse(_) => "ParseFailedException",
        KsqlError::Statement(_) | KsqlError::Unsupported(_) => "KsqlStatementException",
        KsqlError::Kafka(_) => "KsqlException",
    }
}

/// Whether an error of class `actual` is an instance of the expected Java class.
fn is_instance(actual: &str, expected: &str) -> bool {
    let simple = expected.rsplit('.').next().unwrap_or(expected);
    let ancestors: &[&str] = match actual {
        "ParseFailedException" => &[
            "ParseFailedException",
            "KsqlStatementException",
            "KsqlException",
            "StreamsException",
            "RuntimeException",
            "Exception",
        ],
        "KsqlStatementException" => &[
            "KsqlStatementException",
            "KsqlException",
            "StreamsException",
            "RuntimeException",
            "Exception",
        ],
        "KsqlException" => &[
            "KsqlException",
            "StreamsException",
            "RuntimeException",
            "Exception",
        ],
        _ => &["StreamsException", "RuntimeException", "Exception"],
    };
    ancestors.contains(&simple)
}

fn expected_failure(v: &Variant, class: &str, message: &str) -> Verdict {
    let Some(ee) = &v.expected_exception else {
        return Verdict::Fail(format!("{class}: {message}"));
    };
    if let Some(c) = &ee.class {
        if !is_instance(class, c) {
            return Verdict::Fail(format!("expected {c}, got {class}: {message}"));
        }
    }
    if let Some(m) = &ee.message {
        if !message.contains(m.as_str()) {
            return Verdict::Fail(format!(
                "expected a message containing {m:?}, got {class}: {message}"
            ));
        }
    }
    Verdict::Pass
}

/// The topics to make before the statements run: declared ones, those records name, and those
/// `CREATE` statements with columns name (with their `PARTITIONS`, else 1).
pub(super) fn topics_to_create(
    v: &Variant,
    statements: &[crate::parser::Parsed],
) -> BTreeMap<String, i32> {
    let mut topics = BTreeMap::new();
    for (t, p) in &v.topics {
        topics.insert(t.clone(), *p);
    }
    for s in statements {
        if let Statement::CreateSource(c) = &s.statement {
            if let Some(t) = c.properties.get("KAFKA_TOPIC") {
                let p = c
                    .properties
                    .get("PARTITIONS")
                    .and_then(|p| p.text().parse().ok())
                    .unwrap_or(1);
                topics.entry(t.text()).or_insert(p);
            }
        }
    }
    for r in v.inputs.iter().chain(v.outputs.iter()) {
        topics.entry(r.topic.clone()).or_insert(1);
    }
    topics
}

/// Runs `v` on the cluster at `bootstrap` (which holds no topics of an earlier variant).
pub async fn run_variant(v: &Variant, bootstrap: &str) -> Verdict {
    // (ksqlDB's harness gives its tests its test functions: BAD_UDF, ...)
    crate::functions::test_udfs::enable();
    if v.rest.is_some() {
        return super::rest::run(v, bootstrap).await;
    }
    let mut streams = BTreeMap::new();
    streams.insert("commit.interval.ms".to_string(), "50".to_string());
    streams.insert("cache.max.bytes.buffering".to_string(), "0".to_string());
    streams.insert("auto.offset.reset".to_string(), "earliest".to_string());
    streams.insert("num.stream.threads".to_string(), "1".to_string());
    let config = EngineConfig {
        bootstrap_servers: bootstrap.to_string(),
        service_id: "some.ksql.service.id".to_string(),
        streams,
        settings: BTreeMap::new(),
    };
    let mut engine = match Engine::new(config) {
        Ok(e) => e,
        Err(e) => return Verdict::Fail(format!("cannot start the engine: {e}")),
    };
    let verdict = run_with(v, &mut engine, bootstrap).await;
    engine.close().await;
    verdict
}

async fn run_with(v: &Variant, engine: &mut Engine, bootstrap: &str) -> Verdict {
    let parsed = match engine.parse(&v.statements) {
        Ok(p) => p,
        Err(e) => return expected_failure(v, error_class(&e), &e.to_string()),
    };
    for (topic, partitions) in topics_to_create(v, &parsed) {
        if let Err(e) = engine.topics().create(&topic, partitions, None).await {
            return Verdict::Fail(format!("cannot create topic {topic}: {e}"));
        }
    }
    let session: BTreeMap<String, String> = v.properties.clone();
    let count = parsed.len();
    for (i, p) in parsed.iter().enumerate() {
        // (statements are parsed again as they run: an earlier CREATE TYPE names types later
        // ones use)
        let p = if i > 0 {
            match engine.parse_at(&p.text, p.start) {
                Ok(mut again) if again.len() == 1 => again.remove(0),
                Ok(_) => p.clone(),
                Err(e) => return expected_failure(v, error_class(&e), &e.to_string()),
            }
        } else {
            p.clone()
        };
        if let Err(e) = engine.execute(&p, &session).await {
            if i + 1 < count && v.expected_exception.is_some() {
                return Verdict::Fail(format!(
                    "Only the last statement in a negative test should fail: {e}"
                ));
            }
            // (unless the message names the statement as ksqlDB analysed it)
            let message = e.to_string();
            let statement_text = if message.contains("\nStatement: ") {
                message
            } else {
                format!("{message}\nStatement: {}", p.text)
            };
            return expected_failure(v, error_class(&e), &statement_text);
        }
    }
    if v.expected_exception.is_some() && v.inputs.is_empty() {
        return Verdict::Fail("Expected test to throw".into());
    }
    if let Err(e) = write_inputs(v, engine, bootstrap).await {
        return Verdict::Fail(e);
    }
    if let Err(e) = drain(engine, bootstrap).await {
        if v.expected_exception.is_some() {
            return expected_failure(v, "StreamsException", &e);
        }
        return Verdict::Fail(e);
    }
    let verdict = check_outputs(v, engine, bootstrap).await;
    if v.expected_exception.is_some() && verdict == Verdict::Pass {
        return Verdict::Fail("Expected test to throw".into());
    }
    verdict
}

/// The source that reads or writes `topic` (the last one declared).
fn source_of<'a>(engine: &'a Engine, topic: &str) -> Option<&'a DataSource> {
    engine
        .catalog()
        .sources
        .values()
        .rfind(|s| s.topic == topic)
}

/// A test key or value written in a format for columns.
fn encode(
    j: Option<&J>,
    format: &Format,
    columns: &[(String, SqlType)],
) -> Result<Option<Vec<u8>>, String> {
    let j = match j {
        None | Some(J::Null) => return Ok(None),
        Some(j) => j,
    };
    Ok(match format {
        Format::None => None,
        Format::Json => Some(j.to_text().into_bytes()),
        Format::Delimited(_) => match j {
            J::Str(s) => Some(s.clone().into_bytes()),
            other => Some(other.to_text().into_bytes()),
        },
        Format::Kafka => {
            let text = match j {
                J::Str(s) => s.clone(),
                J::Num(n) => n.clone(),
                other => other.to_text(),
            };
            match columns.first().map(|(_, t)| t) {
                None | Some(SqlType::String) => Some(text.into_bytes()),
                Some(SqlType::Bytes) => Some(text.into_bytes()),
                Some(SqlType::Int) => Some(
                    text.parse::<f64>()
                        .map(|f| (f as i32).to_be_bytes().to_vec())
                        .map_err(|_| format!("{text} is not an INT"))?,
                ),
                Some(SqlType::Bigint) => Some(
                    text.parse::<f64>()
                        .map(|f| (f as i64).to_be_bytes().to_vec())
                        .map_err(|_| format!("{text} is not a BIGINT"))?,
                ),
                Some(SqlType::Double) => Some(
                    text.parse::<f64>()
                        .map(|f| f.to_be_bytes().to_vec())
                        .map_err(|_| format!("{text} is not a DOUBLE"))?,
                ),
                Some(other) => return Err(format!("KAFKA cannot hold {other}")),
            }
        }
    })
}

pub(super) async fn write_inputs(
    v: &Variant,
    engine: &Engine,
    bootstrap: &str,
) -> Result<(), String> {
    if v.inputs.is_empty() {
        return Ok(());
    }
    // (with the produce protocol itself: librdkafka would write a timestamp of 0, which most
    // cases use, as the current time)
    let mut producer = tributary_client::produce::Producer::new(bootstrap, Duration::from_secs(30));
    // (as Kafka Streams' test driver processes each input before the next, a query reading
    // several topics has read everything written before an input goes to another topic)
    // (a foreign-key join answers each update through two topics: its queries see each input
    // through before the next)
    let topics: std::collections::BTreeSet<&str> =
        v.inputs.iter().map(|r| r.topic.as_str()).collect();
    let round_trips = engine
        .running_queries()
        .iter()
        .any(|(_, _, inputs)| inputs.iter().any(|t| t.contains("SUBSCRIPTION-")));
    let mut previous: Option<&str> = None;
    for r in &v.inputs {
        let switched = topics.len() > 1 && previous.is_some_and(|p| p != r.topic);
        if switched || (round_trips && previous.is_some()) {
            drain(engine, bootstrap).await?;
        }
        previous = Some(&r.topic);
        let (key, value) = match source_of(engine, &r.topic) {
            Some(s) => {
                let mut key = encode(r.key.as_ref(), &s.key_format, &s.key)?;
                // a windowed key: the key, then a time window's start or a session's end and
                // start, as Kafka Streams writes them
                if let Some((start, end, kind)) = &r.window {
                    let bytes = key.get_or_insert_with(Vec::new);
                    if kind.eq_ignore_ascii_case("session") {
                        bytes.extend(end.to_be_bytes());
                    }
                    bytes.extend(start.to_be_bytes());
                }
                (
                    key,
                    encode(Some(&r.value), &s.value_format, s.format_columns())?,
                )
            }
            None => (
                encode(r.key.as_ref(), &Format::Kafka, &[])?,
                encode(Some(&r.value), &Format::Kafka, &[])?,
            ),
        };
        let mut headers: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (k, val) in r.headers.iter().flatten() {
            let bytes = val
                .as_ref()
                .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
                .transpose()
                .map_err(|e| format!("bad header value: {e}"))?;
            headers.push((k.clone(), bytes));
        }
        let record = tributary_client::produce::ProducerRecord {
            key: key.as_deref(),
            value: value.as_deref(),
            headers: &headers,
            timestamp: r.timestamp.unwrap_or(0),
        };
        producer
            .send(&r.topic, None, record)
            .await
            .map_err(|e| format!("cannot write an input to {}: {e}", r.topic))?;
    }
    Ok(())
}

/// Waits until every query has committed the end of each of its input partitions (twice in a
/// row, so that what one query wrote for another is read too).
pub(super) async fn drain(engine: &Engine, bootstrap: &str) -> Result<(), String> {
    let queries = engine.running_queries();
    let consumers = queries
        .iter()
        .map(|(_, app, _)| {
            ClientConfig::new()
                .set("bootstrap.servers", bootstrap)
                .set("group.id", app)
                .create::<BaseConsumer>()
                .map_err(|e| format!("cannot create a consumer: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + DRAIN_LIMIT;
    let mut settled = 0;
    while settled < 2 {
        if let Some((id, e)) = engine.failed_query() {
            return Err(format!("query {id} failed: {e}"));
        }
        if Instant::now() > deadline {
            return Err("queries did not read all their input in time".into());
        }
        let mut done = true;
        for ((_, _, inputs), consumer) in queries.iter().zip(&consumers) {
            let check = |consumer: &BaseConsumer| -> Result<bool, String> {
                for topic in inputs {
                    let md = consumer
                        .fetch_metadata(Some(topic), Duration::from_secs(10))
                        .map_err(|e| e.to_string())?;
                    let Some(t) = md.topics().first() else {
                        continue;
                    };
                    let mut tpl = TopicPartitionList::new();
                    for p in t.partitions() {
                        tpl.add_partition(topic, p.id());
                    }
                    let committed = consumer
                        .committed_offsets(tpl, Duration::from_secs(10))
                        .map_err(|e| e.to_string())?;
                    for p in t.partitions() {
                        let (_, high) = consumer
                            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                            .map_err(|e| e.to_string())?;
                        let at = committed
                            .find_partition(topic, p.id())
                            .and_then(|e| match e.offset() {
                                Offset::Offset(o) => Some(o),
                                _ => None,
                            })
                            .unwrap_or(0);
                        if at < high {
                            return Ok(false);
                        }
                    }
                }
                Ok(true)
            };
            // (a coordinator still loading answers with a retriable error: not done yet)
            if !tokio::task::block_in_place(|| check(consumer)).unwrap_or(false) {
                done = false;
                break;
            }
        }
        if done {
            settled += 1;
        } else {
            settled = 0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A windowed key's inner key bytes and its window (start, end): Kafka Streams writes a time
/// window's start after the key (its end is start + size) and a session's end then start.
fn split_window(
    key: Option<&[u8]>,
    windowing: Option<crate::catalog::Windowing>,
) -> (Option<&[u8]>, Option<(i64, i64)>) {
    use crate::catalog::Windowing;
    let long = |b: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        i64::from_be_bytes(a)
    };
    match (key, windowing) {
        (Some(k), Some(Windowing::Time { size, .. })) if k.len() >= 8 => {
            let (inner, start) = k.split_at(k.len() - 8);
            let start = long(start);
            (Some(inner), Some((start, start + size)))
        }
        (Some(k), Some(Windowing::Session)) if k.len() >= 16 => {
            let (inner, bounds) = k.split_at(k.len() - 16);
            (Some(inner), Some((long(&bounds[8..]), long(&bounds[..8]))))
        }
        (key, _) => (key, None),
    }
}

/// An actual key or value as the test runner's serdes read it.
fn decode(bytes: Option<&[u8]>, format: &Format, columns: &[(String, SqlType)]) -> J {
    let Some(b) = bytes else { return J::Null };
    match format {
        Format::None => J::Null,
        Format::Delimited(_) => J::Str(String::from_utf8_lossy(b).to_string()),
        Format::Json => super::json::parse(&String::from_utf8_lossy(b))
            .unwrap_or_else(|_| J::Str(String::from_utf8_lossy(b).to_string())),
        Format::Kafka => match columns.first().map(|(_, t)| t) {
            Some(SqlType::Int) if b.len() == 4 => {
                J::Num(i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string())
            }
            Some(SqlType::Bigint) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                J::Num(i64::from_be_bytes(a).to_string())
            }
            Some(SqlType::Double) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                J::Num(java_double(f64::from_be_bytes(a)))
            }
            _ => J::Str(String::from_utf8_lossy(b).to_string()),
        },
    }
}

struct Actual {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: i64,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn read_topic(bootstrap: &str, topic: &str) -> Result<Vec<Actual>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "qtt-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create a consumer: {e}"))?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let Some(t) = md.topics().first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        if high <= low {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
            .map_err(|e| e.to_string())?;
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut next = low;
        while next < high {
            if Instant::now() > deadline {
                return Err(format!("cannot read {topic}-{}", p.id()));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    next = m.offset() + 1;
                    let headers = tributary_streams::headers_of(&m);
                    out.push(Actual {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        timestamp: m.timestamp().to_millis().unwrap_or(0),
                        headers,
                    });
                }
                Some(Err(e)) => return Err(format!("cannot read {topic}: {e}")),
                None => {}
            }
        }
    }
    Ok(out)
}

pub(super) async fn check_outputs(v: &Variant, engine: &Engine, bootstrap: &str) -> Verdict {
    let mut by_topic: BTreeMap<&str, Vec<&RecordSpec>> = BTreeMap::new();
    for r in &v.outputs {
        by_topic.entry(r.topic.as_str()).or_default().push(r);
    }
    for (topic, expected) in by_topic {
        let Some(source) = source_of(engine, topic) else {
            return Verdict::Fail(format!("No information found for topic '{topic}'"));
        };
        let actual = match tokio::task::block_in_place(|| read_topic(bootstrap, topic)) {
            Ok(a) => a,
            Err(e) => return Verdict::Fail(e),
        };
        if actual.len() != expected.len() {
            return Verdict::Fail(format!(
                "Topic {topic}. Expected <{}> records but it was <{}>\n{}",
                expected.len(),
                actual.len(),
                describe(&actual, source)
            ));
        }
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let (key_bytes, window) = split_window(a.key.as_deref(), source.windowing);
            let key = decode(key_bytes, &source.key_format, &source.key);
            if let Some((start, end, _)) = &e.window {
                if window != Some((*start, *end)) {
                    return Verdict::Fail(format!(
                        "Topic {topic}, record {i}: expected window {start}..{end}, got {window:?} (key {})",
                        key.to_text()
                    ));
                }
            }
            let value = decode(
                a.value.as_deref(),
                &source.value_format,
                source.format_columns(),
            );
            let expected_key = e.key.clone().unwrap_or(J::Null);
            let key_ok = matches(&key, &expected_key);
            let value_ok = matches(&value, &e.value);
            let ts_ok = e.timestamp.is_none_or(|t| t == a.timestamp);
            let expected_headers: Vec<(String, Option<Vec<u8>>)> = e
                .headers
                .iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_ref().map(|b| {
                            base64::engine::general_purpose::STANDARD
                                .decode(b)
                                .unwrap_or_default()
                        }),
                    )
                })
                .collect();
            let headers_ok = a.headers == expected_headers;
            if !(key_ok && value_ok && ts_ok && headers_ok) {
                return Verdict::Fail(format!(
                    "Topic {topic}, record {i}: expected key {} value {} timestamp {:?}, got key {} value {} timestamp {}{}",
                    expected_key.to_text(),
                    e.value.to_text(),
                    e.timestamp,
                    key.to_text(),
                    value.to_text(),
                    a.timestamp,
                    if headers_ok { String::new() } else { format!(" (headers {:?})", a.headers) }
                ));
            }
        }
    }
    Verdict::Pass
}

fn describe(actual: &[Actual], source: &DataSource) -> String {
    actual
        .iter()
        .map(|a| {
            format!(
                "  key {} value {} timestamp {}",
                decode(a.key.as_deref(), &source.key_format, &source.key).to_text(),
                decode(
                    a.value.as_deref(),
                    &source.value_format,
                    source.format_columns()
                )
                .to_text(),
                a.timestamp
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
