//! (stub)
pub mod model;
