//! Input offsets committed inside a producer's transaction with the group member's generation
//! (KIP-447), so that the group coordinator fences a thread whose instance has left the group:
//! its transaction cannot commit offsets of tasks that have moved on.
//!
//! rust-rdkafka builds the group metadata of a transactional offset commit only from a consumer
//! that joined the group itself; here the instance's own member joined, so the metadata is made
//! from its id and generation with librdkafka's `rd_kafka_consumer_group_metadata_new_with_genid`
//! and sent with `rd_kafka_send_offsets_to_transaction`, the two calls rust-rdkafka makes too.

use std::ffi::{CStr, CString};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::TopicPartitionList;

/// Why a transactional offset commit failed, as librdkafka classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnError {
    pub message: String,
    /// The producer cannot go on (it was fenced): it must be made again.
    pub fatal: bool,
    /// The transaction must be aborted.
    pub abortable: bool,
}

impl std::fmt::Display for TxnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The member of the group whose offsets a transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupMember {
    pub group_id: String,
    pub member_id: String,
    pub generation: i32,
}

/// Adds `offsets` (next offsets to read) to `producer`'s open transaction, for `member`.
pub(crate) fn send_offsets_to_transaction<C: ProducerContext>(
    producer: &BaseProducer<C>,
    offsets: &TopicPartitionList,
    member: &GroupMember,
    timeout: Duration,
) -> Result<(), TxnError> {
    let invalid = |what: &str| TxnError {
        message: format!("the {what} holds a NUL byte"),
        fatal: false,
        abortable: true,
    };
    let group = CString::new(member.group_id.as_str()).map_err(|_| invalid("group id"))?;
    let member_id = CString::new(member.member_id.as_str()).map_err(|_| invalid("member id"))?;
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    send(
        producer,
        offsets,
        &group,
        member.generation,
        &member_id,
        timeout_ms,
    )
}

#[allow(unsafe_code)]
fn send<C: ProducerContext>(
    producer: &BaseProducer<C>,
    offsets: &TopicPartitionList,
    group: &CStr,
    generation: i32,
    member_id: &CStr,
    timeout_ms: i32,
) -> Result<(), TxnError> {
    // SAFETY: `group` and `member_id` are NUL-terminated strings that outlive the call (librdkafka
    // copies them); a null group instance id is allowed. The metadata is owned here and destroyed
    // once, after the send, which only reads it.
    let metadata = unsafe {
        rd::rd_kafka_consumer_group_metadata_new_with_genid(
            group.as_ptr(),
            generation,
            member_id.as_ptr(),
            std::ptr::null(),
        )
    };
    if metadata.is_null() {
        return Err(TxnError {
            message: "librdkafka could not make the group metadata".to_string(),
            fatal: false,
            abortable: true,
        });
    }
    // SAFETY: the producer's handle and the offsets list are live for the whole call (borrowed),
    // and librdkafka does not keep either pointer; the metadata was checked non-null above.
    let error = unsafe {
        rd::rd_kafka_send_offsets_to_transaction(
            producer.client().native_ptr(),
            offsets.ptr(),
            metadata,
            timeout_ms,
        )
    };
    // SAFETY: made above, not used after this.
    unsafe { rd::rd_kafka_consumer_group_metadata_destroy(metadata) };
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: `error` is a non-null error object librdkafka handed over; its string lives until
    // the error is destroyed, which happens once, after it was copied.
    let result = unsafe {
        TxnError {
            message: CStr::from_ptr(rd::rd_kafka_error_string(error))
                .to_string_lossy()
                .into_owned(),
            fatal: rd::rd_kafka_error_is_fatal(error) != 0,
            abortable: rd::rd_kafka_error_txn_requires_abort(error) != 0,
        }
    };
    // SAFETY: as above: destroyed once, not used after.
    unsafe { rd::rd_kafka_error_destroy(error) };
    Err(result)
}
