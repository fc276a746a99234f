//! `results.json` as metrics: OpenMetrics text that is also valid Prometheus text format 0.0.4.
//!
//! Written by hand: prometheus-client (the maintained encoder) has no summary type and models
//! live, atomically updated metrics in a registry, while this is a one-shot rendering of plain
//! data. The text keeps to the part of OpenMetrics that the classic text format shares, so one
//! rendering serves both `report --format openmetrics` and the Pushgateway (which, like
//! `promtool check metrics`, parses the classic format): no counters (their `_total` sample
//! names differ between the two), no info or stateset types, no timestamps (the Pushgateway
//! refuses pushed timestamps); `# UNIT` and `# EOF` are comments to the classic parser.
//!
//! Every figure of one run is a gauge: a run's results are one final value per series,
//! labelled with the run id, not a counter scraped while it grows. Latency percentiles are a
//! summary: `results.json` holds the HDR histogram's percentiles (3 significant digits), not
//! its buckets, so a summary carries exactly what was measured, where classic buckets would
//! need re-analysis of the event log and bucket bounds chosen for every scale of run.

use std::fmt::Write;

use crate::results::{Counts, Results, StageStats};

mod fleet;

/// The `Content-Type` of [`render`]'s text when served as the classic text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prefix of every metric name.
const PREFIX: &str = "cronbench_";

/// The metric types used (see the module doc for why only these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

/// A metric's unit, which is also the last part of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
        }
    }
}

/// A sample value: counts stay integers (exact beyond 2^53).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Count(u64),
    Real(f64),
}

impl Value {
    fn seconds_of_ms(ms: f64) -> Value {
        Value::Real(ms / 1000.0)
    }

    fn flag(on: bool) -> Value {
        Value::Count(u64::from(on))
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Real(v) if v.is_nan() => f.write_str("NaN"),
            Value::Real(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Value::Real(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Value::Real(v) => write!(f, "{v}"),
        }
    }
}

/// One line of a family: the name's suffix (`_sum`, `_count` or none), labels beyond the run's
/// own, and the value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    suffix: &'static str,
    labels: Vec<(&'static str, String)>,
    value: Value,
}

impl Sample {
    fn new(labels: Vec<(&'static str, String)>, value: Value) -> Sample {
        Sample {
            suffix: "",
            labels,
            value,
        }
    }
}

/// A metric family: name without the prefix, type, unit, help and samples.
#[derive(Debug, Clone, PartialEq)]
struct Family {
    name: &'static str,
    kind: Kind,
    unit: Option<Unit>,
    help: &'static str,
    samples: Vec<Sample>,
}

impl Family {
    fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind: Kind::Gauge,
            unit: None,
            help,
            samples: Vec::new(),
        }
    }

    fn summary_seconds(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind: Kind::Summary,
            unit: Some(Unit::Seconds),
            help,
            samples: Vec::new(),
        }
    }

    fn seconds(mut self) -> Family {
        self.unit = Some(Unit::Seconds);
        self
    }

    fn with(mut self, labels: Vec<(&'static str, String)>, value: Value) -> Family {
        self.samples.push(Sample::new(labels, value));
        self
    }

    fn single(name: &'static str, help: &'static str, value: Value) -> Family {
        Family::gauge(name, help).with(Vec::new(), value)
    }
}

/// Escapes a label value as both formats require: backslash, double quote and line feed.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `results` as OpenMetrics text, ending with `# EOF`. Every sample carries the labels
/// `run_id` and `scenario`.
pub fn render(results: &Results) -> String {
    let run_labels = [
        ("run_id", results.run.run_id.as_str()),
        ("scenario", results.run.scenario_name.as_str()),
    ];
    let mut out = String::new();
    for family in families(results) {
        write_family(&mut out, &run_labels, &family);
    }
    out.push_str("# EOF\n");
    out
}

fn write_family(out: &mut String, run_labels: &[(&str, &str)], family: &Family) {
    if family.samples.is_empty() {
        return;
    }
    let name = format!("{PREFIX}{}", family.name);
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# TYPE {name} {}", family.kind.name());
    if let Some(unit) = family.unit {
        let _ = writeln!(out, "# UNIT {name} {}", unit.name());
    }
    let _ = writeln!(out, "# HELP {name} {}", family.help);
    for sample in &family.samples {
        let labels = run_labels
            .iter()
            .copied()
            .chain(sample.labels.iter().map(|(k, v)| (*k, v.as_str())))
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(out, "{name}{}{{{labels}}} {}", sample.suffix, sample.value);
    }
}

