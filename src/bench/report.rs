//! `bench.json`: what each part of the bench measured, the targets, and the short table.
//!
//! Every figure that a target judges is a ratio or a difference taken side by side in the same
//! run on the same cluster; absolute rates and times are printed beside them for the record.

use serde::{Deserialize, Serialize};

pub use super::Part;
pub use super::confirm::{Confirm, ConfirmStepFigures, ControllerManager};

/// Version of the `bench.json` format.
pub const BENCH_SCHEMA_VERSION: u32 = 1;

/// The 1, 5 and 15 minute load averages of the machine at one instant.
pub type LoadAvg = [f64; 3];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bench {
    pub schema_version: u32,
    pub cronbench_version: String,
    /// `release` or `debug`: the build of the cronbench that ran the bench.
    pub build: String,
    pub quick: bool,
    /// RFC 3339 start and end of the bench.
    pub started: String,
    pub finished: String,
    pub cluster: ClusterFacts,
    pub create: Option<Create>,
    pub accuracy: Option<Accuracy>,
    pub observe: Option<Observe>,
    pub peer: Option<Peer>,
    pub analyze: Option<Analyze>,
    /// 50,000 CronJobs of mixed schedules (absent in a bench.json from before the part).
    #[serde(default)]
    pub fleet: Option<super::fleet::Fleet>,
    /// `find-limit --confirm` on a cluster of its own (absent in bench.json files written
    /// before the confirm part).
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// The parts asked for (`--only`, else all), which the targets and the completeness check
    /// go by. Absent in bench.json files written before the confirm part: the five parts
    /// before it.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// Each target of the parts asked for, with its threshold and the measured value.
    pub targets: Vec<Target>,
    /// Errors of parts that could not finish (the other parts still ran).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterFacts {
    pub name: String,
    pub nodes: u32,
    pub knobs: crate::cluster::Knobs,
    pub delays: crate::cluster::StageDelays,
    pub up_seconds: f64,
    pub cores: usize,
}

/// One timed creation of CronJobs followed by its teardown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRound {
    /// `cronbench` (the run's applier) or `bare` (a kube-rs create loop).
    pub tool: String,
    pub objects: u64,
    pub seconds: f64,
    pub per_s: f64,
    /// cronbench only: (objects - 1) / seconds between the first and the last creation.
    pub paced_per_s: Option<f64>,
    /// Seconds the namespace deletion took (not part of the rate).
    pub teardown_s: f64,
    pub load_avg: LoadAvg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Create {
    /// CronJobs each tool created, over its rounds.
    pub objects: u64,
    /// Requests in flight, the same for both tools.
    pub concurrency: usize,
    /// Rounds in the order run (bare, cronbench, cronbench, bare: neither tool always goes
    /// first on a cluster whose etcd grows).
    pub rounds: Vec<CreateRound>,
    pub cronbench_per_s: f64,
    pub bare_per_s: f64,
    /// cronbench / bare. Target >= 0.9.
    pub ratio: f64,
    /// The rate limit asked for, CronJobs created, seconds, and the achieved rate between the
    /// first and the last creation (n - 1 intervals).
    pub qps_target: f64,
    pub qps_objects: u64,
    pub qps_seconds: f64,
    pub qps_achieved: f64,
    /// |achieved - target| / target. Target <= 0.05.
    pub qps_error: f64,
    pub qps_load_avg: LoadAvg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accuracy {
    /// kwok's bound -> started delay D, without jitter.
    pub delay_ms: u64,
    pub cronjobs: u32,
    /// Samples of the stage (client clock) in the measured window.
    pub samples: u64,
    /// p50 of bound -> started as the run reported it (client receive times, 1 ms).
    pub reported_p50_ms: u64,
    pub reported_p90_ms: Option<u64>,
    /// The same stage on the API's whole-second timestamps.
    pub server_p50_ms: Option<u64>,
    /// |reported p50 - D|. Target <= 20.
    pub error_ms: f64,
    /// kwok delays started -> finished by 1000 ms the same way; its reported p50, what kwok
    /// adds to a delayed stage (that p50 - 1000), and the error net of it:
    /// |reported p50 - D - kwok_overhead_ms|.
    pub started_to_finished_p50_ms: Option<u64>,
    pub kwok_overhead_ms: Option<f64>,
    pub error_net_ms: Option<f64>,
    pub load_avg_start: LoadAvg,
    pub load_avg_end: LoadAvg,
    /// Each stage endpoint's client time against the apiserver's audit log (the request that
    /// made the change, microseconds), over the runs of the measured window. Absent in
    /// bench.json files written before the audit comparison.
    #[serde(default)]
    pub stages: Vec<AccuracyStage>,
    /// Audit events of the run's namespace the comparison read.
    #[serde(default)]
    pub audit_events: u64,
    /// The accuracy run's harness RSS, the highest from its apply phase to its window, MB:
    /// the small size the fleet part's state per CronJob is measured against.
    pub rss_loaded_mb: Option<f64>,
}

/// A point of a run's life that a stage starts or ends at, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The Job's create.
    JobCreated,
    /// The Pod's create.
    PodCreated,
    /// The pods/binding create (the scheduler's choice).
    Bound,
    /// The pod status write that made it Running.
    Started,
    /// The pod status write that made it Succeeded or Failed.
    Finished,
}

