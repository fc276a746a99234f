//! The data behind the report's charts, apart from any drawing.
//!
//! [`ChartData::build`] takes the [`Results`] and, when available, the per-run timelines of a
//! streaming pass over the event log ([`EventSeries::from_file`]). Series that only the event
//! log has (latency over time, stage breakdown) are `None` without it, and the latency CDF then
//! falls back to the percentiles in the results.
//!
//! All times on x axes are minutes since [`ChartData::origin_ms`] (the measured window's start,
//! or the run's start without a window).

use std::collections::BTreeMap;
use std::path::Path;

use crate::analyze::AnalyzeError;
use crate::analyze::ingest::{Replay, replay_file};
use crate::analyze::runs::{RunEvent, Runs, Timeline};
use crate::results::{Clock, Results, Stage, Window};
use crate::schema::LogLine;

use super::ReportError;

mod nodes;
pub use nodes::NodeTickBars;

/// The stages that follow each other in a run's timeline (without the end-to-end spans).
pub const COMPONENT_STAGES: [Stage; 5] = [
    Stage::ScheduleToJobCreated,
    Stage::JobCreatedToPodCreated,
    Stage::PodCreatedToBound,
    Stage::BoundToStarted,
    Stage::StartedToFinished,
];

/// Highest percentile the latency CDF shows.
pub const CDF_MAX_P: f64 = 0.9999;

/// A named line of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Where the latency CDF came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdfSource {
    /// Every run's latency from the event log.
    Events,
    /// Only the percentiles in `results.json` (p50 ... p99.99, max).
    Percentiles,
}

/// Latency CDF per stage, client clock: x = latency in milliseconds (at least 1), y = the
/// percentile as a fraction in `[0, CDF_MAX_P]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyCdf {
    pub source: CdfSource,
    pub series: Vec<Series>,
}

/// Schedule -> started latency (client clock) per scheduled minute: x = minutes, y = seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct StartLatencyOverTime {
    pub p50: Series,
    pub p99: Series,
    pub max: Series,
    /// The SLO's p99 bound, seconds.
    pub slo_p99_s: f64,
}

/// Pods started per wall-clock minute: bars at x = minute start, and the target rate.
#[derive(Debug, Clone, PartialEq)]
pub struct StartsPerMinute {
    pub bars: Vec<(f64, u64)>,
    pub target: f64,
}

/// Mean latency (seconds, client clock) of each component stage per scheduled minute.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBreakdown {
    /// Minute starts (x).
    pub minutes: Vec<f64>,
    /// One per [`COMPONENT_STAGES`] entry: mean seconds per minute (0 where no run has it).
    pub stages: Vec<(Stage, Vec<f64>)>,
}

/// Everything the charts draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub origin_ms: i64,
    pub cdf: LatencyCdf,
    pub start_over_time: Option<StartLatencyOverTime>,
    pub starts_per_minute: StartsPerMinute,
    /// Pods bound per node per tick (x = the tick's scheduled time).
    pub node_ticks: NodeTickBars,
    /// Pending pods over time (x = minutes).
    pub pending: Series,
    pub breakdown: Option<StageBreakdown>,
}

/// One run's client-clock timeline, Unix milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTimeline {
    pub scheduled: i64,
    pub job_created: Option<i64>,
    pub pod_created: Option<i64>,
    pub bound: Option<i64>,
    pub started: Option<i64>,
    pub finished: Option<i64>,
}

impl RunTimeline {
    /// The same timeline as the reconstruction's, whose stage end points it shares.
    fn timeline(&self) -> Timeline {
        Timeline {
            scheduled: Some(self.scheduled),
            job_created: self.job_created,
            pod_created: self.pod_created,
            bound: self.bound,
            started: self.started,
            finished: self.finished,
        }
    }

    /// The latency of `stage`, when both its end points were seen.
    pub fn span(&self, stage: Stage) -> Option<i64> {
        self.timeline().span(stage)
    }
}

/// Per-run timelines gathered from an event log, for the series `results.json` lacks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSeries {
    /// Runs scheduled in the window (all runs without one), by scheduled time.
    pub runs: Vec<RunTimeline>,
    /// Lines that did not parse and were skipped.
    pub skipped_lines: u64,
}

