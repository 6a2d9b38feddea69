//! Stream time across restarts: each input partition's time (its largest timestamp read) goes
//! with its committed offset, in Kafka Streams' metadata format, and a task that starts again
//! takes it up: a processor's `current_stream_time_ms()` (and stream-time punctuation) goes on
//! from where it was, at least once and exactly once. (The DSL's windowed aggregations keep a
//! stream time of their own that starts again, as Kafka Streams' do; the differential suite
//! covers them.)

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, TopicPartitionList};
use tributary_streams::process::{Processor, ProcessorContext, Record};
use tributary_streams::{
    Consumed, KafkaStreams, Produced, Serdes, State, StreamsBuilder, StreamsConfig, StreamsError,
};
use tributary_testkit::{unique_name, TestBroker};

/// Writes, for each record, `<key>@<timestamp>` = the task's stream time after it.
struct StreamTime;

impl Processor<String, String, String, i64> for StreamTime {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, i64>,
    ) -> Result<(), StreamsError> {
        let key = format!("{}@{}", record.key, record.timestamp);
        let now = ctx.current_stream_time_ms();
        ctx.forward(Record::new(key, now, record.timestamp))
    }
}

fn stream_times(input: &str, output: &str) -> tributary_streams::Topology {
    let b = StreamsBuilder::new();
    b.stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| StreamTime, &[])
        .to(output, Produced::with(Serdes::string(), Serdes::long()));
    b.build().unwrap()
}

async fn produce(broker: &TestBroker, topic: &str, records: &[(&str, i64)]) {
    let producer: FutureProducer = broker.client_config().create().unwrap();
    for (key, timestamp) in records {
        producer
            .send(
                FutureRecord::to(topic)
                    .key(*key)
                    .payload("x")
                    .timestamp(*timestamp),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// Runs the app until `output` holds `want` for `until`, then closes it; every record of
/// `output` read so far (key, count) in order.
fn run_until(
    broker: &TestBroker,
    config: StreamsConfig,
    topology: tributary_streams::Topology,
    output: &str,
    until: (&str, i64),
) -> Vec<(String, i64)> {
    let streams = KafkaStreams::new(topology, config).unwrap();
    streams.start().unwrap();
    let mut c = broker.consumer_config();
    c.set("group.id", unique_name("reader"))
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    let reader: BaseConsumer = c.create().unwrap();
    reader.subscribe(&[output]).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !seen.contains(&(until.0.to_string(), until.1)) {
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(m.payload().unwrap().try_into().unwrap());
            seen.push((key, count));
        }
        assert_ne!(streams.state(), State::Error, "{:?}", streams.error());
    }
    streams.close();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_time_goes_on_from_the_committed_partition_time_after_a_restart() {
    for guarantee in ["at_least_once", "exactly_once_v2"] {
        let broker = TestBroker::start().await;
        let (input, output, app) = (
            unique_name("late-in"),
            unique_name("late-out"),
            unique_name("late"),
        );
        broker.create_topic(&input, 1).await;
        broker.create_topic(&output, 1).await;
        let config = || {
            StreamsConfig::new()
                .with("application.id", &app)
                .with("bootstrap.servers", broker.bootstrap())
                .with("processing.guarantee", guarantee)
                .with("commit.interval.ms", 100)
                .with("auto.offset.reset", "earliest")
        };
        produce(&broker, &input, &[("a", 1_000), ("a", 5_000)]).await;
        let first = tokio::task::block_in_place(|| {
            run_until(
                &broker,
                config(),
                stream_times(&input, &output),
                &output,
                ("a@5000", 5_000),
            )
        });
        assert_eq!(
            first,
            [("a@1000".to_string(), 1_000), ("a@5000".to_string(), 5_000)],
            "{guarantee}"
        );

        // the partition time went with the offset, as Kafka Streams writes it
        let mut group = broker.client_config();
        group.set("group.id", &app);
        let probe: BaseConsumer = group.create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&input, 0);
        let committed = probe
            .committed_offsets(tpl, Duration::from_secs(10))
            .unwrap();
        let metadata: Vec<String> = committed
            .elements()
            .iter()
            .map(|e| e.metadata().to_string())
            .collect();
        // base64 of version 2 and 5000 as a big-endian long
        assert_eq!(metadata, ["AgAAAAAAABOI"], "{guarantee}");

        // after a restart the stream time is 5000 before the first record, which is older
        produce(&broker, &input, &[("a", 1_500), ("a", 5_500)]).await;
        let all = tokio::task::block_in_place(|| {
            run_until(
                &broker,
                config(),
                stream_times(&input, &output),
                &output,
                ("a@5500", 5_500),
            )
        });
        let after: BTreeMap<String, i64> = all.into_iter().collect();
        assert_eq!(
            after,
            BTreeMap::from([
                ("a@1000".to_string(), 1_000),
                ("a@1500".to_string(), 5_000),
                ("a@5000".to_string(), 5_000),
                ("a@5500".to_string(), 5_500)
            ]),
            "{guarantee}: the stream time went on from the commit"
        );
        broker.stop().await;
    }
}
