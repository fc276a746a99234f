//! Comparison of a run with one or more baseline runs, with a regression verdict that allows
//! for run-to-run noise.
//!
//! For each [`Metric`] the reference is the median of the baselines. A metric regresses when
//! its change in the bad direction is larger than BOTH
//! - `threshold` times the reference (a relative change, e.g. 0.10 for 10%), and
//! - `spread_multiple` times the spread of the baselines (max - min; zero with one baseline),
//! - the metric's resolution ([`Metric::resolution`]): latency changes under 250 ms are
//!   scheduling noise on a shared machine (same-configuration runs on the 2-core CI machine
//!   differed by up to 0.43 s in p99), never a regression on their own.
//!
//! A metric the current run could not measure while the baselines could (e.g. no run started,
//! so there is no p99) regresses; a metric no baseline measured is not compared.

use std::path::{Path, PathBuf};

use crate::results::{Check, Clock, Results, Stage};

/// The terminal view of a comparison (it lives with the other views in [`crate::report`]).
pub use crate::report::compare::summary;

/// Which way a metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// A compared metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Mean jobs started per minute over the window.
    JobsPerMinute,
    /// p50 schedule -> started, client clock, seconds.
    P50ScheduleToStart,
    /// p99 schedule -> started, client clock, seconds.
    P99ScheduleToStart,
    /// p99 of one stage, client clock, seconds.
    StageP99(Stage),
    /// Missed schedules.
    Missed,
    /// Share of expected runs started within the deadline (the verdict's measure).
    StartedShare,
    /// Pods that stayed Pending longer than the scenario allows (history only).
    StuckPods,
    /// find-limit's sustainable jobs per minute (history only: a find-limit directory's).
    LimitJobsPerMinute,
    /// The harness's own CPU seconds over the run (history only, never a gate).
    HarnessCpuS,
    /// The harness's own peak resident memory, MiB (history only, never a gate).
    HarnessPeakRssMib,
}

impl Metric {
    /// Every metric, in report order.
    pub fn all() -> Vec<Metric> {
        let mut v = vec![
            Metric::JobsPerMinute,
            Metric::P50ScheduleToStart,
            Metric::P99ScheduleToStart,
        ];
        v.extend(
            Stage::ALL
                .iter()
                .filter(|s| **s != Stage::ScheduleToStarted)
                .map(|s| Metric::StageP99(*s)),
        );
        v.extend([Metric::Missed, Metric::StartedShare]);
        v
    }

    /// Every figure `cronbench history` trends: [`Metric::all`], stuck pods, the find-limit
    /// limit and the harness's own cost.
    pub fn history() -> Vec<Metric> {
        let mut v = Metric::all();
        v.extend([
            Metric::StuckPods,
            Metric::LimitJobsPerMinute,
            Metric::HarnessCpuS,
            Metric::HarnessPeakRssMib,
        ]);
        v
    }

    /// Whether a confirmed shift of this figure fails `compare --history`: the harness's own
    /// cost is shown, never judged (it moves with the machine's load, not the cluster's).
    pub fn gates(self) -> bool {
        !matches!(self, Metric::HarnessCpuS | Metric::HarnessPeakRssMib)
    }

    pub fn direction(self) -> Direction {
        match self {
            Metric::JobsPerMinute | Metric::StartedShare | Metric::LimitJobsPerMinute => {
                Direction::HigherIsBetter
            }
            Metric::P50ScheduleToStart
            | Metric::P99ScheduleToStart
            | Metric::StageP99(_)
            | Metric::Missed
            | Metric::StuckPods
            | Metric::HarnessCpuS
            | Metric::HarnessPeakRssMib => Direction::LowerIsBetter,
        }
    }

    pub fn name(self) -> String {
        match self {
            Metric::JobsPerMinute => "jobs started per minute".into(),
            Metric::P50ScheduleToStart => "p50 schedule -> started (s, client)".into(),
            Metric::P99ScheduleToStart => "p99 schedule -> started (s, client)".into(),
            Metric::StageP99(s) => format!("p99 {} (s, client)", s.label()),
            Metric::Missed => "missed schedules".into(),
            Metric::StartedShare => "share started within deadline".into(),
            Metric::StuckPods => "stuck pods".into(),
            Metric::LimitJobsPerMinute => "find-limit sustainable jobs per minute".into(),
            Metric::HarnessCpuS => "harness CPU (s)".into(),
            Metric::HarnessPeakRssMib => "harness peak RSS (MiB)".into(),
        }
    }

