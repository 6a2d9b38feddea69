//! A private Redis server for tests: Debian's `redis-server` (from
//! `scripts/install-test-deps.sh`) on 127.0.0.1 at a free port, nothing saved to disk
//! (`--save ''`), its working directory a temporary one, killed when the [`RedisServer`] is
//! dropped.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` of its own.
pub struct RedisServer {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    /// The working directory and the log; removed on drop, after the server stopped.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING` (30 s at most). Blocking: from async
    /// code call [`RedisServer::start_async`].
    pub fn start() -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("tributary-redis-")
            .tempdir()
            .expect("a temp dir");
        let mut server = RedisServer {
            child: None,
            binary: crate::services::binary(
                "redis-server",
                &["/usr/bin", "/usr/local/bin"],
                "redis-server",
            ),
            port: crate::free_port(),
            dir,
        };
        server.spawn();
        server
    }

    /// [`RedisServer::start`] on a blocking thread.
    pub async fn start_async() -> RedisServer {
        tokio::task::spawn_blocking(RedisServer::start)
            .await
            .expect("the Redis start thread finishes")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(30));
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 5];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut answer).is_ok() && &answer == b"+PONG"
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.ping() {
            let exited = self
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            let log =
                || std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
            assert!(!exited, "redis-server exited: {}", log());
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {}: {}",
                self.port,
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL: every connection is cut, and with nothing saved, the data
    /// is gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (killing it first if it runs).
    /// Blocking.
    pub fn start_again(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT` (what `redis.hosts` takes).
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:PORT/DB`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
