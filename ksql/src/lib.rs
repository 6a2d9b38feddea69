//! # tributary-ksql
//!
//! A KSQL engine, server and CLI compatible with ksqlDB.
//!
//! ```text
//!  SQL text ─▶ parser (sqlparser, ksqlDB's dialect) ─▶ ast::Statement
//!           ─▶ engine: DDL into the catalogue; queries planned (expressions typed and
//!              evaluated by DataFusion over Arrow) and compiled into `tributary-streams`
//!              topologies that run against the brokers
//! ```
//!
//! Built so far: the parser ([`parser`]) and ksqlDB's SQL types ([`types::SqlType`]).

pub mod catalog;
pub mod cli;
pub mod engine;
pub mod exec;
pub mod format;
pub mod functions;
pub mod parser;
pub mod plan;
pub mod qtt;
pub mod server;
pub mod types;
pub mod value;