impl Endpoint {
    pub const ALL: [Endpoint; 5] = [
        Endpoint::JobCreated,
        Endpoint::PodCreated,
        Endpoint::Bound,
        Endpoint::Started,
        Endpoint::Finished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::JobCreated => "job_created",
            Endpoint::PodCreated => "pod_created",
            Endpoint::Bound => "bound",
            Endpoint::Started => "started",
            Endpoint::Finished => "finished",
        }
    }
}

/// One stage endpoint: |client - audit| over the runs where both were seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccuracyStage {
    pub endpoint: Endpoint,
    /// Runs of the measured window, and those with both a client and an audit time.
    pub runs: u64,
    pub matched: u64,
    /// matched / runs. Target >= 1.0.
    pub matched_share: Option<f64>,
    /// Of |client - audit|, ms (the client's 1 ms against the audit's 1 us). Reported, not
    /// judged: the apiserver's own delivery (`floor_*`) is in it and exceeds 25 ms at p99
    /// under a tick's burst on the 2-core machine, so the targets are on `added_*`.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// p50 of client - audit, signed: positive when cronbench saw the change after the
    /// apiserver completed the request (the watch's delivery).
    pub signed_p50_ms: Option<f64>,
    /// The floor (`bench::floor`): a raw watch beside the run stamping each line the moment
    /// it is read. Runs with both a floor and an audit time, and of floor - audit, ms: the
    /// apiserver's own watch delivery, which no watching client can beat.
    pub floor_matched: Option<u64>,
    pub floor_p50_ms: Option<f64>,
    pub floor_p99_ms: Option<f64>,
    /// Of client - floor, ms, signed: what the harness adds to that delivery (about -0.5 when
    /// nothing, the client's stamp being whole milliseconds, truncated). Targets: p50 <= 5,
    /// p99 <= 25.
    pub added_p50_ms: Option<f64>,
    pub added_p99_ms: Option<f64>,
}

