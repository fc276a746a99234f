//! The views of a [`Comparison`]: a self-contained HTML page (through a minijinja template, so
//! its one escape is minijinja's auto-escaping) and a plain-text table for the terminal.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use minijinja::{Environment, Value};

use super::write::render;
use crate::compare::{Comparison, Direction, Metric, MetricDelta, Status};

const TEMPLATE: &str = include_str!("compare.html");

/// A metric's value as the views show it.
pub fn fmt_value(metric: Metric, v: Option<f64>) -> String {
    match (metric, v) {
        (_, None) => "n/a".into(),
        (Metric::StartedShare, Some(v)) => format!("{:.2}%", v * 100.0),
        (Metric::Missed | Metric::StuckPods, Some(v)) => format!("{v:.0}"),
        (Metric::JobsPerMinute | Metric::LimitJobsPerMinute, Some(v)) => format!("{v:.2}"),
        (Metric::HarnessCpuS | Metric::HarnessPeakRssMib, Some(v)) => format!("{v:.1}"),
        (_, Some(v)) => format!("{v:.3}"),
    }
}

fn change(m: &MetricDelta) -> String {
    match (m.metric, m.delta, m.relative) {
        (Metric::StartedShare, Some(d), _) => format!("{:+.2} points", d * 100.0),
        (_, Some(d), Some(r)) => format!("{d:+.3} ({:+.1}%)", r * 100.0),
        (_, Some(d), None) => format!("{d:+.3}"),
        _ => "n/a".into(),
    }
}

/// Numbers we formatted ourselves ("n/a", "+0.5 (+3.0%)"): marked safe so that the template's
/// escaping (which would write `/` as `&#x2f;`) leaves them as they read; names are escaped.
fn number(s: String) -> Value {
    Value::from_safe_string(s)
}

fn metric_row(m: &MetricDelta) -> Value {
    let row_class = match m.status {
        Status::Regressed => "regressed",
        Status::Improved => "improved",
        Status::Unchanged | Status::NotCompared => "",
    };
    let better = match m.metric.direction() {
        Direction::HigherIsBetter => "higher",
        Direction::LowerIsBetter => "lower",
    };
    let f = |v: Option<f64>| number(fmt_value(m.metric, v));
    let row: BTreeMap<&str, Value> = BTreeMap::from([
        ("row_class", Value::from(row_class)),
        ("name", Value::from(m.metric.name())),
        ("better", Value::from(better)),
        ("baselines", m.baselines.iter().map(|v| f(*v)).collect()),
        ("reference", f(m.reference)),
        ("spread", f(Some(m.spread))),
        ("current", f(m.current)),
        ("change", number(change(m))),
        ("allowed", f(m.allowed)),
        ("status", Value::from(m.status.label())),
    ]);
    Value::from(row)
}

/// A self-contained HTML page: the verdict, then baselines and current side by side per metric.
pub fn comparison_html(c: &Comparison) -> Result<String, minijinja::Error> {
    let (word, class) = if c.regression {
        ("REGRESSION", "fail")
    } else {
        ("NO REGRESSION", "pass")
    };
    let ctx: BTreeMap<&str, Value> = BTreeMap::from([
        ("word", Value::from(word)),
        ("class", Value::from(class)),
        ("current_run", Value::from(c.current_run.as_str())),
        ("baselines", Value::from(c.baselines)),
        ("threshold", number(format!("{:.1}", c.threshold * 100.0))),
        ("spread_multiple", number(format!("{}", c.spread_multiple))),
        (
            "baseline_runs",
            c.baseline_runs
                .iter()
                .map(|r| Value::from(r.as_str()))
                .collect(),
        ),
        ("metrics", c.metrics.iter().map(metric_row).collect()),
    ]);
    let mut env = Environment::new();
    env.add_template("compare.html", TEMPLATE)?;
    let mut page = env.get_template("compare.html")?.render(Value::from(ctx))?;
    // minijinja drops the template's final newline; the page has always ended with one.
    page.push('\n');
    Ok(page)
}

/// A plain-text table of the comparison, for a terminal.
pub fn summary(c: &Comparison) -> String {
    render(|out| write_summary(out, c))
}

fn write_summary(out: &mut impl Write, c: &Comparison) -> fmt::Result {
    for m in &c.metrics {
        writeln!(
            out,
            "{:<48} {:>12} -> {:<12} {}",
            m.metric.name(),
            fmt_value(m.metric, m.reference),
            fmt_value(m.metric, m.current),
            m.status.label()
        )?;
    }
    let verdict = if c.regression {
        "REGRESSION"
    } else {
        "no regression"
    };
    writeln!(out, "{verdict}")
}
