//! `cronbench find-limit`: the highest sustainable jobs per minute of a cluster, with its
//! uncertainty, the capacity curve and the bottleneck named.

pub mod confirm;
mod driver;
mod plan;
/// The component evidence, kept here under its old path too.
pub use crate::metrics;
pub mod report;
pub mod search;
pub mod step;
pub mod sweep;

pub use driver::{LimitError, LimitOptions, LimitOutcome, find_limit, write_report};
