//! Bounded decompression of record batches (gzip, snappy, lz4, zstd as Kafka clients write
//! them).
//!
//! The broker decompresses only to validate what a producer sent (as Kafka's `LogValidator`
//! does) and to find a record by timestamp. Output is capped at [`DECOMPRESSED_LIMIT`], so a
//! small batch that inflates to gigabytes (a decompression bomb) is refused instead of
//! exhausting memory.

use std::io::Read;

use super::batch::BatchError;

/// Largest decompressed size of one batch's records: 128 MiB. A 1 MiB batch (the default
/// `max.message.bytes`) would need a compression ratio above 128:1 to reach it.
pub const DECOMPRESSED_LIMIT: usize = 128 << 20;

/// Largest expansion allowed relative to the compressed size (with a 1 MiB floor), so that the
/// memory a batch can claim is proportional to the bytes its sender actually sent.
const MAX_RATIO: usize = 256;

/// Compressed size above which a batch counts against [`MAX_CONCURRENT_LARGE`]. Smaller ones
/// (at most 16 MiB decompressed, see [`MAX_RATIO`]) are handled on the request's own thread.
const LARGE_INPUT: usize = 64 * 1024;

/// Large batches decompressed at once in the whole broker; more wait their turn.
const MAX_CONCURRENT_LARGE: usize = 4;

static LARGE_ACTIVE: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static LARGE_FREED: std::sync::Condvar = std::sync::Condvar::new();

/// A turn at decompressing a large batch; the turn ends when this is dropped.
pub struct Turn(bool);

/// Waits for a turn when `compressed_len` is large. Large batches are handled on blocking
/// threads (see `handlers::blocking_io`), so waiting here never stalls the async workers.
pub fn turn(compressed_len: usize) -> Turn {
    if compressed_len <= LARGE_INPUT {
        return Turn(false);
    }
    large_turn()
}

/// Waits for one of the [`MAX_CONCURRENT_LARGE`] turns.
fn large_turn() -> Turn {
    let mut active = LARGE_ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    while *active >= MAX_CONCURRENT_LARGE {
        active = LARGE_FREED.wait(active).unwrap_or_else(|e| e.into_inner());
    }
    *active += 1;
    Turn(true)
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.0 {
            let mut active = LARGE_ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
            *active -= 1;
            LARGE_FREED.notify_one();
        }
    }
}

/// The decompressed size allowed for `compressed_len` bytes of input.
fn limit_for(compressed_len: usize) -> usize {
    compressed_len
        .saturating_mul(MAX_RATIO)
        .clamp(1 << 20, DECOMPRESSED_LIMIT)
}

/// The magic that starts Java's (xerial) framed snappy format.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";

fn too_big(limit: usize) -> BatchError {
    BatchError::InvalidRecord(format!("batch decompresses to more than {limit} bytes"))
}

fn read_bounded(mut reader: impl Read, codec: &str, limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BatchError::Truncated(format!("invalid {codec} data: {e}")))?;
    if out.len() > limit {
        return Err(too_big(limit));
    }
    Ok(out)
}

fn snappy_raw(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), BatchError> {
    let bad = |e: snap::Error| BatchError::Truncated(format!("invalid snappy data: {e}"));
    let len = snap::raw::decompress_len(block).map_err(bad)?;
    if out.len() + len > limit {
        return Err(too_big(limit));
    }
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(bad)?;
    Ok(())
}

/// Decompresses `data` written with codec `codec` (1 gzip, 2 snappy, 3 lz4, 4 zstd), taking
/// a turn for large work. Output beyond [`MAX_RATIO`] times the input is allowed (Kafka sets
/// no ratio: a megabyte of zeros compresses a thousandfold) but only within one of the few
/// large turns, and never beyond [`DECOMPRESSED_LIMIT`].
pub fn decompress(codec: i16, data: &[u8]) -> Result<Vec<u8>, BatchError> {
    let first = turn(data.len());
    let limit = limit_for(data.len());
    match decompress_limited(codec, data, limit) {
        Err(e) if e == too_big(limit) && limit < DECOMPRESSED_LIMIT => {
            drop(first);
            let _large = large_turn();
            decompress_limited(codec, data, DECOMPRESSED_LIMIT)
        }
        other => other,
    }
}

fn decompress_limited(codec: i16, data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    match codec {
        1 => read_bounded(flate2::read::GzDecoder::new(data), "gzip", limit),
        2 => {
            let mut out = Vec::new();
            if !data.starts_with(XERIAL_MAGIC) {
                snappy_raw(data, &mut out, limit)?;
                return Ok(out);
            }
            // xerial framing: 16-byte header, then blocks of `length: u32 BE, raw snappy`
            let mut rest = data
                .get(16..)
                .ok_or_else(|| BatchError::Truncated("short snappy header".into()))?;
            while !rest.is_empty() {
                let len = rest
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
                let block = len
                    .and_then(|l| rest.get(4..4 + l))
                    .ok_or_else(|| BatchError::Truncated("torn snappy block".into()))?;
                snappy_raw(block, &mut out, limit)?;
                rest = &rest[4 + block.len()..];
            }
            Ok(out)
        }
        3 => {
            let decoder = lz4::Decoder::new(data)
                .map_err(|e| BatchError::Truncated(format!("invalid lz4 data: {e}")))?;
            read_bounded(decoder, "lz4", limit)
        }
        4 => {
            let decoder = zstd::stream::read::Decoder::new(data)
                .map_err(|e| BatchError::Truncated(format!("invalid zstd data: {e}")))?;
            read_bounded(decoder, "zstd", limit)
        }
        other => Err(BatchError::InvalidRecord(format!(
            "unknown compression codec {other}"
        ))),
    }
}

