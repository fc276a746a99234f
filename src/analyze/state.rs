//! Per-run state gathered from the log, and the computation of [`Results`] from it.

use std::collections::{BTreeMap, HashMap, HashSet};

use hdrhistogram::Histogram;
use indexmap::IndexMap;

use super::AnalyzeError;
use super::tally::{Buckets, Ticks};
use crate::results::{
    Anomalies, Check, CheckResult, Clock, Counts, DuplicateRun, LATENCY_MAX_MS, MISSED_LIST_MAX,
    MinuteCount, NegativeCount, NodeStats, PENDING_STEP_MS, PendingPoint, Results, RunInfo, RunKey,
    Stage, StageStats, Throughput, Verdict, Window, WindowEnd,
};
use crate::scenario::{Scenario, ScenarioError, Slo, parse_schedule};
use crate::schema::{EndReason, JobObs, LogLine, Phase, PodObs, RunStarted, SCHEMA_VERSION};

/// Significant digits of the latency histograms.
const SIGFIG: u8 = 3;

/// What is known about one Job.
#[derive(Debug, Default)]
struct JobState {
    cronjob: Option<String>,
    /// From the scheduled annotation.
    annotation_ms: Option<i64>,
    first_seen_ms: i64,
    /// Server `creationTimestamp`.
    created_ms: Option<i64>,
    /// Client time `completionTime` was first seen, and its value.
    completed_client_ms: Option<i64>,
    completed_server_ms: Option<i64>,
    succeeded: bool,
    failed: bool,
    /// The Job was seen deleted (the history limit or the run's teardown).
    deleted: bool,
}

/// What is known about one Pod.
#[derive(Debug, Default)]
struct PodState {
    job: Option<String>,
    first_seen_ms: i64,
    node: Option<String>,
    /// Client times a stage was first seen reached.
    bound_ms: Option<i64>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    deleted_ms: Option<i64>,
    succeeded: bool,
    /// Server times.
    created_s: Option<i64>,
    scheduled_at_s: Option<i64>,
    started_at_s: Option<i64>,
    finished_at_s: Option<i64>,
}

#[derive(Debug)]
struct CronJobState {
    schedule: String,
    created_ms: i64,
}

/// Folds log lines into per-run state.
pub(super) struct Analyzer {
    run: RunStarted,
    scenario: Scenario,
    lines: u64,
    last_recv_ms: i64,
    measure_ms: Option<i64>,
    drain_ms: Option<i64>,
    /// A window set by the caller, used instead of the measure and drain phases.
    window_override: Option<(i64, i64)>,
    end_reason: Option<EndReason>,
    cronjobs: BTreeMap<String, CronJobState>,
    /// Jobs and Pods of runs in flight. IndexMap, not HashMap: runs come and go for the whole
    /// log, and a HashMap's removals leave tombstones that made it double its table in long
    /// logs (1,000 runs in flight held 7,168 slots of ~190 bytes); IndexMap's table holds
    /// only indices, the entries stay packed.
    jobs: IndexMap<String, JobState>,
    pods: IndexMap<String, PodState>,
    node_ready: BTreeMap<String, bool>,
    anomalies: Anomalies,
    faults: Vec<super::faults::RawFault>,
    /// Pods of each Job, to tell when a run is over (its Job and all its pods deleted).
    pods_of_job: IndexMap<String, Vec<String>>,
    /// Runs already over, folded in: memory follows the runs in flight, not the log's length.
    /// Off for logs with faults, whose windows need every run.
    fold: Option<Fold>,
}

fn line_kind(line: &LogLine) -> &'static str {
    match line {
        LogLine::RunStarted(_) => "run_started",
        LogLine::Phase { .. } => "phase",
        LogLine::CronJobCreated { .. } => "cron_job_created",
        LogLine::Job(_) => "job",
        LogLine::Pod(_) => "pod",
        LogLine::Node(_) => "node",
        LogLine::Event(_) => "event",
        LogLine::WatchError { .. } => "watch_error",
        LogLine::Step { .. } => "step",
        LogLine::Fault { .. } => "fault",
        LogLine::RunEnded { .. } => "run_ended",
    }
}

/// Parses an RFC 3339 time to Unix milliseconds, counting failures.
fn parse_ms(s: &Option<String>, bad: &mut u64) -> Option<i64> {
    let s = s.as_deref()?;
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t.as_millisecond()),
        Err(_) => {
            *bad += 1;
            None
        }
    }
}

fn min_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

/// `(cronjob, scheduled_ms)` from a Job name `{cronjob}-{unix minutes}`.
pub(crate) fn split_job_name(name: &str) -> Option<(&str, i64)> {
    let (prefix, suffix) = name.rsplit_once('-')?;
    if prefix.is_empty() || suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes: i64 = suffix.parse().ok()?;
    Some((prefix, minutes.checked_mul(60_000)?))
}

