//! # tributary-streams
//!
//! A stream-processing library in the spirit of Kafka Streams, for Rust applications.
//!
//! Built so far: serdes byte-compatible with Kafka's ([`Serdes`]); the [`StreamsBuilder`] DSL
//! with [`KStream`]'s stateless operations (filter, filter_not, map, map_values, flat_map,
//! flat_map_values, select_key, peek, foreach, merge, split into branches, to), grouping
//! ([`KGroupedStream`]: count, reduce, aggregate, through repartition topics when the key
//! changed) and tables ([`KTable`]: `builder.table`, `to_table`, filter, map_values,
//! to_stream, suppress), with key-value stores logged to changelog topics and a write cache;
//! windowed aggregations ([`TimeWindows`] tumbling and hopping, [`SlidingWindows`],
//! [`SessionWindows`], grace periods, [`Suppressed`] emit-final) in window and session
//! stores, with [`Windowed`] keys written as Kafka Streams writes them; the
//! [`Topology`] with a `describe()` that prints what Kafka Streams prints for the same
//! topology; a [`TestDriver`] that runs a topology without a broker and reads its stores; and
//! [`KafkaStreams`], which runs it on brokers: tasks over threads and over the instances of an
//! application, state restored from changelogs, at least once or `exactly_once_v2`.
//!
//! Joins ([`Joined`], [`JoinWindows`], [`StreamJoined`], [`GlobalKTable`], [`TableJoined`]):
//! stream-table, table-table, foreign-key, windowed stream-stream and stream-global; table
//! grouping ([`KGroupedTable`]).
//!
//! The processor API ([`process`]): processors with key-value, window and session stores of
//! their own, punctuation on stream time and on the wall clock, record headers and metadata,
//! forwarding to all children or to one by name. Interactive queries of a running
//! [`KafkaStreams`]: its local stores (with [`StoreQueryParameters`], its standby copies and
//! one partition's), and which instance holds a key ([`KeyQueryMetadata`], from
//! `application.server`).
//!
//! Persistent key-value, window and session stores ([`StoreType::Persistent`], or every DSL
//! store with `default.dsl.store=rocksDB`) under `state.dir`, which a restart keeps: each task
//! checkpoints the changelog offsets its files hold, as Kafka Streams does.
//!
//! ```
//! use tributary_streams::{Consumed, Produced, Serdes, StreamsBuilder};
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
//!     .filter(|_, v: &String| !v.is_empty())
//!     .map_values(|v: &String| v.len() as i64)
//!     .to("lengths", Produced::with(Serdes::string(), Serdes::long()));
//! let topology = builder.build().unwrap();
//! assert!(topology.describe().to_string().contains("Processor: KSTREAM-FILTER-0000000001"));
//! ```

mod builder;
mod config;
mod grouped;
mod grouped_table;
mod join;
mod kstream;
mod ktable;
pub mod process;
mod processor;
mod runtime;
mod serde;
mod store;
mod task;
mod test_driver;
mod topology;
mod window;

pub use builder::{Consumed, Produced, StreamsBuilder, TimestampExtractor};
pub use config::{Guarantee, OnError, StreamsConfig};
pub use grouped::{Grouped, KGroupedStream, Materialized, StoreType};
pub use grouped_table::KGroupedTable;
pub use join::{GlobalKTable, JoinWindows, Joined, StreamJoined, TableJoined};
pub use kstream::{Branched, BranchedKStream, KStream, Repartitioned};
pub use ktable::KTable;
pub use processor::{headers_of, Header, StreamsError};
pub use runtime::{
    HostInfo, KafkaStreams, KeyQueryMetadata, State, StoreQueryParameters, StreamsMetadata, TaskId,
    ThreadMetadata,
};
pub use serde::{JsonSerde, Nullable, Serde, SerdeError, Serdes, SharedSerde};
pub use store::{ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore};
pub use test_driver::{TestDriver, TestInputTopic, TestOutputTopic, TestRecord};
pub use topology::{Topology, TopologyDescription};
pub use window::{
    BufferConfig, SessionWindowedKStream, SessionWindowedSerde, SessionWindows, SlidingWindows,
    Suppressed, TimeWindowedKStream, TimeWindowedSerde, TimeWindows, Window, Windowed,
};
