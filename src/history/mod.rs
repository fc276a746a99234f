//! `cronbench history`: the headline figures of many runs in time order, each a trend with its
//! change points ([`crate::changepoint`]) and a baseline band, as plain data for the views in
//! [`crate::report::history`]; and the `compare --history` rule, which fails only on a shift
//! that the last K runs confirm.

use std::path::{Path, PathBuf};

use crate::changepoint::{self, ChangePoint, Options, Worse};
use crate::compare::{Direction, Metric};
use crate::limit::report::LimitReport;
use crate::report::{self, ReportError};
use crate::results::Results;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "no run directory in {}: a run directory holds results.json or events.jsonl; pass run \
         directories or folders of them",
        list(.0)
    )]
    NoRuns(Vec<PathBuf>),
    #[error("cannot list {}: {source}", .dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Results(#[from] ReportError),
}

fn list(dirs: &[PathBuf]) -> String {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    names.join(", ")
}

/// One run of the history, and what identifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    pub dir: PathBuf,
    pub run_id: String,
    pub started_ms: i64,
    pub scenario: String,
    pub cronbench_version: String,
    pub server_version: String,
    pub context: String,
    pub nodes: u32,
    /// The run's own verdict (its SLO checks).
    pub pass: bool,
    /// Build, machine and local cluster knobs, for runs that recorded them.
    pub host: Option<crate::host::RunHost>,
}

/// The range the recent runs held: the runs since the last change point before the newest run
/// (the newest left out, so it can be seen against the band).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// First and one-past-last run index the band is made of.
    pub from: usize,
    pub to: usize,
    pub low: f64,
    pub median: f64,
    pub high: f64,
}

/// One figure over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub metric: Metric,
    /// Per run, in run order; None where the run did not measure it.
    pub values: Vec<Option<f64>>,
    /// Indices are run indices.
    pub change_points: Vec<ChangePoint>,
    pub band: Option<Band>,
}

/// Runs in start order and the trend of every headline figure.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub runs: Vec<RunPoint>,
    pub trends: Vec<Trend>,
}

/// What one directory of the history holds: a run's results, or a find-limit search's
/// `limit.json` (whose only figure is the limit).
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Run(Box<Results>),
    Limit(Box<LimitReport>),
}

impl Record {
    /// Reads `dir`: its `limit.json` when it has one, else its results.
    pub fn load(dir: &Path) -> Result<Record, HistoryError> {
        if dir.join(report::LIMIT_FILE).is_file() {
            return Ok(Record::Limit(Box::new(report::load_limit(dir)?)));
        }
        Ok(Record::Run(Box::new(report::load_results(dir)?)))
    }

    fn started_ms(&self) -> i64 {
        match self {
            Record::Run(r) => r.run.started_ms,
            Record::Limit(l) => l.started_ms,
        }
    }

    /// `metric`'s value in this record, when it measured it.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        match self {
            Record::Run(r) => metric.value(r),
            Record::Limit(l) => match metric {
                Metric::LimitJobsPerMinute => l.limit_jobs_per_minute.filter(|v| v.is_finite()),
                _ => None,
            },
        }
    }
}

impl From<Results> for Record {
    fn from(r: Results) -> Record {
        Record::Run(Box::new(r))
    }
}

/// The run directories named by `args`: each a run directory, or a folder whose
/// subdirectories are (one level down), each once. Sorted by path; [`load`] orders them by
/// start.
pub fn run_dirs(args: &[PathBuf]) -> Result<Vec<PathBuf>, HistoryError> {
    let mut dirs = Vec::new();
    for arg in args {
        if is_run_dir(arg) {
            dirs.push(arg.clone());
            continue;
        }
        let entries = std::fs::read_dir(arg).map_err(|source| HistoryError::List {
            dir: arg.clone(),
            source,
        })?;
        let mut inner: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_run_dir(p))
            .collect();
        inner.sort();
        dirs.extend(inner);
    }
    // A run named twice (itself and inside a folder also given) is one point.
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())));
    if dirs.is_empty() {
        return Err(HistoryError::NoRuns(args.to_vec()));
    }
    Ok(dirs)
}

fn is_run_dir(p: &Path) -> bool {
    [
        report::RESULTS_FILE,
        report::EVENTS_FILE,
        report::LIMIT_FILE,
    ]
    .iter()
    .any(|f| p.join(f).is_file())
}

