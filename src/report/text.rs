//! The table rows shared by every format, and the Markdown and JUnit formats.

use std::fmt::{self, Write};

use super::balance;
use super::write::render;

use crate::results::{Results, StageStats};

use super::{NA, fmt_check_value, fmt_latency, fmt_num, fmt_time, pass_word};

/// One SLO check, formatted.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CheckRow {
    pub name: String,
    /// E.g. ">= 50 /min".
    pub want: String,
    pub measured: String,
    pub pass: bool,
    pub note: String,
}

pub(super) fn check_rows(results: &Results) -> Vec<CheckRow> {
    results
        .verdict
        .checks
        .iter()
        .map(|c| CheckRow {
            name: c.name.clone(),
            want: format!(
                "{} {}",
                c.comparison.symbol(),
                fmt_check_value(c.check, Some(c.threshold))
            ),
            measured: fmt_check_value(c.check, c.measured),
            pass: c.pass,
            note: c.note.clone().unwrap_or_default(),
        })
        .collect()
}

/// One stage on one clock, formatted.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PercentileRow {
    pub stage: &'static str,
    pub clock: &'static str,
    pub precision: String,
    pub count: u64,
    /// p50, p90, p99, p99.9, p99.99, max, mean.
    pub values: [String; 7],
    pub outliers: u64,
    pub negatives: u64,
}

pub(super) const PERCENTILE_HEADERS: [&str; 7] =
    ["p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"];

fn percentile_row(s: &StageStats) -> PercentileRow {
    let f = |v: Option<u64>| fmt_latency(v.map(|v| v as f64), s.clock);
    PercentileRow {
        stage: s.stage.label(),
        clock: s.clock.label(),
        precision: if s.precision.is_empty() {
            s.clock.precision().to_string()
        } else {
            s.precision.clone()
        },
        count: s.count,
        values: [
            f(s.p50_ms),
            f(s.p90_ms),
            f(s.p99_ms),
            f(s.p999_ms),
            f(s.p9999_ms),
            fmt_latency(s.max_ms.map(|v| v as f64), s.clock),
            fmt_latency(s.mean_ms, s.clock),
        ],
        outliers: s.outliers,
        negatives: s.negatives,
    }
}

pub(super) fn percentile_rows(results: &Results) -> Vec<PercentileRow> {
    results.stages.iter().map(percentile_row).collect()
}

/// Escapes a Markdown table cell.
pub(super) fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            // Could open an HTML tag; `>` and `&` show as typed.
            '<' => out.push_str("&lt;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Verdict, SLO table and percentile table, for a GitHub step summary.
pub(super) fn markdown(results: &Results) -> String {
    render(|out| {
        md_heading(out, results)?;
        md_checks(out, results)?;
        md_percentiles(out, results)?;
        md_counts(out, results)?;
        md_balance(out, results)?;
        super::fleet::markdown(out, results)?;
        super::resources::markdown(out, results)?;
        if !results.faults.is_empty() {
            md_faults(out, results)?;
        }
        md_components(out, results)
    })
}

fn md_components(out: &mut String, results: &Results) -> fmt::Result {
    let lines = super::components::lines(results);
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n### Components\n")?;
    for l in lines {
        writeln!(out, "- {}", md_cell(&l))?;
    }
    Ok(())
}

fn md_heading(out: &mut String, results: &Results) -> fmt::Result {
    let verdict = pass_word(results.verdict.pass);
    let icon = if results.verdict.pass { "✅" } else { "❌" };
    let run = &results.run;
    writeln!(
        out,
        "## {icon} cronbench: **{verdict}** — {}\n",
        md_cell(&run.scenario_name)
    )?;
    let window = results.window.as_ref().map_or_else(
        || NA.to_string(),
        |w| format!("{} s from {}", fmt_num(w.duration_s), fmt_time(w.start_ms)),
    );
    writeln!(
        out,
        "Run `{}` on `{}` (Kubernetes {}, {} nodes); measured window: {window}.",
        md_cell(&run.run_id),
        md_cell(&run.context),
        md_cell(&run.server_version),
        run.nodes
    )?;
    if run.interrupted {
        writeln!(
            out,
            "\n> **Warning:** the run did not complete (interrupted)."
        )?;
    }
    Ok(())
}

fn md_checks(out: &mut String, results: &Results) -> fmt::Result {
    writeln!(out, "\n### SLO checks\n")?;
    writeln!(out, "| check | target | measured | result | note |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for r in check_rows(results) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md_cell(&r.name),
            md_cell(&r.want),
            md_cell(&r.measured),
            if r.pass { "✅ PASS" } else { "❌ FAIL" },
            md_cell(&r.note)
        )?;
    }
    Ok(())
}

fn md_percentiles(out: &mut String, results: &Results) -> fmt::Result {
    writeln!(out, "\n### Latency percentiles\n")?;
    writeln!(
        out,
        "| stage | clock | count | {} | precision |",
        PERCENTILE_HEADERS.join(" | ")
    )?;
    writeln!(
        out,
        "|---|---|---:|{}---|",
        "---:|".repeat(PERCENTILE_HEADERS.len())
    )?;
    for r in percentile_rows(results) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md_cell(r.stage),
            r.clock,
            r.count,
            r.values.join(" | "),
            md_cell(&r.precision)
        )?;
    }
    Ok(())
}

