//! `FileStreamSinkConnector`: tasks that append each record's value, as text, one per line,
//! to `file` (stdout without one).

use futures::future::BoxFuture;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tributary_connect::config::{Config, ConfigExt};
use tributary_connect::connector::{
    ConfigKey, ConfigType, ConnectError, Importance, SinkConnector, SinkTask, SinkTaskContext,
    TopicPartitionOffsets,
};
use tributary_connect::record::ConnectRecord;

/// The settings, as Kafka's connector defines them.
pub(crate) const CONFIG: &[ConfigKey] = &[ConfigKey::optional_null(
    "file",
    ConfigType::String,
    Importance::High,
    "Destination filename. If not specified, the standard output will be used",
)];

/// Kafka's FileStreamSinkConnector.
#[derive(Default)]
pub struct FileStreamSinkConnector {
    config: Config,
}

impl SinkConnector for FileStreamSinkConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(FileStreamSinkTask::default())
    }
}

/// Kafka's FileStreamSinkTask.
#[derive(Default)]
pub struct FileStreamSinkTask {
    output: Option<Box<dyn AsyncWrite + Send + Unpin>>,
}

impl SinkTask for FileStreamSinkTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        _context: std::sync::Arc<dyn SinkTaskContext>,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            self.output = Some(match config.string_opt("file").filter(|f| !f.is_empty()) {
                None => Box::new(tokio::io::stdout()),
                Some(f) => Box::new(
                    tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&f)
                        .await
                        .map_err(|e| {
                            ConnectError::Fatal(format!(
                                "Couldn't find or create file '{f}' for FileStreamSinkTask: {e}"
                            ))
                        })?,
                ),
            });
            Ok(())
        })
    }

    fn put<'a>(
        &'a mut self,
        records: &'a [ConnectRecord],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let mut text = String::new();
            for r in records {
                // Java's println(Object): the value's toString, "null" for none
                text.push_str(&r.value.to_string());
                text.push('\n');
            }
            let out = self
                .output
                .as_mut()
                .ok_or_else(|| ConnectError::Fatal("the task is not started".into()))?;
            out.write_all(text.as_bytes())
                .await
                .map_err(|e| ConnectError::Retriable(format!("Failed to write to the file: {e}")))
        })
    }

    fn flush<'a>(
        &'a mut self,
        _offsets: &'a TopicPartitionOffsets,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            if let Some(out) = self.output.as_mut() {
                out.flush().await.map_err(|e| {
                    ConnectError::Retriable(format!("Failed to flush the file: {e}"))
                })?;
            }
            Ok(())
        })
    }

    fn stop(&mut self) {
        self.output = None;
    }
}
