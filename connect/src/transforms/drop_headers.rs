//! `DropHeaders`: removes the headers named in `headers`.

use crate::config::{Config, ConfigError};
use crate::data::DataError;
use crate::record::ConnectRecord;

use super::util;
use super::Transformation;

/// Kafka's DropHeaders.
pub struct DropHeaders {
    headers: Vec<String>,
}

impl DropHeaders {
    pub(crate) fn configure(config: &Config) -> Result<DropHeaders, ConfigError> {
        Ok(DropHeaders {
            headers: util::non_empty_list(config, "headers")?,
        })
    }
}

impl Transformation for DropHeaders {
    fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        for h in &self.headers {
            r.headers.remove(h);
        }
        Ok(Some(r))
    }
}
