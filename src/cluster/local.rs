//! `cronbench cluster up | down | status`: the local cluster's life cycle.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use super::kubelet::KubeletKnobs;
use super::realnodes::{NodeRuntime, RealNodes};
use super::{Binaries, ClusterError, Knobs, StageDelays, binaries::cache_root};
use crate::call;

mod up;

/// What `cluster up` was asked for.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub nodes: u32,
    /// 127.0.0.1 port of the apiserver; `None` picks a free one.
    pub port: Option<u16>,
    pub knobs: Knobs,
    pub delays: StageDelays,
    pub runtime: NodeRuntime,
    pub kubelet: KubeletKnobs,
    /// A KubeSchedulerConfiguration for the scheduler; `None` runs its defaults.
    pub scheduler_config: Option<PathBuf>,
    /// Run the apiserver with cronbench's audit policy for these namespaces (see
    /// [`super::audit`]); `None`: no audit log.
    pub audit: Option<super::audit::AuditScope>,
}

/// What a running local cluster is; written to `cluster.json` in its state directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub name: String,
    pub context: String,
    pub kubeconfig: PathBuf,
    pub port: u16,
    pub binaries: PathBuf,
    pub nodes: u32,
    pub knobs: Knobs,
    pub delays: StageDelays,
    /// Absent in the files of clusters started before real nodes existed: kwok.
    #[serde(default)]
    pub node_runtime: NodeRuntime,
    #[serde(default)]
    pub kubelet: KubeletKnobs,
    /// The KubeSchedulerConfiguration the scheduler was started with (absolute path, as given
    /// to `cluster up --scheduler-config`); absent: the scheduler's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_config: Option<PathBuf>,
    /// The apiserver's audit log, when the cluster was started with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log: Option<PathBuf>,
    /// Seconds `cluster up` took.
    pub up_seconds: f64,
}

/// One local cluster, by name, and its state directory `<cache>/clusters/<name>`.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    pub name: String,
    pub dir: PathBuf,
}

/// A component process as its pid file tells.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentStatus {
    pub component: String,
    pub pid: Option<u32>,
    pub running: bool,
    pub log: PathBuf,
}

impl LocalCluster {
    /// What `cluster up` recorded for the local cluster behind a `cronbench-<name>` context,
    /// when it is up on this machine; None for any other context.
    pub fn info_of_context(context: &str) -> Option<ClusterInfo> {
        let name = context.strip_prefix("cronbench-")?;
        LocalCluster::new(name).ok()?.info().ok().flatten()
    }

    pub fn new(name: &str) -> Result<LocalCluster, ClusterError> {
        let valid = !name.is_empty()
            && name.len() <= 30
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid {
            return Err(ClusterError::BadName(name.to_string()));
        }
        Ok(LocalCluster {
            name: name.to_string(),
            dir: cache_root().join("clusters").join(name),
        })
    }

    pub fn context(&self) -> String {
        super::context_name(&self.name)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Where the apiserver writes its audit log when the cluster was started with one.
    pub fn audit_log(&self) -> PathBuf {
        super::audit::log_path(&self.dir)
    }

    fn info_path(&self) -> PathBuf {
        self.dir.join("cluster.json")
    }

    fn kwok_workdir(&self) -> PathBuf {
        self.dir.join("kwok")
    }

    /// kwokctl's name for the cluster (its context would be `kwok-<this>`).
    fn kwok_name(&self) -> String {
        format!("cronbench-{}", self.name)
    }

    /// Where kwokctl keeps pids and logs.
    fn kwok_cluster_dir(&self) -> PathBuf {
        self.kwok_workdir().join("clusters").join(self.kwok_name())
    }

    pub fn info(&self) -> Result<Option<ClusterInfo>, ClusterError> {
        match std::fs::read(self.info_path()) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ClusterError::Kubeconfig {
                        path: self.info_path(),
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(call::io(format!("read {}", self.info_path().display()))(e).into()),
        }
    }

    /// The components kwokctl started, and in kubelet mode the nodes' kubelets, containerds
    /// and forwarders, with whether each is alive.
    pub fn components(&self) -> Vec<ComponentStatus> {
        let kwok = self.kwok_cluster_dir();
        let mut files = self.real_nodes().component_files();
        if let Ok(entries) = std::fs::read_dir(kwok.join("pids")) {
            for entry in entries.flatten() {
                let path = entry.path();
                if let Some(component) = path.file_stem().and_then(|s| s.to_str()) {
                    let log = kwok.join("logs").join(format!("{component}.log"));
                    files.push((component.to_string(), path.clone(), log));
                }
            }
        }
        let mut out: Vec<ComponentStatus> = files
            .into_iter()
            .map(|(component, pid_file, log)| {
                let pid = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                ComponentStatus {
                    component,
                    pid,
                    running: pid.is_some_and(pid_alive),
                    log,
                }
            })
            .collect();
        out.sort_by(|a, b| a.component.cmp(&b.component));
        out
    }

    /// Real nodes of this cluster (there are none in kwok mode).
    pub fn real_nodes(&self) -> RealNodes {
        RealNodes {
            cluster: self.name.clone(),
            dir: self.dir.clone(),
        }
    }

    /// Stops every process of the cluster and removes its state. Works on a cluster that
    /// crashed or was half-started, and fails if any process survives.
    pub async fn down(&self, bins: &Binaries) -> Result<(), ClusterError> {
        let real = self.real_nodes();
        if !self.dir.exists() && !real.netns().exists() {
            return Err(ClusterError::NotUp {
                name: self.name.clone(),
            });
        }
        // kwokctl stops what its pid files name; errors here are followed by the sweep below.
        let _ = self
            .kwokctl(bins)
            .args(["delete", "cluster", "--kubeconfig"])
            .arg(self.kubeconfig())
            .output()
            .await;
        let mut left = self.processes();
        for signal in ["-TERM", "-KILL"] {
            if left.is_empty() {
                break;
            }
            for pid in &left {
                let _ = Command::new("kill")
                    .arg(signal)
                    .arg(pid.to_string())
                    .stderr(Stdio::null())
                    .status()
                    .await;
            }
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                left = self.processes();
                if left.is_empty() {
                    break;
                }
            }
        }
        if !left.is_empty() {
            return Err(ClusterError::Leftovers {
                name: self.name.clone(),
                pids: left,
            });
        }
        // Real nodes: containers, mounts, cgroups, the namespace. Nothing is removed below a
        // mount point that is still mounted: teardown fails first.
        real.teardown()?;
        if !self.dir.exists() {
            return Ok(());
        }
        std::fs::remove_dir_all(&self.dir)
            .map_err(call::io(format!("remove {}", self.dir.display())))?;
        Ok(())
    }

