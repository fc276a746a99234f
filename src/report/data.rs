//! The data behind the report's charts, apart from any drawing.
//!
//! [`ChartData::build`] takes the [`Results`] and, when available, the per-run timelines of a
//! streaming pass over the event log ([`EventSeries::from_file`]). Series that only the event
//! log has (latency over time, stage breakdown) are `None` without it, and the latency CDF then
//! falls back to the percentiles in the results.
//!
//! All times on x axes are minutes since [`ChartData::origin_ms`] (the measured window's start,
//! or the run's start without a window).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::results::{Clock, Results, Stage, Window};
use crate::schema::{JobObs, LogLine, PodObs};

use super::ReportError;

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
    /// One series per node: pods started per minute (x = minute start).
    pub node_starts: Vec<Series>,
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
    /// The time the run reached an end point of a stage, by the name stage labels use
    /// ("schedule", "job created", "pod created", "bound", "started", "finished").
    fn at(&self, point: &str) -> Option<i64> {
        match point {
            "schedule" => Some(self.scheduled),
            "job created" => self.job_created,
            "pod created" => self.pod_created,
            "bound" => self.bound,
            "started" => self.started,
            "finished" => self.finished,
            _ => None,
        }
    }

    /// The latency of `stage`, when both ends were seen. Stages are named by their end points
    /// (`Stage::label` is "from -> to"), so every stage between two known points works.
    pub fn span(&self, stage: Stage) -> Option<i64> {
        let (from, to) = stage.label().split_once(" -> ")?;
        Some(self.at(to)? - self.at(from)?)
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

#[derive(Debug, Default)]
struct JobSeen {
    cronjob: Option<String>,
    scheduled: Option<i64>,
    first_seen: i64,
    completed: Option<i64>,
}

#[derive(Debug, Default)]
struct PodSeen {
    job: Option<String>,
    first_seen: i64,
    bound: Option<i64>,
    started: Option<i64>,
    finished: Option<i64>,
}

fn min_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn parse_ms(s: Option<&str>) -> Option<i64> {
    s?.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// `(cronjob, scheduled_ms)` from a Job name `{cronjob}-{unix minutes}`.
fn from_job_name(name: &str) -> Option<(&str, i64)> {
    let (prefix, suffix) = name.rsplit_once('-')?;
    if prefix.is_empty() || suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, suffix.parse::<i64>().ok()?.checked_mul(60_000)?))
}

/// Folds log lines into per-Job and per-Pod state (memory per run, not per line).
#[derive(Debug, Default)]
struct Gather {
    jobs: HashMap<String, JobSeen>,
    pods: HashMap<String, PodSeen>,
}

impl Gather {
    fn push(&mut self, line: LogLine) {
        match line {
            LogLine::Job(job) => self.job(job),
            LogLine::Pod(pod) => self.pod(pod),
            _ => {}
        }
    }

    fn job(&mut self, obs: JobObs) {
        let scheduled = parse_ms(obs.scheduled.as_deref());
        let st = self.jobs.entry(obs.name).or_insert_with(|| JobSeen {
            first_seen: obs.recv_ms,
            ..JobSeen::default()
        });
        st.first_seen = st.first_seen.min(obs.recv_ms);
        if st.cronjob.is_none() {
            st.cronjob = obs.cronjob;
        }
        st.scheduled = st.scheduled.or(scheduled);
        if obs.completed.is_some() {
            st.completed = min_opt(st.completed, obs.recv_ms);
        }
    }

    fn pod(&mut self, obs: PodObs) {
        let (started, bound, finished) = (obs.started(), obs.bound(), obs.finished());
        let recv = obs.recv_ms;
        let st = self.pods.entry(obs.name).or_insert_with(|| PodSeen {
            first_seen: recv,
            ..PodSeen::default()
        });
        st.first_seen = st.first_seen.min(recv);
        if st.job.is_none() {
            st.job = obs.job;
        }
        if bound {
            st.bound = min_opt(st.bound, recv);
        }
        if started {
            st.started = min_opt(st.started, recv);
        }
        if finished {
            st.finished = min_opt(st.finished, recv);
        }
    }

