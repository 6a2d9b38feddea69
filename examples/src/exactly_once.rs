//! Exactly once, consume-transform-produce: each batch's results and the input offsets after it
//! are committed in one transaction (`send_offsets_to_transaction`, KIP-447), so that after a
//! crash anywhere the batch is either wholly in the output with its offsets committed, or not
//! at all and read again. Consumers of the output read with `isolation.level=read_committed`.
//!
//! The `transactional.id` is fixed per application instance: a restarted instance fences its
//! predecessor (whose open transaction is aborted) before it starts.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// How long a transactional call may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A consume-transform-produce loop with its consumer and transactional producer.
pub struct Pipeline {
    consumer: BaseConsumer,
    producer: ThreadedProducer<DefaultProducerContext>,
    input: String,
    output: String,
}

impl Pipeline {
    /// Joins `group` on `input` (reading committed data only) and initialises the producer of
    /// `transactional_id`, fencing any older instance.
    pub fn new(
        bootstrap: &str,
        input: &str,
        output: &str,
        group: &str,
        transactional_id: &str,
    ) -> anyhow::Result<Pipeline> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            // a crashed instance's partitions move to the restarted one within 10 s
            .set("session.timeout.ms", "10000")
            .create()?;
        consumer.subscribe(&[input])?;
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("transactional.id", transactional_id)
            .set("linger.ms", "5")
            .create()?;
        producer.init_transactions(TIMEOUT)?;
        Ok(Pipeline {
            consumer,
            producer,
            input: input.to_string(),
            output: output.to_string(),
        })
    }

    /// Polls up to `batch_size` records (waiting at most `wait` for the first), writes
    /// `transform(value)` for each (same key) and commits the batch with its offsets. Returns
    /// the number of records processed. An abortable failure aborts the transaction and
    /// rewinds to the committed offsets (the batch is processed again); a fatal one (fenced
    /// by a newer instance) is returned.
    pub fn step(
        &self,
        batch_size: usize,
        wait: Duration,
        mut transform: impl FnMut(&[u8]) -> Vec<u8>,
    ) -> anyhow::Result<usize> {
        let mut batch = Vec::new();
        let mut timeout = wait;
        while batch.len() < batch_size {
            match self.consumer.poll(timeout) {
                Some(Ok(m)) => batch.push(m),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
            timeout = Duration::from_millis(10);
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let mut next = TopicPartitionList::new();
        let written = (|| -> Result<(), KafkaError> {
            self.producer.begin_transaction()?;
            for m in &batch {
                let value = transform(m.payload().unwrap_or_default());
                let mut record = BaseRecord::<[u8], [u8]>::to(&self.output).payload(&value);
                if let Some(k) = m.key() {
                    record = record.key(k);
                }
                self.producer.send(record).map_err(|(e, _)| e)?;
                next.add_partition_offset(
                    &self.input,
                    m.partition(),
                    Offset::Offset(m.offset() + 1),
                )?;
            }
            let Some(meta) = self.consumer.group_metadata() else {
                return Err(KafkaError::Subscription("no group metadata yet".into()));
            };
            self.producer
                .send_offsets_to_transaction(&next, &meta, TIMEOUT)?;
            // wait for the deliveries here: the threaded producer's own flush polls in 100 ms
            // slices, which would add that much to every commit
            while self.producer.in_flight_count() > 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
            self.producer.commit_transaction(TIMEOUT)
        })();
        let count = batch.len();
        drop(batch);
        match written {
            Ok(()) => Ok(count),
            Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                self.producer.abort_transaction(TIMEOUT)?;
                self.rewind()?;
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Seeks every assigned partition back to its committed offset.
    fn rewind(&self) -> anyhow::Result<()> {
        let committed = self.consumer.committed(TIMEOUT)?;
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            self.consumer
                .seek(e.topic(), e.partition(), offset, TIMEOUT)?;
        }
        Ok(())
    }
}
