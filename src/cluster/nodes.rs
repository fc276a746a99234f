//! kwok nodes: registered by cronbench, kept alive by the kwok controller.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::ClusterError;
use crate::call;

/// Label every kwok node carries; scenarios select it.
pub const NODE_LABEL: (&str, &str) = ("type", "kwok");

/// The taint that keeps everything but cronbench's load off kwok nodes.
pub const KWOK_TAINT_KEY: &str = "kwok.x-k8s.io/node";

/// The node name for index `i`.
pub fn node_name(i: u32) -> String {
    format!("kwok-node-{i}")
}

/// A node with the capacity of a large VM (the kwok default): 32 CPU, 256Gi, 110 pods. The
/// taint keeps anything that is not cronbench's load off it.
fn node(name: &str) -> Result<Node, serde_json::Error> {
    let capacity = serde_json::json!({ "cpu": "32", "memory": "256Gi", "pods": "110" });
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            "labels": {
                NODE_LABEL.0: NODE_LABEL.1,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
            },
        },
        "spec": {
            "taints": [{ "key": KWOK_TAINT_KEY, "value": "fake", "effect": "NoSchedule" }],
        },
        "status": { "allocatable": capacity, "capacity": capacity },
    }))
}

/// Registers nodes `0..count` (skipping those that exist).
pub async fn create(client: &kube::Client, count: u32) -> Result<(), ClusterError> {
    let api: Api<Node> = Api::all(client.clone());
    for i in 0..count {
        let name = node_name(i);
        let obj = node(&name).map_err(|e| ClusterError::Kubeconfig {
            path: "(node template)".into(),
            reason: e.to_string(),
        })?;
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(call::api(format!("creating node {name}"))(e).into()),
        }
    }
    Ok(())
}

/// The registered kwok nodes.
async fn list(client: &kube::Client) -> Result<Vec<Node>, ClusterError> {
    let api: Api<Node> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{}={}", NODE_LABEL.0, NODE_LABEL.1));
    let list = api
        .list(&lp)
        .await
        .map_err(call::api("listing kwok nodes"))?;
    Ok(list.items)
}

/// How many kwok nodes are registered.
pub async fn count(client: &kube::Client) -> Result<u32, ClusterError> {
    Ok(list(client).await?.len() as u32)
}

/// Brings the kwok nodes to exactly `0..count`: registers the missing ones and deletes kwok
/// nodes with a higher index (other nodes are left alone).
pub async fn scale(client: &kube::Client, count: u32) -> Result<(), ClusterError> {
    create(client, count).await?;
    let api: Api<Node> = Api::all(client.clone());
    for name in list(client)
        .await?
        .into_iter()
        .filter_map(|n| n.metadata.name)
    {
        let index = name
            .strip_prefix("kwok-node-")
            .and_then(|i| i.parse::<u32>().ok());
        if index.is_some_and(|i| i >= count) {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(call::api(format!("deleting node {name}"))(e).into()),
            }
        }
    }
    // Deleted nodes vanish within moments (no finalizers); wait so that a count taken next
    // sees exactly `count`.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = list(client).await?;
        let ready = nodes.iter().filter(|n| is_ready(n)).count();
        if nodes.len() == count as usize && ready == count as usize {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::NotReady {
                seconds: 60,
                what: format!(
                    "{} kwok nodes ({ready} Ready) instead of {count}",
                    nodes.len()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until `count` nodes with the `label` (kwok's [`NODE_LABEL`] or real nodes') report
/// Ready.
pub async fn wait_ready(
    client: &kube::Client,
    label: (&str, &str),
    count: u32,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let api: Api<Node> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{}={}", label.0, label.1));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ready = match api.list(&lp).await {
            Ok(list) => list.items.iter().filter(|n| is_ready(n)).count(),
            Err(_) => 0,
        };
        if ready >= count as usize {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::NotReady {
                seconds: timeout.as_secs(),
                what: format!("{ready} of {count} nodes Ready"),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
