//! The state machine of the metadata quorum: the metadata image. Committed entries are applied
//! with [`MetadataImage::apply`], the same code a single node and every broker use, and each new
//! image is published to the controller (its watch and the history brokers fetch).
//!
//! An entry's metadata offset is its Raft index: the image's offset after applying entry `i` is
//! `i`. Entries without records (a new leader's blank entry, membership) change no image.
//! A batch that does not apply (a planner bug) is skipped, as a whole and on every controller
//! alike, and its error goes back to the proposer.
//!
//! Snapshots are the image as records (`MetadataImage::to_records`), kept with their metadata in
//! one file, `raft/snapshot`, replaced atomically and only by a newer snapshot; a restarted
//! controller starts from it and re-applies the committed entries after it. The index of the
//! snapshot on disk is shared with the log store, which never forgets entries that no stored
//! snapshot covers.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::types::{
    BatchApplied, Entry, LogId, MetadataRaft, SnapshotMeta, StorageError, StoredMembership,
};
use crate::log::write_atomically;
use crate::metadata::controller::Inner;
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    /// The image's offset.
    offset: i64,
    /// Records that rebuild the image.
    records: Vec<MetadataRecord>,
}

/// The file a snapshot is stored in: its metadata and its body.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    /// The JSON of a [`SnapshotBody`].
    data: Vec<u8>,
}

/// The index of the newest snapshot on disk, plus one (0: none), shared with the log store.
pub type SnapshotIndex = Arc<AtomicU64>;

/// The state machine; clones share it.
#[derive(Clone)]
pub struct ImageStateMachine {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    /// The newest snapshot: its metadata and bytes.
    snapshot: Mutex<Option<(SnapshotMeta, Vec<u8>)>>,
    /// Serializes snapshot stores (building one and installing one may overlap).
    storing: tokio::sync::Mutex<()>,
    /// The newest stored snapshot's index, plus one.
    on_disk: SnapshotIndex,
    /// Where new images are published.
    controller: OnceLock<Weak<Inner>>,
}

struct State {
    image: Arc<MetadataImage>,
    applied: Option<LogId>,
    membership: StoredMembership,
}

fn decode(bytes: &[u8]) -> io::Result<MetadataImage> {
    let body: SnapshotBody = serde_json::from_slice(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad snapshot: {e}")))?;
    let mut image = MetadataImage::empty()
        .apply(0, &body.records)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad snapshot: {e}")))?;
    image.offset = body.offset;
    Ok(image)
}

impl ImageStateMachine {
    /// The state machine of `dir` (`raft/`): the newest snapshot if there is one, else the empty
    /// image.
    pub(super) fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join("snapshot");
        let mut state = State {
            image: Arc::new(MetadataImage::empty()),
            applied: None,
            membership: StoredMembership::default(),
        };
        let mut snapshot = None;
        if path.exists() {
            let stored: StoredSnapshot =
                serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
            state.image = Arc::new(decode(&stored.data)?);
            state.applied = stored.meta.last_log_id;
            state.membership = stored.meta.last_membership.clone();
            snapshot = Some((stored.meta, stored.data));
        }
        let on_disk = Arc::new(AtomicU64::new(state.applied.map_or(0, |l| l.index + 1)));
        Ok(ImageStateMachine {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                state: Mutex::new(state),
                snapshot: Mutex::new(snapshot),
                storing: tokio::sync::Mutex::new(()),
                on_disk,
                controller: OnceLock::new(),
            }),
        })
    }

    /// Publishes every new image to `controller` from now on.
    pub(super) fn attach(&self, controller: Weak<Inner>) {
        let _ = self.shared.controller.set(controller);
    }

    fn controller(&self) -> Option<Arc<Inner>> {
        self.shared.controller.get().and_then(Weak::upgrade)
    }

    /// The image the state machine holds.
    pub(crate) fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.shared.state.lock().image)
    }

    /// Where the stored snapshot ends.
    pub(crate) fn snapshot_last_log_id(&self) -> Option<LogId> {
        self.shared
            .snapshot
            .lock()
            .as_ref()
            .and_then(|(meta, _)| meta.last_log_id)
    }

    /// The index of the newest snapshot on disk (plus one), for the log store.
    pub(crate) fn snapshot_index(&self) -> SnapshotIndex {
        Arc::clone(&self.shared.on_disk)
    }

    /// Stores a snapshot (its metadata and body in one file, replaced atomically) and keeps it
    /// in memory, unless the stored one is as new.
    async fn store_snapshot(&self, meta: SnapshotMeta, data: Vec<u8>) -> io::Result<()> {
        let _one_at_a_time = self.shared.storing.lock().await;
        let newer = |stored: &Option<(SnapshotMeta, Vec<u8>)>| {
            stored
                .as_ref()
                .is_none_or(|(m, _)| m.last_log_id < meta.last_log_id)
        };
        if !newer(&self.shared.snapshot.lock()) {
            return Ok(());
        }
        let path = self.shared.dir.join("snapshot");
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let bytes = serde_json::to_vec(&stored).map_err(io::Error::other)?;
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(io::Error::other)??;
        let index = meta.last_log_id.map_or(0, |l| l.index + 1);
        *self.shared.snapshot.lock() = Some((meta, stored.data));
        self.shared.on_disk.store(index, Ordering::Release);
        Ok(())
    }
}

