//! The contract between the stages of a run: the lines of `events.jsonl` and the shape of
//! `results.json`. Both carry [`SCHEMA_VERSION`]; change it when a field changes meaning.
//!
//! Times: `recv_ms` is the client's receive time (Unix milliseconds). Server timestamps are kept
//! as the API gave them: `creationTimestamp`, condition times and container times are whole
//! seconds (RFC 3339); an events.k8s.io `eventTime` has microseconds.

use serde::{Deserialize, Serialize};

/// Version of the event-log and results formats.
pub const SCHEMA_VERSION: u32 = 1;

/// Label put on everything a run creates (namespace, CronJobs, and via the job template, Jobs
/// and Pods), with the run id as value.
pub const RUN_LABEL: &str = "cronbench.io/run";

/// Label put on a class's CronJobs, Jobs and Pods (`load.classes[].name`).
pub const CLASS_LABEL: &str = "cronbench.io/class";

/// Pod annotation: how long a kwok pod runs (a Go duration, e.g. `1500ms`).
pub const RUN_TIME_ANNOTATION: &str = "cronbench.io/run-time";
/// Pod annotations: the weights of kwok's pod-complete and pod-fail stages (per thousand).
pub const SUCCEED_WEIGHT_ANNOTATION: &str = "cronbench.io/succeed-weight";
pub const FAIL_WEIGHT_ANNOTATION: &str = "cronbench.io/fail-weight";

/// Annotation the CronJob controller sets on each Job it creates (GA since Kubernetes 1.32).
pub const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogLine {
    /// First line of every log.
    RunStarted(RunStarted),
    /// The run entered a phase (apply, warmup, measure, drain, teardown).
    Phase { recv_ms: i64, phase: Phase },
    /// The harness created a CronJob.
    CronJobCreated(CronJobCreated),
    /// A watched Job changed.
    Job(JobObs),
    /// A watched Pod changed.
    Pod(PodObs),
    /// A watched Node changed.
    Node(NodeObs),
    /// An events.k8s.io Event in the run's namespace.
    Event(EventObs),
    /// A watcher reported an error or restarted (it resumes on its own).
    WatchError {
        recv_ms: i64,
        resource: WatchedResource,
        error: String,
    },
    /// `find-limit` brought the load to `cronjobs` for step `step` (its window starts at the
    /// next minute boundary; the step's record in `limit.json` has the exact window).
    Step {
        recv_ms: i64,
        step: u32,
        cronjobs: u32,
    },
    /// A game-day fault was applied (`start`) or undone (`end`).
    Fault {
        recv_ms: i64,
        kind: crate::scenario::FaultKind,
        phase: FaultPhase,
        /// What was done, e.g. `SIGTERM kube-apiserver pid 123`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// CPU and memory counters of the cluster's components, sampled together.
    Resources {
        recv_ms: i64,
        source: crate::results::ResourceSource,
        readings: Vec<crate::results::ResourceReading>,
    },
    /// Last line of a run that ended normally or was interrupted.
    RunEnded {
        recv_ms: i64,
        reason: EndReason,
        /// The harness's own CPU time and peak memory by then (absent in earlier logs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        harness: Option<crate::host::HarnessCost>,
    },
}

/// A resource the observer watches, named in its `watch_error` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchedResource {
    Jobs,
    Pods,
    Nodes,
    Events,
}

/// The two ends of a fault window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultPhase {
    Start,
    End,
}

impl LogLine {
    /// The client receive time of this line.
    pub fn recv_ms(&self) -> i64 {
        match self {
            LogLine::RunStarted(r) => r.recv_ms,
            LogLine::CronJobCreated(c) => c.recv_ms,
            LogLine::Phase { recv_ms, .. }
            | LogLine::WatchError { recv_ms, .. }
            | LogLine::Step { recv_ms, .. }
            | LogLine::Fault { recv_ms, .. }
            | LogLine::Resources { recv_ms, .. }
            | LogLine::RunEnded { recv_ms, .. } => *recv_ms,
            LogLine::Job(j) => j.recv_ms,
            LogLine::Pod(p) => p.recv_ms,
            LogLine::Node(n) => n.recv_ms,
            LogLine::Event(e) => e.recv_ms,
        }
    }
}

