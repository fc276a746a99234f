//! The analysis of recorded event logs (tests/fixtures/*.jsonl), read from disk.

use std::path::PathBuf;

use cronbench::analyze::{AnalyzeError, analyze_file, summary_table};
use cronbench::results::{Check, Clock, Results, Stage, StageStats, WindowEnd};

/// 2026-01-01T00:00:00Z: the measure phase of both fixtures starts here.
const T0: i64 = 1_767_225_600_000;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn stage(r: &Results, stage: Stage, clock: Clock) -> &StageStats {
    r.stages
        .iter()
        .find(|s| s.stage == stage && s.clock == clock)
        .expect("every stage and clock is reported")
}

fn assert_close(got: Option<u64>, want: u64) {
    let got = got.expect("a value");
    assert!(
        got.abs_diff(want) <= want / 1000 + 1,
        "got {got}, want {want}"
    );
}

/// A scratch file that is removed when dropped.
struct TempLog(PathBuf);

impl TempLog {
    fn new(name: &str, content: &str) -> TempLog {
        let path = std::env::temp_dir().join(format!(
            "cronbench-analyze-{}-{name}.jsonl",
            std::process::id()
        ));
        std::fs::write(&path, content).expect("write temp log");
        TempLog(path)
    }
}

impl Drop for TempLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn healthy_fixture_reconstructs_timelines_and_passes() {
    let r = analyze_file(fixture("healthy.jsonl")).expect("analysis succeeds");
    assert_eq!(r.run.run_id, "healthy-run");
    assert_eq!(r.run.lines, 60);
    assert!(!r.run.interrupted);
    let w = r.window.as_ref().expect("window");
    assert_eq!(
        (w.start_ms, w.end_ms, w.end),
        (T0, T0 + 180_000, WindowEnd::Drain)
    );

    // Jobs appear 1.0, 1.5, ... 3.5 s after their tick; pods start 2 s after the job.
    assert_close(
        stage(&r, Stage::ScheduleToJobCreated, Clock::Client).p50_ms,
        2000,
    );
    assert_eq!(
        stage(&r, Stage::ScheduleToJobCreated, Clock::Server).p50_ms,
        Some(2000)
    );
    let s2s = stage(&r, Stage::ScheduleToStarted, Clock::Client);
    assert_eq!(s2s.count, 6);
    assert_close(s2s.p50_ms, 4000);
    assert_eq!(s2s.max_ms, Some(5500));
    assert_close(
        stage(&r, Stage::StartedToFinished, Clock::Client).p50_ms,
        2000,
    );

    let c = &r.counts;
    assert_eq!(
        (c.cronjobs, c.expected, c.observed, c.missed, c.duplicates),
        (2, 6, 6, 0, 0)
    );
    assert_eq!((c.started, c.started_within_slo, c.completed), (6, 6, 6));
    assert_eq!((c.failed, c.stuck_pods, c.pods), (0, 0, 6));
    assert_eq!(r.throughput.started_per_minute_mean, Some(2.0));
    assert_eq!(r.nodes.len(), 2);
    assert_eq!(r.nodes[1].node, "node-b");
    assert_eq!(r.nodes[1].ready_at_end, Some(true));
    assert_eq!(r.anomalies.watch_errors, 1);
    assert_eq!(r.anomalies.event_reasons.get("Scheduled"), Some(&6));
    assert!(r.verdict.pass, "{:#?}", r.verdict);

    let table = summary_table(&r);
    assert!(table.contains("verdict: PASS"), "{table}");
}

