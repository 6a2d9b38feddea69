//! A private PostgreSQL server for tests: Debian's binaries (`/usr/lib/postgresql/*/bin`, from
//! `scripts/install-test-deps.sh`), a fresh cluster made by `initdb` in a temporary directory,
//! listening on 127.0.0.1 at a free port with `trust` authentication, stopped and removed when
//! the [`Postgres`] is dropped.
//!
//! PostgreSQL refuses to run as root; when the tests run as root, `initdb` and `postgres` run as
//! the `postgres` user (which Debian's package creates) and the directory is handed to it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL server with its own data directory.
pub struct Postgres {
    child: Option<Child>,
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// The uid and gid the server runs as, when the tests run as root.
    run_as: Option<(u32, u32)>,
    /// Holds the data and socket directories; removed on drop, after the server stopped.
    _dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with an `initdb`.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/install-test-deps.sh",
    )
}

/// Whether this process runs as root (the owner of a file it just made).
fn running_as_root(probe: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(probe)
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl Postgres {
    /// Makes a cluster and starts the server; waits until it accepts connections (60 s at most).
    /// Blocking: from async code call [`Postgres::start_async`].
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("tributary-pg-")
            .tempdir()
            .expect("a temp dir");
        let run_as = if running_as_root(dir.path()) {
            let ids = crate::services::user_ids("postgres").expect(
                "running as root needs the postgres user (Debian's postgresql package makes it)",
            );
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .expect("the temp dir handed to the postgres user");
            Some(ids)
        } else {
            None
        };
        let data = dir.path().join("data");
        let command = |program: &str| {
            let mut c = Command::new(bin.join(program));
            if let Some((uid, gid)) = run_as {
                c.uid(uid).gid(gid);
            }
            c.env("LC_ALL", "C");
            c
        };
        let out = command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            child: None,
            bin,
            data,
            port: crate::free_port(),
            run_as,
            _dir: dir,
        };
        pg.spawn_server();
        pg
    }

    /// Starts the server process on the cluster and waits until it is ready.
    fn spawn_server(&mut self) {
        let log_path = self._dir.path().join("postgres.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut c = Command::new(self.bin.join("postgres"));
        if let Some((uid, gid)) = self.run_as {
            let _ = std::os::unix::fs::chown(&log_path, Some(uid), Some(gid));
            c.uid(uid).gid(gid);
        }
        let child = c
            .env("LC_ALL", "C")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(self._dir.path())
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=60",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60));
    }

    /// Stops the server (every connection to it is cut), then starts it again on the same port
    /// and data. Blocking.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_server();
    }

    fn stop(&mut self) {
        // a fast shutdown releases the shared memory; a kill is the fallback
        let mut stop = Command::new(self.bin.join("pg_ctl"));
        if let Some((uid, gid)) = self.run_as {
            stop.uid(uid).gid(gid);
        }
        let _ = stop
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "20"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// [`Postgres::start`] on a blocking thread.
    pub async fn start_async() -> Postgres {
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .expect("the PostgreSQL start thread finishes")
    }

    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            let log =
                std::fs::read_to_string(self._dir.path().join("postgres.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not become ready on port {}: {log}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser (`postgres`, no password).
    pub fn user(&self) -> &'static str {
        "postgres"
    }

    /// A JDBC URL of a database on this server: `jdbc:postgresql://127.0.0.1:PORT/DB`.
    pub fn jdbc_url(&self, database: &str) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/{database}", self.port)
    }

    /// A libpq connection string of a database (what `tokio_postgres::connect` takes).
    pub fn conn_str(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
