//! Plain-text summary of [`Results`] for the terminal.

use std::fmt::{self, Write};

use super::balance;
use super::write::render;
use crate::results::{CheckResult, Results, StageStats, WindowEnd};

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn stage_row(s: &StageStats) -> [String; 13] {
    [
        s.stage.label().to_string(),
        s.clock.label().to_string(),
        s.count.to_string(),
        ms(s.p50_ms),
        ms(s.p90_ms),
        ms(s.p99_ms),
        ms(s.p999_ms),
        ms(s.p9999_ms),
        s.max_ms.map_or_else(|| "-".to_string(), |v| v.to_string()),
        s.mean_ms
            .map_or_else(|| "-".to_string(), |v| format!("{v:.1}")),
        s.outliers.to_string(),
        s.negatives.to_string(),
        s.precision.clone(),
    ]
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn check_line(c: &CheckResult) -> String {
    let measured = c.measured.map_or_else(|| "none".to_string(), number);
    let mut line = format!(
        "  {}  {}: {} (required {} {})",
        if c.pass { "PASS" } else { "FAIL" },
        c.name,
        measured,
        c.comparison.symbol(),
        number(c.threshold),
    );
    if let Some(note) = &c.note {
        line.push_str(&format!(" [{note}]"));
    }
    line
}

/// Renders the stage percentile table (milliseconds, with the precision of each clock), the
/// counts and the verdict, one check per line with PASS or FAIL.
pub fn summary_table(results: &Results) -> String {
    render(|out| {
        write_heading(out, results)?;
        write_stages(out, &results.stages)?;
        write_counts(out, results)?;
        write_balance(out, results)?;
        super::fleet::terminal(out, results)?;
        super::resources::terminal(out, results)?;
        if !results.faults.is_empty() {
            write_faults(out, results)?;
            out.write_char('\n')?;
        }
        write_verdict(out, results)
    })
}

fn write_heading(out: &mut impl Write, results: &Results) -> fmt::Result {
    let r = &results.run;
    writeln!(
        out,
        "run {} (scenario {}, {} nodes, server {}){}",
        r.run_id,
        r.scenario_name,
        r.nodes,
        r.server_version,
        if r.interrupted { ", INTERRUPTED" } else { "" }
    )?;
    match &results.window {
        Some(w) => writeln!(
            out,
            "measured window: {:.1} s (ends at {})",
            w.duration_s,
            match w.end {
                WindowEnd::Drain => "drain phase",
                WindowEnd::LastLine => "last line of an interrupted log",
            }
        )?,
        None => writeln!(out, "measured window: none (the run never reached measure)")?,
    }
    out.write_char('\n')
}

const STAGE_HEADER: [&str; 13] = [
    "stage",
    "clock",
    "count",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "p99.99",
    "max",
    "mean",
    "outliers",
    "negative",
    "precision",
];

fn write_stages(out: &mut impl Write, stages: &[StageStats]) -> fmt::Result {
    let header = STAGE_HEADER.map(String::from);
    let rows: Vec<[String; 13]> = stages.iter().map(stage_row).collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    writeln!(out, "latencies (ms)")?;
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if i < 2 || i == 12 {
                write!(line, "{cell:<w$}  ")?;
            } else {
                write!(line, "{cell:>w$}  ")?;
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    out.write_char('\n')
}

fn write_counts(out: &mut impl Write, results: &Results) -> fmt::Result {
    let c = &results.counts;
    let t = &results.throughput;
    writeln!(out, "counts")?;
    let lines = [
        ("cronjobs", c.cronjobs.to_string()),
        ("expected runs", c.expected.to_string()),
        (
            "observed runs",
            format!("{} ({} at any time)", c.observed, c.observed_total),
        ),
        ("missed", c.missed.to_string()),
        ("unexpected runs", c.unexpected.to_string()),
        ("started", c.started.to_string()),
        ("started within deadline", c.started_within_slo.to_string()),
        ("completed", c.completed.to_string()),
        ("failed jobs", c.failed.to_string()),
        ("stuck pods", format!("{} of {}", c.stuck_pods, c.pods)),
        ("duplicates", c.duplicates.to_string()),
        (
            "started per minute",
            t.started_per_minute_mean
                .map_or_else(|| "-".to_string(), |m| format!("{m:.2}")),
        ),
        (
            "peak per minute / second",
            format!("{} / {}", t.peak_per_minute, t.peak_per_second),
        ),
        ("peak pending pods", t.peak_pending.to_string()),
    ];
    let w = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        writeln!(out, "  {k:<w$}  {v}")?;
    }
    out.write_char('\n')
}

/// Where each tick's pods landed: the summary, then the first ticks one per line.
fn write_balance(out: &mut impl Write, results: &Results) -> fmt::Result {
    let Some(b) = &results.node_balance else {
        return Ok(());
    };
    writeln!(out, "node balance ({})", balance::definition(b))?;
    writeln!(out, "  {}", balance::summary(b))?;
    for t in b.per_tick.iter().take(balance::TICKS_LISTED) {
        writeln!(out, "  {}", balance::tick_line(t))?;
    }
    if let Some(more) = balance::more_line(b) {
        writeln!(out, "  {more}")?;
    }
    out.write_char('\n')
}

fn write_verdict(out: &mut impl Write, results: &Results) -> fmt::Result {
    writeln!(
        out,
        "verdict: {}{}",
        if results.verdict.pass { "PASS" } else { "FAIL" },
        if results.run.interrupted {
            " (the run did not complete: its window is partial)"
        } else {
            ""
        }
    )?;
    for check in &results.verdict.checks {
        writeln!(out, "{}", check_line(check))?;
    }
    Ok(())
}

/// One line per game-day fault window: when, how long, and what it did to the runs scheduled
/// in it.
pub fn fault_table(results: &Results) -> String {
    render(|out| write_faults(out, results))
}

fn write_faults(out: &mut impl Write, results: &Results) -> fmt::Result {
    writeln!(
        out,
        "fault windows (runs due: scheduled from {p99} s before the fault to its end; late: \
         schedule -> started above {p99} s)",
        p99 = results.slo.p99_schedule_to_start_s
    )?;
    for f in &results.faults {
        let opt = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.0}{unit}"))
        };
        writeln!(
            out,
            "  {}: due {}, missed {}, late {}, max schedule -> started {}, duplicates {}, \
             stuck pods {}, recovered to 90% of {}/min ({}) after {}",
            f.label(results.run.started_ms),
            f.scheduled,
            f.missed,
            f.late,
            opt(f.max_schedule_to_start_ms.map(|m| m as f64 / 1000.0), " s"),
            f.duplicates,
            f.stuck_pods,
            f.baseline_per_minute
                .map_or_else(|| "-".to_string(), |b| format!("{b:.1}")),
            f.baseline_source.as_deref().unwrap_or("-"),
            opt(f.recovery_s, " s"),
        )?;
    }
    Ok(())
}
