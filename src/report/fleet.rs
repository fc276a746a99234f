//! The mixed fleet's tables as rows of text, shared by the HTML page, the Markdown and the
//! terminal summary so that all three say the same thing: one row per class, the policy
//! counts and the herd in one sentence.

use std::fmt::{self, Write};

use crate::results::{
    ClassResults, ControllerWarning, Herd, HerdLatency, Policies, Results, Stage, ZoneResults,
};

use super::NA;
use super::charts::fmt_ms;
use super::text::md_cell;

/// Column headers of [`class_row`].
pub(crate) const CLASS_HEADERS: [&str; 12] = [
    "class",
    "zone(s)",
    "CronJobs",
    "expected",
    "started on time",
    "missed",
    "skipped",
    "failed",
    "p50 schedule -> started",
    "p99 schedule -> started",
    "verdict",
    "on time within",
];

/// Warnings always listed, even at zero (the others only when seen).
const WARNINGS_SHOWN: [ControllerWarning; 5] = [
    ControllerWarning::TooManyMissedTimes,
    ControllerWarning::FailedNeedsStart,
    ControllerWarning::UnexpectedJob,
    ControllerWarning::FailedCreate,
    ControllerWarning::MissSchedule,
];

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| NA.to_string(), |v| fmt_ms(v as f64))
}

/// One class: [`CLASS_HEADERS`] in order.
pub(crate) fn class_row(c: &ClassResults) -> [String; 12] {
    let s2s = c
        .stages
        .iter()
        .find(|s| s.stage == Stage::ScheduleToStarted);
    let n = &c.counts;
    let verdict = match &c.verdict {
        None => "reported (no class SLO)".to_string(),
        Some(v) if v.pass => "PASS".to_string(),
        Some(v) => {
            let failed: Vec<&str> = v
                .checks
                .iter()
                .filter(|k| !k.pass)
                .map(|k| k.name.as_str())
                .collect();
            format!("FAIL ({})", failed.join(", "))
        }
    };
    [
        c.class.clone(),
        c.zones.join(", "),
        if n.suspended > 0 {
            format!("{} ({} suspended)", n.cronjobs, n.suspended)
        } else {
            n.cronjobs.to_string()
        },
        n.expected.to_string(),
        n.started_on_time.to_string(),
        n.missed.to_string(),
        (n.skipped_while_active + n.skipped_past_deadline).to_string(),
        n.failed.to_string(),
        ms(s2s.and_then(|s| s.p50_ms)),
        ms(s2s.and_then(|s| s.p99_ms)),
        verdict,
        format!("{} s", super::fmt_num(c.start_within_s)),
    ]
}

/// The policy counts as (name, value) pairs.
pub(crate) fn policy_rows(p: &Policies) -> Vec<(String, String)> {
    let mut rows = vec![
        (
            "Forbid: overlapping Jobs (must be 0)".to_string(),
            format!("{} ({} CronJobs)", p.forbid.overlaps, p.forbid.cronjobs),
        ),
        (
            "Forbid: skipped while the previous run was active".to_string(),
            format!(
                "{} ({} JobAlreadyActive events)",
                p.forbid.skipped_while_active, p.forbid.job_already_active_events
            ),
        ),
        (
            "Replace: replaced Jobs".to_string(),
            format!(
                "{} ({} CronJobs)",
                p.replace.replacements, p.replace.cronjobs
            ),
        ),
        (
            "startingDeadlineSeconds: skipped past the deadline".to_string(),
            format!(
                "{} ({} CronJobs)",
                p.deadline.skipped_past_deadline, p.deadline.cronjobs
            ),
        ),
        ("Jobs failed".to_string(), p.jobs_failed.to_string()),
        (
            "runs whose pod never started".to_string(),
            p.runs_not_started.to_string(),
        ),
        (
            "pods never started (any run)".to_string(),
            p.pods_never_started.to_string(),
        ),
    ];
    for (w, n) in &p.controller_warnings {
        if *n > 0 || WARNINGS_SHOWN.contains(w) {
            rows.push((format!("controller Warning {}", w.reason()), n.to_string()));
        }
    }
    rows
}

