//! One containerd per real node: its configuration (own root, state, sockets, runc root, CNI
//! configuration and IP allocations, the local pause image as sandbox image) and the import of
//! the local images.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ClusterError, images};
use crate::call;

/// Where Debian's containernetworking-plugins and runc put their binaries.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";
pub const RUNC: &str = "/usr/sbin/runc";

/// The directories and files of one node's containerd, all below the node's directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("containerd.toml")
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni")
    }
}

/// A TOML string (a basic string's escapes are those of JSON for what paths contain).
fn toml_str(s: &str) -> String {
    json!(s).to_string()
}

/// containerd's configuration (format version 3 of containerd 2.x).
pub fn render(l: &Layout, shim: &Path) -> String {
    let p = |name: &str| toml_str(&l.dir.join(name).display().to_string());
    let socket = toml_str(&l.socket().display().to_string());
    let ttrpc = toml_str(&format!("{}.ttrpc", l.socket().display()));
    format!(
        r#"version = 3
root = {root}
state = {state}
imports = []
# NRI's socket is host-wide; nothing here uses it.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = {socket}

[ttrpc]
  address = {ttrpc}

[plugins.'io.containerd.internal.v1.opt']
  path = {opt}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = {pause}

[plugins.'io.containerd.cri.v1.runtime']
  # Without it runc fails with "can't get final child's PID from pipe: EOF": the process may
  # not lower an OOM score here.
  restrict_oom_score_adj = true
  # Pod network namespaces below the state directory, not in the host's /run/netns.
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      runtime_path = {shim}
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = {runc}
        Root = {runc_root}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [{cni_bin}]
    conf_dir = {cni_conf}
    max_conf_num = 1
"#,
        root = p("containerd"),
        state = p("containerd-state"),
        opt = p("containerd-opt"),
        pause = toml_str(images::PAUSE.reference),
        runc = toml_str(RUNC),
        shim = toml_str(&shim.display().to_string()),
        runc_root = p("runc"),
        cni_bin = toml_str(CNI_BIN_DIR),
        cni_conf = toml_str(&l.cni_conf_dir().display().to_string()),
    )
}

/// The node's CNI configuration: a bridge of its own with a /24 for its pods. Pods need
/// nothing but loopback; the node only reports NetworkReady once a configuration exists.
pub fn cni_config(l: &Layout, node: u32) -> String {
    json!({
        "cniVersion": "1.0.0",
        "name": format!("cronbench-n{node}"),
        "plugins": [{
            "type": "bridge",
            "bridge": format!("cb-pods{node}"),
            "isGateway": false,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": format!("10.251.{node}.0/24") }]],
                "dataDir": l.dir.join("cni-ipam").display().to_string(),
            },
        }],
    })
    .to_string()
}

/// Writes the configuration files and creates the directories.
pub fn prepare(l: &Layout, node: u32, shim: &Path) -> Result<(), ClusterError> {
    let conf_dir = l.cni_conf_dir();
    std::fs::create_dir_all(&conf_dir)
        .map_err(call::io(format!("create {}", conf_dir.display())))?;
    let files = [
        (l.config(), render(l, shim)),
        (conf_dir.join("10-cronbench.conflist"), cni_config(l, node)),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(call::io(format!("write {}", path.display())))?;
    }
    Ok(())
}

/// Waits for containerd's socket to answer `ctr version`.
pub fn wait_ready(ctr: &Path, l: &Layout, timeout: Duration) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    loop {
        let ok = Command::new(ctr)
            .arg("--address")
            .arg(l.socket())
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::NotReady {
                seconds: timeout.as_secs(),
                what: format!("containerd at {} does not answer", l.socket().display()),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Imports an OCI archive into the node's `k8s.io` namespace (the one the CRI uses).
pub fn import(ctr: &Path, l: &Layout, archive: &Path) -> Result<(), ClusterError> {
    let out = Command::new(ctr)
        .arg("--address")
        .arg(l.socket())
        .args(["-n", "k8s.io", "images", "import"])
        .arg(archive)
        .output()
        .map_err(call::io(format!("run {}", ctr.display())))?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Command {
        command: format!("ctr images import {}", archive.display()),
        code: out
            .status
            .code()
            .map_or_else(|| "signal".into(), |c| c.to_string()),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        logs: String::new(),
    })
}

/// Where shims put their sockets, whatever containerd's state directory: a name per task.
const SHIM_SOCKET_DIR: &str = "/run/containerd/s";

/// The socket a shim of this containerd serves task `id` of namespace `k8s.io` on: named
/// after the SHA-256 of `<containerd address>/<namespace>/<id>`.
fn shim_socket(l: &Layout, id: &str) -> PathBuf {
    let key = format!("{}/k8s.io/{id}", l.socket().display());
    let hex: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Path::new(SHIM_SOCKET_DIR).join(hex)
}

/// Removes the sockets of this node's shims. A shim removes its own when it exits, but not
/// when it is killed; the task directories below the state dir still name them.
pub fn remove_shim_sockets(l: &Layout) {
    let tasks = l
        .dir
        .join("containerd-state/io.containerd.runtime.v2.task/k8s.io");
    let Ok(entries) = std::fs::read_dir(tasks) else {
        return;
    };
    for e in entries.flatten() {
        if let Some(id) = e.file_name().to_str() {
            let _ = std::fs::remove_file(shim_socket(l, id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_of_a_node_s_containerd_is_its_own() {
        let l = Layout {
            dir: "/c/k10/n1".into(),
        };
        let cfg = render(&l, Path::new("/bin/shim"));
        for needle in [
            "root = \"/c/k10/n1/containerd\"",
            "state = \"/c/k10/n1/containerd-state\"",
            "address = \"/c/k10/n1/containerd.sock\"",
            "Root = \"/c/k10/n1/runc\"",
            "conf_dir = \"/c/k10/n1/cni\"",
            "sandbox = \"cronbench.local/pause:1\"",
            "restrict_oom_score_adj = true",
        ] {
            assert!(cfg.contains(needle), "{needle} missing in\n{cfg}");
        }
        let cni: serde_json::Value = serde_json::from_str(&cni_config(&l, 1)).unwrap();
        assert_eq!(cni["plugins"][0]["ipam"]["dataDir"], "/c/k10/n1/cni-ipam");
        assert_eq!(
            cni["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.251.1.0/24"
        );
    }

    #[test]
    fn shim_sockets_are_named_like_containerd_names_them() {
        // sha256("/a/containerd.sock/k8s.io/abc"), computed with sha256sum.
        let l = Layout { dir: "/a".into() };
        assert_eq!(
            shim_socket(&l, "abc"),
            Path::new("/run/containerd/s")
                .join("6cea2601e37daba8a9ca335cc6ac92427579b815e05b344107045bb8bc3dc386")
        );
    }
}
