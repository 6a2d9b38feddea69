//! `StreamsConfig`: an application's settings under Kafka Streams' property names, with Kafka's
//! defaults. Properties the library does not know are kept and passed to the Kafka clients
//! (`bootstrap.servers`, `security.protocol`, `consumer.`/`producer.` prefixed ones, ...).

use std::collections::BTreeMap;

use crate::processor::StreamsError;

/// `application.id`: names the consumer group, internal topics and the state directory.
pub const APPLICATION_ID: &str = "application.id";
/// `cache.max.bytes.buffering`: the bytes all write caches of an instance may hold.
pub const CACHE_MAX_BYTES_BUFFERING: &str = "cache.max.bytes.buffering";
/// `statestore.cache.max.bytes`: the newer name of `cache.max.bytes.buffering`.
pub const STATESTORE_CACHE_MAX_BYTES: &str = "statestore.cache.max.bytes";

/// Kafka Streams' default for the write caches: 10 MiB.
const DEFAULT_CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Settings by Kafka Streams' property names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamsConfig {
    props: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// No settings (every property at its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// These settings with `key` = `value`.
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key` = `value`.
    pub fn set(&mut self, key: &str, value: impl ToString) {
        self.props.insert(key.to_string(), value.to_string());
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Every property set, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.props.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `application.id`, which must be set.
    pub fn application_id(&self) -> Result<&str, StreamsError> {
        match self.get(APPLICATION_ID) {
            Some(id) if !id.is_empty() => Ok(id),
            _ => Err(StreamsError::Config(format!(
                "Missing required configuration \"{APPLICATION_ID}\" which has no default value."
            ))),
        }
    }

    /// The bytes the write caches may hold (`statestore.cache.max.bytes`, else
    /// `cache.max.bytes.buffering`, else 10 MiB).
    pub fn cache_max_bytes(&self) -> Result<usize, StreamsError> {
        for key in [STATESTORE_CACHE_MAX_BYTES, CACHE_MAX_BYTES_BUFFERING] {
            if let Some(v) = self.get(key) {
                return v.trim().parse::<usize>().map_err(|_| {
                    StreamsError::Config(format!(
                        "Invalid value {v} for configuration {key}: Not a number of type LONG at least 0"
                    ))
                });
            }
        }
        Ok(DEFAULT_CACHE_MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_id_is_required_and_caches_default_to_ten_mib() {
        let c = StreamsConfig::new();
        assert!(c
            .application_id()
            .unwrap_err()
            .to_string()
            .contains("application.id"));
        assert_eq!(c.cache_max_bytes().unwrap(), 10 * 1024 * 1024);
        let c = c
            .with(APPLICATION_ID, "app")
            .with(CACHE_MAX_BYTES_BUFFERING, 0);
        assert_eq!(c.application_id().unwrap(), "app");
        assert_eq!(c.cache_max_bytes().unwrap(), 0);
        let bad = StreamsConfig::new().with(STATESTORE_CACHE_MAX_BYTES, "lots");
        assert!(bad
            .cache_max_bytes()
            .unwrap_err()
            .to_string()
            .contains("statestore.cache.max.bytes"));
    }
}
