//! Record batches (magic v2) as they sit on the wire and on disk.
//!
//! The broker never re-encodes a producer's batch. It reads the 61-byte header, checks it, and
//! patches the few fields the broker owns (base offset, partition leader epoch and, for
//! `LogAppendTime` topics, the timestamp). The layout, from Kafka's `DefaultRecordBatch`:
//!
//! ```text
//! offset  size  field                      covered by CRC
//!      0     8  baseOffset                 no   (assigned by the broker)
//!      8     4  batchLength (bytes after)  no
//!     12     4  partitionLeaderEpoch       no   (assigned by the broker)
//!     16     1  magic (= 2)                no
//!     17     4  crc (CRC-32C)              no
//!     21     2  attributes                 yes
//!     23     4  lastOffsetDelta            yes
//!     27     8  baseTimestamp              yes
//!     35     8  maxTimestamp               yes
//!     43     8  producerId                 yes
//!     51     2  producerEpoch              yes
//!     53     4  baseSequence               yes
//!     57     4  recordsCount               yes
//!     61     …  records                    yes
//! ```

use crate::error::ErrorCode;

/// Size of the fixed batch header.
pub const HEADER_LEN: usize = 61;
/// Bytes before the `batchLength` field's coverage starts: base offset and the length itself.
pub const LOG_OVERHEAD: usize = 12;
/// Bytes of the header needed to locate a batch and its last offset.
pub const LOCATE_LEN: usize = 27;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const TIMESTAMP_TYPE_FLAG: i16 = 0x08;
const TRANSACTIONAL_FLAG: i16 = 0x10;
const CONTROL_FLAG: i16 = 0x20;
/// KIP-534: the base timestamp holds the time after which the cleaner may drop this batch's
/// tombstones and transaction markers.
const DELETE_HORIZON_FLAG: i16 = 0x40;
const COMPRESSION_MASK: i16 = 0x07;

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Fewer bytes than the header or the declared length.
    #[error("batch is truncated: {0}")]
    Truncated(String),
    /// A magic other than 2.
    #[error("unsupported record batch magic {0}; only magic 2 is accepted")]
    UnsupportedMagic(i8),
    /// The stored CRC does not match the bytes.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// Record count, offset deltas or record framing do not agree.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
}

impl BatchError {
    /// The Kafka error code for this problem, as Kafka's `LogValidator` answers it.
    pub fn code(&self) -> ErrorCode {
        match self {
            BatchError::Truncated(_) | BatchError::CrcMismatch { .. } => ErrorCode::CorruptMessage,
            BatchError::UnsupportedMagic(_) => ErrorCode::InvalidRecord,
            BatchError::InvalidRecord(_) => ErrorCode::InvalidRecord,
        }
    }
}

/// The parsed fixed header of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field; the batch occupies `LOG_OVERHEAD + batch_length` bytes.
    pub batch_length: i32,
    /// Leader epoch of the partition when the batch was appended.
    pub partition_leader_epoch: i32,
    /// Format version; always 2 for stored batches.
    pub magic: i8,
    /// CRC-32C of everything from the attributes on.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (or the append time for `LogAppendTime`).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

/// Base offset and total size of the batch starting at `buf`, from its first 12 bytes.
pub fn locate(buf: &[u8]) -> Option<(i64, usize)> {
    if buf.len() < LOG_OVERHEAD {
        return None;
    }
    let len = be_i32(buf, 8);
    if len < (HEADER_LEN - LOG_OVERHEAD) as i32 {
        return None;
    }
    Some((be_i64(buf, 0), LOG_OVERHEAD + len as usize))
}

impl BatchHeader {
    /// Parses the header at the start of `buf` (at least 61 bytes).
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated(format!(
                "{} bytes, a batch header needs {HEADER_LEN}",
                buf.len()
            )));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic: buf[16] as i8,
            crc: be_i32(buf, CRC_OFFSET) as u32,
            attributes: be_i16(buf, ATTRIBUTES_OFFSET),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_OFFSET),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        })
    }

    /// Total bytes the batch occupies in the log.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The next offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }

    /// Whether the batch carries `LogAppendTime` timestamps.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_FLAG != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// The delete horizon the cleaner stamped into the batch (KIP-534), if any.
    pub fn delete_horizon(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_FLAG != 0).then_some(self.base_timestamp)
    }

    /// Whether the batch is a control batch (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }
}

