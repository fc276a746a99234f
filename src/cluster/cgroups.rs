//! Cgroups of real nodes: one directory per cluster, `/cronbench-<cluster>`, and in it one
//! cgroup root per kubelet, on either hierarchy. Tear-down kills what is left in them and
//! removes them deepest first (a cgroup directory can only go once it is empty).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::ClusterError;
use crate::call;

/// Which cgroup hierarchy the host runs. Kubelets 1.35+ refuse v1 unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    V1,
    V2,
}

const CGROUP_FS: &str = "/sys/fs/cgroup";

/// v2 when `/sys/fs/cgroup` is the unified hierarchy itself (it then has cgroup.controllers).
pub fn detect() -> Hierarchy {
    if Path::new(CGROUP_FS).join("cgroup.controllers").exists() {
        Hierarchy::V2
    } else {
        Hierarchy::V1
    }
}

/// The cluster's directory, relative to every hierarchy's root.
pub fn cluster_dir(cluster: &str) -> String {
    format!("cronbench-{cluster}")
}

/// The kubelet `cgroupRoot` of node `i`.
pub fn node_root(cluster: &str, i: u32) -> String {
    format!("/{}/n{i}", cluster_dir(cluster))
}

/// Mount points of cgroup file systems, with whether each is v2, from a mountinfo text.
fn parse_mounts(mountinfo: &str) -> Vec<(PathBuf, bool)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            let fstype = right.split_whitespace().next()?;
            match fstype {
                "cgroup" => Some((PathBuf::from(mount_point), false)),
                "cgroup2" => Some((PathBuf::from(mount_point), true)),
                _ => None,
            }
        })
        .collect()
}

fn mounts() -> Vec<(PathBuf, bool)> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| parse_mounts(&s))
        .unwrap_or_default()
}

fn write(path: &Path, value: &str) -> Result<(), ClusterError> {
    std::fs::write(path, value).map_err(call::io(format!(
        "write `{}` to {}",
        value.trim(),
        path.display()
    )))?;
    Ok(())
}

/// Creates the cluster's directory and node roots `0..nodes` in every hierarchy that the
/// kubelet uses.
pub fn create(cluster: &str, nodes: u32, hierarchy: Hierarchy) -> Result<(), ClusterError> {
    let targets: Vec<PathBuf> = match hierarchy {
        Hierarchy::V2 => vec![PathBuf::from(CGROUP_FS)],
        Hierarchy::V1 => mounts()
            .into_iter()
            .filter(|(_, v2)| !v2)
            .map(|(p, _)| p)
            .collect(),
    };
    for mount in targets {
        let top = mount.join(cluster_dir(cluster));
        std::fs::create_dir_all(&top)
            .map_err(call::io(format!("create cgroup {}", top.display())))?;
        let is_cpuset = mount.join("cpuset.cpus").exists();
        let inherit = |dir: &Path, parent: &Path| -> Result<(), ClusterError> {
            // A new v1 cpuset has no CPUs or memory nodes; nothing could join it.
            if is_cpuset {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let value = std::fs::read_to_string(parent.join(file))
                        .map_err(call::io(format!("read {}", parent.display())))?;
                    write(&dir.join(file), &value)?;
                }
            }
            Ok(())
        };
        inherit(&top, &mount)?;
        if hierarchy == Hierarchy::V2 {
            enable_controllers(&mount)?;
            enable_controllers(&top)?;
        }
        for i in 0..nodes {
            let dir = top.join(format!("n{i}"));
            std::fs::create_dir_all(&dir)
                .map_err(call::io(format!("create cgroup {}", dir.display())))?;
            inherit(&dir, &top)?;
            if hierarchy == Hierarchy::V2 {
                enable_controllers(&dir)?;
            }
        }
    }
    Ok(())
}

/// Lets the children of a v2 cgroup use every controller it has.
fn enable_controllers(dir: &Path) -> Result<(), ClusterError> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map_err(call::io(format!("read {}", dir.display())))?;
    let wanted: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// Every directory of the cluster in every hierarchy, deepest first.
fn dirs(cluster: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (mount, _) in mounts() {
        let top = mount.join(cluster_dir(cluster));
        if top.is_dir() {
            collect_dirs(&top, &mut out);
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Pids in the cluster's cgroups: the containers, and anything else the nodes started.
pub fn pids(cluster: &str) -> Vec<u32> {
    let mut out: Vec<u32> = dirs(cluster)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Kills every process in the cluster's cgroups, then removes the directories deepest first.
/// Returns the directories that could not be removed.
pub fn remove(cluster: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = pids(cluster);
        if !left.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(left.iter().map(u32::to_string))
                .stderr(std::process::Stdio::null())
                .status();
        }
        let mut failed = Vec::new();
        for dir in dirs(cluster) {
            if let Err(e) = std::fs::remove_dir(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                failed.push(format!("{} ({e})", dir.display()));
            }
        }
        if failed.is_empty() || Instant::now() >= deadline {
            return failed;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cluster's cgroup directories that still exist.
pub fn leftovers(cluster: &str) -> Vec<String> {
    dirs(cluster)
        .iter()
        .map(|d| d.display().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_mounts_are_read_from_mountinfo() {
        let text = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 25 0:40 / /proc rw - proc proc rw";
        assert_eq!(
            parse_mounts(text),
            vec![
                (PathBuf::from("/sys/fs/cgroup/unified"), true),
                (PathBuf::from("/sys/fs/cgroup/cpu"), false),
            ]
        );
    }

    #[test]
    fn node_roots_sit_in_the_cluster_directory() {
        assert_eq!(node_root("k10-a", 2), "/cronbench-k10-a/n2");
    }
}
