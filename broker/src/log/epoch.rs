//! The leader epoch cache: which leader epoch started at which offset (KIP-101).
//!
//! Stored in `leader-epoch-checkpoint` in Kafka's text format: a version line (`0`), a count
//! line, then `epoch startOffset` per line. Replication uses it to truncate followers by epoch.

use std::io;
use std::path::{Path, PathBuf};

pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<(i32, i64)>,
}

const FILE: &str = "leader-epoch-checkpoint";

impl LeaderEpochCache {
    pub fn empty(dir: &Path) -> Self {
        LeaderEpochCache {
            path: dir.join(FILE),
            entries: Vec::new(),
        }
    }

    /// Reads the checkpoint; a missing or unreadable file gives an empty cache (it is rebuilt
    /// from the batches' epochs as they are appended).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let mut cache = Self::empty(dir);
        let Ok(text) = std::fs::read_to_string(&cache.path) else {
            return Ok(cache);
        };
        let mut lines = text.lines();
        if lines.next() != Some("0") {
            tracing::warn!(path = %cache.path.display(), "ignoring leader epoch checkpoint of unknown version");
            return Ok(cache);
        }
        let _count = lines.next();
        for line in lines {
            let mut parts = line.split_whitespace();
            if let (Some(Ok(e)), Some(Ok(o))) =
                (parts.next().map(str::parse), parts.next().map(str::parse))
            {
                cache.entries.push((e, o));
            }
        }
        Ok(cache)
    }

    fn persist(&self) -> io::Result<()> {
        let mut out = format!("0\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            out.push_str(&format!("{e} {o}\n"));
        }
        super::write_atomically(&self.path, out.as_bytes())
    }

    pub fn latest(&self) -> Option<(i32, i64)> {
        self.entries.last().copied()
    }

    /// Records that `epoch` starts at `start_offset` (Kafka's `LeaderEpochFileCache.assign`):
    /// nothing to do when it is the latest epoch already; otherwise the entries that would break
    /// monotonicity (an epoch at least as large, or a start at least as late) are dropped first:
    /// an epoch a leader started but never wrote in, met by a follower copying another leader's
    /// data.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> io::Result<()> {
        let needed = self
            .latest()
            .is_none_or(|(e, o)| e != epoch || start_offset < o);
        if !needed || epoch < 0 || start_offset < 0 {
            return Ok(());
        }
        let before = self.entries.len();
        self.entries
            .retain(|(e, o)| *e < epoch && *o < start_offset);
        if self.entries.len() + 1 < before
            || (self.entries.len() < before
                && self.entries.last().map(|x| x.1) != Some(start_offset))
        {
            tracing::warn!(path = %self.path.display(), epoch, start_offset, dropped = before - self.entries.len(), "new leader epoch entry dropped conflicting entries");
        }
        self.entries.push((epoch, start_offset));
        self.persist()
    }

    /// Drops entries that start after `end_offset` (at load: an epoch that a leader started at
    /// the log end, before writing anything, is still valid).
    pub fn drop_beyond(&mut self, end_offset: i64) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|(_, o)| *o <= end_offset);
        if self.entries.len() != before {
            self.persist()?;
        }
        Ok(())
    }

    /// Drops entries that start at or after `end_offset` (after a truncation).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|(_, o)| *o < end_offset);
        if self.entries.len() != before {
            self.persist()?;
        }
        Ok(())
    }

    /// The epoch whose range holds `offset`.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|(_, o)| *o <= offset)
            .map(|(e, _)| *e)
    }

    /// `(epoch, end offset)` as OffsetForLeaderEpoch answers, following Kafka's
    /// `LeaderEpochFileCache.endOffsetFor`: the latest epoch ends at the log end; an older one
    /// ends where the next larger epoch starts; an unknown (newer or undefined) one gives
    /// `(-1, -1)`.
    pub fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        let latest = self.latest()?;
        if epoch < 0 {
            return None;
        }
        if epoch == latest.0 {
            return Some((epoch, log_end_offset));
        }
        let next = self.entries.iter().find(|(e, _)| *e > epoch)?;
        match self.entries.iter().rev().find(|(e, _)| *e <= epoch) {
            Some((e, _)) => Some((*e, next.1)),
            None => Some((epoch, next.1)),
        }
    }
}