/// CRC-32C of a whole batch's covered bytes.
fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Checks one complete batch as stored: header, declared length, magic and CRC.
///
/// `batch` must be exactly the batch (its length is checked against the header). This is the
/// check recovery runs on every batch of an unflushed segment.
pub fn check_stored(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.magic != 2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 || header.size() != batch.len() {
        return Err(BatchError::Truncated(format!(
            "batchLength {} does not match the {} bytes given",
            header.batch_length,
            batch.len()
        )));
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

/// What the record-level rules need to know about a batch's records, gathered by the walk
/// that validates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSummary {
    /// Smallest record timestamp.
    pub min_timestamp: i64,
    /// Largest record timestamp.
    pub max_timestamp: i64,
    /// Whether some record has a null key.
    pub null_key: bool,
}

/// One record as the walker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo<'a> {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Absolute timestamp (base timestamp plus delta).
    pub timestamp: i64,
    /// Whether the key is null.
    pub null_key: bool,
    /// The key, `None` when null.
    pub key: Option<&'a [u8]>,
    /// The value, `None` when null (a tombstone).
    pub value: Option<&'a [u8]>,
    /// The headers section as encoded (count, then each header).
    pub headers: &'a [u8],
}

/// Validates a batch a producer sent: everything [`check_stored`] checks, plus the record count
/// against the offset delta, and every record's framing and offset delta, decompressing
/// compressed batches (with a bound) as Kafka's `LogValidator` does. Returns the header and a
/// summary of the records.
pub fn validate_produced(batch: &[u8]) -> Result<(BatchHeader, RecordSummary), BatchError> {
    let header = check_stored(batch)?;
    if header.records_count <= 0 {
        return Err(BatchError::InvalidRecord(format!(
            "batch declares {} records",
            header.records_count
        )));
    }
    if header.last_offset_delta != header.records_count - 1 {
        return Err(BatchError::InvalidRecord(format!(
            "lastOffsetDelta {} does not match {} records",
            header.last_offset_delta, header.records_count
        )));
    }
    let mut summary = RecordSummary {
        min_timestamp: i64::MAX,
        max_timestamp: i64::MIN,
        null_key: false,
    };
    walk_batch(batch, &header, true, |r| {
        summary.min_timestamp = summary.min_timestamp.min(r.timestamp);
        summary.max_timestamp = summary.max_timestamp.max(r.timestamp);
        summary.null_key |= r.null_key;
        true
    })?;
    Ok((header, summary))
}

