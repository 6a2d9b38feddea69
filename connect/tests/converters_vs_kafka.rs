//! Differential test of the converters against Kafka Connect's own (run through
//! `tests/java/ConnectOracle.java` on Kafka's jars): the same Connect data and the same bytes go
//! through both; the bytes written, the data read (as a JSON envelope) and the error messages
//! must be identical. Hand-picked cases plus random schemas, values and JSON texts
//! (`TRIBUTARY_CONNECT_SEED` picks the seed, `TRIBUTARY_CONNECT_ROUNDS` the count). The header
//! converters (SimpleHeaderConverter, and the converters used as header converters) are in
//! `converters_vs_kafka/headers.rs`.

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tributary_connect::config::Config;
use tributary_connect::converter::{self, Converter, JsonConverter};
use tributary_connect::data::{logical, Schema, SchemaBuilder, Type, Value};

#[path = "converters_vs_kafka/headers.rs"]
mod headers;

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A case for the oracle: its input, what we answer in the oracle's output format, and what
/// to call it when they differ.
trait Differential {
    fn text(&self) -> String;
    fn ours(&self) -> String;
    fn label(&self) -> String;
}

impl Differential for Case {
    fn text(&self) -> String {
        Case::text(self)
    }
    fn ours(&self) -> String {
        Case::ours(self)
    }
    fn label(&self) -> String {
        let config: Vec<String> = self
            .config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {}", self.class, config.join(","))
    }
}

fn boxed(cases: Vec<Case>) -> impl Iterator<Item = Box<dyn Differential>> {
    cases
        .into_iter()
        .map(|c| Box::new(c) as Box<dyn Differential>)
}

/// One case: a converter with its config, and operations on it.
struct Case {
    class: &'static str,
    key: bool,
    config: Vec<(&'static str, &'static str)>,
    ops: Vec<Op>,
}

