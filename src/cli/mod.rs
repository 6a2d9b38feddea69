//! The subcommands. Client subcommands share [`client`] for connection settings and errors.

pub mod bench;
pub mod client;
pub mod consume;
pub mod group;
pub mod group_bench;
pub mod produce;
pub mod server;
pub mod topic;
