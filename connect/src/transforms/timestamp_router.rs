//! `TimestampRouter`: the topic becomes `topic.format` with `${topic}` and `${timestamp}`
//! (the record timestamp in `timestamp.format`, UTC) filled in.

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::date_format::DateFormat;
use crate::data::DataError;
use crate::record::ConnectRecord;

use super::Transformation;

/// Kafka's TimestampRouter.
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: Result<DateFormat, String>,
}

impl TimestampRouter {
    pub(crate) fn configure(config: &Config) -> Result<TimestampRouter, ConfigError> {
        Ok(TimestampRouter {
            topic_format: config.string_or("topic.format", "${topic}-${timestamp}"),
            // Kafka compiles the pattern on first use, so a bad one fails the record
            timestamp_format: DateFormat::new(&config.string_or("timestamp.format", "yyyyMMdd")),
        })
    }
}

impl Transformation for TimestampRouter {
    fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let Some(ts) = r.timestamp else {
            return Err(DataError::new(format!("Timestamp missing on record: {r}")));
        };
        let format = self
            .timestamp_format
            .as_ref()
            .map_err(|e| DataError::new(e.clone()).with_class("IllegalArgumentException"))?;
        let topic = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &format.format(ts));
        r.topic = topic;
        Ok(Some(r))
    }
}
