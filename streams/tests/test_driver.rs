//! Stateless operations run through the `TestDriver`, with Kafka Streams' semantics: records
//! keep their timestamps and headers, a split sends each record to its first matching branch,
//! output to a topic the topology reads is processed within the same pipe, and the driver's
//! errors are Kafka's.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use tributary_streams::{
    Branched, Consumed, KStream, Produced, Serdes, StreamsBuilder, StreamsError, TestDriver,
    TestRecord,
};

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn out() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn stateless_operations_transform_records_and_keep_their_timestamps() {
    let b = StreamsBuilder::new();
    b.stream("sentences", strings())
        .filter_not(|_, v: &String| v.is_empty())
        .flat_map_values(|v: &String| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .select_key(|_, word: &String| word.to_lowercase())
        .map_values_with_key(|k: &String, v: &String| format!("{k}:{}", v.len()))
        .to("words", out());
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("sentences", Serdes::string(), Serdes::string());
    let mut output = driver.output_topic("words", Serdes::string(), Serdes::string());
    input
        .pipe_input_at(s("k"), s("Hello big World"), 42)
        .unwrap();
    input.pipe_input_at(s("k"), s(""), 43).unwrap();
    let first = output.read_record().unwrap();
    assert_eq!(
        first,
        TestRecord {
            key: s("hello"),
            value: s("hello:5"),
            timestamp: 42,
            headers: Vec::new()
        }
    );
    assert_eq!(
        output.read_key_values_to_list().unwrap(),
        vec![(s("big"), s("big:3")), (s("world"), s("world:5"))]
    );
    assert!(output.is_empty());
    assert_eq!(
        output.read_record().unwrap_err().to_string(),
        "Empty topic: words"
    );
}

/// Runs `b`'s topology over `values` (key "k") in topic `numbers`; what each output topic
/// got.
fn run_numbers(b: StreamsBuilder, values: &[i32]) -> impl Fn(&str) -> Vec<i32> {
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("numbers", Serdes::string(), Serdes::integer());
    for &v in values {
        input.pipe_input(s("k"), v).unwrap();
    }
    drop(input);
    move |topic: &str| {
        driver
            .output_topic(topic, Serdes::string(), Serdes::integer())
            .read_values_to_list()
            .unwrap()
    }
}

#[test]
fn a_split_sends_each_record_to_its_first_matching_branch() {
    let b = StreamsBuilder::new();
    let branches = b
        .stream(
            "numbers",
            Consumed::with(Serdes::string(), Serdes::integer()),
        )
        .split_named("n-")
        .branch_named("neg", |_, v: &i32| *v < 0)
        .branch_named("small", |_, v: &i32| *v < 10)
        .default_branch();
    let ints = || Produced::with(Serdes::string(), Serdes::integer());
    branches["n-neg"].to("negative", ints());
    branches["n-small"].to("small", ints());
    branches["n-0"].to("large", ints());
    let read = run_numbers(b, &[-5, 3, 50, -1, 9]);
    assert_eq!(read("negative"), [-5, -1]);
    assert_eq!(read("small"), [3, 9]);
    assert_eq!(read("large"), [50]);
}

#[test]
fn branches_handed_to_a_consumer_or_a_function_as_kafkas_branched_does() {
    let b = StreamsBuilder::new();
    let ints = || Produced::with(Serdes::string(), Serdes::integer());
    let branches = b
        .stream(
            "numbers",
            Consumed::with(Serdes::string(), Serdes::integer()),
        )
        .split_named("n-")
        // taken by the consumer: not in the map
        .branch_with(
            |_, v: &i32| *v < 0,
            Branched::with_consumer(move |neg: KStream<String, i32>| {
                neg.map_values(|v: &i32| -v).to("negated", ints())
            })
            .with_name("neg"),
        )
        // the function's stream is the one in the map
        .branch_with(
            |_, v: &i32| *v < 10,
            Branched::with_function(|small: KStream<String, i32>| {
                small.map_values(|v: &i32| v * 100)
            }),
        )
        .default_branch_with(Branched::named("rest"));
    let mut names: Vec<&String> = branches.keys().collect();
    names.sort();
    assert_eq!(names, ["n-2", "n-rest"]);
    branches["n-2"].to("small", ints());
    branches["n-rest"].to("large", ints());
    let read = run_numbers(b, &[-5, 3, 50, -1, 9]);
    assert_eq!(read("negated"), [5, 1]);
    assert_eq!(read("small"), [300, 900]);
    assert_eq!(read("large"), [50]);
}

#[test]
fn merge_peek_and_foreach_see_every_record_in_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let b = StreamsBuilder::new();
    let left = b.stream("left", strings());
    let right = b.stream("right", strings());
    let peeked = Arc::clone(&seen);
    let merged = left
        .merge(&right)
        .peek(move |k: &String, _| peeked.lock().unwrap().push(format!("peek {k}")));
    let each = Arc::clone(&seen);
    merged.foreach(move |k: &String, _| each.lock().unwrap().push(format!("each {k}")));
    merged.to("all", out());
    let driver = TestDriver::new(b.build().unwrap());
    driver
        .input_topic("left", Serdes::string(), Serdes::string())
        .pipe_input(s("a"), s("1"))
        .unwrap();
    driver
        .input_topic("right", Serdes::string(), Serdes::string())
        .pipe_input(s("b"), s("2"))
        .unwrap();
    // depth-first: each record goes all the way through before the next
    assert_eq!(
        *seen.lock().unwrap(),
        ["peek a", "each a", "peek b", "each b"]
    );
    let mut all = driver.output_topic("all", Serdes::string(), Serdes::string());
    assert_eq!(
        all.read_key_values_to_list().unwrap(),
        [(s("a"), s("1")), (s("b"), s("2"))]
    );
}

