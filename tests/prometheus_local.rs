//! `cluster up --prometheus`: a real Prometheus (Debian's package) scraping every component of
//! a small local cluster, stopped by `cluster down`.

mod common;

use std::time::{Duration, Instant};

use cronbench::cluster::LocalCluster;
use cronbench::cluster::prometheus::{SCRAPE_INTERVAL_S, dir_of, url_of};

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

    drop(cluster);
    assert!(
        common::http_get(port, "/-/ready").is_none(),
        "Prometheus still answers after cluster down"
    );
    assert!(local.processes().is_empty(), "{:?}", local.processes());
}
