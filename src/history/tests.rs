use super::*;
use crate::results::{Clock, Stage};

fn fixture() -> Results {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/healthy.jsonl");
    crate::analyze::analyze_file(&log).expect("the healthy fixture analyzes")
}

/// A run `i` minutes after the fixture's, whose p99 schedule -> started is `p99_s` and whose
/// throughput is `per_min`.
fn run(base: &Results, i: i64, p99_s: f64, per_min: f64) -> (PathBuf, Record) {
    let mut r = base.clone();
    r.run.run_id = format!("run-{i:02}");
    r.run.started_ms += i * 86_400_000;
    for s in &mut r.stages {
        if s.stage == Stage::ScheduleToStarted && s.clock == Clock::Client {
            s.p99_ms = Some((p99_s * 1000.0) as u64);
        }
    }
    r.throughput.started_per_minute_mean = Some(per_min);
    (PathBuf::from(format!("runs/run-{i:02}")), r.into())
}

/// Twelve nights of noise around 10 s and 50 jobs/min, then `after` nights from `tail`.
fn nights(tail: &[f64]) -> Vec<(PathBuf, Record)> {
    let base = fixture();
    let noise = [
        0.0, 0.3, -0.2, 0.4, -0.3, 0.1, 0.2, -0.4, 0.3, -0.1, 0.0, 0.2,
    ];
    let mut v: Vec<_> = noise
        .iter()
        .enumerate()
        .map(|(i, n)| run(&base, i as i64, 10.0 + n, 50.0 + n))
        .collect();
    for (j, p99) in tail.iter().enumerate() {
        v.push(run(&base, (noise.len() + j) as i64, *p99, 50.0));
    }
    v
}

fn trend_of(h: &History, metric: Metric) -> &Trend {
    h.trends
        .iter()
        .find(|t| t.metric == metric)
        .expect("a trend per metric")
}

#[test]
fn a_planted_regression_is_marked_at_the_run_it_began() {
    let h = build(&nights(&[14.0, 14.2, 13.9, 14.1]), &Options::default());
    let t = trend_of(&h, Metric::P99ScheduleToStart);
    let at: Vec<usize> = t.change_points.iter().map(|c| c.index).collect();
    assert_eq!(at, vec![12]);
    assert_eq!(h.runs[12].run_id, "run-12");
    // Throughput did not move.
    assert!(trend_of(&h, Metric::JobsPerMinute).change_points.is_empty());
}

#[test]
fn compare_history_fails_once_k_runs_confirm_and_not_before() {
    let opts = Options::default();
    let one = build(&nights(&[14.0]), &opts);
    assert!(confirmed_shifts(&one, 2, &opts).is_empty());
    let two = build(&nights(&[14.0, 14.2]), &opts);
    let shifts = confirmed_shifts(&two, 2, &opts);
    assert_eq!(shifts.len(), 1, "{shifts:?}");
    assert_eq!(shifts[0].metric, Metric::P99ScheduleToStart);
    assert_eq!(shifts[0].shift.index, 12);
    // With K = 3 the same two nights are not yet enough.
    assert!(confirmed_shifts(&two, 3, &opts).is_empty());
}

#[test]
fn a_single_bad_night_is_neither_a_change_point_nor_a_failure() {
    let opts = Options::default();
    for tail in [&[20.0, 10.1][..], &[20.0][..]] {
        let h = build(&nights(tail), &opts);
        assert!(
            trend_of(&h, Metric::P99ScheduleToStart)
                .change_points
                .is_empty()
        );
        assert!(confirmed_shifts(&h, 2, &opts).is_empty(), "tail {tail:?}");
    }
}

#[test]
fn an_improvement_is_marked_but_never_fails() {
    let opts = Options::default();
    let h = build(&nights(&[6.0, 6.1, 5.9]), &opts);
    assert_eq!(
        trend_of(&h, Metric::P99ScheduleToStart).change_points.len(),
        1
    );
    assert!(confirmed_shifts(&h, 2, &opts).is_empty());
}

#[test]
fn the_band_is_the_range_since_the_last_change_before_the_newest_run() {
    let h = build(&nights(&[14.0, 14.2, 13.9, 14.1]), &Options::default());
    let band = trend_of(&h, Metric::P99ScheduleToStart)
        .band
        .expect("a band");
    assert_eq!((band.from, band.to), (12, 15));
    assert_eq!((band.low, band.high), (13.9, 14.2));
}

#[test]
fn a_confirmed_shift_smaller_than_the_metric_resolution_does_not_fail() {
    // Twelve nights at exactly 10 s, then two at +0.2 s: 2%, and under the 0.25 s resolution.
    let opts = Options {
        min_change: 0.0,
        ..Options::default()
    };
    let base = fixture();
    let history = |tail: f64| {
        let runs: Vec<_> = (0..14)
            .map(|i| run(&base, i, if i < 12 { 10.0 } else { tail }, 50.0))
            .collect();
        build(&runs, &opts)
    };
    assert!(confirmed_shifts(&history(10.2), 2, &opts).is_empty());
    let shifts = confirmed_shifts(&history(10.3), 2, &opts);
    assert_eq!(shifts.len(), 1, "{shifts:?}");
}

#[test]
fn a_doubled_harness_cpu_is_marked_but_never_fails_the_history_check() {
    let opts = Options::default();
    let base = fixture();
    // Twelve nights near 31 s of harness CPU, then `n - 12` at 65 s.
    let history = |n: i64| {
        let runs: Vec<_> = (0..n)
            .map(|i| {
                let mut r = base.clone();
                r.run.run_id = format!("run-{i:02}");
                r.run.started_ms += i * 86_400_000;
                let cpu_s = if i < 12 { 30.0 + (i % 3) as f64 } else { 65.0 };
                r.run.harness = Some(crate::host::HarnessCost {
                    cpu_s,
                    peak_rss_kb: 40_960,
                });
                (PathBuf::from(format!("runs/run-{i:02}")), r.into())
            })
            .collect::<Vec<_>>();
        build(&runs, &opts)
    };
    let marked = history(16);
    let cpu = trend_of(&marked, Metric::HarnessCpuS);
    assert_eq!(cpu.change_points.first().map(|c| c.index), Some(12));
    assert_eq!(
        trend_of(&marked, Metric::HarnessPeakRssMib).values[0],
        Some(40.0)
    );
    let confirmed = history(14);
    let cpu = trend_of(&confirmed, Metric::HarnessCpuS);
    // The rule would confirm it, were the harness's cost a gate.
    assert!(changepoint::recent_shift(&cpu.series(), 2, Worse::Higher, &opts).is_some());
    assert!(confirmed_shifts(&confirmed, 2, &opts).is_empty());
}

#[test]
fn a_figure_no_run_measured_has_no_trend() {
    let h = build(&nights(&[10.0]), &Options::default());
    for m in [
        Metric::LimitJobsPerMinute,
        Metric::HarnessCpuS,
        Metric::HarnessPeakRssMib,
    ] {
        assert!(h.trends.iter().all(|t| t.metric != m), "{m:?}");
    }
    assert!(h.trends.iter().any(|t| t.metric == Metric::StuckPods));
}