#[test]
fn interrupted_fixture_still_analyzes() {
    let r = analyze_file(fixture("interrupted.jsonl")).expect("analysis succeeds");
    assert!(r.run.interrupted);
    assert_eq!(r.run.end_reason, None);
    assert!(r.anomalies.truncated_last_line);
    let w = r.window.as_ref().expect("window");
    assert_eq!((w.end, w.end_ms), (WindowEnd::LastLine, T0 + 125_000));

    let c = &r.counts;
    // Ticks 00:00, 00:01, 00:02 for two CronJobs; cb-00000 missed 00:02.
    assert_eq!((c.expected, c.observed, c.missed), (6, 5, 1));
    assert_eq!(c.missed_runs.len(), 1);
    assert_eq!(c.missed_runs[0].cronjob, "cb-00000");
    assert_eq!(c.missed_runs[0].scheduled, "2026-01-01T00:02:00Z");
    // cb-00001's Jobs carry neither annotation nor owner: the name says it all.
    assert_eq!(r.anomalies.jobs_without_schedule, 0);
    assert_eq!(c.unexpected, 0);
    // A hand-made second Job for cb-00000 at 00:01. The run's own Job finished before the
    // log ended, so it was forgotten: only the extra Job, still in flight, is named.
    assert_eq!(c.duplicates, 1);
    assert_eq!(
        c.duplicate_runs[0].jobs,
        vec!["cb-00000-manual".to_string()]
    );
    assert_eq!((c.started, c.completed), (3, 3));
    // cb-00001's 00:01 pod was never bound: pending 63.5 s against a 60 s limit.
    assert_eq!(c.stuck_pods, 1);
    assert_eq!(r.anomalies.event_reasons.get("FailedScheduling"), Some(&1));

    // The API stamped cb-00001's first pod a second before its Job.
    let neg = stage(&r, Stage::JobCreatedToPodCreated, Clock::Server);
    assert_eq!((neg.negatives, neg.min_negative_ms), (1, Some(-1000)));
    assert_eq!(r.anomalies.negative_latencies.len(), 1);

    assert!(!r.verdict.pass);
    let failed: Vec<Check> = r
        .verdict
        .checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.check)
        .collect();
    assert_eq!(
        failed,
        vec![
            Check::JobsPerMinute,
            Check::StartedShare,
            Check::CompletedShare,
            Check::Missed,
            Check::StuckPods
        ]
    );
    // 3 starts in a 125 s window.
    assert_eq!(
        r.throughput.started_per_minute_mean,
        Some(3.0 / (125.0 / 60.0))
    );
    assert!(summary_table(&r).contains("FAIL  stuck pods: 1 (required <= 0)"));
}

#[test]
fn a_corrupted_first_line_is_an_error_naming_it() {
    let healthy = std::fs::read_to_string(fixture("healthy.jsonl")).expect("read fixture");
    let mut lines: Vec<&str> = healthy.lines().collect();
    lines[0] = "{\"type\":\"run_started\",garbage";
    let log = TempLog::new("bad-first-line", &(lines.join("\n") + "\n"));
    match analyze_file(&log.0) {
        Err(AnalyzeError::Parse { line, .. }) => assert_eq!(line, 1),
        other => panic!("expected a parse error on line 1, got {other:?}"),
    }
}

#[test]
fn a_corrupted_line_inside_the_log_is_left_out_counted_and_named() {
    let healthy = std::fs::read_to_string(fixture("healthy.jsonl")).expect("read fixture");
    let mut lines: Vec<&str> = healthy.lines().collect();
    lines[4] = "{\"type\":\"job\",\"recv_ms\":\"soon\"}";
    lines[9] = "not json at all";
    let log = TempLog::new("bad-line", &(lines.join("\n") + "\n"));
    let r = analyze_file(&log.0).expect("the rest of the log analyzes");
    assert_eq!(r.anomalies.lines_unparsed, 2);
    assert!(
        r.anomalies
            .notes
            .iter()
            .any(|n| n.starts_with("line 5 of the event log did not parse")),
        "{:?}",
        r.anomalies.notes
    );
    let whole = analyze_file(fixture("healthy.jsonl")).expect("fixture analyzes");
    assert_eq!(whole.anomalies.lines_unparsed, 0);
    assert_eq!(
        r.run.lines,
        whole.run.lines - 2,
        "the dropped lines are not counted as read"
    );
}

#[test]
fn missing_file_and_empty_log_are_errors() {
    assert!(matches!(
        analyze_file(fixture("does-not-exist.jsonl")),
        Err(AnalyzeError::Open { .. })
    ));
    let log = TempLog::new("empty", "\n");
    assert!(matches!(analyze_file(&log.0), Err(AnalyzeError::Empty)));
}

#[test]
fn a_run_killed_before_its_end_never_passes() {
    // The healthy run without its last line, as a `kill -9` of the harness leaves it.
    let healthy = std::fs::read_to_string(fixture("healthy.jsonl")).expect("read fixture");
    let cut: Vec<&str> = healthy
        .lines()
        .filter(|l| !l.contains("\"type\":\"run_ended\""))
        .collect();
    let path = std::env::temp_dir().join(format!("cronbench-killed-{}.jsonl", std::process::id()));
    std::fs::write(&path, cut.join("\n")).expect("write log");
    let r = analyze_file(&path).expect("a partial log analyzes");
    assert!(r.run.interrupted);
    assert!(!r.verdict.pass, "a partial window must not pass");
    assert!(summary_table(&r).contains("did not complete"));
}

