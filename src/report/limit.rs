//! The terminal text of find-limit's report ([`LimitReport`]) and of a node-count sweep
//! ([`SweepReport`]): plain data in, text out.

use std::fmt::{self, Write};

use super::write::render;
use crate::limit::confirm::{ConfirmStep, ConfirmVerdict, Confirmation};
use crate::limit::report::{LimitReport, StepRecord};
use crate::limit::step::Failure;
use crate::limit::sweep::SweepReport;
use crate::results::Stage;

/// A few lines for the terminal: the steps by load, the limit, the bottleneck, the notes.
pub fn limit_summary(r: &LimitReport) -> String {
    render(|out| {
        write_steps(out, r)?;
        write_limit(out, r)?;
        write_bottleneck(out, r)?;
        if let Some(c) = &r.confirmation {
            write_confirmation(out, c)?;
        }
        for n in &r.notes {
            writeln!(out, "note: {n}")?;
        }
        Ok(())
    })
}

/// The step's row of the terminal table.
fn step_row(s: &StepRecord) -> String {
    let p = |st: Stage| {
        s.p(st, |l| l.p99_ms)
            .map_or("-".to_string(), |v| format!("{:.1}s", v as f64 / 1000.0))
    };
    format!(
        "{:>5} {:>9.1} {:>9.1} {:>9.1} {:>8} {:>10} {:>10} {:>10} {:>10}  {}",
        s.cronjobs,
        s.counts.offered_per_minute,
        s.counts.achieved_per_minute,
        s.counts.started_per_minute,
        s.counts.backlog.last().map_or(0, |b| b.backlog),
        p(Stage::ScheduleToJobCreated),
        p(Stage::JobCreatedToPodCreated),
        p(Stage::PodCreatedToBound),
        p(Stage::BoundToStarted),
        match (s.verdict.sustainable, s.drain) {
            (true, _) => "yes".to_string(),
            (false, Some(d)) if !d.drained => format!(
                "no (judged on the previous step's backlog: not drained after {:.0} s)",
                d.waited_s
            ),
            (false, _) => "no".to_string(),
        },
    )
}

/// One row per step, sorted by load.
fn write_steps(out: &mut String, r: &LimitReport) -> fmt::Result {
    writeln!(
        out,
        "{:>5} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10}  held",
        "jobs",
        "offered",
        "on time",
        "started",
        "backlog",
        "p99 cj",
        "p99 job",
        "p99 sched",
        "p99 start"
    )?;
    let mut steps: Vec<&StepRecord> = r.steps.iter().collect();
    steps.sort_by_key(|s| (s.cronjobs, s.step));
    for s in steps {
        writeln!(out, "{}", step_row(s))?;
    }
    Ok(())
}

fn write_limit(out: &mut String, r: &LimitReport) -> fmt::Result {
    let f = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0}"));
    writeln!(
        out,
        "limit: {} jobs/min sustainable, interval [{}, {}), target {} -> {}; {} steps in {:.1} min ({})",
        f(r.limit_jobs_per_minute),
        f(r.interval[0]),
        f(r.interval[1]),
        r.target_jobs_per_minute,
        match r.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "undecided",
        },
        r.steps.len(),
        r.wall_s / 60.0,
        r.outcome.map_or("no outcome", |o| o.reason.describe()),
    )?;
    if let Some(line) = busiest_node_line(r) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn write_bottleneck(out: &mut String, r: &LimitReport) -> fmt::Result {
    let Some(b) = &r.bottleneck else {
        return writeln!(out, "bottleneck: not named (fewer than two loads measured)");
    };
    writeln!(
        out,
        "bottleneck: {} ({}): p99 +{:.1} s from {} to {} CronJobs",
        b.component,
        b.stage.label(),
        b.p99_growth_ms as f64 / 1000.0,
        b.baseline_cronjobs,
        b.reference_cronjobs
    )?;
    for e in &b.evidence {
        writeln!(out, "  {e}")?;
    }
    Ok(())
}

/// The confirmation's verdict, then one line per step with the figures it was judged on.
fn write_confirmation(out: &mut String, c: &Confirmation) -> fmt::Result {
    let sides = |c: &Confirmation| {
        let names: Vec<String> = c
            .contradicted
            .iter()
            .map(|s| {
                let what = if s.must_hold() {
                    "did not hold"
                } else {
                    "held"
                };
                format!("{} {what}", s.label())
            })
            .collect();
        names.join(", ")
    };
    let verdict = match c.verdict {
        ConfirmVerdict::Confirmed => format!(
            "confirmed in {:.1} min from the search's start",
            c.time_to_confirmed_s.unwrap_or(0.0) / 60.0
        ),
        ConfirmVerdict::Contradicted => format!("CONTRADICTED: {}", sides(c)),
        ConfirmVerdict::NoLimit => "not run: the search found no load that held".to_string(),
        ConfirmVerdict::Incomplete => "incomplete: ended before both steps were judged".into(),
    };
    writeln!(
        out,
        "confirmation ({} min per step): {verdict}",
        c.duration_minutes
    )?;
    for s in &c.steps {
        writeln!(out, "  {}", confirm_row(s))?;
    }
    Ok(())
}