/// Targets of each stage endpoint, on what the harness adds to the apiserver's delivery.
const STAGE_P50_MS: f64 = 5.0;
const STAGE_P99_MS: f64 = 25.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    /// Every-minute CronJobs the harness watched.
    pub cronjobs: u32,
    /// The measured window (the run's measure phase), seconds.
    pub window_s: f64,
    /// Lines the run wrote to events.jsonl, and scheduled runs it observed in the window.
    pub lines: u64,
    pub runs_observed: u64,
    pub runs_expected: u64,
    /// Peak RSS of the harness process over its whole life (creation included), MB.
    pub peak_rss_mb: f64,
    /// Harness CPU seconds in the window, and those of the control plane.
    pub harness_cpu_s: f64,
    pub apiserver_cpu_s: f64,
    pub etcd_cpu_s: f64,
    pub controller_manager_cpu_s: f64,
    /// harness / (kube-apiserver + etcd + kube-controller-manager). Target <= 0.02.
    pub cpu_share: f64,
    /// Mean RSS in the second and the last fifth of the window, MB.
    pub rss_second_fifth_mb: f64,
    pub rss_last_fifth_mb: f64,
    /// last fifth / second fifth. Target <= 1.10.
    pub rss_growth: f64,
    /// Client receive time to the line written in events.jsonl (1 ms resolution).
    pub record_lag_p50_ms: Option<u64>,
    /// Target <= 10.
    pub record_lag_p99_ms: Option<u64>,
    pub record_lag_max_ms: Option<u64>,
    /// The run's directory (events.jsonl, results.json, harness.json, samples.csv).
    pub run_dir: String,
    pub load_avg_start: LoadAvg,
    pub load_avg_end: LoadAvg,
    /// The harness's watch events over the bare watcher's window: its events.jsonl lines of
    /// Jobs, Pods, Nodes and Events received in it. The run writes no count of what its streams
    /// yield; its lines leave out resends, Node updates that do not change readiness and Event
    /// deletions, so they are at most the events it received and its CPU per event errs high.
    pub watch_events: Option<u64>,
    /// A bare kube-rs watcher on the same streams, side by side (none when it failed; the
    /// error is in `errors`).
    pub bare_watcher: Option<BareWatcher>,
    /// (harness CPU s / watch_events) / (bare CPU s / bare events), over the same window.
    /// Target <= 1.0.
    pub cpu_per_event_ratio: Option<f64>,
    /// Harness CPU s / bare CPU s over the same window, whatever each counted (for the
    /// record; the streams are the same, so this is the ratio per event received).
    pub cpu_ratio: Option<f64>,
    /// Harness peak RSS / bare peak RSS, each over its whole life. Target <= 1.0. The
    /// harness's peak is its analysis of its own log after the watching, and its code is larger:
    /// see the anonymous part below.
    pub rss_ratio: Option<f64>,
    /// What the watching holds: the harness's highest anonymous RSS (`RssAnon`: heap and
    /// stacks, no code or mapped files) over the `/proc` samples of the window that read the
    /// bare watcher too, MB, and that / the bare watcher's highest over the same samples
    /// (reported). Absent in bench.json files written before it.
    #[serde(default)]
    pub window_anon_mb: Option<f64>,
    #[serde(default)]
    pub anon_rss_ratio: Option<f64>,
}

/// `cronbench bench-watch` beside the harness: kube-runtime watchers with full k8s-openapi
/// types on the run's Jobs, Pods, Events and the Nodes, counting what they yield.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BareWatcher {
    /// Objects its streams yielded in the window: from its count at the first `/proc` sample
    /// inside the measure phase to its count at the last (each taken on a signal sent with
    /// the sample).
    pub events: u64,
    /// Its CPU seconds between the same two samples (`/proc/PID/stat`, as the harness's).
    pub cpu_s: f64,
    /// Its peak RSS over its whole life (`VmHWM`, as the harness's), bytes.
    pub peak_rss_bytes: u64,
    /// Its highest `RssAnon` over the window's samples, bytes.
    #[serde(default)]
    pub window_anon_bytes: Option<u64>,
}

/// One tool's figures on the peer comparison's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolFigures {
    pub cronjobs: u64,
    pub create_per_s: Option<f64>,
    pub cpu_s: Option<f64>,
    /// CPU seconds per minute of the tool's life.
    pub cpu_s_per_min: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// Scheduled runs (Jobs) the tool's latency measurements counted.
    pub runs_measured: Option<u64>,
    pub wall_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub tool: String,
    pub version: Option<String>,
    /// Why figures are missing, or what to know when reading them.
    pub note: String,
    pub kube_burner: Option<ToolFigures>,
    /// cronbench on the same load: creation, CPU and memory from the observe run; runs
    /// measured by cronbench's watchers on kube-burner's own CronJobs, side by side.
    pub cronbench: Option<ToolFigures>,
    /// Jobs of kube-burner's CronJobs whose jobTemplate carries no kube-burner label, and
    /// how many of them kube-burner measured.
    pub unlabelled_runs: Option<u64>,
    pub unlabelled_runs_measured_by_kube_burner: Option<u64>,
    /// kube-burner's jobLatency p50 (from the Job's creation) and cronbench's
    /// schedule -> job created p50 on the same Jobs, ms.
    pub kube_burner_job_start_p50_ms: Option<f64>,
    pub cronbench_schedule_to_job_created_p50_ms: Option<u64>,
    pub cronbench_schedule_to_started_p50_ms: Option<u64>,
    pub load_avg_start: LoadAvg,
    pub load_avg_end: LoadAvg,
}

