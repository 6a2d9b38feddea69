//! Sparse offset and time indexes, in Kafka's on-disk formats.
//!
//! * offset index (`.index`): 8-byte entries `relativeOffset: u32, position: u32` (big endian);
//! * time index (`.timeindex`): 12-byte entries `timestamp: i64, relativeOffset: u32`.
//!
//! Both are appended every `index.interval.bytes` of log. The active segment keeps its entries
//! in memory (and writes new ones to the file in groups); a sealed segment drops them and reads
//! the file on demand, so the broker's memory does not grow with the data it stores.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One of the two index kinds: how big an entry is and how to read its key.
pub(crate) trait IndexKind {
    /// Bytes per entry.
    const ENTRY: usize;
}

/// Offset index kind.
pub(crate) struct OffsetKind;
impl IndexKind for OffsetKind {
    const ENTRY: usize = 8;
}

/// Time index kind.
pub(crate) struct TimeKind;
impl IndexKind for TimeKind {
    const ENTRY: usize = 12;
}

/// An index file plus, while its segment is active, its entries in memory.
///
/// A sealed index holds no open file: lookups open it for the duration of one binary search,
/// so a log of many segments costs one open file per segment (its `.log`), not three.
pub(crate) struct Index<K: IndexKind> {
    path: PathBuf,
    /// Open while the segment is active (or being written after a truncation).
    file: Option<File>,
    /// Entries written to the file.
    persisted: usize,
    /// All entries, kept while the segment is active; `None` once sealed.
    cache: Option<Vec<u8>>,
    /// Entries appended but not yet written to the file.
    pending: Vec<u8>,
    _kind: std::marker::PhantomData<K>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl<K: IndexKind> Index<K> {
    /// Opens (or creates) the index at `path`. A trailing partial entry is cut off.
    pub fn open(path: &Path, active: bool) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len() as usize;
        let whole = len / K::ENTRY * K::ENTRY;
        if whole != len {
            file.set_len(whole as u64)?;
        }
        let cache = if active {
            let mut buf = vec![0u8; whole];
            file.read_exact_at(&mut buf, 0)?;
            Some(buf)
        } else {
            None
        };
        Ok(Index {
            path: path.to_path_buf(),
            file: Some(file),
            persisted: whole / K::ENTRY,
            cache,
            pending: Vec::new(),
            _kind: std::marker::PhantomData,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.persisted + self.pending.len() / K::ENTRY
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads entry `i` into `out`, from memory or through `file` (the index file).
    fn read(&self, i: usize, out: &mut [u8], file: Option<&File>) -> io::Result<()> {
        let at = i * K::ENTRY;
        if let Some(cache) = &self.cache {
            out.copy_from_slice(&cache[at..at + K::ENTRY]);
            return Ok(());
        }
        if i >= self.persisted {
            let p = (i - self.persisted) * K::ENTRY;
            out.copy_from_slice(&self.pending[p..p + K::ENTRY]);
            return Ok(());
        }
        match file.or(self.file.as_ref()) {
            Some(f) => f.read_exact_at(out, at as u64),
            None => File::open(&self.path)?.read_exact_at(out, at as u64),
        }
    }

    /// The file for writing, opened again if the index was sealed.
    fn writable(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().read(true).write(true).open(&self.path)?);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("index file not open"))
    }

    /// Appends one entry; it reaches the file on the next [`Index::write_pending`].
    fn push(&mut self, entry: &[u8]) {
        if let Some(cache) = &mut self.cache {
            cache.extend_from_slice(entry);
        }
        self.pending.extend_from_slice(entry);
    }

    /// Writes pending entries to the file (no fsync).
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let at = (self.persisted * K::ENTRY) as u64;
        let pending = std::mem::take(&mut self.pending);
        let written = self.writable().and_then(|f| f.write_all_at(&pending, at));
        self.pending = pending;
        written?;
        self.persisted += self.pending.len() / K::ENTRY;
        self.pending.clear();
        Ok(())
    }