/// Calls `f` for each record of a stored batch, in order, after checking its framing and that
/// offset deltas rise (a compacted batch has gaps) up to the last offset delta; `f` returns false
/// to stop early. Compressed batches are decompressed first, up to
/// [`super::compression::DECOMPRESSED_LIMIT`] bytes.
pub fn for_each_record(
    batch: &[u8],
    header: &BatchHeader,
    f: impl FnMut(RecordInfo<'_>) -> bool,
) -> Result<(), BatchError> {
    walk_batch(batch, header, false, f)
}

/// [`for_each_record`]; with `strict`, offset deltas must run 0, 1, 2, ... as a producer writes
/// them.
fn walk_batch(
    batch: &[u8],
    header: &BatchHeader,
    strict: bool,
    f: impl FnMut(RecordInfo<'_>) -> bool,
) -> Result<(), BatchError> {
    let body = batch
        .get(HEADER_LEN..)
        .ok_or_else(|| BatchError::Truncated("no records section".into()))?;
    if header.compression() == 0 {
        return walk_records(body, header, strict, f);
    }
    let plain = super::compression::decompress(header.compression(), body)?;
    walk_records(&plain, header, strict, f)
}

/// Walks the records section of a batch (uncompressed bytes).
fn walk_records(
    mut rest: &[u8],
    header: &BatchHeader,
    strict: bool,
    mut f: impl FnMut(RecordInfo<'_>) -> bool,
) -> Result<(), BatchError> {
    let count = header.records_count;
    let mut previous = -1;
    for expected in 0..count {
        let bad = |what: &str| BatchError::InvalidRecord(format!("record {expected}: {what}"));
        let (len, n) = read_varint(rest).ok_or_else(|| bad("bad length"))?;
        rest = &rest[n..];
        if len < 0 || len as usize > rest.len() {
            return Err(bad(&format!(
                "length {len} exceeds the {} bytes left",
                rest.len()
            )));
        }
        let (record, tail) = rest.split_at(len as usize);
        rest = tail;
        // attributes (1 byte), timestampDelta (varlong), offsetDelta (varint), keyLength (varint)
        let body = record.get(1..).ok_or_else(|| bad("empty"))?;
        let (ts_delta, a) = read_varlong(body).ok_or_else(|| bad("bad timestamp"))?;
        let (delta, b) = read_varint(&body[a..]).ok_or_else(|| bad("bad offset delta"))?;
        let in_order = if strict {
            delta == expected
        } else {
            delta > previous && delta <= header.last_offset_delta
        };
        if !in_order {
            return Err(BatchError::InvalidRecord(format!(
                "record {expected} has offset delta {delta}"
            )));
        }
        previous = delta;
        // key, value and headers must fill the record exactly, as Kafka's DefaultRecord reads it
        let mut at = a + b;
        let key = read_field(body, &mut at).ok_or_else(|| bad("key overruns the record"))?;
        let value = read_field(body, &mut at).ok_or_else(|| bad("value overruns the record"))?;
        let (headers, n) = read_varint(body.get(at..).unwrap_or_default())
            .ok_or_else(|| bad("bad header count"))?;
        let headers_start = at;
        at += n;
        if headers < 0 {
            return Err(bad(&format!("negative header count {headers}")));
        }
        for _ in 0..headers {
            let key =
                read_field(body, &mut at).ok_or_else(|| bad("header key overruns the record"))?;
            if key.is_none() {
                return Err(bad("null header key"));
            }
            read_field(body, &mut at).ok_or_else(|| bad("header value overruns the record"))?;
        }
        if at != body.len() {
            return Err(bad(&format!(
                "{} bytes left over inside the record",
                body.len() - at
            )));
        }
        let info = RecordInfo {
            offset_delta: delta,
            timestamp: header.base_timestamp.saturating_add(ts_delta),
            null_key: key.is_none(),
            key,
            value,
            headers: &body[headers_start..at],
        };
        if !f(info) {
            return Ok(());
        }
    }
    if !rest.is_empty() {
        return Err(BatchError::InvalidRecord(format!(
            "{} trailing bytes after {count} records",
            rest.len()
        )));
    }
    Ok(())
}

/// Reads a varint-length field and moves past it; returns `Some(None)` for a null field (length
/// -1), `Some(Some(bytes))` otherwise, or `None` when the field does not fit.
fn read_field<'a>(body: &'a [u8], at: &mut usize) -> Option<Option<&'a [u8]>> {
    let (len, n) = read_varint(body.get(*at..)?)?;
    *at += n;
    if len < -1 {
        return None;
    }
    if len == -1 {
        return Some(None);
    }
    let start = *at;
    let end = start.checked_add(len as usize)?;
    let field = body.get(start..end)?;
    *at = end;
    Some(Some(field))
}

/// Makes a batch a CreateTime batch whose max timestamp is `max_timestamp`, recomputing the CRC
/// (Kafka's `setMaxTimestamp(CREATE_TIME, max)`).
pub fn set_create_time_max(batch: &mut [u8], max_timestamp: i64) {
    let attributes = be_i16(batch, ATTRIBUTES_OFFSET) & !TIMESTAMP_TYPE_FLAG;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&max_timestamp.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Reads a zig-zag varint (i32); returns the value and the bytes used.
pub fn read_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let (v, n) = read_varlong(buf)?;
    if n > 5 {
        return None;
    }
    i32::try_from(v).ok().map(|v| (v, n))
}

/// Reads a zig-zag varlong (i64); returns the value and the bytes used.
pub fn read_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let v = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            return Some((v, i + 1));
        }
    }
    None
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_field(out: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// A record to write into a new batch: its absolute offset delta and timestamp, key, value and
/// encoded headers, as [`for_each_record`] shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Absolute timestamp.
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<Vec<u8>>,
    /// The value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// The headers section as encoded.
    pub headers: Vec<u8>,
}

impl From<RecordInfo<'_>> for OwnedRecord {
    fn from(r: RecordInfo<'_>) -> Self {
        OwnedRecord {
            offset_delta: r.offset_delta,
            timestamp: r.timestamp,
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r.headers.to_vec(),
        }
    }
}

