//! Timestamps from columns (`WITH (TIMESTAMP='col' [, TIMESTAMP_FORMAT='pattern'])`): a
//! source's records take their timestamps from the column (a timestamp extractor: a null or
//! unreadable value skips the record, or fails the query with
//! `ksql.timestamp.throw.on.invalid`), and a query's sink writes each row with the timestamp
//! its column holds (a row whose column is null, unreadable or negative is not written).
//! A `BIGINT` column holds milliseconds, a `TIMESTAMP` column its instant, a `STRING` column
//! text in `TIMESTAMP_FORMAT` (a Java `DateTimeFormatter` pattern, UTC unless the text has a
//! zone).

use std::sync::Arc;

use datafusion_common::ScalarValue;
use tributary_streams::process::{Processor, ProcessorContext, Record};
use tributary_streams::{Consumed, SharedSerde, StreamsError, TimestampExtractor};

use crate::catalog::DataSource;
use crate::functions::datetime::{Pattern, Zone};
use crate::types::SqlType;
use crate::value::Row;

/// How a row's timestamp is read from one of its columns.
#[derive(Clone)]
pub struct TimestampColumn {
    /// The column is a key column (else a value column).
    in_key: bool,
    /// Its index among the key's or the value's columns.
    index: usize,
    /// Text in this pattern (`None`: a number of ms or a `TIMESTAMP`).
    pattern: Option<Arc<Pattern>>,
}

impl TimestampColumn {
    /// The timestamp column of `source`, if it names one; ksqlDB's errors for a column that
    /// is missing or of a type that holds no timestamp.
    pub fn of(source: &DataSource) -> Result<Option<TimestampColumn>, String> {
        let Some((name, format)) = &source.timestamp else {
            return Ok(None);
        };
        let found = source
            .key
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (true, i, &source.key[i].1))
            .or_else(|| {
                source
                    .value
                    .iter()
                    .position(|(n, _)| n == name)
                    .map(|i| (false, i, &source.value[i].1))
            });
        let Some((in_key, index, ty)) = found else {
            return Err(format!(
                "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
            ));
        };
        let pattern = match (ty, format) {
            (SqlType::String, Some(f)) => Some(Arc::new(
                Pattern::new(f).map_err(|e| format!("Invalid timestamp format '{f}': {e}"))?,
            )),
            (SqlType::String, None) => {
                return Err(
                    "A String timestamp field has been specified without also specifying the timestamp_format"
                        .into(),
                )
            }
            (_, Some(_)) => {
                return Err("'TIMESTAMP_FORMAT' set in the WITH clause can only be used when the timestamp column is of type STRING.".into())
            }
            (SqlType::Bigint | SqlType::Timestamp, None) => None,
            _ => {
                return Err(format!(
                    "Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
                ))
            }
        };
        Ok(Some(TimestampColumn {
            in_key,
            index,
            pattern,
        }))
    }

    /// The timestamp of a row (ms): `Err` when its column is null or cannot be read.
    pub fn read(&self, key: &Row, value: Option<&Row>) -> Result<i64, String> {
        let cell = if self.in_key {
            key.get(self.index)
        } else {
            value.and_then(|v| v.get(self.index))
        };
        match (cell, &self.pattern) {
            (Some(ScalarValue::Int64(Some(ms))), None)
            | (Some(ScalarValue::TimestampMillisecond(Some(ms), _)), None) => Ok(*ms),
            (Some(ScalarValue::Utf8(Some(text))), Some(p)) => p.parse_timestamp(text, &Zone::utc()),
            (None, _) => Err("the row has no value".into()),
            (Some(v), _) if v.is_null() => Err("the timestamp column is null".into()),
            (Some(v), _) => Err(format!("the timestamp column holds {v}")),
        }
    }
}

/// How a query reads `source`: with its serdes, and its timestamp column's extractor when it
/// has one (`fail`: an unreadable timestamp stops the query instead of skipping the record).
pub fn consumed(
    source: &DataSource,
    (key, value): (SharedSerde<Row>, SharedSerde<Option<Row>>),
    fail: bool,
) -> Result<Consumed<Row, Option<Row>>, String> {
    let consumed = Consumed::with(key, value);
    let Some(column) = TimestampColumn::of(source)? else {
        return Ok(consumed);
    };
    let topic = source.topic.clone();
    let extractor: TimestampExtractor<Row, Option<Row>> = Arc::new(
        move |key: &Row, value: Option<&Option<Row>>, _own: i64, _partition_time: i64| match column
            .read(key, value.and_then(Option::as_ref))
        {
            Ok(t) => Ok(t),
            Err(e) if fail => Err(e),
            Err(e) => {
                tracing::warn!(%topic, error = %e, "a record whose timestamp cannot be read: skipped");
                Ok(-1)
            }
        },
    );
    Ok(consumed.with_timestamp_extractor(extractor))
}

/// Gives each output row the timestamp its column holds (a tombstone keeps the stream time);
/// a row whose timestamp cannot be read, or is negative, is not written.
pub(crate) struct SetTimestamp {
    pub column: TimestampColumn,
}

impl<K: crate::exec::OutputKey + Clone> Processor<K, Option<Row>, K, Option<Row>> for SetTimestamp {
    fn process(
        &mut self,
        record: Record<K, Option<Row>>,
        ctx: &mut ProcessorContext<'_, K, Option<Row>>,
    ) -> Result<(), StreamsError> {
        let timestamp = match &record.value {
            None => Ok(ctx.current_stream_time_ms()),
            Some(v) => self.column.read(record.key.parts().0, Some(v)),
        };
        match timestamp {
            Ok(t) if t >= 0 => ctx.forward(record.with_timestamp(t)),
            Ok(t) => {
                tracing::warn!(
                    timestamp = t,
                    "an output row with a negative timestamp: not written"
                );
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "an output row whose timestamp cannot be read: not written");
                Ok(())
            }
        }
    }
}
