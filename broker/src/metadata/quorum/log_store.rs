//! A controller's Raft log on disk, in `__cluster_metadata-0/raft/`:
//!
//! ```text
//!  log             frames of the metadata log's format (len | crc32c | JSON entry), in index order
//!  vote.json       the vote this node granted or holds (written atomically before it is used)
//!  committed.json  the last index known committed (a restart re-applies up to it at once)
//!  purged.json     the last entry folded into a snapshot on disk; older frames are dead
//! ```
//!
//! Every entry since the last purge is also kept in memory (the metadata log is small and a
//! snapshot bounds it), under a lock of its own: readers never wait for a disk write. Writes run
//! in a blocking task and are synced before openraft hears they are done. A torn last frame is
//! cut on opening; a bad frame in the middle refuses to open, as for the single node's metadata
//! log. A purge forgets entries in memory at once, but on disk only up to the newest stored
//! snapshot, so that a crash between a purge and the snapshot it follows leaves no gap.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::state_machine::SnapshotIndex;
use super::types::{Entry, LogId, MetadataRaft, StorageError, Vote};
use crate::log::write_atomically;
use crate::metadata::store::{frame, read_frames};

/// Dead frames (before the purge point) the file may hold beyond the live ones before it is
/// rewritten without them.
const COMPACT_AFTER: usize = 1_000;

/// The Raft log store; clones share the same files.
#[derive(Clone)]
pub struct RaftLogStore {
    mem: Arc<Mutex<Mem>>,
    disk: Arc<Mutex<Disk>>,
}

/// What readers see.
struct Mem {
    entries: BTreeMap<u64, Entry>,
    purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

/// The files; only blocking tasks lock it.
struct Disk {
    dir: PathBuf,
    file: File,
    /// Bytes of valid frames.
    len: u64,
    /// Where each live frame starts, by index.
    positions: BTreeMap<u64, u64>,
    /// Frames in the file before the persisted purge point.
    dead: usize,
    /// The purge point on disk.
    purged: Option<LogId>,
    /// A purge not yet on disk: the snapshot that covers it was not stored yet.
    pending: Option<LogId>,
    /// The newest snapshot on disk (index plus one), when the state machine says.
    snapshot: Option<SnapshotIndex>,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_atomically(path, &serde_json::to_vec(value).map_err(io::Error::other)?)
}

impl RaftLogStore {
    /// Opens (or creates) the log in `dir`, for a state machine whose stored snapshot ends at
    /// `snapshot`: the entries it covers are purged, whether or not their purge reached the disk
    /// before a crash (there can be a hole in the file below the snapshot, never above it).
    pub fn open_after(dir: &Path, snapshot: Option<LogId>) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("log");
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let data = std::fs::read(&path)?;
        let (frames, valid) = read_frames(&data).map_err(|(pos, why)| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} at byte {pos}: {why}", path.display()),
            )
        })?;
        let persisted: Option<LogId> = read_json(&dir.join("purged.json"))?;
        let purged = match (persisted, snapshot) {
            (Some(p), Some(s)) if s.index > p.index => Some(s),
            (None, s) => s,
            (p, _) => p,
        };
        let mut entries = BTreeMap::new();
        let mut positions = BTreeMap::new();
        let mut dead = 0;
        for (pos, payload) in frames {
            let entry: Entry = serde_json::from_slice(payload).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} at byte {pos}: undecodable entry: {e}", path.display()),
                )
            })?;
            if purged.is_some_and(|p| entry.log_id.index <= p.index) {
                dead += 1;
                continue;
            }
            positions.insert(entry.log_id.index, pos as u64);
            entries.insert(entry.log_id.index, entry);
        }
        if valid < data.len() {
            tracing::warn!(path = %path.display(), valid, total = data.len(), "cutting the torn tail of the Raft log");
            file.set_len(valid as u64)?;
            file.sync_data()?;
        }
        Ok(RaftLogStore {
            mem: Arc::new(Mutex::new(Mem {
                entries,
                purged,
                vote: read_json(&dir.join("vote.json"))?,
                committed: read_json(&dir.join("committed.json"))?,
            })),
            disk: Arc::new(Mutex::new(Disk {
                dir: dir.to_path_buf(),
                file,
                len: valid as u64,
                positions,
                dead,
                purged,
                pending: None,
                snapshot: None,
            })),
        })
    }

    /// Purges on disk only what the state machine's stored snapshot covers.
    pub(crate) fn follow_snapshots(&self, snapshot: SnapshotIndex) {
        self.disk.lock().snapshot = Some(snapshot);
    }

    /// Whether the log has never held an entry (nothing kept, nothing purged).
    pub(crate) fn is_empty(&self) -> bool {
        let mem = self.mem.lock();
        mem.entries.is_empty() && mem.purged.is_none()
    }

    /// Runs `f` on the files in a blocking task.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Disk) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let disk = Arc::clone(&self.disk);
        tokio::task::spawn_blocking(move || f(&mut disk.lock()))
            .await
            .map_err(io::Error::other)?
    }
}

