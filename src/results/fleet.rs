//! The mixed-fleet parts of `results.json` (`load.classes`, time zones, concurrency policies,
//! deadlines): per-policy accounting, results per class and per zone, and the top-of-hour herd.
//! Each is written only when the log has such a fleet (or, for `policies`, when the controller
//! warned), so results of uniform fleets are unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{StageStats, Verdict};

/// Most classes reported one by one; CronJobs of later classes (in the scenario's order, then
/// first seen) count only in the whole-fleet figures, and `anomalies.notes` says so.
pub const CLASSES_MAX: usize = 64;
/// Most time zones reported one by one, likewise.
pub const ZONES_MAX: usize = 64;
/// Significant digits of the per-class and per-zone histograms (the whole fleet's have 3).
pub const GROUP_SIGFIG: u8 = 2;
/// The herd window around each hour boundary: from `HERD_BEFORE_S` before to `HERD_AFTER_S`
/// after.
pub const HERD_BEFORE_S: i64 = 60;
pub const HERD_AFTER_S: i64 = 300;

/// Per-policy accounting. Runs are counted when scheduled in the measured window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policies {
    pub forbid: ForbidCounts,
    pub replace: ReplaceCounts,
    pub deadline: DeadlineCounts,
    /// `event` lines about a CronJob with each Warning reason of the CronJob controller
    /// (every reason listed, zeros included). `FailedNeedsStart` is the older controller's;
    /// v1.36's does not emit it.
    pub controller_warnings: BTreeMap<ControllerWarning, u64>,
    /// Runs whose Job got a `Failed` condition (`counts.failed`): their pod ran or the Job's
    /// own deadline or backoff limit ended it.
    pub jobs_failed: u64,
    /// Runs observed whose pod never started (no pod, or one that never ran a container).
    pub runs_not_started: u64,
    /// Pods of any run that never started (client clock), whatever their run's schedule.
    pub pods_never_started: u64,
}

/// CronJobs with `concurrencyPolicy: Forbid`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForbidCounts {
    pub cronjobs: u64,
    /// Jobs first seen while another Job of the same CronJob was active (seen neither
    /// complete, failed nor deleted): must be 0.
    pub overlaps: u64,
    /// Expected ticks with no Job whose time fell while an earlier Job of the CronJob was
    /// active: skipped as the policy says, not missed (`counts.missed` leaves them out).
    pub skipped_while_active: u64,
    /// `event` lines about a CronJob with the reason `JobAlreadyActive` (a Normal event: the
    /// controller held a tick back; sent at every sync that does, so usually more than the
    /// ticks held back).
    pub job_already_active_events: u64,
}

/// CronJobs with `concurrencyPolicy: Replace`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplaceCounts {
    pub cronjobs: u64,
    /// Jobs deleted while active (seen deleted before complete or failed) for which a Job of
    /// a later schedule of the same CronJob was seen.
    pub replacements: u64,
}

/// CronJobs with `startingDeadlineSeconds`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeadlineCounts {
    pub cronjobs: u64,
    /// Expected ticks with no Job that the controller reported with a `MissSchedule` event
    /// naming that scheduled time: skipped past the deadline, not missed (`counts.missed`
    /// leaves them out).
    pub skipped_past_deadline: u64,
}

/// The CronJob controller's Warning event reasons.
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
pub enum ControllerWarning {
    TooManyMissedTimes,
    FailedNeedsStart,
    UnexpectedJob,
    FailedCreate,
    MissSchedule,
    FailedGet,
    FailedDelete,
    UnknownTimeZone,
    UnparseableSchedule,
    InvalidSchedule,
    UnsupportedSchedule,
    UnParseableCronJobSchedule,
}

impl ControllerWarning {
    pub const ALL: [ControllerWarning; 12] = [
        ControllerWarning::TooManyMissedTimes,
        ControllerWarning::FailedNeedsStart,
        ControllerWarning::UnexpectedJob,
        ControllerWarning::FailedCreate,
        ControllerWarning::MissSchedule,
        ControllerWarning::FailedGet,
        ControllerWarning::FailedDelete,
        ControllerWarning::UnknownTimeZone,
        ControllerWarning::UnparseableSchedule,
        ControllerWarning::InvalidSchedule,
        ControllerWarning::UnsupportedSchedule,
        ControllerWarning::UnParseableCronJobSchedule,
    ];

