//! `RedisSinkConnector`: each task writes the records it gets to one Redis server.
//!
//! ```text
//!  put(records) ─▶ per record: key bytes + (value bytes │ hash fields │ tombstone)
//!     ─▶ MULTI · SET k v │ DEL k + HSET k f v .. │ DEL k · ... · EXEC  (one round trip)
//!     ─▶ EXEC answered: every write of the batch is applied (put returns only then)
//!     └▶ connection lost / refused / timed out: RetriableException, the worker hands the
//!        same batch again (the connection is made again first)
//!  a record that cannot be written (no key, a struct value for SET, ...) ─▶ errant record
//!  reporter (dead letter queue with errors.tolerance=all, otherwise the task fails)
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{
    ConfigKey, ConfigType, ConnectError, Importance, SinkConnector, SinkTask, SinkTaskContext,
};
use tributary_connect::data::Value;
use tributary_connect::record::ConnectRecord;

/// The settings.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::optional(
        "redis.hosts",
        ConfigType::List,
        "localhost:6379",
        Importance::High,
        "The Redis hosts to connect to, host:port; in Standalone mode the first that answers is used",
    ),
    ConfigKey::optional(
        "redis.client.mode",
        ConfigType::String,
        "Standalone",
        Importance::Medium,
        "How to talk to Redis: Standalone (Cluster is not supported)",
    ),
    ConfigKey::optional(
        "redis.database",
        ConfigType::Int,
        "1",
        Importance::Medium,
        "The Redis database to write to",
    ),
    ConfigKey::optional_null(
        "redis.username",
        ConfigType::String,
        Importance::Medium,
        "The user to authenticate as (Redis 6 ACLs); blank for the default user",
    ),
    ConfigKey::optional(
        "redis.password",
        ConfigType::Password,
        "",
        Importance::Medium,
        "The password to authenticate with; blank for none",
    ),
    ConfigKey::optional(
        "redis.command",
        ConfigType::String,
        "SET",
        Importance::High,
        "SET: the value's bytes under the key; HSET: a struct or map value as the fields of a hash",
    ),
    ConfigKey::optional(
        "redis.ssl.enabled",
        ConfigType::Boolean,
        "false",
        Importance::Medium,
        "TLS to Redis (not supported: must be false)",
    ),
    ConfigKey::optional(
        "redis.charset",
        ConfigType::String,
        "UTF-8",
        Importance::Low,
        "The character set of string keys and values (UTF-8)",
    ),
    ConfigKey::optional(
        "redis.operation.timeout.ms",
        ConfigType::Long,
        "10000",
        Importance::Medium,
        "How long to wait for Redis to answer a batch",
    ),
    ConfigKey::optional(
        "redis.socket.connect.timeout.ms",
        ConfigType::Int,
        "10000",
        Importance::Low,
        "How long to wait for a connection",
    ),
];

/// The Redis sink connector.
#[derive(Default)]
pub struct RedisSinkConnector {
    config: Config,
}

impl SinkConnector for RedisSinkConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        Settings::from_config(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(RedisSinkTask::default())
    }
}

/// How a record's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    /// `SET key value`.
    Set,
    /// `HSET key field value ...` (the hash replaced by the record's fields).
    Hset,
}

/// The parsed settings.
#[derive(Clone, Debug)]
struct Settings {
    hosts: Vec<(String, u16)>,
    database: i64,
    username: Option<String>,
    password: Option<String>,
    command: Command,
    operation_timeout: Duration,
    connect_timeout: Duration,
}

/// `host:port`, `host` (port 6379) or `[v6]:port`.
fn parse_host(text: &str) -> Result<(String, u16), ConfigError> {
    let bad = |why: &str| ConfigError::invalid("redis.hosts", text, why);
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("Expected [address]:port"))?;
        (h, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(bad("Expected host:port"));
    }
    let port = match port {
        None => 6379,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("The port must be a number from 1 to 65535"))?,
    };
    Ok((host.to_string(), port))
}

