//! One kubelet per real node: its configuration file and command line. Every path, port and
//! cgroup is the node's own, so several kubelets share the machine.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cgroups::Hierarchy;

/// The label every real node carries (kwok nodes carry `type=kwok`).
pub const NODE_LABEL: (&str, &str) = ("type", "kubelet");

/// The kubelet settings that bound how fast a node starts pods. `None` keeps the kubelet's
/// default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct KubeletKnobs {
    /// kubelet kubeAPIQPS (default 50; a whole number: the field is an int32)
    #[arg(long)]
    pub kubelet_api_qps: Option<u32>,
    /// kubelet kubeAPIBurst (default 100)
    #[arg(long)]
    pub kubelet_api_burst: Option<u32>,
    /// kubelet serializeImagePulls (default true)
    #[arg(long)]
    pub kubelet_serialize_image_pulls: Option<bool>,
    /// kubelet maxParallelImagePulls (default unlimited; needs --kubelet-serialize-image-pulls false)
    #[arg(long)]
    pub kubelet_max_parallel_image_pulls: Option<u32>,
}

/// What differs between the kubelets of one cluster.
#[derive(Debug, Clone)]
pub struct Node {
    pub index: u32,
    pub name: String,
    pub ip: Ipv4Addr,
    /// The node's own directory in the cluster's state directory.
    pub dir: PathBuf,
    pub cgroup_root: String,
    pub containerd_socket: PathBuf,
}

/// The node name of real node `i`.
pub fn node_name(i: u32) -> String {
    format!("kubelet-node-{i}")
}

/// Healthz ports on 127.0.0.1 of the namespace: one per kubelet.
const FIRST_HEALTHZ_PORT: u32 = 10300;

impl Node {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("kubelet.yaml")
    }

    /// The KubeletConfiguration, as JSON (which YAML reads).
    pub fn config(&self, hierarchy: Hierarchy, knobs: &KubeletKnobs) -> String {
        let endpoint = format!("unix://{}", self.containerd_socket.display());
        let mut cfg = json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "cgroupsPerQOS": true,
            "failSwapOn": false,
            "resolvConf": "",
            "address": self.ip.to_string(),
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": FIRST_HEALTHZ_PORT + self.index,
            // Reachable only inside the cluster's network namespace.
            "authentication": {
                "anonymous": { "enabled": true },
                "webhook": { "enabled": false },
            },
            "authorization": { "mode": "AlwaysAllow" },
            "containerRuntimeEndpoint": endpoint,
            "imageServiceEndpoint": endpoint,
            "podLogsDir": self.dir.join("pod-logs").display().to_string(),
            // A shared development disk is often fuller than the defaults allow.
            "evictionHard": {
                "memory.available": "1Mi",
                "nodefs.available": "1%",
                "nodefs.inodesFree": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "maxPods": 110,
        });
        if let Some(obj) = cfg.as_object_mut() {
            if hierarchy == Hierarchy::V1 {
                obj.insert("failCgroupV1".into(), json!(false));
            }
            let knobs = [
                ("kubeAPIQPS", knobs.kubelet_api_qps.map(|v| json!(v))),
                ("kubeAPIBurst", knobs.kubelet_api_burst.map(|v| json!(v))),
                (
                    "serializeImagePulls",
                    knobs.kubelet_serialize_image_pulls.map(|v| json!(v)),
                ),
                (
                    "maxParallelImagePulls",
                    knobs.kubelet_max_parallel_image_pulls.map(|v| json!(v)),
                ),
            ];
            for (key, value) in knobs {
                if let Some(v) = value {
                    obj.insert(key.into(), v);
                }
            }
        }
        cfg.to_string()
    }

    /// The kubelet's command line (after the binary).
    pub fn args(&self, kubeconfig: &std::path::Path) -> Vec<String> {
        let d = |name: &str| self.dir.join(name).display().to_string();
        vec![
            format!("--config={}", self.config_path().display()),
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--root-dir={}", d("kubelet")),
            format!("--cert-dir={}", d("kubelet-pki")),
            format!("--hostname-override={}", self.name),
            format!("--node-ip={}", self.ip),
            format!("--node-labels={}={}", NODE_LABEL.0, NODE_LABEL.1),
            "--v=1".into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node {
            index: 1,
            name: node_name(1),
            ip: Ipv4Addr::new(10, 250, 0, 11),
            dir: "/c/k10/n1".into(),
            cgroup_root: "/cronbench-k10/n1".into(),
            containerd_socket: "/c/k10/n1/containerd.sock".into(),
        }
    }

    #[test]
    fn cgroup_v1_hosts_get_fail_cgroup_v1_false() {
        let v1: serde_json::Value =
            serde_json::from_str(&node().config(Hierarchy::V1, &KubeletKnobs::default())).unwrap();
        assert_eq!(v1["failCgroupV1"], false);
        assert_eq!(v1["cgroupRoot"], "/cronbench-k10/n1");
        assert_eq!(v1["cgroupDriver"], "cgroupfs");
        assert_eq!(v1["healthzPort"], 10301);
        assert!(v1.get("kubeAPIQPS").is_none(), "unset knobs keep defaults");
        let v2: serde_json::Value =
            serde_json::from_str(&node().config(Hierarchy::V2, &KubeletKnobs::default())).unwrap();
        assert!(v2.get("failCgroupV1").is_none());
    }

    #[test]
    fn knobs_that_are_set_reach_the_configuration() {
        let knobs = KubeletKnobs {
            kubelet_api_qps: Some(200),
            kubelet_api_burst: Some(400),
            kubelet_serialize_image_pulls: Some(false),
            kubelet_max_parallel_image_pulls: Some(5),
        };
        let cfg: serde_json::Value =
            serde_json::from_str(&node().config(Hierarchy::V1, &knobs)).unwrap();
        assert_eq!(cfg["kubeAPIQPS"], 200);
        assert_eq!(cfg["kubeAPIBurst"], 400);
        assert_eq!(cfg["serializeImagePulls"], false);
        assert_eq!(cfg["maxParallelImagePulls"], 5);
    }

    #[test]
    fn the_command_line_names_the_node_and_its_address() {
        let args = node().args(std::path::Path::new("/c/k10/kubeconfig"));
        assert!(args.contains(&"--hostname-override=kubelet-node-1".to_string()));
        assert!(args.contains(&"--node-ip=10.250.0.11".to_string()));
        assert!(args.contains(&"--node-labels=type=kubelet".to_string()));
    }
}
