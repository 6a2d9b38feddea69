//! Transport: accepting connections and moving frames in and out of them.
//!
//! ```text
//!  accept ─▶ one task per connection ─▶ read frame (size-checked, memory-bounded)
//!                                     ─▶ dispatch::handle (one request at a time, in order)
//!                                     ─▶ writer task (responses in request order)
//! ```
//!
//! Kafka answers one connection's requests in order; a client may pipeline several. The reader
//! handles them one at a time while a separate writer sends finished responses, so reading the
//! next request overlaps writing the last answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::dispatch;
use crate::frame::ResponseFrame;
use crate::server::BrokerState;

/// Counts open connections so that shutdown can wait for them to finish their last request.
#[derive(Default)]
pub(crate) struct Connections {
    open: std::sync::atomic::AtomicUsize,
    closed: tokio::sync::Notify,
}

/// Held by a connection task while it runs.
pub(crate) struct OpenConnection(Arc<Connections>);

impl Connections {
    fn open(self: &Arc<Self>) -> OpenConnection {
        self.open.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        OpenConnection(Arc::clone(self))
    }

    /// Waits until every connection task has ended, or `timeout` passes.
    pub(crate) async fn wait_closed(&self, timeout: Duration) {
        let all_closed = async {
            loop {
                // Register for the wake-up before looking at the count, so that a connection
                // closing in between cannot be missed.
                let notified = self.closed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.open.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, all_closed).await;
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if self
            .0
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.closed.notify_waiters();
        }
    }
}

/// How long the rest of a request frame may take to arrive once its size has been read.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&state.connection_slots).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.changed() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let open = state.connections.open();
                tokio::spawn(async move {
                    serve(stream, peer, state).await;
                    drop(permit);
                    drop(open);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why a connection was closed by the broker.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloseReason {
    #[error("frame of {0} bytes exceeds socket.request.max.bytes={1}")]
    FrameTooLarge(i64, usize),
    #[error("idle for longer than connections.max.idle.ms={0}")]
    Idle(u64),
    #[error("{0}")]
    BadRequest(String),
}

async fn serve(stream: TcpStream, peer: SocketAddr, state: Arc<BrokerState>) {
    let (mut reader, mut writer) = stream.into_split();
    // Two responses in flight at most (Kafka mutes a connection until its response is sent):
    // the reader may finish the next request while the writer sends the previous answer.
    let (tx, mut rx) = mpsc::channel::<ResponseFrame>(1);
    let idle = Duration::from_millis(state.config.connections_max_idle_ms);
    let mut writer_task = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            // A peer that stops reading (zero TCP window) is cut off after the idle time.
            match tokio::time::timeout(idle, frame.send(&mut writer)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "cannot send a response");
                    return;
                }
                Err(_) => return,
            }
        }
        let _ = tokio::time::timeout(idle, writer.shutdown()).await;
    });
    let mut shutdown = state.shutdown.clone();
    let reason = read_loop(&mut reader, peer, &state, &tx, &mut shutdown).await;
    match reason {
        Some(r) => tracing::info!(%peer, reason = %r, "closing connection"),
        None => tracing::debug!(%peer, "connection closed"),
    }
    drop(tx);
    if tokio::time::timeout(idle, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
}

/// Reads and handles requests until the peer goes away (`None`) or must be cut off.
async fn read_loop(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    state: &Arc<BrokerState>,
    tx: &mpsc::Sender<ResponseFrame>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<CloseReason> {
    let idle = Duration::from_millis(state.config.connections_max_idle_ms);
    let max = state.config.socket_request_max_bytes;
    loop {
        // Shutdown is noticed between requests only, so that a request being handled (an
        // append in particular) always finishes and is answered.
        if *shutdown.borrow() {
            return None;
        }
        let mut len_buf = [0u8; 4];
        let read = tokio::select! {
            biased;
            _ = shutdown.changed() => return None,
            r = tokio::time::timeout(idle, reader.read_exact(&mut len_buf)) => r,
        };
        match read {
            Err(_) => return Some(CloseReason::Idle(state.config.connections_max_idle_ms)),
            Ok(Err(_)) => return None,
            Ok(Ok(_)) => {}
        }
        let len = i32::from_be_bytes(len_buf);
        if len < 0 || len as usize > max {
            return Some(CloseReason::FrameTooLarge(i64::from(len), max));
        }
        let len = len as usize;
        // Memory for the frame is reserved before it is read: a flood of large requests waits
        // here instead of growing the heap.
        let Ok(memory) = Arc::clone(&state.request_memory)
            .acquire_many_owned(len.max(1) as u32)
            .await
        else {
            return None;
        };
        let mut frame = BytesMut::zeroed(len);
        // The body of a request that has started must keep arriving: a sender that stalls
        // mid-frame for BODY_TIMEOUT would otherwise hold its memory reservation for
        // connections.max.idle.ms. A slow but moving sender is never cut off.
        let stall = idle.min(BODY_TIMEOUT);
        let mut filled = 0;
        while filled < len {
            match tokio::time::timeout(stall, reader.read(&mut frame[filled..])).await {
                Err(_) => return Some(CloseReason::Idle(stall.as_millis() as u64)),
                Ok(Err(_)) | Ok(Ok(0)) => return None,
                Ok(Ok(n)) => filled += n,
            }
        }
        let Ok(slot) = Arc::clone(&state.request_slots).acquire_owned().await else {
            return None;
        };
        let permits = dispatch::Permits {
            _memory: memory,
            _slot: slot,
        };
        let response = dispatch::handle(state, peer, frame.freeze(), permits).await;
        match response {
            Ok(Some(bytes)) => {
                // A client that stops reading its responses is cut off after the idle time
                // rather than holding its queued responses forever.
                match tokio::time::timeout(idle, tx.send(bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => return Some(CloseReason::Idle(state.config.connections_max_idle_ms)),
                }
            }
            Ok(None) => {}
            Err(reason) => return Some(reason),
        }
    }
}