impl Disk {
    fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        if let Some(pending) = self.pending {
            self.purge(pending)?;
        }
        let mut bytes = Vec::new();
        let mut positions = Vec::with_capacity(entries.len());
        for entry in entries {
            positions.push((entry.log_id.index, self.len + bytes.len() as u64));
            bytes.extend(frame(&serde_json::to_vec(entry).map_err(io::Error::other)?));
        }
        if let Err(e) = self
            .file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
        {
            // leave no torn frame behind that later appends would follow
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += bytes.len() as u64;
        self.positions.extend(positions);
        Ok(())
    }

    /// Removes the entries from `index` on.
    fn truncate(&mut self, index: u64) -> io::Result<()> {
        let Some((&first, &pos)) = self.positions.range(index..).next() else {
            return Ok(());
        };
        self.file.set_len(pos)?;
        self.file.sync_data()?;
        self.len = pos;
        self.positions.split_off(&first);
        Ok(())
    }

    /// Records the purge point `log_id` on disk if a stored snapshot covers it (else a later
    /// purge will), and rewrites the file once it holds many dead frames.
    fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        let covered = self
            .snapshot
            .as_ref()
            .is_none_or(|s| s.load(Ordering::Acquire) > log_id.index);
        if !covered {
            self.pending = Some(log_id);
            return Ok(());
        }
        self.pending = None;
        write_json(&self.dir.join("purged.json"), &log_id)?;
        self.purged = Some(log_id);
        let kept = self.positions.split_off(&(log_id.index + 1));
        self.dead += self.positions.len();
        self.positions = kept;
        if self.dead > COMPACT_AFTER && self.dead > self.positions.len() {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log file with the live frames only: they are its tail, copied as they are.
    fn compact(&mut self) -> io::Result<()> {
        let path = self.dir.join("log");
        let start = self.positions.values().next().copied().unwrap_or(self.len);
        let data = std::fs::read(&path)?;
        let tail = data
            .get(start as usize..self.len as usize)
            .ok_or_else(|| io::Error::other("the Raft log is shorter than its index"))?;
        write_atomically(&path, tail)?;
        self.file = OpenOptions::new().read(true).append(true).open(&path)?;
        self.len -= start;
        for pos in self.positions.values_mut() {
            *pos -= start;
        }
        self.dead = 0;
        Ok(())
    }
}

impl RaftLogReader<MetadataRaft> for RaftLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let mem = self.mem.lock();
        Ok(mem.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<MetadataRaft> for RaftLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<MetadataRaft>, StorageError> {
        let mem = self.mem.lock();
        let last = mem
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(mem.purged);
        Ok(LogState {
            last_purged_log_id: mem.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.write(move |disk| write_json(&disk.dir.join("vote.json"), &vote))
            .await
            .map_err(|e| StorageIOError::write_vote(&e))?;
        self.mem.lock().vote = Some(vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.mem.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        if let Some(c) = committed {
            self.write(move |disk| write_json(&disk.dir.join("committed.json"), &c))
                .await
                .map_err(|e| StorageIOError::write(&e))?;
        }
        self.mem.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.mem.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<MetadataRaft>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let result = self
            .write(move |disk| disk.append(&entries).map(|()| entries))
            .await;
        match result {
            Ok(entries) => {
                self.mem
                    .lock()
                    .entries
                    .extend(entries.into_iter().map(|e| (e.log_id.index, e)));
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // (readers stop seeing the entries first: none is read while it is being cut)
        self.mem.lock().entries.split_off(&log_id.index);
        self.write(move |disk| disk.truncate(log_id.index))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut mem = self.mem.lock();
            mem.purged = Some(log_id);
            let kept = mem.entries.split_off(&(log_id.index + 1));
            mem.entries = kept;
        }
        self.write(move |disk| disk.purge(log_id))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::metadata::quorum::{ImageStateMachine, MetadataBatch};

    impl RaftLogStore {
        fn open(dir: &Path) -> io::Result<Self> {
            Self::open_after(dir, None)
        }
    }

    struct Fresh;

    impl StoreBuilder<MetadataRaft, RaftLogStore, ImageStateMachine, tempfile::TempDir> for Fresh {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, RaftLogStore, ImageStateMachine), StorageError> {
            let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
            let log = RaftLogStore::open(dir.path()).map_err(|e| StorageIOError::write(&e))?;
            let sm = ImageStateMachine::open(dir.path()).map_err(|e| StorageIOError::write(&e))?;
            Ok((dir, log, sm))
        }
    }

    #[tokio::test]
    async fn a_purge_beyond_the_stored_snapshot_keeps_the_entries_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        let snapshot = SnapshotIndex::default();
        store.follow_snapshots(Arc::clone(&snapshot));
        store.append_now((1..=8).map(|i| entry(1, i)).collect());
        // (a snapshot up to 3 is on disk; openraft purges to 6 before the next one is stored)
        snapshot.store(4, Ordering::Release);
        store
            .purge(LogId::new(CommittedLeaderId::new(1, 1), 6))
            .await
            .unwrap();
        assert_eq!(indexes(&mut store).await, vec![7, 8]);
        drop(store);
        // a crash now: the entries after the snapshot on disk are all there
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&mut store).await, (1..=8).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn entries_a_stored_snapshot_covers_are_purged_on_opening_holes_included() {
        let dir = tempfile::tempdir().unwrap();
        let store = RaftLogStore::open(dir.path()).unwrap();
        // (a snapshot up to 6 was installed; its purge never reached the disk; 7 came after)
        store.append_now((1..=3).map(|i| entry(1, i)).collect());
        store.append_now((7..=8).map(|i| entry(2, i)).collect());
        drop(store);
        let six = LogId::new(CommittedLeaderId::new(2, 1), 6);
        let mut store = RaftLogStore::open_after(dir.path(), Some(six)).unwrap();
        assert_eq!(indexes(&mut store).await, vec![7, 8]);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(six));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(8));
    }

    #[test]
    fn passes_openraft_storage_suite() {
        Suite::test_all(Fresh).unwrap();
    }

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(MetadataBatch {
                records: vec![crate::metadata::MetadataRecord::Cluster {
                    cluster_id: format!("c{index}"),
                }],
            }),
        }
    }

