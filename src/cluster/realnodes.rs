//! `cluster up --node-runtime kubelet`: real nodes, each a kubelet with its own containerd,
//! inside the cluster's network namespace, and the forwarder that lets the host reach the
//! apiserver on 127.0.0.1. Also their tear-down, which must work after a crash too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cgroups::{self, Hierarchy};
use super::kubelet::{self, KubeletKnobs};
use super::netns::{self, NetNs};
use super::{Binaries, ClusterError, binaries::cache_root, containerd, images, mounts};
use crate::call;
use crate::scenario::{Load, Scenario};

/// What runs the pods of a local cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NodeRuntime {
    /// kwok simulates the nodes: pods "start" after a configured delay
    #[default]
    Kwok,
    /// Real kubelets with containerd run the pods
    Kubelet,
}

/// The node runtime of the local cluster behind `context`; kwok for any other cluster.
pub fn node_runtime_of(context: &str) -> NodeRuntime {
    super::LocalCluster::info_of_context(context)
        .map_or(NodeRuntime::Kwok, |info| info.node_runtime)
}

/// Points a scenario's pods at real nodes: the local echo image (the only one the nodes have;
/// nothing can be pulled), never pulled, and the real nodes' label instead of kwok's selector
/// and toleration. Commands stay: the echo image runs `bash -c 'echo hello world'` too.
pub fn target_real_nodes(load: &mut Load) {
    load.image = images::ECHO.reference.into();
    load.image_pull_policy = "Never".into();
    let (key, kwok) = super::nodes::NODE_LABEL;
    if load.node_selector.get(key).is_some_and(|v| v == kwok) {
        load.node_selector
            .insert(key.into(), kubelet::NODE_LABEL.1.into());
    }
    load.tolerations
        .retain(|t| t.key.as_deref() != Some(super::nodes::KWOK_TAINT_KEY));
}

/// Adapts `scenario` to the cluster behind `context` (only kubelet-mode local clusters need it).
pub fn adapt_scenario(context: &str, scenario: &mut Scenario) {
    if node_runtime_of(context) == NodeRuntime::Kubelet {
        target_real_nodes(&mut scenario.load);
    }
}

/// The binaries real nodes need besides the cluster's: containerd, its shim and ctr (built by
/// `scripts/setup`), and Debian's runc, CNI plugins, busybox and socat.
#[derive(Debug, Clone)]
pub struct NodeBinaries {
    pub dir: PathBuf,
}

const NODE_BIN_NAMES: [&str; 3] = ["containerd", "containerd-shim-runc-v2", "ctr"];

fn setup_fix() -> String {
    "run `scripts/setup` (it builds containerd and installs runc, containernetworking-plugins, busybox-static and socat)".into()
}

