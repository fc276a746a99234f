//! `cronbench cluster up`: the start of a local cluster, in the order its steps run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::super::cgroups::Hierarchy;
use super::super::config::{self, Component};
use super::super::realnodes::{NodeBinaries, NodeRuntime};
use super::super::{Binaries, ClusterError, audit, kubelet, netns, nodes, scheduler_config};
use super::{ClusterInfo, LocalCluster, UpOptions};
use crate::call;

/// What `up` prepares before kwokctl starts: kwokctl's extra flags and ports, the ports to
/// forward to the host (the apiserver's first), and with real nodes their cgroup hierarchy.
struct StartPlan {
    extra: config::Extra,
    forwarded: Vec<u16>,
    hierarchy: Option<Hierarchy>,
}

impl LocalCluster {
    /// Starts the cluster and waits for its nodes to be Ready. A step that fails after
    /// kwokctl may have started something tears the cluster down before returning.
    pub async fn up(&self, bins: &Binaries, opts: &UpOptions) -> Result<ClusterInfo, ClusterError> {
        let started = Instant::now();
        // Checked first: a bad file leaves nothing behind.
        let scheduler_config = opts
            .scheduler_config
            .as_deref()
            .map(|file| scheduler_config::check(file, &opts.knobs))
            .transpose()?;
        self.clear_leftovers(bins).await?;
        let node_bins = match opts.runtime {
            NodeRuntime::Kwok => None,
            NodeRuntime::Kubelet => Some(NodeBinaries::locate()?),
        };
        std::fs::create_dir_all(&self.dir)
            .map_err(call::io(format!("create {}", self.dir.display())))?;
        let audit_flags = match &opts.audit {
            Some(scope) => audit::prepare(&self.dir, scope)?,
            None => Vec::new(),
        };
        // One cluster start at a time on this machine: kwokctl picks its components' ports
        // (etcd, metrics) by probing for free ones, and two starts at the same instant took the
        // same etcd port, so two apiservers served one cluster's data (seen when two tests
        // started clusters together). The lock is held until the components have bound them.
        let _start_lock = start_lock(&self.dir)?;
        let port = pick_port(opts.port)?;
        let mut plan = self.prepare_start(bins, opts, port).await?;
        plan.extra.scheduler_config.clone_from(&scheduler_config);
        plan.extra.flags.extend(audit_flags);
        let config_path = self.write_kwokctl_config(bins, opts, port, &plan.extra)?;
        self.create_with_kwokctl(bins, &config_path).await?;
        let mut info = ClusterInfo {
            name: self.name.clone(),
            context: self.context(),
            kubeconfig: self.kubeconfig(),
            port,
            binaries: bins.dir.clone(),
            nodes: opts.nodes,
            knobs: opts.knobs.clone(),
            delays: opts.delays.clone(),
            node_runtime: opts.runtime,
            kubelet: opts.kubelet.clone(),
            scheduler_config,
            audit_log: opts.audit.as_ref().map(|_| self.audit_log()),
            up_seconds: 0.0,
        };
        if let Err(e) = self.start_nodes(bins, opts, node_bins.as_ref(), plan).await {
            let e = self.dead_component().unwrap_or(e);
            let _ = self.down(bins).await;
            return Err(e);
        }
        info.up_seconds = started.elapsed().as_secs_f64();
        self.write_info(&info)?;
        Ok(info)
    }

    /// Refuses a cluster that is up; clears the state a crashed or half-started one left.
    async fn clear_leftovers(&self, bins: &Binaries) -> Result<(), ClusterError> {
        if !self.dir.exists() && !self.real_nodes().netns().exists() {
            return Ok(());
        }
        if self.info()?.is_some() && self.components().iter().any(|c| c.running) {
            return Err(ClusterError::AlreadyUp {
                name: self.name.clone(),
                kubeconfig: self.kubeconfig(),
            });
        }
        self.down(bins).await
    }

    /// The apiserver's port, and with real nodes their cgroups and network namespace made
    /// ready plus fixed ports for the controller manager's and scheduler's metrics.
    async fn prepare_start(
        &self,
        bins: &Binaries,
        opts: &UpOptions,
        port: u16,
    ) -> Result<StartPlan, ClusterError> {
        let mut plan = StartPlan {
            extra: config::Extra::default(),
            forwarded: vec![port],
            hierarchy: None,
        };
        if opts.runtime != NodeRuntime::Kubelet {
            return Ok(plan);
        }
        match self.real_nodes().prepare(opts.nodes) {
            Ok(h) => plan.hierarchy = Some(h),
            Err(e) => {
                let _ = self.down(bins).await;
                return Err(e);
            }
        }
        // The controller manager's and scheduler's metrics (find-limit reads them) on
        // ports that are free on the host too, so that they can be forwarded there.
        while plan.forwarded.len() < 3 {
            let p = pick_port(None)?;
            if !plan.forwarded.contains(&p) {
                plan.forwarded.push(p);
            }
        }
        let (kcm, scheduler) = (plan.forwarded[1], plan.forwarded[2]);
        plan.extra = config::Extra {
            flags: real_node_flags(),
            ports: vec![
                ("kubeControllerManagerPort", kcm),
                ("kubeSchedulerPort", scheduler),
            ],
            scheduler_config: None,
        };
        Ok(plan)
    }

