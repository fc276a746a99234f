//! The network namespace of a kubelet-mode cluster. The kubelet refuses a loopback node IP
//! and wants its node IP on an interface of its own namespace, so the whole cluster (control
//! plane and nodes) runs in one namespace of cronbench's, where a bridge carries the control
//! plane's address and one veth pair per node carries that node's. Every non-loopback address
//! lives there; the host's namespace only sees a forwarded 127.0.0.1 port.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ClusterError;
use crate::call;

/// The bridge's name and the control plane's (apiserver advertise) address.
const BRIDGE: &str = "cb-br";
pub const CONTROL_PLANE_IP: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 1);
const PREFIX: u8 = 24;
/// Node `i` gets 10.250.0.(10 + i).
const FIRST_NODE_HOST: u32 = 10;
pub const MAX_NODES: u32 = 200;

/// One cluster's namespace, `cronbench-<cluster>`.
#[derive(Debug, Clone)]
pub struct NetNs {
    pub name: String,
}

/// The address of node `i`.
pub fn node_ip(i: u32) -> Ipv4Addr {
    let [a, b, c, _] = CONTROL_PLANE_IP.octets();
    Ipv4Addr::new(a, b, c, (FIRST_NODE_HOST + i).min(254) as u8)
}

/// The node end of node `i`'s veth pair (interface names have at most 15 characters).
fn node_link(i: u32) -> String {
    format!("cb-n{i}")
}

fn ip(args: &[&str]) -> Result<(), ClusterError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| ClusterError::Prerequisite {
            what: format!("the `ip` command ({e})"),
            fix: "install iproute2".into(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Command {
        command: format!("ip {}", args.join(" ")),
        code: out
            .status
            .code()
            .map_or_else(|| "signal".into(), |c| c.to_string()),
        output: String::from_utf8_lossy(&out.stderr).into_owned(),
        logs: String::new(),
    })
}

impl NetNs {
    pub fn for_cluster(cluster: &str) -> NetNs {
        NetNs {
            name: format!("cronbench-{cluster}"),
        }
    }

    /// The bind mount `ip netns` keeps for it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    pub fn exists(&self) -> bool {
        self.path().exists()
    }

    /// The argument that makes `nsenter` run a command in this namespace (and no other).
    pub fn nsenter_arg(&self) -> String {
        format!("--net={}", self.path().display())
    }

    /// Creates the namespace with loopback up, the bridge and `nodes` veth pairs.
    pub fn create(&self, nodes: u32) -> Result<(), ClusterError> {
        if nodes > MAX_NODES {
            return Err(ClusterError::Prerequisite {
                what: format!("at most {MAX_NODES} nodes (asked for {nodes})"),
                fix: "use fewer --nodes".into(),
            });
        }
        ip(&["netns", "add", &self.name])?;
        let n = self.name.as_str();
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        ip(&["-n", n, "link", "add", BRIDGE, "type", "bridge"])?;
        let cidr = format!("{CONTROL_PLANE_IP}/{PREFIX}");
        ip(&["-n", n, "addr", "add", &cidr, "dev", BRIDGE])?;
        ip(&["-n", n, "link", "set", BRIDGE, "up"])?;
        for i in 0..nodes {
            let link = node_link(i);
            let port = format!("{link}p");
            ip(&[
                "-n", n, "link", "add", &link, "type", "veth", "peer", "name", &port,
            ])?;
            ip(&["-n", n, "link", "set", &port, "master", BRIDGE, "up"])?;
            let cidr = format!("{}/{PREFIX}", node_ip(i));
            ip(&["-n", n, "addr", "add", &cidr, "dev", &link])?;
            ip(&["-n", n, "link", "set", &link, "up"])?;
        }
        Ok(())
    }

    /// Pids of the processes in the namespace.
    pub fn pids(&self) -> Vec<u32> {
        if !self.exists() {
            return Vec::new();
        }
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes the namespace (its interfaces go with it). Callers stop its processes first.
    pub fn delete(&self) -> Result<(), ClusterError> {
        if !self.exists() {
            return Ok(());
        }
        ip(&["netns", "delete", &self.name])
    }
}

/// Starts `program args` detached, in `ns` when given (else in the host's namespace): its own process group (a Ctrl-C of
/// cronbench does not reach it), output to `log`, its pid written to `pid_file`.
pub fn spawn(
    ns: Option<&NetNs>,
    program: &Path,
    args: &[String],
    log: &Path,
    pid_file: &Path,
) -> Result<u32, ClusterError> {
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(call::io(format!("open log {}", p.display())))
    };
    let out = open(log)?;
    let err = out
        .try_clone()
        .map_err(call::io(format!("open log {}", log.display())))?;
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(ns.nsenter_arg()).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    };
    let child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| ClusterError::Prerequisite {
            what: format!(
                "to start {}{} ({e})",
                program.display(),
                if ns.is_some() { " with nsenter" } else { "" }
            ),
            fix: "run `scripts/setup` (nsenter is in util-linux, socat in its own package)".into(),
        })?;
    // nsenter execs the program: the child's pid is the program's.
    let pid = child.id();
    std::fs::write(pid_file, pid.to_string())
        .map_err(call::io(format!("write {}", pid_file.display())))?;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_addresses_beside_the_control_plane() {
        assert_eq!(node_ip(0), Ipv4Addr::new(10, 250, 0, 10));
        assert_eq!(node_ip(2), Ipv4Addr::new(10, 250, 0, 12));
        assert_ne!(node_ip(0), CONTROL_PLANE_IP);
        assert!(
            node_link(MAX_NODES).len() <= 14,
            "with the port suffix <= 15"
        );
    }

    #[test]
    fn the_namespace_is_named_after_the_cluster() {
        let ns = NetNs::for_cluster("k10-a");
        assert_eq!(ns.path(), PathBuf::from("/run/netns/cronbench-k10-a"));
        assert_eq!(ns.nsenter_arg(), "--net=/run/netns/cronbench-k10-a");
    }
}
