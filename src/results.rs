//! The shape of `results.json`: what the analysis of one event log found.
//!
//! Plain data. The analysis (`crate::analyze`) writes it; report and compare code only read it.
//! All times are Unix milliseconds (`*_ms`) unless a field says otherwise; latencies are
//! milliseconds. [`Results::schema_version`] is [`crate::schema::SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};

use crate::scenario::Slo;
use crate::schema::EndReason;

pub use crate::schema::SCHEMA_VERSION;

mod fleet;
pub use fleet::*;
mod resources;
pub use resources::*;
mod verdict;
pub use verdict::*;

/// Everything the analysis of one run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Results {
    /// Always [`SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// Metadata copied from the log's `run_started` line, plus how the log ended.
    pub run: RunInfo,
    /// The SLO the verdict was computed against (from the scenario).
    pub slo: Slo,
    /// The measured window; `None` when the log has no `measure` phase.
    pub window: Option<Window>,
    pub counts: Counts,
    /// One entry per stage and clock, in [`Stage::ALL`] order, client clock first.
    pub stages: Vec<StageStats>,
    pub throughput: Throughput,
    /// Per node (from the pods' `node`), sorted by name.
    pub nodes: Vec<NodeStats>,
    /// How each tick's pods spread over the nodes; absent without a measured window or when
    /// no pod of the window was bound (and in files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_balance: Option<NodeBalance>,
    pub verdict: Verdict,
    pub anomalies: Anomalies,
    /// Game-day fault windows, in the order they started (absent when the run had none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultWindow>,
    /// Per-policy accounting: present for a mixed fleet (a CronJob with a class, a time zone,
    /// a concurrency policy other than Allow, a starting deadline or created suspended) or
    /// when the controller sent a Warning event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Policies>,
    /// Per class of `load.classes`, in the scenario's order (absent without classes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassResults>,
    /// Per time zone, sorted (absent unless the fleet is mixed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneResults>,
    /// The top-of-hour herd (absent unless the fleet is mixed and the log has a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub herd: Option<Herd>,
    /// CPU and memory of the control plane over the run (absent when nothing was sampled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceTimeline>,
    /// The components' evidence over the run, by PromQL (`run --prometheus URL`; absent
    /// without it). Read during the run, not from the event log: `cronbench analyze` leaves it
    /// out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<crate::metrics::ComponentEvidence>,
}

/// One game-day fault and what it did to the schedule. Runs "due in the window" are those
/// scheduled from `slo.p99_schedule_to_start_s` before the fault's start to its end, inclusive:
/// the runs scheduled during the fault plus those that were still within their start SLO when
/// it began (a restart seconds after a tick delays that tick's runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultWindow {
    pub kind: crate::scenario::FaultKind,
    /// Client time the fault was applied.
    pub start_ms: i64,
    /// Client time it was undone; `None` when the log never says (the harness died).
    pub end_ms: Option<i64>,
    /// What was done (from the log's `fault` lines).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Runs of the CronJobs due in the window (cron math).
    pub scheduled: u64,
    /// Of those, runs never observed.
    pub missed: u64,
    /// Of those, runs observed but not started, or started later than the scenario's
    /// `slo.p99_schedule_to_start_s` after their schedule.
    pub late: u64,
    /// The longest schedule -> started (client clock) among the window's started runs, ms.
    pub max_schedule_to_start_ms: Option<i64>,
    /// Extra Jobs for runs due in the window.
    pub duplicates: u64,
    /// Pods created in the window that stayed Pending longer than `slo.max_pending_s`.
    pub stuck_pods: u64,
    /// The normal start rate the recovery is measured against (jobs started per minute).
    pub baseline_per_minute: Option<f64>,
    /// Where the baseline came from: `pre-fault` (mean of the whole minutes between the first
    /// CronJob's creation and the fault, outside other faults, at most the scheduled rate) or `schedule` (the CronJobs' scheduled rate, when no
    /// whole minute preceded the fault).
    pub baseline_source: Option<String>,
    /// Seconds from the end of the window to the start of the first wall-clock minute after
    /// it whose started count is at least 90% of the baseline (minute resolution; the log's
    /// last, partial minute counts once it holds enough); `None` when no such minute was
    /// observed.
    pub recovery_s: Option<f64>,
}

