//! One segment of a partition's log: a `.log` file of batches plus its two indexes.
//!
//! Files are named by the segment's base offset, zero-padded to 20 digits, as Kafka names them
//! (`00000000000000001234.log`, `.index`, `.timeindex`), so a directory listing shows the log.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_LEN, LOCATE_LEN};
use super::index::{Index, OffsetKind, TimeKind};
use super::producer_state::AbortedTxn;
use super::txn_index::TxnIndex;

/// File name stem of a segment with the given base offset.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// A byte range of a segment file holding whole batches (except perhaps a cut last one, as
/// Kafka also returns), ready to be copied into a fetch response.
#[derive(Clone, Debug)]
pub struct FileSlice {
    pub(crate) file: Arc<File>,
    pub(crate) position: u64,
    pub(crate) len: usize,
}

impl FileSlice {
    /// Reads the bytes. Runs a positional read: call it off the async runtime.
    pub fn read(&self) -> io::Result<bytes::Bytes> {
        let mut buf = vec![0u8; self.len];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(buf.into())
    }

    /// Asks the kernel to read the range into the page cache ahead of a `sendfile` of it (a
    /// hint; failures change nothing and are ignored).
    pub fn will_need(&self) {
        let len = std::num::NonZeroU64::new(self.len as u64);
        let _ = rustix::fs::fadvise(
            &*self.file,
            self.position,
            len,
            rustix::fs::Advice::WillNeed,
        );
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

pub(crate) struct Segment {
    pub base_offset: i64,
    log_path: PathBuf,
    file: Arc<File>,
    /// Bytes of whole batches in the file.
    pub size: u64,
    /// The offset after the last batch, or `base_offset` while empty.
    pub next_offset: i64,
    index: Index<OffsetKind>,
    time_index: Index<TimeKind>,
    /// Aborted transactions whose abort marker is in this segment.
    txn_index: TxnIndex,
    bytes_since_index: u64,
    /// Largest batch max-timestamp seen, and the last offset of that batch.
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: i64,
    /// Wall-clock time the segment was created or opened, for `segment.ms`.
    pub created_ms: i64,
    /// `index.interval.bytes`: bytes of log between two index entries.
    index_interval: u64,
}

/// Where a located batch sits.
pub(crate) struct Located {
    pub position: u64,
    pub header: BatchHeader,
}

impl Segment {
    /// Path of the aborted transaction index of the segment at `base`.
    pub fn txn_index_path(dir: &Path, base: i64) -> PathBuf {
        dir.join(format!("{}.txnindex", file_stem(base)))
    }

    fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
        let stem = file_stem(base);
        (
            dir.join(format!("{stem}.log")),
            dir.join(format!("{stem}.index")),
            dir.join(format!("{stem}.timeindex")),
        )
    }

    /// Creates a new empty active segment.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_interval: u64,
        now_ms: i64,
    ) -> io::Result<Self> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)?;
        // A stale index from an earlier life of this offset would mislead lookups.
        let _ = std::fs::remove_file(&idx);
        let _ = std::fs::remove_file(&tidx);
        let txn_index = TxnIndex::create(Self::txn_index_path(dir, base_offset))?;
        Self::assemble(dir, base_offset, file, 0, index_interval, now_ms, txn_index)
    }

    /// A segment over an open log file, with both indexes opened (active: cached in memory).
    fn assemble(
        dir: &Path,
        base_offset: i64,
        file: File,
        size: u64,
        index_interval: u64,
        now_ms: i64,
        txn_index: TxnIndex,
    ) -> io::Result<Self> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        Ok(Segment {
            txn_index,
            base_offset,
            log_path: log,
            file: Arc::new(file),
            size,
            next_offset: base_offset,
            index: Index::open(&idx, true)?,
            time_index: Index::open(&tidx, true)?,
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            created_ms: now_ms,
            index_interval,
        })
    }

    /// Opens an existing segment. With `trust_indexes`, indexes are sanity-checked and only the
    /// tail after the last index entry is scanned; otherwise the whole segment is recovered.
    /// Returns the segment and whether a torn or corrupt tail was cut off.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        active: bool,
        trust_indexes: bool,
        index_interval: u64,
        now_ms: i64,
    ) -> io::Result<(Self, bool)> {
        let (log, _, _) = Self::paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).open(&log)?;
        let size = file.metadata()?.len();
        let txn_index = TxnIndex::open(Self::txn_index_path(dir, base_offset))?;
        let mut seg = Self::assemble(
            dir,
            base_offset,
            file,
            size,
            index_interval,
            now_ms,
            txn_index,
        )?;
        let truncated = if trust_indexes && seg.indexes_look_sane()? {
            seg.scan_tail()?
        } else {
            if trust_indexes {
                tracing::warn!(segment = %seg.log_path.display(), "index is corrupt; rebuilding");
            }
            seg.recover()?
        };
        if !active {
            seg.seal()?;
        }
        Ok((seg, truncated))
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The open log file.
    pub fn file(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }

    /// The max timestamp of the first batch, if the segment has one (Kafka's
    /// `firstBatchTimestamp`, for `max.compaction.lag.ms`).
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        let mut buf = [0u8; HEADER_LEN];
        self.read_header(0, &mut buf)
            .ok()
            .flatten()
            .map(|h| h.max_timestamp)
    }

    fn indexes_look_sane(&self) -> io::Result<bool> {
        // An empty (or missing) offset index over more data than one index interval would make
        // every lookup scan the segment from its start: rebuild it.
        if self.index.len() == 0 && self.size > self.index_interval.saturating_mul(2).max(8192) {
            return Ok(false);
        }
        let mut prev: Option<(u32, u32)> = None;
        let n = self.index.len();
        for i in n.saturating_sub(2)..n {
            let e = self.index.entry(i)?;
            if u64::from(e.1) >= self.size.max(1) || prev.is_some_and(|p| p.0 >= e.0 || p.1 >= e.1)
            {
                return Ok(false);
            }
            prev = Some(e);
        }
        let mut prev_ts: Option<i64> = None;
        let m = self.time_index.len();
        for i in m.saturating_sub(2)..m {
            let e = self.time_index.entry(i)?;
            if prev_ts.is_some_and(|p| p >= e.0) {
                return Ok(false);
            }
            prev_ts = Some(e.0);
        }
        Ok(true)
    }

    /// With indexes trusted: sets `next_offset` and the max timestamp by reading the headers
    /// after the last offset index entry; cuts a torn tail.
    fn scan_tail(&mut self) -> io::Result<bool> {
        if let Some(last) = self.time_index.len().checked_sub(1) {
            let (ts, rel) = self.time_index.entry(last)?;
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = self.base_offset + i64::from(rel);
        }
        let start = match self.index.len().checked_sub(1) {
            Some(i) => u64::from(self.index.entry(i)?.1),
            None => 0,
        };
        self.scan_from(start, false)
    }

    /// Rebuilds both indexes by reading and checking every batch; cuts the log at the first
    /// batch that is torn or fails its CRC. Returns whether anything was cut.
    pub fn recover(&mut self) -> io::Result<bool> {
        self.index.truncate_entries(0)?;
        self.time_index.truncate_entries(0)?;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.bytes_since_index = 0;
        self.scan_from(0, true)
    }

    /// Walks batches from `start` to the end of the file. With `rebuild` every batch is checked
    /// in full (CRC) and indexed; otherwise only headers are read.
    fn scan_from(&mut self, start: u64, rebuild: bool) -> io::Result<bool> {
        let file_len = self.file.metadata()?.len();
        let mut pos = start;
        let mut expected = None::<i64>;
        let mut header_buf = [0u8; HEADER_LEN];
        let mut batch_buf = Vec::new();
        self.next_offset = self.base_offset;
        let valid_end = loop {
            if pos + HEADER_LEN as u64 > file_len {
                break pos;
            }
            self.file.read_exact_at(&mut header_buf, pos)?;
            let Ok(header) = BatchHeader::parse(&header_buf) else {
                break pos;
            };
            if header.magic != 2
                || header.batch_length < (HEADER_LEN - batch::LOG_OVERHEAD) as i32
                || pos + header.size() as u64 > file_len
                || header.base_offset < self.base_offset
                || header.last_offset_delta < 0
                || expected.is_some_and(|e| header.base_offset < e)
            {
                break pos;
            }
            if rebuild {
                batch_buf.resize(header.size(), 0);
                self.file.read_exact_at(&mut batch_buf, pos)?;
                if batch::check_stored(&batch_buf).is_err() {
                    break pos;
                }
                self.index_batch(&header, pos);
            } else if header.max_timestamp > self.max_timestamp {
                self.max_timestamp = header.max_timestamp;
                self.offset_of_max_timestamp = header.last_offset();
            }
            expected = Some(header.next_offset());
            self.next_offset = header.next_offset();
            pos += header.size() as u64;
        };
        let truncated = valid_end < file_len;
        if truncated {
            tracing::warn!(
                segment = %self.log_path.display(),
                valid_bytes = valid_end,
                file_bytes = file_len,
                "cutting torn or corrupt tail of log segment"
            );
            self.file.set_len(valid_end)?;
        }
        self.size = valid_end;
        Ok(truncated)
    }

    /// Records index entries for a batch just placed at `position`.
    fn index_batch(&mut self, header: &BatchHeader, position: u64) {
        let interval = self.index_interval;
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        if self.bytes_since_index > interval || self.index.len() == 0 && position == 0 {
            let rel = (header.last_offset() - self.base_offset) as u32;
            self.index.append(rel, position as u32);
            self.maybe_append_time_entry();
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.size() as u64;
    }

    fn maybe_append_time_entry(&mut self) {
        let last_ts = match self.time_index.len().checked_sub(1) {
            Some(i) => self.time_index.entry(i).map(|e| e.0).unwrap_or(i64::MAX),
            None => -1,
        };
        if self.max_timestamp > last_ts && self.offset_of_max_timestamp >= self.base_offset {
            let rel = (self.offset_of_max_timestamp - self.base_offset) as u32;
            self.time_index.append(self.max_timestamp, rel);
        }
    }

    /// Appends a batch whose header has already been validated and assigned.
    pub fn append(&mut self, bytes: &[u8], header: &BatchHeader) -> io::Result<()> {
        let position = self.size;
        self.file.write_all_at(bytes, position)?;
        self.size += bytes.len() as u64;
        self.next_offset = header.next_offset();
        self.index_batch(header, position);
        if self.index.len() % 512 == 0 {
            self.index.write_pending()?;
            self.time_index.write_pending()?;
        }
        Ok(())
    }

    /// Whether the offset index has room for more entries under `segment.index.bytes`.
    pub fn index_full(&self, max_index_bytes: u64) -> bool {
        (self.index.len() as u64 + 1) * 8 > max_index_bytes
            || (self.time_index.len() as u64 + 1) * 12 > max_index_bytes
    }

    /// Reads the header of the batch at `position` into `buf` (a full header when `buf` is
    /// [`HEADER_LEN`] long); `None` past the end or when it does not parse.
    pub fn read_header(&self, position: u64, buf: &mut [u8]) -> io::Result<Option<BatchHeader>> {
        if position + buf.len() as u64 > self.size {
            return Ok(None);
        }
        self.file.read_exact_at(buf, position)?;
        if buf.len() >= HEADER_LEN {
            return Ok(BatchHeader::parse(buf).ok());
        }
        // Only base offset, length and last offset delta are needed to locate a batch.
        let mut full = [0u8; HEADER_LEN];
        full[..buf.len()].copy_from_slice(buf);
        Ok(BatchHeader::parse(&full).ok())
    }

    /// Finds the batch containing `offset` (or the first one after it).
    pub fn locate(&self, offset: i64) -> io::Result<Option<Located>> {
        let rel = (offset - self.base_offset).clamp(0, i64::from(u32::MAX)) as u32;
        let mut position = match self.index.lookup(rel)? {
            Some((_, pos)) => u64::from(pos),
            None => 0,
        };
        let mut buf = [0u8; LOCATE_LEN];
        while let Some(header) = self.read_header(position, &mut buf)? {
            if header.last_offset() >= offset {
                return Ok(Some(Located { position, header }));
            }
            position += header.size() as u64;
        }
        Ok(None)
    }

    /// Byte position where data at or after `offset` starts, or the segment end.
    pub fn position_of(&self, offset: i64) -> io::Result<u64> {
        Ok(self.locate(offset)?.map_or(self.size, |l| l.position))
    }

    /// The first batch whose max timestamp is `>= ts`.
    pub fn find_timestamp(&self, ts: i64) -> io::Result<Option<Located>> {
        self.find_timestamp_from(ts, self.base_offset)
    }

    /// The first batch holding `min_offset` or later whose max timestamp is `>= ts`.
    pub fn find_timestamp_from(&self, ts: i64, min_offset: i64) -> io::Result<Option<Located>> {
        let indexed = match self.time_index.lookup(ts)? {
            Some((_, rel)) => self.base_offset + i64::from(rel),
            None => self.base_offset,
        };
        let position = match self.locate(indexed.max(min_offset))? {
            Some(l) => l.position,
            None => return Ok(None),
        };
        self.scan_for_timestamp(position, ts)
    }

    /// From `position` on, the first batch whose max timestamp is `>= ts`.
    pub fn scan_for_timestamp(&self, mut position: u64, ts: i64) -> io::Result<Option<Located>> {
        let mut buf = [0u8; HEADER_LEN];
        while let Some(header) = self.read_header(position, &mut buf)? {
            if header.max_timestamp >= ts {
                return Ok(Some(Located { position, header }));
            }
            position += header.size() as u64;
        }
        Ok(None)
    }

    /// Reads one whole batch at `position`.
    pub fn read_batch(&self, position: u64, size: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; size];
        self.file.read_exact_at(&mut buf, position)?;
        Ok(buf)
    }

    pub fn slice(&self, position: u64, len: usize) -> FileSlice {
        FileSlice {
            file: Arc::clone(&self.file),
            position,
            len,
        }
    }

    /// Cuts the segment so that it ends before the batch containing `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let position = self.position_of(offset)?;
        self.file.set_len(position)?;
        self.txn_index.truncate_from(offset)?;
        self.recover()?;
        Ok(())
    }

    /// Writes pending index entries and fsyncs the files.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.index.flush()?;
        self.time_index.flush()?;
        if !self.txn_index.entries().is_empty() {
            self.txn_index.flush()?;
        }
        Ok(())
    }

    /// The aborted transactions whose marker is in this segment.
    pub fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    /// Records an aborted transaction whose marker was just appended here.
    pub fn add_aborted_txn(&mut self, txn: AbortedTxn) -> io::Result<()> {
        self.txn_index.append(txn)
    }

    /// Drops aborted transactions whose marker is at or after `offset`.
    pub fn truncate_aborted_txns(&mut self, offset: i64) -> io::Result<()> {
        self.txn_index.truncate_from(offset)
    }

    /// Writes pending index entries without fsync (clean shutdown of an unflushed log).
    pub fn write_indexes(&mut self) -> io::Result<()> {
        self.index.write_pending()?;
        self.time_index.write_pending()
    }

    /// Turns the active segment into a sealed one: final time index entry, indexes to disk,
    /// in-memory index copies dropped.
    pub fn seal(&mut self) -> io::Result<()> {
        self.maybe_append_time_entry();
        self.index.seal()?;
        self.time_index.seal()
    }

    /// The newest timestamp in the segment, or the file's modification time when no record has
    /// one (Kafka's `largestTimestamp`), for `retention.ms`.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// Renames the segment's files to `<name><suffix>` so that they leave the log at once but
    /// open readers keep them; returns the new paths, to delete later.
    pub fn rename_for_deletion(self, suffix: &str) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(4);
        let txn_path = self.txn_index.path().to_path_buf();
        for path in [
            &self.log_path,
            self.index.path(),
            self.time_index.path(),
            &txn_path,
        ] {
            let mut target = path.as_os_str().to_owned();
            target.push(suffix);
            let target = PathBuf::from(target);
            match std::fs::rename(path, &target) {
                Ok(()) => out.push(target),
                // sealed indexes may never have been written
                Err(e) if e.kind() == io::ErrorKind::NotFound && *path != self.log_path => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Deletes the segment's files.
    pub fn delete(self) -> io::Result<()> {
        std::fs::remove_file(&self.log_path)?;
        let _ = std::fs::remove_file(self.index.path());
        let _ = std::fs::remove_file(self.time_index.path());
        let _ = std::fs::remove_file(self.txn_index.path());
        Ok(())
    }
}
