//! Integration: the local cluster runs the real CronJob controller end to end.

mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, cronbench, text};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};

fn hello_cronjob() -> CronJob {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": { "name": "hello" },
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": { "spec": { "template": { "spec": {
                "restartPolicy": "Never",
                "nodeSelector": { "type": "kwok" },
                "tolerations": [{ "key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule" }],
                "containers": [{ "name": "hello", "image": "busybox",
                                 "command": ["bash", "-c", "echo hello world"] }]
            }}}}
        }
    }))
    .expect("a valid CronJob")
}

/// One case of tests/fixtures/schedule-corpus.tsv: a schedule and a time zone (None: unset).
fn corpus() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string("tests/fixtures/schedule-corpus.tsv").expect("the corpus");
    let unescape = |s: &str| s.replace("\\t", "\t").replace("\\n", "\n");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (schedule, zone) = l.rsplit_once('\t').expect("schedule<TAB>zone");
            let zone = match zone {
                "-" => None,
                "\"\"" => Some(String::new()),
                z => Some(unescape(z)),
            };
            (unescape(schedule), zone)
        })
        .collect()
}

/// Where `lint` refuses on purpose what the apiserver accepts: `@every <duration>` runs relative
/// to the CronJob's creation and then to each run, so cronbench cannot predict its ticks (the
/// message says so and names the 5-field form to use).
fn deliberate(schedule: &str) -> bool {
    schedule.starts_with("@every ")
}

/// `lint`'s verdict on every schedule and time zone of the corpus is the apiserver's: each is
/// created as a CronJob with dryRun=All (nothing is stored) and accepted exactly when
/// cronbench's own checks accept it, but for the [`deliberate`] refusals.
async fn lint_agrees_with_the_apiserver(client: &kube::Client) {
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let scenario = cronbench::scenario::Scenario::default();
    let cases = corpus();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut differ = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for (i, (schedule, zone)) in cases.iter().enumerate() {
        let ours = cronbench::scenario::parse_schedule(schedule).is_ok()
            && zone
                .as_deref()
                .is_none_or(|z| cronbench::scenario::time_zone(z).is_ok());
        let def = cronbench::scenario::CronJobDef {
            name: format!("diff-{i}"),
            schedule: schedule.clone(),
            time_zone: zone.clone(),
            command: vec!["true".into()],
            resources: scenario.load.resources.clone().into(),
            defined_in: None,
            class: None,
        };
        let cj = cronbench::workload::cronjob(&scenario, &def, "lint-diff").expect("builds");
        let theirs = match cronjobs.create(&dry, &cj).await {
            Ok(_) => true,
            Err(kube::Error::Api(e)) if e.code == 422 => false,
            Err(e) => panic!("dry-run of {schedule:?} {zone:?}: {e}"),
        };
        if theirs {
            accepted += 1;
        } else {
            refused += 1;
        }
        if ours != theirs && !(theirs && deliberate(schedule)) {
            differ.push(format!(
                "{schedule:?} in {zone:?}: lint {}, apiserver {}",
                if ours { "accepts" } else { "refuses" },
                if theirs { "accepts" } else { "refuses" }
            ));
        }
    }
    eprintln!(
        "lint vs apiserver: {} cases, the apiserver accepted {accepted} and refused {refused}, {} differ",
        cases.len(),
        differ.len()
    );
    assert!(
        differ.is_empty(),
        "lint and the apiserver differ on:\n{}",
        differ.join("\n")
    );
}