/// Collects the client-clock timelines of the runs the reconstruction hands on.
struct Timelines<'w> {
    window: Option<&'w Window>,
    /// (scheduled, cronjob, timeline): ordered by schedule, then CronJob.
    runs: Vec<(i64, String, RunTimeline)>,
}

impl Timelines<'_> {
    fn take(&mut self, event: RunEvent<'_>) {
        let RunEvent::Over(run) = event else {
            return;
        };
        let scheduled = run.scheduled_ms;
        if self
            .window
            .is_some_and(|w| scheduled < w.start_ms || scheduled >= w.end_ms)
        {
            return;
        }
        let t = run.client();
        self.runs.push((
            scheduled,
            run.cronjob.to_string(),
            RunTimeline {
                scheduled,
                job_created: t.job_created,
                pod_created: t.pod_created,
                bound: t.bound,
                started: t.started,
                finished: t.finished,
            },
        ));
    }

    fn finish(mut self) -> Vec<RunTimeline> {
        self.runs
            .sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.runs.into_iter().map(|(_, _, t)| t).collect()
    }
}

impl EventSeries {
    /// Reads the event log at `path` line by line, keeping runs scheduled in `window` (all
    /// runs when `None`). Lines that do not parse (e.g. a cut-off last line) are skipped and
    /// counted.
    pub fn from_file(path: &Path, window: Option<&Window>) -> Result<EventSeries, ReportError> {
        let io_error = |e: AnalyzeError| match e {
            AnalyzeError::Open { path, source } | AnalyzeError::Read { path, source, .. } => {
                ReportError::Events { path, source }
            }
            other => ReportError::Analyze(other),
        };
        let mut timelines = Timelines {
            window,
            runs: Vec::new(),
        };
        let skipped_lines = replay_file(path, &mut |e| timelines.take(e)).map_err(io_error)?;
        Ok(EventSeries {
            runs: timelines.finish(),
            skipped_lines,
        })
    }

    /// Timelines from already parsed lines.
    pub fn from_lines(
        lines: impl IntoIterator<Item = LogLine>,
        window: Option<&Window>,
    ) -> EventSeries {
        let mut runs = Runs::new(true);
        let mut timelines = Timelines {
            window,
            runs: Vec::new(),
        };
        let mut replay = Replay::default();
        for line in lines {
            replay.push(&mut runs, line, &mut |e| timelines.take(e));
        }
        runs.finish(&mut |e| timelines.take(e));
        EventSeries {
            runs: timelines.finish(),
            skipped_lines: 0,
        }
    }

    /// Non-negative latencies of `stage`, sorted.
    pub fn latencies(&self, stage: Stage) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .runs
            .iter()
            .filter_map(|r| r.span(stage))
            .filter(|v| *v >= 0)
            .collect();
        v.sort_unstable();
        v
    }
}

/// The value at quantile `q` of sorted `values` (nearest rank).
pub(crate) fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// CDF points of sorted values on a grid even in `log10(1 / (1 - p))`, from p = 0 to
/// [`CDF_MAX_P`]; x at least 1 ms (the chart's x axis is logarithmic).
pub fn cdf_points(sorted: &[i64]) -> Vec<(f64, f64)> {
    const STEPS: u32 = 200;
    let decades = -(1.0 - CDF_MAX_P).log10();
    let mut points: Vec<(f64, f64)> = Vec::new();
    for i in 0..=STEPS {
        let p = 1.0 - 10f64.powf(-decades * f64::from(i) / f64::from(STEPS));
        let p = p.clamp(0.0, CDF_MAX_P);
        let Some(v) = quantile(sorted, p) else {
            return points;
        };
        let x = (v as f64).max(1.0);
        // Only the corners of the step function.
        if let Some(&(last_x, _)) = points.last()
            && last_x == x
            && i != STEPS
        {
            continue;
        }
        points.push((x, p));
    }
    points
}

