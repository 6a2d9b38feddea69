//! # tributary-client
//!
//! A small Kafka protocol client on the `kafka-protocol` codecs, for what `rdkafka`
//! (librdkafka) cannot do: APIs its admin client lacks, and group membership with a protocol of
//! our own (a Streams application's task assignment, Connect's workers).
//!
//! * [`wire`]: request framing and a one-connection, one-request-at-a-time [`wire::Client`].
//! * [`group`]: a member of a classic group whose assignment is computed here.
//! * [`partition`]: Kafka's default partitioning of keyed records (murmur2).
//! * [`produce`]: writing records with the produce protocol itself (record timestamps of 0,
//!   which librdkafka replaces with the current time).

pub mod group;
pub mod partition;
pub mod produce;
pub mod wire;
