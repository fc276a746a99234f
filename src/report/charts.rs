//! Drawing of the report's charts as SVG with plotters, from the plain series in
//! [`super::data`].
//!
//! Plotters' SVG backend writes text as `<text>` elements and, without its `ttf` or
//! `ab_glyph` features, only estimates text sizes: no font is loaded, so charts render where
//! no system fonts are installed. Every chart always yields an `<svg>`; a chart without data
//! shows a short message instead of axes.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::ReportError;
use super::data::{COMPONENT_STAGES, CdfSource, ChartData};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 380;
/// Largest number of series named in a legend.
const LEGEND_MAX: usize = 10;

pub(super) type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One drawn chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Stable identifier, used as the HTML element id.
    pub id: &'static str,
    pub title: &'static str,
    /// What the chart shows and how to read it.
    pub caption: String,
    pub svg: String,
}

/// Colours for series, in order (repeats after the last).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(super) const GRID: RGBColor = RGBColor(242, 242, 242);

/// How many x labels a minutes axis from `lo` to `hi` gets: about one per minute, at most 12
/// (plotters then picks round steps).
fn minute_labels(lo: f64, hi: f64) -> usize {
    let span = (hi - lo).abs();
    if span.is_finite() {
        (span.ceil() as usize + 3).clamp(2, 12)
    } else {
        2
    }
}

/// Draws into a fresh SVG string.
pub(super) fn svg(
    id: &'static str,
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        let result = root
            .fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present());
        result.map_err(|e| ReportError::Chart {
            chart: id,
            message: e.to_string(),
        })?;
    }
    Ok(out)
}

/// A chart over minutes of the measured window: x in `x`, labelled at the whole minutes from
/// `lo` to `hi`; y from 0 to `top`; `desc` = (x description, y description).
fn minute_axes<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    x: std::ops::Range<f64>,
    (lo, hi): (f64, f64),
    top: f64,
    desc: (&str, &str),
) -> Result<
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    DrawingAreaErrorKind<std::io::Error>,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x, 0f64..top)?;
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .x_labels(minute_labels(lo, hi))
        .x_label_formatter(&|x| trim(*x))
        .y_label_formatter(&|y| trim(*y))
        .x_desc(desc.0)
        .y_desc(desc.1)
        .draw()?;
    Ok(chart)
}

/// A chart area that only says why there is nothing to draw.
pub(super) fn no_data(root: &Area<'_>, title: &str, why: &str) -> DrawResult {
    let (w, h) = root.dim_in_pixel();
    let center = (w as i32 / 2, h as i32 / 2);
    let title_style =
        ("sans-serif", 20)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
    let why_style = ("sans-serif", 16)
        .into_font()
        .color(&RGBColor(110, 110, 110))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    root.draw(&Text::new(title.to_string(), (center.0, 30), title_style))?;
    root.draw(&Text::new(format!("n/a: {why}"), center, why_style))
}

/// Human-readable latency for axis labels, from milliseconds.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 60_000.0 {
        format!("{}min", trim(ms / 60_000.0))
    } else if ms >= 1000.0 {
        format!("{}s", trim(ms / 1000.0))
    } else {
        format!("{}ms", trim(ms))
    }
}

pub(super) fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The percentile label of a CDF y coordinate `log10(1 / (1 - p))`.
fn fmt_tail(y: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-y));
    format!("{}%", trim(p))
}

fn tail_y(p: f64) -> f64 {
    -(1.0 - p).max(1e-12).log10()
}

/// x range over all points with a small margin; `None` without points.
fn x_extent<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (x, _) in points {
        lo = lo.min(*x);
        hi = hi.max(*x);
    }
    (lo <= hi).then_some((lo, hi))
}

fn y_max<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> f64 {
    points.map(|(_, y)| *y).fold(0.0, f64::max)
}

pub(super) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()
}

pub(super) fn legend_mark(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
}

