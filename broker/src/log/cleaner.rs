//! Compaction of one log (Kafka's `Cleaner`): keep at least the latest record of every key.
//!
//! ```text
//!  plan (log lock)      first dirty offset ─ first uncleanable offset, segment snapshots
//!  offset map           key hash → latest offset, over the dirty part, bounded in size
//!  rewrite (no lock)    per group of segments: copy or rebuild each batch into
//!                       `cleaner-tmp/<base>.log`, then check it and build its indexes there
//!  swap (log lock)      → `<base>.log.<end>.swap` (commit) → old files out → `<base>.log`,
//!                       indexes moved beside it
//! ```
//!
//! Offsets never change: a rebuilt batch keeps its base offset and last offset delta, and only
//! loses records. A record survives when no later record of its key lies in the part the map
//! covers; a tombstone (null value) and a transaction marker survive until the delete horizon
//! stamped into their batch on the first pass that kept them (KIP-534: `delete.retention.ms`
//! after that pass) has passed. Data of aborted transactions is dropped, and a marker goes once
//! no data of its transaction is left and its horizon has passed. The last batch of each
//! producer is kept (empty if need be) so that its sequence numbers survive.
//!
//! Memory is bounded by the offset map's capacity: when the dirty part has more keys, the map
//! stops at a batch boundary and the rest waits for the next pass. Nothing here holds the log
//! lock while reading or writing data, so produce and fetch carry on; the swap checks that the
//! segments it replaces are still the ones it read. A crash before the `.swap` rename leaves a
//! `cleaner-tmp/` directory that the next open deletes; after it, the next open finishes the swap.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::{self, BatchHeader, OwnedRecord, Rebuild, HEADER_LEN};
use super::compression::Codec;
use super::segment::{file_stem, Segment};
use super::{write_atomically, Log};
use crate::error::{BrokerError, Result};

/// Per partition: `first-dirty-offset [next-delete-horizon]`.
pub(crate) const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// Where a group's cleaned segment is written and indexed before the swap (per partition).
const CLEANER_DIR: &str = "cleaner-tmp";
const SWAP_SUFFIX: &str = ".swap";
/// Bytes read from a segment at a time.
const READ_CHUNK: usize = 1 << 20;

