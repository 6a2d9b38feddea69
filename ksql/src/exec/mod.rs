//! Running plans: expressions evaluated over rows, rows in formats as streams serdes, and the
//! processors of queries.

pub mod aggregate;
pub mod eval;
pub mod insert;
pub mod join;
pub mod serde;
pub mod stateless;
