//! The views of a [`History`]: a self-contained HTML page with one trend chart per headline
//! figure (plotters SVG through a minijinja template) and a Markdown summary.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use minijinja::{Environment, Value};
use plotters::prelude::*;

use super::ReportError;
use super::charts::{self, Area, DrawResult};
use super::compare::fmt_value;
use super::write::render;
use crate::changepoint::{ChangePoint, Options};
use crate::compare::{Direction, Metric};
use crate::history::{ConfirmedShift, History, RunPoint, Trend, worse};

const TEMPLATE: &str = include_str!("history.html");

/// The history page.
pub fn history_html(h: &History, opts: &Options) -> Result<String, ReportError> {
    let trends = h
        .trends
        .iter()
        .enumerate()
        .map(|(i, t)| trend_value(h, t, i))
        .collect::<Result<Vec<Value>, ReportError>>()?;
    let ctx: BTreeMap<&str, Value> = BTreeMap::from([
        ("runs", h.runs.iter().enumerate().map(run_row).collect()),
        ("first", Value::from(started(h.runs.first()))),
        ("last", Value::from(started(h.runs.last()))),
        ("alpha", Value::from(opts.alpha)),
        ("min_change", Value::from(opts.min_change * 100.0)),
        ("trends", Value::from(trends)),
    ]);
    let mut env = Environment::new();
    env.add_template("history.html", TEMPLATE)
        .map_err(ReportError::Template)?;
    let template = env
        .get_template("history.html")
        .map_err(ReportError::Template)?;
    template
        .render(Value::from(ctx))
        .map_err(ReportError::Template)
}

fn started(r: Option<&RunPoint>) -> String {
    r.map_or_else(|| "n/a".into(), |r| super::fmt_time(r.started_ms))
}

fn run_row((i, r): (usize, &RunPoint)) -> Value {
    let row: BTreeMap<&str, Value> = BTreeMap::from([
        ("n", Value::from(i + 1)),
        ("id", Value::from(r.run_id.as_str())),
        ("started", Value::from(super::fmt_time(r.started_ms))),
        ("scenario", Value::from(r.scenario.as_str())),
        ("verdict", Value::from(super::pass_word(r.pass))),
        ("class", Value::from(if r.pass { "" } else { "fail" })),
        ("version", Value::from(r.cronbench_version.as_str())),
        ("server", Value::from(r.server_version.as_str())),
        ("context", Value::from(r.context.as_str())),
        ("nodes", Value::from(r.nodes)),
        ("commit", Value::from(commit(r))),
        ("machine", Value::from(machine(r))),
    ]);
    Value::from(row)
}

fn commit(r: &RunPoint) -> String {
    r.host
        .as_ref()
        .and_then(|h| h.commit.clone())
        .unwrap_or_else(|| "n/a".into())
}

/// Cores, load at the start, and the local cluster's node runtime: what makes two runs'
/// figures comparable.
fn machine(r: &RunPoint) -> String {
    let Some(h) = &r.host else {
        return "n/a".into();
    };
    let load = h
        .load_avg
        .map_or_else(|| "n/a".into(), |l| format!("{:.2}", l[0]));
    let cluster = h.local_cluster.as_ref().map_or_else(String::new, |c| {
        format!(", local {:?} x{}", c.node_runtime, c.nodes).to_lowercase()
    });
    format!("{} cores, load {load}{cluster}", h.cores)
}

fn trend_value(h: &History, t: &Trend, i: usize) -> Result<Value, ReportError> {
    let shifts: Vec<Value> = t
        .change_points
        .iter()
        .map(|c| shift_value(h, t.metric, c))
        .collect();
    let better = match t.metric.direction() {
        Direction::HigherIsBetter => "Higher",
        Direction::LowerIsBetter => "Lower",
    };
    let row: BTreeMap<&str, Value> = BTreeMap::from([
        ("id", Value::from(format!("trend-{i}"))),
        ("name", Value::from(t.metric.name())),
        ("better", Value::from(better)),
        ("svg", Value::from_safe_string(trend_svg(t)?)),
        ("shifts", Value::from(shifts)),
    ]);
    Ok(Value::from(row))
}

fn shift_value(h: &History, metric: Metric, c: &ChangePoint) -> Value {
    let is_worse = match worse(metric) {
        crate::changepoint::Worse::Higher => c.after > c.before,
        crate::changepoint::Worse::Lower => c.after < c.before,
    };
    let row: BTreeMap<&str, Value> = BTreeMap::from([
        ("n", Value::from(c.index + 1)),
        ("id", Value::from(h.run_id(c.index))),
        (
            "before",
            Value::from_safe_string(fmt_value(metric, Some(c.before))),
        ),
        (
            "after",
            Value::from_safe_string(fmt_value(metric, Some(c.after))),
        ),
        ("p", Value::from(format!("{:.3}", c.p_value))),
        (
            "class",
            Value::from(if is_worse { "worse" } else { "better" }),
        ),
    ]);
    Value::from(row)
}

/// One figure over the runs: points by run number, the band shaded, change points dashed.
fn trend_svg(t: &Trend) -> Result<String, ReportError> {
    let title = t.metric.name();
    charts::svg("history-trend", |root| {
        let points: Vec<(f64, f64)> = t
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| ((i + 1) as f64, v)))
            .collect();
        if points.is_empty() {
            return charts::no_data(root, &title, "no run measured it");
        }
        draw_trend(root, &title, t, &points)
    })
}

