//! Test clusters: the local one that cronbench starts from pinned upstream binaries, and the
//! checks a run makes on any cluster before loading it.
//!
//! The local cluster is driven through `kwokctl --runtime binary`: it already knows how to
//! generate the PKI, the kubeconfig and every component's flags for a given Kubernetes version,
//! and it supervises the processes with pid files and logs. cronbench adds what kwokctl lacks:
//! pinned local binaries only (never a download), 127.0.0.1 only, its own kwok stages with
//! per-stage delays, the throughput knobs as flags, realistic nodes, and a `down` that proves
//! no process is left.
//!
//! With real nodes (`realnodes`), the whole cluster runs in a network namespace of its own
//! (`netns`), each node a kubelet (`kubelet`) with its own containerd (`containerd`), cgroup
//! root (`cgroups`) and locally built images (`images`); `down` also unmounts (`mounts`).

pub mod audit;
mod binaries;
mod cgroups;
mod config;
mod containerd;
pub mod dryrun;
pub mod images;
pub mod kubeconfig;
mod kubelet;
mod local;
mod mounts;
mod netns;
pub mod nodes;
pub mod preflight;
pub mod prometheus;
mod realnodes;
mod scheduler_config;
pub mod select;

use std::path::PathBuf;

use crate::call::CallError;

pub use binaries::{Binaries, cache_root};
pub use config::{Knobs, StageDelays};
pub use kubelet::KubeletKnobs;
pub use local::{ClusterInfo, LocalCluster, UpOptions, pid_alive};
pub use realnodes::{NodeBinaries, NodeRuntime, RealNodes, adapt_scenario, node_runtime_of};
pub use scheduler_config::SchedulerConfigError;
pub use select::ClusterTarget;

/// Errors of cluster management. None of them is retryable without a change by the user,
/// except [`ClusterError::NotReady`], which a slower machine may outgrow.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "the local cluster's binaries are not built: {missing} is missing in {dir}; run `scripts/setup` (the first build takes about 10 minutes)"
    )]
    BinariesMissing { dir: PathBuf, missing: String },

    #[error(
        "cluster `{name}` is already up (kubeconfig {kubeconfig}); use it, or run `cronbench cluster down --name {name}` first"
    )]
    AlreadyUp { name: String, kubeconfig: PathBuf },

    #[error("cluster `{name}` is not up; start it with `cronbench cluster up --name {name}`")]
    NotUp { name: String },

    #[error("port {port} on 127.0.0.1 is in use; free it or choose another with --port")]
    PortInUse { port: u16 },

    #[error(
        "invalid cluster name `{0}`: use lowercase letters, digits and '-', at most 30 characters"
    )]
    BadName(String),

    #[error(transparent)]
    Call(#[from] CallError),

    #[error(transparent)]
    SchedulerConfig(#[from] SchedulerConfigError),

    #[error("`{command}` failed (exit {code}):\n{output}{logs}")]
    Command {
        command: String,
        code: String,
        output: String,
        /// Tails of the logs of components that are not running.
        logs: String,
    },

    #[error("component {component} exited early; its log is {log}:\n{tail}")]
    ComponentExited {
        component: String,
        log: PathBuf,
        tail: String,
    },

    #[error("the cluster did not become ready within {seconds} s: {what}")]
    NotReady { seconds: u64, what: String },

    #[error("could not read kubeconfig {path}: {reason}")]
    Kubeconfig { path: PathBuf, reason: String },

    #[error("processes of cluster `{name}` are still running after teardown: {pids:?}")]
    Leftovers { name: String, pids: Vec<u32> },

    #[error("real nodes need {what}; {fix}")]
    Prerequisite { what: String, fix: String },

    #[error("cluster `{name}` left {what} behind after teardown: {items:?}")]
    LeftoverState {
        name: String,
        what: &'static str,
        items: Vec<String>,
    },
}

/// The kube context name cronbench gives a local cluster.
pub fn context_name(cluster: &str) -> String {
    format!("cronbench-{cluster}")
}
