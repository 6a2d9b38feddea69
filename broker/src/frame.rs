//! Response frames, and Fetch responses whose records go from the page cache to the socket
//! without passing through the broker's memory.
//!
//! ```text
//!  Fetch handler ─▶ FetchResponse, large records fields as placeholders + their file ranges
//!        ─▶ kafka-protocol encodes into a SplicingBuf: a placeholder written = a splice point
//!        ─▶ ResponseFrame [bytes][file range][bytes][file range]...[bytes]
//!  writer task ─▶ bytes with write_all, file ranges with sendfile(2)
//! ```
//!
//! A Fetch response carries up to `fetch.max.bytes` of records that already sit on disk in exactly
//! the bytes the client gets. Reading them into memory, copying them into the encoded response and
//! writing that to the socket costs three copies of every byte (and a fresh buffer per fetch);
//! Kafka sends them with `sendfile`, one copy inside the kernel. Here the handler gives each large
//! records field a placeholder of the right length ([`placeholder`]) and the encoder's buffer
//! swaps each placeholder for its file range when kafka-protocol writes it, so the response layout
//! still comes from kafka-protocol's generated encoder and nothing is laid out by hand.

use std::collections::VecDeque;
use std::io;
use std::ops::Range;

use bytes::{buf::UninitSlice, BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;

use crate::log::FileSlice;

/// One piece of a response frame.
pub(crate) enum Chunk {
    /// Encoded bytes.
    Bytes(Bytes),
    /// Records sent straight from a segment file.
    File(FileSlice),
}

/// A whole response frame (size prefix included), as the connection's writer sends it.
pub(crate) struct ResponseFrame {
    chunks: Vec<Chunk>,
}

impl From<Bytes> for ResponseFrame {
    fn from(bytes: Bytes) -> Self {
        ResponseFrame {
            chunks: vec![Chunk::Bytes(bytes)],
        }
    }
}

impl ResponseFrame {
    /// Writes the frame. A file range that comes up short (its segment was truncated after the
    /// fetch was planned) is an error: the frame's size prefix cannot be kept, so the connection
    /// must close, and the client retries the fetch.
    pub(crate) async fn send(self, writer: &mut OwnedWriteHalf) -> io::Result<()> {
        for chunk in self.chunks {
            match chunk {
                Chunk::Bytes(b) => writer.write_all(&b).await?,
                Chunk::File(f) => send_file(writer, &f).await?,
            }
        }
        Ok(())
    }
}

/// `sendfile(2)` of one file range to the socket, waiting for room in the socket buffer as an
/// async write would. Pages not in the page cache are read by the kernel in the call, as in
/// Kafka's network threads; the Fetch handler asks for them to be read ahead beforehand.
async fn send_file(writer: &mut OwnedWriteHalf, f: &FileSlice) -> io::Result<()> {
    let stream = writer.as_ref();
    let mut offset = f.position;
    let end = f.position + f.len as u64;
    while offset < end {
        stream.writable().await?;
        let left = (end - offset) as usize;
        match stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, &*f.file, Some(&mut offset), left).map_err(io::Error::from)
        }) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("segment file ended {left} bytes before the fetched range"),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Largest records field sent as a file range; larger ones are read into memory.
const PLACEHOLDER_LEN: usize = 256 << 20;

/// Zeroes the placeholders point into, allocated once. Never read: a placeholder is always
/// swapped for its file range (and a frame where one was not is refused), so these fresh zero
/// pages from the OS are never touched and cost address space only, not memory.
static PLACEHOLDER: std::sync::LazyLock<Bytes> =
    std::sync::LazyLock::new(|| Bytes::from(vec![0u8; PLACEHOLDER_LEN]));

/// A stand-in for a records field of `len` bytes that [`SplicingBuf`] replaces with a file range,
/// or `None` when `len` is too large to be spliced.
pub(crate) fn placeholder(len: usize) -> Option<Bytes> {
    (len > 0 && len <= PLACEHOLDER_LEN).then(|| PLACEHOLDER.slice(..len))
}

/// The buffer a spliced response is encoded into: encoded bytes in one `BytesMut`, and the
/// points where file ranges go in place of the placeholders written, in order.
pub(crate) struct SplicingBuf {
    inline: BytesMut,
    /// File ranges still to place, in the order their placeholders will be written.
    pending: VecDeque<FileSlice>,
    /// Placed file ranges and the inline position they go before.
    splices: Vec<(usize, FileSlice)>,
    /// Bytes of the placed file ranges.
    spliced: usize,
}

impl SplicingBuf {
    /// A buffer for `inline` encoded bytes, placing `files` at their placeholders.
    pub(crate) fn new(inline: usize, files: Vec<FileSlice>) -> Self {
        SplicingBuf {
            inline: BytesMut::with_capacity(inline),
            pending: files.into(),
            splices: Vec::new(),
            spliced: 0,
        }
    }

