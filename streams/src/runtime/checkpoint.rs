//! A task's `.checkpoint` file: for each changelog partition of its persistent stores, the
//! offset of the last changelog record the store files hold, so that a task that starts again
//! keeps its files and reads only the changelog records after it (Kafka Streams' format:
//! a version line `0`, the entry count, then `topic partition offset` lines).
//!
//! When it is written (see the stream thread): at least once, after a commit once more than
//! [`PROGRESS`] changelog records were written since the last one, and at every clean
//! suspension, close and end of a restore; exactly once, only at a clean suspension or close,
//! and it is deleted when the task starts, so that a process that dies leaves none and the
//! files are wiped and restored from the changelog (they may hold uncommitted updates).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use super::assignor::TaskId;

/// The file's name in the task's directory.
const FILE: &str = ".checkpoint";

/// The format's version.
const VERSION: &str = "0";

/// Changelog records written since the last checkpoint after which a commit writes one
/// (at least once; Kafka Streams' threshold).
pub(crate) const PROGRESS: u64 = 10_000;

/// Changelog partition → the offset of the last record the store holds (-1: none).
pub(crate) type Offsets = BTreeMap<(String, i32), i64>;

/// The offsets in `dir`'s checkpoint; `None` when there is none, or it cannot be read (then
/// the stores are restored from the changelog's start, which is always correct).
pub(crate) fn read(dir: &Path) -> Option<Offsets> {
    let text = match std::fs::read_to_string(dir.join(FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", dir.join(FILE).display());
            return None;
        }
    };
    let parsed = parse(&text);
    if parsed.is_none() {
        tracing::warn!(
            "{} is not a checkpoint file; the stores are restored from their changelogs",
            dir.join(FILE).display()
        );
    }
    parsed
}

fn parse(text: &str) -> Option<Offsets> {
    let mut lines = text.lines();
    if lines.next()?.trim() != VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut offsets = Offsets::new();
    for line in lines.by_ref().take(count) {
        let mut fields = line.split_whitespace();
        let (Some(topic), Some(partition), Some(offset), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        offsets.insert(
            (topic.to_string(), partition.parse().ok()?),
            offset.parse().ok()?,
        );
    }
    (offsets.len() == count && lines.all(|l| l.trim().is_empty())).then_some(offsets)
}

/// Writes `offsets` as `dir`'s checkpoint: to a temporary file, synced, then renamed over the
/// old one, so that a crash leaves the old file or the new one.
pub(crate) fn write(dir: &Path, offsets: &Offsets) -> std::io::Result<()> {
    let mut text = format!("{VERSION}\n{}\n", offsets.len());
    for ((topic, partition), offset) in offsets {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(FILE))?;
    // (the rename itself is durable once the directory is synced)
    std::fs::File::open(dir)?.sync_all()
}

/// The tasks whose directories under `app_dir` (`<state.dir>/<application.id>`) hold a
/// checkpoint: files a task that comes back here keeps (the assignor prefers this instance
/// for them, as for a standby).
pub(crate) fn tasks_with_checkpoints(app_dir: &Path) -> BTreeSet<TaskId> {
    let Ok(entries) = std::fs::read_dir(app_dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(FILE).is_file())
        .filter_map(|e| {
            let name = e.file_name();
            let (sub, partition) = name.to_str()?.split_once('_')?;
            Some(TaskId {
                subtopology: sub.parse().ok()?,
                partition: partition.parse().ok()?,
            })
        })
        .collect()
}

/// Removes `dir`'s checkpoint, if it has one.
pub(crate) fn delete(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_kafka_streams_format() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let offsets: Offsets = [
            (("app-counts-changelog".to_string(), 3), 41),
            (("app-empty-changelog".to_string(), 3), -1),
        ]
        .into_iter()
        .collect();
        write(dir.path(), &offsets).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".checkpoint")).unwrap(),
            "0\n2\napp-counts-changelog 3 41\napp-empty-changelog 3 -1\n"
        );
        assert_eq!(read(dir.path()), Some(offsets));
        assert!(!dir.path().join(".checkpoint.tmp").exists());
        delete(dir.path()).unwrap();
        assert_eq!(read(dir.path()), None);
        delete(dir.path()).unwrap();
    }

    #[test]
    fn a_damaged_file_reads_as_no_checkpoint() {
        for text in [
            "",
            "1\n0\n",
            "0\n2\nt 0 5\n",
            "0\n1\nt zero 5\n",
            "0\n1\nt 0 5 extra\n",
            "0\n1\nt 0 5\nu 0 6\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert_eq!(parse("0\n0\n"), Some(Offsets::new()));
    }

    #[test]
    fn task_directories_with_a_checkpoint_are_found() {
        let app = tempfile::tempdir().unwrap();
        write(&app.path().join("1_3"), &Offsets::new()).unwrap();
        std::fs::create_dir_all(app.path().join("0_0")).unwrap();
        std::fs::create_dir_all(app.path().join("not-a-task")).unwrap();
        write(&app.path().join("x_y"), &Offsets::new()).unwrap();
        std::fs::write(app.path().join(".lock"), b"").unwrap();
        assert_eq!(
            tasks_with_checkpoints(app.path())
                .into_iter()
                .collect::<Vec<_>>(),
            [TaskId {
                subtopology: 1,
                partition: 3
            }]
        );
        assert!(tasks_with_checkpoints(&app.path().join("missing")).is_empty());
    }
}
