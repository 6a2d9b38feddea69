//! `tributary produce`: one record per input line, keyed records placed by murmur2 exactly as
//! the Java client places them (`toPositive(murmur2(key)) % partitions`).

use std::io::BufRead;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::client::{blocking, explain, partition_count, ConnectArgs};

#[derive(Args)]
pub struct ProduceArgs {
    /// Topic to produce to
    pub topic: String,
    /// Read lines from this file instead of stdin
    #[arg(long, short = 'f')]
    pub file: Option<std::path::PathBuf>,
    /// Split each line into key and value at the first occurrence of this separator
    #[arg(long, short = 'K')]
    pub key_separator: Option<String>,
    /// Header added to every record, KEY=VALUE; repeatable
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Send every record to this partition instead of partitioning by key
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// acks: 0, 1 or all (-1)
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression codec: none, gzip, snappy, lz4 or zstd
    #[arg(long, short = 'z', default_value = "none")]
    pub compression: String,
    /// linger.ms of the producer
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Parses `--acks`.
pub fn parse_acks(acks: &str) -> anyhow::Result<&'static str> {
    Ok(match acks {
        "0" => "0",
        "1" => "1",
        "all" | "-1" => "all",
        other => bail!("invalid --acks '{other}': expected 0, 1 or all"),
    })
}

/// Parses `--compression`.
pub fn parse_compression(c: &str) -> anyhow::Result<&'static str> {
    Ok(match c {
        "none" => "none",
        "gzip" => "gzip",
        "snappy" => "snappy",
        "lz4" => "lz4",
        "zstd" => "zstd",
        other => bail!("invalid --compression '{other}': expected none, gzip, snappy, lz4 or zstd"),
    })
}

pub async fn run(a: ProduceArgs) -> anyhow::Result<()> {
    let headers: Vec<(String, String)> = a
        .headers
        .iter()
        .map(|h| {
            h.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("bad --header '{h}': expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut cfg = a.connect.client_config()?;
    cfg.set("acks", parse_acks(&a.acks)?)
        .set("compression.codec", parse_compression(&a.compression)?)
        .set("linger.ms", a.linger_ms.to_string())
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "30000");
    let producer: FutureProducer = cfg.create().context("cannot create producer")?;
    let p = producer.clone();
    let topic = a.topic.clone();
    let timeout = a.connect.timeout();
    let md = blocking(&a.connect.bootstrap_server, move || {
        p.client().fetch_metadata(Some(&topic), timeout)
    })
    .await?;
    let partitions = partition_count(&md, &a.topic)?;
    if let Some(p) = a.partition {
        if p < 0 || p as usize >= partitions {
            bail!(
                "partition {p} does not exist: topic '{}' has {partitions} partitions",
                a.topic
            );
        }
    }

    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<String>>(1024);
    let file = a.file.clone();
    std::thread::spawn(move || {
        let reader: Box<dyn BufRead> = match file {
            Some(path) => match std::fs::File::open(&path) {
                Ok(f) => Box::new(std::io::BufReader::new(f)),
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", path.display()),
                    )));
                    return;
                }
            },
            None => Box::new(std::io::stdin().lock()),
        };
        for line in reader.lines() {
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });

    let mut pending = FuturesUnordered::new();
    let (mut sent, mut failed) = (0u64, 0u64);
    let mut first_error = None;
    while let Some(line) = rx.recv().await {
        let line = line.context("cannot read input")?;
        let (key, value) = match &a.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k.to_string()), v.to_string()),
                None => (None, line),
            },
            None => (None, line),
        };
        let mut hdrs = OwnedHeaders::new();
        for (k, v) in &headers {
            hdrs = hdrs.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let producer = producer.clone();
        let topic = a.topic.clone();
        let partition = a.partition;
        pending.push(async move {
            let mut record = FutureRecord::to(&topic)
                .payload(value.as_bytes())
                .headers(hdrs);
            if let Some(k) = &key {
                record = record.key(k.as_bytes());
            }
            if let Some(p) = partition {
                record = record.partition(p);
            }
            producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| e)
        });
        while pending.len() >= 10_000 {
            if let Some(r) = pending.next().await {
                tally(r, &mut sent, &mut failed, &mut first_error);
            }
        }
    }
    while let Some(r) = pending.next().await {
        tally(r, &mut sent, &mut failed, &mut first_error);
    }
    if let Some(e) = first_error {
        return Err(explain(e, &a.connect.bootstrap_server))
            .with_context(|| format!("{failed} of {} records failed", sent + failed));
    }
    eprintln!("Produced {sent} records to {}.", a.topic);
    Ok(())
}

fn tally(
    r: Result<rdkafka::producer::future_producer::Delivery, rdkafka::error::KafkaError>,
    sent: &mut u64,
    failed: &mut u64,
    first: &mut Option<rdkafka::error::KafkaError>,
) {
    match r {
        Ok(_) => *sent += 1,
        Err(e) => {
            *failed += 1;
            first.get_or_insert(e);
        }
    }
}
