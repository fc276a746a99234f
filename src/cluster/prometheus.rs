//! A Prometheus on 127.0.0.1 that scrapes the local cluster's components (`cluster up
//! --prometheus`), with Debian's `prometheus` binary.
//!
//! The scrape targets come from kwokctl's own configuration of the cluster (`kwok.yaml`): each
//! component's `metric` entry names its host, scheme, path and, for the TLS ones, the client
//! certificate and key (the cluster's admin pair) with which find-limit's direct scraping is
//! also allowed in. The config is written as JSON, which is YAML to Prometheus. Its state (config,
//! pid file, URL, data, log) lives in the cluster's directory, so `cluster down`, which stops
//! every process whose command line names that directory and then removes it, stops it too.
//!
//! Extra targets (`--prometheus-scrape HOST:PORT`, e.g. the Pushgateway that `run --pushgateway`
//! pushes to) are one more job, [`EXTRA_JOB`], scraped with `honor_labels: true`: a pushed
//! series keeps its own `job` and `instance` labels instead of the scrape's, as the Pushgateway
//! documentation asks, so the dashboard in dashboards/ finds cronbench's series under `job="cronbench"`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::LocalCluster;

/// How often every component is scraped: short, so a minute-long run has a dozen points.
pub const SCRAPE_INTERVAL_S: u64 = 5;

/// The job name of the targets given with `--prometheus-scrape`.
pub const EXTRA_JOB: &str = "extra";

/// The Debian package's binary.
const BINARY: &str = "prometheus";

/// Why the local Prometheus could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error(
        "`{BINARY}` is not on PATH: install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, or run scripts/setup)"
    )]
    Missing,
    #[error("reading the cluster's kwokctl configuration {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: {problem}; is the cluster up? (`cronbench cluster up` writes it through kwokctl)"
    )]
    Config { path: PathBuf, problem: String },
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "scrape target `{target}`: {problem}; give HOST:PORT, e.g. 127.0.0.1:9091 for a Pushgateway"
    )]
    Target {
        target: String,
        problem: &'static str,
    },
    #[error("Prometheus on {url} was not ready within {waited_s} s; its log is {log}:\n{tail}")]
    NotReady {
        url: String,
        waited_s: u64,
        log: PathBuf,
        tail: String,
    },
}

/// One component's metrics endpoint, as kwokctl configured it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    host: String,
    path: String,
    scheme: String,
    #[serde(default)]
    cert_path: Option<String>,
    #[serde(default)]
    key_path: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Deserialize)]
struct Component {
    name: String,
    #[serde(default)]
    metric: Option<Metric>,
}

/// Any document of `kwok.yaml`; only the kwokctl one has components.
#[derive(Debug, Deserialize)]
struct Document {
    #[serde(default)]
    components: Vec<Component>,
}