/// Each zone in a few words: what the per-class table says, per `spec.timeZone`.
pub(crate) fn zone_line(z: &ZoneResults) -> String {
    let n = &z.counts;
    let p99 = z
        .stages
        .iter()
        .find(|s| s.stage == Stage::ScheduleToStarted)
        .and_then(|s| s.p99_ms);
    format!(
        "{}: {} CronJobs, {} expected, {} started on time, {} missed, {} skipped, p99 schedule \
         -> started {}",
        z.zone,
        n.cronjobs,
        n.expected,
        n.started_on_time,
        n.missed,
        n.skipped_while_active + n.skipped_past_deadline,
        ms(p99)
    )
}

fn latency(l: &HerdLatency) -> String {
    format!("p99 {} of {} started", ms(l.p99_ms), l.started)
}

/// The herd in one sentence.
pub(crate) fn herd_line(h: &Herd) -> String {
    format!(
        "{} hour boundary(ies): peak {} starts/s{}; schedule -> started at :00 {}, other runs {}",
        h.hours,
        h.peak_per_second,
        h.peak_offset_s
            .map_or_else(String::new, |o| format!(" at {o:+} s")),
        latency(&h.top_of_hour),
        latency(&h.rest),
    )
}

/// The Markdown section: the per-class table, the herd and the policy counts.
pub(crate) fn markdown(out: &mut String, results: &Results) -> fmt::Result {
    if !has_fleet(results) {
        return Ok(());
    }
    writeln!(out, "\n### Classes and policies\n")?;
    if !results.classes.is_empty() {
        writeln!(out, "| {} |", CLASS_HEADERS.join(" | "))?;
        writeln!(out, "|{}", "---|".repeat(CLASS_HEADERS.len()))?;
        for c in &results.classes {
            let cells: Vec<String> = class_row(c).iter().map(|v| md_cell(v)).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        writeln!(out)?;
    }
    for z in &results.zones {
        writeln!(out, "- {}", md_cell(&zone_line(z)))?;
    }
    if let Some(h) = &results.herd {
        writeln!(out, "\nTop-of-hour herd: {}.\n", herd_line(h))?;
    }
    if let Some(p) = &results.policies {
        let rows: Vec<String> = policy_rows(p)
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(out, "{}.", rows.join("; "))?;
    }
    Ok(())
}

/// The terminal block: one line per class, the herd and the policy counts.
pub(crate) fn terminal(out: &mut impl Write, results: &Results) -> fmt::Result {
    if !has_fleet(results) {
        return Ok(());
    }
    if !results.classes.is_empty() {
        writeln!(
            out,
            "classes (expected / on time / missed / skipped / failed; p50 / p99 schedule -> started)"
        )?;
        let w = results
            .classes
            .iter()
            .map(|c| c.class.len())
            .max()
            .unwrap_or(0);
        for c in &results.classes {
            let r = class_row(c);
            writeln!(
                out,
                "  {:<w$}  {} / {} / {} / {} / {};  {} / {};  {}  [{}; {} CronJobs]",
                r[0], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[1], r[2]
            )?;
        }
    }
    for z in &results.zones {
        writeln!(out, "  zone {}", zone_line(z))?;
    }
    if let Some(h) = &results.herd {
        writeln!(out, "herd: {}", herd_line(h))?;
    }
    if let Some(p) = &results.policies {
        for (k, v) in policy_rows(p) {
            writeln!(out, "  {k}: {v}")?;
        }
    }
    out.write_char('\n')
}

fn has_fleet(results: &Results) -> bool {
    !results.classes.is_empty() || results.policies.is_some() || results.herd.is_some()
}
