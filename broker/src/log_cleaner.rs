//! The log cleaner threads (`log.cleaner.threads`): they pick the compacted log that most needs
//! it (Kafka's "filthiest" log: a forced one first, then the highest dirty ratio at or above
//! `min.cleanable.dirty.ratio`) and compact it with [`crate::log`]'s cleaner, sleeping
//! `log.cleaner.backoff.ms` when none does.
//!
//! The threads are plain OS threads: cleaning is long, blocking file work. A log whose
//! cleaning fails (corrupt data) is marked uncleanable until the broker restarts, as Kafka
//! does, so that one bad log does not stop the others.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::config::CleanerConfig;
use crate::log::{OffsetMap, Throttler};
use crate::partition::Partition;
use crate::replica_manager::{now_ms, ReplicaManager};

/// A partition by topic id, so that a topic deleted and re-created under its name starts afresh.
type Key = (uuid::Uuid, i32);

/// Counters of what the cleaner did since start.
#[derive(Debug, Default)]
pub struct CleanerMetrics {
    /// Completed passes.
    pub passes: AtomicU64,
    /// Bytes read by passes.
    pub bytes_read: AtomicU64,
    /// Bytes written by passes.
    pub bytes_written: AtomicU64,
    /// Records removed by passes.
    pub records_removed: AtomicU64,
    /// Passes that failed.
    pub failures: AtomicU64,
}

struct Shared {
    replicas: Weak<ReplicaManager>,
    config: CleanerConfig,
    stop: Arc<AtomicBool>,
    wake: Mutex<bool>,
    wakeup: Condvar,
    in_progress: Mutex<HashSet<Key>>,
    uncleanable: Mutex<HashSet<Key>>,
    metrics: CleanerMetrics,
}

/// The running cleaner. Dropping it stops the threads (a pass in progress is abandoned; its
/// partial file is discarded).
pub struct LogCleaner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl LogCleaner {
    /// Starts `log.cleaner.threads` threads over the partitions of `replicas` (none when
    /// `log.cleaner.enable` is false).
    pub fn start(replicas: &Arc<ReplicaManager>, config: CleanerConfig) -> LogCleaner {
        let shared = Arc::new(Shared {
            replicas: Arc::downgrade(replicas),
            stop: Arc::new(AtomicBool::new(false)),
            wake: Mutex::new(false),
            wakeup: Condvar::new(),
            in_progress: Mutex::default(),
            uncleanable: Mutex::default(),
            metrics: CleanerMetrics::default(),
            config,
        });
        let count = if shared.config.enable {
            shared.config.threads.max(1)
        } else {
            0
        };
        let threads = (0..count)
            .filter_map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("log-cleaner-{i}"))
                    .spawn(move || run(&shared))
                    .map_err(|e| tracing::error!(error = %e, "cannot start a log cleaner thread"))
                    .ok()
            })
            .collect();
        LogCleaner { shared, threads }
    }

    /// What the cleaner did so far.
    pub fn metrics(&self) -> &CleanerMetrics {
        &self.shared.metrics
    }

    /// Makes idle threads look for work now instead of after their backoff.
    pub fn wake(&self) {
        *self.shared.wake.lock() = true;
        self.shared.wakeup.notify_all();
    }

    /// Stops the threads and waits for them.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.wake();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for LogCleaner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared) {
    lower_priority();
    let threads = shared.config.threads.max(1) as u64;
    let mut map = OffsetMap::new(
        shared.config.dedupe_buffer_size / threads,
        shared.config.load_factor,
    );
    let throttle = Throttler::new(shared.config.io_max_bytes_per_second / threads as f64)
        .with_stop(Arc::clone(&shared.stop));
    while !shared.stop.load(Ordering::Acquire) {
        let worked = match pick(shared) {
            Some(p) => {
                clean_one(shared, &p, &mut map, &throttle);
                true
            }
            None => false,
        };
        if !worked {
            let mut woken = shared.wake.lock();
            if !*woken {
                let backoff = Duration::from_millis(shared.config.backoff_ms.max(1));
                shared.wakeup.wait_for(&mut woken, backoff);
            }
            *woken = false;
        }
    }
}

/// Cleaning is background work: the cleaner threads run at the lowest priority (nice 19), so
/// request threads get the CPU first and the cleaner uses what is left.
fn lower_priority() {
    use thread_priority::{set_current_thread_priority, ThreadPriority};
    if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::warn!(error = ?e, "cannot lower the log cleaner's priority");
    }
}

/// The partition most in need of cleaning, marked in progress.
fn pick(shared: &Shared) -> Option<Arc<Partition>> {
    let replicas = shared.replicas.upgrade()?;
    let now = now_ms();
    let mut in_progress = shared.in_progress.lock();
    let uncleanable = shared.uncleanable.lock();
    let mut best: Option<(bool, f64, Arc<Partition>)> = None;
    for p in replicas.all() {
        let key: Key = (p.topic_id, p.index);
        if in_progress.contains(&key) || uncleanable.contains(&key) {
            continue;
        }
        let Some(c) = p.cleanable(now) else { continue };
        if best
            .as_ref()
            .is_none_or(|(f, r, _)| (c.forced, c.dirty_ratio) > (*f, *r))
        {
            best = Some((c.forced, c.dirty_ratio, p));
        }
    }
    let (_, _, p) = best?;
    in_progress.insert((p.topic_id, p.index));
    Some(p)
}

fn clean_one(shared: &Shared, p: &Arc<Partition>, map: &mut OffsetMap, throttle: &Throttler) {
    let key: Key = (p.topic_id, p.index);
    let started = std::time::Instant::now();
    match p.clean(map, throttle, now_ms()) {
        Ok(Some(stats)) => {
            let m = &shared.metrics;
            m.passes.fetch_add(1, Ordering::Relaxed);
            m.bytes_read.fetch_add(stats.bytes_read, Ordering::Relaxed);
            m.bytes_written
                .fetch_add(stats.bytes_written, Ordering::Relaxed);
            m.records_removed
                .fetch_add(stats.records_removed, Ordering::Relaxed);
            let ms = started.elapsed().as_millis() as u64;
            tracing::info!(
                topic = %p.topic,
                partition = p.index,
                cleaned = stats.bytes_cleaned,
                mb_per_sec = format!("{:.1}", stats.bytes_cleaned as f64 / 1e3 / ms.max(1) as f64),
                read = stats.bytes_read,
                written = stats.bytes_written,
                removed = stats.records_removed,
                cleaned_up_to = stats.cleaned_up_to,
                ms,
                "log cleaned"
            );
        }
        Ok(None) => {}
        Err(e) if shared.stop.load(Ordering::Acquire) || p.is_deleted() => {
            tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "cleaning stopped by shutdown");
        }
        Err(e) => {
            shared.metrics.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, "log cleaning failed; the log is marked uncleanable until restart");
            shared.uncleanable.lock().insert(key);
        }
    }
    shared.in_progress.lock().remove(&key);
}
