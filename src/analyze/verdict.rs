//! The verdict: each SLO check of the scenario against the results, where a check with no
//! samples fails rather than passes.

use crate::results::{
    Check, CheckResult, Clock, Counts, GroupCounts, LATENCY_MAX_MS, Stage, StageStats, Throughput,
    Verdict,
};
use crate::scenario::Slo;
use crate::scenario::classes::ClassSlo;

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

/// The whole fleet's verdict. The started and completed shares are of the expected runs less
/// the `skipped` ticks (Forbid while the previous run was active, past a starting deadline).
pub(super) fn verdict(
    slo: &Slo,
    counts: &Counts,
    skipped: u64,
    tp: &Throughput,
    stages: &[StageStats],
) -> Verdict {
    let denominator = counts.expected.saturating_sub(skipped).max(counts.observed);
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
            Check::JobsPerMinute => rate_check(c, slo, tp),
            Check::P99ScheduleToStart => p99_check(c, slo, stages),
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

/// The mean start rate in the window against the target.
fn rate_check(c: Check, slo: &Slo, tp: &Throughput) -> CheckResult {
    let t = slo.target_jobs_per_minute;
    match tp.started_per_minute_mean {
        None => no_samples(c, t, None, "no measured window of positive length"),
        Some(m) if tp.started_in_window == 0 => {
            no_samples(c, t, Some(m), "no run started in the measured window")
        }
        Some(m) => check(c, t, m),
    }
}

/// The p99 of schedule -> started (client clock) against the SLO, noting the outliers above
/// the histogram's maximum.
fn p99_check(c: Check, slo: &Slo, stages: &[StageStats]) -> CheckResult {
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

/// A class's verdict: only the checks its own SLO sets (p99 schedule -> started, and the share
/// started within its `start_within_s`, counted in `counts.started_on_time`).
pub(super) fn class_verdict(slo: &ClassSlo, counts: &GroupCounts, p99_ms: Option<u64>) -> Verdict {
    let mut checks = Vec::new();
    if let Some(t) = slo.p99_schedule_to_start_s {
        let c = Check::P99ScheduleToStart;
        checks.push(match p99_ms {
            None => no_samples(
                c,
                t,
                None,
                "no run of the class scheduled in the window started",
            ),
            Some(p) => check(c, t, p as f64 / 1000.0),
        });
    }
    if let Some(t) = slo.min_started_share {
        let c = Check::StartedShare;
        let skipped = counts.skipped_while_active + counts.skipped_past_deadline;
        let denominator = counts.expected.saturating_sub(skipped).max(counts.observed);
        checks.push(if denominator == 0 {
            no_samples(
                c,
                t,
                None,
                "no run of the class expected or observed in the window",
            )
        } else {
            check(c, t, counts.started_on_time as f64 / denominator as f64)
        });
    }
    Verdict {
        pass: checks.iter().all(|c| c.pass),
        checks,
    }
}