impl Settings {
    fn from_config(c: &Config) -> Result<Settings, ConfigError> {
        let hosts = c
            .list_or("redis.hosts", &["localhost:6379"])
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| parse_host(h))
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            return Err(ConfigError::invalid(
                "redis.hosts",
                "",
                "At least one host:port is needed",
            ));
        }
        let mode = c.choice_or(
            "redis.client.mode",
            "Standalone",
            &["Standalone", "Cluster"],
        )?;
        if mode == "Cluster" {
            return Err(ConfigError::invalid(
                "redis.client.mode",
                &mode,
                "Cluster mode is not supported; use Standalone",
            ));
        }
        let database = c.int_or("redis.database", 1)?;
        if database < 0 {
            return Err(ConfigError::invalid(
                "redis.database",
                &database.to_string(),
                "Value must be at least 0",
            ));
        }
        if c.bool_or("redis.ssl.enabled", false)? {
            return Err(ConfigError::invalid(
                "redis.ssl.enabled",
                "true",
                "TLS connections to Redis are not supported",
            ));
        }
        let charset = c.string_or("redis.charset", "UTF-8");
        if !charset.eq_ignore_ascii_case("UTF-8") && !charset.eq_ignore_ascii_case("UTF8") {
            return Err(ConfigError::invalid(
                "redis.charset",
                &charset,
                "Only UTF-8 is supported",
            ));
        }
        let command = match c
            .choice_or("redis.command", "SET", &["SET", "HSET"])?
            .as_str()
        {
            "HSET" => Command::Hset,
            _ => Command::Set,
        };
        let operation_timeout = c.long_or("redis.operation.timeout.ms", 10_000)?;
        if operation_timeout < 1 {
            return Err(ConfigError::invalid(
                "redis.operation.timeout.ms",
                &operation_timeout.to_string(),
                "Value must be at least 1",
            ));
        }
        let connect_timeout = c.int_or("redis.socket.connect.timeout.ms", 10_000)?;
        if connect_timeout < 1 {
            return Err(ConfigError::invalid(
                "redis.socket.connect.timeout.ms",
                &connect_timeout.to_string(),
                "Value must be at least 1",
            ));
        }
        let nonblank = |name: &str| c.string_opt(name).filter(|v| !v.is_empty());
        Ok(Settings {
            hosts,
            database: i64::from(database),
            username: nonblank("redis.username"),
            password: nonblank("redis.password"),
            command,
            operation_timeout: Duration::from_millis(operation_timeout as u64),
            connect_timeout: Duration::from_millis(connect_timeout as u64),
        })
    }
}

/// One write.
#[derive(Debug, PartialEq)]
enum Op {
    /// `SET key value`.
    Set(Vec<u8>, Vec<u8>),
    /// `DEL key` then `HSET key f1 v1 f2 v2 ...` (only `DEL` without fields).
    Hash(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>),
    /// `DEL key`.
    Delete(Vec<u8>),
}

/// The bytes of a primitive value: a byte array as it is, a string as UTF-8, a number or
/// boolean as its text (Java's `toString`); `None` for null, structs, maps and arrays.
fn scalar_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null | Value::Struct(_) | Value::Map(_) | Value::Array(_) => None,
        Value::Bytes(b) => Some(b.clone()),
        Value::String(s) => Some(s.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}

/// A hash field's value: a scalar's bytes, or the text of a nested struct, map or array.
fn field_bytes(v: &Value) -> Vec<u8> {
    scalar_bytes(v).unwrap_or_else(|| v.to_string().into_bytes())
}

/// The write a record asks for, or why it cannot be written.
fn op_of(command: Command, r: &ConnectRecord) -> Result<Op, String> {
    let key = scalar_bytes(&r.key).ok_or_else(|| {
        if r.key.is_null() {
            "The record has no key; Redis needs one".to_string()
        } else {
            format!(
                "The record's key must be a string, bytes or a number to be a Redis key, not {}",
                r.key.java_class()
            )
        }
    })?;
    if r.value.is_null() {
        return Ok(Op::Delete(key));
    }
    match command {
        Command::Set => {
            let value = scalar_bytes(&r.value).ok_or_else(|| {
                format!(
                    "redis.command=SET writes string or bytes values, not {}; use HSET for structs and maps",
                    r.value.java_class()
                )
            })?;
            Ok(Op::Set(key, value))
        }
        Command::Hset => {
            let fields: Vec<(Vec<u8>, Vec<u8>)> = match &r.value {
                Value::Struct(s) => s
                    .schema()
                    .fields()
                    .iter()
                    .filter_map(|f| {
                        let v = s.get(f.name()).ok()?;
                        (!v.is_null()).then(|| (f.name().as_bytes().to_vec(), field_bytes(v)))
                    })
                    .collect(),
                Value::Map(entries) => entries
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (field_bytes(k), field_bytes(v)))
                    .collect(),
                other => {
                    return Err(format!(
                        "redis.command=HSET writes struct or map values, not {}",
                        other.java_class()
                    ))
                }
            };
            Ok(Op::Hash(key, fields))
        }
    }
}

/// Whether trying again (on a new connection) can help.
fn is_retriable(e: &redis::RedisError) -> bool {
    use redis::ErrorKind as K;
    if matches!(
        e.kind(),
        K::AuthenticationFailed | K::ParseError | K::InvalidClientConfig
    ) {
        // the client would reconnect, but the same credentials fail the same way
        return false;
    }
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            K::BusyLoadingError | K::TryAgain | K::ClusterDown | K::MasterDown | K::ReadOnly
        )
}

