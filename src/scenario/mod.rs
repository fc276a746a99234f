//! Scenario files: what load to create, how to apply it, and what passes.
//!
//! Every field has a default, so `{}` is a valid (tiny) scenario. Unknown keys are rejected.
//!
//! - [`Scenario::from_file`] parses and validates a scenario (every problem at once).
//! - [`Scenario::cronjob_defs`] resolves the CronJobs to create (inline or from `load.jobs_dir`).
//! - [`cron`] parses schedules as Kubernetes does and computes ticks and rates.
//! - [`lint()`] checks a scenario, a job-definition file or a folder of them.

pub mod bounds;
mod civil;
mod class_check;
pub mod classes;
pub mod cron;
mod error;
pub mod jobdefs;
mod kinds;
pub mod lint;
mod load;
mod text;
pub mod validate;
pub mod zone;

pub use cron::{Schedule, jobs_per_minute, parse_schedule, ticks_between};
pub use error::{MAX_FILE_BYTES, Problem, ScenarioError};
pub use kinds::{ConcurrencyPolicy, ImagePullPolicy, TolerationEffect, TolerationOperator};
pub use lint::{LintKind, LintReport, LintSummary, lint};
pub use load::{Checked, SCENARIO_EXAMPLE, SCENARIO_KEYS, scenario_dir, slo_problems};
pub use text::read_text;
pub use zone::{ticks_in, time_zone};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports.
    pub name: String,
    pub load: Load,
    pub apply: Apply,
    pub duration: Durations,
    pub slo: Slo,
    /// Game-day faults applied to the local cluster during the run (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

/// One game-day fault: at `at_s` seconds after the warm-up phase starts, break something for
/// `duration_s` seconds, then bring it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Seconds from the start of the warm-up phase.
    pub at_s: u64,
    pub kind: FaultKind,
    /// How long the fault lasts before it is undone.
    #[serde(default)]
    pub duration_s: u64,
    /// The node for `delete-node` (default: the first kwok node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// What a fault breaks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGTERM the controller manager (the CronJob controller), start it again after the
    /// duration: it must catch up on the ticks it missed.
    RestartControllerManager,
    /// SIGTERM the apiserver, start it again: every client relists.
    RestartApiserver,
    /// SIGKILL the scheduler (a crash), start it again: pods stay Pending meanwhile.
    KillScheduler,
    /// SIGKILL etcd (the only member), start it again.
    RestartEtcd,
    /// Stop the kwok controller, which answers for the nodes: they go NotReady as if cut off
    /// from the apiserver by a network partition; started again they come back.
    StopNodes,
    /// Delete a Node object; it is registered again after the duration.
    DeleteNode,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::RestartControllerManager,
        FaultKind::RestartApiserver,
        FaultKind::KillScheduler,
        FaultKind::RestartEtcd,
        FaultKind::StopNodes,
        FaultKind::DeleteNode,
    ];

    /// The name used in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::RestartControllerManager => "restart-controller-manager",
            FaultKind::RestartApiserver => "restart-apiserver",
            FaultKind::KillScheduler => "kill-scheduler",
            FaultKind::RestartEtcd => "restart-etcd",
            FaultKind::StopNodes => "stop-nodes",
            FaultKind::DeleteNode => "delete-node",
        }
    }

    /// The local cluster's component (kwokctl's pid-file name) the fault stops, if any.
    pub fn component(self) -> Option<&'static str> {
        match self {
            FaultKind::RestartControllerManager => Some("kube-controller-manager"),
            FaultKind::RestartApiserver => Some("kube-apiserver"),
            FaultKind::KillScheduler => Some("kube-scheduler"),
            FaultKind::RestartEtcd => Some("etcd"),
            FaultKind::StopNodes => Some("kwok-controller"),
            FaultKind::DeleteNode => None,
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CronJobs to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Load {
    /// Number of identical CronJobs (ignored when `jobs_dir` is set).
    pub cronjobs: u32,
    /// 5-field cron expression.
    pub schedule: String,
    /// The zone `schedule` is read in (`spec.timeZone`): an IANA name; unset is UTC. With
    /// `jobs_dir`, the zone of every job definition that names none.
    pub time_zone: Option<String>,
    pub command: Vec<String>,
    pub image: String,
    pub image_pull_policy: ImagePullPolicy,
    pub resources: Resources,
    /// Names are `{name_prefix}{index:05}`.
    pub name_prefix: String,
    pub concurrency_policy: ConcurrencyPolicy,
    pub successful_jobs_history_limit: i32,
    pub failed_jobs_history_limit: i32,
    pub starting_deadline_seconds: Option<i64>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// A folder of job definitions in the simple format (name, kubernetes.schedule, command,
    /// resources); relative to the scenario file. When set, replaces `cronjobs`.
    pub jobs_dir: Option<PathBuf>,
    /// A mixed fleet: classes of CronJobs, each with its own schedule, zone, run time, failure
    /// share and policies. When set, `cronjobs` is the total that class shares divide, and
    /// `schedule` is unused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<classes::Class>,
    /// Seeds the random stream of generated schedules, run times and suspended CronJobs.
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<TolerationOperator>,
    pub value: Option<String>,
    pub effect: Option<TolerationEffect>,
}

/// How the CronJobs are created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Apply {
    /// Creations per second; 0 means unlimited.
    pub qps: f64,
    pub burst: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// Phases of a run, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Durations {
    /// Ticks in this window after the last CronJob is created are observed but not counted.
    pub warmup_s: u64,
    /// Ticks in this window count toward the verdict.
    pub measure_s: u64,
    /// After the window, how long to wait for in-flight runs to start and finish.
    pub drain_s: u64,
}