#[tokio::test]
async fn integration_cronjob_runs_to_completion_on_a_kwok_node_and_down_leaves_nothing() {
    let Some(cluster) = TestCluster::up("it-cluster", &["--nodes", "3"]) else {
        return;
    };

    let again = cronbench(&["cluster", "up", "--name", "it-cluster"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already up"),
        "{}",
        text(&again)
    );

    let status = cronbench(&["cluster", "status", "--name", "it-cluster"]);
    assert!(status.status.success(), "{}", text(&status));
    for component in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok-controller",
    ] {
        assert!(
            String::from_utf8_lossy(&status.stdout).contains(component),
            "{}",
            text(&status)
        );
    }

    let client = cluster.client().await;
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    cronjobs
        .create(&PostParams::default(), &hello_cronjob())
        .await
        .expect("create the CronJob");
    let created = Instant::now();
    // While the controller gets to its first tick: lint against the apiserver (~2 s).
    lint_agrees_with_the_apiserver(&client).await;

    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (job, pod) = loop {
        assert!(
            created.elapsed() < Duration::from_secs(120),
            "no Succeeded pod of a CronJob-created Job within 2 minutes"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(job_list) = jobs.list(&ListParams::default()).await else {
            continue;
        };
        let Some(job) = job_list.items.into_iter().next() else {
            continue;
        };
        let job_name = job.metadata.name.clone().unwrap_or_default();
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job_name}"));
        let Ok(pod_list) = pods.list(&lp).await else {
            continue;
        };
        let done = pod_list
            .items
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"));
        if let Some(pod) = done {
            break (job, pod);
        }
    };
    let annotations = job.metadata.annotations.unwrap_or_default();
    let scheduled = annotations
        .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
        .expect("the controller sets the scheduled-timestamp annotation");
    assert!(
        scheduled.parse::<jiff::Timestamp>().is_ok(),
        "RFC 3339: {scheduled}"
    );
    let owner = job.metadata.owner_references.unwrap_or_default();
    assert_eq!(owner.first().map(|o| o.kind.as_str()), Some("CronJob"));
    let node = pod.spec.and_then(|s| s.node_name).unwrap_or_default();
    assert!(
        node.starts_with("kwok-node-"),
        "bound to a kwok node: {node}"
    );

    let down = cronbench(&["cluster", "down", "--name", "it-cluster"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        cluster.processes(),
        Vec::<u32>::new(),
        "no process of the cluster is left"
    );
}

#[test]
fn cluster_up_without_binaries_names_the_setup_command() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(["cluster", "up", "--name", "never"])
        .env("CRONBENCH_BIN_DIR", "/nonexistent/cronbench-bin")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scripts/setup"),
        "{}",
        text(&out)
    );
}

#[test]
fn cluster_down_of_a_cluster_that_is_not_up_says_so() {
    // `cluster down` locates the binaries before it looks for the cluster.
    if let Some(reason) = common::cluster_unavailable(&[]) {
        common::skip(&reason);
        return;
    }
    let out = cronbench(&["cluster", "down", "--name", "never-started"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not up"),
        "{}",
        text(&out)
    );
}

/// Runs this test binary's cluster test alone, with an empty cache (no binaries), as a plain
/// `cargo test` on a machine without `scripts/setup` would.
fn cluster_test_without_binaries(require: bool) -> std::process::Output {
    let empty = std::env::temp_dir().join(format!("cronbench-empty-cache-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("an empty cache dir");
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "integration_cronjob_runs_to_completion_on_a_kwok_node_and_down_leaves_nothing",
        "--test-threads",
        "1",
    ])
    .env("CRONBENCH_CACHE", &empty)
    .env_remove("CRONBENCH_BIN_DIR")
    .env_remove(common::REQUIRE_CLUSTER);
    if require {
        cmd.env(common::REQUIRE_CLUSTER, "1");
    }
    let out = cmd.output().expect("the test binary runs");
    let _ = std::fs::remove_dir_all(&empty);
    out
}

#[test]
fn cluster_test_skips_naming_scripts_setup_when_the_binaries_are_not_built() {
    let out = cluster_test_without_binaries(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr.contains("skipped: the local cluster's binaries are not built")
            && stderr.contains("scripts/setup"),
        "{}",
        text(&out)
    );
}

#[test]
fn cluster_test_fails_instead_of_skipping_when_scripts_test_requires_clusters() {
    let out = cluster_test_without_binaries(true);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CRONBENCH_REQUIRE_CLUSTER=1"),
        "{}",
        text(&out)
    );
}
