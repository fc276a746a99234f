//! The resource timeline: CPU cores and resident memory per component over the run, one line
//! per process. A CPU gap (a restart) breaks its line instead of dropping to zero.

use plotters::prelude::*;

use super::{Chart, LEGEND_MAX, color, legend, legend_mark, minute_axes, no_data, svg};
use crate::report::ReportError;
use crate::results::{ResourcePoint, ResourceTimeline};

/// The charts' ids, drawn only when results have a timeline.
pub const RESOURCE_CHART_IDS: [&str; 2] = ["resources-cpu", "resources-rss"];

/// Which figure of a point a chart draws.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Cpu,
    Rss,
}

impl Figure {
    fn value(self, p: &ResourcePoint) -> Option<f64> {
        match self {
            Figure::Cpu => p.cpu_cores,
            Figure::Rss => Some(p.rss_bytes as f64 / 1_048_576.0),
        }
    }
}

/// Both charts of a timeline.
pub fn resources(t: &ResourceTimeline) -> Result<Vec<Chart>, ReportError> {
    let source = match t.source {
        crate::results::ResourceSource::Proc => "/proc of the local cluster's processes",
        crate::results::ResourceSource::Prometheus => {
            "Prometheus (process_cpu_seconds_total, process_resident_memory_bytes)"
        }
    };
    let per_point = t
        .series
        .iter()
        .map(|s| s.samples_per_point)
        .max()
        .unwrap_or(1);
    let merged = if per_point > 1 {
        format!(" Each point merges up to {per_point} samples.")
    } else {
        String::new()
    };
    Ok(vec![
        chart(
            t,
            Figure::Cpu,
            "Control-plane CPU over the run",
            format!(
                "CPU seconds per second (1 = one core busy) of each component between two \
                 samples, from {source}; a break in a line is a restarted process. x: minutes \
                 since the run started (the apply phase first).{merged}"
            ),
        )?,
        chart(
            t,
            Figure::Rss,
            "Control-plane memory (RSS) over the run",
            format!(
                "Resident set size of each component (the highest sample of each point), from \
                 {source}. Something that grows with the number of CronJobs rises during the \
                 apply phase; something that grows with time keeps rising after it.{merged}"
            ),
        )?,
    ])
}

fn chart(
    t: &ResourceTimeline,
    figure: Figure,
    title: &'static str,
    caption: String,
) -> Result<Chart, ReportError> {
    let id = match figure {
        Figure::Cpu => RESOURCE_CHART_IDS[0],
        Figure::Rss => RESOURCE_CHART_IDS[1],
    };
    let minutes = |p: &ResourcePoint| p.t_s / 60.0;
    let all = || t.series.iter().flat_map(|s| s.points.iter());
    let svg = svg(id, |root| {
        let (Some(lo), Some(hi)) = (
            all().map(minutes).reduce(f64::min),
            all().map(minutes).reduce(f64::max),
        ) else {
            return no_data(root, title, "no sample was taken");
        };
        // Headroom above the highest line for the legend.
        let top = all().filter_map(|p| figure.value(p)).fold(0.0, f64::max) * 1.5;
        let y = match figure {
            Figure::Cpu => "CPU (cores)",
            Figure::Rss => "RSS (MiB)",
        };
        let mut chart = minute_axes(
            root,
            title,
            lo..hi.max(lo + 1e-3),
            (lo, hi),
            top.max(1e-3),
            ("minutes since the run started", y),
        )?;
        for (i, s) in t.series.iter().enumerate() {
            let c = color(i);
            // One line per stretch without a gap.
            let mut stretches: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for p in &s.points {
                match figure.value(p) {
                    Some(v) => stretches
                        .last_mut()
                        .into_iter()
                        .for_each(|l| l.push((minutes(p), v))),
                    None => stretches.push(Vec::new()),
                }
            }
            let mut labelled = false;
            for line in stretches.into_iter().filter(|l| !l.is_empty()) {
                let drawn = chart.draw_series(LineSeries::new(line, c.stroke_width(2)))?;
                if !labelled && i <= LEGEND_MAX {
                    labelled = true;
                    let name = if i < LEGEND_MAX {
                        s.label()
                    } else {
                        format!("... {} more", t.series.len() - LEGEND_MAX)
                    };
                    drawn.label(name).legend(legend_mark(c));
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })?;
    Ok(Chart {
        id,
        title,
        caption,
        svg,
    })
}