    /// The event's reason, as the controller writes it.
    pub fn reason(self) -> &'static str {
        match self {
            ControllerWarning::TooManyMissedTimes => "TooManyMissedTimes",
            ControllerWarning::FailedNeedsStart => "FailedNeedsStart",
            ControllerWarning::UnexpectedJob => "UnexpectedJob",
            ControllerWarning::FailedCreate => "FailedCreate",
            ControllerWarning::MissSchedule => "MissSchedule",
            ControllerWarning::FailedGet => "FailedGet",
            ControllerWarning::FailedDelete => "FailedDelete",
            ControllerWarning::UnknownTimeZone => "UnknownTimeZone",
            ControllerWarning::UnparseableSchedule => "UnparseableSchedule",
            ControllerWarning::InvalidSchedule => "InvalidSchedule",
            ControllerWarning::UnsupportedSchedule => "UnsupportedSchedule",
            ControllerWarning::UnParseableCronJobSchedule => "UnParseableCronJobSchedule",
        }
    }

    pub fn from_reason(reason: &str) -> Option<ControllerWarning> {
        Self::ALL.into_iter().find(|w| w.reason() == reason)
    }
}

/// Counts of one class or zone; runs are those scheduled in the measured window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupCounts {
    /// CronJobs created (suspended ones included).
    pub cronjobs: u64,
    /// Of those, created suspended (no run expected).
    pub suspended: u64,
    /// Schedule ticks after each CronJob's creation (cron math).
    pub expected: u64,
    /// Distinct runs observed.
    pub observed: u64,
    pub started: u64,
    /// Started within the class's `slo.start_within_s` (else the fleet's).
    pub started_on_time: u64,
    /// Expected ticks with no run, not skipped by a policy.
    pub missed: u64,
    /// Expected ticks with no run skipped by `Forbid` ([`ForbidCounts::skipped_while_active`])
    /// or past the deadline ([`DeadlineCounts::skipped_past_deadline`]).
    pub skipped_while_active: u64,
    pub skipped_past_deadline: u64,
    pub failed: u64,
    pub completed: u64,
}

/// One class of `load.classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassResults {
    pub class: String,
    /// Time zones of its CronJobs (`UTC` for none), sorted.
    pub zones: Vec<String>,
    pub counts: GroupCounts,
    /// The on-time limit used for `started_on_time`, seconds.
    pub start_within_s: f64,
    /// Every stage on the client clock, in [`super::Stage::ALL`] order; percentiles to
    /// [`GROUP_SIGFIG`] significant digits.
    pub stages: Vec<StageStats>,
    /// Against the class's own `slo` (its set checks only); `None` when it has none.
    pub verdict: Option<Verdict>,
}

/// The CronJobs of one time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ZoneResults {
    /// `spec.timeZone`, `UTC` for none.
    pub zone: String,
    /// `started_on_time` uses the fleet's `slo.start_within_s`.
    pub counts: GroupCounts,
    /// As [`ClassResults::stages`].
    pub stages: Vec<StageStats>,
}

/// The top-of-hour herd: starts around each UTC hour boundary of the window, summed over them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Herd {
    /// Hour boundaries whose herd window touches the measured window.
    pub hours: u64,
    /// Offset of `starts_per_second[0]` from the hour boundary, seconds (-[`HERD_BEFORE_S`]).
    pub from_offset_s: i64,
    /// Pod starts (client clock, runs of any schedule, starts in the window) in each second
    /// from `from_offset_s`, summed over the hours.
    pub starts_per_second: Vec<u64>,
    /// The most starts in one second of any one herd window, and its offset from its hour.
    pub peak_per_second: u64,
    pub peak_offset_s: Option<i64>,
    /// Schedule -> started (client clock) of the window's runs scheduled at a UTC :00.
    pub top_of_hour: HerdLatency,
    /// ... and of the rest.
    pub rest: HerdLatency,
}

/// Schedule -> started of one set of runs, ms, 3 significant digits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HerdLatency {
    /// Runs started.
    pub started: u64,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub max_ms: Option<i64>,
}