fn families(r: &Results) -> Vec<Family> {
    let mut all = run_families(r);
    all.extend(stage_families(&r.stages));
    all.extend(count_families(&r.counts));
    all.extend(throughput_families(r));
    all.extend(anomaly_families(r));
    all.extend(fleet::families(r));
    all
}

fn run_families(r: &Results) -> Vec<Family> {
    let run = &r.run;
    let info = vec![
        ("cronbench_version", run.cronbench_version.clone()),
        ("server_version", run.server_version.clone()),
        ("namespace", run.namespace.clone()),
        ("context", run.context.clone()),
        (
            "end_reason",
            run.end_reason
                .map_or_else(|| "none".to_string(), serde_name),
        ),
    ];
    let checks = r.verdict.checks.iter().fold(
        Family::gauge(
            "slo_check_pass",
            "1 when the SLO check passed, 0 when it failed (a check with nothing measured fails).",
        ),
        |f, c| f.with(vec![("check", serde_name(c.check))], Value::flag(c.pass)),
    );
    let mut all = vec![
        Family::gauge(
            "run_info",
            "Facts about the run, in labels; the value is 1.",
        )
        .with(info, Value::Count(1)),
        Family::single(
            "verdict_pass",
            "1 when every SLO check passed and the run completed, else 0.",
            Value::flag(r.verdict.pass),
        ),
        checks,
        Family::single(
            "run_interrupted",
            "1 when the event log has no run_ended line or it says the run did not complete.",
            Value::flag(run.interrupted),
        ),
        Family::single(
            "run_nodes",
            "Nodes of the cluster when the run started.",
            Value::Count(u64::from(run.nodes)),
        ),
        Family::single(
            "run_start_timestamp_seconds",
            "When the run started (client clock), Unix time.",
            Value::seconds_of_ms(run.started_ms as f64),
        )
        .seconds(),
        Family::single(
            "run_last_observation_timestamp_seconds",
            "The latest receive time in the event log, Unix time.",
            Value::seconds_of_ms(run.last_recv_ms as f64),
        )
        .seconds(),
    ];
    if let Some(w) = &r.window {
        all.push(
            Family::single(
                "window_duration_seconds",
                "Length of the measured window.",
                Value::Real(w.duration_s),
            )
            .seconds(),
        );
    }
    all
}

