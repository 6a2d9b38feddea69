//! `tributary consume`: read records from chosen partitions and positions and print them.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::client::{blocking, partition_count, ConnectArgs};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// The value of each record, one per line
    Plain,
    /// One JSON object per record: topic, partition, offset, timestamp, key, value, headers
    Json,
}

#[derive(Args)]
pub struct ConsumeArgs {
    /// Topic to consume from
    pub topic: String,
    /// Start from the earliest offset
    #[arg(long, conflicts_with_all = ["offset", "from_timestamp"])]
    pub from_beginning: bool,
    /// Start at this offset (in each chosen partition)
    #[arg(long, conflicts_with = "from_timestamp")]
    pub offset: Option<i64>,
    /// Start at the first record with a timestamp at or after this (ms since the epoch)
    #[arg(long)]
    pub from_timestamp: Option<i64>,
    /// Only this partition (default: all)
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Stop after this many records
    #[arg(long, short = 'n')]
    pub max_messages: Option<u64>,
    /// Stop when every partition has been read to its end
    #[arg(long, short = 'e')]
    pub exit_at_end: bool,
    /// Stop when no record arrives for this long (ms)
    #[arg(long)]
    pub idle_timeout_ms: Option<u64>,
    /// Output format
    #[arg(long, value_enum, default_value = "plain")]
    pub format: Format,
    /// Print the key before the value in plain format, separated by this
    #[arg(long)]
    pub key_separator: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(a: ConsumeArgs) -> anyhow::Result<()> {
    let mut cfg = a.connect.client_config()?;
    // librdkafka needs a group id to assign partitions; nothing is committed to it.
    if cfg.get("group.id").is_none() {
        cfg.set(
            "group.id",
            format!("tributary-console-consumer-{}", std::process::id()),
        );
    }
    cfg.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("allow.auto.create.topics", "false");
    let consumer: BaseConsumer = cfg.create().context("cannot create consumer")?;
    let consumer = std::sync::Arc::new(consumer);
    let c = std::sync::Arc::clone(&consumer);
    let topic = a.topic.clone();
    let timeout = a.connect.timeout();
    let md = blocking(&a.connect.bootstrap_server, move || {
        c.fetch_metadata(Some(&topic), timeout)
    })
    .await?;
    let count = partition_count(&md, &a.topic)? as i32;
    let partitions: Vec<i32> = match a.partition {
        Some(p) if p < 0 || p >= count => bail!(
            "partition {p} does not exist: topic '{}' has {count} partitions",
            a.topic
        ),
        Some(p) => vec![p],
        None => (0..count).collect(),
    };
    let start = if a.from_beginning {
        Offset::Beginning
    } else if let Some(o) = a.offset {
        if o < 0 {
            Offset::OffsetTail(-o)
        } else {
            Offset::Offset(o)
        }
    } else {
        Offset::End
    };
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(&a.topic, *p, start)
            .context("bad partition list")?;
    }
    if let Some(ts) = a.from_timestamp {
        let mut query = TopicPartitionList::new();
        for p in &partitions {
            query.add_partition_offset(&a.topic, *p, Offset::Offset(ts))?;
        }
        let c = std::sync::Arc::clone(&consumer);
        let found = blocking(&a.connect.bootstrap_server, move || {
            c.offsets_for_times(query, timeout)
        })
        .await?;
        tpl = TopicPartitionList::new();
        for e in found.elements() {
            // No record at or after the timestamp: start at the end, as Kafka's tools do.
            let o = match e.offset() {
                Offset::Offset(o) if o >= 0 => Offset::Offset(o),
                _ => Offset::End,
            };
            tpl.add_partition_offset(&a.topic, e.partition(), o)?;
        }
    }
    consumer.assign(&tpl).context("cannot assign partitions")?;

    let max = a.max_messages.unwrap_or(u64::MAX);
    let idle = a.idle_timeout_ms.map(Duration::from_millis);
    let format = a.format;
    let sep = a.key_separator.clone();
    let exit_at_end = a.exit_at_end;
    let n_partitions = partitions.len();
    // The poll loop blocks, so it runs on its own thread.
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut seen = 0u64;
        let mut at_end = std::collections::HashSet::new();
        let mut last = Instant::now();
        while seen < max {
            match consumer.poll(Duration::from_millis(100)) {
                None => {
                    if idle.is_some_and(|d| last.elapsed() >= d) {
                        break;
                    }
                    out.flush()?;
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                    if exit_at_end && at_end.len() >= n_partitions {
                        break;
                    }
                }
                Some(Err(e)) => {
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                        bail!("topic deleted or partition unknown: {e}");
                    }
                    eprintln!("warning: {e}");
                }
                Some(Ok(m)) => {
                    at_end.remove(&m.partition());
                    last = Instant::now();
                    seen += 1;
                    print_message(&mut out, &m, format, sep.as_deref())?;
                }
            }
        }
        out.flush()?;
        Ok(seen)
    })
    .await
    .context("consumer task failed")??;
    eprintln!("Consumed {result} records.");
    Ok(())
}

fn lossy(b: Option<&[u8]>) -> serde_json::Value {
    match b {
        Some(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
        None => serde_json::Value::Null,
    }
}

fn print_message(
    out: &mut impl Write,
    m: &rdkafka::message::BorrowedMessage<'_>,
    format: Format,
    sep: Option<&str>,
) -> std::io::Result<()> {
    match format {
        Format::Plain => {
            if let Some(sep) = sep {
                out.write_all(m.key().unwrap_or_default())?;
                out.write_all(sep.as_bytes())?;
            }
            out.write_all(m.payload().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        Format::Json => {
            let headers: Vec<serde_json::Value> = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| serde_json::json!({"key": h.key, "value": lossy(h.value)}))
                        .collect()
                })
                .unwrap_or_default();
            let v = serde_json::json!({
                "topic": m.topic(),
                "partition": m.partition(),
                "offset": m.offset(),
                "timestamp": m.timestamp().to_millis(),
                "key": lossy(m.key()),
                "value": lossy(m.payload()),
                "headers": headers,
            });
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")
        }
    }
}