    /// The smallest change that can count as a regression, in the metric's unit.
    pub fn resolution(self) -> f64 {
        match self {
            Metric::P50ScheduleToStart | Metric::P99ScheduleToStart | Metric::StageP99(_) => 0.25,
            Metric::JobsPerMinute
            | Metric::Missed
            | Metric::StartedShare
            | Metric::StuckPods
            | Metric::LimitJobsPerMinute
            | Metric::HarnessCpuS
            | Metric::HarnessPeakRssMib => 0.0,
        }
    }

    /// The metric's value in `r`, when measured.
    pub fn value(self, r: &Results) -> Option<f64> {
        let client = |stage: Stage| {
            r.stages
                .iter()
                .find(|s| s.stage == stage && s.clock == Clock::Client)
        };
        let secs = |ms: Option<u64>| ms.map(|v| v as f64 / 1000.0);
        let v = match self {
            Metric::JobsPerMinute => r.throughput.started_per_minute_mean,
            Metric::P50ScheduleToStart => secs(client(Stage::ScheduleToStarted)?.p50_ms),
            Metric::P99ScheduleToStart => secs(client(Stage::ScheduleToStarted)?.p99_ms),
            Metric::StageP99(stage) => secs(client(stage)?.p99_ms),
            Metric::Missed => Some(r.counts.missed as f64),
            Metric::StartedShare => r
                .verdict
                .checks
                .iter()
                .find(|c| c.check == Check::StartedShare)
                .and_then(|c| c.measured),
            Metric::StuckPods => Some(r.counts.stuck_pods as f64),
            // A find-limit directory's figure: see crate::history::Record.
            Metric::LimitJobsPerMinute => None,
            Metric::HarnessCpuS => r.run.harness.map(|h| h.cpu_s),
            Metric::HarnessPeakRssMib => r.run.harness.map(|h| h.peak_rss_kb as f64 / 1024.0),
        };
        v.filter(|v| v.is_finite())
    }
}

/// How one metric compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Better than the reference by more than the allowed change.
    Improved,
    /// Within the threshold or the baselines' noise.
    Unchanged,
    /// Worse by more than both the threshold and the noise.
    Regressed,
    /// No baseline measured it.
    NotCompared,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Improved => "improved",
            Status::Unchanged => "unchanged",
            Status::Regressed => "REGRESSED",
            Status::NotCompared => "n/a",
        }
    }
}

/// One metric's comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDelta {
    pub metric: Metric,
    /// Each baseline's value, in the order given.
    pub baselines: Vec<Option<f64>>,
    /// Median of the baselines.
    pub reference: Option<f64>,
    pub current: Option<f64>,
    /// `current - reference`.
    pub delta: Option<f64>,
    /// `delta / reference`, when the reference is not zero.
    pub relative: Option<f64>,
    /// Max - min of the baselines.
    pub spread: f64,
    /// The largest change in the bad direction that does not count as a regression.
    pub allowed: Option<f64>,
    pub status: Status,
}

/// The comparison of a run with its baselines.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub threshold: f64,
    pub spread_multiple: f64,
    pub baselines: usize,
    pub metrics: Vec<MetricDelta>,
    /// Some metric regressed.
    pub regression: bool,
    /// Run ids of the baselines and the current run.
    pub baseline_runs: Vec<String>,
    pub current_run: String,
}

impl Comparison {
    pub fn regressed(&self) -> impl Iterator<Item = &MetricDelta> {
        self.metrics
            .iter()
            .filter(|m| m.status == Status::Regressed)
    }
}

/// Options of [`compare_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Relative change allowed in the bad direction, e.g. 0.10.
    pub threshold: f64,
    /// Multiple of the baselines' spread (max - min) allowed in the bad direction.
    pub spread_multiple: f64,
}