/// A 128-bit hash of a key: two SipHash-1-3 passes with different prefixes. Kafka's map keeps
/// a 16-byte MD5; at this width a collision (which would drop a key's latest value) is as
/// unlikely.
fn key_hash(key: &[u8]) -> u128 {
    let mut a = std::hash::DefaultHasher::new();
    a.write_u8(1);
    a.write(key);
    let mut b = std::hash::DefaultHasher::new();
    b.write_u8(2);
    b.write(key);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// The map's keys are hashes already: use their low bits as the bucket hash.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 |= u64::from(*b) << (8 * i);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Key hash → offset of the latest record with that key. Its table is sized once, on first
/// use, to fit `log.cleaner.dedupe.buffer.size` bytes (the table's real layout: a 16-byte hash,
/// an 8-byte offset with padding, a control byte, a power-of-two bucket count filled to 7/8),
/// and never grows: when it is full, the pass stops there.
pub struct OffsetMap {
    map: HashMap<u128, i64, BuildHasherDefault<PreHashed>>,
    capacity: usize,
}

impl OffsetMap {
    /// A map for `buffer_bytes` of memory, filled to at most `load_factor` of its keys.
    pub fn new(buffer_bytes: u64, load_factor: f64) -> OffsetMap {
        let bucket = std::mem::size_of::<(u128, i64)>() as u64 + 1;
        let buckets = (buffer_bytes / bucket).max(8);
        let buckets = 1u64 << (63 - buckets.leading_zeros()); // largest power of two that fits
        let capacity = (buckets as f64 * 7.0 / 8.0 * load_factor.clamp(0.1, 1.0)) as usize;
        OffsetMap {
            map: HashMap::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many keys fit.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records `offset` as the latest for `key`; false (and nothing changes) when the map is
    /// full and the key is new.
    fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let h = key_hash(key);
        if let Some(slot) = self.map.get_mut(&h) {
            *slot = offset;
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        if self.map.capacity() < self.capacity {
            self.map.reserve(self.capacity);
        }
        self.map.insert(h, offset);
        true
    }

    fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(&key_hash(key)).copied()
    }

    fn clear(&mut self) {
        // the table stays allocated for the next pass
        self.map.clear();
    }
}

/// Limits the cleaner's read plus write rate (`log.cleaner.io.max.bytes.per.second`).
pub struct Throttler {
    rate: f64,
    window: std::cell::Cell<(Instant, f64)>,
    stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Throttler {
    /// A throttle at `bytes_per_second` (infinite for no limit).
    pub fn new(bytes_per_second: f64) -> Throttler {
        Throttler {
            rate: bytes_per_second,
            window: std::cell::Cell::new((Instant::now(), 0.0)),
            stop: None,
        }
    }

    /// Makes passes give up (with an error) once `stop` is set: broker shutdown.
    pub fn with_stop(mut self, stop: Arc<std::sync::atomic::AtomicBool>) -> Throttler {
        self.stop = Some(stop);
        self
    }

    fn check_stop(&self) -> Result<()> {
        if self
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Acquire))
        {
            return Err(BrokerError::Interrupted(
                "the log cleaner is stopping".into(),
            ));
        }
        Ok(())
    }

    /// Accounts for `bytes` of I/O, sleeping when the rate is above the limit.
    fn spent(&self, bytes: usize) {
        if !self.rate.is_finite() || self.rate <= 0.0 {
            return;
        }
        let (start, mut spent) = self.window.get();
        spent += bytes as f64;
        let elapsed = start.elapsed().as_secs_f64();
        let due = spent / self.rate;
        if due > elapsed {
            // in short steps, so that a stop is noticed at once
            let until = Instant::now() + Duration::from_secs_f64((due - elapsed).min(10.0));
            while Instant::now() < until && self.check_stop().is_ok() {
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
            }
        }
        if elapsed > 1.0 {
            self.window.set((Instant::now(), 0.0));
        } else {
            self.window.set((start, spent));
        }
    }
}

/// A sealed segment as the plan saw it.
#[derive(Clone)]
struct SegmentView {
    base: i64,
    size: u64,
    file: Arc<File>,
}

/// What a cleaning pass works on, taken under the log lock.
pub(crate) struct CleanPlan {
    dir: PathBuf,
    /// Cleaned up to here before (the checkpoint).
    first_dirty: i64,
    /// Nothing at or after this offset is compacted.
    first_uncleanable: i64,
    /// The sealed segments below `first_uncleanable`, oldest first.
    segments: Vec<SegmentView>,
    /// Everything after them up to the log end (the active segment), for transaction markers
    /// and producers' last batches.
    tail: Vec<SegmentView>,
    segment_bytes: u64,
    delete_retention_ms: i64,
    index_interval_bytes: u64,
}

/// Why a log wants cleaning, with the numbers the cleaner ranks logs by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cleanable {
    /// Bytes not yet compacted over all cleanable bytes.
    pub dirty_ratio: f64,
    /// Whether `max.compaction.lag.ms` or a passed delete horizon forces a pass.
    pub forced: bool,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Bytes read from segments.
    pub bytes_read: u64,
    /// Bytes written to cleaned segments.
    pub bytes_written: u64,
    /// Size of the segments rewritten (the log cleaned).
    pub bytes_cleaned: u64,
    /// Records dropped.
    pub records_removed: u64,
    /// Segment groups swapped in.
    pub groups_swapped: usize,
    /// The first dirty offset for the next pass.
    pub cleaned_up_to: i64,
}

/// Transaction facts gathered from batch headers before the rewrite.
#[derive(Default)]
struct Producers {
    /// Per producer id: its markers in offset order, `(offset, is_abort)`.
    markers: HashMap<i64, Vec<(i64, bool)>>,
    /// Per producer id: the last offset of its last data batch in the log.
    last_batch: HashMap<i64, i64>,
}

impl Producers {
    /// Whether the transactional batch of `pid` ending at `last_offset` was aborted.
    fn aborted(&self, pid: i64, last_offset: i64) -> bool {
        // markers are in offset order: the first after the batch ends its transaction
        self.markers.get(&pid).is_some_and(|m| {
            m.get(m.partition_point(|(o, _)| *o <= last_offset))
                .is_some_and(|(_, abort)| *abort)
        })
    }
}