/// How [`rebuild`] writes the new batch.
#[derive(Debug, Clone, Copy)]
pub struct Rebuild {
    /// The codec (and level) of the records section.
    pub codec: super::compression::Codec,
    /// Stamp this delete horizon (KIP-534) as the base timestamp.
    pub delete_horizon: Option<i64>,
}

/// Builds a batch that keeps `header`'s base offset, last offset delta, leader epoch, producer
/// fields and flags but holds only `records` (in offset order), written with `how.codec`, as
/// Kafka's cleaner and recompressing validator write them. An empty `records` gives an empty
/// batch, which Kafka keeps to remember a producer's last sequence.
pub fn rebuild(
    header: &BatchHeader,
    records: &[OwnedRecord],
    how: Rebuild,
) -> Result<Vec<u8>, BatchError> {
    let first_ts = records
        .first()
        .map_or(header.base_timestamp, |r| r.timestamp);
    let base_timestamp = how.delete_horizon.unwrap_or(first_ts);
    let mut body = Vec::with_capacity(
        records
            .iter()
            .map(|r| {
                24 + r.key.as_ref().map_or(0, Vec::len)
                    + r.value.as_ref().map_or(0, Vec::len)
                    + r.headers.len()
            })
            .sum(),
    );
    let mut one = Vec::new();
    let mut max_ts = -1;
    for r in records {
        one.clear();
        one.push(0);
        put_varlong(&mut one, r.timestamp.wrapping_sub(base_timestamp));
        put_varlong(&mut one, i64::from(r.offset_delta));
        put_field(&mut one, r.key.as_deref());
        put_field(&mut one, r.value.as_deref());
        one.extend_from_slice(&r.headers);
        put_varlong(&mut body, one.len() as i64);
        body.extend_from_slice(&one);
        max_ts = max_ts.max(r.timestamp);
    }
    let packed = if how.codec.id == 0 || records.is_empty() {
        body
    } else {
        super::compression::compress(how.codec, &body)?
    };
    let codec = if records.is_empty() { 0 } else { how.codec.id };
    let mut attributes = (header.attributes & !COMPRESSION_MASK) | codec;
    if how.delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_FLAG;
    }
    let max_timestamp = if header.is_log_append_time() || records.is_empty() {
        header.max_timestamp
    } else {
        max_ts
    };
    let mut b = Vec::with_capacity(HEADER_LEN + packed.len());
    b.extend_from_slice(&header.base_offset.to_be_bytes());
    b.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + packed.len()) as i32).to_be_bytes());
    b.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    b.extend_from_slice(&base_timestamp.to_be_bytes());
    b.extend_from_slice(&max_timestamp.to_be_bytes());
    b.extend_from_slice(&header.producer_id.to_be_bytes());
    b.extend_from_slice(&header.producer_epoch.to_be_bytes());
    b.extend_from_slice(&header.base_sequence.to_be_bytes());
    b.extend_from_slice(&(records.len() as i32).to_be_bytes());
    b.extend_from_slice(&packed);
    let crc = compute_crc(&b);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}

/// Every record of a batch, owned.
pub fn records_of(batch: &[u8], header: &BatchHeader) -> Result<Vec<OwnedRecord>, BatchError> {
    let mut out = Vec::with_capacity(header.records_count.clamp(0, 1 << 16) as usize);
    for_each_record(batch, header, |r| {
        out.push(r.into());
        true
    })?;
    Ok(out)
}

/// Writes the broker-owned fields of a batch about to be appended.
///
/// `log_append_time` is `Some(now)` on `LogAppendTime` topics: the timestamp type flag and the
/// max timestamp are set and the CRC is recomputed, exactly as Kafka does.
pub fn assign(batch: &mut [u8], base_offset: i64, leader_epoch: i32, log_append_time: Option<i64>) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now) = log_append_time {
        let attributes = be_i16(batch, ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_FLAG;
        batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
        batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now.to_be_bytes());
        let crc = compute_crc(batch);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

/// An end-transaction marker read from a control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    /// The coordinator epoch that wrote it.
    pub coordinator_epoch: i32,
}

