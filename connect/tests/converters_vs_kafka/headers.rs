//! Header converters against Kafka's (`kind header_converter`): SimpleHeaderConverter (Kafka's
//! `Values.parseString` and `Values.convertToString`) reading many texts and writing data of
//! every schema type, and JsonConverter, StringConverter and IntegerConverter used as header
//! converters. Plus random texts (numbers, dates, times, quoted strings, nested arrays and
//! maps, some of them broken) and random data.
//!
//! Inputs left out, and why:
//! * floats and doubles whose Java 17 `toString` may not be the shortest text (the oracle runs
//!   on Java 17, Java 19 and later print the shortest, as we do): hand-picked ones are checked,
//!   random texts that read as a float beyond 2^24 (a double beyond 2^53) or a subnormal one
//!   are dropped (Java 17 prints `1e-45` as `1.4E-45`, `2.84e15` as `2.83999988E15`);
//! * byte arrays through StringConverter (Java prints their identity hash);
//! * a map schema without key schema (`{}`, keys of no common type) inside an array or a map
//!   schema: Kafka's envelope converter throws a NullPointerException writing a map under it,
//!   which we mimic only at the top level;
//! * nesting within a few hundred levels of Java's stack overflow (about 3000 levels).
//!
//! The oracle sets the JVM's default time zone to UTC (Kafka formats and parses dates in it).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tributary_connect::config::Config;
use tributary_connect::converter::{self, Converter, HeaderConverter, JsonConverter};
use tributary_connect::data::{values, Schema, SchemaAndValue, Type, Value};

use super::{hex, random_envelopes, Differential, Gen, Op};

const SIMPLE: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";
const JSON: &str = super::JSON;
const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
const INTEGER: &str = "org.apache.kafka.connect.converters.IntegerConverter";

/// One case: a header converter with its config, and operations on it.
pub(super) struct HeaderCase {
    class: &'static str,
    config: Vec<(&'static str, &'static str)>,
    ops: Vec<Op>,
}

impl Differential for HeaderCase {
    fn text(&self) -> String {
        let mut t = format!("case\th\nkind\theader_converter\nclass\t{}\n", self.class);
        for (k, v) in &self.config {
            t.push_str(&format!("config\t{k}\t{v}\n"));
        }
        for op in &self.ops {
            match op {
                Op::From(env) => t.push_str(&format!("from\ttopic\t{env}\n")),
                Op::To(None) => t.push_str("to\ttopic\t-\n"),
                Op::To(Some(b)) => t.push_str(&format!("to\ttopic\t{}\n", hex(b))),
            }
        }
        t
    }