/// Latency CDF per stage with a logarithmic tail.
pub fn latency_cdf(data: &ChartData) -> Result<Chart, ReportError> {
    const TITLE: &str = "Latency CDF per stage (client clock)";
    let cdf = &data.cdf;
    let caption = match cdf.source {
        CdfSource::Events => {
            "Every run in the measured window, from the event log. x: latency (log scale); \
             y: percentile on a log scale of 1/(1-p), up to p99.99."
        }
        CdfSource::Percentiles => {
            "From the percentiles in results.json only (p50, p90, p99, p99.9, p99.99, max): \
             the event log was not read. x: latency (log scale); y: percentile on a log scale \
             of 1/(1-p)."
        }
    }
    .to_string();
    let all = cdf.series.iter().flat_map(|s| s.points.iter());
    let extent = x_extent(all);
    let svg = svg("latency-cdf", |root| {
        let Some((_, hi)) = extent else {
            return no_data(root, TITLE, "no run reached any stage");
        };
        let mut chart = ChartBuilder::on(root)
            .caption(TITLE, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..(hi * 1.5).max(10.0)).log_scale(), 0f64..4.2f64)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_desc("latency")
            .y_desc("percentile")
            .y_labels(5)
            .x_label_formatter(&|x| fmt_ms(*x))
            .y_label_formatter(&|y| fmt_tail(*y))
            .draw()?;
        for (i, s) in cdf.series.iter().enumerate() {
            if s.points.is_empty() {
                continue;
            }
            let c = color(i);
            // A step function: hold each value until the next percentile.
            let mut steps = Vec::with_capacity(s.points.len() * 2);
            for (j, &(x, p)) in s.points.iter().enumerate() {
                if j > 0 {
                    steps.push((x, tail_y(s.points[j - 1].1)));
                }
                steps.push((x, tail_y(p)));
            }
            chart
                .draw_series(LineSeries::new(steps, c.stroke_width(2)))?
                .label(s.name.clone())
                .legend(legend_mark(c));
        }
        // Upper left: the slow tails end at the upper right.
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })?;
    Ok(Chart {
        id: "latency-cdf",
        title: TITLE,
        caption,
        svg,
    })
}

/// Schedule -> started latency per scheduled minute.
pub fn start_latency_over_time(data: &ChartData) -> Result<Chart, ReportError> {
    const TITLE: &str = "Schedule -> started latency over time (client clock)";
    let caption = "p50, p99 and max of schedule -> container started, per minute the runs were \
                   scheduled in; dashed: the SLO's p99 bound. x: minutes since the start of the \
                   measured window."
        .to_string();
    let svg = svg("start-latency", |root| {
        let Some(s) = &data.start_over_time else {
            return no_data(root, TITLE, "needs the run's events.jsonl");
        };
        let lines = [&s.p50, &s.p99, &s.max];
        let Some((lo, hi)) = x_extent(lines.iter().flat_map(|l| l.points.iter())) else {
            return no_data(root, TITLE, "no run started in the window");
        };
        let top = y_max(lines.iter().flat_map(|l| l.points.iter())).max(s.slo_p99_s) * 1.4;
        let mut chart = minute_axes(
            root,
            TITLE,
            (lo - 0.5)..(hi + 0.5),
            (lo, hi),
            top.max(1.0),
            ("minutes since window start (scheduled time)", "seconds"),
        )?;
        for (i, line) in lines.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(line.points.clone(), c.stroke_width(2)))?
                .label(line.name.clone())
                .legend(legend_mark(c));
            chart.draw_series(PointSeries::of_element(
                line.points.clone(),
                3,
                c.filled(),
                &|p, size, style| EmptyElement::at(p) + Circle::new((0, 0), size, style),
            ))?;
        }
        let slo = [(lo - 0.5, s.slo_p99_s), (hi + 0.5, s.slo_p99_s)];
        chart
            .draw_series(DashedLineSeries::new(slo, 8, 5, RED.stroke_width(2)))?
            .label(format!("SLO p99 <= {}s", trim(s.slo_p99_s)))
            .legend(legend_mark(RED));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Chart {
        id: "start-latency",
        title: TITLE,
        caption,
        svg,
    })
}

/// Bars of pods started per minute against the target rate.
pub fn starts_per_minute(data: &ChartData) -> Result<Chart, ReportError> {
    const TITLE: &str = "Jobs started per minute";
    let s = &data.starts_per_minute;
    let caption = format!(
        "Pods started (client clock) per wall-clock minute touching the measured window (edge \
         minutes are partial); dashed: the target of {} per minute.",
        trim(s.target)
    );
    let svg = svg("starts-per-minute", |root| {
        let (Some(lo), Some(hi)) = (
            s.bars.iter().map(|(x, _)| *x).reduce(f64::min),
            s.bars.iter().map(|(x, _)| *x).reduce(f64::max),
        ) else {
            return no_data(root, TITLE, "no measured window");
        };
        let top = s
            .bars
            .iter()
            .map(|(_, v)| *v as f64)
            .fold(s.target, f64::max)
            * 1.15;
        let mut chart = minute_axes(
            root,
            TITLE,
            (lo - 0.2)..(hi + 1.2),
            (lo, hi),
            top.max(1.0),
            ("minutes since window start", "pods started"),
        )?;
        let bar = color(0);
        chart
            .draw_series(s.bars.iter().map(|&(x, v)| {
                Rectangle::new(
                    [(x + 0.05, 0.0), (x + 0.95, v as f64)],
                    bar.mix(0.8).filled(),
                )
            }))?
            .label("started")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], bar.filled()));
        let target = [(lo - 0.2, s.target), (hi + 1.2, s.target)];
        chart
            .draw_series(DashedLineSeries::new(target, 8, 5, RED.stroke_width(2)))?
            .label(format!("target {}/min", trim(s.target)))
            .legend(legend_mark(RED));
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })?;
    Ok(Chart {
        id: "starts-per-minute",
        title: TITLE,
        caption,
        svg,
    })
}