/// Calls `f(position, header, bytes)` for each whole batch of `view`, from `start` on, reading
/// in large chunks. Stops early when `f` returns false.
fn for_each_batch(
    view: &SegmentView,
    start: u64,
    throttle: &Throttler,
    mut f: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<bool>,
) -> Result<u64> {
    let mut buf = Vec::new();
    let mut pos = start;
    let mut read = 0u64;
    let io = |e| BrokerError::storage(format!("segment {}", view.base), e);
    while pos + HEADER_LEN as u64 <= view.size {
        throttle.check_stop()?;
        let want = (view.size - pos).min(READ_CHUNK as u64) as usize;
        buf.resize(want, 0);
        view.file.read_exact_at(&mut buf, pos).map_err(io)?;
        read += want as u64;
        throttle.spent(want);
        let mut at = 0usize;
        let mut progressed = false;
        while at + HEADER_LEN <= buf.len() {
            let header = BatchHeader::parse(&buf[at..])?;
            let size = header.size();
            if size < HEADER_LEN || pos + (at + size) as u64 > view.size {
                return Err(BrokerError::Batch(batch::BatchError::Truncated(format!(
                    "batch at {} of segment {} runs past its end",
                    pos + at as u64,
                    view.base
                ))));
            }
            if at + size > buf.len() {
                if at == 0 {
                    // a batch bigger than the chunk: read it whole
                    buf.resize(size, 0);
                    view.file.read_exact_at(&mut buf, pos).map_err(io)?;
                    read += size as u64;
                    throttle.spent(size);
                } else {
                    break;
                }
            }
            progressed = true;
            // A sealed segment is trusted at start; the cleaner checks every batch it reads, so
            // that bit rot is refused here instead of being copied (or rebuilt with a new CRC).
            batch::check_stored(&buf[at..at + size]).map_err(|e| {
                BrokerError::Batch(batch::BatchError::InvalidRecord(format!(
                    "corrupt batch at position {} of segment {}: {e}",
                    pos + at as u64,
                    view.base
                )))
            })?;
            if !f(pos + at as u64, &header, &buf[at..at + size])? {
                return Ok(read);
            }
            at += size;
        }
        if !progressed {
            break;
        }
        pos += at as u64;
    }
    Ok(read)
}

/// Reads the marker type of a control batch: ABORT is 0, COMMIT is 1 (`ControlRecordType`).
fn marker_is_abort(bytes: &[u8], header: &BatchHeader) -> bool {
    let mut abort = false;
    let _ = batch::for_each_record(bytes, header, |r| {
        if let Some(key) = r.key {
            abort = key.len() >= 4 && i16::from_be_bytes([key[2], key[3]]) == 0;
        }
        false
    });
    abort
}

impl Log {
    /// Reads the cleaner checkpoint of `dir`: first dirty offset and the earliest delete
    /// horizon stamped (kept in memory by the log after open).
    pub(crate) fn read_cleaner_checkpoint(dir: &Path) -> (i64, Option<i64>) {
        let text = std::fs::read_to_string(dir.join(CHECKPOINT_FILE)).unwrap_or_default();
        let mut parts = text.split_whitespace().map(|p| p.parse::<i64>().ok());
        let first = parts.next().flatten().unwrap_or(0);
        let horizon = parts.next().flatten();
        (first, horizon)
    }

    fn cleaner_checkpoint(&self) -> (i64, Option<i64>) {
        self.cleaner_state
    }

    fn write_cleaner_checkpoint(&mut self, first_dirty: i64, horizon: Option<i64>) -> Result<()> {
        if self.deleted {
            return Ok(());
        }
        let text = match horizon {
            Some(h) => format!("{first_dirty} {h}"),
            None => first_dirty.to_string(),
        };
        let path = self.dir.join(CHECKPOINT_FILE);
        if let Err(e) = write_atomically(&path, text.as_bytes()) {
            return Err(self.fail(path, e));
        }
        self.cleaner_state = (first_dirty, horizon);
        Ok(())
    }

    /// The first dirty offset, within the log.
    fn first_dirty(&self) -> i64 {
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        self.cleaner_checkpoint()
            .0
            .clamp(first_base, self.log_end_offset())
    }

    /// The offset compaction stops at: the active segment, the high watermark, and the first
    /// segment holding a record younger than `min.compaction.lag.ms`.
    fn first_uncleanable(&self, high_watermark: i64, now_ms: i64) -> i64 {
        let mut bound = self.active().base_offset.min(high_watermark);
        let lag = self.config.min_compaction_lag_ms;
        if lag > 0 {
            let first_dirty = self.first_dirty();
            for seg in self.segments.values() {
                if seg.next_offset > first_dirty
                    && seg.base_offset < bound
                    && seg.largest_timestamp() > now_ms.saturating_sub(lag)
                {
                    bound = bound.min(seg.base_offset);
                    break;
                }
            }
        }
        bound
    }

