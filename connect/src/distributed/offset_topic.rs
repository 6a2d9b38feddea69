//! Source offsets in the offsets topic, as Kafka Connect keeps them: key
//! `["NAME",{partition}]`, value the offset map (compact JSON), a tombstone to forget one; the
//! partition of each record is murmur2 of its key. Every worker reads the whole topic, so a task
//! that moves resumes where it was committed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::log::LogWriter;
use crate::connector::ConnectError;
use crate::data::Value;
use crate::worker::offsets::{encode_offsets, offset_in, offsets_of, OffsetStore};

/// The offsets topic's content and its writer.
pub struct TopicOffsetStore {
    /// What the topic holds (kept up to date by the worker's reader of the topic).
    pub data: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>,
    /// The writer.
    pub writer: LogWriter,
    /// The offsets topic.
    pub topic: String,
}

/// Applies a record of the offsets topic to what is known.
pub fn apply(data: &Mutex<BTreeMap<Vec<u8>, Vec<u8>>>, key: &[u8], value: Option<&[u8]>) {
    if let Ok(mut d) = data.lock() {
        match value {
            Some(v) => d.insert(key.to_vec(), v.to_vec()),
            None => d.remove(key),
        };
    }
}

impl OffsetStore for TopicOffsetStore {
    fn get(&self, connector: &str, partition: &Value) -> Option<Value> {
        offset_in(&*self.data.lock().ok()?, connector, partition)
    }

    fn put_all<'a>(
        &'a self,
        connector: &'a str,
        offsets: &'a [(Value, Value)],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let records = encode_offsets(connector, offsets)?;
            let mut deliveries = Vec::with_capacity(records.len());
            for (key, value) in &records {
                deliveries.push(self.writer.send(&self.topic, key, value.as_deref())?);
            }
            for d in deliveries {
                match d.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => {
                        return Err(ConnectError::Retriable(format!(
                            "Failed to write offsets to {}: {e}",
                            self.topic
                        )))
                    }
                    Err(_) => return Err(ConnectError::Fatal("the producer was closed".into())),
                }
            }
            for (key, value) in records {
                apply(&self.data, &key, value.as_deref());
            }
            Ok(())
        })
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(Value, Value)> {
        match self.data.lock() {
            Ok(d) => offsets_of(&d, connector),
            Err(_) => Vec::new(),
        }
    }
}