/// What passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Slo {
    /// Jobs started per minute the cluster must sustain.
    pub target_jobs_per_minute: f64,
    /// p99 of scheduled -> container started, seconds.
    pub p99_schedule_to_start_s: f64,
    /// Runs started within this many seconds of their schedule ...
    pub start_within_s: f64,
    /// ... must be at least this share of all expected runs.
    pub min_started_share: f64,
    /// Share of expected runs that must complete.
    pub min_completed_share: f64,
    /// Missed schedules allowed.
    pub max_missed: u64,
    /// A pod Pending longer than this counts as stuck.
    pub max_pending_s: f64,
    /// Stuck pods allowed.
    pub max_stuck_pods: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "unnamed".into(),
            load: Load::default(),
            apply: Apply::default(),
            duration: Durations::default(),
            slo: Slo::default(),
            faults: Vec::new(),
        }
    }
}

impl Default for Load {
    fn default() -> Self {
        Load {
            cronjobs: 50,
            schedule: "* * * * *".into(),
            time_zone: None,
            command: vec!["bash".into(), "-c".into(), "echo hello world".into()],
            image: "busybox:1.36".into(),
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            resources: Resources {
                requests: BTreeMap::from([
                    ("cpu".into(), "10m".into()),
                    ("memory".into(), "16Mi".into()),
                ]),
                limits: BTreeMap::new(),
            },
            name_prefix: "cb-".into(),
            concurrency_policy: ConcurrencyPolicy::Allow,
            successful_jobs_history_limit: 3,
            failed_jobs_history_limit: 1,
            starting_deadline_seconds: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            jobs_dir: None,
            classes: Vec::new(),
            seed: classes::DEFAULT_SEED,
        }
    }
}

impl Default for Apply {
    fn default() -> Self {
        Apply {
            qps: 50.0,
            burst: 100,
            concurrency: 16,
        }
    }
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            warmup_s: 60,
            measure_s: 180,
            drain_s: 60,
        }
    }
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            // The seeds' need, which the default 50 every-minute CronJobs can reach.
            target_jobs_per_minute: 50.0,
            p99_schedule_to_start_s: 60.0,
            start_within_s: 1200.0,
            min_started_share: 0.9999,
            min_completed_share: 0.9999,
            max_missed: 0,
            max_pending_s: 300.0,
            max_stuck_pods: 0,
        }
    }
}

/// One CronJob to create, after defaults and job definitions are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CronJobDef {
    pub name: String,
    pub schedule: String,
    /// `spec.timeZone`: an IANA name; `None` is UTC.
    pub time_zone: Option<String>,
    pub command: Vec<String>,
    /// Shared by every CronJob of a class or of `load:` (one copy, not one per CronJob: at
    /// 50,000 CronJobs the copies were 27 MB of the run's 82 MB heap peak).
    pub resources: Arc<Resources>,
    /// The job definition it was read from; `None` for the scenario's own `load:`.
    pub defined_in: Option<jobdefs::Place>,
    /// What its class sets (`load.classes`); `None` takes `load:`'s settings.
    pub class: Option<classes::ClassPart>,
}

impl CronJobDef {
    /// The CronJobs that differ in more than their names: the first of the scenario's
    /// identical `load:` ones, the first of each class (its others differ only in a generated
    /// schedule, run time or suspend, which the class's checks bound), and every job definition.
    pub fn distinct(defs: &[CronJobDef]) -> impl Iterator<Item = &CronJobDef> {
        let mut inline_seen = false;
        let mut classes_seen = std::collections::BTreeSet::new();
        defs.iter()
            .filter(move |d| match (&d.defined_in, &d.class) {
                (Some(_), _) => true,
                (None, Some(c)) => classes_seen.insert(c.class.clone()),
                (None, None) => !std::mem::replace(&mut inline_seen, true),
            })
    }
}
