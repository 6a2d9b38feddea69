//! `FileStreamSourceConnector`: one task that reads lines of `file` (stdin without one) and
//! writes each as a string value to `topic`, `batch.size` lines at most per poll.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{
    ConfigKey, ConfigType, ConnectError, Importance, SourceConnector, SourceTask, SourceTaskContext,
};
use tributary_connect::data::{Schema, SchemaAndValue, Type, Value};
use tributary_connect::record::ConnectRecord;

/// The settings, as Kafka's connector defines them.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::optional_null("file", ConfigType::String, Importance::High, "Source filename. If not specified, the standard input will be used"),
    ConfigKey::required("topic", ConfigType::String, Importance::High, "The topic to publish data to"),
    ConfigKey::optional(
        "batch.size",
        ConfigType::Int,
        "2000",
        Importance::Low,
        "The maximum number of records the source task can read from the file each time it is polled",
    ),
];

/// How long a poll waits when there is nothing to read (Kafka waits one second).
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// How much one read of the file takes at most.
const READ_SIZE: usize = 64 * 1024;

/// Kafka's FileStreamSourceConnector.
#[derive(Default)]
pub struct FileStreamSourceConnector {
    config: Config,
}

impl SourceConnector for FileStreamSourceConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        let topics = config.list_or("topic", &[]);
        if !config.contains_key("topic") {
            return Err(ConfigError::missing("topic").into());
        }
        if topics.len() != 1 {
            return Err(ConfigError::new(
                "'topic' in FileStreamSourceConnector configuration requires definition of a single topic",
            )
            .into());
        }
        config.int_or("batch.size", 2000)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        // one task (a file is read in order), with the connector's config, as Kafka's
        Ok(vec![self.config.clone()])
    }

    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(FileStreamSourceTask::default())
    }

    /// As Kafka's: supported when reading a file (its offsets are exact), not stdin.
    fn exactly_once_support(&self, config: &Config) -> Option<bool> {
        Some(config.get("file").is_some_and(|f| !f.is_empty()))
    }
}

/// Kafka's FileStreamSourceTask.
#[derive(Default)]
pub struct FileStreamSourceTask {
    filename: Option<String>,
    topic: String,
    batch_size: usize,
    input: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The byte position after the last line handed out (`None` for stdin).
    position: Option<i64>,
    /// Read but not yet split into lines.
    buffer: Vec<u8>,
    /// Where the unread part of `buffer` starts (lines before it were handed out; the buffer
    /// is compacted before the next read, not per line).
    start: usize,
    /// The offset committed before the task started.
    start_offset: Option<i64>,
    eof: bool,
}

impl FileStreamSourceTask {
    fn partition(&self) -> Value {
        Value::Map(vec![(
            Value::String("filename".into()),
            self.filename.clone().map_or(Value::Null, Value::String),
        )])
    }

    async fn open(&mut self) -> Result<bool, ConnectError> {
        let Some(name) = &self.filename else {
            self.input = Some(Box::new(tokio::io::stdin()));
            return Ok(true);
        };
        let is_dir = tokio::fs::metadata(name).await.is_ok_and(|m| m.is_dir());
        match tokio::fs::File::open(name).await {
            // Java's FileInputStream cannot open a directory either (FileNotFoundException)
            Ok(_) if is_dir => {
                tracing::warn!(file = %name, "Couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created");
                Ok(false)
            }
            Ok(mut f) => {
                let position = self.start_offset.unwrap_or(0);
                if position > 0 {
                    f.seek(std::io::SeekFrom::Start(position as u64))
                        .await
                        .map_err(|e| {
                            ConnectError::Fatal(format!(
                                "Error while trying to seek to previous offset in file {name}: {e}"
                            ))
                        })?;
                }
                self.position = Some(position);
                self.input = Some(Box::new(f));
                tracing::debug!(file = %name, position, "opened for reading");
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %name, "Couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created");
                Ok(false)
            }
            Err(e) => Err(ConnectError::Fatal(format!(
                "Error while trying to open file {name}: {e}"
            ))),
        }
    }

    /// The next complete line of the buffer (ended by `\n`, `\r\n` or `\r`), if any.
    fn extract_line(&mut self) -> Option<String> {
        let unread = &self.buffer[self.start..];
        let i = memchr::memchr2(b'\n', b'\r', unread)?;
        let next = if unread[i] == b'\n' {
            i + 1
        } else if i + 1 < unread.len() {
            if unread[i + 1] == b'\n' {
                i + 2
            } else {
                i + 1
            }
        } else if self.eof {
            i + 1
        } else {
            // a final \r may be followed by \n in the next read
            return None;
        };
        let line = match std::str::from_utf8(&unread[..i]) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(&unread[..i]).into_owned(),
        };
        self.start += next;
        if let Some(p) = &mut self.position {
            *p += next as i64;
        }
        Some(line)
    }
}

impl SourceTask for FileStreamSourceTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: &'a dyn SourceTaskContext,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            self.filename = config.string_opt("file").filter(|f| !f.is_empty());
            self.topic = config.string("topic")?;
            self.batch_size = config.int_or("batch.size", 2000)?.max(1) as usize;
            if self.filename.is_some() {
                self.start_offset = match context.offset(&self.partition()) {
                    None => None,
                    Some(offset) => match offset.map_get("position") {
                        None | Some(Value::Null) => None,
                        Some(Value::Int64(p)) => Some(*p),
                        Some(_) => {
                            return Err(ConnectError::Fatal(
                                "Offset position is the incorrect type".into(),
                            ))
                        }
                    },
                };
            }
            Ok(())
        })
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<ConnectRecord>, ConnectError>> {
        Box::pin(async move {
            if self.input.is_none() && !self.open().await? {
                tokio::time::sleep(IDLE_WAIT).await;
                return Ok(Vec::new());
            }
            let mut records = Vec::with_capacity(self.batch_size.min(4096));
            // (the records of one poll are read at the same moment)
            let now = now_millis();
            loop {
                while records.len() < self.batch_size {
                    let Some(line) = self.extract_line() else {
                        break;
                    };
                    let offset = Value::Map(vec![(
                        Value::String("position".into()),
                        self.position.map_or(Value::Null, Value::Int64),
                    )]);
                    let mut r = ConnectRecord::source(
                        self.partition(),
                        offset,
                        self.topic.clone(),
                        SchemaAndValue::NULL,
                        SchemaAndValue::new(
                            Some(Schema::primitive(Type::String)),
                            Value::String(line),
                        ),
                    );
                    r.timestamp = Some(now);
                    records.push(r);
                }
                if records.len() >= self.batch_size {
                    return Ok(records);
                }
                // read what is there now, after the unread rest of the buffer; at the end of
                // the file, hand out what we have
                self.buffer.drain(..self.start);
                self.start = 0;
                self.buffer.reserve(READ_SIZE);
                let Some(input) = self.input.as_mut() else {
                    return Ok(records);
                };
                let read = input.read_buf(&mut self.buffer);
                let n = match tokio::time::timeout(Duration::from_millis(50), read).await {
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => {
                        return Err(ConnectError::Fatal(format!(
                            "Error reading from {}: {e}",
                            self.log_name()
                        )))
                    }
                    Err(_) => 0,
                };
                self.eof = n == 0;
                if n == 0 {
                    if records.is_empty() {
                        tokio::time::sleep(IDLE_WAIT).await;
                    }
                    return Ok(records);
                }
            }
        })
    }

    fn stop(&mut self) {
        self.input = None;
    }
}

impl FileStreamSourceTask {
    fn log_name(&self) -> &str {
        self.filename.as_deref().unwrap_or("stdin")
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