/// The healthy fixture with the pods of the runs whose pod name contains `pattern` moved from
/// node-b to node-a (node-b stays Ready: it is still one of the nodes a tick could use).
fn healthy_with_pods_on_node_a(pattern: &str) -> String {
    let healthy = std::fs::read_to_string(fixture("healthy.jsonl")).expect("read fixture");
    healthy
        .lines()
        .map(|l| {
            if l.contains(pattern) {
                l.replace("\"node\":\"node-b\"", "\"node\":\"node-a\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn healthy_fixture_spreads_each_tick_evenly_over_its_two_nodes() {
    let r = analyze_file(fixture("healthy.jsonl")).expect("analysis succeeds");
    let b = r.node_balance.expect("bound pods in the window");
    assert_eq!((b.nodes, b.ticks), (2, 3));
    assert_eq!((b.mean_imbalance, b.max_imbalance), (1.0, 1.0));
    assert_eq!((b.busiest_share_p50, b.busiest_share_max), (0.5, 0.5));
    let ticks: Vec<i64> = b.per_tick.iter().map(|t| t.scheduled_ms).collect();
    assert_eq!(ticks, [T0, T0 + 60_000, T0 + 120_000]);
    for t in &b.per_tick {
        let counts: Vec<(&str, u64, u64)> = t
            .nodes
            .iter()
            .map(|n| (n.node.as_str(), n.bound, n.started))
            .collect();
        assert_eq!(counts, [("node-a", 1, 1), ("node-b", 1, 1)]);
        assert_eq!(t.unbound, 0);
        // A tie goes to the first name.
        assert_eq!(t.busiest_node.as_deref(), Some("node-a"));
    }
}

#[test]
fn a_herd_on_one_node_has_imbalance_equal_to_the_node_count() {
    let log = TempLog::new("herd", &healthy_with_pods_on_node_a("-x7k2p"));
    let r = analyze_file(&log.0).expect("analysis succeeds");
    let b = r.node_balance.expect("bound pods in the window");
    assert_eq!(
        b.nodes, 2,
        "node-b was Ready, so it counts though it got nothing"
    );
    assert_eq!((b.mean_imbalance, b.max_imbalance), (2.0, 2.0));
    assert_eq!(b.busiest_share_max, 1.0);
    for t in &b.per_tick {
        assert_eq!(t.nodes.len(), 1);
        assert_eq!((t.nodes[0].bound, t.nodes[0].started), (2, 2));
        assert_eq!(t.busiest_share, Some(1.0));
    }
    // The per-node starts of the window agree with the ticks.
    assert_eq!(r.nodes.len(), 1);
    assert_eq!(r.nodes[0].started, 6);
}

#[test]
fn one_herded_tick_among_even_ones_shows_in_its_tick_and_in_the_maximum() {
    let log = TempLog::new(
        "one-herd",
        &healthy_with_pods_on_node_a("cb-00001-29453761"),
    );
    let r = analyze_file(&log.0).expect("analysis succeeds");
    let b = r.node_balance.expect("bound pods in the window");
    let imbalances: Vec<Option<f64>> = b.per_tick.iter().map(|t| t.imbalance).collect();
    assert_eq!(imbalances, [Some(1.0), Some(2.0), Some(1.0)]);
    assert!((b.mean_imbalance - 4.0 / 3.0).abs() < 1e-9);
    assert_eq!(b.max_imbalance, 2.0);
    assert_eq!((b.busiest_share_p50, b.busiest_share_max), (0.5, 1.0));
}

#[test]
fn the_summary_table_shows_the_node_balance() {
    let r = analyze_file(fixture("healthy.jsonl")).expect("analysis succeeds");
    let table = summary_table(&r);
    assert!(table.contains(
        "node balance (pods bound per node per tick; imbalance = busiest node / mean over 2 node(s)"
    ));
    assert!(table.contains("3 tick(s): imbalance mean 1.00, max 1.00"));
    assert!(table.contains(
        "2026-01-01T00:00:00Z  imbalance 1.00  node-a 1 (1 started), node-b 1 (1 started)"
    ));
}

/// Recorded by the `run` integration test on the local cluster (3 kwok nodes, 10 CronJobs every
/// minute): the scheduler put every pod of each tick on kwok-node-0 (issue 22).
#[test]
fn a_recorded_kwok_run_puts_each_ticks_pods_on_one_of_three_nodes() {
    let r = analyze_file(fixture("kwok-herd-3-nodes.jsonl")).expect("analysis succeeds");
    let b = r.node_balance.expect("bound pods in the window");
    assert_eq!((b.nodes, b.ticks), (3, 2));
    assert_eq!((b.mean_imbalance, b.max_imbalance), (3.0, 3.0));
    assert_eq!(b.busiest_share_p50, 1.0);
    for t in &b.per_tick {
        let counts: Vec<(&str, u64, u64)> = t
            .nodes
            .iter()
            .map(|n| (n.node.as_str(), n.bound, n.started))
            .collect();
        assert_eq!(counts, [("kwok-node-0", 10, 10)]);
    }
}

#[test]
fn a_log_whose_recorded_slo_can_never_be_judged_is_an_error_not_a_pass() {
    let healthy = std::fs::read_to_string(fixture("healthy.jsonl")).expect("read fixture");
    let mut lines: Vec<String> = healthy.lines().map(str::to_string).collect();
    let mut first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    first["scenario"]["slo"]["target_jobs_per_minute"] = (-1).into();
    lines[0] = first.to_string();
    let log = TempLog::new("negative-target", &(lines.join("\n") + "\n"));
    match analyze_file(&log.0) {
        Err(e @ AnalyzeError::InvalidSlo { .. }) => {
            assert!(
                e.to_string().contains("target_jobs_per_minute is -1"),
                "{e}"
            )
        }
        other => panic!("expected InvalidSlo, got {other:?}"),
    }
}

/// A recorded mixed fleet (tests/scenarios/mixed.yaml on 3 kwok nodes): Forbid runs of 90 s on
/// a 60 s period, a deadline the cluster meets, Kathmandu at odd UTC minutes, half the flaky
/// pods failing, two suspended CronJobs.
#[test]
fn a_recorded_mixed_fleet_counts_each_class_and_keeps_forbids_skips_apart_from_missed() {
    let r = analyze_file(fixture("mixed-classes.jsonl")).expect("analyzes");
    let p = r.policies.as_ref().expect("a mixed fleet has policies");
    assert_eq!((p.forbid.cronjobs, p.forbid.overlaps), (3, 0));
    // The 08:04 tick started late once the previous run ended; 08:05 was skipped.
    assert_eq!(p.forbid.skipped_while_active, 3);
    assert_eq!(p.forbid.job_already_active_events, 18);
    assert_eq!(r.counts.missed, 0);
    assert_eq!(
        (p.deadline.cronjobs, p.deadline.skipped_past_deadline),
        (3, 0)
    );
    assert_eq!(p.jobs_failed, 6);
    assert_eq!(p.pods_never_started, 0);
    let row = |name: &str| {
        let c = r.classes.iter().find(|c| c.class == name).expect(name);
        let n = &c.counts;
        (
            n.cronjobs,
            n.expected,
            n.observed,
            n.skipped_while_active,
            n.failed,
        )
    };
    assert_eq!(row("forbid"), (3, 9, 6, 3, 0));
    assert_eq!(row("deadline"), (3, 9, 9, 0, 0));
    assert_eq!(row("zoned"), (3, 6, 6, 0, 0));
    assert_eq!(row("flaky"), (3, 9, 9, 0, 6));
    assert_eq!(row("paused"), (2, 0, 0, 0, 0));
    // The shares leave the 3 skipped ticks out: 33 expected, 30 runs that should start.
    let share = |check: Check| {
        let c = r
            .verdict
            .checks
            .iter()
            .find(|c| c.check == check)
            .expect("check");
        c.measured.expect("measured")
    };
    let started = r.counts.started_within_slo as f64 / (r.counts.expected - 3) as f64;
    assert_eq!((r.counts.expected, r.counts.observed), (33, 30));
    assert_eq!(share(Check::StartedShare), started);
    assert_eq!(
        share(Check::CompletedShare),
        r.counts.completed as f64 / 30.0
    );
    let zones: Vec<(&str, u64)> = r
        .zones
        .iter()
        .map(|z| (z.zone.as_str(), z.counts.cronjobs))
        .collect();
    assert_eq!(zones, [("Asia/Kathmandu", 3), ("UTC", 11)]);
    // The window (08:03 to 08:05:xx) touches the 08:00 herd window (07:59 to 08:05): the starts
    // up to 08:05:00 count, the later 9 do not.
    let herd = r.herd.as_ref().expect("a herd");
    assert_eq!(herd.hours, 1);
    assert_eq!(herd.starts_per_second.iter().sum::<u64>(), 21);
    assert_eq!(r.throughput.started_in_window, 30);
}
