//! `Filter`: drops every record it is applied to (so, with a predicate, the matching ones).

use crate::data::DataError;
use crate::record::ConnectRecord;

use super::Transformation;

/// Kafka's Filter.
pub struct Filter;

impl Transformation for Filter {
    fn apply(&mut self, _r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        Ok(None)
    }
}
