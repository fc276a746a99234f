//! Integration: `cronbench find-limit` against a real local cluster whose controller manager is
//! throttled hard (2 requests per second), so the limit is low and found within a short budget.

mod common;

use common::{TestCluster, cronbench, text};
use cronbench::cluster::LocalCluster;
use cronbench::cluster::prometheus::{SCRAPE_INTERVAL_S, url_of};
use cronbench::limit::confirm::{ConfirmVerdict, Side, above};
use cronbench::limit::report::{LimitReport, StepRecord, bottleneck, evidence};
use cronbench::limit::sweep::SweepReport;
use cronbench::metrics::StepMetrics;
use cronbench::results::Stage;

/// `cronbench find-limit scenarios/smoke.yaml` on the test cluster, writing into `out`.
fn find_limit(
    cluster: &TestCluster,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let out = out.display().to_string();
    let mut args = vec![
        "find-limit",
        "scenarios/smoke.yaml",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    cronbench(&args)
}

/// The search also reads every step's evidence from the cluster's Prometheus, so one search
/// shows that both sources agree.
#[tokio::test]
async fn integration_find_limit_writes_the_capacity_curve_and_names_a_bottleneck() {
    if !common::on_path("prometheus") {
        common::skip(
            "prometheus is missing: install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, or run scripts/setup)",
        );
        return;
    }
    let Some(cluster) = TestCluster::up(
        "it-limit",
        &[
            "--nodes",
            "3",
            "--kcm-api-qps",
            "2",
            "--kcm-api-burst",
            "2",
            "--prometheus",
        ],
    ) else {
        return;
    };
    let local = LocalCluster::new(&cluster.name).expect("valid name");
    let url = url_of(&local).expect("cluster up --prometheus wrote the URL");
    let out = std::env::temp_dir().join(format!("cronbench-it-limit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let started = std::time::Instant::now();
    let run = find_limit(
        &cluster,
        &out,
        &[
            "--start",
            "10",
            "--max-minutes",
            "7",
            "--prometheus",
            &url,
            "--confirm",
            "2m",
        ],
    );
    let wall_s = started.elapsed().as_secs_f64();
    // 0 or 1 (the limit against smoke's target), 3 (the confirmation contradicted it); never
    // an error.
    assert!(
        matches!(run.status.code(), Some(0 | 1 | 3)),
        "find-limit completes: {}",
        text(&run)
    );
    let bytes = std::fs::read(out.join("limit.json")).expect("limit.json written");
    let r: LimitReport = serde_json::from_slice(&bytes).expect("limit.json parses");
    the_confirmation_ran_after_the_search(&r, run.status.code(), wall_s, &text(&run));
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
    assert!(
        r.steps
            .iter()
            .any(|s| s.metrics.apiserver_create_mean_s.is_some()),
        "apiserver metrics scraped: {:?}",
        r.steps.last().map(|s| &s.metrics)
    );
    for s in &r.steps {
        prometheus_agrees_with_direct_scraping(s);
    }
    // As with --no-scrape: the direct metrics empty, the bottleneck read from Prometheus'.
    let prom_only: Vec<StepRecord> = r
        .steps
        .iter()
        .cloned()
        .map(|mut s| {
            s.metrics = StepMetrics::default();
            s
        })
        .collect();
    let from_prom = bottleneck(&prom_only).expect("a bottleneck from Prometheus' evidence");
    assert_eq!(from_prom.stage, b.stage);
    eprintln!(
        "bottleneck evidence, direct: {:#?}\nfrom Prometheus: {:#?}",
        b.evidence, from_prom.evidence
    );
    assert_eq!(line_kinds(&b.evidence), line_kinds(&from_prom.evidence));
    history_shows_the_limit(&out, &r);
    let _ = std::fs::remove_dir_all(&out);
}

/// `--confirm 2m`: the limit and ceil(1.15 x limit) held for two minutes each after the
/// search, judged like its steps; exit 3 exactly when they contradict the limit.
fn the_confirmation_ran_after_the_search(
    r: &LimitReport,
    code: Option<i32>,
    wall_s: f64,
    out: &str,
) {
    let c = r
        .confirmation
        .as_ref()
        .expect("limit.json has the confirmation");
    let search_s = r.steps.last().map_or(0, |s| s.counts.window_end_ms) - r.started_ms;
    eprintln!(
        "find-limit --confirm 2m: {wall_s:.0} s in all, the search's last window ended {:.0} s after its start; confirmation {:?}, time to confirmed {:?} s",
        search_s as f64 / 1000.0,
        c.verdict,
        c.time_to_confirmed_s
    );
    assert_eq!(c.duration_minutes, 2);
    assert_eq!(
        code == Some(3),
        c.verdict == ConfirmVerdict::Contradicted,
        "{out}"
    );
    let Some(limit) = r.outcome.and_then(|o| o.sustainable) else {
        assert_eq!(c.verdict, ConfirmVerdict::NoLimit, "{out}");
        assert!(c.steps.is_empty());
        return;
    };
    let loads: Vec<(Side, u32)> = c.steps.iter().map(|s| (s.side, s.cronjobs)).collect();
    assert_eq!(
        loads,
        vec![(Side::Limit, limit), (Side::Above, above(limit))],
        "{out}"
    );
    for s in &c.steps {
        let w = &s.record.counts;
        assert_eq!(
            w.window_end_ms - w.window_start_ms,
            120_000,
            "two whole minutes"
        );
        assert_eq!(w.window_start_ms % 60_000, 0);
        assert!(s.rate_per_minute > 0.0);
        assert_eq!(s.held, s.record.verdict.sustainable);
        eprintln!(
            "confirmation {:?}: {} CronJobs, offered {:.1}/min, on time {:.1}/min, on-time ratio {:?}, backlog {:?}, held {}, failures {:?}",
            s.side,
            s.cronjobs,
            s.rate_per_minute,
            w.achieved_per_minute,
            s.record.on_time_ratio,
            w.backlog.iter().map(|b| b.backlog).collect::<Vec<_>>(),
            s.held,
            s.record.verdict.failures
        );
    }
    assert!(matches!(
        c.verdict,
        ConfirmVerdict::Confirmed | ConfirmVerdict::Contradicted
    ));
    assert_eq!(c.agrees, c.verdict == ConfirmVerdict::Confirmed);
    assert!(out.contains("confirmation (2 min per step): "), "{out}");
}

/// Names of values read at the window's end (gauges): both sources have the same.
const GAUGES: [&str; 8] = [
    "cronjob_queue_depth_end",
    "job_queue_depth_end",
    "scheduler_pending_pods_end",
    "apiserver_inflight_end",
    "apiserver_inqueue_end",
    "stored_cronjobs_end",
    "stored_jobs_end",
    "stored_pods_end",
];

/// A counter-derived value of the two sources agrees within what a 5 s scrape interval
/// allows: Prometheus answers an instant with the last sample at most one interval before it,
/// so each end of a ~92 s window (start to judgement) may miss up to 5 s of increments. Means
/// (sum over count) shift by less than that share; counts by that share of the window plus a
/// few events. So: within 25% of the larger value, plus a small absolute slack (20 ms for
/// means, 5 for counts) for near-zero values.
fn agree(name: &str, direct: f64, prom: f64) -> bool {
    let slack = if name.ends_with("_s") { 0.02 } else { 5.0 };
    (direct - prom).abs() <= 0.25 * direct.abs().max(prom.abs()) + slack
}

/// The kind of an evidence line: its text before the first number.
fn kind(line: &str) -> String {
    line.split(|c: char| c.is_ascii_digit())
        .next()
        .unwrap_or("")
        .to_string()
}

/// The kinds of evidence lines, sorted, the list of missing series left out (its wording
/// names the source).
fn line_kinds(lines: &[String]) -> Vec<String> {
    let mut k: Vec<String> = lines
        .iter()
        .filter(|l| !l.starts_with("missing series"))
        .map(|l| kind(l))
        .collect();
    k.sort();
    k
}

fn kinds(m: &StepMetrics) -> Vec<String> {
    line_kinds(&evidence(m, m))
}

fn prometheus_agrees_with_direct_scraping(s: &StepRecord) {
    let prom = s
        .metrics_prometheus
        .as_ref()
        .unwrap_or_else(|| panic!("step {} has metrics_prometheus", s.step));
    assert!(prom.unreachable.is_empty(), "{:?}", prom.unreachable);
    eprintln!(
        "step {} ({} CronJobs), scrape interval {SCRAPE_INTERVAL_S} s:\n| field | direct | Prometheus |\n|---|---:|---:|",
        s.step, s.cronjobs
    );
    let show = |v: Option<f64>| v.map_or("missing".to_string(), |v| format!("{v:.4}"));
    for ((name, d), (_, p)) in s.metrics.values().iter().zip(prom.values()) {
        eprintln!("| {name} | {} | {} |", show(*d), show(p));
        if GAUGES.contains(name) {
            assert_eq!(d.is_some(), p.is_some(), "step {}: {name} in both", s.step);
        } else if let (Some(d), Some(p)) = (d, p) {
            assert!(
                agree(name, *d, p),
                "step {}: {name} direct {d} vs Prometheus {p}",
                s.step
            );
        }
    }
    for (series, why) in prom.missing.iter().chain(&s.metrics.missing) {
        eprintln!("missing: {series}: {why}");
    }
    assert_eq!(
        kinds(&s.metrics),
        kinds(prom),
        "step {}: the same kinds of evidence from both sources",
        s.step
    );
}

/// `cronbench history` over the search's directory and the recorded baselines has a trend of
/// the limit, whose newest value is this search's.
fn history_shows_the_limit(out: &std::path::Path, r: &LimitReport) {
    let page = out.join("history.html");
    let (dir, page_arg) = (out.display().to_string(), page.display().to_string());
    let history = cronbench(&["history", &dir, "baselines/local", "-o", &page_arg]);
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    let md = String::from_utf8_lossy(&history.stdout);
    let row = md
        .lines()
        .find(|l| l.starts_with("| find-limit sustainable jobs per minute |"))
        .unwrap_or_else(|| panic!("a limit row in\n{md}"));
    if let Some(limit) = r.limit_jobs_per_minute {
        assert!(row.contains(&format!("{limit:.2}")), "{row}");
    }
    let html = std::fs::read_to_string(&page).expect("history.html written");
    assert!(
        html.contains(&r.search_id),
        "the search is a point of the page"
    );
}

/// A node-count sweep, as short as it gets: one step per count (a 3-minute budget fits one),
/// and the cluster's node count is put back afterwards.
#[tokio::test]
async fn integration_sweep_searches_once_per_node_count_and_restores_the_nodes() {
    let Some(cluster) = TestCluster::up("it-sweep", &["--nodes", "3"]) else {
        return;
    };
    let out = std::env::temp_dir().join(format!("cronbench-it-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = find_limit(
        &cluster,
        &out,
        &["--start", "5", "--max-minutes", "3", "--sweep-nodes", "1,2"],
    );
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "the sweep completes: {}",
        text(&run)
    );
    let bytes = std::fs::read(out.join("sweep.json")).expect("sweep.json written");
    let r: SweepReport = serde_json::from_slice(&bytes).expect("sweep.json parses");
    assert_eq!(r.counts, vec![1, 2]);
    assert_eq!(
        r.points.iter().map(|p| p.nodes).collect::<Vec<_>>(),
        vec![1, 2],
        "{}",
        text(&run)
    );
    for p in &r.points {
        let limit: LimitReport =
            serde_json::from_slice(&std::fs::read(p.dir.join("limit.json")).expect("limit.json"))
                .expect("limit.json parses");
        assert_eq!(
            limit.nodes, p.nodes,
            "the search saw {} Ready nodes",
            p.nodes
        );
        assert!(!limit.steps.is_empty());
        // Every node that started pods is one of the first `nodes`.
        for s in &limit.steps {
            assert!(s.nodes.len() <= p.nodes as usize, "{:?}", s.nodes);
        }
    }
    assert!(r.ended_early.is_none(), "{:?}", r.ended_early);
    let nodes = cronbench::cluster::nodes::count(&cluster.client().await)
        .await
        .expect("nodes listed");
    assert_eq!(nodes, 3, "node count restored");
    let _ = std::fs::remove_dir_all(&out);
}
