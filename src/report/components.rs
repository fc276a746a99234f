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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ComponentEvidence, StepMetrics};
    use crate::report::{Format, render_results};

    #[test]
    fn the_reports_show_the_evidence_read_and_what_is_missing_and_why() {
        let events = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/healthy.jsonl");
        let mut results = crate::analyze::analyze_file(events).expect("analyze");
        assert!(lines(&results).is_empty(), "nothing without --prometheus");
        results.components = Some(ComponentEvidence {
            prometheus: "http://127.0.0.1:9090".into(),
            start_ms: 0,
            end_ms: 60_000,
            metrics: StepMetrics {
                stored_pods_end: Some(12.0),
                cronjob_job_creation_skew_mean_s: Some(0.25),
                unreachable: [("prometheus".to_string(), "connection refused".to_string())].into(),
                ..StepMetrics::default()
            },
            at_start: Default::default(),
            at_end: Default::default(),
        });
        let l = lines(&results);
        assert!(l[0].contains("http://127.0.0.1:9090 over 60 s"), "{l:?}");
        assert!(
            l[1].contains("cronjob_job_creation_skew_mean_s 0.250"),
            "{l:?}"
        );
        assert!(l[1].contains("stored_pods_end 12"), "{l:?}");
        assert!(
            l.iter()
                .any(|x| x.contains("prometheus unreachable: connection refused"))
        );
        assert!(
            l.iter()
                .any(|x| x.starts_with("missing: ") && x.contains("job_queue_depth_end"))
        );
        for format in [Format::Markdown, Format::Html] {
            let text = render_results(&results, None, format).expect("renders");
            assert!(text.contains("Components"), "{format:?}");
            assert!(text.contains("connection refused"), "{format:?}");
        }
    }
}
