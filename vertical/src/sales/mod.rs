//! Selling: quotes (priced proposals of materials for a client's job site) and the orders they
//! become, with the lines both carry.

pub mod lines;
pub mod orders;
pub mod quotes;