impl FaultWindow {
    /// A one-line description for tables: kind, offset and length.
    pub fn label(&self, run_start_ms: i64) -> String {
        let at = (self.start_ms - run_start_ms) as f64 / 1000.0;
        match self.end_ms {
            Some(end) => format!(
                "{} at +{at:.0} s for {:.0} s",
                self.kind,
                (end - self.start_ms) as f64 / 1000.0
            ),
            None => format!("{} at +{at:.0} s (never undone)", self.kind),
        }
    }
}

/// Run metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunInfo {
    pub run_id: String,
    pub namespace: String,
    /// `Scenario::name`.
    pub scenario_name: String,
    /// The scenario exactly as recorded in `run_started`.
    pub scenario: serde_json::Value,
    pub cronbench_version: String,
    pub context: String,
    pub server_version: String,
    pub nodes: u32,
    /// The build, machine and local cluster knobs (absent for runs of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::host::RunHost>,
    /// `recv_ms` of `run_started`.
    pub started_ms: i64,
    /// Largest `recv_ms` in the log.
    pub last_recv_ms: i64,
    /// Reason of the `run_ended` line, `None` when the log has none.
    pub end_reason: Option<EndReason>,
    /// The harness's CPU time and peak memory, from the `run_ended` line (absent for runs of
    /// earlier versions and for logs without that line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<crate::host::HarnessCost>,
    /// True when the log has no `run_ended` line, or it says the run did not complete.
    pub interrupted: bool,
    /// Number of lines read.
    pub lines: u64,
}

/// How the end of the measured window was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowEnd {
    /// The `drain` phase line.
    Drain,
    /// No `drain` line (interrupted run): the last line of the log.
    LastLine,
}

/// The measured window: runs scheduled at `start_ms <= t < end_ms` count toward the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub end: WindowEnd,
    pub duration_s: f64,
}

/// Run counts. "In the window" means scheduled inside the measured window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counts {
    /// CronJobs created (`cron_job_created` lines).
    pub cronjobs: u64,
    /// Schedule ticks in the window, after each CronJob's creation (cron math).
    pub expected: u64,
    /// Distinct (cronjob, scheduled time) runs observed in the window.
    pub observed: u64,
    /// Distinct runs observed at any scheduled time (warmup and drain included).
    pub observed_total: u64,
    /// Expected ticks with no observed run, summed per CronJob.
    pub missed: u64,
    /// Up to [`MISSED_LIST_MAX`] of the missed runs, earliest first.
    pub missed_runs: Vec<RunKey>,
    /// Runs observed in the window that cron math did not expect (for example a CronJob whose
    /// creation is not in the log).
    pub unexpected: u64,
    /// Runs in the window whose pod started (client clock).
    pub started: u64,
    /// Runs in the window started within `slo.start_within_s` of their schedule.
    pub started_within_slo: u64,
    /// Runs in the window that completed (job `succeeded >= 1` or pod `Succeeded`).
    pub completed: u64,
    /// Runs in the window whose Job got a `Failed` condition.
    pub failed: u64,
    /// Pods (of any run) that did not start and stayed pending longer than
    /// `slo.max_pending_s`, measured up to their deletion or the log's last line.
    pub stuck_pods: u64,
    /// Pods observed (of any run).
    pub pods: u64,
    /// Extra Jobs for a (cronjob, scheduled time) that already had one, any scheduled time.
    pub duplicates: u64,
    /// Up to [`MISSED_LIST_MAX`] duplicated runs, with the names of their Jobs.
    pub duplicate_runs: Vec<DuplicateRun>,
}

/// Longest list of missed or duplicated runs kept in [`Counts`].
pub const MISSED_LIST_MAX: usize = 100;

/// One scheduled run of one CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunKey {
    pub cronjob: String,
    /// RFC 3339.
    pub scheduled: String,
    pub scheduled_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DuplicateRun {
    pub run: RunKey,
    /// The Jobs seen for this run, first seen first: all of them when the run was still in
    /// flight at the end of the log, only the extra ones when the run's own Job had finished
    /// (and was forgotten) before the analysis met them.
    pub jobs: Vec<String>,
}