/// A codec to write batches with, and its level (`compression.<codec>.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    /// Kafka's codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub id: i16,
    /// The level, for gzip, lz4 and zstd; `None` is the codec's default.
    pub level: Option<i32>,
}

impl Codec {
    /// The codec named as `compression.type` names it (`uncompressed`, `gzip`, ...).
    pub fn named(name: &str, level: Option<i32>) -> Option<Codec> {
        let id = match name {
            "uncompressed" | "none" => 0,
            "gzip" => 1,
            "snappy" => 2,
            "lz4" => 3,
            "zstd" => 4,
            _ => return None,
        };
        Some(Codec { id, level })
    }
}

/// Java's xerial snappy framing: magic, version 1, compatible version 1.
const XERIAL_HEADER: &[u8] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
/// Block size of Java's `SnappyOutputStream`.
const SNAPPY_BLOCK: usize = 32 * 1024;

/// Compresses a records section with `codec`, in the framing Kafka's Java client writes (xerial
/// snappy, LZ4 frames with independent blocks and no content checksum), so that every client
/// can read it.
pub fn compress(codec: Codec, data: &[u8]) -> Result<Vec<u8>, BatchError> {
    use std::io::Write;
    let failed = |what: &str, e: std::io::Error| {
        BatchError::InvalidRecord(format!("cannot compress with {what}: {e}"))
    };
    match codec.id {
        0 => Ok(data.to_vec()),
        1 => {
            let level = codec.level.filter(|l| (1..=9).contains(l)).unwrap_or(6);
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2),
                flate2::Compression::new(level as u32),
            );
            enc.write_all(data).map_err(|e| failed("gzip", e))?;
            enc.finish().map_err(|e| failed("gzip", e))
        }
        2 => {
            let mut out = Vec::with_capacity(data.len() / 2 + 32);
            out.extend_from_slice(XERIAL_HEADER);
            let mut encoder = snap::raw::Encoder::new();
            for block in data.chunks(SNAPPY_BLOCK) {
                let packed = encoder.compress_vec(block).map_err(|e| {
                    BatchError::InvalidRecord(format!("cannot compress with snappy: {e}"))
                })?;
                out.extend_from_slice(&(packed.len() as u32).to_be_bytes());
                out.extend_from_slice(&packed);
            }
            Ok(out)
        }
        3 => {
            let level = codec.level.filter(|l| (1..=17).contains(l)).unwrap_or(9);
            let mut enc = lz4::EncoderBuilder::new()
                .level(level as u32)
                .block_size(lz4::BlockSize::Max64KB)
                .block_mode(lz4::BlockMode::Independent)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .build(Vec::with_capacity(data.len() / 2 + 32))
                .map_err(|e| failed("lz4", e))?;
            enc.write_all(data).map_err(|e| failed("lz4", e))?;
            let (out, result) = enc.finish();
            result.map_err(|e| failed("lz4", e))?;
            Ok(out)
        }
        4 => {
            let level = codec.level.unwrap_or(3);
            zstd::bulk::compress(data, level).map_err(|e| failed("zstd", e))
        }
        other => Err(BatchError::InvalidRecord(format!(
            "unknown compression codec {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn each_codec_round_trips_and_bombs_are_refused() {
        let plain = b"hello hello hello hello".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        assert_eq!(decompress(1, &gz.finish().unwrap()).unwrap(), plain);
        let raw = snap::raw::Encoder::new().compress_vec(&plain).unwrap();
        assert_eq!(decompress(2, &raw).unwrap(), plain);
        let mut framed = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        framed.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        framed.extend_from_slice(&raw);
        assert_eq!(decompress(2, &framed).unwrap(), plain);
        let mut lz = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
        lz.write_all(&plain).unwrap();
        let (lz, r) = lz.finish();
        r.unwrap();
        assert_eq!(decompress(3, &lz).unwrap(), plain);
        assert_eq!(
            decompress(4, &zstd::encode_all(&plain[..], 3).unwrap()).unwrap(),
            plain
        );

        let bomb =
            zstd::encode_all(std::io::repeat(0).take(DECOMPRESSED_LIMIT as u64 + 10), 3).unwrap();
        assert!(bomb.len() < 1 << 20, "a small input");
        assert_eq!(
            decompress(4, &bomb).unwrap_err(),
            too_big(DECOMPRESSED_LIMIT)
        );
        let zeros = zstd::encode_all(std::io::repeat(0).take(4 << 20), 3).unwrap();
        assert!(zeros.len() * MAX_RATIO < 4 << 20);
        assert_eq!(
            decompress(4, &zeros).unwrap().len(),
            4 << 20,
            "highly compressible data is fine below the absolute cap"
        );
        assert!(decompress(4, b"not zstd").is_err());
        assert!(decompress(2, &framed[..framed.len() - 3]).is_err());
        assert!(decompress(9, b"x").is_err());
    }

    #[test]
    fn compress_then_decompress_gives_the_input_back_for_every_codec_and_level() {
        let plain: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for id in 0..=4 {
            for level in [None, Some(1), Some(9)] {
                let packed = compress(Codec { id, level }, &plain).unwrap();
                let back = if id == 0 {
                    packed.clone()
                } else {
                    decompress(id, &packed).unwrap()
                };
                assert_eq!(back, plain, "codec {id} level {level:?}");
                if id != 0 {
                    assert!(packed.len() < plain.len(), "codec {id} compresses");
                }
            }
        }
        assert!(compress(Codec { id: 7, level: None }, b"x").is_err());
        assert_eq!(
            Codec::named("zstd", Some(5)),
            Some(Codec {
                id: 4,
                level: Some(5)
            })
        );
        assert_eq!(Codec::named("producer", None), None);
    }
}
