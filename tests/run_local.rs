//! Integration: `cronbench run` against a real local cluster.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{TestCluster, cronbench, text};
use cronbench::results::{Clock, Results, Stage};
use cronbench::schema::{CLASS_LABEL, SCHEDULED_ANNOTATION};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

/// The two tests start a cluster each; one at a time keeps a 2-core machine's scheduling
/// latency out of the measured stages.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn results(dir: &std::path::Path, output: &str) -> Results {
    let bytes = std::fs::read(dir.join("results.json"))
        .unwrap_or_else(|e| panic!("results.json not written ({e}); cronbench said:\n{output}"));
    serde_json::from_slice(&bytes).expect("results.json parses")
}

fn p50(r: &Results, stage: Stage) -> u64 {
    r.stages
        .iter()
        .find(|s| s.stage == stage && s.clock == Clock::Client)
        .and_then(|s| s.p50_ms)
        .unwrap_or_else(|| panic!("no client-clock samples for {stage:?}"))
}

/// The shipped spreading configuration: first fit, which places pods only by where it starts
/// looking and so spreads them (see `first_fit_spreads_each_tick`). It changes nothing this
/// test measures besides placement, so it shares the cluster.
const SPREAD_CONFIG: &str = "configs/scheduler-spread.yaml";

#[tokio::test]
async fn integration_run_measures_the_kwok_start_delay_records_every_job_and_spreads_each_tick() {
    const DELAY_MS: u64 = 2000;
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = TestCluster::up(
        "it-run",
        &[
            "--nodes",
            "3",
            "--pod-start-delay-ms",
            &DELAY_MS.to_string(),
            "--scheduler-config",
            SPREAD_CONFIG,
        ],
    ) else {
        return;
    };
    let out = tempdir("it-run");
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let run = cronbench(&[
        "run",
        "tests/scenarios/quick.yaml",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &out.display().to_string(),
        "--keep",
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "the quick scenario passes: {}",
        text(&run)
    );
    let r = results(&out, &text(&run));

    // The pod's path from creation to a started container is the scheduler's bind plus kwok's
    // configured delay, both on the client clock. The bind is tens of ms on an idle machine
    // but grows on a loaded one, so it is measured, not assumed.
    let created_to_started = p50(&r, Stage::PodCreatedToStarted);
    let bind = p50(&r, Stage::PodCreatedToBound);
    assert!(
        created_to_started.abs_diff(DELAY_MS + bind) <= 100,
        "pod created -> started p50 {created_to_started} ms; kwok delay {DELAY_MS} ms + bind p50 {bind} ms"
    );
    let bound_to_started = p50(&r, Stage::BoundToStarted);
    assert!(
        bound_to_started.abs_diff(DELAY_MS) <= 100,
        "bound -> started p50 {bound_to_started} ms"
    );

    // Every Job the API lists was recorded, and nothing else.
    let client = cluster.client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &r.run.namespace);
    let listed = jobs
        .list(&ListParams::default())
        .await
        .expect("list jobs")
        .items
        .len() as u64;
    assert!(listed > 0);
    assert_eq!(
        r.counts.observed_total, listed,
        "runs recorded vs Jobs listed"
    );
    assert_eq!(r.counts.missed, 0);
    first_fit_spreads_each_tick(&r, &cluster.name);
    control_plane_was_sampled(&r);

    // In Asia/Kathmandu (UTC+05:45) '*/2' fires at odd UTC minutes: every expected run is
    // observed only if the controller and the analysis both read the schedule in that zone
    // (~2.5 min on the same cluster).
    let zoned_out = tempdir("it-run-tz");
    let zoned = cronbench(&[
        "run",
        "tests/scenarios/time-zone.yaml",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &zoned_out.display().to_string(),
    ]);
    assert_eq!(zoned.status.code(), Some(0), "{}", text(&zoned));
    // Runs are matched by (CronJob, scheduled time): none missed means each odd-minute tick
    // was observed.
    let z = results(&zoned_out, &text(&zoned));
    assert!(z.counts.expected >= 10, "{:?}", z.counts);
    assert_eq!(
        (z.counts.missed, z.counts.unexpected),
        (0, 0),
        "{:?}",
        z.counts
    );

    let mixed_ns = mixed_fleet_counts_per_class_equal_the_api(&cluster, &kubeconfig).await;

    // A request no node can hold is refused before anything is created (well under a second
    // each, the three refusals below).
    let refused = refused_run(&cluster, "tests/scenarios/no-node-fits.yaml");
    assert!(
        refused.starts_with(
            "error: tests/scenarios/no-node-fits.yaml: load.resources.requests.cpu is 64, but no \
             Ready node"
        ),
        "{refused}"
    );

    // A job definition's own request no node can hold is named with its file.
    let refused = refused_run(&cluster, "tests/scenarios/job-no-fit.yaml");
    assert!(
        refused.contains("job-no-fit/huge.yaml (document 1): resources.requests.cpu is 64"),
        "{refused}"
    );

    // What only the apiserver knows is wrong (an extended resource requested without a limit;
    // lint passes it) is refused by the dry run, naming the scenario key.
    let refused = refused_run(&cluster, "tests/scenarios/apiserver-rejects.yaml");
    assert!(
        refused.starts_with(
            "error: tests/scenarios/apiserver-rejects.yaml: load.resources.limits: the apiserver \
             rejects it: Required value"
        ),
        "{refused}"
    );
    assert!(
        refused.contains("in a dry run (nothing was created"),
        "{refused}"
    );

    // The refused runs created no CronJob: every one is a kept run's (or the zoned run's, if
    // its namespace is still terminating).
    let cronjobs: Api<CronJob> = Api::all(client);
    let runs = [
        r.run.namespace.as_str(),
        z.run.namespace.as_str(),
        mixed_ns.as_str(),
    ];
    for cj in cronjobs
        .list(&ListParams::default())
        .await
        .expect("list cronjobs")
        .items
    {
        let ns = cj.metadata.namespace.as_deref().unwrap_or_default();
        assert!(
            runs.contains(&ns),
            "a refused run left CronJob {:?} in {ns}",
            cj.metadata.name
        );
    }

    // `clean` removes what --keep left, and the refused runs left nothing.
    cluster.clean_leaves_no_run_namespace().await;
}

