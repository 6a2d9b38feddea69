//! The Nexmark benchmark on a KSQL server: `generate` writes the `nexmark` crate's events to
//! three topics, `run` runs each query (as persistent queries reading from the earliest
//! offset) and prints the events per second it sustained and the events per CPU-second the
//! KSQL server's process spent on them (read from `/proc/<pid>/stat`). The measure starts at
//! the queries' first committed progress (so a consumer group's start is left out) and ends
//! when every consumer group of the query has committed the end of every topic it reads
//! (repartition topics included). `scripts/bench-nexmark.sh` runs both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use tributary_examples::nexmark::{record, sources, Query, Topics, QUERIES};

#[derive(Parser)]
#[command(about = "Nexmark over KSQL: generate the events, run the queries")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes Nexmark events to `<prefix>-person`, `-auction` and `-bid` (JSON values, ids
    /// as 8-byte keys, event time as the record's timestamp).
    Generate {
        #[arg(long)]
        bootstrap_server: String,
        #[arg(long)]
        prefix: String,
        /// How many events (persons, auctions and bids in Nexmark's 1:3:46 proportions).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Partitions of each topic.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// Where to write the counts and bytes of each topic (JSON), for `run`.
        #[arg(long)]
        stats: std::path::PathBuf,
    },
    /// Runs queries on the KSQL server at `--ksql` and prints a Markdown table row each.
    Run {
        #[arg(long)]
        bootstrap_server: String,
        #[arg(long)]
        ksql: String,
        #[arg(long)]
        prefix: String,
        /// The KSQL server's process id (its CPU time is read from /proc).
        #[arg(long)]
        server_pid: u32,
        /// What `generate` wrote.
        #[arg(long)]
        stats: std::path::PathBuf,
        /// Which queries (default: all).
        #[arg(long, value_delimiter = ',')]
        queries: Vec<String>,
        /// How long one query may take.
        #[arg(long, default_value_t = 900)]
        timeout_secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Generate {
            bootstrap_server,
            prefix,
            events,
            partitions,
            stats,
        } => generate(&bootstrap_server, &prefix, events, partitions, &stats),
        Command::Run {
            bootstrap_server,
            ksql,
            prefix,
            server_pid,
            stats,
            queries,
            timeout_secs,
        } => {
            let stats: Value = serde_json::from_slice(&std::fs::read(&stats)?)?;
            let runner = Runner::new(&bootstrap_server, &ksql, &prefix, server_pid)?;
            runner.declare()?;
            println!("| query | events | seconds | events/s | CPU seconds | events per CPU-second | input MB/s | output records |");
            println!("|---|---|---|---|---|---|---|---|");
            for q in QUERIES {
                if queries.is_empty() || queries.iter().any(|n| n == q.name) {
                    runner.run(q, &stats, Duration::from_secs(timeout_secs))?;
                }
            }
            Ok(())
        }
    }
}