/// Reads the marker of a control batch: key `version: i16, type: i16` (0 ABORT, 1 COMMIT),
/// value `version: i16, coordinator_epoch: i32`. `None` for other control records.
pub fn read_marker(bytes: &[u8], header: &BatchHeader) -> Option<Marker> {
    let mut found = None;
    let _ = for_each_record(bytes, header, |r| {
        if let Some(key) = r.key.filter(|k| k.len() >= 4) {
            let kind = i16::from_be_bytes([key[2], key[3]]);
            let coordinator_epoch = r
                .value
                .filter(|v| v.len() >= 6)
                .map_or(-1, |v| i32::from_be_bytes([v[2], v[3], v[4], v[5]]));
            if kind == 0 || kind == 1 {
                found = Some(Marker {
                    commit: kind == 1,
                    coordinator_epoch,
                });
            }
        }
        false
    });
    found
}

/// Builds the control batch of an end-transaction marker, as Kafka's `MemoryRecords.withEndTransactionMarker`
/// does (offsets and leader epoch are assigned on append).
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    timestamp: i64,
) -> Result<Vec<u8>, BatchError> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&i16::from(marker.commit).to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp,
        key: Some(key.into()),
        value: Some(value.into()),
        headers: Default::default(),
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::slice::from_ref(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| BatchError::InvalidRecord(format!("cannot encode a transaction marker: {e}")))?;
    Ok(buf.to_vec())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put_varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }

    /// Builds an uncompressed magic-2 batch with the given values (keys `k<i>`), as a client would.
    pub(crate) fn make_batch(values: &[&[u8]], timestamp: i64) -> Vec<u8> {
        let mut records = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let mut r = vec![0u8];
            put_varint(&mut r, 0);
            put_varint(&mut r, i as i64);
            let key = format!("k{i}");
            put_varint(&mut r, key.len() as i64);
            r.extend_from_slice(key.as_bytes());
            put_varint(&mut r, v.len() as i64);
            r.extend_from_slice(v);
            put_varint(&mut r, 0);
            put_varint(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + records.len()) as i32).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.push(2);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&(values.len() as i32 - 1).to_be_bytes());
        b.extend_from_slice(&timestamp.to_be_bytes());
        b.extend_from_slice(&timestamp.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&(values.len() as i32).to_be_bytes());
        b.extend_from_slice(&records);
        let crc = compute_crc(&b);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn valid_batch_passes_and_header_reads_back() {
        let b = make_batch(&[b"a", b"bb", b"ccc"], 1_000);
        let (h, summary) = validate_produced(&b).unwrap();
        assert_eq!(
            (
                summary.min_timestamp,
                summary.max_timestamp,
                summary.null_key
            ),
            (1_000, 1_000, false)
        );
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.max_timestamp, 1_000);
        assert_eq!(h.size(), b.len());
        assert_eq!(locate(&b), Some((0, b.len())));
    }

    #[test]
    fn flipped_byte_fails_crc() {
        let mut b = make_batch(&[b"hello"], 5);
        let last = b.len() - 3;
        b[last] ^= 0xff;
        assert!(matches!(
            validate_produced(&b),
            Err(BatchError::CrcMismatch { .. })
        ));
        assert_eq!(
            validate_produced(&b).unwrap_err().code(),
            ErrorCode::CorruptMessage
        );
    }

    #[test]
    fn truncated_and_wrong_magic_and_bad_counts_are_refused() {
        let b = make_batch(&[b"hello"], 5);
        assert!(matches!(
            validate_produced(&b[..30]),
            Err(BatchError::Truncated(_))
        ));
        assert!(matches!(
            validate_produced(&b[..b.len() - 1]),
            Err(BatchError::Truncated(_))
        ));
        let mut m = b.clone();
        m[16] = 1;
        assert_eq!(validate_produced(&m), Err(BatchError::UnsupportedMagic(1)));
        // lastOffsetDelta disagreeing with the count, CRC made valid again
        let mut c = b.clone();
        c[23..27].copy_from_slice(&5i32.to_be_bytes());
        let crc = compute_crc(&c);
        c[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            validate_produced(&c),
            Err(BatchError::InvalidRecord(_))
        ));
    }

    #[test]
    fn wrong_record_offset_delta_is_refused() {
        let mut b = make_batch(&[b"x", b"y"], 5);
        // second record: [len][attr][tsDelta=0][offsetDelta=1 -> zigzag 2]; set it to 0
        let first_len = b[HEADER_LEN] as usize / 2;
        let second = HEADER_LEN + 1 + first_len;
        assert_eq!(b[second + 3], 2);
        b[second + 3] = 0;
        let crc = compute_crc(&b);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            validate_produced(&b),
            Err(BatchError::InvalidRecord(_))
        ));
    }

    #[test]
    fn assign_sets_offset_epoch_and_append_time_with_valid_crc() {
        let mut b = make_batch(&[b"v"], 5);
        assign(&mut b, 42, 7, Some(99));
        let h = check_stored(&b).unwrap();
        assert_eq!(
            (h.base_offset, h.partition_leader_epoch, h.max_timestamp),
            (42, 7, 99)
        );
        assert!(h.is_log_append_time());
    }

    fn recrc(b: &mut [u8]) {
        let crc = compute_crc(b);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn record_fields_must_fill_the_record_exactly() {
        // record layout: [len][attr][tsDelta][offsetDelta][keyLen]... ; keyLen of "k0" is 2 (zigzag 4)
        let good = make_batch(&[b"value"], 5);
        let key_len_at = HEADER_LEN + 1 + 1 + 1 + 1;
        assert_eq!(good[key_len_at], 4);
        let mut overrun = good.clone();
        overrun[key_len_at] = 0x7e; // 63 bytes of key in a short record
        recrc(&mut overrun);
        assert!(matches!(
            validate_produced(&overrun),
            Err(BatchError::InvalidRecord(_))
        ));
        let mut negative = good.clone();
        negative[key_len_at] = 5; // zigzag -3
        recrc(&mut negative);
        assert!(matches!(
            validate_produced(&negative),
            Err(BatchError::InvalidRecord(_))
        ));
        let mut null_key = good.clone();
        null_key[key_len_at] = 1; // zigzag -1: null key, the 2 key bytes are now left over
        recrc(&mut null_key);
        assert!(matches!(
            validate_produced(&null_key),
            Err(BatchError::InvalidRecord(_))
        ));
    }

    #[test]
    fn create_time_max_clears_the_append_time_flag() {
        let mut b = make_batch(&[b"v"], 5);
        assign(&mut b, 0, 0, Some(99));
        assert!(check_stored(&b).unwrap().is_log_append_time());
        set_create_time_max(&mut b, 7);
        let h = check_stored(&b).unwrap();
        assert!(!h.is_log_append_time());
        assert_eq!(h.max_timestamp, 7);
    }

    #[test]
    fn rebuild_keeps_offsets_and_producer_fields_with_any_codec() {
        let original = make_batch(&[b"a", b"bb", b"ccc"], 1_000);
        let header = check_stored(&original).unwrap();
        let records = records_of(&original, &header).unwrap();
        for id in 0..=4 {
            let codec = crate::log::Codec { id, level: None };
            // drop the middle record: the offsets of the others do not move
            let kept = [records[0].clone(), records[2].clone()];
            let b = rebuild(
                &header,
                &kept,
                Rebuild {
                    codec,
                    delete_horizon: None,
                },
            )
            .unwrap();
            let h = check_stored(&b).unwrap();
            assert_eq!(
                (h.compression(), h.records_count, h.last_offset_delta),
                (id, 2, 2)
            );
            assert_eq!(h.delete_horizon(), None);
            assert_eq!(records_of(&b, &h).unwrap(), kept);
            assert!(
                validate_produced(&b).is_err(),
                "a gap is not what producers may send"
            );
        }
        let stamped = rebuild(
            &header,
            &records,
            Rebuild {
                codec: crate::log::Codec { id: 0, level: None },
                delete_horizon: Some(5_000),
            },
        )
        .unwrap();
        let h = check_stored(&stamped).unwrap();
        assert_eq!((h.delete_horizon(), h.max_timestamp), (Some(5_000), 1_000));
        let back = records_of(&stamped, &h).unwrap();
        assert_eq!(
            back, records,
            "record timestamps survive a moved base timestamp"
        );
        let empty = rebuild(
            &header,
            &[],
            Rebuild {
                codec: crate::log::Codec { id: 4, level: None },
                delete_horizon: None,
            },
        )
        .unwrap();
        let h = check_stored(&empty).unwrap();
        assert_eq!(
            (h.records_count, h.last_offset_delta, h.compression()),
            (0, 2, 0)
        );
    }

    #[test]
    fn varints_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            300,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(read_varlong(&out), Some((v, out.len())));
            let mut again = Vec::new();
            super::put_varlong(&mut again, v);
            assert_eq!(again, out);
        }
        assert_eq!(read_varlong(&[0x80; 11]), None);
    }
}
