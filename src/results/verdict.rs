//! The verdict of `results.json`: its checks, how each compares, and their outcomes.

use serde::{Deserialize, Serialize};

/// A verdict check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Mean starts per minute over the window >= `slo.target_jobs_per_minute`.
    JobsPerMinute,
    /// p99 schedule -> started (client clock), seconds <= `slo.p99_schedule_to_start_s`.
    P99ScheduleToStart,
    /// Share of expected runs started within `slo.start_within_s` >= `slo.min_started_share`.
    /// The denominator is the expected runs less the ticks a policy skipped (Forbid while the
    /// previous run was active, past a starting deadline), or the observed runs if more.
    StartedShare,
    /// Share of expected runs completed >= `slo.min_completed_share` (same denominator).
    CompletedShare,
    /// Missed schedules <= `slo.max_missed`.
    Missed,
    /// Stuck pods <= `slo.max_stuck_pods`.
    StuckPods,
}

/// How a measured value is compared with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    AtLeast,
    AtMost,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
        }
    }

    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Comparison::AtLeast => measured >= threshold,
            Comparison::AtMost => measured <= threshold,
        }
    }
}

impl Check {
    pub const ALL: [Check; 6] = [
        Check::JobsPerMinute,
        Check::P99ScheduleToStart,
        Check::StartedShare,
        Check::CompletedShare,
        Check::Missed,
        Check::StuckPods,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::JobsPerMinute => "jobs started per minute",
            Check::P99ScheduleToStart => "p99 schedule -> started (s, client)",
            Check::StartedShare => "share started within deadline",
            Check::CompletedShare => "share completed",
            Check::Missed => "missed schedules",
            Check::StuckPods => "stuck pods",
        }
    }

    pub fn comparison(self) -> Comparison {
        match self {
            Check::JobsPerMinute | Check::StartedShare | Check::CompletedShare => {
                Comparison::AtLeast
            }
            Check::P99ScheduleToStart | Check::Missed | Check::StuckPods => Comparison::AtMost,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    pub check: Check,
    /// [`Check::name`].
    pub name: String,
    pub comparison: Comparison,
    pub threshold: f64,
    /// `None` when there was nothing to measure (which fails the check).
    pub measured: Option<f64>,
    pub pass: bool,
    /// Why a check failed without a measurement, or a caveat on the measurement.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// All checks pass and the run completed (an interrupted run never passes).
    pub pass: bool,
    /// One per [`Check::ALL`], in that order.
    pub checks: Vec<CheckResult>,
}
