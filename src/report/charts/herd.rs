//! The top-of-hour herd: pods started per second from a minute before to five minutes after
//! each UTC hour boundary of the window, summed over the hours.

use plotters::prelude::*;

use super::{Chart, color, fmt_ms, legend, legend_mark, no_data, svg, trim};
use crate::report::ReportError;
use crate::results::Herd;

const TITLE: &str = "Top-of-hour herd: starts per second around :00";
/// The chart's id, beside [`super::CHART_IDS`] (drawn only when results have a herd).
pub const HERD_CHART_ID: &str = "herd";

/// One bar per second of the herd window.
pub fn herd(h: &Herd) -> Result<Chart, ReportError> {
    let latency = |l: &crate::results::HerdLatency| {
        l.p99_ms
            .map_or_else(|| "n/a".to_string(), |p| fmt_ms(p as f64))
    };
    let caption = format!(
        "Pods started (client clock) in each second from {}s to +{}s around every UTC hour \
         boundary of the window ({} hour(s)), summed over the hours. Busiest single second: {} \
         start(s). p99 schedule -> started: {} for the {} run(s) scheduled at :00, {} for the {} \
         other(s).",
        h.from_offset_s,
        h.from_offset_s + h.starts_per_second.len() as i64,
        h.hours,
        h.peak_per_second,
        latency(&h.top_of_hour),
        h.top_of_hour.started,
        latency(&h.rest),
        h.rest.started,
    );
    let svg = svg(HERD_CHART_ID, |root| {
        if h.hours == 0 || h.starts_per_second.iter().all(|&n| n == 0) {
            return no_data(
                root,
                TITLE,
                "no start around an hour boundary of the window",
            );
        }
        let lo = h.from_offset_s as f64;
        let hi = lo + h.starts_per_second.len() as f64;
        let top = h.starts_per_second.iter().copied().max().unwrap_or(0) as f64 * 1.2;
        let mut chart = ChartBuilder::on(root)
            .caption(TITLE, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0f64..top.max(1.0))?;
        chart
            .configure_mesh()
            .light_line_style(super::GRID)
            .x_labels(13)
            .x_label_formatter(&|x| trim(*x))
            .y_label_formatter(&|y| trim(*y))
            .x_desc("seconds from the hour boundary")
            .y_desc("pods started (summed over hours)")
            .draw()?;
        let bar = color(0);
        chart
            .draw_series(h.starts_per_second.iter().enumerate().map(|(i, &n)| {
                let x = lo + i as f64;
                Rectangle::new([(x, 0.0), (x + 1.0, n as f64)], bar.filled())
            }))?
            .label("started per second")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], bar.filled()));
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (0.0, top)],
                6,
                4,
                RED.stroke_width(2),
            ))?
            .label(":00")
            .legend(legend_mark(RED));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Chart {
        id: HERD_CHART_ID,
        title: TITLE,
        caption,
        svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_herd_chart_draws_a_bar_per_busy_second_and_says_the_p99s() {
        let mut starts = vec![0; 360];
        starts[63] = 40;
        starts[64] = 7;
        let h = Herd {
            hours: 2,
            from_offset_s: -60,
            starts_per_second: starts,
            peak_per_second: 25,
            peak_offset_s: Some(3),
            top_of_hour: crate::results::HerdLatency {
                started: 47,
                p99_ms: Some(4200),
                ..Default::default()
            },
            ..Herd::default()
        };
        let c = herd(&h).expect("renders");
        assert!(c.svg.starts_with("<svg"), "{}", &c.svg[..40]);
        assert!(c.svg.contains("seconds from the hour boundary"));
        assert!(
            c.caption
                .contains("4.2s for the 47 run(s) scheduled at :00"),
            "{}",
            c.caption
        );
        let empty = herd(&Herd::default()).expect("renders");
        assert!(empty.svg.contains("n/a"));
    }
}
