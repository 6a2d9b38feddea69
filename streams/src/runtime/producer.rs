//! The stream thread's producer: rust-rdkafka's, with a librdkafka topic handle kept per output
//! topic. rust-rdkafka's `send` names the topic in every call, which librdkafka looks up again
//! each time (a C string made, a lock taken, the client's topics scanned): a twelfth of the
//! stream thread's time at a million records per second. [`ThreadProducer::send_plain`] sends a
//! record without headers through the topic's handle; records with headers go through
//! rust-rdkafka's `send`.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_void;

use rdkafka::bindings as rd;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;

use super::output::Deliveries;

/// A librdkafka topic handle (one reference, released on drop).
struct TopicHandle(*mut rd::rd_kafka_topic_t);

// SAFETY: librdkafka's topic handles may be used from any thread.
unsafe impl Send for TopicHandle {}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        // SAFETY: the reference taken by `rd_kafka_topic_new`, released once, before the
        // client (the producer is dropped after the handles: see `ThreadProducer`)
        unsafe { rd::rd_kafka_topic_destroy(self.0) };
    }
}

/// A producer and its topic handles. Derefs to the rust-rdkafka producer for everything else.
pub(crate) struct ThreadProducer {
    // (declared first: dropped before the producer whose client they belong to)
    topics: RefCell<HashMap<String, TopicHandle>>,
    producer: BaseProducer<Deliveries>,
    zero: Option<RefCell<ZeroTimestamps>>,
}

/// Writes records whose timestamp is 0 with the produce protocol itself: librdkafka writes the
/// current time in place of a timestamp of 0 (`rd_kafka_msg_new0`), where Kafka's producer
/// keeps it. Only for producers without transactions on plaintext listeners (a transaction's
/// records must go through its producer; other listeners need librdkafka's security).
struct ZeroTimestamps {
    runtime: tokio::runtime::Runtime,
    producer: tributary_client::produce::Producer,
}

impl ThreadProducer {
    /// The thread's producer, made with `config`.
    pub fn new(
        producer: BaseProducer<Deliveries>,
        config: &rdkafka::ClientConfig,
    ) -> ThreadProducer {
        let plaintext = config
            .get("security.protocol")
            .is_none_or(|p| p.eq_ignore_ascii_case("plaintext"));
        let zero = match (
            config.get("bootstrap.servers"),
            config.get("transactional.id"),
        ) {
            (Some(bootstrap), None) if plaintext => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    tracing::warn!(
                        "records of timestamp 0 will be written with the current time: {e}"
                    )
                })
                .ok()
                .map(|runtime| {
                    let timeout = config
                        .get("delivery.timeout.ms")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(120_000);
                    RefCell::new(ZeroTimestamps {
                        runtime,
                        producer: tributary_client::produce::Producer::new(
                            bootstrap,
                            std::time::Duration::from_millis(timeout),
                        ),
                    })
                }),
            _ => None,
        };
        ThreadProducer {
            topics: RefCell::new(HashMap::new()),
            producer,
            zero,
        }
    }

    /// Writes a record whose timestamp is 0 as it is, once every record sent before it is
    /// delivered (so that the partition keeps their order); `None` when this producer cannot
    /// (a transactional one, or one on a secured listener): librdkafka then writes it with the
    /// current time.
    pub fn send_zero_timestamp(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(String, Option<Vec<u8>>)],
    ) -> Option<Result<(), String>> {
        let zero = self.zero.as_ref()?;
        let mut zero = zero.borrow_mut();
        let zero = &mut *zero;
        if let Err(e) = self.producer.flush(std::time::Duration::from_secs(120)) {
            return Some(Err(e.to_string()));
        }
        let record = tributary_client::produce::ProducerRecord {
            key,
            value,
            headers,
            timestamp: 0,
        };
        Some(
            zero.runtime
                .block_on(zero.producer.send(topic, partition, record))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        )
    }

    /// Sends a record without headers to `topic` (`partition`: `None` for the partitioner's
    /// choice); librdkafka copies key and value. An error is librdkafka's refusal (queue full,
    /// unknown partition, too large).
    pub fn send_plain(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<(), RDKafkaErrorCode> {
        let mut topics = self.topics.borrow_mut();
        let rkt = match topics.get(topic) {
            Some(handle) => handle.0,
            None => {
                let name = CString::new(topic).map_err(|_| RDKafkaErrorCode::InvalidArgument)?;
                // SAFETY: the client is valid while `self.producer` lives; a null conf takes
                // the producer's topic defaults (its partitioner), as a send by name does
                let rkt = unsafe {
                    rd::rd_kafka_topic_new(
                        self.producer.client().native_ptr(),
                        name.as_ptr(),
                        std::ptr::null_mut(),
                    )
                };
                if rkt.is_null() {
                    return Err(RDKafkaErrorCode::InvalidArgument);
                }
                topics.insert(topic.to_string(), TopicHandle(rkt));
                rkt
            }
        };
        let (value_ptr, value_len) = raw(value);
        let (key_ptr, key_len) = raw(key);
        // SAFETY: the arguments are the (type, value) pairs librdkafka's producev reads,
        // ended by END; key and value are copied (MSG_F_COPY) before it returns; the handle
        // and the client are alive; the delivery opaque is null (the context's is `()`)
        let err = unsafe {
            rd::rd_kafka_producev(
                self.producer.client().native_ptr(),
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_RKT,
                rkt,
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_PARTITION,
                partition.unwrap_or(-1),
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_MSGFLAGS,
                rd::RD_KAFKA_MSG_F_COPY,
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_VALUE,
                value_ptr,
                value_len,
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_KEY,
                key_ptr,
                key_len,
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_TIMESTAMP,
                timestamp,
                rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_END,
            )
        };
        match RDKafkaErrorCode::from(err) {
            RDKafkaErrorCode::NoError => Ok(()),
            code => Err(code),
        }
    }
}

impl std::ops::Deref for ThreadProducer {
    type Target = BaseProducer<Deliveries>;

    fn deref(&self) -> &BaseProducer<Deliveries> {
        &self.producer
    }
}

fn raw(bytes: Option<&[u8]>) -> (*mut c_void, usize) {
    match bytes {
        Some(b) => (b.as_ptr().cast_mut().cast::<c_void>(), b.len()),
        None => (std::ptr::null_mut(), 0),
    }
}