    /// Whether and how much this log wants cleaning (Kafka's `LogCleanerManager` choice).
    pub fn cleanable(&self, high_watermark: i64, now_ms: i64) -> Option<Cleanable> {
        if !self.config.compacted || self.offline || self.deleted {
            return None;
        }
        let first_dirty = self.first_dirty();
        let end = self.first_uncleanable(high_watermark, now_ms);
        let (mut clean, mut dirty) = (0u64, 0u64);
        let mut dirty_segments = Vec::new();
        for seg in self.segments.values() {
            if seg.base_offset >= end {
                break;
            }
            if seg.next_offset <= first_dirty {
                clean += seg.size;
            } else {
                dirty += seg.size;
                dirty_segments.push(seg);
            }
        }
        let horizon_due = self.cleaner_checkpoint().1.is_some_and(|h| h <= now_ms);
        // Kafka's rule: the earliest first-batch max timestamp of the dirty segments, ignoring
        // records without one
        let lag_due = self.config.max_compaction_lag_ms < i64::MAX
            && dirty_segments
                .iter()
                .filter_map(|seg| seg.first_batch_timestamp().filter(|ts| *ts > 0))
                .min()
                .is_some_and(|ts| now_ms.saturating_sub(ts) > self.config.max_compaction_lag_ms);
        let total = clean + dirty;
        if total == 0 {
            return None;
        }
        let ratio = dirty as f64 / total as f64;
        let forced = horizon_due || lag_due;
        (forced || (dirty > 0 && ratio > self.config.min_cleanable_ratio)).then_some(Cleanable {
            dirty_ratio: ratio,
            forced,
        })
    }

    /// Snapshots what a pass needs. `None` when nothing is cleanable.
    pub(crate) fn plan_cleaning(&self, high_watermark: i64, now_ms: i64) -> Option<CleanPlan> {
        let end = self.first_uncleanable(high_watermark, now_ms);
        let view = |s: &Segment| SegmentView {
            base: s.base_offset,
            size: s.size,
            file: s.file(),
        };
        let segments: Vec<SegmentView> = self
            .segments
            .values()
            .filter(|s| s.base_offset < end)
            .map(view)
            .collect();
        if segments.is_empty() {
            return None;
        }
        let tail = self
            .segments
            .values()
            .filter(|s| s.base_offset >= end)
            .map(view)
            .collect();
        Some(CleanPlan {
            dir: self.dir.clone(),
            first_dirty: self.first_dirty(),
            first_uncleanable: end,
            segments,
            tail,
            segment_bytes: self.config.segment_bytes,
            delete_retention_ms: self.config.delete_retention_ms,
            index_interval_bytes: self.config.index_interval_bytes,
        })
    }

    /// Replaces the segments `replaced` (base, size, as read) by the cleaned file at `cleaned`
    /// whose data covers offsets up to `end`. Returns false, deleting the file, when the log
    /// changed meanwhile (retention or truncation removed one of them).
    fn swap_in(
        &mut self,
        replaced: &[(i64, u64)],
        cleaned: &Path,
        end: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let unchanged = replaced
            .iter()
            .all(|(base, size)| self.segments.get(base).is_some_and(|s| s.size == *size))
            && replaced
                .last()
                .is_some_and(|(base, _)| self.segments.keys().next_back() != Some(base));
        let Some(&(base, _)) = replaced.first() else {
            return Ok(false);
        };
        let tmp = self.dir.join(CLEANER_DIR);
        if !unchanged || self.deleted || self.offline {
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(false);
        }
        let dir = self.dir.clone();
        let swap = swap_path(&dir, base, end);
        let result = (|| -> io::Result<()> {
            std::fs::rename(cleaned, &swap)?;
            sync_dir(&dir)?;
            finish_swap(&dir, base, end, &swap)
        })();
        if let Err(e) = result {
            return Err(self.fail(swap, e));
        }
        for (b, _) in replaced {
            // the files are gone already; open readers keep their handles
            self.segments.remove(b);
        }
        // The indexes were built with the cleaned file, outside the lock: move them beside it
        // and open the segment trusting them (only the tail after the last entry is read). A
        // crash before this point leaves no index: the next start rebuilds it.
        let stem = file_stem(base);
        let mut indexed = true;
        for ext in ["index", "timeindex"] {
            let name = format!("{stem}.{ext}");
            indexed &= std::fs::rename(tmp.join(&name), dir.join(&name)).is_ok();
        }
        let _ = std::fs::remove_dir_all(&tmp);
        let interval = self.config.index_interval_bytes;
        match Segment::open(&dir, base, false, indexed, interval, now_ms) {
            Ok((seg, _)) => {
                self.segments.insert(base, seg);
                Ok(true)
            }
            Err(e) => Err(self.fail(dir.join(format!("{}.log", file_stem(base))), e)),
        }
    }

