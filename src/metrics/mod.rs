//! The components' own view of a step or a run: the CronJob controller's job-creation skew and
//! work queue, the Job controller's queue, the controller manager's client-side throttling, the
//! scheduler's pending pods and attempts, and the apiserver's request latency, in-flight and
//! queued requests, rejections, etcd latency and object counts. The series are one table
//! (`series.rs`), read either by scraping each component's `/metrics` (Prometheus text format,
//! here) or by PromQL from a Prometheus (`prom.rs`); `sources.rs` takes both at the same instants.
//!
//! The parser is a few lines for the few series read here (no labels beyond exact matches, no
//! exemplars, no timestamps kept); a full client library would bring a registry and an HTTP
//! stack for nothing. Scrapes go through kube's own client with the local cluster's
//! `--authorization-always-allow-paths=/metrics`; an unreachable endpoint is reported, never
//! fatal.

use std::collections::BTreeMap;
use std::path::Path;

mod prom;
mod series;
mod sources;

pub use prom::snapshot_prometheus;
pub use series::{
    Component, ComponentEvidence, Field, SERIES, Series, Snapshot, StepMetrics, between,
};
pub use sources::{Sources, Taken};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses Prometheus text exposition; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i + 1);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        rest = &after[end?..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Sum of the samples of `name` whose labels include `with` (all, if empty).
pub fn sum(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for s in samples.iter().filter(|s| s.name == name) {
        if with
            .iter()
            .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        {
            *found.get_or_insert(0.0) += s.value;
        }
    }
    found
}

/// Fills `snap` with the series of `source` found in its scraped `samples`; the absent ones
/// are listed as missing.
pub fn fill(snap: &mut Snapshot, source: Component, samples: &[Sample]) {
    for series in SERIES.iter().filter(|s| s.source == source) {
        let mut value = sum(samples, series.metric, series.labels);
        if value.is_none() && series.absent_is_zero && sum(samples, series.metric, &[]).is_some() {
            value = Some(0.0);
        }
        snap.record(series, value, || {
            format!("absent from {}'s /metrics", source.name())
        });
    }
}

/// The 127.0.0.1 `host:port` of each component's metrics, from a local cluster's kwokctl
/// configuration (`kwok.yaml`): the `metric.host` of each component entry.
pub fn endpoints_from_kwok_yaml(text: &str) -> BTreeMap<Component, String> {
    let mut out = BTreeMap::new();
    let mut host: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("- ") {
            host = None;
        }
        let t = line.trim();
        if let Some(h) = t.strip_prefix("host: ") {
            host = Some(h.trim().to_string());
        }
        let component = match t {
            "name: kube-controller-manager" => Some(Component::KubeControllerManager),
            "name: kube-scheduler" => Some(Component::KubeScheduler),
            _ => None,
        };
        if let (Some(c), Some(h)) = (component, host.as_ref()) {
            out.insert(c, h.clone());
        }
    }
    out
}

/// Reads a local cluster's metrics endpoints; empty when it is not a local cluster.
pub fn local_endpoints(context: &str) -> BTreeMap<Component, String> {
    let Some(name) = context.strip_prefix("cronbench-") else {
        return BTreeMap::new();
    };
    let Ok(cluster) = crate::cluster::LocalCluster::new(name) else {
        return BTreeMap::new();
    };
    let path = cluster
        .dir
        .join("kwok/clusters")
        .join(context)
        .join("kwok.yaml");
    read_endpoints(&path)
}

fn read_endpoints(path: &Path) -> BTreeMap<Component, String> {
    std::fs::read_to_string(path)
        .map(|t| endpoints_from_kwok_yaml(&t))
        .unwrap_or_default()
}

/// Scrapes `https://{host}/metrics` without verifying the self-signed certificate.
pub async fn scrape(host: &str) -> Result<Vec<Sample>, String> {
    let mut config = kube::Config::new(
        format!("https://{host}")
            .parse()
            .map_err(|e| format!("bad metrics address {host}: {e}"))?,
    );
    config.accept_invalid_certs = true;
    config.read_timeout = Some(std::time::Duration::from_secs(10));
    let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
    scrape_with(&client).await
}

