//! Byte-for-byte comparison of one partition's replica logs, read from the nodes' data
//! directories after a clean stop.

use std::collections::BTreeMap;
use std::path::Path;

use tributary_broker::log::{BatchHeader, BATCH_HEADER_LEN};

/// The batches of one replica's log, by base offset, read from its segment files. A torn batch
/// at a segment's end (there should be none after a clean stop) ends that segment.
pub fn read_batches(partition_dir: &Path) -> std::io::Result<BTreeMap<i64, Vec<u8>>> {
    let mut segments: Vec<_> = std::fs::read_dir(partition_dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    let mut batches = BTreeMap::new();
    for segment in segments {
        let bytes = std::fs::read(&segment)?;
        let mut pos = 0;
        while pos + BATCH_HEADER_LEN <= bytes.len() {
            let Ok(h) = BatchHeader::parse(&bytes[pos..]) else {
                break;
            };
            if h.size() == 0 || pos + h.size() > bytes.len() {
                break;
            }
            batches.insert(h.base_offset, bytes[pos..pos + h.size()].to_vec());
            pos += h.size();
        }
    }
    Ok(batches)
}

/// Who wrote each batch of one replica's log: `(first offset, last offset, producer id,
/// producer epoch)`, in log order.
pub fn writers(partition_dir: &Path) -> std::io::Result<Vec<(i64, i64, i64, i16)>> {
    Ok(read_batches(partition_dir)?
        .values()
        .filter_map(|b| BatchHeader::parse(b).ok())
        .map(|h| {
            let last = h.base_offset + i64::from(h.last_offset_delta);
            (h.base_offset, last, h.producer_id, h.producer_epoch)
        })
        .collect())
}

/// Compares the replicas (node id, partition directory) of one partition over the offsets they
/// all hold: from the highest first batch to the lowest log end. `Ok(())` when every batch in
/// that range is the same in every replica, else a description of the first difference.
pub fn compare(replicas: &[(i32, &Path)]) -> Result<(), String> {
    let mut logs = Vec::new();
    for (id, dir) in replicas {
        let batches = read_batches(dir).map_err(|e| format!("node {id}: {e}"))?;
        logs.push((*id, batches));
    }
    let start = logs
        .iter()
        .filter_map(|(_, b)| b.keys().next().copied())
        .max()
        .unwrap_or(0);
    let end = logs
        .iter()
        .map(|(_, b)| {
            b.iter()
                .next_back()
                .and_then(|(_, bytes)| BatchHeader::parse(bytes).ok())
                .map_or(0, |h| h.next_offset())
        })
        .min()
        .unwrap_or(0);
    let Some(((first_id, first), rest)) = logs.split_first() else {
        return Ok(());
    };
    let range = |b: &BTreeMap<i64, Vec<u8>>| -> Vec<(i64, Vec<u8>)> {
        b.range(start..end)
            .filter(|(_, bytes)| BatchHeader::parse(bytes).is_ok_and(|h| h.next_offset() <= end))
            .map(|(o, bytes)| (*o, bytes.clone()))
            .collect()
    };
    let want = range(first);
    for (id, batches) in rest {
        let got = range(batches);
        if got != want {
            let at = want.iter().zip(&got).find(|(a, b)| a != b).map_or_else(
                || format!("{} batches vs {}", want.len(), got.len()),
                |((o1, _), (o2, _))| format!("first difference at batch {o1} / {o2}"),
            );
            return Err(format!(
                "nodes {first_id} and {id} differ in offsets [{start}, {end}): {at}"
            ));
        }
    }
    Ok(())
}
