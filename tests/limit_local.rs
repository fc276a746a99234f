//! Integration: `cronbench find-limit` against a real local cluster whose controller manager is
//! throttled hard (2 requests per second), so the limit is low and found within a short budget.

mod common;

use common::{TestCluster, cronbench, text};
use cronbench::limit::report::LimitReport;
use cronbench::results::Stage;

#[tokio::test]
async fn integration_find_limit_writes_the_capacity_curve_and_names_a_bottleneck() {
    let cluster = TestCluster::up(
        "it-limit",
        &["--nodes", "3", "--kcm-api-qps", "2", "--kcm-api-burst", "2"],
    );
    let out = std::env::temp_dir().join(format!("cronbench-it-limit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let run = cronbench(&[
        "find-limit",
        "scenarios/smoke.yaml",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &out.display().to_string(),
        "--start",
        "10",
        "--max-minutes",
        "7",
    ]);
    // 0 or 1 (the limit against smoke's target); never an error.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "find-limit completes: {}",
        text(&run)
    );
    let bytes = std::fs::read(out.join("limit.json")).expect("limit.json written");
    let r: LimitReport = serde_json::from_slice(&bytes).expect("limit.json parses");
    assert!(r.outcome.is_some(), "the search finished: {}", text(&run));
    assert!(r.steps.len() >= 2, "at least two steps: {}", text(&run));
    assert_eq!(r.curve.len(), r.steps.len());
    for s in &r.steps {
        assert!(
            s.counts.offered_per_minute > 0.0,
            "offered load of step {}",
            s.step
        );
        assert!(s.counts.achieved_per_minute >= 0.0);
        assert!(s.counts.window_end_ms - s.counts.window_start_ms >= 120_000);
        assert_eq!(
            s.counts.window_start_ms % 60_000,
            0,
            "windows on minute boundaries"
        );
        for stage in [
            Stage::ScheduleToJobCreated,
            Stage::JobCreatedToPodCreated,
            Stage::PodCreatedToBound,
            Stage::BoundToStarted,
        ] {
            let l = s
                .stages
                .iter()
                .find(|l| l.stage == stage)
                .unwrap_or_else(|| panic!("step {} has {stage:?}", s.step));
            assert!(l.count > 0, "step {} has samples of {stage:?}", s.step);
            assert!(l.p50_ms.is_some() && l.p99_ms.is_some());
        }
        assert!(
            !s.nodes.is_empty(),
            "per-node start rates of step {}",
            s.step
        );
    }
    let b = r.bottleneck.as_ref().expect("a bottleneck is named");
    assert!(!b.component.is_empty());
    // The controller manager's metrics were reachable on the local cluster.
    assert!(
        r.steps
            .iter()
            .any(|s| s.metrics.cronjob_queue_depth_end.is_some()),
        "controller-manager metrics scraped: {:?}",
        r.steps.last().map(|s| &s.metrics)
    );
    let _ = std::fs::remove_dir_all(&out);
}