    /// Writes pending entries and fsyncs.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.writable()?.sync_data()
    }

    /// Drops the in-memory copy; lookups then read the file.
    pub fn seal(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.cache = None;
        self.file = None;
        Ok(())
    }

    /// Keeps only the first `n` entries.
    pub fn truncate_entries(&mut self, n: usize) -> io::Result<()> {
        if n >= self.len() {
            return Ok(());
        }
        if n >= self.persisted {
            self.pending.truncate((n - self.persisted) * K::ENTRY);
        } else {
            self.pending.clear();
            self.writable()?.set_len((n * K::ENTRY) as u64)?;
            self.persisted = n;
        }
        if let Some(cache) = &mut self.cache {
            cache.truncate(n * K::ENTRY);
        }
        Ok(())
    }

    /// The last entry whose key is `<= target` (binary search over `key`), as raw bytes.
    fn floor(&self, target: i64, key: impl Fn(&[u8]) -> i64) -> io::Result<Option<Vec<u8>>> {
        // A sealed index is opened once for the whole search.
        let opened = if self.cache.is_none() && self.file.is_none() && self.persisted > 0 {
            Some(File::open(&self.path)?)
        } else {
            None
        };
        let file = opened.as_ref();
        let (mut lo, mut hi) = (0usize, self.len());
        let mut buf = vec![0u8; K::ENTRY];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.read(mid, &mut buf, file)?;
            if key(&buf) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo.checked_sub(1) {
            Some(i) => {
                self.read(i, &mut buf, file)?;
                Ok(Some(buf))
            }
            None => Ok(None),
        }
    }
}

impl Index<OffsetKind> {
    /// Adds `(offset - base) -> position`.
    pub fn append(&mut self, relative_offset: u32, position: u32) {
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&relative_offset.to_be_bytes());
        e[4..].copy_from_slice(&position.to_be_bytes());
        self.push(&e);
    }

    /// Entry `i` as `(relative offset, position)`.
    pub fn entry(&self, i: usize) -> io::Result<(u32, u32)> {
        let mut e = [0u8; 8];
        self.read(i, &mut e, None)?;
        Ok((u32_at(&e, 0), u32_at(&e, 4)))
    }

    /// The last entry with relative offset `<= rel`.
    pub fn lookup(&self, rel: u32) -> io::Result<Option<(u32, u32)>> {
        Ok(self
            .floor(i64::from(rel), |e| i64::from(u32_at(e, 0)))?
            .map(|e| (u32_at(&e, 0), u32_at(&e, 4))))
    }
}

impl Index<TimeKind> {
    /// Adds `timestamp -> (offset - base)`.
    pub fn append(&mut self, timestamp: i64, relative_offset: u32) {
        let mut e = [0u8; 12];
        e[..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..].copy_from_slice(&relative_offset.to_be_bytes());
        self.push(&e);
    }

    /// Entry `i` as `(timestamp, relative offset)`.
    pub fn entry(&self, i: usize) -> io::Result<(i64, u32)> {
        let mut e = [0u8; 12];
        self.read(i, &mut e, None)?;
        Ok((i64_at(&e, 0), u32_at(&e, 8)))
    }

    /// The last entry with timestamp `<= ts`.
    pub fn lookup(&self, ts: i64) -> io::Result<Option<(i64, u32)>> {
        Ok(self
            .floor(ts, |e| i64_at(e, 0))?
            .map(|e| (i64_at(&e, 0), u32_at(&e, 8))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_lookup_in_memory_and_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = Index::<OffsetKind>::open(&path, true).unwrap();
        for i in 0..100u32 {
            idx.append(i * 10, i * 1000);
        }
        assert_eq!(idx.lookup(55).unwrap(), Some((50, 5000)));
        assert_eq!(idx.lookup(0).unwrap(), Some((0, 0)));
        idx.seal().unwrap();
        assert_eq!(idx.lookup(995).unwrap(), Some((990, 99000)));
        assert_eq!(idx.lookup(10_000).unwrap(), Some((990, 99000)));
        drop(idx);
        let idx = Index::<OffsetKind>::open(&path, false).unwrap();
        assert_eq!(idx.len(), 100);
        assert_eq!(idx.lookup(421).unwrap(), Some((420, 42000)));
    }

    #[test]
    fn partial_trailing_entry_is_cut_and_truncate_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut idx = Index::<TimeKind>::open(&path, true).unwrap();
        idx.append(100, 1);
        idx.append(200, 2);
        idx.flush().unwrap();
        drop(idx);
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all_at(&[1, 2, 3], 24).unwrap();
        let mut idx = Index::<TimeKind>::open(&path, true).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(150).unwrap(), Some((100, 1)));
        assert_eq!(idx.lookup(99).unwrap(), None);
        idx.truncate_entries(1).unwrap();
        assert_eq!(idx.lookup(500).unwrap(), Some((100, 1)));
    }
}