#[test]
fn output_to_a_topic_the_topology_reads_is_processed_in_the_same_pipe() {
    let b = StreamsBuilder::new();
    b.stream("in", strings())
        .map_values(|v: &String| format!("{v}!"))
        .to("middle", out());
    b.stream("middle", strings())
        .map_values(|v: &String| format!("{v}?"))
        .to("end", out());
    let driver = TestDriver::new(b.build().unwrap());
    driver
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe_input(s("k"), s("v"))
        .unwrap();
    let mut end = driver.output_topic("end", Serdes::string(), Serdes::string());
    assert_eq!(end.read_value().unwrap(), "v!?");
    assert_eq!(driver.produced_topics(), ["end", "middle"]);
}

#[test]
fn timestamps_advance_automatically_and_explicit_ones_do_not_move_the_clock() {
    let b = StreamsBuilder::new();
    b.stream("in", strings()).to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic_from("in", Serdes::string(), Serdes::string(), 1000, 10);
    input.pipe_input(s("a"), s("1")).unwrap();
    input.pipe_input_at(s("b"), s("2"), 5).unwrap();
    input.pipe_input(s("c"), s("3")).unwrap();
    input.advance_time(100).unwrap();
    assert_eq!(
        input.advance_time(-1).unwrap_err().to_string(),
        "advance must be positive"
    );
    input.pipe_input(s("d"), s("4")).unwrap();
    let mut output = driver.output_topic("out", Serdes::string(), Serdes::string());
    let times: Vec<i64> = (0..4)
        .map(|_| output.read_record().unwrap().timestamp)
        .collect();
    assert_eq!(times, [1000, 5, 1010, 1120]);
    let err = input.pipe_input_at(s("e"), s("5"), -1).unwrap_err();
    assert!(err.to_string().contains("Invalid timestamp: -1"), "{err}");
}

#[test]
fn the_drivers_errors_are_kafkas() {
    let b = StreamsBuilder::new();
    b.stream("in", strings()).to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    let err = driver
        .input_topic("nope", Serdes::string(), Serdes::string())
        .pipe_input(s("k"), s("v"))
        .unwrap_err();
    assert!(matches!(err, StreamsError::UnknownTopic(_)));
    assert_eq!(err.to_string(), "Unknown topic: nope");
    let err = driver
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_record()
        .unwrap_err();
    assert_eq!(err.to_string(), "Uninitialized topic: out");
}