impl Analyzer {
    pub(super) fn new(first: LogLine) -> Result<Self, AnalyzeError> {
        let run = match first {
            LogLine::RunStarted(run) => run,
            other => {
                return Err(AnalyzeError::NotRunStarted {
                    found: line_kind(&other),
                });
            }
        };
        if run.schema_version != SCHEMA_VERSION {
            return Err(AnalyzeError::SchemaVersion {
                found: run.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        let scenario: Scenario = serde_json::from_value(run.scenario.clone())
            .map_err(|source| AnalyzeError::Scenario { source })?;
        let scenario_has_faults = !scenario.faults.is_empty();
        Ok(Analyzer {
            last_recv_ms: run.recv_ms,
            run,
            scenario,
            lines: 1,
            measure_ms: None,
            drain_ms: None,
            window_override: None,
            end_reason: None,
            cronjobs: BTreeMap::new(),
            jobs: IndexMap::new(),
            pods: IndexMap::new(),
            node_ready: BTreeMap::new(),
            anomalies: Anomalies::default(),
            faults: Vec::new(),
            pods_of_job: IndexMap::new(),
            fold: if scenario_has_faults {
                None
            } else {
                Some(Fold::new()?)
            },
        })
    }

    /// Analyzes runs scheduled in `[start_ms, end_ms)` whatever the log's phases say.
    pub(super) fn set_window(&mut self, start_ms: i64, end_ms: i64) {
        self.window_override = Some((start_ms, end_ms));
        if let Some(f) = self.fold.as_mut() {
            f.pending_from(start_ms);
        }
    }

    /// Keeps every run until the end, as logs with faults do (tests compare both ways).
    #[cfg(test)]
    pub(super) fn keep_every_run(&mut self) {
        self.fold = None;
    }

    /// Jobs still held (not folded).
    #[cfg(test)]
    pub(super) fn jobs_held(&self) -> usize {
        self.jobs.len()
    }

    pub(super) fn set_truncated_last_line(&mut self, truncated: bool) {
        self.anomalies.truncated_last_line = truncated;
    }

    pub(super) fn push(&mut self, line: LogLine) {
        self.lines += 1;
        let recv = line.recv_ms();
        if recv < self.last_recv_ms {
            self.anomalies.out_of_order_lines += 1;
        }
        self.last_recv_ms = self.last_recv_ms.max(recv);
        match line {
            LogLine::RunStarted(_) => self.anomalies.notes.push(format!(
                "line {}: a second run_started line, ignored",
                self.lines
            )),
            LogLine::Phase { recv_ms, phase } => match phase {
                Phase::Measure => {
                    let m = *self.measure_ms.get_or_insert(recv_ms);
                    if self.window_override.is_none()
                        && let Some(f) = self.fold.as_mut()
                    {
                        f.pending_from(m);
                    }
                }
                Phase::Drain => {
                    self.drain_ms.get_or_insert(recv_ms);
                }
                Phase::Apply | Phase::Warmup | Phase::Teardown => {}
            },
            LogLine::CronJobCreated {
                recv_ms,
                name,
                schedule,
            } => {
                self.cronjobs.entry(name).or_insert(CronJobState {
                    schedule,
                    created_ms: recv_ms,
                });
            }
            LogLine::Job(job) => self.push_job(job),
            LogLine::Pod(pod) => self.push_pod(pod),
            LogLine::Node(node) => {
                if node.deleted {
                    self.node_ready.insert(node.name, false);
                } else {
                    self.node_ready.insert(node.name, node.ready);
                }
            }
            LogLine::Event(event) => {
                *self
                    .anomalies
                    .event_reasons
                    .entry(event.reason)
                    .or_insert(0) += 1;
            }
            LogLine::WatchError { .. } => self.anomalies.watch_errors += 1,
            // find-limit's steps: windows are set by the caller.
            LogLine::Step { .. } => {}
            LogLine::Fault {
                recv_ms,
                kind,
                phase,
                detail,
            } => super::faults::push_fault(&mut self.faults, kind, phase, recv_ms, detail),
            LogLine::RunEnded { reason, .. } => self.end_reason = Some(reason),
        }
    }

    fn push_job(&mut self, obs: JobObs) {
        let bad = &mut self.anomalies.bad_timestamps;
        let annotation = parse_ms(&obs.scheduled, bad);
        let created = parse_ms(&obs.created, bad);
        let completed = parse_ms(&obs.completed, bad);
        let name = obs.name.clone();
        let st = self.jobs.entry(obs.name).or_insert_with(|| JobState {
            first_seen_ms: obs.recv_ms,
            ..JobState::default()
        });
        st.first_seen_ms = st.first_seen_ms.min(obs.recv_ms);
        if st.cronjob.is_none() {
            st.cronjob = obs.cronjob;
        }
        st.annotation_ms = st.annotation_ms.or(annotation);
        st.created_ms = st.created_ms.or(created);
        if let Some(c) = completed {
            st.completed_server_ms.get_or_insert(c);
            st.completed_client_ms = min_opt(st.completed_client_ms, obs.recv_ms);
        }
        st.succeeded |= obs.succeeded >= 1;
        st.failed |= obs.job_failed;
        st.deleted |= obs.deleted;
        if obs.deleted {
            self.retire_if_over(&name);
        }
    }

    fn push_pod(&mut self, obs: PodObs) {
        let bad = &mut self.anomalies.bad_timestamps;
        let created = parse_ms(&obs.created, bad);
        let scheduled_at = parse_ms(&obs.scheduled_at, bad);
        let started_at = parse_ms(&obs.started_at, bad);
        let finished_at = parse_ms(&obs.finished_at, bad);
        let (started, bound) = (obs.started(), obs.bound());
        let (finished, succeeded) = (obs.finished(), obs.succeeded());
        if self.fold.is_some()
            && !self.pods.contains_key(&obs.name)
            && let Some(job) = &obs.job
        {
            self.pods_of_job
                .entry(job.clone())
                .or_default()
                .push(obs.name.clone());
        }
        let pod_name = obs.deleted.then(|| obs.name.clone());
        let st = self.pods.entry(obs.name).or_insert_with(|| PodState {
            first_seen_ms: obs.recv_ms,
            ..PodState::default()
        });
        let recv = obs.recv_ms;
        st.first_seen_ms = st.first_seen_ms.min(recv);
        if st.job.is_none() {
            st.job = obs.job;
        }
        if obs.node.is_some() {
            st.node = obs.node;
        }
        if bound {
            st.bound_ms = min_opt(st.bound_ms, recv);
        }
        if started {
            st.started_ms = min_opt(st.started_ms, recv);
        }
        if finished {
            st.finished_ms = min_opt(st.finished_ms, recv);
        }
        if obs.deleted {
            st.deleted_ms = min_opt(st.deleted_ms, recv);
        }
        st.succeeded |= succeeded;
        st.created_s = st.created_s.or(created);
        st.scheduled_at_s = st.scheduled_at_s.or(scheduled_at);
        st.started_at_s = st.started_at_s.or(started_at);
        st.finished_at_s = st.finished_at_s.or(finished_at);
        if let (Some(_), Some(job)) = (pod_name, st.job.clone()) {
            self.retire_if_over(&job);
        }
    }
}

impl Analyzer {
    /// The window as far as the log has told it: start, and end once the drain began.
    fn window_now(&self) -> Option<(i64, Option<i64>)> {
        if let Some((s, e)) = self.window_override {
            return Some((s, Some(e)));
        }
        let start = self.measure_ms?;
        Some((start, self.drain_ms.filter(|&d| d >= start)))
    }

    /// Folds the run of `job` in and forgets its Job and Pods once it is over: the Job and
    /// every Pod of it deleted. A run folded before the log ends counts as `finish` would
    /// count it: lines come in receive order, so its times lie before a drain not yet seen.
    fn retire_if_over(&mut self, job: &str) {
        if self.fold.is_none() || !self.jobs.get(job).is_some_and(|j| j.deleted) {
            return;
        }
        let over = self.pods_of_job.get(job).is_some_and(|names| {
            !names.is_empty()
                && names
                    .iter()
                    .all(|n| self.pods.get(n).is_some_and(|p| p.deleted_ms.is_some()))
        });
        if !over {
            return;
        }
        let names = self.pods_of_job.swap_remove(job).unwrap_or_default();
        let Some(job_state) = self.jobs.swap_remove(job) else {
            return;
        };
        let pods: Vec<(String, PodState)> = names
            .into_iter()
            .filter_map(|n| self.pods.swap_remove(&n).map(|p| (n, p)))
            .collect();
        let window = self.window_now();
        let ctx = FoldCtx {
            in_window: move |t: i64| match window {
                None => false,
                Some((s, None)) => t >= s,
                Some((s, Some(e))) => s <= t && t < e,
            },
            last_recv_ms: self.last_recv_ms,
            max_pending_ms: self.scenario.slo.max_pending_s * 1000.0,
            within_ms: self.scenario.slo.start_within_s * 1000.0,
        };
        if let Some(fold) = self.fold.as_mut() {
            fold.add_run(&ctx, &mut self.anomalies, job, &job_state, &pods);
        }
    }
}

struct FoldCtx<F: Fn(i64) -> bool> {
    in_window: F,
    last_recv_ms: i64,
    max_pending_ms: f64,
    within_ms: f64,
}

/// Runs that are over, folded into what [`Analyzer::finish`] reports. What stays per run is
/// its scheduled time (8 bytes), to find duplicates and missed ticks.
struct Fold {
    lat: BTreeMap<(Stage, Clock), Latencies>,
    /// Scheduled times of every folded run, per CronJob.
    keys: HashMap<String, Ticks>,
    /// Of those, the runs scheduled in the window.
    window_keys: HashMap<String, Ticks>,
    observed_total: u64,
    observed: u64,
    started: u64,
    started_within_slo: u64,
    completed: u64,
    failed: u64,
    duplicates: u64,
    duplicate_runs: Vec<DuplicateRun>,
    pods: u64,
    stuck_pods: u64,
    all: Buckets,
    per_node: BTreeMap<String, Buckets>,
    /// Pending-pod deltas (+1 first seen, -1 started, finished or deleted): exact until the
    /// series' origin (the window start) is known, then summed per step from it.
    pending_exact: Vec<(i64, i64)>,
    pending_origin: Option<i64>,
    pending_steps: BTreeMap<i64, i64>,
}

impl Fold {
    fn new() -> Result<Fold, AnalyzeError> {
        let mut lat = BTreeMap::new();
        for stage in Stage::ALL {
            for clock in Clock::ALL {
                lat.insert((stage, clock), Latencies::new()?);
            }
        }
        Ok(Fold {
            lat,
            keys: HashMap::new(),
            window_keys: HashMap::new(),
            observed_total: 0,
            observed: 0,
            started: 0,
            started_within_slo: 0,
            completed: 0,
            failed: 0,
            duplicates: 0,
            duplicate_runs: Vec::new(),
            pods: 0,
            stuck_pods: 0,
            all: Buckets::default(),
            per_node: BTreeMap::new(),
            pending_exact: Vec::new(),
            pending_origin: None,
            pending_steps: BTreeMap::new(),
        })
    }

    /// The pending series starts at `origin`: from now on deltas are kept per step.
    fn pending_from(&mut self, origin: i64) {
        if self.pending_origin.is_some() {
            return;
        }
        self.pending_origin = Some(origin);
        for (at, d) in std::mem::take(&mut self.pending_exact) {
            *self.pending_steps.entry(step_of(origin, at)).or_insert(0) += d;
        }
    }

    fn add_pending(&mut self, at: i64, d: i64) {
        match self.pending_origin {
            Some(origin) => *self.pending_steps.entry(step_of(origin, at)).or_insert(0) += d,
            None => self.pending_exact.push((at, d)),
        }
    }

    fn has_key(&self, cronjob: &str, scheduled: i64) -> bool {
        self.keys
            .get(cronjob)
            .is_some_and(|k| k.contains(scheduled))
    }

    fn add_run<F: Fn(i64) -> bool>(
        &mut self,
        ctx: &FoldCtx<F>,
        anomalies: &mut Anomalies,
        name: &str,
        job: &JobState,
        pods: &[(String, PodState)],
    ) {
        self.pods += pods.len() as u64;
        for (_, p) in pods {
            if p.started_ms.is_none() {
                let end = [p.finished_ms, p.deleted_ms]
                    .into_iter()
                    .flatten()
                    .fold(ctx.last_recv_ms, i64::min);
                if ((end - p.first_seen_ms) as f64) > ctx.max_pending_ms {
                    self.stuck_pods += 1;
                }
            }
            self.add_pending(p.first_seen_ms, 1);
            if let Some(end) = [p.started_ms, p.finished_ms, p.deleted_ms]
                .into_iter()
                .flatten()
                .min()
            {
                self.add_pending(end.max(p.first_seen_ms), -1);
            }
        }
        let Some((cronjob, scheduled)) = run_key_of(name, job, anomalies) else {
            return;
        };
        if !self
            .keys
            .entry(cronjob.to_string())
            .or_default()
            .insert(scheduled)
        {
            self.duplicates += 1;
            if self.duplicate_runs.len() < MISSED_LIST_MAX {
                self.duplicate_runs.push(DuplicateRun {
                    run: run_key(cronjob, scheduled),
                    jobs: vec![name.to_string()],
                });
            }
            return;
        }
        self.observed_total += 1;
        let pod = pods
            .iter()
            .min_by(|a, b| (a.1.first_seen_ms, &a.0).cmp(&(b.1.first_seen_ms, &b.0)))
            .map(|(_, p)| p);
        let run = Run {
            key: (cronjob, scheduled),
            job,
            pod,
        };
        if (ctx.in_window)(scheduled) {
            self.window_keys
                .entry(cronjob.to_string())
                .or_default()
                .insert(scheduled);
            self.observed += 1;
            record_run(&mut self.lat, &run);
            if let Some(started) = run.started_ms() {
                self.started += 1;
                if ((started - scheduled) as f64) <= ctx.within_ms {
                    self.started_within_slo += 1;
                }
            }
            if run.completed() {
                self.completed += 1;
            }
            if job.failed {
                self.failed += 1;
            }
        }
        if let Some(t) = run.started_ms().filter(|&t| (ctx.in_window)(t)) {
            self.all.add(t);
            if let Some(node) = pod.and_then(|p| p.node.as_deref()) {
                self.per_node.entry(node.to_string()).or_default().add(t);
            }
        }
    }
}

/// Step of the pending series that first includes a delta at `at`.
fn step_of(origin: i64, at: i64) -> i64 {
    if at <= origin {
        0
    } else {
        (at - origin + PENDING_STEP_MS - 1) / PENDING_STEP_MS
    }
}

/// A Job's run: its CronJob and scheduled time, from the annotation or the name. Counts the
/// Jobs without one, and the annotations that disagree with the name, in `anomalies`.
fn run_key_of<'a>(
    name: &'a str,
    job: &'a JobState,
    anomalies: &mut Anomalies,
) -> Option<(&'a str, i64)> {
    let from_name = split_job_name(name);
    let scheduled = match (job.annotation_ms, from_name) {
        (Some(ann), Some((_, by_name))) => {
            if ann != by_name {
                anomalies.schedule_name_mismatch += 1;
            }
            ann
        }
        (Some(ann), None) => ann,
        (None, Some((_, by_name))) => by_name,
        (None, None) => {
            anomalies.jobs_without_schedule += 1;
            return None;
        }
    };
    let cronjob = match (job.cronjob.as_deref(), from_name) {
        (Some(c), _) => c,
        (None, Some((c, _))) => c,
        (None, None) => {
            anomalies.jobs_without_schedule += 1;
            return None;
        }
    };
    Some((cronjob, scheduled))
}

/// Records each stage of a run on both clocks.
fn record_run(lat: &mut BTreeMap<(Stage, Clock), Latencies>, run: &Run) {
    let client = run.client();
    let server = run.server();
    for stage in Stage::ALL {
        for (clock, timeline) in [(Clock::Client, &client), (Clock::Server, &server)] {
            if let (Some(v), Some(l)) = (timeline.span(stage), lat.get_mut(&(stage, clock))) {
                l.record(v);
            }
        }
    }
}

/// Latencies of one stage on one clock.
struct Latencies {
    hist: Histogram<u64>,
    outliers: u64,
    negatives: u64,
    min_negative: Option<i64>,
    max: Option<i64>,
    sum: i128,
}

impl Latencies {
    fn new() -> Result<Self, AnalyzeError> {
        let hist = Histogram::new_with_max(LATENCY_MAX_MS, SIGFIG)
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

    fn record(&mut self, v: i64) {
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

    fn stats(&self, stage: Stage, clock: Clock) -> StageStats {
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

/// One run's timeline on one clock; `None` where a stage was not seen.
#[derive(Debug, Default, Clone, Copy)]
struct Timeline {
    scheduled: Option<i64>,
    job_created: Option<i64>,
    pod_created: Option<i64>,
    bound: Option<i64>,
    started: Option<i64>,
    finished: Option<i64>,
}

impl Timeline {
    fn span(&self, stage: Stage) -> Option<i64> {
        let (from, to) = match stage {
            Stage::ScheduleToJobCreated => (self.scheduled, self.job_created),
            Stage::JobCreatedToPodCreated => (self.job_created, self.pod_created),
            Stage::PodCreatedToBound => (self.pod_created, self.bound),
            Stage::BoundToStarted => (self.bound, self.started),
            Stage::StartedToFinished => (self.started, self.finished),
            Stage::PodCreatedToStarted => (self.pod_created, self.started),
            Stage::ScheduleToStarted => (self.scheduled, self.started),
            Stage::ScheduleToFinished => (self.scheduled, self.finished),
        };
        Some(to? - from?)
    }
}

/// One scheduled run: the first Job seen for a (cronjob, scheduled time).
struct Run<'a> {
    key: (&'a str, i64),
    job: &'a JobState,
    pod: Option<&'a PodState>,
}

impl Run<'_> {
    fn client(&self) -> Timeline {
        let job_finished = self.job.completed_client_ms;
        let pod_finished = self.pod.and_then(|p| p.finished_ms);
        let finished = match (job_finished, pod_finished) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Timeline {
            scheduled: Some(self.key.1),
            job_created: Some(self.job.first_seen_ms),
            pod_created: self.pod.map(|p| p.first_seen_ms),
            bound: self.pod.and_then(|p| p.bound_ms),
            started: self.started_ms(),
            finished,
        }
    }

    fn server(&self) -> Timeline {
        Timeline {
            scheduled: Some(self.key.1),
            job_created: self.job.created_ms,
            pod_created: self.pod.and_then(|p| p.created_s),
            bound: self.pod.and_then(|p| p.scheduled_at_s),
            started: self.pod.and_then(|p| p.started_at_s),
            finished: self
                .pod
                .and_then(|p| p.finished_at_s)
                .or(self.job.completed_server_ms),
        }
    }

    fn started_ms(&self) -> Option<i64> {
        self.pod.and_then(|p| p.started_ms)
    }

    fn completed(&self) -> bool {
        self.job.succeeded || self.pod.is_some_and(|p| p.succeeded)
    }
}

fn window_of(a: &Analyzer) -> Option<Window> {
    if let Some((start_ms, end_ms)) = a.window_override {
        return Some(Window {
            start_ms,
            end_ms,
            end: WindowEnd::Drain,
            duration_s: (end_ms - start_ms) as f64 / 1000.0,
        });
    }
    let start_ms = a.measure_ms?;
    let (end_ms, end) = match a.drain_ms {
        Some(d) if d >= start_ms => (d, WindowEnd::Drain),
        _ => (a.last_recv_ms, WindowEnd::LastLine),
    };
    Some(Window {
        start_ms,
        end_ms,
        end,
        duration_s: (end_ms - start_ms) as f64 / 1000.0,
    })
}

impl Buckets {
    /// Series over every minute touching `[from, to)`, mean per minute, peaks.
    fn summarize(&self, w: &Window) -> (Vec<MinuteCount>, Option<f64>, u64, u64) {
        let first = w.start_ms.div_euclid(60_000);
        let last = (w.end_ms - 1).div_euclid(60_000).max(first);
        let series = (first..=last)
            .map(|m| MinuteCount {
                minute_ms: m * 60_000,
                started: self.in_minute(m),
            })
            .collect();
        // Whole seconds: the phase boundaries are timed by the harness to the second, and the
        // milliseconds of scheduling jitter must not turn 20 runs in 120 s into 9.9998/min.
        let minutes = ((w.end_ms - w.start_ms) as f64 / 1000.0).round() / 60.0;
        let mean = (minutes > 0.0).then(|| self.total as f64 / minutes);
        let (peak_min, peak_sec) = self.peaks();
        (series, mean, peak_min, peak_sec)
    }
}

impl Analyzer {
    /// Computes the results from the state gathered.
    pub(super) fn finish(self) -> Result<Results, AnalyzeError> {
        let mut a = self;
        let fold = a.fold.take();
        let slo = a.scenario.slo.clone();
        let window = window_of(&a);
        let in_window = |t: i64| {
            window
                .as_ref()
                .is_some_and(|w| w.start_ms <= t && t < w.end_ms)
        };
        let mut anomalies = std::mem::take(&mut a.anomalies);
        if window.is_none() {
            anomalies
                .notes
                .push("the log has no measure phase: no run counts toward the verdict".into());
        }

        // Each Job's (cronjob, scheduled time).
        let mut by_key: BTreeMap<(&str, i64), Vec<(&str, &JobState)>> = BTreeMap::new();
        for (name, job) in &a.jobs {
            let Some(key) = run_key_of(name, job, &mut anomalies) else {
                continue;
            };
            by_key.entry(key).or_default().push((name.as_str(), job));
        }
        let folded = |c: &str, t: i64| fold.as_ref().is_some_and(|f| f.has_key(c, t));

        // First pod of each Job.
        let mut first_pod: HashMap<&str, (&str, &PodState)> = HashMap::new();
        for (name, pod) in &a.pods {
            let Some(job) = pod.job.as_deref().filter(|j| a.jobs.contains_key(*j)) else {
                anomalies.orphan_pods += 1;
                continue;
            };
            let entry = first_pod.entry(job).or_insert((name.as_str(), pod));
            if (pod.first_seen_ms, name.as_str()) < (entry.1.first_seen_ms, entry.0) {
                *entry = (name.as_str(), pod);
            }
        }

        // Runs, duplicates.
        let mut counts = Counts {
            cronjobs: a.cronjobs.len() as u64,
            pods: a.pods.len() as u64 + fold.as_ref().map_or(0, |f| f.pods),
            ..Counts::default()
        };
        let mut runs: Vec<Run> = Vec::with_capacity(by_key.len());
        let mut dup_jobs: HashMap<(&str, i64), u64> = HashMap::new();
        for (key, mut jobs) in by_key {
            if folded(key.0, key.1) {
                // A run already over had this schedule: these Jobs are extra.
                counts.duplicates += jobs.len() as u64;
                if counts.duplicate_runs.len() < MISSED_LIST_MAX {
                    counts.duplicate_runs.push(DuplicateRun {
                        run: run_key(key.0, key.1),
                        jobs: jobs.iter().map(|(n, _)| n.to_string()).collect(),
                    });
                }
                continue;
            }
            dup_jobs.insert(key, jobs.len() as u64);
            jobs.sort_by_key(|(name, job)| (job.first_seen_ms, *name));
            if jobs.len() > 1 {
                counts.duplicates += jobs.len() as u64 - 1;
                if counts.duplicate_runs.len() < MISSED_LIST_MAX {
                    counts.duplicate_runs.push(DuplicateRun {
                        run: run_key(key.0, key.1),
                        jobs: jobs.iter().map(|(n, _)| n.to_string()).collect(),
                    });
                }
            }
            let Some(&(name, job)) = jobs.first() else {
                continue;
            };
            runs.push(Run {
                key,
                job,
                pod: first_pod.get(name).map(|(_, p)| *p),
            });
        }
        counts.observed_total = runs.len() as u64;

        // Stages, and counts of runs in the window.
        let mut fold = fold;
        let mut lat: BTreeMap<(Stage, Clock), Latencies> = match fold.as_mut() {
            Some(f) => std::mem::take(&mut f.lat),
            None => {
                let mut lat = BTreeMap::new();
                for stage in Stage::ALL {
                    for clock in Clock::ALL {
                        lat.insert((stage, clock), Latencies::new()?);
                    }
                }
                lat
            }
        };
        let within_ms = slo.start_within_s * 1000.0;
        let mut observed_keys: HashSet<(&str, i64)> = HashSet::new();
        for run in runs.iter().filter(|r| in_window(r.key.1)) {
            observed_keys.insert(run.key);
            record_run(&mut lat, run);
            if let Some(started) = run.started_ms() {
                counts.started += 1;
                if ((started - run.key.1) as f64) <= within_ms {
                    counts.started_within_slo += 1;
                }
            }
            if run.completed() {
                counts.completed += 1;
            }
            if run.job.failed {
                counts.failed += 1;
            }
        }
        counts.observed = observed_keys.len() as u64;
        if let Some(f) = fold.as_mut() {
            counts.observed += f.observed;
            counts.observed_total += f.observed_total;
            counts.started += f.started;
            counts.started_within_slo += f.started_within_slo;
            counts.completed += f.completed;
            counts.failed += f.failed;
            counts.duplicates += f.duplicates;
            let room = MISSED_LIST_MAX.saturating_sub(counts.duplicate_runs.len());
            counts
                .duplicate_runs
                .extend(f.duplicate_runs.drain(..).take(room));
        }
        let folded_in_window = |c: &str, t: i64| {
            fold.as_ref()
                .and_then(|f| f.window_keys.get(c))
                .is_some_and(|k| k.contains(t))
        };

        // Expected runs from cron math.
        let mut matched = 0u64;
        let mut missed: Vec<(i64, &str)> = Vec::new();
        if let Some(w) = &window {
            let mut ticks_by_schedule: HashMap<&str, Vec<i64>> = HashMap::new();
            for (name, cj) in &a.cronjobs {
                if !ticks_by_schedule.contains_key(cj.schedule.as_str()) {
                    let ticks =
                        window_ticks(&cj.schedule, w).map_err(|source| AnalyzeError::Schedule {
                            cronjob: name.clone(),
                            schedule: cj.schedule.clone(),
                            source: Box::new(source),
                        })?;
                    ticks_by_schedule.insert(cj.schedule.as_str(), ticks);
                }
                let ticks = ticks_by_schedule
                    .get(cj.schedule.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for &t in ticks.iter().filter(|&&t| t > cj.created_ms) {
                    counts.expected += 1;
                    if observed_keys.contains(&(name.as_str(), t))
                        || folded_in_window(name.as_str(), t)
                    {
                        matched += 1;
                    } else {
                        missed.push((t, name.as_str()));
                    }
                }
            }
        }
        counts.missed = missed.len() as u64;
        counts.unexpected = counts.observed.saturating_sub(matched);
        missed.sort_unstable();
        counts.missed_runs = missed
            .iter()
            .take(MISSED_LIST_MAX)
            .map(|&(t, c)| run_key(c, t))
            .collect();

        // Stuck pods (any run).
        let max_pending_ms = slo.max_pending_s * 1000.0;
        counts.stuck_pods = fold.as_ref().map_or(0, |f| f.stuck_pods)
            + a.pods
                .values()
                .filter(|p| p.started_ms.is_none())
                .filter(|p| {
                    let end = [p.finished_ms, p.deleted_ms]
                        .into_iter()
                        .flatten()
                        .fold(a.last_recv_ms, i64::min);
                    ((end - p.first_seen_ms) as f64) > max_pending_ms
                })
                .count() as u64;

        let faults = fault_windows(&a, &slo, &runs, &dup_jobs);

        // Throughput.
        let mut throughput = Throughput::default();
        let mut per_node: BTreeMap<String, Buckets> = BTreeMap::new();
        if let Some(w) = &window {
            let mut all = Buckets::default();
            if let Some(f) = fold.as_mut() {
                all = std::mem::take(&mut f.all);
                per_node = std::mem::take(&mut f.per_node);
            }
            for run in &runs {
                let Some(t) = run.started_ms().filter(|&t| in_window(t)) else {
                    continue;
                };
                all.add(t);
                if let Some(node) = run.pod.and_then(|p| p.node.as_deref()) {
                    per_node.entry(node.to_string()).or_default().add(t);
                }
            }
            let (series, mean, peak_min, peak_sec) = all.summarize(w);
            throughput.started_in_window = all.total;
            throughput.started_per_minute = series;
            throughput.started_per_minute_mean = mean;
            throughput.peak_per_minute = peak_min;
            throughput.peak_per_second = peak_sec;
        }
        let pending_from = window.as_ref().map_or(a.run.recv_ms, |w| w.start_ms);
        throughput.pending = pending_series(&a.pods, pending_from, a.last_recv_ms, fold.as_ref());
        throughput.peak_pending = throughput
            .pending
            .iter()
            .map(|p| p.pending)
            .max()
            .unwrap_or(0);

        let mut nodes: Vec<NodeStats> = Vec::new();
        if let Some(w) = &window {
            for (node, b) in &per_node {
                let (series, mean, peak_min, peak_sec) = b.summarize(w);
                nodes.push(NodeStats {
                    node: node.to_string(),
                    started: b.total,
                    started_per_minute_mean: mean,
                    started_per_minute: series,
                    peak_per_minute: peak_min,
                    peak_per_second: peak_sec,
                    ready_at_end: a.node_ready.get(node).copied(),
                });
            }
        }

        let stages: Vec<StageStats> = Stage::ALL
            .iter()
            .flat_map(|&s| Clock::ALL.iter().map(move |&c| (s, c)))
            .filter_map(|k| lat.get(&k).map(|l| l.stats(k.0, k.1)))
            .collect();
        anomalies.negative_latencies = stages
            .iter()
            .filter(|s| s.negatives > 0)
            .map(|s| NegativeCount {
                stage: s.stage,
                clock: s.clock,
                count: s.negatives,
            })
            .collect();

        let mut verdict = verdict(&slo, &counts, &throughput, &stages);
        let interrupted = a.end_reason != Some(EndReason::Completed);
        // A partial window (Ctrl-C, an error, a killed harness) can look healthy; it never passes.
        verdict.pass &= !interrupted;
        let run = a.run;
        Ok(Results {
            schema_version: SCHEMA_VERSION,
            run: RunInfo {
                run_id: run.run_id,
                namespace: run.namespace,
                scenario_name: a.scenario.name.clone(),
                scenario: run.scenario,
                cronbench_version: run.cronbench_version,
                context: run.context,
                server_version: run.server_version,
                nodes: run.nodes,
                started_ms: run.recv_ms,
                last_recv_ms: a.last_recv_ms,
                end_reason: a.end_reason,
                interrupted,
                lines: a.lines,
            },
            slo,
            window,
            counts,
            stages,
            throughput,
            nodes,
            verdict,
            anomalies,
            faults,
        })
    }
}

/// The game-day fault windows of the log, with what each did to the schedule.
fn fault_windows(
    a: &Analyzer,
    slo: &Slo,
    runs: &[Run],
    jobs_per_key: &HashMap<(&str, i64), u64>,
) -> Vec<crate::results::FaultWindow> {
    use super::faults::{Inputs, PodFact, RunFact};
    if a.faults.is_empty() {
        return Vec::new();
    }
    let inputs = Inputs {
        slo,
        cronjobs: a
            .cronjobs
            .iter()
            .map(|(n, c)| (n.as_str(), c.schedule.as_str(), c.created_ms))
            .collect(),
        runs: runs
            .iter()
            .map(|r| {
                (
                    r.key,
                    RunFact {
                        started_ms: r.started_ms(),
                        jobs: jobs_per_key.get(&r.key).copied().unwrap_or(1),
                    },
                )
            })
            .collect(),
        pods: a
            .pods
            .values()
            .map(|p| PodFact {
                first_seen_ms: p.first_seen_ms,
                started: p.started_ms.is_some(),
                pending_until_ms: [p.finished_ms, p.deleted_ms]
                    .into_iter()
                    .flatten()
                    .fold(a.last_recv_ms, i64::min),
            })
            .collect(),
        last_ms: a.last_recv_ms,
    };
    super::faults::windows(&a.faults, &inputs, |schedule, w| {
        window_ticks(schedule, w).ok()
    })
}

/// Ticks of `schedule` in the window, Unix ms, as the CronJob controller computes them (UTC).
fn window_ticks(schedule: &str, w: &Window) -> Result<Vec<i64>, ScenarioError> {
    let bad_time = |source| ScenarioError::Time {
        schedule: schedule.to_string(),
        source,
    };
    let from = jiff::Timestamp::from_millisecond(w.start_ms).map_err(bad_time)?;
    let to = jiff::Timestamp::from_millisecond(w.end_ms).map_err(bad_time)?;
    Ok(parse_schedule(schedule)?
        .ticks_between(from, to)?
        .into_iter()
        .map(|t| t.as_millisecond())
        .collect())
}

fn run_key(cronjob: &str, scheduled_ms: i64) -> RunKey {
    RunKey {
        cronjob: cronjob.to_string(),
        scheduled: rfc3339(scheduled_ms),
        scheduled_ms,
    }
}

/// Pods created but not yet started, finished or deleted, every [`PENDING_STEP_MS`].
fn pending_series(
    pods: &IndexMap<String, PodState>,
    from: i64,
    to: i64,
    fold: Option<&Fold>,
) -> Vec<PendingPoint> {
    // +1 when a pod is first seen, -1 when it starts, finishes or is deleted.
    let mut deltas: Vec<(i64, i64)> = Vec::with_capacity(pods.len() * 2);
    // Folded pods: per step when the series' origin was known as they were folded.
    let mut steps = None;
    if let Some(f) = fold {
        deltas.extend_from_slice(&f.pending_exact);
        if f.pending_origin == Some(from) {
            steps = Some(&f.pending_steps);
        } else if let Some(origin) = f.pending_origin {
            // The origin moved (cannot happen: it is the window start): place each step's
            // sum at its end, which keeps every level it contributes to.
            deltas.extend(
                f.pending_steps
                    .iter()
                    .map(|(k, d)| (origin + k * PENDING_STEP_MS, *d)),
            );
        }
    }
    for p in pods.values() {
        deltas.push((p.first_seen_ms, 1));
        let end = [p.started_ms, p.finished_ms, p.deleted_ms]
            .into_iter()
            .flatten()
            .min();
        if let Some(end) = end {
            deltas.push((end.max(p.first_seen_ms), -1));
        }
    }
    deltas.sort_unstable();
    let mut out = Vec::new();
    let mut level: i64 = 0;
    let mut i = 0;
    let mut t = from;
    let mut k = 0i64;
    let mut folded = steps.map(|s| s.iter().peekable());
    while t <= to {
        while let Some(&(at, d)) = deltas.get(i) {
            if at > t {
                break;
            }
            level += d;
            i += 1;
        }
        if let Some(it) = folded.as_mut() {
            while let Some((_, d)) = it.next_if(|(step, _)| **step <= k) {
                level += d;
            }
        }
        k += 1;
        out.push(PendingPoint {
            t_ms: t,
            pending: level.max(0).unsigned_abs(),
        });
        t += PENDING_STEP_MS;
    }
    out
}

fn check(check: Check, threshold: f64, measured: f64) -> CheckResult {
    CheckResult {
        check,
        name: check.name().to_string(),
        comparison: check.comparison(),
        threshold,
        measured: Some(measured),
        pass: measured.is_finite() && check.comparison().holds(measured, threshold),
        note: None,
    }
}

/// Like [`check`], but a failure whatever the value: there were no samples.
fn no_samples(c: Check, threshold: f64, measured: Option<f64>, why: &str) -> CheckResult {
    CheckResult {
        check: c,
        name: c.name().to_string(),
        comparison: c.comparison(),
        threshold,
        measured,
        pass: false,
        note: Some(format!("no samples: {why}")),
    }
}

fn verdict(slo: &Slo, counts: &Counts, tp: &Throughput, stages: &[StageStats]) -> Verdict {
    let denominator = counts.expected.max(counts.observed);
    let share = |n: u64| n as f64 / denominator as f64;
    let share_note = (counts.observed > counts.expected).then(|| {
        format!(
            "share of observed runs ({}), more than the {} expected",
            counts.observed, counts.expected
        )
    });
    let checks = Check::ALL
        .iter()
        .map(|&c| match c {
            Check::JobsPerMinute => {
                let t = slo.target_jobs_per_minute;
                match tp.started_per_minute_mean {
                    None => no_samples(c, t, None, "no measured window of positive length"),
                    Some(m) if tp.started_in_window == 0 => {
                        no_samples(c, t, Some(m), "no run started in the measured window")
                    }
                    Some(m) => check(c, t, m),
                }
            }
            Check::P99ScheduleToStart => {
                let t = slo.p99_schedule_to_start_s;
                let s = stages
                    .iter()
                    .find(|s| s.stage == Stage::ScheduleToStarted && s.clock == Clock::Client);
                match s.and_then(|s| s.p99_ms.map(|p| (s, p))) {
                    None => no_samples(c, t, None, "no run scheduled in the window started"),
                    Some((s, p99)) => {
                        let note = (s.outliers > 0).then(|| {
                            format!(
                                "{} values above the histogram maximum of {} s",
                                s.outliers,
                                LATENCY_MAX_MS / 1000
                            )
                        });
                        let mut r = check(c, t, p99 as f64 / 1000.0);
                        r.note = note;
                        r
                    }
                }
            }
            Check::StartedShare => {
                let t = slo.min_started_share;
                if denominator == 0 {
                    no_samples(c, t, None, "no run expected or observed in the window")
                } else {
                    let mut r = check(c, t, share(counts.started_within_slo));
                    r.note = share_note.clone();
                    r
                }
            }
            Check::CompletedShare => {
                let t = slo.min_completed_share;
                if denominator == 0 {
                    no_samples(c, t, None, "no run expected or observed in the window")
                } else {
                    let mut r = check(c, t, share(counts.completed));
                    r.note = share_note.clone();
                    r
                }
            }
            Check::Missed => {
                let t = slo.max_missed as f64;
                if counts.expected == 0 {
                    no_samples(c, t, Some(0.0), "cron math expects no run in the window")
                } else {
                    check(c, t, counts.missed as f64)
                }
            }
            Check::StuckPods => {
                let t = slo.max_stuck_pods as f64;
                if counts.pods == 0 {
                    no_samples(c, t, Some(0.0), "no pod was observed")
                } else {
                    check(c, t, counts.stuck_pods as f64)
                }
            }
        })
        .collect::<Vec<_>>();
    Verdict {
        pass: checks.iter().all(|c| c.pass),
        checks,
    }
}