    fn ours(&self) -> String {
        let config: Config = self
            .config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let converter = converter::header_converter(self.class, &config);
        let envelope = JsonConverter::default();
        let mut out = String::new();
        for op in &self.ops {
            let line = match &converter {
                Err(e) => format!("error\tConfigException\t{}", e.message()),
                Ok(c) => run_op(c.as_ref(), &envelope, op),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn label(&self) -> String {
        let config: Vec<String> = self
            .config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("header converter {} {}", self.class, config.join(","))
    }
}

fn run_op(c: &dyn HeaderConverter, envelope: &JsonConverter, op: &Op) -> String {
    let result = match op {
        Op::From(env) => {
            let bytes = (env != "-").then_some(env.as_bytes());
            envelope
                .to_connect_data("topic", bytes)
                .and_then(|data| c.header_to_bytes("topic", "h", data.schema.as_ref(), &data.value))
                .map(|b| format!("bytes\t{}", b.map_or("-".to_string(), |b| hex(&b))))
        }
        Op::To(bytes) => c
            .header_to_connect("topic", "h", bytes.as_deref())
            .map(|data| envelope_line(envelope, &data)),
    };
    result.unwrap_or_else(|e| format!("error\t{}\t{}", e.class(), e.message()))
}

/// The oracle's envelope of data read: Kafka's JsonConverter throws a NullPointerException on
/// a map schema without key schema (which only Kafka's parser makes).
fn envelope_line(envelope: &JsonConverter, data: &SchemaAndValue) -> String {
    if let (Some(s), Value::Map(_)) = (&data.schema, &data.value) {
        if s.ty() == Type::Map && s.key_schema().is_none() {
            return "error\tNullPointerException\tCannot invoke \"org.apache.kafka.connect.data.Schema.type()\" because the return value of \"org.apache.kafka.connect.data.Schema.keySchema()\" is null".to_string();
        }
    }
    match envelope.to_bytes("topic", data.schema.as_ref(), &data.value) {
        Ok(b) => format!(
            "data\t{}",
            b.map_or("-".to_string(), |b| String::from_utf8(b)
                .expect("UTF-8 JSON"))
        ),
        Err(e) => format!("error\t{}\t{}", e.class(), e.message()),
    }
}

/// Whether a random text reads as a float that Java 17 may print with more digits than the
/// shortest (beyond 2^24 for a float, 2^53 for a double, or subnormal).
fn java17_float_text(text: &str) -> bool {
    fn risky(v: &Value) -> bool {
        match v {
            Value::Float32(f) => f.abs() >= 16_777_216.0 || f.is_subnormal(),
            Value::Float64(d) => d.abs() >= 9_007_199_254_740_992.0 || d.is_subnormal(),
            Value::Array(items) => items.iter().any(risky),
            Value::Map(entries) => entries.iter().any(|(k, v)| risky(k) || risky(v)),
            _ => false,
        }
    }
    risky(&values::parse_string(text).value)
}

/// Whether what our parser makes of a text hits one of the divergences listed at the top.
fn known_divergence(text: &str) -> bool {
    fn nested_keyless_map(s: &Schema, top: bool) -> bool {
        (!top && s.ty() == Type::Map && s.key_schema().is_none())
            || s.key_schema().is_some_and(|k| nested_keyless_map(k, false))
            || s.value_schema()
                .is_some_and(|v| nested_keyless_map(v, false))
    }
    let sv = values::parse_string(text);
    let Some(schema) = &sv.schema else {
        return false;
    };
    nested_keyless_map(schema, true)
}

/// Texts for `to`, each to be read by SimpleHeaderConverter.
#[rustfmt::skip]
const TEXTS: &[&str] = &[
    // integers of each size
    "0", "1", "-1", "127", "128", "-128", "-129", "32767", "32768", "-32769", "2147483647",
    "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "12345678901234567890123", "+5", "007", "-0",
    " 42 ", "\t7",
    // decimals, floats, exponents
    "1.5", "-1.5", "0.1", "2.5", "1.0", "1.000", "100.00", "1e3", "1E3", "1e+3", "1e-3", "1.5e10",
    "1e19", "1e20", "10000000000000000000", "10000000000000000000.0", "1e38", "3.5e38", "1e300",
    "1e309", "1e-50", "-1e-50", "1e400", "-1e400", "1e-400", "0.000001", ".5", "5.", "-.5",
    "1e2147483647", "1e2147483648", "1e-2147483648", "0e10", "0.00", "1_000", "0x10", "1,5", "١٢",
    "١.٥", "1e", "--1", "+-1", "1.2.3", "NaN", "Infinity", "-Infinity",
    // booleans, null
    "true", "false", "TRUE", "True", "null", "NULL", " true", "true ", "true}", "null,1",
    "true,false", "truex",
    // strings
    "", " ", "   ", "hello", "hello world", "\"quoted\"", "'single'", "a:b", "a,b", "a\\:b",
    "\\\"", "x]", "ü", "😀 smile", "\\", "\"", "[", "]", "{", "}", ":", ",", "a\"b", "\u{1}",
    // dates
    "2020-01-01", "1970-01-01", "1970-01-02", "0001-01-01", "1582-10-10", "1582-10-04",
    "2020-13-45", "2020-02-30", "9999-12-31", "2020-1-1", "2020-01-1x", "2020/01/01", "2020-01- 1",
    "-020-01-01", "2020-00-00", "1969-12-31", "0000-01-01",
    // times
    "12:34:56.789Z", "00:00:00.000Z", "23:59:59.999Z", "12:34:56.789", "12:34:56Z",
    " 12:34:56.789Z", "12\\:34\\:56.789Z", "99:99:99.999Z", "12:34:56.789Z,x", "1:2:3.4567890Z",
    "-1:00:00.000Z", "12:34:56.789X", "1 :2:3.45678Z",
    // timestamps
    "2020-01-01T12:34:56.789Z", "1970-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z",
    "1000-01-01T00:00:00.000Z", "2020-01-01 12:34:56.789Z", "2020-12-31T23:59:59.999Z",
    "2020-01-01T25:00:00.000Z", "2020-01-01T12:34:56.789Zjunk",
    // arrays
    "[]", "[ ]", "[1]", "[1,2,3]", "[1, 300, 70000]", "[1,2.5]", "[1,1e300]", "[1, 1e400]",
    "[true,false]", "[null]", "[null,null]", "[1,null]", "[\"a\",\"b\"]", "[\"a\",1]", "[[1],[2]]",
    "[[1],[1000]]", "[[],[1]]", "[1,]", "[,1]", "[1,,2]", "[1 2]", "[1", "1]",
    "[\"2020-01-01\",\"2020-01-02\"]", "[1,\"2020-01-01\"]", "[\"12:00:00.000Z\",1]",
    "[\"2020-01-01\",\"12:00:00.000Z\"]", "[12:34:56.789Z]", "[2020-01-01, 2020-01-02]",
    "[1.5, 2]", "[[1,\"a\"],[2]]", "[{\"a\":1},{\"b\":2}]", "[\"a\\\"b\"]", "[\" a \", \" , \"]",
    "[\"unterminated]", "[true, 1]", "  [1,x]", " [1,2]", "[ 1 , 2 ]", "[1.5e10, 1]",
    "[100000, \"2020-01-01\"]", "[\"2020-01-01\", 100000]", "[1, \"12:00:00.000Z\"]",
    "[1, \"2020-01-01T00:00:00.001Z\"]", "[1e30, \"2020-01-01T00:00:00.001Z\"]",
    "[\"2020-01-01T00:00:00.001Z\", 1.5]", "[1e400, 1e401]", "[1.5, 1e400]", "[\"a\", null]",
    "[[1,2],[3,4],[5,6]]", "[{\"a\":1},{\"a\":1000}]",
    // maps
    "{}", "{\"a\":1}", "{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":300}", "{1:2}", "{1:\"a\",2:\"b\"}",
    "{\"a\":[1,2],\"b\":[3]}", "{\"a\":{\"b\":1}}", "{\"a\":1,\"a\":2}", "{\"a\":1,}", "{,}",
    "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{null:1}", "{\"a\":1,\"b\":null}",
    "{1:2,\"a\":3}", "{\"k\":\"2020-01-01\"}", "{true:1,false:0}", "{1.5:1, 2:2}",
    "{\"zeta\":1,\"alpha\":2,\"mid\":3}", "{ \"a\" : 1 , \"b\" : 2 }", "{\"a\":\"x\",\"b\":\"y\"}",
    "{1:1,1:2}", "{16777217:1, 16777216:2, 0.5:3}", "{\"a\":[1],\"b\":[\"x\"]}",
    "{\"12:00:00.000Z\":1}", "{12:00:00.000Z:1}", "{\"a\":1}}", "{\"a\":1",
];

/// Raw bytes for `to`: invalid UTF-8 and the like.
fn raw_inputs() -> Vec<Option<Vec<u8>>> {
    vec![
        None,
        Some(vec![]),
        Some(vec![0xff, 0xfe]),
        Some(vec![0xc3, 0x28, 0x41]),
        Some(vec![b'1', 0xff]),
        Some(vec![0xed, 0xa0, 0x80]),
        Some(vec![0xe0, 0x80, 0x80, b'x']),
        Some(vec![0xe2, 0x82]),
        Some(vec![0xf0, 0x9f, 0x98]),
        Some(vec![0xf0, 0x9f, 0x41, 0x42]),
        Some(vec![0xf4, 0x90, 0x80, 0x80]),
        Some(vec![0xf5, 0x80, 0x80, 0x80]),
        Some(vec![0xf8, 0x80, b'1']),
        Some(vec![0xc0, 0xaf]),
        Some(vec![b'[', 0xe2, 0x82, b']']),
        Some(vec![0, 0, 0, 42]),
        Some(
            ("[".repeat(200) + "1" + &"]".repeat(200))
                .as_bytes()
                .to_vec(),
        ),
        Some(
            ("{\"a\":".repeat(100) + "1" + &"}".repeat(100))
                .as_bytes()
                .to_vec(),
        ),
    ]
}

/// Connect data for `from`.
fn envelopes() -> Vec<String> {
    let p = |ty: &str, v: &str| {
        format!(r#"{{"schema":{{"type":"{ty}","optional":false}},"payload":{v}}}"#)
    };
    let named = |ty: &str, name: &str, params: &str, v: &str| {
        format!(
            r#"{{"schema":{{"type":"{ty}","optional":false,"name":"org.apache.kafka.connect.data.{name}","version":1{params}}},"payload":{v}}}"#
        )
    };
    let decimal = |scale: i32, v: &str| {
        named(
            "bytes",
            "Decimal",
            &format!(r#","parameters":{{"scale":"{scale}"}}"#),
            v,
        )
    };
    let mut e = vec![
        p("int8", "-5"),
        p("int16", "300"),
        p("int32", "-70000"),
        p("int64", "9223372036854775807"),
        p("float", "1.5"),
        p("float", "1.0E20"),
        p("double", "1.0E-7"),
        p("double", "123456.789"),
        p("double", "-2.5"),
        p("boolean", "true"),
        p("string", r#""plain""#),
        p("string", r#""a \"q\" \\ b: [c], {d}""#),
        p("string", r#""""#),
        p("string", r#""héllo😀\u0001""#),
        p("bytes", r#""AQID""#),
        p("bytes", r#""""#),
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#.to_string(),
        "-".to_string(),
        r#"{"schema":{"type":"array","items":{"type":"string","optional":true},"optional":false},"payload":["a","b\"c",null,"d\\e"]}"#.to_string(),
        r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}"#.to_string(),
        r#"{"schema":{"type":"array","items":{"type":"array","items":{"type":"int64","optional":false},"optional":false},"optional":false},"payload":[[1],[2,3],[]]}"#.to_string(),
        r#"{"schema":{"type":"array","items":{"type":"bytes","optional":false},"optional":false},"payload":["AQID","/w=="]}"#.to_string(),
        r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"zeta":1,"alpha":2,"b":3,"mid":4}}"#.to_string(),
        r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":true},"optional":false},"payload":[[1,"a"],[2,null],[300,"c\"q"]]}"#.to_string(),
        r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"array","items":{"type":"boolean","optional":false},"optional":false},"optional":false},"payload":{"x":[true],"y":[]}}"#.to_string(),
        r#"{"schema":{"type":"map","keys":{"type":"int64","optional":false},"values":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"double","optional":false},"optional":false},"optional":false},"payload":[[5,{"k":1.5}],[-1,{}]]}"#.to_string(),
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"string","optional":true,"field":"email"},{"type":"array","items":{"type":"double","optional":false},"optional":true,"field":"scores"},{"type":"map","keys":{"type":"int64","optional":false},"values":{"type":"boolean","optional":true},"optional":true,"field":"flags"},{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"b"}],"optional":true,"field":"inner"}],"optional":false,"name":"user","version":3},"payload":{"id":7,"name":"ann \"\u0001\\ é","email":null,"scores":[1.5,1.0E20,1.0E-7,-0.25],"flags":[[5,true],[-1,null]],"inner":{"b":"AQID"}}}"#.to_string(),
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":42,"field":"a"},{"type":"string","optional":false,"default":"x","field":"b"}],"optional":false},"payload":{"a":null}}"#.to_string(),
        r#"{"schema":{"type":"struct","fields":[],"optional":false},"payload":{}}"#.to_string(),
        decimal(2, r#""BNI=""#),
        decimal(-3, r#""BQ==""#),
        decimal(7, r#""AQ==""#),
        decimal(0, r#""/w==""#),
        decimal(20, r#""AIAAAAAAAAAAAAAAAAA=""#),
        named("int32", "Date", "", "19000"),
        named("int32", "Date", "", "0"),
        named("int32", "Date", "", "1"),
        named("int32", "Date", "", "-1"),
        named("int32", "Date", "", "2932896"),
        named("int32", "Time", "", "0"),
        named("int32", "Time", "", "3723004"),
        named("int32", "Time", "", "86399999"),
        named("int64", "Timestamp", "", "1700000000123"),
        named("int64", "Timestamp", "", "1700006400000"),
        named("int64", "Timestamp", "", "-1"),
        named("int64", "Timestamp", "", "86400000"),
        named("int64", "Timestamp", "", "86400001"),
        named("int64", "Timestamp", "", "253402300800000"),
        named("int64", "Timestamp", "", "-12219292800001"),
        r#"{"schema":{"type":"array","items":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"optional":false},"payload":[0,1,18262]}"#.to_string(),
    ];
    for payload in [
        "5",
        "1.5",
        "-0.25",
        r#""text""#,
        "true",
        "null",
        r#"[1,"a",null,true,2.5]"#,
        r#"{"zeta":1,"alpha":[1,2],"mid":{"b":null},"Aa":"BB","BB":0}"#,
    ] {
        e.push(format!(r#"{{"schema":null,"payload":{payload}}}"#));
    }
    e
}

/// Random texts: numbers, dates, times, literals and words, quoted or not, in arrays and
/// maps, some broken.
struct TextGen {
    rng: StdRng,
}

const WORDS: &[&str] = &[
    "a",
    "hello",
    "x y",
    "é",
    "NaN",
    "tab\there",
    "q\\\"uote",
    "back\\\\slash",
    "comma,",
    "",
];

impl TextGen {
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    fn number(&mut self) -> String {
        let sign = ["", "", "-", "+"][self.rng.random_range(0..4)];
        match self.rng.random_range(0..4) {
            0 => {
                let n = self.rng.random_range(1..22);
                format!("{sign}{}", self.digits(n))
            }
            1 => {
                // at most five significant digits: Java 17 prints such floats shortest
                let (i, f) = (self.rng.random_range(0..4), self.rng.random_range(1..3));
                format!("{sign}{}.{}", self.digits(i), self.digits(f))
            }
            2 => {
                let e = self.rng.random_range(-60..60);
                format!("{sign}{}.{}e{e}", self.digits(1), self.digits(2))
            }
            _ => {
                let e = self.rng.random_range(-500..500);
                format!("{sign}{}E{e}", self.digits(1))
            }
        }
    }

    fn date(&mut self) -> String {
        let y = if self.rng.random_bool(0.8) {
            self.rng.random_range(1583..3000)
        } else {
            self.rng.random_range(0..1583)
        };
        let (m, d) = (self.rng.random_range(0..15), self.rng.random_range(0..42));
        format!("{y:04}-{m:02}-{d:02}")
    }

    fn time(&mut self) -> String {
        let (h, m, s) = (
            self.rng.random_range(0..26),
            self.rng.random_range(0..61),
            self.rng.random_range(0..61),
        );
        format!(
            "{h:02}:{m:02}:{s:02}.{:03}Z",
            self.rng.random_range(0..1000)
        )
    }

    /// A date, time or timestamp with characters swapped for others Java's lenient parser
    /// might take (spaces, signs, exponents, other digits, `NaN`, `∞`), of the pattern's length.
    fn temporal_fuzz(&mut self) -> String {
        let mut chars: Vec<char> = match self.rng.random_range(0..3) {
            0 => self.date(),
            1 => self.time(),
            _ => format!("{}T{}", self.date(), self.time()),
        }
        .chars()
        .collect();
        const SWAPS: &[&str] = &[
            " ", "\t", "-", "+", "E", "E-", "٣", "x", "NaN", "∞", "0", "9", ":", ".", "T", "Z",
        ];
        for _ in 0..self.rng.random_range(1..4) {
            let at = self.rng.random_range(0..chars.len());
            let with: Vec<char> = SWAPS[self.rng.random_range(0..SWAPS.len())]
                .chars()
                .collect();
            let end = (at + with.len()).min(chars.len());
            chars.splice(at..end, with.into_iter().take(end - at));
        }
        let text: String = chars.into_iter().collect();
        if self.rng.random_bool(0.5) {
            format!("[\"{text}\"]")
        } else {
            text
        }
    }

    fn scalar(&mut self, embedded: bool) -> String {
        let text = match self.rng.random_range(0..9) {
            0 | 1 => self.number(),
            2 => self.date(),
            3 => self.time(),
            4 => format!("{}T{}", self.date(), self.time()),
            5 => ["true", "false", "null"][self.rng.random_range(0..3)].to_string(),
            6 if !embedded => WORDS[self.rng.random_range(0..WORDS.len())].to_string(),
            _ => {
                let inner = match self.rng.random_range(0..4) {
                    0 => self.date(),
                    1 => self.time(),
                    _ => WORDS[self.rng.random_range(0..WORDS.len())].to_string(),
                };
                return format!("\"{inner}\"");
            }
        };
        if embedded && self.rng.random_bool(0.3) {
            format!("\"{text}\"")
        } else {
            text
        }
    }

    fn value(&mut self, depth: u32, embedded: bool) -> String {
        let sep = [",", ", ", " , "][self.rng.random_range(0..3)];
        match self.rng.random_range(0..10) {
            0..=2 if depth < 3 => {
                // arrays of one kind of element mostly, so that a schema is found
                let n = self.rng.random_range(0..5);
                let kind = self.rng.random_range(0..3);
                let items: Vec<String> = (0..n)
                    .map(|_| match kind {
                        0 => self.number(),
                        1 => format!("\"{}\"", self.date()),
                        _ => self.value(depth + 1, true),
                    })
                    .collect();
                format!("[{}]", items.join(sep))
            }
            3 | 4 if depth < 3 => {
                let n = self.rng.random_range(0..5);
                let entries: Vec<String> = (0..n)
                    .map(|i| {
                        let key = if self.rng.random_bool(0.7) {
                            format!("\"k{}\"", self.rng.random_range(0..=i))
                        } else {
                            self.number()
                        };
                        format!("{key}:{}", self.value(depth + 1, true))
                    })
                    .collect();
                format!("{{{}}}", entries.join(sep))
            }
            _ => self.scalar(embedded),
        }
    }

    fn text(&mut self) -> String {
        if self.rng.random_bool(0.15) {
            return self.temporal_fuzz();
        }
        let mut text = self.value(0, false);
        if self.rng.random_bool(0.15) && !text.is_empty() {
            // break it: a delimiter in, or a character out
            let mut at = self.rng.random_range(0..text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if self.rng.random_bool(0.5) {
                let c = [',', ':', '[', ']', '{', '}', '"', '\\', ' '][self.rng.random_range(0..9)];
                text.insert(at, c);
            } else {
                text.remove(at);
            }
        }
        if self.rng.random_bool(0.1) {
            text = format!(" {text}");
        }
        text
    }
}

/// The header converter cases: hand-picked ones, then random ones from the seed.
pub(super) fn cases(seed: u64, rounds: usize) -> Vec<Box<dyn Differential>> {
    for t in TEXTS {
        assert!(
            !known_divergence(t),
            "hand-picked text {t:?} hits a known divergence"
        );
    }
    let mut cases: Vec<HeaderCase> = Vec::new();
    // SimpleHeaderConverter reading texts, in cases of 50 operations
    let mut to: Vec<Op> = TEXTS
        .iter()
        .map(|t| Op::To(Some(t.as_bytes().to_vec())))
        .collect();
    to.extend(raw_inputs().into_iter().map(Op::To));
    let envelopes = envelopes();
    let from = || envelopes.iter().map(|e| Op::From(e.clone()));
    // (the oracle makes plugins by class name: aliases are unit-tested)
    cases.push(HeaderCase {
        class: SIMPLE,
        config: vec![],
        ops: from().collect(),
    });
    chunked(&mut cases, SIMPLE, vec![], to);
    // the other converters as header converters
    for config in [vec![], vec![("schemas.enable", "false")]] {
        let mut ops: Vec<Op> = from().collect();
        ops.extend(
            [
                r#"{"schema":{"type":"int32","optional":false},"payload":5}"#,
                r#"{"schema":null,"payload":{"b":1,"a":[true]}}"#,
                "5",
                "[1,\"a\"]",
                "",
                "not json",
            ]
            .iter()
            .map(|t| Op::To(Some(t.as_bytes().to_vec()))),
        );
        ops.push(Op::To(None));
        cases.push(HeaderCase {
            class: JSON,
            config,
            ops,
        });
    }
    let mut ops: Vec<Op> = from()
        // StringConverter writes toString(), and a byte array's is its identity hash
        .filter(|op| !matches!(op, Op::From(e) if e.contains("\"bytes\"")))
        .collect();
    // (our StringConverter decodes malformed UTF-8 as Rust does, not as Java: only the inputs
    // where the two agree)
    ops.extend(raw_inputs().into_iter().take(5).map(Op::To));
    ops.extend(
        TEXTS[..20]
            .iter()
            .map(|t| Op::To(Some(t.as_bytes().to_vec()))),
    );
    cases.push(HeaderCase {
        class: STRING,
        config: vec![],
        ops,
    });
    cases.push(HeaderCase {
        class: INTEGER,
        config: vec![],
        ops: vec![
            Op::From(r#"{"schema":{"type":"int32","optional":false},"payload":-7}"#.into()),
            Op::From("-".into()),
            Op::To(Some(vec![0, 0, 1, 0])),
            Op::To(Some(vec![1])),
            Op::To(None),
        ],
    });
    // random texts and data
    let mut g = TextGen {
        rng: StdRng::seed_from_u64(seed ^ 0x4845_4144),
    };
    let mut texts = Vec::new();
    while texts.len() < rounds {
        let t = g.text();
        if !known_divergence(&t) && !java17_float_text(&t) {
            texts.push(Op::To(Some(t.into_bytes())));
        }
    }
    chunked(&mut cases, SIMPLE, vec![], texts);
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(seed ^ 0x5349_4d50),
    };
    let data: Vec<Op> = random_envelopes(&mut gen, rounds)
        .into_iter()
        .map(Op::From)
        .collect();
    chunked(&mut cases, SIMPLE, vec![], data);
    cases
        .into_iter()
        .map(|c| Box::new(c) as Box<dyn Differential>)
        .collect()
}

fn chunked(
    cases: &mut Vec<HeaderCase>,
    class: &'static str,
    config: Vec<(&'static str, &'static str)>,
    ops: Vec<Op>,
) {
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        cases.push(HeaderCase {
            class,
            config: config.clone(),
            ops: ops.by_ref().take(50).collect(),
        });
    }
}

/// The IntegerConverter as a header converter writes and reads 4 bytes, as a value converter.
#[test]
fn integer_converter_as_header_converter() {
    let c = converter::header_converter(INTEGER, &Config::new()).expect("a converter");
    let b = c
        .header_to_bytes("t", "h", None, &Value::Int32(256))
        .expect("bytes");
    assert_eq!(b, Some(vec![0, 0, 1, 0]));
    let direct = converter::create(INTEGER, &Config::new()).expect("a converter");
    assert_eq!(
        direct.to_connect_data("t", Some(&[0, 0, 1, 0])),
        c.header_to_connect("t", "h", Some(&[0, 0, 1, 0]))
    );
}
