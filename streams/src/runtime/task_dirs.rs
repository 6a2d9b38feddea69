//! Which of an instance's threads holds each task's state directory (Kafka Streams' task
//! directory locks). A task that moves from one thread to another within the instance is
//! closed by the first (its checkpoint written, its files closed) while the second starts it:
//! the second waits for the first's lock, so that it reads the checkpoint the first wrote and
//! finds the files closed. Other processes are kept out by the lock on the application's
//! directory.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::assignor::TaskId;
use crate::processor::StreamsError;

/// The task directories held in this instance.
#[derive(Default)]
pub(crate) struct TaskDirs {
    held: Mutex<HashSet<TaskId>>,
    released: Condvar,
}

/// The lock on one task's directory, released when dropped (with the task that holds it).
pub(crate) struct TaskDirLock {
    dirs: Arc<TaskDirs>,
    id: TaskId,
}

impl TaskDirs {
    /// Takes task `id`'s directory, waiting at most `timeout` for the thread that holds it.
    pub fn lock(
        dirs: &Arc<TaskDirs>,
        id: TaskId,
        timeout: Duration,
    ) -> Result<TaskDirLock, StreamsError> {
        let deadline = Instant::now() + timeout;
        let mut held = dirs
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while held.contains(&id) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StreamsError::Kafka(format!(
                    "the state directory of task {id} is still held by another stream thread after {} ms",
                    timeout.as_millis()
                )));
            }
            held = dirs
                .released
                .wait_timeout(held, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        held.insert(id);
        Ok(TaskDirLock {
            dirs: Arc::clone(dirs),
            id,
        })
    }
}

impl Drop for TaskDirLock {
    fn drop(&mut self) {
        self.dirs
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
        self.dirs.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_directory_is_held_by_one_thread_at_a_time() {
        let dirs = Arc::new(TaskDirs::default());
        let id = TaskId {
            subtopology: 0,
            partition: 1,
        };
        let first = TaskDirs::lock(&dirs, id, Duration::from_secs(1)).unwrap();
        let other = TaskId {
            subtopology: 1,
            partition: 1,
        };
        // another task's directory is free
        drop(TaskDirs::lock(&dirs, other, Duration::ZERO).unwrap());
        let err = TaskDirs::lock(&dirs, id, Duration::from_millis(20))
            .err()
            .unwrap();
        assert!(err.to_string().contains("task 0_1"), "{err}");
        // the second taker waits for the first to let go
        let waiter = {
            let dirs = Arc::clone(&dirs);
            std::thread::spawn(move || TaskDirs::lock(&dirs, id, Duration::from_secs(10)).is_ok())
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(first);
        assert!(waiter.join().unwrap());
    }
}