/// Multiple of the baselines' spread [`compare`] allows.
pub const DEFAULT_SPREAD_MULTIPLE: f64 = 1.0;

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn delta_of(
    metric: Metric,
    baseline: &[Results],
    current: &Results,
    o: CompareOptions,
) -> MetricDelta {
    let per_run: Vec<Option<f64>> = baseline.iter().map(|r| metric.value(r)).collect();
    let mut values: Vec<f64> = per_run.iter().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    let reference = median(&values);
    let spread = match (values.first(), values.last()) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => 0.0,
    };
    let current_v = metric.value(current);
    let delta = reference.zip(current_v).map(|(r, c)| c - r);
    let relative = reference
        .zip(delta)
        .and_then(|(r, d)| (r != 0.0).then(|| d / r.abs()));
    let allowed = reference.map(|r| {
        (o.threshold * r.abs())
            .max(o.spread_multiple * spread)
            .max(metric.resolution())
    });
    let status = match (reference, current_v, delta, allowed) {
        (None, _, _, _) => Status::NotCompared,
        (Some(_), None, _, _) => Status::Regressed,
        (_, _, Some(d), Some(allowed)) => {
            // Positive: worse.
            let worse = match metric.direction() {
                Direction::HigherIsBetter => -d,
                Direction::LowerIsBetter => d,
            };
            if worse > allowed {
                Status::Regressed
            } else if -worse > allowed {
                Status::Improved
            } else {
                Status::Unchanged
            }
        }
        _ => Status::NotCompared,
    };
    MetricDelta {
        metric,
        baselines: per_run,
        reference,
        current: current_v,
        delta,
        relative,
        spread,
        allowed,
        status,
    }
}

/// Compares `current` with `baseline` runs, allowing a relative change of `threshold` and the
/// baselines' spread ([`DEFAULT_SPREAD_MULTIPLE`] times max - min).
pub fn compare(baseline: &[Results], current: &Results, threshold: f64) -> Comparison {
    compare_with(
        baseline,
        current,
        CompareOptions {
            threshold,
            spread_multiple: DEFAULT_SPREAD_MULTIPLE,
        },
    )
}

/// [`compare`] with explicit options.
pub fn compare_with(
    baseline: &[Results],
    current: &Results,
    options: CompareOptions,
) -> Comparison {
    let metrics: Vec<MetricDelta> = Metric::all()
        .into_iter()
        .map(|m| delta_of(m, baseline, current, options))
        .collect();
    Comparison {
        threshold: options.threshold,
        spread_multiple: options.spread_multiple,
        baselines: baseline.len(),
        regression: metrics.iter().any(|m| m.status == Status::Regressed),
        metrics,
        baseline_runs: baseline.iter().map(|r| r.run.run_id.clone()).collect(),
        current_run: current.run.run_id.clone(),
    }
}

