//! cronbench: a load-testing harness for the Kubernetes CronJob controller.
//!
//! The stages of a run (see README): scenario -> workload (create CronJobs) -> observe (watch
//! Jobs, Pods, Nodes, Events into `events.jsonl`) -> analyze (timelines, histograms, verdict).

pub mod analyze;
pub mod bench;
pub mod call;
pub mod changepoint;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod faults;
pub mod history;
pub mod host;
pub mod import;
pub mod limit;
pub mod metrics;
pub mod observe;
pub mod procfs;
pub mod promql;
pub mod pushgateway;
pub mod report;
pub mod resources;
pub mod results;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod session;
pub mod workload;
