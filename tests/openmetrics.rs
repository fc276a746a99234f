//! `report --format openmetrics` of the recorded fixtures, checked by Prometheus's own parsers:
//! `promtool check metrics` (the classic text format the Pushgateway reads, plus its lints) and
//! `promtool tsdb create-blocks-from openmetrics` (the strict OpenMetrics parser: `# EOF`,
//! `# UNIT` against the name, escaping). promtool comes from Debian's `prometheus` package,
//! which scripts/setup installs.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use cronbench::analyze::analyze_file;
use cronbench::report::openmetrics;
use cronbench::results::{Results, Verdict};

const FIXTURES: [&str; 3] = [
    "healthy.jsonl",
    "interrupted.jsonl",
    "kwok-herd-3-nodes.jsonl",
];

fn results(name: &str) -> Results {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    analyze_file(path).expect("the fixture analyzes")
}

/// Whether `promtool` can run; a skip otherwise (a failure under CRONBENCH_REQUIRE_CLUSTER=1).
fn promtool_missing() -> bool {
    if common::on_path("promtool") {
        return false;
    }
    common::skip(
        "promtool is missing: install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, or run scripts/setup)",
    );
    true
}

/// `promtool check metrics` reads `text` from stdin: it must exit 0 and print no lint problem.
fn check_metrics(text: &str, what: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics on {what}: {}\n{said}",
        out.status
    );
}

/// The strict OpenMetrics parser behind `promtool tsdb create-blocks-from openmetrics`. It
/// backfills, so every sample needs a timestamp: the run's last observation is appended to
/// each sample line (the exported text has none; the Pushgateway refuses them).
fn check_openmetrics(text: &str, at_s: i64, what: &str) {
    let dir = common::TempDir::new(&format!(
        "openmetrics-{}",
        what.replace(['.', '/', ' '], "-")
    ));
    let stamped: String = text
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("{line}\n")
            } else {
                format!("{line} {at_s}\n")
            }
        })
        .collect();
    let input = dir.0.join("input.om");
    std::fs::write(&input, stamped).expect("write input");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(dir.0.join("blocks"))
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool tsdb create-blocks-from openmetrics on {what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_fixture_exports_as_metrics_that_promtool_parses() {
    if promtool_missing() {
        return;
    }
    for name in FIXTURES {
        let r = results(name);
        let text = openmetrics::render(&r);
        assert!(text.ends_with("# EOF\n"), "{name}: no # EOF at the end");
        let run_id = format!("run_id=\"{}\"", r.run.run_id);
        assert!(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| l.starts_with("cronbench_") && l.contains(&run_id)),
            "{name}: a sample without the prefix or the run id"
        );
        check_metrics(&text, name);
        check_openmetrics(&text, r.run.last_recv_ms / 1000, name);
    }
}

#[test]
fn label_values_with_quotes_backslashes_and_newlines_still_parse() {
    if promtool_missing() {
        return;
    }
    let mut r = results("healthy.jsonl");
    r.run.scenario_name = "quote \" backslash \\ newline \n end".to_string();
    r.anomalies
        .event_reasons
        .insert("Odd\"Reason\\".to_string(), 1);
    let text = openmetrics::render(&r);
    assert!(text.contains(r#"scenario="quote \" backslash \\ newline \n end""#));
    check_metrics(&text, "escaped labels");
    check_openmetrics(&text, r.run.last_recv_ms / 1000, "escaped labels");
}

#[test]
fn every_stage_and_clock_has_a_latency_summary() {
    let r = results("kwok-herd-3-nodes.jsonl");
    let text = openmetrics::render(&r);
    for s in &r.stages {
        let stage = serde_json::to_value(s.stage).expect("stage serializes");
        let count_line = format!(
            "cronbench_stage_latency_seconds_count{{run_id=\"{}\",scenario=\"{}\",stage=\"{}\",clock=\"{}\"}} {}",
            r.run.run_id,
            r.run.scenario_name,
            stage.as_str().expect("a string"),
            s.clock.label(),
            s.count
        );
        assert!(text.contains(&count_line), "missing: {count_line}");
    }
}

#[test]
fn a_mixed_fleet_exports_its_classes_zones_policies_and_herd() {
    let mut r = results("mixed-classes.jsonl");
    // The recorded classes have no slo of their own: give the flaky one a failing verdict.
    let flaky = r
        .classes
        .iter_mut()
        .find(|c| c.class == "flaky")
        .expect("a flaky class");
    assert_eq!(flaky.verdict, None);
    flaky.verdict = Some(Verdict {
        pass: false,
        checks: r.verdict.checks.clone(),
    });
    let text = openmetrics::render(&r);
    let run = format!(
        "run_id=\"{}\",scenario=\"{}\"",
        r.run.run_id, r.run.scenario_name
    );
    let flaky_failed = r
        .classes
        .iter()
        .find(|c| c.class == "flaky")
        .expect("a flaky class")
        .counts
        .failed;
    assert!(flaky_failed > 0, "the flaky class failed runs");
    for line in [
        format!("cronbench_class_runs_skipped_while_active{{{run},class=\"forbid\"}} 3"),
        format!("cronbench_class_runs_failed{{{run},class=\"flaky\"}} {flaky_failed}"),
        format!("cronbench_class_cronjobs{{{run},class=\"paused\"}} 2"),
        format!("cronbench_zone_cronjobs{{{run},zone=\"Asia/Kathmandu\"}} 3"),
        format!("cronbench_policy_forbid_skipped_while_active{{{run}}} 3"),
        format!("cronbench_policy_forbid_overlaps{{{run}}} 0"),
        format!("cronbench_controller_warnings{{{run},reason=\"MissSchedule\"}} 0"),
        format!("cronbench_herd_hour_boundaries{{{run}}} 1"),
        format!("cronbench_class_verdict_pass{{{run},class=\"flaky\"}} 0"),
    ] {
        assert!(text.contains(&format!("{line}\n")), "missing: {line}");
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("cronbench_class_verdict_pass{"))
            .count(),
        1,
        "a verdict only for the class with an slo"
    );
    for prefix in [
        "cronbench_class_slo_check_pass{",
        "cronbench_class_stage_latency_seconds{",
        "cronbench_zone_stage_latency_seconds{",
        "cronbench_herd_schedule_to_started_seconds{",
        "cronbench_herd_pods_started_peak_per_second{",
    ] {
        assert!(text.contains(prefix), "missing: {prefix}");
    }
    if promtool_missing() {
        return;
    }
    check_metrics(&text, "mixed-classes.jsonl");
    check_openmetrics(&text, r.run.last_recv_ms / 1000, "mixed-classes.jsonl");
}