/// Pending pods over time.
pub fn pending(data: &ChartData) -> Result<Chart, ReportError> {
    const TITLE: &str = "Pending pods over time";
    let caption = "Pods created but not yet started (nor finished, nor deleted), sampled every \
                   10 s."
        .to_string();
    let svg = svg("pending", |root| {
        let p = &data.pending.points;
        let Some((lo, hi)) = x_extent(p.iter()) else {
            return no_data(root, TITLE, "no samples");
        };
        let top = y_max(p.iter()) * 1.15;
        let mut chart = minute_axes(
            root,
            TITLE,
            lo..hi.max(lo + 1.0),
            (lo, hi),
            top.max(1.0),
            ("minutes since window start", "pending pods"),
        )?;
        let c = color(1);
        chart.draw_series(
            AreaSeries::new(p.iter().copied(), 0.0, c.mix(0.3)).border_style(c.stroke_width(2)),
        )?;
        Ok(())
    })?;
    Ok(Chart {
        id: "pending",
        title: TITLE,
        caption,
        svg,
    })
}

/// Stacked mean latency of each component stage per scheduled minute.
pub fn stage_breakdown(data: &ChartData) -> Result<Chart, ReportError> {
    const TITLE: &str = "Stage breakdown per minute (mean, client clock)";
    let caption = "Mean latency of each stage of the runs scheduled in each minute, stacked: the \
                   bar's height is roughly the mean schedule -> finished."
        .to_string();
    let svg = svg("stage-breakdown", |root| {
        let Some(b) = &data.breakdown else {
            return no_data(root, TITLE, "needs the run's events.jsonl");
        };
        let (Some(lo), Some(hi)) = (
            b.minutes.iter().copied().reduce(f64::min),
            b.minutes.iter().copied().reduce(f64::max),
        ) else {
            return no_data(root, TITLE, "no run scheduled in the window");
        };
        let totals: Vec<f64> = (0..b.minutes.len())
            .map(|i| {
                b.stages
                    .iter()
                    .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                    .sum()
            })
            .collect();
        // Headroom for the legend above the bars.
        let top = totals.iter().copied().fold(0.0, f64::max) * 1.7;
        let mut chart = minute_axes(
            root,
            TITLE,
            (lo - 0.2)..(hi + 1.2),
            (lo, hi),
            top.max(0.1),
            ("minutes since window start (scheduled time)", "seconds"),
        )?;
        let mut base = vec![0.0; b.minutes.len()];
        for (si, (stage, means)) in b.stages.iter().enumerate() {
            let c = color(si);
            let rects: Vec<Rectangle<(f64, f64)>> = b
                .minutes
                .iter()
                .zip(means)
                .zip(base.iter_mut())
                .map(|((&x, &v), y0)| {
                    let r = Rectangle::new([(x + 0.1, *y0), (x + 0.9, *y0 + v)], c.filled());
                    *y0 += v;
                    r
                })
                .collect();
            chart
                .draw_series(rects)?
                .label(stage.label())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        debug_assert_eq!(b.stages.len(), COMPONENT_STAGES.len());
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Chart {
        id: "stage-breakdown",
        title: TITLE,
        caption,
        svg,
    })
}

/// Every chart, in report order.
pub fn all(data: &ChartData) -> Result<Vec<Chart>, ReportError> {
    Ok(vec![
        latency_cdf(data)?,
        start_latency_over_time(data)?,
        starts_per_minute(data)?,
        node_balance(data)?,
        pending(data)?,
        stage_breakdown(data)?,
    ])
}

/// The ids of [`all`]'s charts, in order.
pub const CHART_IDS: [&str; 6] = [
    "latency-cdf",
    "start-latency",
    "starts-per-minute",
    "node-balance",
    "pending",
    "stage-breakdown",
];

mod herd;
mod nodes;
mod resources;
pub use herd::{HERD_CHART_ID, herd};
pub use nodes::node_balance;
pub use resources::{RESOURCE_CHART_IDS, resources};

#[cfg(test)]
mod tests;
