//! The aborted transaction index of a segment (`.txnindex`, Kafka's format).
//!
//! Each entry is 34 bytes: `version: i16 (0), producer_id: i64, first_offset: i64,
//! last_offset: i64, last_stable_offset: i64`. An entry goes into the segment that holds the
//! abort marker. `read_committed` fetches collect the entries that overlap the fetched range
//! so that consumers can drop aborted records. Entries are few (one per aborted transaction
//! per partition), so they are kept in memory and the file is only appended to.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::producer_state::AbortedTxn;

const ENTRY: usize = 34;
const VERSION: i16 = 0;

/// A segment's aborted transactions.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
}

fn encode(t: &AbortedTxn) -> [u8; ENTRY] {
    let mut b = [0u8; ENTRY];
    b[0..2].copy_from_slice(&VERSION.to_be_bytes());
    b[2..10].copy_from_slice(&t.producer_id.to_be_bytes());
    b[10..18].copy_from_slice(&t.first_offset.to_be_bytes());
    b[18..26].copy_from_slice(&t.last_offset.to_be_bytes());
    b[26..34].copy_from_slice(&t.last_stable_offset.to_be_bytes());
    b
}

fn decode(b: &[u8]) -> Option<AbortedTxn> {
    let i64_at = |at: usize| b.get(at..at + 8)?.try_into().ok().map(i64::from_be_bytes);
    if i16::from_be_bytes([b[0], b[1]]) != VERSION {
        return None;
    }
    Some(AbortedTxn {
        producer_id: i64_at(2)?,
        first_offset: i64_at(10)?,
        last_offset: i64_at(18)?,
        last_stable_offset: i64_at(26)?,
    })
}

/// Reads every entry of an index file (a missing file is empty; a torn last entry is ignored).
pub(crate) fn read_entries(path: &Path) -> io::Result<Vec<AbortedTxn>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes.chunks_exact(ENTRY).filter_map(decode).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Writes `entries` as the whole index file at `path` (atomically), or removes it when empty.
pub(crate) fn write_entries(path: &Path, entries: &[AbortedTxn]) -> io::Result<()> {
    if entries.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let bytes: Vec<u8> = entries.iter().flat_map(encode).collect();
    super::write_atomically(path, &bytes)
}

impl TxnIndex {
    /// Loads the index at `path` (absent: empty).
    pub fn open(path: PathBuf) -> io::Result<TxnIndex> {
        let entries = read_entries(&path)?;
        Ok(TxnIndex { path, entries })
    }

    /// An empty index for a new segment (a stale file from an earlier life goes).
    pub fn create(path: PathBuf) -> io::Result<TxnIndex> {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(TxnIndex {
            path,
            entries: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Appends an entry (written through to the file; fsynced with the segment).
    pub fn append(&mut self, txn: AbortedTxn) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&encode(&txn))?;
        self.entries.push(txn);
        Ok(())
    }

    /// Drops the entries whose marker is at or after `offset` (a replay will add them back).
    pub fn truncate_from(&mut self, offset: i64) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|t| t.last_offset < offset);
        if self.entries.len() != before {
            write_entries(&self.path, &self.entries)?;
        }
        Ok(())
    }

    /// Fsyncs the file, if any.
    pub fn flush(&self) -> io::Result<()> {
        match std::fs::File::open(&self.path) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reopen_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut idx = TxnIndex::create(path.clone()).unwrap();
        let t = |first, last| AbortedTxn {
            producer_id: 5,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        };
        idx.append(t(0, 4)).unwrap();
        idx.append(t(6, 9)).unwrap();
        // a torn entry at the end is ignored
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 1]).unwrap();
        let back = TxnIndex::open(path.clone()).unwrap();
        assert_eq!(back.entries(), &[t(0, 4), t(6, 9)]);
        let mut back = back;
        back.truncate_from(5).unwrap();
        assert_eq!(TxnIndex::open(path).unwrap().entries(), &[t(0, 4)]);
    }
}