#[test]
fn null_keys_need_a_nullable_serde_and_bad_bytes_name_the_topic() {
    // a topic with null keys, read as Option<String>
    let b = StreamsBuilder::new();
    b.stream(
        "in",
        Consumed::with(Serdes::nullable(Serdes::string()), Serdes::string()),
    )
    .map_values(|v: &String| v.len() as i32)
    .to(
        "len",
        Produced::with(Serdes::nullable(Serdes::string()), Serdes::integer()),
    );
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("in", Serdes::nullable(Serdes::string()), Serdes::string());
    input.pipe_input(None, s("four")).unwrap();
    let mut len = driver.output_topic("len", Serdes::nullable(Serdes::string()), Serdes::integer());
    assert_eq!(len.read_key_value().unwrap(), (None, 4));

    // the same null key read as a plain String is refused, naming the field and the topic
    let b = StreamsBuilder::new();
    b.stream("in", strings()).to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    let err = driver
        .input_topic("in", Serdes::nullable(Serdes::string()), Serdes::string())
        .pipe_input(None, s("v"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("key of a record of topic in:") && text.contains("Serdes::nullable"),
        "{text}"
    );
    // an integer value of the wrong size gets Kafka's message
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::integer()))
        .to("out", Produced::with(Serdes::string(), Serdes::integer()));
    let driver = TestDriver::new(b.build().unwrap());
    let err = driver
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe_input(s("k"), s("toolong"))
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("Size of data received by IntegerDeserializer is not 4"),
        "{err}"
    );
}

#[test]
fn a_stream_merged_with_itself_reads_each_record_once() {
    let b = StreamsBuilder::new();
    let s = b.stream("in", strings());
    s.merge(&s).to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    driver
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe_input(s_("k"), s_("v"))
        .unwrap();
    let output = driver.output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(output.queue_size(), 1);
}

fn s_(x: &str) -> String {
    x.to_string()
}

#[test]
fn a_timestamp_extractor_gives_records_their_timestamps_and_skips_negative_ones() {
    let b = StreamsBuilder::new();
    // the value's leading number is the event time; a value without one stops the task
    let extractor: tributary_streams::TimestampExtractor<String, String> = Arc::new(
        |_k: &String, v: Option<&String>, _own: i64, _partition: i64| {
            let v = v.ok_or("a tombstone")?;
            v.split(':')
                .next()
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| format!("no time in {v:?}"))
        },
    );
    b.stream("events", strings().with_timestamp_extractor(extractor))
        .to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("events", Serdes::string(), Serdes::string());
    let mut output = driver.output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("a"), s("1000:x"), 5).unwrap();
    input.pipe_input_at(s("b"), s("-1:y"), 6).unwrap();
    input.pipe_input_at(s("c"), s("2000:z"), 7).unwrap();
    let got: Vec<(String, i64)> = output
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.timestamp))
        .collect();
    assert_eq!(got, [(s("a"), 1000), (s("c"), 2000)]);
    let e = input.pipe_input_at(s("d"), s("late"), 8).unwrap_err();
    assert!(
        e.to_string()
            .contains("Fatal user code error in TimestampExtractor callback"),
        "{e}"
    );
}

/// A value serde that reads the record's headers, as Kafka's
/// `Deserializer.deserialize(topic, headers, data)`: the value, then each header's key.
struct WithHeaderKeys;

impl tributary_streams::Serde<String> for WithHeaderKeys {
    fn serialize(
        &self,
        _topic: &str,
        value: &String,
    ) -> Result<Option<Vec<u8>>, tributary_streams::SerdeError> {
        Ok(Some(value.clone().into_bytes()))
    }

    fn deserialize(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<String, tributary_streams::SerdeError> {
        Ok(String::from_utf8_lossy(data.unwrap_or_default()).to_string())
    }

    fn deserialize_with_headers(
        &self,
        topic: &str,
        headers: &[tributary_streams::Header],
        data: Option<&[u8]>,
    ) -> Result<String, tributary_streams::SerdeError> {
        let mut v = self.deserialize(topic, data)?;
        for (k, _) in headers {
            v.push('+');
            v.push_str(k);
        }
        Ok(v)
    }
}

#[test]
fn a_sources_serde_reads_the_records_headers() {
    let b = StreamsBuilder::new();
    b.stream(
        "in",
        Consumed::with(Serdes::string(), Arc::new(WithHeaderKeys)),
    )
    .to("out", out());
    let driver = TestDriver::new(b.build().unwrap());
    let mut input = driver.input_topic("in", Serdes::string(), Serdes::string());
    let mut output = driver.output_topic("out", Serdes::string(), Serdes::string());
    input
        .pipe_record(TestRecord {
            key: s("k"),
            value: s("v"),
            timestamp: 1,
            headers: vec![(s("a"), Some(b"1".to_vec())), (s("b"), None)],
        })
        .unwrap();
    input.pipe_input_at(s("k"), s("w"), 2).unwrap();
    assert_eq!(
        output.read_values_to_list().unwrap(),
        vec![s("v+a+b"), s("w")]
    );
}