    /// Compacts the log once: plans under `lock`, reads and writes without it, swaps each group
    /// of segments in under it. `lock` gives the log for the short planning and swap steps.
    pub(crate) fn clean_with<L>(
        lock: L,
        high_watermark: i64,
        map: &mut OffsetMap,
        throttle: &Throttler,
        now_ms: i64,
    ) -> Result<Option<CleanStats>>
    where
        L: Fn(&mut dyn FnMut(&mut Log) -> Result<()>) -> Result<()>,
    {
        let mut plan = None;
        lock(&mut |log: &mut Log| {
            plan = log.plan_cleaning(high_watermark, now_ms);
            Ok(())
        })?;
        let Some(plan) = plan else { return Ok(None) };
        map.clear();
        let mut stats = CleanStats::default();
        let producers = scan_producers(&plan, throttle, &mut stats)?;
        let map_end = build_offset_map(&plan, map, &producers, throttle, &mut stats)?;
        let mut horizon: Option<i64> = None;
        for group in group_segments(&plan, map_end) {
            let end = plan
                .segments
                .iter()
                .find(|s| s.base > group.last().map_or(0, |g| g.base))
                .map_or(plan.first_uncleanable, |s| s.base);
            let cleaned = prepare_cleaned_path(&plan.dir, group[0].base)
                .map_err(|e| BrokerError::storage(plan.dir.join(CLEANER_DIR), e))?;
            let pass = Pass {
                plan: &plan,
                map,
                map_end,
                producers: &producers,
                throttle,
                now_ms,
            };
            let written = pass
                .rewrite_group(&group, &cleaned, &mut stats, &mut horizon)
                .and_then(|()| index_cleaned(&plan, group[0].base, now_ms));
            if let Err(e) = written {
                let _ = std::fs::remove_dir_all(plan.dir.join(CLEANER_DIR));
                return Err(e);
            }
            let replaced: Vec<(i64, u64)> = group.iter().map(|s| (s.base, s.size)).collect();
            stats.bytes_cleaned += replaced.iter().map(|(_, size)| size).sum::<u64>();
            let mut swapped = false;
            lock(&mut |log: &mut Log| {
                swapped = log.swap_in(&replaced, &cleaned, end, now_ms)?;
                Ok(())
            })?;
            if !swapped {
                // the log changed under us: the next pass starts over
                return Ok(Some(stats));
            }
            stats.groups_swapped += 1;
        }
        stats.cleaned_up_to = map_end;
        lock(&mut |log: &mut Log| log.write_cleaner_checkpoint(map_end, horizon))?;
        Ok(Some(stats))
    }

    /// Finishes or discards cleaner work a crash interrupted: `cleaner-tmp/` is deleted,
    /// `.swap` files (committed) replace the segments they cover. Runs before segments load.
    pub(crate) fn recover_cleaner_files(dir: &Path) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if name == CLEANER_DIR {
                // a pass that never reached its commit point
                std::fs::remove_dir_all(dir.join(&name))?;
            } else if let Some((base, end)) = parse_swap_name(&name) {
                tracing::warn!(dir = %dir.display(), base, end, "finishing an interrupted compaction swap");
                finish_swap(dir, base, end, &dir.join(&name))?;
            }
        }
        Ok(())
    }
}

