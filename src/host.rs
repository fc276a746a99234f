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
            load_avg: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| parse_loadavg(&s)),
            local_cluster: local_cluster(context),
        }
    }
}

fn parse_loadavg(s: &str) -> Option<[f64; 3]> {
    let mut it = s.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
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
    fn loadavg_is_read_from_its_first_three_fields() {
        assert_eq!(
            parse_loadavg("0.73 2.06 2.81 2/138 1617\n"),
            Some([0.73, 2.06, 2.81])
        );
        assert_eq!(parse_loadavg("0.73 x"), None);
    }

    #[test]
    fn a_context_that_is_not_a_local_cluster_has_no_cluster_facts() {
        assert_eq!(local_cluster("kind-test"), None);
        assert!(RunHost::here("kind-test").cores >= 1);
    }
}