/// CDF points from the percentiles in the results (p50 ... p99.99, then the max at p99.99).
fn percentile_points(results: &Results, stage: Stage) -> Vec<(f64, f64)> {
    let Some(s) = results
        .stages
        .iter()
        .find(|s| s.stage == stage && s.clock == Clock::Client)
    else {
        return Vec::new();
    };
    let mut points: Vec<(f64, f64)> = [
        (s.p50_ms, 0.5),
        (s.p90_ms, 0.9),
        (s.p99_ms, 0.99),
        (s.p999_ms, 0.999),
        (s.p9999_ms, CDF_MAX_P),
    ]
    .into_iter()
    .filter_map(|(v, p)| Some(((v? as f64).max(1.0), p)))
    .collect();
    if let Some(max) = s.max_ms.filter(|m| *m >= 0)
        && points.last().is_some_and(|(x, _)| (max as f64) > *x)
    {
        points.push(((max as f64).max(1.0), CDF_MAX_P));
    }
    points
}

fn minutes(origin_ms: i64, t_ms: i64) -> f64 {
    (t_ms - origin_ms) as f64 / 60_000.0
}

impl ChartData {
    /// Builds every chart's series from the results and, when given, the event log's runs.
    pub fn build(results: &Results, events: Option<&EventSeries>) -> ChartData {
        let origin_ms = results
            .window
            .as_ref()
            .map_or(results.run.started_ms, |w| w.start_ms);
        let m = |t: i64| minutes(origin_ms, t);

        let cdf = match events {
            Some(ev) => LatencyCdf {
                source: CdfSource::Events,
                series: Stage::ALL
                    .iter()
                    .map(|&stage| Series {
                        name: stage.label().to_string(),
                        points: cdf_points(&ev.latencies(stage)),
                    })
                    .collect(),
            },
            None => LatencyCdf {
                source: CdfSource::Percentiles,
                series: Stage::ALL
                    .iter()
                    .map(|&stage| Series {
                        name: stage.label().to_string(),
                        points: percentile_points(results, stage),
                    })
                    .collect(),
            },
        };

        let starts_per_minute = StartsPerMinute {
            bars: results
                .throughput
                .started_per_minute
                .iter()
                .map(|c| (m(c.minute_ms), c.started))
                .collect(),
            target: results.slo.target_jobs_per_minute,
        };

        let node_ticks = NodeTickBars::build(results, m);

        let pending = Series {
            name: "pending pods".to_string(),
            points: results
                .throughput
                .pending
                .iter()
                .map(|p| (m(p.t_ms), p.pending as f64))
                .collect(),
        };

        let (start_over_time, breakdown) = match events {
            Some(ev) => (
                Some(start_over_time(ev, results, m)),
                Some(breakdown(ev, m)),
            ),
            None => (None, None),
        };

        ChartData {
            origin_ms,
            cdf,
            start_over_time,
            starts_per_minute,
            node_ticks,
            pending,
            breakdown,
        }
    }
}

/// Runs grouped by the minute they were scheduled in.
fn by_minute(ev: &EventSeries) -> BTreeMap<i64, Vec<&RunTimeline>> {
    let mut out: BTreeMap<i64, Vec<&RunTimeline>> = BTreeMap::new();
    for run in &ev.runs {
        out.entry(run.scheduled.div_euclid(60_000) * 60_000)
            .or_default()
            .push(run);
    }
    out
}

fn start_over_time(
    ev: &EventSeries,
    results: &Results,
    m: impl Fn(i64) -> f64,
) -> StartLatencyOverTime {
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut max = Vec::new();
    for (minute, runs) in by_minute(ev) {
        let mut v: Vec<i64> = runs
            .iter()
            .filter_map(|r| r.span(Stage::ScheduleToStarted))
            .filter(|v| *v >= 0)
            .collect();
        v.sort_unstable();
        let x = m(minute);
        let secs = |v: i64| v as f64 / 1000.0;
        if let (Some(a), Some(b), Some(c)) = (quantile(&v, 0.5), quantile(&v, 0.99), v.last()) {
            p50.push((x, secs(a)));
            p99.push((x, secs(b)));
            max.push((x, secs(*c)));
        }
    }
    let series = |name: &str, points| Series {
        name: name.to_string(),
        points,
    };
    StartLatencyOverTime {
        p50: series("p50", p50),
        p99: series("p99", p99),
        max: series("max", max),
        slo_p99_s: results.slo.p99_schedule_to_start_s,
    }
}

