//! `cluster up --prometheus`: a real Prometheus (Debian's package) scraping every component of
//! a small local cluster, stopped by `cluster down`.

mod common;

use std::time::{Duration, Instant};

use cronbench::cluster::LocalCluster;
use cronbench::cluster::prometheus::{SCRAPE_INTERVAL_S, dir_of, url_of};
use cronbench::results::Results;

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
    if !common::on_path("prometheus") || !common::on_path("promtool") {
        common::skip(
            "prometheus or promtool is missing: install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, or run scripts/setup)",
        );
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

    run_goes_on_when_prometheus_dies(&cluster, &local, &url);

    drop(cluster);
    assert!(
        common::http_get(port, "/-/ready").is_none(),
        "Prometheus still answers after cluster down"
    );
    assert!(local.processes().is_empty(), "{:?}", local.processes());
}

/// `run --prometheus URL` of a one-minute scenario while the test kills that Prometheus about
/// halfway: the run completes with its verdict's exit code, and results.json keeps the
/// evidence's window and says that Prometheus' is missing and why.
fn run_goes_on_when_prometheus_dies(
    cluster: &common::TestCluster,
    local: &LocalCluster,
    url: &str,
) {
    let out = std::env::temp_dir().join(format!("cronbench-it-prom-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(["run", "tests/scenarios/prom-short.yaml", "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .args(["--context", &cluster.context, "--out"])
        .arg(&out)
        .args(["--prometheus", url])
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
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "the run ends by its verdict: {}",
        common::text(&run)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("warning: no component evidence at the run's end"),
        "{stderr}"
    );
    let r: Results =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
            .expect("results.json parses");
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
    eprintln!(
        "results.json components: {}",
        serde_json::to_string_pretty(c).unwrap_or_default()
    );
    let _ = std::fs::remove_dir_all(&out);
}