/// The Redis sink task.
#[derive(Default)]
pub struct RedisSinkTask {
    settings: Option<Settings>,
    context: Option<Arc<dyn SinkTaskContext>>,
    connection: Option<redis::aio::MultiplexedConnection>,
}

impl RedisSinkTask {
    /// The open connection, or a new one to the first host that answers.
    async fn connection(&mut self) -> Result<&mut redis::aio::MultiplexedConnection, ConnectError> {
        if self.connection.is_none() {
            let s = self
                .settings
                .as_ref()
                .ok_or_else(|| ConnectError::Fatal("the task is not started".into()))?;
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(s.connect_timeout)
                .set_response_timeout(s.operation_timeout);
            let mut errors = Vec::new();
            for (host, port) in &s.hosts {
                let info = redis::ConnectionInfo {
                    addr: redis::ConnectionAddr::Tcp(host.clone(), *port),
                    redis: redis::RedisConnectionInfo {
                        db: s.database,
                        username: s.username.clone(),
                        password: s.password.clone(),
                        ..Default::default()
                    },
                };
                let client = redis::Client::open(info).map_err(|e| {
                    ConnectError::Fatal(format!("Invalid Redis address {host}:{port}: {e}"))
                })?;
                match client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(c) => {
                        tracing::debug!(host = %host, port, db = s.database, "connected to Redis");
                        self.connection = Some(c);
                        break;
                    }
                    Err(e) if is_retriable(&e) => errors.push(format!("{host}:{port}: {e}")),
                    // a wrong password or database answers the same from every host
                    Err(e) => {
                        return Err(ConnectError::Fatal(format!(
                            "Redis at {host}:{port} refused the connection: {e}"
                        )))
                    }
                }
            }
            if self.connection.is_none() {
                return Err(ConnectError::Retriable(format!(
                    "Could not connect to Redis ({})",
                    errors.join("; ")
                )));
            }
        }
        self.connection
            .as_mut()
            .ok_or_else(|| ConnectError::Retriable("no Redis connection".into()))
    }

    /// Writes the ops in one MULTI/EXEC transaction and waits for its answer.
    async fn write(&mut self, ops: &[Op]) -> Result<(), ConnectError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    pipe.cmd("SET").arg(k).arg(v).ignore();
                }
                Op::Hash(k, fields) => {
                    pipe.cmd("DEL").arg(k).ignore();
                    if !fields.is_empty() {
                        let hset = pipe.cmd("HSET").arg(k);
                        for (f, v) in fields {
                            hset.arg(f).arg(v);
                        }
                        hset.ignore();
                    }
                }
                Op::Delete(k) => {
                    pipe.cmd("DEL").arg(k).ignore();
                }
            }
        }
        let conn = self.connection().await?;
        match pipe.query_async::<()>(conn).await {
            Ok(()) => Ok(()),
            Err(e) if is_retriable(&e) => {
                // the next attempt starts from a new connection
                self.connection = None;
                Err(ConnectError::Retriable(format!(
                    "Writing {} records to Redis failed: {e}",
                    ops.len()
                )))
            }
            Err(e) => Err(ConnectError::Fatal(format!(
                "Redis refused a batch of {} records: {e}",
                ops.len()
            ))),
        }
    }
}