fn breakdown(ev: &EventSeries, m: impl Fn(i64) -> f64) -> StageBreakdown {
    let groups = by_minute(ev);
    let minutes = groups.keys().map(|&k| m(k)).collect();
    let stages = COMPONENT_STAGES
        .iter()
        .map(|&stage| {
            let means = groups
                .values()
                .map(|runs| {
                    let v: Vec<i64> = runs
                        .iter()
                        .filter_map(|r| r.span(stage))
                        .filter(|v| *v >= 0)
                        .collect();
                    if v.is_empty() {
                        0.0
                    } else {
                        v.iter().sum::<i64>() as f64 / v.len() as f64 / 1000.0
                    }
                })
                .collect();
            (stage, means)
        })
        .collect();
    StageBreakdown { minutes, stages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::runs::Point;

    #[test]
    fn quantile_nearest_rank() {
        let v = [10, 20, 30, 40];
        assert_eq!(quantile(&v, 0.0), Some(10));
        assert_eq!(quantile(&v, 0.5), Some(20));
        assert_eq!(quantile(&v, 0.51), Some(30));
        assert_eq!(quantile(&v, 1.0), Some(40));
        assert_eq!(quantile::<i64>(&[], 0.5), None);
    }

    #[test]
    fn cdf_is_monotonic_and_bounded() {
        let v: Vec<i64> = (0..1000).collect();
        let pts = cdf_points(&v);
        assert!(pts.len() > 10);
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let last = pts.last().expect("points");
        assert!((last.1 - CDF_MAX_P).abs() < 1e-9);
        assert_eq!(last.0, 999.0);
        assert!(pts.iter().all(|(x, _)| *x >= 1.0));
        assert!(cdf_points(&[]).is_empty());
    }

    #[test]
    fn spans_by_end_points() {
        let t = RunTimeline {
            scheduled: 0,
            job_created: Some(100),
            pod_created: Some(300),
            bound: Some(350),
            started: Some(1000),
            finished: None,
        };
        for stage in Stage::ALL {
            let (from, to) = Point::ends(stage);
            let at = |p| t.timeline().at(p);
            assert!(at(from).is_some() || from == Point::Finished, "{from:?}");
            assert!(at(to).is_some() || to == Point::Finished, "{to:?}");
        }
        assert_eq!(t.span(Stage::ScheduleToJobCreated), Some(100));
        assert_eq!(t.span(Stage::BoundToStarted), Some(650));
        assert_eq!(t.span(Stage::ScheduleToStarted), Some(1000));
        assert_eq!(t.span(Stage::StartedToFinished), None);
    }

    #[test]
    fn runs_received_far_outside_the_run_are_left_out_of_the_timelines() {
        use crate::schema::{JobObs, RunStarted, SCHEMA_VERSION};
        let t0 = 1_767_225_600_000_i64;
        let job = |recv_ms: i64, minute: i64| {
            LogLine::Job(JobObs {
                recv_ms,
                name: format!("cb-00000-{minute}"),
                ..JobObs::default()
            })
        };
        let lines = vec![
            LogLine::RunStarted(RunStarted {
                schema_version: SCHEMA_VERSION,
                recv_ms: t0,
                run_id: "r".into(),
                namespace: "n".into(),
                scenario: serde_json::Value::Null,
                cronbench_version: "0".into(),
                context: "c".into(),
                server_version: "v".into(),
                nodes: 1,
                host: None,
            }),
            job(t0 + 60_500, t0 / 60_000 + 1),
            job(i64::MAX, t0 / 60_000 + 2),
        ];
        let ev = EventSeries::from_lines(lines, None);
        assert_eq!(ev.runs.len(), 1, "{:?}", ev.runs);
        assert_eq!(ev.runs[0].scheduled, t0 + 60_000);
    }
}