enum Op {
    /// Connect data (as an envelope, `-` for none) to bytes.
    From(String),
    /// Bytes (`None`: null) to Connect data.
    To(Option<Vec<u8>>),
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Case {
    fn text(&self) -> String {
        let mut t = format!(
            "case\tc\nkind\tconverter\nclass\t{}\nkey\t{}\n",
            self.class, self.key
        );
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

    /// What our converters answer, in the oracle's output format.
    fn ours(&self) -> String {
        let envelope = JsonConverter::default();
        let config: Config = self
            .config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let converter = converter::create(self.class, &config);
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
}

fn run_op(c: &dyn Converter, envelope: &JsonConverter, op: &Op) -> String {
    let result = match op {
        Op::From(env) => {
            let bytes = (env != "-").then_some(env.as_bytes());
            envelope
                .to_connect_data("topic", bytes)
                .and_then(|data| c.to_bytes("topic", data.schema.as_ref(), &data.value))
                .map(|b| format!("bytes\t{}", b.map_or("-".to_string(), |b| hex(&b))))
        }
        Op::To(bytes) => c
            .to_connect_data("topic", bytes.as_deref())
            .and_then(|data| {
                envelope
                    .to_bytes("topic", data.schema.as_ref(), &data.value)
                    .map(|b| {
                        format!(
                            "data\t{}",
                            b.map_or("-".to_string(), |b| String::from_utf8(b)
                                .expect("UTF-8 JSON"))
                        )
                    })
            }),
    };
    result.unwrap_or_else(|e| format!("error\t{}\t{}", e.class(), e.message()))
}

fn hand_cases() -> Vec<Case> {
    let user = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"string","optional":true,"field":"email"},{"type":"array","items":{"type":"double","optional":false},"optional":true,"field":"scores"},{"type":"map","keys":{"type":"int64","optional":false},"values":{"type":"boolean","optional":true},"optional":true,"field":"flags"}],"optional":false,"name":"user","version":3,"doc":"a user","parameters":{"p":"q","a":"b"}},"payload":{"id":7,"name":"ann \"\u0001\\ é","email":null,"scores":[1.5,1.0E20,1.0E-7,-0.25],"flags":[[5,true],[-1,null]]}}"#;
    let decimal = r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"BNI="}"#;
    let logicals = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"d"},{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"t"},{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"}],"optional":false},"payload":{"d":19000,"t":3723004,"ts":1700000000123}}"#;
    let defaults = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":42,"field":"a"},{"type":"string","optional":false,"default":"x","field":"b"}],"optional":false},"payload":{"a":null}}"#;
    let schemaless_map = r#"{"schema":null,"payload":{"zeta":1,"alpha":2,"mid":{"b":[1,2.5,"x",null,true]},"b":4,"aa":5,"bB":6,"Aa":7}}"#;
    let all_from = |envs: &[&str]| {
        envs.iter()
            .map(|e| Op::From(e.to_string()))
            .collect::<Vec<_>>()
    };
    let standard = [user, decimal, logicals, defaults, schemaless_map, "-"];
    let mut cases = Vec::new();
    for config in [
        vec![],
        vec![("schemas.enable", "false")],
        vec![("decimal.format", "numeric")],
        vec![("schemas.enable", "FALSE"), ("decimal.format", "NUMERIC")],
        vec![("replace.null.with.default", "false")],
    ] {
        cases.push(Case {
            class: JSON,
            key: false,
            config,
            ops: all_from(&standard),
        });
    }
    let texts: Vec<&[u8]> = vec![
        br#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
        b"12345678901234567890",
        b"-0.0",
        b"1e3",
        b"1.50",
        br#""text""#,
        b"",
        b"   ",
        b"{not json",
        b"[1,2,]",
        br#"{"schema":null,"payload":5}"#,
        br#"{"schema":{"type":"int8"},"payload":300}"#,
        br#"{"schema":{"type":"int32","optional":false},"payload":null}"#,
        br#"{"schema":{"type":"int32","optional":true,"default":7},"payload":null}"#,
        br#"{"schema":{"type":"string"},"payload":12}"#,
        br#"{"schema":{"type":"nope"},"payload":12}"#,
        br#"{"schema":{"type":"array"},"payload":[]}"#,
        br#"{"schema":{"type":"map","keys":{"type":"string"}},"payload":{}}"#,
        br#"{"schema":{"type":"struct","fields":[{"type":"int32"}]},"payload":{}}"#,
        br#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"},{"type":"int32","field":"a"}]},"payload":{}}"#,
        br#"{"schema":{"type":"struct","fields":"x"},"payload":{}}"#,
        br#"{"schema":{"type":"struct","fields":[]},"payload":[1]}"#,
        br#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":12.30}"#,
        br#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":"not base64!"}"#,
        br#"{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Date"},"payload":"x"}"#,
        br#"{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Time"},"payload":-5}"#,
        br#"{"schema":{"type":"bytes"},"payload":"AQID"}"#,
        br#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"string"}},"payload":[[1,"a"],[2]]}"#,
        br#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"string"}},"payload":{"1":"a"}}"#,
        br#"{"schema":{"type":"string"},"payload":"a","extra":1}"#,
        br#"{"schema":{"type":"double"},"payload":1E400}"#,
        br#"{"schema":{"type":"float","parameters":{"x":1}},"payload":1}"#,
    ];
    for config in [vec![], vec![("schemas.enable", "false")]] {
        cases.push(Case {
            class: JSON,
            key: true,
            config,
            ops: texts
                .iter()
                .map(|t| Op::To(Some(t.to_vec())))
                .chain([Op::To(None)])
                .collect(),
        });
    }
    cases.push(Case {
        class: JSON,
        key: false,
        config: vec![("schemas.enable", "maybe")],
        ops: vec![Op::To(None)],
    });
    cases.push(Case {
        class: JSON,
        key: false,
        config: vec![("decimal.format", "TEXT")],
        ops: vec![Op::To(None)],
    });
    let primitive = |ty: &str, v: &str| {
        format!(r#"{{"schema":{{"type":"{ty}","optional":false}},"payload":{v}}}"#)
    };
    let simple = [
        primitive("int32", "42"),
        primitive("int64", "42"),
        primitive("int16", "-7"),
        primitive("float", "1.5"),
        primitive("double", "1.0E20"),
        primitive("boolean", "true"),
        primitive("string", "\"héllo\""),
        primitive("bytes", "\"AQID\""),
        user.to_string(),
        schemaless_map.to_string(),
        decimal.to_string(),
        logicals.to_string(),
        "-".to_string(),
        r#"{"schema":null,"payload":42}"#.to_string(),
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#.to_string(),
    ];
    let raw: Vec<Option<Vec<u8>>> = vec![
        None,
        Some(vec![]),
        Some(vec![0, 0, 0, 42]),
        Some(vec![0xff, 0xfe]),
        Some(vec![1]),
        Some(vec![0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
        Some("héllo".as_bytes().to_vec()),
        Some(vec![0xc3, 0x28, 0x41]),
    ];
    for (class, config) in [
        ("org.apache.kafka.connect.storage.StringConverter", vec![]),
        (
            "org.apache.kafka.connect.storage.StringConverter",
            vec![("converter.encoding", "ISO-8859-1")],
        ),
        (
            "org.apache.kafka.connect.storage.StringConverter",
            vec![("converter.encoding", "UTF-16")],
        ),
        (
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            vec![],
        ),
        (
            "org.apache.kafka.connect.converters.IntegerConverter",
            vec![],
        ),
        ("org.apache.kafka.connect.converters.LongConverter", vec![]),
        ("org.apache.kafka.connect.converters.ShortConverter", vec![]),
        ("org.apache.kafka.connect.converters.FloatConverter", vec![]),
        (
            "org.apache.kafka.connect.converters.DoubleConverter",
            vec![],
        ),
        (
            "org.apache.kafka.connect.converters.BooleanConverter",
            vec![],
        ),
    ] {
        let mut ops: Vec<Op> = simple
            .iter()
            // StringConverter writes toString(), and a byte array's is its identity hash
            .filter(|e| !(class.ends_with("StringConverter") && e.contains("\"bytes\"")))
            .map(|e| Op::From(e.clone()))
            .collect();
        ops.extend(raw.iter().cloned().map(Op::To));
        cases.push(Case {
            class,
            key: false,
            config,
            ops,
        });
    }
    cases
}

/// Random Connect data: a schema (or none) and a value that fits it.
struct Gen {
    rng: StdRng,
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "héllo",
    "tab\there",
    "quote\"back\\slash",
    "\u{1}\u{1f}",
    "😀",
    "zeta",
    "alpha",
    "Aa",
    "BB",
];

impl Gen {
    fn schema(&mut self, depth: u32) -> Schema {
        let pick = if depth >= 3 {
            self.rng.random_range(0..13)
        } else {
            self.rng.random_range(0..17)
        };
        let mut b = match pick {
            0 => SchemaBuilder::new(Type::Int8),
            1 => SchemaBuilder::new(Type::Int16),
            2 => SchemaBuilder::new(Type::Int32),
            3 => SchemaBuilder::new(Type::Int64),
            4 => SchemaBuilder::new(Type::Float32),
            5 => SchemaBuilder::new(Type::Float64),
            6 => SchemaBuilder::new(Type::Boolean),
            7 | 8 => SchemaBuilder::new(Type::String),
            9 => SchemaBuilder::new(Type::Bytes),
            10 => logical::decimal_schema(self.rng.random_range(-2..6)),
            11 => logical::timestamp_schema(),
            12 => logical::date_schema(),
            13 => SchemaBuilder::array(self.schema(depth + 1)),
            14 => {
                // (not plain bytes: a byte array's Java hash is its identity, so a HashMap of
                // them iterates in an order no other process can know)
                let mut key = self.schema(3);
                if self.rng.random_bool(0.6) || (key.ty() == Type::Bytes && key.name().is_none()) {
                    key = SchemaBuilder::new(Type::String).build();
                }
                SchemaBuilder::map(key, self.schema(depth + 1))
            }
            _ => {
                let mut s = SchemaBuilder::struct_();
                for i in 0..self.rng.random_range(0..5) {
                    s = s
                        .field(format!("f{i}"), self.schema(depth + 1))
                        .expect("generated data is valid");
                }
                s
            }
        };
        if self.rng.random_bool(0.4) {
            b = b.optional();
        }
        if self.rng.random_bool(0.1) && b.ty() == Type::Struct {
            b = b.name("com.example.Thing").version(2).doc("doc \"q\"");
        }
        if self.rng.random_bool(0.1) && b.ty() == Type::Int32 && b.clone().build().name().is_none()
        {
            let v = Value::Int32(self.rng.random_range(-5..5));
            b = b.default_value(v).expect("generated data is valid");
        }
        b.build()
    }

    fn value(&mut self, schema: &Schema) -> Value {
        common::value(&mut self.rng, schema, STRINGS)
    }

    /// Random JSON text (objects with many keys, so Java's HashMap order shows).
    fn json(&mut self, depth: u32) -> String {
        match self.rng.random_range(0..if depth > 2 { 6 } else { 8 }) {
            0 => "null".into(),
            1 => ["true", "false"][self.rng.random_range(0..2)].into(),
            2 => [
                "0",
                "-1",
                "2147483648",
                "-9223372036854775809",
                "12345678901234567890123",
            ][self.rng.random_range(0..5)]
            .into(),
            3 => ["1.5", "-0.0", "1e3", "1E-7", "2.50", "1e400", "0.1"]
                [self.rng.random_range(0..7)]
            .into(),
            4 | 5 => format!("{:?}", STRINGS[self.rng.random_range(0..STRINGS.len())])
                .replace("\\u{1}", "\\u0001")
                .replace("\\u{1f}", "\\u001f"),
            6 => {
                let items: Vec<String> = (0..self.rng.random_range(0..4))
                    .map(|_| self.json(depth + 1))
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let members: Vec<String> = (0..self.rng.random_range(0..20))
                    .map(|i| {
                        format!(
                            "\"k{}{}\":{}",
                            i * 7919 % 97,
                            ["", "x", "Aa", "BB"][i % 4],
                            self.json(depth + 1)
                        )
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }
}

/// Random Connect data (with a schema, or schemaless as JSON reads it) as envelopes.
fn random_envelopes(g: &mut Gen, rounds: usize) -> Vec<String> {
    let envelope = JsonConverter::default();
    let mut envelopes = Vec::new();
    for _ in 0..rounds {
        let schema = if g.rng.random_bool(0.15) {
            None
        } else {
            Some(g.schema(0))
        };
        let value = match &schema {
            Some(s) => g.value(s),
            None => {
                // schemaless data as JSON reads it
                let text = g.json(0);
                JsonConverter::default()
                    .with_schemas(false)
                    .to_connect_data("t", Some(text.as_bytes()))
                    .map(|d| d.value)
                    .unwrap_or(Value::Null)
            }
        };
        let bytes = envelope
            .to_bytes("t", schema.as_ref(), &value)
            .expect("a generated value converts");
        envelopes.push(bytes.map_or("-".to_string(), |b| {
            String::from_utf8(b).expect("generated data is valid")
        }));
    }
    envelopes
}

fn random_cases(seed: u64, rounds: usize) -> Vec<Case> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let envelopes = random_envelopes(&mut g, rounds);
    let mut cases = Vec::new();
    for config in [
        vec![],
        vec![("schemas.enable", "false")],
        vec![("decimal.format", "NUMERIC")],
        vec![("schemas.enable", "false"), ("decimal.format", "NUMERIC")],
    ] {
        cases.push(Case {
            class: JSON,
            key: false,
            config,
            ops: envelopes.iter().map(|e| Op::From(e.clone())).collect(),
        });
    }
    // reading: the envelopes themselves, and random JSON without schemas
    let mut texts: Vec<Vec<u8>> = envelopes
        .iter()
        .filter(|e| *e != "-")
        .map(|e| e.as_bytes().to_vec())
        .collect();
    cases.push(Case {
        class: JSON,
        key: false,
        config: vec![],
        ops: texts.iter().cloned().map(|t| Op::To(Some(t))).collect(),
    });
    texts.extend((0..rounds).map(|_| g.json(0).into_bytes()));
    cases.push(Case {
        class: JSON,
        key: false,
        config: vec![("schemas.enable", "false")],
        ops: texts.into_iter().map(|t| Op::To(Some(t))).collect(),
    });
    cases
}

/// An output line with its hex bytes shown as text too.
fn readable(line: &str) -> String {
    match line.strip_prefix("bytes\t") {
        Some(h) if h != "-" => {
            let b: Vec<u8> = (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(b'?'))
                .collect();
            format!("{line} ({})", String::from_utf8_lossy(&b))
        }
        _ => line.to_string(),
    }
}

/// Whether our answers equal Kafka's. The one intended difference: a map that `Values` parsed
/// is a `LinkedHashMap` in Java (a `HashMap` when JSON read it), which our values do not
/// remember, so an error naming the class of such a map names `HashMap`.
fn same_answers(ours: &str, kafka: &str) -> bool {
    ours == kafka
        || ours == kafka.replace("class java.util.LinkedHashMap", "class java.util.HashMap")
}

#[test]
fn converters_match_kafka_connect() {
    let seed: u64 = std::env::var("TRIBUTARY_CONNECT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    let rounds: usize = std::env::var("TRIBUTARY_CONNECT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut cases: Vec<Box<dyn Differential>> = boxed(hand_cases()).collect();
    cases.extend(boxed(random_cases(seed, rounds)));
    cases.extend(headers::cases(seed, rounds));
    let input: Vec<String> = cases.iter().map(|c| c.text()).collect();
    let kafka = tributary_testkit::java::run_java_harness(
        "connect/tests/java",
        "ConnectOracle",
        &input.join("---\n"),
    );
    assert_eq!(kafka.len(), cases.len(), "one answer per case");
    let mut failures = 0;
    for ((case, text), expected) in cases.iter().zip(&input).zip(&kafka) {
        let ours = case.ours();
        if !same_answers(&ours, expected) {
            failures += 1;
            if failures <= 5 {
                for ((line, e), o) in text
                    .lines()
                    .filter(|l| l.starts_with("from") || l.starts_with("to"))
                    .zip(expected.lines())
                    .zip(ours.lines())
                {
                    if e != o {
                        eprintln!(
                            "{}\n  {line}\n  kafka: {}\n  ours:  {}",
                            case.label(),
                            readable(e),
                            readable(o)
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        failures, 0,
        "cases that differ from Kafka Connect (seed {seed})"
    );
}
