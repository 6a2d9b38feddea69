//! Joins: a stream with a table (`KStream::join`/`left_join` of a [`crate::KTable`]), two
//! tables (`KTable::join`/`left_join`/`outer_join`), and two streams within a time window
//! (`KStream::join_windowed`/`left_join_windowed`/`outer_join_windowed`), with Kafka Streams'
//! semantics: a record with a null key or value joins nothing (left joins keep a stream record
//! without a key); table sides are read through their stores; a stream that changed its key is
//! repartitioned first, so that both sides of a join are partitioned alike.

mod foreign_key;
mod stream_global;
mod stream_stream;
mod stream_table;
mod table_table;

pub use foreign_key::TableJoined;
pub use stream_global::GlobalKTable;
pub use stream_stream::{JoinWindows, StreamJoined};
pub(crate) use stream_table::is_null;

use crate::serde::SharedSerde;

/// How a stream-table join is typed and named: the key serde, the stream's and the table's
/// value serdes (else those known upstream), and the join's name.
pub struct Joined<K, V, VT> {
    pub(crate) key: Option<SharedSerde<K>>,
    pub(crate) value: Option<SharedSerde<V>>,
    /// (the table's values are read with the table's own serde)
    other: std::marker::PhantomData<fn() -> VT>,
    pub(crate) name: Option<String>,
}

impl<K, V, VT> Default for Joined<K, V, VT> {
    fn default() -> Self {
        Joined {
            key: None,
            value: None,
            other: std::marker::PhantomData,
            name: None,
        }
    }
}

impl<K, V, VT> Joined<K, V, VT> {
    /// The serdes known upstream, a generated name.
    pub fn new() -> Self {
        Self::default()
    }

    /// These serdes: keys, the stream's values, the table's values (as Kafka's `Joined.with`;
    /// the table is read with its own).
    pub fn with(key: SharedSerde<K>, value: SharedSerde<V>, other: SharedSerde<VT>) -> Self {
        let _ = other;
        Joined {
            key: Some(key),
            value: Some(value),
            other: std::marker::PhantomData,
            name: None,
        }
    }

    /// Named `name` (the join node, and the repartition topic `<name>-repartition` when one is
    /// needed).
    pub fn named(name: &str) -> Self {
        Self::new().with_name(name)
    }

    /// This join named `name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}