/// A confirmation step: its load, the figures the search's criteria read, and its verdict.
fn confirm_row(s: &ConfirmStep) -> String {
    let r = &s.record;
    let ratio = r
        .on_time_ratio
        .map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    let p99 = r
        .p(Stage::ScheduleToStarted, |l| l.p99_ms)
        .map_or("-".to_string(), |v| format!("{:.1} s", v as f64 / 1000.0));
    let held = if s.held {
        "held".to_string()
    } else {
        let why: Vec<String> = r.verdict.failures.iter().map(failure_text).collect();
        format!("did not hold ({})", why.join("; "))
    };
    format!(
        "{}: {} CronJobs, offered {:.1}/min, on time {:.1}/min ({ratio}), backlog {}, p99 schedule->started {p99}: {held}, must {}hold -> {}",
        s.side.label(),
        s.cronjobs,
        s.rate_per_minute,
        r.counts.achieved_per_minute,
        r.counts.backlog.last().map_or(0, |b| b.backlog),
        if s.must_hold { "" } else { "not " },
        if s.agrees { "agrees" } else { "CONTRADICTS" },
    )
}

fn failure_text(f: &Failure) -> String {
    match f {
        Failure::NoExpectedRuns => "no run expected".into(),
        Failure::LowOnTimeRatio { ratio, min } => {
            format!("on time {:.1}% < {:.0}%", ratio * 100.0, min * 100.0)
        }
        Failure::GrowingBacklog { previous, end, max } => {
            format!("backlog grew {previous} -> {end} (> {max})")
        }
        Failure::SloP99 { p99_s, limit_s } => format!("p99 {p99_s:.1} s > {limit_s:.0} s"),
        Failure::NoStarts => "no run started".into(),
    }
}

/// The per-node rate at the limit, from the busiest node of the highest step that held
/// (the mean over nodes hides a scheduler that puts a tick on one node).
fn busiest_node_line(r: &LimitReport) -> Option<String> {
    let held = r
        .steps
        .iter()
        .filter(|s| s.verdict.sustainable)
        .max_by_key(|s| (s.cronjobs, s.step))?;
    let rate = held.busiest_node_started_per_second()?;
    let balance = held.node_balance.as_ref().map_or(String::new(), |b| {
        format!(
            "; imbalance (busiest node / mean over {} nodes) mean {:.2}, max {:.2}",
            b.nodes, b.mean_imbalance, b.max_imbalance
        )
    });
    Some(format!(
        "per node at the limit: {rate:.2} pods/s started on the busiest node ({} CronJobs){balance}",
        held.cronjobs
    ))
}

/// The sweep's table for the terminal: one row per node count, then the scaling.
pub fn sweep_summary(r: &SweepReport) -> String {
    let f = |v: Option<f64>, d: usize| v.map_or("?".to_string(), |v| format!("{v:.d$}"));
    render(|out| {
        writeln!(
            out,
            "{:>5} {:>10} {:>16} {:>12} {:>12} {:>6} {:>8}  bottleneck",
            "nodes", "limit/min", "interval", "pods/s/node", "busiest/s", "steps", "minutes"
        )?;
        for p in &r.points {
            writeln!(
                out,
                "{:>5} {:>10} {:>16} {:>12} {:>12} {:>6} {:>8.1}  {}",
                p.nodes,
                f(p.limit_jobs_per_minute, 0),
                format!("[{}, {})", f(p.interval[0], 0), f(p.interval[1], 0)),
                f(p.per_node_started_per_second, 2),
                f(p.busiest_node_started_per_second, 2),
                p.steps,
                p.wall_s / 60.0,
                p.bottleneck.as_deref().unwrap_or("-"),
            )?;
        }
        writeln!(
            out,
            "scaling: {:?} (limit x{} for nodes x{}); {:.1} min in all",
            r.scaling,
            f(r.limit_ratio, 2),
            f(r.nodes_ratio, 2),
            r.wall_s / 60.0
        )?;
        if let Some(why) = &r.ended_early {
            writeln!(out, "ended early: {why}")?;
        }
        Ok(())
    })
}
