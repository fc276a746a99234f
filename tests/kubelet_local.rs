//! Integration: a local cluster with a real node (kubelet + containerd in the cluster's
//! network namespace) runs echo Jobs whose logs say hello world, and `cluster down` leaves
//! nothing behind, also after everything was killed with SIGKILL.
//!
//! Needs root and what `scripts/setup` provides; a missing part fails the test loudly.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestCluster, cronbench, text};
use cronbench::cluster::{Binaries, LocalCluster};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};

const JOBS: usize = 10;

fn echo_job(name: &str, command: &[&str]) -> Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "containers": [{
                    "name": "echo",
                    "image": "cronbench.local/echo:1",
                    "imagePullPolicy": "Never",
                    "command": command,
                }],
            }},
        },
    }))
    .expect("a valid Job")
}

/// Everything of the cluster that could survive a tear-down.
fn leftovers(name: &str) -> Vec<String> {
    let cluster = LocalCluster::new(name).expect("valid name");
    let mut out = cluster.real_nodes().leftovers();
    out.extend(
        cluster
            .processes()
            .iter()
            .map(|p| format!("process {p} naming the state directory")),
    );
    if cluster.dir.exists() {
        out.push(format!("state directory {}", cluster.dir.display()));
    }
    out
}

#[tokio::test]
async fn integration_ten_echo_jobs_on_a_real_node_say_hello_world_and_down_leaves_nothing() {
    let Some(cluster) =
        TestCluster::up("it-kubelet", &["--nodes", "1", "--node-runtime", "kubelet"])
    else {
        return;
    };
    let client = cluster.client().await;

    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes
        .get("kubelet-node-0")
        .await
        .expect("the real node registered");
    let labels = node.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("type").map(String::as_str), Some("kubelet"));
    let taints = node.spec.and_then(|s| s.taints).unwrap_or_default();
    assert!(
        taints.iter().all(|t| t.key != "kwok.x-k8s.io/node"),
        "{taints:?}"
    );

    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    for i in 0..JOBS {
        jobs.create(
            &PostParams::default(),
            &echo_job(&format!("echo-{i}"), &["bash", "-c", "echo hello world"]),
        )
        .await
        .expect("create an echo Job");
    }
    let created = Instant::now();
    loop {
        let list = jobs
            .list(&ListParams::default())
            .await
            .expect("list the Jobs");
        let succeeded = list
            .items
            .iter()
            .filter(|j| j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) >= 1)
            .count();
        let failed: Vec<_> = list
            .items
            .iter()
            .filter(|j| j.status.as_ref().and_then(|s| s.failed).unwrap_or(0) >= 1)
            .filter_map(|j| j.metadata.name.clone())
            .collect();
        assert!(failed.is_empty(), "echo Jobs failed: {failed:?}");
        if succeeded == JOBS {
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(240),
            "only {succeeded} of {JOBS} echo Jobs completed within 4 minutes"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let kubectl = Binaries::locate()
        .expect("cluster binaries (scripts/setup)")
        .path("kubectl");
    for i in 0..JOBS {
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args(["--context", &cluster.context, "logs"])
            .arg(format!("job/echo-{i}"))
            .output()
            .expect("kubectl runs");
        assert!(out.status.success(), "kubectl logs: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello world");
    }

    kubelet_is_in_the_resource_readings(&cluster.context).await;

    // stop-nodes stops the kwok controller: meaningless on real nodes, refused up front.
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let scenario = "tests/scenarios/stop-nodes.yaml";
    let run = cronbench(&[
        "run",
        scenario,
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("runs real kubelets") && err.contains("faults[0] stop-nodes"),
        "{}",
        text(&run)
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let runs = namespaces
        .list(&ListParams::default().labels(cronbench::schema::RUN_LABEL))
        .await
        .expect("list namespaces");
    assert!(runs.items.is_empty(), "a refused run created nothing");

    let down = cronbench(&["cluster", "down", "--name", "it-kubelet"]);
    assert!(down.status.success(), "{}", text(&down));
    let left = leftovers("it-kubelet");
    assert!(left.is_empty(), "left after cluster down: {left:?}");
    drop(cluster);
}

#[tokio::test]
async fn integration_cluster_down_cleans_up_after_every_process_was_killed() {
    let name = "it-kubelet-crash";
    let Some(cluster) = TestCluster::up(name, &["--nodes", "2", "--node-runtime", "kubelet"])
    else {
        return;
    };
    let client = cluster.client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    for i in 0..4 {
        jobs.create(
            &PostParams::default(),
            &echo_job(&format!("sleeper-{i}"), &["sleep", "3600"]),
        )
        .await
        .expect("create a sleeping Job");
    }
    // Wait until containers run, so that there are shims, mounts and container cgroups.
    let local = LocalCluster::new(name).expect("valid name");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    loop {
        let running = pods
            .list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|p| {
                        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    })
                    .count()
            })
            .unwrap_or(0);
        if running == 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{running} of 4 sleeping containers started within 2 minutes"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // The crash: every process of the cluster, its nodes and its containers at once.
    let mut pids = local.processes();
    pids.extend(local.real_nodes().pids());
    let status = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {pids:?}");

    let down = cronbench(&["cluster", "down", "--name", name]);
    assert!(down.status.success(), "{}", text(&down));
    let left = leftovers(name);
    assert!(
        left.is_empty(),
        "left after a crash and cluster down: {left:?}"
    );
    drop(cluster);
}

/// The resource timeline's `/proc` source finds the real node's kubelet, named by its node,
/// beside the control plane.
async fn kubelet_is_in_the_resource_readings(context: &str) {
    use cronbench::resources::ReadingSource;
    use cronbench::results::Component;
    let mut source = cronbench::resources::proc::ProcSource::for_context(context)
        .expect("a local cluster up on this machine");
    let readings = source.read(0).await.expect("/proc readings");
    let kubelets: Vec<_> = readings
        .iter()
        .filter(|r| r.component == Component::Kubelet)
        .collect();
    assert_eq!(kubelets.len(), 1, "{readings:?}");
    assert!(!kubelets[0].instance.is_empty() && kubelets[0].rss_bytes > 0);
    assert!(
        readings
            .iter()
            .any(|r| r.component == Component::KubeApiserver),
        "{readings:?}"
    );
}
