//! The resource timeline's figures as text: a table per component (Markdown and HTML) and one
//! line for the terminal. The charts are in `charts/resources.rs`.

use std::fmt::{self, Write};

use crate::results::{ComponentSeries, Results};

/// The table's columns.
pub(crate) const HEADERS: [&str; 7] = [
    "component",
    "mean CPU (cores)",
    "peak CPU (cores)",
    "RSS first",
    "RSS last",
    "RSS peak",
    "RSS growth per hour (window)",
];

/// MiB with one decimal.
pub(crate) fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1_048_576.0)
}

fn cores(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |c| format!("{c:.3}"))
}

/// One row of [`HEADERS`].
pub(crate) fn row(s: &ComponentSeries) -> [String; 7] {
    let m = &s.summary;
    [
        s.label(),
        cores(m.mean_cpu_cores),
        cores(m.peak_cpu_cores),
        mib(m.rss_first_bytes as f64),
        mib(m.rss_last_bytes as f64),
        mib(m.rss_peak_bytes as f64),
        m.rss_growth_bytes_per_hour
            .map_or_else(|| "n/a".to_string(), |g| format!("{}/h", mib(g))),
    ]
}

/// The Markdown section (nothing without a timeline).
pub(crate) fn markdown(out: &mut String, results: &Results) -> fmt::Result {
    let Some(t) = &results.resources else {
        return Ok(());
    };
    writeln!(out, "\n### Control-plane resources\n")?;
    writeln!(out, "| {} |", HEADERS.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(HEADERS.len()))?;
    for s in &t.series {
        writeln!(out, "| {} |", row(s).join(" | "))?;
    }
    Ok(())
}

/// One terminal line: each component's mean / peak CPU and its peak RSS.
pub(crate) fn terminal(out: &mut impl Write, results: &Results) -> fmt::Result {
    let Some(t) = &results.resources else {
        return Ok(());
    };
    let parts: Vec<String> = t
        .series
        .iter()
        .map(|s| {
            let m = &s.summary;
            format!(
                "{} {}/{} cores {:.0} MiB",
                s.label(),
                cores(m.mean_cpu_cores),
                cores(m.peak_cpu_cores),
                m.rss_peak_bytes as f64 / 1_048_576.0
            )
        })
        .collect();
    writeln!(
        out,
        "resources (mean/peak CPU, peak RSS): {}\n",
        parts.join("; ")
    )
}

/// The HTML table's rows (`null` without a timeline).
pub(crate) fn html_context(results: &Results) -> serde_json::Value {
    let Some(t) = &results.resources else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "headers": HEADERS,
        "rows": t.series.iter().map(row).collect::<Vec<_>>(),
    })
}