/// A CronJob the harness created: what the analysis needs to know of it. Fields after
/// `time_zone` are absent in logs of earlier versions and when they hold their default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronJobCreated {
    pub recv_ms: i64,
    pub name: String,
    pub schedule: String,
    /// `spec.timeZone`; absent for UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The scenario class it belongs to (`load.classes[].name`); absent without classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// `spec.concurrencyPolicy`; absent for `Allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<crate::scenario::ConcurrencyPolicy>,
    /// `spec.startingDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// `spec.suspend`: created suspended, so no run is expected of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStarted {
    pub schema_version: u32,
    pub recv_ms: i64,
    pub run_id: String,
    pub namespace: String,
    pub scenario: serde_json::Value,
    pub cronbench_version: String,
    pub context: String,
    pub server_version: String,
    pub nodes: u32,
    /// The build, machine and local cluster knobs (absent in logs of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::host::RunHost>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Creating the CronJobs.
    Apply,
    /// Runs scheduled now are observed but not counted.
    Warmup,
    /// Runs scheduled in this phase are what the verdict is about.
    Measure,
    /// No new ticks are counted; in-flight runs may still finish.
    Drain,
    /// Deleting what the run created.
    Teardown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Completed,
    Interrupted,
    Error,
}

/// A Job as observed: only the fields the analysis reads.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct JobObs {
    pub recv_ms: i64,
    pub name: String,
    /// Owning CronJob (from ownerReferences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cronjob: Option<String>,
    /// The annotation `batch.kubernetes.io/cronjob-scheduled-timestamp`, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// `metadata.creationTimestamp`, RFC 3339, whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub active: i32,
    #[serde(default)]
    pub succeeded: i32,
    #[serde(default)]
    pub failed: i32,
    /// `status.completionTime`, whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// True when a `Failed` condition is set.
    #[serde(default)]
    pub job_failed: bool,
    #[serde(default)]
    pub deleted: bool,
}

/// A Pod as observed.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PodObs {
    pub recv_ms: i64,
    pub name: String,
    /// From the label `batch.kubernetes.io/job-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `status.phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PodPhase>,
    /// Last transition time of the `PodScheduled=True` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// Earliest container `state.running.startedAt` or `state.terminated.startedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Latest container `state.terminated.finishedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub deleted: bool,
}

/// A Pod's `status.phase`. A phase this version does not know is kept as written, so a log
/// read and written again is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "String", into = "String")]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
    Other(String),
}

impl From<&str> for PodPhase {
    fn from(s: &str) -> Self {
        match s {
            "Pending" => Self::Pending,
            "Running" => Self::Running,
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            "Unknown" => Self::Unknown,
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<String> for PodPhase {
    fn from(s: String) -> Self {
        Self::from(s.as_str())
    }
}

impl From<PodPhase> for String {
    fn from(p: PodPhase) -> Self {
        p.as_str().to_string()
    }
}

impl PodPhase {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Unknown => "Unknown",
            Self::Other(s) => s,
        }
    }
}

/// The one reading of a Pod observation's lifecycle, used by observe's live counter, analyze,
/// report and find-limit alike.
impl PodObs {
    /// A container ran: the kubelet reported a container start time, or the phase says a
    /// container is or was running. A Failed pod counts only with a start time: Failed is also
    /// what a pod whose container never ran ends in (image pull, eviction, deadline), and the
    /// kubelet writes `startedAt` whenever a container did run, so the time is the evidence.
    pub fn started(&self) -> bool {
        self.started_at.is_some()
            || matches!(self.phase, Some(PodPhase::Running | PodPhase::Succeeded))
    }

    /// On a node: the scheduler bound it, or it started (a start implies a binding even when
    /// the observation that carried the node was missed).
    pub fn bound(&self) -> bool {
        self.node.is_some() || self.started()
    }

    /// In a terminal phase.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Some(PodPhase::Succeeded | PodPhase::Failed))
    }

    pub fn succeeded(&self) -> bool {
        self.phase == Some(PodPhase::Succeeded)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeObs {
    pub recv_ms: i64,
    pub name: String,
    pub ready: bool,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventObs {
    pub recv_ms: i64,
    pub reason: String,
    /// `regarding.kind` and `regarding.name`.
    pub kind: String,
    pub object: String,
    /// `eventTime` (microseconds) or, when absent, the deprecated first timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_phases_round_trip_and_unknown_ones_are_kept() {
        for name in [
            "Pending",
            "Running",
            "Succeeded",
            "Failed",
            "Unknown",
            "Evicting",
        ] {
            let json = format!("\"{name}\"");
            let p: PodPhase = serde_json::from_str(&json).expect("phase parses");
            assert_eq!(serde_json::to_string(&p).expect("phase writes"), json);
        }
        let other: PodPhase = serde_json::from_str("\"Evicting\"").expect("phase parses");
        assert_eq!(other, PodPhase::Other("Evicting".into()));
    }
}