fn generate(
    bootstrap: &str,
    prefix: &str,
    events: u64,
    partitions: i32,
    stats: &std::path::Path,
) -> anyhow::Result<()> {
    let topics = Topics::new(prefix);
    let runtime = tokio::runtime::Runtime::new()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let new: Vec<NewTopic> = topics
        .all()
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    for result in runtime.block_on(admin.create_topics(&new, &AdminOptions::new()))? {
        if let Err((topic, e)) = result {
            bail!("cannot create {topic}: {e}");
        }
    }
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("partitioner", "murmur2_random")
        .create()?;
    let names = topics.all();
    let (mut counts, mut bytes) = ([0u64; 3], [0u64; 3]);
    let started = Instant::now();
    for event in nexmark::EventGenerator::new(nexmark::config::NexmarkConfig::default())
        .take(events as usize)
    {
        let (topic, key, value) = record(&event)?;
        let time = match &event {
            nexmark::event::Event::Person(p) => p.date_time,
            nexmark::event::Event::Auction(a) => a.date_time,
            nexmark::event::Event::Bid(b) => b.date_time,
        };
        counts[topic] += 1;
        bytes[topic] += (key.len() + value.len()) as u64;
        let mut r = BaseRecord::to(names[topic])
            .key(&key[..])
            .payload(&value)
            .timestamp(time as i64);
        loop {
            match producer.send(r) {
                Ok(()) => break,
                Err((e, back)) => {
                    if !matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        bail!("cannot produce: {e}");
                    }
                    r = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {events} events in {seconds:.1} s: persons {}, auctions {}, bids {} ({:.1} MB)",
        counts[0],
        counts[1],
        counts[2],
        bytes.iter().sum::<u64>() as f64 / 1e6
    );
    std::fs::write(
        stats,
        serde_json::to_vec(&json!({"counts": counts, "bytes": bytes}))?,
    )?;
    Ok(())
}

/// Runs queries on one KSQL server.
struct Runner {
    ksql: String,
    http: reqwest::blocking::Client,
    topics: Topics,
    pid: u32,
    service_id: String,
    consumer_config: ClientConfig,
    /// Reads high watermarks.
    watermarks: BaseConsumer,
}

impl Runner {
    fn new(bootstrap: &str, ksql: &str, prefix: &str, pid: u32) -> anyhow::Result<Runner> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let info: Value = http.get(format!("{ksql}/info")).send()?.json()?;
        let service_id = info["KsqlServerInfo"]["ksqlServiceId"]
            .as_str()
            .context("no ksqlServiceId in /info")?
            .to_string();
        let mut consumer_config = ClientConfig::new();
        consumer_config.set("bootstrap.servers", bootstrap);
        let watermarks = consumer_config
            .clone()
            .set("group.id", "nexmark-watermarks")
            .create()?;
        Ok(Runner {
            ksql: ksql.to_string(),
            http,
            topics: Topics::new(prefix),
            pid,
            service_id,
            consumer_config,
            watermarks,
        })
    }

    /// Sends statements to `/ksql`; their entities.
    fn ksql(&self, sql: &str) -> anyhow::Result<Vec<Value>> {
        let r = self
            .http
            .post(format!("{}/ksql", self.ksql))
            .json(&json!({"ksql": sql, "streamsProperties": {"auto.offset.reset": "earliest"}}))
            .send()?;
        let status = r.status();
        let body: Value = r.json()?;
        if !status.is_success() {
            bail!("{sql}: {body}");
        }
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    fn declare(&self) -> anyhow::Result<()> {
        self.ksql(&sources(&self.topics))?;
        Ok(())
    }

    /// The CPU seconds the server's process has used.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        let rest = stat
            .rsplit_once(") ")
            .map(|(_, r)| r)
            .context("unreadable /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
        };
        // utime and stime, in clock ticks (100 per second on Linux)
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    /// Every partition of `topic`, with its high watermark.
    fn ends(&self, topic: &str) -> anyhow::Result<Vec<(i32, i64)>> {
        let metadata = self
            .watermarks
            .fetch_metadata(Some(topic), Duration::from_secs(30))?;
        let mut out = Vec::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                let (_, high) =
                    self.watermarks
                        .fetch_watermarks(topic, p.id(), Duration::from_secs(30))?;
                out.push((p.id(), high));
            }
        }
        Ok(out)
    }

    /// The offsets `consumer`'s group has committed on `topics`' partitions, and their ends
    /// (read after the offsets: what a commit flushed to a repartition topic is then counted).
    fn progress(
        &self,
        consumer: &BaseConsumer,
        topics: &[String],
    ) -> anyhow::Result<Vec<(String, i64, i64)>> {
        let mut tpl = TopicPartitionList::new();
        for t in topics {
            let metadata = self
                .watermarks
                .fetch_metadata(Some(t), Duration::from_secs(30))?;
            for m in metadata.topics() {
                for p in m.partitions() {
                    tpl.add_partition(t, p.id());
                }
            }
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(30))?;
        let mut ends = BTreeMap::new();
        for t in topics {
            for (p, high) in self.ends(t)? {
                ends.insert((t.clone(), p), high);
            }
        }
        Ok(committed
            .elements()
            .iter()
            .map(|e| {
                let at = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => 0,
                };
                let end = ends
                    .get(&(e.topic().to_string(), e.partition()))
                    .copied()
                    .unwrap_or(0);
                (e.topic().to_string(), at, end)
            })
            .collect())
    }

    /// Fails when one of `ids` is no longer running (the query failed).
    fn check_running(&self, ids: &[String]) -> anyhow::Result<()> {
        let entities = self.ksql("SHOW QUERIES;")?;
        let queries = entities
            .first()
            .and_then(|e| e["queries"].as_array())
            .cloned()
            .unwrap_or_default();
        for q in queries {
            let id = q["id"].as_str().unwrap_or_default();
            let state = q["state"].as_str().unwrap_or("RUNNING");
            if ids.iter().any(|i| i == id) && !state.starts_with("RUNNING") {
                bail!("query {id} is {state}");
            }
        }
        Ok(())
    }

    /// The topics the consumer group of a query's `n`-th statement reads: the first reads the
    /// event streams the query names, a later one the earlier sinks it selects from; and each
    /// its internal repartition and subscription topics.
    fn read_topics(&self, q: &Query, n: usize, query_id: &str) -> anyhow::Result<Vec<String>> {
        let mut topics: Vec<String> = Vec::new();
        if n == 0 {
            for (reads, topic) in q.reads.iter().zip(self.topics.all()) {
                if *reads {
                    topics.push(topic.to_string());
                }
            }
        } else {
            for sink in q.sinks {
                if q.statements[n].contains(&format!("FROM {sink} ")) {
                    topics.push(sink.to_string());
                }
            }
        }
        let internal = format!("_confluent-ksql-{}query_{query_id}-", self.service_id);
        let metadata = self
            .watermarks
            .fetch_metadata(None, Duration::from_secs(30))?;
        for t in metadata.topics() {
            if t.name().starts_with(&internal) && !t.name().ends_with("-changelog") {
                topics.push(t.name().to_string());
            }
        }
        Ok(topics)
    }

    fn run(&self, q: &Query, stats: &Value, timeout: Duration) -> anyhow::Result<()> {
        let source_topics: Vec<&str> = q
            .reads
            .iter()
            .zip(self.topics.all())
            .filter(|(r, _)| **r)
            .map(|(_, t)| t)
            .collect();
        let index = |t: &str| self.topics.all().iter().position(|x| *x == t).unwrap_or(0);
        let total: i64 = source_topics
            .iter()
            .map(|t| stats["counts"][index(t)].as_i64().unwrap_or(0))
            .sum();
        let bytes: f64 = source_topics
            .iter()
            .map(|t| stats["bytes"][index(t)].as_f64().unwrap_or(0.0))
            .sum();
        let started = (Instant::now(), self.cpu_seconds()?);
        let mut queries = Vec::new();
        for statement in q.statements {
            let entities = self.ksql(statement)?;
            let message = entities
                .first()
                .and_then(|e| e["commandStatus"]["message"].as_str())
                .unwrap_or_default()
                .to_string();
            let id = message
                .strip_prefix("Created query with ID ")
                .context(format!("{}: {message}", q.name))?
                .trim()
                .to_string();
            queries.push(id);
        }
        let mut consumers = Vec::new();
        for id in &queries {
            let group = format!("_confluent-ksql-{}query_{id}", self.service_id);
            let consumer: BaseConsumer = self
                .consumer_config
                .clone()
                .set("group.id", &group)
                .create()?;
            consumers.push(consumer);
        }
        let deadline = Instant::now() + timeout;
        let mut first: Option<(Instant, f64, i64)> = None;
        let (mut polls, mut done_polls) = (0u64, 0);
        let mut done_at: Option<(Instant, f64)> = None;
        let finished = loop {
            polls += 1;
            if polls % 20 == 0 {
                self.check_running(&queries)?;
            }
            let mut done = true;
            let mut consumed = 0i64;
            for (n, (id, consumer)) in queries.iter().zip(&consumers).enumerate() {
                // (listed again each time: a query's app creates its internal topics as it
                // starts)
                // (a topic just created may have no leader yet: not done, asked again)
                let progress = self
                    .read_topics(q, n, id)
                    .and_then(|topics| self.progress(consumer, &topics));
                let Ok(progress) = progress else {
                    done = false;
                    continue;
                };
                for (topic, at, end) in progress {
                    if at < end {
                        done = false;
                    }
                    if n == 0 && source_topics.contains(&topic.as_str()) {
                        consumed += at;
                    }
                }
            }
            if first.is_none() && consumed > 0 {
                first = Some((Instant::now(), self.cpu_seconds()?, consumed));
            }
            // (twice in a row: a commit between two reads is not taken for the end)
            done_polls = if done && consumed >= total {
                done_polls + 1
            } else {
                0
            };
            if done_polls == 1 {
                done_at = Some((Instant::now(), self.cpu_seconds()?));
            }
            if let (2, Some(at)) = (done_polls, done_at) {
                break at;
            }
            if Instant::now() > deadline {
                bail!("{}: not done after {timeout:?}", q.name);
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        // (from the first progress; from the start when the first progress was the end)
        let (from, cpu_from, events_before) = match first {
            Some((t, c, e)) if e < total => (t, c, e),
            _ => (started.0, started.1, 0),
        };
        let events = (total - events_before) as f64;
        let seconds = finished.0.duration_since(from).as_secs_f64();
        let cpu = finished.1 - cpu_from;
        let mut outputs = 0;
        for sink in q.sinks {
            outputs += self.ends(sink)?.iter().map(|(_, h)| h).sum::<i64>();
        }
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.0} | {:.1} | {} |",
            q.name,
            total - events_before,
            seconds,
            events / seconds,
            cpu,
            events / cpu,
            bytes * events / total as f64 / seconds / 1e6,
            outputs
        );
        for id in &queries {
            self.ksql(&format!("TERMINATE {id};"))?;
        }
        for sink in q.sinks {
            let kind = if q
                .statements
                .iter()
                .any(|s| s.contains(&format!("TABLE {sink} ")))
            {
                "TABLE"
            } else {
                "STREAM"
            };
            self.ksql(&format!("DROP {kind} {sink} DELETE TOPIC;"))?;
        }
        Ok(())
    }
}
