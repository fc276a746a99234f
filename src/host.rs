//! What identifies where and with what a run ran, recorded in its first log line so that a
//! history of runs can tell a change of machine, build or cluster knobs from a regression.

use serde::{Deserialize, Serialize};

use crate::cluster::{Knobs, LocalCluster, NodeRuntime, StageDelays};

/// The build, the machine and, on a local cluster, its knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunHost {
    /// The git commit cronbench was built from (`+dirty` when the tree had changes); None
    /// when built outside a checkout.
    pub commit: Option<String>,
    /// Cores this process may use.
    pub cores: u32,
    /// The 1, 5 and 15 minute load averages when the run started (`/proc/loadavg`).
    pub load_avg: Option<[f64; 3]>,
    /// Set when the context is one of cronbench's local clusters.
    pub local_cluster: Option<LocalClusterFacts>,
}

/// A local cluster's shape, as `cluster up` recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LocalClusterFacts {
    pub name: String,
    #[schemars(with = "String")]
    pub node_runtime: NodeRuntime,
    pub nodes: u32,
    pub knobs: Knobs,
    pub delays: StageDelays,
    /// The KubeSchedulerConfiguration the scheduler runs with; absent: its defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_config: Option<std::path::PathBuf>,
}

/// The commit baked in at build time by build.rs.
const COMMIT: Option<&str> = option_env!("CRONBENCH_GIT_COMMIT");

impl RunHost {
    /// This process's build and machine now, and the local cluster behind `context` if any.
    pub fn here(context: &str) -> RunHost {
        RunHost {
            commit: COMMIT.filter(|c| !c.is_empty()).map(str::to_string),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            load_avg: crate::procfs::load_avg(),
            local_cluster: local_cluster(context),
        }
    }
}

/// What the harness itself cost by the end of a run: this process's CPU time and peak memory,
/// recorded in the `run_ended` line so that a history shows the harness's own trend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HarnessCost {
    /// User + system CPU seconds of the cronbench process (`/proc/self/stat`).
    pub cpu_s: f64,
    /// Peak resident memory of the cronbench process (`VmHWM`), kB.
    pub peak_rss_kb: u64,
}

impl HarnessCost {
    /// This process's cost so far.
    pub fn now() -> Option<HarnessCost> {
        let me = std::process::id();
        Some(HarnessCost {
            cpu_s: crate::procfs::cpu_s(me)?,
            peak_rss_kb: crate::procfs::mem(me)?.hwm_kb,
        })
    }
}

fn local_cluster(context: &str) -> Option<LocalClusterFacts> {
    let info = LocalCluster::info_of_context(context)?;
    Some(LocalClusterFacts {
        name: info.name,
        node_runtime: info.node_runtime,
        nodes: info.nodes,
        knobs: info.knobs,
        delays: info.delays,
        scheduler_config: info.scheduler_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_that_is_not_a_local_cluster_has_no_cluster_facts() {
        assert_eq!(local_cluster("kind-test"), None);
        assert!(RunHost::here("kind-test").cores >= 1);
    }
}
