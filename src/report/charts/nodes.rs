//! Per-tick node balance: stacked bars of the pods each node received in each tick, the
//! tick's imbalance written above its bar. Lines per node hid what matters: whether one tick
//! went to one node.

use plotters::prelude::*;

use super::{Chart, LEGEND_MAX, color, legend, minute_axes, no_data, svg, trim};
use crate::report::ReportError;
use crate::report::data::ChartData;

const TITLE: &str = "Pods bound per node per tick";

/// Stacked bars, one per tick of the window, one colour per node.
pub fn node_balance(data: &ChartData) -> Result<Chart, ReportError> {
    let b = &data.node_ticks;
    let caption = format!(
        "Each bar is one scheduled minute (tick) of the measured window, split by the node each \
         run's pod was bound to; above it, the tick's imbalance: busiest node / mean over {} \
         node(s) (1.0 even, {} all on one node). x: the tick's scheduled time in minutes since \
         the window start.",
        b.node_count, b.node_count
    );
    let svg = svg("node-balance", |root| {
        let (Some(lo), Some(hi)) = (
            b.ticks.iter().copied().reduce(f64::min),
            b.ticks.iter().copied().reduce(f64::max),
        ) else {
            return no_data(root, TITLE, "no pod of the window was bound to a node");
        };
        // Headroom for the imbalance labels and the legend.
        let top = (b.max_total() as f64 * 1.5).max(1.0);
        let mut chart = minute_axes(
            root,
            TITLE,
            (lo - 0.2)..(hi + 1.2),
            (lo, hi),
            top,
            ("minutes since window start (scheduled time)", "pods bound"),
        )?;
        let mut base = vec![0u64; b.ticks.len()];
        for (i, (node, counts)) in b.nodes.iter().enumerate() {
            let c = color(i);
            let rects: Vec<Rectangle<(f64, f64)>> = b
                .ticks
                .iter()
                .zip(counts)
                .zip(base.iter_mut())
                .map(|((&x, &v), y0)| {
                    let r = Rectangle::new(
                        [(x + 0.1, *y0 as f64), (x + 0.9, (*y0 + v) as f64)],
                        c.filled(),
                    );
                    *y0 += v;
                    r
                })
                .collect();
            let drawn = chart.draw_series(rects)?;
            if i < LEGEND_MAX {
                drawn.label(node.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled())
                });
            } else if i == LEGEND_MAX {
                drawn
                    .label(format!("... {} more", b.nodes.len() - LEGEND_MAX))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled())
                    });
            }
        }
        let labels = b
            .ticks
            .iter()
            .zip(&b.imbalance)
            .zip(&base)
            .filter_map(|((&x, imb), &h)| {
                imb.map(|v| {
                    Text::new(
                        format!("×{}", trim((v * 100.0).round() / 100.0)),
                        (x + 0.2, h as f64 + top * 0.04),
                        ("sans-serif", 13).into_font(),
                    )
                })
            });
        chart.draw_series(labels)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Chart {
        id: "node-balance",
        title: TITLE,
        caption,
        svg,
    })
}
