//! The log's side of idempotence and transactions: producer state kept in step with appends,
//! transaction markers, the last stable offset, aborted transactions for `read_committed`
//! fetches, and producer snapshots.

use super::batch::{self, BatchHeader, Marker, HEADER_LEN};
use super::producer_state::{
    list_snapshots, prune_snapshots, snapshot_path, write_snapshot, AbortedTxn, ProducerState,
};
use super::{AppendInfo, Log};
use crate::error::{BrokerError, Result};

impl Log {
    /// The producers of this partition.
    pub fn producers(&self) -> &ProducerState {
        &self.producers
    }

    /// The last stable offset: the first offset of the oldest open transaction, capped at
    /// `high_watermark`.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        self.producers
            .first_unstable_offset()
            .map_or(high_watermark, |o| o.min(high_watermark))
    }

    /// Appends an end-transaction marker for `producer_id` (WriteTxnMarkers), closing the
    /// producer's open transaction here if it has one. An aborted transaction goes into the
    /// active segment's aborted transaction index.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        marker: Marker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        self.check_online()?;
        self.producers
            .check_marker(producer_id, producer_epoch, marker.coordinator_epoch)?;
        let mut bytes = batch::marker_batch(producer_id, producer_epoch, marker, now_ms)?;
        let base_offset = self.log_end_offset();
        batch::assign(&mut bytes, base_offset, leader_epoch, None);
        let header = BatchHeader::parse(&bytes)?;
        self.append_checked(&bytes, &header, now_ms)?;
        self.on_marker_appended(&header, marker, now_ms)?;
        Ok(AppendInfo {
            base_offset,
            last_offset: base_offset,
            log_append_time: -1,
            records: 1,
        })
    }

    /// Ends the marker's transaction in the producer state after its batch was appended (here
    /// or by the leader); an aborted one goes into the active segment's aborted index.
    pub(super) fn on_marker_appended(
        &mut self,
        header: &BatchHeader,
        marker: Marker,
        now_ms: i64,
    ) -> Result<()> {
        let done = self.producers.on_marker(
            header.producer_id,
            header.producer_epoch,
            marker.coordinator_epoch,
            !marker.commit,
            header.base_offset,
            now_ms,
        );
        if let Some(txn) = done.filter(|t| t.aborted) {
            let entry = AbortedTxn {
                producer_id: header.producer_id,
                first_offset: txn.first_offset,
                last_offset: txn.last_offset,
                last_stable_offset: self.producers.stable_offset_after(&txn),
            };
            let active = self.active_mut();
            if let Err(e) = active.add_aborted_txn(entry) {
                let path = active.log_path().to_path_buf();
                return Err(self.fail(path, e));
            }
        }
        Ok(())
    }

    /// The aborted transactions a `read_committed` fetch from `from` needs, for data below
    /// `upper`: those whose marker is at or after `from` and that began before `upper`.
    pub fn aborted_txns(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let start = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        let mut out = Vec::new();
        for seg in self.segments.range(start..).map(|(_, s)| s) {
            let mut complete = false;
            for t in seg.aborted_txns() {
                if t.last_offset >= from && t.first_offset < upper {
                    out.push(*t);
                }
                // once the stable offset passed the fetched range, later entries begin after it
                complete |= t.last_stable_offset >= upper;
            }
            if complete {
                break;
            }
        }
        out
    }

    /// Forgets producers idle longer than `expiration_ms` (`producer.id.expiration.ms`).
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    /// Writes a producer snapshot at the log end offset. `sync` fsyncs it (clean shutdown);
    /// snapshots taken at a roll are not, as in Kafka: a torn one fails its CRC on load and
    /// an older one is used.
    pub(super) fn take_snapshot(&mut self, sync: bool) -> Result<()> {
        let leo = self.log_end_offset();
        // the state only changes with appends, which move the log end (expiry aside, which a
        // restart simply repeats)
        if snapshot_path(&self.dir, leo).exists() {
            return Ok(());
        }
        let result = if sync {
            write_snapshot(&self.dir, leo, &self.producers)
        } else {
            let path = snapshot_path(&self.dir, leo);
            let tmp = path.with_extension("snapshot.tmp");
            std::fs::write(&tmp, self.producers.encode_snapshot())
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| BrokerError::storage(&path, e))
        };
        if let Err(e) = result {
            tracing::warn!(log = %self.dir.display(), error = %e, "cannot write producer snapshot");
        }
        let first = self.segments.keys().next().copied().unwrap_or(leo);
        prune_snapshots(&self.dir, first, leo);
        Ok(())
    }

    /// Rebuilds producer state: the newest readable snapshot at or below `trusted` (and the log
    /// end), then every batch after it (markers read whole). Also rebuilds the aborted
    /// transaction index entries of the replayed part. Snapshots above `trusted` are deleted:
    /// after an unclean shutdown that is the recovery point, since a snapshot past it may
    /// describe data (and `.txnindex` entries) that never reached the disk.
    pub(super) fn load_producer_state(&mut self, trusted: i64) -> Result<()> {
        let leo = self.log_end_offset();
        let first = self.segments.keys().next().copied().unwrap_or(leo);
        prune_snapshots(&self.dir, first, leo.min(trusted));
        let mut from = first;
        self.producers = ProducerState::default();
        let snapshots =
            list_snapshots(&self.dir).map_err(|e| BrokerError::storage(&self.dir, e))?;
        for offset in snapshots.into_iter().rev().filter(|o| *o <= leo) {
            let path = snapshot_path(&self.dir, offset);
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| ProducerState::decode_snapshot(&b));
            match loaded {
                Ok(state) => {
                    self.producers = state;
                    from = offset;
                    break;
                }
                Err(e) => {
                    tracing::warn!(snapshot = %path.display(), error = %e, "discarding unreadable producer snapshot");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if from < leo {
            self.replay_producers(from)?;
        }
        Ok(())
    }

    /// Applies every producer batch and marker at or after `from` to the producer state.
    fn replay_producers(&mut self, from: i64) -> Result<()> {
        let start = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(from, |(b, _)| *b);
        let bases: Vec<i64> = self.segments.range(start..).map(|(b, _)| *b).collect();
        let mut batches = 0u64;
        for base in bases {
            let mut aborted = Vec::new();
            {
                let Some(seg) = self.segments.get(&base) else {
                    continue;
                };
                let io = |e| BrokerError::storage(seg.log_path(), e);
                let mut pos = match seg.locate(from.max(base)).map_err(io)? {
                    Some(found) => found.position,
                    None => continue,
                };
                let mut head = [0u8; HEADER_LEN];
                while let Some(h) = seg.read_header(pos, &mut head).map_err(io)? {
                    let size = h.size() as u64;
                    if size < HEADER_LEN as u64 || pos + size > seg.size {
                        break;
                    }
                    if h.producer_id >= 0 && h.last_offset() >= from {
                        batches += 1;
                        if h.is_control() {
                            let bytes = seg.read_batch(pos, h.size()).map_err(io)?;
                            if let Some(m) = batch::read_marker(&bytes, &h) {
                                let done = self.producers.on_marker(
                                    h.producer_id,
                                    h.producer_epoch,
                                    m.coordinator_epoch,
                                    !m.commit,
                                    h.base_offset,
                                    h.max_timestamp,
                                );
                                if let Some(t) = done.filter(|t| t.aborted) {
                                    aborted.push(AbortedTxn {
                                        producer_id: t.producer_id,
                                        first_offset: t.first_offset,
                                        last_offset: t.last_offset,
                                        last_stable_offset: self.producers.stable_offset_after(&t),
                                    });
                                }
                            }
                        } else {
                            self.producers.on_data(&h);
                        }
                    }
                    pos += size;
                }
            }
            let dir = self.dir.clone();
            if let Some(seg) = self.segments.get_mut(&base) {
                let io = |e| BrokerError::storage(&dir, e);
                seg.truncate_aborted_txns(from).map_err(io)?;
                for t in aborted {
                    seg.add_aborted_txn(t).map_err(io)?;
                }
            }
        }
        tracing::debug!(log = %self.dir.display(), from, batches, producers = self.producers.len(), "rebuilt producer state");
        Ok(())
    }
}
