//! `cronbench find-limit`: the highest sustainable jobs per minute of a cluster, with its
//! uncertainty, the capacity curve and the bottleneck named.

pub mod metrics;
pub mod report;
pub mod search;
pub mod step;