/// A stage of a run's timeline (scheduled -> job created -> pod created -> pod bound ->
/// container started -> finished), plus two end-to-end spans.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    ScheduleToJobCreated,
    JobCreatedToPodCreated,
    PodCreatedToBound,
    BoundToStarted,
    StartedToFinished,
    /// Pod created -> container started: scheduling plus the node's start time.
    PodCreatedToStarted,
    ScheduleToStarted,
    ScheduleToFinished,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::ScheduleToJobCreated,
        Stage::JobCreatedToPodCreated,
        Stage::PodCreatedToBound,
        Stage::BoundToStarted,
        Stage::StartedToFinished,
        Stage::PodCreatedToStarted,
        Stage::ScheduleToStarted,
        Stage::ScheduleToFinished,
    ];

    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Stage::ScheduleToJobCreated => "schedule -> job created",
            Stage::JobCreatedToPodCreated => "job created -> pod created",
            Stage::PodCreatedToBound => "pod created -> bound",
            Stage::BoundToStarted => "bound -> started",
            Stage::StartedToFinished => "started -> finished",
            Stage::PodCreatedToStarted => "pod created -> started",
            Stage::ScheduleToStarted => "schedule -> started",
            Stage::ScheduleToFinished => "schedule -> finished",
        }
    }
}

/// Which clock a latency was measured with.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The harness's receive time of the first observation showing the stage reached.
    Client,
    /// The API server's timestamps (whole seconds).
    Server,
}

impl Clock {
    pub const ALL: [Clock; 2] = [Clock::Client, Clock::Server];

    /// The precision of latencies on this clock, as stated in reports.
    pub fn precision(self) -> &'static str {
        match self {
            Clock::Client => "1 ms (client receive time)",
            Clock::Server => "1 s (API timestamps)",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Clock::Client => "client",
            Clock::Server => "server",
        }
    }
}

/// Latency statistics of one stage on one clock, in milliseconds.
///
/// Values are recorded in an HDR histogram with 3 significant digits (percentiles are the
/// highest value equivalent to the recorded ones, capped at the exact maximum) and a maximum
/// of [`LATENCY_MAX_MS`]. Values
/// above the maximum are counted in `outliers` and recorded at the maximum, so percentiles
/// are lower bounds when `outliers > 0`; `max_ms` is exact. Negative values (a later stage
/// seen before an earlier one, e.g. from second rounding of API timestamps) are counted in
/// `negatives` and are not in the histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageStats {
    pub stage: Stage,
    pub clock: Clock,
    /// [`Clock::precision`].
    pub precision: String,
    /// Values in the histogram (non-negative, outliers included).
    pub count: u64,
    /// Percentiles; `None` when `count == 0`.
    pub p50_ms: Option<u64>,
    pub p90_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub p999_ms: Option<u64>,
    pub p9999_ms: Option<u64>,
    /// Exact largest value.
    pub max_ms: Option<i64>,
    /// Exact mean of the non-negative values.
    pub mean_ms: Option<f64>,
    pub outliers: u64,
    pub negatives: u64,
    /// Most negative value seen, when `negatives > 0`.
    pub min_negative_ms: Option<i64>,
}

/// Largest latency the histograms hold: one hour.
pub const LATENCY_MAX_MS: u64 = 3_600_000;

/// Starts in one wall-clock minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinuteCount {
    /// Start of the minute.
    pub minute_ms: i64,
    pub started: u64,
}

/// Pods created but not started (nor finished, nor deleted) at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PendingPoint {
    pub t_ms: i64,
    pub pending: u64,
}

/// Step of [`Throughput::pending`].
pub const PENDING_STEP_MS: i64 = 10_000;