/// Checks that `target` is what a static scrape config takes, HOST:PORT (no scheme, no path),
/// and returns it.
pub fn check_target(target: &str) -> Result<String, PrometheusError> {
    let problem = |problem| PrometheusError::Target {
        target: target.to_string(),
        problem,
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(|| problem("no port"))?;
    if host.is_empty() || host.contains(['/', ' ']) || host.contains("://") {
        return Err(problem(
            "the host is empty or has a scheme, a path or a space",
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(target.to_string()),
        _ => Err(problem("the port is not a number from 1 to 65535")),
    }
}

/// The Prometheus configuration (JSON) scraping every component of `kwok_yaml` that has a
/// metrics endpoint, one job per component named after it, and the `extra` targets, if any,
/// as one more job ([`EXTRA_JOB`]) that keeps the scraped series' own labels.
pub fn scrape_config(
    kwok_yaml: &str,
    path: &Path,
    extra: &[String],
) -> Result<String, PrometheusError> {
    let problem = |problem: String| PrometheusError::Config {
        path: path.to_owned(),
        problem,
    };
    let docs: Vec<Document> =
        serde_saphyr::from_multiple(kwok_yaml).map_err(|e| problem(e.to_string()))?;
    let mut jobs: Vec<serde_json::Value> = docs
        .into_iter()
        .flat_map(|d| d.components)
        .filter_map(|c| Some((c.name, c.metric?)))
        .map(|(name, m)| scrape_job(&name, &m))
        .collect();
    if jobs.is_empty() {
        return Err(problem("no component has a metrics endpoint".into()));
    }
    if !extra.is_empty() {
        jobs.push(serde_json::json!({
            "job_name": EXTRA_JOB,
            "honor_labels": true,
            "static_configs": [{"targets": extra}],
        }));
    }
    let config = serde_json::json!({
        "global": {
            "scrape_interval": format!("{SCRAPE_INTERVAL_S}s"),
            "scrape_timeout": format!("{}s", SCRAPE_INTERVAL_S - 1),
        },
        "scrape_configs": jobs,
    });
    Ok(serde_json::to_string_pretty(&config).unwrap_or_default())
}

fn scrape_job(name: &str, m: &Metric) -> serde_json::Value {
    let mut job = serde_json::json!({
        "job_name": name,
        "scheme": m.scheme,
        "metrics_path": m.path,
        "static_configs": [{"targets": [m.host]}],
    });
    if m.scheme == "https" {
        let mut tls = serde_json::json!({"insecure_skip_verify": m.insecure_skip_verify});
        if let (Some(cert), Some(key)) = (&m.cert_path, &m.key_path) {
            tls["cert_file"] = cert.as_str().into();
            tls["key_file"] = key.as_str().into();
        }
        job["tls_config"] = tls;
    }
    job
}

/// Where the local Prometheus of `cluster` keeps its state.
pub fn dir_of(cluster: &LocalCluster) -> PathBuf {
    cluster.dir.join("prometheus")
}

/// The URL of the running local Prometheus of `cluster`, if it was started.
pub fn url_of(cluster: &LocalCluster) -> Option<String> {
    let text = std::fs::read_to_string(dir_of(cluster).join("url")).ok()?;
    Some(text.trim().to_string())
}

/// Starts a Prometheus on a free 127.0.0.1 port scraping `cluster` and the `extra` targets
/// (HOST:PORT, see [`check_target`]), waits until it is ready and returns its URL. It outlives
/// this process; `cluster down` stops it.
pub async fn start(cluster: &LocalCluster, extra: &[String]) -> Result<String, PrometheusError> {
    let binary = find_binary().ok_or(PrometheusError::Missing)?;
    let kwok_yaml = cluster
        .dir
        .join("kwok/clusters")
        .join(cluster.context())
        .join("kwok.yaml");
    let text = std::fs::read_to_string(&kwok_yaml).map_err(|source| PrometheusError::Read {
        path: kwok_yaml.clone(),
        source,
    })?;
    let dir = dir_of(cluster);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, scrape_config(&text, &kwok_yaml, extra)?)
        .map_err(io("writing", &config))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io("finding a free port on 127.0.0.1 for", &dir))?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.join("prometheus.log");
    let pid = spawn(&binary, &dir, &config, port, &log)?;
    let pid_file = dir.join("prometheus.pid");
    std::fs::write(&pid_file, format!("{pid}\n")).map_err(io("writing", &pid_file))?;
    wait_ready(&url, &log).await?;
    let url_file = dir.join("url");
    std::fs::write(&url_file, format!("{url}\n")).map_err(io("writing", &url_file))?;
    Ok(url)
}

/// Maps an I/O error of doing `what` to `path`.
fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PrometheusError {
    let path = path.to_owned();
    move |source| PrometheusError::Io { what, path, source }
}

fn find_binary() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(BINARY))
        .find(|p| p.is_file())
}

/// Starts Prometheus in its own process group (a Ctrl-C of the caller does not reach it),
/// logging to `log`; returns its pid.
fn spawn(
    binary: &Path,
    dir: &Path,
    config: &Path,
    port: u16,
    log: &Path,
) -> Result<u32, PrometheusError> {
    use std::os::unix::process::CommandExt as _;
    let out = std::fs::File::create(log).map_err(io("creating", log))?;
    let err = out.try_clone().map_err(io("opening", log))?;
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=2d")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(io("starting", binary))?;
    Ok(child.id())
}