    fn write_kwokctl_config(
        &self,
        bins: &Binaries,
        opts: &UpOptions,
        port: u16,
        extra: &config::Extra,
    ) -> Result<PathBuf, ClusterError> {
        let config_path = self.dir.join("kwokctl.yaml");
        let cfg = config::render(bins, port, &opts.knobs, &opts.delays, extra);
        std::fs::write(&config_path, cfg)
            .map_err(call::io(format!("write {}", config_path.display())))?;
        Ok(config_path)
    }

    /// `kwokctl create cluster`, then the context renamed to ours; on failure nothing
    /// half-started is left behind.
    async fn create_with_kwokctl(
        &self,
        bins: &Binaries,
        config_path: &Path,
    ) -> Result<(), ClusterError> {
        let create = self
            .kwokctl(bins)
            .args(["create", "cluster", "--wait", "2m", "--config"])
            .arg(config_path)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .output()
            .await
            .map_err(call::io("run kwokctl create cluster"))?;
        if !create.status.success() {
            let err = self.command_error("kwokctl create cluster", &create);
            let _ = self.down(bins).await;
            return Err(err);
        }
        let rename = Command::new(bins.path("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(["config", "rename-context"])
            .arg(format!("kwok-{}", self.kwok_name()))
            .arg(self.context())
            .output()
            .await
            .map_err(call::io("run kubectl config rename-context"))?;
        if !rename.status.success() {
            let err = self.command_error("kubectl config rename-context", &rename);
            let _ = self.down(bins).await;
            return Err(err);
        }
        Ok(())
    }

    /// Starts the real nodes (or creates the kwok ones) and waits for all to be Ready.
    async fn start_nodes(
        &self,
        bins: &Binaries,
        opts: &UpOptions,
        node_bins: Option<&NodeBinaries>,
        plan: StartPlan,
    ) -> Result<(), ClusterError> {
        let label = match (node_bins, plan.hierarchy) {
            (Some(node_bins), Some(hierarchy)) => {
                let real = self.real_nodes();
                real.start_forwarders(&plan.forwarded)?;
                real.start(
                    opts.nodes,
                    hierarchy,
                    bins,
                    node_bins,
                    &opts.kubelet,
                    &self.kubeconfig(),
                )?;
                kubelet::NODE_LABEL
            }
            _ => nodes::NODE_LABEL,
        };
        let client = self.client().await?;
        if opts.runtime == NodeRuntime::Kwok {
            nodes::create(&client, opts.nodes).await?;
        }
        // Real kubelets register, start their runtime and report Ready in about 10 s
        // each on an idle 2-core machine; allow for a loaded one.
        let timeout = match opts.runtime {
            NodeRuntime::Kwok => Duration::from_secs(60),
            NodeRuntime::Kubelet => Duration::from_secs(60 + 30 * u64::from(opts.nodes)),
        };
        tokio::select! {
            ready = nodes::wait_ready(&client, label, opts.nodes, timeout) => ready,
            dead = self.first_dead_component() => Err(dead),
        }
    }

    /// Resolves when a component has died: one that dies while the nodes come up (a kubelet
    /// refusing its configuration, say) fails the start at once, not at the timeout.
    async fn first_dead_component(&self) -> ClusterError {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Some(e) = self.dead_component() {
                return e;
            }
        }
    }

    fn write_info(&self, info: &ClusterInfo) -> Result<(), ClusterError> {
        let json = serde_json::to_vec_pretty(info).map_err(|e| ClusterError::Kubeconfig {
            path: self.info_path(),
            reason: e.to_string(),
        })?;
        std::fs::write(self.info_path(), json)
            .map_err(call::io(format!("write {}", self.info_path().display())))?;
        Ok(())
    }
}

/// An exclusive lock on `clusters/start.lock` beside the cluster's state directory, released
/// when the returned file is dropped.
fn start_lock(cluster_dir: &Path) -> Result<std::fs::File, ClusterError> {
    let path = cluster_dir
        .parent()
        .unwrap_or(cluster_dir)
        .join("start.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(call::io(format!("open {}", path.display())))?;
    file.lock()
        .map_err(call::io(format!("lock {}", path.display())))?;
    Ok(file)
}

fn pick_port(wanted: Option<u16>) -> Result<u16, ClusterError> {
    match std::net::TcpListener::bind(("127.0.0.1", wanted.unwrap_or(0))) {
        Ok(l) => Ok(l
            .local_addr()
            .map_err(call::io("read the chosen port"))?
            .port()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(ClusterError::PortInUse {
            port: wanted.unwrap_or(0),
        }),
        Err(e) => Err(call::io("bind a port on 127.0.0.1")(e).into()),
    }
}

/// Flags of a control plane whose nodes are real kubelets in the cluster's namespace.
fn real_node_flags() -> Vec<config::Flag> {
    vec![
        // The namespace has no default route, from which the apiserver would pick its address.
        (
            Component::KubeApiserver,
            "advertise-address",
            netns::CONTROL_PLANE_IP.to_string(),
        ),
        // `kubectl logs` reaches the kubelet by IP: there is no DNS for node names.
        (
            Component::KubeApiserver,
            "kubelet-preferred-address-types",
            "InternalIP".into(),
        ),
        // By default the kwok controller takes over every node, real ones too.
        (
            Component::KwokController,
            "manage-all-nodes",
            "false".into(),
        ),
        (
            Component::KwokController,
            "manage-nodes-with-annotation-selector",
            "kwok.x-k8s.io/node=fake".into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_named_in_the_error() {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let err = pick_port(Some(port)).unwrap_err().to_string();
        assert!(
            err.contains(&port.to_string()) && err.contains("--port"),
            "{err}"
        );
    }
}
