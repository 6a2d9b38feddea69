//! Kafka Connect's recorded REST answers (`connect/tests/fixtures/kafka-connect-rest.md`), the
//! recorded requests replayed against our worker, and the comparison of the two answers after
//! normalizing what the fixture calls volatile: `worker_id`, host:port, the test files'
//! directory, `trace` after its first line, `commit`, `kafka_cluster_id` and loggers'
//! `last_modified`, and the key order
//! of Java `HashMap`s (connector configs, offsets' partitions and offsets, the connectors of
//! `?expand`). Every other object is compared with its keys in order.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Where Kafka's workers read and wrote the test files.
pub const KAFKA_FILES: &str = "/tmp/kcref/files";

/// JSON with the order of object keys kept.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<J, E> {
        Ok(J::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<J, E> {
        Ok(J::Str(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<J>()? {
            items.push(item);
        }
        Ok(J::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, J>()? {
            entries.push(entry);
        }
        Ok(J::Obj(entries))
    }
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

impl J {
    pub fn parse(text: &str) -> Result<J, String> {
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// An object's keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            J::Obj(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The member `key` of an object.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut J> {
        match self {
            J::Obj(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Compact JSON text.
    pub fn text(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.clone(),
            J::Str(s) => serde_json::to_string(s).unwrap_or_default(),
            J::Arr(items) => {
                let inner: Vec<String> = items.iter().map(J::text).collect();
                format!("[{}]", inner.join(","))
            }
            J::Obj(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}:{}", J::Str(k.clone()).text(), v.text()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }

    /// Calls `f` with every member of every object, depth first.
    fn walk(&mut self, f: &mut impl FnMut(&str, &mut J)) {
        match self {
            J::Arr(items) => items.iter_mut().for_each(|i| i.walk(f)),
            J::Obj(entries) => {
                for (k, v) in entries.iter_mut() {
                    f(k, v);
                    v.walk(f);
                }
            }
            _ => {}
        }
    }
}

/// A request: method, path (with query), body and headers, as curl sent it.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Req {
    /// A request without a body.
    pub fn bare(method: &str, path: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            body: None,
            headers: Vec::new(),
        }
    }
}

/// An answer's parts that are compared.
#[derive(Clone, Debug)]
pub struct Expected {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    /// JSON, or the raw text when it is not JSON (empty for no body).
    pub json: Option<J>,
    pub text: String,
}

/// A recorded section: the request and Kafka's answer.
pub struct Recorded {
    pub request: Req,
    pub answer: Expected,
}

fn fixture() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../connect/tests/fixtures/kafka-connect-rest.md"
        );
        std::fs::read_to_string(path).expect("the recorded answers are readable")
    })
}

fn section(id: &str) -> &'static str {
    let text = fixture();
    let start = text
        .find(&format!("\n### {id}. "))
        .unwrap_or_else(|| panic!("no section {id} in the fixture"))
        + 1;
    let rest = &text[start..];
    let end = [rest[4..].find("\n### "), rest[4..].find("\n## ")]
        .into_iter()
        .flatten()
        .min()
        .map_or(rest.len(), |e| e + 4);
    &rest[..end]
}

/// Splits a shell line into words (single quotes only, as the fixture's curl lines use).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match (quoted, c) {
            (false, '\'') | (true, '\'') => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            (false, c) if c.is_whitespace() => out.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

fn curl_request(line: &str) -> Req {
    let words = words(line);
    let mut req = Req::bare("GET", "/");
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        match w.as_str() {
            "-X" => req.method = it.next().cloned().unwrap_or_default(),
            "-H" => {
                let h = it.next().cloned().unwrap_or_default();
                if let Some((k, v)) = h.split_once(':') {
                    req.headers
                        .push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "--data-raw" => req.body = it.next().cloned(),
            url if url.starts_with("http://") => {
                let after = &url["http://".len()..];
                req.path = after[after.find('/').unwrap_or(after.len())..].to_string();
            }
            _ => {}
        }
    }
    let has_type = req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if req.body.is_some() && !has_type {
        // curl's default for --data-raw
        req.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    req
}

/// A recorded section by id (`S7`, `A109`).
pub fn recorded(id: &str) -> Recorded {
    let s = section(id);
    let curl = s
        .lines()
        .find(|l| l.starts_with("curl "))
        .unwrap_or_else(|| panic!("{id}: no curl line"));
    let status_line = s
        .lines()
        .find(|l| l.starts_with("- status: **"))
        .unwrap_or_else(|| panic!("{id}: no status"));
    let status: u16 = status_line["- status: **".len()..][..3]
        .parse()
        .unwrap_or_else(|_| panic!("{id}: bad status line"));
    let content_type = status_line
        .split_once("Content-Type: `")
        .and_then(|(_, rest)| rest.split('`').next())
        .map(str::to_string);
    let location = s
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string);
    let text = if let Some(i) = s.find("Body (raw):\n```") {
        let fenced = &s[i + "Body (raw):\n".len()..];
        let content = &fenced[fenced.find('\n').map_or(0, |n| n + 1)..];
        content[..content.find("\n```").unwrap_or(content.len())].to_string()
    } else if let Some(i) = s.find("Body: byte-identical to §") {
        let other = &s[i + "Body: byte-identical to §".len()..];
        recorded(other.split_whitespace().next().unwrap_or(""))
            .answer
            .text
    } else {
        String::new()
    };
    let json = J::parse(&text).ok();
    Recorded {
        request: curl_request(curl),
        answer: Expected {
            status,
            content_type,
            location,
            json,
            text,
        },
    }
}

/// A change made to Kafka's recorded answer before comparing (an intended difference).
type Adjust = Box<dyn Fn(&mut Expected)>;

/// How one comparison deviates from the default.
#[derive(Default)]
pub struct Opts {
    adjust: Option<Adjust>,
    unordered_root: bool,
    set_root: bool,
    ours_text: Vec<(String, String)>,
    cut_after: Option<String>,
    as_recorded: bool,
}

impl Opts {
    pub fn new() -> Opts {
        Opts::default()
    }
    /// What we answer differently on purpose (each use says why).
    pub fn adjust(mut self, f: impl Fn(&mut Expected) + 'static) -> Opts {
        self.adjust = Some(Box::new(f));
        self
    }
    /// The root object's keys are connector names (a Java `HashMap`).
    pub fn unordered(mut self) -> Opts {
        self.unordered_root = true;
        self
    }
    /// The root array is a set (connector names in `HashMap` order).
    pub fn set(mut self) -> Opts {
        self.set_root = true;
        self
    }
    /// Sends the request with Kafka's file paths (where a message depends on the body's
    /// length).
    pub fn with_recorded_paths(mut self) -> Opts {
        self.as_recorded = true;
        self
    }
    /// Compares `message`s up to the end of `marker` only.
    pub fn cut_after(mut self, marker: &str) -> Opts {
        self.cut_after = Some(marker.into());
        self
    }
    /// Replaces a text in our body before comparing.
    pub fn replace(mut self, from: &str, to: &str) -> Opts {
        self.ours_text.push((from.into(), to.into()));
        self
    }
}

/// Our answer.
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// Objects whose keys come from a Java `HashMap`.
const HASHMAPS: &[&str] = &["config", "partition", "offset"];

fn normalize(j: &mut J, ours: bool) {
    j.walk(&mut |k, v| match (k, &*v) {
        ("worker_id", J::Str(_)) => *v = J::Str("WORKER".into()),
        ("kafka_cluster_id" | "commit", J::Str(_)) => *v = J::Str("X".into()),
        ("last_modified", J::Num(_)) => *v = J::Num("MS".into()),
        ("trace", J::Str(t)) => *v = J::Str(t.lines().next().unwrap_or("").to_string()),
        // our plugins report Tributary's version where Kafka's FileStream ones report Kafka's
        ("version", J::Str(s)) if ours && s == tributary_connectors::file::VERSION => {
            *v = J::Str("4.4.0".into())
        }
        _ => {}
    });
}

fn compare_json(k: &J, o: &J, path: &str, unordered: bool, set: bool) -> Result<(), String> {
    let differ = || Err(format!("{path}: Kafka {} ≠ ours {}", k.text(), o.text()));
    match (k, o) {
        (J::Obj(a), J::Obj(b)) => {
            let mut ka: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
            let mut kb: Vec<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
            let last = path.rsplit('.').next().unwrap_or("");
            if unordered || HASHMAPS.contains(&last) {
                ka.sort_unstable();
                kb.sort_unstable();
            }
            if ka != kb {
                return Err(format!("{path}: keys Kafka {ka:?} ≠ ours {kb:?}"));
            }
            for (key, v) in a {
                let w = b.iter().find(|(k, _)| k == key).map(|(_, w)| w);
                compare_json(
                    v,
                    w.unwrap_or(&J::Null),
                    &format!("{path}.{key}"),
                    false,
                    false,
                )?;
            }
            Ok(())
        }
        (J::Arr(a), J::Arr(b)) if a.len() == b.len() => {
            let (mut a, mut b) = (a.clone(), b.clone());
            if set {
                a.sort_by_key(J::text);
                b.sort_by_key(J::text);
            }
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                compare_json(x, y, &format!("{path}[{i}]"), false, false)?;
            }
            Ok(())
        }
        _ if k == o => Ok(()),
        _ => differ(),
    }
}

/// `http://HOST:PORT/...` → `http://HOST/...`.
fn without_host(url: &str) -> String {
    match url.strip_prefix("http://") {
        Some(rest) => format!(
            "http://HOST{}",
            &rest[rest.find('/').unwrap_or(rest.len())..]
        ),
        None => url.to_string(),
    }
}

/// Replays requests against one worker.
pub struct Replay {
    pub url: String,
    /// Our directory for Kafka's `/tmp/kcref/files`.
    pub files: String,
    client: reqwest::Client,
}

impl Replay {
    pub fn new(url: &str, files: &str) -> Replay {
        Replay {
            url: url.to_string(),
            files: files.to_string(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(&self, req: &Req) -> Answer {
        self.send_to(req, &self.files).await
    }

    /// Sends `req` with Kafka's file paths turned into `files`.
    async fn send_to(&self, req: &Req, files: &str) -> Answer {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("a method");
        let path = req.path.replace(KAFKA_FILES, files);
        let mut r = self.client.request(method, format!("{}{path}", self.url));
        for (k, v) in &req.headers {
            r = r.header(k, v);
        }
        if let Some(b) = &req.body {
            r = r.body(b.replace(KAFKA_FILES, files));
        }
        let resp = r.send().await.expect("the REST API answers");
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let location = header(reqwest::header::LOCATION);
        Answer {
            status: resp.status().as_u16(),
            content_type,
            location,
            body: resp.text().await.expect("a body"),
        }
    }

    fn compare(&self, expected: &Expected, ours: &Answer, opts: &Opts) -> Result<(), String> {
        if expected.status != ours.status {
            return Err(format!(
                "status Kafka {} ≠ ours {}",
                expected.status, ours.status
            ));
        }
        if expected.content_type != ours.content_type {
            return Err(format!(
                "Content-Type Kafka {:?} ≠ ours {:?}",
                expected.content_type, ours.content_type
            ));
        }
        let (kl, ol) = (
            expected.location.as_deref().map(without_host),
            ours.location.as_deref().map(without_host),
        );
        if kl != ol {
            return Err(format!("Location Kafka {kl:?} ≠ ours {ol:?}"));
        }
        let mut body = ours.body.replace(&self.files, KAFKA_FILES);
        for (from, to) in &opts.ours_text {
            body = body.replace(from, to);
        }
        match &expected.json {
            Some(k) => {
                let mut k = k.clone();
                let mut o = J::parse(&body)?;
                normalize(&mut k, false);
                normalize(&mut o, true);
                if let Some(marker) = &opts.cut_after {
                    for j in [&mut k, &mut o] {
                        if let Some(J::Str(m)) = j.get_mut("message") {
                            if let Some(i) = m.find(marker.as_str()) {
                                m.truncate(i + marker.len());
                            }
                        }
                    }
                }
                compare_json(&k, &o, "$", opts.unordered_root, opts.set_root)
            }
            None if expected.text == body => Ok(()),
            None => Err(format!("body Kafka {:?} ≠ ours {body:?}", expected.text)),
        }
    }

    async fn attempt(&self, id: &str, opts: &Opts) -> (Result<(), String>, Answer) {
        eprintln!("replaying {id}");
        let rec = recorded(id);
        let mut expected = rec.answer;
        if let Some(adjust) = &opts.adjust {
            adjust(&mut expected);
        }
        let files = if opts.as_recorded {
            KAFKA_FILES
        } else {
            &self.files
        };
        let ours = self.send_to(&rec.request, files).await;
        (self.compare(&expected, &ours, opts), ours)
    }

    /// Sends section `id`'s request and compares our answer with Kafka's.
    pub async fn check(&self, id: &str, opts: Opts) -> Answer {
        let (result, ours) = self.attempt(id, &opts).await;
        if let Err(e) = result {
            panic!("{id}: {e}\n  ours: {} {}", ours.status, ours.body);
        }
        ours
    }

    /// [`Replay::check`] with the recorded request as is.
    pub async fn replay(&self, id: &str) -> Answer {
        self.check(id, Opts::new()).await
    }

    /// [`Replay::check`], repeated until the worker has caught up (tasks running, offsets
    /// committed).
    pub async fn eventually(&self, id: &str, opts: Opts) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (result, ours) = self.attempt(id, &opts).await;
            match result {
                Ok(()) => return ours,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "{id} (after 30 s): {e}\n  ours: {} {}",
                        ours.status, ours.body
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}