/// Polls `/-/ready` until it answers, for at most 30 s.
async fn wait_ready(url: &str, log: &Path) -> Result<(), PrometheusError> {
    const WAIT: Duration = Duration::from_secs(30);
    let started = Instant::now();
    let client = url
        .parse()
        .ok()
        .and_then(|uri| crate::pushgateway::http_client(uri).ok());
    while started.elapsed() < WAIT {
        if let Some(client) = &client {
            let req = kube::core::Request::new("").get("-/ready", &Default::default());
            if let Ok(req) = req
                && client.request_text(req).await.is_ok()
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    Err(PrometheusError::NotReady {
        url: url.to_string(),
        waited_s: WAIT.as_secs(),
        log: log.to_owned(),
        tail: lines[lines.len().saturating_sub(10)..].join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KWOK_YAML: &str = r#"apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
components:
- name: etcd
  metric:
    host: 127.0.0.1:32765
    path: /metrics
    scheme: http
- name: kube-apiserver
  metric:
    certPath: /c/pki/admin.crt
    host: 127.0.0.1:34129
    insecureSkipVerify: true
    keyPath: /c/pki/admin.key
    path: /metrics
    scheme: https
- name: no-metrics
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
spec: {}
"#;

    #[test]
    fn every_component_with_a_metrics_endpoint_becomes_a_scrape_job() {
        let text = scrape_config(KWOK_YAML, Path::new("kwok.yaml"), &[]).expect("config");
        let config: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let jobs = config["scrape_configs"].as_array().expect("jobs");
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0]["job_name"], "etcd");
        assert_eq!(jobs[0]["scheme"], "http");
        assert!(jobs[0].get("tls_config").is_none());
        assert_eq!(
            jobs[1]["static_configs"][0]["targets"][0],
            "127.0.0.1:34129"
        );
        assert_eq!(jobs[1]["tls_config"]["cert_file"], "/c/pki/admin.crt");
        assert_eq!(jobs[1]["tls_config"]["key_file"], "/c/pki/admin.key");
        assert_eq!(jobs[1]["tls_config"]["insecure_skip_verify"], true);
        assert_eq!(config["global"]["scrape_interval"], "5s");
    }

    #[test]
    fn a_config_without_metrics_endpoints_is_refused() {
        let err = scrape_config("components: []\n", Path::new("k.yaml"), &[]).expect_err("none");
        assert!(
            err.to_string()
                .contains("no component has a metrics endpoint"),
            "{err}"
        );
    }

    #[test]
    fn extra_targets_are_one_job_that_keeps_the_pushed_labels() {
        let extra = ["127.0.0.1:9091".to_string(), "gw.example:9091".to_string()];
        let text = scrape_config(KWOK_YAML, Path::new("kwok.yaml"), &extra).expect("config");
        let config: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let jobs = config["scrape_configs"].as_array().expect("jobs");
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[2]["job_name"], EXTRA_JOB);
        assert_eq!(jobs[2]["honor_labels"], true);
        assert_eq!(
            jobs[2]["static_configs"][0]["targets"],
            serde_json::json!(extra)
        );
    }

    #[test]
    fn a_scrape_target_is_host_and_port_only() {
        assert_eq!(
            check_target("127.0.0.1:9091").expect("ok"),
            "127.0.0.1:9091"
        );
        assert!(check_target("[::1]:9091").is_ok());
        for (bad, says) in [
            ("127.0.0.1", "no port"),
            ("http://127.0.0.1:9091", "scheme"),
            (":9091", "host is empty"),
            ("127.0.0.1:0", "port is not a number"),
            ("127.0.0.1:http", "port is not a number"),
        ] {
            let err = check_target(bad).expect_err(bad).to_string();
            assert!(
                err.contains(says) && err.contains("HOST:PORT"),
                "{bad}: {err}"
            );
        }
    }
}
