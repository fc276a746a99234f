//! The components' evidence over a run (`run --prometheus URL`), as a few plain lines for the
//! terminal, Markdown and HTML reports.

use crate::results::Results;

/// The lines: where and when from, the values read, what was missing or unreachable and why.
/// Empty without evidence.
pub fn lines(results: &Results) -> Vec<String> {
    let Some(c) = &results.components else {
        return Vec::new();
    };
    let m = &c.metrics;
    let mut out = vec![format!(
        "Component evidence from Prometheus {} over {:.0} s (warm-up start to run end):",
        c.prometheus,
        (c.end_ms - c.start_ms) as f64 / 1000.0
    )];
    let read: Vec<String> = m
        .values()
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {}", fmt(v))))
        .collect();
    if !read.is_empty() {
        out.push(read.join(", "));
    }
    for (what, why) in &m.unreachable {
        out.push(format!("missing, {what} unreachable: {why}"));
    }
    let missing: Vec<&str> = m
        .values()
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        out.push(format!("missing: {}", missing.join(", ")));
    }
    for (series, why) in &m.missing {
        out.push(format!("{series}: {why}"));
    }
    out
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
