//! `cronbench push` against a real Pushgateway (Debian's `prometheus-pushgateway`, which
//! scripts/setup installs; tests/common/pushgateway.rs starts it on a free 127.0.0.1 port and
//! stops it when the test ends, also when it fails). A run whose push fails is checked in
//! tests/prometheus_local.rs, on the cluster that test brings up anyway.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::pushgateway::Pushgateway;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn cronbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(args)
        .output()
        .expect("cronbench runs")
}

#[test]
fn pushed_results_show_on_the_pushgateways_metrics_under_the_run_id_and_a_gone_one_is_named() {
    if common::pushgateway::missing() {
        return;
    }
    let gateway = Pushgateway::start();
    // A run directory holding only results.json, as `run` leaves it.
    let results = cronbench::analyze::analyze_file(fixture("kwok-herd-3-nodes.jsonl"))
        .expect("the fixture analyzes");
    let dir = common::TempDir::new("pushgateway-run");
    std::fs::write(
        dir.0.join("results.json"),
        serde_json::to_string(&results).expect("serializes"),
    )
    .expect("write results.json");
    let dir_arg = dir.0.to_string_lossy().into_owned();
    let out = cronbench(&["push", "--pushgateway", &gateway.url(), &dir_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "push failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let run_id = &results.run.run_id;
    let group = format!("/metrics/job/cronbench/run_id/{run_id}");
    assert!(stdout.contains(&group), "{stdout}");

    let (status, metrics) =
        common::http_get(gateway.port, "/metrics").expect("the Pushgateway answers");
    assert_eq!(status, 200);
    let ours: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("cronbench_"))
        .collect();
    let label = format!("run_id=\"{run_id}\"");
    let unlabelled: Vec<&&str> = ours
        .iter()
        .filter(|l| !(l.contains(&label) && l.contains("job=\"cronbench\"")))
        .collect();
    assert!(
        unlabelled.is_empty(),
        "cronbench_ series without the job and run id labels: {unlabelled:?}"
    );
    let expected = cronbench::report::openmetrics::render(&results)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(ours.len(), expected, "every pushed sample is served");
    let started = format!(
        "cronbench_runs_started{{instance=\"\",job=\"cronbench\",{label},scenario=\"{}\"}} {}",
        results.run.scenario_name, results.counts.started
    );
    assert!(ours.contains(&started.as_str()), "missing: {started}");

    // Once the Pushgateway is gone, a push fails naming the URL and the fix.
    let url = gateway.url();
    drop(gateway);
    let out = cronbench(&["push", "--pushgateway", &url, &dir_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{url}{group}"))
            && stderr.contains("is the Pushgateway running there")
            && stderr.contains("cronbench push --pushgateway"),
        "{stderr}"
    );
}