impl NodeBinaries {
    /// `$CRONBENCH_NODE_BIN_DIR`, else `<cache>/node-bin/current`; checks every other
    /// prerequisite too, naming the fix.
    pub fn locate() -> Result<NodeBinaries, ClusterError> {
        if !is_root() {
            return Err(ClusterError::Prerequisite {
                what: "root (a network namespace, mounts and cgroups per node)".into(),
                fix: "run `cronbench cluster up --node-runtime kubelet` as root, or use kwok nodes"
                    .into(),
            });
        }
        let dir = std::env::var_os("CRONBENCH_NODE_BIN_DIR").map_or_else(
            || cache_root().join("node-bin").join("current"),
            PathBuf::from,
        );
        let mut needed: Vec<PathBuf> = NODE_BIN_NAMES.iter().map(|n| dir.join(n)).collect();
        needed.push(containerd::RUNC.into());
        for plugin in ["bridge", "host-local", "loopback"] {
            needed.push(Path::new(containerd::CNI_BIN_DIR).join(plugin));
        }
        needed.push(images::BUSYBOX.into());
        for path in needed {
            if !path.is_file() {
                return Err(ClusterError::Prerequisite {
                    what: format!("{} (missing)", path.display()),
                    fix: setup_fix(),
                });
            }
        }
        for command in ["socat", "nsenter", "ip", "umount"] {
            let found = std::process::Command::new(command)
                .arg("-V")
                .output()
                .is_ok();
            if !found {
                return Err(ClusterError::Prerequisite {
                    what: format!("the `{command}` command (not on PATH)"),
                    fix: setup_fix(),
                });
            }
        }
        let dir = dir.canonicalize().map_err(call::io(format!(
            "resolve node binary directory {}",
            dir.display()
        )))?;
        Ok(NodeBinaries { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The real nodes of one cluster, by its name and state directory.
#[derive(Debug, Clone)]
pub struct RealNodes {
    pub cluster: String,
    pub dir: PathBuf,
}

impl RealNodes {
    pub fn netns(&self) -> NetNs {
        NetNs::for_cluster(&self.cluster)
    }

    fn pid_dir(&self) -> PathBuf {
        self.dir.join("pids")
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The unix socket through which the host's forwarder of `port` reaches the namespace
    /// (file system sockets are reachable across network namespaces).
    fn forward_socket(&self, port: u16) -> PathBuf {
        self.dir.join(format!("forward-{port}.sock"))
    }

    fn node(&self, i: u32) -> kubelet::Node {
        let dir = self.dir.join(format!("n{i}"));
        kubelet::Node {
            index: i,
            name: kubelet::node_name(i),
            ip: netns::node_ip(i),
            containerd_socket: containerd::Layout { dir: dir.clone() }.socket(),
            dir,
            cgroup_root: cgroups::node_root(&self.cluster, i),
        }
    }

    /// The node directories `n<i>` that exist.
    fn node_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix('n'))
                    .is_some_and(|i| i.parse::<u32>().is_ok())
            })
            .collect()
    }

    /// Component name -> (pid file, log), for `cluster status` and health checks.
    pub fn component_files(&self) -> Vec<(String, PathBuf, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.pid_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_stem()?.to_str()?.to_string();
                let log = self.log_dir().join(format!("{name}.log"));
                Some((name, path, log))
            })
            .collect()
    }

    fn spawn(
        &self,
        ns: Option<&NetNs>,
        component: &str,
        program: &Path,
        args: &[String],
    ) -> Result<u32, ClusterError> {
        for d in [self.pid_dir(), self.log_dir()] {
            std::fs::create_dir_all(&d).map_err(call::io(format!("create {}", d.display())))?;
        }
        netns::spawn(
            ns,
            program,
            args,
            &self.log_dir().join(format!("{component}.log")),
            &self.pid_dir().join(format!("{component}.pid")),
        )
    }

    /// Before the control plane: the namespace with its addresses and the cgroup roots.
    pub fn prepare(&self, nodes: u32) -> Result<Hierarchy, ClusterError> {
        let hierarchy = cgroups::detect();
        cgroups::create(&self.cluster, nodes, hierarchy)?;
        self.netns().create(nodes)?;
        Ok(hierarchy)
    }

    /// One forwarder pair per port: a socat in the namespace from a unix socket to
    /// 127.0.0.1:`port` there, and one on the host from 127.0.0.1:`port` to the socket. The
    /// kubeconfig's https://127.0.0.1:`port` of the apiserver is then valid on both sides.
    pub fn start_forwarders(&self, ports: &[u16]) -> Result<(), ClusterError> {
        let socat = PathBuf::from("socat");
        for port in ports {
            let socket = self.forward_socket(*port).display().to_string();
            self.spawn(
                Some(&self.netns()),
                &format!("forwarder-{port}-netns"),
                &socat,
                &[
                    format!("UNIX-LISTEN:{socket},fork,unlink-early"),
                    format!("TCP:127.0.0.1:{port}"),
                ],
            )?;
            self.spawn(
                None,
                &format!("forwarder-{port}-host"),
                &socat,
                &[
                    format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
                    format!("UNIX-CONNECT:{socket}"),
                ],
            )?;
        }
        Ok(())
    }

    /// Starts `nodes` containerds, imports the local images into each, then the kubelets.
    pub fn start(
        &self,
        nodes: u32,
        hierarchy: Hierarchy,
        bins: &Binaries,
        node_bins: &NodeBinaries,
        knobs: &KubeletKnobs,
        kubeconfig: &Path,
    ) -> Result<(), ClusterError> {
        let archives = images::write_all(&self.dir.join("images"), Path::new(images::BUSYBOX))?;
        let ns = self.netns();
        let ctr = node_bins.path("ctr");
        for i in 0..nodes {
            let node = self.node(i);
            let layout = containerd::Layout {
                dir: node.dir.clone(),
            };
            containerd::prepare(&layout, i, &node_bins.path("containerd-shim-runc-v2"))?;
            self.spawn(
                Some(&ns),
                &format!("containerd-n{i}"),
                &node_bins.path("containerd"),
                &[format!("--config={}", layout.config().display())],
            )?;
            // If containerd died, `cluster up` names it with the tail of its log.
            containerd::wait_ready(&ctr, &layout, Duration::from_secs(30))?;
            for archive in &archives {
                containerd::import(&ctr, &layout, archive)?;
            }
            let config = node.config_path();
            std::fs::write(&config, node.config(hierarchy, knobs))
                .map_err(call::io(format!("write {}", config.display())))?;
            self.spawn(
                Some(&ns),
                &format!("kubelet-n{i}"),
                &bins.path("kubelet"),
                &node.args(kubeconfig),
            )?;
        }
        Ok(())
    }

    /// Everything the nodes leave outside the processes that name the state directory: the
    /// containers (killed through their cgroups), mounts (deepest first), cgroup directories
    /// (deepest first), the namespace and its interfaces, and the kubelets' log links. Call it
    /// after those processes are gone. Fails, listing them, if any is left.
    pub fn teardown(&self) -> Result<(), ClusterError> {
        let ns = self.netns();
        let in_ns = ns.pids();
        if !in_ns.is_empty() {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .args(in_ns.iter().map(u32::to_string))
                .stderr(std::process::Stdio::null())
                .status();
        }
        let cgroups_left = cgroups::remove(&self.cluster);
        let mounts_left = mounts::unmount_all(&self.dir);
        if !mounts_left.is_empty() {
            return Err(self.leftover(
                "mounts",
                mounts_left
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
            ));
        }
        ns.delete()?;
        for node_dir in self.node_dirs() {
            containerd::remove_shim_sockets(&containerd::Layout { dir: node_dir });
        }
        remove_log_links(Path::new("/var/log/containers"), &self.dir);
        if !cgroups_left.is_empty() {
            return Err(self.leftover("cgroups", cgroups_left));
        }
        Ok(())
    }

    fn leftover(&self, what: &'static str, items: Vec<String>) -> ClusterError {
        ClusterError::LeftoverState {
            name: self.cluster.clone(),
            what,
            items,
        }
    }

    /// Processes of the nodes that need not name the state directory: everything in the
    /// namespace or in the nodes' cgroups (containers).
    pub fn pids(&self) -> Vec<u32> {
        let mut out = self.netns().pids();
        out.extend(cgroups::pids(&self.cluster));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// What of the nodes is still there: processes in the namespace or the cgroups, mounts,
    /// cgroup directories, the namespace. Empty after a clean tear-down.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ns = self.netns();
        if ns.exists() {
            out.push(format!("network namespace {}", ns.name));
        }
        out.extend(
            ns.pids()
                .iter()
                .map(|p| format!("process {p} in the namespace")),
        );
        out.extend(
            cgroups::pids(&self.cluster)
                .iter()
                .map(|p| format!("process {p} in the cgroups")),
        );
        out.extend(
            mounts::list(&self.dir)
                .iter()
                .map(|m| format!("mount {}", m.display())),
        );
        out.extend(
            cgroups::leftovers(&self.cluster)
                .into_iter()
                .map(|c| format!("cgroup {c}")),
        );
        out
    }
}

