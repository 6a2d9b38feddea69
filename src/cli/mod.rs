//! The subcommands. Client subcommands share [`client`] for connection settings and errors.

pub mod bench;
pub mod broker;
pub mod client;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod consume;
pub mod dev_cluster;
pub mod group;
pub mod group_bench;
pub mod output;
pub mod produce;
pub mod server;
pub mod storage;
pub mod topic;
pub mod txn;