    /// One timeline per (cronjob, scheduled time): its first Job seen and that Job's first Pod.
    fn finish(self, window: Option<&Window>) -> Vec<RunTimeline> {
        let mut first_pod: HashMap<&str, (&str, &PodSeen)> = HashMap::new();
        for (name, pod) in &self.pods {
            let Some(job) = pod.job.as_deref() else {
                continue;
            };
            let entry = first_pod.entry(job).or_insert((name.as_str(), pod));
            if (pod.first_seen, name.as_str()) < (entry.1.first_seen, entry.0) {
                *entry = (name.as_str(), pod);
            }
        }
        let mut runs: BTreeMap<(&str, i64), (i64, &str, RunTimeline)> = BTreeMap::new();
        for (name, job) in &self.jobs {
            let by_name = from_job_name(name);
            let Some(scheduled) = job.scheduled.or(by_name.map(|(_, s)| s)) else {
                continue;
            };
            let Some(cronjob) = job.cronjob.as_deref().or(by_name.map(|(c, _)| c)) else {
                continue;
            };
            if window.is_some_and(|w| scheduled < w.start_ms || scheduled >= w.end_ms) {
                continue;
            }
            let pod = first_pod.get(name.as_str()).map(|(_, p)| *p);
            let finished = match (job.completed, pod.and_then(|p| p.finished)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeline = RunTimeline {
                scheduled,
                job_created: Some(job.first_seen),
                pod_created: pod.map(|p| p.first_seen),
                bound: pod.and_then(|p| p.bound),
                started: pod.and_then(|p| p.started),
                finished,
            };
            let candidate = (job.first_seen, name.as_str(), timeline);
            runs.entry((cronjob, scheduled))
                .and_modify(|e| {
                    if (candidate.0, candidate.1) < (e.0, e.1) {
                        *e = candidate;
                    }
                })
                .or_insert(candidate);
        }
        let mut out: Vec<RunTimeline> = runs.into_values().map(|(_, _, t)| t).collect();
        out.sort_by_key(|t| t.scheduled);
        out
    }
}

impl EventSeries {
    /// Reads the event log at `path` line by line, keeping runs scheduled in `window` (all
    /// runs when `None`). Lines that do not parse (e.g. a cut-off last line) are skipped and
    /// counted.
    pub fn from_file(path: &Path, window: Option<&Window>) -> Result<EventSeries, ReportError> {
        let file = File::open(path).map_err(|source| ReportError::Events {
            path: path.to_owned(),
            source,
        })?;
        let mut reader = BufReader::new(file);
        let mut gather = Gather::default();
        let mut skipped_lines = 0;
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = reader
                .read_line(&mut buf)
                .map_err(|source| ReportError::Events {
                    path: path.to_owned(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            let text = buf.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<LogLine>(text) {
                Ok(line) => gather.push(line),
                Err(_) => skipped_lines += 1,
            }
        }
        Ok(EventSeries {
            runs: gather.finish(window),
            skipped_lines,
        })
    }

    /// Timelines from already parsed lines.
    pub fn from_lines(
        lines: impl IntoIterator<Item = LogLine>,
        window: Option<&Window>,
    ) -> EventSeries {
        let mut gather = Gather::default();
        for line in lines {
            gather.push(line);
        }
        EventSeries {
            runs: gather.finish(window),
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
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
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

        let node_starts = results
            .nodes
            .iter()
            .map(|n| Series {
                name: n.node.clone(),
                points: n
                    .started_per_minute
                    .iter()
                    .map(|c| (m(c.minute_ms), c.started as f64))
                    .collect(),
            })
            .collect();

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
            node_starts,
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

    #[test]
    fn quantile_nearest_rank() {
        let v = [10, 20, 30, 40];
        assert_eq!(quantile(&v, 0.0), Some(10));
        assert_eq!(quantile(&v, 0.5), Some(20));
        assert_eq!(quantile(&v, 0.51), Some(30));
        assert_eq!(quantile(&v, 1.0), Some(40));
        assert_eq!(quantile(&[], 0.5), None);
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
            let (from, to) = stage.label().split_once(" -> ").expect("from -> to");
            assert!(t.at(from).is_some() || from == "finished", "{from}");
            assert!(t.at(to).is_some() || to == "finished", "{to}");
        }
        assert_eq!(t.span(Stage::ScheduleToJobCreated), Some(100));
        assert_eq!(t.span(Stage::BoundToStarted), Some(650));
        assert_eq!(t.span(Stage::ScheduleToStarted), Some(1000));
        assert_eq!(t.span(Stage::StartedToFinished), None);
    }

    #[test]
    fn job_name_suffix() {
        assert_eq!(
            from_job_name("cb-00001-29453760"),
            Some(("cb-00001", 29_453_760 * 60_000))
        );
        assert_eq!(from_job_name("nosuffix-abc"), None);
        assert_eq!(from_job_name("-12"), None);
    }
}
