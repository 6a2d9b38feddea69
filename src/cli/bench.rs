//! `tributary bench`: produce, consume and end-to-end performance, in the spirit of Kafka's
//! `kafka-producer-perf-test` and `kafka-consumer-perf-test`.

use crate::cli::output::outln;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::client::ConnectArgs;
use super::produce::{parse_acks, parse_compression};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Producer throughput and latency
    Produce(ProduceBench),
    /// Consumer throughput (reads a topic from the beginning)
    Consume(ConsumeBench),
    /// End-to-end latency at a fixed rate: produce, consume, measure
    E2e(E2eBench),
    /// Time for a consumer group to consume again after a member joins
    Rebalance(super::group_bench::RebalanceBench),
    /// Offset commits per second from concurrent consumers
    Commits(super::group_bench::CommitsBench),
}

#[derive(Args, Clone)]
pub struct ProducerOpts {
    /// Topic (created with --partitions if missing)
    #[arg(long, default_value = "bench")]
    pub topic: String,
    /// Partitions of the topic when the bench creates it
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Record value size in bytes
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// acks: 0, 1 or all
    #[arg(long, default_value = "1")]
    pub acks: String,
    /// linger.ms
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// batch.size in bytes
    #[arg(long, default_value_t = 1_000_000)]
    pub batch_size: usize,
    /// Compression: none, gzip, snappy, lz4, zstd
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// Key records with this many distinct keys (`key-0` ... round robin); 0: no keys
    #[arg(long, default_value_t = 0)]
    pub keys: u64,
    /// Values of text-like bytes (compress about 2-3x, like logs or JSON) instead of one
    /// repeated byte (which every codec shrinks to nothing)
    #[arg(long)]
    pub text_values: bool,
}