/// A mixed fleet of five classes on the run test's cluster (~4 min): each class's runs in
/// results.json are the Jobs the API lists with its class label, scheduled in the window;
/// Forbid skips instead of overlapping and the skips are not missed; the failure share's failed
/// Jobs are the API's; suspended CronJobs run never.
async fn mixed_fleet_counts_per_class_equal_the_api(
    cluster: &TestCluster,
    kubeconfig: &str,
) -> String {
    let out = tempdir("it-run-mixed");
    let run = cronbench(&[
        "run",
        "tests/scenarios/mixed.yaml",
        "--kubeconfig",
        kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &out.display().to_string(),
        "--keep",
    ]);
    let r = results(&out, &text(&run));
    let window = r.window.as_ref().expect("a measured window");
    let client = cluster.client().await;
    let jobs: Api<Job> = Api::namespaced(client, &r.run.namespace);
    let listed = jobs
        .list(&ListParams::default())
        .await
        .expect("list jobs")
        .items;
    let scheduled_ms = |j: &Job| {
        let at = j.metadata.annotations.as_ref()?.get(SCHEDULED_ANNOTATION)?;
        Some(at.parse::<jiff::Timestamp>().ok()?.as_millisecond())
    };
    let failed = |j: &Job| {
        j.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
    };
    let mut seen = Vec::new();
    for class in &r.classes {
        let in_window: Vec<&Job> = listed
            .iter()
            .filter(|j| {
                j.metadata.labels.as_ref().and_then(|l| l.get(CLASS_LABEL)) == Some(&class.class)
            })
            .filter(|j| scheduled_ms(j).is_some_and(|t| t >= window.start_ms && t < window.end_ms))
            .collect();
        let api_failed = in_window.iter().filter(|j| failed(j)).count() as u64;
        let c = &class.counts;
        assert_eq!(
            (c.observed, c.failed),
            (in_window.len() as u64, api_failed),
            "class {}: runs and failed runs in results vs the API's Jobs: {c:?}",
            class.class
        );
        seen.push((class.class.as_str(), c.clone()));
    }
    let get = |name: &str| {
        seen.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("class {name} missing from {seen:?}"))
    };
    let forbid = get("forbid");
    assert!(forbid.skipped_while_active > 0, "{forbid:?}");
    let policies = r.policies.as_ref().expect("policies for a mixed fleet");
    assert_eq!(policies.forbid.overlaps, 0, "{policies:?}");
    let paused = get("paused");
    assert_eq!(
        (paused.suspended, paused.expected, paused.observed),
        (2, 0, 0)
    );
    let zoned = get("zoned");
    assert!(zoned.expected > 0 && zoned.missed == 0, "{zoned:?}");
    assert_eq!(r.counts.missed, 0, "skips are not missed: {:?}", r.counts);
    r.run.namespace
}

