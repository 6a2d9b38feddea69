//! # tributary-streams
//!
//! A stream-processing library in the spirit of Kafka Streams, for Rust applications.
//!
//! This crate will hold `StreamsBuilder`, `KStream`, `KTable` and `GlobalKTable`, serdes,
//! stateless and stateful operators, windows, joins and punctuation; topologies split into
//! sub-topologies whose tasks spread over threads and instances through a consumer group, with
//! local state stores backed by compacted changelog topics and `exactly_once_v2` processing
//! through broker transactions. A `TestDriver` will run a topology without a broker.
//!
//! It talks to brokers through the `rdkafka` crate like any application. It is built in a later
//! issue; today it holds no code.
