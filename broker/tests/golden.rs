//! Golden request bytes captured from real clients (see tests/fixtures/README.md): every frame
//! decodes, and each client's sequence replayed against a broker gets well-formed answers with
//! the right correlation ids and no errors.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, HeaderVersion};
use tributary_testkit::{RawClient, TestBroker};

fn fixtures(client: &str) -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(client);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                Bytes::from(std::fs::read(&p).unwrap()),
            )
        })
        .collect()
}

const CLIENTS: [&str; 3] = [
    "kcat-librdkafka-2.0.2",
    "kafka-python-2.3.3",
    "kafkajs-2.2.4",
];

/// Decodes a response body for `key`/`version` and returns its error codes of interest.
fn decode_response(key: i16, version: i16, mut body: Bytes) -> Vec<i16> {
    fn body_of<R: Decodable + HeaderVersion>(buf: &mut Bytes, version: i16) -> R {
        ResponseHeader::decode(buf, R::header_version(version)).unwrap();
        let r = R::decode(buf, version).unwrap();
        assert!(buf.is_empty(), "response fully consumed");
        r
    }
    match ApiKey::try_from(key).unwrap() {
        ApiKey::ApiVersions => vec![body_of::<ApiVersionsResponse>(&mut body, version).error_code],
        ApiKey::Metadata => body_of::<MetadataResponse>(&mut body, version)
            .topics
            .iter()
            .map(|t| t.error_code)
            .collect(),
        ApiKey::Produce => body_of::<ProduceResponse>(&mut body, version)
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
            .collect(),
        ApiKey::ListOffsets => body_of::<ListOffsetsResponse>(&mut body, version)
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ApiKey::Fetch => {
            let r = body_of::<FetchResponse>(&mut body, version);
            let mut codes = vec![r.error_code];
            codes.extend(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            codes
        }
        other => panic!("no decoder for {other:?} in this test"),
    }
}

#[test]
fn every_captured_frame_decodes() {
    for client in CLIENTS {
        let frames = fixtures(client);
        assert!(frames.len() >= 7, "{client} fixtures present");
        for (name, frame) in frames {
            tributary_broker::dispatch::decode_frame(frame)
                .unwrap_or_else(|e| panic!("{client}/{name}: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_sequences_replay_cleanly() {
    for client in CLIENTS {
        let broker = TestBroker::start_with(&[("num.partitions", "2")]).await;
        let mut c = RawClient::connect(&broker.bootstrap()).await.unwrap();
        for (name, frame) in fixtures(client) {
            let key = i16::from_be_bytes([frame[0], frame[1]]);
            let version = i16::from_be_bytes([frame[2], frame[3]]);
            let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            let mut framed = BytesMut::with_capacity(frame.len() + 4);
            framed.put_i32(frame.len() as i32);
            framed.put_slice(&frame);
            c.send_raw(&framed).await.unwrap();
            let resp = c
                .read_frame()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{client}/{name}: connection closed"));
            assert_eq!(
                i32::from_be_bytes([resp[0], resp[1], resp[2], resp[3]]),
                correlation,
                "{client}/{name}: correlation id"
            );
            let codes = decode_response(key, version, resp);
            assert!(
                codes.iter().all(|c| *c == 0),
                "{client}/{name}: error codes {codes:?}"
            );
        }
        broker.stop().await;
    }
}