#[tokio::test]
async fn integration_ctrl_c_tears_down_and_still_writes_results() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = TestCluster::up("it-intr", &["--nodes", "1"]) else {
        return;
    };
    let out = tempdir("it-intr");
    let child = Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(["run", "tests/scenarios/quick.yaml", "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .args(["--context", &cluster.context, "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cronbench run starts");
    // Wait until the load exists, then interrupt.
    let log = out.join("events.jsonl");
    for _ in 0..120 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("cron_job_created").count() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let done = child.wait_with_output().expect("cronbench exits");
    assert_eq!(
        done.status.code(),
        Some(2),
        "interrupted runs exit 2: {}",
        text(&done)
    );

    let r = results(&out, &text(&done));
    assert!(
        r.run.interrupted || r.run.end_reason.is_some(),
        "results say how the run ended"
    );
    assert!(
        r.resources.as_ref().is_some_and(|t| !t.series.is_empty()),
        "the resources sampled before Ctrl-C are in the results"
    );
    let text = std::fs::read_to_string(&log).expect("event log");
    assert!(
        text.contains("\"reason\":\"interrupted\""),
        "the log ends with RunEnded interrupted"
    );

    let client = cluster.client().await;
    let namespaces: Api<Namespace> = Api::all(client);
    let gone = namespaces
        .get_opt(&r.run.namespace)
        .await
        .expect("get namespace");
    assert!(gone.is_none(), "the run's namespace was deleted");
}

/// A run on the local cluster samples its control plane from /proc every 5 s: each
/// component has a timeline with a CPU figure and a resident size.
fn control_plane_was_sampled(r: &Results) {
    use cronbench::results::{Component, ResourceSource};
    common::sampled(
        r,
        ResourceSource::Proc,
        &[
            Component::KubeApiserver,
            Component::Etcd,
            Component::KubeControllerManager,
            Component::KubeScheduler,
            Component::KwokController,
        ],
    );
}

/// With every score plugin off, kube-scheduler v1.36 takes the first node that passes the
/// filters, searching from an index that moves on by the nodes it examined; with the filters
/// run one node at a time (`parallelism: 1`) that is one per pod, so the 10 pods of a tick go
/// round the 3 nodes, 4/3/3: an imbalance of 4 / (10/3) = 1.2. The bound allows one pod more on
/// the busiest node, 5 / (10/3) = 1.5 (a pod retried after a failed bind moves the rotation on
/// twice). The default configuration puts all 10 on one node: 3.0 (README, "Where a tick's
/// pods land").
fn first_fit_spreads_each_tick(r: &Results, cluster: &str) {
    const BOUND: f64 = 1.5;
    let info = cronbench::cluster::LocalCluster::new(cluster)
        .and_then(|c| c.info())
        .expect("cluster info readable")
        .expect("cluster is up");
    let recorded = info
        .scheduler_config
        .expect("the scheduler config is recorded");
    assert!(
        recorded.is_absolute() && recorded.ends_with(SPREAD_CONFIG),
        "{recorded:?}"
    );
    let balance = r.node_balance.as_ref().expect("node balance measured");
    assert!(balance.ticks >= 1, "{balance:?}");
    for tick in &balance.per_tick {
        assert!(tick.nodes.len() > 1, "a tick on one node: {tick:?}");
        let imbalance = tick.imbalance.expect("the tick's pods were bound");
        assert!(
            imbalance <= BOUND,
            "imbalance {imbalance} > {BOUND}: {tick:?}"
        );
    }
}

/// Runs `scenario` on `cluster`, expects preflight to refuse it (exit 2, no run directory),
/// and returns its stderr.
fn refused_run(cluster: &TestCluster, scenario: &str) -> String {
    let out = tempdir("it-run-refused");
    let run = cronbench(&[
        "run",
        scenario,
        "--kubeconfig",
        &cluster.kubeconfig.display().to_string(),
        "--context",
        &cluster.context,
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(!out.exists(), "a refused run wrote {}", out.display());
    String::from_utf8_lossy(&run.stderr).into_owned()
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cronbench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