/// Loads every run's results and builds the trends.
pub fn load(dirs: &[PathBuf], opts: &Options) -> Result<History, HistoryError> {
    let mut runs = Vec::with_capacity(dirs.len());
    for dir in dirs {
        runs.push((dir.clone(), Record::load(dir)?));
    }
    runs.sort_by_key(|(_, r)| r.started_ms());
    Ok(build(&runs, opts))
}

/// The history of already loaded runs, which must be in start order. A figure no run
/// measured (the limit in a history of runs, the harness cost in runs of earlier versions)
/// has no trend.
pub fn build(runs: &[(PathBuf, Record)], opts: &Options) -> History {
    let trends = Metric::history()
        .into_iter()
        .filter(|metric| runs.iter().any(|(_, r)| r.value(*metric).is_some()))
        .map(|metric| trend(metric, runs.iter().map(|(_, r)| r.value(metric)), opts))
        .collect();
    History {
        runs: runs.iter().map(|(dir, r)| point(dir, r)).collect(),
        trends,
    }
}

fn point(dir: &Path, record: &Record) -> RunPoint {
    let r = match record {
        Record::Run(r) => r,
        Record::Limit(l) => return limit_point(dir, l),
    };
    RunPoint {
        dir: dir.to_path_buf(),
        run_id: r.run.run_id.clone(),
        started_ms: r.run.started_ms,
        scenario: r.run.scenario_name.clone(),
        cronbench_version: r.run.cronbench_version.clone(),
        server_version: r.run.server_version.clone(),
        context: r.run.context.clone(),
        nodes: r.run.nodes,
        pass: r.verdict.pass,
        host: r.run.host.clone(),
    }
}

fn limit_point(dir: &Path, l: &LimitReport) -> RunPoint {
    RunPoint {
        dir: dir.to_path_buf(),
        run_id: l.search_id.clone(),
        started_ms: l.started_ms,
        scenario: l.scenario_name.clone(),
        cronbench_version: String::new(),
        server_version: l.server_version.clone(),
        context: l.context.clone(),
        nodes: l.nodes,
        pass: l.pass == Some(true),
        host: None,
    }
}

fn trend(metric: Metric, values: impl Iterator<Item = Option<f64>>, opts: &Options) -> Trend {
    let mut t = Trend {
        metric,
        values: values.collect(),
        change_points: Vec::new(),
        band: None,
    };
    let series = t.series();
    t.change_points = changepoint::detect(&series, opts);
    t.band = band(&series, &t.change_points);
    t
}

impl Trend {
    /// The values with NaN where a run did not measure the figure (the change-point search
    /// leaves those out and keeps run indices).
    fn series(&self) -> Vec<f64> {
        self.values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
    }
}

fn band(series: &[f64], cps: &[ChangePoint]) -> Option<Band> {
    let newest = series.len().checked_sub(1)?;
    let from = cps
        .iter()
        .map(|c| c.index)
        .filter(|i| *i < newest)
        .max()
        .unwrap_or(0);
    let held: Vec<f64> = series[from..newest]
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let low = held.iter().copied().reduce(f64::min)?;
    let high = held.iter().copied().reduce(f64::max)?;
    Some(Band {
        from,
        to: newest,
        low,
        median: changepoint::median(&held),
        high,
    })
}

impl History {
    /// The run id of run `index`, or "" past the end.
    pub fn run_id(&self, index: usize) -> &str {
        self.runs.get(index).map_or("", |r| r.run_id.as_str())
    }
}

/// Which way is worse for a metric, in the change-point module's terms.
pub fn worse(metric: Metric) -> Worse {
    match metric.direction() {
        Direction::HigherIsBetter => Worse::Lower,
        Direction::LowerIsBetter => Worse::Higher,
    }
}

/// A shift the last `k` runs confirm, for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmedShift {
    pub metric: Metric,
    pub shift: ChangePoint,
}

/// The `compare --history` rule: for each metric, whether the newest `k` runs of `history`
/// (the current run last) shifted the worse way together, by more than the metric's
/// resolution ([`Metric::resolution`]: 0.25 s for latencies). One bad night never counts.
pub fn confirmed_shifts(history: &History, k: usize, opts: &Options) -> Vec<ConfirmedShift> {
    history
        .trends
        .iter()
        .filter(|t| t.metric.gates())
        .filter_map(|t| {
            changepoint::recent_shift(&t.series(), k, worse(t.metric), opts)
                // Below the metric's resolution a shift is scheduling noise (see compare).
                .filter(|shift| (shift.after - shift.before).abs() >= t.metric.resolution())
                .map(|shift| ConfirmedShift {
                    metric: t.metric,
                    shift,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