/// Most points [`Throughput::pending`] holds: 2,000 steps of 10 s are 5.5 hours; a longer
/// span (or a stray line days late) merges consecutive steps, so the results stay small.
pub const PENDING_MAX_POINTS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Throughput {
    /// Pods of any run whose start (client clock) falls in the window.
    pub started_in_window: u64,
    /// `started_in_window` per minute of window; `None` without a window of positive length.
    pub started_per_minute_mean: Option<f64>,
    /// Per wall-clock minute touching the window (edge minutes are partial).
    pub started_per_minute: Vec<MinuteCount>,
    /// Most starts in one wall-clock minute / second, in the window.
    pub peak_per_minute: u64,
    pub peak_per_second: u64,
    /// Every [`PENDING_STEP_MS`] from the window start (or the run start) to the last line;
    /// over [`PENDING_MAX_POINTS`] steps, each point is the highest level of a run of
    /// consecutive steps (at the first one's time), so there are never more points than that.
    pub pending: Vec<PendingPoint>,
    pub peak_pending: u64,
}

/// Starts per node in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeStats {
    pub node: String,
    pub started: u64,
    pub started_per_minute_mean: Option<f64>,
    pub started_per_minute: Vec<MinuteCount>,
    pub peak_per_minute: u64,
    pub peak_per_second: u64,
    /// Readiness at the last `node` line for it, if any.
    pub ready_at_end: Option<bool>,
}

/// Where each tick's pods landed. A cluster's cron capacity is one node's start rate times the
/// nodes only if the scheduler spreads a tick's pods, so the spread is measured per tick.
///
/// Imbalance is the busiest node's bound pods over the mean per node, the mean taken over
/// [`NodeBalance::nodes`] (nodes seen Ready in the log, plus any node that received a pod):
/// 1.0 is an even spread, `nodes` is every pod of the tick on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeBalance {
    /// Nodes the mean is taken over.
    pub nodes: u32,
    /// Ticks with at least one bound pod (those with an imbalance).
    pub ticks: u64,
    pub mean_imbalance: f64,
    pub max_imbalance: f64,
    /// The busiest node's share of a tick's bound pods: median and maximum over the ticks.
    pub busiest_share_p50: f64,
    pub busiest_share_max: f64,
    /// One entry per scheduled time in the window with an observed run, in time order.
    pub per_tick: Vec<TickNodes>,
}

/// One tick's pods per node (each run's first pod).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TickNodes {
    /// The scheduled time, Unix ms.
    pub scheduled_ms: i64,
    /// Runs observed for the tick whose pod was never bound to a node.
    pub unbound: u64,
    /// Nodes that received a pod in this tick, sorted by name.
    pub nodes: Vec<NodeTickCount>,
    /// `None` when no pod of the tick was bound.
    pub imbalance: Option<f64>,
    pub busiest_node: Option<String>,
    pub busiest_share: Option<f64>,
}

/// Pods of one tick on one node: bound there (the scheduler's choice) and started there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeTickCount {
    pub node: String,
    pub bound: u64,
    pub started: u64,
}

/// Things in the log that look wrong but do not stop the analysis.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Anomalies {
    /// Negative latencies per stage and clock (also in [`StageStats::negatives`]).
    pub negative_latencies: Vec<NegativeCount>,
    /// Jobs with neither the scheduled annotation nor a Unix-minutes name suffix.
    pub jobs_without_schedule: u64,
    /// Pods whose Job was never observed (or that have no job label).
    pub orphan_pods: u64,
    /// Timestamps that did not parse as RFC 3339 (the field is then ignored).
    pub bad_timestamps: u64,
    /// Jobs whose scheduled annotation disagrees with their name suffix.
    pub schedule_name_mismatch: u64,
    /// `watch_error` lines.
    pub watch_errors: u64,
    /// Lines whose `recv_ms` is earlier than an earlier line's.
    pub out_of_order_lines: u64,
    /// Lines received far outside the run's own time span (a clock jump, a corrupted or
    /// hand-edited line): left out of the analysis, whose series are sized by that span.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lines_out_of_span: u64,
    /// Complete lines after the first that were not valid event-log JSON (a corrupted or
    /// hand-edited log): left out; the first is named in `notes`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lines_unparsed: u64,
    /// The last line of the file was cut off (no newline, not JSON) and was skipped.
    pub truncated_last_line: bool,
    /// Events by reason (events.k8s.io), e.g. `FailedScheduling`.
    pub event_reasons: std::collections::BTreeMap<String, u64>,
    /// Free-text notes.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NegativeCount {
    pub stage: Stage,
    pub clock: Clock,
    pub count: u64,
}

/// Serde's test for counters written only when something was counted.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