/// The name serde writes for an enum value (`results.json`'s spelling), for label values.
fn serde_name<T: serde::Serialize + std::fmt::Debug>(value: T) -> String {
    serde_json::to_value(&value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Labels of a class or zone (none for the whole fleet).
type Group<'a> = &'a [(&'static str, String)];

fn stage_labels(group: Group, s: &StageStats) -> Vec<(&'static str, String)> {
    let mut labels = group.to_vec();
    labels.push(("stage", serde_name(s.stage)));
    labels.push(("clock", s.clock.label().to_string()));
    labels
}

/// The quantiles `results.json` holds, with their label values.
/// Reads one percentile of a stage.
type Percentile = fn(&StageStats) -> Option<u64>;

const QUANTILES: [(&str, Percentile); 5] = [
    ("0.5", |s| s.p50_ms),
    ("0.9", |s| s.p90_ms),
    ("0.99", |s| s.p99_ms),
    ("0.999", |s| s.p999_ms),
    ("0.9999", |s| s.p9999_ms),
];

fn latency_summary(stages: &[StageStats]) -> Family {
    let family = Family::summary_seconds(
        "stage_latency_seconds",
        "Latency of each stage of a scheduled run, from the HDR histogram (3 significant digits; quantiles are lower bounds when outliers > 0). Clock client has 1 ms precision, server 1 s.",
    );
    stage_summary(family, &[], stages)
}

/// Adds each stage's quantiles, `_sum` and `_count` to `family`, labelled `group` first.
fn stage_summary(mut family: Family, group: Group, stages: &[StageStats]) -> Family {
    for s in stages {
        for (quantile, get) in QUANTILES {
            if let Some(ms) = get(s) {
                let mut labels = stage_labels(group, s);
                labels.push(("quantile", quantile.to_string()));
                family
                    .samples
                    .push(Sample::new(labels, Value::seconds_of_ms(ms as f64)));
            }
        }
        let sum_ms = s.mean_ms.map_or(0.0, |mean| mean * s.count as f64);
        family.samples.push(Sample {
            suffix: "_sum",
            labels: stage_labels(group, s),
            value: Value::seconds_of_ms(sum_ms),
        });
        family.samples.push(Sample {
            suffix: "_count",
            labels: stage_labels(group, s),
            value: Value::Count(s.count),
        });
    }
    family
}

fn stage_families(stages: &[StageStats]) -> Vec<Family> {
    let mut max = Family::gauge(
        "stage_latency_max_seconds",
        "Exact largest latency of the stage.",
    )
    .seconds();
    let mut outliers = Family::gauge(
        "stage_latency_outliers",
        "Latencies above the histogram's maximum (one hour), recorded at the maximum.",
    );
    let mut negatives = Family::gauge(
        "stage_latency_negatives",
        "Negative latencies (a later stage seen before an earlier one), left out of the summary.",
    );
    let mut min_negative = Family::gauge(
        "stage_latency_min_negative_seconds",
        "Most negative latency seen, when there were negative ones.",
    )
    .seconds();
    for s in stages {
        if let Some(ms) = s.max_ms {
            max = max.with(stage_labels(&[], s), Value::seconds_of_ms(ms as f64));
        }
        outliers = outliers.with(stage_labels(&[], s), Value::Count(s.outliers));
        negatives = negatives.with(stage_labels(&[], s), Value::Count(s.negatives));
        if let Some(ms) = s.min_negative_ms {
            min_negative = min_negative.with(stage_labels(&[], s), Value::seconds_of_ms(ms as f64));
        }
    }
    vec![
        latency_summary(stages),
        max,
        outliers,
        negatives,
        min_negative,
    ]
}

/// The counts of `results.json`, each its own gauge (summing them makes no sense, so they are
/// not one family told apart by a label).
/// Reads one count.
type Count = fn(&Counts) -> u64;

const COUNTS: [(&str, &str, Count); 13] = [
    ("cronjobs", "CronJobs created.", |c| c.cronjobs),
    (
        "runs_expected",
        "Schedule ticks in the window, after each CronJob's creation (cron math).",
        |c| c.expected,
    ),
    (
        "runs_observed",
        "Distinct runs observed in the window.",
        |c| c.observed,
    ),
    (
        "runs_observed_any_time",
        "Distinct runs observed at any scheduled time (warmup and drain included).",
        |c| c.observed_total,
    ),
    ("runs_missed", "Expected ticks with no observed run.", |c| {
        c.missed
    }),
    (
        "runs_unexpected",
        "Runs observed in the window that cron math did not expect.",
        |c| c.unexpected,
    ),
    (
        "runs_started",
        "Runs in the window whose pod started.",
        |c| c.started,
    ),
    (
        "runs_started_within_slo",
        "Runs in the window started within the SLO's deadline of their schedule.",
        |c| c.started_within_slo,
    ),
    (
        "runs_completed",
        "Runs in the window that completed.",
        |c| c.completed,
    ),
    ("runs_failed", "Runs in the window whose Job failed.", |c| {
        c.failed
    }),
    (
        "pods_stuck",
        "Pods that stayed pending longer than the SLO allows.",
        |c| c.stuck_pods,
    ),
    ("pods_observed", "Pods observed (of any run).", |c| c.pods),
    (
        "jobs_duplicate",
        "Extra Jobs for a run that already had one.",
        |c| c.duplicates,
    ),
];

fn count_families(counts: &Counts) -> Vec<Family> {
    singles(COUNTS.map(|(name, help, get)| (name, help, get(counts))))
}

fn throughput_families(r: &Results) -> Vec<Family> {
    let t = &r.throughput;
    let nodes = r.nodes.iter().fold(
        Family::gauge(
            "node_pods_started",
            "Pods started on the node in the window.",
        ),
        |f, n| f.with(vec![("node", n.node.clone())], Value::Count(n.started)),
    );
    let mut all = singles([
        (
            "window_pods_started",
            "Pods of any run whose start falls in the window.",
            t.started_in_window,
        ),
        (
            "pods_started_peak_per_minute",
            "Most starts in one wall-clock minute of the window.",
            t.peak_per_minute,
        ),
        (
            "pods_started_peak_per_second",
            "Most starts in one second of the window.",
            t.peak_per_second,
        ),
        (
            "pods_pending_peak",
            "Most pods created but not yet started at one time.",
            t.peak_pending,
        ),
    ]);
    all.push(nodes);
    all
}

/// One unlabelled count gauge per (name, help, value).
fn singles<const N: usize>(items: [(&'static str, &'static str, u64); N]) -> Vec<Family> {
    items
        .into_iter()
        .map(|(name, help, n)| Family::single(name, help, Value::Count(n)))
        .collect()
}

fn anomaly_families(r: &Results) -> Vec<Family> {
    let a = &r.anomalies;
    let kinds = [
        ("jobs_without_schedule", a.jobs_without_schedule),
        ("orphan_pods", a.orphan_pods),
        ("bad_timestamps", a.bad_timestamps),
        ("schedule_name_mismatch", a.schedule_name_mismatch),
        ("watch_errors", a.watch_errors),
        ("out_of_order_lines", a.out_of_order_lines),
        ("lines_out_of_span", a.lines_out_of_span),
        ("lines_unparsed", a.lines_unparsed),
        ("truncated_last_line", u64::from(a.truncated_last_line)),
    ];
    let anomalies = kinds.into_iter().fold(
        Family::gauge(
            "anomalies",
            "Things in the event log that look wrong but did not stop the analysis, by kind.",
        ),
        |f, (kind, n)| f.with(vec![("kind", kind.to_string())], Value::Count(n)),
    );
    let events = a.event_reasons.iter().fold(
        Family::gauge(
            "events",
            "Kubernetes Events observed during the run, by reason.",
        ),
        |f, (reason, n)| f.with(vec![("reason", reason.clone())], Value::Count(*n)),
    );
    vec![anomalies, events]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("two\nlines"), "two\\nlines");
        assert_eq!(escape_label_value("plain-ñ"), "plain-ñ");
    }

    #[test]
    fn values_print_as_prometheus_parses_them() {
        assert_eq!(Value::Count(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(Value::seconds_of_ms(1234.0).to_string(), "1.234");
        assert_eq!(Value::Real(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Real(f64::NEG_INFINITY).to_string(), "-Inf");
    }

    #[test]
    fn a_stage_without_samples_has_a_zero_count_and_no_quantiles() {
        let empty = StageStats {
            stage: crate::results::Stage::BoundToStarted,
            clock: crate::results::Clock::Server,
            precision: String::new(),
            count: 0,
            p50_ms: None,
            p90_ms: None,
            p99_ms: None,
            p999_ms: None,
            p9999_ms: None,
            max_ms: None,
            mean_ms: None,
            outliers: 0,
            negatives: 0,
            min_negative_ms: None,
        };
        let mut out = String::new();
        write_family(&mut out, &[("run_id", "r\"1")], &latency_summary(&[empty]));
        assert_eq!(
            out,
            concat!(
                "# TYPE cronbench_stage_latency_seconds summary\n",
                "# UNIT cronbench_stage_latency_seconds seconds\n",
                "# HELP cronbench_stage_latency_seconds Latency of each stage of a scheduled run, from the HDR histogram (3 significant digits; quantiles are lower bounds when outliers > 0). Clock client has 1 ms precision, server 1 s.\n",
                "cronbench_stage_latency_seconds_sum{run_id=\"r\\\"1\",stage=\"bound_to_started\",clock=\"server\"} 0\n",
                "cronbench_stage_latency_seconds_count{run_id=\"r\\\"1\",stage=\"bound_to_started\",clock=\"server\"} 0\n",
            )
        );
    }

    #[test]
    fn help_texts_need_no_escaping() {
        let r = crate::analyze::analyze_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/healthy.jsonl"
        ))
        .expect("fixture analyzes");
        for f in families(&r) {
            assert!(
                !f.help.contains(['\\', '"', '\n']),
                "{}: help needs escaping",
                f.name
            );
            if let Some(unit) = f.unit {
                assert!(f.name.ends_with(unit.name()), "{}: unit suffix", f.name);
            }
        }
    }
}