impl SinkTask for RedisSinkTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: Arc<dyn SinkTaskContext>,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            self.settings = Some(Settings::from_config(config)?);
            self.context = Some(context);
            // connect now so that a wrong password fails the task at once; an unreachable
            // server is only logged (put tries again)
            match self.connection().await {
                Ok(_) => Ok(()),
                Err(ConnectError::Retriable(e)) => {
                    tracing::warn!(error = %e, "Redis is not reachable yet; writes will retry");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
    }

    fn put<'a>(
        &'a mut self,
        records: &'a [ConnectRecord],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let command = self
                .settings
                .as_ref()
                .map(|s| s.command)
                .ok_or_else(|| ConnectError::Fatal("the task is not started".into()))?;
            let mut ops = Vec::with_capacity(records.len());
            for r in records {
                match op_of(command, r) {
                    Ok(op) => ops.push(op),
                    Err(why) => {
                        let context = self
                            .context
                            .clone()
                            .ok_or_else(|| ConnectError::Fatal(why.clone()))?;
                        context.report(r, &why).await?;
                    }
                }
            }
            if ops.is_empty() {
                return Ok(());
            }
            self.write(&ops).await
        })
    }

    /// Nothing is buffered: `put` returns once Redis has answered `EXEC` for the batch.
    fn flush<'a>(
        &'a mut self,
        _offsets: &'a tributary_connect::connector::TopicPartitionOffsets,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async { Ok(()) })
    }

    fn stop(&mut self) {
        self.connection = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type};

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_config(&Config::new()).unwrap();
        assert_eq!(s.hosts, vec![("localhost".to_string(), 6379)]);
        assert_eq!(s.database, 1);
        assert_eq!(s.command, Command::Set);
        assert_eq!(s.password, None);
        assert_eq!(s.username, None);
        assert_eq!(s.operation_timeout, Duration::from_secs(10));
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        let s = Settings::from_config(&config(&[
            ("redis.hosts", "10.0.0.1:7000, cache, [::1]:6380"),
            ("redis.database", "3"),
            ("redis.password", "secret"),
            ("redis.username", "app"),
            ("redis.command", "hset"),
            ("redis.client.mode", "standalone"),
        ]))
        .unwrap();
        assert_eq!(
            s.hosts,
            vec![
                ("10.0.0.1".to_string(), 7000),
                ("cache".to_string(), 6379),
                ("::1".to_string(), 6380)
            ]
        );
        assert_eq!(s.database, 3);
        assert_eq!(s.password.as_deref(), Some("secret"));
        assert_eq!(s.username.as_deref(), Some("app"));
        assert_eq!(s.command, Command::Hset);
        for bad in [
            ("redis.hosts", "host:notaport"),
            ("redis.hosts", ""),
            ("redis.hosts", ":6379"),
            ("redis.client.mode", "Cluster"),
            ("redis.client.mode", "Sentinel"),
            ("redis.database", "-1"),
            ("redis.database", "x"),
            ("redis.command", "LPUSH"),
            ("redis.ssl.enabled", "true"),
            ("redis.charset", "ISO-8859-1"),
            ("redis.operation.timeout.ms", "0"),
        ] {
            let e = Settings::from_config(&config(&[bad]));
            assert!(e.is_err(), "{bad:?} accepted");
            assert!(
                e.unwrap_err().message().contains(bad.0),
                "the message names {}",
                bad.0
            );
        }
    }

    fn record(key: Value, value: SchemaAndValue) -> ConnectRecord {
        ConnectRecord::source(
            Value::Null,
            Value::Null,
            "t",
            SchemaAndValue::new(None, key),
            value,
        )
    }

    #[test]
    fn records_become_writes() {
        let set =
            |k: Value, v: Value| op_of(Command::Set, &record(k, SchemaAndValue::new(None, v)));
        assert_eq!(
            set(Value::String("k".into()), Value::String("v".into())),
            Ok(Op::Set(b"k".to_vec(), b"v".to_vec()))
        );
        assert_eq!(
            set(Value::Bytes(vec![0, 255]), Value::Bytes(vec![1, 2])),
            Ok(Op::Set(vec![0, 255], vec![1, 2]))
        );
        assert_eq!(
            set(Value::Int64(7), Value::Float64(1.5)),
            Ok(Op::Set(b"7".to_vec(), b"1.5".to_vec()))
        );
        assert_eq!(
            set(Value::String("k".into()), Value::Null),
            Ok(Op::Delete(b"k".to_vec()))
        );
        assert!(set(Value::Null, Value::String("v".into())).is_err());
        assert!(set(
            Value::String("k".into()),
            Value::Map(vec![(Value::String("a".into()), Value::Int32(1))])
        )
        .is_err());

        let schema = SchemaBuilder::struct_()
            .field("name", Schema::primitive(Type::String))
            .unwrap()
            .field("age", Schema::optional(Type::Int32))
            .unwrap()
            .field("nick", Schema::optional(Type::String))
            .unwrap()
            .build();
        let mut s = Struct::new(schema.clone()).unwrap();
        s.put("name", Value::String("ada".into())).unwrap();
        s.put("age", Value::Int32(36)).unwrap();
        let hset = |v: Value| {
            op_of(
                Command::Hset,
                &record(
                    Value::String("user:1".into()),
                    SchemaAndValue::new(Some(schema.clone()), v),
                ),
            )
        };
        assert_eq!(
            hset(Value::Struct(s)),
            Ok(Op::Hash(
                b"user:1".to_vec(),
                vec![
                    (b"name".to_vec(), b"ada".to_vec()),
                    (b"age".to_vec(), b"36".to_vec())
                ]
            ))
        );
        assert_eq!(
            hset(Value::Map(vec![
                (Value::String("a".into()), Value::Boolean(true)),
                (Value::String("b".into()), Value::Null),
                (
                    Value::String("c".into()),
                    Value::Array(vec![Value::Int32(1), Value::Int32(2)])
                ),
            ])),
            Ok(Op::Hash(
                b"user:1".to_vec(),
                vec![
                    (b"a".to_vec(), b"true".to_vec()),
                    (b"c".to_vec(), b"[1, 2]".to_vec())
                ]
            ))
        );
        assert_eq!(hset(Value::Null), Ok(Op::Delete(b"user:1".to_vec())));
        assert!(hset(Value::String("flat".into())).is_err());
    }
}
