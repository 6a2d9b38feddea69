//! # tributary-ksql
//!
//! A KSQL server and CLI compatible with ksqlDB.
//!
//! This crate will parse statements with `sqlparser`, plan and type-check them with DataFusion,
//! and compile them into topologies of `tributary-streams`; it will serve ksqlDB's REST API on
//! port 8088 and record its catalogue in a command topic so that a restarted server resumes its
//! queries.
//!
//! It is built in a later issue; today it holds no code.
