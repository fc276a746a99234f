//! `cluster up --prometheus`: a real Prometheus (Debian's package) scraping every component of
//! a small local cluster, stopped by `cluster down`.

mod common;

use std::time::{Duration, Instant};

use cronbench::cluster::LocalCluster;
use cronbench::cluster::prometheus::{SCRAPE_INTERVAL_S, dir_of, url_of};
use cronbench::results::{Component, ResourceSource, Results};

/// The components kwokctl gives a metrics endpoint in a kwok cluster.
const JOBS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
];

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// `up` per job from the HTTP API's instant query.
fn up_by_job(port: u16) -> Vec<(String, String)> {
    let Some((200, body)) = common::http_get(port, "/api/v1/query?query=up") else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).expect("the query answer is JSON");
    let mut out: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["metric"]["job"].as_str().unwrap_or("").to_string(),
                        r["value"][1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn integration_cluster_up_prometheus_scrapes_every_component_and_down_stops_it() {
    if common::prometheus_missing() {
        return;
    }
    let Some(cluster) = common::TestCluster::up("it-prom", &["--nodes", "1", "--prometheus"])
    else {
        return;
    };
    let local = LocalCluster::new(&cluster.name).expect("valid name");
    let url = url_of(&local).expect("cluster up --prometheus wrote the URL");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config = dir_of(&local).join("prometheus.yml");
    let check = std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output()
        .expect("promtool runs");
    assert!(check.status.success(), "{}", common::text(&check));

    // Two scrape intervals, and as long again for a loaded machine.
    let port = port_of(&url);
    let started = Instant::now();
    let wanted: Vec<(String, String)> = JOBS
        .iter()
        .map(|j| (j.to_string(), "1".to_string()))
        .collect();
    let mut seen = up_by_job(port);
    while seen != wanted && started.elapsed() < Duration::from_secs(6 * SCRAPE_INTERVAL_S) {
        std::thread::sleep(Duration::from_secs(1));
        seen = up_by_job(port);
    }
    assert_eq!(seen, wanted, "up per job after {:?}", started.elapsed());
    eprintln!(
        "every target up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    run_goes_on_when_prometheus_and_the_pushgateway_are_gone(&cluster, &local, &url);

    drop(cluster);
    assert!(
        common::http_get(port, "/-/ready").is_none(),
        "Prometheus still answers after cluster down"
    );
    assert!(local.processes().is_empty(), "{:?}", local.processes());
}

/// `run --prometheus URL --resources-from prometheus --pushgateway URL` of a one-minute
/// scenario whose Pushgateway is not there, while the test kills that Prometheus about halfway:
/// the run completes with its verdict's exit code; results.json keeps the evidence's window and
/// says that Prometheus' is missing and why, and the resource timeline read from Prometheus
/// before it died; the failed push is a warning naming where the results are kept, and they
/// push once a Pushgateway is there.
fn run_goes_on_when_prometheus_and_the_pushgateway_are_gone(
    cluster: &common::TestCluster,
    local: &LocalCluster,
    url: &str,
) {
    let out = std::env::temp_dir().join(format!("cronbench-it-prom-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let gone = format!("http://127.0.0.1:{}", common::pushgateway::free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(["run", "tests/scenarios/prom-short.yaml", "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .args(["--context", &cluster.context, "--out"])
        .arg(&out)
        .args(["--prometheus", url, "--resources-from", "prometheus"])
        .args(["--pushgateway", &gone])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cronbench run starts");
    // Apply and the start snapshot take a few seconds; the run lasts about 75 s.
    std::thread::sleep(Duration::from_secs(35));
    let pid_file = dir_of(local).join("prometheus.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the pid file")
        .trim()
        .parse()
        .expect("a pid");
    // SAFETY: a plain signal to the test cluster's own Prometheus.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {pid}");
    let run = child.wait_with_output().expect("cronbench run ends");
    let r: Results =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
            .expect("results.json parses");
    assert_eq!(
        run.status.code(),
        Some(if r.verdict.pass { 0 } else { 1 }),
        "the run ends by its verdict: {}",
        common::text(&run)
    );
    let said = common::text(&run);
    assert!(
        said.contains("warning: no component evidence at the run's end"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "warning: could not push to {gone}/metrics/job/cronbench/run_id/"
        )) && said.contains(&format!("the results are kept in {}", out.display())),
        "{said}"
    );
    evidence_says_prometheus_is_missing(&r, url);
    timeline_holds_what_prometheus_gave_before_it_died(&r);
    kept_results_push_later(&out, &r);
    let _ = std::fs::remove_dir_all(&out);
}

fn evidence_says_prometheus_is_missing(r: &Results, url: &str) {
    let c = r.components.as_ref().expect("components in results.json");
    assert_eq!(c.prometheus, url);
    assert!(c.end_ms - c.start_ms > 30_000, "{c:?}");
    let why = c
        .metrics
        .unreachable
        .get("prometheus")
        .expect("Prometheus unreachable, with why");
    assert!(why.contains(url), "{why}");
    assert!(
        !c.metrics.has_values(),
        "nothing is made up: {:?}",
        c.metrics
    );
    // The start was read while Prometheus lived; the end was not.
    assert!(!c.at_start.is_empty(), "{c:?}");
    assert!(c.at_end.is_empty(), "{c:?}");
}

/// About 35 s of 5 s samples of every component, each a scrape of its own (Prometheus
/// scrapes every 5 s too), then nothing.
fn timeline_holds_what_prometheus_gave_before_it_died(r: &Results) {
    let components = [
        Component::KubeApiserver,
        Component::Etcd,
        Component::KubeControllerManager,
        Component::KubeScheduler,
    ];
    for s in common::sampled(r, ResourceSource::Prometheus, &components) {
        // Nothing after the kill at about 35 s (the run started a few seconds before it).
        let c = s.component;
        assert!(s.points.iter().all(|p| p.t_s < 60.0), "{c}: {:?}", s.points);
    }
    let t = r.resources.as_ref().expect("a resource timeline");
    eprintln!(
        "timeline from Prometheus: {}",
        serde_json::to_string(
            &t.series
                .iter()
                .map(|s| (s.component, s.points.len()))
                .collect::<Vec<_>>()
        )
        .unwrap_or_default()
    );
}

fn kept_results_push_later(out: &std::path::Path, r: &Results) {
    let gateway = common::pushgateway::Pushgateway::start();
    let push = common::cronbench(&[
        "push",
        "--pushgateway",
        &gateway.url(),
        &out.to_string_lossy(),
    ]);
    assert!(push.status.success(), "{}", common::text(&push));
    let (_, metrics) = common::http_get(gateway.port, "/metrics").expect("the Pushgateway answers");
    let verdict = format!(
        "cronbench_verdict_pass{{instance=\"\",job=\"cronbench\",run_id=\"{}\",scenario=\"prom-short\"}} {}",
        r.run.run_id,
        u8::from(r.verdict.pass)
    );
    assert!(metrics.lines().any(|l| l == verdict), "missing: {verdict}");
}
