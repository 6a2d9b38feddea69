//! `DatagenTask`: makes records of the schema, each after a random wait of up to
//! `max.interval` ms (one record a poll, as Confluent's), or with `max.interval=0` as fast as it
//! can, [`BATCH`] records a poll. It stops making records after `iterations`.
//!
//! Offsets as Confluent's: the source partition is `{"task.id": N}` and each record's offset
//! is the state the task resumes from after it, `{"task.generation": G+1,
//! "current.iteration": n+1, "random.seed": S}` (the task re-seeds its random source with `S`
//! after each record), so a restarted task neither starts its count over nor repeats its data.
//! Each record also carries the headers `task.generation`, `task.id` and `current.iteration`.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use tributary_connect::config::{Config, ConfigExt};
use tributary_connect::connector::{ConnectError, SourceTask, SourceTaskContext};
use tributary_connect::data::{Schema, SchemaAndValue, Type, Value};
use tributary_connect::record::ConnectRecord;

use super::config::{DatagenConfig, TASK_ID};
use super::generate;
use super::rng::Rng;

/// Records a poll returns at most when `max.interval` is 0.
pub const BATCH: usize = 1000;

/// How long a poll waits once the task has made all its `iterations`.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Offset and header names, as Confluent's.
const TASK_GENERATION: &str = "task.generation";
const CURRENT_ITERATION: &str = "current.iteration";
const RANDOM_SEED: &str = "random.seed";

/// Confluent's DatagenTask.
#[derive(Default)]
pub struct DatagenTask {
    config: Option<DatagenConfig>,
    task_id: i32,
    /// How many times this task has been started before (from the offsets).
    generation: i64,
    /// Records made so far, over all generations.
    count: u64,
    /// The data's random source (seeded by `random.seed` when set).
    rng: Option<Rng>,
    /// The waits' random source (never seeded: the data must not depend on it).
    delays: Option<Rng>,
    /// The key field's position in the value struct.
    key_index: Option<usize>,
    finished_logged: bool,
}

impl DatagenTask {
    fn partition(&self) -> Value {
        Value::Map(vec![(
            Value::String(TASK_ID.into()),
            Value::Int32(self.task_id),
        )])
    }

    /// Restores generation, count and seed from the last committed offset, if any.
    fn restore(&mut self, offset: &Value) -> Result<(), ConnectError> {
        let long = |k: &str| match offset.map_get(k) {
            Some(Value::Int64(v)) => Ok(*v),
            Some(Value::Int32(v)) => Ok(i64::from(*v)),
            other => Err(ConnectError::Fatal(format!(
                "The offset of the datagen task {} has no valid '{k}': {other:?}",
                self.task_id
            ))),
        };
        self.generation = long(TASK_GENERATION)?;
        self.count = long(CURRENT_ITERATION)?.max(0) as u64;
        self.rng = Some(Rng::new(long(RANDOM_SEED)? as u64));
        Ok(())
    }

    fn record(&mut self, c: &DatagenConfig, rng: &mut Rng, now: i64) -> ConnectRecord {
        let value = generate::value(&c.schema, rng, self.count);
        let key = match (self.key_index, &value) {
            (Some(i), Value::Struct(s)) => SchemaAndValue::new(
                c.schema.schema.fields().get(i).map(|f| f.schema().clone()),
                s.values().get(i).cloned().unwrap_or(Value::Null),
            ),
            _ => SchemaAndValue::new(Some(Schema::optional(Type::String)), Value::Null),
        };
        // the next record's seed, saved in this one's offset
        let seed = rng.next_u64();
        rng.reseed(seed);
        let long = |k: &str, v: i64| (Value::String(k.into()), Value::Int64(v));
        let offset = Value::Map(vec![
            long(TASK_GENERATION, self.generation + 1),
            long(CURRENT_ITERATION, self.count as i64 + 1),
            long(RANDOM_SEED, seed as i64),
        ]);
        let mut r = ConnectRecord::source(
            self.partition(),
            offset,
            c.topic.clone(),
            key,
            SchemaAndValue::new(Some(c.schema.schema.clone()), value),
        );
        r.timestamp = Some(now);
        let header =
            |v: i64| SchemaAndValue::new(Some(Schema::primitive(Type::Int64)), Value::Int64(v));
        r.headers.add(TASK_GENERATION, header(self.generation));
        r.headers.add(TASK_ID, header(i64::from(self.task_id)));
        r.headers.add(CURRENT_ITERATION, header(self.count as i64));
        self.count += 1;
        r
    }
}

