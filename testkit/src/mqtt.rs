//! A private MQTT broker for tests: Debian's `mosquitto` (from `scripts/install-test-deps.sh`;
//! it lives in `/usr/sbin`) with a generated config: a listener on 127.0.0.1 at a free port,
//! anonymous clients allowed, persistence in a temporary directory. Killed when the
//! [`MqttBroker`] is dropped.
//!
//! Started as root, mosquitto drops to the `mosquitto` user (which Debian's package creates),
//! so the directory is handed to that user.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mosquitto` of its own.
pub struct MqttBroker {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    /// The config, the persistence file and the log; removed on drop, after the broker stopped.
    dir: tempfile::TempDir,
}

impl MqttBroker {
    /// Writes the config and starts the broker; waits until it accepts connections (30 s at
    /// most). Blocking: from async code call [`MqttBroker::start_async`].
    pub fn start() -> MqttBroker {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::Builder::new()
            .prefix("tributary-mqtt-")
            .tempdir()
            .expect("a temp dir");
        let port = crate::free_port();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the persistence directory");
        let as_root = std::fs::metadata(dir.path()).is_ok_and(|m| m.uid() == 0);
        if as_root {
            if let Some((uid, gid)) = crate::services::user_ids("mosquitto") {
                for p in [dir.path(), data.as_path()] {
                    std::os::unix::fs::chown(p, Some(uid), Some(gid))
                        .expect("the temp dir handed to the mosquitto user");
                }
            }
        }
        let config = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
            data.display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), config).expect("the config written");
        let mut broker = MqttBroker {
            child: None,
            binary: crate::services::binary(
                "mosquitto",
                &["/usr/sbin", "/usr/local/sbin", "/usr/bin"],
                "mosquitto",
            ),
            port,
            dir,
        };
        broker.spawn();
        broker
    }

    /// [`MqttBroker::start`] on a blocking thread.
    pub async fn start_async() -> MqttBroker {
        tokio::task::spawn_blocking(MqttBroker::start)
            .await
            .expect("the mosquitto start thread finishes")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            assert!(!exited, "mosquitto exited: {}", self.log());
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on port {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the broker: SIGTERM (it saves its persistent sessions and queued messages), then
    /// SIGKILL if it has not exited within 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker and starts it again on the same port and persistence. Blocking.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `tcp://127.0.0.1:PORT` (what `mqtt.server.uri` takes).
    pub fn uri(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// What the broker logged so far.
    pub fn log_text(&self) -> String {
        self.log()
    }
}

impl Drop for MqttBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
