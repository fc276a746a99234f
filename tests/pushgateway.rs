//! `cronbench push` against a real Pushgateway (Debian's `prometheus-pushgateway`, which
//! scripts/setup installs; tests/common/pushgateway.rs starts it on a free 127.0.0.1 port and
//! stops it when the test ends, also when it fails).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::pushgateway::{Pushgateway, free_port};

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

/// `quick.yaml` with one measured minute: enough for a verdict, which is all this test reads.
const ONE_MINUTE: &str = r#"name: push-quick
load:
  cronjobs: 5
  schedule: "* * * * *"
  node_selector: {type: kwok}
  tolerations:
  - {key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}
duration:
  warmup_s: 5
  measure_s: 60
  drain_s: 15
slo:
  target_jobs_per_minute: 5
"#;

#[test]
fn integration_a_run_whose_push_fails_keeps_its_results_and_its_verdicts_exit_code() {
    if common::pushgateway::missing() {
        return;
    }
    let Some(cluster) = common::TestCluster::up("it-push", &["--nodes", "1"]) else {
        return;
    };
    let work = common::TempDir::new("pushgateway-it");
    let scenario = work.0.join("push-quick.yaml");
    std::fs::write(&scenario, ONE_MINUTE).expect("write the scenario");
    let run_dir = work.0.join("run");
    let gone = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let run = cronbench(&[
        "run",
        &scenario.to_string_lossy(),
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &cluster.context,
        "--out",
        &run_dir.to_string_lossy(),
        "--pushgateway",
        &gone,
    ]);
    let said = common::text(&run);
    let text = std::fs::read_to_string(run_dir.join("results.json")).expect("results.json kept");
    let results: cronbench::results::Results = serde_json::from_str(&text).expect("results parse");
    let verdict_code = if results.verdict.pass { 0 } else { 1 };
    assert_eq!(run.status.code(), Some(verdict_code), "{said}");
    assert!(
        said.contains(&format!(
            "warning: could not push to {gone}/metrics/job/cronbench/run_id/"
        )) && said.contains(&format!("the results are kept in {}", run_dir.display())),
        "{said}"
    );

    // The kept results push once a Pushgateway is there.
    let gateway = Pushgateway::start();
    let push = cronbench(&[
        "push",
        "--pushgateway",
        &gateway.url(),
        &run_dir.to_string_lossy(),
    ]);
    assert!(push.status.success(), "{}", common::text(&push));
    let (_, metrics) = common::http_get(gateway.port, "/metrics").expect("the Pushgateway answers");
    let verdict = format!(
        "cronbench_verdict_pass{{instance=\"\",job=\"cronbench\",run_id=\"{}\",scenario=\"push-quick\"}} {verdict_code_pass}",
        results.run.run_id,
        verdict_code_pass = u8::from(results.verdict.pass)
    );
    assert!(metrics.lines().any(|l| l == verdict), "missing: {verdict}");
}
