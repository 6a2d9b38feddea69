//! A small Kafka protocol client: one connection, one request at a time, typed with the
//! `kafka-protocol` messages. Tools use it for APIs the `rdkafka` admin client lacks
//! (IncrementalAlterConfigs); tests use its framing for hand-made requests.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Encodes `[size][request header][body]` for `req` at `version`.
pub fn encode_request<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> std::io::Result<Bytes> {
    let key = ApiKey::try_from(R::KEY)
        .map_err(|_| std::io::Error::other(format!("unknown API key {}", R::KEY)))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .map_err(std::io::Error::other)?;
    req.encode(&mut body, version)
        .map_err(std::io::Error::other)?;
    let mut frame = BytesMut::with_capacity(body.len() + 4);
    frame.put_i32(body.len() as i32);
    frame.put_slice(&body);
    Ok(frame.freeze())
}

/// Decodes a response frame (without its size prefix) to `req`'s response type: the
/// correlation id and the body. Bytes left over are an error.
pub fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> std::io::Result<(i32, R::Response)> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header =
        ResponseHeader::decode(&mut frame, header_version).map_err(std::io::Error::other)?;
    let body = R::Response::decode(&mut frame, version).map_err(std::io::Error::other)?;
    if frame.has_remaining() {
        return Err(std::io::Error::other(format!(
            "{} bytes left after the response",
            frame.remaining()
        )));
    }
    Ok((header.correlation_id, body))
}

/// Reads one frame (without the size prefix); `None` when the peer closed the connection.
pub async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Bytes>> {
    let mut len = [0u8; 4];
    if stream.read_exact(&mut len).await.is_err() {
        return Ok(None);
    }
    let mut buf = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    stream.read_exact(&mut buf).await?;
    Ok(Some(Bytes::from(buf)))
}

/// One connection to a broker.
pub struct Client {
    stream: TcpStream,
    correlation: i32,
    timeout: Duration,
}

impl Client {
    /// Connects to `addr` (`host:port`); each call then waits at most `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> std::io::Result<Client> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        Ok(Client {
            stream,
            correlation: 0,
            timeout,
        })
    }

    /// Sends `req` at `version` and waits for its answer.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> std::io::Result<R::Response> {
        let timeout = self.timeout;
        self.call_with_timeout(req, version, timeout).await
    }

    /// Sends `req` at `version` and waits at most `timeout` for its answer (a JoinGroup waits
    /// for the whole group).
    pub async fn call_with_timeout<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> std::io::Result<R::Response> {
        self.correlation += 1;
        let frame = encode_request(req, version, self.correlation, "tributary")?;
        let exchange = async {
            self.stream.write_all(&frame).await?;
            read_frame(&mut self.stream)
                .await?
                .ok_or_else(|| std::io::Error::other("the broker closed the connection"))
        };
        let resp = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time")
            })??;
        let (correlation, body) = decode_response::<R>(resp, version)?;
        if correlation != self.correlation {
            return Err(std::io::Error::other("answer to another request"));
        }
        Ok(body)
    }
}