fn draw_trend(root: &Area<'_>, title: &str, t: &Trend, points: &[(f64, f64)]) -> DrawResult {
    let n = t.values.len() as f64;
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..n + 0.5, 0f64..top)?;
    chart
        .configure_mesh()
        .light_line_style(charts::GRID)
        .x_labels((t.values.len()).clamp(2, 20))
        .x_label_formatter(&|x| format!("#{}", x.round()))
        .y_label_formatter(&|y| charts::trim(*y))
        .x_desc("run (see the table of runs)")
        .draw()?;
    if let Some(b) = t.band {
        let band = charts::color(2).mix(0.18).filled();
        chart
            .draw_series([Rectangle::new(
                [(b.from as f64 + 0.5, b.low), (b.to as f64 + 0.5, b.high)],
                band,
            )])?
            .label("band: runs since the last change point")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], band));
    }
    let line = charts::color(0);
    chart
        .draw_series(LineSeries::new(points.to_vec(), line.stroke_width(2)))?
        .label("value per run")
        .legend(charts::legend_mark(line));
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, line.filled())))?;
    for c in &t.change_points {
        let x = c.index as f64 + 0.5;
        chart.draw_series(DashedLineSeries::new(
            [(x, 0.0), (x, top)],
            6,
            4,
            RED.stroke_width(2),
        ))?;
    }
    charts::legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The history as Markdown: the runs, then per figure the newest value, the band and the
/// change points.
pub fn history_markdown(h: &History) -> String {
    render(|out| write_markdown(out, h))
}

fn write_markdown(out: &mut String, h: &History) -> fmt::Result {
    writeln!(out, "# cronbench history: {} runs\n", h.runs.len())?;
    writeln!(
        out,
        "| # | run | started (UTC) | verdict | cronbench | commit | Kubernetes | machine at start |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for (i, r) in h.runs.iter().enumerate() {
        writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |",
            i + 1,
            r.run_id,
            super::fmt_time(r.started_ms),
            super::pass_word(r.pass),
            r.cronbench_version,
            commit(r),
            r.server_version,
            machine(r)
        )?;
    }
    writeln!(out, "\n| figure | newest | band | change points |")?;
    writeln!(out, "|---|---|---|---|")?;
    for t in &h.trends {
        write_trend_row(out, h, t)?;
    }
    Ok(())
}

fn write_trend_row(out: &mut String, h: &History, t: &Trend) -> fmt::Result {
    let newest = fmt_value(t.metric, t.values.last().copied().flatten());
    let band = t.band.map_or_else(
        || "n/a".to_string(),
        |b| {
            format!(
                "{} .. {} (runs #{}-#{})",
                fmt_value(t.metric, Some(b.low)),
                fmt_value(t.metric, Some(b.high)),
                b.from + 1,
                b.to
            )
        },
    );
    let shifts: Vec<String> = t
        .change_points
        .iter()
        .map(|c| {
            format!(
                "#{} `{}`: {} -> {}",
                c.index + 1,
                h.run_id(c.index),
                fmt_value(t.metric, Some(c.before)),
                fmt_value(t.metric, Some(c.after))
            )
        })
        .collect();
    let shifts = if shifts.is_empty() {
        "none".to_string()
    } else {
        shifts.join("; ")
    };
    writeln!(
        out,
        "| {} | {newest} | {band} | {shifts} |",
        t.metric.name()
    )
}

/// The terminal view of `compare --history`: per figure the median of the runs before the
/// last `k`, the current value, and whether the last `k` runs confirm a worse shift.
pub fn confirm_summary(h: &History, shifts: &[ConfirmedShift], k: usize) -> String {
    render(|out| write_confirm(out, h, shifts, k))
}

fn write_confirm(
    out: &mut String,
    h: &History,
    shifts: &[ConfirmedShift],
    k: usize,
) -> fmt::Result {
    let current = h.runs.last().map_or("", |r| r.run_id.as_str());
    writeln!(
        out,
        "{}: current run {current} against {} earlier runs; a figure fails when the last {k} \
         runs each shifted the worse way",
        if shifts.is_empty() {
            "NO REGRESSION"
        } else {
            "REGRESSION"
        },
        h.runs.len().saturating_sub(1)
    )?;
    let needed = k + crate::changepoint::MIN_BEFORE;
    if h.runs.len() < needed {
        writeln!(
            out,
            "note: a shift can be confirmed from {needed} runs on ({k} confirming and {} before \
             them); with {} none can fail yet",
            crate::changepoint::MIN_BEFORE,
            h.runs.len()
        )?;
    }
    writeln!(
        out,
        "{:<44} {:>12} {:>12}  status",
        "figure", "earlier", "current"
    )?;
    for t in &h.trends {
        let n = t.values.len().saturating_sub(k);
        let earlier: Vec<f64> = t.values[..n].iter().flatten().copied().collect();
        let median = (!earlier.is_empty()).then(|| crate::changepoint::median(&earlier));
        let status = match shifts.iter().find(|s| s.metric == t.metric) {
            Some(s) => format!(
                "REGRESSED: the last {k} runs, from #{}, all worse (p = {:.3})",
                s.shift.index + 1,
                s.shift.p_value
            ),
            None => "ok".to_string(),
        };
        writeln!(
            out,
            "{:<44} {:>14} {:>12}  {status}",
            t.metric.name(),
            fmt_value(t.metric, median),
            fmt_value(t.metric, t.values.last().copied().flatten())
        )?;
    }
    Ok(())
}