/// `cronbench analyze` against a parse-only loop on one log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeLength {
    pub events: u64,
    pub bytes: u64,
    /// Best of the repetitions.
    pub analyze_s: f64,
    pub parse_s: f64,
    pub analyze_per_s: f64,
    pub parse_per_s: f64,
    pub ratio: f64,
    /// Peak RSS of the `cronbench analyze` process, MB.
    pub peak_rss_mb: f64,
    pub load_avg: LoadAvg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Analyze {
    /// Every-minute CronJobs of the generated logs (the same at both lengths, so the same
    /// runs are in flight) and lines per scheduled run.
    pub cronjobs: u32,
    pub lines_per_run: u32,
    pub short: AnalyzeLength,
    pub long: AnalyzeLength,
    /// Of the long log. Target >= 0.5.
    pub ratio: f64,
    /// Peak RSS long / short. Target <= 1.10 (memory does not grow with the log's length).
    pub memory_growth: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    AtLeast,
    AtMost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub comparison: Comparison,
    pub threshold: f64,
    pub measured: Option<f64>,
    pub pass: bool,
}

impl Target {
    fn new(name: &str, comparison: Comparison, threshold: f64, measured: Option<f64>) -> Target {
        let pass = measured.is_some_and(|m| {
            m.is_finite()
                && match comparison {
                    Comparison::AtLeast => m >= threshold,
                    Comparison::AtMost => m <= threshold,
                }
        });
        Target {
            name: name.to_string(),
            comparison,
            threshold,
            measured,
            pass,
        }
    }
}

impl Bench {
    /// The parts asked for; [`Part::BEFORE_CONFIRM`] for a bench.json that does not say.
    pub fn parts_asked(&self) -> &[Part] {
        if self.parts.is_empty() {
            &Part::BEFORE_CONFIRM
        } else {
            &self.parts
        }
    }

    /// The targets of the issue for the parts asked for, judged on what was measured (a part
    /// that failed fails its targets).
    pub fn judge(&mut self) {
        let parts = self.parts_asked().to_vec();
        self.targets = parts.into_iter().flat_map(|p| self.targets_of(p)).collect();
    }

    /// One part's targets.
    fn targets_of(&self, part: Part) -> Vec<Target> {
        use Comparison::{AtLeast, AtMost};
        let c = self.create.as_ref();
        let o = self.observe.as_ref();
        let a = self.analyze.as_ref();
        match part {
            Part::Create => vec![
                Target::new("create.ratio", AtLeast, 0.9, c.map(|c| c.ratio)),
                Target::new("create.qps_error", AtMost, 0.05, c.map(|c| c.qps_error)),
            ],
            Part::Accuracy => self.accuracy_targets(),
            Part::Observe => vec![
                Target::new(
                    "observe.peak_rss_mb",
                    AtMost,
                    64.0,
                    o.map(|o| o.peak_rss_mb),
                ),
                Target::new("observe.cpu_share", AtMost, 0.02, o.map(|o| o.cpu_share)),
                Target::new("observe.rss_growth", AtMost, 1.10, o.map(|o| o.rss_growth)),
                Target::new(
                    "observe.cpu_per_event_ratio",
                    AtMost,
                    1.0,
                    o.and_then(|o| o.cpu_per_event_ratio),
                ),
                Target::new(
                    "observe.rss_ratio",
                    AtMost,
                    1.0,
                    o.and_then(|o| o.rss_ratio),
                ),
                Target::new(
                    "observe.record_lag_p99_ms",
                    AtMost,
                    10.0,
                    o.and_then(|o| o.record_lag_p99_ms.map(|v| v as f64)),
                ),
            ],
            // Figures for the record, side by side with a peer: no target.
            Part::Peer => Vec::new(),
            Part::Analyze => vec![
                Target::new("analyze.ratio", AtLeast, 0.5, a.map(|a| a.ratio)),
                Target::new(
                    "analyze.memory_growth",
                    AtMost,
                    1.10,
                    a.map(|a| a.memory_growth),
                ),
            ],
            Part::Fleet => self.fleet_targets().to_vec(),
            // The verdict `confirmed`, as 1 (0 otherwise); the time to it has no target.
            Part::Confirm => vec![Target::new(
                "confirm.confirmed",
                AtLeast,
                1.0,
                self.confirm.as_ref().and_then(Confirm::confirmed),
            )],
        }
    }

