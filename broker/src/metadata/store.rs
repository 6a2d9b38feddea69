//! Where the metadata log lives. On one node: a local file of framed, checksummed batches.
//!
//! File format (`metadata.log`): a sequence of frames `len: u32 BE, crc32c: u32 BE, payload`,
//! where the payload is one JSON array of records appended together. A torn last frame (crash
//! mid-write) fails its length or CRC and is cut off at start.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::records::MetadataRecord;

/// A durable, ordered log of metadata record batches.
pub trait MetadataLog: Send {
    /// Appends one batch durably and returns the offset of its first record.
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64>;
    /// Every batch in order, with the offset of its first record.
    fn replay(&mut self) -> io::Result<Vec<(i64, Vec<MetadataRecord>)>>;
}

/// The metadata log of a node that does not write one itself: a broker whose controller is
/// elsewhere, or a controller of a quorum (Raft writes its log).
pub(super) struct NoLog;

impl MetadataLog for NoLog {
    fn append(&mut self, _records: &[MetadataRecord]) -> io::Result<i64> {
        Err(io::Error::other(
            "metadata is written by the active controller through its log, not here",
        ))
    }

    fn replay(&mut self) -> io::Result<Vec<(i64, Vec<MetadataRecord>)>> {
        Ok(Vec::new())
    }
}

/// The metadata log as one local file (single-node mode).
pub struct FileMetadataLog {
    path: PathBuf,
    file: File,
    next_offset: i64,
}

impl FileMetadataLog {
    /// Opens or creates `dir/metadata.log`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("metadata.log");
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        Ok(FileMetadataLog {
            path,
            file,
            next_offset: 0,
        })
    }
}

impl MetadataLog for FileMetadataLog {
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64> {
        let frame = frame(&serde_json::to_vec(records).map_err(io::Error::other)?);
        let before = self.file.metadata()?.len();
        if let Err(e) = self
            .file
            .write_all(&frame)
            .and_then(|_| self.file.sync_data())
        {
            // Leave no torn frame behind that later appends would be written after.
            let _ = self.file.set_len(before);
            return Err(e);
        }
        let first = self.next_offset;
        self.next_offset += records.len() as i64;
        Ok(first)
    }

    /// Replays every batch. Only a torn *last* frame (a crash during its write) is cut; a bad
    /// frame followed by good data, or a record this build does not understand, stops the
    /// broker with an error instead of silently dropping metadata.
    fn replay(&mut self) -> io::Result<Vec<(i64, Vec<MetadataRecord>)>> {
        let mut data = Vec::new();
        File::open(&self.path)?.read_to_end(&mut data)?;
        let mut out = Vec::new();
        let mut offset = 0i64;
        let corrupt = |pos: usize, why: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} at byte {pos}: {why}", self.path.display()),
            )
        };
        let (frames, valid) = read_frames(&data).map_err(|(pos, why)| corrupt(pos, why))?;
        for (pos, payload) in frames {
            let records = serde_json::from_slice::<Vec<MetadataRecord>>(payload).map_err(|e| {
                corrupt(
                    pos,
                    format!("undecodable metadata record (written by a newer version?): {e}"),
                )
            })?;
            let n = records.len() as i64;
            out.push((offset, records));
            offset += n;
        }
        if valid < data.len() {
            tracing::warn!(path = %self.path.display(), valid, total = data.len(), "cutting torn tail of the metadata log");
            self.file.set_len(valid as u64)?;
            self.file.sync_data()?;
        }
        self.next_offset = offset;
        Ok(out)
    }
}

/// One frame of a metadata log file: `len: u32 BE, crc32c: u32 BE, payload`.
pub(super) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 8);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Frames read from a file: each payload with its position, and the length of the valid part.
pub(super) type Frames<'a> = (Vec<(usize, &'a [u8])>, usize);

/// The payloads of the frames in `data`, each with its position, and the length of the valid
/// part. A torn *last* frame (a crash during its write) or a zero-filled tail ends the valid
/// part; a bad frame followed by more data is corruption: its position and why.
pub(super) fn read_frames(data: &[u8]) -> Result<Frames<'_>, (usize, String)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let len =
            u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let crc = u32::from_be_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
        let end = pos.saturating_add(8).saturating_add(len);
        if len == 0 && data[pos..].iter().all(|b| *b == 0) {
            break; // zero-filled tail (space allocated but never written, e.g. power loss)
        }
        let Some(payload) = data.get(pos + 8..end) else {
            break;
        };
        if crc32c::crc32c(payload) != crc {
            if end == data.len() {
                break; // torn last frame
            }
            return Err((pos, "checksum mismatch in the middle of the log".into()));
        }
        out.push((pos, payload));
        pos = end;
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileMetadataLog::open(dir.path()).unwrap();
        assert!(log.replay().unwrap().is_empty());
        let a = MetadataRecord::Cluster {
            cluster_id: "abc".into(),
        };
        let b = MetadataRecord::RemoveTopic {
            topic_id: uuid::Uuid::nil(),
        };
        assert_eq!(log.append(&[a.clone(), b.clone()]).unwrap(), 0);
        assert_eq!(log.append(std::slice::from_ref(&b)).unwrap(), 2);
        drop(log);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("metadata.log"))
            .unwrap();
        f.write_all(&[0, 0, 0, 50, 1, 2]).unwrap();
        let mut log = FileMetadataLog::open(dir.path()).unwrap();
        let batches = log.replay().unwrap();
        assert_eq!(batches, vec![(0, vec![a, b.clone()]), (2, vec![b.clone()])]);
        assert_eq!(log.append(&[b]).unwrap(), 3);
        assert_eq!(log.replay().unwrap().len(), 3);
    }

    #[test]
    fn corruption_in_the_middle_stops_replay_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileMetadataLog::open(dir.path()).unwrap();
        let a = MetadataRecord::Cluster {
            cluster_id: "abc".into(),
        };
        log.append(std::slice::from_ref(&a)).unwrap();
        log.append(&[a]).unwrap();
        drop(log);
        let path = dir.path().join("metadata.log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let mut log = FileMetadataLog::open(dir.path()).unwrap();
        let err = log.replay().unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing is cut");
    }
}