/// Parses a threshold: "10%", "0.1" or "10" (a number above 1 is a percentage).
pub fn parse_threshold(s: &str) -> Result<f64, CompareError> {
    let t = s.trim();
    let bad = || CompareError::Threshold(s.to_string());
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => {
            let v = t.parse::<f64>().map_err(|_| bad())?;
            if v > 1.0 { v / 100.0 } else { v }
        }
    };
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("loading the run in {dir}")]
    Load {
        dir: PathBuf,
        #[source]
        source: crate::report::ReportError,
    },
    #[error("no baseline run given")]
    NoBaseline,
    #[error("invalid threshold {0:?} (expected e.g. 10% or 0.1)")]
    Threshold(String),
    #[error("rendering the HTML view")]
    Render(#[source] minijinja::Error),
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `cronbench compare` does: loads the runs (each a run directory), compares them, and
/// writes the HTML view to `out` when given. Returns the comparison; regression is
/// [`Comparison::regression`].
pub fn compare_command(
    baseline_dirs: &[PathBuf],
    current_dir: &Path,
    threshold: f64,
    out: Option<&Path>,
) -> Result<Comparison, CompareError> {
    if baseline_dirs.is_empty() {
        return Err(CompareError::NoBaseline);
    }
    let load = |dir: &Path| {
        crate::report::load_results(dir).map_err(|source| CompareError::Load {
            dir: dir.to_owned(),
            source,
        })
    };
    let baseline = baseline_dirs
        .iter()
        .map(|d| load(d))
        .collect::<Result<Vec<_>, _>>()?;
    let current = load(current_dir)?;
    let comparison = compare(&baseline, &current, threshold);
    if let Some(path) = out {
        let html =
            crate::report::compare::comparison_html(&comparison).map_err(CompareError::Render)?;
        std::fs::write(path, html).map_err(|source| CompareError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(comparison)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::StageStats;

    fn healthy() -> Results {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/healthy.jsonl");
        crate::analyze::analyze_file(path).expect("fixture analyzes")
    }

    fn stage_mut(r: &mut Results, stage: Stage) -> &mut StageStats {
        r.stages
            .iter_mut()
            .find(|s| s.stage == stage && s.clock == Clock::Client)
            .expect("stage reported")
    }

    fn with_p99(mut r: Results, p99_ms: u64) -> Results {
        stage_mut(&mut r, Stage::ScheduleToStarted).p99_ms = Some(p99_ms);
        r
    }

    fn status(c: &Comparison, metric: Metric) -> Status {
        c.metrics
            .iter()
            .find(|m| m.metric == metric)
            .expect("metric compared")
            .status
    }

    #[test]
    fn identical_runs_pass() {
        let r = healthy();
        let c = compare(std::slice::from_ref(&r), &r, 0.10);
        assert!(!c.regression, "{}", summary(&c));
        assert!(
            c.metrics
                .iter()
                .all(|m| matches!(m.status, Status::Unchanged | Status::NotCompared))
        );
        assert_eq!(c.metrics.len(), Metric::all().len());
    }

    #[test]
    fn twice_as_slow_p99_fails() {
        let base = healthy();
        let p99 = stage_mut(&mut base.clone(), Stage::ScheduleToStarted)
            .p99_ms
            .expect("a p99");
        let slow = with_p99(base.clone(), p99 * 2);
        let c = compare(&[base], &slow, 0.10);
        assert!(c.regression);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Regressed);
        assert_eq!(c.regressed().count(), 1);
    }

    #[test]
    fn faster_is_an_improvement_not_a_regression() {
        let base = with_p99(healthy(), 4000);
        let fast = with_p99(healthy(), 2000);
        let c = compare(&[base], &fast, 0.10);
        assert!(!c.regression);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Improved);
    }

    #[test]
    fn change_within_the_baselines_spread_passes() {
        // Baselines at 4 s, 5 s and 6 s: spread 2 s; 6.5 s is 30% above the median but within
        // the spread, so it is noise.
        let baselines = [4000, 5000, 6000].map(|ms| with_p99(healthy(), ms));
        let current = with_p99(healthy(), 6500);
        let c = compare(&baselines, &current, 0.10);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Unchanged);
        assert!(!c.regression, "{}", summary(&c));
        // Beyond both the spread and the threshold: a regression.
        let c = compare(&baselines, &with_p99(healthy(), 7500), 0.10);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Regressed);
    }

    #[test]
    fn within_threshold_passes_with_one_baseline() {
        let c = compare(
            &[with_p99(healthy(), 5000)],
            &with_p99(healthy(), 5400),
            0.10,
        );
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Unchanged);
    }

    #[test]
    fn latency_changes_below_the_resolution_are_noise() {
        // +100 ms on a 30 ms stage is +333%, but under the 250 ms resolution.
        let c = compare(&[with_p99(healthy(), 30)], &with_p99(healthy(), 130), 0.10);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Unchanged);
        let c = compare(&[with_p99(healthy(), 30)], &with_p99(healthy(), 400), 0.10);
        assert_eq!(status(&c, Metric::P99ScheduleToStart), Status::Regressed);
    }

    #[test]
    fn lower_throughput_and_missing_values_regress() {
        let base = healthy();
        let mut cur = base.clone();
        cur.throughput.started_per_minute_mean =
            base.throughput.started_per_minute_mean.map(|v| v * 0.5);
        stage_mut(&mut cur, Stage::BoundToStarted).p99_ms = None;
        let c = compare(&[base], &cur, 0.10);
        assert_eq!(status(&c, Metric::JobsPerMinute), Status::Regressed);
        assert_eq!(
            status(&c, Metric::StageP99(Stage::BoundToStarted)),
            Status::Regressed
        );
    }

    #[test]
    fn thresholds_parse() {
        assert_eq!(parse_threshold("10%").expect("ok"), 0.10);
        assert_eq!(parse_threshold("0.25").expect("ok"), 0.25);
        assert_eq!(parse_threshold("15").expect("ok"), 0.15);
        assert!(parse_threshold("-5%").is_err());
        assert!(parse_threshold("ten").is_err());
    }

    #[test]
    fn html_view_is_side_by_side() {
        let base = healthy();
        let mut other = base.clone();
        other.run.run_id = "<second>".into();
        let slow = with_p99(base.clone(), 60_000);
        let c = compare(&[base, other], &slow, 0.10);
        let html = crate::report::compare::comparison_html(&c).expect("template renders");
        assert!(html.contains("REGRESSION"));
        assert!(html.contains("&lt;second&gt;"));
        assert!(!html.contains("<second>"));
        let rows = html.matches("<tr class=").count();
        assert_eq!(rows, Metric::all().len());
        // Two baseline columns, median, spread, current, change, allowed: at least 7 numbers.
        assert!(html.contains("REGRESSED"));
    }
}
