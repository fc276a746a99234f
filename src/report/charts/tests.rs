//! Unit tests of the chart drawing.

use super::*;
use crate::report::data::{CdfSource, LatencyCdf, NodeTickBars, Series, StartsPerMinute};

fn empty() -> ChartData {
    ChartData {
        origin_ms: 0,
        cdf: LatencyCdf {
            source: CdfSource::Percentiles,
            series: Vec::new(),
        },
        start_over_time: None,
        starts_per_minute: StartsPerMinute {
            bars: Vec::new(),
            target: 50.0,
        },
        node_ticks: NodeTickBars::default(),
        pending: Series {
            name: "pending".into(),
            points: Vec::new(),
        },
        breakdown: None,
    }
}

#[test]
fn empty_data_still_gives_every_svg() {
    let charts = all(&empty()).expect("charts render");
    let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
    assert_eq!(ids, CHART_IDS);
    for c in &charts {
        assert!(c.svg.starts_with("<svg"), "{}: {}", c.id, &c.svg[..40]);
        assert!(c.svg.contains("n/a"), "{} says why it is empty", c.id);
    }
}

#[test]
fn labels() {
    assert_eq!(fmt_ms(1.0), "1ms");
    assert_eq!(fmt_ms(1500.0), "1.5s");
    assert_eq!(fmt_ms(120_000.0), "2min");
    assert_eq!(fmt_tail(0.0), "0%");
    assert_eq!(fmt_tail(2.0), "99%");
    assert_eq!(fmt_tail(4.0), "99.99%");
}

#[test]
fn text_is_escaped() {
    let mut d = empty();
    d.node_ticks = NodeTickBars {
        ticks: vec![0.0, 1.0],
        nodes: vec![("<node&>".into(), vec![1, 2])],
        imbalance: vec![Some(1.0), Some(1.0)],
        node_count: 1,
    };
    let c = node_balance(&d).expect("renders");
    assert!(c.svg.contains("&lt;node&amp;&gt;"));
    assert!(!c.svg.contains("<node&>"));
}
