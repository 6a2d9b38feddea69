//! The high watermark checkpoint: each hosted partition's high watermark saved in
//! `<log.dirs>/replication-offset-checkpoint`, in Kafka's checkpoint format, every
//! `replica.high.watermark.checkpoint.interval.ms` and at a clean stop.
//!
//! A replica starts from it, capped at its log end: a restarted follower serves consumers
//! (KIP-392) and a restarted leader answers ListOffsets from where the partition was, instead
//! of from its log start until the ISR has fetched again.
//!
//! ```text
//! 0                  <- version
//! 2                  <- entries
//! orders 0 1200      <- topic, partition, high watermark
//! orders 1 1187
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The checkpoint file's name in the data directory, as Kafka names it.
pub const FILE: &str = "replication-offset-checkpoint";

/// High watermarks by (topic, partition).
pub type Checkpoint = HashMap<(String, i32), i64>;

/// The checkpoint's path in data directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the checkpoint in `dir`; a missing file is empty, a malformed one is an error that
/// names the line (the caller starts without it: a checkpoint only saves time).
pub fn read(dir: &Path) -> Result<Checkpoint, String> {
    let file = path(dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Checkpoint::new()),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn parse(text: &str) -> Result<Checkpoint, String> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => {}
        other => return Err(format!("unknown version {other:?}")),
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no entry count on line 2")?;
    let mut out = Checkpoint::with_capacity(count);
    for (n, line) in lines.enumerate() {
        // topic names have no spaces: the last two fields are the numbers
        let mut fields = line.rsplitn(3, ' ');
        let (Some(offset), Some(partition), Some(topic)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("line {}: expected `topic partition offset`", n + 3));
        };
        let (Ok(partition), Ok(offset)) = (partition.parse(), offset.parse()) else {
            return Err(format!("line {}: bad numbers in {line:?}", n + 3));
        };
        out.insert((topic.to_string(), partition), offset);
    }
    if out.len() != count {
        return Err(format!("{} entries where line 2 says {count}", out.len()));
    }
    Ok(out)
}

/// Writes `entries` as the checkpoint in `dir`, atomically. Blocking.
pub fn write(dir: &Path, entries: &[(String, i32, i64)]) -> std::io::Result<()> {
    let mut text = format!("0\n{}\n", entries.len());
    for (topic, partition, hw) in entries {
        text.push_str(&format!("{topic} {partition} {hw}\n"));
    }
    crate::log::write_atomically(&path(dir), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafkas_format() {
        let dir = tempfile::tempdir().unwrap();
        let entries = vec![
            ("orders".to_string(), 0, 1200),
            ("a.b-c_d".to_string(), 7, 0),
        ];
        write(dir.path(), &entries).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(text, "0\n2\norders 0 1200\na.b-c_d 7 0\n");
        let read = read(dir.path()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[&("orders".to_string(), 0)], 1200);
    }

    #[test]
    fn a_missing_file_is_empty_and_a_bad_one_names_its_fault() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        for (text, why) in [
            ("1\n0\n", "version"),
            ("0\nx\n", "count"),
            ("0\n1\norders zero 5\n", "line 3"),
            ("0\n2\norders 0 5\n", "2"),
        ] {
            std::fs::write(path(dir.path()), text).unwrap();
            let err = read(dir.path()).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }
}