/// Whether this process runs with effective uid 0 (from /proc, without unsafe code).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The kubelet links container logs into /var/log/containers; removes those pointing into
/// the cluster's directory.
fn remove_log_links(links: &Path, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(links) else {
        return;
    };
    for e in entries.flatten() {
        if std::fs::read_link(e.path()).is_ok_and(|t| t.starts_with(dir)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Toleration;

    #[test]
    fn a_kwok_scenario_targets_real_nodes_with_the_local_image() {
        let mut load = Load::default();
        load.node_selector.insert("type".into(), "kwok".into());
        load.node_selector.insert("zone".into(), "a".into());
        load.tolerations = vec![
            Toleration {
                key: Some("kwok.x-k8s.io/node".into()),
                operator: Some("Exists".into()),
                value: None,
                effect: Some("NoSchedule".into()),
            },
            Toleration {
                key: Some("other".into()),
                operator: Some("Exists".into()),
                value: None,
                effect: None,
            },
        ];
        let command = load.command.clone();
        target_real_nodes(&mut load);
        assert_eq!(load.image, "cronbench.local/echo:1");
        assert_eq!(load.image_pull_policy, "Never");
        assert_eq!(load.node_selector["type"], "kubelet");
        assert_eq!(load.node_selector["zone"], "a");
        assert_eq!(load.tolerations.len(), 1);
        assert_eq!(load.tolerations[0].key.as_deref(), Some("other"));
        assert_eq!(load.command, command);
    }

    #[test]
    fn only_log_links_into_the_cluster_are_removed() {
        let base = std::env::temp_dir().join(format!("cb-links-{}", std::process::id()));
        let links = base.join("containers");
        std::fs::create_dir_all(&links).unwrap();
        let ours = base.join("cluster/n0/pod-logs/x.log");
        std::os::unix::fs::symlink(&ours, links.join("ours.log")).unwrap();
        std::os::unix::fs::symlink("/elsewhere/y.log", links.join("theirs.log")).unwrap();
        remove_log_links(&links, &base.join("cluster"));
        assert!(std::fs::symlink_metadata(links.join("ours.log")).is_err());
        assert!(std::fs::symlink_metadata(links.join("theirs.log")).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn clusters_that_are_not_local_keep_kwok_semantics() {
        assert_eq!(node_runtime_of("kind-x"), NodeRuntime::Kwok);
        assert_eq!(
            node_runtime_of("cronbench-k10-never-started"),
            NodeRuntime::Kwok
        );
    }
}
