//! Integration: a short game day on a real local cluster. The controller manager and the
//! apiserver are restarted mid-run; the harness must still record every Job, name both fault
//! windows, and leave every component running.

mod common;

use std::collections::BTreeSet;

use common::{TestCluster, cronbench, text};
use cronbench::results::Results;
use cronbench::scenario::FaultKind;
use cronbench::schema::{LogLine, Phase};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};

#[tokio::test]
async fn integration_gameday_records_every_job_through_restarts_and_names_the_fault_windows() {
    let Some(cluster) = TestCluster::up("it-gameday", &["--nodes", "2"]) else {
        return;
    };
    let out =
        std::env::temp_dir().join(format!("cronbench-test-it-gameday-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let run = cronbench(&[
        "run",
        "tests/scenarios/gameday-quick.yaml",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &out.display().to_string(),
        "--keep",
    ]);
    let output = text(&run);
    let bytes = std::fs::read(out.join("results.json"))
        .unwrap_or_else(|e| panic!("results.json not written ({e}); cronbench said:\n{output}"));
    let r: Results = serde_json::from_slice(&bytes).expect("results.json parses");
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "the run completes (a missed SLO is allowed): {output}"
    );

    // Both fault windows are in the results, each undone.
    let kinds: Vec<FaultKind> = r.faults.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FaultKind::RestartControllerManager,
            FaultKind::RestartApiserver
        ],
        "{:#?}",
        r.faults
    );
    for f in &r.faults {
        let end = f
            .end_ms
            .unwrap_or_else(|| panic!("{:?} never undone", f.kind));
        assert!(end > f.start_ms, "{f:?}");
        eprintln!(
            "{}: scheduled {} missed {} late {} max s->started {:?} ms dup {} stuck {} baseline {:?} ({:?}) recovery {:?} s",
            f.label(r.run.started_ms),
            f.scheduled,
            f.missed,
            f.late,
            f.max_schedule_to_start_ms,
            f.duplicates,
            f.stuck_pods,
            f.baseline_per_minute,
            f.baseline_source,
            f.recovery_s
        );
    }
    // The summary names both windows.
    for kind in ["restart-controller-manager", "restart-apiserver"] {
        assert!(output.contains(kind), "the summary names {kind}: {output}");
    }

    // So does the HTML report.
    let report = cronbench(&["report", &out.display().to_string()]);
    assert!(report.status.success(), "{}", text(&report));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for kind in ["restart-controller-manager at +", "restart-apiserver at +"] {
        assert!(html.contains(kind), "the HTML report names {kind}");
    }

    // Every cluster component runs again, under the pid its pid file names.
    let local = cronbench::cluster::LocalCluster::new("it-gameday").expect("valid name");
    let components = local.components();
    assert_eq!(components.len(), 5, "{components:?}");
    for c in &components {
        assert!(
            c.running,
            "{} is not running after the game day",
            c.component
        );
    }
    let status = cronbench(&["cluster", "status", "--name", "it-gameday"]);
    assert!(status.status.success(), "{}", text(&status));

    // The Jobs the harness recorded are the Jobs the API lists (those created before the
    // watchers stopped; the kept CronJobs go on creating Jobs after the run).
    let log = std::fs::read_to_string(out.join("events.jsonl")).expect("event log");
    let mut recorded = BTreeSet::new();
    let mut teardown_ms = None;
    for line in log.lines() {
        match serde_json::from_str::<LogLine>(line).expect("log line parses") {
            LogLine::Job(j) => {
                recorded.insert(j.name);
            }
            LogLine::Phase {
                recv_ms,
                phase: Phase::Teardown,
            } => teardown_ms = Some(recv_ms),
            _ => {}
        }
    }
    let teardown_ms = teardown_ms.expect("the log has a teardown phase");
    let client = cluster.client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &r.run.namespace);
    let listed: Vec<Job> = jobs
        .list(&ListParams::default())
        .await
        .expect("list jobs")
        .items;
    let listed_names: BTreeSet<String> = listed
        .iter()
        .filter_map(|j| j.metadata.name.clone())
        .collect();
    let before_end: BTreeSet<String> = listed
        .iter()
        .filter(|j| {
            j.metadata
                .creation_timestamp
                .as_ref()
                .is_some_and(|t| t.0.as_millisecond() + 1000 <= teardown_ms)
        })
        .filter_map(|j| j.metadata.name.clone())
        .collect();
    assert!(!recorded.is_empty());
    let not_listed: Vec<_> = recorded.difference(&listed_names).collect();
    let not_recorded: Vec<_> = before_end.difference(&recorded).collect();
    assert!(
        not_listed.is_empty() && not_recorded.is_empty(),
        "recorded but not listed: {not_listed:?}; listed but not recorded: {not_recorded:?}"
    );

    cluster.clean_leaves_no_run_namespace().await;
}