/// A block of text-like bytes (words of a small vocabulary, pseudo-random order) that record
/// values are cut from, so that codecs see data with a realistic ratio.
fn text_block(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "order", "user", "id", "amount", "status", "created", "shipped", "\"eur\"", "true",
        "false", "null", "{", "}", "42", "1970", "paris", "tokyo", "kafka", "stream", "event",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        out.push(if x & 0x100 == 0 { b' ' } else { b',' });
        if x & 0xf000 == 0 {
            out.extend_from_slice(format!("{}", x % 100_000).as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// The value of record `i`: `size` bytes, from `block` when text values are wanted.
fn value_of<'a>(block: &'a [u8], fill: &'a [u8], size: usize, i: u64) -> &'a [u8] {
    if block.is_empty() {
        return fill;
    }
    let start = (i.wrapping_mul(7919) as usize) % (block.len() - size).max(1);
    &block[start..start + size]
}

#[derive(Args)]
pub struct ProduceBench {
    #[command(flatten)]
    pub producer: ProducerOpts,
    /// Number of records
    #[arg(long, default_value_t = 5_000_000)]
    pub records: u64,
    /// Stop after this many seconds even if records remain
    #[arg(long)]
    pub duration_secs: Option<u64>,
    /// Write in transactions with this transactional.id (commits measured)
    #[arg(long)]
    pub transactional_id: Option<String>,
    /// With --transactional-id: commit every this many milliseconds
    #[arg(long, default_value_t = 100)]
    pub txn_ms: u64,
    /// With --transactional-id: commit after at most this many records
    #[arg(long, default_value_t = u64::MAX)]
    pub txn_records: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct ConsumeBench {
    /// Topic to read from the beginning
    #[arg(long, default_value = "bench")]
    pub topic: String,
    /// Number of records to read (default: everything up to the end)
    #[arg(long)]
    pub records: Option<u64>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct E2eBench {
    #[command(flatten)]
    pub producer: ProducerOpts,
    /// Records per second to produce
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds to run
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Records the delivery latency of every record; the opaque is the send time in ns.
struct LatencyContext {
    start: Instant,
    histogram: Mutex<Histogram<u64>>,
    acked: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for LatencyContext {}

impl ProducerContext for LatencyContext {
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        match result {
            Ok(_) => {
                let now = self.start.elapsed().as_nanos() as u64;
                let us = now.saturating_sub(sent_ns as u64) / 1000;
                if let Ok(mut h) = self.histogram.lock() {
                    let _ = h.record(us.max(1));
                }
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

fn report_latency(label: &str, h: &Histogram<u64>) {
    let ms = |us: u64| us as f64 / 1000.0;
    outln!(
        "{label} latency ms: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    );
}

pub(crate) async fn ensure_topic(
    connect: &ConnectArgs,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = connect.client_config()?.create()?;
    let t = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let r = admin
        .create_topics(
            [&t],
            &AdminOptions::new().operation_timeout(Some(connect.timeout())),
        )
        .await
        .map_err(|e| super::client::explain(e, &connect.bootstrap_server))?;
    for res in r {
        if let Err((name, code)) = res {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                bail!("cannot create topic {name}: {code}");
            }
        }
    }
    Ok(())
}

fn producer(
    connect: &ConnectArgs,
    o: &ProducerOpts,
) -> anyhow::Result<(ThreadedProducer<LatencyContext>, Arc<Instant>)> {
    let mut cfg = connect.client_config()?;
    cfg.set("acks", parse_acks(&o.acks)?)
        .set("compression.codec", parse_compression(&o.compression)?)
        .set("linger.ms", o.linger_ms.to_string())
        .set("batch.size", o.batch_size.to_string())
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151");
    let start = Instant::now();
    let ctx = LatencyContext {
        start,
        histogram: Mutex::new(new_histogram()?),
        acked: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };
    let p: ThreadedProducer<LatencyContext> = cfg
        .create_with_context(ctx)
        .context("cannot create producer")?;
    Ok((p, Arc::new(start)))
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Produce(b) => {
            ensure_topic(&b.connect, &b.producer.topic, b.producer.partitions).await?;
            tokio::task::spawn_blocking(move || produce_bench(b)).await??;
        }
        BenchCommand::Consume(b) => {
            tokio::task::spawn_blocking(move || consume_bench(b)).await??;
        }
        BenchCommand::E2e(b) => {
            ensure_topic(&b.connect, &b.producer.topic, b.producer.partitions).await?;
            tokio::task::spawn_blocking(move || e2e_bench(b)).await??;
        }
        BenchCommand::Rebalance(b) => {
            tokio::task::spawn_blocking(move || super::group_bench::rebalance(b)).await??;
        }
        BenchCommand::Commits(b) => {
            tokio::task::spawn_blocking(move || super::group_bench::commits(b)).await??;
        }
    }
    Ok(())
}

fn produce_bench(b: ProduceBench) -> anyhow::Result<()> {
    let mut connect = b.connect.clone();
    if let Some(id) = &b.transactional_id {
        connect.properties.push(format!("transactional.id={id}"));
    }
    let (p, start) = producer(&connect, &b.producer)?;
    let txn_timeout = Duration::from_secs(60);
    let mut commits = new_histogram()?;
    let mut txn_started = Instant::now();
    let mut txn_records = 0u64;
    if b.transactional_id.is_some() {
        p.init_transactions(txn_timeout)
            .context("init_transactions")?;
        p.begin_transaction().context("begin_transaction")?;
    }
    let size = b.producer.record_size;
    let fill = vec![b'x'; size];
    let block = if b.producer.text_values {
        text_block(size + (1 << 20))
    } else {
        Vec::new()
    };
    let deadline = b.duration_secs.map(|s| *start + Duration::from_secs(s));
    let mut sent = 0u64;
    let mut key = String::new();
    while sent < b.records && deadline.is_none_or(|d| Instant::now() < d) {
        let ns = start.elapsed().as_nanos() as usize;
        let value = value_of(&block, &fill, size, sent);
        let mut record =
            BaseRecord::<str, [u8], usize>::with_opaque_to(&b.producer.topic, ns).payload(value);
        if b.producer.keys > 0 {
            use std::fmt::Write;
            key.clear();
            let _ = write!(key, "key-{}", sent % b.producer.keys);
            record = record.key(key.as_str());
        }
        match p.send(record) {
            Ok(()) => {
                sent += 1;
                txn_records += 1;
            }
            Err((e, _))
                if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => bail!("send failed: {e}"),
        }
        if b.transactional_id.is_some()
            && (txn_records >= b.txn_records
                || txn_started.elapsed() >= Duration::from_millis(b.txn_ms))
        {
            let t = Instant::now();
            commit(&p, txn_timeout)?;
            let _ = commits.record((t.elapsed().as_micros() as u64).max(1));
            p.begin_transaction().context("begin_transaction")?;
            txn_started = Instant::now();
            txn_records = 0;
        }
    }
    if b.transactional_id.is_some() {
        let t = Instant::now();
        commit(&p, txn_timeout)?;
        let _ = commits.record((t.elapsed().as_micros() as u64).max(1));
    }
    p.flush(Duration::from_secs(120))
        .context("flush timed out")?;
    let elapsed = start.elapsed().as_secs_f64();
    let ctx = p.context();
    let acked = ctx.acked.load(Ordering::Relaxed);
    outln!(
        "{acked} records sent, {:.0} records/sec ({:.2} MB/sec), {} failed",
        acked as f64 / elapsed,
        acked as f64 * b.producer.record_size as f64 / elapsed / 1e6,
        ctx.failed.load(Ordering::Relaxed)
    );
    if let Ok(h) = ctx.histogram.lock() {
        report_latency("produce", &h);
    }
    if b.transactional_id.is_some() {
        outln!("{} transactions committed", commits.len());
        report_latency("commit", &commits);
    }
    Ok(())
}

/// Commits the open transaction, once every record of it is delivered.
///
/// The wait is done here: rust-rdkafka's `flush` (and the one librdkafka's commit runs with
/// event-based delivery reports) polls in 100 ms slices, which alone would add 100 ms to every
/// commit; the threaded producer's own thread serves the delivery reports meanwhile.
fn commit(p: &ThreadedProducer<LatencyContext>, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while p.in_flight_count() > 0 {
        if Instant::now() > deadline {
            bail!("records of the transaction were not delivered in time");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    p.commit_transaction(timeout).context("commit_transaction")
}

/// Assigns every partition of `topic` at `offset`; returns the partition count.
fn assign_all(
    consumer: &BaseConsumer,
    topic: &str,
    offset: Offset,
    connect: &ConnectArgs,
) -> anyhow::Result<usize> {
    let md = consumer
        .fetch_metadata(Some(topic), connect.timeout())
        .map_err(|e| super::client::explain(e, &connect.bootstrap_server))?;
    let parts = super::client::partition_count(&md, topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts as i32 {
        tpl.add_partition_offset(topic, p, offset)?;
    }
    consumer.assign(&tpl)?;
    Ok(parts)
}

fn consume_bench(b: ConsumeBench) -> anyhow::Result<()> {
    let mut cfg = b.connect.client_config()?;
    cfg.set(
        "group.id",
        format!("tributary-bench-{}", std::process::id()),
    );
    // librdkafka pauses fetching for fetch.queue.backoff.ms (1 s by default) whenever its
    // local queue is full, which caps a fast consumer far below what the broker serves.
    cfg.set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "2097152")
        .set("fetch.queue.backoff.ms", "1");
    let consumer: BaseConsumer = cfg.create()?;
    let parts = assign_all(&consumer, &b.topic, Offset::Beginning, &b.connect)?;
    let want = b.records.unwrap_or(u64::MAX);
    let (mut n, mut bytes, mut eof) = (0u64, 0u64, std::collections::HashSet::new());
    let mut start = None;
    while n < want {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                n += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
                if b.records.is_none() && eof.len() == parts {
                    break;
                }
            }
            Some(Err(e)) => bail!("consume failed: {e}"),
            None => bail!("no records for 10 s after {n} records"),
        }
    }
    let elapsed = start.map_or(0.0, |s| s.elapsed().as_secs_f64()).max(1e-9);
    outln!(
        "{n} records consumed, {:.0} records/sec ({:.2} MB/sec)",
        n as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
    Ok(())
}

fn e2e_bench(b: E2eBench) -> anyhow::Result<()> {
    let (p, start) = producer(&b.connect, &b.producer)?;
    let mut cfg = b.connect.client_config()?;
    cfg.set(
        "group.id",
        format!("tributary-bench-{}", std::process::id()),
    );
    cfg.set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .set("fetch.min.bytes", "1");
    let consumer: BaseConsumer = cfg.create()?;
    assign_all(&consumer, &b.producer.topic, Offset::End, &b.connect)?;
    // Let the consumer reach the end before producing.
    for _ in 0..20 {
        consumer.poll(Duration::from_millis(50));
    }
    let total = b.rate * b.duration_secs;
    let consumer_thread = std::thread::spawn({
        let start = Arc::clone(&start);
        move || -> anyhow::Result<Histogram<u64>> {
            let mut h = new_histogram()?;
            let mut n = 0u64;
            while n < total {
                match consumer.poll(Duration::from_secs(10)) {
                    Some(Ok(m)) => {
                        let payload = m.payload().unwrap_or_default();
                        if payload.len() >= 8 {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(&payload[..8]);
                            let sent = u64::from_be_bytes(a);
                            let now = start.elapsed().as_nanos() as u64;
                            let _ = h.record((now.saturating_sub(sent) / 1000).max(1));
                        }
                        n += 1;
                    }
                    Some(Err(e)) => bail!("consume failed: {e}"),
                    None => bail!("no records for 10 s after {n} of {total}"),
                }
            }
            Ok(h)
        }
    });
    let mut value = vec![b'x'; b.producer.record_size.max(8)];
    let interval = Duration::from_nanos(1_000_000_000 / b.rate.max(1));
    let mut next = Instant::now();
    for _ in 0..total {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
        }
        next += interval;
        let ns = start.elapsed().as_nanos() as u64;
        value[..8].copy_from_slice(&ns.to_be_bytes());
        let record = BaseRecord::<(), [u8], usize>::with_opaque_to(&b.producer.topic, ns as usize)
            .payload(&value);
        if let Err((e, _)) = p.send(record) {
            bail!("send failed: {e}");
        }
    }
    p.flush(Duration::from_secs(60))
        .context("flush timed out")?;
    let h = consumer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("consumer thread panicked"))??;
    outln!("{total} records at {} records/sec", b.rate);
    report_latency("end-to-end", &h);
    if let Ok(ph) = p.context().histogram.lock() {
        report_latency("produce", &ph);
    }
    Ok(())
}
