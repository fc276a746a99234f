//! Which cluster a command talks to when the flags leave it open: the local cluster's
//! kubeconfig and context are filled in when it is up.

use std::path::PathBuf;

use super::{Binaries, ClusterError, LocalCluster, UpOptions};

/// Which cluster to talk to.
//
// The one definition of a command's target: the CLI flattens it into its commands (the field
// docs are the flags' help), and run, find-limit and the session take it as it is, so the three
// fields cannot drift apart between the option structs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterTarget {
    /// Kubeconfig file (default: the local cluster's when it is up, or that of the local cluster
    /// `--context cronbench-NAME` names; else $KUBECONFIG or ~/.kube/config)
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context (default: cronbench-local when the local cluster is up, else the current one)
    #[arg(long)]
    pub context: Option<String>,
    /// Also accept this context as a test cluster (besides cronbench-* and kind-*)
    #[arg(long)]
    pub allow_context: Vec<String>,
}

impl ClusterTarget {
    /// Fills in the local cluster's kubeconfig: for `--context cronbench-NAME` alone, that
    /// cluster's; with neither flag, the `local` cluster's (and its context) when it is up.
    pub fn resolve(self) -> Result<ClusterTarget, ClusterError> {
        if self.kubeconfig.is_some() {
            return Ok(self);
        }
        if let Some(context) = &self.context {
            let local = LocalCluster::info_of_context(context);
            return Ok(match local {
                Some(info) => ClusterTarget {
                    kubeconfig: Some(info.kubeconfig),
                    ..self
                },
                None => self,
            });
        }
        Ok(match LocalCluster::new("local")?.info()? {
            Some(info) => ClusterTarget {
                kubeconfig: Some(info.kubeconfig),
                context: Some(info.context),
                ..self
            },
            None => self,
        })
    }
}

/// The local cluster behind a `cronbench-<name>` context, when it is up on this machine.
pub fn local_cluster_of(context: Option<&str>) -> Result<Option<LocalCluster>, ClusterError> {
    let Some(name) = context.and_then(|c| c.strip_prefix("cronbench-")) else {
        return Ok(None);
    };
    let Ok(cluster) = LocalCluster::new(name) else {
        return Ok(None);
    };
    Ok(cluster.info()?.map(|_| cluster))
}

/// `run --local`: the `local` cluster and its binaries when it is not up (the caller starts
/// it with [`start_for_run`] and stops it afterwards); `None` when it is already up.
pub fn local_to_start() -> Result<Option<(LocalCluster, Binaries)>, ClusterError> {
    let cluster = LocalCluster::new("local")?;
    if cluster.info()?.is_some() {
        return Ok(None);
    }
    Ok(Some((cluster, Binaries::locate()?)))
}

/// Starts a cluster [`local_to_start`] returned, with 3 kwok nodes.
pub async fn start_for_run(cluster: &LocalCluster, bins: &Binaries) -> Result<(), ClusterError> {
    eprintln!("starting the local cluster for this run ...");
    cluster
        .up(
            bins,
            &UpOptions {
                nodes: 3,
                ..UpOptions::default()
            },
        )
        .await?;
    Ok(())
}