fn md_counts(out: &mut String, results: &Results) -> fmt::Result {
    let c = &results.counts;
    writeln!(
        out,
        "\nExpected {} runs, observed {}, missed {}, started {}, completed {}, failed {}, \
         stuck pods {}, duplicates {}.",
        c.expected,
        c.observed,
        c.missed,
        c.started,
        c.completed,
        c.failed,
        c.stuck_pods,
        c.duplicates
    )?;
    Ok(())
}

fn md_balance(out: &mut String, results: &Results) -> fmt::Result {
    let Some(b) = &results.node_balance else {
        return Ok(());
    };
    writeln!(out, "\n### Node balance per tick\n")?;
    writeln!(
        out,
        "Pods bound per node per tick: {}.\n",
        md_cell(&balance::summary_with_meaning(b))
    )?;
    writeln!(
        out,
        "| tick | imbalance | busiest node | share | bound per node (started) |"
    )?;
    writeln!(out, "|---|---:|---|---:|---|")?;
    for t in b.per_tick.iter().take(balance::TICKS_LISTED) {
        let nodes: Vec<String> = t
            .nodes
            .iter()
            .map(|n| format!("{} {} ({})", n.node, n.bound, n.started))
            .collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            fmt_time(t.scheduled_ms),
            t.imbalance
                .map_or_else(|| NA.to_string(), |v| format!("{v:.2}")),
            md_cell(t.busiest_node.as_deref().unwrap_or(NA)),
            t.busiest_share
                .map_or_else(|| NA.to_string(), |v| format!("{:.0}%", v * 100.0)),
            md_cell(&nodes.join(", "))
        )?;
    }
    if let Some(more) = balance::more_line(b) {
        writeln!(out, "\n{more}")?;
    }
    Ok(())
}

fn md_faults(out: &mut String, results: &Results) -> fmt::Result {
    let run = &results.run;
    writeln!(out, "\n### Fault windows\n")?;
    writeln!(
        out,
        "| fault | runs due | missed | late | max schedule → started | duplicates | stuck pods | recovered after |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    let secs = |v: Option<f64>| v.map_or_else(|| NA.to_string(), |v| format!("{} s", fmt_num(v)));
    for f in &results.faults {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&f.label(run.started_ms)),
            f.scheduled,
            f.missed,
            f.late,
            secs(f.max_schedule_to_start_ms.map(|m| m as f64 / 1000.0)),
            f.duplicates,
            f.stuck_pods,
            secs(f.recovery_s)
        )?;
    }
    Ok(())
}

/// Escapes text for XML content and attribute values; drops characters XML 1.0 forbids.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test suite for the run, one test case per SLO check.
pub(super) fn junit(results: &Results) -> String {
    render(|out| write_junit(out, results))
}

fn write_junit(out: &mut String, results: &Results) -> fmt::Result {
    let rows = check_rows(results);
    let failures = rows.iter().filter(|r| !r.pass).count();
    let run = &results.run;
    let time = results
        .window
        .as_ref()
        .map_or(0.0, |w| w.duration_s.max(0.0));
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" \
         time=\"{time:.3}\" timestamp=\"{}\">",
        xml_escape(&format!("cronbench {}", run.scenario_name)),
        rows.len(),
        xml_escape(&fmt_time(run.started_ms)),
    )?;
    writeln!(out, "  <properties>")?;
    let props = [
        ("run_id", run.run_id.clone()),
        ("namespace", run.namespace.clone()),
        ("context", run.context.clone()),
        ("server_version", run.server_version.clone()),
        ("nodes", run.nodes.to_string()),
        ("cronbench_version", run.cronbench_version.clone()),
        ("interrupted", run.interrupted.to_string()),
        ("verdict", pass_word(results.verdict.pass).to_string()),
    ];
    for (name, value) in props {
        writeln!(
            out,
            "    <property name=\"{name}\" value=\"{}\"/>",
            xml_escape(&value)
        )?;
    }
    writeln!(out, "  </properties>")?;
    let classname = xml_escape(&format!("cronbench.slo.{}", run.scenario_name));
    for r in &rows {
        let name = xml_escape(&r.name);
        if r.pass {
            writeln!(
                out,
                "  <testcase classname=\"{classname}\" name=\"{name}\" time=\"0\"/>"
            )?;
        } else {
            let message = format!("measured {}, want {}", r.measured, r.want);
            let body = if r.note.is_empty() {
                message.clone()
            } else {
                format!("{message}\n{}", r.note)
            };
            writeln!(
                out,
                "  <testcase classname=\"{classname}\" name=\"{name}\" time=\"0\">\n    \
                 <failure type=\"SloViolation\" message=\"{}\">{}</failure>\n  </testcase>",
                xml_escape(&message),
                xml_escape(&body)
            )?;
        }
    }
    out.push_str("</testsuite>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\n"
        );
    }

    #[test]
    fn markdown_cells() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
        assert_eq!(md_cell("<= 1"), "&lt;= 1");
    }
}