/// GETs `/metrics` from the server `client` talks to (for the apiserver: the run's own client).
pub async fn scrape_with(client: &kube::Client) -> Result<Vec<Sample>, String> {
    // A plain GET of /metrics, built by kube's request builder (so no direct `http` dependency).
    let req = kube::core::Request::new("")
        .get("metrics", &Default::default())
        .map_err(|e| e.to_string())?;
    let text = client.request_text(req).await.map_err(|e| e.to_string())?;
    Ok(parse(&text))
}

/// One snapshot of the apiserver (through `client`) and of every endpoint given.
pub async fn snapshot(client: &kube::Client, endpoints: &BTreeMap<Component, String>) -> Snapshot {
    let mut snap = Snapshot::default();
    match scrape_with(client).await {
        Ok(samples) => fill(&mut snap, Component::KubeApiserver, &samples),
        Err(e) => {
            snap.unreachable.insert("kube-apiserver".into(), e);
        }
    }
    if endpoints.is_empty() {
        snap.unreachable.insert(
            "components".into(),
            "not a local cronbench cluster: controller-manager and scheduler metrics endpoints unknown".into(),
        );
    }
    for (component, host) in endpoints {
        let key = component.name().to_string();
        match scrape(host).await {
            Ok(samples) => fill(&mut snap, *component, &samples),
            Err(e) => {
                snap.unreachable.insert(key, e);
            }
        }
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
# HELP workqueue_depth [STABLE] Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{name="cronjob"} 7
workqueue_depth{name="job"} 3
workqueue_depth{name="say \"hi\", ok"} 1
cronjob_controller_job_creation_skew_duration_seconds_bucket{le="+Inf"} 10
cronjob_controller_job_creation_skew_duration_seconds_sum 25.5
cronjob_controller_job_creation_skew_duration_seconds_count 10
rest_client_rate_limiter_duration_seconds_sum{host="127.0.0.1:1",verb="POST"} 2
rest_client_rate_limiter_duration_seconds_sum{host="127.0.0.1:1",verb="PUT"} 1
rest_client_rate_limiter_duration_seconds_count{host="127.0.0.1:1",verb="POST"} 4
rest_client_rate_limiter_duration_seconds_count{host="127.0.0.1:1",verb="PUT"} 2
scheduler_pending_pods{queue="active"} 2
scheduler_pending_pods{queue="backoff"} 1
garbage line without value
"#;

    #[test]
    fn parses_names_labels_escapes_and_infinities() {
        let s = parse(TEXT);
        assert_eq!(
            sum(&s, "workqueue_depth", &[("name", "cronjob")]),
            Some(7.0)
        );
        assert_eq!(
            sum(&s, "workqueue_depth", &[("name", "say \"hi\", ok")]),
            Some(1.0)
        );
        assert_eq!(
            sum(
                &s,
                "cronjob_controller_job_creation_skew_duration_seconds_bucket",
                &[("le", "+Inf")]
            ),
            Some(10.0)
        );
        assert_eq!(sum(&s, "scheduler_pending_pods", &[]), Some(3.0));
        assert_eq!(sum(&s, "absent", &[]), None);
    }

    #[test]
    fn step_metrics_are_means_of_counter_deltas() {
        let s = parse(TEXT);
        let mut a = Snapshot::default();
        fill(&mut a, Component::KubeControllerManager, &s);
        let mut b = a.clone();
        b.set(Field::CronjobSkewSum, 45.5);
        b.set(Field::CronjobSkewCount, 20.0);
        b.set(Field::RateLimiterSum, 9.0);
        b.set(Field::RateLimiterCount, 12.0);
        fill(&mut b, Component::KubeScheduler, &s);
        let m = between(&a, &b);
        assert_eq!(m.cronjob_job_creation_skew_mean_s, Some(2.0));
        assert_eq!(m.kcm_rate_limiter_wait_mean_s, Some(1.0));
        assert_eq!(m.cronjob_queue_depth_end, Some(7.0));
        assert_eq!(m.scheduler_pending_pods_end, Some(3.0));
        assert_eq!(m.apiserver_rejected_429, None);
        // No new samples: no mean.
        assert_eq!(between(&a, &a).cronjob_job_creation_skew_mean_s, None);
    }

    #[test]
    fn apiserver_series_give_create_latency_queues_and_rejections() {
        let before = parse(
            r#"apiserver_request_duration_seconds_sum{verb="POST",resource="jobs"} 1
apiserver_request_duration_seconds_count{verb="POST",resource="jobs"} 10
apiserver_request_duration_seconds_sum{verb="GET",resource="jobs"} 50
apiserver_request_duration_seconds_count{verb="GET",resource="jobs"} 10
etcd_request_duration_seconds_sum{operation="create",type="*batch.Job"} 0.5
etcd_request_duration_seconds_count{operation="create",type="*batch.Job"} 100
"#,
        );
        let after = parse(
            r#"apiserver_request_duration_seconds_sum{verb="POST",resource="jobs"} 3
apiserver_request_duration_seconds_count{verb="POST",resource="jobs"} 20
apiserver_request_duration_seconds_sum{verb="GET",resource="jobs"} 99
apiserver_request_duration_seconds_count{verb="GET",resource="jobs"} 11
apiserver_current_inflight_requests{request_kind="mutating"} 4
apiserver_current_inflight_requests{request_kind="readOnly"} 2
apiserver_flowcontrol_current_inqueue_requests{flow_schema="a",priority_level="b"} 5
apiserver_request_total{code="429",verb="POST",resource="jobs"} 7
apiserver_request_total{code="201",verb="POST",resource="jobs"} 20
etcd_request_duration_seconds_sum{operation="create",type="*batch.Job"} 1.5
etcd_request_duration_seconds_count{operation="create",type="*batch.Job"} 200
"#,
        );
        let (mut a, mut b) = (Snapshot::default(), Snapshot::default());
        fill(&mut a, Component::KubeApiserver, &before);
        fill(&mut b, Component::KubeApiserver, &after);
        let m = between(&a, &b);
        assert_eq!(m.apiserver_create_mean_s, Some(0.2));
        assert_eq!(m.apiserver_inflight_end, Some(6.0));
        assert_eq!(m.apiserver_inqueue_end, Some(5.0));
        assert_eq!(m.apiserver_rejected_429, Some(7.0));
        assert_eq!(m.etcd_request_mean_s, Some(0.01));
    }

    #[test]
    fn a_scraped_series_that_is_absent_is_missing_with_why_and_never_zero() {
        let mut snap = Snapshot::default();
        fill(
            &mut snap,
            Component::KubeApiserver,
            &parse(r#"apiserver_request_total{code="201"} 5"#),
        );
        // No 429 yet while the counter exists: zero. No storage objects: missing.
        assert_eq!(snap.get(Field::ApiserverRejected429), Some(0.0));
        assert_eq!(snap.get(Field::StoredPods), None);
        let why = &snap.missing[r#"apiserver_storage_objects{resource="pods"}"#];
        assert_eq!(why, "absent from kube-apiserver's /metrics");
        let mut none = Snapshot::default();
        fill(&mut none, Component::KubeApiserver, &[]);
        assert_eq!(none.get(Field::ApiserverRejected429), None);
    }

    #[test]
    fn endpoints_come_from_each_components_metric_host() {
        let yaml = "components:
- args:
  - --secure-port=1
  metric:
    host: 127.0.0.1:1111
  name: kube-apiserver
- args:
  - --secure-port=2
  metric:
    host: 127.0.0.1:2222
  name: kube-controller-manager
- args: []
  metric:
    host: 127.0.0.1:3333
  name: kube-scheduler
- args: []
  name: kwok-controller
";
        let e = endpoints_from_kwok_yaml(yaml);
        assert_eq!(e[&Component::KubeControllerManager], "127.0.0.1:2222");
        assert_eq!(e[&Component::KubeScheduler], "127.0.0.1:3333");
        assert_eq!(e.len(), 2);
    }
}