    /// The kwok-delay error, and three per stage endpoint: every run matched in the audit log,
    /// and what the harness adds to the apiserver's own watch delivery (client - floor).
    fn accuracy_targets(&self) -> Vec<Target> {
        use Comparison::{AtLeast, AtMost};
        let mut targets = vec![Target::new(
            "accuracy.error_ms",
            AtMost,
            20.0,
            self.accuracy.as_ref().map(|a| a.error_ms),
        )];
        let stages = self.accuracy.as_ref().map_or(&[][..], |a| &a.stages[..]);
        for e in Endpoint::ALL {
            let s = stages.iter().find(|s| s.endpoint == e);
            let name = |what: &str| format!("accuracy.stages.{}.{what}", e.name());
            targets.extend([
                Target::new(
                    &name("added_p50_ms"),
                    AtMost,
                    STAGE_P50_MS,
                    s.and_then(|s| s.added_p50_ms),
                ),
                Target::new(
                    &name("added_p99_ms"),
                    AtMost,
                    STAGE_P99_MS,
                    s.and_then(|s| s.added_p99_ms),
                ),
                Target::new(
                    &name("matched_share"),
                    AtLeast,
                    1.0,
                    s.and_then(|s| s.matched_share),
                ),
            ]);
        }
        targets
    }

    /// The fleet part's targets (each fails without the part).
    fn fleet_targets(&self) -> [Target; 4] {
        use Comparison::{AtLeast, AtMost};
        let f = self.fleet.as_ref();
        [
            Target::new(
                "fleet.create_ratio",
                AtLeast,
                0.9,
                f.map(|f| f.create_ratio),
            ),
            Target::new("fleet.peak_rss_mb", AtMost, 96.0, f.map(|f| f.peak_rss_mb)),
            Target::new(
                "fleet.analyze_ratio",
                AtLeast,
                0.5,
                f.map(|f| f.analyze.ratio),
            ),
            Target::new(
                "fleet.analyze_memory_growth",
                AtMost,
                1.10,
                f.map(|f| f.analyze.memory_growth),
            ),
        ]
    }

    pub fn pass(&self) -> bool {
        !self.targets.is_empty() && self.targets.iter().all(|t| t.pass)
    }

    /// What a complete bench.json lacks: parts asked for that did not run, targets other
    /// than those of the parts asked for, non-finite figures.
    pub fn incomplete(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut expected = 0;
        for &part in self.parts_asked() {
            let present = match part {
                Part::Create => self.create.is_some(),
                Part::Accuracy => self.accuracy.is_some(),
                Part::Observe => self.observe.is_some(),
                Part::Peer => self.peer.is_some(),
                Part::Analyze => self.analyze.is_some(),
                Part::Fleet => self.fleet.is_some(),
                Part::Confirm => self.confirm.is_some(),
            };
            if !present {
                out.push(format!("{} is missing", part.name()));
            }
            expected += self.targets_of(part).len();
        }
        if self.targets.len() != expected {
            out.push(format!(
                "{} targets, expected {expected} for the parts asked for ({})",
                self.targets.len(),
                self.parts_asked()
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for t in &self.targets {
            match t.measured {
                Some(m) if m.is_finite() => {}
                _ => out.push(format!("target {} has no measured value", t.name)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