impl RaftSnapshotBuilder<MetadataRaft> for ImageStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<MetadataRaft>, StorageError> {
        let (image, applied, membership) = {
            let state = self.shared.state.lock();
            (
                Arc::clone(&state.image),
                state.applied,
                state.membership.clone(),
            )
        };
        let body = SnapshotBody {
            offset: image.offset,
            records: image.to_records(),
        };
        let data = serde_json::to_vec(&body).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let snapshot_id = match applied {
            Some(l) => format!(
                "{}-{}-{}",
                l.leader_id.term,
                l.index,
                crate::replication::mono_ms()
            ),
            None => format!("none-{}", crate::replication::mono_ms()),
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        self.store_snapshot(meta.clone(), data.clone())
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(
            offset = body.offset,
            bytes = data.len(),
            "metadata snapshot written"
        );
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<MetadataRaft> for ImageStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = self.shared.state.lock();
        Ok((state.applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchApplied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let controller = self.controller();
        let mut answers = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let mut state = self.shared.state.lock();
            let answer = match entry.payload {
                EntryPayload::Normal(batch) if !batch.records.is_empty() => {
                    let index = log_id.index as i64;
                    // numbered so that the last record lands on the entry's index
                    let first = index - batch.records.len() as i64 + 1;
                    match state.image.apply(first, &batch.records) {
                        Ok(next) => {
                            let next = Arc::new(next);
                            state.image = Arc::clone(&next);
                            if let Some(c) = &controller {
                                c.publish_applied(index, batch.records, next);
                            }
                            BatchApplied {
                                offset: index,
                                error: None,
                            }
                        }
                        Err(e) => {
                            tracing::error!(index, error = %e, "a metadata batch does not apply; skipped on every controller");
                            BatchApplied {
                                offset: state.image.offset,
                                error: Some(e.to_string()),
                            }
                        }
                    }
                }
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(log_id), m);
                    BatchApplied {
                        offset: state.image.offset,
                        error: None,
                    }
                }
                _ => BatchApplied {
                    offset: state.image.offset,
                    error: None,
                },
            };
            state.applied = Some(log_id);
            answers.push(answer);
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let image = Arc::new(
            decode(&data).map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?,
        );
        self.store_snapshot(meta.clone(), data)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        {
            let mut state = self.shared.state.lock();
            state.image = Arc::clone(&image);
            state.applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
        }
        tracing::info!(
            offset = image.offset,
            "metadata snapshot installed from the leader"
        );
        if let Some(c) = self.controller() {
            c.reset(image);
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<MetadataRaft>>, StorageError> {
        Ok(self
            .shared
            .snapshot
            .lock()
            .as_ref()
            .map(|(meta, data)| Snapshot {
                meta: meta.clone(),
                snapshot: Box::new(Cursor::new(data.clone())),
            }))
    }
}