/// A fresh `cleaner-tmp/<base>.log` to write a group's cleaned segment to.
fn prepare_cleaned_path(dir: &Path, base: i64) -> io::Result<PathBuf> {
    let tmp = dir.join(CLEANER_DIR);
    match std::fs::remove_dir_all(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::create_dir(&tmp)?;
    Ok(tmp.join(format!("{}.log", file_stem(base))))
}

/// Checks the cleaned segment in `cleaner-tmp/` batch by batch (CRC) and writes its indexes
/// there, before any lock is taken; a cut would mean the cleaner wrote a bad batch.
fn index_cleaned(plan: &CleanPlan, base: i64, now_ms: i64) -> Result<()> {
    let tmp = plan.dir.join(CLEANER_DIR);
    let io = |e| BrokerError::storage(&tmp, e);
    let (seg, truncated) =
        Segment::open(&tmp, base, false, false, plan.index_interval_bytes, now_ms).map_err(io)?;
    drop(seg);
    if truncated {
        return Err(BrokerError::Batch(batch::BatchError::InvalidRecord(
            format!(
                "the cleaned segment {base} of {} does not read back whole",
                plan.dir.display()
            ),
        )));
    }
    Ok(())
}

fn swap_path(dir: &Path, base: i64, end: i64) -> PathBuf {
    dir.join(format!("{}.log.{end}{SWAP_SUFFIX}", file_stem(base)))
}

fn parse_swap_name(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_suffix(SWAP_SUFFIX)?;
    let (stem, end) = rest.split_once(".log.")?;
    Some((stem.parse().ok()?, end.parse().ok()?))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// After the `.swap` rename: deletes every segment file with a base in `[base, end)` and
/// renames the swap file to `<base>.log`. Safe to run again after a crash part-way.
fn finish_swap(dir: &Path, base: i64, end: i64, swap: &Path) -> io::Result<()> {
    // The aborted transactions of the replaced segments move to the cleaned one first (merged
    // without duplicates, so that running this again after a crash changes nothing).
    let mut aborted: Vec<super::AbortedTxn> = Vec::new();
    let mut txn_files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if let Some(b) = name
            .strip_suffix(".txnindex")
            .and_then(|s| s.parse::<i64>().ok())
        {
            if b >= base && b < end {
                for t in super::txn_index::read_entries(&dir.join(&name))? {
                    if !aborted.contains(&t) {
                        aborted.push(t);
                    }
                }
                if b != base {
                    txn_files.push(dir.join(&name));
                }
            }
        }
    }
    if !txn_files.is_empty() {
        aborted.sort_by_key(|t| t.last_offset);
        super::txn_index::write_entries(&Segment::txn_index_path(dir, base), &aborted)?;
        for f in txn_files {
            std::fs::remove_file(f)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        let stem = name.split('.').next().unwrap_or_default();
        let is_segment_file = [".log", ".index", ".timeindex"]
            .iter()
            .any(|ext| name == format!("{stem}{ext}"));
        if !is_segment_file {
            continue;
        }
        if let Ok(b) = stem.parse::<i64>() {
            if b >= base && b < end {
                std::fs::remove_file(dir.join(&name))?;
            }
        }
    }
    std::fs::rename(swap, dir.join(format!("{}.log", file_stem(base))))?;
    sync_dir(dir)
}

/// Fills the map from the dirty part; returns the offset it covers up to (a batch boundary).
fn build_offset_map(
    plan: &CleanPlan,
    map: &mut OffsetMap,
    producers: &Producers,
    throttle: &Throttler,
    stats: &mut CleanStats,
) -> Result<i64> {
    let mut map_end = plan.first_uncleanable;
    let mut full = false;
    for (i, view) in plan.segments.iter().enumerate() {
        if full {
            break;
        }
        let end = plan
            .segments
            .get(i + 1)
            .map_or(plan.first_uncleanable, |s| s.base);
        if end <= plan.first_dirty {
            continue; // cleaned before: nothing of it goes into the map
        }
        stats.bytes_read += for_each_batch(view, 0, throttle, |_, header, bytes| {
            if header.next_offset() <= plan.first_dirty {
                return Ok(true);
            }
            if header.base_offset >= plan.first_uncleanable {
                return Ok(false);
            }
            if header.is_control()
                || (header.is_transactional()
                    && producers.aborted(header.producer_id, header.last_offset()))
            {
                return Ok(true);
            }
            let mut fits = true;
            batch::for_each_record(bytes, header, |r| {
                if let Some(key) = r.key {
                    let offset = header.base_offset + i64::from(r.offset_delta);
                    if offset >= plan.first_dirty && !map.put(key, offset) {
                        fits = false;
                        return false;
                    }
                }
                true
            })?;
            if !fits {
                // The map is full: this batch and the rest wait for the next pass.
                map_end = header.base_offset.max(plan.first_dirty);
                full = true;
                return Ok(false);
            }
            Ok(true)
        })?;
    }
    if full && map_end <= plan.first_dirty {
        return Err(BrokerError::InvalidConfig(format!(
            "log.cleaner.dedupe.buffer.size holds {} keys, too few for one batch of {}",
            map.capacity(),
            plan.dir.display()
        )));
    }
    Ok(map_end)
}

/// Reads every batch header of the log (control batches whole) for markers and producers'
/// last batches.
fn scan_producers(
    plan: &CleanPlan,
    throttle: &Throttler,
    stats: &mut CleanStats,
) -> Result<Producers> {
    let mut p = Producers::default();
    let mut headers = 0u64;
    for view in plan.segments.iter().chain(plan.tail.iter()) {
        let mut pos = 0u64;
        let mut head = [0u8; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= view.size {
            headers += 1;
            if headers % 4096 == 0 {
                throttle.check_stop()?;
            }
            view.file
                .read_exact_at(&mut head, pos)
                .map_err(|e| BrokerError::storage(format!("segment {}", view.base), e))?;
            let header = BatchHeader::parse(&head)?;
            let size = header.size() as u64;
            if size < HEADER_LEN as u64 || pos + size > view.size {
                break;
            }
            throttle.spent(HEADER_LEN);
            stats.bytes_read += HEADER_LEN as u64;
            if header.producer_id >= 0 {
                if !header.is_control() {
                    p.last_batch
                        .insert(header.producer_id, header.last_offset());
                }
                if header.is_control() {
                    let mut bytes = vec![0u8; size as usize];
                    view.file
                        .read_exact_at(&mut bytes, pos)
                        .map_err(|e| BrokerError::storage(format!("segment {}", view.base), e))?;
                    let abort = marker_is_abort(&bytes, &header);
                    p.markers
                        .entry(header.producer_id)
                        .or_default()
                        .push((header.base_offset, abort));
                }
            }
            pos += size;
        }
    }
    Ok(p)
}

/// Groups the segments below `map_end` so that each group fits one segment.
fn group_segments(plan: &CleanPlan, map_end: i64) -> Vec<Vec<SegmentView>> {
    let mut groups: Vec<Vec<SegmentView>> = Vec::new();
    let mut size = 0u64;
    for (i, view) in plan.segments.iter().enumerate() {
        if view.base >= map_end {
            break;
        }
        let next_base = plan
            .segments
            .get(i + 1)
            .map_or(plan.first_uncleanable, |s| s.base);
        let fits = groups.last().is_some_and(|g| {
            size + view.size <= plan.segment_bytes && next_base - g[0].base < i64::from(i32::MAX)
        });
        if fits {
            size += view.size;
            if let Some(g) = groups.last_mut() {
                g.push(view.clone());
            }
        } else {
            size = view.size;
            groups.push(vec![view.clone()]);
        }
    }
    groups
}

/// One pass's fixed inputs for rewriting groups.
struct Pass<'a> {
    plan: &'a CleanPlan,
    map: &'a OffsetMap,
    map_end: i64,
    producers: &'a Producers,
    throttle: &'a Throttler,
    now_ms: i64,
}

/// The cleaned file being written.
struct Output {
    writer: io::BufWriter<File>,
    path: PathBuf,
    written: u64,
    removed: u64,
    /// The earliest delete horizon of the batches kept with tombstones or markers.
    horizon: Option<i64>,
}

impl Output {
    fn keep(&mut self, bytes: &[u8], horizon: Option<i64>, throttle: &Throttler) -> Result<bool> {
        use std::io::Write;
        if let Some(h) = horizon {
            self.horizon = Some(self.horizon.map_or(h, |x| x.min(h)));
        }
        self.writer
            .write_all(bytes)
            .map_err(|e| BrokerError::storage(&self.path, e))?;
        self.written += bytes.len() as u64;
        throttle.spent(bytes.len());
        Ok(true)
    }
}

impl Pass<'_> {
    /// Writes the cleaned form of `group` to `path`, fsynced.
    fn rewrite_group(
        &self,
        group: &[SegmentView],
        path: &Path,
        stats: &mut CleanStats,
        horizon: &mut Option<i64>,
    ) -> Result<()> {
        let io = |e| BrokerError::storage(path, e);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        let mut out = Output {
            writer: io::BufWriter::with_capacity(READ_CHUNK, file),
            path: path.to_path_buf(),
            written: 0,
            removed: 0,
            horizon: *horizon,
        };
        // per producer: whether data of its current transaction survived this pass
        let mut txn_kept: HashMap<i64, bool> = HashMap::new();
        for view in group {
            let read = for_each_batch(view, 0, self.throttle, |_, header, bytes| {
                self.clean_batch(header, bytes, &mut out, &mut txn_kept)
            })?;
            stats.bytes_read += read;
        }
        stats.bytes_written += out.written;
        stats.records_removed += out.removed;
        *horizon = out.horizon;
        let file = out.writer.into_inner().map_err(|e| io(e.into_error()))?;
        // Keep the group's newest modification time, as Kafka does: time retention falls back
        // to it for segments without timestamps, and a rewrite must not make old data young.
        let newest = group
            .iter()
            .filter_map(|v| v.file.metadata().and_then(|m| m.modified()).ok())
            .max();
        if let Some(t) = newest {
            file.set_modified(t).map_err(io)?;
        }
        file.sync_all().map_err(io)
    }

    /// Writes what survives of one batch.
    fn clean_batch(
        &self,
        header: &BatchHeader,
        bytes: &[u8],
        out: &mut Output,
        txn_kept: &mut HashMap<i64, bool>,
    ) -> Result<bool> {
        let throttle = self.throttle;
        if header.base_offset >= self.map_end {
            return out.keep(bytes, header.delete_horizon(), throttle);
        }
        let new_horizon = self.now_ms.saturating_add(self.plan.delete_retention_ms);
        let horizon_passed = header.delete_horizon().is_some_and(|h| h <= self.now_ms);
        let last_of_producer = header.producer_id >= 0
            && self.producers.last_batch.get(&header.producer_id) == Some(&header.last_offset());
        if header.is_control() {
            if txn_kept.remove(&header.producer_id).unwrap_or(false) {
                return out.keep(bytes, None, throttle);
            }
            // a marker with no data left is kept until its horizon, then goes
            // (a marker never counts as a producer's last batch: Kafka keeps its last data batch)
            return match header.delete_horizon() {
                Some(_) if horizon_passed => {
                    out.removed += header.records_count.max(0) as u64;
                    Ok(true)
                }
                Some(h) => out.keep(bytes, Some(h), throttle),
                None => {
                    let records = batch::records_of(bytes, header)?;
                    let b =
                        batch::rebuild(header, &records, same_codec(header, Some(new_horizon)))?;
                    out.keep(&b, Some(new_horizon), throttle)
                }
            };
        }
        let aborted = header.is_transactional()
            && self
                .producers
                .aborted(header.producer_id, header.last_offset());
        let mut kept: Vec<OwnedRecord> = Vec::new();
        let mut total = header.records_count.max(0) as usize;
        let mut tombstones = false;
        if !aborted {
            total = 0;
            batch::for_each_record(bytes, header, |r| {
                total += 1;
                let offset = header.base_offset + i64::from(r.offset_delta);
                // a record without a key has no place in a compacted log
                let Some(key) = r.key else { return true };
                let latest = self.map.get(key).is_none_or(|o| offset >= o);
                let alive = r.value.is_some() || !horizon_passed;
                if latest && alive {
                    tombstones |= r.value.is_none();
                    kept.push(r.into());
                }
                true
            })?;
        }
        out.removed += (total - kept.len()) as u64;
        if header.is_transactional() && !kept.is_empty() {
            txn_kept.insert(header.producer_id, true);
        }
        let stamp = tombstones && header.delete_horizon().is_none();
        if kept.len() == total && !stamp {
            return out.keep(
                bytes,
                header.delete_horizon().filter(|_| tombstones),
                throttle,
            );
        }
        if kept.is_empty() && !last_of_producer {
            return Ok(true);
        }
        let h = if stamp {
            Some(new_horizon)
        } else {
            header.delete_horizon()
        };
        let b = batch::rebuild(header, &kept, same_codec(header, h))?;
        out.keep(&b, h.filter(|_| tombstones), throttle)
    }
}

/// Rebuild settings that keep the batch's codec, with an optional horizon stamp.
fn same_codec(header: &BatchHeader, delete_horizon: Option<i64>) -> Rebuild {
    Rebuild {
        codec: Codec {
            id: header.compression(),
            level: None,
        },
        delete_horizon: delete_horizon.or(header.delete_horizon()),
    }
}

/// Reads the cleaner's first dirty offset of a log directory (for tests and tools).
pub fn first_dirty_offset(dir: &Path) -> Option<i64> {
    std::fs::read_to_string(dir.join(CHECKPOINT_FILE))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
