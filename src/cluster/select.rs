//! Which cluster a command talks to when the flags leave it open: the local cluster's
//! kubeconfig and context are filled in when it is up.

use std::path::PathBuf;

use super::{Binaries, ClusterError, LocalCluster, UpOptions};

/// The kubeconfig, context and extra allowed contexts a command connects with.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub allow_context: Vec<String>,
}

/// Fills in the local cluster's kubeconfig: for `--context cronbench-NAME` alone, that
/// cluster's; with neither flag, the `local` cluster's (and its context) when it is up.
pub fn resolve(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    allow_context: Vec<String>,
) -> Result<Selected, ClusterError> {
    let given = Selected {
        kubeconfig,
        context,
        allow_context,
    };
    if given.kubeconfig.is_some() {
        return Ok(given);
    }
    if let Some(context) = &given.context {
        let local = context
            .strip_prefix("cronbench-")
            .and_then(|name| LocalCluster::new(name).ok())
            .and_then(|c| c.info().ok().flatten());
        return Ok(match local {
            Some(info) => Selected {
                kubeconfig: Some(info.kubeconfig),
                ..given
            },
            None => given,
        });
    }
    Ok(match LocalCluster::new("local")?.info()? {
        Some(info) => Selected {
            kubeconfig: Some(info.kubeconfig),
            context: Some(info.context),
            ..given
        },
        None => given,
    })
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