    impl RaftLogStore {
        /// An append as openraft does it, without its callback.
        fn append_now(&self, entries: Vec<Entry>) {
            self.disk.lock().append(&entries).unwrap();
            self.mem
                .lock()
                .entries
                .extend(entries.into_iter().map(|e| (e.log_id.index, e)));
        }
    }

    async fn indexes(store: &mut RaftLogStore) -> Vec<u64> {
        store
            .try_get_log_entries(0..)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    #[tokio::test]
    async fn entries_votes_truncation_and_purges_survive_a_restart_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        store.append_now((1..=6).map(|i| entry(1, i)).collect());
        store
            .truncate(LogId::new(CommittedLeaderId::new(1, 1), 5))
            .await
            .unwrap();
        store.append_now(vec![entry(2, 5)]);
        store
            .purge(LogId::new(CommittedLeaderId::new(1, 1), 2))
            .await
            .unwrap();
        store.save_vote(&Vote::new_committed(2, 1)).await.unwrap();
        assert_eq!(indexes(&mut store).await, vec![3, 4, 5]);
        drop(store);
        // a crash in the middle of an append: half a frame at the end
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("log"))
            .unwrap();
        f.write_all(&[0, 0, 1, 0, 9, 9, 9]).unwrap();
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&mut store).await, vec![3, 4, 5]);
        let five = store.try_get_log_entries(5..6).await.unwrap();
        assert_eq!(
            five[0].log_id.leader_id.term, 2,
            "the entry written after truncation"
        );
        assert_eq!(
            store.read_vote().await.unwrap(),
            Some(Vote::new_committed(2, 1))
        );
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(5));
        // appends after the cut tail are readable again
        store.append_now(vec![entry(2, 6)]);
        drop(store);
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&mut store).await, vec![3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn many_purged_entries_are_compacted_away_and_the_rest_survive() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        let n = (COMPACT_AFTER as u64) * 2 + 10;
        store.append_now((1..=n).map(|i| entry(1, i)).collect());
        let before = store.disk.lock().len;
        store
            .purge(LogId::new(CommittedLeaderId::new(1, 1), n - 5))
            .await
            .unwrap();
        assert!(
            store.disk.lock().len < before / 10,
            "the file was rewritten without dead frames"
        );
        store.append_now(vec![entry(1, n + 1)]);
        drop(store);
        let mut store = RaftLogStore::open(dir.path()).unwrap();
        assert_eq!(
            indexes(&mut store).await,
            ((n - 4)..=n + 1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_bad_frame_in_the_middle_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = RaftLogStore::open(dir.path()).unwrap();
        store.append_now((1..=3).map(|i| entry(1, i)).collect());
        drop(store);
        let path = dir.path().join("log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = RaftLogStore::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("checksum"), "{err}");
    }
}