    /// The frame, once every file range found its placeholder; `None` otherwise (the encoded
    /// bytes would then hold placeholder zeroes in place of records, and must not be sent).
    pub(crate) fn into_frame(self) -> Option<ResponseFrame> {
        if !self.pending.is_empty() {
            return None;
        }
        let mut inline = self.inline.freeze();
        let mut taken = 0;
        let mut chunks = Vec::with_capacity(self.splices.len() * 2 + 1);
        for (at, file) in self.splices {
            chunks.push(Chunk::Bytes(inline.split_to(at - taken)));
            taken = at;
            chunks.push(Chunk::File(file));
        }
        chunks.push(Chunk::Bytes(inline));
        chunks.retain(|c| !matches!(c, Chunk::Bytes(b) if b.is_empty()));
        Some(ResponseFrame { chunks })
    }

    /// The inline position of logical position `logical` (file ranges placed before it do not
    /// take inline room).
    fn inline_pos(&self, logical: usize) -> usize {
        let mut before = 0;
        for (at, file) in &self.splices {
            if at + before >= logical {
                break;
            }
            before += file.len;
        }
        logical.saturating_sub(before)
    }
}

// SAFETY: every method forwards to the inner `BytesMut`, whose `BufMut` implementation upholds
// the trait's contract (`chunk_mut` gives writable uninitialized memory, `advance_mut` marks
// bytes that were written); `SplicingBuf` adds no memory handling of its own. `unsafe` is needed
// only because `BufMut` is an unsafe trait, and a `BufMut` of our own is the one way to see the
// placeholders as kafka-protocol's encoder writes them.
#[allow(unsafe_code)]
unsafe impl BufMut for SplicingBuf {
    fn remaining_mut(&self) -> usize {
        self.inline.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's guarantee (cnt bytes of chunk_mut were initialized) is passed on.
        unsafe { self.inline.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.inline.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        let is_placeholder = !src.is_empty() && std::ptr::eq(src.as_ptr(), PLACEHOLDER.as_ptr());
        if is_placeholder && self.pending.front().is_some_and(|f| f.len == src.len()) {
            if let Some(file) = self.pending.pop_front() {
                self.spliced += file.len;
                self.splices.push((self.inline.len(), file));
                return;
            }
        }
        self.inline.put_slice(src);
    }
}

impl ByteBufMut for SplicingBuf {
    fn offset(&self) -> usize {
        self.inline.len() + self.spliced
    }

    fn seek(&mut self, offset: usize) {
        let at = self.inline_pos(offset);
        self.inline.resize(at, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        // encoders ask for ranges they wrote themselves (length gaps), never across records
        let start = self.inline_pos(r.start);
        &mut self.inline[start..start + r.len()]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{FetchResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;

    fn response(records: &[Bytes]) -> FetchResponse {
        let partitions = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_records(Some(r.clone()))
            })
            .collect();
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(partitions)])
    }

    fn materialize(frame: ResponseFrame) -> Vec<u8> {
        let mut out = Vec::new();
        for c in frame.chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(&b),
                Chunk::File(f) => {
                    let mut buf = vec![0u8; f.len];
                    f.file.read_exact_at(&mut buf, f.position).unwrap();
                    out.extend_from_slice(&buf);
                }
            }
        }
        out
    }

    /// A response encoded with placeholders and file ranges is, byte for byte, the response
    /// encoded with the records themselves, at every Fetch version (compact and plain bytes).
    #[test]
    fn spliced_frames_equal_the_plain_encoding() {
        let mut tmp = tempfile::tempfile().unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        tmp.write_all(&[7u8; 13]).unwrap();
        tmp.write_all(&big).unwrap();
        let file = Arc::new(tmp);
        let slice = |position: u64, len: usize| FileSlice {
            file: Arc::clone(&file),
            position,
            len,
        };
        let small = Bytes::from_static(b"small records");
        for version in [4, 11, 12, 16] {
            let real = response(&[
                Bytes::from(big[..60_000].to_vec()),
                small.clone(),
                Bytes::from(big[10..90_010].to_vec()),
            ]);
            let mut plain = BytesMut::new();
            real.encode(&mut plain, version).unwrap();
            let with_placeholders = response(&[
                placeholder(60_000).unwrap(),
                small.clone(),
                placeholder(90_000).unwrap(),
            ]);
            let inline = with_placeholders.compute_size(version).unwrap() - 150_000;
            let mut buf = SplicingBuf::new(inline, vec![slice(13, 60_000), slice(23, 90_000)]);
            with_placeholders.encode(&mut buf, version).unwrap();
            assert_eq!(buf.offset(), plain.len(), "v{version}: logical length");
            let frame = buf.into_frame().expect("every file range placed");
            let files = frame
                .chunks
                .iter()
                .filter(|c| matches!(c, Chunk::File(_)))
                .count();
            assert_eq!(
                files, 2,
                "v{version}: both large records fields sent from the file"
            );
            assert_eq!(materialize(frame), plain.to_vec(), "v{version}");
        }
    }

    /// A file range whose placeholder never comes (a different length, or plain bytes) leaves
    /// the frame unusable: it must not be sent with zeroes in place of records.
    #[test]
    fn an_unplaced_file_range_refuses_the_frame() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        let r = response(&[placeholder(40_000).unwrap()]);
        let mut buf = SplicingBuf::new(
            50_000,
            vec![FileSlice {
                file,
                position: 0,
                len: 39_999,
            }],
        );
        r.encode(&mut buf, 12).unwrap();
        assert!(buf.into_frame().is_none());
        assert!(placeholder(0).is_none() && placeholder(PLACEHOLDER_LEN + 1).is_none());
    }
}
