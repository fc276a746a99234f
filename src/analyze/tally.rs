//! The counting: one [`Tally`] takes every [`RunEvent`] of the reconstruction, whether the run
//! ended during the log or was still held when it ended, so both count the same way.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::AnalyzeError;
use super::NameMap;
use super::balance::NodeTicks;
use super::runs::{PodState, Run, RunEvent};
use super::series::{Buckets, Pending, Ticks};
use crate::results::{
    Clock, DuplicateRun, LATENCY_MAX_MS, MISSED_LIST_MAX, RunKey, Stage, StageStats,
};

/// Significant digits of the latency histograms.
pub(super) const SIGFIG: u8 = 3;

/// What counting a run needs to know of the log so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ctx {
    /// The measured window as far as the log has told it: start, and end once known.
    pub window: Option<(i64, Option<i64>)>,
    pub last_recv_ms: i64,
    pub max_pending_ms: f64,
    pub within_ms: f64,
}

impl Ctx {
    pub fn in_window(&self, t: i64) -> bool {
        match self.window {
            None => false,
            Some((s, None)) => t >= s,
            Some((s, Some(e))) => s <= t && t < e,
        }
    }
}

/// Everything counted of the runs handed on.
pub(super) struct Tally {
    pub lat: BTreeMap<(Stage, Clock), Latencies>,
    /// Scheduled times of the observed runs in the window, per CronJob, to match the ticks.
    pub window_keys: NameMap<String, Ticks>,
    pub observed_total: u64,
    pub observed: u64,
    pub started: u64,
    pub started_within_slo: u64,
    pub completed: u64,
    pub failed: u64,
    pub duplicates: u64,
    /// Duplicates found while the log went on, and those listed when it ended: results list
    /// the latter first.
    duplicate_runs: Vec<DuplicateRun>,
    duplicate_runs_at_end: Vec<DuplicateRun>,
    log_ended: bool,
    pub pods: u64,
    pub stuck_pods: u64,
    pub all: Buckets,
    pub per_node: BTreeMap<String, Buckets>,
    /// Per tick of the window, where its runs' pods landed.
    pub node_ticks: NodeTicks,
    pub pending: Pending,
}

impl Tally {
    pub fn new() -> Result<Tally, AnalyzeError> {
        let mut lat = BTreeMap::new();
        for stage in Stage::ALL {
            for clock in Clock::ALL {
                lat.insert((stage, clock), Latencies::new(SIGFIG)?);
            }
        }
        Ok(Tally {
            lat,
            window_keys: NameMap::default(),
            observed_total: 0,
            observed: 0,
            started: 0,
            started_within_slo: 0,
            completed: 0,
            failed: 0,
            duplicates: 0,
            duplicate_runs: Vec::new(),
            duplicate_runs_at_end: Vec::new(),
            log_ended: false,
            pods: 0,
            stuck_pods: 0,
            all: Buckets::default(),
            per_node: BTreeMap::new(),
            node_ticks: NodeTicks::default(),
            pending: Pending::default(),
        })
    }

    /// From now on events come from the end of the log.
    pub fn log_ended(&mut self) {
        self.log_ended = true;
    }

    pub fn take(&mut self, event: &RunEvent<'_>, ctx: &Ctx) {
        match event {
            // Analysis measures each run from its first pod's start, on `Over`.
            RunEvent::Started { .. } => {}
            RunEvent::Over(run) => self.add_run(run, ctx),
            RunEvent::Duplicate {
                cronjob,
                scheduled_ms,
                extra,
                jobs,
            } => self.add_duplicate(cronjob, *scheduled_ms, *extra, jobs),
            RunEvent::PodOver(pod) => self.add_pod(pod, ctx),
        }
    }

    /// Duplicates, runs held at the end first, at most [`MISSED_LIST_MAX`] listed.
    pub fn duplicate_runs(&mut self) -> Vec<DuplicateRun> {
        let mut out = std::mem::take(&mut self.duplicate_runs_at_end);
        let room = MISSED_LIST_MAX.saturating_sub(out.len());
        out.extend(self.duplicate_runs.drain(..).take(room));
        out
    }

    fn add_pod(&mut self, p: &PodState, ctx: &Ctx) {
        self.pods += 1;
        if p.started_ms.is_none() {
            let end = p.unstarted_pending_until(ctx.last_recv_ms);
            if ((end - p.first_seen_ms) as f64) > ctx.max_pending_ms {
                self.stuck_pods += 1;
            }
        }
        self.pending.add(p.first_seen_ms, 1);
        if let Some(end) = p.pending_end_ms() {
            self.pending.add(end.max(p.first_seen_ms), -1);
        }
    }