    /// Pids of every process whose command line mentions this cluster's state directory
    /// (kwokctl runs each component from there, with its certificates and config there).
    pub fn processes(&self) -> Vec<u32> {
        // With the separator, cluster `a` does not match the processes of cluster `ab`.
        let needle = format!("{}/", self.dir.display());
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                    .unwrap_or(false)
            })
            .collect()
    }

    /// A client for the cluster, from its kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        client_for(&self.kubeconfig(), Some(&self.context())).await
    }

    fn kwokctl(&self, bins: &Binaries) -> Command {
        // In kubelet mode the control plane runs in the cluster's network namespace.
        let ns = self.real_nodes().netns();
        let mut cmd = if ns.exists() {
            let mut c = Command::new("nsenter");
            c.arg(ns.nsenter_arg()).arg("--").arg(bins.path("kwokctl"));
            c
        } else {
            Command::new(bins.path("kwokctl"))
        };
        // kwokctl looks for kubectl on PATH before downloading one: ours comes first.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bins.dir.clone()];
        paths.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
        cmd.env("KWOK_WORKDIR", self.kwok_workdir())
            .arg("--name")
            .arg(self.kwok_name())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Fails, naming the component and the tail of its log, when a process of the cluster died.
    pub fn check_health(&self) -> Result<(), ClusterError> {
        match self.dead_component() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn dead_component(&self) -> Option<ClusterError> {
        let dead = self.components().into_iter().find(|c| !c.running)?;
        Some(ClusterError::ComponentExited {
            tail: tail(&dead.log, 20),
            component: dead.component,
            log: dead.log,
        })
    }

    fn command_error(&self, command: &str, out: &std::process::Output) -> ClusterError {
        let mut logs = String::new();
        for c in self.components().iter().filter(|c| !c.running) {
            logs.push_str(&format!(
                "\ncomponent {} is not running; last lines of {}:\n{}",
                c.component,
                c.log.display(),
                tail(&c.log, 20)
            ));
        }
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port_hint = if output.contains("address already in use") {
            "\nhint: a port is in use; choose another apiserver port with --port"
        } else {
            ""
        };
        ClusterError::Command {
            command: command.to_string(),
            code: out
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |c| c.to_string()),
            output: format!("{}{port_hint}", tail_str(&output, 30)),
            logs,
        }
    }
}

/// A kube client for `context` (or the current one) of the kubeconfig at `path`.
pub async fn client_for(path: &Path, context: Option<&str>) -> Result<kube::Client, ClusterError> {
    let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| ClusterError::Kubeconfig {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let opts = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| ClusterError::Kubeconfig {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(kube::Client::try_from(config).map_err(call::api("building a client"))?)
}

/// Whether process `pid` runs (a zombie counts as dead); used by the game days' restarts too.
pub fn pid_alive(pid: u32) -> bool {
    // A zombie has a /proc entry but is dead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) => tail_str(&s, lines),
        Err(e) => format!("(could not read: {e})"),
    }
}

fn tail_str(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_must_be_dns_friendly() {
        assert!(LocalCluster::new("local").is_ok());
        assert!(LocalCluster::new("Local").is_err());
        assert!(LocalCluster::new("-x").is_err());
        assert!(LocalCluster::new("").is_err());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_str("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_str("a", 5), "a");
    }
}
