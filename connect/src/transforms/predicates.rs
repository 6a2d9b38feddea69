//! The predicates of `org.apache.kafka.connect.transforms.predicates`: `TopicNameMatches`
//! (`pattern`), `HasHeaderKey` (`name`) and `RecordIsTombstone`.

use regex::Regex;

use crate::config::{Config, ConfigError, ConfigExt};
use crate::record::ConnectRecord;

use super::Predicate;

/// Kafka's TopicNameMatches: the whole topic name matches `pattern`.
pub struct TopicNameMatches {
    pattern: Regex,
}

impl TopicNameMatches {
    pub(crate) fn configure(config: &Config) -> Result<TopicNameMatches, ConfigError> {
        let pattern = config.string("pattern")?;
        if pattern.is_empty() {
            return Err(ConfigError::invalid(
                "pattern",
                "",
                "String must be non-empty",
            ));
        }
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            ConfigError::invalid("pattern", &pattern, &format!("Invalid regex: {e}"))
        })?;
        Ok(TopicNameMatches { pattern: regex })
    }
}

impl Predicate for TopicNameMatches {
    fn test(&self, r: &ConnectRecord) -> bool {
        self.pattern.is_match(&r.topic)
    }
}

/// Kafka's HasHeaderKey: the record has at least one header named `name`.
pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    pub(crate) fn configure(config: &Config) -> Result<HasHeaderKey, ConfigError> {
        let name = config.string("name")?;
        if name.is_empty() {
            return Err(ConfigError::invalid("name", "", "String must be non-empty"));
        }
        Ok(HasHeaderKey { name })
    }
}

impl Predicate for HasHeaderKey {
    fn test(&self, r: &ConnectRecord) -> bool {
        r.headers.iter().any(|h| h.key == self.name)
    }
}

/// Kafka's RecordIsTombstone: the value is null.
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, r: &ConnectRecord) -> bool {
        r.value.is_null()
    }
}