    fn add_duplicate(&mut self, cronjob: &str, scheduled_ms: i64, extra: u64, jobs: &[String]) {
        self.duplicates += extra;
        let list = if self.log_ended {
            &mut self.duplicate_runs_at_end
        } else {
            &mut self.duplicate_runs
        };
        if list.len() < MISSED_LIST_MAX {
            list.push(DuplicateRun {
                run: run_key(cronjob, scheduled_ms),
                jobs: jobs.to_vec(),
            });
        }
    }

    fn add_run(&mut self, run: &Run<'_>, ctx: &Ctx) {
        self.observed_total += 1;
        let scheduled = run.scheduled_ms;
        if ctx.in_window(scheduled) {
            self.window_keys
                .entry(run.cronjob.to_string())
                .or_default()
                .insert(scheduled);
            self.observed += 1;
            self.record_stages(run);
            let pod = run.pod;
            self.node_ticks.add(
                scheduled,
                pod.and_then(|p| p.node.as_deref()),
                pod.is_some_and(|p| p.started_ms.is_some()),
            );
            if let Some(started) = run.started_ms() {
                self.started += 1;
                if ((started - scheduled) as f64) <= ctx.within_ms {
                    self.started_within_slo += 1;
                }
            }
            if run.completed() {
                self.completed += 1;
            }
            if run.job.failed {
                self.failed += 1;
            }
        }
        if let Some(t) = run.started_ms().filter(|&t| ctx.in_window(t)) {
            self.all.add(t);
            if let Some(node) = run.pod.and_then(|p| p.node.as_deref()) {
                self.per_node.entry(node.to_string()).or_default().add(t);
            }
        }
    }

    /// Records each stage of a run on both clocks.
    fn record_stages(&mut self, run: &Run<'_>) {
        let client = run.client();
        let server = run.server();
        for stage in Stage::ALL {
            for (clock, timeline) in [(Clock::Client, &client), (Clock::Server, &server)] {
                if let (Some(v), Some(l)) =
                    (timeline.span(stage), self.lat.get_mut(&(stage, clock)))
                {
                    l.record(v);
                }
            }
        }
    }

    /// Whether the run (`cronjob`, `t`) was observed in the window.
    pub fn observed_in_window(&self, cronjob: &str, t: i64) -> bool {
        self.window_keys.get(cronjob).is_some_and(|k| k.contains(t))
    }

    /// Per-stage statistics, every stage on every clock.
    pub fn stages(&self) -> Vec<StageStats> {
        Stage::ALL
            .iter()
            .flat_map(|&s| Clock::ALL.iter().map(move |&c| (s, c)))
            .filter_map(|k| self.lat.get(&k).map(|l| l.stats(k.0, k.1)))
            .collect()
    }
}

pub(super) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

pub(super) fn run_key(cronjob: &str, scheduled_ms: i64) -> RunKey {
    RunKey {
        cronjob: cronjob.to_string(),
        scheduled: rfc3339(scheduled_ms),
        scheduled_ms,
    }
}

/// Latencies of one stage on one clock.
pub(super) struct Latencies {
    hist: Histogram<u64>,
    outliers: u64,
    negatives: u64,
    min_negative: Option<i64>,
    max: Option<i64>,
    sum: i128,
}

impl Latencies {
    pub fn new(sigfig: u8) -> Result<Self, AnalyzeError> {
        let hist = Histogram::new_with_max(LATENCY_MAX_MS, sigfig)
            .map_err(|source| AnalyzeError::Histogram { source })?;
        Ok(Latencies {
            hist,
            outliers: 0,
            negatives: 0,
            min_negative: None,
            max: None,
            sum: 0,
        })
    }

    /// Negative values are counted, never clamped; values above the maximum are outliers
    /// recorded at the maximum, not lost.
    pub fn record(&mut self, v: i64) {
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        if v < 0 {
            self.negatives += 1;
            self.min_negative = Some(self.min_negative.map_or(v, |m| m.min(v)));
            return;
        }
        self.sum += i128::from(v);
        let u = v.unsigned_abs();
        if u > LATENCY_MAX_MS {
            self.outliers += 1;
            self.hist.saturating_record(LATENCY_MAX_MS);
        } else {
            self.hist.saturating_record(u);
        }
    }

    pub fn stats(&self, stage: Stage, clock: Clock) -> StageStats {
        let count = self.hist.len();
        // The highest value equivalent to the one at the quantile (within 3 significant
        // digits), never above the exact maximum.
        let cap = self.max.map_or(0, i64::unsigned_abs);
        let q = |q: f64| (count > 0).then(|| self.hist.value_at_quantile(q).min(cap));
        StageStats {
            stage,
            clock,
            precision: clock.precision().to_string(),
            count,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            p9999_ms: q(0.9999),
            max_ms: self.max,
            mean_ms: (count > 0).then(|| self.sum as f64 / count as f64),
            outliers: self.outliers,
            negatives: self.negatives,
            min_negative_ms: self.min_negative,
        }
    }
}