impl SourceTask for DatagenTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: &'a dyn SourceTaskContext,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let c = DatagenConfig::parse(config)?;
            self.task_id = config.int_or(TASK_ID, 0)?;
            self.key_index = c
                .key_field
                .as_deref()
                .and_then(|k| c.schema.schema.field(k))
                .map(|f| f.index());
            let mut rng = Rng::new(c.random_seed.map_or_else(entropy, |s| s as u64));
            if c.random_seed.is_some() {
                // each task of a seeded connector makes other data, deterministically
                for _ in 0..self.task_id {
                    let s = rng.next_u64();
                    rng.reseed(s);
                }
            }
            self.rng = Some(rng);
            self.delays = Some(Rng::new(entropy()));
            if let Some(offset) = context.offset(&self.partition()) {
                self.restore(&offset)?;
            }
            tracing::info!(
                task = self.task_id,
                generation = self.generation,
                count = self.count,
                topic = %c.topic,
                "datagen task starting"
            );
            self.config = Some(c);
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<ConnectRecord>, ConnectError>> {
        Box::pin(async move {
            let (Some(c), Some(mut rng)) = (self.config.take(), self.rng.take()) else {
                return Err(ConnectError::Fatal(
                    "The datagen task was not started".into(),
                ));
            };
            let remaining = c
                .iterations
                .map_or(u64::MAX, |n| n.saturating_sub(self.count));
            let mut records = Vec::new();
            if remaining == 0 {
                if !self.finished_logged {
                    self.finished_logged = true;
                    tracing::info!(
                        task = self.task_id,
                        count = self.count,
                        "generated the configured number of messages; idle from now on"
                    );
                }
                tokio::time::sleep(IDLE_WAIT).await;
            } else {
                let batch = if c.max_interval_ms > 0 {
                    let wait = self
                        .delays
                        .as_mut()
                        .map_or(0, |d| d.below(c.max_interval_ms));
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    1
                } else {
                    remaining.min(BATCH as u64) as usize
                };
                let now = now_millis();
                records.reserve(batch);
                for _ in 0..batch {
                    records.push(self.record(&c, &mut rng, now));
                }
            }
            self.config = Some(c);
            self.rng = Some(rng);
            Ok(records)
        })
    }
}

/// A random seed from the process's hash keys (random per process and per call).
fn entropy() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::super::config::{
        ITERATIONS, KAFKA_TOPIC, MAX_INTERVAL, QUICKSTART, RANDOM_SEED as SEED,
    };
    use super::*;

    struct Offsets(Option<Value>);
    impl SourceTaskContext for Offsets {
        fn offset(&self, _: &Value) -> Option<Value> {
            self.0.clone()
        }
    }

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut c: Config = [
            (KAFKA_TOPIC, "t"),
            (QUICKSTART, "pageviews"),
            (MAX_INTERVAL, "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        c.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        c
    }

    async fn run(extra: &[(&str, &str)], offset: Option<Value>) -> Vec<ConnectRecord> {
        let mut t = DatagenTask::default();
        t.start(&config(extra), &Offsets(offset))
            .await
            .expect("starts");
        t.poll().await.expect("polls")
    }

    #[tokio::test]
    async fn records_carry_key_offsets_and_headers_and_stop_at_iterations() {
        let rs = run(&[(ITERATIONS, "3"), (TASK_ID, "2")], None).await;
        assert_eq!(rs.len(), 3);
        let r = &rs[1];
        assert_eq!(r.key, Value::Int64(11), "keyed by viewtime");
        assert_eq!(r.key_schema.as_ref().map(Schema::ty), Some(Type::Int64));
        assert_eq!(
            r.value_schema.as_ref().and_then(Schema::name),
            Some("ksql.pageviews")
        );
        let tributary_connect::record::Origin::Source { partition, offset } = &r.origin else {
            panic!("a source record")
        };
        assert_eq!(partition.map_get("task.id"), Some(&Value::Int32(2)));
        assert_eq!(offset.map_get("current.iteration"), Some(&Value::Int64(2)));
        assert_eq!(offset.map_get("task.generation"), Some(&Value::Int64(1)));
        let h = |k: &str| r.headers.last_with_name(k).map(|h| h.value.clone());
        assert_eq!(h("current.iteration"), Some(Value::Int64(1)));
        assert_eq!(h("task.id"), Some(Value::Int64(2)));
        assert!(r.timestamp.is_some());
    }

    #[tokio::test]
    async fn a_seeded_task_resumed_from_its_offset_goes_on_as_if_never_stopped() {
        let all = run(&[(ITERATIONS, "6"), (SEED, "42")], None).await;
        let tributary_connect::record::Origin::Source { offset, .. } = &all[2].origin else {
            panic!("a source record")
        };
        let rest = run(&[(ITERATIONS, "6"), (SEED, "42")], Some(offset.clone())).await;
        assert_eq!(rest.len(), 3, "only what the iterations leave");
        for (a, b) in all[3..].iter().zip(&rest) {
            assert_eq!((&a.key, &a.value), (&b.key, &b.value));
        }
        let h = rest[0]
            .headers
            .last_with_name("task.generation")
            .map(|h| h.value.clone());
        assert_eq!(h, Some(Value::Int64(1)));
        // another task of the same seeded connector makes other data
        let other = run(&[(ITERATIONS, "6"), (SEED, "42"), (TASK_ID, "1")], None).await;
        assert_ne!(
            all.iter().map(|r| r.value.to_string()).collect::<Vec<_>>(),
            other
                .iter()
                .map(|r| r.value.to_string())
                .collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn unbounded_fast_polls_return_full_batches() {
        assert_eq!(run(&[], None).await.len(), BATCH);
    }
}
