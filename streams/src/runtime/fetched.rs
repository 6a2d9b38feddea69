//! Fetched records taken from librdkafka's consumer queue a batch at a time.
//!
//! rust-rdkafka's `BaseConsumer::poll` hands out one record per call, and each call reads the
//! clock four times and serves the queue's events one by one: a sixth of the stream thread's
//! time at a million records per second. librdkafka's `rd_kafka_consume_batch_queue` takes up
//! to a whole batch in one call (one clock read, the same records, errors as records with
//! their error set). This module is the one place that calls it: [`Poller`] owns a reference
//! to the consumer's queue, [`Batch`] owns the records it took, and [`Fetched`] reads one.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::c_void;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::processor::{Header, StreamsError};

/// A reference to a consumer's queue of fetched records. It must be dropped before the
/// consumer it was taken from (the thread declares it first).
pub(super) struct Poller {
    queue: *mut rd::rd_kafka_queue_t,
    /// Topic names by librdkafka's topic handle (see [`Poller::forget_topics`]).
    topics: HashMap<usize, Arc<str>>,
}

// SAFETY: librdkafka's queues may be used from any thread; the poller is used by one at a time.
unsafe impl Send for Poller {}

impl Poller {
    /// The queue of `consumer`, which must have a `group.id` (librdkafka gives a consumer
    /// without a group no queue of its own).
    pub fn new(consumer: &BaseConsumer) -> Result<Poller, StreamsError> {
        // SAFETY: the client pointer is valid while `consumer` lives; the queue returned holds
        // its own reference, released in `drop`
        let queue = unsafe { rd::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        if queue.is_null() {
            return Err(StreamsError::Kafka(
                "the consumer has no queue of its own (no group.id)".to_string(),
            ));
        }
        Ok(Poller {
            queue,
            topics: HashMap::new(),
        })
    }

    /// Takes the records that are there into `batch` (which is emptied first), up to its
    /// capacity, waiting at most `timeout` for the first.
    pub fn poll(&mut self, batch: &mut Batch, timeout: Duration) {
        batch.clear();
        let want = batch.capacity;
        batch.messages.reserve(want);
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the queue is valid while `self` lives; librdkafka writes at most `want`
        // message pointers into the spare capacity, and says how many
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue,
                timeout_ms,
                batch.messages.as_mut_ptr(),
                want,
            )
        };
        if n > 0 {
            // SAFETY: librdkafka initialized the first `n` (≤ `want`) pointers
            unsafe { batch.messages.set_len(n as usize) };
        }
        for &m in &batch.messages {
            // SAFETY: each message is valid until the batch destroys it
            let rkt = unsafe { (*m).rkt };
            if rkt.is_null() || self.topics.contains_key(&(rkt as usize)) {
                continue;
            }
            // SAFETY: a topic handle's name is a NUL-terminated string that lives as long as
            // the handle, which the message holds a reference to
            let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(rkt)) };
            self.topics
                .insert(rkt as usize, Arc::from(name.to_string_lossy().as_ref()));
        }
    }

    /// Forgets the topic names it learned: called when the consumer's assignment changes
    /// (librdkafka may free the handle of a topic no longer read, and a new topic's handle
    /// may then take its address; while a topic is assigned, or a record of it is held, its
    /// handle lives).
    pub fn forget_topics(&mut self) {
        self.topics.clear();
    }

    /// The `i`-th record of `batch`.
    pub fn get<'a>(&'a self, batch: &'a Batch, i: usize) -> Option<Fetched<'a>> {
        let &m = batch.messages.get(i)?;
        // SAFETY: the message is valid until the batch destroys it, which `'a` outlives
        let msg = unsafe { &*m };
        let topic = self.topics.get(&(msg.rkt as usize)).map_or("", |t| t);
        Some(Fetched { msg, topic })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `new`, released once
        unsafe { rd::rd_kafka_queue_destroy(self.queue) };
    }
}

/// Records taken from the queue, destroyed when the batch is cleared or dropped. It must not
/// outlive the consumer (the thread keeps it only within a poll).
pub(super) struct Batch {
    messages: Vec<*mut rd::rd_kafka_message_t>,
    capacity: usize,
}

impl Batch {
    /// A batch of up to `capacity` records.
    pub fn new(capacity: usize) -> Batch {
        Batch {
            messages: Vec::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    fn clear(&mut self) {
        for m in self.messages.drain(..) {
            // SAFETY: each message was returned by librdkafka and is destroyed once
            unsafe { rd::rd_kafka_message_destroy(m) };
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One fetched record (or an error the consumer reports in its place).
pub(super) struct Fetched<'a> {
    msg: &'a rd::rd_kafka_message_t,
    topic: &'a str,
}

impl<'a> Fetched<'a> {
    /// The consumer's error in place of a record (`None`: a record); the end of a partition
    /// is not an error.
    pub fn error(&self) -> Option<String> {
        match RDKafkaErrorCode::from(self.msg.err) {
            RDKafkaErrorCode::NoError | RDKafkaErrorCode::PartitionEOF => None,
            code => Some(code.to_string()),
        }
    }

    /// Whether this is a record (not an error nor the end of a partition).
    pub fn is_record(&self) -> bool {
        RDKafkaErrorCode::from(self.msg.err) == RDKafkaErrorCode::NoError
    }

    pub fn topic(&self) -> &'a str {
        self.topic
    }

    pub fn partition(&self) -> i32 {
        self.msg.partition
    }

    pub fn offset(&self) -> i64 {
        self.msg.offset
    }

    pub fn key(&self) -> Option<&'a [u8]> {
        bytes(self.msg.key, self.msg.key_len)
    }

    pub fn payload(&self) -> Option<&'a [u8]> {
        bytes(self.msg.payload, self.msg.len)
    }

    /// The record's timestamp in ms (-1 when it has none).
    pub fn timestamp(&self) -> i64 {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: the message is valid for `'a`
        let ts = unsafe { rd::rd_kafka_message_timestamp(self.msg, &mut kind) };
        match kind {
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => -1,
            _ => ts,
        }
    }

    /// The record's headers (empty: none).
    pub fn headers(&self) -> Vec<Header> {
        let mut hdrs: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
        // SAFETY: the message is valid for `'a`; the headers it returns are the message's
        let err = unsafe { rd::rd_kafka_message_headers(self.msg, &mut hdrs) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || hdrs.is_null() {
            return Vec::new();
        }
        // SAFETY: `hdrs` is valid while the message lives
        let count = unsafe { rd::rd_kafka_header_cnt(hdrs) };
        let mut headers = Vec::with_capacity(count);
        for i in 0..count {
            let mut name = std::ptr::null();
            let mut value = std::ptr::null();
            let mut size = 0usize;
            // SAFETY: `i` < count; librdkafka points `name` at a NUL-terminated string and
            // `value` at `size` bytes (null for a null value), both the message's
            let err =
                unsafe { rd::rd_kafka_header_get_all(hdrs, i, &mut name, &mut value, &mut size) };
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                continue;
            }
            // SAFETY: as above
            let key = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            headers.push((key, bytes(value.cast_mut(), size).map(<[u8]>::to_vec)));
        }
        headers
    }
}

/// The bytes at `ptr` (`None`: null).
fn bytes<'a>(ptr: *mut c_void, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: librdkafka's key, payload and header values are `len` bytes that live as
        // long as their message, which the caller's lifetime is bound to
        Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
    }
}
